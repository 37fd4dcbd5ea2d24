"""Node config.xml logic: declared fields, edits that keep everything else."""

import copy

import pytest
from salt.exceptions import SaltInvocationError

from _modules import jenkins as jm

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
    fields = jm._node_fields(jm._xml_parse(NODE))
    assert fields == {
        "num_executors": 1, "remote_fs": "/home/jenkins/agent", "labels": ["docker", "linux"], "mode": "NORMAL",
        "description": "old", "web_socket": False, "work_dir": None, "launcher": jm.JNLP_LAUNCHER,
    }


def test_changes_are_declared_only_and_labels_are_a_set():
    current = jm._node_fields(jm._xml_parse(NODE))
    assert jm._node_changes(current, jm._node_spec(labels=["linux", "docker"])) == {}
    assert jm._node_changes(current, jm._node_spec(labels="docker  linux")) == {}
    changes = jm._node_changes(current, jm._node_spec(labels=["docker", "arm"], num_executors=2))
    assert changes == {"labels": {"added": ["arm"], "removed": ["linux"]}, "num_executors": {"old": 1, "new": 2}}


def test_apply_keeps_the_offline_cause_and_other_fields():
    root = jm._xml_parse(NODE)
    new = jm._apply_node_spec(copy.deepcopy(root), jm._node_spec(
        num_executors=3, labels={"arm"}, web_socket=True, work_dir="/w", description="new"))
    fields = jm._node_fields(new)
    assert fields["num_executors"] == 3 and fields["labels"] == ["arm"] and fields["web_socket"] is True
    assert fields["work_dir"] == "/w" and fields["description"] == "new"
    assert new.find("temporaryOfflineCause/userId").text == "admin"
    assert [c.tag for c in new][:5] == ["name", "description", "remoteFS", "numExecutors", "mode"]
    wds = [c.tag for c in new.find("launcher/workDirSettings")]
    assert wds == ["disabled", "workDirPath", "internalDir", "failIfWorkDirIsMissing"]


def test_generated_node_xml_roundtrips():
    spec = jm._node_spec(num_executors=2, labels=["b", "a"], mode="exclusive", web_socket=True, work_dir="/x")
    fields = jm._node_fields(jm._node_xml("n1", spec))
    assert jm._node_changes(fields, spec) == {}
    assert fields["mode"] == "EXCLUSIVE"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_executors": 0}, {"num_executors": "two"}, {"num_executors": True}, {"mode": "FAST"},
        {"labels": ["two words"]}, {"labels": 3}, {"web_socket": "yes"}, {"remote_fs": ""},
    ],
)
def test_bad_fields(kwargs):
    with pytest.raises(SaltInvocationError):
        jm._node_spec(**kwargs)


@pytest.mark.parametrize("name", ["a/b", "a?b", "..", "x:y"])
def test_bad_node_names(name):
    with pytest.raises(SaltInvocationError):
        jm._computer_path(name)


def test_paths():
    assert jm._job_path("a/b c") == "job/a/job/b%20c/"
    assert jm._computer_path("Built-In Node") == "computer/(built-in)/"
    assert jm._computer_path("agent 1") == "computer/agent%201/"
