"""What the fault tests check on every failure a user sees, and how they wait for a moment."""

import threading
import time

from tests.fault.docker_side.conftest import PROFILE


def one_clear_line(comment, engine):
    """A state's failure comment: one line (the first; later lines list steps already done)
    that names the engine's profile and its socket, and no traceback."""
    assert "Traceback" not in comment, comment
    first = comment.splitlines()[0]
    assert f"profile '{PROFILE}'" in first, comment
    assert engine.url in first, comment
    return first


def state_results(ret):
    """``{state id: result dict}`` of a ``state.sls`` return (saltfactories wraps it)."""
    raw = getattr(ret, "raw", ret)
    assert isinstance(raw, dict), raw
    return {v.get("__id__", k): v for k, v in raw.items()}


def wait_for(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Background:
    """Run ``func`` in a thread; ``result()`` joins it and returns its value (or raises)."""

    def __init__(self, func, *args, **kwargs):
        self._value, self._error = None, None

        def run():
            try:
                self._value = func(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - handed to result()
                self._error = err

        self.started = time.monotonic()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def done(self):
        return not self._thread.is_alive()

    def result(self, timeout):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"still running after {timeout}s"
        if self._error is not None:
            raise self._error
        return self._value
