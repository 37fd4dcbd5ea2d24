"""The fault tier: real processes broken while the chain's code works against them (pytest marker
``fault``; ``-m "not fault"`` deselects it locally, CI never does).

Nothing here breaks a shared engine: one private dockerd per session (tests/support/
private_engine.py) is killed, frozen and restarted by its own PID, and the registries that are
killed are containers of that engine. The base images are copied into it from engine 1 once per
session (``docker save | load``, the tar cached by image id).

One minion config (Salt's ``Loaders``, as in tests/functional) names the private engine as the
profile ``fault`` (timeout :data:`TIMEOUT`).
"""

import contextlib

import pytest
from saltfactories.utils.functional import Loaders

from tests.conftest import REPO
from tests.support import engines
from tests.support.private_engine import PrivateEngine

#: The private engine's profile and its timeout (seconds): a frozen engine's calls end by it.
PROFILE = "fault"
TIMEOUT = 8


@pytest.fixture(scope="session")
def private_engine(docker_engines, tmp_path_factory):
    engine = PrivateEngine().open()
    try:
        engine.load(engines.BUSYBOX, engines.DEBIAN, cache_dir=tmp_path_factory.mktemp("images"))
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="package")
def file_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fault-files")


@pytest.fixture(scope="package")
def minion_opts(salt_factories, private_engine, file_root):
    factory = salt_factories.salt_minion_daemon(
        f"fault-minion-{engines.RUN}",
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(file_root)]},
            "module_dirs": [str(REPO)],
            "fileserver_list_cache_time": 0,
            "container": {
                "default_profile": PROFILE,
                "profiles": {PROFILE: {"base_url": private_engine.url, "timeout": TIMEOUT}},
            },
        },
    )
    return factory.config.copy()


@pytest.fixture(scope="package")
def loaders(minion_opts):
    return Loaders(minion_opts, loaded_base_name=f"{__name__}.loaded")


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture(scope="package")
def images(private_engine, tmp_path_factory):
    """The frontend image and two versions of the sample app, built on the private engine."""
    out = {}
    with contextlib.closing(private_engine.client(timeout=300)) as c:
        out["haproxy"] = _build(c, REPO / "images" / "haproxy", "haproxy:1")
        for version in ("1", "2"):
            out[f"v{version}"] = _build(
                c, REPO / "examples" / "app", f"app:{version}", APP_VERSION=version
            )
    return out


def _build(client, path, tag, **args):
    ref = f"saltext-chain/{engines.name(tag)}"
    client.images.build(
        path=str(path), tag=ref, buildargs={"BASE_IMAGE": engines.DEBIAN, **args}, rm=True
    )
    return ref


@pytest.fixture
def clean(private_engine):
    """Every container and network a test made on the private engine is removed after it (the
    engine started again first when a test ended while it was down)."""
    yield
    if private_engine.proc.poll() is not None:
        private_engine.start()
    with contextlib.closing(private_engine.api(timeout=30)) as c:
        for ctr in c.containers(all=True):
            c.remove_container(ctr["Id"], force=True, v=True)
        for net in c.networks(filters={"label": engines.TEST_LABEL}):
            with contextlib.suppress(Exception):
                c.remove_network(net["Id"])
