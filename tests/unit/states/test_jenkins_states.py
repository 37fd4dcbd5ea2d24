"""State logic with the execution module mocked: paths the emulator cannot reach."""

from unittest.mock import MagicMock

import pytest

from _states import jenkins_build, jenkins_job, jenkins_plugin


@pytest.fixture
def configure_loader_modules():
    return {
        jenkins_job: {"__salt__": {}, "__opts__": {"test": False}, "__env__": "base"},
        jenkins_build: {"__salt__": {}, "__opts__": {"test": False}},
        jenkins_plugin: {"__salt__": {}, "__opts__": {"test": False}},
    }


def test_job_present_warns_when_jenkins_drops_declared_parts(monkeypatch):
    compare = MagicMock(
        side_effect=[
            {"exists": True, "changed": True, "diff": "-a\n+b", "xml": "<project/>"},
            {"exists": True, "changed": True, "diff": "-  <bogus>1</bogus>", "xml": "<project/>"},
        ]
    )
    update = MagicMock(return_value=True)
    monkeypatch.setitem(jenkins_job.__salt__, "jenkins.job_compare", compare)
    monkeypatch.setitem(jenkins_job.__salt__, "jenkins.job_update", update)
    ret = jenkins_job.present("j", config="<project><bogus>1</bogus></project>")
    assert ret["result"] is True
    assert ret["changes"] == {"config": {"diff": "-a\n+b"}}
    assert (
        "did not keep part of the declared config" in ret["comment"] and "<bogus>" in ret["comment"]
    )
    update.assert_called_once()


def test_job_present_test_mode_never_writes(monkeypatch):
    monkeypatch.setitem(jenkins_job.__opts__, "test", True)
    monkeypatch.setitem(
        jenkins_job.__salt__,
        "jenkins.job_compare",
        MagicMock(
            return_value={"exists": False, "changed": True, "diff": "+x", "xml": "<project/>"}
        ),
    )
    for write in (
        "jenkins.job_create",
        "jenkins.job_update",
        "jenkins.job_enable",
        "jenkins.job_disable",
    ):
        monkeypatch.setitem(
            jenkins_job.__salt__, write, MagicMock(side_effect=AssertionError(write))
        )
    ret = jenkins_job.present("j", config="<project/>", enabled=False)
    assert ret["result"] is None
    assert ret["changes"] == {
        "job": {"old": None, "new": "j"},
        "config": {"diff": "+x"},
        "enabled": {"old": None, "new": False},
    }


def test_build_test_mode_reports_the_trigger_without_parameter_values(monkeypatch):
    monkeypatch.setitem(jenkins_build.__opts__, "test", True)
    monkeypatch.setitem(jenkins_build.__salt__, "jenkins.job_exists", MagicMock(return_value=True))
    monkeypatch.setitem(
        jenkins_build.__salt__, "jenkins.last_build_with", MagicMock(return_value=None)
    )
    monkeypatch.setitem(
        jenkins_build.__salt__, "jenkins.build", MagicMock(side_effect=AssertionError("build"))
    )
    ret = jenkins_build.succeeded("app", parameters={"PASSWORD": "hunter2"})
    assert ret["result"] is None and "would be triggered" in ret["comment"]
    assert "hunter2" not in str(ret)


def test_build_unstable_is_accepted_only_when_asked(monkeypatch):
    monkeypatch.setitem(jenkins_build.__salt__, "jenkins.job_exists", MagicMock(return_value=True))
    monkeypatch.setitem(
        jenkins_build.__salt__, "jenkins.last_build_with", MagicMock(return_value=None)
    )
    res = {
        "number": 4,
        "queue_id": 9,
        "result": "UNSTABLE",
        "url": "u",
        "console_tail": "tests failed",
    }
    monkeypatch.setitem(jenkins_build.__salt__, "jenkins.build", MagicMock(return_value=res))
    ret = jenkins_build.succeeded("app")
    assert (
        ret["result"] is False and "UNSTABLE" in ret["comment"] and "tests failed" in ret["comment"]
    )
    assert jenkins_build.succeeded("app", accept_unstable=True)["result"] is True


def test_plugin_versions_and_inactive(monkeypatch):
    have = {
        "git": {"version": "2.10", "active": True, "enabled": True},
        "old": {"version": "1.2.3-beta", "active": True, "enabled": True},
        "off": {"version": "1.0", "active": False, "enabled": False},
    }
    from saltext.chain.utils import chain_jenkins_version

    monkeypatch.setitem(jenkins_plugin.__salt__, "jenkins.plugins", MagicMock(return_value=have))
    monkeypatch.setitem(
        jenkins_plugin.__salt__, "jenkins.version_compare", chain_jenkins_version.compare
    )
    assert jenkins_plugin.installed("git", version="2.9")["result"] is True
    ret = jenkins_plugin.installed("x", plugins=[{"old": "1.2.3"}, "off", "gone"])
    assert ret["result"] is False
    assert "old is 1.2.3-beta, older than 1.2.3" in ret["comment"]
    assert "off 1.0 is installed but not active (disabled)" in ret["comment"]
    assert "gone is not installed" in ret["comment"]
    assert jenkins_plugin.installed("off", active=False)["result"] is True


def test_build_running_from_an_earlier_apply_is_waited_for_never_duplicated(monkeypatch):
    monkeypatch.setitem(jenkins_build.__salt__, "jenkins.job_exists", MagicMock(return_value=True))
    monkeypatch.setitem(
        jenkins_build.__salt__,
        "jenkins.last_build_with",
        MagicMock(return_value={"number": 7, "result": None, "url": "u/7/", "building": True}),
    )
    monkeypatch.setitem(
        jenkins_build.__salt__, "jenkins.build", MagicMock(side_effect=AssertionError("build"))
    )
    wait = MagicMock(
        return_value={
            "number": 7,
            "queue_id": None,
            "result": "FAILURE",
            "url": "u/7/",
            "console_tail": "step broke",
        }
    )
    monkeypatch.setitem(jenkins_build.__salt__, "jenkins.build_wait", wait)
    ret = jenkins_build.succeeded("app", timeout=42)
    assert ret["result"] is False and "#7" in ret["comment"] and "step broke" in ret["comment"]
    assert ret["changes"] == {}
    assert wait.call_args.args == ("app", 7) and wait.call_args.kwargs["timeout"] == 42
    wait.return_value = {**wait.return_value, "result": None}
    assert "did not finish within 42s" in jenkins_build.succeeded("app", timeout=42)["comment"]


@pytest.mark.parametrize(
    "kwargs,arg",
    [
        ({"timeout": "x"}, "timeout"),
        ({"poll_interval": "soon"}, "poll_interval"),
        ({"tail_lines": "many"}, "tail"),
        ({"accept_unstable": "maybe"}, "accept_unstable"),
        ({"force": 2}, "force"),
        ({"parameters": ["A=1"]}, "parameters"),
        ({"parameters": {"A": [1]}}, "parameters"),
    ],
)
def test_build_bad_input_is_one_line_and_touches_nothing(monkeypatch, kwargs, arg):
    for key in ("jenkins.job_exists", "jenkins.last_build_with", "jenkins.build"):
        monkeypatch.setitem(jenkins_build.__salt__, key, MagicMock(side_effect=AssertionError))
    ret = jenkins_build.succeeded("app", **kwargs)
    assert ret["result"] is False and ret["changes"] == {}
    assert arg in ret["comment"] and "\n" not in ret["comment"]


@pytest.mark.parametrize(
    "kwargs,arg",
    [
        ({"enabled": "yes"}, "enabled"),
        ({"config": "<project/>", "ignore": 5}, "ignore"),
        ({"enabled": True, "saltenv": 3}, "saltenv"),
        ({}, "declare config"),
    ],
)
def test_job_bad_input_is_one_line_and_touches_nothing(monkeypatch, kwargs, arg):
    for key in ("jenkins.job_compare", "jenkins.job_enabled", "jenkins.job_exists"):
        monkeypatch.setitem(jenkins_job.__salt__, key, MagicMock(side_effect=AssertionError))
    ret = jenkins_job.present("app", **kwargs)
    assert ret["result"] is False and ret["changes"] == {}
    assert arg in ret["comment"] and "\n" not in ret["comment"]
    bad_name = jenkins_job.absent("a?b")
    assert bad_name["result"] is False and "unsafe" in bad_name["comment"]


@pytest.mark.parametrize(
    "kwargs,arg",
    [
        ({"active": "maybe"}, "active"),
        ({"version": 2.1}, "quote the version"),
        ({"plugins": [5]}, "invalid entry"),
        ({"plugins": "git"}, "plugins must be a list"),
        ({"version": ""}, "empty version"),
    ],
)
def test_plugin_bad_input_is_one_line_and_touches_nothing(monkeypatch, kwargs, arg):
    monkeypatch.setitem(
        jenkins_plugin.__salt__, "jenkins.plugins", MagicMock(side_effect=AssertionError)
    )
    ret = jenkins_plugin.installed("git", **kwargs)
    assert ret["result"] is False and arg in ret["comment"] and "\n" not in ret["comment"]


def test_node_disabled_message_must_be_text(monkeypatch):
    from _states import jenkins_node

    monkeypatch.setattr(
        jenkins_node,
        "__salt__",
        {"jenkins.node_info": MagicMock(side_effect=AssertionError)},
        raising=False,
    )
    monkeypatch.setattr(jenkins_node, "__opts__", {"test": False}, raising=False)
    ret = jenkins_node.disabled("agent1", message=["x"])
    assert ret["result"] is False and ret["comment"] == "message: expected text"


def test_a_job_jenkins_stores_under_another_case_is_not_managed_silently(monkeypatch):
    """Jenkins.items is case-insensitive: job/App is job app (both 2.479.3 and 2.568.2)."""
    monkeypatch.setitem(
        jenkins_job.__salt__,
        "jenkins.job_compare",
        MagicMock(
            return_value={
                "exists": True,
                "changed": True,
                "diff": "-a\n+b",
                "xml": "<project/>",
                "name": "app",
            }
        ),
    )
    for write in ("jenkins.job_update", "jenkins.job_create", "jenkins.job_delete"):
        monkeypatch.setitem(jenkins_job.__salt__, write, MagicMock(side_effect=AssertionError))
    ret = jenkins_job.present("App", config="<project/>")
    assert ret["result"] is False and ret["changes"] == {}
    assert "Jenkins has this job as 'app'" in ret["comment"]
    monkeypatch.setitem(
        jenkins_job.__salt__,
        "jenkins.job_info",
        MagicMock(return_value={"_class": "hudson.model.FreeStyleProject", "fullName": "app"}),
    )
    ret = jenkins_job.absent("App")
    assert ret["result"] is False and "'app'" in ret["comment"]
