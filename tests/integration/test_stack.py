"""Issue 3 through the real master: build1 builds and pushes, web1 pulls and runs it healthy."""

import contextlib

import pytest

from tests.support import engines
from tests.support.engines import RUN, EventRecorder

# What stack/build.sls and stack/deploy.sls create: named for this run (pillar `test_run`).
APP, NET, VOL = engines.name("stack-app"), engines.name("stack"), engines.name("stack-data")
IMAGE = f"{engines.REGISTRY}/sc-{RUN}/app"

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _comments(ret):
    data = ret.data if isinstance(ret.data, dict) else {}
    return {
        s.get("__id__"): s.get("comment")
        for states in ([data] if "__id__" in str(list(data.values())[:1]) else data.values())
        if isinstance(states, dict)
        for s in states.values()
        if isinstance(s, dict)
    }


def _states(ret, minion):
    # A single-minion target comes back unwrapped from salt-factories.
    data = ret.data.get(minion, ret.data) if isinstance(ret.data, dict) else ret.data
    assert isinstance(data, dict), data
    return {s["__id__"]: s for s in data.values()}


@pytest.fixture
def clean_stack():
    yield
    for engine in ("engine1", "engine2"):
        c = engines.client(engine)
        with contextlib.suppress(Exception):
            c.containers.get(APP).remove(force=True, v=True)
        with contextlib.suppress(Exception):
            c.networks.get(NET).remove()
        with contextlib.suppress(Exception):
            c.volumes.get(VOL).remove(force=True)
        for tag in ("1", "2"):
            with contextlib.suppress(Exception):
                c.images.remove(f"{IMAGE}:{tag}", force=True)
        c.close()


def _no_secret(ret, secret):
    """The registry password appears nowhere in what the master got back (comments, changes)."""
    assert len(secret) >= 8, "the registry password is too short to be searched for"
    assert secret not in str(ret.data) and secret not in (ret.stdout or ""), (
        "the registry password leaked"
    )


def test_build_push_then_deploy_on_the_other_host(
    salt_cli, synced, clean_stack, registry_credentials
):
    secret = registry_credentials["password"]
    ret = salt_cli.run(
        "state.apply", "stack.build", "pillar={'stack': {'version': '1'}}", minion_tgt="build1"
    )
    assert ret.returncode == 0, _comments(ret)
    built = _states(ret, "build1")
    assert built["app-image"]["changes"]["pushed"], built
    assert built["registry-login"]["result"] is True, built  # the login really used the password
    _no_secret(ret, secret)

    ret = salt_cli.run(
        "state.apply", "stack.deploy", "pillar={'stack': {'version': '1'}}", minion_tgt="web1"
    )
    assert ret.returncode == 0, _comments(ret)
    deployed = _states(ret, "web1")
    assert "healthy" in deployed["stack-app"]["comment"]
    _no_secret(ret, secret)
    app = engines.client("engine2").containers.get(APP)
    assert app.attrs["NetworkSettings"]["Networks"][NET]["Aliases"][0] in ("app", app.id[:12])
    assert app.exec_run("cat /www/version").output == b"1\n"

    with EventRecorder("engine1") as rec1, EventRecorder("engine2") as rec2:
        again_build = salt_cli.run(
            "state.apply", "stack.build", "pillar={'stack': {'version': '1'}}", minion_tgt="build1"
        )
        again_deploy = salt_cli.run(
            "state.apply", "stack.deploy", "pillar={'stack': {'version': '1'}}", minion_tgt="web1"
        )
    assert all(not s["changes"] for s in _states(again_build, "build1").values())
    assert all(not s["changes"] for s in _states(again_deploy, "web1").values())
    assert rec1.mutations() == [] and rec2.mutations() == []

    # A new version: rebuilt and pushed on build1; web1's container follows the new image by itself.
    salt_cli.run(
        "state.apply", "stack.build", "pillar={'stack': {'version': '2'}}", minion_tgt="build1"
    )
    with EventRecorder("engine2") as rec2:
        dry = salt_cli.run(
            "state.apply",
            "stack.deploy",
            "pillar={'stack': {'version': '2'}}",
            "test=True",
            minion_tgt="web1",
        )
    assert _states(dry, "web1")["stack-app"]["result"] is None
    assert rec2.mutations() == []
    ret = salt_cli.run(
        "state.apply", "stack.deploy", "pillar={'stack': {'version': '2'}}", minion_tgt="web1"
    )
    assert ret.returncode == 0, _comments(ret)
    _no_secret(ret, secret)
    app = engines.client("engine2").containers.get(APP)
    assert app.exec_run("cat /www/version").output == b"2\n"
