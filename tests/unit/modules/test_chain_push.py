"""chain_push (minion side) and the source server's hook code: the pure parts. The spool's
order, the ref advertisement and branchmap parsers, the hooks' selection of branch updates and
the record's shape and atomic write; forward() against a master that does not answer."""

import importlib.util
import json
import os
import pathlib

import pytest

from _modules import chain_push as cp
from tests.conftest import REPO

SOURCE = REPO / "formulas" / "chain" / "files" / "source"
A, B = "a" * 40, "b" * 40


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SOURCE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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


def test_forward_keeps_what_the_master_did_not_take(tmp_path, monkeypatch):
    spool = tmp_path / "saltext-chain" / "chain-source-spool"
    spool.mkdir(parents=True)
    recs = [spool_mod.record("git", "app", "refs/heads/main", A, B, "u", "http", "m", "a", t)
            for t in (1.0, 2.0, 3.0)]  # fmt: skip
    for rec in recs:
        spool_mod.write(rec, str(spool))
    (spool / "00000000000000000000-junk.json").write_text("{not json")
    sent = []

    def send(record, timeout):
        if len(sent) == 2:
            raise TimeoutError("no answer")
        sent.append(record["delivery"])

    monkeypatch.setattr(cp, "_send", send)
    ret = cp.forward()  # the default spool: <cachedir>/saltext-chain/chain-source-spool
    assert ret["sent"] == [recs[0]["delivery"], recs[1]["delivery"]]
    assert ret["left"] == 1 and "TimeoutError" in ret["error"]
    assert os.listdir(spool / "bad") == ["00000000000000000000-junk.json"]
    assert len(os.listdir(spool / "sent")) == 2
    monkeypatch.setattr(cp, "_send", lambda record, timeout: sent.append(record["delivery"]))
    assert cp.forward(str(spool), keep=2) == {
        "sent": [recs[2]["delivery"]],
        "left": 0,
        "error": None,
    }
    assert sorted(os.listdir(spool / "sent")) == sorted(
        n for n in os.listdir(spool / "sent") if recs[0]["delivery"] not in n
    )  # only the newest two kept
    assert len(os.listdir(spool / "sent")) == 2
