"""The chain runner and formulas/chain (frontend + deploy) through the real master: build1 and a
second app minion (app2) are the app servers, both on engine 1 with their own names (engine 2
runs without iptables, so containers on its user networks cannot reach each other: no frontend
there), each with its own HAProxy frontend on a free loopback port. A rollout goes server by
server; a rollout that fails on the second server rolls the first one back; both under a steady
load through both frontends with zero failed requests. Concurrent rollouts of one app are
refused; chain.rollback, status, history and inventory answer. The orchestrate (formulas/chain
init.sls, every stage) is tested in test_chain_orchestrate.py."""

import contextlib
import json
import os
import pathlib
import signal
import threading
import time

import pytest
from hypothesis import given, settings

from tests.conftest import REPO
from tests.support import cli_forkserver, engines, fuzz, local
from tests.support.chain import build_haproxy, deploy_pillar
from tests.support.load import Load, versions

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SERVERS = {"build1": "engine1", "app2": "engine1"}
ENGINE = "engine1"
APP = f"it{engines.RUN}"
# Per server: {minion} is the server's id (the runner fills it in too).
SERVICE, NET, FE = (engines.name(f"chain-{what}-{{minion}}") for what in ("app", "net", "fe"))
REPO_NAME = f"saltext-chain/{engines.name('chain')}"
HAPROXY = f"{REPO_NAME}-haproxy:1"
NOT_3 = (
    "bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000"
    ' && printf "GET /version HTTP/1.0\\r\\n\\r\\n" >&3 && body=$(cat <&3)'
    ' && case "$body" in *\\"version\\":\\ \\"3\\"*) echo version 3; exit 1;; *" 200 "*) ;;'
    " *) exit 1;; esac'"
)


def _build(client, tag, path, version):
    client.images.build(
        path=str(path),
        tag=tag,
        rm=True,
        forcerm=True,
        buildargs={"BASE_IMAGE": engines.DEBIAN, "APP_VERSION": version},
    )


@pytest.fixture(scope="module")
def images(docker_engines):
    """The frontend and app:1, app:2, app:3 on engine 1."""
    client = engines.client(ENGINE)
    build_haproxy(client, HAPROXY)
    for version in ("1", "2", "3"):
        _build(client, f"{REPO_NAME}-app:{version}", REPO / "examples" / "app", version)
    tags = [HAPROXY] + [f"{REPO_NAME}-app:{v}" for v in ("1", "2", "3")]
    yield {v: f"{REPO_NAME}-app:{v}" for v in "123"}
    for tag in tags:
        with contextlib.suppress(Exception):
            client.images.remove(tag, force=True)
    client.close()


@pytest.fixture(scope="module")
def deploy(images, app2):
    """formulas/chain's deploy (frontend + service) with this run's names: per_minion names,
    the run label, a free frontend port per server. On app2 the declared health check also
    refuses version 3 (a per-server override), so app:3 passes build1 and fails on app2."""
    ports = {m: local.free_port() for m in SERVERS}
    pillar = deploy_pillar("chain", HAPROXY, ports)
    pillar["chain"]["servers"]["app2"]["service"] = {"healthcheck": {"test": NOT_3}}
    yield {"sls": "chain.deploy", "ports": ports, "pillar": json.dumps(pillar)}
    engines.cleanup(ENGINE)


def _args(deploy, *extra):
    return [
        "targets=build1,app2",
        f"sls={deploy['sls']}",
        f"service={SERVICE}",
        f"pillar={deploy['pillar']}",
        f"frontend={FE}",
        "backend=app",
        f"network={NET}",
        *extra,
    ]


def _run(salt_run_cli, fun, *args):
    ret = salt_run_cli.run(fun, *args, _timeout=600)
    # What a user sees, for docs/chain.md (shown with pytest -s)
    print(
        f"\n$ salt-run {fun} {args[0] if args else ''} -> rc {ret.returncode}\n"
        f"{json.dumps(ret.data, indent=1, default=str)[:4000] if ret.data else ret.stdout[:4000]}"
    )
    return ret


def _lock_holder(lock, thread, timeout=120):
    """The PID of the rollout that ``thread`` runs, once it holds the app's lock (the lock file
    holds JSON naming the (pinned) image and the PID while held, nothing once released: the
    earlier rollouts have ended, so what it names now is this one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and thread.is_alive():
        with contextlib.suppress(FileNotFoundError, ValueError):
            held = json.loads(lock.read_text() or "{}")
            if held.get("pid"):
                return held["pid"]
        time.sleep(0.05)
    raise AssertionError(f"the first rollout never held {lock}: {lock.read_text()!r}")


def test_rollout_server_by_server_rollback_and_the_lock(
    master, salt_run_cli, synced, deploy, images
):
    ports = deploy["ports"]
    started = time.time()
    ret = _run(salt_run_cli, "chain.rollout", APP, images["1"], "ref=v1", *_args(deploy))
    assert ret.returncode == 0, ret.stdout or ret.stderr
    assert ret.data["result"] is True, json.dumps(ret.data)[:3000]
    assert list(ret.data["servers"]) == ["build1", "app2"]
    # progress on the master event bus, server by server
    tags = [f"chain/rollout/{APP}/{stage}" for stage in ("start", "server", "server/done", "done")]
    matched = master.event_listener.wait_for_events(
        [(master.id, t) for t in tags], after_time=started, timeout=30
    )
    assert matched.found_all_events, matched.missed
    done = sorted(
        master.event_listener.get_events(
            [(master.id, f"chain/rollout/{APP}/server/done")], after_time=started
        ),
        key=lambda e: e.stamp,
    )
    # build1's canary replica first, then build1's other replica and app2 together
    assert [(e.data["target"], e.data["wave"]) for e in done] == [
        ("build1", "canary"),
        ("build1", "rest"),
        ("app2", "rest"),
    ]
    assert all(e.data["result"] is True for e in done)
    assert all(versions(p) == {"1"} for p in ports.values())
    assert ret.data["changes"] == {s: {"old": None, "new": images["1"]} for s in SERVERS}

    loads = [Load(p) for p in ports.values()]
    with contextlib.ExitStack() as stack:
        for load in loads:
            stack.enter_context(load)
        ret = _run(salt_run_cli, "chain.rollout", APP, images["2"], "ref=v2", *_args(deploy))
    assert ret.returncode == 0, ret.data
    for load in loads:
        load.assert_served(min_ok=100)  # a rollout takes tens of seconds
    assert all(versions(p) == {"2"} for p in ports.values())
    assert ret.data["comment"] == f"rollout of {APP} to {images['2']}: 2 server(s) updated"
    assert set(ret.data["changes"]) == set(SERVERS), ret.data["changes"]

    # The same image again changes nothing, and says so: no changes.
    ret = _run(salt_run_cli, "chain.rollout", APP, images["2"], "ref=v2", *_args(deploy))
    assert ret.returncode == 0 and ret.data["no_op"] is True, ret.data
    assert ret.data["changes"] == {}, ret.data

    # app:3 passes on build1 and fails on app2: app2 rolls itself back, the runner rolls
    # build1 back to what it ran (app:2's image id); nobody sees a failed request.
    loads = [Load(p) for p in ports.values()]
    with contextlib.ExitStack() as stack:
        for load in loads:
            stack.enter_context(load)
        ret = _run(salt_run_cli, "chain.rollout", APP, images["3"], "ref=v3", *_args(deploy))
    assert ret.returncode != 0
    data = ret.data
    assert data["servers"]["build1"]["result"] is True, data
    assert data["servers"]["app2"]["result"] is False, data
    assert "rolled back" in data["servers"]["app2"]["comment"]
    assert data["rolled_back"]["build1"]["result"] is True, data
    for load in loads:
        load.assert_served(min_ok=100)  # a rollout takes tens of seconds
    assert "3" in loads[0].versions  # build1 really served app:3 before it was rolled back
    assert all(versions(p) == {"2"} for p in ports.values())
    # One readable failure: where, why, what was rolled back, where things stand now.
    assert data["changes"] == {}, data
    back = data["rolled_back"]["build1"]["image"]
    assert data["now"] == {"build1": back, "app2": back}, data
    lines = data["comment"].splitlines()
    assert lines[0] == f"rollout of {APP} to {images['3']} failed on app2", lines
    assert lines[1].startswith("  app2: ") and "rolled back" in lines[1], lines
    assert SERVICE.replace("{minion}", "app2") in lines[1], lines
    # the failed state's detail lines (chain_states.fail: the steps already done) follow, indented
    detail = [line for line in lines[2:] if line.startswith("      ")]
    assert detail and detail[-1].strip().startswith("already done: "), lines
    assert lines[2 + len(detail) :] == [
        f"  rolled back build1 to {back}: ok",
        f"  now: build1 runs {back}, app2 runs {back}",
    ]
    assert "Traceback" not in ret.stdout + ret.stderr

    # One rollout per app at a time: a second one started meanwhile is refused.
    first, other_cli = {}, cli_forkserver.salt_run(master, 600)  # one CLI object per process
    thread = threading.Thread(
        target=lambda: first.update(
            ret=_run(other_cli, "chain.rollout", APP, images["1"], *_args(deploy))
        )
    )
    thread.start()
    # Deterministic: the first one holds the lock (its file names it), and is frozen (SIGSTOP of
    # the salt-run process the lock names, which this test started) until the second has been
    # answered: it cannot finish first however slow the machine.
    lock = pathlib.Path(master.config["cachedir"]) / "chain" / "locks" / f"{APP}.lock"
    holder = _lock_holder(lock, thread)
    assert holder != os.getpid()
    os.kill(holder, signal.SIGSTOP)
    try:
        second = _run(salt_run_cli, "chain.rollout", APP, images["2"], *_args(deploy))
    finally:
        os.kill(holder, signal.SIGCONT)
    thread.join(300)
    assert second.returncode != 0
    assert "already running" in (second.stdout + second.stderr), second.stdout
    assert "Traceback" not in second.stdout + second.stderr, second.stdout
    assert second.data["result"] is False and APP in second.data["comment"]
    assert first["ret"].returncode == 0, first["ret"].stdout[-3000:]
    assert all(versions(p) == {"1"} for p in ports.values())

    # By hand: back to the previous digest (app:2's), nothing rebuilt.
    ret = _run(salt_run_cli, "chain.rollback", APP, *_args(deploy))
    assert ret.returncode == 0, ret.data
    assert ret.data["kind"] == "rollback" and ret.data["image"].startswith("sha256:")
    assert all(versions(p) == {"2"} for p in ports.values())

    hist = _run(salt_run_cli, "chain.history", APP).data
    assert [h["kind"] for h in hist[:2]] == ["rollback", "rollout"]
    assert [(h["ref"], h["result"]) for h in hist[2:4]] == [("v3", False), ("v2", True)], hist

    status = _run(salt_run_cli, "chain.status", APP, "out_format=data", *_args(deploy)).data
    for server in SERVERS:
        st = status[APP]["servers"][server]
        assert len(st["serving"]) == 2, st
    text = _run(salt_run_cli, "chain.status", APP, *_args(deploy)).stdout
    assert "serving" in text and "build1" in text

    csv_ret = _run(salt_run_cli, "chain.inventory", "out_format=csv")
    assert csv_ret.returncode == 0, csv_ret.stdout
    inv = csv_ret.data if isinstance(csv_ret.data, str) else csv_ret.stdout
    prefix = engines.name("chain-app-")
    lines = [ln for ln in inv.splitlines() if prefix in ln]
    assert "engine,minions,name,id,image,image_id,state,health,ports,labels" in inv, inv[:500]
    # both servers share engine 1: its 4 replicas are listed once, naming both minions
    assert len(lines) == 4 and all("healthy" in ln for ln in lines), lines
    rows = _run(salt_run_cli, "chain.inventory").data
    mine = [r for r in rows if (r.get("name") or "").startswith(prefix)]
    assert len(mine) == 4 and all(r["minions"] == ["app2", "build1"] for r in mine), mine


def _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, image, *extra, test=False, **more):
    """``chain.rolled_out`` (the master-side state the chain's orchestrate uses) in an
    orchestrate sls of this run's own, served from the master's file_roots."""
    args = {
        "app": APP,
        "image": image,
        "targets": ["build1", "app2"],
        "sls": deploy["sls"],
        "service": SERVICE,
        "pillar": json.loads(deploy["pillar"]),
        "frontend": FE,
        "backend": "app",
        "network": NET,
        **more,
    }
    name = f"rolled_{engines.RUN}"
    sls = {"rollout-by-state": {"chain.rolled_out": [{k: v} for k, v in args.items()]}}
    (ext_tree / f"{name}.sls").write_text(json.dumps(sls))
    ret = salt_run_cli.run(
        "state.orchestrate", name, *extra, *(["test=True"] if test else []), _timeout=600
    )
    (states,) = ret.data["data"].values()
    (state,) = states.values()
    print(f"\n$ orchestrate {name} test={test} -> rc {ret.returncode}: {json.dumps(state)[:2000]}")
    return ret, state


def test_rolled_out_state_reports_the_rollouts_own_changes(
    salt_run_cli, synced, deploy, images, ext_tree
):
    """chain.rolled_out's contracts (tests/functional/states/test_contracts.py MASTER_SIDE):
    test=True says what would change and deploys, records and starts nothing; the apply reports
    the rollout's own changes; the same image again is a success with no changes; a bad
    argument fails before any rollout. Runs after the test above, which leaves app:2 on both
    servers by its image id (chain.rollback), so the tag is a change."""
    history = lambda: _run(salt_run_cli, "chain.history", APP).data  # noqa: E731
    before = history()
    assert all(versions(p) == {"2"} for p in deploy["ports"].values())

    with engines.EventRecorder(ENGINE) as recorder:
        ret, state = _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, images["2"], test=True)
    assert state["result"] is None, state
    assert set(state["changes"]) == {"build1", "app2"}, state
    assert all(c["new"] == images["2"] for c in state["changes"].values()), state
    assert "would be rolled out" in state["comment"], state
    # Test mode reads each frontend's servers (HAProxy's runtime API: "show servers state");
    # nothing else happens on the engine.
    reads = r"\bshow (servers state [\w.-]+|stat)\s*$"
    assert recorder.mutations(read_exec=reads) == [], recorder.mutations(read_exec=reads)
    assert [m for m in recorder.mutations() if m[1] != "exec_create"] == []
    assert history() == before  # nothing recorded

    ret, state = _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, images["2"])
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert state["result"] is True and set(state["changes"]) == {"build1", "app2"}, state
    assert history()[0]["changes"] == state["changes"], history()[0]

    # Applied again: nothing to do, no changes; test=True agrees.
    ret, state = _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, images["2"])
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert state["result"] is True and state["changes"] == {}, state
    assert state["comment"].endswith("no change, 2 server(s) already run it"), state
    assert history()[0]["no_op"] is True and len(history()) == len(before) + 2
    ret, state = _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, images["2"], test=True)
    assert state["result"] is True and state["changes"] == {}, state
    assert len(history()) == len(before) + 2

    ret, state = _orchestrate_rolled_out(salt_run_cli, ext_tree, deploy, images["1"], replicaz=3)
    assert ret.returncode != 0
    assert state["result"] is False and state["changes"] == {}, state
    # one line naming the argument and what the state takes (the same check as every state)
    assert state["comment"].splitlines()[0].startswith("unknown argument 'replicaz'"), state
    assert "chain.rolled_out takes: app, image" in state["comment"], state
    assert len(history()) == len(before) + 2
    assert all(versions(p) == {"2"} for p in deploy["ports"].values())


def _stage_sls(run_id, failing="two"):
    """An orchestrate of two stages with chain.stage markers around each (as init.sls places
    them): stage one sleeps a little on the master, stage two fails when it is ``failing``."""
    sls = {}
    previous = None
    for stage, state in (
        ("one", {"cmd.run": [{"name": "sleep 0.6"}]}),
        ("two", {f"test.{'fail' if failing == 'two' else 'succeed'}_without_changes": []}),
    ):
        marker = [{"name": stage}, {"run_id": run_id}, {"details": {"app": APP, "n": 1}}]
        if previous:
            marker.append({"require": [{"chain": f"stage-{previous}-done"}]})
        sls[f"stage-{stage}-start"] = {"chain.stage": marker}
        ((fun, args),) = state.items()
        sls[f"work-{stage}"] = {fun: [*args, {"require": [{"chain": f"stage-{stage}-start"}]}]}
        for sid, kind in (("done", "require"), ("failed", "onfail")):
            sls[f"stage-{stage}-{sid}"] = {
                "chain.stage": [
                    {"name": stage},
                    {"run_id": run_id},
                    {"event": "done"},
                    {kind: [{fun.split(".")[0]: f"work-{stage}"}]},
                ]
            }
        previous = stage
    return sls


def _orchestrate_stages(salt_run_cli, ext_tree, run_id, *extra, **kwargs):
    name = f"stages_{engines.RUN}"
    (ext_tree / f"{name}.sls").write_text(json.dumps(_stage_sls(run_id, **kwargs)))
    ret = salt_run_cli.run("state.orchestrate", name, *extra, _timeout=300)
    (states,) = ret.data["data"].values()
    return ret, {k.split("_|-")[1]: s for k, s in states.items()}


def test_stage_markers_fire_in_order_and_change_nothing(master, salt_run_cli, synced, ext_tree):
    """chain.stage's contracts (tests/functional/states/test_contracts.py MASTER_SIDE): each
    marker fires its event on the master bus as its stage starts and ends (a failed stage's
    done has result false and says why), with real durations; a marker is never a change;
    test=True fires nothing; a bad argument fails the marker before anything is fired. An
    orchestrate of test states: no minion work."""
    run_id = f"20261206T120000-{engines.RUN}"
    started = time.time()
    ret, states = _orchestrate_stages(salt_run_cli, ext_tree, run_id)
    assert ret.returncode != 0  # stage two fails
    markers = {sid: st for sid, st in states.items() if sid.startswith("stage-")}
    assert all(st["changes"] == {} for st in markers.values()), markers
    assert all(st["result"] is True for st in markers.values() if "done" not in st["__id__"])
    assert states["stage-two-done"]["result"] is False  # its requisite failed: not fired
    assert states["stage-two-failed"]["result"] is True, states["stage-two-failed"]

    tags = [f"chain/run/{run_id}/stage/{s}" for s in ("one/start", "one/done", "two/start")]
    tags.append(f"chain/run/{run_id}/stage/two/done")
    matched = master.event_listener.wait_for_events(
        [(master.id, t) for t in tags], after_time=started, timeout=30
    )
    assert matched.found_all_events, matched.missed
    events = sorted(
        master.event_listener.get_events(
            [(master.id, f"chain/run/{run_id}/stage/*")], after_time=started
        ),
        key=lambda e: e.stamp,
    )
    assert [e.tag for e in events] == tags  # each once, in order
    one_start, one_done, two_start, two_done = (e.data for e in events)
    assert one_start["app"] == APP and one_start["n"] == 1 and one_start["at"] >= started
    assert one_done["result"] is True and 0.6 <= one_done["duration"] < 30, one_done
    assert one_done["at"] - one_start["at"] == pytest.approx(one_done["duration"], abs=0.01)
    assert "\n" not in one_done["comment"] and "1 with changes" in one_done["comment"]
    assert two_done["result"] is False, two_done
    assert two_done["comment"].startswith("work-two: "), two_done
    assert two_start["at"] >= one_done["at"]

    # test=True: the markers say what they would fire, and fire nothing
    test_id = f"{run_id}-test"
    started = time.time()
    ret, states = _orchestrate_stages(salt_run_cli, ext_tree, test_id, "test=True", failing="")
    assert states["stage-one-start"]["result"] is True, states["stage-one-start"]
    assert "would be fired" in states["stage-one-start"]["comment"]
    assert all(st["changes"] == {} for sid, st in states.items() if sid.startswith("stage-"))
    # a bad argument: the marker fails before firing, and what requires it does not run
    bad_id = "bad/run"
    ret, states = _orchestrate_stages(salt_run_cli, ext_tree, bad_id, failing="")
    assert ret.returncode != 0
    bad = states["stage-one-start"]
    assert bad["result"] is False and bad["comment"].startswith("run_id: "), bad
    assert bad["changes"] == {} and states["work-one"]["result"] is False
    time.sleep(1)
    fired = master.event_listener.get_events(
        [(master.id, f"chain/run/{test_id}/*"), (master.id, "chain/run/bad/*")], after_time=started
    )
    assert not fired, [e.tag for e in fired]


@settings(max_examples=60, deadline=None)
@given(req=fuzz.requests(fuzz.FRONTEND_KNOWN, ["x", "version"], fuzz.bad_authorizations("a")))
def _fuzz_frontend(port, req):
    status, body = fuzz.send(port, req)
    assert status is not None, (req, body)
    # the sample app (Python's http.server) implements GET only: 501 to any other method
    assert status < 500 or (status == 501 and req["method"] != "GET"), (req, status, body[:300])


def test_fuzzed_requests_at_the_frontends_change_nothing(deploy):
    """HAProxy and the app behind it, fuzzed (tests/support/fuzz.py): no 5xx but the app's 501
    to a method it does not implement, and both frontends serve what they served."""
    for port in deploy["ports"].values():
        before = fuzz.frontend_state(port)
        assert [status for status, _ in before] == [200] * 4, before
        _fuzz_frontend(port)
        assert fuzz.frontend_state(port) == before
