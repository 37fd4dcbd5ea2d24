"""Registry credential checks follow the Docker token-auth protocol (Docker Hub, GHCR, GitLab,
Harbor): 401 + `WWW-Authenticate: Bearer realm=...,service=...` -> token from the realm with
Basic credentials -> the request again with the token. Served here by a loopback HTTP peer."""

import base64
import http.server
import json
import threading

import pytest

from _modules import container_images as container

USER, PASSWORD, TOKEN = "chain", "pw-1", "tok-123"


class _Registry(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if (
                self.headers.get("Authorization") != good
                or "service=test-registry" not in self.path
            ):
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"token": TOKEN}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(401)
        self.send_header(
            "WWW-Authenticate",
            f'Bearer realm="http://127.0.0.1:{port}/token",service="test-registry"',
        )
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def configure_loader_modules():
    return {
        container: {
            "__salt__": {"config.get": lambda key, default=None: default},
            "__opts__": {},
            "__context__": {},
        }
    }


def test_token_auth_registry_accepts_good_credentials(registry):
    assert container.registry_check(registry, USER, PASSWORD) == {
        "authenticated": True,
        "status": 200,
    }


def test_token_auth_registry_refuses_bad_credentials(registry):
    assert container.registry_check(registry, USER, "wrong") == {
        "authenticated": False,
        "status": 401,
    }
