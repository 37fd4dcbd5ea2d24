"""Helpers shared by the emulator conformance tests."""

import os
import re
import time
from xml.sax.saxutils import escape

import jenkins


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def freestyle(
    command=None,
    label=None,
    params=(),
    artifacts=None,
    allow_empty=False,
    extra="",
    concurrent=False,
    disabled=False,
):
    """A freestyle config.xml; ``params`` = [(name, default)]; ``label`` None = can roam."""
    props = ""
    if params:
        defs = "".join(
            f"<hudson.model.StringParameterDefinition><name>{escape(n)}</name><defaultValue>{escape(d)}</defaultValue>"
            "</hudson.model.StringParameterDefinition>"
            for n, d in params
        )
        props = (
            "<hudson.model.ParametersDefinitionProperty>"
            f"<parameterDefinitions>{defs}</parameterDefinitions>"
            "</hudson.model.ParametersDefinitionProperty>"
        )
    node = (
        f"<assignedNode>{escape(label)}</assignedNode><canRoam>false</canRoam>"
        if label
        else "<canRoam>true</canRoam>"
    )
    builders = ""
    if command is not None:
        builders = f"<hudson.tasks.Shell><command>{escape(command)}</command></hudson.tasks.Shell>"
    publishers = ""
    if artifacts is not None:
        publishers = (
            f"<hudson.tasks.ArtifactArchiver><artifacts>{escape(artifacts)}</artifacts>"
            f"<allowEmptyArchive>{'true' if allow_empty else 'false'}</allowEmptyArchive>"
            "</hudson.tasks.ArtifactArchiver>"
        )
    return (
        "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>test</description>"
        f"<properties>{props}</properties>{node}"
        f"<disabled>{'true' if disabled else 'false'}</disabled>"
        f"<concurrentBuild>{'true' if concurrent else 'false'}</concurrentBuild>"
        f"<builders>{builders}</builders><publishers>{publishers}</publishers>{extra}</project>"
    )


def run_to_completion(server, job, parameters=None, timeout=20.0):
    qid = server.build_job(job, parameters)
    item = wait_for(
        lambda: server.get_queue_item(qid).get("executable"), timeout, what=f"{job} to start"
    )
    number = item["number"]
    info = wait_for(
        lambda: (lambda b: b if not b["building"] else None)(server.get_build_info(job, number)),
        timeout,
        what=f"{job} #{number} to finish",
    )
    return info


def create_inbound_node(server, node, labels="", executors=1, remote_fs="/tmp/agent"):
    server.create_node(
        node,
        numExecutors=executors,
        remoteFS=remote_fs,
        labels=labels or None,
        launcher=jenkins.LAUNCHER_JNLP,
        launcher_params={"webSocket": True},
    )


def node_secret(target, node):
    resp = target.session().get(f"{target.url}computer/{node}/jenkins-agent.jnlp", timeout=10)
    resp.raise_for_status()
    return re.search(r"<argument>([0-9a-f]{64})</argument>", resp.text).group(1)


def wait_online(server, node, online=True, timeout=10.0):
    wait_for(
        lambda: server.get_node_info(node)["offline"] is (not online),
        timeout,
        what=f"{node} {'online' if online else 'offline'}",
    )


def docker_available():
    if not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=10)
        client.ping()
        return client
    except Exception:
        return False
