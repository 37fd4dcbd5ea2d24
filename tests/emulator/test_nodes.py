"""Nodes: doCreateItem/createItem, computer JSON, config.xml, offline toggling, secrets."""

import re

import jenkins
import pytest
import requests

from .helpers import create_inbound_node, node_secret

SLAVE_XML = """<?xml version='1.1' encoding='UTF-8'?>
<slave>
  <name>{name}</name>
  <description>from xml</description>
  <remoteFS>/home/jenkins/agent</remoteFS>
  <numExecutors>3</numExecutors>
  <mode>EXCLUSIVE</mode>
  <retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/>
  <launcher class="hudson.slaves.JNLPLauncher">
    <workDirSettings><disabled>false</disabled><internalDir>remoting</internalDir><failIfWorkDirIsMissing>false</failIfWorkDirIsMissing></workDirSettings>
    <webSocket>true</webSocket>
  </launcher>
  <label>linux  docker</label>
  <nodeProperties/>
</slave>"""


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/ComputerSet.java doDoCreateItem")
def test_create_inbound_node(server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="linux docker", executors=2)
    info = server.get_node_info(name)
    assert info["_class"] == "hudson.slaves.SlaveComputer"
    assert info["offline"] is True
    assert info["temporarilyOffline"] is False
    assert info["offlineCause"] is None
    assert info["offlineCauseReason"] == ""
    assert info["jnlpAgent"] is True
    assert info["launchSupported"] is False
    assert info["numExecutors"] == 2
    assert info["displayName"] == name
    assert info["idle"] is True
    # labels + the node's own name (Node.getAssignedLabels)
    assert sorted(lbl["name"] for lbl in info["assignedLabels"]) == sorted(
        ["linux", "docker", name]
    )
    assert any(n["name"] == name for n in server.get_nodes())


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/ComputerSet.java doDoCreateItem/checkName"
)
def test_do_create_item_redirects_and_duplicate_is_400(target, http, name, cleanup):
    cleanup[1].append(name)
    form = {
        "name": name,
        "type": "hudson.slaves.DumbSlave$DescriptorImpl",
        "json": '{"nodeDescription": "", "numExecutors": 1, "remoteFS": "/tmp/x", '
        '"labelString": "", "mode": "NORMAL",'
        ' "retentionStrategy": {"stapler-class": "hudson.slaves.RetentionStrategy$Always"},'
        ' "nodeProperties": {"stapler-class-bag": "true"},'
        ' "launcher": {"stapler-class": "hudson.slaves.JNLPLauncher"}}',
    }
    resp = http.post(
        target.url + "computer/doCreateItem", data=form, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].rstrip("/").endswith("/computer")
    resp = http.post(
        target.url + "computer/doCreateItem", data=form, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 400
    # Jetty writes header values as ISO-8859-1: Jenkins' ‘ ’ become spaces; the body keeps them
    assert resp.headers["X-Error"] == f"Agent called  {name}  already exists"
    assert f"Agent called ‘{name}’ already exists" in resp.text


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/ComputerSet.java checkName")
def test_python_jenkins_duplicate_node(server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    with pytest.raises(jenkins.JenkinsException, match="already exists"):
        create_inbound_node(server, name)


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/model/Jenkins.java checkGoodName")
@pytest.mark.parametrize("bad", ["a/b", "x?y", "bad:name"])
def test_bad_node_name_is_400(target, http, bad):
    form = {"name": bad, "type": "hudson.slaves.DumbSlave$DescriptorImpl", "json": "{}"}
    resp = http.post(
        target.url + "computer/doCreateItem", data=form, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 400
    assert "unsafe character" in resp.headers["X-Error"]


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/Computer.java doConfigDotXml (Jenkins.XSTREAM2.toXMLUTF8)",
)
def test_node_config_xml_order_and_declaration(server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="linux", executors=2, remote_fs="/srv/agent")
    xml = server.get_node_config(name)
    assert xml.startswith('<?xml version="1.1" encoding="UTF-8"?>')
    tags = re.findall(r"^  <([A-Za-z]+)", xml, re.M)
    assert tags == [
        "name",
        "description",
        "remoteFS",
        "numExecutors",
        "mode",
        "retentionStrategy",
        "launcher",
        "label",
        "nodeProperties",
    ]
    assert '<launcher class="hudson.slaves.JNLPLauncher">' in xml
    assert "<webSocket>true</webSocket>" in xml
    assert "<internalDir>remoting</internalDir>" in xml


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/ComputerSet.java doCreateItem (XML branch)",
    since="2.541",
)
def test_create_node_from_xml_and_reconfig(target, http, server, name, cleanup):
    cleanup[1].append(name)
    resp = http.post(
        target.url + f"computer/createItem?name={name}",
        data=SLAVE_XML.format(name=name),
        headers={"Content-Type": "application/xml"},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 200
    info = server.get_node_info(name)
    assert info["numExecutors"] == 3
    assert sorted(lbl["name"] for lbl in info["assignedLabels"]) == sorted(
        ["linux", "docker", name]
    )
    resp = http.post(
        target.url + f"computer/createItem?name={name}",
        data=SLAVE_XML.format(name=name),
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert resp.status_code == 400
    new = SLAVE_XML.format(name=name).replace("<numExecutors>3", "<numExecutors>1")
    server.reconfig_node(name, new)
    assert server.get_node_info(name)["numExecutors"] == 1


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/Computer.java doToggleOffline/doChangeOfflineCause"
)
def test_toggle_offline_on_temporarily_offline(server, target, http, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    url = target.url + f"computer/{name}/"
    # a disconnected agent: toggleOffline marks it temporarily offline (not "enables" it)
    resp = http.post(
        url + "toggleOffline?offlineMessage=maintenance", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302
    info = server.get_node_info(name)
    assert info["temporarilyOffline"] is True
    assert info["offlineCauseReason"] == "maintenance"
    assert info["offlineCause"]["_class"] == "hudson.slaves.OfflineCause$UserCause"
    xml = server.get_node_config(name)
    assert xml.index("<temporaryOfflineCause") < xml.index("<name>")
    assert "<message>maintenance</message>" in xml
    resp = http.post(
        url + "changeOfflineCause?offlineMessage=upgrade", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302
    assert server.get_node_info(name)["offlineCauseReason"] == "upgrade"
    # reconfiguring with the XML that still carries the cause keeps it
    server.reconfig_node(name, server.get_node_config(name))
    assert server.get_node_info(name)["temporarilyOffline"] is True
    http.post(url + "toggleOffline", allow_redirects=False, timeout=10)
    info = server.get_node_info(name)
    assert info["temporarilyOffline"] is False
    assert "<temporaryOfflineCause" not in server.get_node_config(name)


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Computer.java doDoDelete")
def test_delete_node_redirects(server, target, http, name):
    create_inbound_node(server, name)
    resp = http.post(target.url + f"computer/{name}/doDelete", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert not server.node_exists(name)
    assert http.get(target.url + f"computer/{name}/api/json", timeout=10).status_code == 404


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/slaves/SlaveComputer.java getJnlpMac")
def test_agent_secret_is_stable_hmac(server, target, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    resp = target.session().get(target.url + f"computer/{name}/jenkins-agent.jnlp", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/x-java-jnlp-file")
    args = re.findall(r"<argument>(.*?)</argument>", resp.text)
    secret = args[0]
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert args[1] == name
    assert "-webSocket" in args
    assert args[args.index("-url") + 1] == target.url
    legacy = target.session().get(target.url + f"computer/{name}/slave-agent.jnlp", timeout=10)
    assert secret in legacy.text
    server.delete_node(name)
    create_inbound_node(server, name)
    assert node_secret(target, name) == secret


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/security/HudsonAuthenticationEntryPoint.java commence"
)
def test_anonymous_cannot_read_secret(target, server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    assert (
        requests.get(target.url + f"computer/{name}/jenkins-agent.jnlp", timeout=10).status_code
        == 403
    )


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/model/Jenkins.java MasterComputer")
@pytest.mark.parametrize("alias", ["(built-in)", "(master)"])
def test_builtin_node(server, target, http, alias):
    data = http.get(target.url + f"computer/{alias}/api/json", timeout=10).json()
    assert data["_class"] == "hudson.model.Hudson$MasterComputer"
    assert data["displayName"] == "Built-In Node"
    assert data["offline"] is False
    assert {"name": "built-in"} in data["assignedLabels"]
    info = server.get_node_info("Built-In Node")
    assert info["displayName"] == "Built-In Node"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/ComputerSet.java @Exported getters"
)
def test_computer_set(http, target):
    data = http.get(target.url + "computer/api/json", timeout=10).json()
    assert data["_class"] == "hudson.model.ComputerSet"
    assert data["displayName"] == "Nodes"
    assert "busyExecutors" in data and "totalExecutors" in data
    assert data["computer"][0]["displayName"] == "Built-In Node"
