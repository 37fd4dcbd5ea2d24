#!/usr/bin/env python3
"""A jenkins_agent pool under a burst (issue 17, "Load held"): ``max: 16`` and 50 builds queued at
once on the Jenkins emulator; every build runs exactly once, the pool never exceeds its caps, it
returns to ``min``; the makespan against the ideal (50 x build time / 16).

Run from the repository root with the project's venv (engine 1 up, the Debian base image built
by ``scripts/bootstrap``)::

    .venv/bin/python benchmarks/load_pool.py                       # ~2 minutes
    .venv/bin/python benchmarks/load_pool.py --builds 50 --max 16 --build-seconds 4

Like ``benchmarks/agent_pool.py`` (whose helpers it uses), it builds the agent image under a
run-unique tag, starts an emulator on 127.0.0.1 and loads the extension in this process
(``salt.client.Caller``). One parameterized job (``N``, so that no two queued items are
identical and collapse) runs ``sleep <build seconds>`` on the pool's label. The 50 builds are
queued, then ``jenkins_agent.reconcile`` runs every ``--interval`` s, as the formula's schedule
does, while another thread samples every 0.2 s the pool's containers on the engine (label
``org.saltext-chain.jenkins-agent.pool``) and the controller's online agents of the pool, until
every build has ended and the pool is back to ``min``.

Figures: makespan (first queued -> last build ended) and ideal = ceil-free ``builds x build
seconds / max``; time back to ``min``; peak containers, peak online agents, peak concurrent
builds (from the builds' own start and duration) against ``max``; builds per ``N`` (each must be
1) and results; builds per agent. Results: ``benchmarks/results/load_pool.json``. It asserts
nothing. Everything it creates carries ``org.saltext-chain.jenkins-agent.owner=bench-<run>`` and
is removed at the end, also after an error.
"""

import argparse
import collections
import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import agent_pool as ap  # noqa: E402  pylint: disable=wrong-import-position
import docker  # noqa: E402

from saltext.chain.emulator import testing  # noqa: E402
from tests.support import agents  # noqa: E402

RESULTS = ap.REPO / "benchmarks" / "results" / "load_pool.json"
JOB_XML = (
    "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>bench</description>"
    "<properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>"
    "<hudson.model.StringParameterDefinition><name>N</name><defaultValue></defaultValue>"
    "</hudson.model.StringParameterDefinition></parameterDefinitions>"
    "</hudson.model.ParametersDefinitionProperty></properties>"
    "<assignedNode>{label}</assignedNode><canRoam>false</canRoam><quietPeriod>0</quietPeriod>"
    "<disabled>false</disabled><concurrentBuild>true</concurrentBuild><builders>"
    "<hudson.tasks.Shell><command>echo build $N; sleep {seconds}</command></hudson.tasks.Shell>"
    "</builders><publishers/><buildWrappers/></project>"
)
POOL_LABEL = "org.saltext-chain.jenkins-agent.pool"


class Sampler(threading.Thread):
    """Peak containers of the pool on the engine and online agents on the controller."""

    def __init__(self, client, salt_call, pool):
        super().__init__(daemon=True)
        self.client, self.salt_call, self.pool = client, salt_call, pool
        self.stop = threading.Event()
        self.samples = []  # (time, containers, online)

    def run(self):
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                ctrs = self.client.containers.list(
                    all=True, filters={"label": f"{POOL_LABEL}={self.pool}"}
                )
                nodes = self.salt_call.cmd("jenkins.nodes") or {}
                online = [
                    n
                    for n, info in nodes.items()
                    if str(n).startswith(self.pool) and not (info or {}).get("offline")
                ]
                self.samples.append((time.time(), len(ctrs), len(online)))
            self.stop.wait(0.2)


def _builds(salt_call, job, count):
    out = []
    for number in range(1, count + 5):
        info = salt_call.cmd("jenkins.build_info", job, number)
        if not info:
            break
        params = {}
        for action in info.get("actions") or []:
            for p in (action or {}).get("parameters") or []:
                params[p.get("name")] = p.get("value")
        out.append(
            {
                "number": number,
                "n": params.get("N"),
                "result": info.get("result"),
                "building": info.get("building"),
                "start": info.get("timestamp", 0) / 1000,
                "end": (info.get("timestamp", 0) + info.get("duration", 0)) / 1000,
                "on": info.get("builtOn"),
            }
        )
    return out


def _peak_overlap(builds):
    edges = sorted([(b["start"], 1) for b in builds] + [(b["end"], -1) for b in builds])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def burst(args, salt_call, client, image, run):
    pool, job = f"b{run}-burst", f"bench-{run}-burst"
    kw = ap.pool_args(
        pool, min=args.min, max=args.max, max_starting=args.max_starting, engine_cap=args.max + 4
    )
    salt_call.cmd(
        "jenkins.job_create",
        job,
        config_xml=JOB_XML.format(label=kw["label"], seconds=args.build_seconds),
    )
    salt_call.cmd("jenkins_agent.reconcile", pool, image, **kw)
    salt_call.cmd("jenkins_agent.wait_pool", pool, args.min, timeout=180)
    sampler = Sampler(client, salt_call, pool)
    sampler.start()
    queued = time.time()
    for i in range(args.builds):
        salt_call.cmd("jenkins.build", job, parameters={"N": str(i)}, wait=False)
    queued_all = time.time()
    passes, errors, done_at, back_at, builds = 0, [], None, None, []
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        out = salt_call.cmd("jenkins_agent.reconcile", pool, image, **kw)
        passes += 1
        if not isinstance(out, dict):
            errors.append(str(out)[:300])
        if done_at is None:
            builds = _builds(salt_call, job, args.builds)
        if (
            done_at is None
            and len(builds) >= args.builds
            and not any(b["building"] for b in builds)
        ):
            done_at = time.time()
        if done_at:
            left = client.containers.list(all=True, filters={"label": f"{POOL_LABEL}={pool}"})
            if len(left) == args.min:
                back_at = time.time()
                break
        time.sleep(args.interval)
    sampler.stop.set()
    sampler.join()
    per_n = collections.Counter(b["n"] for b in builds)
    ideal = args.builds * args.build_seconds / args.max
    last_end = max((b["end"] for b in builds), default=queued)
    return {
        "builds": args.builds,
        "max": args.max,
        "min": args.min,
        "max_starting": args.max_starting,
        "build_seconds": args.build_seconds,
        "queue_seconds": round(queued_all - queued, 2),
        "makespan_s": round(last_end - queued, 2),
        "ideal_s": round(ideal, 2),
        "makespan_over_ideal": round((last_end - queued) / ideal, 2),
        "back_to_min_s": round(back_at - queued, 2) if back_at else None,
        "peak_containers": max((s[1] for s in sampler.samples), default=None),
        "peak_online": max((s[2] for s in sampler.samples), default=None),
        "peak_concurrent_builds": _peak_overlap(builds),
        "builds_seen": len(builds),
        "each_n_once": sorted(per_n.values()) == [1] * args.builds
        and set(per_n) == {str(i) for i in range(args.builds)},
        "results": dict(collections.Counter(b["result"] for b in builds)),
        "agents_used": len({b["on"] for b in builds}),
        "builds_per_agent_max": max(collections.Counter(b["on"] for b in builds).values()),
        "reconcile_passes": passes,
        "reconcile_errors": errors[:5],
        "samples": len(sampler.samples),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--max", type=int, default=16)
    parser.add_argument("--min", type=int, default=1)
    parser.add_argument("--max-starting", type=int, default=8)
    parser.add_argument("--build-seconds", type=float, default=4.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    run = secrets.token_hex(3)
    owner = f"bench-{run}"
    image = agents.build_agent_image(tag=f"saltext-chain/bench-{run}-agent:1")
    client = docker.DockerClient(base_url=ap.ENGINE1, version="auto")
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-pool-") as tmpdir,
        testing.running_emulator(Path(tmpdir) / "home") as (url, user, token),
    ):
        salt_call = ap.caller(Path(tmpdir), url, user, token, owner)
        try:
            results = {"run": run, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            results.update(burst(args, salt_call, client, image, run))
        finally:
            for ctr in client.containers.list(
                all=True, filters={"label": f"org.saltext-chain.jenkins-agent.owner={owner}"}
            ):
                with contextlib.suppress(docker.errors.APIError):
                    ctr.remove(force=True)
            agents.remove_image(image)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:28} {value}")
    print(f"(all figures in {RESULTS.relative_to(ap.REPO)})")
    return 0


if __name__ == "__main__":
    os.chdir(ap.REPO)
    sys.exit(main())
