"""The jenkins execution module: profiles, the client cache, every input checked before any
request, the old core module's names."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_profiles

from _modules import jenkins as jm

CONFIG = {
    "jenkins:default_profile": "ci",
    "jenkins:profiles:ci": {
        "url": "http://127.0.0.1:1/",
        "user": "salt",
        "token": "t0ps3cret",
        "timeout": 5,
    },
    "jenkins:profiles:other": {"url": "http://127.0.0.1:2", "user": "bob", "token": "x"},
}


def _config_get(key, default=None):
    return CONFIG.get(key, default)


@pytest.fixture
def configure_loader_modules():
    return {
        jm: {
            "__salt__": {"config.get": _config_get, "cp.cache_file": lambda *a: None},
            "__context__": {},
            "__opts__": {},
        }
    }


def test_default_and_named_profiles():
    conf = jm._conf(None)
    assert conf["name"] == "ci" and conf["url"] == "http://127.0.0.1:1/" and conf["timeout"] == 5
    other = jm._conf("other")
    assert (
        other["url"] == "http://127.0.0.1:2/" and other["timeout"] == chain_profiles.JENKINS_TIMEOUT
    )
    assert other["verify"] is True


def test_inline_overrides_and_inline_only():
    conf = jm._conf({"name": "ci", "timeout": 1})
    assert conf["timeout"] == 1 and conf["user"] == "salt"
    inline = jm._conf({"url": "http://127.0.0.1:3", "user": "u", "token": "v"})
    assert inline["url"] == "http://127.0.0.1:3/" and inline["user"] == "u"


@pytest.mark.parametrize(
    "profile,match",
    [
        ("nope", "unknown jenkins profile 'nope'"),
        ({"name": "ci", "colour": 1}, "unknown jenkins profile key"),
        ({"name": "ci", "url": "ftp://x"}, "must be http"),
        ({"name": "ci", "timeout": "soon"}, "timeout: expected a number"),
        ({"name": "ci", "timeout": 0}, "timeout must be positive"),
        ({"url": "http://127.0.0.1:3", "user": "u"}, "both user and token"),
        (42, "profile must be a name or a mapping"),
    ],
)
def test_bad_profiles(profile, match):
    with pytest.raises(SaltInvocationError, match=match):
        jm._conf(profile)


def test_cache_key_hides_the_token_and_separates_profiles():
    conf = jm._conf(None)
    key = chain_profiles.cache_key("jenkins", conf)
    assert "t0ps3cret" not in key
    assert key != chain_profiles.cache_key("jenkins", {**conf, "token": "other"})
    assert jm._client() is jm._client("ci")
    assert jm._client("other") is not jm._client("ci")


def test_client_always_has_a_timeout_and_resolved_auth():
    client = jm._client()
    assert client.timeout == 5
    assert client._auth_resolved is True
    assert client._session.auth is not None


def test_legacy_flat_keys(monkeypatch):
    monkeypatch.setattr(
        jm,
        "__salt__",
        {
            "config.get": {
                "jenkins.url": "http://127.0.0.1:9",
                "jenkins.user": "a",
                "jenkins.password": "b",
            }.get
        },
        raising=False,
    )
    conf = jm._conf(None)
    assert conf["url"] == "http://127.0.0.1:9/" and conf["user"] == "a" and conf["token"] == "b"


def test_no_url_at_all(monkeypatch):
    monkeypatch.setattr(
        jm, "__salt__", {"config.get": lambda key, default=None: default}, raising=False
    )
    with pytest.raises(SaltInvocationError, match="no Jenkins URL"):
        jm._conf(None)


@pytest.mark.parametrize(
    "url",
    [
        "https://salt:TOKEN42@jenkins.example.com/",
        "http://salt@127.0.0.1:1/",
        "ftp://salt:TOKEN42@x/",
        "https://:TOKEN42@jenkins.example.com",
    ],
)
def test_userinfo_in_url_is_refused_without_echoing_it(url):
    with pytest.raises(SaltInvocationError, match="in the profile keys") as err:
        jm._conf({"name": "ci", "url": url})
    assert "TOKEN42" not in str(err.value)


def test_url_errors_never_echo_credentials():
    with pytest.raises(SaltInvocationError) as err:
        jm._conf({"name": "ci", "url": "jenkins.example.com/?token=TOKEN42"})
    assert "TOKEN42" not in str(err.value)


def test_query_or_fragment_in_url_is_refused_without_echoing_it():
    for url in (
        "https://jenkins.example.com/?token=TOKEN42",
        "https://jenkins.example.com/#TOKEN42",
    ):
        with pytest.raises(SaltInvocationError, match="query string") as err:
            jm._conf({"name": "ci", "url": url})
        assert "TOKEN42" not in str(err.value)


# ---- every input checked before any request -------------------------------------------------

BAD_INPUT = [
    ("last_build_with", ("app",), {"limit": "x"}, "limit"),
    ("last_build_with", ("app",), {"parameters": {"A": ["x"]}}, "parameters"),
    ("console", ("app",), {"tail": "x"}, "tail"),
    ("console", ("app",), {"number": "latest"}, "number"),
    ("build", ("app",), {"timeout": "x"}, "timeout"),
    ("build", ("app",), {"poll_interval": "soon"}, "poll_interval"),
    ("build", ("app",), {"tail": "many"}, "tail"),
    ("build", ("app",), {"wait": "perhaps"}, "wait"),
    ("build", ("a?b",), {}, "job name"),
    ("build_wait", ("app", "lastBuild"), {}, "number"),
    ("build_wait", ("app", 3), {"timeout": "x"}, "timeout"),
    ("wait_online", ("agent1",), {"timeout": "x"}, "timeout"),
    ("wait_online", ("agent1",), {"interval": "x"}, "interval"),
    ("node_create", ("agent1",), {"num_executors": "x"}, "num_executors"),
    ("node_create", ("agent1",), {"mode": "FAST"}, "mode"),
    ("node_create", ("agent1",), {"config_xml": "<project/>"}, "config_xml"),
    ("node_create", ("built-in",), {}, "built-in node"),
    ("node_reconfigure", ("agent1",), {"labels": 5}, "labels"),
    ("node_reconfigure", ("agent1",), {"colour": "red"}, "unknown field"),
    ("node_compare", ("agent1",), {"web_socket": "yes"}, "web_socket"),
    ("node_disable", ("agent1",), {"message": ["x"]}, "message"),
    ("node_delete", ("a/b",), {}, "node name"),
    ("agent_secret", ("master",), {}, "built-in node"),
    ("queue_item", ("x",), {}, "queue_id"),
    ("build_info", ("app",), {"number": 0}, "number"),
    ("artifact", ("app", "../etc/passwd"), {}, "path"),
    ("artifact", ("app", "a.txt"), {"dest": 5}, "dest"),
    ("job_compare", ("app",), {"config": "<project>"}, "config"),
    ("job_compare", ("app",), {"config": "<project/>", "ignore": 5}, "ignore"),
    ("job_create", ("app",), {"config_xml": "<project/>", "jjb": "- job: {name: app}"}, "exactly"),
    ("job_update", ("app",), {"jjb": "- job: {name: other}"}, "jjb"),
    ("job_exists", (None,), {}, "name"),
    ("job_enable", ("",), {}, "job name"),
    ("script", ("",), {}, "script"),
    ("run", (" ",), {}, "script"),
    ("plugin_installed", (5,), {}, "name"),
    ("version_compare", ("", "1.0"), {}, "version"),
    ("create_job", ("app",), {}, "config_xml"),
    ("update_job", ("app",), {"config_xml": "<project"}, "config_xml"),
    ("build_job", ("app",), {"parameters": "A=1"}, "parameters"),
    ("get_job_info", (), {}, "name"),
    ("delete_job", (), {}, "name"),
    ("job_status", (), {}, "name"),
    ("get_job_config", (), {}, "name"),
    ("enable_job", (), {}, "name"),
    ("disable_job", (), {}, "name"),
]


@pytest.fixture
def transport(monkeypatch):
    from tests.unit.utils import jenkins_transport as T

    fake = T.Transport()
    monkeypatch.setattr(jm, "_client", lambda profile=None: T.client(fake))
    return fake


@pytest.mark.parametrize(
    "func,args,kwargs,arg", BAD_INPUT, ids=[f"{f}-{a}" for f, _, _, a in BAD_INPUT]
)
def test_bad_input_names_the_argument_and_sends_nothing(transport, func, args, kwargs, arg):
    with pytest.raises(SaltInvocationError, match=arg) as err:
        getattr(jm, func)(*args, **kwargs)
    assert "\n" not in str(err.value)
    assert transport.seen == []


def test_whoami_is_me_with_credentials_and_who_am_i_when_anonymous(monkeypatch):
    """Jenkins.getMe refuses /me to anonymous (AccessDeniedException, both tags); whoAmI is
    always readable (WhoAmI exports name, anonymous, authenticated, authorities)."""
    from tests.unit.utils import jenkins_transport as T

    me = {"_class": "hudson.model.User", "id": "salt", "fullName": "salt"}
    anon = {
        "_class": "hudson.security.WhoAmI",
        "anonymous": True,
        "authenticated": True,
        "authorities": ["anonymous"],
        "name": "anonymous",
    }
    fake = T.Transport(
        {("GET", "me/api/json"): T.answer(json=me), ("GET", "whoAmI/api/json"): T.answer(json=anon)}
    )
    monkeypatch.setattr(jm, "_client", lambda profile=None: T.client(fake))
    assert jm.whoami()["id"] == "salt"
    monkeypatch.setattr(jm, "_client", lambda profile=None: T.client(fake, user=None))
    assert jm.whoami()["anonymous"] is True
    assert [p for _m, p, _q, _b in fake.seen if "crumb" not in p] == [
        "me/api/json",
        "whoAmI/api/json",
    ]


OLD_NAMES = (
    "get_version",
    "get_jobs",
    "job_exists",
    "get_job_info",
    "build_job",
    "create_job",
    "update_job",
    "delete_job",
    "enable_job",
    "disable_job",
    "job_status",
    "get_job_config",
    "plugin_installed",
    "run",
)


def test_the_old_core_module_names_are_kept():
    assert [n for n in OLD_NAMES if not callable(getattr(jm, n, None))] == []
    assert not hasattr(jm, "__func_alias__") or "list_" not in jm.__func_alias__


def test_run_calls_the_script_console(transport):
    from tests.unit.utils import jenkins_transport as T

    transport.routes[("POST", "scriptText")] = T.answer(200, "42\n")
    assert jm.run("println(42)") == "42\n"
    assert transport.writes() == [("POST", "scriptText")]
