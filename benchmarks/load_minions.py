#!/usr/bin/env python3
"""10 minions applying the app's deploy state at once against the two engines (issue 17, "Load
held"): every one converges, none times out; the master's CPU and the slowest return.

Run from the repository root with the project's venv (both engines up, the Debian base image
built by ``scripts/bootstrap``)::

    flock -o /tmp/chain-heavy.lock .venv/bin/python benchmarks/load_minions.py   # ~2 minutes
    .venv/bin/python benchmarks/load_minions.py --minions 10 --cpu-load 4 --health-timeout 1

A salt-master and ``--minions`` salt-minions are started as salt-factories daemons (the same
``FactoriesManager`` the test suite uses, here without pytest) in a temporary root, on 127.0.0.1;
minion ``lm<i>`` uses engine 1 when ``i`` is even, engine 2 when odd (its ``container`` default
profile). The frontend image (images/haproxy) and the sample app (examples/app) are built on both
engines under run-unique tags. The pillar is ``formulas/chain``'s deploy pillar
(``tests/support/chain.py`` ``deploy_pillar``): ``per_minion`` names, a free loopback frontend
port and, on engine 2, a ``172.31.x.0/24`` network per minion (engine 2 accepts traffic between
containers only there), ``chain:image`` the app.

Then ``chain.deploy`` is published to every minion at once (``LocalClient.cmd_async``, the
master's event bus read for each ``salt/job/<jid>/ret/<minion>``), three times: ``first`` (every
minion creates its network, frontend and replica), ``noop`` (the same again: nothing to do) and
``rollout`` (a second build of the app, ``APP_VERSION`` ``<run>-2``, as a pillar override: every
minion rolls it out at once, start-first). During ``noop`` and ``rollout`` every frontend is
under a request load (``tests/support/load.py``: two clients each, one ``GET /version`` every
20 ms; a wrong status, a bad body or an exception is a failed request). Per phase: every
minion's return and its time after the publish (p50, max), states failed or changed, the
requests (good, failed, versions seen), every replica's last health probes (``State.Health.Log``:
exit code, duration) and the CPU seconds of the master's process tree (``psutil``). Results:
``benchmarks/results/load_minions.json``; asserts nothing.

The health check is the test suite's (``tests/support/load.HEALTH``, the chain formula's default: a
``GET /health`` through bash's ``/dev/tcp``, interval 1 s, retries 2, the request itself timing out
after 1 s) with a 3 s budget for the whole probe (``--health-timeout``, the suite's own is 1 s; the
update monitor follows the check's window) and ``--start-period`` (none by default). ``--cpu-load
N`` runs N busy-loop processes of its own during the phases (each bounded, stopped at the end): the
other suites' load of a shared 2-core machine, reproducibly. Everything it creates carries the
label ``saltext-chain.bench=load-<run>`` and is removed at the end, also after an error; the
daemons are stopped by the manager.
"""

import argparse
import contextlib
import json
import multiprocessing
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
import psutil  # noqa: E402
import salt.client  # noqa: E402
import salt.utils.event  # noqa: E402
import yaml  # noqa: E402
from pytestshellutils.utils import ports  # noqa: E402
from saltfactories.manager import FactoriesManager  # noqa: E402
from saltfactories.plugins.event_listener import EventListener  # noqa: E402

from tests.support import engines  # noqa: E402
from tests.support.chain import build_haproxy, deploy_pillar  # noqa: E402
from tests.support.load import Load  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "load_minions.json"
LABEL = "saltext-chain.bench"


def build_images(run):
    tags = {
        "haproxy": f"saltext-chain/bench-{run}-haproxy:1",
        "app": f"saltext-chain/bench-{run}-app:1",
        "app2": f"saltext-chain/bench-{run}-app:2",
    }
    for engine in engines.ENGINES:
        client = engines.client(engine)
        build_haproxy(client, tags["haproxy"])
        for key, version in (("app", f"{run}-1"), ("app2", f"{run}-2")):
            client.images.build(
                path=str(REPO / "examples" / "app"),
                tag=tags[key],
                rm=True,
                forcerm=True,
                buildargs={"BASE_IMAGE": engines.DEBIAN, "APP_VERSION": version},
            )
        client.close()
    return tags


def free_subnets(count):
    """``count`` 172.31.x.0/24 subnets no network on engine 2 holds (x in 100..250)."""
    client = engines.client("engine2")
    used = set()
    for net in client.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            used.add(cfg.get("Subnet"))
    client.close()
    free = [f"172.31.{x}.0/24" for x in range(100, 251) if f"172.31.{x}.0/24" not in used]
    return free[:count]


def pillar(args, run, tags, minions):
    subnets = iter(free_subnets(len(minions)))
    port = {m: ports.get_unused_localhost_port() for m in minions}
    doc = deploy_pillar(f"load-{run}", tags["haproxy"], port, replicas=args.replicas)
    chain = doc["chain"]
    chain["labels"] = {LABEL: f"load-{run}"}
    chain["image"] = tags["app"]
    if args.health_timeout or args.start_period:
        health = dict(chain["service"]["healthcheck"])
        if args.health_timeout:
            health["timeout"] = f"{args.health_timeout}s"
        if args.start_period:
            health["start_period"] = f"{args.start_period}s"
        chain["service"]["healthcheck"] = health
        # the state refuses a monitor shorter than the check's window (retries x (interval 1 s +
        # timeout)): a team that lengthens the timeout lengthens the monitor with it
        window = health["retries"] * (1 + (args.health_timeout or 1))
        chain["service"]["update"] = dict(chain["service"]["update"], monitor=max(4, window))
    for i, m in enumerate(minions):
        if i % 2:
            chain["servers"][m]["network"] = {"subnet": next(subnets)}
    return doc


def cleanup(run):
    for engine in engines.ENGINES:
        client = engines.client(engine)
        flt = {"label": f"{LABEL}=load-{run}"}
        for ctr in client.containers.list(all=True, filters=flt):
            with contextlib.suppress(docker.errors.APIError):
                ctr.remove(force=True, v=True)
        for net in client.networks.list(filters=flt):
            with contextlib.suppress(docker.errors.APIError):
                net.remove()
        for tag in (
            f"saltext-chain/bench-{run}-haproxy:1",
            f"saltext-chain/bench-{run}-app:1",
            f"saltext-chain/bench-{run}-app:2",
        ):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag, force=True)
        client.close()


def health_logs(run):
    """Every benchmark container's state and its last health probes (``State.Health.Log``:
    exit code, how long each probe took, its output's end): why a replica was judged."""
    out = {}
    for engine in engines.ENGINES:
        client = engines.client(engine)
        flt = {"label": f"{LABEL}=load-{run}"}
        with contextlib.suppress(docker.errors.APIError):
            for ctr in client.api.containers(all=True, filters=flt):
                with contextlib.suppress(docker.errors.APIError):
                    state = client.api.inspect_container(ctr["Id"])["State"]
                    health = state.get("Health") or {}
                    logs = client.api.logs(ctr["Id"], tail=200).decode(errors="replace")
                    out[ctr["Names"][0].lstrip("/")] = {
                        # a frontend's own server checks: "Server app/s1 is DOWN, reason: ..."
                        "check_events": [
                            line[-200:]
                            for line in logs.splitlines()
                            if " is DOWN" in line or " is UP" in line or "no server" in line
                        ],
                        "engine": engine,
                        "status": state.get("Status"),
                        "health": health.get("Status"),
                        "streak": health.get("FailingStreak"),
                        "probes": [
                            {
                                "exit": p.get("ExitCode"),
                                "took_s": _took(p.get("Start"), p.get("End")),
                                "out": (p.get("Output") or "").strip()[-120:],
                            }
                            for p in health.get("Log") or []
                        ],
                    }
        client.close()
    return out


def _took(start, end):
    """Seconds between two engine timestamps (RFC 3339 with nanoseconds)."""
    from datetime import datetime  # noqa: PLC0415

    def parse(text):
        head, _, frac = text.rstrip("Z").partition(".")
        frac = frac.split("+")[0].split("-")[0]
        return datetime.fromisoformat(head).timestamp() + float(f"0.{frac or 0}")

    try:
        return round(parse(end) - parse(start), 2)
    except (AttributeError, ValueError):
        return None


def cpu_seconds(pid):
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def busy(seconds):
    """One core's worth of CPU pressure, bounded: spin for at most ``seconds``."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


@contextlib.contextmanager
def cpu_load(count, seconds):
    """``count`` busy-loop processes of the benchmark's own (each bounded to ``seconds``),
    stopped on leaving: the other suites' load of a shared CI machine, reproducibly."""
    procs = [
        multiprocessing.Process(target=busy, args=(seconds,), daemon=True) for _ in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)


def publish(master, minions, timeout, override=None, frontends=None):
    """chain.deploy on every minion at once (``override``: a pillar override, e.g. another
    image); each return's time after the publish. ``frontends``: ``{minion: port}`` under a
    request load (two clients each, ``tests/support/load.py``) for the whole phase."""
    with contextlib.ExitStack() as stack:
        loads = {m: stack.enter_context(Load(p, limit=10**7)) for m, p in (frontends or {}).items()}
        out = _publish(master, minions, timeout, override)
    if loads:
        out["requests"] = {
            "ok": sum(x.ok for x in loads.values()),
            "failed": sum(len(x.failed) for x in loads.values()),
            "failures": [f for x in loads.values() for f in x.failed][:10],
            "versions": sorted({v for x in loads.values() for v in x.versions}),
        }
    return out


def _publish(master, minions, timeout, override):
    opts = master.config.copy()
    bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
    client = salt.client.LocalClient(mopts=opts)
    pid = master.impl._terminal.pid  # pylint: disable=protected-access
    cpu0, t0 = cpu_seconds(pid), time.time()
    kwarg = {"pillar": override} if override else None
    jid = client.cmd_async(minions, "state.apply", ["chain.deploy"], tgt_type="list", kwarg=kwarg)
    returns = {}
    deadline = time.monotonic() + timeout
    while len(returns) < len(minions) and time.monotonic() < deadline:
        event = bus.get_event(wait=1, tag=f"salt/job/{jid}/ret/", full=True)
        if not event:
            continue
        data = event["data"]
        returns[data["id"]] = {"at": round(time.time() - t0, 2), "ret": data.get("return")}
    wall, cpu = time.time() - t0, cpu_seconds(pid) - cpu0
    bus.destroy()
    rows = {}
    for m in minions:
        got = returns.get(m)
        if got is None:
            rows[m] = {"returned": False}
            continue
        ret = got["ret"]
        states = ret.values() if isinstance(ret, dict) else []
        rows[m] = {
            "returned": True,
            "at_s": got["at"],
            "rendered": isinstance(ret, dict),
            "failed": [r.get("__id__") for r in states if r.get("result") is not True]
            if isinstance(ret, dict)
            else [str(ret)[:300]],
            "comments": [
                f"{r.get('__id__')}: {str(r.get('comment'))[:400]}"
                for r in states
                if r.get("result") is not True
            ],
            "changed": sum(1 for r in states if r.get("changes")),
            "changed_ids": [
                f"{r.get('__id__')}: {str(r.get('comment'))[:200]}"
                for r in states
                if r.get("changes")
            ],
            "states_s": round(sum(float(r.get("duration") or 0) for r in states) / 1000, 2),
        }
    back = [r for r in rows.values() if r["returned"]]
    return {
        "jid": jid,
        "wall_s": round(wall, 2),
        "master_cpu_s": round(cpu, 2),
        "master_cpu_share_of_2_cores": round(cpu / wall / 2, 3) if wall else None,
        "returned": len(back),
        "timed_out": [m for m, r in rows.items() if not r["returned"]],
        "converged": [m for m, r in rows.items() if r.get("returned") and not r["failed"]],
        "slowest_return_s": max((r["at_s"] for r in back), default=None),
        "fastest_return_s": min((r["at_s"] for r in back), default=None),
        "p50_return_s": statistics.median(r["at_s"] for r in back) if back else None,
        "changed_states": sum(r.get("changed", 0) for r in back),
        "minions": rows,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--minions", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    # the suite's probe (tests/support/load.HEALTH) with a budget a team would give a python3
    # exec probe on a shared host (Docker's example: 3 s): the slowest probe of a rollout of 10
    # under request load took 2.8 s; --health-timeout 1 is the suite's own 1 s
    parser.add_argument("--health-timeout", type=float, default=3, help="probe timeout (s)")
    parser.add_argument("--start-period", type=float, default=0, help="start period (s)")
    parser.add_argument(
        "--cpu-load",
        type=int,
        default=0,
        help="busy-loop processes of its own during the phases (another suite's load)",
    )
    args = parser.parse_args()
    run = secrets.token_hex(3)
    minions = [f"lm{i}-{run}" for i in range(args.minions)]
    results = {"run": run, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "args": vars(args)}
    t0 = time.time()
    tags = build_images(run)
    results["image_build_s"] = round(time.time() - t0, 1)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-load-minions-") as tmp,
            EventListener() as listener,
        ):
            root = Path(tmp)
            (root / "pillar").mkdir()
            (root / "pillar" / "top.sls").write_text(yaml.safe_dump({"base": {"*": ["bench"]}}))
            doc = pillar(args, run, tags, minions)
            (root / "pillar" / "bench.sls").write_text(yaml.safe_dump(doc))
            manager = FactoriesManager(
                root_dir=root / "factories",
                log_server_host="127.0.0.1",
                log_server_port=ports.get_unused_localhost_port(),
                log_server_level="warning",
                event_listener=listener,
                start_timeout=120,
            )
            master = manager.salt_master_daemon(
                f"lmaster-{run}",
                overrides={
                    "file_roots": {"base": [str(REPO / "formulas")]},
                    "pillar_roots": {"base": [str(root / "pillar")]},
                    "interface": "127.0.0.1",
                    "worker_threads": 5,
                },
            )
            with master.started(), contextlib.ExitStack() as stack:
                for i, m in enumerate(minions):
                    engine = "engine1" if i % 2 == 0 else "engine2"
                    factory = master.salt_minion_daemon(
                        m,
                        overrides={
                            "master": "127.0.0.1",
                            "container": {
                                "profiles": {
                                    "default": {"base_url": engines.ENGINES[engine], "timeout": 60}
                                }
                            },
                        },
                    )
                    stack.enter_context(factory.started())
                servers = doc["chain"]["servers"]
                frontends = {m: servers[m]["frontend"]["port"] for m in minions}
                phases = {
                    "first": {},
                    "noop": {"frontends": frontends},
                    "rollout": {
                        "frontends": frontends,
                        "override": {"chain": {"image": tags["app2"]}},
                    },
                }
                with cpu_load(args.cpu_load, 3 * args.timeout + 60):
                    for phase, how in phases.items():
                        results[phase] = publish(master, minions, args.timeout, **how)
                        results[phase]["containers"] = health_logs(run)
    finally:
        cleanup(run)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(
        f"{args.minions} minions (even: engine 1, odd: engine 2), {args.replicas} replica(s) each"
    )
    for phase in ("first", "noop", "rollout"):
        r = results.get(phase) or {}
        req = r.get("requests")
        print(
            f"{phase:7} returned {r.get('returned')}/{args.minions}, converged "
            f"{len(r.get('converged') or [])}, timed out {r.get('timed_out')}, return p50 "
            f"{r.get('p50_return_s')} s, max {r.get('slowest_return_s')} s (min "
            f"{r.get('fastest_return_s')} s), "
            + (
                f"requests {req['ok']} ok, {req['failed']} failed {req['versions']}, "
                if req
                else ""
            )
            + f"wall "
            f"{r.get('wall_s')} s, master CPU {r.get('master_cpu_s')} s "
            f"({r.get('master_cpu_share_of_2_cores')} of 2 cores), changed states "
            f"{r.get('changed_states')}"
        )
    print(f"(all figures in {RESULTS.relative_to(REPO)})")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
