"""Functional tests: Salt's loaders on an unstarted minion's config, real Docker engines."""

import pytest
from saltfactories.utils.functional import Loaders

from tests.conftest import REPO
from tests.support import engines


@pytest.fixture(scope="package")
def minion_opts(salt_factories, docker_engines, registry_credentials):
    factory = salt_factories.salt_minion_daemon(
        "func-minion",
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(REPO / "tests" / "functional" / "files"), str(REPO / "formulas")]},
            "module_dirs": [str(REPO)],
            # Salt caches fileserver listings for 20 s by default; tests change files faster.
            "fileserver_list_cache_time": 0,
            "container": {
                "default_profile": "engine1",
                "profiles": {name: {"base_url": url, "timeout": 60} for name, url in engines.ENGINES.items()},
                "registries": {engines.REGISTRY: registry_credentials},
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


@pytest.fixture(params=sorted(engines.ENGINES))
def engine(request, docker_engines):
    """Each test that takes it runs once per engine, against that engine's profile."""
    yield request.param
    engines.cleanup(request.param)


@pytest.fixture(params=[False, True], ids=["live", "test-mode"])
def testmode(request):
    return request.param
