"""formulas/chain/jobs.sls (then chain.pipeline, chain.image) through the real master on build1,
against the Jenkins emulator: the app's pipeline (JJB) runs on a static agent
(jenkins_agent.present, the emulated inbound agent in a container) for a ref of the app's
repository served by formulas/chain/source.sls: checkout by URL, unit tests with a JUnit report
under coverage, pyflakes, the artifact, the docs, the sdist and the wheel, all archived. A commit
whose unit test fails fails the build (jenkins_build.succeeded reports the console tail; only
its test report is archived), so does a commit with a pyflakes finding. The same pipeline builds
a Mercurial repository (VCS=hg; a local hgweb, `hg serve`, on 127.0.0.1).

chain.image tries the built image before it pushes it: a commit unhealthy only with the
production environment (its unit tests pass) fails the image stage with one line naming it,
and nothing reaches the registry (its API has no such tag); a healthy one is pushed.

chain.pipeline and chain.image look the commit and the build up when their states run, never
while rendering: ``state.show_sls`` sends nothing to the source server or to Jenkins, and under
``test=True`` they say what they would build or fetch, and write nothing.

The agent runs with host networking (as the emulator runs on the host's loopback), so it clones
through the source server's published loopback port rather than its name on the chain network.
"""

import base64
import contextlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile

import pytest

from tests.conftest import REPO
from tests.support import agents, controller, engines, local
from tests.support.chain import (
    PRODUCTION,
    drop_forward_schedule,
    push_failing_commit,
    push_sick_commit,
)
from tests.support.load import HEALTH, HEALTH_503

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
SOURCE = engines.name("jsrc")
IMAGE = f"saltext-chain/{SOURCE}:1"
AGENT = engines.name("jagent")
LABEL = engines.name("jl")
JOB = engines.name("pipeline")


def _states(ret):
    assert isinstance(ret.data, dict), ret.stdout[:3000]
    return {k.split("_|-")[1]: s for k, s in ret.data.items()}


@pytest.fixture(scope="module")
def chain(salt_cli, synced, jenkins_emulator):
    port = local.free_port()
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "network": {"name": engines.name("jnet")},
            "source": {
                "name": SOURCE,
                "image": IMAGE,
                "volume": engines.name("jsrc-data"),
                "port": port,
                "checkout": str(REPO),
            },
            "jobs": {"name": JOB, "label": LABEL, "git_url": f"git://127.0.0.1:{port}/app.git"},
        }
    }
    tag = agents.build_agent_image()
    try:
        ret = salt_cli.run(
            "state.apply", "chain.source", f"pillar={json.dumps(pillar)}", minion_tgt="build1"
        )
        assert ret.returncode == 0, ret.stdout[:3000]
        agents.static_agent(salt_cli, AGENT, tag, LABEL)
        yield {"port": port, "pillar": json.dumps(pillar), "url": f"git://127.0.0.1:{port}/app.git"}
    finally:
        salt_cli.run("jenkins.job_delete", JOB, minion_tgt="build1")
        salt_cli.run("jenkins.node_delete", AGENT, minion_tgt="build1")
        drop_forward_schedule(salt_cli, SOURCE)
        engines.cleanup(ENGINE)
        with contextlib.closing(engines.client(ENGINE)) as client:
            with contextlib.suppress(Exception):
                client.images.remove(IMAGE, force=True)


def _fetch(emulator, number, rel):
    """An archived artifact of build ``number``, straight from the controller's HTTP API."""
    auth = base64.b64encode(f"{emulator['user']}:{emulator['token']}".encode()).decode()
    req = urllib.request.Request(
        f"{emulator['url'].rstrip('/')}/job/{JOB}/{number}/artifact/{rel}",
        headers={"Authorization": f"Basic {auth}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def _counts(junit):
    """``{tests, failures, errors, skipped}`` of a JUnit XML report (pytest's: one suite)."""
    root = ET.fromstring(junit)
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}


def _push_change(url, work, branch, path, text, message):
    """Clone ``url`` into ``work``, write ``path``, commit and push to ``branch``; the commit."""
    local.git("clone", "-q", url, str(work))
    (work / path).write_text(text)
    local.git("add", path, cwd=work)
    local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message, cwd=work)
    local.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return local.git("rev-parse", "HEAD", cwd=work)


def _build(salt_cli, ref):
    ret = salt_cli.run(
        "state.single",
        "jenkins_build.succeeded",
        JOB,
        f"parameters={json.dumps({'REF': ref})}",
        "timeout=300",
        minion_tgt="build1",
        _timeout=400,
    )
    (state,) = _states(ret).values()
    return ret, state


def test_pipeline_runs_for_a_ref_and_a_failing_unit_test_fails_it(
    salt_cli, chain, jenkins_emulator, tmp_path
):
    ret = salt_cli.run(
        "state.apply", "chain.jobs", f"pillar={chain['pillar']}", minion_tgt="build1"
    )
    assert ret.returncode == 0, ret.stdout[:3000]
    (state,) = _states(ret).values()
    assert state["result"] is True and state["changes"], state
    again = salt_cli.run(
        "state.apply", "chain.jobs", f"pillar={chain['pillar']}", minion_tgt="build1"
    )
    assert again.returncode == 0
    assert [s["changes"] for s in _states(again).values()] == [{}]

    # A good ref: built on the static agent; every artifact of the seed's pipeline archived.
    served = local.git("ls-remote", chain["url"], "refs/heads/main").split()[0]
    ret, state = _build(salt_cli, "main")
    assert ret.returncode == 0 and state["result"] is True, state
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "SUCCESS"
    assert info["builtOn"] == AGENT
    number = info["number"]
    paths = sorted(a["relativePath"] for a in info["artifacts"])
    assert paths == [
        f"dist/app-{served}.tar.gz",
        "dist/chain-app-1.0.0.tar.gz",
        "dist/chain_app-1.0.0-py3-none-any.whl",
        "dist/commit.txt",
        "dist/coverage.json",
        "dist/docs/app.html",
        "dist/docs/index.html",
        "dist/junit.xml",
    ], paths
    # the artifact the image is built from, through the execution module as chain.image does
    dest = tmp_path / "app.tar.gz"
    got = salt_cli.run(
        "jenkins.artifact",
        JOB,
        f"dist/app-{served}.tar.gz",
        "lastBuild",
        f"dest={dest}",
        minion_tgt="build1",
    )
    assert got.returncode == 0, got.stdout
    listing = subprocess.run(
        ["tar", "tzf", str(dest)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "app/app.py" in listing and "app/tests/test_app.py" in listing, listing
    # the unit tests' JUnit report and the coverage metric
    tests = sum(
        1
        for line in (REPO / "examples/app/tests/test_app.py").read_text().splitlines()
        if line.strip().startswith("def test_")
    )
    assert _counts(_fetch(jenkins_emulator, number, "dist/junit.xml")) == {
        "tests": tests,
        "failures": 0,
        "errors": 0,
        "skipped": 0,
    }
    coverage = json.loads(_fetch(jenkins_emulator, number, "dist/coverage.json"))
    assert 50 < coverage["totals"]["percent_covered"] < 100, coverage["totals"]
    assert set(coverage["files"]) == {"app.py"}  # the app's code, not its tests
    # the docs: the README as HTML, pydoc's page of the module
    index = _fetch(jenkins_emulator, number, "dist/docs/index.html").decode()
    assert "sample app</h1>" in index and 'href="app.html"' in index, index[:500]
    assert "healthy" in _fetch(jenkins_emulator, number, "dist/docs/app.html").decode()
    # the packaged release: a wheel and an sdist of the app's module
    wheel = zipfile.ZipFile(io.BytesIO(_fetch(jenkins_emulator, number, paths[2])))
    assert {"app.py", "chain_app-1.0.0.dist-info/METADATA"} <= set(wheel.namelist())
    with tarfile.open(fileobj=io.BytesIO(_fetch(jenkins_emulator, number, paths[1]))) as sdist:
        assert "chain-app-1.0.0/app.py" in sdist.getnames()
    console = salt_cli.run("jenkins.console", JOB, "lastBuild", minion_tgt="build1").data
    assert f"commit {served}" in console
    assert f"{tests} passed" in console and "pyflakes: no findings" in console

    # A commit whose unit test fails, pushed to a branch of the served repository: only the
    # test report (and the coverage of that run) is archived, the failure counted in it.
    push_failing_commit(chain["url"], tmp_path / "work")
    ret, state = _build(salt_cli, "broken")
    assert ret.returncode != 0
    assert state["result"] is False
    assert "FAILURE" in state["comment"], state["comment"]
    assert "broken on purpose" in state["comment"], state["comment"]  # the console tail
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "FAILURE"
    assert sorted(a["relativePath"] for a in info["artifacts"]) == [
        "dist/coverage.json",
        "dist/junit.xml",
    ]
    assert _counts(_fetch(jenkins_emulator, info["number"], "dist/junit.xml")) == {
        "tests": tests + 1,
        "failures": 1,
        "errors": 0,
        "skipped": 0,
    }

    # A commit with a pyflakes finding (its unit tests pass): static analysis fails the build.
    _push_change(chain["url"], tmp_path / "lint", "lint", "lint.py", "import os\n", "lint")
    ret, state = _build(salt_cli, "lint")
    assert ret.returncode != 0 and state["result"] is False, state
    assert "lint.py:1:1: 'os' imported but unused" in state["comment"], state["comment"]
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "FAILURE"
    assert sorted(a["relativePath"] for a in info["artifacts"]) == [
        "dist/coverage.json",
        "dist/junit.xml",
    ]
    assert _counts(_fetch(jenkins_emulator, info["number"], "dist/junit.xml"))["failures"] == 0


def test_show_sls_sends_nothing_to_the_source_server_or_jenkins(salt_cli, chain, jenkins_emulator):
    """Rendering is rendering: the source server's port is a socket nobody answers (a connection
    would wait in its backlog), Jenkins is the emulator with its request log."""
    with socket.socket() as trap:
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        pillar = json.loads(chain["pillar"])
        pillar["chain"]["ref"] = "main"
        pillar["chain"]["source"]["port"] = trap.getsockname()[1]
        with controller.RequestLog(jenkins_emulator["home"]) as log:
            ret = salt_cli.run(
                "state.show_sls",
                "chain.pipeline,chain.image,chain.jobs,chain.smoke",
                f"pillar={json.dumps(pillar)}",
                minion_tgt="build1",
            )
        trap.setblocking(False)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected
    assert log.requests == [], log.requests
    assert ret.returncode == 0 and isinstance(ret.data, dict), ret.stdout[:3000]
    build = ret.data["chain-pipeline-jenkins_build-succeeded"]["jenkins_build"]
    (params,) = [
        arg["parameters"] for arg in build if isinstance(arg, dict) and "parameters" in arg
    ]
    assert params["REF"].startswith("__slot__:salt:chain_pipeline.resolve("), params
    image = ret.data["chain-image-container_image-present"]["container_image"]
    (context,) = [arg["build"] for arg in image if isinstance(arg, dict) and "build" in arg]
    assert context.startswith("__slot__:salt:chain_pipeline.artifact("), context
    trial = ret.data["chain-image-trial-test-configurable_test_state"]["test"]
    (result,) = [arg["result"] for arg in trial if isinstance(arg, dict) and "result" in arg]
    assert result.startswith("__slot__:salt:chain_pipeline.trial("), result


def _by_id(ret):
    assert isinstance(ret.data, dict), ret.stdout[:3000]
    return {s["__id__"]: s for s in ret.data.values()}


def test_pipeline_and_image_resolve_when_applied_and_say_what_they_would_do(
    salt_cli, chain, jenkins_emulator, tmp_path
):
    pillar = json.loads(chain["pillar"])
    artifacts = tmp_path / "artifacts"
    pillar["chain"].update(ref="main", app_image={"artifacts": str(artifacts)})
    served = local.git("ls-remote", chain["url"], "refs/heads/main").split()[0]

    # An unknown ref: the first state says why, the build is not attempted.
    unknown = dict(pillar["chain"], ref="no-such-branch")
    ret = salt_cli.run(
        "state.sls",
        "chain.pipeline",
        f"pillar={json.dumps({'chain': unknown})}",
        minion_tgt="build1",
    )
    assert ret.returncode != 0
    states = _by_id(ret)
    guard = states["chain-pipeline-commit-test-configurable_test_state"]
    assert guard["result"] is False
    assert guard["comment"].startswith("ref no-such-branch is not a branch or tag of git://")
    assert "requisite failed" in states["chain-pipeline-jenkins_build-succeeded"]["comment"]

    # The pipeline for the commit of main (REF=<commit>), then both stages under test=True.
    ret = salt_cli.run(
        "state.sls",
        "chain.pipeline",
        f"pillar={json.dumps(pillar)}",
        minion_tgt="build1",
        _timeout=400,
    )
    assert ret.returncode == 0, ret.stdout[:3000]
    assert _by_id(ret)["chain-pipeline-commit-test-configurable_test_state"]["comment"] == (
        f"ref main is {served}"
    )
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    number = info["number"]
    with controller.RequestLog(jenkins_emulator["home"]) as log:
        ret = salt_cli.run(
            "state.sls",
            "chain.pipeline,chain.image",
            f"pillar={json.dumps(pillar)}",
            "test=True",
            minion_tgt="build1",
        )
    assert ret.returncode == 0, ret.stdout[:3000]
    assert log.writes() == [] and log.changed() == [], (log.writes(), log.changed())
    states = _by_id(ret)
    assert set(states) == {
        "chain-pipeline-commit-test-configurable_test_state",
        "chain-pipeline-jenkins_build-succeeded",
        "chain-image-artifact-test-configurable_test_state",
        "chain-image-trial-test-configurable_test_state",
    }, sorted(states)
    assert all(s["changes"] == {} for s in states.values()), states
    built = states["chain-pipeline-jenkins_build-succeeded"]
    assert built["result"] is True
    assert built["comment"] == f"Build #{number} of {JOB} with these parameters already SUCCESS"
    plan = states["chain-image-artifact-test-configurable_test_state"]
    assert plan["result"] is True
    assert plan["comment"] == (
        f"would fetch dist/app-{served}.tar.gz of build #{number} of {JOB} and unpack it "
        f"into {artifacts / served / 'app'} (commit {served})"
    ), plan
    image = "127.0.0.1:5050/chain/app"  # the defaults (formulas/chain/defaults.yaml)
    trial = states["chain-image-trial-test-configurable_test_state"]
    assert trial["result"] is True
    assert trial["comment"].startswith(
        f"would start {image}:main (commit {served}) with the production environment"
    ), trial
    assert not artifacts.exists()  # nothing written under test
    assert (
        salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data["number"]
        == number
    )


def _registry_tags(credentials, repository):
    """The tags the CI registry serves for ``repository`` (its /v2 API), empty when none."""
    auth = base64.b64encode(
        f"{credentials['username']}:{credentials['password']}".encode()
    ).decode()
    req = urllib.request.Request(
        f"http://{engines.REGISTRY}/v2/{repository}/tags/list",
        headers={"Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return set(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:  # the repository does not exist (yet)
            return set()
        raise


def test_image_stage_stops_a_commit_unhealthy_only_in_production(
    salt_cli, chain, registry_credentials, tmp_path
):
    """The image is tried with the deploy's production environment before the push: a commit
    whose unit tests pass but whose /health fails with APP_ENV=production stops there."""
    repository = f"{engines.name('japp')}/app"
    pillar = json.loads(chain["pillar"])
    pillar["chain"].update(
        app=engines.name("japp"),
        registry={"address": engines.REGISTRY, "repository": repository},
        service={"environment": PRODUCTION, "healthcheck": HEALTH},
        app_image={"artifacts": str(tmp_path / "artifacts")},
    )
    sick = push_sick_commit(chain["url"], tmp_path / "sick")
    client = engines.client(ENGINE)
    try:
        ret = salt_cli.run(
            "state.sls",
            "chain.pipeline,chain.image",
            f"pillar={json.dumps({'chain': dict(pillar['chain'], ref='sick')})}",
            minion_tgt="build1",
            _timeout=600,
        )
        assert ret.returncode != 0
        states = _by_id(ret)
        assert states["chain-pipeline-jenkins_build-succeeded"]["result"] is True  # tests pass
        built = states["chain-image-container_image-present"]
        assert built["result"] is True and built["changes"]["image_id"], built
        trial = states["chain-image-trial-test-configurable_test_state"]
        assert trial["result"] is False
        assert trial["comment"] == (
            f"commit {sick} failed its trial with the production environment: unhealthy; "
            f"health check: {HEALTH_503}"
        ), trial
        pushed = states["chain-image-pushed-container_image-present"]
        assert pushed["result"] is False and "requisite" in pushed["comment"].lower(), pushed
        assert "sick" not in _registry_tags(registry_credentials, repository)
        kept = client.images.get(f"{engines.REGISTRY}/{repository}:sick")  # kept, to look at
        assert kept.labels["org.saltext-chain.commit"] == sick
        mine = ["org.saltext-chain.trial", f"{engines.TEST_LABEL}={engines.RUN}"]
        assert not client.containers.list(all=True, filters={"label": mine})  # removed

        # Control: the healthy head of main passes the same trial and is pushed; once pushed,
        # a second run neither tries nor pushes it again.
        main = json.dumps({"chain": dict(pillar["chain"], ref="main")})
        ret = salt_cli.run(
            "state.sls", "chain.pipeline,chain.image", f"pillar={main}", minion_tgt="build1"
        )
        assert ret.returncode == 0, ret.stdout[-3000:]
        served = local.git("ls-remote", chain["url"], "refs/heads/main").split()[0]
        states = _by_id(ret)
        trial = states["chain-image-trial-test-configurable_test_state"]
        assert trial["comment"] == (
            f"commit {served} passed its trial with the production environment "
            "(healthy, /version names it)"
        )
        assert states["chain-image-pushed-container_image-present"]["changes"]["pushed"]
        assert "main" in _registry_tags(registry_credentials, repository)
        again = salt_cli.run(
            "state.sls", "chain.pipeline,chain.image", f"pillar={main}", minion_tgt="build1"
        )
        assert again.returncode == 0, again.stdout[-3000:]
        states = _by_id(again)
        assert all(s["changes"] == {} for s in states.values()), states
        trial = states["chain-image-trial-test-configurable_test_state"]
        assert "is in the registry: it passed its trial before" in trial["comment"], trial
    finally:
        for tag in ("sick", "main"):
            with contextlib.suppress(Exception):
                client.images.remove(f"{engines.REGISTRY}/{repository}:{tag}", force=True)
        client.close()


@pytest.fixture
def hgweb(tmp_path):
    """The app as a Mercurial repository served by ``hg serve`` on 127.0.0.1 under /hg/<repo>
    (hgweb's layout on the source server), with the process this test started."""
    repo = tmp_path / "app-hg"
    shutil.copytree(REPO / "examples" / "app", repo)
    env = {"HGPLAIN": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def hg(*args):
        subprocess.run(["hg", "--config", "ui.username=t", *args], cwd=repo, env=env, check=True)

    hg("init")
    hg("commit", "-qA", "-m", "the sample app")
    conf = tmp_path / "hgweb.config"
    conf.write_text(f"[paths]\nhg/app-hg = {repo}\n")
    port = local.free_port()
    proc = subprocess.Popen(
        ["hg", "serve", "-a", "127.0.0.1", "-p", str(port), "--web-conf", str(conf)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        node = subprocess.run(
            ["hg", "log", "-r", "default", "-T", "{node}"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        _wait_port(port)
        yield {"port": port, "node": node, "url": f"http://127.0.0.1:{port}/hg/app-hg"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(0.1)


def test_pipeline_builds_a_mercurial_repository(salt_cli, chain, jenkins_emulator, hgweb):
    """chain:vcs hg: the branch is resolved with hg on the build server (hgweb on the source
    server's http_port), the agent clones with hg, the artifact is named by the hg node."""
    pillar = json.loads(chain["pillar"])
    pillar["chain"]["source"]["http_port"] = hgweb["port"]
    pillar["chain"]["jobs"]["hg_url"] = f"http://127.0.0.1:{hgweb['port']}/hg/{{repo}}"
    pillar["chain"].update(vcs="hg", repo="app-hg", ref="default")
    ret = salt_cli.run(
        "state.sls", "chain.pipeline", f"pillar={json.dumps(pillar)}", minion_tgt="build1"
    )
    assert ret.returncode == 0, ret.stdout[-3000:]
    node = hgweb["node"]
    states = _by_id(ret)
    guard = states["chain-pipeline-commit-test-configurable_test_state"]
    assert guard["comment"] == f"ref default is {node}", guard
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "SUCCESS"
    params = {
        p["name"]: p["value"] for a in info["actions"] for p in (a or {}).get("parameters") or []
    }
    assert params["REF"] == node and params["VCS"] == "hg", params
    assert params["REPO_URL"] == hgweb["url"], params
    paths = {a["relativePath"] for a in info["artifacts"]}
    assert {f"dist/app-{node}.tar.gz", "dist/junit.xml", "dist/coverage.json"} <= paths, paths
    assert "dist/chain_app-1.0.0-py3-none-any.whl" in paths, paths
    assert _fetch(jenkins_emulator, info["number"], "dist/commit.txt").decode().strip() == node
    with tarfile.open(
        fileobj=io.BytesIO(_fetch(jenkins_emulator, info["number"], f"dist/app-{node}.tar.gz"))
    ) as archive:
        assert "app/app.py" in archive.getnames()
        assert "app/.hg_archival.txt" not in archive.getnames()

    # The node itself as the ref: taken as it is (no lookup), and that build already counts.
    pillar["chain"]["ref"] = node
    ret = salt_cli.run(
        "state.sls", "chain.pipeline", f"pillar={json.dumps(pillar)}", minion_tgt="build1"
    )
    assert ret.returncode == 0, ret.stdout[-3000:]
    states = _by_id(ret)
    assert states["chain-pipeline-commit-test-configurable_test_state"]["comment"] == (
        f"commit is {node}"
    )
    assert "already SUCCESS" in states["chain-pipeline-jenkins_build-succeeded"]["comment"]
