"""The rollout plan of container_service (chain_service_rollout), driven by a simulated engine
over every combination of the update options: parallelism x order x failure_action x
max_failure_ratio x delay x replica counts (up, same, down) x what fails (nothing, a start, a
gate, everything)."""

import itertools

import pytest
from saltext.chain.utils import chain_errors
from saltext.chain.utils import chain_service_plan as plan
from saltext.chain.utils import chain_service_rollout as rollout

GEN = "g2"


def rep(name, gen="g1", running=True, health="healthy", slot=None, image="app:1"):
    return {
        "name": name,
        "generation": gen,
        "running": running,
        "status": "running" if running else "exited",
        "health": health,
        "slot": slot,
        "image": image,
        "history": [image],
        "restarts": 0,
    }


def olds(number):
    return {f"web-old-{i}": rep(f"web-old-{i}", slot=i) for i in range(1, number + 1)}


def update(**kwargs):
    return plan.check_update(dict({"monitor": 4}, **kwargs), 4)


class World:
    """A simulated engine: which containers exist and run, which replicas serve. A new
    replica's index in ``fail_create`` cannot start; in ``fail_gate`` fails its gate."""

    def __init__(self, replicas, fail_create=(), fail_gate=(), slots=64):
        self.running = {n for n, r in replicas.items() if r["running"]}
        self.exists = set(replicas)
        self.serving = set(self.running)
        self.fail_create, self.fail_gate, self.slots = set(fail_create), set(fail_gate), slots
        self.log, self.created, self.slots_used = [], [], []
        self.low = len(self.serving)

    def __call__(self, step):
        self.log.append(step)
        kind, arg = step
        out = None
        if kind == rollout.CREATE:
            index, slot = arg
            self.slots_used.append(slot)
            if index in self.fail_create:
                out = (None, f"web#{index} would not start")
            else:
                name = f"web-new-{index}"
                self.exists.add(name)
                self.running.add(name)
                self.created.append(name)
                out = (name, None)
        elif kind == rollout.GATE:
            bad = {n: f"{n} is unhealthy" for n in arg if int(n[-1]) in self.fail_gate}
            self.serving |= set(arg) - set(bad)
            out = bad
        elif kind == rollout.SLOTS:
            out = self.slots
        elif kind in (rollout.REMOVE, rollout.DISCARD):
            name = arg if kind == rollout.DISCARD else arg["name"]
            self.exists.discard(name)
            self.running.discard(name)
            self.serving.discard(name)
        elif kind == rollout.STOP:
            self.running.discard(arg["name"])
            self.serving.discard(arg["name"])
        elif kind == rollout.RESTORE:
            for old in arg:
                assert old["name"] in self.exists, f"restored {old['name']}, which was removed"
                self.running.add(old["name"])
                self.serving.add(old["name"])
        self.low = min(self.low, len(self.serving))
        return out

    def run(self, steps):
        answer = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as end:
                return end.value
            answer = self(step)


def kinds(log):
    return [s.kind for s in log]


COUNTS = [(0, 1), (1, 1), (1, 3), (2, 2), (3, 2), (4, 1)]
FAILURES = ["none", "first-start", "first-gate", "all-gates"]
COMBOS = list(
    itertools.product(
        (1, 2, 3),  # parallelism
        ("start-first", "stop-first"),
        ("rollback", "pause", "continue"),
        (0, 0.5, 1),  # max_failure_ratio
        (0, 2),  # delay
        COUNTS,
        FAILURES,
    )
)


@pytest.mark.parametrize(
    "parallelism, order, action, ratio, delay, counts, failure",
    COMBOS,
    ids=["-".join(str(v) for v in c) for c in COMBOS],
)
def test_every_combination_of_the_update_options(
    parallelism, order, action, ratio, delay, counts, failure
):
    before, count = counts
    reps = olds(before)
    upd = update(
        parallelism=parallelism,
        order=order,
        failure_action=action,
        max_failure_ratio=ratio,
        delay=delay,
    )
    fail_create = {1} if failure == "first-start" else set()
    fail_gate = {"first-gate": {1}, "all-gates": set(range(1, 10))}.get(failure, set())
    prep = rollout.prepare(reps, GEN, count, "app@sha256:2", 6)
    world = World(reps, fail_create, fail_gate)
    outcome = world.run(rollout.steps("web", prep, count, upd))
    log = kinds(world.log)

    # the plan: one new replica per missing one, each paired with an old one while they last
    assert [i for i, _ in prep.pairs] == list(range(1, count + 1))
    assert [o["name"] for _, o in prep.pairs if o] == sorted(reps)[:count]
    # batches: at most `parallelism` replicas per gate, started in index order; the delay
    # only between batches
    assert all(len(s.arg) <= parallelism for s in world.log if s.kind == rollout.GATE)
    started = [s.arg[0] for s in world.log if s.kind == rollout.CREATE]
    assert started == sorted(started)
    batches = -(-count // parallelism)
    assert log[0] != rollout.WAIT
    assert log.count(rollout.WAIT) <= (batches - 1 if delay else 0)
    if delay and outcome.end in (rollout.PASSED, rollout.FAILED):
        assert log.count(rollout.WAIT) == batches - 1
    assert log.count(rollout.SLOTS) == 1
    assert len(set(world.slots_used)) == len(world.slots_used)  # no slot given twice
    # order: stop-first stops an old replica before its new one starts; start-first only
    # after the new one passed its gate
    for index, old in prep.pairs:
        if not old:
            continue
        stops = [i for i, s in enumerate(world.log) if s == (rollout.STOP, old)]
        starts = [
            i for i, s in enumerate(world.log) if s.kind == rollout.CREATE and s.arg[0] == index
        ]
        if stops and starts:
            assert (stops[0] < starts[0]) == (order == "stop-first")
    # capacity: start-first never serves fewer than it started with (or the count)
    floor = min(before, count)
    if order == "start-first":
        assert world.low >= floor
    else:
        assert world.low >= floor - parallelism

    failures = len(fail_create & set(range(1, count + 1))) + len(
        fail_gate & (set(range(1, count + 1)) - fail_create)
    )
    too_many = failures and plan.too_many_failures(failures, count, ratio)
    news = {n for n in world.running if n.startswith("web-new")}
    olds_running = {n for n in world.running if n.startswith("web-old")}
    if not failures:
        assert outcome.end == rollout.PASSED and outcome.failed == {}
        assert news == {f"web-new-{i}" for i in range(1, count + 1)}
        assert world.exists == news  # every previous replica removed once the rollout passed
        assert rollout.RESTORE not in log and rollout.DISCARD not in log
    elif too_many and action == "rollback":
        assert outcome.end == rollout.ROLLED_BACK
        assert news == set() and olds_running == set(reps)  # the previous replicas, all back
        assert world.serving == set(reps)
    elif too_many and action == "pause":
        assert outcome.end == rollout.PAUSED
        # stopped in the batch that passed the ratio: nothing started after it
        last = -(-max(int(k.split("#")[-1].rsplit("-")[-1]) for k in outcome.failed) // parallelism)
        assert max(started) <= min(count, last * parallelism)
        assert not any(s.kind == rollout.REMOVE and s.arg["name"] in reps for s in world.log)
    else:  # continue, or failures within the ratio
        assert outcome.end == rollout.FAILED
        assert len(outcome.failed) == failures
        assert log.count(rollout.CREATE) == count  # every replica was tried
    if outcome.end in (rollout.PAUSED, rollout.FAILED):
        # what runs: the new replicas that passed, and every old one they did not replace
        # (past the count, the old ones go once the rollout went through, not when paused)
        replaced = {o["name"] for i, o in prep.pairs if o and f"web-new-{i}" in outcome.done}
        if outcome.end == rollout.FAILED:
            replaced |= {o["name"] for o in prep.surplus}
        assert news == set(outcome.done)
        assert olds_running == set(reps) - replaced
    # a failed new replica never stays
    assert not any(n in world.exists for n in outcome.failed)
    # an old replica whose new one failed serves again (stop-first restores it)
    if outcome.end != rollout.ROLLED_BACK:
        for index, old in prep.pairs:
            if old and (index in fail_create or index in fail_gate):
                if f"web#{index}" in outcome.failed or f"web-new-{index}" in outcome.failed:
                    assert old["name"] in world.running


def test_prepare_sorts_the_replicas():
    reps = {
        "web-old-1": rep("web-old-1", slot=1),
        "web-old-2": rep("web-old-2", slot=2),
        "web-stale-1": rep("web-stale-1", gen="g0", running=False, slot=5),
        "web-g2-1": rep("web-g2-1", gen=GEN, slot=3),
        "web-g2-2": rep("web-g2-2", gen=GEN, health="unhealthy", slot=4),
        "web-g2-5": rep("web-g2-5", gen=GEN, slot=6),
    }
    prep = rollout.prepare(reps, GEN, 1, "app@sha256:2", 2)
    # broken first, then the extra healthy one (the count is 1)
    assert [r["name"] for r in prep.remove] == ["web-g2-2", "web-g2-5"]
    assert prep.pairs == []  # web-g2-1 already serves
    assert [r["name"] for r in prep.surplus] == ["web-old-1", "web-old-2"]
    assert [r["name"] for r in prep.stale] == ["web-stale-1"]
    assert sorted(prep.used) == [1, 2, 3, 5, 6]  # the broken one's slot is free again
    assert prep.previous == "app:1"
    assert prep.history == ["app@sha256:2", "app:1"]

    prep = rollout.prepare(reps, GEN, 3, "app@sha256:2", 6)
    assert [(i, o and o["name"]) for i, o in prep.pairs] == [(2, "web-old-1")]
    assert [r["name"] for r in prep.remove] == ["web-g2-2"]


def test_free_slots_run_out_mid_rollout():
    reps = olds(2)
    prep = rollout.prepare(reps, GEN, 2, "app@sha256:2", 6)
    world = World(reps, slots=3)
    with pytest.raises(chain_errors.BackendError, match="CHAIN_SLOTS"):
        world.run(rollout.steps("web", prep, 2, update()))
    assert kinds(world.log).count(rollout.CREATE) == 1  # the first batch ran


def test_stop_first_rollback_step_by_step():
    reps = olds(2)
    prep = rollout.prepare(reps, GEN, 2, "app@sha256:2", 6)
    world = World(reps, fail_gate={2})
    outcome = world.run(
        rollout.steps("web", prep, 2, update(order="stop-first", failure_action="rollback"))
    )
    assert outcome.end == rollout.ROLLED_BACK and outcome.done == ["web-new-1"]
    old1, old2 = reps["web-old-1"], reps["web-old-2"]
    assert world.log == [
        (rollout.STOP, old1),
        (rollout.SLOTS, None),
        (rollout.CREATE, (1, 3)),
        (rollout.GATE, ["web-new-1"]),
        (rollout.STOP, old2),
        (rollout.CREATE, (2, 4)),
        (rollout.GATE, ["web-new-2"]),
        (rollout.DISCARD, "web-new-2"),
        (rollout.RESTORE, [dict(old2, running=False)]),
        (rollout.RESTORE, [dict(old1, running=False)]),
        (rollout.DISCARD, "web-new-1"),
    ]


def test_changes_and_report():
    reps = olds(2)
    assert rollout.changes(reps, GEN, "app@sha256:2", 3) == {
        "generation": {"old": "g1", "new": GEN},
        "image": {"old": "app:1", "new": "app@sha256:2"},
        "replicas": {"old": 2, "new": 3},
    }
    # the rest after a canary apply (update.limit): one new replica and one old run
    mixed = {"n": rep("n", gen=GEN, image="app@sha256:2"), "o": rep("o")}
    assert rollout.changes(mixed, GEN, "app@sha256:2", 2) == {
        "generation": {"old": "g1", "new": GEN},
        "image": {"old": "app:1", "new": "app@sha256:2"},
    }
    same = {"a": rep("a", gen=GEN, health="unhealthy")}
    assert rollout.changes(same, GEN, "app:1", 1) == {
        "replicas": {"old": "1 (not all healthy in the frontend)", "new": 1}
    }
    svc = {"name": "web", "replicas": 2, "frontend": "fe"}
    ok = rollout.report(svc, rollout.Outcome(rollout.PASSED, {}, ["x"], 2), "r@2", "r@1", {"c": 1})
    assert ok == {
        "result": True,
        "rolled_back": False,
        "changes": {"c": 1},
        "comment": "Service web: 2 replica(s) of r@2 healthy in the frontend fe",
    }
    back = rollout.report(
        svc, rollout.Outcome(rollout.ROLLED_BACK, {"x": "x is unhealthy"}, [], 2), "r@2", "r@1", {}
    )
    assert back["rolled_back"] and back["changes"] == {"rollback": {"old": "r@2", "new": "r@1"}}
    assert "rolled back to r@1: x is unhealthy" in back["comment"]
    paused = rollout.report(
        svc, rollout.Outcome(rollout.PAUSED, {"x": "bad"}, ["y"], 2), "r", None, {}
    )
    assert paused["result"] is False and "paused after 1 of 2" in paused["comment"]


@pytest.mark.parametrize(
    "now, verdict, why",
    [
        (rep("a"), "ready", None),
        (rep("a", health=None), "ready", None),
        (None, "failed", "stopped"),
        (rep("a", running=False), "failed", "stopped"),
        (rep("a", health="unhealthy"), "failed", "unhealthy"),
        (dict(rep("a"), restarts=1), "ready", "restarted"),
        (rep("a", health="starting"), "failed", "not ready (starting)"),
        # a blip: momentarily unhealthy or starting, not judged failed yet
        (rep("a", health="unhealthy"), "waiting", None),
        (rep("a", health="starting"), "waiting", None),
    ],
)
def test_monitor_fault(now, verdict, why):
    assert rollout.monitor_fault(rep("a"), now, verdict) == why


def test_slot_count_without_a_frontend_is_256_as_documented():
    assert rollout.slot_count(None) == plan.SLOTS_WITHOUT_FRONTEND == 256
    assert "256" in rollout.slot_count.__doc__
    assert rollout.slot_count({1: {}, 8: {}}) == 8
    assert rollout.slot_count({}) == 0


def _replicas_of(world, reps):
    """The replicas a second apply reads after ``world`` ran: the old ones still there, and the
    new ones (generation GEN, running)."""
    out = {n: dict(r, running=n in world.running) for n, r in reps.items() if n in world.exists}
    for name in world.created:
        if name in world.exists:
            out[name] = rep(name, gen=GEN, running=name in world.running, slot=90 + int(name[-1]))
    return out


@pytest.mark.parametrize("order", ["start-first", "stop-first"])
@pytest.mark.parametrize("count, limit", [(2, 1), (3, 1), (3, 2), (2, 2), (2, 5)])
def test_limit_rolls_the_first_replicas_and_the_next_apply_the_rest(order, count, limit):
    """update.limit N: an apply rolls N new replicas and ends there, the previous generation
    still serving the rest (the old ones it replaced kept stopped); the next apply (no limit)
    rolls the rest and only then removes the previous generation."""
    reps = olds(count)
    prep = rollout.prepare(reps, GEN, count, "app@sha256:2", 6)
    world = World(reps)
    outcome = world.run(rollout.steps("web", prep, count, update(order=order, limit=limit)))
    rolled = min(limit, count)
    assert outcome.end == rollout.PASSED and outcome.held == count - rolled
    assert outcome.done == [f"web-new-{i}" for i in range(1, rolled + 1)]
    assert kinds(world.log).count(rollout.CREATE) == rolled
    if outcome.held:
        # nothing removed: the replaced old ones are stopped (a rollback restarts them)
        assert rollout.REMOVE not in kinds(world.log)
        assert world.exists == set(reps) | set(outcome.done)
        assert world.serving == set(outcome.done) | set(sorted(reps)[rolled:])
        if order == "start-first":
            assert world.low >= count  # never fewer than it started with
        report = rollout.report(
            {"name": "web", "replicas": count, "frontend": "fe", "update": {"limit": limit}},
            outcome,
            "r@2",
            "r@1",
            {},
        )
        assert report["result"] is True
        assert report["comment"] == (
            f"Service web: {rolled} replica(s) of r@2 healthy in the frontend fe; "
            f"{count - rolled} replica(s) of r@1 still serve (update.limit {limit}: the next "
            "apply goes on)"
        )
    else:
        assert world.exists == set(outcome.done)  # a limit past the count: a whole rollout
        return

    # the next apply: the rest, then the previous generation goes
    now = _replicas_of(world, reps)
    prep = rollout.prepare(now, GEN, count, "app@sha256:2", 6)
    assert [i for i, _ in prep.pairs] == list(range(rolled + 1, count + 1))
    assert sorted(r["name"] for r in prep.stale) == sorted(reps)[:rolled]
    world2 = World(now)
    world2.created = []
    outcome = world2.run(rollout.steps("web", prep, count, update(order=order)))
    assert outcome.end == rollout.PASSED and outcome.held == 0
    assert world2.exists == {n for n in now if n.startswith("web-new")} | set(outcome.done)
    assert len(world2.exists) == count


def test_limit_with_a_failed_gate_rolls_back_the_limited_batch():
    reps = olds(2)
    prep = rollout.prepare(reps, GEN, 2, "app@sha256:2", 6)
    world = World(reps, fail_gate={1})
    outcome = world.run(rollout.steps("web", prep, 2, update(limit=1)))
    assert outcome.end == rollout.ROLLED_BACK and outcome.held == 0
    assert world.running == set(reps) and world.exists == set(reps)
    assert kinds(world.log).count(rollout.CREATE) == 1


def test_limit_is_validated():
    assert plan.check_update({"monitor": 4}, 4)["limit"] == 0
    assert plan.check_update({"monitor": 4, "limit": 1}, 4)["limit"] == 1
    with pytest.raises(chain_errors.BadInput, match="update.limit"):
        plan.check_update({"monitor": 4, "limit": -1}, 4)


def test_start_first_last_batch_removes_its_old_replicas_at_once():
    """The last batch of a rollout without a failure removes the old replicas it replaced
    (drain, a graceful stop, remove: one step); earlier ones are stopped first (a later failure
    restarts them), and so is every one after a failure (failure_action continue)."""
    reps = olds(2)
    old1, old2 = reps["web-old-1"], reps["web-old-2"]
    prep = rollout.prepare(reps, GEN, 2, "app@sha256:2", 6)
    world = World(reps)
    assert world.run(rollout.steps("web", prep, 2, update())).end == rollout.PASSED
    assert world.log == [
        (rollout.SLOTS, None),
        (rollout.CREATE, (1, 3)),
        (rollout.GATE, ["web-new-1"]),
        (rollout.STOP, old1),
        (rollout.CREATE, (2, 4)),
        (rollout.GATE, ["web-new-2"]),
        (rollout.REMOVE, old2),
        (rollout.REMOVE, dict(old1, slot=None)),
    ]
    world = World(reps)
    world.run(rollout.steps("web", prep, 2, update(parallelism=2)))
    assert [s for s in world.log if s.kind in (rollout.STOP, rollout.REMOVE)] == [
        (rollout.REMOVE, old1),
        (rollout.REMOVE, old2),
    ]
    world = World(reps, fail_gate={1})
    outcome = world.run(rollout.steps("web", prep, 2, update(failure_action="continue")))
    assert outcome.end == rollout.FAILED
    assert [s for s in world.log if s.kind in (rollout.STOP, rollout.REMOVE)] == [
        (rollout.STOP, old2),
        (rollout.REMOVE, dict(old2, slot=None)),
    ]
