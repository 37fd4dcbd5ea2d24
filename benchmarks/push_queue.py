"""The push queue's figures (issue 16), on a salt-master and salt-api of its own.

Starts ``salt-master`` and ``salt-api`` from this venv in a temporary root (the extension
comes from the editable install's ``salt.loader`` entry point; the reactor files and
``chain:push`` as ``docs/push.md`` gives them; the repository's orchestrate is a small sls
that fires one stage and sleeps 1 s, not the whole chain), then measures on the master's bus:

1. push reaching the master -> run start (``chain/run/<id>/start``), median of 5: for a signed
   webhook delivery (the ``salt/netapi/hook/chain/push`` event's time) and for a source
   minion's record (fired on the bus as the minion's event arrives);
2. a duplicate delivery (the same record again) -> ``chain/push/duplicate``, and a no-op push
   (a new delivery of the commit the branch last ran) -> ``chain/run/<id>/done`` "nothing to
   do", median of 5;
3. 50 pushes to one branch within 10 s: runs, which commit ran last, every push accounted for
   (run or superseded), none run twice.

    .venv/bin/python benchmarks/push_queue.py        # ~1 minute

Prints a table and writes ``benchmarks/results/push_queue.json``. Never asserts. Stops the
daemons it started (by PID) at the end.
"""

import contextlib
import datetime
import json
import os
import pathlib
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import salt.config
import salt.utils.event
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from saltext.chain.utils import chain_push_queue as queue  # noqa: E402
from saltext.chain.utils import chain_push_verify as verify  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
BIN = pathlib.Path(sys.executable).parent
ORCH = """
pushq_stage:
  salt.runner:
    - name: event.send
    - tag: chain/run/{{ pillar.chain.run_id }}/stage/pipeline/start
pushq_pause:
  salt.runner:
    - name: test.sleep
    - s_time: 1
"""


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(root, keys):
    (root / "srv" / "bench").mkdir(parents=True)
    (root / "srv" / "bench" / "orch.sls").write_text(ORCH)
    (root / "pillar").mkdir()
    (root / "pillar" / "top.sls").write_text("base:\n  '*':\n    - keys\n")
    (root / "pillar" / "keys.sls").write_text(yaml.safe_dump({"chain": {"push": keys}}))
    api_port = free_port()
    conf = {
        "id": "bench-master",
        "root_dir": str(root),
        "interface": "127.0.0.1",
        "publish_port": free_port(),
        "ret_port": free_port(),
        "user": os.environ.get("USER") or "root",
        "log_file": str(root / "master.log"),
        "log_level_logfile": "info",
        "file_roots": {"base": [str(root / "srv"), str(REPO / "formulas")]},
        "pillar_roots": {"base": [str(root / "pillar")]},
        "reactor": [
            {"chain/push/source": ["salt://chain/reactor/push.sls"]},
            {"salt/netapi/hook/chain/push": ["salt://chain/reactor/webhook.sls"]},
        ],
        "chain": {
            "push": {
                "source_minion": "build1",
                "branches": ["*"],
                "repos": {"bench": {"app": "bench", "orchestrate": "bench.orch"}},
            }
        },
        "rest_cherrypy": {
            "port": api_port,
            "host": "127.0.0.1",
            "disable_ssl": True,
            "webhook_disable_auth": True,
        },
    }
    (root / "master").write_text(yaml.safe_dump(conf))
    return api_port


def start(root):
    procs = []
    for name in ("salt-master", "salt-api"):
        log = open(root / f"{name}.out", "w")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [str(BIN / name), "-c", str(root), "-l", "quiet"], stdout=log, stderr=log
            )
        )
        time.sleep(2 if name == "salt-master" else 0)
    return procs


def stop(procs):
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def record(commit, branch, key, delivery=None):
    rec = {
        "delivery": delivery or secrets.token_hex(16),
        "vcs": "git",
        "repo": "bench",
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": commit,
        "pusher": "bench",
        "via": "http",
        "message": "bench",
        "pushed_at": time.time(),
    }
    rec["sig"] = verify.record_signature(rec, key)
    return rec


class Bus:
    def __init__(self, opts):
        self.opts = opts
        self.bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)

    def fire_source(self, rec):
        """As the master fires the source minion's event; returns the time it was fired."""
        with salt.utils.event.get_master_event(
            self.opts, self.opts["sock_dir"], listen=False
        ) as out:
            at = time.time()
            out.fire_event({"id": "build1", "data": rec}, "chain/push/source")
        return at

    def wait(self, match, timeout=30):
        """The first event for which ``match(tag, data)``: ``(time received, tag, data)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.bus.get_event(wait=0.5, full=True)
            if ev and match(ev["tag"], ev["data"]):
                return time.time(), ev["tag"], ev["data"]
        raise TimeoutError("no matching event")


def wait_ready(bus, api_port, keys):
    """salt-api answers, then a warm-up push is accepted (the reactor subscribes some time
    after the daemons start: an event before that is lost, as the reactor keeps nothing)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    while time.monotonic() < deadline:
        commit = secrets.token_hex(20)
        bus.fire_source(record(commit, "warm-up", keys["source_key"]))
        try:
            to_start(bus, commit)
            return
        except TimeoutError:
            continue
    raise TimeoutError("the master did not run a warm-up push")


def post(api_port, commit, branch, key):
    body = json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": commit,
            "repository": {"name": "bench"},
            "pusher": {"name": "bench"},
            "head_commit": {"message": "bench", "author": {"name": "bench"}},
        }
    )
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    headers["X-GitHub-Delivery"] = secrets.token_hex(8)
    headers.update(verify.sign(body, key))
    req = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/hook/chain/push", data=body.encode(), headers=headers
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def to_start(bus, commit):
    _, tag, data = bus.wait(lambda t, d: t.endswith("/start") and d.get("commit") == commit)
    started = salt_stamp(data)
    bus.wait(lambda t, d: t == tag.replace("/start", "/done"))
    return started, tag.split("/")[2]


def salt_stamp(data):
    """The master's ``_stamp`` of an event (UTC ISO) as a unix time."""
    stamp = datetime.datetime.fromisoformat(data["_stamp"])
    return stamp.replace(tzinfo=datetime.UTC).timestamp()


def latency(bus, api_port, keys, rounds=5):
    webhook, source = [], []
    for i in range(rounds):
        commit = secrets.token_hex(20)
        post(api_port, commit, f"lat-w{i}", keys["webhook_key"])
        _, _, hook = bus.wait(
            lambda t, d, c=commit: t == verify.WEBHOOK_TAG and c in d.get("body", "")
        )
        started, _ = to_start(bus, commit)
        webhook.append(started - salt_stamp(hook))
        commit = secrets.token_hex(20)
        fired = bus.fire_source(record(commit, f"lat-s{i}", keys["source_key"]))
        started, _ = to_start(bus, commit)
        source.append(started - fired)
    return webhook, source


def nothing_to_do(bus, keys, rounds=5):
    dup, noop = [], []
    for i in range(rounds):
        commit = secrets.token_hex(20)
        rec = record(commit, f"noop{i}", keys["source_key"])
        bus.fire_source(rec)
        to_start(bus, commit)
        fired = bus.fire_source(rec)  # the same delivery again
        at, _, _ = bus.wait(lambda t, d: t == "chain/push/duplicate")
        dup.append(at - fired)
        fired = bus.fire_source(record(commit, f"noop{i}", keys["source_key"]))
        at, _, data = bus.wait(
            lambda t, d: t.endswith("/done") and d.get("result") == "nothing to do"
        )
        noop.append(at - fired)
    return dup, noop


def burst(bus, db, keys, n=50):
    branch = f"burst-{secrets.token_hex(3)}"
    commits = [secrets.token_hex(20) for _ in range(n)]
    started = time.monotonic()
    for commit in commits:
        bus.fire_source(record(commit, branch, keys["source_key"]))
        time.sleep(0.05)
    sent = time.monotonic() - started
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pushes = [p for p in queue.snapshot(db, limit=1000)["pushes"] if p["branch"] == branch]
        if len(pushes) == n and all(p["state"] not in ("queued", "running") for p in pushes):
            break
        time.sleep(0.5)
    took = time.monotonic() - started
    runs = [r for r in queue.snapshot(db, limit=1000)["runs"] if r["branch"] == branch]
    runs.sort(key=lambda r: r["started"])
    states = {p["commit"]: p["state"] for p in pushes}
    return {
        "pushes": n,
        "sent_in_s": round(sent, 2),
        "all_done_in_s": round(took, 2),
        "stored": len(pushes),
        "runs": len(runs),
        "last_run_commit_is_last_pushed": bool(runs) and runs[-1]["commit"] == commits[-1],
        "states": {s: list(states.values()).count(s) for s in set(states.values())},
        "run_twice": len(runs) - len({r["commit"] for r in runs}),
    }


def main():
    keys = {"webhook_key": secrets.token_hex(16), "source_key": secrets.token_hex(16)}
    keep = os.environ.get("BENCH_KEEP")  # a directory to keep the master's files in
    with contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        api_port = write_config(root, keys)
        opts = salt.config.master_config(str(root / "master"))
        procs = start(root)
        try:
            bus = Bus(opts)
            wait_ready(bus, api_port, keys)
            webhook, source = latency(bus, api_port, keys)
            dup, noop = nothing_to_do(bus, keys)
            db = queue.path_in(opts["cachedir"])
            outcome = burst(bus, db, keys)
        finally:
            stop(procs)
    result = {
        "push_to_run_start_s": {
            "webhook_median": round(statistics.median(webhook), 3),
            "webhook_all": [round(x, 3) for x in webhook],
            "source_minion_median": round(statistics.median(source), 3),
            "source_minion_all": [round(x, 3) for x in source],
        },
        "duplicate_to_nothing_to_do_s": round(statistics.median(dup), 3),
        "noop_push_to_nothing_to_do_s": round(statistics.median(noop), 3),
        "burst": outcome,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "push_queue.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
