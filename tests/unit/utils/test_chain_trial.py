"""The image stage's trial, apart from its I/O: options, published port, verdicts."""

import json

import pytest
from saltext.chain.utils import chain_errors, chain_health, chain_trial

COMMIT = "3f2a1c9" + "0" * 33
TRACEBACK = (
    'Traceback (most recent call last):\n  File "<string>", line 1, in <module>\n'
    "urllib.error.HTTPError: HTTP Error 503: Service Unavailable\n"
)


def inspect(running=True, health="healthy", status="running", output=None, code=0, ports=None):
    state = {"Running": running, "Status": status, "ExitCode": code}
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": output}] if output else []}
    return {"State": state, "NetworkSettings": {"Ports": ports or {}}}


def test_options_carry_the_production_environment_on_loopback_only():
    opts = chain_trial.options(
        {"APP_ENV": "production"}, {"test": "true"}, "8000", {"team": "a"}, COMMIT
    )
    assert opts == {
        "environment": {"APP_ENV": "production"},
        "healthcheck": {"test": "true"},
        "labels": {"team": "a", chain_trial.LABEL: COMMIT},
        "ports": ["127.0.0.1::8000"],
    }
    # no health check declared: the image's own (none is passed)
    assert "healthcheck" not in chain_trial.options(None, {}, 8000, None, COMMIT)


@pytest.mark.parametrize(
    "args, field",
    [
        (([], None, 8000, None), "environment"),
        ((None, "true", 8000, None), "healthcheck"),
        ((None, None, 0, None), "port"),
        ((None, None, "x", None), "port"),
        ((None, None, 8000, ["a"]), "labels"),
    ],
)
def test_bad_options_are_named(args, field):
    with pytest.raises(chain_errors.BadInput, match=field):
        chain_trial.options(*args, COMMIT)


def test_container_name_is_unique_per_run_and_valid():
    assert chain_trial.container_name("app", COMMIT, "a1b2c3") == "app-trial-3f2a1c900000-a1b2c3"
    assert chain_trial.container_name("my app/x", COMMIT, "ff") == "my-app-x-trial-3f2a1c900000-ff"
    assert chain_trial.container_name("", COMMIT, "ff").startswith("app-trial-")


def test_published_port_on_loopback():
    data = inspect(ports={"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]})
    assert chain_trial.published_port(data, "8000") == 49153
    assert chain_trial.published_port(inspect(), 8000) is None
    assert chain_trial.published_port(None, 8000) is None


def test_state_and_why_not_ready():
    assert chain_trial.state_of(inspect())[1] == "ready"
    assert chain_trial.state_of(inspect(health="starting"))[1] == "waiting"
    assert chain_trial.state_of(None)[1] == "failed"
    sick = inspect(health="unhealthy", output=TRACEBACK)
    assert chain_trial.why_not_ready(sick) == (
        "unhealthy; health check: urllib.error.HTTPError: HTTP Error 503: Service Unavailable"
    )
    gone = inspect(running=False, status="exited", code=3, health=None)
    assert chain_trial.why_not_ready(gone) == "it exited (code 3)"
    slow = inspect(health="starting")
    assert chain_trial.why_not_ready(slow, 60) == "not healthy within 60s (starting)"
    assert chain_trial.why_not_ready(None) == "the container disappeared"


def test_health_output_says_what_the_app_answered_not_that_a_later_probe_timed_out():
    """ci41: the bad commit's trial answered 503s, then a probe timed out under load; the
    verdict named the timeout. The answer is what tells why."""
    data = inspect(health="unhealthy")
    data["State"]["Health"]["Log"] = [
        {"ExitCode": 1, "Output": TRACEBACK},
        {"ExitCode": -1, "Output": "Health check exceeded timeout (1s)"},
    ]
    assert chain_trial.health_output(data).startswith("urllib.error")
    data["State"]["Health"]["Log"] = data["State"]["Health"]["Log"][1:]
    assert chain_trial.health_output(data) == "Health check exceeded timeout (1s)"


def _probed(log, streak, health="unhealthy"):
    data = inspect(health=health)
    data["State"]["Health"].update(Log=log, FailingStreak=streak)
    data["Config"] = {
        "Healthcheck": {"Test": ["CMD-SHELL", "x"], "Interval": 1e9, "Timeout": 1e9, "Retries": 2}
    }
    return data


def test_the_trial_is_judged_over_time_like_a_replica():
    """Docker's "unhealthy" after two probes that timed out (a loaded machine) is waited for;
    two that answered no are judged within the check's window; a container gone at once."""
    timeout = {"ExitCode": -1, "Output": "Health check exceeded timeout (1s)"}
    no = {"ExitCode": 1, "Output": TRACEBACK}
    watch = chain_health.Watch()
    slow = _probed([timeout, timeout], 2)
    assert chain_trial.judged(watch, "t", slow, 0.0) == "waiting"
    assert chain_trial.judged(watch, "t", slow, 10.0) == "waiting"  # within the patience
    assert (
        chain_trial.judged(watch, "t", _probed([timeout, {"ExitCode": 0}], 0, "healthy"), 11.0)
        == "ready"
    )
    watch = chain_health.Watch()
    assert chain_trial.judged(watch, "t", _probed([no, no], 2), 0.0) == "waiting"
    assert chain_trial.judged(watch, "t", _probed([no, no, no], 3), 4.0) == "failed"
    assert chain_trial.judged(chain_health.Watch(), "t", None, 0.0) == "failed"


def test_health_output_is_the_last_line():
    assert chain_trial.health_output(inspect(output=TRACEBACK)).startswith("urllib.error")
    assert chain_trial.health_output(inspect(output="\n\n")) is None
    assert chain_trial.health_output(inspect(output="x" * 500)) == "x" * chain_trial.MAX_DETAIL
    assert chain_trial.health_output({}) is None


def test_health_and_version_answers():
    assert chain_trial.health_problem(200, b"ok\n") is None
    assert chain_trial.health_problem(503, b"unhealthy\n") == "GET /health answered 503: unhealthy"
    assert chain_trial.health_problem(None, b"") == "GET /health answered None: (empty)"
    good = json.dumps({"version": "main", "commit": COMMIT}).encode()
    assert chain_trial.version_problem(200, good, COMMIT) is None
    other = json.dumps({"commit": "unknown"}).encode()
    assert chain_trial.version_problem(200, other, COMMIT) == (
        f"GET /version names commit unknown, not {COMMIT}"
    )
    assert "not JSON" in chain_trial.version_problem(200, b"<html>", COMMIT)
    assert "not JSON" in chain_trial.version_problem(200, b"[1]", COMMIT)
    assert chain_trial.version_problem(404, b"no", COMMIT) == "GET /version answered 404: no"


def test_verdict_is_one_line_naming_the_commit():
    ok = chain_trial.verdict(COMMIT, None)
    bad = chain_trial.verdict(COMMIT, "unhealthy; health check: boom")
    assert COMMIT in ok and "passed" in ok and "\n" not in ok
    assert bad == (
        f"commit {COMMIT} failed its trial with the production environment: "
        "unhealthy; health check: boom"
    )
