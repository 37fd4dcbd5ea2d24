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


# --- judged over time (Watch): a blip is not a failure ---------------------------------------

HC = {"Test": ["CMD-SHELL", "true"], "Interval": 1e9, "Timeout": 1e9, "Retries": 2}


def look(health="healthy", streak=0, running=True, status="running", check=HC):
    data = {
        "State": {
            "Running": running,
            "Status": status,
            **({"Health": {"Status": health, "FailingStreak": streak}} if health else {}),
        },
        "Config": {"Healthcheck": check} if check else {},
    }
    return chain_health.facts(data)


def test_facts_read_the_health_check_and_its_window():
    assert look(health="unhealthy", streak=2) == {
        "running": True,
        "status": "running",
        "health": "unhealthy",
        "streak": 2,
        "timed_out": False,
        "retries": 2,
        "window": 4.0,  # retries x (interval + timeout)
        "start_period": 0.0,
    }
    bare = look(health=None, check=None)
    assert bare["window"] is None and bare["retries"] is None and bare["health"] is None
    defaults = chain_health.facts({"Config": {"Healthcheck": {"Test": ["CMD", "x"]}}})
    assert defaults["window"] == 3 * (30 + 30) and defaults["retries"] == 3  # Docker's defaults
    assert chain_health.window({"Test": ["NONE"]}) is None
    started = dict(HC, StartPeriod=5e9)
    assert chain_health.facts({"Config": {"Healthcheck": started}})["start_period"] == 5.0


def test_a_blip_is_waited_for_and_ends_the_stretch():
    watch = chain_health.Watch()
    assert watch.judge("a", look(), 0.0) == "ready" and not watch.waiting("a")
    # Docker calls it unhealthy (2 failed probes in a row): one look is not a judgement
    assert watch.judge("a", look("unhealthy", 2), 10.0) == "waiting"
    assert watch.waiting("a") and watch.stretch("a", 13.0) == 3.0
    assert watch.judge("a", look("unhealthy", 3), 13.9) == "waiting"  # window: 4 s
    assert watch.judge("a", look(), 14.0) == "ready" and not watch.waiting("a")
    # a new stretch starts from zero
    assert watch.judge("a", look("unhealthy", 2), 20.0) == "waiting"
    assert watch.judge("a", look("unhealthy", 2), 23.9) == "waiting"


def test_unhealthy_for_its_whole_window_is_failed():
    watch = chain_health.Watch()
    assert watch.judge("a", look("unhealthy", 2), 0.0) == "waiting"
    assert watch.judge("a", look("unhealthy", 3), 4.0) == "failed"  # the whole window


def test_twice_the_retries_in_a_row_is_failed_at_once():
    """A replica found failing for long already (Docker's streak) costs no window."""
    watch = chain_health.Watch()
    assert watch.judge("a", look("unhealthy", 3), 0.0) == "waiting"
    assert chain_health.Watch().judge("a", look("unhealthy", 4), 0.0) == "failed"


# Docker's record of probes (State.Health.Log, oldest first): a probe that ran out of its
# timeout, one that answered no, one that passed.
TIMEOUT = {"ExitCode": -1, "Output": "Health check exceeded timeout (1s)"}
NO = {"ExitCode": 1, "Output": "urllib.error.HTTPError: HTTP Error 503"}
OK = {"ExitCode": 0, "Output": ""}


def probed(log, streak, health="unhealthy"):
    data = {
        "State": {
            "Running": True,
            "Status": "running",
            "Health": {"Status": health, "FailingStreak": streak, "Log": log},
        },
        "Config": {"Healthcheck": HC},
    }
    return chain_health.facts(data)


@pytest.mark.parametrize(
    "log, streak, expected",
    [
        ([OK, TIMEOUT, TIMEOUT], 2, True),
        ([NO, TIMEOUT, TIMEOUT, TIMEOUT, TIMEOUT], 4, True),
        ([TIMEOUT] * 5, 9, True),  # the log keeps the last 5 probes; the streak is longer
        ([OK, NO, TIMEOUT], 2, False),  # one of them answered no
        ([OK, TIMEOUT, NO], 2, False),
        ([TIMEOUT, OK], 0, False),  # no failing streak
        ([], 2, False),  # nothing recorded
        ([OK, {"ExitCode": -1, "Output": "OCI runtime exec failed"}], 1, False),
    ],
)
def test_timed_out_means_every_failed_probe_of_the_streak_ran_out_of_time(log, streak, expected):
    assert probed(log, streak)["timed_out"] is expected


def test_probes_that_time_out_are_given_the_slow_probe_patience_and_answers_are_not():
    """The engine slow, the app serving: its exec probes ran out of their 1 s four times in a
    row (what CI saw under load). No answer is not a bad answer: it is waited for up to
    SLOW_PROBE_PATIENCE, not failed at twice the retries nor at the end of the 4 s window. The
    same streak answered (503s) fails as before: the control."""
    patience = chain_health.SLOW_PROBE_PATIENCE
    slow = probed([OK, TIMEOUT, TIMEOUT, TIMEOUT, TIMEOUT], 4)
    watch = chain_health.Watch()
    assert watch.judge("a", slow, 0.0) == "waiting"
    assert watch.judge("a", slow, patience - 0.1) == "waiting"
    assert watch.judge("a", slow, patience) == "failed"  # a hung app is still caught
    assert watch.judge("a", probed([TIMEOUT, OK], 0, health="healthy"), patience + 1) == "ready"
    answered = probed([OK, NO, NO, NO, NO], 4)
    assert chain_health.Watch().judge("a", answered, 0.0) == "failed"  # twice the retries
    watch = chain_health.Watch()
    assert watch.judge("a", probed([OK, OK, OK, NO, NO], 2), 0.0) == "waiting"
    assert watch.judge("a", probed([OK, OK, NO, NO, NO], 3), 4.0) == "failed"  # its window
    # timed out, then answered no: the window counts from the first bad look, not the patience
    watch = chain_health.Watch()
    assert watch.judge("a", probed([OK, OK, OK, TIMEOUT, TIMEOUT], 2), 0.0) == "waiting"
    assert watch.judge("a", probed([OK, OK, TIMEOUT, TIMEOUT, NO], 3), 4.0) == "failed"


def test_starting_gets_the_start_period_and_unhealthy_counts_from_docker_s_verdict():
    watch = chain_health.Watch()
    slow = dict(HC, StartPeriod=10e9)
    starting = chain_health.facts(
        {
            "State": {"Running": True, "Status": "running", "Health": {"Status": "starting"}},
            "Config": {"Healthcheck": slow},
        }
    )
    assert watch.judge("a", starting, 0.0) == "waiting"
    assert watch.judge("a", starting, 13.9) == "waiting"  # window 4 + start period 10
    assert watch.judge("a", starting, 14.0) == "failed"
    watch = chain_health.Watch()
    assert watch.judge("a", starting, 0.0) == "waiting"
    # Docker said unhealthy after 12 s: the patience counts from then, not from the start
    assert watch.judge("a", dict(starting, health="unhealthy", streak=2), 12.0) == "waiting"
    assert watch.judge("a", dict(starting, health="unhealthy", streak=3), 15.9) == "waiting"
    assert watch.judge("a", dict(starting, health="unhealthy", streak=3), 16.0) == "failed"


def test_gone_or_exited_is_failed_at_once_and_created_is_waited_for():
    watch = chain_health.Watch()
    assert watch.judge("a", None, 0.0) == "failed"
    assert watch.judge("a", look(None, running=False, status="exited"), 0.0) == "failed"
    created = look(None, running=False, status="created", check=None)
    assert watch.judge("b", created, 0.0) == "waiting"
    assert watch.judge("b", created, chain_health.DEFAULT_WINDOW) == "failed"


def test_out_of_the_frontend_is_a_stretch_too():
    watch = chain_health.Watch()
    assert watch.judge("a", look(), 0.0, serving=False) == "waiting"
    assert watch.judge("a", look(), 3.9, serving=False) == "waiting"
    assert watch.judge("a", look(), 4.0, serving=False) == "failed"
    assert watch.judge("a", look(), 4.1, serving=True) == "ready"


def test_convergence_waits_for_a_blip_and_not_for_a_real_difference():
    ok, blip = look(), look("unhealthy", 2)
    gen = {"generation": "g1"}
    reps = {"a": dict(ok, **gen), "b": dict(blip, **gen)}
    watch = chain_health.Watch()
    assert chain_health.convergence(watch, reps, "g1", 2, 0.0) == "waiting"
    reps["b"] = dict(ok, **gen)
    assert chain_health.convergence(watch, reps, "g1", 2, 1.0) == "converged"
    # a count or a generation that differs is not waited for
    assert chain_health.convergence(watch, reps, "g1", 3, 1.0) == "diverged"
    assert chain_health.convergence(watch, reps, "g2", 2, 1.0) == "diverged"
    # the blip that does not end is a difference
    reps["b"] = dict(blip, **gen)
    assert chain_health.convergence(watch, reps, "g1", 2, 2.0) == "waiting"
    assert chain_health.convergence(watch, reps, "g1", 2, 6.0) == "diverged"


def test_pending_lists_the_replicas_to_look_at_again():
    watch = chain_health.Watch()
    reps = {
        "a": dict(look(), slot=1, serving=True),
        "b": dict(look("unhealthy", 2), slot=2, serving=False),
        "c": dict(look(), slot=3, serving=False),  # healthy, HAProxy did not let it in yet
        "d": dict(look(None, running=False, status="exited"), slot=None, serving=False),
    }
    assert chain_health.pending(watch, reps, 0.0, frontend=True) == ["b", "c"]
    assert chain_health.pending(chain_health.Watch(), reps, 0.0) == ["b"]
    assert chain_health.pending(watch, reps, 4.0, frontend=True) == []  # judged: failed


def test_one_look_still_says_what_docker_says():
    """Control: without a Watch, one unhealthy look is a failure (what the callers used to do,
    and why a blip turned a no-op into a rollout)."""
    assert chain_health.verdict(look("unhealthy", 2)) == "failed"
    assert not chain_health.converged({"a": dict(look("unhealthy", 2), generation="g")}, "g", 1)
