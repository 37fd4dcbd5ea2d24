"""The jenkins_agents grain never raises and costs no controller call."""

import time

from saltext.chain.utils import chain_agents_plan

from _grains import jenkins_agents


def test_unreachable_engine_gives_an_empty_grain_fast(tmp_path):
    jenkins_agents.__opts__ = {
        "container": {"profiles": {"default": {"base_url": f"unix://{tmp_path}/no.sock"}}}
    }
    try:
        start = time.monotonic()
        assert jenkins_agents.jenkins_agents() == {"jenkins_agents": {}}
        assert time.monotonic() - start < 5
    finally:
        del jenkins_agents.__opts__


def test_malformed_profile_gives_an_empty_grain():
    jenkins_agents.__opts__ = {"container": {"profiles": {"default": "not a mapping"}}}
    try:
        assert jenkins_agents.jenkins_agents() == {"jenkins_agents": {}}
    finally:
        del jenkins_agents.__opts__


def test_summary_from_labels_only():
    row = {
        "labels": {
            chain_agents_plan.LABEL_NODE: "p-1",
            chain_agents_plan.LABEL_POOL: "p",
            chain_agents_plan.LABEL_CONTROLLER: "http://c/",
            chain_agents_plan.LABEL_PREFIX + ".labels": "linux docker",
            chain_agents_plan.LABEL_IMAGE: "img:1",
        },
        "state": "running",
        "image_id": "sha256:x",
    }
    assert chain_agents_plan.summarize(row) == {
        "node": "p-1",
        "pool": "p",
        "controller": "http://c/",
        "labels": ["linux", "docker"],
        "image": "img:1",
        "image_id": "sha256:x",
        "state": "running",
    }
