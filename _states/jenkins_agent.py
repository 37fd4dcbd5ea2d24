"""
Jenkins build agents in containers: one permanent agent, or a pool scaled from queue demand.

.. versionadded:: 0.2.0

Thin: each state validates its input (before any I/O) and calls the ``jenkins_agent``
execution module, which in ``test`` mode only reads. The agent secret never appears in a
return, a comment or an event. See docs/jenkins_agent.md.

A pool (each state's docstring has its own example):

.. code-block:: yaml

    linux:
      jenkins_agent.pool:
        - image: saltext-chain/jenkins-agent:latest
        - label: linux docker
        - min: 1
        - max: 8
        - idle_minutes: 10
        - max_uses: 1
"""

import time

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_agents_plan,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_plan
    import chain_state_args
    import chain_states

__virtualname__ = "jenkins_agent"

#: The lists a reconcile pass reports, as ``changes`` keys.
_PASS_KEYS = ("launched", "deleted", "scaled_down", "disabled")


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins_agent.present")


def _one_agent(name, func, args, kwargs, comments):
    """Run ``func`` (present/absent of the execution module) in this state's test mode and
    word the result: ``comments`` = (nothing to do, would change, changed), formatted with
    ``name`` and the changed ``fields``."""
    ret = chain_states.new_ret(name)
    test = __opts__["test"]
    try:
        out = __salt__[func](name, *args, test=test, **kwargs)
    except chain_states.CAUGHT as err:
        return chain_states.fail(ret, err, changes={})
    ret["changes"] = out["changes"]
    fields = ", ".join(sorted(out["changes"]))
    if not out["changes"]:
        ret["comment"] = comments[0].format(name=name, fields=fields)
    elif test:
        ret["result"] = None
        ret["comment"] = comments[1].format(name=name, fields=fields)
    else:
        ret["comment"] = comments[2].format(name=name, fields=fields)
    return ret


@chain_state_args.checked(accepts=chain_agents_plan.AGENT_DEFAULTS)
def present(name, image, profile=None, engine=None, **kwargs):
    """
    One permanent agent: the node on the controller (inbound, WebSocket), a container on this
    minion's engine from ``image``, online within ``connect_timeout`` (120 s) or a failure with
    the container's last log lines and the controller's offline cause. Node drift reconfigures
    the node; a new image id or configuration recreates the container.

    name
        The node name (also the container name).
    image
        The agent image (``jenkins/inbound-agent`` in production).
    labels, executors, remote_fs, mode, connect_timeout, agent_url, agent_uid, web_socket
        As for ``jenkins_agent.present`` (execution module).
    container_options
        ``container.create`` options (``network_mode``, ``binds``, ``labels``, ...); the
        command, entrypoint, name and image are managed.
    profile / engine
        The ``jenkins`` and ``container`` profiles.

    .. code-block:: yaml

        build-agent-1:
          jenkins_agent.present:
            - image: saltext-chain/jenkins-agent:latest
            - labels: [linux, docker]
            - connect_timeout: 60
    """
    return _one_agent(
        name,
        "jenkins_agent.present",
        (image,),
        {"profile": profile, "engine": engine, **kwargs},
        (
            "Agent {name} is online as declared",
            "Agent {name} would be updated: {fields}",
            "Agent {name} is online ({fields})",
        ),
    )


@chain_state_args.checked()
def absent(name, drain_timeout=300, force=False, profile=None, engine=None):
    """
    No agent ``name``: its node is marked temporarily offline, running builds are waited for
    (``drain_timeout`` seconds; ``force: true`` removes it anyway), then node and container
    are deleted. A container not made by jenkins_agent is left alone.

    .. code-block:: yaml

        build-agent-1:
          jenkins_agent.absent:
            - drain_timeout: 600
    """
    return _one_agent(
        name,
        "jenkins_agent.absent",
        (),
        {"drain_timeout": drain_timeout, "force": force, "profile": profile, "engine": engine},
        (
            "Agent {name} is absent",
            "Agent {name} would be drained and removed",
            "Agent {name} was drained and removed",
        ),
    )


@chain_state_args.checked(accepts=set(chain_agents_plan.POOL_DEFAULTS) | {"accept_image"})
def pool(name, image, profile=None, engine=None, wait=True, **kwargs):
    """
    A pool of agents for one label on this minion's engine: one reconcile pass (see
    ``jenkins_agent.reconcile``), then, with ``wait`` (default), until ``min`` agents are
    online. Fails when the pool is broken (agents never came online ``max_failures`` times),
    with the last failure's log tail.

    With a ``canary_job`` (a shell command), a new image id first runs on one canary agent
    under the label ``<pool>-canary``; the pool rolls to it, one agent at a time and never
    during a build, only when that build succeeds. Otherwise the state fails with the job's
    console tail and the pool keeps the old image.

    A schedule (formulas/jenkins, ``jenkins:pools``) keeps reconciling between highstates.

    .. code-block:: yaml

        linux:
          jenkins_agent.pool:
            - image: saltext-chain/jenkins-agent:latest
            - label: linux
            - min: 1
            - max: 8
            - executors: 1
            - idle_minutes: 10
            - max_uses: 0
            - connect_timeout: 120
            - max_starting: 2
            - container_options:
                network_mode: host
    """
    ret = chain_states.new_ret(name)
    test = __opts__["test"]
    conn = {"profile": profile, "engine": engine}
    try:
        if wait not in (True, False):
            raise SaltInvocationError(f"wait: expected true or false, got {wait!r}")
        out = __salt__["jenkins_agent.reconcile"](name, image, test=test, **conn, **kwargs)
        _merge(ret["changes"], out)
        problem = _pass_problem(name, out)
        if problem is None and kwargs.get("canary_job") is not None and out.get("pending_image"):
            if test:
                ret["changes"]["image"] = {
                    "old": out["image_id"],
                    "new": image,
                    "gate": "canary job first",
                }
            else:
                problem = _gate_and_roll(ret["changes"], name, image, conn, kwargs)
        if problem is not None:
            return chain_states.fail(ret, problem, done=() if test else _steps(ret["changes"]))
        if test:
            return _would_change(ret, name, out)
        minimum = int(kwargs.get("min") or 0)
        if wait and (out["launched"] or out["starting"]) and minimum:
            timeout = int(kwargs.get("connect_timeout") or 120)
            __salt__["jenkins_agent.wait_pool"](name, minimum, timeout=timeout, **conn)
    except chain_states.CAUGHT as err:
        if test:
            return chain_states.fail(ret, err, changes={})
        return chain_states.fail(ret, err, done=_steps(ret["changes"]))
    changes = ret["changes"]
    ret["comment"] = (
        f"Pool {name}: {len(changes.get('launched') or [])} launched, "
        f"{len(changes.get('deleted') or [])} removed, "
        f"{len(changes.get('scaled_down') or [])} scaled down; "
        f"demand {out.get('demand', 0)}"
    )
    return ret


def _merge(changes, out):
    for key in _PASS_KEYS:
        if out.get(key):
            changes.setdefault(key, []).extend(out[key])


def _steps(changes):
    """The steps a pool's ``changes`` record, for a failure's ``already done``."""
    return [
        f"{key.replace('_', ' ')} {', '.join(changes[key])}" for key in _PASS_KEYS if key in changes
    ]


def _pass_problem(name, out):
    """Why a reconcile pass fails the state (a broken pool, errors), or None."""
    if out.get("broken"):
        return f"Pool {name} is broken, not launching: {out['broken']}"
    if out.get("errors"):
        return f"Pool {name}: " + "; ".join(out["errors"])
    return None


def _would_change(ret, name, out):
    """Test mode: the pass's would-be changes (``result: None``), or as declared."""
    if ret["changes"]:
        ret.update(result=None, comment=f"Pool {name} would change")
    else:
        ret["comment"] = f"Pool {name} is as declared ({len(out['online'])} online)"
    return ret


def _gate_and_roll(changes, name, image, conn, kwargs):
    """The canary gate for a new image, then the roll to it; why it failed, or None."""
    gate = __salt__["jenkins_agent.canary"](name, image, **conn, **kwargs)
    if not gate["needed"]:
        return None
    if not gate["passed"]:
        changes["canary"] = {"image": image, "result": gate["result"]}
        return (
            f"Pool {name}: the canary of {image} failed ({gate['result']}); the pool "
            f"keeps {gate['old']}.\n{gate['console_tail'] or ''}"
        ).rstrip()
    changes["image"] = {"old": gate["old"], "new": gate["new"]}
    return _roll(changes, name, image, conn, kwargs)


def _roll(changes, name, image, conn, kwargs):
    """Reconcile until no agent of the old image is left (one at a time, never during a
    build), within a connect_timeout per agent; why it stopped, or None when done."""
    per_agent = int(kwargs.get("connect_timeout") or 120)
    budget = per_agent * (int(kwargs.get("max") or 4) + 1)
    deadline = time.monotonic() + budget
    while True:
        out = __salt__["jenkins_agent.reconcile"](name, image, **conn, **kwargs)
        _merge(changes, out)
        if out.get("broken") or out.get("errors"):
            return f"Pool {name}: rolling to {image} stopped: " + (
                out.get("broken") or "; ".join(out["errors"])
            )
        if not out["outdated"] and not out["starting"]:
            return None
        if time.monotonic() > deadline:
            return (
                f"Pool {name}: {len(out['outdated'])} agent(s) still on the old image after "
                f"{budget} s (busy builds are never killed; the schedule keeps rolling)"
            )
        time.sleep(1)
