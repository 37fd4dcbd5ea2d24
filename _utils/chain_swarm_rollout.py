"""
The ``chain`` runner with an app in Swarm mode (the app's deploy pillar ``chain:service:mode:
swarm``, with ``chain:service:manager`` naming the Swarm manager's minion): what is decided
apart from the I/O. The rollout applies the deploy state once, on the manager (Swarm rolls the
tasks across the nodes, ``container_service.running`` gates them and rolls back with ``docker
service rollback``); these functions say which mode an app is in, how its status is read
(``container_service.swarm_status`` on the manager), whether a rollout would change nothing,
the runner's own check after the apply, the service's entry in the rollout's result (its
tasks per node), and the rows ``chain.status`` shows (node, task, state, health, image digest,
serving).

Pure: the app's configuration, state returns and ``swarm_status`` answers in, decisions out.
"""

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_rollout_policy, chain_swarm
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_rollout_policy
    import chain_swarm

SWARM = "swarm"
#: Swarm's update states in which the service is not settled. ``rollback_completed`` is not
#: one: it stays the service's state after a rollback until its next update, and the state
#: (``container_service.running``) fails an apply that Swarm rolled back itself.
NOT_DONE = (*chain_swarm.ROLLING, *chain_swarm.PAUSED)
#: The columns of a task row (:func:`task_rows`).
COLUMNS = ("node", "task", "state", "health", "digest", "serving")


def _service_pillar(conf):
    chain = (conf.get("pillar") or {}).get("chain") or {}
    service = chain.get("service") if isinstance(chain, dict) else None
    return service if isinstance(service, dict) else {}


def settings(conf, targets):
    """``(mode, manager, targets)`` of an app: ``mode`` from its deploy pillar
    ``chain:service:mode`` (``containers`` by default), ``manager`` (Swarm mode: the minion
    that runs the service, ``chain:service:manager``) and the targets the runner applies the
    deploy state on (Swarm mode: the manager alone; ``targets``, when given, must name just
    it). ``SaltInvocationError`` before any I/O."""
    service = _service_pillar(conf)
    mode = service.get("mode") or "containers"
    if mode not in chain_swarm.MODES:
        raise SaltInvocationError(
            f"pillar chain:service:mode: expected one of {', '.join(chain_swarm.MODES)}, "
            f"got {mode!r}"
        )
    if mode != SWARM:
        return mode, None, targets
    manager = service.get("manager")
    if not isinstance(manager, str) or not manager:
        raise SaltInvocationError(
            "pillar chain:service:manager: expected the Swarm manager's minion id (mode swarm: "
            "the deploy state runs there once, Swarm rolls the tasks across the nodes)"
        )
    if targets and list(targets) != [manager]:
        raise SaltInvocationError(
            f"targets: an app in Swarm mode is deployed on its manager only ({manager}), "
            f"got {', '.join(map(str, targets))}"
        )
    return mode, manager, [manager]


def status_call(conf, names):
    """``container_service.swarm_status`` of the app on its manager: ``(args, kwargs)``;
    ``names``: the app's names there (``chain_app_conf.names``)."""
    chain = (conf.get("pillar") or {}).get("chain") or {}
    kwarg = {
        "network": names["network"],
        "frontend": names["frontend"],
        "backend": conf["backend"],
        "profile": chain.get("profile") if isinstance(chain, dict) else None,
    }
    return [names["service"]], kwarg


def annotate(task, serving_addrs):
    """A task view (``chain_swarm.task_view``) with what ``chain.status`` shows: ``digest``
    (of its image reference, ``None`` when it runs a tag), ``health`` (Swarm calls a task with
    a health check ``running`` only once its container is healthy: ``healthy`` then, ``starting``
    before, else its state) and ``serving`` (its address takes traffic in the frontend;
    ``None`` without a frontend or when it could not be read: ``serving_addrs`` ``None``)."""
    image = task.get("image") or ""
    state = task.get("state")
    health = {"running": "healthy", "starting": "starting"}.get(state, state)
    serving = None if serving_addrs is None else bool(task.get("addr") in serving_addrs)
    digest = image.rsplit("@", 1)[1] if "@" in image else None
    return dict(task, digest=digest, health=health, serving=serving)


def _live(status):
    if not isinstance(status, dict):
        return []
    return [t for tasks in (status.get("tasks") or {}).values() for t in tasks]


def problem(status, image, frontend):
    """The runner's own check of the service after its deploy state succeeded (``status``:
    ``swarm_status`` then): ``None``, or one line: the service missing, Swarm not done (or
    paused), fewer live tasks than replicas, a task of another image than the service's,
    a pinned ``image`` the service does not run, or (with a ``frontend``) a task not serving."""
    if not isinstance(status, dict) or "tasks" not in status:
        return f"no Swarm service status ({status!r})"[:300]
    state, tasks = status.get("update_state"), _live(status)
    if state in NOT_DONE:
        return f"service {status['service']}: Swarm's update state is {state}"
    if len(tasks) != status.get("replicas"):
        return f"service {status['service']}: {len(tasks)}/{status.get('replicas')} task(s) running"
    current = status.get("current") or ""
    if "@" in image and not current.endswith("@" + image.rsplit("@", 1)[1]):
        return f"service {status['service']} runs {current or 'nothing'}, not {image}"
    other = sorted(t["id"][:12] for t in tasks if t.get("image") != current)
    if other:
        return f"task(s) {', '.join(other)} run another image than {current}"
    if frontend:
        if status.get("frontend_error"):
            return f"frontend {frontend}: {status['frontend_error']}"
        out = sorted(f"{t['id'][:12]} on {t['node']}" for t in tasks if not t.get("serving"))
        if out:
            return f"task(s) {', '.join(out)} not serving in frontend {frontend}"
    return None


def certain_change(image, status):
    """Whether rolling ``image`` out changes the service for sure: ``image`` names a digest
    (as the runner pins a tag) and the service answered but some live task, or the service
    itself, runs another. Then no test-mode check first; otherwise :func:`no_op` decides."""
    if "@" not in str(image) or not isinstance(status, dict):
        return False
    digest = image.rsplit("@", 1)[1]
    tasks = _live(status)
    return not tasks or any(t.get("digest") != digest for t in tasks)


def no_op(targets, got, frontend, seconds):
    """:func:`chain_rollout_policy.no_op` for an app in Swarm mode (``targets``: its manager;
    ``got[("status", manager)]``: ``swarm_status``): ``{manager: entry}`` when the deploy state
    in test mode changes nothing and :func:`problem` finds nothing, else ``None``."""
    (manager,) = targets
    states, status = got.get(("state", manager)), got.get(("status", manager))
    if not isinstance(states, dict) or not states or not isinstance(status, dict):
        return None
    if chain_rollout_policy.failed_states(states) or any(
        isinstance(s, dict) and s.get("changes") for s in states.values()
    ):
        return None
    if problem(status, "", frontend):
        return None
    entry = {
        "result": True,
        "no_op": True,
        "comment": f"no change: {len(states)} state(s) unchanged in test mode, "
        f"{len(_live(status))} task(s) healthy" + (" and serving" if frontend else ""),
        "seconds": seconds,
        "previous": status.get("current"),
    }
    return {manager: dict(entry, **view(status))}


def view(status):
    """What a rollout entry says of the service: ``{service, mode, tasks: {node: [{id, state,
    health, digest, serving}]}}`` (``{}`` without a status)."""
    if not isinstance(status, dict):
        return {}
    keep = ("id", "state", "health", "digest", "serving")
    return {
        "mode": SWARM,
        "service": status.get("service"),
        "tasks": {
            node: [{k: t.get(k) for k in keep} for t in tasks]
            for node, tasks in sorted((status.get("tasks") or {}).items())
        },
    }


def entry(ok, comment, check, seconds, previous, status):
    """The service's entry in the rollout's result after its apply:
    ``chain_rollout_policy.server_entry`` (``result``, ``comment``, ``seconds``, ``previous``)
    with :func:`view` of its status after the apply."""
    return dict(
        chain_rollout_policy.server_entry(None, ok, comment, check, seconds, previous),
        **view(status),
    )


def task_rows(status):
    """The service's live tasks as rows of :data:`COLUMNS`, by node then task id (text and
    page of ``chain.status``); ``serving``: ``serving``, ``out`` or ``-`` (no frontend)."""
    rows = []
    for node, tasks in sorted((status.get("tasks") or {}).items(), key=lambda kv: str(kv[0])):
        for task in sorted(tasks, key=lambda t: str(t.get("id"))):
            serving = task.get("serving")
            rows.append(
                {
                    "node": node,
                    "task": str(task.get("id") or "")[:12],
                    "state": task.get("state"),
                    "health": task.get("health"),
                    "digest": task.get("digest") or task.get("image"),
                    "serving": "-" if serving is None else "serving" if serving else "out",
                }
            )
    return rows


def headline(status):
    """One line of the service: its image, live tasks of replicas, Swarm's update state."""
    return (
        f"swarm service {status.get('service')}: {status.get('current')} "
        f"({len(_live(status))}/{status.get('replicas')} task(s), "
        f"update {status.get('update_state') or 'none'})"
    )
