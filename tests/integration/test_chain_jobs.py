"""formulas/chain/jobs.sls through the real master on build1, against the Jenkins emulator: the
app's pipeline (JJB) runs on a static agent (jenkins_agent.present, the emulated inbound agent
in a container) for a ref of the app's repository served by formulas/chain/source.sls: checkout
by URL, unit tests, static check, the artifact archived. A commit whose unit test fails fails
the build, and jenkins_build.succeeded reports the console tail; nothing is archived.

The agent runs with host networking (as the emulator runs on the host's loopback), so it clones
through the source server's published loopback port rather than its name on the chain network.
"""

import contextlib
import json
import subprocess

import pytest

from tests.conftest import REPO
from tests.support import agents, engines, local
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
