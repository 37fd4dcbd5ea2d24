"""The chain_page runner with its I/O replaced (chain.status, Jenkins, the push queue): what it
writes, when it gathers the expensive part, and that a build's reports are read once."""

import base64
import json
import os
import sqlite3
import time

import pytest
from saltext.chain.utils import chain_jenkins_client, chain_run_store

from _runners import chain_page


class Queue:
    """The push queue's reader as issue 16's design fixes it: ``snapshot(path, limit)``."""

    def __init__(self):
        self.runs, self.pushes = [], []

    def snapshot(self, path, limit=50):
        sqlite3.connect(path).close()  # the runner passes the queue's file
        return {"pushes": self.pushes[:limit], "runs": self.runs[:limit]}


class Jenkins:
    """The pipeline's archived reports, counting the reads."""

    def __init__(self):
        self.reads = []

    def artifact(self, client, job, path, number):
        self.reads.append((job, number, path))
        if number == 5:
            raise chain_jenkins_client.JenkinsNotFound("no artifact", 404)
        if path.endswith("junit.xml"):
            return f'<testsuite tests="{number}" failures="0" errors="0" skipped="0"/>'
        return json.dumps({"totals": {"percent_covered": 80 + number}})


@pytest.fixture
def gathered():
    return []


@pytest.fixture
def configure_loader_modules(tmp_path, gathered):
    apps = {"app": {"targets": ["web1"], "jenkins_profile": "ci", "jenkins_job": "app-pipeline"}}
    builds = [
        {"number": 7, "result": "BUILDING", "ref": "c" * 40},
        {"number": 6, "result": "SUCCESS", "ref": "b" * 40},
        {"number": 5, "result": "FAILURE", "ref": "a" * 40},
    ]

    def status(app, out_format, tags):
        gathered.append((app, out_format, tags))
        return {
            app: {
                "servers": {},
                "jenkins": {"url": "u", "agents": {}, "queue": [], "builds": builds},
            }
        }

    return {
        chain_page: {
            "__opts__": {
                "cachedir": str(tmp_path),
                "chain": {"apps": apps, "page": {"status_interval": 30}},
                "rest_cherrypy": {"static_path": "/page-data/"},
            },
            "__context__": {},
            "__salt__": {"chain.status": status, "salt.cmd": lambda *a, **k: None},
        }
    }


@pytest.fixture
def queue(monkeypatch, tmp_path):
    fake = Queue()
    monkeypatch.setattr(chain_page, "chain_push_queue", fake)
    (tmp_path / "saltext-chain").mkdir()
    (tmp_path / "saltext-chain" / "push-queue.sqlite").touch()
    return fake


@pytest.fixture
def jenkins(monkeypatch):
    fake = Jenkins()
    monkeypatch.setattr(chain_page.chain_jenkins_builds, "artifact", fake.artifact)
    monkeypatch.setattr(chain_page.chain_jenkins_client, "connection", lambda p, g: {"p": p})
    monkeypatch.setattr(chain_page.chain_jenkins_client, "get", lambda conf, cache: "client")
    return fake


def _served(tmp_path):
    page = tmp_path / "saltext-chain" / "page"
    return json.loads((page / "chain.json").read_text()), (page / "index.html").read_text()


def test_write_renders_the_queue_history_and_status(tmp_path, queue, jenkins, gathered):
    queue.runs = [
        {
            "run_id": "r1",
            "state": "deployed",
            "started": 1.0,
            "ended": 2.0,
            "stages": [],
            "pushes": [1],
        }
    ]
    queue.pushes = [{"id": 1, "pusher": "alice", "state": "deployed", "message": "<i>x</i>"}]
    chain_run_store.record(str(tmp_path / "chain"), "app", {"kind": "rollback", "started": 1})
    ret = chain_page.write()
    served, doc = _served(tmp_path)
    assert ret["url"] == "/page-data/index.html" and ret["data"] == "/page-data/chain.json"
    assert ret["runs"] == 1 and ret["pushes"] == 1
    assert '<meta name="chain-data" content="/page-data/chain.json">' in doc
    assert "&lt;i&gt;x&lt;/i&gt;" in doc and "<i>x</i>" not in doc
    assert served["data"]["history"]["app"][0]["kind"] == "rollback"
    assert gathered == [("app", "data", 0)]
    tests = {
        b["number"]: (b.get("tests"), b.get("coverage")) for b in served["data"]["builds"]["app"]
    }
    assert tests == {
        7: (None, None),
        6: ({"total": 6, "failed": 0, "skipped": 0}, 86.0),
        5: (None, None),
    }
    assert not [f for f in os.listdir(tmp_path / "saltext-chain" / "page") if "tmp" in f]


def test_status_is_gathered_when_due_and_reports_read_once(tmp_path, queue, jenkins, gathered):
    chain_page.write()
    assert len(gathered) == 1 and len(jenkins.reads) == 4  # builds 6 and 5, two reports each
    chain_page.write()  # not due: nothing gathered, nothing read
    assert len(gathered) == 1 and len(jenkins.reads) == 4
    queue.runs = [{"run_id": "r2", "state": "built", "started": 1.0, "ended": time.time() + 1}]
    chain_page.write()  # a run ended since the last gather
    assert len(gathered) == 2 and len(jenkins.reads) == 4  # old builds: no Jenkins read
    chain_page.write(refresh=True)
    assert len(gathered) == 3
    chain_page.write(refresh=False)
    assert len(gathered) == 3


def test_an_unreadable_queue_is_said_on_the_page(tmp_path, jenkins):
    (tmp_path / "saltext-chain").mkdir(exist_ok=True)
    (tmp_path / "saltext-chain" / "push-queue.sqlite").write_bytes(b"not a database " * 100)
    chain_page.write(refresh=False)
    served, doc = _served(tmp_path)
    assert "the push queue cannot be read" in served["data"]["queue"]["error"]
    assert "the push queue cannot be read" in doc


def test_record_keeps_a_bounded_store_and_refuses_others(tmp_path, queue, jenkins, gathered):
    chain_page.__opts__["chain"]["page"]["events"] = 3
    for i in range(5):
        ret = chain_page.record(
            json.dumps(
                {
                    "tag": f"salt/beacon/web1/container_events/die/app-{i}",
                    "data": {
                        "id": "web1",
                        "action": "die",
                        "name": f"app-{i}",
                        "time": 100.0 + i,
                        "exit_code": 1,
                        "labels": {"org.saltext-chain.service": "app"},
                    },
                }
            )
        )
        assert ret["result"] is True
    as_the_reactor = {
        "tag": "salt/beacon/web1/container_events/health_status/app-9",
        "data": {"id": "web1", "name": "app-9", "time": 99.0, "status": "healthy"},
    }
    ret = chain_page.record(base64.b64encode(json.dumps(as_the_reactor).encode()).decode())
    assert ret["result"] is True and ret["comment"] == "recorded health_status of app-9"
    refused = chain_page.record({"tag": "salt/job/1/ret/web1", "data": {"time": 1}})
    assert refused["result"] is False
    refused = chain_page.record("bm90IGpzb24=")  # base64 of "not json"
    assert refused["result"] is False
    served, _ = _served(tmp_path)
    assert [e["name"] for e in served["data"]["supervision"]["events"]] == [
        "app-4",
        "app-3",
        "app-2",
    ]
    assert served["data"]["supervision"]["flagged"] == 3
    assert gathered == []  # recording never gathers chain.status


def test_a_death_while_a_rollout_holds_the_lock_is_not_flagged(tmp_path, queue, jenkins):
    root = str(tmp_path / "chain")
    event = {
        "tag": "salt/beacon/web1/container_events/die/app-1",
        "data": {
            "id": "web1",
            "action": "die",
            "name": "app-1",
            "time": 1.0,
            "labels": {"org.saltext-chain.service": "app"},
        },
    }
    with chain_run_store.Lock(root, "app", {"started": 0.5}):
        chain_page.record(event)
    served, _ = _served(tmp_path)
    assert served["data"]["supervision"]["flagged"] == 0
    chain_page.record(dict(event, data=dict(event["data"], time=5000.0)))  # the control
    served, _ = _served(tmp_path)
    assert served["data"]["supervision"]["flagged"] == 1
