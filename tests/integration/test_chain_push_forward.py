"""From a push to the master's queue, nothing lost: formulas/chain/source.sls on a minion of a
master of this module's own (so that stopping it disturbs no other test), a real git push over
HTTP, the hook's spool record forwarded by the scheduled chain_push.forward as the minion's event
``chain/push/source``, carrying the minion's authenticated id, to the master's reactor and push
queue. A record leaves the spool only with the queue's receipt (read through the master's
peer_run): a push made while the master is stopped, and one whose reaction the master lost
(it waited behind a slow reaction when the master restarted), reach the queue once the master
is back; a record sent again is one push.
"""

import contextlib
import json
import pathlib
import secrets
import shutil
import subprocess
import time

import pytest
from saltext.chain.utils import chain_push_queue as queue

from tests.conftest import REPO
from tests.support import cli_forkserver, engines, local

pytestmark = [pytest.mark.integration, pytest.mark.docker]

MINION = "push-build"
NAME = engines.name("pushfwd")
IMAGE = f"saltext-chain/{NAME}:1"
TAG = "chain/push/source"
BLOCK = "chain/test/pushfwd-block"
FILES = pathlib.Path(__file__).parent / "files"
IDENT = ["-c", "user.name=Tess Pusher", "-c", "user.email=t@t"]


@pytest.fixture(scope="module")
def push_master(salt_factories, ext_tree, docker_engines):
    factory = salt_factories.salt_master_daemon(
        "master-push",
        overrides={
            "file_roots": {"base": [str(ext_tree), str(REPO / "formulas"), str(FILES)]},
            "interface": "127.0.0.1",
            "open_mode": False,
            "reactor": [
                {TAG: ["salt://chain/reactor/push.sls"]},
                {BLOCK: ["salt://pushfwd/block.sls"]},
            ],
            # one reaction at a time: a slow one makes the next ones wait in the reactor
            "reactor_worker_threads": 1,
            "peer_run": {f"^{MINION}$": [r"^chain_push\.receipts$"]},
            "chain": {
                "push": {
                    "source_minion": MINION,
                    "repos": {"app": {"app": "pushfwd", "orchestrate": "pushq.orch"}},
                }
            },
        },
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def push_minion(push_master):
    factory = push_master.salt_minion_daemon(
        MINION,
        overrides={
            "master": "127.0.0.1",
            "container": {
                "profiles": {"default": {"base_url": engines.ENGINES["engine1"], "timeout": 60}}
            },
        },
    )
    with factory.started():
        yield factory


def _remove_own():
    with contextlib.closing(engines.client("engine1")) as client:
        for kind, name in (
            ("containers", NAME),
            ("volumes", engines.name("pushfwd-git")),
            ("volumes", engines.name("pushfwd-hg")),
            ("networks", engines.name("pushfwd-net")),
            ("images", IMAGE),
        ):
            with contextlib.suppress(Exception):
                if kind == "containers":
                    client.containers.get(name).remove(force=True, v=True)
                elif kind == "volumes":
                    client.volumes.get(name).remove(force=True)
                elif kind == "networks":
                    client.networks.get(name).remove()
                else:
                    client.images.remove(name, force=True)


@pytest.fixture(scope="module")
def source(push_master, push_minion):
    cli = cli_forkserver.salt(push_master, 300)
    ret = cli.run("saltutil.sync_all", minion_tgt=MINION)
    assert ret.returncode == 0, ret
    password = secrets.token_urlsafe(12)
    http_port = local.free_port()
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "network": {"name": engines.name("pushfwd-net")},
            "source": {
                "name": NAME,
                "image": IMAGE,
                "volume": engines.name("pushfwd-git"),
                "hg_volume": engines.name("pushfwd-hg"),
                "port": local.free_port(),
                "http_port": http_port,
                "hg_repos": [],
                "users": {"alice": password},
            },
        }
    }
    try:
        ret = cli.run(
            "state.apply", "chain.source", f"pillar={json.dumps(pillar)}", minion_tgt=MINION
        )
        assert ret.returncode == 0, ret.stdout[:4000]
        assert all(s["result"] is True for s in ret.data.values()), json.dumps(ret.data)[:4000]
        assert password not in json.dumps(ret.data)
        again = cli.run(
            "state.apply", "chain.source", f"pillar={json.dumps(pillar)}", minion_tgt=MINION
        )
        assert {k: s["changes"] for k, s in again.data.items() if s["changes"]} == {}, again.data
        cachedir = pathlib.Path(push_minion.config["cachedir"])
        yield {
            "cli": cli,
            "url": f"http://alice:{password}@127.0.0.1:{http_port}/git/app.git",
            "spool": cachedir / "saltext-chain" / f"{NAME}-spool",
        }
    finally:
        _remove_own()


def _push(source, work, text):
    (work / "NOTE").write_text(text)
    local.git("add", "NOTE", cwd=work)
    local.git(*IDENT, "commit", "-qm", text, cwd=work)
    subprocess.run(
        ["git", "push", "-q", source["url"], "HEAD:main"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return local.git("rev-parse", "HEAD", cwd=work)


def _spooled(source, sub=""):
    return sorted(p.name for p in (source["spool"] / sub).glob("*.json") if p.name[0] != ".")


def _wait_event(master, after, timeout, commit):
    """The first ``chain/push/source`` event of ``commit`` since ``after`` (a record can come
    more than once: the forwarder sends again when no receipt came)."""
    matched = master.event_listener.wait_for_events(
        [(master.id, TAG)], after_time=after, timeout=timeout
    )
    assert matched.found_all_events, matched.missed
    events = [e for e in matched if e.data["data"]["after"] == commit]
    assert events, [e.data for e in matched]
    return events[0]


def _db(master):
    return queue.path_in(master.config["cachedir"])


def _receipt(master, delivery, timeout):
    """The queue's receipt of ``delivery`` once it has one (None after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = queue.receipts(_db(master), [delivery]).get(delivery)
        if found:
            return found
        time.sleep(0.2)
    return None


def _acked(source, delivery, timeout=10):
    """Wait until the forwarder moved the record of ``delivery`` to ``sent/``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(delivery in n for n in _spooled(source, "sent")):
            return
        time.sleep(0.2)
    raise AssertionError(f"{delivery} not acknowledged: {_spooled(source, 'unacked')}")


def test_push_reaches_the_master_also_when_it_was_down(push_master, source, tmp_path):
    work = tmp_path / "w"
    local.git("clone", "-q", source["url"], str(work))

    # Master up: the record is on the master's bus within a few seconds, as the minion's event.
    start = time.time()
    commit = _push(source, work, "while the master is up")
    event = _wait_event(push_master, start, 30, commit)
    data = event.data
    assert data["id"] == MINION  # the minion's authenticated id (salt/master.py _minion_event)
    assert data["tag"] == TAG
    print(f"\nevent data keys: {sorted(event.full_data)}")
    record = data["data"]
    assert record["pusher"] == "alice" and record["via"] == "http" and record["repo"] == "app"
    assert record["branch"] == "main" and record["message"] == "while the master is up"
    print(f"\nhook -> master bus: {event.stamp.timestamp() - record['pushed_at']:.2f} s")
    assert _receipt(push_master, record["delivery"], 30)["push"] >= 1
    _acked(source, record["delivery"])  # the queue has it: the record leaves the spool
    print(f"hook -> receipt -> sent/: {time.time() - record['pushed_at']:.2f} s")
    assert _spooled(source) == [] and _spooled(source, "unacked") == []

    # Master down: the push is accepted and spooled; it stays there while no master answers.
    push_master.terminate()
    try:
        down = _push(source, work, "while the master is down")
        time.sleep(4)  # several forward passes (every second) find no master
        kept = _spooled(source)
        assert len(kept) == 1, kept
        assert json.loads((source["spool"] / kept[0]).read_text())["after"] == down
    finally:
        restarted = time.time()
        push_master.start()
    event = _wait_event(push_master, restarted, 60, down)
    assert event.data["id"] == MINION
    assert event.data["data"]["message"] == "while the master is down"
    print(f"master back -> event: {event.stamp.timestamp() - restarted:.2f} s")
    assert _receipt(push_master, event.data["data"]["delivery"], 60)
    print(f"master back -> in the queue: {time.time() - restarted:.2f} s")
    _acked(source, event.data["data"]["delivery"])
    # the master and its minion work on after the restart: the minion's publish channel
    # reconnects on its own back-off, which on a loaded machine can trail its first event
    _answers_within(source["cli"], 60)


def _answers_within(cli, timeout):
    """The minion answers ``test.ping`` within ``timeout`` seconds of now."""
    deadline = time.monotonic() + timeout
    while True:
        ret = cli.run("test.ping", "--timeout=10", minion_tgt=MINION)
        if ret.returncode == 0 and ret.data is True:
            return
        assert time.monotonic() < deadline, ret


def _block_the_reactor(master):
    """Fire :data:`BLOCK`: its reaction (a 120 s ``test.sleep``) takes the reactor's only
    worker thread; returns once it runs."""
    since = time.time()
    ret = cli_forkserver.salt_run(master, 60).run("event.send", BLOCK)
    assert ret.returncode == 0, ret
    deadline = time.monotonic() + 30
    while True:
        runs = master.event_listener.get_events([(master.id, "salt/run/*/new")], after_time=since)
        if any(e.data.get("fun") == "runner.test.sleep" for e in runs):
            return
        assert time.monotonic() < deadline, [e.data for e in runs]
        time.sleep(0.2)


def test_a_push_whose_reaction_the_master_lost_reaches_the_queue(push_master, source, tmp_path):
    """The master answers the forwarder's event, then loses the reaction (it waited behind a
    slow one when the master restarted: the reactor keeps nothing). The forwarder, with no
    receipt from the queue, sends the record again until the queue has it; sent once more by
    hand, it is still one push."""
    work = tmp_path / "w"
    local.git("clone", "-q", source["url"], str(work))
    _block_the_reactor(push_master)
    start = time.time()
    commit = _push(source, work, "its reaction is lost")
    event = _wait_event(push_master, start, 30, commit)  # the master answered: on its bus
    delivery = event.data["data"]["delivery"]
    time.sleep(3)  # the forwarder asked for the receipt (1 s), and sent it again (2 s)
    assert _receipt(push_master, delivery, 0.1) is None  # the reactions wait behind the block
    assert _spooled(source) == [] and any(delivery in n for n in _spooled(source, "unacked"))
    push_master.terminate()  # the waiting reactions are lost with the reactor
    restarted = time.time()
    push_master.start()
    got = _receipt(push_master, delivery, 60)
    assert got, f"the queue never got {delivery}: the push was lost"
    print(f"\nmaster back -> the lost push in the queue: {time.time() - restarted:.2f} s")
    _acked(source, delivery)
    events = push_master.event_listener.get_events([(push_master.id, TAG)], after_time=start)
    sends = [e for e in events if e.data["data"]["delivery"] == delivery]
    print(f"the record was sent {len(sends)} times")
    assert len(sends) >= 2
    # sent once more (the record back in the spool): the queue's delivery key makes it a
    # duplicate, nothing more runs, and its receipt takes it out of the spool again
    (name,) = [n for n in _spooled(source, "sent") if delivery in n]
    again = time.time()
    shutil.copy(source["spool"] / "sent" / name, source["spool"] / f".{name}.tmp")
    (source["spool"] / f".{name}.tmp").rename(source["spool"] / name)
    matched = push_master.event_listener.wait_for_events(
        [(push_master.id, "chain/push/duplicate")], after_time=again, timeout=30
    )
    assert matched.found_all_events, matched.missed
    assert {e.data["push"] for e in matched} == {got["push"]}
    deadline = time.monotonic() + 10
    while _spooled(source) or _spooled(source, "unacked"):
        assert time.monotonic() < deadline, (_spooled(source), _spooled(source, "unacked"))
        time.sleep(0.2)
    pushes = [p for p in queue.snapshot(_db(push_master))["pushes"] if p["commit"] == commit]
    assert [p["id"] for p in pushes] == [got["push"]], pushes
