"""The runner's lock (one rollout per app: held, released, a dead holder does not block) and
its JSON lines history."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from saltext.chain.utils import chain_run_store as store


def test_the_lock_names_what_holds_it_and_refuses_a_second_holder(tmp_path):
    with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
        held = json.loads((tmp_path / "locks" / "app.lock").read_text())
        assert held == {"image": "app:2", "pid": os.getpid()}
        # flock belongs to an open file: a second open of the same lock is refused, even here
        with pytest.raises(store.Busy, match=r"a rollout of app is already running .*app:2"):
            with store.Lock(str(tmp_path), "app", {"image": "app:3"}):
                pass
        # another app has its own lock
        with store.Lock(str(tmp_path), "other", {"image": "other:1"}):
            pass
    assert (tmp_path / "locks" / "app.lock").read_text() == ""
    assert oct((tmp_path / "locks").stat().st_mode & 0o777) == "0o700"


def test_the_lock_is_released_on_an_exception(tmp_path):
    with pytest.raises(RuntimeError):
        with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
            raise RuntimeError("boom")
    with store.Lock(str(tmp_path), "app", {"image": "app:3"}):
        pass


def _holder(tmp_path):
    """Another process that takes the lock and sleeps; returns once it holds it."""
    code = textwrap.dedent(
        f"""
        import time
        from saltext.chain.utils import chain_run_store as store
        with store.Lock({str(tmp_path)!r}, "app", {{"image": "app:9"}}):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_holds_the_lock_until_it_dies(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(store.Busy, match=f'"pid": {proc.pid}'):
            with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
                pass
    finally:
        proc.kill()  # by the PID this test started; no cleanup: the kernel drops its flock
        proc.wait(10)
        proc.stdout.close()
    # the lock file still names the dead holder, and that does not block
    assert json.loads((tmp_path / "locks" / "app.lock").read_text())["pid"] == proc.pid
    started = time.monotonic()
    with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
        held = json.loads((tmp_path / "locks" / "app.lock").read_text())
    assert held["pid"] == os.getpid() and held["image"] == "app:2"
    assert time.monotonic() - started < 1


def test_history_appends_and_reads_newest_first(tmp_path):
    root = str(tmp_path)
    assert store.read(root, "app", 5) == []
    for n in range(4):
        store.record(root, "app", {"image": f"app:{n}", "result": n != 2})
    store.record(root, "other", {"image": "other:1"})
    assert [e["image"] for e in store.read(root, "app", 3)] == ["app:3", "app:2", "app:1"]
    assert store.read(root, "app", 1) == [{"image": "app:3", "result": True}]
    lines = (tmp_path / "history" / "app.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0]) == {"image": "app:0", "result": True}


def test_a_run_that_died_holding_the_lock_is_recorded_once_as_interrupted(tmp_path):
    proc = _holder(tmp_path)
    proc.kill()  # by the PID this test started
    proc.wait(10)
    proc.stdout.close()
    root = str(tmp_path)
    with store.Lock(root, "app", {"kind": "rollout", "image": "app:2"}) as lock:
        assert lock.stale["pid"] == proc.pid
    with store.Lock(root, "app", {"kind": "rollout", "image": "app:3"}) as lock:
        assert lock.stale is None  # released cleanly: nothing to record
    (entry,) = store.read(root, "app", 5)
    assert entry["interrupted"] is True and entry["result"] is False
    assert entry["image"] == "app:9" and entry["kind"] == "rollout"
    assert entry["comment"].startswith(
        f"rollout of app to app:9 interrupted: its runner (PID {proc.pid})"
    )


def test_a_lock_file_of_another_shape_is_named_as_it_is(tmp_path):
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "app.lock").write_text("not json")
    with store.Lock(str(tmp_path), "app", {"image": "app:2"}):
        pass
    (entry,) = store.read(str(tmp_path), "app", 5)
    assert "its runner (not json) ended" in entry["comment"] and entry["image"] is None
