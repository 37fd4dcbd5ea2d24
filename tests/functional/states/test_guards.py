"""Positive controls for the Docker test-mode guard (tests/support/engines.py EventRecorder).

The states' test-mode tests assert ``EventRecorder.mutations() == []``. These tests prove that
the guard is not blind: it catches a create, a start, a pull from the local registry, a tag, a
network connect, a volume create and a user's exec, while the engine's own health-check execs
and other owners' objects (another test run, ``make chain``) do not count.
(The Jenkins guard's positive control is in tests/functional/modules/test_jenkins_*.py.)
"""

import contextlib
import time

import docker
import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, LABELS, REGISTRY, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker

ENGINE = "engine1"


@pytest.fixture
def client(docker_engines):
    c = engines.client(ENGINE)
    made = []
    yield c, made
    for image in made:
        with contextlib.suppress(docker.errors.APIError):
            c.images.remove(image, force=True)
    engines.cleanup(ENGINE)
    c.close()


def _caught(recorder, kind, action, name):
    return (kind, action, name) in recorder.mutations()


def test_guard_catches_create_start_pull_tag_connect_volume_and_exec(client, registry_credentials):
    c, made = client
    name = engines.name("guard")
    remote = f"{REGISTRY}/sc-{engines.RUN}/guard"
    # A private image to pull: pushed to the local registry, then dropped locally.
    c.images.get(BUSYBOX).tag(remote, "1")
    made.append(f"{remote}:1")
    c.images.push(remote, "1", auth_config=registry_credentials)
    c.images.remove(f"{remote}:1")
    net = c.networks.create(name, labels=dict(LABELS))

    with EventRecorder(ENGINE) as rec:
        ctr = c.containers.create(BUSYBOX, ["sleep", "600"], name=name, labels=dict(LABELS))
    assert _caught(rec, "container", "create", name), rec.mutations()

    with EventRecorder(ENGINE) as rec:
        ctr.start()
    assert _caught(rec, "container", "start", name), rec.mutations()

    with EventRecorder(ENGINE) as rec:
        c.images.pull(remote, tag="1", auth_config=registry_credentials)
    assert _caught(rec, "image", "pull", f"{remote}:1") or _caught(rec, "image", "pull", remote), (
        rec.mutations()
    )

    with EventRecorder(ENGINE) as rec:
        c.images.get(BUSYBOX).tag(f"saltext-chain/{name}", "t")
    made.append(f"saltext-chain/{name}:t")
    assert _caught(rec, "image", "tag", f"saltext-chain/{name}:t"), rec.mutations()

    with EventRecorder(ENGINE) as rec:
        net.connect(ctr)
    assert _caught(rec, "network", "connect", name), rec.mutations()

    with EventRecorder(ENGINE) as rec:
        c.volumes.create(name, labels=dict(LABELS))
    assert _caught(rec, "volume", "create", name), rec.mutations()

    with EventRecorder(ENGINE) as rec:
        assert ctr.exec_run(["true"]).exit_code == 0
    assert _caught(rec, "container", "exec_create", name), rec.mutations()


def test_health_check_execs_do_not_count(client):
    c, _ = client
    name = engines.name("guard-health")
    healthcheck = {
        "test": ["CMD-SHELL", "true"],
        "interval": 200_000_000,
        "timeout": 1_000_000_000,
        "retries": 1,
    }
    c.containers.run(
        BUSYBOX,
        ["sleep", "600"],
        name=name,
        labels=dict(LABELS),
        detach=True,
        healthcheck=healthcheck,
    )
    with EventRecorder(ENGINE) as rec:
        time.sleep(2)
    execs = [
        e
        for e in rec.events
        if e.get("Action", "").startswith("exec_create")
        and e["Actor"]["Attributes"].get("name") == name
    ]
    assert len(execs) >= 3, "the health check did not run: the control proves nothing"
    assert rec.mutations() == [], rec.mutations()


def test_other_owners_objects_do_not_count(client):
    c, _ = client
    other = "zz" + engines.RUN[:4]  # another run's id
    with EventRecorder(ENGINE) as rec:
        foreign = c.containers.create(
            BUSYBOX, ["true"], name=f"sc-{other}-guard", labels={TEST_LABEL: other}
        )
        chain = c.containers.create(
            BUSYBOX,
            ["true"],
            name=f"sc-{engines.RUN}-chainlike",
            labels={engines.CHAIN_LABEL: "demo"},
        )
    try:
        assert ("container", "create", f"sc-{other}-guard") in rec.mutations(everything=True)
        assert ("container", "create", f"sc-{other}-guard") not in rec.mutations()
        # The run's own name wins over make chain's label: a test object is never ignored.
        assert ("container", "create", f"sc-{engines.RUN}-chainlike") in rec.mutations()
    finally:
        foreign.remove(force=True, v=True)
        chain.remove(force=True, v=True)
