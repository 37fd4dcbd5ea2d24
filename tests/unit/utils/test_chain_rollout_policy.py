"""The rollout's decisions without I/O: the no-op check, when to stop, the outcome and what
is rolled back, and what the rollout changed."""

import pytest
from saltext.chain.utils import chain_rollout_policy as policy


def rep(health="healthy", gen="g1", running=True):
    return {"running": running, "health": health, "generation": gen, "status": "running"}


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
    "done, failures, max_failures, result, roll_back",
    [
        # every server updated
        (["a", "b", "c"], 0, 0, True, []),
        # the second server failed, none tolerated: the first goes back
        (["a"], 1, 0, False, [("a", "app:1")]),
        # the first server failed: nothing was updated, nothing to roll back
        ([], 1, 0, False, []),
        # one failure tolerated and every server tried: a success that keeps the others
        (["a", "c"], 1, 1, True, []),
        # two failures, one tolerated: stopped; the servers updated go back, last first,
        # and one where nothing ran before is named with None
        (["a", "c"], 2, 1, False, [("c", None), ("a", "app:1")]),
        # tolerated failures but not every server tried (stopped early): not a success
        (["a"], 1, 1, False, [("a", "app:1")]),
    ],
)
def test_decide(done, failures, max_failures, result, roll_back):
    targets = ["a", "b", "c"]
    assert policy.decide(targets, done, failures, max_failures, PREVIOUS) == (result, roll_back)


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


def test_sick_replicas_are_the_running_ones_not_ready():
    st = status(r1=rep(), r2=rep(health="unhealthy"), r3=rep(health="starting"), r4=rep(None))
    st["replicas"]["r5"] = rep(health="unhealthy", running=False)
    assert policy.sick_replicas(st) == ["r2", "r3"]


@pytest.mark.parametrize(
    "targets, canary, waves",
    [
        (["a", "b", "c", "d"], 1, [["a"], ["b", "c", "d"]]),
        (["a", "b", "c", "d"], 2, [["a"], ["b"], ["c", "d"]]),
        (["a", "b", "c", "d"], 0, [["a"], ["b"], ["c"], ["d"]]),
        (["a", "b", "c", "d"], 3, [["a"], ["b"], ["c"], ["d"]]),
        (["a", "b", "c", "d"], 7, [["a"], ["b"], ["c"], ["d"]]),
        (["a", "b"], 1, [["a"], ["b"]]),
        (["a"], 1, [["a"]]),
    ],
)
def test_waves_canaries_one_at_a_time_then_the_rest_together(targets, canary, waves):
    assert policy.waves(targets, canary) == waves
    assert [t for wave in waves for t in wave] == targets  # every server once, in order


def test_a_failed_canary_stops_before_the_rest_and_rolls_nothing_else_back():
    """The runner's loop over the waves, as it runs them: it stops after a wave with too many
    failures; a failure in the last wave rolls back the servers done before, last first."""
    targets = ["a", "b", "c", "d"]

    def run(failing, max_failures):
        done, failures, tried = [], 0, []
        for wave in policy.waves(targets, 1):
            tried.append(wave)
            for target in wave:
                if target in failing:
                    failures += 1
                else:
                    done.append(target)
            if policy.stop(failures, max_failures):
                break
        previous = {t: f"old-{t}" for t in targets}
        return tried, policy.decide(targets, done, failures, max_failures, previous)

    tried, (result, back) = run({"a"}, 0)
    assert tried == [["a"]] and result is False and back == []
    tried, (result, back) = run({"c"}, 0)
    assert tried == [["a"], ["b", "c", "d"]] and result is False
    assert back == [("d", "old-d"), ("b", "old-b"), ("a", "old-a")]
    tried, (result, back) = run({"c"}, 1)
    assert tried == [["a"], ["b", "c", "d"]] and result is True and back == []
    tried, (result, back) = run({"a"}, 1)  # tolerated: the rest goes on
    assert tried == [["a"], ["b", "c", "d"]] and result is True and back == []


def test_wave_kinds():
    assert [policy.wave_kind(i, 1) for i in range(3)] == ["canary", "rest", "rest"]
    assert [policy.wave_kind(i, 2) for i in range(3)] == ["canary", "canary", "rest"]
    assert [policy.wave_kind(i, 0) for i in range(3)] == ["serial"] * 3
