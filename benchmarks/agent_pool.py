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
"""

import argparse
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
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
