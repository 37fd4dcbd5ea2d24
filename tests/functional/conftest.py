"""Functional tests: Salt's loaders on an unstarted minion's config, real Docker engines, and a
Jenkins emulator.

One minion config serves the whole functional tier (modules, states, grains, beacons): it carries
the ``container`` profiles of both engines and the registry credentials, and a ``jenkins`` profile
pointing at a package-wide emulator subprocess on 127.0.0.1. One config means one ``Loaders``
object: a subpackage that overrode ``minion_opts`` under this package-scoped ``loaders`` would
silently share the first loader built, so there is deliberately no second one.

Docker is only required by tests that ask for it (``engine`` / ``docker_engines``); jenkins tests
run without an engine.
"""

import uuid

import pytest
from saltfactories.utils.functional import Loaders

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.support import agents, controller, engines


@pytest.fixture(scope="package")
def emulator(tmp_path_factory):
    home = tmp_path_factory.mktemp("jenkins-home")
    with testing.running_emulator(home, plugins=controller.PLUGINS) as (url, user, token):
        yield {"url": url, "user": user, "token": token, "home": str(home)}


@pytest.fixture(scope="package")
def profile(emulator):
    return {
        "url": emulator["url"],
        "user": emulator["user"],
        "token": emulator["token"],
        "timeout": 10,
    }


def _registries():
    password_file = REPO / ".state" / "registry" / "password"
    if (
        not password_file.exists()
    ):  # tests that need it ask for `registry_credentials` and fail there
        return {}
    return {engines.REGISTRY: {"username": "chain", "password": password_file.read_text().strip()}}


@pytest.fixture(scope="package")
def minion_opts(salt_factories, emulator, profile, tmp_path_factory):
    files = tmp_path_factory.mktemp("func-files")
    pillar = tmp_path_factory.mktemp("func-pillar")
    (pillar / "top.sls").write_text("base:\n  '*':\n    - tier\n")
    (pillar / "tier.sls").write_text("saltext_chain_tests:\n  tier: functional\n")
    factory = salt_factories.salt_minion_daemon(
        f"func-minion-{engines.RUN}",
        overrides={
            "file_client": "local",
            "file_roots": {
                "base": [
                    str(files),
                    str(REPO / "tests" / "functional" / "files"),
                    str(REPO / "formulas"),
                ]
            },
            "pillar_roots": {"base": [str(pillar)]},
            "module_dirs": [str(REPO)],
            # Salt caches fileserver listings for 20 s by default; tests change files faster.
            "fileserver_list_cache_time": 0,
            "container": {
                "default_profile": "engine1",
                "profiles": {
                    name: {"base_url": url, "timeout": 60} for name, url in engines.ENGINES.items()
                },
                "registries": _registries(),
            },
            "jenkins": {"default_profile": "emu", "profiles": {"emu": profile}},
        },
    )
    opts = factory.config.copy()
    # The tier runs states as ``salt-call --local`` does: ``state.single``/``state.sls`` take the
    # pillar the loaders compiled (``_get_initial_pillar``) instead of compiling it again, with
    # two file clients of its own, for every call (over half of a call's CPU). Salt reuses only
    # a pillar that is not empty: hence the one key above, which no state reads. A call with a
    # ``pillar=`` override still compiles its own. Nothing here writes pillar files.
    opts["__cli"] = "salt-call"
    opts["_test_file_root"] = str(files)
    return opts


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


@pytest.fixture
def file_root(minion_opts):
    """A salt:// root the test may write into (first in file_roots)."""
    return minion_opts["_test_file_root"]


@pytest.fixture(params=sorted(engines.ENGINES))
def engine(request, docker_engines):
    """Each test that takes it runs once per engine, against that engine's profile."""
    yield request.param
    engines.cleanup(request.param)


@pytest.fixture(params=[False, True], ids=["live", "test-mode"])
def testmode(request):
    return request.param


@pytest.fixture
def uid():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def unchanged_home(emulator):
    """Assert that nothing the emulator persists changed inside the ``with`` block."""

    class _Guard(controller.RequestLog):
        def __init__(self):
            super().__init__(emulator["home"])

        def __exit__(self, *exc):
            super().__exit__(*exc)
            if exc[0] is None:
                changed = self.changed()
                assert not changed, f"the controller's state changed: {changed}"
                posts = self.writes()
                assert not posts, f"requests that write reached the controller: {posts}"
            return False

    return _Guard


@pytest.fixture(scope="module")
def agent_image(docker_engines):
    """The agent image (images/jenkins-agent) for the jenkins_agent tests; removed afterwards."""
    tag = agents.build_agent_image()
    yield tag
    engines.cleanup("engine1")
    agents.remove_image(tag)
