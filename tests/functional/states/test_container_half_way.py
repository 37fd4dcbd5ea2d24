"""Image, network, volume and registry states: input checked before the engine is asked, a state
that fails half-way reports what it did, and test mode deletes nothing (real engines)."""

import json
import os
import shutil
import uuid

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, LABELS, EventRecorder

pytestmark = pytest.mark.docker

# A profile whose engine does not exist: any request to it fails with "cannot reach".
UNREACHABLE = {"base_url": "unix:///nonexistent.sock", "timeout": 2}


def test_volume_removed_then_refused_reports_the_removal(states, modules, engine):
    vol = engines.name("halfvol")
    assert states.container_volume.present(vol, labels=LABELS, profile=engine).result is True
    # The local driver refuses an unknown option, but only when the volume is created.
    ret = states.container_volume.present(
        vol, labels=LABELS, driver_opts={"bogus": "x"}, recreate="options-changed", profile=engine
    )
    assert ret.result is False
    assert ret.changes == {"volume": {"old": vol, "new": None}}
    assert ret.comment.startswith(f"Volume {vol} could not be created again: ")
    assert f"already done: removed volume {vol}" in ret.comment
    assert "invalid option" in ret.comment
    assert modules.container.volume_inspect(vol, profile=engine) is None
    # The next run converges to the declared volume once the declaration is fixed.
    again = states.container_volume.present(vol, labels=LABELS, profile=engine)
    assert again.result is True and again.changes == {"volume": {"old": None, "new": vol}}


def test_network_removed_then_refused_reports_removal_and_disconnection(states, modules, engine):
    net, ctr = engines.name("halfnet"), engines.name("halfnet-user")
    assert states.container_network.present(net, labels=LABELS, profile=engine).result is True
    assert (
        states.container.running(
            ctr, image=BUSYBOX, command="sleep 600", labels=LABELS, networks=[net], profile=engine
        ).result
        is True
    )
    # The engine refuses the new network, after the old one was removed: a second network of the
    # "null" driver (one instance only). A driver that does not exist is refused too, but only
    # after the engine's plugin lookup gave up (15 s).
    ret = states.container_network.present(net, labels=LABELS, driver="null", profile=engine)
    assert ret.result is False, ret.comment
    assert ret.changes["network"] == {"old": net, "new": None}
    assert ret.changes["disconnected"] == {"old": [ctr], "new": [ctr]}
    first, *_, last = ret.comment.splitlines()
    assert first.startswith(f"Network {net} could not be recreated: ")
    assert f"containers left disconnected: {ctr}" in ret.comment
    assert last == f"already done: disconnected {ctr}; removed the old network"
    assert modules.container.network_inspect(net, profile=engine) is None
    nets = modules.container.inspect(ctr, profile=engine)["NetworkSettings"]["Networks"]
    assert net not in nets


@pytest.fixture
def salt_context(repo_root):
    rel = f"_tmp-ctx-{uuid.uuid4().hex[:8]}"
    ctx = repo_root / "tests" / "functional" / "files" / rel
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM saltext-chain/busybox:latest\nCOPY . /ctx/\n")
    (ctx / "keep.txt").write_text("keep\n")
    (ctx / "drop.txt").write_text("drop\n")
    yield rel, ctx
    shutil.rmtree(ctx, ignore_errors=True)


def test_test_mode_build_caches_but_prunes_nothing(
    states, modules, engine, salt_context, minion_opts
):
    rel, ctx = salt_context
    name = f"saltext-chain/{engines.name('noprune')}-{engine}:1"
    cached = os.path.join(minion_opts["cachedir"], "files", "base", rel, "drop.txt")
    try:
        assert (
            states.container_image.present(name=name, build=f"salt://{rel}", profile=engine).result
            is True
        )
        assert os.path.exists(cached)
        (ctx / "drop.txt").unlink()
        with EventRecorder(engine) as rec:
            dry = states.container_image.present(
                name=name, build=f"salt://{rel}", profile=engine, test=True
            )
        assert dry.result is None and "inputs" in dry.changes, dry.comment
        assert rec.mutations() == []
        assert os.path.exists(cached), "test mode deleted a file in the minion cache"
        real = states.container_image.present(name=name, build=f"salt://{rel}", profile=engine)
        assert real.result is True and "image_id" in real.changes, real.comment
        # The real build's digest is the one test mode predicted, and it pruned the cache.
        assert real.changes["inputs"]["new"] == dry.changes["inputs"]["new"]
        assert not os.path.exists(cached)
    finally:
        modules.container.image_remove(name, force=True, profile=engine)


@pytest.mark.parametrize(
    "state, kwargs, argument",
    [
        (
            "container_image.present",
            {"name": "x/y:1", "build": "/tmp", "buildargs": "V=1"},
            "buildargs",
        ),
        ("container_image.present", {"name": "x/y:1", "labels": [5]}, "labels"),
        ("container_image.present", {"name": "x/y:1", "push": "maybe"}, "push"),
        ("container_image.present", {"name": "x y"}, "name"),
        ("container_image.absent", {"name": "x/y:1", "force": "maybe"}, "force"),
        ("container_network.present", {"name": "n", "labels": 5}, "labels"),
        ("container_network.present", {"name": "n", "internal": "maybe"}, "internal"),
        ("container_network.present", {"name": "n", "subnet": "not-a-subnet"}, "subnet"),
        ("container_network.absent", {"name": "n", "force": "maybe"}, "force"),
        ("container_volume.present", {"name": "v", "driver_opts": ["novalue"]}, "driver_opts"),
        ("container_volume.present", {"name": "v", "recreate": "always"}, "recreate"),
        ("container_volume.absent", {"name": "v", "force": "maybe"}, "force"),
    ],
)
def test_bad_input_is_reported_before_the_engine_is_asked(states, state, kwargs, argument):
    mod, func = state.split(".")
    ret = getattr(getattr(states, mod), func)(profile=UNREACHABLE, **kwargs)
    assert ret.result is False
    assert argument in ret.comment and "cannot reach" not in ret.comment, ret.comment
    assert ret.changes == {}


def test_good_input_on_the_unreachable_profile_does_reach_for_the_engine(states):
    # Positive control: the profile really is unreachable.
    ret = states.container_volume.present("v", profile=UNREACHABLE)
    assert ret.result is False and "cannot reach" in ret.comment


def test_registry_states_check_input_first(states, tmp_path):
    cfg = str(tmp_path / "config.json")
    ret = states.container_registry.logged_out("r.invalid:5000", config_path=5)
    assert ret.result is False and "config_path" in ret.comment
    ret = states.container_registry.logged_in(
        "r.invalid:5000", config_path=cfg, profile=UNREACHABLE
    )
    assert ret.result is False and "no credentials" in ret.comment


def test_malformed_auth_entry_converges(
    states, modules, tmp_path, registry_credentials, docker_engines
):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {engines.REGISTRY: {"auth": "%%%not-base64"}}}))
    status = modules.container.login_status(engines.REGISTRY, config_path=str(cfg))
    assert status["logged_in"] is True and status["matches"] is False
    assert "malformed" in status["malformed"]
    ret = states.container_registry.logged_in(engines.REGISTRY, config_path=str(cfg))
    assert ret.result is True and ret.changes == {
        "credentials": {"old": "malformed", "new": "renewed"}
    }, ret.comment
    assert states.container_registry.logged_in(engines.REGISTRY, config_path=str(cfg)).changes == {}
    cfg.write_text(json.dumps({"auths": {engines.REGISTRY: {"auth": "%%%"}}}))
    out = states.container_registry.logged_out(engines.REGISTRY, config_path=str(cfg))
    assert out.result is True and out.changes["username"]["new"] is None
    assert json.loads(cfg.read_text())["auths"] == {}
    assert registry_credentials["password"] not in json.dumps([ret.comment, out.comment])
