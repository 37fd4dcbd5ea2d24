"""Jenkins as code through the real master and a minion, against the emulator over HTTP."""

import json

import pytest

from saltext.chain.emulator import testing

pytestmark = pytest.mark.integration


def _states(ret, minion="build1"):
    data = ret.data.get(minion, ret.data) if isinstance(ret.data, dict) else ret.data
    assert isinstance(data, dict), ret
    return {s["__id__"]: s for s in data.values()}


def test_node_job_build_plugin_through_the_master(salt_cli, synced, jenkins_emulator):
    home = jenkins_emulator["home"]
    seen = len(testing.request_log(home))
    dry = salt_cli.run("state.apply", "ci", "test=True", minion_tgt="build1")
    assert dry.returncode == 0, dry
    states = _states(dry)
    assert states["ci-node"]["result"] is None and states["ci-job"]["result"] is None
    writes = [r for r in testing.request_log(home)[seen:] if r["method"] != "GET"]
    assert writes == [], writes

    ret = salt_cli.run("state.apply", "ci", minion_tgt="build1")
    assert ret.returncode == 0, ret
    states = _states(ret)
    assert all(s["result"] is True for s in states.values()), states
    assert states["ci-node"]["changes"] and states["ci-job"]["changes"]
    assert states["ci-build"]["changes"]["build"]["new"]["result"] == "SUCCESS"
    assert jenkins_emulator["token"] not in json.dumps(ret.data)

    console = salt_cli.run("jenkins.console", "salt-built", "1", minion_tgt="build1")
    assert "built by salt 1" in console.data

    seen = len(testing.request_log(home))
    again = salt_cli.run("state.apply", "ci", minion_tgt="build1")
    assert again.returncode == 0, again
    assert all(not s["changes"] for s in _states(again).values()), _states(again)
    writes = [r for r in testing.request_log(home)[seen:] if r["method"] != "GET"]
    assert writes == [], writes
