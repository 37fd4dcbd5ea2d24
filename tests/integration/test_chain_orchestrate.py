"""salt-run state.orchestrate chain (formulas/chain/init.sls) through the real master, every stage:
1. on build1 the chain's registry, the source server (seeded from this checkout's examples/app)
   and the pipeline job (against the Jenkins emulator), and the frontends of build1 and app2;
2. the pipeline job for the exact commit of the ref, on a static agent (jenkins_agent.present,
   host networking: it clones through the source server's loopback port);
3. the image built on build1 from the build's archived artifact, tried with the production
   environment (healthy, /version naming the commit), then pushed to the chain's registry;
4. the rollout on build1 and app2; 5. a smoke check through both frontends (chain.smoke).
A second run for the same ref starts no build and reports no change, in any stage; a branch
whose head fails a unit test stops at the pipeline: no image built or pushed, salt-run exits
non-zero; a branch whose head is unhealthy only with the production environment (the deploy's
APP_ENV=production; its unit tests pass) stops at the image stage's trial: nothing pushed, the
servers keep serving what they served. With pillar chain:run_id, chain.stage markers fire
chain/run/<id>/stage/<stage>/start and /done live, and `scripts/chain.py follow` prints them
with the build's console; with chain:deploy false only infrastructure and pipeline run.

The registry password is only in the minions' pillar (tests/integration/conftest.py): the
orchestrate passes no secret along, and the password is in no output."""

import base64
import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.conftest import REPO
from tests.support import agents, engines, local
from tests.support.chain import (
    PRODUCTION,
    build_haproxy,
    deploy_pillar,
    drop_forward_schedule,
    push_failing_commit,
    push_sick_commit,
)
from tests.support.load import HEALTH_503, versions

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
SERVERS = ["build1", "app2"]
APP = f"oc{engines.RUN}"
REPO_NAME = f"sc-{engines.RUN}/oc-app"
HAPROXY = f"saltext-chain/{engines.name('oc')}-haproxy:1"
JOB = engines.name("oc-pipeline")
LABEL = engines.name("ocl")
AGENT = engines.name("oc-agent")
OWN_IMAGES = [f"saltext-chain/{engines.name(n)}:1" for n in ("oc-registry", "oc-source")] + [
    HAPROXY
]


@pytest.fixture(scope="module")
def chain(salt_cli, synced, app2, jenkins_emulator, chain_registry):
    """This run's pillar for the orchestrate, the static agent, the frontend image."""
    client = engines.client(ENGINE)
    build_haproxy(client, HAPROXY)
    source_port = local.free_port()
    url = f"git://127.0.0.1:{source_port}/app.git"
    ports = {m: local.free_port() for m in SERVERS}
    pillar = {
        "chain": {
            "app": APP,
            "targets": SERVERS,
            "build_target": "build1",
            "registry": {
                "address": chain_registry["address"],
                "repository": REPO_NAME,
                "server": {
                    "name": engines.name("oc-registry"),
                    "image": OWN_IMAGES[0],
                    "volume": engines.name("oc-registry-data"),
                    "port": chain_registry["port"],
                },
            },
            "source": {
                "name": engines.name("oc-source"),
                "image": OWN_IMAGES[1],
                "volume": engines.name("oc-source-data"),
                "port": source_port,
                "checkout": str(REPO),
            },
            "jobs": {"name": JOB, "label": LABEL, "git_url": url},
            **deploy_pillar("oc", HAPROXY, ports, environment=PRODUCTION)["chain"],
        }
    }
    tag = agents.build_agent_image()
    try:
        agents.static_agent(salt_cli, AGENT, tag, LABEL)
        yield {"pillar": pillar, "ports": ports, "url": url, "registry": chain_registry}
    finally:
        salt_cli.run("jenkins.job_delete", JOB, minion_tgt="build1")
        salt_cli.run("jenkins.node_delete", AGENT, minion_tgt="build1")
        drop_forward_schedule(salt_cli, pillar["chain"]["source"]["name"])
        engines.cleanup(ENGINE)
        for image in OWN_IMAGES:
            with contextlib.suppress(Exception):
                client.images.remove(image, force=True)
        engines.remove_references(ENGINE, f"{chain_registry['address']}/{REPO_NAME}")
        client.close()


STAGES = ("infrastructure", "pipeline", "image", "rollout", "smoke")


def _orchestrate(salt_run_cli, chain, ref, run=None, **service):
    pillar = json.loads(json.dumps(chain["pillar"]))
    pillar["chain"]["ref"] = ref
    pillar["chain"].update(run or {})
    pillar["chain"]["service"].update(service)
    started = time.monotonic()
    ret = salt_run_cli.run(
        "state.orchestrate", "chain", f"pillar={json.dumps(pillar)}", _timeout=900
    )
    wall = time.monotonic() - started
    assert chain["registry"]["password"] not in ret.stdout + ret.stderr
    states = {}
    if isinstance(ret.data, dict):
        (states,) = ret.data.get("data", ret.data).values()
    by_id = {k.split("_|-")[1]: s for k, s in states.items()}
    print(f"\norchestrate chain ref={ref}: rc {ret.returncode}, {wall:.1f}s wall")
    for sid, st in by_id.items():
        print(f"  {sid}: {st['result']} {st.get('duration', 0) / 1000:.1f}s")
    staged = sum(st.get("duration", 0) for st in by_id.values()) / 1000
    print(f"  (outside the stages: {wall - staged:.1f}s)")
    rollout = by_id.get("chain-rollout") or {}
    print(f"  rollout: changes {rollout.get('changes')}; {rollout.get('comment')}")
    return ret, by_id, wall


def _profile(salt_run_cli, states):
    """Each salt.state stage's own states, slowest first (its job, from the master's cache)."""
    for sid, st in states.items():
        jid = st.get("__jid__")
        if not jid:
            continue
        found = salt_run_cli.run("jobs.lookup_jid", jid, _timeout=60).data or {}
        for minion, ret in found.items():
            if not isinstance(ret, dict) or not all(isinstance(s, dict) for s in ret.values()):
                continue
            rows = sorted(
                (
                    (s.get("duration", 0), k.split("_|-")[1], s.get("comment"))
                    for k, s in ret.items()
                ),
                reverse=True,
            )
            took = sum(row[0] for row in rows) / 1000
            first = min(_clock(s["start_time"]) for s in ret.values() if "start_time" in s)
            last = max(
                _clock(s["start_time"]) + s.get("duration", 0) / 1000
                for s in ret.values()
                if "start_time" in s
            )
            begun, ended = (
                _clock(st["start_time"]),
                _clock(st["start_time"]) + st["duration"] / 1000,
            )
            print(
                f"  {sid} on {minion}: {took:.2f}s in {len(rows)} state(s); "
                f"{first - begun:.2f}s before the first (publish, pillar, render), "
                f"{ended - last:.2f}s after the last"
            )
            for duration, name, comment in rows[:4]:
                print(f"      {duration / 1000:.2f}s {name}: {str(comment)[:100]}")


def _clock(text):
    """A state's ``start_time`` (HH:MM:SS.ffffff) as seconds of the day."""
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _tags(chain):
    reg = chain["registry"]
    auth = base64.b64encode(f"{reg['username']}:{reg['password']}".encode()).decode()
    req = urllib.request.Request(
        f"http://{reg['address']}/v2/{REPO_NAME}/tags/list",
        headers={"Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return set(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:  # the repository does not exist yet
            return set()
        raise


def _digest(chain, tag):
    """The manifest digest the chain's registry serves for a tag (asked directly)."""
    reg = chain["registry"]
    auth = base64.b64encode(f"{reg['username']}:{reg['password']}".encode()).decode()
    req = urllib.request.Request(
        f"http://{reg['address']}/v2/{REPO_NAME}/manifests/{tag}",
        method="HEAD",
        headers={
            "Authorization": f"Basic {auth}",
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"]


def _status_args(chain):
    conf = chain["pillar"]["chain"]
    return [
        "targets=build1,app2",
        f"service={conf['service']['name']}-{{minion}}",
        f"frontend={conf['frontend']['name']}-{{minion}}",
        f"network={conf['network']['name']}-{{minion}}",
        "backend=app",
    ]


def _run_id(what):
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{engines.RUN}-{what}"


def _stage_events(master, run_id, after):
    """The run's stage events, in the order they were fired."""
    found = master.event_listener.get_events(
        [(master.id, f"chain/run/{run_id}/stage/*")], after_time=after
    )
    return [(e.tag.split("/", 4)[4], e.data) for e in sorted(found, key=lambda e: e.stamp)]


def _wait_stage_events(master, run_id, after, stages):
    tags = [f"chain/run/{run_id}/stage/{s}/{e}" for s in stages for e in ("start", "done")]
    matched = master.event_listener.wait_for_events(
        [(master.id, t) for t in tags], after_time=after, timeout=30
    )
    assert matched.found_all_events, matched.missed
    return _stage_events(master, run_id, after)


def _follower(master, jenkins_emulator, tmp_path, run_id):
    """``scripts/chain.py follow RUN_ID`` against this master (a copy of its config with the
    app's Jenkins profile and job, as an operator's master config has them), started and
    listening before the run."""
    conf = yaml.safe_load(pathlib.Path(master.config_file).read_text())
    conf["jenkins"] = {
        "profiles": {"follow": {k: jenkins_emulator[k] for k in ("url", "user", "token")}}
    }
    conf["chain"] = {"apps": {APP: {"jenkins_profile": "follow", "jenkins_job": JOB}}}
    (tmp_path / "follow").mkdir()
    (tmp_path / "follow" / "master").write_text(yaml.safe_dump(conf))
    script = REPO / "scripts" / "chain.py"
    args = ["follow", run_id, "-c", str(tmp_path / "follow"), "--grace", "1", "--timeout", "600"]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()
    assert first.startswith(f"==> waiting for run {run_id}"), first + proc.stderr.read()
    return proc


def _builds(salt_cli):
    info = salt_cli.run("jenkins.job_info", JOB, minion_tgt="build1").data
    return sorted(b["number"] for b in info.get("builds") or [])


def test_orchestrate_full_chain_no_op_and_bad_commit(
    master, salt_cli, salt_run_cli, build1, chain, jenkins_emulator, tmp_path
):
    # Run 1: the whole chain for the commit stage 1 serves as main (examples/app's history),
    # as the queue runs it (a run id: its stages fire events live), followed in a terminal.
    commit = local.git("subtree", "split", "-q", "--prefix=examples/app", "HEAD", cwd=REPO)
    run_id = _run_id("first")
    follower = _follower(master, jenkins_emulator, tmp_path, run_id)
    started = time.time()
    try:
        ret, states, wall = _orchestrate(salt_run_cli, chain, commit, run={"run_id": run_id})
        followed, errors = follower.communicate(timeout=120)
    finally:
        follower.kill()
    assert ret.returncode == 0, ret.stdout[-6000:]
    assert all(s["result"] is True for s in states.values()), json.dumps(states)[:6000]
    _check_stage_events(master, run_id, started, states, wall)
    print(f"$ scripts/chain.py follow {run_id}\n{followed}")
    _check_followed(followed, errors, follower.returncode, run_id)
    assert set(states) >= {
        "chain-build-infrastructure",
        "chain-infrastructure",
        "chain-pipeline",
        "chain-image",
        "chain-rollout",
        "chain-smoke-build1",
        "chain-smoke-app2",
    }, list(states)
    served = local.git("ls-remote", chain["url"], "refs/heads/main").split()[0]
    assert served == commit
    print(f"full orchestrate (registry, source, job, build, image, rollout): {wall:.1f}s")
    assert all(versions(p) == {commit} for p in chain["ports"].values())

    # The build ran on the agent for that exact commit; the image came from its artifact.
    builds = _builds(salt_cli)
    assert len(builds) == 1, builds
    info = salt_cli.run("jenkins.build_info", JOB, builds[0], minion_tgt="build1").data
    assert info["result"] == "SUCCESS" and info["builtOn"] == AGENT
    params = {
        p["name"]: p["value"] for a in info["actions"] for p in (a or {}).get("parameters") or []
    }
    assert params["REF"] == commit
    cache = pathlib.Path(build1.config["cachedir"]) / "saltext-chain" / f"{APP}-artifacts"
    assert (cache / commit / f"app-{commit}.tar.gz").is_file()
    image = f"{chain['registry']['address']}/{REPO_NAME}:{commit}"
    with contextlib.closing(engines.client(ENGINE)) as client:
        attrs = client.images.get(image).attrs
    assert attrs["Config"]["Labels"]["org.saltext-chain.commit"] == commit
    assert f"APP_COMMIT={commit}" in attrs["Config"]["Env"]
    assert commit in _tags(chain)  # pushed to the chain's registry

    # chain.status: the registry's tags of the app's repository with the digests it serves
    # (credentials from the master's pillar), next to what runs on each server.
    digest = _digest(chain, commit)
    assert digest.startswith("sha256:")
    args = _status_args(chain)
    status = salt_run_cli.run("chain.status", APP, "out_format=data", *args)
    assert status.returncode == 0, status.stdout
    reg = status.data[APP]["registry"]
    assert reg["repository"] == f"{chain['registry']['address']}/{REPO_NAME}", reg
    assert reg["tags"] == {commit: digest}, reg
    assert all(len(status.data[APP]["servers"][m]["serving"]) == 2 for m in SERVERS)
    table = salt_run_cli.run("chain.status", APP, *args)
    print(table.stdout)
    assert f"registry {reg['repository']}" in table.stdout
    assert commit in table.stdout and digest in table.stdout
    assert chain["registry"]["password"] not in table.stdout + json.dumps(status.data)

    # Run 2, the same ref: no build started, nothing changed, nothing built or pushed (its
    # stage markers neither: they are not changes).
    ret, states, wall = _orchestrate(salt_run_cli, chain, commit, {"run_id": _run_id("again")})
    print(f"no-op orchestrate for an already deployed ref: {wall:.1f}s")
    if os.environ.get("CHAIN_PROFILE"):
        _profile(salt_run_cli, states)
    assert ret.returncode == 0, ret.stdout[-6000:]
    assert _builds(salt_cli) == builds
    for sid in (
        "chain-build-infrastructure",
        "chain-infrastructure",
        "chain-pipeline",
        "chain-image",
    ):
        assert states[sid]["changes"] == {}, (sid, json.dumps(states[sid])[:3000])
    text = json.dumps(states)
    assert '"image_id"' not in text and '"pushed"' not in text, text[:3000]
    with contextlib.closing(engines.client(ENGINE)) as client:
        assert client.images.get(image).id == attrs["Id"]
    assert all(versions(p) == {commit} for p in chain["ports"].values())
    # The rollout checked every server (at once) and changed nothing: recorded as a no-op (its
    # return is the history's entry; a no-op stage need not carry it in `changes`).
    rollout = salt_run_cli.run("chain.history", APP, "limit=1").data[0]
    assert rollout["result"] is True and rollout["no_op"] is True, rollout
    assert rollout["ref"] == commit, rollout
    assert set(rollout["servers"]) == set(SERVERS), rollout
    assert all(s["no_op"] and s["result"] for s in rollout["servers"].values()), rollout
    # A smoke check that passes is not a change (chain.smoke through salt.state).
    for target in SERVERS:
        smoke = states[f"chain-smoke-{target}"]
        assert smoke["result"] is True and smoke["changes"] == {}, smoke
    again = states  # the operator's view of this run is asserted at the end (below)

    # Run 2b, the same ref with a drifted spec (3 replicas in pillar): the rollout applies it,
    # server by server, and every server then serves 3 replicas of the same image.
    ret, states, _ = _orchestrate(salt_run_cli, chain, commit, replicas=3)
    assert ret.returncode == 0, ret.stdout[-6000:]
    rollout = salt_run_cli.run("chain.history", APP, "limit=1").data[0]
    assert rollout["result"] is True and rollout["no_op"] is False, rollout
    assert set(rollout["servers"]) == set(SERVERS), rollout  # the order: test_chain_rollout
    # chain.rolled_out reports the rollout's own changes: each server, its image replaced by
    # the same image with the new spec (the replicas were replaced).
    assert states["chain-rollout"]["changes"] == rollout["changes"], states["chain-rollout"]
    assert set(rollout["changes"]) == set(SERVERS), rollout
    assert _builds(salt_cli) == builds
    status = salt_run_cli.run("chain.status", APP, "out_format=data", *args)
    assert all(len(status.data[APP]["servers"][m]["serving"]) == 3 for m in SERVERS), status.data
    assert all(versions(p) == {commit} for p in chain["ports"].values())

    # Run 2c, the same ref on a branch that only builds and tests (chain:deploy false): the
    # infrastructure and pipeline stages only; nothing is rolled out or smoke-tested.
    history_before = salt_run_cli.run("chain.history", APP, "limit=50").data
    run_id = _run_id("build-only")
    started = time.time()
    ret, states, _ = _orchestrate(salt_run_cli, chain, commit, {"run_id": run_id, "deploy": False})
    assert ret.returncode == 0, ret.stdout[-6000:]
    assert {sid for sid in states if not sid.startswith("chain-stage-")} == {
        "chain-infrastructure",
        "chain-build-infrastructure",
        "chain-pipeline",
    }, list(states)
    events = _wait_stage_events(master, run_id, started, STAGES[:2])
    assert [tag for tag, _ in events] == [f"{s}/{e}" for s in STAGES[:2] for e in ("start", "done")]
    assert events[0][1]["deploy"] is False
    assert salt_run_cli.run("chain.history", APP, "limit=50").data == history_before

    # Run 3: a branch whose head fails a unit test stops at the pipeline; its done event says
    # so, and no later stage starts.
    bad = push_failing_commit(chain["url"], tmp_path / "work")
    run_id = _run_id("broken")
    started = time.time()
    ret, states, _ = _orchestrate(salt_run_cli, chain, "broken", {"run_id": run_id})
    assert ret.returncode != 0
    assert states["chain-pipeline"]["result"] is False
    assert "broken on purpose" in json.dumps(states["chain-pipeline"]), states["chain-pipeline"]
    events = _wait_stage_events(master, run_id, started, STAGES[:2])
    time.sleep(1)  # nothing else comes
    events = _stage_events(master, run_id, started)
    assert [tag for tag, _ in events] == [f"{s}/{e}" for s in STAGES[:2] for e in ("start", "done")]
    failed = events[-1][1]
    assert failed["result"] is False and "\n" not in failed["comment"], failed
    assert failed["comment"].startswith("chain-pipeline: build1: "), failed
    assert "FAILURE" in failed["comment"], failed
    assert states["chain-image"]["result"] is False
    assert "requisite" in states["chain-image"]["comment"].lower(), states["chain-image"]
    builds_now = _builds(salt_cli)
    assert len(builds_now) == len(builds) + 1
    info = salt_cli.run("jenkins.build_info", JOB, builds_now[-1], minion_tgt="build1").data
    assert info["result"] == "FAILURE"
    params = {
        p["name"]: p["value"] for a in info["actions"] for p in (a or {}).get("parameters") or []
    }
    assert params["REF"] == bad  # the branch was resolved to its exact commit
    assert not (cache / bad).exists()
    with contextlib.closing(engines.client(ENGINE)) as client:
        assert not client.images.list(name=f"{chain['registry']['address']}/{REPO_NAME}:broken")
    assert "broken" not in _tags(chain)
    assert all(versions(p) == {commit} for p in chain["ports"].values())

    # Run 4: a commit unhealthy only in production (its unit tests pass) stops at the image
    # stage, before the registry: its trial with the production environment fails.
    sick = push_sick_commit(chain["url"], tmp_path / "sick")
    ret, states, _ = _orchestrate(salt_run_cli, chain, "sick")
    assert ret.returncode != 0
    assert states["chain-pipeline"]["result"] is True, states["chain-pipeline"]
    assert states["chain-image"]["result"] is False
    why = (
        f"commit {sick} failed its trial with the production environment: unhealthy; "
        f"health check: {HEALTH_503}"
    )
    assert why in json.dumps(states["chain-image"]), states["chain-image"]
    assert "requisite" in states["chain-rollout"]["comment"].lower(), states["chain-rollout"]
    assert "sick" not in _tags(chain)
    with contextlib.closing(engines.client(ENGINE)) as client:  # built, kept, not pushed
        kept = client.images.get(f"{chain['registry']['address']}/{REPO_NAME}:sick")
        assert kept.labels["org.saltext-chain.commit"] == sick
    assert all(versions(p) == {commit} for p in chain["ports"].values())

    # The operator's view of run 2 (the same ref again): Succeeded with zero changes, the
    # rollout stage included (chain.rolled_out reports the runner's own changes, {} on a no-op;
    # Salt's salt.runner state would report the whole return as a change).
    changed = sorted(sid for sid, st in again.items() if st["changes"])
    assert changed == [], {sid: again[sid]["changes"] for sid in changed}


def _check_stage_events(master, run_id, started, states, wall):
    """Every stage fired start then done, in order, live (each start after the stage before
    ended), with durations that are the stage's states' own; no marker changed anything."""
    events = _wait_stage_events(master, run_id, started, STAGES)
    assert [tag for tag, _ in events] == [f"{s}/{e}" for s in STAGES for e in ("start", "done")]
    for (_, start), (_, done) in zip(events[::2], events[1::2], strict=True):
        assert done["result"] is True and done["comment"] and "\n" not in done["comment"], done
        assert done["at"] - start["at"] == pytest.approx(done["duration"], abs=0.01)
    ats = [data["at"] for _, data in events]
    assert ats == sorted(ats) and started <= ats[0] and ats[-1] <= started + wall + 1
    took = {tag.split("/")[0]: data["duration"] for tag, data in events if tag.endswith("/done")}
    # a stage's duration covers its states' (they ran between its markers)
    assert took["rollout"] >= states["chain-rollout"]["duration"] / 1000 - 0.05, took
    assert took["pipeline"] >= states["chain-pipeline"]["duration"] / 1000 - 0.05, took
    assert took["rollout"] <= states["chain-rollout"]["duration"] / 1000 + 2, took
    assert events[2][1]["job"] == JOB and events[2][1]["ref"] == events[0][1]["ref"]
    markers = {sid: st for sid, st in states.items() if sid.startswith("chain-stage-")}
    assert len(markers) == 3 * len(STAGES), sorted(markers)
    assert all(st["changes"] == {} and st["result"] is True for st in markers.values()), markers
    print("stage events: " + ", ".join(f"{s} {d:.1f}s" for s, d in took.items()))


def _check_followed(out, errors, code, run_id):
    """What `scripts/chain.py follow` printed: each stage as it started and ended, in order,
    the pipeline's build console between them, the run's end; exit code 0."""
    assert code == 0, out + errors
    lines = out.splitlines()
    stages = [line.split("] ", 1)[1] for line in lines if line.startswith("[")]
    assert [s.split(" ")[:2] for s in stages] == [
        [stage, word] for stage in STAGES for word in ("...", "ok")
    ], stages
    start = lines.index(next(line for line in lines if line.endswith("] pipeline ...")))
    end = lines.index(next(line for line in lines if "] pipeline ok" in line))
    console = lines[start + 1 : end]
    assert console[0].startswith(f"    {JOB} #") and console[0].endswith(": console"), console
    assert len(console) > 3 and all(line.startswith("    | ") for line in console[1:]), console
    assert any("Finished: SUCCESS" in line for line in console), console
    assert lines[-1].startswith(f"run {run_id}: stages done in "), lines[-1]
