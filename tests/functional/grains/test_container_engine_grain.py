"""The container_engine grain against both real engines, and against engines that do not answer."""

import contextlib
import copy
import os
import socket
import time

import pytest
import salt.loader

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL

pytestmark = pytest.mark.docker

STABLE_FIELDS = {
    "id": "ID",  # the engine's identity: chain.inventory groups minions that share an engine
    "name": "Name",
    "root_dir": "DockerRootDir",
    "engine_version": "ServerVersion",
    "os": "OSType",
    "arch": "Architecture",
    "storage_driver": "Driver",
}
COUNTS = {
    "containers_running": "ContainersRunning",
    "containers_total": "Containers",
    "images": "Images",
}


def _grain(loaders, container=None, pillar=None):
    """Compute the grain through Salt's grains loader with the given container config."""
    opts = copy.deepcopy(loaders.opts)
    if container is not None:
        opts["container"] = container
    if pillar is not None:
        opts["pillar"] = pillar
    funcs = salt.loader.grain_funcs(opts, context={}, loaded_base_name=loaders.loaded_base_name)
    return funcs["container_engine.container_engine"]()["container_engine"]


def _assert_matches_engine(compute, engine):
    """Stable fields equal the SDK's /info; counts equal it in a window where they did not move."""
    with contextlib.closing(engines.client(engine)) as client:
        version = client.api.version(api_version=False)
        for _ in range(10):
            before = client.api.info()
            grain = compute()
            after = client.api.info()
            assert grain["available"] is True, grain
            for key, info_key in STABLE_FIELDS.items():
                assert grain[key] == before[info_key], key
            assert grain["api_version"] == version["ApiVersion"]
            if all(before[k] == after[k] for k in COUNTS.values()):
                assert {k: grain[k] for k in COUNTS} == {k: before[v] for k, v in COUNTS.items()}
                return grain
            time.sleep(0.2)  # other containers came and went meanwhile; look again
    pytest.fail(f"engine {engine} never held still long enough to compare counts")


@pytest.fixture
def marker_container(engine):
    """A created (never started) container, so each engine's totals are distinct and known."""
    with contextlib.closing(engines.client(engine)) as client:
        ctr = client.containers.create(
            BUSYBOX, ["true"], name=f"sc-{RUN}-grain-{engine}", labels={TEST_LABEL: RUN}
        )
        yield ctr.id
    engines.cleanup(engine)


def test_grain_through_the_minion_grains_loader(loaders, docker_engines):
    # The functional minion's default profile is engine1.
    grain = loaders.grains["container_engine"]
    assert grain["available"] is True, grain
    assert grain["profile"] == "engine1"
    assert grain["base_url"] == engines.ENGINES["engine1"]
    assert "error" not in grain
    for key in ("engine_version", "api_version", "os", "arch", "storage_driver"):
        assert isinstance(grain[key], str) and grain[key], key
    for key in COUNTS:
        assert isinstance(grain[key], int) and grain[key] >= 0, key
    assert grain["containers_total"] >= grain["containers_running"]
    with contextlib.closing(engines.client("engine1")) as client:
        info = client.api.info()
    assert {k: grain[k] for k in STABLE_FIELDS} == {k: info[v] for k, v in STABLE_FIELDS.items()}
    # Counts move with other tests; compare them on a fresh computation in a quiet window.
    _assert_matches_engine(lambda: _grain(loaders), "engine1")


def test_grain_reports_the_default_profiles_engine(loaders, engine, marker_container):
    container = copy.deepcopy(loaders.opts["container"])
    container["default_profile"] = engine
    grain = _assert_matches_engine(lambda: _grain(loaders, container=container), engine)
    assert grain["profile"] == engine
    assert grain["base_url"] == engines.ENGINES[engine]
    # The container created on this engine is counted (created, so not running).
    assert grain["containers_total"] >= 1


def test_grain_reads_the_profile_from_pillar(loaders, marker_container, engine):
    pillar = {
        "container": {
            "default_profile": "p",
            "profiles": {"p": {"base_url": engines.ENGINES[engine]}},
        }
    }
    grain = _assert_matches_engine(lambda: _grain(loaders, container={}, pillar=pillar), engine)
    assert grain["profile"] == "p"
    assert grain["base_url"] == engines.ENGINES[engine]


def test_engine_down_is_reported_not_raised(loaders, tmp_path):
    missing = f"unix://{tmp_path}/no-such-engine.sock"
    container = {"default_profile": "gone", "profiles": {"gone": {"base_url": missing}}}
    started = time.monotonic()
    grain = _grain(loaders, container=container)
    assert time.monotonic() - started < 2
    assert grain["available"] is False
    assert grain["profile"] == "gone"
    assert grain["base_url"] == missing
    # the engine's profile, its URL and why, in one line (chain_docker_client)
    assert grain["error"] == (
        f"cannot reach the Docker engine of profile 'gone' ({missing}): no socket (is dockerd "
        "running?)"
    ), grain["error"]
    assert "engine_version" not in grain


def test_engine_that_never_answers_times_out_in_two_seconds(loaders):
    # A socket that accepts connections but never replies: only the grain's timeout ends the wait.
    path = f"/tmp/sc-mute-{time.time_ns()}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    try:
        container = {
            "default_profile": "mute",
            "profiles": {"mute": {"base_url": f"unix://{path}", "timeout": 60}},
        }
        started = time.monotonic()
        grain = _grain(loaders, container=container)
        elapsed = time.monotonic() - started
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    assert grain["available"] is False
    assert "no answer within the timeout (2s)" in grain["error"], grain["error"]
    assert 1.5 <= elapsed < 3, elapsed


def test_unconfigured_minion_uses_docker_host(loaders, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engines.ENGINES["engine2"])
    grain = _grain(loaders, container={})
    assert grain["available"] is True, grain
    assert grain["profile"] == "default"
    assert grain["base_url"] == engines.ENGINES["engine2"]
