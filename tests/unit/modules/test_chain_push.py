"""chain_push (minion side) and the source server's hook code: the pure parts. The spool's
order, the ref advertisement and branchmap parsers, the hooks' selection of branch updates and
the record's shape and atomic write; forward() against a master that does not answer."""

import importlib.util
import json
import os
import pathlib
import sys
import time

import pytest

from _modules import chain_push as cp
from tests.conftest import REPO

SOURCE = REPO / "formulas" / "chain" / "files" / "source"
A, B = "a" * 40, "b" * 40


def _load(name):
    """The hook module, loaded without writing ``__pycache__`` into the formula's build context
    (a file there is an input of the source image: ci60 rebuilt it between two applies)."""
    spec = importlib.util.spec_from_file_location(name, SOURCE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


spool_mod = _load("chain_spool")


def _pkt(line):
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data


def test_parse_git_refs_keeps_branches_only():
    body = (
        _pkt("# service=git-upload-pack\n")
        + b"0000"
        + _pkt(f"{A} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main\n")
        + _pkt(f"{A} refs/heads/main\n")
        + _pkt(f"{B} refs/heads/feature/x\n")
        + _pkt(f"{B} refs/tags/v1\n")
        + b"0000"
    )
    assert cp._parse_git_refs(body) == {"main": A, "feature/x": B}
    # an empty repository advertises only capabilities with a zero id
    empty = (
        _pkt("# service=git-upload-pack\n") + b"0000" + _pkt(f"{'0' * 40} capabilities^{{}}\0x\n")
    )
    assert cp._parse_git_refs(empty + b"0000") == {}


def test_parse_hg_branchmap_takes_the_newest_head():
    assert cp._parse_hg_branchmap(f"default {A} {B}\nmy%20branch {A}\n".encode()) == {
        "default": B,
        "my branch": A,
    }
    assert cp._parse_hg_branchmap(b"") == {}


def test_pending_names_oldest_first_without_temporaries():
    names = [
        "00000000000000000020-x.json",
        ".00000000000000000030-y.json.tmp",
        "sent",
        "bad",
        "00000000000000000010-z.json",
        "hook-errors.log",
    ]
    assert cp._pending_names(names) == [
        "00000000000000000010-z.json",
        "00000000000000000020-x.json",
    ]


def test_post_receive_selects_branch_updates():
    hook = _load("post_receive")
    zero = "0" * 40
    lines = [
        f"{A} {B} refs/heads/main",
        f"{zero} {A} refs/heads/new",
        f"{A} {zero} refs/heads/gone",  # a deletion
        f"{zero} {A} refs/tags/v1",  # a tag
        "garbage",
    ]
    assert hook.updates(lines) == [(A, B, "refs/heads/main"), (zero, A, "refs/heads/new")]
    assert hook.repo_name("/srv/git/app.git") == "app"
    assert hook.repo_name("/srv/git/app.git/") == "app"


def test_record_shape_and_atomic_write(tmp_path):
    rec = spool_mod.record(
        "git", "app", "refs/heads/main", "", B, "alice", "http", "line one\nline two", "Al", 5.5
    )
    assert len(rec.pop("delivery")) == 32
    assert rec == {
        "vcs": "git", "repo": "app", "branch": "main", "ref": "refs/heads/main",
        "before": "0" * 40, "after": B, "pusher": "alice", "via": "http",
        "message": "line one", "author": "Al", "pushed_at": 5.5,
    }  # fmt: skip
    long = spool_mod.record("hg", "r", "default", A, B, "u", "http", "x" * 500, "", 1.0)
    assert long["branch"] == long["ref"] == "default" and len(long["message"]) == 200
    path = spool_mod.write(long, str(tmp_path))
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temporary left behind
    assert json.loads(pathlib.Path(path).read_text()) == long
    assert os.path.basename(path) == f"{1_000_000_000:020d}-{long['delivery']}.json"


def test_report_never_raises(tmp_path, capsys):
    try:
        raise OSError("disk full")
    except OSError:
        spool_mod.report("git app refs/heads/main", spool=str(tmp_path / "missing"))
        spool_mod.report("git app refs/heads/main", spool=str(tmp_path))
    assert "NOT recorded: OSError: disk full" in (tmp_path / "hook-errors.log").read_text()
    assert "push accepted but NOT recorded" in capsys.readouterr().err


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {
        cp: {
            "__opts__": {"id": "build1", "cachedir": str(tmp_path), "master_uri": "tcp://x:1"},
            "__salt__": {"config.get": lambda key, default=None: default},
        }
    }


def _spool_with(tmp_path, times):
    spool = tmp_path / "saltext-chain" / "chain-source-spool"
    spool.mkdir(parents=True, exist_ok=True)
    recs = [spool_mod.record("git", "app", "refs/heads/main", A, B, "u", "http", "m", "a", t)
            for t in times]  # fmt: skip
    for rec in recs:
        spool_mod.write(rec, str(spool))
    return spool, recs


class Master:
    """The master as the forwarder sees it: takes events (or not) and answers receipts from
    what its queue ``has`` (or raises)."""

    def __init__(self, monkeypatch):
        self.events, self.asked, self.has, self.down, self.no_receipts = [], [], {}, False, None
        monkeypatch.setattr(cp, "_send", self.send)
        monkeypatch.setattr(cp, "_receipts", self.receipts)

    def send(self, record, timeout):
        if self.down:
            raise ConnectionRefusedError("no master")
        self.events.append(record["delivery"])

    def receipts(self, deliveries, timeout):
        self.asked.append(list(deliveries))
        if self.down or self.no_receipts:
            raise self.no_receipts or ConnectionRefusedError("no master")
        return {d: self.has[d] for d in deliveries if d in self.has}


class Clock:
    def __init__(self, monkeypatch):
        self.now = time.time()  # the files' own times are real ones
        monkeypatch.setattr(cp.time, "time", lambda: self.now)


def test_resend_delay_is_bounded_and_checks_come_once_per_send():
    assert [cp._resend_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]
    entry = {"n": 1, "at": 100.0}
    assert not cp._to_check(entry, 100.5)  # the reactor gets a moment
    assert cp._to_check(entry, 101.0)
    assert not cp._to_check(dict(entry, checked=True), 101.5)  # asked once since the send
    assert cp._to_check(dict(entry, checked=True), 102.0)  # the next send is due: ask first


def test_forward_keeps_what_the_master_did_not_take(tmp_path, monkeypatch):
    spool, recs = _spool_with(tmp_path, (1.0, 2.0, 3.0))
    (spool / "00000000000000000000-junk.json").write_text("{not json")
    sent = []

    def send(record, timeout):
        if len(sent) == 2:
            raise TimeoutError("no answer")
        sent.append(record["delivery"])

    monkeypatch.setattr(cp, "_send", send)
    ret = cp.forward()  # the default spool: <cachedir>/saltext-chain/chain-source-spool
    assert ret["sent"] == [recs[0]["delivery"], recs[1]["delivery"]]
    assert ret["left"] == 1 and ret["unacked"] == 2 and "TimeoutError" in ret["error"]
    assert os.listdir(spool / "bad") == ["00000000000000000000-junk.json"]
    # answered by the master is not in its queue: the records wait for their receipts
    assert len(cp._pending_names(os.listdir(spool / "unacked"))) == 2
    assert not (spool / "sent").exists()


def test_a_record_leaves_the_spool_only_with_the_queues_receipt(tmp_path, monkeypatch):
    spool, recs = _spool_with(tmp_path, (1.0, 2.0))
    master, clock = Master(monkeypatch), Clock(monkeypatch)
    first, second = (r["delivery"] for r in recs)
    ret = cp.forward(str(spool))
    assert ret["sent"] == [first, second] and ret["unacked"] == 2 and master.asked == []
    clock.now += 1  # a second later: asked once; the reactor lost the first, queued the second
    master.has = {second: {"push": 7, "state": "queued"}}
    ret = cp.forward(str(spool))
    assert master.asked == [sorted([first, second])] and ret["acked"] == [second]
    assert ret["resent"] == [] and ret["unacked"] == 1
    assert [second in n for n in os.listdir(spool / "sent")] == [True]
    clock.now += 0.5  # asked since its send, not due yet: no request at all
    assert cp.forward(str(spool))["resent"] == [] and len(master.asked) == 1
    clock.now += 0.5  # 2 s after the send: asked again, then sent again
    ret = cp.forward(str(spool))
    assert ret["resent"] == [first] and master.events == [first, second, first]
    assert ret["unacked"] == 1 and len(master.asked) == 2
    for wait in (4, 8, 16, 30, 30):  # the waits between sends grow, then stay at 30 s
        clock.now += wait - 0.1
        cp.forward(str(spool))
        clock.now += 0.1
        assert cp.forward(str(spool))["resent"] == [first], wait
    assert master.events.count(first) == 7
    master.has[first] = {"push": 8, "state": "deployed"}
    clock.now += 1
    ret = cp.forward(str(spool))
    assert ret["acked"] == [first] and ret["unacked"] == 0 and ret["error"] is None
    assert sorted(os.listdir(spool / "unacked")) == [".sends"]
    assert len(os.listdir(spool / "sent")) == 2


def test_a_master_down_or_without_receipts_keeps_the_records(tmp_path, monkeypatch):
    spool, (rec,) = _spool_with(tmp_path, (1.0,))
    master, clock = Master(monkeypatch), Clock(monkeypatch)
    cp.forward(str(spool))
    master.down = True
    clock.now += 5
    ret = cp.forward(str(spool))
    assert "no receipts" in ret["error"] or "did not take" in ret["error"]
    assert ret["unacked"] == 1 and master.events == [rec["delivery"]]
    master.down, master.no_receipts = False, RuntimeError("no peer_run")
    clock.now += 5
    ret = cp.forward(str(spool))  # no receipts (peer_run missing): sent again all the same
    assert "no peer_run" in ret["error"] and ret["resent"] == [rec["delivery"]]
    assert ret["unacked"] == 1
    # the state of the sends lost: the record counts as sent once, at its file's time
    (spool / "unacked" / ".sends").unlink()
    master.no_receipts = None
    master.has = {rec["delivery"]: {"push": 1, "state": "queued"}}
    clock.now += 5
    assert cp.forward(str(spool))["acked"] == [rec["delivery"]]


def test_a_refused_record_is_set_aside_and_logged(tmp_path, monkeypatch, caplog):
    spool, (rec,) = _spool_with(tmp_path, (1.0,))
    master, clock = Master(monkeypatch), Clock(monkeypatch)
    cp.forward(str(spool))
    master.has = {rec["delivery"]: {"refused": "not allowed: branch 'x' is not in branches"}}
    clock.now += 1
    ret = cp.forward(str(spool))
    assert ret["refused"] == [rec["delivery"]] and ret["unacked"] == 0
    assert [rec["delivery"] in n for n in os.listdir(spool / "refused")] == [True]
    assert "the master refused" in caplog.text and "not allowed" in caplog.text
    assert master.events == [rec["delivery"]]


def test_one_pass_at_a_time(tmp_path, monkeypatch):
    spool, _ = _spool_with(tmp_path, (1.0,))
    Master(monkeypatch)
    with cp._one_pass(str(spool)) as mine:
        assert mine
        assert cp.forward(str(spool))["error"] == "another pass is running"
    assert cp.forward(str(spool))["sent"]
