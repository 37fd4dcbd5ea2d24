"""The client's handling of redirects on writes, against a tiny local HTTP stub.

The emulator answers like Jenkins itself; what sits in front of a real controller (an
http -> https redirect, an SSO proxy sending to its login page) is reproduced here.
"""

import http.server
import threading

import pytest
from salt.exceptions import CommandExecutionError
from saltext.chain.utils import chain_jenkins_client as C

TOKEN = "TOKEN42secret"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append(f"{self.command} {self.path}")
        path = self.path.split("?", 1)[0]
        if path == "/crumbIssuer/api/json":
            self.send_response(404)
            self.end_headers()
            return
        code, location = self.routes.get(path, (200, None))
        self.send_response(code)
        if location:
            self.send_header(
                "Location", location.replace("HOST", f"127.0.0.1:{self.server.server_port}")
            )
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer


def _conf(profile):
    return C.connection(profile, lambda key, default=None: default)


@pytest.fixture(scope="module")
def stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(stub):
    conf = _conf(
        {
            "url": f"http://127.0.0.1:{stub.server_port}",
            "user": "salt",
            "token": TOKEN,
            "timeout": 5,
        }
    )
    return C.Client(conf)


REFUSED = {
    "/to-https": (301, "https://HOST/to-https"),
    "/perm": (308, "https://HOST/perm"),
    "/temp": (307, "http://HOST/elsewhere"),
    "/sso": (302, "https://sso.example.com/auth?client=jenkins&state=" + TOKEN),
    "/other-port": (302, "http://127.0.0.1:1/computer/"),
    "/login-page": (302, "/login?from=%2Fjob%2Fx%2Fenable"),
    "/realm": (303, "http://HOST/securityRealm/commenceLogin?from=" + TOKEN),
    "/proxy": (302, "/oauth2/start?rd=%2Fjob%2Fx%2Fenable"),
}
ACCEPTED = {
    "/computer/doCreateItem": (302, "http://HOST/computer/"),
    "/job/x/enable": (302, "/job/x/"),
    "/job/x/buildWithParameters": (303, "http://HOST/queue/item/7/"),
    "/job/login/enable": (302, "/job/login/"),  # a job called "login" is not the login page
}
PREFIXED = {
    "/jenkins/job/x/enable": (302, "/jenkins/job/x/"),
    "/jenkins/job/x/disable": (302, "/other-app/"),
    "/jenkins/job/x/doDelete": (302, "/jenkins/login?from=%2Fjenkins%2F"),
}
_Handler.routes.update(REFUSED)
_Handler.routes.update(ACCEPTED)
_Handler.routes.update(PREFIXED)


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_a_write_redirected_away_is_an_error_naming_the_profile(client, stub, path):
    before = len(stub.seen)
    with pytest.raises(CommandExecutionError, match="fix the url of jenkins profile") as err:
        client.request("POST", path.lstrip("/"), data={"a": "b"})
    text = str(err.value)
    assert str(REFUSED[path][0]) in text and TOKEN not in text
    seen = [r for r in stub.seen[before:] if "crumbIssuer" not in r]
    assert seen == [f"POST {path}"]  # the redirect was not followed


@pytest.mark.parametrize("path", sorted(ACCEPTED))
def test_jenkins_own_redirects_after_a_write_still_succeed(client, path):
    resp = client.request("POST", path.lstrip("/"), allow_redirects=False)
    assert resp.status_code == ACCEPTED[path][0]


def test_reads_follow_redirects(client, stub):
    resp = client.request("GET", "job/x/enable")
    assert resp.status_code == 200 and stub.seen[-1] == "GET /job/x/"


def test_transport_errors_drop_query_strings():
    text = (
        "HTTPSConnectionPool(host='j', port=443): Max retries exceeded with url: "
        f"/computer/a/toggleOffline?offlineMessage={TOKEN} (Caused by SSLError('bad'))"
    )
    assert TOKEN not in C.scrub(text) and "/computer/a/toggleOffline?..." in C.scrub(text)


def test_a_controller_under_a_path_prefix(stub):
    conf = _conf(
        {
            "url": f"http://127.0.0.1:{stub.server_port}/jenkins/",
            "user": "salt",
            "token": TOKEN,
            "timeout": 5,
        }
    )
    client = C.Client(conf)
    assert client.request("POST", "job/x/enable").status_code == 302
    with pytest.raises(CommandExecutionError, match="outside the controller's path"):
        client.request("POST", "job/x/disable")
    with pytest.raises(CommandExecutionError, match="login page"):
        client.request("POST", "job/x/doDelete")
