"""A rollout of the app across 4 hosts x 2 replicas, per-host mode or Swarm mode (issue 18): a
first deploy, a good second build and a bad image (rolled back), each through the chain's own
runner (``salt-run chain.rollout app <image>``, server by server as it goes: the canary host,
then the rest together), the two rollouts under a request load through every host's frontend.

It starts the chain across hosts itself, as ``scripts/chain.py up --hosts N`` does (its
``_hosts`` and ``_start``: the master on the hosts network's gateway, the local minions,
``--hosts`` (4) Docker-in-Docker hosts with their own engine and minion, keys pre-seeded), then
applies what the app needs of the orchestrate's infrastructure stage, the same states
(``chain.ca`` and ``chain.registry_trust,chain.registry`` on build1, ``chain.registry_trust,
chain.frontend`` on each app host): the registry by name with TLS, each host's frontend on
``<host ip>:8080``. No pipeline: it builds its own three images of examples/app on engine 1
(``APP_VERSION bench-<run>-first`` and ``-good``, and ``-bad`` whose ``/health`` answers 503, as
``benchmarks/chain.py``'s) and pushes them by name (``<name:port>/chain/app:bench-<run>-<kind>``);
the runner pins each tag to its digest and every host pulls by digest. Phases:

1. ``first``: the first deploy onto the empty hosts (no request load: nothing serves yet);
2. ``good``: the good build, under load;
3. ``bad``: the bad image, under load: its canary fails its health check, the runner rolls it
   back.

The load: ``tests/support/load.py``, ``--clients`` (2) clients per frontend, one ``GET
/version`` every 20 ms each; a wrong status, a bad body or an exception is a failed request.
Per phase: the runner's duration and result, each host's waves (the ``chain/rollout/app/server``
and ``server/done`` events on the master's bus, seconds after the rollout's start), requests
good and failed per host with the versions seen, the frontends' HAProxy ``is DOWN``/``is UP``
lines of the phase, and for ``bad`` the rollback (the failure, what was rolled back, which
image each host runs after it).

    flock -o /tmp/chain-heavy.lock .venv/bin/python benchmarks/hosts_rollout.py   # ~5 minutes
    flock -o /tmp/chain-heavy.lock .venv/bin/python benchmarks/hosts_rollout.py --mode swarm

``--mode swarm``: the app hosts form one swarm through Salt (the master applies
``container_swarm.manager`` on the first app host, the canary, which sends its join information
to the mine; ``container_swarm.worker`` with ``manager_minion`` on the others;
``container_swarm.node_labels`` ``role: app`` on every node from the manager), no frontend per
host: the app is one Swarm service of ``--replicas`` (2) x hosts tasks placed on
``node.labels.role==app``, ``--parallelism`` (1) tasks per batch, deployed by the same runner
call with the Swarm pillar (``chain:service:mode: swarm``, ``manager``) and the manager as its
target: formulas/chain's deploy state makes the attachable overlay network, the frontend on the
manager and the service there, Swarm rolls the tasks across the nodes, the state's gate and
``docker service rollback`` act. The load goes through that one frontend, with as many clients
as through all the frontends of the per-host mode. Per phase also: the service's new tasks per
node (created, state, when it got there; read on the manager's engine). Results in
``benchmarks/results/hosts_rollout_swarm.json``.

It refuses to run while the chain runs (``make down`` first). Prints the figures and writes
``benchmarks/results/hosts_rollout.json``; never asserts. At the end, also after an error: its
images (label ``org.saltext-chain.bench=hosts_rollout-<run>``) are removed from engine 1, their
manifests deleted from the registry (their blobs stay in its volume until a garbage collect),
and the chain is stopped (``scripts/chain.py down``: the hosts with their engines go).
"""

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import docker
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
import chain_hosts  # noqa: E402  pylint: disable=wrong-import-position

from tests.support.load import Load  # noqa: E402  pylint: disable=wrong-import-position

STATE = pathlib.Path(os.environ.get("CHAIN_STATE_DIR", REPO / ".state")) / "chain"
BIN = pathlib.Path(sys.executable).parent
RESULTS = REPO / "benchmarks" / "results"
APP = "app"
PORT = 8080  # each host's frontend (scripts/chain.py HOST_APP_PORT)
BASE = "saltext-chain/debian:bookworm"
#: digest -> first/good/bad, filled in as the images are pushed (task_timings' ``version``)
VERSIONS = {}
SWARM = "swarm"
SWARM_NAME = "chain-swarm"
MINE_FUNCTION = "container.swarm_join_info"
SWARM_LABELS = {"role": "app"}
HEALTHY = '    """True when the service can serve requests."""\n    return True'


def say(msg):
    print(f"==> {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Pure helpers (tests/unit/test_bench_hosts_rollout.py)
# ---------------------------------------------------------------------------------------------


def host_timings(events, started):
    """Each host's waves from the runner's events (``[(time, tag, data)]``, ``started``: the
    rollout's start): ``{target: [{"wave", "start_s", "done_s", "seconds", "result"}]}``, the
    seconds after ``started``; a wave with no ``server/done`` has ``done_s`` ``None``."""
    out = {}
    for at, tag, data in events:
        target = data.get("target")
        if not target:
            continue
        waves = out.setdefault(target, [])
        if tag.endswith("/server"):
            waves.append({"wave": data.get("wave"), "start_s": round(at - started, 2)})
            waves[-1].update(done_s=None, seconds=None, result=None)
        elif tag.endswith("/server/done"):
            open_ = [w for w in waves if w["done_s"] is None and w["wave"] == data.get("wave")]
            if not open_:
                continue
            open_[0].update(
                done_s=round(at - started, 2),
                seconds=data.get("seconds"),
                result=data.get("result"),
            )
    return out


def check_lines(logs):
    """HAProxy's own server checks in a frontend's log: its ``is DOWN``/``is UP`` lines and
    ``no server available`` (why a request may have failed), each once (HAProxy writes each to
    both of its outputs, one with a ``[WARNING]  (pid) : `` prefix), cut to 200 characters."""
    keep = (" is DOWN", " is UP", "no server available")
    out = []
    for line in logs.splitlines():
        line = re.sub(r"^\[[A-Z]+\]\s+\(\d+\) : ", "", line.strip())[-200:]
        if any(k in line for k in keep) and line not in out:
            out.append(line)
    return out


def requests_summary(loads):
    """``{target: Load}`` -> the phase's requests: per host and in all (failures: the first 10
    of each host)."""
    per = {
        t: {"ok": x.ok, "failed": len(x.failed), "versions": sorted(x.versions)}
        for t, x in loads.items()
    }
    failures = {t: x.failed[:10] for t, x in loads.items() if x.failed}
    return {
        "ok": sum(p["ok"] for p in per.values()),
        "failed": sum(p["failed"] for p in per.values()),
        "versions": sorted({v for p in per.values() for v in p["versions"]}),
        "per_host": per,
        "failures": failures,
    }


def _stamp(text):
    """A Docker API timestamp (RFC 3339, nanoseconds) as epoch seconds."""
    head, _, frac = text.rstrip("Z").partition(".")
    frac = (frac + "000000")[:6]
    return datetime.datetime.strptime(f"{head}.{frac}+0000", "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def task_timings(tasks, nodes, started):
    """Swarm mode: the tasks of the service created since ``started`` (the rollout's start,
    epoch seconds), per node (``nodes``: ``{node id: host name}``), oldest first:
    ``{node: [{"slot", "version", "created_s", "state", "state_s", "desired"}]}`` (``state_s``:
    when the task reached the state it is in, seconds after ``started``; ``version``: its
    ``APP_VERSION`` tail ``first``/``good``/``bad``, else its image's last 12 characters)."""
    out = {}
    for task in sorted(tasks, key=lambda t: t.get("CreatedAt") or ""):
        created = _stamp(task["CreatedAt"])
        if created < started:
            continue
        image = task["Spec"]["ContainerSpec"]["Image"]
        status = task.get("Status") or {}
        node = nodes.get(task.get("NodeID"), task.get("NodeID") or "(unassigned)")
        out.setdefault(node, []).append(
            {
                "slot": task.get("Slot"),
                "version": VERSIONS.get(image.rsplit("@", 1)[-1], image[-12:]),
                "created_s": round(created - started, 2),
                "state": status.get("State"),
                "state_s": round(_stamp(status["Timestamp"]) - started, 2)
                if status.get("Timestamp")
                else None,
                "desired": task.get("DesiredState"),
            }
        )
    return out


def swarm_pillar(manager, replicas, parallelism, placement):
    """The deploy pillar of the app in Swarm mode (``chain.rollout``'s ``pillar``, on top of
    the master's ``chain:apps:app:pillar``): one service of ``replicas`` tasks on the swarm of
    ``manager``, on nodes labelled ``placement``, ``parallelism`` tasks per batch."""
    return {
        "chain": {
            "per_minion": True,
            "service": {
                "mode": "swarm",
                "manager": manager,
                "replicas": replicas,
                "placement": placement,
                "update": {"parallelism": parallelism},
            },
        }
    }


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------


def salt_run(*args, timeout=1800):
    """``salt-run`` of the chain's master, its JSON return and exit code."""
    cmd = [str(BIN / "salt-run"), "-c", str(STATE / "etc"), "--out=json", "--log-level=error"]
    done = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        return json.loads(done.stdout), done.returncode
    except json.JSONDecodeError:
        return {"_raw": (done.stdout + done.stderr)[-3000:]}, done.returncode


def chain_script():
    """scripts/chain.py as a module (what ``make chain`` runs)."""
    spec = importlib.util.spec_from_file_location("chain_script", REPO / "scripts" / "chain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def applied(ret, what):
    """Every minion of ``ret`` (``salt --out=json`` of a state.sls) ran every state."""
    bad = [
        f"{minion}: {st.get('__id__')}: {str(st.get('comment'))[:300]}"
        for minion, states in ret.items()
        for st in (states.values() if isinstance(states, dict) else [{"comment": states}])
        if not isinstance(st, dict) or st.get("result") is not True
    ]
    if bad or not ret:
        raise SystemExit(f"{what} failed: " + ("; ".join(bad) or "no return"))


def chain_start(script, count, mode="containers"):
    """The chain's master, minions and ``count`` hosts as ``scripts/chain.py up --hosts count``
    starts them (its ``_start``), then what the app needs of the orchestrate's infrastructure
    stage (formulas/chain/init.sls), the same states: the CA on build1, the registry's trust
    and the registry there, each app host's trust and frontend (``mode`` swarm: no frontend
    there, the deploy state makes it on the manager, on the service's overlay network). No
    pipeline: the benchmark builds its own images. Returns the seconds it took."""
    if script._alive(script.SOCKS / "master.pid"):  # pylint: disable=protected-access
        raise SystemExit("the chain runs: `make down` first (this benchmark starts its own)")
    started = time.monotonic()
    hosts = script._hosts(count)  # pylint: disable=protected-access
    STATE.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no chain state yet
    (STATE / "hosts.json").write_text(json.dumps({"count": count}))  # what `down` removes
    script._start(hosts)  # pylint: disable=protected-access
    targets = ",".join(chain_hosts.app_hosts(hosts.pillar))
    for tgt, sls in (
        ("build1", "chain.ca"),
        ("build1", "chain.registry_trust,chain.registry"),
        (targets, "chain.registry_trust" + (",chain.frontend" if mode != SWARM else "")),
    ):
        say(f"{tgt}: state.sls {sls}")
        ret, _ = script._salt("-L", tgt, "state.sls", sls)  # pylint: disable=protected-access
        applied(ret, f"{tgt}: state.sls {sls}")
    return time.monotonic() - started


def form_swarm(script, targets, ips):
    """Swarm mode: the app hosts form one swarm through Salt, the master applying the
    ``container_swarm`` states to their minions: ``manager`` on the first (the canary host; it
    advertises its address on the hosts network), its join information sent to the mine
    (``mine.send container.swarm_join_info``, readable by the hosts only), ``worker`` on the
    others (``manager_minion``: the token comes from the mine), then ``node_labels``
    (``role: app``) on each node from the manager. Returns the manager, the seconds each step
    took and the nodes the manager lists."""
    # pylint: disable=protected-access
    manager, workers = targets[0], targets[1:]
    steps, started = {}, time.monotonic()
    say(f"{manager}: state.single container_swarm.manager advertise_addr={ips[manager]}")
    ret, _ = script._salt(
        manager,
        "state.single",
        "container_swarm.manager",
        f"name={SWARM_NAME}",
        f"advertise_addr={ips[manager]}",
    )
    applied(ret, f"{manager}: container_swarm.manager")
    steps["manager_s"] = round(time.monotonic() - started, 2)
    ret, _ = script._salt(
        manager, "mine.send", MINE_FUNCTION, "allow_tgt=host*", "allow_tgt_type=glob"
    )
    if ret.get(manager) is not True:
        raise SystemExit(f"{manager}: mine.send {MINE_FUNCTION}: {ret}")
    if workers:
        say(f"{','.join(workers)}: state.single container_swarm.worker manager_minion={manager}")
        t0 = time.monotonic()
        ret, _ = script._salt(
            "-L",
            ",".join(workers),
            "state.single",
            "container_swarm.worker",
            f"name={SWARM_NAME}",
            f"manager_minion={manager}",
            "advertise_addr=eth0",
        )
        applied(ret, "container_swarm.worker")
        steps["workers_s"] = round(time.monotonic() - t0, 2)
    high = {
        f"{SWARM_NAME}-labels-{t}": {
            "container_swarm": [{"node": t}, {"labels": SWARM_LABELS}, "node_labels"]
        }
        for t in targets
    }
    say(f"{manager}: container_swarm.node_labels {SWARM_LABELS} on {len(targets)} nodes")
    t0 = time.monotonic()
    ret, _ = script._salt(manager, "state.high", json.dumps(high))
    applied(ret, "container_swarm.node_labels")
    steps["labels_s"] = round(time.monotonic() - t0, 2)
    ret, _ = script._salt(manager, "container.node_list")
    nodes = ret.get(manager)
    steps["total_s"] = round(time.monotonic() - started, 2)
    return {"manager": manager, "steps": steps, "nodes": nodes}


def swarm_tasks(manager, service, started):
    """The service's tasks created since ``started``, per node (:func:`task_timings`), read on
    the manager's engine."""
    with contextlib.closing(host_client(manager)) as inner:
        api = inner.api
        try:
            nodes = {n["ID"]: n["Description"]["Hostname"] for n in api.nodes()}
            return task_timings(api.tasks(filters={"service": service}), nodes, started)
        except docker.errors.APIError as err:
            return {"error": str(err)}


def chain_down(script):
    say("stopping the chain (scripts/chain.py down)")
    script.down(None)


def chain_conf():
    """The app's servers and frontend name (the master config), the registry's address, the
    repository and its credentials (the pillar make chain wrote)."""
    master = yaml.safe_load((STATE / "etc" / "master").read_text())
    app = master["chain"]["apps"][APP]
    chain = yaml.safe_load((STATE / "srv" / "pillar" / "chain.sls").read_text())["chain"]
    address = chain["registry"]["address"]
    regs = yaml.safe_load((STATE / "srv" / "pillar" / "registries.sls").read_text())
    creds = regs["container"]["registries"][address]
    return {
        "targets": app["targets"],
        "frontend": app["frontend"],
        "service": app["service"],
        "address": address,
        "repository": f"{address}/{chain['registry']['repository']}",
        "auth": {"username": creds["username"], "password": creds["password"]},
    }


def host_ips(client, targets):
    """Each app host's address on the hosts network (its container ``chain-<id>``)."""
    out = {}
    for target in targets:
        nets = client.containers.get(f"chain-{target}").attrs["NetworkSettings"]["Networks"]
        out[target] = nets[chain_hosts.CHAIN_NETWORK]["IPAddress"]
    return out


def host_client(target, timeout=60):
    sock = STATE / "hosts" / target / chain_hosts.ENGINE_SOCKET
    return docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=timeout)


# ---------------------------------------------------------------------------------------------
# The images
# ---------------------------------------------------------------------------------------------


def build_images(client, run, repository, tmp):
    """The first, the good and the bad build (engine 1, run-unique tags, the run's label):
    ``{kind: tag}``."""
    bad = tmp / "bad-app"
    shutil.copytree(REPO / "examples" / "app", bad)
    source = (bad / "app.py").read_text()
    if HEALTHY not in source:
        raise SystemExit("examples/app/app.py changed: cannot make the bad image")
    (bad / "app.py").write_text(source.replace(HEALTHY, "    return False"))
    tags = {}
    for kind, path in (
        ("first", REPO / "examples" / "app"),
        ("good", REPO / "examples" / "app"),
        ("bad", bad),
    ):
        tags[kind] = f"{repository}:bench-{run}-{kind}"
        client.images.build(
            path=str(path),
            tag=tags[kind],
            rm=True,
            forcerm=True,
            labels={"org.saltext-chain.bench": f"hosts_rollout-{run}"},
            buildargs={"BASE_IMAGE": BASE, "APP_VERSION": f"bench-{run}-{kind}"},
        )
    return tags


def push(client, tag, auth):
    """Push ``tag`` by name (engine 1 trusts the chain's CA); the digest the registry gave."""
    digest = None
    for line in client.images.push(tag, auth_config=auth, stream=True, decode=True):
        if "error" in line:
            raise SystemExit(f"push of {tag}: {line['error']}")
        digest = (line.get("aux") or {}).get("Digest") or digest
    return digest


def remove_images(client, run, digests, conf):
    """The run's images off engine 1, their manifests off the registry (the hosts go with the
    chain)."""
    # pylint: disable=import-outside-toplevel
    from saltext.chain.utils import chain_registry

    for image in client.images.list(
        filters={"label": f"org.saltext-chain.bench=hosts_rollout-{run}"}
    ):
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image.id, force=True)
    path = conf["repository"].split("/", 1)[1]
    for digest in digests:
        try:
            chain_registry.request(
                conf["address"], f"/v2/{path}/manifests/{digest}", method="DELETE", **conf["auth"]
            )
        except Exception as err:  # noqa: BLE001 - clean-up goes on; say what is left
            say(f"registry: {digest} not deleted: {err}")


# ---------------------------------------------------------------------------------------------
# A phase: one rollout under load
# ---------------------------------------------------------------------------------------------


class Events:
    """The runner's ``chain/rollout/<app>/`` events on the master's bus, with their time."""

    def __init__(self):
        self.seen, self._stop = [], threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self):
        # pylint: disable=import-outside-toplevel
        import salt.config
        import salt.utils.event

        opts = salt.config.master_config(str(STATE / "etc" / "master"))
        with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
            self._ready.set()
            while not self._stop.is_set():
                event = bus.get_event(wait=0.5, tag=f"chain/rollout/{APP}/", full=True)
                if event:
                    self.seen.append((time.time(), event["tag"], event["data"]))

    def __enter__(self):
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc):
        time.sleep(1)  # the last events
        self._stop.set()
        self._thread.join(10)


def frontend_checks(conf, since):
    """Each host's frontend's HAProxy check lines since ``since`` (epoch seconds)."""
    out = {}
    for target in conf["targets"]:
        name = conf["frontend"].replace("{minion}", target)
        with contextlib.closing(host_client(target)) as inner:
            try:
                logs = inner.containers.get(name).logs(since=int(since)).decode(errors="replace")
            except docker.errors.APIError as err:
                logs = f"(no log: {err})"
        out[target] = check_lines(logs)
    return out


def phase(name, image, conf, ips, clients, swarm=None):
    """``chain.rollout app image`` (``clients``: under load through every frontend): its
    figures. ``swarm`` (Swarm mode): ``{"manager", "pillar", "service"}``: the runner gets the
    manager as its target and the Swarm pillar; the service's new tasks per node are read
    afterwards."""
    load = f", under load on {len(ips)} frontend(s), {clients} client(s) each" if clients else ""
    say(f"{name}: salt-run chain.rollout {APP} {image}{load}")
    extra = []
    if swarm:
        extra = [f"targets={swarm['manager']}", f"pillar={json.dumps(swarm['pillar'])}"]
    with contextlib.ExitStack() as stack:
        loads = {
            t: stack.enter_context(Load(PORT, limit=10**7, clients=clients, host=ip))
            for t, ip in (ips.items() if clients else ())
        }
        events = stack.enter_context(Events())
        started, t0 = time.time(), time.monotonic()
        ret, code = salt_run("chain.rollout", APP, image, *extra)
        wall = time.monotonic() - t0
    result = {
        "image": image,
        "pinned": ret.get("image") if isinstance(ret, dict) else None,
        "wall_s": round(wall, 2),
        "exit_code": code,
        "result": ret.get("result") if isinstance(ret, dict) else None,
        "duration_s": ret.get("duration") if isinstance(ret, dict) else None,
        "servers": ret.get("servers") if isinstance(ret, dict) else ret,
        "host_timings": host_timings(events.seen, started),
        "requests": requests_summary(loads) if loads else None,
        "frontend_checks": frontend_checks(conf, started - 2),
    }
    if swarm:
        result["tasks"] = swarm_tasks(swarm["manager"], swarm["service"], started)
    if isinstance(ret, dict) and not ret.get("result"):
        result["rolled_back"] = ret.get("rolled_back")
        result["now"] = ret.get("now")
        result["comment"] = ret.get("comment")
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def report(results):
    print(f"\nchain with {results['hosts']} hosts started in {results.get('start_s')} s")
    if results.get("swarm"):
        formed = results["swarm"]
        nodes = ", ".join(
            f"{n.get('hostname')} ({n.get('role')}, {n.get('state')}, {n.get('addr')}, "
            f"labels {n.get('labels')})"
            for n in (formed.get("nodes") or {}).values()
            if isinstance(n, dict)
        )
        print(f"swarm formed through Salt in {formed['steps']}: {nodes}")
        print(f"deploy pillar: {json.dumps(results.get('swarm_pillar'))}")
    for name in ("first", "good", "bad"):
        ph = results.get(name)
        if not ph:
            continue
        req = ph["requests"]
        load = (
            f"requests {req['ok']} ok, {req['failed']} failed, versions {req['versions']}"
            if req
            else "no request load"
        )
        print(
            f"\n{name}: result {ph['result']}, duration {ph['duration_s']} s (salt-run wall "
            f"{ph['wall_s']} s); {load}"
        )
        for target, waves in ph["host_timings"].items():
            per = (req or {}).get("per_host", {}).get(target)
            text = ", ".join(
                f"{w['wave']} {w['start_s']}->{w['done_s']} s ({w['result']})" for w in waves
            )
            tail = f"; {per['ok']} ok / {per['failed']} failed" if per else ""
            print(f"    {target:6} {text}{tail}")
        for target, lines in ph["frontend_checks"].items():
            ups = [line for line in lines if " is UP" in line]
            for line in lines:
                if line not in ups:
                    print(f"    {target} haproxy: {line}")
            print(f"    {target} haproxy: {len(ups)} 'is UP' line(s)")
        for target, srv in (ph["servers"] or {}).items():
            if isinstance(srv, dict) and not srv.get("result"):
                print(f"  {target} failed: {srv.get('comment', '')[:400]}")
        for node, tasks in sorted((ph.get("tasks") or {}).items()):
            text = "; ".join(
                f"s{t['slot']} {t['version']} +{t['created_s']} s -> {t['state']} "
                f"+{t['state_s']} s" + ("" if t["desired"] == "running" else f" ({t['desired']})")
                for t in tasks
            )
            print(f"    {node:6} new tasks: {text}")
        if "rolled_back" in ph:
            print(f"  rolled back by the runner: {json.dumps(ph['rolled_back'])}")
            print(f"  now: {json.dumps(ph['now'])}")


def run_phases(args, run, tmp, client, results, conf, script):
    results["targets"] = conf["targets"]
    ips = host_ips(client, conf["targets"])
    swarm, clients = None, args.clients
    if args.mode == SWARM:
        formed = form_swarm(script, conf["targets"], ips)
        results["swarm"] = formed
        manager = formed["manager"]
        placement = dict(SWARM_LABELS)
        swarm = {
            "manager": manager,
            "pillar": swarm_pillar(
                manager, args.replicas * len(conf["targets"]), args.parallelism, placement
            ),
            "service": conf["service"].replace("{minion}", manager),
        }
        results["swarm_pillar"] = swarm["pillar"]
        # one frontend (the manager's): as many clients through it as through every host's
        # frontend in the per-host mode
        clients = args.clients * len(ips)
        ips = {manager: ips[manager]}
        conf = dict(conf, targets=[manager])
    results["frontends"] = {t: f"{ip}:{PORT}" for t, ip in ips.items()}
    say(f"building the first, the good and the bad image (bench-{run}-*) on engine 1")
    tags = build_images(client, run, conf["repository"], tmp)
    for kind, tag in tags.items():
        results.setdefault("digests", {})[kind] = push(client, tag, conf["auth"])
        VERSIONS[results["digests"][kind]] = kind
    results["first"] = phase("first", tags["first"], conf, ips, 0, swarm)
    results["good"] = phase("good", tags["good"], conf, ips, clients, swarm)
    results["bad"] = phase("bad", tags["bad"], conf, ips, clients, swarm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2, help="request clients per host")
    parser.add_argument(
        "--mode",
        choices=("containers", SWARM),
        default="containers",
        help="containers: each host its replicas behind its own frontend (default); swarm: "
        "the hosts form a swarm, the app one service across them behind the manager's frontend",
    )
    parser.add_argument(
        "--replicas", type=int, default=2, help="swarm: tasks per host (the service's replicas)"
    )
    parser.add_argument(
        "--parallelism",
        type=int,
        default=1,
        help="swarm: tasks per update batch (update:parallelism)",
    )
    args = parser.parse_args()
    run = secrets.token_hex(3)
    results = {
        "run": run,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "hosts": args.hosts,
        "mode": args.mode,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    client = docker.from_env(timeout=600)
    script, conf = chain_script(), None
    try:
        results["start_s"] = round(chain_start(script, args.hosts, args.mode), 1)
        conf = chain_conf()
        with tempfile.TemporaryDirectory(prefix="hosts-rollout-") as tmp:
            run_phases(args, run, pathlib.Path(tmp), client, results, conf, script)
    finally:
        if conf:
            remove_images(client, run, list((results.get("digests") or {}).values()), conf)
        chain_down(script)
        client.close()
        suffix = "" if args.mode == "containers" else f"_{args.mode}"
        out = RESULTS / f"hosts_rollout{suffix}.json"
        out.write_text(json.dumps({"command": sys.argv, **results}, indent=1, default=str))
        say(f"written {out}")
    report(results)


if __name__ == "__main__":
    main()
