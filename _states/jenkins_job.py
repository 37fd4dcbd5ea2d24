"""
Jenkins jobs as code: ``present`` (from config.xml or Jenkins Job Builder YAML) and ``absent``.

.. versionadded:: 0.1.0

The desired XML is compared with the job's config.xml canonically — XML declaration,
whitespace-only text and ``plugin="name@version"`` attributes are ignored; a secret Jenkins
shows encrypted (``{AQAAAB...}``) counts as changed only when it differs from what this minion
last posted; secrets show as ``<hidden>`` in diffs — and declared-only: the document must be
*contained* in Jenkins' copy (every declared element, attribute and text present with the
same value). The fields Jenkins fills in when it re-serialises a job therefore never cause a
change on the next run, while a removed build step or parameter (a list entry) does. Changes
carry ``{"config": {"diff": <unified diff of pretty-printed canonical XML>}}``. After a write
the config is read back; when Jenkins did not keep something that was declared, the comment
says so (the next run would report it again). Job names are case-insensitive in Jenkins: a job
it stores as ``app`` is not managed under the name ``App`` (the state fails, nothing is written).

.. code-block:: yaml

    app-build:
      jenkins_job.present:
        - jjb: salt://jobs/app.yaml
        - enabled: true
        - profile: ci

    legacy-job:
      jenkins_job.present:
        - config: salt://jobs/legacy.xml
"""

import functools

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_jenkins_client,
        chain_jenkins_jobs,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_jenkins_client
    import chain_jenkins_jobs
    import chain_state_args
    import chain_states


__virtualname__ = "jenkins_job"


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins.job_compare")


def _same_spelling(name, stored):
    """Jenkins' item names are case-insensitive (``Jenkins.items``): ``job/App`` reads job
    ``app``. Managing it under another spelling would edit (or delete) that job silently."""
    if stored and stored != name:
        raise SaltInvocationError(
            f"Jenkins has this job as '{stored}' (job names are case-insensitive): declare it "
            f"as '{stored}', or rename the job in Jenkins first"
        )


@chain_state_args.checked()
def present(name, config=None, jjb=None, enabled=None, ignore=None, saltenv=None, profile=None):
    """
    Ensure a job exists with the declared configuration (and, optionally, enabled state).

    name
        Job name (``folder/job`` for a job in a folder).
    config
        The job's config.xml: XML text or a ``salt://`` path.
    jjb
        Jenkins Job Builder YAML (text or ``salt://`` path) that renders a job called ``name``;
        rendered in-process with jenkins-job-builder.
    enabled
        ``true``/``false`` to enable/disable the job; unset leaves it as it is. With neither
        ``config`` nor ``jjb``, only this is managed (the job must exist).
    ignore
        Element paths left out of the comparison, on both sides (for parts another owner
        manages, e.g. ``properties/<class of the PipelineTriggersJobProperty>`` that a
        Jenkinsfile's ``properties`` step sets). Children of ``<actions>`` are always left to
        Jenkins.
    saltenv
        Fileserver environment for ``salt://`` paths (default: the state run's).
    profile
        Jenkins connection profile (name or dict), see the ``jenkins`` execution module.

    .. code-block:: yaml

        hello:
          jenkins_job.present:
            - jjb: |
                - job:
                    name: hello
                    builders:
                      - shell: echo hello
            - enabled: true
    """
    ret = chain_states.new_ret(name)
    saltenv = saltenv or __env__ or "base"
    test = __opts__["test"]
    done, warnings = [], []
    try:
        _check_present(name, config, jjb, enabled, ignore, saltenv)
        existed = True
        if config is not None or jjb is not None:
            declared = {"config": config, "jjb": jjb, "saltenv": saltenv, "ignore": ignore}
            existed = _converge_config(ret, name, declared, enabled, profile, test, done, warnings)
        if enabled is not None:
            _converge_enabled(ret, name, enabled, test and not existed, test, profile, done)
    except chain_states.CAUGHT as err:
        steps = [f"job {name} {step}" for step in done]
        return chain_states.fail(ret, err, done=steps, changes={} if test else None)
    if not ret["changes"]:
        ret["comment"] = f"Job {name} is as declared"
    elif test:
        ret["result"] = None
        verbs = {"config": "updated", "enabled": "enabled" if enabled else "disabled"}
        what = "created" if "job" in ret["changes"] else ", ".join(verbs[k] for k in ret["changes"])
        ret["comment"] = f"Job {name} would be {what}"
    else:
        ret["comment"] = f"Job {name} " + "; ".join(done + warnings)
    return ret


def _check_present(name, config, jjb, enabled, ignore, saltenv):
    """``present``'s arguments, before any request."""
    chain_jenkins_client.job_path(name)
    if enabled is not None and not isinstance(enabled, bool):
        raise SaltInvocationError("enabled must be true or false")
    if config is None and jjb is None and enabled is None:
        raise SaltInvocationError("declare config (XML), jjb (YAML) or enabled")
    if not isinstance(saltenv, str):
        raise SaltInvocationError("saltenv must be a fileserver environment name")
    chain_jenkins_jobs.ignore_paths(ignore)


def _converge_config(ret, name, declared, enabled, profile, test, done, warnings):
    """Create or update the job from its declared XML/JJB (``declared``: config, jjb,
    saltenv, ignore); ``done`` gets what was written, ``warnings`` what Jenkins did not keep.
    Returns whether the job existed."""
    ignore = declared["ignore"]
    cmp = __salt__["jenkins.job_compare"](name, profile=profile, **declared)
    _same_spelling(name, cmp.get("name"))
    if enabled is not None and cmp.get("disabled") is enabled:
        flag = str(enabled).lower()
        raise SaltInvocationError(
            f"enabled: {flag} contradicts <disabled>{flag}</disabled> in the job's "
            "config; declare one of them"
        )
    if not cmp["exists"]:
        ret["changes"]["job"] = {"old": None, "new": name}
        ret["changes"]["config"] = {"diff": cmp["diff"]}
        if not test:
            __salt__["jenkins.job_create"](name, config_xml=cmp["xml"], profile=profile)
            done.append("created")
    elif cmp["changed"]:
        ret["changes"]["config"] = {"diff": cmp["diff"]}
        if not test:
            __salt__["jenkins.job_update"](name, config_xml=cmp["xml"], profile=profile)
            done.append("config updated")
    if ret["changes"] and not test:
        after = __salt__["jenkins.job_compare"](
            name, config=cmp["xml"], ignore=ignore, profile=profile
        )
        if after["changed"]:
            warnings.append(
                "warning: Jenkins did not keep part of the declared config, "
                "the next run will report it again:\n" + after["diff"]
            )
    return cmp["exists"]


def _converge_enabled(ret, name, enabled, pending, test, profile, done):
    """Enable or disable the job (``pending``: it is yet to be created, under test)."""
    current = None if pending else __salt__["jenkins.job_enabled"](name, profile=profile)
    if current is None and not pending:
        raise CommandExecutionError(f"Job {name} does not exist")
    if current is not enabled:
        ret["changes"]["enabled"] = {"old": current, "new": enabled}
        if not test:
            func = "jenkins.job_enable" if enabled else "jenkins.job_disable"
            __salt__[func](name, profile=profile)
            done.append("enabled" if enabled else "disabled")


@chain_state_args.checked()
def absent(name, profile=None):
    """
    Ensure a job does not exist.

    .. code-block:: yaml

        old-job:
          jenkins_job.absent:
            - profile: ci
    """
    ret = chain_states.new_ret(name)
    try:
        chain_jenkins_client.job_path(name)
        data = __salt__["jenkins.job_info"](name, profile=profile)
        if data is None:
            ret["comment"] = f"Job {name} is absent"
            return ret
        _same_spelling(name, data.get("fullName"))
        ret["changes"] = {"job": {"old": name, "new": None}}
        delete = functools.partial(__salt__["jenkins.job_delete"], name, profile=profile)
        chain_states.act(ret, __opts__["test"], f"Job {name}", "deleted", delete)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
