"""The rollout's decisions without I/O: the no-op check, when to stop, the outcome and what
is rolled back, and what the rollout changed."""

import pytest
from saltext.chain.utils import chain_rollout_policy as policy


def rep(health="healthy", gen="g1", running=True, image="app@sha256:1"):
    return {
        "running": running,
        "health": health,
        "generation": gen,
        "status": "running",
        "image": image,
    }


def status(serving=("r1", "r2"), **replicas):
    replicas = replicas or {"r1": rep(), "r2": rep()}
    return {"replicas": replicas, "serving": list(serving), "current": "app@sha256:1"}


STATE_OK = {"container_service_|-app_|-app_|-running": {"result": True, "changes": {}}}
STATE_CHANGES = {"svc": {"result": None, "changes": {"image": {"old": "a", "new": "b"}}}}
STATE_FAILED = {"svc": {"__id__": "app", "result": False, "comment": "no such image"}}


def test_failed_states_names_each_state_that_did_not_succeed():
    data = {
        "a": {"__id__": "one", "result": True, "comment": "fine"},
        "b": {"__id__": "two", "result": False, "comment": "broken"},
        "c": {"result": None, "comment": "would change"},
        "d": "not a state",
    }
    assert policy.failed_states(data) == ["two: broken", "c: would change"]


@pytest.mark.parametrize(
    "st, frontend, problem",
    [
        (status(), "fe", None),
        (status(serving=["r1"]), "fe", "1 of 2 replicas serving"),
        (status(serving=[]), None, None),
        (status(r1=rep(), r2=rep(health="unhealthy")), "fe", "not healthy: r2"),
        (status(r1=rep(), r2=rep(gen="g2")), None, "2 generations running"),
        (status(serving=[], r1=rep(running=False)), None, "no replica runs"),
        ("minion did not answer", None, "no status answer ('minion did not answer')"),
        ({"error": "x"}, None, "no status answer ({'error': 'x'})"),
    ],
)
def test_server_problem(st, frontend, problem):
    assert policy.server_problem(st, frontend) == problem


def got(state=STATE_OK, st=None, targets=("a", "b")):
    out = {}
    for t in targets:
        out[("state", t)] = state
        out[("status", t)] = status() if st is None else st
    return out


def test_no_op_when_every_server_is_unchanged_and_well():
    servers = policy.no_op(["a", "b"], got(), "fe", 1.5)
    assert list(servers) == ["a", "b"]
    assert servers["a"] == {
        "result": True,
        "no_op": True,
        "comment": "no change: 1 state(s) unchanged in test mode, 2 replica(s) healthy",
        "seconds": 1.5,
        "previous": "app@sha256:1",
    }


@pytest.mark.parametrize(
    "answers",
    [
        got(state=STATE_CHANGES),  # a new image or a drifted spec
        got(state=STATE_FAILED),
        got(state={}),  # an empty return: nothing to judge by
        got(state="No matching sls found"),
        got(st=status(serving=["r1"])),  # a replica out of the frontend
        got(st=status(r1=rep(), r2=rep(health="starting"))),
        {**got(), ("status", "b"): None},  # a server that did not answer
    ],
)
def test_anything_else_is_not_a_no_op(answers):
    assert policy.no_op(["a", "b"], answers, "fe", 1.0) is None


def test_no_frontend_counts_replicas_not_serving():
    servers = policy.no_op(["a"], got(st=status(serving=[]), targets=("a",)), None, 1.0)
    assert servers["a"]["comment"].endswith("2 replica(s) healthy")


@pytest.mark.parametrize(
    "failures, max_failures, stop", [(0, 0, False), (1, 0, True), (1, 1, False), (2, 1, True)]
)
def test_stop_past_max_failures(failures, max_failures, stop):
    assert policy.stop(failures, max_failures) is stop


PREVIOUS = {"a": "app:1", "b": "app:1", "c": None}


@pytest.mark.parametrize(
    "done, failed, max_failures, result, roll_back",
    [
        # every server updated
        (["a", "b", "c"], [], 0, True, []),
        # the second server failed, none tolerated: the first goes back
        (["a"], ["b"], 0, False, [("a", "app:1")]),
        # the first server failed: nothing was changed, nothing to roll back
        ([], ["a"], 0, False, []),
        # one failure tolerated and every server tried: a success that keeps the others
        (["a", "c"], ["b"], 1, True, []),
        # two failures, one tolerated: stopped; the servers changed go back, last first,
        # and one where nothing ran before is named with None
        (["a", "c"], ["b", "d"], 1, False, [("c", None), ("a", "app:1")]),
        # tolerated failures but not every server tried (stopped early): not a success
        (["a"], ["b"], 1, False, [("a", "app:1")]),
        # the canary passed on a, then a's rest failed (its state rolled that back): a still
        # runs its canary replica and goes back too, with the others changed
        (["a", "b", "c"], ["a"], 0, False, [("c", None), ("b", "app:1"), ("a", "app:1")]),
    ],
)
def test_decide(done, failed, max_failures, result, roll_back):
    targets = ["a", "b", "c"]
    assert policy.decide(targets, done, failed, max_failures, PREVIOUS) == (result, roll_back)


def test_changes_are_the_servers_updated_and_kept():
    prev = {"a": "app:1", "b": "app:1", "c": None}
    # a rollout that updated every server
    assert policy.changes("app:2", ["a", "b"], prev, {}) == {
        "a": {"old": "app:1", "new": "app:2"},
        "b": {"old": "app:1", "new": "app:2"},
    }
    # a failure whose updated server was rolled back: nothing changed
    back = {"a": {"result": True, "image": "app:1"}}
    assert policy.changes("app:2", ["a"], prev, back) == {}
    # a rollback that failed, or a server with nothing to go back to: it still runs app:2
    back = {"a": {"result": False, "image": "app:1"}, "c": {"result": False}}
    assert policy.changes("app:2", ["a", "c"], prev, back) == {
        "a": {"old": "app:1", "new": "app:2"},
        "c": {"old": None, "new": "app:2"},
    }
    # a no-op updates no server
    assert policy.changes("app:2", [], prev, {}) == {}
    # servers updated by an apply that found everything in place (the no-op check went server
    # by server because a replica was momentarily not ready): only those it changed count
    assert policy.changes("app:2", ["a", "b"], prev, {}, changed={"b"}) == {
        "b": {"old": "app:1", "new": "app:2"},
    }
    assert policy.changes("app:2", ["a", "b"], prev, {}, changed=set()) == {}


def test_sick_replicas_are_the_running_ones_not_ready():
    st = status(r1=rep(), r2=rep(health="unhealthy"), r3=rep(health="starting"), r4=rep(None))
    st["replicas"]["r5"] = rep(health="unhealthy", running=False)
    assert policy.sick_replicas(st) == ["r2", "r3"]


@pytest.mark.parametrize(
    "targets, canary, waves",
    [
        (["a", "b", "c", "d"], 1, [("canary", ["a"]), ("rest", ["a", "b", "c", "d"])]),
        (["a", "b", "c"], 2, [("canary", ["a"]), ("canary", ["b"]), ("rest", ["a", "b", "c"])]),
        (["a", "b", "c"], 0, [("serial", ["a"]), ("serial", ["b"]), ("serial", ["c"])]),
        (["a", "b"], 7, [("canary", ["a"]), ("canary", ["b"]), ("rest", ["a", "b"])]),
        (["a", "b"], 1, [("canary", ["a"]), ("rest", ["a", "b"])]),
        (["a"], 1, [("canary", ["a"]), ("rest", ["a"])]),
    ],
)
def test_waves_a_canary_replica_per_canary_server_then_the_rest_together(targets, canary, waves):
    assert policy.waves(targets, canary) == waves
    # every server ends in a whole apply (rest or serial), in order
    assert [t for kind, wave in waves if kind != "canary" for t in wave] == targets


def _run(targets, failing, max_failures):
    """The runner's loop over the applies, as it runs them (``failing``: {(target, kind)}):
    it leaves a failed server out of later applies and stops after one with too many
    failures; then :func:`decide`."""
    done, failed, tried = [], [], []
    for kind, wave in policy.waves(targets, 1):
        wave = [t for t in wave if t not in failed]
        tried.append((kind, wave))
        for target in wave:
            if (target, kind) in failing:
                failed.append(target)
            elif target not in done:
                done.append(target)
        if policy.stop(len(failed), max_failures):
            break
    previous = {t: f"old-{t}" for t in targets}
    return tried, policy.decide(targets, done, failed, max_failures, previous)


def test_a_failed_canary_stops_before_the_rest_and_rolls_nothing_else_back():
    """A failure in the canary stops before the rest; a failure in the rest rolls back the
    servers changed before, last first, the canary server too (its canary replica)."""
    targets = ["a", "b", "c", "d"]
    rest = ("rest", targets)
    tried, (result, back) = _run(targets, {("a", "canary")}, 0)
    assert tried == [("canary", ["a"])] and result is False and back == []
    tried, (result, back) = _run(targets, {("c", "rest")}, 0)
    assert tried == [("canary", ["a"]), rest] and result is False
    assert back == [("d", "old-d"), ("b", "old-b"), ("a", "old-a")]
    tried, (result, back) = _run(targets, {("a", "rest")}, 0)
    assert result is False and back == [
        ("d", "old-d"),
        ("c", "old-c"),
        ("b", "old-b"),
        ("a", "old-a"),
    ]
    tried, (result, back) = _run(targets, {("c", "rest")}, 1)
    assert tried == [("canary", ["a"]), rest] and result is True and back == []
    tried, (result, back) = _run(targets, {("a", "canary")}, 1)  # tolerated: the rest goes on
    assert tried == [("canary", ["a"]), ("rest", ["b", "c", "d"])] and result is True


def test_certain_change_only_from_a_digest_that_runs_nowhere_on_some_server():
    img = "reg/app@sha256:new"
    runs = lambda *images: status(**{f"r{i}": rep(image=im) for i, im in enumerate(images)})  # noqa: E731
    assert policy.certain_change(
        img, {"a": runs("reg/app@sha256:new"), "b": runs("reg/app@sha256:old")}
    )
    assert policy.certain_change(img, {"a": status()})  # nothing runs there
    # every server runs it (maybe drifted: the test-mode check decides), or cannot say
    assert not policy.certain_change(img, {"a": runs("reg/app@sha256:new", "reg/app@sha256:old")})
    assert not policy.certain_change(img, {"a": None, "b": {"error": "x"}})
    assert not policy.certain_change("reg/app:3", {"a": runs("reg/app@sha256:old")})  # a tag
    stopped = status(r1=rep(image="reg/app@sha256:new", running=False))
    assert policy.certain_change(img, {"a": stopped})


def test_wave_problem_after_a_canary_judges_the_new_generation():
    new, old = rep(gen="g2"), rep(gen="g1")
    before = status(serving=["o1", "o2"], o1=old, o2=old)
    two = status(serving=["n1", "o2"], n1=new, o2=old)
    assert policy.wave_problem(two, "fe", "canary", before) is None
    assert policy.wave_problem(two, "fe", "rest", before) == "2 generations running"
    sick = status(serving=["n1", "o2"], n1=rep(gen="g2", health="unhealthy"), o2=old)
    assert policy.wave_problem(sick, "fe", "canary", before) == "not healthy: n1"
    assert policy.wave_problem(dict(two, serving=["o2"]), "fe", "canary", before) == (
        "0 of 1 replicas serving"
    )
    assert policy.wave_problem(dict(two, serving=["o2"]), None, "canary", before) is None
    # a previous replica's blip (it ran before; the rest replaces it) is not the new image's
    blip = status(serving=["n1"], n1=new, o2=rep(gen="g1", health="unhealthy"))
    assert policy.wave_problem(blip, "fe", "canary", before) is None
    assert policy.wave_problem(blip, "fe", "rest", before) == "not healthy: o2"
    # nothing ran before: every replica is new and judged
    assert policy.wave_problem(blip, "fe", "canary", None) == "not healthy: o2"
    three = status(serving=["n1", "o2", "x3"], n1=new, o2=old, x3=rep(gen="g0"))
    assert policy.wave_problem(three, "fe", "canary", before) == "3 generations running"
    # it ran this already (the canary apply changed nothing): the whole server is judged
    assert policy.wave_problem(status(serving=["o2"], o2=old), "fe", "canary", before) is None
    gone = status(serving=[], o2=rep(gen="g1", health="unhealthy"))
    assert policy.wave_problem(gone, "fe", "canary", before) == "not healthy: o2"
    assert policy.wave_problem(None, "fe", "canary", before).startswith("no status answer")


def test_server_entry_adds_the_seconds_and_the_last_apply_decides():
    first = policy.server_entry(None, True, "2 state(s) succeeded", None, 7.5, "app:1")
    assert first == {
        "result": True,
        "comment": "2 state(s) succeeded",
        "seconds": 7.5,
        "previous": "app:1",
    }
    then = policy.server_entry(
        first, True, "2 state(s) succeeded", "not healthy: r1", 6.25, "app:1"
    )
    assert then == {
        "result": False,
        "comment": "not healthy: r1",
        "seconds": 13.75,
        "previous": "app:1",
    }
    assert policy.server_entry(None, False, "failed", None, 1, None)["result"] is False


@pytest.mark.parametrize(
    "image, pull",
    [
        ("127.0.0.1:5050/chain/app@sha256:abc", True),
        ("registry.example.com/app@sha256:abc", True),
        ("localhost/app@sha256:abc", True),
        ("127.0.0.1:5050/chain/app:3", False),  # a tag: the runner pins it first
        ("saltext-chain/app:1", False),  # a local build
        ("library/app@sha256:abc", False),  # Docker Hub
        ("app@sha256:abc", False),
        ("sha256:abc", False),  # an image id (chain.rollback of a never pushed build)
        (None, False),
    ],
)
def test_pre_pull_only_a_digest_of_a_registry_of_its_own(image, pull):
    assert policy.pre_pull(image) is pull
