#!/usr/bin/env python3
"""Benchmark jenkins_agent pools on engine 1 against the Jenkins emulator (a subprocess on
127.0.0.1), through Salt's loader in this process (``salt.client.Caller``, local file client).

Run from the repository root with the project's venv (engine 1 up, the Debian base image built
by ``scripts/bootstrap``)::

    .venv/bin/python benchmarks/agent_pool.py            # ~3 minutes
    .venv/bin/python benchmarks/agent_pool.py --queue-runs 10 --noop-runs 5

What it measures, all in one run:

- ``one``: one agent from zero to online (``jenkins_agent.reconcile`` with ``min: 1`` then
  ``jenkins_agent.wait_pool``), wall time; ``eight``: the same with ``min: 8``,
  ``max_starting: 8``; the ratio eight/one (goal <= 2);
- ``queue``: a build queued for a pool at ``min: 0`` until it started on a new agent (the
  reconcile pass running every ``--interval`` seconds, as the formula's schedule does; the
  job's quiet period is 0), median over ``--queue-runs``; each run starts from zero agents;
- ``noop``: ``state.single jenkins_agent.pool`` on the pool of 8 that is already as declared:
  Salt's ``duration`` (ms), median over ``--noop-runs`` (goal <= 200 ms);
- ``secret``: every agent's secret looked for in ``docker inspect`` of every agent container and
  in every return collected during the run (must be absent).

It prints a table and writes ``benchmarks/results/agent_pool.json``. It asserts nothing.

``--profile`` measures only ``one`` and ``eight`` (``--profile-rounds`` times each) and splits
them into phases: the pass before its launches, each launch call (``jenkins.node_info``,
``jenkins.node_create``, ``jenkins.agent_secret``, ``container.create``, ``container.copy_to``,
``container.start``; timed around the loader's functions), the engine's start of the container
(``State.StartedAt``), the emulated agent's Python start (until its first log line), its
connection until the controller shows the node online (``computer/api/json`` read every 20 ms
from another thread), and the rest of ``wait_pool`` after the last agent came online.
"""

import argparse
import base64
import contextlib
import datetime
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402
import salt.client  # noqa: E402
import salt.config  # noqa: E402

from saltext.chain.emulator import testing  # noqa: E402
from tests.support import agents  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "agent_pool.json"
ENGINE1 = "unix:///var/run/docker.sock"
JOB_XML = (
    "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>bench</description>"
    "<assignedNode>{label}</assignedNode><canRoam>false</canRoam><quietPeriod>0</quietPeriod>"
    "<disabled>false</disabled><concurrentBuild>true</concurrentBuild><builders>"
    "<hudson.tasks.Shell><command>true</command></hudson.tasks.Shell></builders><publishers/>"
    "<buildWrappers/></project>"
)


def caller(tmp, url, user, token, minion_id):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "id": minion_id,
            "file_client": "local",
            "module_dirs": [str(REPO)],
            "cachedir": str(tmp / "cache"),
            "pki_dir": str(tmp / "pki"),
            "sock_dir": str(tmp / "sock"),
            "log_file": str(tmp / "minion.log"),
            "file_roots": {"base": [str(tmp / "files")]},
            "container": {
                "default_profile": "engine1",
                "profiles": {"engine1": {"base_url": ENGINE1, "timeout": 60}},
            },
            "jenkins": {
                "default_profile": "emu",
                "profiles": {"emu": {"url": url, "user": user, "token": token, "timeout": 10}},
            },
        }
    )
    for sub in ("cache", "pki", "sock", "files"):
        (tmp / sub).mkdir(exist_ok=True)
    return salt.client.Caller(mopts=opts)


def pool_args(pool, **kw):
    return {
        "label": f"{pool}-l",
        "connect_timeout": 120,
        "idle_minutes": 0,
        "container_options": {"network_mode": "host"},
        **kw,
    }


LAUNCH_CALLS = (
    "jenkins.node_info",
    "jenkins.node_create",
    "jenkins.agent_secret",
    "container.create",
    "container.copy_to",
    "container.start",
)


class Timeline:
    """Start/end times of the launch calls (wrapped in the caller's loader) and the first time
    the controller showed each node online."""

    def __init__(self, salt_call, url, user, token):
        self.calls = []
        self.online = {}
        self._stop = threading.Event()
        self._url = url + "computer/api/json?tree=computer[displayName,offline]"
        self._auth = base64.b64encode(f"{user}:{token}".encode()).decode()
        functions = salt_call.sminion.functions
        for fun in LAUNCH_CALLS:
            functions[fun]  # noqa: B018 - loads the function into the loader's dict
            # the raw function: the loader's LoadedFunc looks its function up by name at each
            # call, so it would find (and call) the wrapper below
            original = functions._dict[fun]  # pylint: disable=protected-access

            def timed(*args, _original=original, _fun=fun, **kwargs):
                start = time.time()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.calls.append((_fun, args[0] if args else None, start, time.time()))

            functions[fun] = timed

    def _watch(self):
        while not self._stop.is_set():
            req = urllib.request.Request(
                self._url, headers={"Authorization": "Basic " + self._auth}
            )
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(req, timeout=5) as resp:
                    now = time.time()
                    for comp in json.load(resp).get("computer") or []:
                        if not comp.get("offline"):
                            self.online.setdefault(comp["displayName"], now)
            self._stop.wait(0.02)

    def __enter__(self):
        self.calls.clear()
        self.online.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def _engine_time(text):
    """An engine timestamp (RFC 3339 with nanoseconds) as epoch seconds."""
    text = text.rstrip("Z")
    main, _, frac = text.partition(".")
    stamp = datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.UTC)
    return stamp.timestamp() + float("0." + (frac or "0"))


def profile_round(call, timeline, client, image, pool, count):
    """One pool from zero to ``count`` online, split into phases (seconds)."""
    with timeline:
        start = time.time()
        call(
            "jenkins_agent.reconcile",
            pool,
            image,
            **pool_args(pool, min=count, max=count, max_starting=count),
        )
        reconciled = time.time()
        call("jenkins_agent.wait_pool", pool, count, timeout=180)
        end = time.time()
    nodes = sorted({node for fun, node, *_ in timeline.calls if fun == "container.start"})
    per = {fun: [] for fun in LAUNCH_CALLS}
    for fun, _node, t0, t1 in timeline.calls:
        per[fun].append(t1 - t0)
    first_call = min(t0 for *_, t0, _t1 in timeline.calls)
    last_start = max(t1 for fun, _n, _t0, t1 in timeline.calls if fun == "container.start")
    python, connect, engine_start = [], [], []
    for node in nodes:
        ctr = client.containers.get(node)
        started = _engine_time(ctr.attrs["State"]["StartedAt"])
        start_call = next(
            t0 for fun, n, t0, _ in timeline.calls if fun == "container.start" and n == node
        )
        first_line = ctr.logs(timestamps=True).decode(errors="replace").split(" ", 1)[0]
        first_log = _engine_time(first_line)
        engine_start.append(started - start_call)
        python.append(first_log - started)
        connect.append(timeline.online.get(node, end) - first_log)
    last_online = max(timeline.online.get(n, end) for n in nodes)
    return {
        "total": end - start,
        "before_launches": first_call - start,
        "launch_calls_span": last_start - first_call,
        **{f"{fun} (max)": max(v) for fun, v in per.items() if v},
        **{f"{fun} (sum)": sum(v) for fun, v in per.items() if v},
        "reconcile_after_launches": reconciled - last_start,
        "engine start (max)": max(engine_start),
        "agent python start (max)": max(python),
        "agent connect to online (max)": max(connect),
        "last online after the last start": last_online - last_start,
        "wait_pool after the last online": end - last_online,
    }


def profile(args, run, image, salt_call, call, client, url, user, token):
    timeline = Timeline(salt_call, url, user, token)
    rows = {}
    for key, count in (("one", 1), ("eight", 8)):
        rounds = []
        for i in range(args.profile_rounds):
            pool = f"b{run}-{key}{i}"
            rounds.append(profile_round(call, timeline, client, image, pool, count))
            # the next round starts from zero agents: nothing of this one left running
            for ctr in client.containers.list(
                all=True, filters={"label": f"org.saltext-chain.jenkins-agent.pool={pool}"}
            ):
                ctr.remove(force=True)
                salt_call.cmd("jenkins.node_delete", ctr.name)
        rows[key] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(
        f"{'phase (median of ' + str(args.profile_rounds) + ' rounds, s)':48} {'one':>7} "
        f"{'eight':>7}"
    )
    for key in rows["one"]:
        print(f"{key:48} {rows['one'][key]:7.3f} {rows['eight'].get(key, 0):7.3f}")
    print(f"{'ratio eight/one':48} {rows['eight']['total'] / rows['one']['total']:7.2f}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-runs", type=int, default=10)
    parser.add_argument("--noop-runs", type=int, default=5)
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between reconcile passes while a build waits (schedule)",
    )
    parser.add_argument("--profile", action="store_true", help="split one/eight into phases")
    parser.add_argument("--profile-rounds", type=int, default=3)
    args = parser.parse_args()
    run = secrets.token_hex(3)
    owner = f"bench-{run}"
    image = agents.build_agent_image(tag=f"saltext-chain/bench-{run}-agent:1")
    returns = []
    results = {"run": run, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    client = docker.DockerClient(base_url=ENGINE1, version="auto")
    with (
        tempfile.TemporaryDirectory(prefix="bench-agents-") as tmpdir,
        testing.running_emulator(Path(tmpdir) / "home") as (url, user, token),
    ):
        tmp = Path(tmpdir)
        salt_call = caller(tmp, url, user, token, owner)

        def call(fun, *a, **kw):
            out = salt_call.cmd(fun, *a, **kw)
            returns.append(out)
            return out

        try:
            if args.profile:
                results["profile"] = profile(
                    args, run, image, salt_call, call, client, url, user, token
                )
                return 0
            for key, count in (("one", 1), ("eight", 8)):
                pool = f"b{run}-{key}"
                start = time.perf_counter()
                call(
                    "jenkins_agent.reconcile",
                    pool,
                    image,
                    **pool_args(pool, min=count, max=count, max_starting=count),
                )
                call("jenkins_agent.wait_pool", pool, count, timeout=180)
                results[key] = round(time.perf_counter() - start, 2)
            results["ratio_eight_one"] = round(results["eight"] / results["one"], 2)

            pool8 = f"b{run}-eight"
            durations = []
            for _ in range(args.noop_runs):
                out = call(
                    "state.single",
                    "jenkins_agent.pool",
                    name=pool8,
                    image=image,
                    **pool_args(pool8, min=8, max=8, max_starting=8),
                )
                (state,) = out.values()
                assert not state["changes"], state
                durations.append(state["duration"])
            results["noop_ms"] = round(statistics.median(durations), 1)
            results["noop_ms_all"] = [round(d, 1) for d in durations]

            poolq = f"b{run}-q"
            job = f"bench-{run}-job"
            call("jenkins.job_create", job, config_xml=JOB_XML.format(label=f"{poolq}-l"))
            latencies = []
            qargs = pool_args(poolq, min=0, max=2)
            for i in range(1, args.queue_runs + 1):
                start = time.perf_counter()
                call("jenkins.build", job, wait=False)
                while True:
                    call("jenkins_agent.reconcile", poolq, image, **qargs)
                    info = call("jenkins.build_info", job, "lastBuild") or {}
                    if info.get("number") == i:
                        break
                    time.sleep(args.interval)
                latencies.append(time.perf_counter() - start)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:  # back to zero agents
                    info = call("jenkins.build_info", job, "lastBuild") or {}
                    out = call("jenkins_agent.reconcile", poolq, image, **qargs)
                    if not info.get("building") and not out["online"] and not out["starting"]:
                        break
                    time.sleep(0.5)
            results["queue_to_started_s_median"] = round(statistics.median(latencies), 2)
            results["queue_to_started_s_all"] = [round(x, 2) for x in latencies]

            containers = client.containers.list(
                all=True, filters={"label": f"org.saltext-chain.jenkins-agent.owner={owner}"}
            )
            node_secrets = {}
            for ctr in containers:
                node = ctr.labels["org.saltext-chain.jenkins-agent.node"]
                # not through call(): the secrets fetched here must not join the returns
                node_secrets[node] = salt_call.cmd("jenkins.agent_secret", node)
            blob = json.dumps([c.attrs for c in containers]) + json.dumps(returns, default=str)
            leaks = [n for n, s in node_secrets.items() if s and s in blob]
            results["secret_checked_containers"] = len(containers)
            results["secret_leaks"] = leaks
        finally:
            for ctr in client.containers.list(
                all=True, filters={"label": f"org.saltext-chain.jenkins-agent.owner={owner}"}
            ):
                with contextlib.suppress(docker.errors.APIError):
                    ctr.remove(force=True)
            agents.remove_image(image)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"{'row':32} value")
    for key in (
        "one",
        "eight",
        "ratio_eight_one",
        "noop_ms",
        "queue_to_started_s_median",
        "secret_checked_containers",
        "secret_leaks",
    ):
        print(f"{key:32} {results.get(key)}")
    print(f"(all figures in {RESULTS.relative_to(REPO)})")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
