"""The rollout lock as the runner and the tests rely on it (chain_run_store.Lock on main): the
lock file names its holder (JSON with the PID) exactly while it is held, which is what
test_chain_rollout waits for before it starts the second rollout; a refusal is immediate
(non-blocking), also while the holder is frozen; file and directory are private."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from salt.exceptions import CommandExecutionError
from saltext.chain.utils import chain_run_store as store


def test_the_lock_file_names_the_holder_exactly_while_it_is_held(tmp_path):
    lock = tmp_path / "locks" / "app.lock"
    with store.Lock(str(tmp_path), "app", {"image": "app:1", "started": 1.5}):
        held = json.loads(lock.read_text())
        assert held == {"image": "app:1", "started": 1.5, "pid": os.getpid()}
    assert lock.read_text() == ""  # released: nothing to wait for
    assert oct(lock.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "locks").stat().st_mode & 0o777) == "0o700"


def test_busy_is_an_execution_error_naming_the_app_and_the_holder(tmp_path):
    with store.Lock(str(tmp_path), "web", {"image": "web:7"}):
        with pytest.raises(CommandExecutionError) as err:
            with store.Lock(str(tmp_path), "web", {"image": "web:8"}):
                pass
    assert isinstance(err.value, store.Busy)
    assert "a rollout of web is already running" in str(err.value)
    assert '"image": "web:7"' in str(err.value) and "web:8" not in str(err.value)


def test_a_frozen_holder_still_holds_and_the_refusal_is_immediate(tmp_path):
    code = textwrap.dedent(
        f"""
        import time
        from saltext.chain.utils import chain_run_store as store
        with store.Lock({str(tmp_path)!r}, "app", {{"image": "app:9"}}):
            print("held", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        os.kill(proc.pid, signal.SIGSTOP)  # what test_chain_rollout does to the first rollout
        started = time.monotonic()
        with pytest.raises(store.Busy, match=f'"pid": {proc.pid}'):
            with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
                pass
        assert time.monotonic() - started < 1
        os.kill(proc.pid, signal.SIGCONT)
    finally:
        proc.kill()  # by the PID this test started
        proc.wait(10)
        proc.stdout.close()
