"""
Jenkins plugins as a verification state: ``installed``.

.. versionadded:: 0.1.0

Plugins belong in the controller image (``jenkins-plugin-cli`` at build time), so this state
never installs anything: it checks that each plugin is installed, at least at the given
version (compared the way Jenkins orders versions: ``2.10`` > ``2.9``, ``1.2.3-beta`` <
``1.2.3``) and active, and fails listing what is missing.

.. code-block:: yaml

    jenkins-plugins:
      jenkins_plugin.installed:
        - plugins:
          - git: "5.2.0"
          - workflow-aggregator
          - configuration-as-code: "1775.v810dc950b_514"
        - profile: ci
"""

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_errors,
        chain_jenkins_version,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_version
    import chain_state_args
    import chain_states


__virtualname__ = "jenkins_plugin"


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins.plugins")


def _wanted(name, version, plugins):
    """``[(plugin, minimum version or None)]``, every entry checked before any request."""
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, (str, int, float))
    ):
        raise SaltInvocationError(
            f"version: expected a version string like '5.2.0', got {version!r}"
        )
    if plugins is None:
        return _checked([(name, version)])
    if not isinstance(plugins, list):
        raise SaltInvocationError("plugins must be a list of names or {name: minimum_version}")
    out = []
    for entry in plugins:
        if isinstance(entry, str):
            out.append((entry, None))
        elif isinstance(entry, dict) and len(entry) == 1:
            out.extend(entry.items())
        else:
            raise SaltInvocationError(f"plugins: invalid entry {entry!r}")
    return _checked(out)


def _checked(wanted):
    out = []
    for plugin, minimum in wanted:
        if not isinstance(plugin, str) or not plugin:
            raise SaltInvocationError(f"invalid plugin name {plugin!r}")
        if isinstance(minimum, float):
            raise SaltInvocationError(
                f"{plugin}: quote the version ({minimum!r} is a YAML float: "
                "'2.10' would read as 2.1)"
            )
        if minimum is not None:
            minimum = str(minimum)
            chain_jenkins_version.items(minimum)
        out.append((plugin, minimum))
    return out


def _verdicts(wanted, have, active):
    """``({plugin: what is wrong}, ["plugin version" of the good ones])`` from what the
    controller has (``jenkins.plugins``)."""
    problems, good = {}, []
    for plugin, minimum in wanted:
        data = have.get(plugin)
        if data is None:
            problems[plugin] = f"{plugin} is not installed"
        elif (
            minimum is not None and chain_jenkins_version.compare(str(data["version"]), minimum) < 0
        ):
            problems[plugin] = f"{plugin} is {data['version']}, older than {minimum}"
        elif active and not data.get("active"):
            off = "" if data.get("enabled") else " (disabled)"
            problems[plugin] = f"{plugin} {data['version']} is installed but not active{off}"
        else:
            good.append(f"{plugin} {data['version']}")
    return problems, good


@chain_state_args.checked()
def installed(name, version=None, active=True, plugins=None, profile=None):
    """
    Verify that plugins are installed, recent enough and active. Never installs.

    name
        Plugin short name (ignored when ``plugins`` is given).
    version
        Minimum version; quote it in YAML (``"2.10"``, not ``2.10``, which YAML reads as 2.1).
    active
        Also require the plugin to be active (default true).
    plugins
        A list of names or ``{name: minimum_version}`` to check in one state.
    profile
        Jenkins connection profile (name or dict), see the ``jenkins`` execution module.

    .. code-block:: yaml

        git:
          jenkins_plugin.installed:
            - version: "5.2.0"
    """
    ret = chain_states.new_ret(name)
    try:
        wanted = _wanted(name, version, plugins)
        active = chain_errors.as_bool(active, "active")
        have = __salt__["jenkins.plugins"](profile=profile)
        problems, good = _verdicts(wanted, have, active)
        if problems:
            return chain_states.fail(
                ret,
                f"Plugins missing or not usable: {', '.join(problems)}\n"
                + "\n".join(problems.values())
                + "\n(plugins are baked into the controller image; this state never installs)",
            )
        ret["comment"] = "Plugins installed: " + ", ".join(good)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err)
    return ret
