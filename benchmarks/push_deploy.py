"""Push to production on the running chain (issue 16): a real ``git push`` over HTTP to the
source server, through the hook, build1's minion, the master's reactor and queue, the whole
chain (pipeline, image, rollout on web1 and web2), to the new version served through both
frontends.

1. push -> new version served through both frontends, median of ``--pushes`` (5) pushes to
   the deploy branch, one after the other, each split from the events' timestamps into: hook
   (``git push`` started -> the record's ``pushed_at``), minion forward (-> the master's
   ``chain/push/source``), reactor (-> ``chain/push/accepted``), queue (->
   ``chain/run/<id>/start``), then the stages (``chain/run/<id>/stage/<stage>/start|done``)
   and served (the last frontend answering the new commit on ``/version``);
2. a burst: ``--burst`` (50) commits pushed to the deploy branch one push each, within 10 s;
   then from ``salt-run chain_push.queue`` / ``chain_push.history`` / ``chain.history``: how
   many chain runs, which commit ends deployed (must be the last), every push accounted for
   (deployed or superseded), none lost, none run twice;
3. "nothing to do": a duplicate delivery (a signed webhook delivery posted twice: refused as
   replayed; a source record forwarded twice: ``chain/push/duplicate``) and a no-op push (a new
   delivery of the deployed commit: ``chain/run/<id>/done`` "nothing to do"), wall time from
   the request (or the master's receipt) to that event, median of 5.

All the while a load loop asks both frontends ``/version`` every 0.1 s (a new connection each)
and counts failed requests.

    make chain                                   # the chain up (scripts/chain.py up)
    .venv/bin/python benchmarks/push_deploy.py   # ~8 minutes
    .venv/bin/python benchmarks/push_deploy.py --pushes 1 --burst 0 --skip-nothing

Prints the figures and the command that made them, and writes
``benchmarks/results/push_deploy.json``. Never asserts. It commits to ``main`` of the source
server's ``app`` repository (a change to the sample app's greeting; main only moves forward)
from a temporary clone; what stays: those commits, their builds, images and runs.
"""

import argparse
import contextlib
import datetime
import json
import pathlib
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import salt.config
import salt.utils.event

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from saltext.chain.utils import chain_push_verify as verify  # noqa: E402

STATE = REPO / ".state" / "chain"
RESULTS = REPO / "benchmarks" / "results"
BIN = pathlib.Path(sys.executable).parent
FRONTENDS = {"web1": 8081, "web2": 8082}
SOURCE = "http://127.0.0.1:9420/git/app.git"
API = "http://127.0.0.1:8095/hook/chain/push"
STAGES = ("infrastructure", "pipeline", "image", "rollout", "smoke")


def stamp(data):
    """The master's ``_stamp`` of an event (UTC ISO) as a unix time."""
    value = datetime.datetime.fromisoformat(data["_stamp"])
    return value.replace(tzinfo=datetime.UTC).timestamp()


class Bus(threading.Thread):
    """Every event of the master's bus, kept with its ``_stamp``."""

    def __init__(self):
        super().__init__(daemon=True)
        self.opts = salt.config.master_config(str(STATE / "etc" / "master"))
        self.events, self.lock, self.stop = [], threading.Lock(), threading.Event()
        self.ready = threading.Event()

    def run(self):
        with salt.utils.event.get_master_event(
            self.opts, self.opts["sock_dir"], listen=True
        ) as bus:
            bus.subscribe("")
            self.ready.set()
            while not self.stop.is_set():
                ev = bus.get_event(wait=0.2, full=True)
                if ev and isinstance(ev.get("data"), dict) and "_stamp" in ev["data"]:
                    with self.lock:
                        self.events.append((stamp(ev["data"]), ev["tag"], ev["data"]))

    def find(self, match, timeout=0.0, after=0.0):
        """The first event since ``after`` for which ``match(tag, data)``: ``(stamp, tag,
        data)``, waiting up to ``timeout`` s; ``None``."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                for ev in self.events:
                    if ev[0] >= after - 0.5 and match(ev[1], ev[2]):
                        return ev
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


class Load(threading.Thread):
    """``GET /version`` on both frontends every 0.1 s: failures, and when each first served a
    commit."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.requests, self.failed = threading.Event(), 0, []
        self.first = {}  # (frontend, commit) -> time first served
        self.samples = []  # (time, frontend, commit)

    def run(self):
        while not self.stop.is_set():
            for name, port in FRONTENDS.items():
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/version", timeout=5
                    ) as resp:
                        commit = json.loads(resp.read()).get("commit")
                        self.first.setdefault((name, commit), time.time())
                        self.samples.append((time.time(), name, commit))
                except (OSError, ValueError) as err:
                    self.failed.append((time.time(), name, str(err)[:120]))
                self.requests += 1
            time.sleep(0.1)

    def only(self, commit, since):
        """When both frontends answered nothing but ``commit`` any more: the last answer of
        another commit after ``since``, per frontend, the later one."""
        last = {n: since for n in FRONTENDS}
        for at, name, got in list(self.samples):
            if at >= since and got != commit:
                last[name] = max(last[name], at)
        return max(last.values())

    def served(self, commit, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [self.first.get((n, commit)) for n in FRONTENDS]
            if all(got):
                return max(got)
            time.sleep(0.05)
        return None


def git(*args, cwd=None):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def salt_run(*args):
    env = {"SALT_CONFIG_DIR": str(STATE / "etc")}
    out = subprocess.run(
        [str(BIN / "salt-run"), "-c", str(STATE / "etc"), *args, "--out=json", "--log-level=quiet"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(__import__("os").environ, **env),
    )
    return json.loads(out.stdout) if out.stdout.strip() else None


class Clone:
    """A clone of the source server's app repository that commits and pushes to main."""

    def __init__(self, root, password):
        self.dir = pathlib.Path(root) / "app"
        self.url = SOURCE.replace("http://", f"http://dev:{password}@")
        git("clone", "-q", SOURCE, str(self.dir))
        self.n = 0

    def commit(self, what):
        self.n += 1
        app = self.dir / "app.py"
        text = app.read_text()
        marker = "# bench: "
        lines = [ln for ln in text.splitlines() if not ln.startswith(marker)]
        app.write_text("\n".join(lines) + f"\n{marker}{what} {self.n} {secrets.token_hex(4)}\n")
        git(
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.invalid",
            "commit",
            "-qam",
            f"bench: {what} {self.n}",
            cwd=self.dir,
        )
        return git("rev-parse", "HEAD", cwd=self.dir)

    def push(self, ref="HEAD"):
        git("push", "-q", self.url, f"{ref}:refs/heads/main", cwd=self.dir)


def one_push(bus, load, clone):
    """A commit pushed to main, followed to the new version served through both frontends."""
    commit = clone.commit("push")
    t0 = time.time()
    clone.push()
    pushed = time.time()
    src = bus.find(
        lambda t, d: t == "chain/push/source" and (d.get("data") or {}).get("after") == commit,
        60,
        t0,
    )
    acc = bus.find(lambda t, d: t == "chain/push/accepted" and d.get("commit") == commit, 60, t0)
    start = bus.find(
        lambda t, d: (
            t.startswith("chain/run/")
            and t.endswith("/start")
            and d.get("commit") == commit
            and "/stage/" not in t
        ),
        120,
        t0,
    )
    if not (src and acc and start):
        return {
            "commit": commit,
            "error": "missed an event",
            "source": bool(src),
            "accepted": bool(acc),
            "start": bool(start),
        }
    rid = start[1].split("/")[2]
    done = bus.find(lambda t, d: t == f"chain/run/{rid}/done", 300, t0)
    served = load.served(commit, 60)
    stages = {}
    for name in STAGES:
        s = bus.find(lambda t, d, n=name: t == f"chain/run/{rid}/stage/{n}/start", 0, t0)
        e = bus.find(lambda t, d, n=name: t == f"chain/run/{rid}/stage/{n}/done", 0, t0)
        if s and e:
            stages[name] = {"start": round(s[2]["at"] - t0, 2), "duration": e[2]["duration"]}
    record = src[2]["data"]
    rollout = {}
    for tag_end in ("start", "done"):
        ev = bus.find(lambda t, d, x=tag_end: t == f"chain/rollout/app/{x}", 0, start[0])
        if ev:
            rollout[tag_end] = round(ev[0] - t0, 2)
    rollout["servers"] = [
        (d["target"], d.get("wave"), d.get("seconds"), round(s - t0, 2))
        for s, t, d in list(bus.events)
        if t == "chain/rollout/app/server/done" and s >= start[0]
    ]
    return {
        "commit": commit,
        "run_id": rid,
        "result": done[2].get("result") if done else None,
        "git_push_s": round(pushed - t0, 2),
        "hook_s": round(record["pushed_at"] - t0, 2),
        "minion_forward_s": round(src[0] - record["pushed_at"], 2),
        "reactor_s": round(acc[0] - src[0], 2),
        "queue_s": round(start[0] - acc[0], 2),
        "push_to_run_start_s": round(start[0] - t0, 2),
        "stages": stages,
        "rollout": rollout,
        "run_s": done[2].get("duration") if done else None,
        "served_s": round(served - t0, 2) if served else None,
        "only_new_s": round(load.only(commit, t0) - t0, 2) if served else None,
    }


def burst(bus, load, clone, n):
    """``n`` commits, each pushed to main at once, one push after the other."""
    commits = [clone.commit("burst") for _ in range(n)]
    t0 = time.time()
    for commit in commits:
        clone.push(commit)
    sent = time.time() - t0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        pushes = [
            p
            for p in salt_run("chain_push.queue", "app", "limit=500") or []
            if p["commit"] in commits
        ]
        if len(pushes) >= n and all(p["state"] not in ("queued", "running") for p in pushes):
            break
        time.sleep(2)
    runs = [
        r
        for r in salt_run("chain_push.history", "app", "limit=200") or []
        if r["commit"] in commits
    ]
    deployed = salt_run("chain.history", "app", "limit=50") or []
    served = {n: c for (n, c), _ in sorted(load.first.items(), key=lambda kv: kv[1])}
    by_commit = {}
    for p in pushes:
        by_commit.setdefault(p["commit"], []).append(p)
    ran = [pid for r in runs for pid in r.get("pushes") or []]
    return {
        "pushes": n,
        "pushed_in_s": round(sent, 2),
        "all_settled_in_s": round(time.time() - t0, 2),
        "recorded": len(pushes),
        "lost": [c[:12] for c in commits if c not in by_commit],
        "recorded_twice": [c[:12] for c, ps in by_commit.items() if len(ps) > 1],
        "states": {
            s: sum(1 for p in pushes if p["state"] == s) for s in {p["state"] for p in pushes}
        },
        "runs": len(runs),
        "run_commits": [
            (r["commit"][:12], r["state"]) for r in sorted(runs, key=lambda r: r["started"])
        ],
        "pushes_run_twice": len(ran) - len(set(ran)),
        "commits_run_twice": len(runs) - len({r["commit"] for r in runs}),
        "last_pushed": commits[-1][:12],
        "deployed_last (chain.history)": next(
            (h.get("ref", "")[:12] for h in deployed if h.get("result") and not h.get("no_op")),
            None,
        ),
        "served": {n: (c or "")[:12] for n, c in served.items()},
    }


def nothing_to_do(bus, key, commit, rounds=5):
    """A no-op push (a new signed delivery of the deployed commit: queued, its run finds the
    branch ran that commit) and a duplicate delivery (the same delivery posted again: refused
    as replayed): POST -> ``chain/run/<id>/done`` "nothing to do" of that push's own run /
    ``chain/push/refused`` of that delivery, median of ``rounds``."""
    dup, noop = [], []
    for _ in range(rounds):
        delivery = secrets.token_hex(8)
        t0 = time.time()
        post(key, commit, delivery)
        acc = bus.find(
            lambda t, d, x=delivery: t == "chain/push/accepted" and x in str(d.get("delivery")),
            30,
            t0,
        )
        start = acc and bus.find(
            lambda t, d, p=acc[2]["push"]: (
                t.startswith("chain/run/") and t.endswith("/start") and p in (d.get("pushes") or [])
            ),
            30,
            t0,
        )
        run_tag = start[1].rsplit("/", 1)[0] if start else None
        done = start and bus.find(lambda t, d, r=run_tag: t == f"{r}/done", 30, t0)
        noop.append(round(done[0] - t0, 3) if done else None)
        if done and done[2].get("result") != "nothing to do":
            print(f"  the no-op push's run ended {done[2].get('result')!r}", flush=True)
        t0 = time.time()
        post(key, commit, delivery)  # the same delivery again
        ev = bus.find(
            lambda t, d, x=delivery: t == "chain/push/refused" and x in str(d.get("delivery")),
            30,
            t0,
        )
        dup.append(round(ev[0] - t0, 3) if ev else None)
        time.sleep(1)
    return {"duplicate_webhook_s": dup, "noop_push_s": noop}


def duplicate_record(bus):
    """A source record forwarded twice: a sent record of the spool copied back into it."""
    spool = STATE / "build1" / "cache" / "saltext-chain" / "chain-source-spool"
    sent = sorted((spool / "sent").glob("*.json"))
    out = []
    for path in sent[-5:]:
        delivery = json.loads(path.read_text())["delivery"]
        t0 = time.time()
        tmp = spool / f".{path.name}.tmp"
        tmp.write_text(path.read_text())
        tmp.rename(spool / path.name)
        src = bus.find(
            lambda t, d, x=delivery: (
                t == "chain/push/source" and (d.get("data") or {}).get("delivery") == x
            ),
            10,
            t0,
        )
        ev = bus.find(
            lambda t, d, x=delivery: t == "chain/push/duplicate" and d.get("delivery") == x, 10, t0
        )
        if src and ev:
            out.append(
                {
                    "file_to_duplicate_s": round(ev[0] - t0, 3),
                    "master_to_duplicate_s": round(ev[0] - src[0], 3),
                }
            )
    return out


def post(key, commit, delivery):
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": commit,
            "repository": {"name": "app"},
            "pusher": {"name": "bench"},
            "head_commit": {"message": "bench: no-op", "author": {"name": "Bench"}},
        }
    )
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
    }
    headers.update(verify.sign(body, key))
    req = urllib.request.Request(API, data=body.encode(), headers=headers)
    with (
        contextlib.suppress(urllib.error.HTTPError),
        urllib.request.urlopen(req, timeout=30) as resp,
    ):
        resp.read()


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def report(pushes):
    keys = ["hook_s", "minion_forward_s", "reactor_s", "queue_s"]
    print(f"\n==> 1. push -> served through both frontends ({len(pushes)} pushes)")
    print(f"  {'':28}" + "".join(f"{i + 1:>8}" for i in range(len(pushes))) + f"{'median':>9}")
    rows = [(k, [p[k] for p in pushes]) for k in keys]
    rows.append(("hook+minion+reactor+queue", [round(sum(p[k] for k in keys), 2) for p in pushes]))
    for stage in STAGES:
        rows.append((stage, [p["stages"].get(stage, {}).get("duration") for p in pushes]))
    rows.append(("run (start -> done)", [p["run_s"] for p in pushes]))
    rows.append(("push -> served (both)", [p["served_s"] for p in pushes]))
    rows.append(("push -> only new (both)", [p["only_new_s"] for p in pushes]))
    for name, values in rows:
        cells = "".join(f"{v:>8.2f}" if v is not None else f"{'-':>8}" for v in values)
        print(f"  {name:28}{cells}{median(values) or '-':>9}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=5)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--skip-nothing", action="store_true")
    args = parser.parse_args()
    keys = json.loads((STATE / "secrets.json").read_text())
    bus, load = Bus(), Load()
    bus.start()
    bus.ready.wait(10)
    load.start()
    out = {"command": " ".join([".venv/bin/python", "benchmarks/push_deploy.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Clone(tmp, keys["push"])
        out["pushes"] = []
        for _ in range(args.pushes):
            got = one_push(bus, load, clone)
            print(json.dumps(got), flush=True)
            out["pushes"].append(got)
        good = [p for p in out["pushes"] if "error" not in p]
        if good:
            report(good)
        if args.burst:
            out["burst"] = burst(bus, load, clone, args.burst)
            print(f"\n==> 2. burst of {args.burst} pushes\n" + json.dumps(out["burst"], indent=1))
        if not args.skip_nothing:
            deployed = git("rev-parse", "HEAD", cwd=clone.dir)
            out["nothing_to_do"] = nothing_to_do(bus, keys["webhook"], deployed)
            out["nothing_to_do"]["duplicate_record"] = duplicate_record(bus)
            print("\n==> 3. nothing to do\n" + json.dumps(out["nothing_to_do"], indent=1))
    load.stop.set()
    bus.stop.set()
    load.join(5)
    out["load"] = {
        "requests": load.requests,
        "failed": len(load.failed),
        "first_failures": load.failed[:5],
    }
    print(f"\n==> load through both frontends: {load.requests} requests, {len(load.failed)} failed")
    print(f"==> made by: {out['command']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "push_deploy.json").write_text(json.dumps(out, indent=1))
    with bus.lock:  # every event, for a closer look (the minions' returns carry their steps)
        events = [(s, t, d) for s, t, d in bus.events if not t.startswith("salt/auth")]
    (RESULTS / "push_deploy-events.json").write_text(json.dumps(events, default=str))


if __name__ == "__main__":
    main()
