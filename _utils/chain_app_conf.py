"""
An app's configuration for the ``chain`` runner, checked before any I/O: the defaults of
``chain:apps:<app>`` (the master config, passed in) with the call's keyword arguments on top, and
what follows from it per server (the names with ``{minion}`` filled in, the arguments of
``container_service.status``, the deploy state's pillar). Pure; no Salt dunders.
"""

import re

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_errors, chain_service_plan, chain_swarm_rollout
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_service_plan
    import chain_swarm_rollout

APP = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
#: The settings of an app a call may override.
KEYS = (
    "targets",
    "sls",
    "service",
    "frontend",
    "backend",
    "network",
    "max_failures",
    "canary",
    "timeout",
    "pillar",
    "jenkins_profile",
    "jenkins_job",
)


def check_app(app):
    """The app's name, or ``SaltInvocationError``."""
    if not isinstance(app, str) or not APP.match(app):
        raise SaltInvocationError(f"app: expected a name ([a-zA-Z0-9_.-]), got {app!r}")
    return app


def resolve(apps, app, overrides):
    """The configuration of ``app``: ``apps[app]`` (``chain:apps`` of the master config) with
    ``overrides`` (the call's keyword arguments; ``None`` and unknown keys ignored) on top, every
    setting checked, defaults filled in (``sls: chain.deploy``, ``service: <app>``, ``backend:
    app``, ``max_failures: 0``, ``canary: 1``, ``timeout: 900``, ``pillar: {}``), and
    ``mode``/``manager`` (:func:`chain_swarm_rollout.settings`: in Swarm mode the targets are
    the manager alone)."""
    check_app(app)
    conf = dict((apps or {}).get(app) or {})
    conf.update({k: v for k, v in overrides.items() if k in KEYS and v is not None})
    targets = conf.get("targets")
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t]
    if not isinstance(conf.setdefault("pillar", {}), dict):
        raise SaltInvocationError("pillar: expected a mapping passed to the deploy state")
    # Swarm mode (pillar chain:service:mode: swarm): the manager alone is the target
    conf["mode"], conf["manager"], targets = chain_swarm_rollout.settings(conf, targets)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise SaltInvocationError(
            "targets: expected minion ids (a list or a comma-separated "
            "string), from the call or chain:apps:<app>:targets"
        )
    conf["targets"] = targets
    conf.setdefault("sls", "chain.deploy")
    conf.setdefault("service", app)
    conf.setdefault("backend", "app")
    chain_service_plan.check_name(conf["service"].replace("{minion}", "m"), "service")
    conf["max_failures"] = chain_errors.as_int(
        conf.get("max_failures", 0), "max_failures", minimum=0
    )
    conf["canary"] = canary(conf.get("canary", 1))
    conf["timeout"] = chain_errors.as_int(conf.get("timeout", 900), "timeout", minimum=1)
    if not isinstance(conf["sls"], str) or not conf["sls"]:
        raise SaltInvocationError("sls: expected a state file name like chain.deploy")
    return conf


def canary(value):
    """The ``canary`` setting: how many servers the rollout updates one at a time before it
    updates the rest together (an integer >= 1); ``0`` or ``serial``: every server one at a
    time."""
    if isinstance(value, str) and value.strip().lower() == "serial":
        return 0
    try:
        return chain_errors.as_int(value, "canary", minimum=0)
    except SaltInvocationError:
        raise SaltInvocationError(
            f"canary: expected how many servers go first, one at a time (1 or more), or 0 / "
            f"serial (every server one at a time), got {value!r}"
        ) from None


def names(conf, target):
    """service, frontend and network on one server: ``{minion}`` in them is its id (servers
    sharing one engine need their own names)."""
    return {
        k: conf[k].replace("{minion}", target) if isinstance(conf.get(k), str) else conf.get(k)
        for k in ("service", "frontend", "network")
    }


def status_call(conf, target):
    """``container_service.status`` of the app on one server: ``(args, kwargs)``
    (Swarm mode: ``container_service.swarm_status`` on the manager, :func:`status_fun`)."""
    found = names(conf, target)
    if conf.get("mode") == chain_swarm_rollout.SWARM:
        return chain_swarm_rollout.status_call(conf, found)
    kwarg = {"frontend": found["frontend"], "backend": conf["backend"], "network": found["network"]}
    return [found["service"]], kwarg


def status_fun(conf):
    """The function that reads the app's status on a target."""
    if conf.get("mode") == chain_swarm_rollout.SWARM:
        return "container_service.swarm_status"
    return "container_service.status"


def deploy_pillar(conf, image, app, wave=None):
    """The deploy state's pillar: the app's ``pillar`` with ``chain:image`` and ``chain:app``,
    and ``chain:wave`` when given (the rollout's wave: ``canary``, ``rest`` or ``serial``; a
    deploy state may update faster once the canary proved the image)."""
    extra = conf["pillar"]
    chain = dict(extra.get("chain") or {}, image=image, app=app)
    if wave:
        chain["wave"] = wave
    return dict(extra, chain=chain)
