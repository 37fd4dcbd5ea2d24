"""chain.jobs with ``chain:jenkins:enabled`` through the real master on build1: the build server's
Jenkins comes with the job (chain.jenkins, the jenkins formula), as in ``make chain``:

- the controller in its container (this run's names, port and token: conftest.jenkins_pillar);
- a pool whose agent image the formula builds first (pool ``build``/``dockerfile``/
  ``base_image``: container_image.present), its agent online on the controller;
- the pipeline job on that controller, after the controller (a requisite, not the file order).

A second apply changes nothing. ``jenkins.clean`` removes what the first apply started."""

import contextlib
import json

import pytest

from tests.conftest import REPO
from tests.support import engines

pytestmark = [pytest.mark.integration, pytest.mark.docker]

PROFILE = "ctl"  # conftest.jenkins_pillar: the formula's controller
POOL = engines.name("cj")
AGENT_IMAGE = f"saltext-chain/{engines.name('cj-agent')}:1"
JOB = engines.name("cj-pipeline")
# the jenkins formula's state IDs (<formula>-<sls>[-<what>]-<state module>-<function>)
CONTROLLER = "jenkins-controller-container-running"
POOL_IMAGE = f"jenkins-pools-{POOL}-image-container_image-present"
POOL_STATE = f"jenkins-pools-{POOL}-jenkins_agent-pool"


def _pillar():
    return {
        "chain": {
            "jenkins": {"enabled": True},
            "labels": {engines.TEST_LABEL: engines.RUN},
            "jobs": {
                "name": JOB,
                "label": f"{POOL}-l",
                "jenkins_profile": PROFILE,
                "git_url": "git://127.0.0.1:9/none.git",
            },
        },
        "jenkins": {
            "pools": {
                POOL: {
                    "image": AGENT_IMAGE,
                    "build": str(REPO),
                    "dockerfile": "images/jenkins-agent/Dockerfile",
                    "base_image": engines.DEBIAN,
                    "label": f"{POOL}-l",
                    "min": 1,
                    "max": 1,
                    "connect_timeout": 60,
                    "container_options": {"network_mode": "host", "labels": engines.owned()},
                }
            },
            "reconcile": {"schedule": False},
        },
    }


def _apply(salt_cli, sls):
    ret = salt_cli.run(
        "state.sls", sls, f"pillar={json.dumps(_pillar())}", minion_tgt="build1", _timeout=600
    )
    assert isinstance(ret.data, dict), ret
    return {v["__id__"]: v for v in ret.data.values()}


@pytest.fixture(scope="module")
def applied(salt_cli, synced, controller_settings, docker_engines):
    try:
        yield _apply(salt_cli, "chain.jobs")
    finally:
        _apply(salt_cli, "jenkins.clean")
        salt_cli.run("jenkins.job_delete", JOB, f"profile={PROFILE}", minion_tgt="build1")
        with contextlib.closing(engines.client("engine1")) as client:
            with contextlib.suppress(Exception):
                client.volumes.get(controller_settings["home_volume"]).remove(force=True)
            for image in (AGENT_IMAGE, controller_settings["image"]):
                with contextlib.suppress(Exception):
                    client.images.remove(image, force=True)
        engines.cleanup("engine1")


def test_chain_jobs_brings_the_controller_and_the_pool(salt_cli, applied, controller_settings):
    failed = {k: v["comment"] for k, v in applied.items() if v["result"] is not True}
    assert not failed, failed
    order = {k: v["__run_num__"] for k, v in applied.items()}
    assert set(order) >= {
        CONTROLLER,
        POOL_IMAGE,
        POOL_STATE,
        "chain-jobs-pipeline-jenkins_job-present",
    }, sorted(order)
    assert order[CONTROLLER] < order["chain-jobs-pipeline-jenkins_job-present"]
    assert order[POOL_IMAGE] < order[POOL_STATE]
    assert applied[POOL_IMAGE]["changes"], applied[POOL_IMAGE]

    with contextlib.closing(engines.client("engine1")) as client:
        ctl = client.containers.get(controller_settings["name"])
        assert ctl.attrs["State"]["Health"]["Status"] == "healthy"
        agents = client.containers.list(
            filters={"label": [f"{engines.TEST_LABEL}={engines.RUN}"], "ancestor": AGENT_IMAGE}
        )
    assert len(agents) == 1, [a.name for a in agents]

    nodes = salt_cli.run("jenkins.nodes", f"profile={PROFILE}", minion_tgt="build1").data
    mine = {n: v for n, v in nodes.items() if n.startswith(POOL)}
    assert len(mine) == 1 and not any(v["offline"] for v in mine.values()), nodes
    job = salt_cli.run("jenkins.job_info", JOB, f"profile={PROFILE}", minion_tgt="build1").data
    assert isinstance(job, dict) and job.get("name") == JOB, job

    again = _apply(salt_cli, "chain.jobs")
    assert {k: v["changes"] for k, v in again.items() if v["changes"]} == {}
    assert all(v["result"] is True for v in again.values()), again
