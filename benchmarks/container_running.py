#!/usr/bin/env python3
"""Benchmark ``container.running`` against the raw docker SDK and saltext-dockermod 0.1.3.

Run from the repository root with the project's venv (engine 1 running, the busybox image built
by ``scripts/bootstrap``)::

    .venv/bin/python benchmarks/container_running.py

Everything is measured in one run, on one engine, with the same 20 container specs
(``saltext-chain/busybox:latest``, ``sleep 3600``, labels, an env var, restart policy, a port
published on 127.0.0.1 for every fourth container):

- raw docker SDK: sequential create + start of the 20 (wall time), then inspect of the 20 (wall
  time; the floor of a no-op);
- ours: ``salt-call --local state.apply`` of an sls with 20 ``container.running`` states
  (first apply), then no-op applies of the same sls, and of a 10-state sls;
- saltext-dockermod 0.1.3 (installed from PyPI with ``pip install --no-deps --target`` into
  ``benchmarks/.cache``, loaded only in its own ``salt-call`` processes): the same with
  ``docker_container.running``.

Salt's figure is the sum of the states' ``duration`` (ms, as Salt reports them); the span from
the first state's start to the last state's end and the ``salt-call`` process wall time are
recorded too. Phases run in rounds (``--rounds``), interleaved, every container removed between
phases; the table shows medians. Results go to ``benchmarks/results/container_running.json``.
This is a benchmark, not a test: it prints numbers and ratios, it asserts nothing.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import yaml

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results" / "container_running.json"

IMAGE = "saltext-chain/busybox:latest"
LABEL = "saltext-chain.bench"
DOCKERMOD = "saltext.dockermod==0.1.3"
ENGINE1 = "unix:///var/run/docker.sock"
PORT_BASE = {"raw": 28100, "ours": 28200, "dockermod": 28300}
TARGET_NOOP_MS = 300.0
TARGET_FIRST_RATIO = 1.1


# ---------------------------------------------------------------------------------------------
# The container specs
# ---------------------------------------------------------------------------------------------


def specs(side, count):
    """The ``count`` containers of one side: same shape on every side, distinct names and ports."""
    out = []
    for i in range(count):
        out.append(
            {
                "name": f"bench-{side}-{i:02d}",
                "command": ["sleep", "3600"],
                "labels": {LABEL: "1", f"{LABEL}.side": side},
                "environment": {"BENCH_INDEX": str(i)},
                "port": PORT_BASE[side] + i if i % 4 == 0 else None,
                "restart_policy": "unless-stopped",
            }
        )
    return out


def _sls(side_specs, state, ports_arg):
    """The same 20 containers as an sls for one side; only the state name and the ports
    argument differ between ours and dockermod's."""
    doc = {}
    for s in side_specs:
        args = [
            {"image": IMAGE},
            {"command": s["command"]},
            {"labels": s["labels"]},
            {"environment": s["environment"]},
            {"restart_policy": s["restart_policy"]},
        ]
        if s["port"]:
            args.append({ports_arg: [f"127.0.0.1:{s['port']}:80"]})
        doc[s["name"]] = {state: args}
    return yaml.safe_dump(doc, sort_keys=False)


def ours_sls(side_specs):
    return _sls(side_specs, "container.running", "ports")


def dockermod_sls(side_specs):
    return _sls(side_specs, "docker_container.running", "port_bindings")


# ---------------------------------------------------------------------------------------------
# Engine helpers (raw SDK)
# ---------------------------------------------------------------------------------------------


def api_client(engine):
    client = docker.APIClient(base_url=engine, version="auto", timeout=60)
    client.ping()
    return client


def remove_bench_containers(api):
    for row in api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(row["Id"], force=True, v=True)
    left = api.containers(all=True, filters={"label": f"{LABEL}=1"})
    if left:
        raise SystemExit(f"could not remove benchmark containers: {[r['Names'] for r in left]}")


def busy_ports(all_specs):
    busy = []
    for port in (s["port"] for s in all_specs if s["port"]):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def raw_create_start(api, side_specs):
    t0 = time.perf_counter()
    for s in side_specs:
        host = {"restart_policy": {"Name": s["restart_policy"]}}
        kwargs = {}
        if s["port"]:
            host["port_bindings"] = {80: ("127.0.0.1", s["port"])}
            kwargs["ports"] = [80]
        created = api.create_container(
            IMAGE,
            command=s["command"],
            name=s["name"],
            labels=s["labels"],
            environment=s["environment"],
            host_config=api.create_host_config(**host),
            detach=True,
            **kwargs,
        )
        api.start(created["Id"])
    return (time.perf_counter() - t0) * 1000


def raw_inspect(api, side_specs):
    t0 = time.perf_counter()
    for s in side_specs:
        api.inspect_container(s["name"])
    return (time.perf_counter() - t0) * 1000


def engine_actions(api, since):
    """Actions on benchmark-labelled containers since ``since`` (epoch seconds): {action: count}.

    Only containers carrying the benchmark label count (dockermod's throw-away comparison
    containers carry it too), so other users of the engine do not show up here.
    """
    time.sleep(0.2)
    counts = {}
    filters = {"type": "container", "label": f"{LABEL}=1"}
    for event in api.events(since=int(since), until=time.time(), filters=filters, decode=True):
        if event.get("timeNano", 0) / 1e9 >= since:
            action = event.get("Action", "").split(":")[0]
            counts[action] = counts.get(action, 0) + 1
    return counts


def watched(api, checks, key, func, *args):
    """Run ``func`` and record which container actions the engine saw meanwhile."""
    since = time.time()
    result = func(*args)
    checks.setdefault("engine_container_actions", {})[key] = engine_actions(api, since)
    return result


# ---------------------------------------------------------------------------------------------
# Salt sides: a config dir per side, salt-call --local per apply
# ---------------------------------------------------------------------------------------------


def our_module_names():
    names = {}
    for kind in ("modules", "states", "grains", "beacons", "runners"):
        names[kind] = sorted(
            p.stem for p in (REPO / f"_{kind}").glob("*.py") if p.stem != "__init__"
        )
    return names


class SaltSide:
    def __init__(self, name, workdir, engine, extra_config, pythonpath=None):
        self.name = name
        self.confdir = workdir / name / "conf"
        self.srv = workdir / name / "srv"
        self.confdir.mkdir(parents=True)
        self.srv.mkdir(parents=True)
        config = {
            "root_dir": str(workdir / name / "root"),
            "file_client": "local",
            "file_roots": {"base": [str(self.srv)]},
            "user": _user(),
            "log_level": "warning",
            "log_level_logfile": "warning",
            **extra_config,
        }
        (self.confdir / "minion").write_text(yaml.safe_dump(config))
        self.env = dict(os.environ)
        self.env.pop("PYTHONPATH", None)
        self.env.pop("DOCKER_HOST", None)
        if pythonpath:
            self.env["PYTHONPATH"] = str(pythonpath)
        self.engine = engine

    def write_sls(self, sls, text):
        (self.srv / f"{sls}.sls").write_text(text)

    def salt_call(self, *args, wrapper=()):
        cmd = [
            *wrapper,
            salt_call_bin(),
            "--local",
            "-c",
            str(self.confdir),
            "--out=json",
            "--no-color",
            *args,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
        wall = (time.perf_counter() - t0) * 1000
        try:
            data = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError, TypeError):
            raise SystemExit(
                f"[{self.name}] salt-call {' '.join(args)} failed (rc {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            ) from None
        return data, wall

    def apply(self, sls, wrapper=()):
        data, wall = self.salt_call("state.apply", sls, wrapper=wrapper)
        if not isinstance(data, dict):
            raise SystemExit(f"[{self.name}] state.apply {sls} did not run: {data}")
        return summarize(data, wall)


def summarize(states, wall):
    rows = sorted(states.values(), key=lambda r: r.get("__run_num__", 0))
    durations = [float(r.get("duration") or 0.0) for r in rows]
    starts = [_clock(r["start_time"]) for r in rows if r.get("start_time")]
    ends = [
        _clock(r["start_time"]) + float(r.get("duration") or 0.0) / 1000
        for r in rows
        if r.get("start_time")
    ]
    failed = [f"{r.get('__id__')}: {r.get('comment')}" for r in rows if r.get("result") is not True]
    return {
        "states": len(rows),
        "sum_duration_ms": round(sum(durations), 3),
        "span_ms": round((max(ends) - min(starts)) * 1000, 3) if starts else None,
        "wall_ms": round(wall, 3),
        "first_state_ms": round(durations[0], 3) if durations else None,
        "median_state_ms": round(statistics.median(durations), 3) if durations else None,
        "max_state_ms": round(max(durations), 3) if durations else None,
        "changed": sum(1 for r in rows if r.get("changes")),
        "failed": failed,
        "comments": sorted({r.get("comment", "") for r in rows})[:3],
    }


def _clock(text):
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _user():
    import pwd  # pylint: disable=import-outside-toplevel

    return pwd.getpwuid(os.getuid()).pw_name


def salt_call_bin():
    local = Path(sys.executable).parent / "salt-call"
    return str(local) if local.exists() else shutil.which("salt-call") or "salt-call"


def install_dockermod(reinstall=False):
    target = CACHE / DOCKERMOD.replace("==", "-")
    marker = target / "saltext" / "dockermod" / "states" / "docker_container.py"
    if marker.exists() and not reinstall:
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    print(f"installing {DOCKERMOD} into {target} (pip --no-deps --target)", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(target),
            DOCKERMOD,
        ],
        check=True,
    )
    return target


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def median(samples, key="sum_duration_ms"):
    values = [s[key] if isinstance(s, dict) else s for s in samples]
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(args):
    api = api_client(args.engine)
    engine_version = api.version()
    if not any(IMAGE in (img.get("RepoTags") or []) for img in api.images()):
        raise SystemExit(f"image {IMAGE} is missing on {args.engine}: run scripts/bootstrap first")
    remove_bench_containers(api)
    n, n10 = args.count, min(10, args.count)
    raw_specs, ours_specs, dm_specs = specs("raw", n), specs("ours", n), specs("dockermod", n)
    busy = busy_ports(raw_specs + ours_specs + dm_specs)
    if busy:
        raise SystemExit(f"loopback ports needed by the benchmark are in use: {busy[:5]}")
    ours_names = our_module_names()
    dm_target = None if args.skip_dockermod else install_dockermod(args.reinstall)

    workdir = Path(tempfile.mkdtemp(prefix="saltext-chain-bench-"))
    results = {"raw": {}, "ours": {}, "dockermod": {}}
    checks = {}
    try:
        ours = SaltSide(
            "ours",
            workdir,
            args.engine,
            {
                "module_dirs": [str(REPO)],
                "container": {
                    "default_profile": "bench",
                    "profiles": {"bench": {"base_url": args.engine, "timeout": 60}},
                },
            },
        )
        ours.write_sls("bench20", ours_sls(ours_specs))
        ours.write_sls("bench10", ours_sls(ours_specs[:n10]))
        sides = [ours]
        dm = None
        if dm_target:
            # Our extension is installed in this venv (its salt.loader entry point would load it
            # into dockermod's process): disable every module of ours there, so each salt-call
            # process runs one extension only.
            dm = SaltSide(
                "dockermod",
                workdir,
                args.engine,
                {
                    "docker.url": args.engine,
                    **{f"disable_{kind}": names for kind, names in ours_names.items() if names},
                },
                pythonpath=dm_target,
            )
            dm.write_sls("bench20", dockermod_sls(dm_specs))
            sides.append(dm)

        # What each process loaded: ours never sees dockermod and the other way round.
        for side in sides:
            mods, _ = side.salt_call("sys.list_state_modules")
            checks[f"{side.name}_state_modules"] = {
                "container": "container" in mods,
                "docker_container": "docker_container" in mods,
            }
            _, wall = side.salt_call("test.true")
            results[side.name].setdefault("salt_call_startup_wall_ms", []).append(round(wall, 3))
        if checks["ours_state_modules"] != {"container": True, "docker_container": False}:
            raise SystemExit(f"our salt-call process loaded the wrong state modules: {checks}")
        if dm and checks["dockermod_state_modules"] != {
            "container": False,
            "docker_container": True,
        }:
            raise SystemExit(
                "saltext-dockermod's docker_container state did not load alone in its process: "
                f"{checks['dockermod_state_modules']} "
                f"(see salt-call -l debug output with PYTHONPATH={dm_target})"
            )

        for rnd in range(1, args.rounds + 1):
            log(f"round {rnd}/{args.rounds}: raw SDK")
            r = results["raw"]
            r.setdefault("create_start_ms", []).append(round(raw_create_start(api, raw_specs), 3))
            if rnd == 1:
                watched(api, checks, f"raw inspect {n}", raw_inspect, api, raw_specs)
            for _ in range(args.noop_runs):
                r.setdefault("inspect_ms", []).append(round(raw_inspect(api, raw_specs), 3))
                r.setdefault("inspect10_ms", []).append(round(raw_inspect(api, raw_specs[:n10]), 3))
            remove_bench_containers(api)

            log(f"round {rnd}/{args.rounds}: ours (container.running)")
            o = results["ours"]
            o.setdefault("first", []).append(ours.apply("bench20"))
            if rnd == 1:
                watched(api, checks, f"ours no-op {n}", ours.apply, "bench20")
            for _ in range(args.noop_runs):
                o.setdefault("noop20", []).append(ours.apply("bench20"))
            for _ in range(args.noop_runs):
                o.setdefault("noop10", []).append(ours.apply("bench10"))
            remove_bench_containers(api)

            if dm:
                log(f"round {rnd}/{args.rounds}: saltext-dockermod (docker_container.running)")
                d = results["dockermod"]
                d.setdefault("first", []).append(dm.apply("bench20"))
                if rnd == 1:
                    watched(api, checks, f"dockermod no-op {n}", dm.apply, "bench20")
                for _ in range(args.noop_runs):
                    d.setdefault("noop20", []).append(dm.apply("bench20"))
                remove_bench_containers(api)

        profile = None
        if args.profile:
            profile = profile_ours_noop(ours, api)
    finally:
        remove_bench_containers(api)
        if args.keep_tmp:
            log(f"salt config dirs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    return report(args, results, checks, engine_version, profile)


def profile_ours_noop(ours, api):
    """One no-op apply of ours under cProfile (process-wide); prints the state-run part."""
    import pstats  # pylint: disable=import-outside-toplevel

    out = RESULTS.parent / "ours_noop20.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    ours.apply("bench20")
    summary = ours.apply("bench20", wrapper=(sys.executable, "-m", "cProfile", "-o", str(out)))
    remove_bench_containers(api)
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative")
    log(
        f"\ncProfile of one no-op apply of 20 (sum of durations {summary['sum_duration_ms']} ms "
        f"under the profiler); full profile: {out}"
    )
    stats.print_stats(
        r"(_modules|_states)/container\.py|docker/api/(container|image|client)|"
        r"modules/config\.py|sessions\.py:\d+\(send\)",
        25,
    )
    return {"file": str(out.relative_to(REPO)), "noop_under_profiler": summary}


def report(args, results, checks, engine_version, profile):
    raw, ours, dm = results["raw"], results["ours"], results["dockermod"]
    m = {
        "raw_create_start": median(raw["create_start_ms"]),
        "raw_inspect20": median(raw["inspect_ms"]),
        "raw_inspect10": median(raw["inspect10_ms"]),
        "ours_first": median(ours["first"]),
        "ours_first_span": median(ours["first"], "span_ms"),
        "ours_first_wall": median(ours["first"], "wall_ms"),
        "ours_noop20": median(ours["noop20"]),
        "ours_noop20_wall": median(ours["noop20"], "wall_ms"),
        "ours_noop10": median(ours["noop10"]),
        "ours_startup_wall": median(ours["salt_call_startup_wall_ms"]),
    }
    if dm:
        m.update(
            {
                "dm_first": median(dm["first"]),
                "dm_first_wall": median(dm["first"], "wall_ms"),
                "dm_noop20": median(dm["noop20"]),
                "dm_noop20_wall": median(dm["noop20"], "wall_ms"),
                "dm_startup_wall": median(dm["salt_call_startup_wall_ms"]),
            }
        )
    n = args.count
    rows = [
        (f"raw SDK create+start {n} (wall)", m["raw_create_start"], None, None, None),
        (f"raw SDK inspect {n} (wall)", m["raw_inspect20"], None, None, None),
        ("raw SDK inspect 10 (wall)", m["raw_inspect10"], None, None, None),
        (
            f"ours first apply {n}",
            m["ours_first"],
            m["ours_first_wall"],
            ratio(m["ours_first"], m["raw_create_start"]),
            None,
        ),
        (
            f"ours no-op {n}",
            m["ours_noop20"],
            m["ours_noop20_wall"],
            ratio(m["ours_noop20"], m["raw_inspect20"]),
            None,
        ),
        (
            "ours no-op 10",
            m["ours_noop10"],
            median(ours["noop10"], "wall_ms"),
            ratio(m["ours_noop10"], m["raw_inspect10"]),
            None,
        ),
    ]
    if dm:
        rows += [
            (
                f"dockermod first apply {n}",
                m["dm_first"],
                m["dm_first_wall"],
                ratio(m["dm_first"], m["raw_create_start"]),
                ratio(m["dm_first"], m["ours_first"]),
            ),
            (
                f"dockermod no-op {n}",
                m["dm_noop20"],
                m["dm_noop20_wall"],
                ratio(m["dm_noop20"], m["raw_inspect20"]),
                ratio(m["dm_noop20"], m["ours_noop20"]),
            ),
        ]
    noop_changed = {
        "ours_noop20": [s["changed"] for s in ours["noop20"]],
        "ours_noop10": [s["changed"] for s in ours["noop10"]],
        "dockermod_noop20": [s["changed"] for s in dm.get("noop20", [])],
    }
    failed = {}
    for side, phases in (("ours", ours), ("dockermod", dm)):
        for phase, samples in phases.items():
            for sample in samples:
                if isinstance(sample, dict) and sample["failed"]:
                    failed.setdefault(f"{side}_{phase}", []).extend(sample["failed"])
    targets = {
        f"ours no-op {n} <= {TARGET_NOOP_MS:.0f} ms": m["ours_noop20"] <= TARGET_NOOP_MS,
        f"ours first apply <= {TARGET_FIRST_RATIO}x raw create+start": (
            m["ours_first"] <= TARGET_FIRST_RATIO * m["raw_create_start"]
        ),
    }

    print()
    print(
        f"container.running benchmark: {n} containers, engine {args.engine} (Docker "
        f"{engine_version.get('Version')}), {args.rounds} round(s) x {args.noop_runs} "
        "no-op run(s); medians"
    )
    print(
        "Salt rows: ms = sum of the states' `duration`; wall = the whole salt-call process "
        f"(startup alone, test.true: ours {m['ours_startup_wall']:.0f} ms"
        + (f", dockermod {m['dm_startup_wall']:.0f} ms)" if dm else ")")
    )
    header = f"{'':34} {'ms':>10} {'wall ms':>10} {'vs raw':>8} {'dockermod/ours':>15}"
    print(header)
    print("-" * len(header))
    for label, ms, wall, vs_raw, dm_ours in rows:
        print(f"{label:34} {_f(ms):>10} {_f(wall):>10} {_x(vs_raw):>8} {_x(dm_ours):>15}")
    print("'vs raw': first apply / raw create+start; no-op / raw inspect of as many containers.")
    for name, ok in targets.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    for key, counts in checks.get("engine_container_actions", {}).items():
        print(f"engine container actions during one {key}: {counts or 'none'}")
    for key, counts in noop_changed.items():
        if any(counts):
            print(f"WARNING: {key} reported changes on a no-op apply: {counts}")
    for key, msgs in failed.items():
        print(f"WARNING: {key} had failing states: {msgs[:3]}")

    doc = {
        "benchmark": "container_running",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "versions": {
            "salt": _version("salt"),
            "docker_sdk": docker.__version__,
            "docker_engine": engine_version.get("Version"),
            "docker_api": engine_version.get("ApiVersion"),
            "saltext.dockermod": None if args.skip_dockermod else DOCKERMOD.split("==")[1],
        },
        "config": {
            "engine": args.engine,
            "count": n,
            "rounds": args.rounds,
            "noop_runs": args.noop_runs,
            "image": IMAGE,
        },
        "medians_ms": m,
        "table": [
            {
                "row": label,
                "ms": ms,
                "wall_ms": wall,
                "vs_raw": vs_raw,
                "dockermod_over_ours": dm_ours,
            }
            for label, ms, wall, vs_raw, dm_ours in rows
        ],
        "targets": targets,
        "checks": {**checks, "noop_changed_states": noop_changed, "failed_states": failed},
        "samples": results,
        "profile": profile,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(REPO)}")
    return doc


def _version(dist):
    from importlib.metadata import version  # pylint: disable=import-outside-toplevel

    return version(dist)


def _f(value):
    return "-" if value is None else f"{value:.1f}"


def _x(value):
    return "-" if value is None else f"{value:.2f}x"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine", default=ENGINE1, help="Docker engine URL (default: engine 1, %(default)s)"
    )
    parser.add_argument(
        "--count", type=int, default=20, help="containers per sls (default %(default)s)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of every phase (default %(default)s)",
    )
    parser.add_argument(
        "--noop-runs", type=int, default=3, help="no-op applies per round (default %(default)s)"
    )
    parser.add_argument(
        "--skip-dockermod", action="store_true", help="measure the raw SDK and ours only"
    )
    parser.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall saltext.dockermod into benchmarks/.cache",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help=(
            "also run one no-op apply of ours under cProfile (benchmarks/results/ours_noop20.prof)"
        ),
    )
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the temporary salt config dirs"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1 or args.noop_runs < 1:
        parser.error("--count, --rounds and --noop-runs must be >= 1")
    if args.count > 100:
        parser.error("--count is at most 100 (the loopback port ranges of the sides would overlap)")
    run(args)


if __name__ == "__main__":
    main()
