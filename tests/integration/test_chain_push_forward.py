"""From a push to the master, nothing lost: formulas/chain/source.sls on a minion of a master of
this module's own (so that stopping it disturbs no other test), a real git push over HTTP, the
hook's spool record forwarded by the scheduled chain_push.forward as the minion's event
``chain/push/source``, carrying the minion's authenticated id. A push made while the master is
stopped stays in the spool and reaches the master's bus once the master is back.
"""

import contextlib
import json
import pathlib
import secrets
import subprocess
import time

import pytest

from tests.conftest import REPO
from tests.support import engines, local

pytestmark = [pytest.mark.integration, pytest.mark.docker]

MINION = "push-build"
NAME = engines.name("pushfwd")
IMAGE = f"saltext-chain/{NAME}:1"
TAG = "chain/push/source"
IDENT = ["-c", "user.name=Tess Pusher", "-c", "user.email=t@t"]


@pytest.fixture(scope="module")
def push_master(salt_factories, ext_tree, docker_engines):
    factory = salt_factories.salt_master_daemon(
        "master-push",
        overrides={
            "file_roots": {"base": [str(ext_tree), str(REPO / "formulas")]},
            "interface": "127.0.0.1",
            "open_mode": False,
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
    cli = push_master.salt_cli(timeout=300)
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


def _spooled(source):
    return sorted(p.name for p in source["spool"].glob("*.json"))


def _wait_event(master, after, timeout, commit):
    matched = master.event_listener.wait_for_events(
        [(master.id, TAG)], after_time=after, timeout=timeout
    )
    assert matched.found_all_events, matched.missed
    events = [e for e in matched if e.data["data"]["after"] == commit]
    assert len(events) == 1, [e.data for e in matched]
    return events[0]


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
    assert _spooled(source) == []  # sent, so moved out of the spool
    assert any(record["delivery"] in p.name for p in (source["spool"] / "sent").iterdir())

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
    assert _spooled(source) == []
    # the master and its minion work on after the restart
    ret = source["cli"].run("test.ping", minion_tgt=MINION)
    assert ret.returncode == 0 and ret.data is True, ret
