"""
Jenkins builds as a state: ``succeeded``.

.. versionadded:: 0.1.0

The build goes through the queue (the queue id Jenkins answers, never a guessed build
number), then is waited for within ``timeout``. On failure or timeout the state fails with the
build's console tail. A build of the job whose parameters include the declared ones that
already succeeded counts as done, so a second apply triggers nothing; one that is still running
(an earlier apply timed out) is waited for, within ``timeout``, instead of starting a duplicate.
Set ``force: true`` (or use the state under ``onchanges``) to build every time.

Parameters the job does not define are refused before anything is triggered (Jenkins would
drop them silently and no build would ever match). Password parameters are not compared:
Jenkins does not export their values, so a build with other values for them still matches.

.. code-block:: yaml

    app-build:
      jenkins_build.succeeded:
        - parameters:
            REVISION: {{ pillar['revision'] }}
        - timeout: 900
        - accept_unstable: true
        - require:
          - jenkins_job: app-build
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_errors,
        chain_jenkins_builds,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_builds
    import chain_state_args
    import chain_states


__virtualname__ = "jenkins_build"


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins.build")


def _check(name, parameters, timeout, poll_interval, tail_lines, accept_unstable, force):
    """Every argument, before any request (SaltInvocationError naming it)."""
    if not isinstance(name, str) or not name.strip():
        raise SaltInvocationError("name: expected a job name")
    if parameters is not None and not isinstance(parameters, dict):
        raise SaltInvocationError("parameters must be a mapping of name: value")
    chain_jenkins_builds.build_params(parameters)
    chain_jenkins_builds.timing(timeout, poll_interval)
    chain_jenkins_builds.tail_lines(tail_lines)
    return (
        chain_errors.as_bool(accept_unstable, "accept_unstable"),
        chain_errors.as_bool(force, "force"),
    )


def _finished(ret, what, res, ok, timeout, done=()):
    """Fill ``ret`` from a build result: success, or a failure (not finished in time, or
    finished with another result) with the console tail; ``done``: the steps taken."""
    if res["result"] is None:
        why = f"{what} did not finish within {timeout}s"
    elif res["result"] not in ok:
        why = f"{what} finished {res['result']}"
    else:
        ret["comment"] = f"{what} finished {res['result']}"
        return ret
    return chain_states.fail(ret, f"{why}; console tail:\n{res['console_tail']}", done=done)


def _wait_running(ret, name, last, wait, ok, test):
    """A build with these parameters is running (an earlier apply timed out?): wait for it,
    never start a duplicate."""
    what = f"Build #{last['number']} of {name}"
    if test:
        ret["result"] = None
        ret["comment"] = (
            f"{what} with these parameters is running; it would be waited "
            f"for (up to {wait['timeout']}s), nothing triggered"
        )
        return ret
    res = __salt__["jenkins.build_wait"](name, last["number"], **wait)
    return _finished(ret, f"{what} (already running, waited for)", res, ok, wait["timeout"])


def _would_trigger(ret, name, parameters, exists):
    """Test mode: the build that would be triggered (parameter names only)."""
    names = ", ".join(sorted(parameters)) if parameters else "none"
    ret["result"] = None
    ret["changes"] = {"build": {"old": None, "new": f"{name} (to be triggered)"}}
    ret["comment"] = f"A build of {name} would be triggered (parameters: {names})"
    if not exists:
        ret["comment"] += "; the job does not exist yet"
    return ret


def _trigger(ret, name, parameters, wait, ok):
    """Trigger a build through the queue and wait for it."""
    res = __salt__["jenkins.build"](name, parameters=parameters, wait=True, **wait)
    ret["changes"] = {
        "build": {
            "old": None,
            "new": {k: res[k] for k in ("number", "queue_id", "result", "url")},
        }
    }
    queued = f"queued a build of {name} (queue item {res['queue_id']})"
    if res["number"] is None:
        return chain_states.fail(
            ret,
            f"Build of {name} did not leave the queue within {wait['timeout']}s "
            f"(queue item {res['queue_id']}: {res.get('why') or 'no reason'})",
            done=[queued],
        )
    done = [queued, f"build #{res['number']} started"]
    return _finished(ret, f"Build #{res['number']} of {name}", res, ok, wait["timeout"], done)


@chain_state_args.checked()
def succeeded(
    name,
    parameters=None,
    timeout=600,
    accept_unstable=False,
    force=False,
    poll_interval=1,
    tail_lines=30,
    profile=None,
):
    """
    Ensure a build of job ``name`` with ``parameters`` succeeded: trigger it and wait.

    name
        Job name.
    parameters
        Build parameters (mapping). Only their names appear in comments.
    timeout
        Seconds to wait for the build to leave the queue and finish.
    accept_unstable
        Count ``UNSTABLE`` as success.
    force
        Build even when a build with these parameters already succeeded.
    tail_lines
        Console lines shown when the build fails.
    profile
        Jenkins connection profile (name or dict), see the ``jenkins`` execution module.

    .. code-block:: yaml

        deploy-build:
          jenkins_build.succeeded:
            - name: app-build
            - parameters:
                REVISION: abc123
            - timeout: 300
    """
    ret = chain_states.new_ret(name)
    test = __opts__["test"]
    try:
        accept_unstable, force = _check(
            name, parameters, timeout, poll_interval, tail_lines, accept_unstable, force
        )
        ok = ("SUCCESS", "UNSTABLE") if accept_unstable else ("SUCCESS",)
        wait = {
            "timeout": timeout,
            "poll_interval": poll_interval,
            "tail": tail_lines,
            "profile": profile,
        }
        exists = __salt__["jenkins.job_exists"](name, profile=profile)
        last = None
        if exists and not force:
            last = __salt__["jenkins.last_build_with"](name, parameters=parameters, profile=profile)
        if last and last.get("building"):
            return _wait_running(ret, name, last, wait, ok, test)
        if last and last["result"] in ok:
            ret["comment"] = (
                f"Build #{last['number']} of {name} with these parameters already {last['result']}"
            )
            return ret
        if test:
            return _would_trigger(ret, name, parameters, exists)
        if not exists:
            raise CommandExecutionError(f"Job {name} does not exist")
        return _trigger(ret, name, parameters, wait, ok)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
