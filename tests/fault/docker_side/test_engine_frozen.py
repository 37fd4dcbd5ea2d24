"""Fault 2: the engine frozen (SIGSTOP of the private dockerd). Every call ends within the
profile's timeout with a clear error naming the engine and the profile; nothing hangs."""

import time

import pytest
from salt.exceptions import CommandExecutionError

from tests.fault.docker_side.conftest import PROFILE, TIMEOUT
from tests.fault.docker_side.helpers import Background, one_clear_line
from tests.support import engines

pytestmark = pytest.mark.fault

# A loaded 2-core machine adds scheduling delay on top of the socket timeout.
SLACK = 4


def _timed(func, *args, **kwargs):
    started = time.monotonic()
    try:
        value = func(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - returned for the checks
        value = err
    return time.monotonic() - started, value


def test_every_call_on_a_frozen_engine_ends_within_the_timeout(
    private_engine, modules, states, clean
):
    name = engines.name("frozen")
    ok = states.container.running(
        name,
        image=engines.BUSYBOX,
        command=engines.stoppable("sleep 600"),
        labels=dict(engines.LABELS),
        stop_timeout=1,
    )
    assert ok.result is True, ok.comment
    assert modules.container.ping() is True  # the cached client is the one that meets the freeze
    calls = {
        "container.inspect": lambda: modules.container.inspect(name),
        "container.ps": lambda: modules.container.ps(all=True),
        "container.image_inspect": lambda: modules.container.image_inspect(engines.BUSYBOX),
        "container.logs": lambda: modules.container.logs(name, tail=5),
        "container.exec": lambda: modules.container.exec(name, ["true"]),
        "state container.running": lambda: states.container.running(
            name, image=engines.BUSYBOX, command=engines.stoppable("sleep 601"), stop_timeout=1
        ),
        "state container.absent": lambda: states.container.absent(name),
        "state container_service.running": lambda: states.container_service.running(
            engines.name("frozen-svc"),
            image=engines.BUSYBOX,
            command=engines.stoppable("sleep 600"),
            replicas=1,
            labels=dict(engines.LABELS),
            healthcheck={"test": "true", "interval": "1s", "timeout": "1s", "retries": 1},
            update={"monitor": 2},
        ),
    }
    private_engine.freeze()
    try:
        # every call from a thread of its own: a hang is seen as one, not as a stuck test
        runs = {what: Background(_timed, call) for what, call in calls.items()}
        took = {what: run.result(timeout=TIMEOUT * 3 + SLACK) for what, run in runs.items()}
    finally:
        private_engine.thaw()
    slowest = max(took, key=lambda w: took[w][0])
    print(
        f"\nfrozen engine, profile timeout {TIMEOUT}s: slowest call {slowest} "
        f"{took[slowest][0]:.2f}s; "
        + ", ".join(f"{w} {t:.2f}s" for w, (t, _) in sorted(took.items()))
    )
    for what, (seconds, value) in took.items():
        assert seconds <= TIMEOUT + SLACK, f"{what} took {seconds:.1f}s (timeout {TIMEOUT}s)"
        if what.startswith("state "):
            assert value.result is False, (what, value.comment)
            first = one_clear_line(value.comment, private_engine)
            assert "no answer within the timeout" in first, (what, first)
        else:
            assert isinstance(value, Exception), (what, value)
            text = str(value)
            assert isinstance(value, CommandExecutionError), (what, type(value), text)
            assert "no answer within the timeout" in one_clear_line(text, private_engine), what
    # thawed, the same loader's client answers again
    assert modules.container.inspect(name)["State"]["Running"] is True


@pytest.mark.parametrize("call", ["ping"])
def test_a_frozen_engine_met_by_a_new_client_ends_within_the_timeout(private_engine, modules, call):
    """A client made while the engine is frozen (its API version negotiation) ends too."""
    private_engine.freeze()
    try:
        seconds, value = _timed(modules.container.ping)
    finally:
        private_engine.thaw()
    assert seconds <= TIMEOUT + SLACK, seconds
    assert isinstance(value, CommandExecutionError), value
    first = one_clear_line(str(value), private_engine)
    assert PROFILE in first
