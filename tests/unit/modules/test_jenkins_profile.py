"""Connection profiles: config lookup, inline overrides, errors before any I/O."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import jenkins as jm

CONFIG = {
    "jenkins:default_profile": "ci",
    "jenkins:profiles:ci": {"url": "http://127.0.0.1:1/", "user": "salt", "token": "t0ps3cret", "timeout": 5},
    "jenkins:profiles:other": {"url": "http://127.0.0.1:2", "user": "bob", "token": "x"},
}


def _config_get(key, default=None):
    return CONFIG.get(key, default)


@pytest.fixture
def configure_loader_modules():
    return {jm: {"__salt__": {"config.get": _config_get}, "__context__": {}, "__opts__": {}}}


def test_default_and_named_profiles():
    conf = jm._resolve_profile(None)
    assert conf["name"] == "ci" and conf["url"] == "http://127.0.0.1:1/" and conf["timeout"] == 5
    other = jm._resolve_profile("other")
    assert other["url"] == "http://127.0.0.1:2/" and other["timeout"] == jm.DEFAULT_TIMEOUT
    assert other["verify"] is True


def test_inline_overrides_and_inline_only():
    conf = jm._resolve_profile({"name": "ci", "timeout": 1})
    assert conf["timeout"] == 1 and conf["user"] == "salt"
    inline = jm._resolve_profile({"url": "http://127.0.0.1:3", "user": "u", "token": "v"})
    assert inline["url"] == "http://127.0.0.1:3/" and inline["user"] == "u"


@pytest.mark.parametrize(
    "profile,match",
    [
        ("nope", "unknown jenkins profile 'nope'"),
        ({"name": "ci", "colour": 1}, "unknown jenkins profile key"),
        ({"name": "ci", "url": "ftp://x"}, "must be http"),
        ({"name": "ci", "timeout": "soon"}, "timeout must be a number"),
        ({"name": "ci", "timeout": 0}, "timeout must be positive"),
        ({"url": "http://127.0.0.1:3", "user": "u"}, "both user and token"),
        (42, "profile must be a name or a dict"),
    ],
)
def test_bad_profiles(profile, match):
    with pytest.raises(SaltInvocationError, match=match):
        jm._resolve_profile(profile)


def test_cache_key_hides_the_token_and_separates_profiles():
    conf = jm._resolve_profile(None)
    key = jm._profile_key(conf)
    assert "t0ps3cret" not in key
    assert key != jm._profile_key({**conf, "token": "other"})
    assert jm._client() is jm._client("ci")
    assert jm._client("other") is not jm._client("ci")


def test_client_always_has_a_timeout_and_resolved_auth():
    client = jm._client()
    assert client.timeout == 5
    assert client._auth_resolved is True
    assert client._session.auth is not None


def test_legacy_flat_keys(monkeypatch):
    monkeypatch.setattr(jm, "__salt__", {"config.get": {"jenkins.url": "http://127.0.0.1:9", "jenkins.user": "a",
                                                         "jenkins.password": "b"}.get}, raising=False)
    conf = jm._resolve_profile(None)
    assert conf["url"] == "http://127.0.0.1:9/" and conf["user"] == "a" and conf["token"] == "b"


def test_no_url_at_all(monkeypatch):
    monkeypatch.setattr(jm, "__salt__", {"config.get": lambda key, default=None: default}, raising=False)
    with pytest.raises(SaltInvocationError, match="no Jenkins URL"):
        jm._resolve_profile(None)


@pytest.mark.parametrize(
    "url",
    ["https://salt:TOKEN42@jenkins.example.com/", "http://salt@127.0.0.1:1/", "ftp://salt:TOKEN42@x/",
     "https://:TOKEN42@jenkins.example.com"],
)
def test_userinfo_in_url_is_refused_without_echoing_it(url):
    with pytest.raises(SaltInvocationError, match="put user/token in the profile keys") as err:
        jm._resolve_profile({"name": "ci", "url": url})
    assert "TOKEN42" not in str(err.value)


def test_url_errors_never_echo_credentials():
    with pytest.raises(SaltInvocationError) as err:
        jm._resolve_profile({"name": "ci", "url": "jenkins.example.com/?token=TOKEN42"})
    assert "TOKEN42" not in str(err.value)


def test_query_or_fragment_in_url_is_refused_without_echoing_it():
    for url in ("https://jenkins.example.com/?token=TOKEN42", "https://jenkins.example.com/#TOKEN42"):
        with pytest.raises(SaltInvocationError, match="query string") as err:
            jm._resolve_profile({"name": "ci", "url": url})
        assert "TOKEN42" not in str(err.value)


def test_bad_build_parameters_never_echo_values():
    for bad in ([["PASSWORD", "hunter2", "extra"]], [{"PASSWORD": "hunter2", "B": "x"}], {"PASSWORD": ["hunter2"]}):
        with pytest.raises(SaltInvocationError) as err:
            jm._build_params(bad)
        assert "hunter2" not in str(err.value)
