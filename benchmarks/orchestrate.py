"""End-to-end figures of the chain (issue 10), measured against the running ``make chain``.

One run, driving the real master, minions, Jenkins controller, registry and frontends:

1. commit -> new version served: a new commit of the app (the served commit with a new
   greeting, made in a temporary clone of the source server, never in the checkout) pushed to
   the source server, ``salt-run state.orchestrate chain`` for it (wall time of the process),
   every stage's duration, and inside them the intrinsic work: the Jenkins build's own
   ``duration``, ``container_image.present`` (image build + push), the image pull on the app
   servers' engine and, per replica, create -> healthy -> in the frontend (engine 2's events)
   plus the monitor window; orchestration overhead = wall - intrinsic;
2. the same orchestrate again (no-op): wall time, builds started, states with changes;
3. a commit that passes the unit tests but answers 503 on /health in its image (caught on
   the first server), then one unhealthy only on the second server (in its network's subnet:
   the first server is updated, then rolled back by the runner): time from the rollout's
   start to the failure's detection and to the previous version serving alone again (engine
   events, chain/rollout events), with a load loop through both frontends counting failed
   requests (during 1, 3 and the final restore).

Afterwards the commit served before the run is deployed again (the chain is left as found).
The benchmark commits stay on the source server, on a branch of their own (``--branch``,
default ``bench/orchestrate-<time>``: the served ``main`` is not moved).

Run from the repository root with the venv that runs the chain, when no orchestrate runs:

    .venv/bin/python benchmarks/orchestrate.py            # ~5 minutes
    .venv/bin/python benchmarks/orchestrate.py --analyze benchmarks/results/orchestrate-raw.json

Prints a table and writes ``benchmarks/results/orchestrate.json`` (and everything it
recorded to ``orchestrate-raw.json``, which ``--analyze`` reads again). Never asserts.
"""

import argparse
import base64
import contextlib
import datetime
import http.client
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import docker
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
STATE = pathlib.Path(os.environ.get("CHAIN_STATE_DIR", REPO / ".state")) / "chain"
RESULTS = REPO / "benchmarks" / "results"
ENGINE1 = "unix:///var/run/docker.sock"
ENGINE2 = "unix:///run/saltext-chain/docker2.sock"
SOURCE = "git://127.0.0.1:9419/app.git"
JENKINS = "http://127.0.0.1:8090"
JOB = "app-pipeline"
APP = "app"
SERVERS = {"web1": 8081, "web2": 8082}
BACKEND = "app"
BASE_IMAGE = "saltext-chain/debian:bookworm"
GREETING = "hello from the chain's sample app, version {version}"
HEALTHY = '    """True when the service can serve requests."""\n    return True\n'
UNHEALTHY = (
    '    """True when the service can serve requests."""\n'
    "    # benchmarks/orchestrate.py: a bad build on purpose, unhealthy in the chain's image\n"
    '    return os.environ.get("APP_COMMIT", "unknown") == "unknown"\n'
)

UNHEALTHY_ON = (
    '    """True when the service can serve requests."""\n'
    "    # benchmarks/orchestrate.py: a bad build on purpose, unhealthy on one server only\n"
    "    import ipaddress\n"
    "    import socket\n"
    "\n"
    "    try:\n"
    "        here = ipaddress.ip_address(socket.gethostbyname(socket.gethostname()))\n"
    "    except (OSError, ValueError):\n"
    "        return True\n"
    '    return here not in ipaddress.ip_network("{subnet}")\n'
)


def say(msg):
    print(f"==> {msg}", flush=True)


def epoch_of(stamp):
    """A Salt ``_stamp`` (ISO, UTC) as epoch seconds."""
    when = datetime.datetime.fromisoformat(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def epoch_of_clock(clock, near):
    """A state's ``start_time`` (``HH:MM:SS.ffffff``, the minion's local time) as epoch
    seconds, on the day of epoch ``near``."""
    day = datetime.datetime.fromtimestamp(near).date()
    when = datetime.datetime.combine(day, datetime.time.fromisoformat(clock))
    secs = when.timestamp()
    return secs - 86400 if secs - near > 43200 else secs


# ---------------------------------------------------------------------------------------------
# Salt
# ---------------------------------------------------------------------------------------------


class Salt:
    def __init__(self, bindir):
        self.bin = pathlib.Path(bindir)
        self.conf = STATE / "etc"

    def run(self, *args, timeout=1800):
        """salt-run with --out=json: ``(data or None, returncode, wall seconds, t0, t1, tail)``."""
        t0 = time.time()
        proc = subprocess.run(
            [str(self.bin / "salt-run"), "-c", str(self.conf), "--out=json", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        t1 = time.time()
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = None
        tail = (proc.stdout[-1500:] + proc.stderr[-1500:]) if data is None else ""
        return data, proc.returncode, t1 - t0, t0, t1, tail


class Bus(threading.Thread):
    """The master's event bus: ``chain/rollout/...`` events and the minions' state returns,
    each with the time it arrived."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.events = []

    def run(self):
        import salt.config  # pylint: disable=import-outside-toplevel
        import salt.utils.event  # pylint: disable=import-outside-toplevel

        opts = salt.config.master_config(str(STATE / "etc" / "master"))
        with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
            self.ready.set()
            while not self.stop.is_set():
                event = bus.get_event(wait=1, full=True)
                if not event:
                    continue
                tag, data = event["tag"], event["data"]
                keep = tag.startswith(f"chain/rollout/{APP}/") or (
                    tag.startswith("salt/job/")
                    and "/ret/" in tag
                    and data.get("fun") in ("state.sls", "state.apply")
                )
                if keep:
                    self.events.append({"t": time.time(), "tag": tag, "data": data})

    def between(self, t0, t1):
        return [e for e in self.events if t0 <= e["t"] <= t1 + 2]


def stages(data):
    """The orchestrate's state returns by id, from ``salt-run --out=json``'s output."""
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if item and all(isinstance(k, str) and "_|-" in k for k in item):
                return {v.get("__id__", k): v for k, v in item.items() if isinstance(v, dict)}
            todo.extend(item.values())
    return {}


def state_returns(events, sls=None, fun="state.sls"):
    """``{minion: {state key: state}}`` of the state runs on the bus (``sls`` in its args)."""
    out = {}
    for event in events:
        data = event["data"]
        args = data.get("fun_args") or []
        if data.get("fun") != fun or not isinstance(data.get("return"), dict):
            continue
        if sls and not (args and sls in str(args[0])):
            continue
        out.setdefault(data.get("id"), []).append(data["return"])
    return out


def changed_states(returns):
    return [
        f"{minion}: {key.split('_|-')[1]}"
        for minion, runs in returns.items()
        for ret in runs
        for key, state in ret.items()
        if isinstance(state, dict) and state.get("changes")
    ]


def find_state(returns, prefix):
    for runs in returns.values():
        for ret in runs:
            for key, state in ret.items():
                if key.startswith(prefix) and isinstance(state, dict):
                    return state
    return None


# ---------------------------------------------------------------------------------------------
# Frontends, Jenkins, engines, git
# ---------------------------------------------------------------------------------------------


def version(port, timeout=3):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/version", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return None, f"HTTP {resp.status}"
        return json.loads(body).get("version"), None
    except (OSError, ValueError, http.client.HTTPException) as err:
        return None, f"{type(err).__name__}: {err}"
    finally:
        conn.close()


class Load(threading.Thread):
    """A bounded load loop: GET /version through one frontend every ``interval`` seconds."""

    def __init__(self, port, interval=0.1, limit=900):
        super().__init__(daemon=True)
        self.port, self.interval, self.limit = port, interval, limit
        self.stop = threading.Event()
        self.samples = []  # (time, version or None, error or None)

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            t = time.time()
            ver, err = version(self.port)
            self.samples.append((t, ver, err))
            self.stop.wait(self.interval)


def load_during(func):
    loads = [Load(port) for port in SERVERS.values()]
    for load in loads:
        load.start()
    try:
        result = func()
    finally:
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(10)
    return result, dict(zip(SERVERS, loads, strict=True))


def jenkins_builds(token):
    auth = base64.b64encode(f"admin:{token}".encode()).decode()
    tree = "builds[number,result,duration,timestamp,building,actions[parameters[name,value]]]"
    req = urllib.request.Request(
        f"{JENKINS}/job/{JOB}/api/json?tree={tree}", headers={"Authorization": f"Basic {auth}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback, fixed URL
        builds = json.load(resp)["builds"]
    for build in builds:
        params = {}
        for action in build.get("actions") or []:
            for param in (action or {}).get("parameters") or []:
                params[param.get("name")] = param.get("value")
        build["ref"] = params.get("REF")
    return builds


class Engine(threading.Thread):
    """An engine's event stream, read live: the engine keeps only its last 256 events for a
    later ``since`` query, and the health checks alone fill that in seconds."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.client = docker.DockerClient(base_url=url, version="auto", timeout=60)
        self.stream = self.client.events(decode=True)
        self.events = []

    def run(self):
        with contextlib.suppress(Exception):  # the stream ends when it is closed
            for event in self.stream:
                event["t"] = event["timeNano"] / 1e9
                event["attrs"] = (event.get("Actor") or {}).get("Attributes") or {}
                self.events.append(event)

    def between(self, t0, t1):
        return [e for e in self.events if t0 - 0.5 <= e["t"] <= t1 + 1]

    def close(self):
        self.stream.close()
        self.join(5)
        self.client.close()


def git(*args, cwd=None, env=None):
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(clone, message, edit):
    app = clone / "app.py"
    text = app.read_text()
    new = edit(text)
    if new == text:
        raise SystemExit(f"could not edit app.py for {message!r}: the expected text is not there")
    app.write_text(new)
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="benchmarks/orchestrate.py",
        GIT_AUTHOR_EMAIL="bench@saltext-chain.invalid",
        GIT_COMMITTER_NAME="benchmarks/orchestrate.py",
        GIT_COMMITTER_EMAIL="bench@saltext-chain.invalid",
    )
    git("commit", "-q", "-am", message, cwd=clone, env=env)
    return git("rev-parse", "HEAD", cwd=clone)


def push(clone, branch):
    t = time.monotonic()
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=clone)
    return time.monotonic() - t


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------


def rollout_window(bus_events, t0, t1):
    """(start, done) epoch of the chain/rollout/<app> events of one orchestrate."""
    start = done = None
    for event in bus_events:
        if not t0 <= event["t"] <= t1 + 2:
            continue
        stamp = epoch_of(event["data"]["_stamp"]) if "_stamp" in event["data"] else event["t"]
        if event["tag"] == f"chain/rollout/{APP}/start":
            start = stamp
        elif event["tag"] == f"chain/rollout/{APP}/done":
            done = stamp
    return start, done


def replicas(events, start, end):
    """Per replica created in [start, end] on engine 2: create -> start -> healthy (or
    unhealthy) -> in the frontend (HAProxy's own check up, seen through the runtime API polls
    of container_service, as exec events on the frontend container) -> removed."""
    execs = {}
    for event in events:
        action = event.get("Action") or ""
        exec_id = event["attrs"].get("execID")
        if exec_id and action.startswith(("exec_create", "exec_start")) and ":" in action:
            execs.setdefault(exec_id, {})["cmd"] = action.split(":", 1)[1]
            execs[exec_id]["container"] = event["attrs"].get("name")
        if exec_id and action.startswith("exec_die"):
            execs.setdefault(exec_id, {})["die"] = event["t"]
    fe_cmds = [
        (e["t"], e["attrs"].get("name"), execs.get(e["attrs"].get("execID"), {}))
        for e in events
        if (e.get("Action") or "").startswith("exec_start")
        and (e["attrs"].get("name") or "").startswith("chain-frontend-")
        # the runtime API client, not the frontend's own health check
        and "sys.argv[1]" in execs.get(e["attrs"].get("execID"), {}).get("cmd", "")
    ]
    out = {}
    for event in events:
        name = event["attrs"].get("name") or ""
        service = event["attrs"].get("org.saltext-chain.service") or ""
        if event.get("Type") != "container" or not service.startswith(f"{APP}-"):
            continue
        action = event.get("Action") or ""
        if action == "create" and start - 1 <= event["t"] <= end + 1:
            out[name] = {
                "server": service[len(APP) + 1 :],
                "slot": event["attrs"].get("org.saltext-chain.service.slot"),
                "create": event["t"],
            }
        rep = out.get(name)
        if rep is None:
            continue
        if action == "start":
            rep.setdefault("start", event["t"])
        elif action.startswith("health_status: "):
            rep.setdefault(action.split(": ", 1)[1], event["t"])
        elif action == "destroy":
            rep["destroy"] = event["t"]
    for rep in out.values():
        frontend = f"chain-frontend-{rep['server']}"
        mine = f"set server {BACKEND}/s{rep['slot']} state ready"
        after = rep.get("healthy")
        if after is None:
            continue
        ready = next(
            (
                t
                for t, fe, ex in fe_cmds
                if fe == frontend and t >= after and mine in ex.get("cmd", "")
            ),
            None,
        )
        if ready is None:
            continue
        polls = []
        for t, fe, ex in fe_cmds:
            if fe != frontend or t <= ready:
                continue
            if "show servers state" not in ex.get("cmd", ""):
                break
            polls.append(ex.get("die") or t)
        rep["ready"] = ready
        rep["entered"] = polls[-1] if polls else ready
    return out


def pull_seconds(events, rollout_returns, near):
    """Engine 2's pull of the app image: from the first container_service.running state's start
    to the engine's ``pull`` event (0 when the engine had the image)."""
    pulls = [
        e["t"]
        for e in events
        if e.get("Type") == "image" and e.get("Action") == "pull" and f"/chain/{APP}" in e["id"]
    ]
    starts = []
    for runs in rollout_returns.values():
        for ret in runs:
            for key, state in ret.items():
                if key.startswith("container_service_|-") and state.get("start_time"):
                    starts.append(epoch_of_clock(state["start_time"], near))
    if not pulls or not starts:
        return 0.0
    return max(0.0, min(pulls) - min(starts))


def good_rollout(events, bus_events, t0, t1, monitor):
    start, done = rollout_window(bus_events, t0, t1)
    if start is None:
        return {"error": "no chain/rollout events seen"}
    reps = replicas(events, start, done or t1)
    rows = []
    for name, rep in sorted(reps.items(), key=lambda kv: kv[1]["create"]):
        if "entered" not in rep:
            rows.append({"name": name, "server": rep["server"], "error": "not seen entering"})
            continue
        rows.append(
            {
                "name": name,
                "server": rep["server"],
                "create_to_healthy": round(rep["healthy"] - rep["create"], 2),
                "healthy_to_in_frontend": round(rep["entered"] - rep["healthy"], 2),
                "create_to_in_frontend": round(rep["entered"] - rep["create"], 2),
            }
        )
    returns = state_returns(bus_events, "chain.deploy", fun="state.apply")
    pull = pull_seconds(events, returns, t0)
    in_fe = sum(r.get("create_to_in_frontend", 0) for r in rows)
    return {
        "rollout_s": round((done or t1) - start, 2),
        "replicas": rows,
        "pull_s": round(pull, 2),
        "monitor_s": monitor,
        "intrinsic_s": round(pull + in_fe + monitor * len(rows), 2),
        "deploy_changes": changed_states(returns),
    }


def bad_rollout(events, bus_events, t0, t1):
    """A failed rollout, from its start: every replica's engine events, each server's end,
    the runner's rollbacks of servers already updated. ``detected_s``: the first new replica
    the engine found unhealthy; ``bad_removed_s``: the last new replica removed;
    ``restored_in_frontend_s``: the last replica started by a rollback in its frontend."""
    start, done = rollout_window(bus_events, t0, t1)
    if start is None:
        return {"error": "no chain/rollout events seen"}
    reps = replicas(events, start, done or t1)

    def rel(t):
        return None if t is None else round(t - start, 2)

    def stamped(stage):
        return [
            (e["data"], epoch_of(e["data"]["_stamp"]) if "_stamp" in e["data"] else e["t"])
            for e in bus_events
            if e["tag"] == f"chain/rollout/{APP}/{stage}" and t0 <= e["t"] <= t1 + 2
        ]

    rollbacks = stamped("rollback")
    first_rollback = min((t for _, t in rollbacks), default=None)
    out = {"replicas": {}, "servers": [], "rollout_s": rel(done)}
    out["rollbacks"] = [{"target": d.get("target"), "start_s": rel(t)} for d, t in rollbacks]
    for name, rep in sorted(reps.items(), key=lambda kv: kv[1]["create"]):
        row = {
            k: rel(rep.get(k))
            for k in ("create", "start", "unhealthy", "healthy", "ready", "entered", "destroy")
        }
        row["server"] = rep["server"]
        row["rollback"] = first_rollback is not None and rep["create"] >= first_rollback
        out["replicas"][name] = row
    for data, t in stamped("server/done"):
        out["servers"].append(
            {
                "target": data.get("target"),
                "result": data.get("result"),
                "done_s": rel(t),
                "comment": str(data.get("comment"))[:300],
            }
        )
    new = [r for r in out["replicas"].values() if not r["rollback"]]
    back = [r for r in out["replicas"].values() if r["rollback"]]
    unhealthy = [r["unhealthy"] for r in new if r.get("unhealthy") is not None]
    removed = [r["destroy"] for r in new]
    out["detected_s"] = min(unhealthy) if unhealthy else None
    out["bad_removed_s"] = max(removed) if removed and None not in removed else None
    entered = [r["entered"] for r in back]
    out["restored_in_frontend_s"] = max(entered) if entered and None not in entered else None
    return out


def states_seconds(ret):
    return sum((st.get("duration") or 0) for st in ret.values() if isinstance(st, dict)) / 1000


def slow_states(bus_events, limit=0.5):
    """States of the minions' runs that took ``limit`` seconds or more."""
    out = []
    for event in bus_events:
        ret = event["data"].get("return")
        if not isinstance(ret, dict):
            continue
        for key, state in ret.items():
            secs = ((state or {}).get("duration") or 0) / 1000 if isinstance(state, dict) else 0
            if secs >= limit:
                out.append(
                    {
                        "minion": event["data"].get("id"),
                        "state": state.get("__id__") or key.split("_|-")[1],
                        "seconds": round(secs, 2),
                        "changes": bool(state.get("changes")),
                    }
                )
    return out


def stage_rows(data, wall, bus_events=()):
    """Every stage's duration, and the time its minions' states took (``states_s``: the sum
    of the state durations of a minion's run, the longest minion for a stage run on several
    side by side; for the rollout the deploy runs of all servers, one after the other). The
    difference is the job's publish, the sls rendering on the minion and the return."""
    rows = []
    for sid, state in stages(data).items():
        jid = state.get("__jid__")
        runs = [e["data"] for e in bus_events if e["data"].get("jid") == jid and jid]
        if sid == "chain-rollout":
            runs = [
                e["data"]
                for e in bus_events
                if e["data"].get("fun") == "state.apply"
                and "chain.deploy" in str((e["data"].get("fun_args") or [""])[0])
            ]
            states_s = sum(states_seconds(r["return"]) for r in runs)
        else:
            states_s = max((states_seconds(r["return"]) for r in runs), default=None)
        rows.append(
            {
                "stage": sid,
                "seconds": round((state.get("duration") or 0) / 1000, 2),
                "states_s": None if states_s is None else round(states_s, 2),
                "result": state.get("result"),
                "comment": str(state.get("comment"))[:200],
            }
        )
    rows.append(
        {
            "stage": "salt-run process outside the stages",
            "seconds": round(wall - sum(r["seconds"] for r in rows), 2),
            "states_s": None,
            "result": None,
            "comment": "",
        }
    )
    return rows


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------


def orchestrate(salt, ref):
    pillar = json.dumps({"chain": {"ref": ref}})
    say(f"salt-run state.orchestrate chain pillar='{pillar}'")
    data, code, wall, t0, t1, tail = salt.run(
        "state.orchestrate", "chain", f"pillar={pillar}", "--log-level=error"
    )
    say(f"  exit code {code}, {wall:.1f} s")
    if tail:
        print(tail)
    return {"data": data, "code": code, "wall": wall, "t0": t0, "t1": t1}


def wait_served(ref, t0, limit=120):
    """Seconds from ``t0`` until both frontends answer ``ref`` (None past ``limit``)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(version(port)[0] == ref for port in SERVERS.values()):
            return round(time.time() - t0, 2)
        time.sleep(0.2)
    return None


def raw_build(artifact_dir, ref, sha, tag):
    """The same artifact context built with the docker SDK on engine 1 (no cache)."""
    api = docker.APIClient(base_url=ENGINE1, version="auto", timeout=600)
    t = time.monotonic()
    error = None
    for chunk in api.build(
        path=str(artifact_dir),
        tag=tag,
        rm=True,
        nocache=True,
        decode=True,
        buildargs={"BASE_IMAGE": BASE_IMAGE, "APP_VERSION": ref, "APP_COMMIT": sha},
        labels={"org.saltext-chain.commit": sha},
    ):
        error = error or chunk.get("error")
    took = time.monotonic() - t
    with contextlib.suppress(docker.errors.APIError):
        api.remove_image(tag, force=True)
    api.close()
    return round(took, 2), error


def phase(salt, ref, engine, bus, load=True):
    """One orchestrate for ``ref`` (with the load loop through both frontends): everything
    the analysis needs, raw."""
    if load:
        run, loads = load_during(lambda: orchestrate(salt, ref))
    else:
        run, loads = orchestrate(salt, ref), {}
    run["served_s"] = wait_served(ref, run["t0"], limit=60 if run["code"] == 0 else 5)
    run["served_now"] = {m: version(p)[0] for m, p in SERVERS.items()}
    run["ref"] = ref
    run["load"] = {m: lt.samples for m, lt in loads.items()}
    run["bus"] = bus.between(run["t0"], run["t1"])
    run["engine2"] = engine.between(run["t0"], run["t1"])
    return run


def collect(args):
    salt = Salt(args.salt_bin)
    token = json.loads((STATE / "secrets.json").read_text())["jenkins"]
    raw = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "branch": args.branch}
    active, _, _, _, _, _ = salt.run("jobs.active")
    if active:
        raise SystemExit(f"jobs are running on the chain's master, not now: {list(active)}")
    before = {m: version(p)[0] for m, p in SERVERS.items()}
    if len(set(before.values())) != 1 or None in before.values():
        raise SystemExit(f"the frontends do not serve one version: {before}")
    served = raw["served_before"] = before["web1"]
    # the monitor window from the pillar scripts/chain.py wrote (salt masks pillar.get output)
    pillar = yaml.safe_load((STATE / "srv" / "pillar" / "chain.sls").read_text())["chain"]
    defaults = yaml.safe_load((REPO / "formulas" / "chain" / "defaults.yaml").read_text())
    update = dict(defaults["chain"]["service"]["update"])
    update.update(((pillar.get("service") or {}).get("update")) or {})
    raw["monitor"] = float(update["monitor"])
    say(f"served before: {served}; monitor {raw['monitor']:g} s; branch {args.branch}")

    bus = Bus()
    bus.start()
    bus.ready.wait(30)
    engine = Engine(ENGINE2)
    engine.start()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-orchestrate-"))
    clone = tmp / "app"
    try:
        git("clone", "-q", SOURCE, str(clone))
        git("checkout", "-q", "-b", "bench", served, cwd=clone)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        good = commit(
            clone,
            f"app: benchmark greeting ({stamp})",
            lambda text: text.replace(
                GREETING, f"hello from benchmarks/orchestrate.py ({stamp}), version {{version}}"
            ),
        )
        raw["good_push_s"] = push(clone, args.branch)
        say(f"pushed {good} to {args.branch} in {raw['good_push_s']:.2f} s")

        raw["builds0"] = jenkins_builds(token)
        raw["good"] = phase(salt, good, engine, bus)
        raw["builds1"] = jenkins_builds(token)
        raw["noop"] = phase(salt, good, engine, bus, load=False)
        raw["builds2"] = jenkins_builds(token)

        minion = yaml.safe_load((STATE / "etc" / "build1" / "minion").read_text())
        context = pathlib.Path(minion["cachedir"]) / "saltext-chain" / f"{APP}-artifacts"
        context = context / good / "app"
        if context.is_dir():
            say(f"raw docker build of {context} (engine 1, no cache)")
            tag = f"saltext-chain/bench-orchestrate:{good[:12]}"
            seconds, error = raw_build(context, good, good, tag)
            raw["raw_build"] = {"seconds": seconds, "error": error, "context": str(context)}
        else:
            raw["raw_build"] = {"seconds": None, "error": f"no artifact context at {context}"}

        if not args.skip_bad:
            bad = commit(
                clone,
                "app: unhealthy in its image (benchmark)",
                lambda text: text.replace(HEALTHY, UNHEALTHY),
            )
            raw["bad_push_s"] = push(clone, args.branch)
            say(f"pushed {bad} (unhealthy in its image) to {args.branch}")
            raw["bad"] = phase(salt, bad, engine, bus)
            raw["builds3"] = jenkins_builds(token)
            # the same on the second server only: the first one is updated, then rolled back
            second = list(SERVERS)[1]
            subnet = ((pillar.get("servers") or {}).get(second) or {}).get("network", {})
            subnet = subnet.get("subnet")
            if subnet:
                bad2 = commit(
                    clone,
                    f"app: unhealthy on {second} only (benchmark)",
                    lambda text: text.replace(UNHEALTHY, UNHEALTHY_ON.format(subnet=subnet)),
                )
                raw["bad2_push_s"] = push(clone, args.branch)
                raw["bad2_server"] = second
                say(f"pushed {bad2} (unhealthy in {subnet}, {second}'s network) to {args.branch}")
                raw["bad2"] = phase(salt, bad2, engine, bus)
                raw["builds4"] = jenkins_builds(token)
    finally:
        # leave the chain as found: the commit served before the run
        now = {m: version(p)[0] for m, p in SERVERS.items()}
        if set(now.values()) != {served}:
            raw["restore"] = phase(salt, served, engine, bus)
        bus.stop.set()
        engine.close()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "orchestrate-raw.json").write_text(json.dumps(raw, default=str))
    return raw


def load_summary(samples, want, t0):
    failed = [s for s in samples if s[2]]
    first = next((s[0] for s in samples if s[1] == want), None)
    last_other = max((s[0] for s in samples if s[1] != want), default=None)
    only = next(
        (s[0] for s in samples if s[1] == want and (last_other is None or s[0] > last_other)),
        None,
    )
    return {
        "requests": len(samples),
        "failed": len(failed),
        "errors": sorted({s[2] for s in failed})[:5],
        "versions": sorted({s[1] for s in samples if s[1]}),
        "first_new_s": None if first is None else round(first - t0, 2),
        "only_new_s": None if only is None else round(only - t0, 2),
        "last_seen_s": {
            v: round(max(x[0] for x in samples if x[1] == v) - t0, 2)
            for v in {x[1] for x in samples if x[1]}
        },
    }


def analyze(raw):
    res = {k: raw.get(k) for k in ("started", "branch", "served_before", "monitor")}
    run = raw.get("good")
    if run:
        good = run["ref"]
        build = next((b for b in raw["builds1"] if b["ref"] == good), None)
        image_state = find_state(state_returns(run["bus"], "chain.image"), "container_image_|-")
        pipe_state = find_state(state_returns(run["bus"], "chain.pipeline"), "jenkins_build_|-")
        roll = good_rollout(run["engine2"], run["bus"], run["t0"], run["t1"], raw["monitor"])
        jenkins_s = ((build or {}).get("duration") or 0) / 1000
        image_s = ((image_state or {}).get("duration") or 0) / 1000
        queue_s = None
        if build and pipe_state and pipe_state.get("start_time"):
            started = epoch_of_clock(pipe_state["start_time"], run["t0"])
            queue_s = round(build["timestamp"] / 1000 - started, 2)
        intrinsic = jenkins_s + image_s + roll.get("intrinsic_s", 0)
        overhead = run["wall"] - intrinsic
        monitor_s = roll.get("monitor_s", 0) * len(roll.get("replicas", []))
        rows = stage_rows(run["data"], run["wall"], run["bus"])
        inside = {
            "chain-pipeline": jenkins_s,
            "chain-image": image_s,
            "chain-rollout": roll.get("intrinsic_s", 0),
        }
        for row in rows:
            row["intrinsic_s"] = round(inside.get(row["stage"], 0), 2)
            row["rest_s"] = round(row["seconds"] - row["intrinsic_s"], 2)
        res["good"] = {
            "commit": good,
            "push_s": round(raw["good_push_s"], 2),
            "exit_code": run["code"],
            "wall_s": round(run["wall"], 2),
            "served_after_orchestrate_start_s": run["served_s"],
            "stages": rows,
            "slow_states": slow_states(run["bus"]),
            "rollout_changes": (stages(run["data"]).get("chain-rollout") or {}).get("changes"),
            "jenkins_build": {
                k: (build or {}).get(k) for k in ("number", "result", "duration", "timestamp")
            },
            "jenkins_trigger_to_build_start_s": queue_s,
            "jenkins_pipeline_state_s": round(((pipe_state or {}).get("duration") or 0) / 1000, 2),
            "builds_started": len(raw["builds1"]) - len(raw["builds0"]),
            "image_state_s": round(image_s, 2),
            "image_state_changes": (image_state or {}).get("changes"),
            "raw_docker_build": raw.get("raw_build"),
            "rollout": roll,
            "intrinsic_s": round(intrinsic, 2),
            "overhead_s": round(overhead, 2),
            "overhead_share_of_intrinsic": round(overhead / intrinsic, 3) if intrinsic else None,
            "intrinsic_without_monitor_s": round(intrinsic - monitor_s, 2),
            "overhead_share_without_monitor": (
                round((overhead + monitor_s) / (intrinsic - monitor_s), 3)
                if intrinsic > monitor_s
                else None
            ),
            "load": {m: load_summary(s, good, run["t0"]) for m, s in run["load"].items()},
        }
    run = raw.get("noop")
    if run:
        res["noop"] = {
            "exit_code": run["code"],
            "wall_s": round(run["wall"], 2),
            "stages": stage_rows(run["data"], run["wall"], run["bus"]),
            "builds_started": len(raw["builds2"]) - len(raw["builds1"]),
            "slow_states": slow_states(run["bus"]),
            "states_with_changes": changed_states(state_returns(run["bus"]))
            + changed_states(state_returns(run["bus"], fun="state.apply")),
            "served": run["served_now"],
        }
    for key, builds in (("bad", ("builds2", "builds3")), ("bad2", ("builds3", "builds4"))):
        run = raw.get(key)
        if not run:
            continue
        res[key] = {
            "commit": run["ref"],
            "exit_code": run["code"],
            "wall_s": round(run["wall"], 2),
            "stages": stage_rows(run["data"], run["wall"], run["bus"]),
            "builds_started": len(raw[builds[1]]) - len(raw[builds[0]]),
            "rollout": bad_rollout(run["engine2"], run["bus"], run["t0"], run["t1"]),
            "load": {
                m: load_summary(s, raw["good"]["ref"], run["t0"]) for m, s in run["load"].items()
            },
            "served_after": run["served_now"],
        }
    run = raw.get("restore")
    if run:
        res["restore"] = {
            "commit": run["ref"],
            "exit_code": run["code"],
            "wall_s": round(run["wall"], 2),
            "served_after_orchestrate_start_s": run["served_s"],
            "stages": stage_rows(run["data"], run["wall"], run["bus"]),
            "load": {m: load_summary(s, run["ref"], run["t0"]) for m, s in run["load"].items()},
            "served_after": run["served_now"],
        }
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--salt-bin", default=str(pathlib.Path(sys.executable).parent))
    parser.add_argument("--branch", default=f"bench/orchestrate-{time.strftime('%Y%m%d%H%M%S')}")
    parser.add_argument("--skip-bad", action="store_true", help="no bad commit (phase 3)")
    parser.add_argument(
        "--analyze", metavar="RAW", help="only analyze a raw file of an earlier run"
    )
    args = parser.parse_args()
    raw = json.loads(pathlib.Path(args.analyze).read_text()) if args.analyze else collect(args)
    res = analyze(raw)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "orchestrate.json").write_text(json.dumps(res, indent=2, default=str))
    report(res)


def num(value):
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float | int) else value


def line(name, value, note=""):
    print(f"  {name:<50} {num(value):>8}  {note}".rstrip())


def stage_table(rows, intrinsic=False):
    head = f"  {'stage':<36} {'seconds':>8} {'states':>8}"
    print(head + (f" {'intrinsic':>9} {'rest':>8}" if intrinsic else "") + "  result")
    for row in rows:
        text = f"  {row['stage']:<36} {num(row['seconds']):>8} {num(row.get('states_s')):>8}"
        if intrinsic:
            text += f" {num(row.get('intrinsic_s')):>9} {num(row.get('rest_s')):>8}"
        print(text + ("" if row["result"] is None else f"  {row['result']}"))


def loads_line(loads):
    for m, load in (loads or {}).items():
        print(
            f"  load {m}: {load['requests']} requests, {load['failed']} failed, "
            f"versions seen {[v[:10] for v in load['versions']]}"
        )


def slow_line(rows):
    if rows:
        print(
            "  states >= 0.5 s: "
            + "; ".join(f"{r['minion']} {r['state']} {r['seconds']:.2f}" for r in rows)
        )


def bad_report(bad):
    stage_table(bad["stages"])
    line(f"salt-run wall (exit {bad['exit_code']})", bad["wall_s"])
    print(f"  builds started: {bad['builds_started']}")
    roll = bad["rollout"]
    print("  seconds from the rollout's start (event chain/rollout/app/start):")
    for name, rep in roll.get("replicas", {}).items():
        what = "rollback replica" if rep["rollback"] else "new replica"
        marks = ", ".join(
            f"{k} {rep[k]}" for k in ("healthy", "unhealthy", "entered", "destroy") if rep.get(k)
        )
        print(f"    {what} {name}: created {rep.get('create')}, {marks}")
    for srv in roll.get("servers", []):
        line(f"  server {srv['target']} done, result {srv['result']}", srv["done_s"])
        print(f"      {srv['comment'][:160]}")
    for rb in roll.get("rollbacks", []):
        line(f"  rollback of {rb['target']} started", rb["start_s"])
    line("  detected: a new replica unhealthy (engine event)", roll.get("detected_s"))
    line("  every new replica drained and removed", roll.get("bad_removed_s"))
    if roll.get("rollbacks"):
        line("  rolled-back replicas all in the frontend", roll.get("restored_in_frontend_s"))
    line("  rollout done (runner)", roll.get("rollout_s"))
    print(f"  served after: {bad['served_after']}")
    loads_line(bad["load"])
    for m, load in bad["load"].items():
        last = {v[:10]: t for v, t in load.get("last_seen_s", {}).items()}
        print(f"    {m}: last answer of each version, from salt-run's start: {last}")


def report(res):  # noqa: PLR0915 - a long table
    good, noop = res.get("good") or {}, res.get("noop") or {}
    print()
    if good:
        say(f"1. commit -> served: {good['commit']} on {res['branch']}")
        print(f"  git push to the source server: {good['push_s']:.2f} s")
        stage_table(good["stages"], intrinsic=True)
        line(f"salt-run wall (exit {good['exit_code']})", good["wall_s"])
        slow_line(good.get("slow_states"))
        roll = good["rollout"]
        jb = good["jenkins_build"]
        print("  intrinsic work:")
        line(
            f"  Jenkins build #{jb['number']} {jb['result']}: duration",
            (jb["duration"] or 0) / 1000,
            f"(state {good['jenkins_pipeline_state_s']} s, trigger -> start "
            f"{good['jenkins_trigger_to_build_start_s']} s)",
        )
        line("  container_image.present (build + push)", good["image_state_s"])
        raw = good.get("raw_docker_build") or {}
        line("    raw docker SDK build, same context, no cache", raw.get("seconds"), "not counted")
        line("  image pull on engine 2 (web1's apply)", roll.get("pull_s"))
        for rep in roll.get("replicas", []):
            line(
                f"  {rep['name']} create->in frontend",
                rep.get("create_to_in_frontend"),
                f"(->healthy {rep.get('create_to_healthy')}, "
                f"->in frontend +{rep.get('healthy_to_in_frontend')})",
            )
        n = len(roll.get("replicas", []))
        line(f"  monitor window, {n} x {roll.get('monitor_s'):g} s", n * roll.get("monitor_s", 0))
        line("  intrinsic total", good["intrinsic_s"])
        share = good["overhead_share_of_intrinsic"]
        line(
            "overhead = wall - intrinsic",
            good["overhead_s"],
            f"= {share:.0%} of the intrinsic work (goal <= 10%)" if share is not None else "",
        )
        share = good["overhead_share_without_monitor"]
        line(
            "  intrinsic without the monitor windows",
            good["intrinsic_without_monitor_s"],
            f"overhead {good['overhead_s'] + n * roll.get('monitor_s', 0):.2f} s = {share:.0%}"
            if share is not None
            else "",
        )
        servers = good.get("rollout_changes") or {}
        print(
            "  rollout changed: "
            + ", ".join(f"{m} {v.get('old')} -> {v.get('new')}" for m, v in servers.items())
            + f"; runner {roll.get('rollout_s')} s"
        )
        loads = good["load"]
        print(
            "  new version, from the orchestrate's start: first answer "
            + ", ".join(f"{m} {v['first_new_s']} s" for m, v in loads.items())
            + "; only answer "
            + ", ".join(f"{m} {v['only_new_s']} s" for m, v in loads.items())
            + f"; both checked after salt-run: {good['served_after_orchestrate_start_s']} s"
        )
        loads_line(loads)
    if noop:
        print()
        say("2. no-op orchestrate for the deployed commit")
        stage_table(noop["stages"])
        line(f"salt-run wall (exit {noop['exit_code']})", noop["wall_s"], "goal <= 8 s")
        slow_line(noop.get("slow_states"))
        print(
            f"  builds started: {noop['builds_started']}; states with changes: "
            f"{noop['states_with_changes'] or 'none'}; served {noop['served']}"
        )
    titles = {
        "bad": "3. a commit unhealthy in its image, caught on the first server",
        "bad2": "3b. a commit unhealthy on the second server only: the first one rolled back",
    }
    for key, title in titles.items():
        bad = res.get(key)
        if bad:
            print()
            say(f"{title}: {bad['commit']}")
            bad_report(bad)
    restore = res.get("restore")
    if restore:
        print()
        say(f"restored {restore['commit']}: exit {restore['exit_code']}, {restore['wall_s']} s")
        loads_line(restore["load"])
        print(f"  served after: {restore['served_after']}")
    print(f"\nresults: {RESULTS / 'orchestrate.json'} (raw: orchestrate-raw.json)")


if __name__ == "__main__":
    main()
