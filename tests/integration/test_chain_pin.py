"""chain.rollout deploys a registry tag by the digest the registry serves for it (``pin``).

The stale copy: the registry serves image A under ``<registry>/<repo>:t`` while the app server's
engine holds another image B under that same tag (an earlier build, an older pull). Deployed by
its tag (``pin=False``), the server runs B: an engine does not pull a tag it holds. Deployed as
the rollout does by default, the server pulls and runs exactly A (``<repo>@sha256:...``), and
the history records that digest. One server (build1 on engine 1) behind its own frontend."""

import contextlib
import json

import docker
import pytest

from tests.conftest import REPO
from tests.support import engines, local
from tests.support.chain import build_haproxy, deploy_pillar
from tests.support.load import versions

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
APP = f"pin{engines.RUN}"
REPOSITORY = f"{engines.REGISTRY}/sc-{engines.RUN}/pin-app"
TAG = f"{REPOSITORY}:t"
HAPROXY = f"saltext-chain/{engines.name('pin')}-haproxy:1"
SERVICE, NET, FE = (engines.name(f"pin-{what}-{{minion}}") for what in ("app", "net", "fe"))


def _build(client, version):
    image, _ = client.images.build(
        path=str(REPO / "examples" / "app"),
        rm=True,
        forcerm=True,
        buildargs={"BASE_IMAGE": engines.DEBIAN, "APP_VERSION": version},
        labels={engines.TEST_LABEL: engines.RUN},
    )
    return image


@pytest.fixture(scope="module")
def stale(docker_engines, registry_credentials):
    """A (version pinned-a) pushed as TAG; B (version stale-b) holding TAG on the engine."""
    client = engines.client(ENGINE)
    build_haproxy(client, HAPROXY)
    pushed, held = _build(client, "pinned-a"), _build(client, "stale-b")
    pushed.tag(TAG)
    for line in client.images.push(TAG, auth_config=registry_credentials, stream=True, decode=True):
        assert "error" not in line, line
    digest = client.images.get_registry_data(TAG, auth_config=registry_credentials).id
    held.tag(TAG)  # the engine's copy of the tag is now B
    try:
        yield {"pushed": pushed.id, "held": held.id, "digest": digest}
    finally:
        engines.cleanup(ENGINE)
        for ref in (TAG, f"{REPOSITORY}@{digest}", HAPROXY, pushed.id, held.id):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(ref)
        client.close()


def _rollout(salt_run_cli, port, *extra):
    pillar = deploy_pillar("pin", HAPROXY, {"build1": port}, slots=4, replicas=1)
    return salt_run_cli.run(
        "chain.rollout",
        APP,
        TAG,
        "targets=build1",
        "sls=chain.deploy",
        f"service={SERVICE}",
        f"frontend={FE}",
        f"network={NET}",
        "backend=app",
        f"pillar={json.dumps(pillar)}",
        *extra,
        _timeout=600,
    )


def _running_image(name_prefix):
    client = engines.client(ENGINE)
    try:
        found = client.containers.list(filters={"label": f"{engines.TEST_LABEL}={engines.RUN}"})
        return {c.image.id for c in found if c.name.startswith(name_prefix)}
    finally:
        client.close()


def test_rollout_pins_the_registry_digest_of_a_tag(salt_run_cli, synced, stale):
    port = local.free_port()
    service = engines.name("pin-app") + "-build1"

    # By its tag, the engine's stale copy runs: what the pin guards against.
    ret = _rollout(salt_run_cli, port, "pin=False")
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert ret.data["image"] == TAG
    assert _running_image(service) == {stale["held"]}
    assert versions(port) == {"stale-b"}

    # Pinned (the default): the registry's digest, pulled, runs; the history records it.
    ret = _rollout(salt_run_cli, port)
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert ret.data["image"] == f"{REPOSITORY}@{stale['digest']}"
    assert _running_image(service) == {stale["pushed"]}
    assert versions(port) == {"pinned-a"}
    last = salt_run_cli.run("chain.history", APP, "limit=1").data[0]
    assert last["image"] == f"{REPOSITORY}@{stale['digest']}"
    assert last["servers"]["build1"]["result"] is True
