"""jenkins execution module: nodes (create, reconfigure, enable/disable, secret, wait)."""

import re

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError


def test_create_info_config_delete(modules, uid):
    name = f"n-{uid}"
    assert modules.jenkins.node_info(name) is None
    assert modules.jenkins.node_config(name) is None
    assert modules.jenkins.node_exists(name) is False
    assert (
        modules.jenkins.node_create(
            name,
            num_executors=2,
            labels=["docker", "linux"],
            description="d",
            web_socket=True,
            work_dir="/tmp/w",
        )
        is True
    )
    data = modules.jenkins.node_info(name)
    assert data["numExecutors"] == 2
    assert data["jnlpAgent"] is True
    assert {lab["name"] for lab in data["assignedLabels"]} >= {"docker", "linux"}
    assert (
        modules.jenkins.node_compare(
            name,
            num_executors=2,
            labels={"linux", "docker"},
            description="d",
            web_socket=True,
            work_dir="/tmp/w",
        )
        == {}
    )
    assert name in modules.jenkins.nodes()
    with pytest.raises(CommandExecutionError, match="already exists"):
        modules.jenkins.node_create(name)
    assert modules.jenkins.node_delete(name) is True
    assert modules.jenkins.node_delete(name) is False
    assert modules.jenkins.node_exists(name) is False


def test_create_from_config_xml(modules, uid):
    name = f"x-{uid}"
    xml = (
        "<?xml version='1.1' encoding='UTF-8'?><slave><name>ignored</name>"
        "<description>from xml</description>"
        "<remoteFS>/srv/agent</remoteFS><numExecutors>3</numExecutors><mode>EXCLUSIVE</mode>"
        '<retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/>'
        '<launcher class="hudson.slaves.JNLPLauncher"><workDirSettings><disabled>false</disabled>'
        "<internalDir>remoting</internalDir><failIfWorkDirIsMissing>false</failIfWorkDirIsMissing>"
        "</workDirSettings><webSocket>true</webSocket></launcher><label>arm</label><nodeProperties/></slave>"
    )
    modules.jenkins.node_create(name, config_xml=xml)
    assert (
        modules.jenkins.node_compare(
            name,
            num_executors=3,
            mode="EXCLUSIVE",
            remote_fs="/srv/agent",
            labels=["arm"],
            web_socket=True,
            description="from xml",
        )
        == {}
    )
    modules.jenkins.node_delete(name)


def test_malformed_node_xml_is_rejected_before_any_request(modules, uid, unchanged_home):
    with unchanged_home():
        with pytest.raises(SaltInvocationError, match="not well-formed"):
            modules.jenkins.node_create(f"m-{uid}", config_xml="<slave><name>x</slave>")
        with pytest.raises(SaltInvocationError):
            modules.jenkins.node_create(f"m-{uid}", num_executors=0)
    assert modules.jenkins.node_exists(f"m-{uid}") is False


def test_reconfigure_keeps_temporary_offline_cause(modules, uid):
    name = f"r-{uid}"
    modules.jenkins.node_create(name, labels="a b")
    assert modules.jenkins.node_disable(name, message="maintenance") is True
    changes = modules.jenkins.node_reconfigure(name, num_executors=4, labels=["b", "c"])
    assert changes == {
        "num_executors": {"old": 1, "new": 4},
        "labels": {"added": ["c"], "removed": ["a"]},
    }
    data = modules.jenkins.node_info(name)
    assert data["numExecutors"] == 4
    assert data["temporarilyOffline"] is True
    assert data["offlineCauseReason"] == "maintenance"
    assert modules.jenkins.node_reconfigure(name, num_executors=4, labels=["c", "b"]) == {}
    modules.jenkins.node_delete(name)


def test_enable_disable_on_temporarily_offline(modules, uid):
    name = f"e-{uid}"
    modules.jenkins.node_create(name)
    # a never-connected inbound agent is offline but not disabled: enabling changes nothing
    data = modules.jenkins.node_info(name)
    assert data["offline"] is True and data["temporarilyOffline"] is False
    assert modules.jenkins.node_enable(name) is False
    assert modules.jenkins.node_info(name)["temporarilyOffline"] is False
    assert modules.jenkins.node_disable(name, message="first") is True
    assert modules.jenkins.node_disable(name, message="first") is False
    assert modules.jenkins.node_disable(name, message="second") is True
    data = modules.jenkins.node_info(name)
    assert data["temporarilyOffline"] is True and data["offlineCauseReason"] == "second"
    assert modules.jenkins.node_enable(name) is True
    assert modules.jenkins.node_info(name)["temporarilyOffline"] is False
    with pytest.raises(CommandExecutionError, match="does not exist"):
        modules.jenkins.node_enable(f"missing-{uid}")
    modules.jenkins.node_delete(name)


def test_agent_secret_and_wait_online_timeout(modules, uid):
    name = f"s-{uid}"
    modules.jenkins.node_create(name, web_socket=True)
    secret = modules.jenkins.agent_secret(name)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    with pytest.raises(CommandExecutionError, match="still offline after 1s") as err:
        modules.jenkins.wait_online(name, timeout=1, interval=0.2)
    assert secret not in str(err.value)
    with pytest.raises(CommandExecutionError, match="does not exist"):
        modules.jenkins.agent_secret(f"missing-{uid}")
    modules.jenkins.node_delete(name)
