"""jenkins_jobs.applied: a JJB directory (templates in one file, projects in another) applied at
once against the emulator; prune deletes only the jobs carrying this state's marker."""

import os
import uuid

import pytest

from tests.support import engines

TEMPLATE = """
- job-template:
    name: '{prefix}-{component}-build'
    description: 'build {component}'
    builders:
      - shell: 'echo {component}'
"""
PROJECT = """
- project:
    name: {prefix}
    prefix: {prefix}
    component: {components}
    jobs:
      - '{{prefix}}-{{component}}-build'
- job:
    name: {prefix}-plain
    builders:
      - shell: 'true'
"""


@pytest.fixture
def jobs_dir(file_root, modules):
    uid = uuid.uuid4().hex[:4]
    prefix = engines.name(f"jj{uid}")
    folder = os.path.join(file_root, f"jobs-{uid}")
    os.makedirs(os.path.join(folder, "projects"))
    with open(os.path.join(folder, "templates.yaml"), "w", encoding="utf-8") as fh:
        fh.write(TEMPLATE)

    def write(components):
        with open(os.path.join(folder, "projects", "p.yml"), "w", encoding="utf-8") as fh:
            fh.write(PROJECT.format(prefix=prefix, components=components))

    yield prefix, f"salt://jobs-{uid}", write
    for job in modules.jenkins.jobs():
        if job["name"].startswith(prefix):
            modules.jenkins.job_delete(job["name"])


def test_directory_applied_idempotent_test_mode_and_prune(
    states, modules, jobs_dir, file_root, unchanged_home
):
    prefix, source, write = jobs_dir
    write("[api, web, worker]")
    state_id = f"jobs-{prefix}"
    with unchanged_home():
        ret = states.jenkins_jobs.applied(state_id, source=source, prune=True, test=True)
    assert ret.result is None and len(ret.changes["created"]) == 4, ret.comment
    ret = states.jenkins_jobs.applied(state_id, source=source, prune=True)
    assert ret.result is True, ret.comment
    assert sorted(ret.changes["created"]) == sorted(
        [f"{prefix}-{c}-build" for c in ("api", "web", "worker")] + [f"{prefix}-plain"]
    )
    assert "build api" in modules.jenkins.job_config(f"{prefix}-api-build")
    with unchanged_home():
        ret = states.jenkins_jobs.applied(state_id, source=source, prune=True)
    assert ret.result is True and ret.changes == {}, ret.changes

    foreign = f"{prefix}-foreign"
    modules.jenkins.job_create(
        foreign, config_xml="<project><description>hand-made</description></project>"
    )
    write("[api, web]")
    with unchanged_home():
        ret = states.jenkins_jobs.applied(state_id, source=source, prune=True, test=True)
    assert ret.result is None and ret.changes == {"deleted": [f"{prefix}-worker-build"]}
    ret = states.jenkins_jobs.applied(state_id, source=source, prune=True)
    assert ret.changes == {"deleted": [f"{prefix}-worker-build"]}, ret.comment
    assert modules.jenkins.job_info(f"{prefix}-worker-build") is None
    assert modules.jenkins.job_info(foreign) is not None
    # another state's prune leaves this state's jobs alone
    other = os.path.join(file_root, f"other-{prefix}.yaml")
    with open(other, "w", encoding="utf-8") as fh:
        fh.write(f"- job:\n    name: {prefix}-other\n")
    ret = states.jenkins_jobs.applied(
        f"other-{prefix}", source=f"salt://other-{prefix}.yaml", prune=True
    )
    assert ret.changes == {"created": [f"{prefix}-other"]}, ret.comment
    assert modules.jenkins.job_info(f"{prefix}-api-build") is not None


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"prune": "maybe"}, "prune"),
        ({"source": "relative/dir"}, "source"),
        ({"source": 5}, "source"),
        ({"profile": 5}, "profile"),
    ],
)
def test_bad_input(states, kwargs, word, unchanged_home):
    with unchanged_home():
        ret = states.jenkins_jobs.applied("jobs", **{"source": "salt://nowhere", **kwargs})
    assert ret.result is False and word in ret.comment and "\n" not in ret.comment
