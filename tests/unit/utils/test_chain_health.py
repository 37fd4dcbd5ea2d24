"""The one definition of a ready replica, a server's problem and convergence."""

import pytest
from saltext.chain.utils import chain_health


def rep(running=True, health="healthy", gen="g1", status=None):
    return {
        "running": running,
        "health": health,
        "generation": gen,
        "status": status or ("running" if running else "exited"),
    }


@pytest.mark.parametrize(
    "replica, ready, verdict",
    [
        (rep(), True, "ready"),
        (rep(health=None), True, "ready"),
        (rep(health="starting"), False, "waiting"),
        (rep(health="unhealthy"), False, "failed"),
        (rep(running=False, health=None), False, "failed"),
        (rep(running=False, health=None, status="created"), False, "waiting"),
        (rep(running=False, health=None, status="restarting"), False, "waiting"),
        (None, False, "failed"),
    ],
)
def test_ready_and_verdict(replica, ready, verdict):
    assert chain_health.is_ready(replica) is ready
    assert chain_health.verdict(replica) == verdict


def test_converged_counts_only_the_generation_and_refuses_others_running():
    reps = {"a": rep(), "b": rep()}
    assert chain_health.converged(reps, "g1", 2)
    assert not chain_health.converged(reps, "g1", 3)
    assert not chain_health.converged(dict(reps, c=rep(gen="g0")), "g1", 2)
    assert chain_health.converged(dict(reps, c=rep(gen="g0", running=False)), "g1", 2)
    assert not chain_health.converged({"a": rep(), "b": rep(health="starting")}, "g1", 2)


@pytest.mark.parametrize(
    "replicas, serving, expected",
    [
        ({}, None, "no replica runs"),
        ({"a": rep(running=False)}, None, "no replica runs"),
        ({"a": rep(), "b": rep(health="unhealthy")}, None, "not healthy: b"),
        ({"b": rep(health="starting"), "a": rep(health="unhealthy")}, None, "not healthy: a, b"),
        ({"a": rep(), "b": rep(gen="g2")}, None, "2 generations running"),
        ({"a": rep(), "b": rep()}, ["a"], "1 of 2 replicas serving"),
        ({"a": rep(), "b": rep()}, ["a", "b"], None),
        ({"a": rep(), "b": rep(running=False)}, ["a"], None),
        ({"a": rep(), "b": rep()}, None, None),
    ],
)
def test_problem(replicas, serving, expected):
    assert chain_health.problem(replicas, serving) == expected
