"""jenkins execution module: builds through the queue with a real emulated inbound agent."""

import os
import time

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.agents import emulated_agent


def freestyle(command, label="emu", params=(), artifacts=None):
    props = ""
    if params:
        defs = "".join(
            f"<hudson.model.StringParameterDefinition><name>{n}</name><defaultValue>{d}</defaultValue>"
            "</hudson.model.StringParameterDefinition>"
            for n, d in params
        )
        props = (
            f"<hudson.model.ParametersDefinitionProperty><parameterDefinitions>{defs}"
            "</parameterDefinitions></hudson.model.ParametersDefinitionProperty>"
        )
    publishers = ""
    if artifacts:
        publishers = (
            f"<hudson.tasks.ArtifactArchiver><artifacts>{artifacts}</artifacts>"
            "</hudson.tasks.ArtifactArchiver>"
        )
    return (
        f"<project><description>build test</description><properties>{props}</properties>"
        f"<assignedNode>{label}</assignedNode><canRoam>false</canRoam>"
        f"<builders><hudson.tasks.Shell><command>{command}</command></hudson.tasks.Shell></builders>"
        f"<publishers>{publishers}</publishers></project>"
    )


@pytest.fixture(scope="module")
def agent(loaders, emulator, tmp_path_factory):
    """A node labelled ``emu`` with the emulated inbound agent connected (a subprocess)."""
    work = tmp_path_factory.mktemp("agent-work")
    with emulated_agent(
        loaders.modules, emulator["url"], "emu-agent", ["emu"], work, num_executors=2
    ) as name:
        yield name


def test_build_success_with_parameters_and_artifact(modules, agent, uid, tmp_path):
    name = f"b-{uid}"
    modules.jenkins.job_create(
        name,
        config_xml=freestyle(
            'echo "building $REVISION"; mkdir -p out; echo "rev=$REVISION" &gt; out/app.txt',
            params=[("REVISION", "none")],
            artifacts="out/*.txt",
        ),
    )
    res = modules.jenkins.build(
        name, parameters={"REVISION": "abc123"}, timeout=60, poll_interval=0.2
    )
    assert res["result"] == "SUCCESS", res
    assert res["number"] == 1 and isinstance(res["queue_id"], int)
    assert "building abc123" in res["console_tail"]
    assert modules.jenkins.build_info(name, 1)["result"] == "SUCCESS"
    assert modules.jenkins.build_info(name, 99) is None
    assert "building abc123" in modules.jenkins.console(name, 1)
    assert modules.jenkins.console(name, "lastBuild", tail=1).strip()
    assert modules.jenkins.artifact(name, "out/app.txt", number=1).strip() == "rev=abc123"
    dest = tmp_path / "app.txt"
    got = modules.jenkins.artifact(name, "out/app.txt", number=1, dest=str(dest))
    assert got["size"] == os.path.getsize(dest) and dest.read_text().strip() == "rev=abc123"
    with pytest.raises(CommandExecutionError, match="no artifact"):
        modules.jenkins.artifact(name, "out/missing.txt", number=1)
    assert modules.jenkins.queue_item(res["queue_id"])["executable"]["number"] == 1
    assert modules.jenkins.last_build_with(name, {"REVISION": "abc123"})["number"] == 1
    assert modules.jenkins.last_build_with(name, {"REVISION": "other"}) is None
    status = modules.jenkins.job_status(name)
    assert status["last_build"]["number"] == 1 and status["last_build"]["result"] == "SUCCESS"


def test_build_failure_returns_the_console_tail(modules, agent, uid):
    name = f"f-{uid}"
    modules.jenkins.job_create(name, config_xml=freestyle("echo about to fail; exit 3"))
    res = modules.jenkins.build(name, timeout=60, poll_interval=0.2, tail=20)
    assert res["result"] == "FAILURE"
    assert "about to fail" in res["console_tail"]


def test_build_timeout_and_no_wait(modules, agent, uid):
    name = f"t-{uid}"
    modules.jenkins.job_create(name, config_xml=freestyle("sleep 5; echo done"))
    res = modules.jenkins.build(name, timeout=1, poll_interval=0.2)
    assert res["result"] is None and res["number"] == 1
    started = time.monotonic()
    res2 = modules.jenkins.build(name, wait=False, timeout=30, poll_interval=0.2)
    # wait=False returns once the item is queued: build 1 still runs, so #2 has not started
    assert time.monotonic() - started < 5
    assert res2["queue_id"] and res2["result"] is None
    assert res2["number"] is None and res2["why"]
    deadline = time.monotonic() + 30
    while modules.jenkins.build_info(name, 2) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert modules.jenkins.build_info(name, 2)["number"] == 2


def test_queued_without_agent_reports_why(modules, uid):
    name = f"q-{uid}"
    modules.jenkins.job_create(name, config_xml=freestyle("true", label=f"nolabel-{uid}"))
    res = modules.jenkins.build(name, timeout=1, poll_interval=0.2)
    assert res["number"] is None and res["why"]
    # an identical item already queued: Jenkins answers 303 to the existing item
    assert modules.jenkins.build_job(name) is True


def test_identical_parameterised_item_is_followed(modules, uid):
    name = f"p-{uid}"
    modules.jenkins.job_create(
        name, config_xml=freestyle("true", label=f"nolabel-{uid}", params=[("A", "1")])
    )
    first = modules.jenkins.build(name, parameters={"A": "x"}, timeout=0.5, poll_interval=0.1)
    second = modules.jenkins.build(name, parameters={"A": "x"}, timeout=0.5, poll_interval=0.1)
    assert first["queue_id"] == second["queue_id"]
    third = modules.jenkins.build(name, parameters={"A": "y"}, timeout=0.5, poll_interval=0.1)
    assert third["queue_id"] != first["queue_id"]


def test_build_of_missing_or_disabled_job(modules, uid):
    with pytest.raises(CommandExecutionError, match="does not exist"):
        modules.jenkins.build(f"none-{uid}")
    with pytest.raises(CommandExecutionError, match="does not exist"):
        modules.jenkins.build_job(f"none-{uid}")
    name = f"dis-{uid}"
    modules.jenkins.job_create(name, config_xml=freestyle("true"))
    modules.jenkins.job_disable(name)
    with pytest.raises(CommandExecutionError, match="409|not buildable|did not queue"):
        modules.jenkins.build(name, timeout=5)
