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

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jenkins_agent"


def __virtual__():
    if "jenkins_agent.present" not in __salt__:
        return (False, "the jenkins_agent execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _call(ret, func, *args, **kwargs):
    try:
        return __salt__[func](*args, **kwargs)
    except (SaltInvocationError, CommandExecutionError) as err:
        ret["result"] = False
        ret["comment"] = str(err)
    except Exception as err:  # noqa: BLE001 - never a traceback to the user
        ret["result"] = False
        ret["comment"] = f"{type(err).__name__}: {err}"
    return None


def _one_agent(name, func, args, kwargs, comments):
    """Run ``func`` (present/absent of the execution module) in this state's test mode and
    word the result: ``comments`` = (nothing to do, would change, changed), formatted with
    ``name`` and the changed ``fields``."""
    ret = _ret(name)
    test = bool(__opts__.get("test"))
    out = _call(ret, func, name, *args, test=test, **kwargs)
    if out is None:
        return ret
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
    ret = _ret(name)
    test = bool(__opts__.get("test"))
    if wait not in (True, False):
        ret.update(result=False, comment=f"wait: expected true or false, got {wait!r}")
        return ret
    out = _call(
        ret,
        "jenkins_agent.reconcile",
        name,
        image,
        profile=profile,
        engine=engine,
        test=test,
        **kwargs,
    )
    if out is None:
        return ret
    changes = {}
    _merge(changes, out)
    if out.get("broken"):
        ret.update(
            changes=changes,
            result=False,
            comment=f"Pool {name} is broken, not launching: {out['broken']}",
        )
        return ret
    if out.get("errors"):
        ret.update(
            changes=changes, result=False, comment=f"Pool {name}: " + "; ".join(out["errors"])
        )
        return ret
    if kwargs.get("canary_job") is not None and out.get("pending_image"):
        if test:
            changes["image"] = {"old": out["image_id"], "new": image, "gate": "canary job first"}
        else:
            gate = _call(
                ret, "jenkins_agent.canary", name, image, profile=profile, engine=engine, **kwargs
            )
            if gate is None:
                ret["changes"] = changes
                return ret
            if gate["needed"] and not gate["passed"]:
                changes["canary"] = {"image": image, "result": gate["result"]}
                ret.update(
                    changes=changes,
                    result=False,
                    comment=(
                        f"Pool {name}: the canary of {image} failed ({gate['result']}); the pool "
                        f"keeps {gate['old']}.\n{gate['console_tail'] or ''}".rstrip()
                    ),
                )
                return ret
            if gate["needed"]:
                changes["image"] = {"old": gate["old"], "new": gate["new"]}
                rolled = _roll(ret, name, image, profile, engine, kwargs, changes)
                if rolled is None:
                    ret["changes"] = changes
                    return ret
    ret["changes"] = changes
    if test:
        ret["result"] = None if changes else True
        ret["comment"] = (
            f"Pool {name} would change"
            if changes
            else f"Pool {name} is as declared ({len(out['online'])} online)"
        )
        return ret
    minimum = int(kwargs.get("min") or 0)
    if wait and (out["launched"] or out["starting"]) and minimum:
        online = _call(
            ret,
            "jenkins_agent.wait_pool",
            name,
            minimum,
            timeout=int(kwargs.get("connect_timeout") or 120),
            profile=profile,
            engine=engine,
        )
        if online is None:
            return ret
    ret["comment"] = (
        f"Pool {name}: {len(changes.get('launched') or [])} launched, "
        f"{len(changes.get('deleted') or [])} removed, "
        f"{len(changes.get('scaled_down') or [])} scaled down; "
        f"demand {out.get('demand', 0)}"
    )
    return ret


def _merge(changes, out):
    for key in ("launched", "deleted", "scaled_down", "disabled"):
        if out.get(key):
            changes.setdefault(key, []).extend(out[key])


def _roll(ret, name, image, profile, engine, kwargs, changes):
    """Reconcile until no agent of the old image is left (one at a time, never during a
    build), within a connect_timeout per agent."""
    per_agent = int(kwargs.get("connect_timeout") or 120)
    budget = per_agent * (int(kwargs.get("max") or 4) + 1)
    deadline = time.monotonic() + budget
    while True:
        out = _call(
            ret, "jenkins_agent.reconcile", name, image, profile=profile, engine=engine, **kwargs
        )
        if out is None:
            return None
        _merge(changes, out)
        if out.get("broken") or out.get("errors"):
            ret.update(
                result=False,
                comment=f"Pool {name}: rolling to {image} stopped: "
                + (out.get("broken") or "; ".join(out["errors"])),
            )
            return None
        if not out["outdated"] and not out["starting"]:
            return True
        if time.monotonic() > deadline:
            ret.update(
                result=False,
                comment=(
                    f"Pool {name}: {len(out['outdated'])} agent(s) still on the old image after "
                    f"{budget} s (busy builds are never killed; the schedule keeps rolling)"
                ),
            )
            return None
        time.sleep(1)
