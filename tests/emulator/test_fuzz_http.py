"""Bounded fuzzing of the Jenkins emulator's HTTP surface (127.0.0.1 only): random methods, paths
(the controller's own words, random and odd segments), queries, headers and bodies.

- Without valid credentials (none, a wrong token, a malformed ``Authorization``): never a 5xx,
  never a crash; a 401 (wrong credentials, ``BasicHeaderProcessor``), 403 (anonymous,
  ``HudsonAuthenticationEntryPoint``) or 404/405 — or the unprotected pages (``login``,
  ``whoAmI``...) — and nothing changes: jobs, nodes, views, the queue, quiet-down.
- With the admin token and a malformed request: never a 5xx; a refused request (4xx) changes
  nothing either.
- Raw bytes that are no HTTP request: the server refuses or drops them and answers the next
  request.
"""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support import fuzz

pytestmark = pytest.mark.emulator_only

KNOWN = [
    "",
    "job",
    "computer",
    "view",
    "queue",
    "createItem",
    "createView",
    "scriptText",
    "crumbIssuer",
    "api",
    "json",
    "xml",
    "me",
    "user",
    "whoAmI",
    "login",
    "wsagents",
    "pluginManager",
    "quietDown",
    "cancelQuietDown",
    "doDelete",
    "build",
    "buildWithParameters",
    "config.xml",
    "doCreateItem",
    "toggleOffline",
    "jenkins-agent.jnlp",
    "lastBuild",
    "consoleText",
    "item",
    "cancelItem",
    "(master)",
    "built-in",
    "all",
    "fz",
]
KEYS = ["tree", "depth", "name", "mode", "from", "json", "id", "delay", "pretty", "Jenkins-Crumb"]
UNPROTECTED = {"login", "whoAmI", "static", "adjuncts", "favicon.ico", "robots.txt", "jnlpJars"}
SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _state(http, url):
    """What a request could change: jobs (with their config), nodes, views, the queue."""
    root = http.get(url + "api/json?tree=jobs[name,color],views[name],quietingDown", timeout=10)
    nodes = http.get(url + "computer/api/json?tree=computer[displayName,offline]", timeout=10)
    queue = http.get(url + "queue/api/json?tree=items[id]", timeout=10)
    assert root.status_code == nodes.status_code == queue.status_code == 200
    configs = {
        j["name"]: http.get(url + f"job/{j['name']}/config.xml", timeout=10).text
        for j in root.json()["jobs"]
    }
    return root.json(), nodes.json(), queue.json(), configs


@pytest.fixture
def fz(target, http, cleanup):
    """A job and a node named ``fz`` (the fuzzer's known word) to aim at, and the port."""
    server = target.client()
    if not server.job_exists("fz"):
        server.create_job("fz", "<project><builders/></project>")
    cleanup[0].append("fz")
    port = int(target.url.rstrip("/").rsplit(":", 1)[1])
    return {"port": port, "url": target.url, "http": http}


def _unchanged(fz, before, req, status):
    after = _state(fz["http"], fz["url"])
    assert after == before, f"{req!r} -> {status} changed the controller"


def _head(req):
    return req["path"].split("?", 1)[0].lstrip("/").split("/", 1)[0]


def _get(authorization):
    return {"method": "GET", "path": "/", "headers": {"Authorization": authorization}, "body": b""}


@SETTINGS
@given(req=fuzz.requests(KNOWN, KEYS, fuzz.bad_authorizations("admin")))
# What the fuzzer found (the emulator answered 500): a password, then a user name, that is not
# ASCII (BasicHeaderProcessor reads both as UTF-8 and answers 401 "Invalid password/token").
@example(req=_get("Basic YWRtaW46eMKA"))  # admin:x\u0080
@example(req=_get("Basic eMSAOnRva2Vu"))  # x\u0100:token
def test_without_valid_credentials_nothing_changes_and_nothing_crashes(fz, req):
    before = _state(fz["http"], fz["url"])
    status, body = fuzz.send(fz["port"], req)
    assert status is not None, (req, body)  # aiohttp answers a request it parsed
    assert status < 500, (req, status, body[:500])
    if status < 400:
        # only the unprotected pages answer without credentials (a 3xx is a redirect to login)
        assert _head(req) in UNPROTECTED or status in (301, 302), (req, status, body[:300])
    _unchanged(fz, before, req, status)


@SETTINGS
@given(req=fuzz.requests(KNOWN, KEYS, st.just(None)))
def test_with_the_admin_token_a_malformed_request_is_refused_whole(fz, target, req):
    req["headers"]["Authorization"] = fuzz.basic(target.user, target.token)
    before = _state(fz["http"], fz["url"])
    status, body = fuzz.send(fz["port"], req)
    assert status is not None and status < 500, (req, status, body[:500])
    if status >= 400:
        _unchanged(fz, before, req, status)
    else:  # an accepted request may change things: put them back for the next example
        _restore(fz, target, before)


def _restore(fz, target, before):
    server = target.client()
    jobs, nodes, _, configs = before
    now_jobs, now_nodes, _, _ = _state(fz["http"], fz["url"])
    for job in {j["name"] for j in now_jobs["jobs"]} - set(configs):
        server.delete_job(job)
    for name, xml in configs.items():
        if not server.job_exists(name):
            server.create_job(name, xml)
    for view in {v["name"] for v in now_jobs["views"]} - {v["name"] for v in jobs["views"]}:
        server.delete_view(view)
    for node in {c["displayName"] for c in now_nodes["computer"]} - {
        c["displayName"] for c in nodes["computer"]
    }:
        server.delete_node(node)
    if now_jobs["quietingDown"] and not jobs["quietingDown"]:
        fz["http"].post(fz["url"] + "cancelQuietDown", timeout=10)


@settings(max_examples=40, deadline=None)
@given(data=fuzz.RAW_REQUESTS)
def test_raw_bytes_that_are_no_request_are_refused_and_the_server_goes_on(target, data):
    port = int(target.url.rstrip("/").rsplit(":", 1)[1])
    status = fuzz.raw(port, data)
    assert status is None or 400 <= status < 500 or status in (200, 403), (data[:80], status)
    assert fuzz.send(port, {"method": "GET", "path": "/login", "headers": {}, "body": b""})[0] == (
        200
    )
