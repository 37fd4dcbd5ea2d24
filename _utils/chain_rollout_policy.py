"""
What the ``chain`` runner decides during a rollout, apart from its I/O: whether a rollout would
change nothing (the no-op check), in which waves the servers are updated (canaries first, one
at a time, then the rest together), when to stop, whether the rollout succeeded, which servers go
back to which image, and what the rollout changed (Salt's ``changes`` convention).

Pure: state returns and ``container_service.status`` answers in, decisions out.
"""

try:
    from saltext.chain.utils import chain_health
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_health


def failed_states(data):
    """``["<state id>: <comment>", ...]`` of a ``state.apply`` return's states that did not
    succeed (``result`` not ``True``: a failure, or ``None`` in test mode)."""
    return [
        f"{s.get('__id__', k)}: {s.get('comment')}"
        for k, s in data.items()
        if isinstance(s, dict) and s.get("result") is not True
    ]


def server_problem(status, frontend):
    """The runner's own check of one server (``container_service.status``): ``None`` when every
    replica runs healthy in one generation and (with a ``frontend``) all serve, else one line."""
    if not isinstance(status, dict) or "replicas" not in status:
        return f"no status answer ({status!r})"[:300]
    return chain_health.problem(status["replicas"], status["serving"] if frontend else None)


def sick_replicas(status):
    """The running replicas of a server's status that are not ready (``chain_health.is_ready``),
    sorted."""
    return sorted(
        name
        for name, rep in status["replicas"].items()
        if rep.get("running") and not chain_health.is_ready(rep)
    )


def no_op(targets, got, frontend, seconds):
    """Whether a rollout would change nothing, from the answers read on every server at once:
    ``got`` maps ``("state", target)`` to the deploy state's return in test mode and
    ``("status", target)`` to ``container_service.status`` (``None``: no answer). ``{target:
    server entry}`` when every server answered, reports no change and no failed state, and
    passes :func:`server_problem`; else ``None`` (the rollout goes server by server)."""
    servers = {}
    for target in targets:
        states, status = got.get(("state", target)), got.get(("status", target))
        if not isinstance(states, dict) or not isinstance(status, dict) or not states:
            return None
        if failed_states(states) or any(
            isinstance(s, dict) and s.get("changes") for s in states.values()
        ):
            return None
        if server_problem(status, frontend):
            return None
        replicas = len(status["serving"] if frontend else status["replicas"])
        servers[target] = {
            "result": True,
            "no_op": True,
            "comment": f"no change: {len(states)} state(s) unchanged in test mode, "
            f"{replicas} replica(s) healthy",
            "seconds": seconds,
            "previous": status.get("current"),
        }
    return servers


def waves(targets, canary):
    """The rollout's waves, in order: the first ``canary`` servers one at a time, then every
    other server together (``[[t1], [t2, t3, ...]]`` for ``canary`` 1); ``canary`` 0: every
    server one at a time. The servers of a wave are updated at once; the rollout checks
    :func:`stop` after each wave."""
    targets = list(targets)
    if canary <= 0 or canary >= len(targets) - 1:
        return [[target] for target in targets]
    return [[target] for target in targets[:canary]] + [targets[canary:]]


def wave_kind(index, canary):
    """What the ``index``-th wave (0-based) of :func:`waves` is, for the deploy state (pillar
    ``chain:wave``): ``canary`` (one of the first ``canary``), ``rest`` (after them) or
    ``serial`` (``canary`` 0: every server one at a time, none a canary)."""
    if canary <= 0:
        return "serial"
    return "canary" if index < canary else "rest"


def stop(failures, max_failures):
    """Whether the rollout stops here: more failed servers than tolerated."""
    return failures > max_failures


def decide(targets, done, failures, max_failures, previous):
    """The rollout's outcome once its waves ran (``done``: the servers updated, in the order
    they were done; ``failures``: how many failed): ``(result, roll_back)``. It succeeded when
    no server failed, or no more than ``max_failures`` did and every server was tried.
    Otherwise every server already updated goes back to what it ran before, last updated
    first: ``roll_back`` is ``[(target, previous image or None: nothing ran there before)]``."""
    result = failures == 0 or (failures <= max_failures and len(done) + failures == len(targets))
    if result:
        return True, []
    return False, [(target, previous.get(target)) for target in reversed(done)]


def changes(image, done, previous, rolled_back):
    """What a rollout changed, as Salt's ``changes``: ``{server: {old, new}}`` (the image it ran
    before, ``image``) for each server the rollout updated and did not roll back successfully
    (a server updated with the image it already ran counts: its spec drifted and its replicas
    were replaced). A rollout that changed nothing (a no-op, or a failure whose updated servers
    are all back where they were) has ``{}``."""
    return {
        target: {"old": previous.get(target), "new": image}
        for target in done
        if not (rolled_back.get(target) or {}).get("result")
    }
