"""
What the ``chain`` runner decides during a rollout, apart from its I/O: whether a rollout would
change nothing (the no-op check, and when the servers' status already says it changes), in
which applies the servers are updated (one new replica on each canary server, one at a time,
then every other replica together), the check after each apply, when to stop, whether the
rollout succeeded, which servers go back to which image, and what the rollout changed (Salt's
``changes`` convention).

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
    """The rollout's applies of the deploy state, in order, as ``[(kind, [targets])]``: the
    first ``canary`` servers one at a time with kind ``canary`` (the deploy state rolls one new
    replica there: ``chain:service:update_canary``, the previous generation keeps serving
    beside it), then every server together with kind ``rest`` (the canaries' other replicas
    and every other server's: ``chain:service:update_after_canary``). ``canary`` 0: every
    server one at a time, whole, kind ``serial``. The servers of an apply are updated at once;
    the rollout checks :func:`stop` after each."""
    targets = list(targets)
    if canary <= 0:
        return [("serial", [target]) for target in targets]
    return [("canary", [target]) for target in targets[:canary]] + [("rest", targets)]


def pre_pull(image):
    """Whether the rollout pulls ``image`` on every server at once before its canary (so that
    no apply waits for a pull, and a stop-first update never stops a replica before its image
    is there): only an image named by digest in a registry of its own (``host[:port]/...@sha256:``,
    as the runner pins a tag), never a local tag (nothing to pull: Docker Hub would be asked) or
    an image of Docker Hub."""
    if not isinstance(image, str) or "@" not in image:
        return False
    first = image.split("/", 1)[0]
    return "/" in image and ("." in first or ":" in first or first == "localhost")


def certain_change(image, statuses):
    """Whether rolling ``image`` out changes some server for sure, from the servers'
    ``container_service.status`` alone (``{target: status or None}``): ``image`` names a digest
    (``repo@sha256:...``, as the runner pins it) and some server that answered runs no replica
    of that digest. Then the rollout needs no test-mode check first; otherwise
    :func:`no_op` decides."""
    if not isinstance(image, str) or "@" not in image:
        return False
    digest = image.rsplit("@", 1)[1]
    for status in statuses.values():
        if not isinstance(status, dict) or not isinstance(status.get("replicas"), dict):
            continue
        running = [r for r in status["replicas"].values() if r.get("running")]
        if not any(str(r.get("image") or "").endswith("@" + digest) for r in running):
            return True
    return False


def wave_problem(status, frontend, kind, before=None):
    """:func:`server_problem` after one apply of kind ``kind`` (:func:`waves`). After a
    ``canary`` apply the new replica runs beside the previous ones: the check judges the
    replicas of the generations that did not run before the rollout (``before``: the server's
    status then; ``None``: every replica is new), each ready and serving; the previous ones,
    which ran before and go in the rest, are not judged there (a blip of one of them is not the
    new image's fault; the check after the rest judges the whole server). No more than two
    generations may run; a server where nothing new runs (it ran this already) is checked
    whole."""
    if kind != "canary" or not isinstance(status, dict) or "replicas" not in status:
        return server_problem(status, frontend)
    running = {n: r for n, r in status["replicas"].items() if r.get("running")}
    if len({r.get("generation") for r in running.values()}) > 2:
        return f"{len({r.get('generation') for r in running.values()})} generations running"
    old = {
        r.get("generation")
        for r in ((before or {}).get("replicas") or {}).values()
        if isinstance(r, dict) and r.get("running")
    }
    new = {n: r for n, r in running.items() if r.get("generation") not in old}
    if not new:  # the server already ran what it runs now (a no-op apply): the whole check
        return server_problem(status, frontend)
    serving = [n for n in status.get("serving") or [] if n in new] if frontend else None
    return chain_health.problem(new, serving)


def server_entry(before, ok, comment, problem, seconds, previous):
    """A server's entry in the rollout's result after one more apply (``before``: its entry
    after an earlier apply of this rollout, or ``None``): ``{result, comment, seconds,
    previous}``; the seconds add up, the last apply says the result."""
    return {
        "result": bool(ok and not problem),
        "comment": problem or comment,
        "seconds": round((before or {}).get("seconds", 0) + seconds, 2),
        "previous": previous,
    }


def stop(failures, max_failures):
    """Whether the rollout stops here: more failed servers than tolerated."""
    return failures > max_failures


def decide(targets, done, failed, max_failures, previous):
    """The rollout's outcome once its applies ran (``done``: the servers an apply of this
    rollout changed, in the order they were first changed, failed later or not; ``failed``:
    the servers whose last apply failed): ``(result, roll_back)``. It succeeded when no server
    failed, or no more than ``max_failures`` did and every server was tried. Otherwise every
    server changed goes back to what it ran before, last changed first (a server whose own
    state rolled its failed apply back, but kept a canary replica of an earlier apply, goes
    too): ``roll_back`` is ``[(target, previous image or None: nothing ran there before)]``."""
    failed = list(failed)
    tried = set(done) | set(failed)
    result = not failed or (len(failed) <= max_failures and tried >= set(targets))
    if result:
        return True, []
    return False, [(target, previous.get(target)) for target in reversed(done)]


def changes(image, done, previous, rolled_back, changed=None):
    """What a rollout changed, as Salt's ``changes``: ``{server: {old, new}}`` (the image it ran
    before, ``image``) for each server the rollout updated and did not roll back successfully
    (a server updated with the image it already ran counts: its spec drifted and its replicas
    were replaced). ``changed``: the servers whose deploy state reported changes, when known; a
    server whose apply changed nothing is not a change (the no-op check went server by server
    because a replica was momentarily not ready, and the apply found everything in place). A
    rollout that changed nothing (a no-op, or a failure whose updated servers are all back
    where they were) has ``{}``."""
    return {
        target: {"old": previous.get(target), "new": image}
        for target in done
        if not (rolled_back.get(target) or {}).get("result")
        and (changed is None or target in changed)
    }
