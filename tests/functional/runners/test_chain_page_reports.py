"""The team page's test counts and coverage, read from a build's archived reports on the Jenkins
emulator the way ``chain_page.write`` reads them (``dist/junit.xml``, ``dist/coverage.json``)."""

import json

import pytest
from saltext.chain.utils import chain_jenkins_client

from _runners import chain_page
from tests.functional.modules.test_jenkins_builds import freestyle
from tests.support.agents import emulated_agent

JUNIT = (
    '<testsuites><testsuite name="pytest" tests="7" failures="1" errors="0" skipped="2">'
    "</testsuite></testsuites>"
)
COVERAGE = json.dumps({"totals": {"percent_covered": 83.3333}})


@pytest.fixture(scope="module")
def agent(loaders, emulator, tmp_path_factory):
    work = tmp_path_factory.mktemp("page-agent-work")
    with emulated_agent(loaders.modules, emulator["url"], "page-agent", ["page"], work) as name:
        yield name


def _shell_writing(files):
    steps = ["mkdir -p dist"]
    for path, text in files.items():
        steps.append(
            f"printf '%s' '{text}' &gt; {path}".replace('"', "&quot;").replace("<", "&lt;")
        )
    return "; ".join(steps)


def test_reports_of_a_build_and_of_one_without_them(modules, agent, profile, uid):
    name = f"page-{uid}"
    job = freestyle(
        _shell_writing({"dist/junit.xml": JUNIT, "dist/coverage.json": COVERAGE}),
        label="page",
        artifacts="dist/*",
    )
    modules.jenkins.job_create(name, config_xml=job)
    assert modules.jenkins.build(name, timeout=60, poll_interval=0.2)["result"] == "SUCCESS"
    modules.jenkins.job_update(name, config_xml=freestyle("echo no reports", label="page"))
    assert modules.jenkins.build(name, timeout=60, poll_interval=0.2)["result"] == "SUCCESS"
    client = chain_jenkins_client.get(
        chain_jenkins_client.connection(dict(profile), lambda key, default=None: default), {}
    )
    assert chain_page._reports(client, name, 1) == {
        "tests": {"total": 7, "failed": 1, "skipped": 2},
        "coverage": 83.3,
    }
    assert chain_page._reports(client, name, 2) == {"tests": None, "coverage": None}
