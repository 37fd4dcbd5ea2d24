"""formulas/chain/source.sls through the real master on build1 (engine 1): the app's git
repository served by git daemon in a container on the chain network, seeded from this checkout's
examples/app history. A container on the network clones it by URL and gets the committed tree;
a commit pushed through the loopback port is visible to the next clone; a push from a container
on the network is refused; a second apply changes nothing."""

import contextlib
import json
import time

import pytest
from hypothesis import given, settings

from tests.conftest import REPO
from tests.support import engines, fuzz, local
from tests.support.chain import drop_forward_schedule

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
NAME = engines.name("source")
NET = engines.name("source-net")
IMAGE = f"saltext-chain/{NAME}:1"


@pytest.fixture(scope="module")
def source(synced, salt_cli):
    port, http_port = local.free_port(), local.free_port()
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "network": {"name": NET},
            "source": {
                "name": NAME,
                "image": IMAGE,
                "volume": engines.name("source-data"),
                "port": port,
                # not the default 9420: make chain's source server may hold it
                "http_port": http_port,
                "checkout": str(REPO),
            },
        }
    }
    yield {"port": port, "http_port": http_port, "pillar": json.dumps(pillar)}
    drop_forward_schedule(salt_cli, NAME)
    engines.cleanup(ENGINE)
    with contextlib.closing(engines.client(ENGINE)) as client:
        with contextlib.suppress(Exception):
            client.images.remove(IMAGE, force=True)


def _apply(salt_cli, source):
    started = time.monotonic()
    ret = salt_cli.run(
        "state.apply", "chain.source", f"pillar={source['pillar']}", minion_tgt="build1"
    )
    assert ret.returncode == 0, ret.stdout[:4000]
    assert all(s["result"] is True for s in ret.data.values()), json.dumps(ret.data)[:4000]
    _report(ret, started)
    return {k.split("_|-")[1]: s for k, s in ret.data.items()}


def _report(ret, started):
    """Wall time of the salt call and the states' own durations (shown with pytest -s)."""
    states = sum(s.get("duration", 0) for s in ret.data.values()) / 1000
    changed = sum(1 for s in ret.data.values() if s["changes"])
    print(
        f"\n{len(ret.data)} states, {changed} changed: {states:.1f} s in states, "
        f"{time.monotonic() - started:.1f} s wall"
    )


def _in_network(script, name):
    """Run a shell script in a throw-away container on the chain network; (exit code, output)."""
    with contextlib.closing(engines.client(ENGINE)) as client:
        ctr = client.containers.run(
            engines.DEBIAN,
            ["sh", "-c", script],
            name=engines.name(name),
            network=NET,
            labels=engines.LABELS,
            detach=True,
        )
        try:
            code = ctr.wait(timeout=120)["StatusCode"]
            return code, ctr.logs().decode().strip()
        finally:
            ctr.remove(force=True, v=True)


CLONE = (
    f"git clone -q git://{NAME}/app.git /tmp/app && git -C /tmp/app rev-parse HEAD HEAD^{{tree}}"
)


def test_source_served_by_url_and_pushes_from_the_host(salt_cli, source, tmp_path):
    states = _apply(salt_cli, source)
    assert states["chain-source-container-running"]["changes"]
    assert states["chain-source-seed-cmd-script"]["changes"], states

    code, out = _in_network(CLONE, "clone1")
    assert code == 0, out
    head, tree = out.split()
    assert tree == local.git("rev-parse", "HEAD:examples/app", cwd=REPO)  # the committed tree
    assert (
        local.git("ls-tree", "--name-only", head, cwd=REPO).split()
        == local.git("ls-tree", "--name-only", "HEAD:examples/app", cwd=REPO).split()
    )

    again = _apply(salt_cli, source)
    assert {k: s["changes"] for k, s in again.items() if s["changes"]} == {}

    # A new commit pushed through the published loopback port is what the next clone gets.
    url = f"git://127.0.0.1:{source['port']}/app.git"
    work = tmp_path / "work"
    local.git("clone", "-q", url, str(work))
    (work / "NOTE").write_text("pushed by the test\n")
    local.git("add", "NOTE", cwd=work)
    local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "note", cwd=work)
    local.git("push", "-q", "origin", "HEAD:main", cwd=work)
    new = local.git("rev-parse", "HEAD", cwd=work)
    code, out = _in_network(CLONE, "clone2")
    assert code == 0, out
    assert out.split()[0] == new

    # A container on the network may clone but not push (the positive control is the push above).
    code, out = _in_network(
        f"git clone -q git://{NAME}/app.git /tmp/a && cd /tmp/a && echo x > X && git add X && "
        "git -c user.name=t -c user.email=t@t commit -qm x && git push -q origin HEAD:main",
        "pusher",
    )
    assert code != 0
    assert "push refused" in out, out

    # The formula's seed sees its commit already in the served history: nothing changes.
    third = _apply(salt_cli, source)
    assert {k: s["changes"] for k, s in third.items() if s["changes"]} == {}
    code, out = _in_network(CLONE, "clone3")
    assert out.split()[0] == new


def test_source_new_commit_after_a_no_op_is_seeded(salt_cli, source, tmp_path):
    """The seed caches a checkout commit's split: a second apply splits and pushes nothing, and
    a new commit in the checkout is still served (a branch of its own, from a checkout of its
    own: the served branch of the first test only moves forward)."""
    checkout, branch = tmp_path / "checkout", engines.name("seed")
    (checkout / "app").mkdir(parents=True)
    local.git("init", "-q", str(checkout))

    def commit(path, text):
        (checkout / path).write_text(text)
        local.git("add", path, cwd=checkout)
        local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", path, cwd=checkout)
        return local.git("subtree", "split", "-q", "--prefix=app", "HEAD", cwd=checkout)

    pillar = json.loads(source["pillar"])
    pillar["chain"]["source"].update(
        checkout=str(checkout), prefix="app", branch=branch, mirror=str(tmp_path / "mirror.git")
    )
    own = dict(source, pillar=json.dumps(pillar))
    url = f"git://127.0.0.1:{source['port']}/app.git"

    def served():
        return local.git("ls-remote", url, f"refs/heads/{branch}").split()[0]

    first = commit("app/main.py", "print(1)\n")
    seed = _apply(salt_cli, own)["chain-source-seed-cmd-script"]
    assert seed["changes"] and "(split)" in seed["comment"], seed
    assert served() == first

    # No-op: the cached split, no push; the server is only asked for its branch head.
    again = _apply(salt_cli, own)
    assert {k: s["changes"] for k, s in again.items() if s["changes"]} == {}
    assert "(split cached)" in again["chain-source-seed-cmd-script"]["comment"], again
    assert served() == first

    # A new commit in the checkout's directory after the no-op: split and served.
    second = commit("app/main.py", "print(2)\n")
    assert second != first
    seed = _apply(salt_cli, own)["chain-source-seed-cmd-script"]
    assert seed["changes"] and "(split)" in seed["comment"], seed
    assert served() == second
    assert local.git("rev-parse", f"{second}^", cwd=checkout) == first  # the history grew

    # A commit outside the directory: its split is the one already served, nothing changes.
    commit("README", "outside\n")
    seed = _apply(salt_cli, own)["chain-source-seed-cmd-script"]
    assert not seed["changes"], seed
    assert served() == second


# Write requests the source server refuses without a user of chain:source:users.
_WRITES = ("git-receive-pack", "cmd=unbundle", "cmd=pushkey")


@settings(max_examples=80, deadline=None)
@given(req=fuzz.requests(fuzz.SOURCE_KNOWN, fuzz.SOURCE_KEYS, fuzz.bad_authorizations("alice")))
def _fuzz_source(port, req):
    status, body = fuzz.send(port, req)
    assert status is not None and status < 500, (req, status, body[:300])
    if any(w in req["path"] for w in _WRITES) and req["method"] == "POST":
        assert status in (401, 403, 404, 405), (req, status, body[:300])


def test_fuzzed_http_requests_change_no_repository(salt_cli, source):
    """apache2 (git http-backend, hgweb) fuzzed without valid credentials (tests/support/fuzz.py):
    never a 5xx, a write refused, and the repositories (git refs, hg heads) unchanged."""
    _apply(salt_cli, source)  # converged already: nothing to do
    before = fuzz.source_state(source["http_port"])
    assert all(status == 200 for status, _ in before.values()), before
    _fuzz_source(source["http_port"])
    assert fuzz.source_state(source["http_port"]) == before
