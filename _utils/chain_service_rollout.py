"""The rolling update of a replicated service (``container_service.apply``) as a plan, apart
from I/O: which replicas go first, the batches, their order (``start-first`` or
``stop-first``), the server slots, the failure accounting, ``failure_action`` and what a
rollback brings back. ``chain_agents_plan.plan`` decides and ``jenkins_agent`` does the I/O;
this module decides and ``container_service``'s executor does the I/O.

:func:`steps` is a generator: it yields a :class:`Step` at a time (what to do next), is sent
each step's outcome, and returns the :class:`Outcome`. The executor performs each step on the
engine and the frontend; the unit tests drive it with a simulated one, over every combination
of the update options. What "ready" means is :mod:`chain_health`; the options and their
validation are :mod:`chain_service_plan`. No Salt dunders, no I/O.
"""

import collections
import dataclasses

try:
    from saltext.chain.utils import chain_health, chain_service_plan
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_health
    import chain_service_plan

plan = chain_service_plan

#: One thing for the executor to do: ``kind`` (below) and its argument.
Step = collections.namedtuple("Step", "kind arg")

# The kinds of step, their argument, and what the executor sends back for each.
REMOVE = "remove"  # a replica (``replicas`` view): drain its slot, remove it. -> None
STOP = "stop"  # a replica: drain its slot, stop it (kept for a rollback). -> None
DISCARD = "discard"  # a new replica's name: read it, drain its slot, remove it. -> None
RESTORE = "restore"  # [replicas]: start each again (same container), gate, let in. -> None
WAIT = "wait"  # seconds: the update's delay between batches. -> None
SLOTS = "slots"  # None: -> the number of server slots (:func:`slot_count`)
CREATE = "create"  # (index, slot): -> (name, None) once started, or (None, why it failed)
GATE = "gate"  # [names]: healthy, in the frontend, monitored. -> {name: why} of the failed

#: How a rollout ended (:attr:`Outcome.end`).
PASSED, FAILED, PAUSED, ROLLED_BACK = "passed", "failed", "paused", "rolled_back"


@dataclasses.dataclass
class Preparation:
    """What an apply starts from (see :func:`prepare`)."""

    remove: list  # replicas of the wanted generation to remove first: broken, then extra
    used: list  # server slots in use
    pairs: list  # [(new replica index, the old replica it replaces or None)]
    surplus: list  # old running replicas beyond the count: removed once the rollout passed
    stale: list  # old replicas not running: removed once the rollout passed
    previous: object  # the image reference that runs now (the rollback's target)
    history: list  # the digest history the new replicas carry


@dataclasses.dataclass
class Outcome:
    """How a rollout ended: ``end`` (:data:`PASSED`, :data:`FAILED`: some replicas failed
    under ``failure_action: continue``, :data:`PAUSED`, :data:`ROLLED_BACK`), the failures
    ``{replica: why}``, the new replicas that passed and how many were to be made."""

    end: str
    failed: dict
    done: list
    planned: int
    held: int = 0  # replicas of the previous generation left serving (``update.limit``)


def _index(rep):
    last = rep["name"].rsplit("-", 1)[-1]
    return int(last) if last.isdigit() else None


def prepare(replicas, gen, count, image_ref, keep):
    """Sort the replicas of a service (``{name: view}``) against the wanted generation
    ``gen`` and ``count``: the new-generation replicas that are broken (not running or
    unhealthy) or extra go; each missing replica gets an index (its name's ``-<n>``) and the
    old running replica it replaces, oldest name first. ``keep`` is how many image
    references the history holds (``history + 1``)."""
    new = sorted((r for r in replicas.values() if r["generation"] == gen), key=lambda r: r["name"])
    old_running = sorted(
        (r for r in replicas.values() if r["generation"] != gen and r["running"]),
        key=lambda r: r["name"],
    )
    broken = [r for r in new if not r["running"] or r["health"] == chain_health.UNHEALTHY]
    good = [r for r in new if r not in broken]
    base = old_running[0]["history"] if old_running else (new[0]["history"] if new else [])
    taken = {_index(r) for r in good[:count]} - {None}
    indexes = [i for i in range(1, count * 2 + 1) if i not in taken][: count - len(good[:count])]
    olds = list(old_running)
    pairs = [(index, olds.pop(0) if olds else None) for index in indexes]
    return Preparation(
        remove=broken + good[count:],
        used=[r["slot"] for r in replicas.values() if r["slot"] and r not in broken],
        pairs=pairs,
        surplus=olds,
        stale=[r for r in replicas.values() if r["generation"] != gen and not r["running"]],
        previous=old_running[0]["image"] if old_running else None,
        history=plan.history_push(base, image_ref, keep),
    )


def steps(name, prep, count, update):
    """The rollout of :func:`prepare`'s ``prep`` under the ``update`` policy (validated,
    ``chain_service_plan.check_update``), step by step; returns the :class:`Outcome`.

    Per batch of ``parallelism`` replicas: (``stop-first``) the old replicas are stopped;
    each new replica is created in a free slot and gated (healthy, in the frontend, monitored);
    a failed one is discarded (and under ``stop-first`` its old replica restored); a passed
    one's old replica is stopped (``start-first``). When more than ``max_failure_ratio`` of
    ``count`` failed: ``rollback`` restores the old replicas that were replaced and discards
    the new ones; ``pause`` stops there; ``continue`` goes on. Once passed, the old replicas
    are removed (their image stays in the history).

    ``update["limit"]`` N (0: none) rolls only the first N missing replicas: once they passed,
    the apply ends there (:attr:`Outcome.held`: how many previous replicas still serve), the
    replaced old replicas stay stopped and nothing else is removed; the next apply goes on."""
    for rep in prep.remove:
        yield Step(REMOVE, rep)
    used, total = list(prep.used), None
    done_new, done_old, failed = [], [], {}
    stop_first = update["order"] == "stop-first"
    pairs = prep.pairs[: update["limit"]] if update.get("limit") else prep.pairs
    held = len(prep.pairs) - len(pairs)
    batches = plan.batches(pairs, update["parallelism"])
    for number, batch in enumerate(batches):
        if number and update["delay"]:
            yield Step(WAIT, update["delay"])
        if stop_first:
            for _, old in batch:
                if old:
                    yield Step(STOP, old)
        if total is None:
            total = yield Step(SLOTS, None)
        slots = plan.free_slots(used, total, len(batch))
        used.extend(slots)
        started = {}  # new replica name -> the old one it replaces
        for (index, old), slot in zip(batch, slots, strict=True):
            cname, why = yield Step(CREATE, (index, slot))
            if why is None:
                started[cname] = old
                continue
            failed[f"{name}#{index}"] = why
            if old and stop_first:
                yield Step(RESTORE, [dict(old, running=False)])
        bad = (yield Step(GATE, list(started))) if started else {}
        failed.update(bad)
        for cname in bad:
            yield Step(DISCARD, cname)
            if started[cname] and stop_first:
                yield Step(RESTORE, [dict(started[cname], running=False)])
        # the last batch of a rollout without a failure: nothing can need the old replicas
        # it replaces any more (no rollback follows), so they go at once, not stopped first
        final = number == len(batches) - 1 and not held and not failed
        for cname, old in started.items():
            if cname in bad:
                continue
            done_new.append(cname)
            if old and not stop_first and final:
                yield Step(REMOVE, old)
                continue
            if old and not stop_first:
                yield Step(STOP, old)
            if old:
                done_old.append(old)
        if failed and plan.too_many_failures(len(failed), count, update["max_failure_ratio"]):
            if update["failure_action"] == "rollback":
                # The previous replicas serve again first, then the new ones leave.
                yield Step(RESTORE, [dict(o, running=False) for o in done_old])
                for cname in done_new:
                    yield Step(DISCARD, cname)
                return Outcome(ROLLED_BACK, failed, done_new, len(pairs))
            if update["failure_action"] == "pause":
                return Outcome(PAUSED, failed, done_new, len(pairs))
    if held:  # the limit: the previous generation keeps serving the rest, kept for a rollback
        return Outcome(FAILED if failed else PASSED, failed, done_new, len(pairs), held)
    # The new generation passed: the previous one goes (its image id is in the history).
    for rep in prep.surplus:
        yield Step(REMOVE, rep)
    for rep in done_old + prep.stale:
        yield Step(REMOVE, dict(rep, slot=None))
    return Outcome(FAILED if failed else PASSED, failed, done_new, len(pairs))


def changes(replicas, gen, image_ref, count):
    """What converging to generation ``gen`` changes: ``generation`` (old/new), and ``image``
    and ``replicas`` when they differ."""
    running = [r for r in replicas.values() if r["running"]]
    old_gens = sorted({r["generation"] for r in running if r["generation"] != gen})
    old_images = sorted({r["image"] for r in running if r["generation"] != gen})
    now = len(running)  # the new generation's too: a canary replica of an earlier apply counts
    out = {"generation": {"old": ",".join(old_gens) or (gen if now else None), "new": gen}}
    if out["generation"]["old"] == gen:
        out.pop("generation")
    if old_images and old_images != [image_ref]:
        out["image"] = {"old": ",".join(old_images), "new": image_ref}
    if now != count:
        out["replicas"] = {"old": now, "new": count}
    if not out:  # same generation and count, but a replica is unhealthy or the frontend lost it
        out["replicas"] = {"old": f"{now} (not all healthy in the frontend)", "new": count}
    return out


def report(svc, outcome, image_ref, previous, would_change):
    """``{result, comment, changes, rolled_back}`` of a rollout that ended with ``outcome``
    (``svc``: the validated service; ``would_change``: :func:`changes`)."""
    name, detail = svc["name"], "; ".join(outcome.failed.values())
    if outcome.end == ROLLED_BACK:
        return {
            "result": False,
            "rolled_back": True,
            "changes": {"rollback": {"old": image_ref, "new": previous}},
            "comment": f"Service {name}: the update to {image_ref} failed and was "
            f"rolled back to {previous or 'nothing'}: {detail}",
        }
    if outcome.end == PAUSED:
        comment = (
            f"Service {name}: update paused after {len(outcome.done)} of "
            f"{outcome.planned} replica(s): {detail}"
        )
    elif outcome.end == FAILED:
        comment = (
            f"Service {name}: {len(outcome.failed)} replica(s) failed and were left out "
            f"(failure_action continue): {detail}"
        )
    else:
        count = len(outcome.done) if outcome.held else svc["replicas"]
        comment = f"Service {name}: {count} replica(s) of {image_ref} healthy" + (
            f" in the frontend {svc['frontend']}" if svc["frontend"] else ""
        )
        if outcome.held:
            comment += (
                f"; {outcome.held} replica(s) of {previous or 'the previous generation'} still "
                f"serve (update.limit {svc['update']['limit']}: the next apply goes on)"
            )
    return {
        "result": outcome.end == PASSED,
        "rolled_back": False,
        "changes": would_change,
        "comment": comment,
    }


def monitor_fault(first, now, verdict):
    """Why a new replica fails its monitor window, or ``None``: it must not stop, not restart,
    and not be judged failed (``verdict``: a ``chain_health.Watch``'s judgement of ``now``; a
    replica momentarily not ready is waited for). ``first``/``now``: its view when the window
    opened and now (``None`` when it is gone)."""
    if now is None or not now.get("running"):
        return "stopped"
    if now.get("restarts") != first.get("restarts"):
        return "restarted"
    if verdict != chain_health.FAILED:
        return None
    if now.get("health") == chain_health.UNHEALTHY:
        return "unhealthy"
    return f"not ready ({now.get('health')})"


def slot_count(servers):
    """The number of server slots to place replicas in: the highest slot of the frontend's
    backend (``servers``: ``{slot: row}`` of ``show servers state``; none: 0), or 256
    (:data:`chain_service_plan.SLOTS_WITHOUT_FRONTEND`) without a frontend (``None``)."""
    if servers is None:
        return plan.SLOTS_WITHOUT_FRONTEND
    return max(servers) if servers else 0
