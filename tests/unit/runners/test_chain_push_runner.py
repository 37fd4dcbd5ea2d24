"""The push runner with its I/O replaced (the event bus, the orchestrate): refusals are
logged once and queue nothing, an accepted push runs once with the chain's pillar, a commit
already run is "nothing to do" without an orchestrate, a replay runs it again, a failure is
recorded with the failing state's comment; and the reactor files hand the event over as data
whatever it holds."""

import base64
import json
import logging
import os
import signal
import sys
import time

import pytest
import salt.config
import salt.loader
import salt.template
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_push_queue as queue
from saltext.chain.utils import chain_push_verify as verify

from _runners import chain_push
from tests.conftest import REPO

KEY = "k3y"
PUSH = {
    "source_minion": "build1",
    "branches": ["*"],
    "repos": {"app": {"app": "app", "orchestrate": "t.orch"}},
}


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {
        chain_push: {
            "__opts__": {"cachedir": str(tmp_path), "id": "master", "chain": {"push": PUSH}},
            "__context__": {},
            "__salt__": {},
        }
    }


class Recorder:
    def __init__(self, *args):
        self.ready = self.done = type("E", (), {"wait": lambda *a: True, "set": lambda *a: 0})()

    def start(self):
        pass

    def join(self, timeout):
        pass


@pytest.fixture
def bus(monkeypatch):
    events = []
    monkeypatch.setattr(chain_push, "_fire", lambda tag, data: events.append((tag, data)))
    monkeypatch.setattr(chain_push, "_StageRecorder", Recorder)
    monkeypatch.setattr(chain_push, "_webhook_key", lambda conf: KEY)
    monkeypatch.setattr(chain_push, "_source_key", lambda conf: None)
    return events


@pytest.fixture
def orchestrate(monkeypatch):
    calls = []

    def run(sls, saltenv="base", pillar=None):
        calls.append((sls, pillar))
        return {"data": {"master": {}}, "retcode": 0}

    monkeypatch.setitem(chain_push.__salt__, "state.orchestrate", run)
    return calls


def minion_event(n, minion="build1", branch="main", **over):
    rec = {
        "delivery": f"{n:032x}",
        "vcs": "git",
        "repo": "app",
        "ref": f"refs/heads/{branch}",
        "after": f"{n:040x}",
        "pusher": "alice",
        "via": "http",
        "message": "m",
        "pushed_at": 1000.0 + n,
    }
    rec.update(over)
    return {"tag": verify.SOURCE_TAG, "data": {"id": minion, "data": rec}}


def test_a_push_runs_once_with_the_chains_pillar(bus, orchestrate):
    ret = chain_push.receive(minion_event(1), background=False)
    assert ret["result"] is True and ret["drain"]["app"]["runs"][0]["result"] == "deployed"
    [(sls, pillar)] = orchestrate
    rid = ret["drain"]["app"]["runs"][0]["run_id"]
    assert sls == "t.orch"
    assert pillar == {
        "chain": {"ref": f"{1:040x}", "run_id": rid, "deploy": True, "vcs": "git", "repo": "app"}
    }
    tags = [t for t, _ in bus]
    assert tags == ["chain/push/accepted", f"chain/run/{rid}/start", f"chain/run/{rid}/done"]
    assert bus[0][1]["commit"] == f"{1:040x}" and bus[2][1]["result"] == "deployed"
    # the same delivery again (the forwarder resent it): nothing to do, nothing runs
    started = time.monotonic()
    again = chain_push.receive(minion_event(1), background=False)
    assert again["comment"] == "nothing to do (duplicate)" and len(orchestrate) == 1
    assert time.monotonic() - started < 1
    # a new push of the same commit: "nothing to do" without an orchestrate
    same = chain_push.receive(minion_event(1, delivery="f" * 32), background=False)
    assert same["drain"]["app"]["runs"][0]["result"] == "nothing to do"
    assert len(orchestrate) == 1
    # a replay runs it again
    replayed = chain_push.replay(ret["push"])
    assert replayed["drain"]["app"]["runs"][0]["result"] == "deployed" and len(orchestrate) == 2
    states = [p["state"] for p in chain_push.queue()]
    assert states == ["deployed", "nothing to do", "deployed"]


def test_a_branch_that_is_not_the_deploy_branch_builds(bus, orchestrate):
    ret = chain_push.receive(minion_event(2, branch="feature/x"), background=False)
    assert ret["drain"]["app"]["runs"][0]["result"] == "built"
    assert orchestrate[0][1]["chain"]["deploy"] is False


@pytest.mark.parametrize(
    "event,reason",
    [
        (minion_event(1, minion="web1"), "not the source"),
        (minion_event(1, repo="evil"), "not allowed"),
        (minion_event(1, after="xyz"), "malformed"),
        ({"tag": "chain/push/other", "data": {}}, "malformed"),
        ("not json", "malformed"),
        (
            {
                "tag": verify.WEBHOOK_TAG,
                "data": {"body": "{}", "headers": {"X-GitHub-Delivery": "d-1"}},
            },
            "unsigned",
        ),
    ],
)
def test_a_refusal_is_logged_once_and_queues_nothing(bus, orchestrate, caplog, event, reason):
    with caplog.at_level(logging.WARNING, logger=chain_push.__name__):
        ret = chain_push.receive(event, background=False)
    assert ret["result"] is False and ret["refused"] == reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert [t for t, _ in bus] == ["chain/push/refused"]
    assert set(bus[0][1]) <= {"reason", "source", "delivery"}
    assert chain_push.queue() == [] and orchestrate == []


def _hook(delivery="abc-1", after=f"{5:040x}"):
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": after,
            "repository": {"name": "app"},
            "pusher": {"name": "bob"},
            "head_commit": {"message": "hi", "author": {"name": "Bob"}},
        }
    )
    headers = {"X-GitHub-Delivery": delivery, "X-GitHub-Event": "push"}
    headers.update(verify.sign(body, KEY))
    return {"tag": verify.WEBHOOK_TAG, "data": {"body": body, "post": {}, "headers": headers}}


def test_a_replayed_webhook_delivery_is_refused(bus, orchestrate, caplog):
    first = chain_push.receive(_hook(), background=False)
    assert first["result"] is True and len(orchestrate) == 1
    with caplog.at_level(logging.WARNING, logger=chain_push.__name__):
        again = chain_push.receive(_hook(), background=False)
    assert again["refused"] == "replayed" and len(orchestrate) == 1
    assert bus[-1] == (
        "chain/push/refused",
        {"reason": again["comment"], "source": "webhook", "delivery": "abc-1"},
    )


def test_a_failed_run_records_the_failing_states_comment(bus, monkeypatch):
    data = {
        "salt_|-pipeline_|-pipeline_|-runner": {
            "result": False,
            "comment": "build #7 failed\nconsole line 1\nFAILED test_x",
            "__run_num__": 1,
            "__id__": "pipeline",
        },
        "salt_|-rollout_|-rollout_|-runner": {
            "result": False,
            "comment": "One or more requisite failed: pipeline",
            "__run_num__": 2,
            "__id__": "rollout",
        },
    }
    monkeypatch.setitem(
        chain_push.__salt__,
        "state.orchestrate",
        lambda sls, saltenv, pillar: {"data": {"master": data}, "retcode": 1},
    )
    ret = chain_push.receive(minion_event(3), background=False)
    run = ret["drain"]["app"]["runs"][0]
    assert run["result"] == "failed" and run["failure"] == "pipeline: build #7 failed"
    [stored] = chain_push.history()
    assert stored["console_tail"].endswith("FAILED test_x") and stored["state"] == "failed"
    assert bus[-1][1]["failure"] == "pipeline: build #7 failed"


def test_a_push_queued_while_the_lease_is_held_is_left_to_its_holder(bus, orchestrate, tmp_path):
    db = queue.path_in(str(tmp_path))
    assert queue.acquire(db, "app", "someone-alive")
    ret = chain_push.receive(minion_event(4), background=False)
    assert ret["drain"]["app"]["runs"] == [] and orchestrate == []
    queue.release(db, "app", "someone-alive")
    assert chain_push.drain()["app"]["runs"][0]["result"] == "deployed"


@pytest.mark.parametrize("where", ["caught by a runner in the orchestrate", "raised out of it"])
def test_a_worker_stopped_by_a_signal_queues_its_run_again(bus, monkeypatch, request, where):
    """SIGTERM to a worker in the middle of a run (the master going down): salt-run's handler
    raises SystemExit, which a runner inside the orchestrate catches as a failed state
    (salt.client.mixins) or which comes out of it. Either way the run is recorded interrupted
    and its push queued again, nothing else runs, and the worker gives its lease and the
    process's handlers back. The real signal, sent to this process."""
    calls = []

    def cut(sls, saltenv, pillar):
        calls.append(pillar["chain"]["run_id"])
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before kill returns
            time.sleep(5)  # not reached: the handler raised
            raise AssertionError("the stop signal raised nothing")
        except SystemExit:
            if where == "raised out of it":
                raise
        failed = {"x": {"result": False, "comment": "Exception occurred in runner test.sleep"}}
        return {"data": {"master": failed}, "retcode": 1}

    def salt_run_handler(signum, frame):  # what salt-run installs (salt.scripts._handle_signals)
        sys.exit(0)

    monkeypatch.setitem(chain_push.__salt__, "state.orchestrate", cut)
    before = signal.signal(signal.SIGTERM, salt_run_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGTERM, before))
    for event in (minion_event(9), minion_event(10, branch="b")):
        record = verify.check_record(event["data"]["data"], verify.settings(PUSH), "t")
        queue.enqueue(chain_push._db(), record)
    ret = chain_push.drain(app="app")["app"]
    assert [r["result"] for r in ret["runs"]] == ["interrupted"] and len(calls) == 1
    assert "stopped by a signal" in ret["comment"]
    [run] = chain_push.history()
    assert run["state"] == "failed" and run["failure"].startswith("interrupted")
    states = {p["branch"]: p["state"] for p in chain_push.queue()}
    assert states == {"main": "queued", "b": "queued"}
    assert signal.getsignal(signal.SIGTERM) is salt_run_handler
    assert queue.lease(chain_push._db(), "app") is None
    assert not [t for t, _ in bus if t.endswith("/done")]
    # the next worker (the master's start-up drain) runs both from the start
    monkeypatch.setitem(
        chain_push.__salt__, "state.orchestrate", lambda sls, saltenv, pillar: {"retcode": 0}
    )
    again = chain_push.drain(app="app")["app"]["runs"]
    assert sorted(r["result"] for r in again) == ["built", "deployed"]


def _render(name, tag, data):
    opts = salt.config.master_config("/dev/null")
    renderers = salt.loader.render(opts, {})
    path = str(REPO / "formulas" / "chain" / "reactor" / name)
    return salt.template.compile_template(path, renderers, "jinja|yaml", [], [], tag=tag, data=data)


HOSTILE = (
    "x\n  local.cmd.run:\n    - tgt: '*'\n    - arg: [id]\n{{ 7*7 }} {% raw %}"
    " ' \" \x7f \x85 \u2028 \U0001f600 </script>"
)


@pytest.mark.parametrize("name", ["push.sls", "webhook.sls"])
def test_the_reactor_hands_the_event_over_as_data_whatever_it_holds(name):
    data = {"id": "build1", "data": {"message": HOSTILE, "ref": "refs/heads/a'\"}{\n- x"}}
    high = _render(name, "chain/push/source", data)
    assert list(high) == ["chain_push_receive"]
    assert list(high["chain_push_receive"]) == ["runner.chain_push.receive"]
    [args] = high["chain_push_receive"]["runner.chain_push.receive"]
    [arg] = args["args"]
    assert chain_push._event_of(arg["event"]) == {"tag": "chain/push/source", "data": data}
    decoded = json.loads(base64.b64decode(arg["event"]))
    assert decoded["data"]["data"]["message"] == HOSTILE


def test_control_a_reaction_that_renders_a_value_is_injectable(tmp_path):
    """The control: rendering the message itself into a reaction adds a reaction."""
    naive = tmp_path / "naive.sls"
    naive.write_text(
        "r:\n  runner.chain_push.receive:\n    - args:\n      - message: {{ data.m }}\n"
    )
    opts = salt.config.master_config("/dev/null")
    high = salt.template.compile_template(
        str(naive),
        salt.loader.render(opts, {}),
        "jinja|yaml",
        [],
        [],
        tag="t",
        data={"m": "x\ninjected:\n  local.cmd.run:\n    - tgt: '*'"},
    )
    assert "injected" in high


def test_check_queues_the_heads_that_differ_from_the_queue(bus, orchestrate, monkeypatch):
    chain_push.receive(minion_event(1), background=False)  # main ran commit 1
    heads = {
        "app": {"main": f"{1:040x}", "feature/y": f"{7:040x}", "bad..name": f"{8:040x}"},
        "unknown": {"main": f"{9:040x}"},
    }
    monkeypatch.setattr(chain_push, "_source_heads", lambda conf, timeout: heads)
    spawned = []
    monkeypatch.setattr(chain_push, "_in_background", spawned.append)
    ret = chain_push.check()
    assert [(q["branch"], q["commit"]) for q in ret["queued"]] == [("feature/y", f"{7:040x}")]
    assert len(ret["skipped"]) == 2 and all(
        "malformed" in s or "not allowed" in s for s in ret["skipped"]
    )
    # the check starts the app's worker as a process of its own (the schedule's process cannot
    # publish jobs), and returns at once
    assert spawned == ["app"] and ret["drain"] == {"app": {"comment": "worker started"}}
    assert chain_push.drain("app")["app"]["runs"][0]["result"] == "built"
    assert [p for p in chain_push.queue() if p["branch"] == "feature/y"][0]["pusher"] == "poll"
    # nothing differs any more: nothing queued, nothing run
    again = chain_push.check()
    assert again == {"queued": [], "skipped": again["skipped"]} and len(orchestrate) == 2


def test_receipts_tell_the_forwarder_what_the_queue_holds(bus, orchestrate, caplog):
    """The forwarder's receipts: a queued push (also after its record came twice), a
    refusal of the source minion's own record (recorded once: a re-send is not logged or fired
    again), and nothing for what the queue never had or a refusal anyone could provoke."""
    ok, wrong_branch = minion_event(3), minion_event(4, repo="evil")
    forged = minion_event(5, minion="web1", repo="evil")
    assert chain_push.receive(ok, background=False)["result"] is True
    assert chain_push.receive(ok, background=False)["comment"] == "nothing to do (duplicate)"
    with caplog.at_level(logging.INFO, logger=chain_push.__name__):
        assert chain_push.receive(wrong_branch, background=False)["refused"] == "not allowed"
        again = chain_push.receive(wrong_branch, background=False)
    assert again["refused"] == "not allowed" and again["comment"].endswith("(again)")
    assert chain_push.receive(forged, background=False)["refused"] == "not the source"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "build1" in warnings[0] and "web1" in warnings[1], warnings
    assert [t for t, _ in bus].count("chain/push/refused") == 2  # the first one and the forged
    ids = [e["data"]["data"]["delivery"] for e in (ok, wrong_branch, forged)] + ["f" * 32]
    got = chain_push.receipts(ids)["receipts"]
    assert set(got) == {ids[0], ids[1]}  # the forged one and the unknown one: no receipt
    assert got[ids[0]]["state"] == "deployed" and isinstance(got[ids[0]]["push"], int)
    assert got[ids[1]] == {"refused": "not allowed: repository 'evil' is not in chain:push:repos"}
    assert chain_push.receipts(",".join(ids))["receipts"] == got
    assert chain_push.receipts([]) == {"receipts": {}}
    for bad in (["a b"], "x" * 101, [str(i) for i in range(1001)]):
        with pytest.raises(SaltInvocationError):
            chain_push.receipts(bad)
    assert len(orchestrate) == 1


# ------------------------------------------------------- after a master start: minions reconnect


class _Client:
    """LocalClient's ``cmd`` for the minions named in ``answers`` (each a list: one answer per
    call, the last repeated)."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def cmd(self, tgt, fun, tgt_type=None, timeout=None):
        self.calls.append(list(tgt))
        out = {}
        for m in tgt:
            seq = self.answers.get(m, [None])
            out[m] = seq.pop(0) if len(seq) > 1 else seq[0]
        return {m: v for m, v in out.items() if v is not None}

    def destroy(self):
        pass


@pytest.fixture
def reconnect(monkeypatch, tmp_path):
    pidfile = tmp_path / "master.pid"
    pidfile.write_text("1")
    monkeypatch.setitem(chain_push.__opts__, "pidfile", str(pidfile))
    keys = type("K", (), {"list_status": lambda self, s: {"minions": ["build1", "web1"]}})()
    monkeypatch.setattr(chain_push.salt.key, "get_key", lambda opts: keys)

    def use(answers, age):
        client = _Client(answers)
        monkeypatch.setattr(chain_push, "_local_client", lambda: client)
        started = time.time() - age
        os.utime(pidfile, (started, started))
        return client

    return use


def test_a_run_just_after_the_master_started_waits_for_its_minions(bus, reconnect):
    client = reconnect({"build1": [True], "web1": [None, None, True]}, age=1)
    assert chain_push._await_minions({"reconnect_grace": 90}, "r1", time.time() - 60) == []
    assert client.calls == [["build1", "web1"], ["web1"], ["web1"]]
    assert bus == [("chain/run/r1/waiting", {"minions": ["web1"]})]  # told once


def test_later_runs_and_pushes_made_since_the_start_wait_for_nothing(bus, reconnect):
    client = reconnect({"build1": [None]}, age=120)
    before = time.time() - 200
    assert chain_push._await_minions({"reconnect_grace": 90}, "r1", before) == []
    assert chain_push._await_minions({"reconnect_grace": 0}, "r1", before) == []
    client = reconnect({"build1": [None]}, age=5)
    assert chain_push._await_minions({"reconnect_grace": 90}, "r1", time.time()) == []
    assert chain_push._await_minions({"reconnect_grace": 90}, "r1", None) == []
    assert client.calls == [] and bus == []  # no job published


def test_a_minion_silent_past_the_grace_is_left_to_the_orchestrate(bus, reconnect):
    client = reconnect({"build1": [True], "web1": [None]}, age=89.7)
    assert chain_push._await_minions({"reconnect_grace": 90}, "r1", 0) == ["web1"]
    assert client.calls[0] == ["build1", "web1"] and len(client.calls) >= 2
