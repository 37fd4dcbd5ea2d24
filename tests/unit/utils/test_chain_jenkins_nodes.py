"""Nodes: config.xml logic (declared fields, edits that keep everything else), and the request
sequences on the answers of real controllers (2.479.3 and 2.568.2, see jenkins_transport)."""

import copy

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_jenkins_client as C
from saltext.chain.utils import chain_jenkins_nodes as N
from saltext.chain.utils import chain_jenkins_xml as X

from tests.unit.utils import jenkins_transport as T

NODE = """<?xml version="1.1" encoding="UTF-8"?>
<slave>
  <name>agent1</name>
  <description>old</description>
  <remoteFS>/home/jenkins/agent</remoteFS>
  <numExecutors>1</numExecutors>
  <mode>NORMAL</mode>
  <retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/>
  <launcher class="hudson.slaves.JNLPLauncher">
    <workDirSettings>
      <disabled>false</disabled>
      <internalDir>remoting</internalDir>
      <failIfWorkDirIsMissing>false</failIfWorkDirIsMissing>
    </workDirSettings>
    <webSocket>false</webSocket>
  </launcher>
  <label>linux docker</label>
  <nodeProperties/>
  <temporaryOfflineCause class="hudson.slaves.OfflineCause$UserCause">
    <timestamp>1</timestamp>
    <userId>admin</userId>
  </temporaryOfflineCause>
</slave>
"""


def test_fields():
    fields = X.node_fields(X.parse(NODE))
    assert fields == {
        "num_executors": 1,
        "remote_fs": "/home/jenkins/agent",
        "labels": ["docker", "linux"],
        "mode": "NORMAL",
        "description": "old",
        "web_socket": False,
        "work_dir": None,
        "launcher": X.JNLP_LAUNCHER,
    }


def test_changes_are_declared_only_and_labels_are_a_set():
    current = X.node_fields(X.parse(NODE))
    assert X.node_changes(current, X.node_spec(labels=["linux", "docker"])) == {}
    assert X.node_changes(current, X.node_spec(labels="docker  linux")) == {}
    changes = X.node_changes(current, X.node_spec(labels=["docker", "arm"], num_executors=2))
    assert changes == {
        "labels": {"added": ["arm"], "removed": ["linux"]},
        "num_executors": {"old": 1, "new": 2},
    }


def test_apply_keeps_the_offline_cause_and_other_fields():
    root = X.parse(NODE)
    new = X.apply_node_spec(
        copy.deepcopy(root),
        X.node_spec(
            num_executors=3, labels={"arm"}, web_socket=True, work_dir="/w", description="new"
        ),
    )
    fields = X.node_fields(new)
    assert (
        fields["num_executors"] == 3
        and fields["labels"] == ["arm"]
        and fields["web_socket"] is True
    )
    assert fields["work_dir"] == "/w" and fields["description"] == "new"
    assert new.find("temporaryOfflineCause/userId").text == "admin"
    assert [c.tag for c in new][:5] == ["name", "description", "remoteFS", "numExecutors", "mode"]
    wds = [c.tag for c in new.find("launcher/workDirSettings")]
    assert wds == ["disabled", "workDirPath", "internalDir", "failIfWorkDirIsMissing"]


def test_generated_node_xml_roundtrips():
    spec = X.node_spec(
        num_executors=2, labels=["b", "a"], mode="exclusive", web_socket=True, work_dir="/x"
    )
    fields = X.node_fields(X.node_xml("n1", spec))
    assert X.node_changes(fields, spec) == {}
    assert fields["mode"] == "EXCLUSIVE"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_executors": 0},
        {"num_executors": "two"},
        {"num_executors": True},
        {"mode": "FAST"},
        {"labels": ["two words"]},
        {"labels": 3},
        {"web_socket": "yes"},
        {"remote_fs": ""},
    ],
)
def test_bad_fields(kwargs):
    with pytest.raises(SaltInvocationError):
        X.node_spec(**kwargs)


@pytest.mark.parametrize("name", ["a/b", "a?b", "..", "x:y"])
def test_bad_node_names(name):
    with pytest.raises(SaltInvocationError):
        C.computer_path(name)


def test_paths():
    assert C.job_path("a/b c") == "job/a/job/b%20c/"
    assert C.computer_path("Built-In Node") == "computer/(built-in)/"
    assert C.computer_path("agent 1") == "computer/agent%201/"


def test_generated_node_xml_is_posted_with_control_references_and_its_name():
    root = X.node_root("n1", X.node_spec(description="a\x1bb"))
    assert root.findtext("name") == "n1"
    given = X.parse("<slave><name>other</name><numExecutors>2</numExecutors></slave>")
    assert X.node_root("n2", {}, given).findtext("name") == "n2"


@pytest.mark.parametrize(
    "fields,config_xml,match",
    [
        ({"colour": 1}, None, "unknown field"),
        ({"num_executors": 2}, "<slave/>", "not both"),
        ({"num_executors": "x"}, None, "num_executors"),
    ],
)
def test_reconfigure_spec_refuses_bad_input(fields, config_xml, match):
    with pytest.raises(SaltInvocationError, match=match):
        X.reconfigure_spec(fields, config_xml)


# ---- the paths a real controller takes -------------------------------------------------------

# Computer.doConfigDotXml GET (both tags): the node re-serialised by Jenkins.XSTREAM2.toXMLUTF8.
DISABLED = NODE  # carries <temporaryOfflineCause> (a node disabled with toggleOffline)
ONLINE = NODE.replace(NODE[NODE.index("  <temporaryOfflineCause") : NODE.index("</slave>")], "")


def _node_routes(current):
    return {
        ("GET", "computer/agent1/config.xml"): T.answer(
            200, current, {"Content-Type": "application/xml;charset=utf-8"}
        ),
        # Computer.updateByXml: 200 with no body
        ("POST", "computer/agent1/config.xml"): T.answer(200),
        # ComputerSet.doDoCreateItem: rsp.sendRedirect2(".") -> 302 to computer/
        ("POST", "computer/doCreateItem"): T.answer(302, headers={"Location": T.URL + "computer/"}),
        # ComputerSet.doCreateItem without mode and without the XML branch (2.479.3)
        ("POST", "computer/createItem"): T.answer(400, headers={"X-Error": "No mode given"}),
    }


def test_create_is_the_form_then_config_xml_never_create_item():
    """computer/createItem takes XML only from 2.541: the two steps work on every release."""
    transport = T.Transport(_node_routes(ONLINE))
    root = X.node_root("agent1", X.node_spec(num_executors=2, labels="b a", web_socket=True))
    assert N.create(T.client(transport), "agent1", root) is True
    assert transport.writes() == [
        ("POST", "computer/doCreateItem"),
        ("POST", "computer/agent1/config.xml"),
    ]
    form = transport.seen[-2][3].decode()
    assert "type=hudson.slaves.DumbSlave%24DescriptorImpl" in form and "name=agent1" in form
    posted = X.parse(transport.seen[-1][3])
    assert X.node_fields(posted)["labels"] == ["a", "b"]


@pytest.mark.parametrize(
    "release,status,reply,words",
    [
        # malformed XML or an unknown class: XStream's exception, uncaught -> oops page (500)
        ("both", 500, T.oops(), "A problem occurred"),
        # a known Node class of another type: errorWithoutStack(SC_BAD_REQUEST, ...)
        ("both", 400, T.jetty_error(400, "Node types do not match"), "Node types do not match"),
    ],
)
def test_a_refused_config_xml_removes_the_half_created_node(release, status, reply, words):
    routes = _node_routes(ONLINE)
    routes[("POST", "computer/agent1/config.xml")] = T.answer(status, reply[1], reply[0])
    routes[("POST", "computer/agent1/doDelete")] = T.answer(
        302, headers={"Location": T.URL + "computer/"}
    )
    transport = T.Transport(routes)
    with pytest.raises(CommandExecutionError, match="rejected its config.xml") as err:
        N.create(T.client(transport), "agent1", X.node_root("agent1", {}))
    assert words in str(err.value)
    assert transport.writes()[-1] == ("POST", "computer/agent1/doDelete")


def test_reconfigure_of_a_disabled_node_posts_its_offline_mark():
    """From 2.568 the mark is Node.temporaryOfflineCause and Nodes.replaceNode takes the posted
    node; in 2.479.3 Computer.setNode carries it over. Posting it converges on both."""
    transport = T.Transport(_node_routes(DISABLED))
    changes = N.reconfigure(T.client(transport), "agent1", spec=X.node_spec(num_executors=3))
    assert changes == {"num_executors": {"old": 1, "new": 3}}
    posted = X.parse(transport.seen[-1][3])
    assert posted.findtext("temporaryOfflineCause/userId") == "admin"
    # a whole config.xml without the mark: the current mark is added
    transport.seen.clear()
    new = X.parse(ONLINE.replace("<numExecutors>1<", "<numExecutors>4<"))
    N.reconfigure(T.client(transport), "agent1", new_root=new)
    assert X.parse(transport.seen[-1][3]).find("temporaryOfflineCause") is not None


def test_reconfigure_never_takes_a_node_offline_nor_reports_the_mark():
    transport = T.Transport(_node_routes(ONLINE))
    client = T.client(transport)
    # the declared config carries a stale offline mark; the node is online: no change at all
    assert N.reconfigure(client, "agent1", new_root=X.parse(DISABLED)) == {}
    assert transport.writes() == []
    new = X.parse(DISABLED.replace("<numExecutors>1<", "<numExecutors>4<"))
    assert list(N.reconfigure(client, "agent1", new_root=new)) == ["config"]
    assert X.parse(transport.seen[-1][3]).find("temporaryOfflineCause") is None


def test_offline_marks_use_toggle_and_change_cause():
    """Computer.doToggleOffline / doChangeOfflineCause (both tags), keyed on
    temporarilyOffline (an agent that is merely disconnected is not disabled)."""
    info = {"offline": True, "temporarilyOffline": False, "offlineCauseReason": ""}
    transport = T.Transport(
        {
            ("GET", "computer/agent1/api/json"): lambda req: T.answer(json=info),
            ("POST", "computer/agent1/toggleOffline"): T.answer(302, headers={"Location": "."}),
            ("POST", "computer/agent1/changeOfflineCause"): T.answer(
                302, headers={"Location": "."}
            ),
        }
    )
    client = T.client(transport)
    assert N.set_offline(client, "agent1", False) is False
    assert N.set_offline(client, "agent1", True, "disk") is True
    info.update(temporarilyOffline=True, offlineCauseReason="disk")
    assert N.set_offline(client, "agent1", True, "disk") is False
    assert N.set_offline(client, "agent1", True, "new disk") is True
    assert N.set_offline(client, "agent1", False) is True
    assert [p for _m, p in transport.writes()] == [
        "computer/agent1/toggleOffline",
        "computer/agent1/changeOfflineCause",
        "computer/agent1/toggleOffline",
    ]


def test_agent_secret_from_the_jnlp_file():
    jnlp = (
        '<?xml version="1.0" encoding="UTF-8"?><jnlp codebase="http://j/computer/agent1/">'
        "<application-desc><argument>s3cr3t</argument><argument>agent1</argument>"
        "</application-desc></jnlp>"
    )
    transport = T.Transport({("GET", "computer/agent1/jenkins-agent.jnlp"): T.answer(200, jnlp)})
    assert N.agent_secret(T.client(transport), "agent1") == "s3cr3t"
    with pytest.raises(CommandExecutionError, match="not an inbound agent"):
        N.agent_secret(T.client(T.Transport()), "agent1")
    bad = T.Transport({("GET", "computer/agent1/jenkins-agent.jnlp"): T.answer(200, "<jnlp")})
    with pytest.raises(CommandExecutionError, match="is not XML"):
        N.agent_secret(T.client(bad), "agent1")
