"""The chain's source server over HTTP (formulas/chain/source.sls applied through the loader on
engine 1) with real git and hg clients on the host: anonymous clones, pushes with the pillar's
users only (401 otherwise), one spool record per pushed branch head, history that only grows,
no password anywhere but pillar; ``chain_push.heads`` reads what the clients pushed.

One server for the module (built and started once, ~15 s); no master here: the forward schedule
is off (``forward_seconds: 0``) and the records stay in the spool for the tests to read.
"""

import base64
import contextlib
import json
import os
import pathlib
import secrets
import stat
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support import engines, local

pytestmark = [pytest.mark.docker]

ENGINE = "engine1"
NAME = engines.name("srchttp")
IMAGE = f"saltext-chain/{NAME}:1"
ZERO = "0" * 40
ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "HGPLAIN": "1"}
IDENT = ["-c", "user.name=Tess Pusher", "-c", "user.email=t@t"]


def _run(*args, cwd=None, ok=True):
    res = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, env=ENV, check=False
    )
    if ok:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def _hg(*args, cwd=None, ok=True):
    return _run("hg", "--config", "ui.username=Tess Pusher <t@t>", *args, cwd=cwd, ok=ok)


def _raw(ret):
    """A state run's return as the plain dict (saltfactories wraps it)."""
    return getattr(ret, "raw", ret)


def _records(spool):
    return {
        p.name: json.loads(p.read_text())
        for p in pathlib.Path(spool).glob("*.json")
        if not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def server(loaders, docker_engines, tmp_path_factory):
    checkout = tmp_path_factory.mktemp("srchttp-checkout")
    local.git("init", "-q", "-b", "main", str(checkout))
    (checkout / "README").write_text("seeded\n")
    local.git("add", "README", cwd=checkout)
    local.git(*IDENT, "commit", "-qm", "seed commit", cwd=checkout)
    users = {"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)}
    ports = {"port": local.free_port(), "http_port": local.free_port()}
    # outside the minion's cachedir: the functional loaders empty it after every test
    own = tmp_path_factory.mktemp("srchttp-minion")
    spool, auth_dir = own / "spool", own / "auth"
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "network": {"name": engines.name("srchttp-net")},
            "source": {
                "name": NAME,
                "image": IMAGE,
                "volume": engines.name("srchttp-git"),
                "hg_volume": engines.name("srchttp-hg"),
                **ports,
                "checkout": str(checkout),
                "prefix": "",
                "mirror": str(tmp_path_factory.mktemp("srchttp-mirror") / "m.git"),
                "hg_repos": ["app-hg"],
                "users": users,
                "forward_seconds": 0,
                "spool": str(spool),
                "auth_dir": str(auth_dir),
            },
        }
    }
    ret = _raw(loaders.modules.state.sls("chain.source", pillar=pillar))
    try:
        assert all(s["result"] is True for s in ret.values()), json.dumps(ret, default=str)[:4000]
        yield {
            **ports,
            "pillar": pillar,
            "users": users,
            "ret": ret,
            "seed": local.git("rev-parse", "HEAD", cwd=checkout),
            "spool": spool,
            "htpasswd": auth_dir / "htpasswd",
            "git": f"http://127.0.0.1:{ports['http_port']}/git/app.git",
            "hg": f"http://127.0.0.1:{ports['http_port']}/hg/app-hg",
        }
    finally:
        engines.cleanup(ENGINE)
        with contextlib.closing(engines.client(ENGINE)) as client:
            with contextlib.suppress(Exception):
                client.images.remove(IMAGE, force=True)


def _with_user(url, user, password):
    return url.replace("http://", f"http://{user}:{password}@")


def _status(url, auth=None, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_seed_is_recorded_and_a_second_apply_changes_nothing(modules, server):
    seeds = [r for r in _records(server["spool"]).values() if r["pusher"] == "seed"]
    assert len(seeds) == 1, seeds
    assert seeds[0]["after"] == server["seed"] and seeds[0]["via"] == "git-daemon"
    assert seeds[0]["before"] == ZERO and seeds[0]["message"] == "seed commit"
    again = _raw(modules.state.sls("chain.source", pillar=server["pillar"]))
    assert {k: s["changes"] for k, s in again.items() if s["changes"]} == {}, again
    assert all(s["result"] is True for s in again.values())


def test_git_clone_anonymous_push_with_credentials_only(server, tmp_path):
    work = tmp_path / "w"
    _run("git", "clone", "-q", server["git"], str(work))  # anonymous
    assert local.git("rev-parse", "HEAD", cwd=work) == server["seed"]
    (work / "NOTE").write_text("a line\n")
    local.git("add", "NOTE", cwd=work)
    local.git(*IDENT, "commit", "-qm", "add a note\n\nthe body", cwd=work)
    new = local.git("rev-parse", "HEAD", cwd=work)
    before = _records(server["spool"])

    # the receive-pack advertisement needs a user: 401 without, with a wrong password
    refs = server["git"] + "/info/refs?service=git-receive-pack"
    alice = server["users"]["alice"]
    assert _status(refs) == 401
    assert _status(refs, f"alice:{alice}x") == 401
    assert _status(refs, f"alice:{alice}") == 200
    assert _status(server["git"] + "/git-receive-pack", method="POST") == 401
    # the clients' view: refused, nothing recorded, nothing moved
    anon = _run("git", "push", server["git"], "HEAD:main", cwd=work, ok=False)
    assert anon.returncode != 0 and "terminal prompts disabled" in anon.stderr, anon.stderr
    wrong = _with_user(server["git"], "alice", alice + "x")
    bad = _run("git", "push", wrong, "HEAD:main", cwd=work, ok=False)
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr, bad.stderr
    assert _records(server["spool"]) == before
    assert local.git("ls-remote", server["git"], "refs/heads/main").split()[0] == server["seed"]

    _run("git", "push", "-q", _with_user(server["git"], "alice", alice), "HEAD:main", cwd=work)
    added = {k: v for k, v in _records(server["spool"]).items() if k not in before}
    assert len(added) == 1, added
    (rec,) = added.values()
    assert {k: v for k, v in rec.items() if k not in ("delivery", "pushed_at")} == {
        "vcs": "git",
        "repo": "app",
        "branch": "main",
        "ref": "refs/heads/main",
        "before": server["seed"],
        "after": new,
        "pusher": "alice",
        "via": "http",
        "message": "add a note",
        "author": "Tess Pusher",
    }
    assert len(rec["delivery"]) == 32 and int(rec["delivery"], 16) >= 0
    assert abs(rec["pushed_at"] - float(next(iter(added)).split("-")[0]) / 1e9) < 0.01

    # history only grows: a forced non-fast-forward push and a branch deletion are refused
    bob = _with_user(server["git"], "bob", server["users"]["bob"])
    forced = _run("git", "push", "--force", bob, f"{server['seed']}:main", cwd=work, ok=False)
    assert forced.returncode != 0 and "non-fast-forward" in forced.stderr, forced.stderr
    _run("git", "push", "-q", bob, "HEAD:refs/heads/topic", cwd=work)
    deleted = _run("git", "push", bob, ":topic", cwd=work, ok=False)
    assert deleted.returncode != 0 and "deletion prohibited" in deleted.stderr, deleted.stderr
    # a tag is not a branch push: no record
    tags_before = _records(server["spool"])
    _run("git", "push", "-q", bob, "HEAD:refs/tags/v1", cwd=work)
    assert len(_records(server["spool"])) == len(tags_before)
    heads = {
        r["branch"]: r["pusher"] for k, r in _records(server["spool"]).items() if k not in before
    }
    assert heads == {"main": "alice", "topic": "bob"}


def test_hg_clone_anonymous_push_with_credentials_only(modules, server, tmp_path):
    work = tmp_path / "h"
    _hg("clone", "-q", server["hg"], str(work))
    (work / "a.txt").write_text("1\n")
    _hg("add", "-q", "a.txt", cwd=work)
    _hg("commit", "-q", "-m", "first hg\n\nbody", cwd=work)
    (work / "a.txt").write_text("2\n")
    _hg("commit", "-q", "-m", "second hg", cwd=work)
    new = _hg("log", "-r", "tip", "-T", "{node}", cwd=work).stdout
    before = _records(server["spool"])

    assert _status(server["hg"] + "?cmd=unbundle", method="POST") == 401
    anon = _hg("push", server["hg"], cwd=work, ok=False)
    assert anon.returncode != 0 and "authorization required" in anon.stdout + anon.stderr
    bob = server["users"]["bob"]
    bad = _hg("push", _with_user(server["hg"], "bob", bob + "x"), cwd=work, ok=False)
    assert bad.returncode != 0 and "authorization failed" in bad.stdout + bad.stderr
    assert _records(server["spool"]) == before
    assert modules.chain_push.heads("app-hg", vcs="hg", url=server["hg"].rsplit("/hg/", 1)[0]) == {}

    _hg("push", "-q", _with_user(server["hg"], "bob", bob), cwd=work)
    added = [v for k, v in _records(server["spool"]).items() if k not in before]
    assert len(added) == 1, added  # two changesets, one branch head: one record
    rec = added[0]
    assert {k: v for k, v in rec.items() if k not in ("delivery", "pushed_at")} == {
        "vcs": "hg",
        "repo": "app-hg",
        "branch": "default",
        "ref": "default",
        "before": ZERO,
        "after": new,
        "pusher": "bob",
        "via": "http",
        "message": "second hg",
        "author": "Tess Pusher",
    }
    base = f"http://127.0.0.1:{server['http_port']}"
    assert modules.chain_push.heads("app-hg", vcs="hg", url=base) == {"default": new}


def test_heads_reads_the_served_branches(modules, server):
    base = f"http://127.0.0.1:{server['http_port']}"
    served = {
        line.split()[1][len("refs/heads/") :]: line.split()[0]
        for line in local.git("ls-remote", "--heads", server["git"]).splitlines()
    }
    assert "main" in served
    assert modules.chain_push.heads("app", url=base) == served
    with pytest.raises(Exception, match="404|Not Found"):
        modules.chain_push.heads("nope", url=base)


def test_no_password_at_rest_in_the_return_or_the_container(modules, server):
    passwords = list(server["users"].values())
    text = server["htpasswd"].read_text()
    assert sorted(line.split(":")[0] for line in text.splitlines()) == ["alice", "bob"]
    assert all(line.split(":", 1)[1].startswith("$2y$") for line in text.splitlines())
    mode = stat.S_IMODE(server["htpasswd"].stat().st_mode)
    assert mode == 0o640 and stat.S_IMODE(server["htpasswd"].parent.stat().st_mode) == 0o750
    shown = json.dumps(modules.state.show_sls("chain.source", pillar=server["pillar"]))
    assert "chain_push.write_users" in shown  # the control: this is the sls that writes them
    with contextlib.closing(engines.client(ENGINE)) as client:
        inspect = json.dumps(client.api.inspect_container(NAME))
    assert "/etc/chain-source/auth" in inspect  # the control: the mounted directory
    for pw in passwords:
        assert pw not in text
        assert pw not in json.dumps(server["ret"], default=str)
        assert pw not in shown
        assert pw not in inspect


def test_a_hook_that_cannot_record_does_not_fail_the_push(server, tmp_path):
    """The spool not writable: the push is still accepted (the hook runs after the refs moved
    and exits 0), and the pusher is told that it was not recorded."""
    work = tmp_path / "w"
    _run("git", "clone", "-q", server["git"], str(work))
    (work / "LOST").write_text("x\n")
    local.git("add", "LOST", cwd=work)
    local.git(*IDENT, "commit", "-qm", "not recorded", cwd=work)
    before = _records(server["spool"])
    mode = stat.S_IMODE(server["spool"].stat().st_mode)
    server["spool"].chmod(0o2550)
    try:
        url = _with_user(server["git"], "alice", server["users"]["alice"])
        res = _run("git", "push", url, "HEAD:refs/heads/lost", cwd=work)
    finally:
        server["spool"].chmod(mode)
    assert "push accepted but NOT recorded" in res.stderr, res.stderr
    assert _records(server["spool"]) == before
    served = local.git("ls-remote", server["git"], "refs/heads/lost").split()[0]
    assert served == local.git("rev-parse", "HEAD", cwd=work)
