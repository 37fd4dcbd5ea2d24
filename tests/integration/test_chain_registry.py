"""formulas/chain/registry.sls through the real master on build1 (engine 1): a highstate (a top
file naming chain.registry) builds the registry image from Debian's docker-registry, starts it
with htpasswd auth from pillar, its storage on a volume, on a free loopback port; `docker login`,
push and pull work with the pillar credentials and fail with others; a second highstate changes
nothing; the password appears in no state return, and in no inspect output of the container or
its image (the bcrypt htpasswd file is written on the minion and mounted read-only)."""

import contextlib
import json
import pathlib
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.support import engines, local

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
NAME = engines.name("registry")
IMAGE = f"saltext-chain/{NAME}:1"
VOLUME = engines.name("registry-data")
TOP = f"{NAME}-top.sls"


@pytest.fixture(scope="module")
def registry(master, synced):
    port = local.free_port()
    password = secrets.token_urlsafe(18)
    address = f"127.0.0.1:{port}"
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "registry": {
                "address": address,
                "server": {"name": NAME, "image": IMAGE, "volume": VOLUME, "port": port},
            },
        },
        # the registry's user: its client credentials, the password's one place
        "container": {"registries": {address: {"username": "ci", "password": password}}},
    }
    top = master.state_tree.base.temp_file(TOP, "base:\n  build1:\n    - chain.registry\n")
    with top:
        yield {"port": port, "address": address, "password": password, "pillar": pillar}
    engines.cleanup(ENGINE)
    with contextlib.closing(engines.client(ENGINE)) as client:
        with contextlib.suppress(Exception):
            client.images.remove(IMAGE, force=True)


def _highstate(salt_cli, registry, *extra):
    started = time.monotonic()
    ret = salt_cli.run(
        "state.top",
        TOP,
        f"pillar={json.dumps(registry['pillar'])}",
        *extra,
        minion_tgt="build1",
        _timeout=600,
    )
    assert registry["password"] not in ret.stdout
    assert registry["password"] not in json.dumps(ret.data, default=str)
    assert isinstance(ret.data, dict), ret.stdout[:3000]
    _report(ret, started)
    return ret


def _report(ret, started):
    """Wall time of the salt call and the states' own durations (shown with pytest -s)."""
    states = sum(s.get("duration", 0) for s in ret.data.values()) / 1000
    changed = sum(1 for s in ret.data.values() if s["changes"])
    print(
        f"\n{len(ret.data)} states, {changed} changed: {states:.1f} s in states, "
        f"{time.monotonic() - started:.1f} s wall"
    )


def _docker(config, *args, stdin=None):
    return subprocess.run(
        ["docker", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_registry_test_mode_on_a_fresh_minion_says_what_it_would_do(salt_cli, registry):
    """test=True where the registry's image was never built: its build context (a file.recurse,
    nothing under test) is not there yet; the image state says it would build, nothing fails,
    nothing is written. Its own run-unique names: the apply below starts from nothing too."""
    dry = engines.name("registry-dry")
    pillar = json.loads(json.dumps(registry["pillar"]))
    pillar["chain"]["registry"]["server"].update(
        name=dry, image=f"saltext-chain/{dry}:1", volume=f"{dry}-data"
    )
    with engines.EventRecorder(ENGINE) as recorder:
        ret = _highstate(salt_cli, dict(registry, pillar=pillar), "test=True")
    states = {k.split("_|-")[1]: s for k, s in ret.data.items()}
    failed = {k: s["comment"] for k, s in states.items() if s["result"] not in (None, True)}
    assert failed == {}, failed
    assert recorder.mutations(owned_only=True) == [], recorder.mutations(owned_only=True)
    cachedir = salt_cli.run("config.get", "cachedir", minion_tgt="build1").data
    context = pathlib.Path(cachedir, "saltext-chain", f"{dry}-image")
    image = states["chain-registry-image-container_image-present"]
    assert image["result"] is None
    assert image["comment"] == (  # the path checked below is the one the state names
        f"Image saltext-chain/{dry}:1 would be built from {context} "
        "(not there yet: made earlier in this run)"
    )
    assert states["chain-registry-container-running"]["result"] is None, states
    assert not context.exists()
    assert not context.with_name(f"{dry}-auth").exists()  # nor the htpasswd's directory
    with contextlib.closing(engines.client(ENGINE)) as client:
        assert not client.images.list(name=f"saltext-chain/{dry}")
        assert not client.containers.list(all=True, filters={"name": dry})
        assert not client.volumes.list(filters={"name": dry})


def test_registry_highstate_login_push_pull_and_idempotent(salt_cli, registry, tmp_path):
    ret = _highstate(salt_cli, registry)
    assert ret.returncode == 0, ret.stdout[:4000]
    assert all(s["result"] is True for s in ret.data.values()), json.dumps(ret.data)[:4000]
    changed = {k.split("_|-")[1] for k, s in ret.data.items() if s["changes"]}
    assert "chain-registry-container-running" in changed, changed

    # Published on loopback only, storage on the volume, healthy.
    with contextlib.closing(engines.client(ENGINE)) as client:
        attrs = client.containers.get(NAME).attrs
    assert attrs["State"]["Health"]["Status"] == "healthy"
    assert attrs["HostConfig"]["PortBindings"]["5000/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(registry["port"])}
    ]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/var/lib/docker-registry"]["Name"] == VOLUME

    # The plain password is in no inspect output (env, args, labels, mounts) of the container
    # or its image; the container gets only the bcrypt file, read-only, from the minion.
    with contextlib.closing(engines.client(ENGINE)) as client:
        image_attrs = client.images.get(IMAGE).attrs
    for what in (attrs, image_attrs):
        assert registry["password"] not in json.dumps(what)
    # positive control: the search sees the environment and the image's config
    assert "REGISTRY_REALM=saltext-chain" in json.dumps(attrs)
    assert "REGISTRY_REALM=saltext-chain" in json.dumps(image_attrs)
    auth = mounts["/etc/docker/registry/auth"]
    assert auth["Type"] == "bind" and auth["RW"] is False, auth
    assert not any("PASSWORD" in env for env in attrs["Config"]["Env"]), attrs["Config"]["Env"]
    htpasswd = pathlib.Path(auth["Source"]) / "htpasswd"
    (entry,) = htpasswd.read_text().split()
    assert entry.startswith("ci:$2") and registry["password"] not in entry
    assert htpasswd.stat().st_mode & 0o077 == 0

    # Auth: anonymous 401, the pillar credentials 200, another password 401.
    url = f"http://{registry['address']}/v2/"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 401
    bad = tmp_path / "bad"
    res = _docker(bad, "login", registry["address"], "-u", "ci", "--password-stdin", stdin="nope")
    assert res.returncode != 0, res
    cfg = tmp_path / "docker"
    res = _docker(
        cfg,
        "login",
        registry["address"],
        "-u",
        "ci",
        "--password-stdin",
        stdin=registry["password"],
    )
    assert res.returncode == 0, res.stderr

    # Push, drop the local tag, pull it back: the same image id.
    ref = f"{registry['address']}/{engines.name('smoke')}:1"
    res = _docker(cfg, "tag", engines.BUSYBOX, ref)
    assert res.returncode == 0, res.stderr
    pushed = _docker(cfg, "push", ref)
    assert pushed.returncode == 0, pushed.stderr
    want = _docker(cfg, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
    assert _docker(cfg, "rmi", ref).returncode == 0
    pulled = _docker(cfg, "pull", ref)
    assert pulled.returncode == 0, pulled.stderr
    assert _docker(cfg, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == want
    _docker(cfg, "rmi", ref)
    # Without credentials the pull is refused.
    anon = _docker(tmp_path / "anon", "pull", ref)
    assert anon.returncode != 0
    assert "no basic auth credentials" in anon.stderr or "unauthorized" in anon.stderr, anon

    # A second highstate changes nothing (and restarts nothing: the stored image stays).
    again = _highstate(salt_cli, registry)
    assert again.returncode == 0, again.stdout[:4000]
    assert all(s["result"] is True for s in again.data.values()), json.dumps(again.data)[:4000]
    assert {k: s["changes"] for k, s in again.data.items() if s["changes"]} == {}
    assert htpasswd.read_text().split() == [entry]  # the hash was not rewritten
    res = _docker(cfg, "pull", ref)
    assert res.returncode == 0, res.stderr
    _docker(cfg, "rmi", ref)

    # Another password: a new entry, the registry restarted on it; the old one is refused.
    changed = dict(registry, password=secrets.token_urlsafe(18))
    changed["pillar"] = json.loads(json.dumps(registry["pillar"]))
    changed["pillar"]["container"]["registries"][registry["address"]]["password"] = changed[
        "password"
    ]
    ret = _highstate(salt_cli, changed)
    assert ret.returncode == 0, ret.stdout[:4000]
    states = {k.split("_|-")[1]: s for k, s in ret.data.items()}
    assert states["chain-registry-htpasswd-module-run"]["changes"]
    assert "restarted" in states["chain-registry-container-running"]["comment"], states
    old = _docker(
        tmp_path / "old",
        "login",
        registry["address"],
        "-u",
        "ci",
        "--password-stdin",
        stdin=registry["password"],
    )
    assert old.returncode != 0, old
    new = _docker(
        tmp_path / "new",
        "login",
        registry["address"],
        "-u",
        "ci",
        "--password-stdin",
        stdin=changed["password"],
    )
    assert new.returncode == 0, new.stderr
    with contextlib.closing(engines.client(ENGINE)) as client:
        attrs = client.containers.get(NAME).attrs
    assert changed["password"] not in json.dumps(attrs)


def test_registry_without_password_fails_cleanly(salt_cli, registry):
    pillar = json.loads(json.dumps(registry["pillar"]))
    pillar["container"]["registries"][registry["address"]]["password"] = ""
    ret = salt_cli.run("state.top", TOP, f"pillar={json.dumps(pillar)}", minion_tgt="build1")
    assert ret.returncode != 0
    (state,) = ret.data.values()
    assert state["result"] is False
    assert "password is empty" in state["comment"]
