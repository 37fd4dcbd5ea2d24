"""formulas/chain/jobs.sls (then chain.pipeline, chain.image) through the real master on build1,
against the Jenkins emulator: the app's pipeline (JJB) runs on a static agent
(jenkins_agent.present, the emulated inbound agent in a container) for a ref of the app's
repository served by formulas/chain/source.sls: checkout by URL, unit tests, static check, the
artifact archived. A commit whose unit test fails fails the build, and jenkins_build.succeeded
reports the console tail; nothing is archived.

chain.pipeline and chain.image look the commit and the build up when their states run, never
while rendering: ``state.show_sls`` sends nothing to the source server or to Jenkins, and under
``test=True`` they say what they would build or fetch, and write nothing.

The agent runs with host networking (as the emulator runs on the host's loopback), so it clones
through the source server's published loopback port rather than its name on the chain network.
"""

import contextlib
import json
import socket
import subprocess

import pytest

from tests.conftest import REPO
from tests.support import agents, controller, engines, local
from tests.support.chain import push_failing_commit

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
        engines.cleanup(ENGINE)
        with contextlib.closing(engines.client(ENGINE)) as client:
            with contextlib.suppress(Exception):
                client.images.remove(IMAGE, force=True)


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


def test_pipeline_runs_for_a_ref_and_a_failing_unit_test_fails_it(salt_cli, chain, tmp_path):
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

    # A good ref: built on the static agent, the artifact is the served commit's tree.
    served = local.git("ls-remote", chain["url"], "refs/heads/main").split()[0]
    ret, state = _build(salt_cli, "main")
    assert ret.returncode == 0 and state["result"] is True, state
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "SUCCESS"
    assert info["builtOn"] == AGENT
    paths = sorted(a["relativePath"] for a in info["artifacts"])
    assert paths == [f"dist/app-{served}.tar.gz", "dist/commit.txt"], paths
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
    console = salt_cli.run("jenkins.console", JOB, "lastBuild", minion_tgt="build1").data
    assert f"commit {served}" in console
    assert "OK" in console and "py_compile" in console

    # A commit whose unit test fails, pushed to a branch of the served repository.
    push_failing_commit(chain["url"], tmp_path / "work")
    ret, state = _build(salt_cli, "broken")
    assert ret.returncode != 0
    assert state["result"] is False
    assert "FAILURE" in state["comment"], state["comment"]
    assert "broken on purpose" in state["comment"], state["comment"]  # the console tail
    info = salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data
    assert info["result"] == "FAILURE" and info["artifacts"] == []


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
    assert not artifacts.exists()  # nothing written under test
    assert (
        salt_cli.run("jenkins.build_info", JOB, "lastBuild", minion_tgt="build1").data["number"]
        == number
    )
