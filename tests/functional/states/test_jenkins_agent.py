"""jenkins_agent.present / absent on a real engine and the emulator (agent image from this
checkout): secret handed over as a file only, idempotent, honest test mode, clean bad input."""

import uuid

import pytest

from tests.support import agents, engines

pytestmark = [pytest.mark.docker]


@pytest.fixture
def node(modules):
    name = engines.name(f"a{uuid.uuid4().hex[:4]}")
    yield name
    modules.jenkins.node_delete(name)
    engines.cleanup("engine1")


OPTS = {
    "container_options": {"network_mode": "host", "labels": engines.owned()},
    "connect_timeout": 60,
}


def test_present_secret_as_file_idempotent_test_mode_and_absent(
    states, modules, agent_image, node, unchanged_home
):
    with engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.present(
            node, image=agent_image, labels=["linux", "sc"], executors=2, **OPTS
        )
    assert ret.result is True, ret.comment
    assert set(ret.changes) >= {"node", "container"}
    info = modules.jenkins.node_info(node)
    assert info["offline"] is False and info["numExecutors"] == 2
    secret = modules.jenkins.agent_secret(node)
    (attrs,) = [a for a in agents.agent_containers() if a["Name"] == "/" + node]
    agents.assert_no_secret(secret, attrs, ret.raw, rec.events)
    assert "@/run/jenkins-agent/secret" in attrs["Args"]
    labels = attrs["Config"]["Labels"]
    assert labels["org.saltext-chain.jenkins-agent.node"] == node
    assert labels["org.saltext-chain.jenkins-agent.controller"].startswith("http://127.0.0.1:")
    mode = modules.container.exec(node, ["stat", "-c", "%a %U", "/run/jenkins-agent/secret"])
    assert mode["retcode"] == 0 and mode["stdout"].strip() == "400 jenkins", mode
    listed = modules.jenkins_agent.list()
    assert listed[node]["node"] == node and listed[node]["state"] == "running"

    ret = states.jenkins_agent.present(
        node, image=agent_image, labels=["sc", "linux"], executors=2, **OPTS
    )
    assert ret.result is True and ret.changes == {}, ret.comment

    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.present(
            node, image=agent_image, labels=["linux"], executors=2, test=True, **OPTS
        )
    assert ret.result is None and list(ret.changes) == ["node"]
    assert ret.changes["node"] == {"labels": {"added": [], "removed": ["sc"]}}
    assert rec.mutations() == []

    ret = states.jenkins_agent.present(
        node, image=agent_image, labels=["linux"], executors=2, **OPTS
    )
    assert ret.result is True and list(ret.changes) == ["node"], ret.changes
    assert modules.jenkins.node_info(node)["offline"] is False

    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.absent(node, test=True)
    assert ret.result is None and set(ret.changes) == {"node", "container"}
    assert rec.mutations() == []
    ret = states.jenkins_agent.absent(node, drain_timeout=10)
    assert ret.result is True and set(ret.changes) == {"node", "container"}, ret.comment
    assert modules.jenkins.node_info(node) is None
    assert modules.container.inspect(node) is None
    ret = states.jenkins_agent.absent(node)
    assert ret.result is True and ret.changes == {}


def test_never_online_fails_with_log_tail(states, modules, node, docker_engines):
    broken = agents.build_broken_image()
    try:
        ret = states.jenkins_agent.present(node, image=broken, **{**OPTS, "connect_timeout": 5})
    finally:
        engines.cleanup("engine1")
        agents.remove_image(broken)
    assert ret.result is False
    assert "did not come online" in ret.comment
    assert "agent image is broken" in ret.comment


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"executors": "many"}, "executors"),
        ({"labels": "a&&b"}, "labels"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"container_options": {"environment": {"JENKINS_SECRET": "x"}}}, "secret"),
        ({"container_options": {"command": "sh"}}, "command"),
        ({"mode": "SOMETIMES"}, "mode"),
        ({"bogus": 1}, "unknown argument 'bogus' (jenkins_agent.present takes:"),
    ],
)
def test_bad_input_is_a_clean_error_before_io(states, kwargs, word, unchanged_home, docker_engines):
    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.present(engines.name("bad"), image="x:1", **kwargs)
    assert ret.result is False and word in ret.comment and "Traceback" not in ret.comment
    assert "\n" not in ret.comment
    assert rec.mutations() == []


def test_absent_bad_input_and_foreign_container_left_alone(
    states, modules, unchanged_home, docker_engines
):
    with unchanged_home():
        ret = states.jenkins_agent.absent("a/b")
        assert ret.result is False and "name" in ret.comment
        ret = states.jenkins_agent.absent(engines.name("x"), drain_timeout="soon")
        assert ret.result is False and "drain_timeout" in ret.comment
    name = engines.name("foreign")
    modules.container.run(engines.BUSYBOX, name, command="sleep 60", labels=engines.owned())
    try:
        ret = states.jenkins_agent.absent(name)
        assert ret.result is True and ret.changes == {}
        assert modules.container.inspect(name) is not None
        ret = states.jenkins_agent.present(name, image=engines.BUSYBOX)
        assert ret.result is False and "not made by jenkins_agent" in ret.comment
    finally:
        engines.cleanup("engine1")
