"""The one failure report on the paths the real backends reach only by bad luck (a request that
fails half-way): what failed on the first line, the detail, then ``already done: ...``, and
``changes`` holding only what was really written. The execution modules are mocked."""

from unittest.mock import MagicMock

import pytest
from salt.exceptions import CommandExecutionError

from _states import jenkins_agent, jenkins_build, jenkins_job, jenkins_jobs


@pytest.fixture
def configure_loader_modules():
    return {
        jenkins_job: {"__salt__": {}, "__opts__": {"test": False}, "__env__": "base"},
        jenkins_jobs: {"__salt__": {}, "__opts__": {"test": False}},
        jenkins_build: {"__salt__": {}, "__opts__": {"test": False}},
        jenkins_agent: {"__salt__": {}, "__opts__": {"test": False}},
    }


def _salt(module, monkeypatch, **functions):
    for name, func in functions.items():
        monkeypatch.setitem(module.__salt__, name.replace("__", "."), func)


def test_jobs_applied_half_way_reports_the_jobs_written_and_only_them(monkeypatch, tmp_path):
    (tmp_path / "jobs.yaml").write_text("- job: {name: a}\n")
    rendered = {"a": "<project/>", "b": "<project/>"}
    create = MagicMock(side_effect=[True, CommandExecutionError("b: refused\nby the controller")])
    _salt(
        jenkins_jobs,
        monkeypatch,
        jenkins__job_render=MagicMock(return_value=rendered),
        jenkins__job_compare=MagicMock(return_value={"exists": False, "changed": True}),
        jenkins__job_create=create,
    )
    ret = jenkins_jobs.applied("ci", source=str(tmp_path))
    assert ret["result"] is False
    assert ret["comment"].splitlines() == [
        "b: refused",
        "by the controller",
        "already done: created a",
    ]
    assert ret["changes"] == {"created": ["a"]}
    posted = create.call_args_list[0].kwargs["config_xml"]
    assert "[managed by salt jenkins_jobs.applied: ci]" in posted


def test_jobs_applied_test_mode_failure_has_no_changes(monkeypatch, tmp_path):
    (tmp_path / "jobs.yaml").write_text("- job: {name: a}\n")
    monkeypatch.setitem(jenkins_jobs.__opts__, "test", True)
    _salt(
        jenkins_jobs,
        monkeypatch,
        jenkins__job_render=MagicMock(return_value={"a": "<project>"}),
        jenkins__job_create=MagicMock(side_effect=AssertionError("write")),
    )
    ret = jenkins_jobs.applied("ci", source=str(tmp_path))
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("job XML is not well-formed") and "\n" not in ret["comment"]


def test_jobs_applied_unreadable_source_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "jobs.yaml").write_bytes(b"\xff\xfe not utf-8")
    ret = jenkins_jobs.applied("ci", source=str(tmp_path))
    assert ret["result"] is False and ret["comment"].startswith("source: cannot read ")


def test_job_present_failing_after_a_write_names_the_write(monkeypatch):
    _salt(
        jenkins_job,
        monkeypatch,
        jenkins__job_compare=MagicMock(
            return_value={"exists": False, "changed": True, "diff": "+x", "xml": "<project/>"}
        ),
        jenkins__job_create=MagicMock(return_value=True),
        jenkins__job_enabled=MagicMock(side_effect=CommandExecutionError("controller is down")),
    )
    ret = jenkins_job.present("j", config="<project/>", enabled=True)
    assert ret["result"] is False
    assert ret["comment"].splitlines() == ["controller is down", "already done: job j created"]
    assert ret["changes"]["job"] == {"old": None, "new": "j"}


def test_build_that_fails_names_it_then_the_console_then_what_was_done(monkeypatch):
    res = {"number": 4, "queue_id": 9, "result": "FAILURE", "url": "u", "console_tail": "boom"}
    _salt(
        jenkins_build,
        monkeypatch,
        jenkins__job_exists=MagicMock(return_value=True),
        jenkins__last_build_with=MagicMock(return_value=None),
        jenkins__build=MagicMock(return_value=res),
    )
    ret = jenkins_build.succeeded("app")
    assert ret["comment"].splitlines() == [
        "Build #4 of app finished FAILURE; console tail:",
        "boom",
        "already done: queued a build of app (queue item 9); build #4 started",
    ]
    assert ret["changes"]["build"]["new"]["number"] == 4
    stuck = {**res, "number": None, "result": None, "why": "waiting for an agent"}
    _salt(jenkins_build, monkeypatch, jenkins__build=MagicMock(return_value=stuck))
    ret = jenkins_build.succeeded("app", timeout=5)
    assert ret["comment"].splitlines() == [
        "Build of app did not leave the queue within 5s (queue item 9: waiting for an agent)",
        "already done: queued a build of app (queue item 9)",
    ]


def _pass(**over):
    return {
        "launched": [],
        "deleted": [],
        "scaled_down": [],
        "disabled": [],
        "starting": [],
        "online": [],
        "outdated": [],
        "demand": 0,
        **over,
    }


def test_pool_broken_after_launching_keeps_what_it_did(monkeypatch):
    reconcile = MagicMock(return_value=_pass(launched=["p-1"], broken="agent never came online"))
    _salt(jenkins_agent, monkeypatch, jenkins_agent__reconcile=reconcile)
    ret = jenkins_agent.pool("p", "img:1", min=1)
    assert ret["result"] is False and ret["changes"] == {"launched": ["p-1"]}
    assert ret["comment"].splitlines() == [
        "Pool p is broken, not launching: agent never came online",
        "already done: launched p-1",
    ]


def test_pool_failing_canary_keeps_the_old_image_and_says_so(monkeypatch):
    _salt(
        jenkins_agent,
        monkeypatch,
        jenkins_agent__reconcile=MagicMock(return_value=_pass(pending_image=True, image_id="a")),
        jenkins_agent__canary=MagicMock(
            return_value={
                "needed": True,
                "passed": False,
                "result": "FAILURE",
                "old": "img:1",
                "console_tail": "tests red",
            }
        ),
    )
    ret = jenkins_agent.pool("p", "img:2", canary_job="make test")
    assert ret["comment"].splitlines() == [
        "Pool p: the canary of img:2 failed (FAILURE); the pool keeps img:1.",
        "tests red",
    ]
    assert ret["changes"] == {"canary": {"image": "img:2", "result": "FAILURE"}}


def test_pool_test_mode_only_reads(monkeypatch):
    monkeypatch.setitem(jenkins_agent.__opts__, "test", True)
    reconcile = MagicMock(return_value=_pass(launched=["p-1"]))
    _salt(
        jenkins_agent,
        monkeypatch,
        jenkins_agent__reconcile=reconcile,
        jenkins_agent__wait_pool=MagicMock(side_effect=AssertionError("wait")),
    )
    ret = jenkins_agent.pool("p", "img:1", min=1)
    assert ret["result"] is None and ret["changes"] == {"launched": ["p-1"]}
    assert reconcile.call_args.kwargs["test"] is True


def test_agent_bad_wait_is_refused_before_any_request(monkeypatch):
    _salt(
        jenkins_agent, monkeypatch, jenkins_agent__reconcile=MagicMock(side_effect=AssertionError)
    )
    ret = jenkins_agent.pool("p", "img:1", wait="maybe")
    assert ret["result"] is False and ret["comment"] == "wait: expected true or false, got 'maybe'"
