"""The container_engine grain resolves its profile with the execution module's rules
(chain_profiles.resolve): a malformed profile is reported, never raised."""

import copy

import pytest
import salt.loader

from tests.support import engines

pytestmark = pytest.mark.docker


def _grain(loaders, container):
    opts = copy.deepcopy(loaders.opts)
    opts["container"] = container
    funcs = salt.loader.grain_funcs(opts, context={}, loaded_base_name=loaders.loaded_base_name)
    return funcs["container_engine.container_engine"]()["container_engine"]


@pytest.mark.parametrize(
    "container, message",
    [
        (
            {"default_profile": "bad", "profiles": {"bad": "unix:///var/run/docker.sock"}},
            "container:profiles:bad must be a mapping",
        ),
        (
            {"default_profile": "bad", "profiles": {"bad": {"base_url": "unix:///x", "colour": 1}}},
            "unknown key(s): colour",
        ),
        ({"default_profile": "bad", "profiles": {"bad": {"timeout": "soon"}}}, "timeout"),
        ({"default_profile": 5}, "default_profile"),
    ],
)
def test_malformed_profile_is_reported_not_raised(loaders, container, message):
    grain = _grain(loaders, container)
    assert grain["available"] is False
    assert message in grain["error"], grain


def test_the_module_and_the_grain_agree(loaders, modules, docker_engines):
    container = copy.deepcopy(loaders.opts["container"])
    grain = _grain(loaders, container)
    conn = modules.container.connection()
    assert (grain["profile"], grain["base_url"]) == (conn["name"], conn["base_url"])
    assert grain["base_url"] == engines.ENGINES["engine1"]
