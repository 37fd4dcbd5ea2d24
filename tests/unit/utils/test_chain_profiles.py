"""chain_profiles: one resolver for every caller (modules, grain, beacon), pure."""

import pytest
from saltext.chain.utils import chain_errors, chain_profiles

CONFIG = {
    "container": {
        "default_profile": "e1",
        "profiles": {
            "e1": {
                "base_url": "unix:///var/run/docker.sock",
                "timeout": 5,
                "tls": {"ca_cert": "/ca.pem", "verify": True},
            },
            "broken": ["not", "a", "mapping"],
        },
    },
    "jenkins": {
        "profiles": {"default": {"url": "http://127.0.0.1:8080", "user": "u", "token": "t0k"}},
    },
}
GET = chain_profiles.config_getter(CONFIG)


def test_default_profile_name_from_config():
    assert chain_profiles.resolve("container", None, GET)["name"] == "e1"


def test_default_profile_is_default_when_unset():
    get = chain_profiles.config_getter({})
    assert chain_profiles.resolve("jenkins", None, get, legacy=lambda: {"url": "http://x"}) == {
        "url": "http://x",
        "name": "default",
    }


def test_inline_overrides_named_profile():
    conf = chain_profiles.resolve("container", {"name": "e1", "timeout": 9}, GET)
    assert conf["timeout"] == 9 and conf["base_url"] == "unix:///var/run/docker.sock"


def test_inline_endpoint_stands_alone():
    """An inline profile naming its own endpoint never inherits the default's TLS files."""
    conf = chain_profiles.resolve("container", {"base_url": "tcp://127.0.0.1:2376"}, GET)
    assert conf == {"base_url": "tcp://127.0.0.1:2376", "name": "inline"}


@pytest.mark.parametrize(
    "profile, message",
    [
        ("nope", "unknown container profile 'nope'"),
        ("broken", "container:profiles:broken must be a mapping"),
        (5, "profile must be a name or a mapping"),
        ({"bogus": 1}, "unknown container profile key(s): bogus"),
        ({"name": 3}, "name must be a string"),
    ],
)
def test_bad_profiles_are_bad_input(profile, message):
    with pytest.raises(
        chain_errors.BadInput, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        chain_profiles.resolve("container", profile, GET)


def test_docker_connection_validates_values():
    conf = chain_profiles.resolve("container", None, GET)
    conn = chain_profiles.docker_connection(conf, {})
    assert conn["timeout"] == 5 and conn["version"] == "auto" and conn["build_timeout"] == 3600
    for bad in (
        {"timeout": "x"},
        {"timeout": 0},
        {"version": "latest"},
        {"tls": "yes"},
        {"tls": {"cert": "/c"}},
        {"max_pool_size": -1},
    ):
        with pytest.raises(chain_errors.BadInput):
            chain_profiles.docker_connection({**conf, **bad}, {})


def test_docker_host_from_environment():
    conn = chain_profiles.docker_connection({"name": "default"}, {"DOCKER_HOST": "unix:///x.sock"})
    assert conn["base_url"] == "unix:///x.sock"


def test_jenkins_connection_never_echoes_credentials_in_url():
    conf = {"name": "ci", "url": "http://admin:s3cret@127.0.0.1:8080/"}
    with pytest.raises(chain_errors.BadInput) as err:
        chain_profiles.jenkins_connection(conf)
    assert "s3cret" not in str(err.value)


def test_jenkins_connection_password_is_token_and_url_gets_slash():
    conn = chain_profiles.jenkins_connection(
        {"name": "ci", "url": "http://127.0.0.1:8080", "user": "u", "password": "p"}
    )
    assert (
        conn["url"] == "http://127.0.0.1:8080/" and conn["token"] == "p" and conn["timeout"] == 30
    )


def test_cache_key_hides_secrets_and_distinguishes_profiles():
    one = chain_profiles.cache_key("jenkins", {"url": "u", "token": "t0ken-abc"})
    two = chain_profiles.cache_key("jenkins", {"url": "u", "token": "other"})
    assert one != two and "t0ken-abc" not in one and one.startswith("jenkins.client:")


def test_config_getter_first_source_wins_and_traverses():
    get = chain_profiles.config_getter({"a": {"b": 1}}, {"a": {"b": 2, "c": 3}})
    assert (get("a:b"), get("a:c"), get("a:d", "dflt")) == (1, 3, "dflt")


def test_default_docker_connection_reads_opts_then_pillar():
    opts = {"container": {"default_profile": "e1"}}
    pillar = {"container": {"profiles": {"e1": {"base_url": "unix:///p.sock", "timeout": 7}}}}
    conn = chain_profiles.default_docker_connection(opts, pillar, {})
    assert (conn["name"], conn["base_url"], conn["timeout"]) == ("e1", "unix:///p.sock", 7)
