"""The stage markers' pure part: argument checks, the tag, which states a marker follows, and
a stage's outcome in one line from the orchestrate's running results."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_stage


def key(sid, mod="salt", fun="state"):
    return f"{mod}_|-{sid}_|-{sid}_|-{fun}"


@pytest.mark.parametrize(
    "stage, event, run_id, details, field",
    [
        ("Pipeline", "start", "r1", None, "name"),
        ("a/b", "start", "r1", None, "name"),
        (None, "start", "r1", None, "name"),
        ("pipeline", "begin", "r1", None, "event"),
        ("pipeline", "start", "", None, "run_id"),
        ("pipeline", "start", "a/b", None, "run_id"),
        ("pipeline", "start", None, None, "run_id"),
        ("pipeline", "start", "r1", {"x": [1]}, "details"),
        ("pipeline", "start", "r1", "x=1", "details"),
    ],
)
def test_bad_arguments_name_the_argument(stage, event, run_id, details, field):
    with pytest.raises(SaltInvocationError, match=f"^{field}: "):
        chain_stage.check(stage, event, run_id, details)


def test_good_arguments_and_the_tag():
    chain_stage.check("pipeline", "done", "20261206T120000-3f2a1c", {"app": "a", "n": None})
    assert chain_stage.tag("20261206T120000-3f2a1c", "image", "start") == (
        "chain/run/20261206T120000-3f2a1c/stage/image/start"
    )


def test_followed_reads_require_and_onfail_once_each_in_order():
    low = {
        "require": [{"salt": "chain-infrastructure"}, {"salt": "chain-build-infrastructure"}],
        "onfail": [{"salt": "chain-infrastructure"}, "bare-id"],
    }
    assert chain_stage.followed(low) == [
        "chain-infrastructure",
        "chain-build-infrastructure",
        "bare-id",
    ]
    assert chain_stage.followed({}) == []


def test_one_line():
    assert chain_stage.one_line("\n  first  \nsecond") == "first"
    assert chain_stage.one_line(None) == ""
    assert chain_stage.one_line("x" * 400, 10) == "x" * 9 + "…"


def test_outcome_of_succeeded_states_joins_their_comments():
    running = {
        key("chain-rollout", "chain", "rolled_out"): {
            "result": True,
            "changes": {"web1": {"old": "a", "new": "b"}},
            "comment": "rollout of app to app:3: 2 server(s) updated",
        },
        key("other"): {"result": False, "changes": {}, "comment": "not followed"},
    }
    assert chain_stage.outcome(["chain-rollout"], running) == (
        True,
        "1 state(s) succeeded, 1 with changes: rollout of app to app:3: 2 server(s) updated",
    )
    assert chain_stage.outcome(["absent"], running) == (True, "done")
    running[key("chain-smoke-web1")] = {
        "result": True,
        "changes": {},
        "comment": "States ran successfully. No changes made to web1.",
    }
    assert chain_stage.outcome(["chain-smoke-web1"], running) == (
        True,
        "1 state(s) succeeded, 0 with changes: No changes made to web1.",
    )


def test_outcome_of_a_failed_salt_state_names_the_minions_failing_state():
    minion = {
        "test_|-commit_|-x_|-configurable_test_state": {
            "__id__": "commit",
            "result": True,
            "__run_num__": 0,
        },
        "jenkins_build_|-build_|-app-pipeline_|-succeeded": {
            "__id__": "build",
            "result": False,
            "__run_num__": 1,
            "comment": "Build #7 of app-pipeline finished FAILURE; console tail:\nboom",
        },
        "test_|-later_|-later_|-nop": {
            "__id__": "later",
            "result": False,
            "__run_num__": 2,
            "comment": "One or more requisite failed: build",
        },
    }
    running = {
        key("chain-pipeline"): {
            "result": False,
            "changes": {"out": "highstate", "ret": {"build1": minion}},
            "comment": "Run failed on minions: build1",
        },
    }
    assert chain_stage.outcome(["chain-pipeline"], running) == (
        False,
        "chain-pipeline: build1: build: Build #7 of app-pipeline finished FAILURE; console tail:",
    )


def test_outcome_of_a_failed_state_without_minion_detail_and_the_first_failure_wins():
    running = {
        key("chain-smoke-web1"): {"result": True, "changes": {}, "comment": "ok"},
        key("chain-smoke-web2"): {
            "result": False,
            "changes": {"ret": {"web2": "Minion did not return. [No response]"}},
            "comment": "Run failed on minions: web2",
        },
        key("chain-rollout", "chain", "rolled_out"): {
            "result": False,
            "changes": {},
            "comment": "rollout of app to app:3 failed on web2\n  web2: unhealthy",
        },
    }
    ids = ["chain-smoke-web1", "chain-smoke-web2"]
    assert chain_stage.outcome(ids, running) == (
        False,
        "chain-smoke-web2: web2: Minion did not return. [No response]",
    )
    assert chain_stage.outcome(["chain-rollout"], running) == (
        False,
        "chain-rollout: rollout of app to app:3 failed on web2",
    )


def test_frozen_low_and_running_as_salt_hands_them_to_a_state():
    """Salt passes ``__low__`` and ``__running__`` frozen (``immutabletypes.freeze``:
    ImmutableDict and ImmutableList, not dict and list)."""
    from salt.utils import immutabletypes  # pylint: disable=import-outside-toplevel

    low = immutabletypes.freeze({"onfail": [{"salt": "chain-pipeline"}]})
    minion = {"s": {"__id__": "build", "result": False, "comment": "Build #2 FAILURE"}}
    running = immutabletypes.freeze(
        {
            key("chain-pipeline"): {
                "result": False,
                "changes": {"ret": {"build1": minion}},
                "comment": "Run failed on minions: build1",
            }
        }
    )
    ids = chain_stage.followed(low)
    assert ids == ["chain-pipeline"]
    assert chain_stage.outcome(ids, running) == (
        False,
        "chain-pipeline: build1: build: Build #2 FAILURE",
    )
    chain_stage.check("pipeline", "start", "r1", immutabletypes.freeze({"app": "a"}))
