"""chain_registry: image names, credentials, the Docker client config and the /v2 client."""

import base64
import http.server
import json
import os
import stat
import threading

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_errors, chain_registry


@pytest.mark.parametrize(
    "name, repo, tag",
    [
        ("busybox", "busybox", "latest"),
        ("app/web:1.2", "app/web", "1.2"),
        ("127.0.0.1:5000/app/web", "127.0.0.1:5000/app/web", "latest"),
        ("127.0.0.1:5000/app/web:1.2", "127.0.0.1:5000/app/web", "1.2"),
        ("[::1]:5000/app:2", "[::1]:5000/app", "2"),
        ("app@sha256:abc", "app@sha256:abc", None),
    ],
)
def test_split_repo_tag(name, repo, tag):
    assert chain_registry.split_repo_tag(name) == (repo, tag)


@pytest.mark.parametrize(
    "image, registry",
    [
        ("busybox", "docker.io"),
        ("library/busybox:1", "docker.io"),
        ("127.0.0.1:5000/app/web:1", "127.0.0.1:5000"),
        ("[::1]:5000/app:1", "[::1]:5000"),
        ("localhost/app", "localhost"),
        ("ghcr.io/org/app", "ghcr.io"),
    ],
)
def test_registry_of(image, registry):
    assert chain_registry.registry_of(image) == registry


def test_repository_path_strips_the_registry():
    assert chain_registry.repository_path("127.0.0.1:5000/app/web:1.2") == (
        "127.0.0.1:5000",
        "app/web",
        "1.2",
    )


@pytest.mark.parametrize("bad", [None, "", "a b", 5, ["x"]])
def test_bad_image_names_are_bad_input(bad):
    with pytest.raises(SaltInvocationError, match="name"):
        chain_registry.check_image_name(bad)


@pytest.mark.parametrize(
    "name, base",
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("localhost:5000", "http://localhost:5000"),
        ("[::1]:5000", "http://[::1]:5000"),
        ("registry.example:5000", "https://registry.example:5000"),
        ("https://index.docker.io/v1/", "https://registry-1.docker.io"),
        ("docker.io", "https://registry-1.docker.io"),
        ("http://ci.internal:5000/", "http://ci.internal:5000"),
    ],
)
def test_registry_base_url(name, base):
    assert chain_registry.registry_base(name) == base


def _config_get(registries):
    return lambda key, default=None: registries if key == "container:registries" else default


def test_credentials_for_one_registry_only():
    get = _config_get({"a.example:5000": {"username": "u", "password": "p"}})
    assert chain_registry.credentials("a.example:5000", get) == ("u", "p")
    assert chain_registry.credentials("b.example:5000", get) == (None, None)
    assert chain_registry.credentials("a.example:5000", get, username="x") == ("x", "p")
    assert chain_registry.auth_config("a.example:5000/app:1", get) == {
        "username": "u",
        "password": "p",
    }
    assert chain_registry.auth_config("b.example:5000/app:1", get) is None
    assert chain_registry.auth_config("busybox", get) is None


def test_auth_header_is_the_image_registrys_credentials_for_swarm_nodes():
    get = _config_get({"a.example:5000": {"username": "u", "password": "p"}})
    header = chain_registry.auth_header("a.example:5000/app@sha256:" + "0" * 64, get)
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "u",
        "password": "p",
        "serveraddress": "a.example:5000",
    }
    assert chain_registry.auth_header("b.example:5000/app:1", get) is None
    assert chain_registry.auth_header("busybox", get) is None


def test_missing_credentials_name_where_to_put_them():
    with pytest.raises(SaltInvocationError, match="container:registries:r.example"):
        chain_registry.credentials("r.example", _config_get({}), required=True)
    with pytest.raises(SaltInvocationError, match="must be a mapping"):
        chain_registry.credentials("r.example", _config_get({"r.example": "secret"}))


def test_config_written_atomically_with_mode_0600(tmp_path):
    path = str(tmp_path / "docker" / "config.json")
    assert chain_registry.read_config(path) == {}
    conf = {"auths": {"r:5000": {"auth": chain_registry.encode_auth("u", "p:w")}}}
    chain_registry.write_config(path, conf)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path + ".tmp")
    assert chain_registry.read_config(path) == conf
    assert chain_registry.stored_login(conf, "r:5000", path) == ("u", "p:w")
    assert chain_registry.stored_login(conf, "other:5000", path) == (None, None)


@pytest.mark.parametrize(
    "auth",
    [
        "%%%not-base64",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_auth_entry_is_a_clean_error(auth):
    conf = {"auths": {"r:5000": {"auth": auth}}}
    with pytest.raises(CommandExecutionError, match="auth entry for r:5000 is malformed") as err:
        chain_registry.stored_login(conf, "r:5000", "/x/config.json")
    assert isinstance(err.value, chain_errors.BackendError)


def test_unreadable_config_is_a_clean_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(CommandExecutionError, match="cannot read"):
        chain_registry.read_config(str(path))
    path.write_text("[]")
    with pytest.raises(CommandExecutionError, match="not a JSON object"):
        chain_registry.read_config(str(path))


@pytest.mark.parametrize("bad", ["x", 0, -1, True])
def test_timeout_must_be_positive(bad):
    with pytest.raises(SaltInvocationError, match="timeout"):
        chain_registry.check_timeout(bad)


USER, PASSWORD, TOKEN = "chain", "pw-1", "tok-123"


class _Registry(http.server.BaseHTTPRequestHandler):
    """Token auth as Docker Hub/GHCR/Harbor answer it, plus a manifest."""

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", headers=()):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != good:
                return self._send(401)
            return self._send(200, json.dumps({"token": TOKEN}).encode())
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(
                401,
                headers=[
                    (
                        "WWW-Authenticate",
                        f'Bearer realm="http://127.0.0.1:{port}/token",service="t"',
                    )
                ],
            )
        if self.path == "/v2/app/web/manifests/1.2":
            return self._send(200, b"{}", [("Docker-Content-Digest", "sha256:feed")])
        if self.path == "/v2/app/web/manifests/1.0":
            return self._send(200, b"{}", [("Docker-Content-Digest", "sha256:beef")])
        if self.path == "/v2/app/web/tags/list":
            body = {"name": "app/web", "tags": ["1.0", "1.2", "gone"]}
            return self._send(200, json.dumps(body).encode())
        if self.path.startswith("/v2/app/"):
            return self._send(404)
        return self._send(200, b"{}")

    do_HEAD = do_GET  # noqa: N815


@pytest.fixture
def registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_token_auth_and_manifest_digest(registry):
    assert chain_registry.check(registry, USER, PASSWORD) == {"authenticated": True, "status": 200}
    assert chain_registry.check(registry, USER, "wrong")["authenticated"] is False
    digest = chain_registry.manifest_digest(f"{registry}/app/web:1.2", USER, PASSWORD)
    assert digest == "sha256:feed"
    assert chain_registry.manifest_digest(f"{registry}/app/web:9", USER, PASSWORD) is None


def test_tags_with_their_digests(registry):
    got = chain_registry.tags(f"{registry}/app/web", USER, PASSWORD)
    # a tag whose manifest is gone meanwhile has no digest
    assert got == {
        "tags": {"1.0": "sha256:beef", "1.2": "sha256:feed", "gone": None},
        "truncated": False,
        "total": 3,
    }
    got = chain_registry.tags(f"{registry}/app/web", USER, PASSWORD, limit=1)
    assert got == {"tags": {"gone": None}, "truncated": True, "total": 3}
    # the deployed tags come first, whatever the registry's (lexical) order
    got = chain_registry.tags(f"{registry}/app/web", USER, PASSWORD, limit=2, prefer=["1.0", "x"])
    assert list(got["tags"]) == ["1.0", "gone"] and got["truncated"] is True
    assert chain_registry.tags(f"{registry}/app/none", USER, PASSWORD) is None
    with pytest.raises(chain_errors.BackendError, match="HTTP 401.*container:registries"):
        chain_registry.tags(f"{registry}/app/web", USER, "wrong")


@pytest.mark.parametrize("bad", ["app/web", "", None, "a b"])
def test_tags_need_a_repository_in_a_registry(bad):
    with pytest.raises(SaltInvocationError, match="repository"):
        chain_registry.tags(bad)
    with pytest.raises(SaltInvocationError, match="limit"):
        chain_registry.tags("127.0.0.1:1/app", limit=0)


def test_registry_that_does_not_answer_is_unreachable(tmp_path):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(chain_errors.Unreachable, match="did not answer"):
        chain_registry.check(f"127.0.0.1:{port}", timeout=2)


def test_login_status_store_and_forget(tmp_path):
    path = str(tmp_path / "config.json")
    assert chain_registry.login_status(path, "r:5000") == {
        "logged_in": False,
        "username": None,
        "matches": None,
        "config_path": path,
        "malformed": None,
    }
    chain_registry.store_login(path, "r:5000", "u", "p")
    assert chain_registry.login_status(path, "r:5000", "u", "p")["matches"] is True
    assert chain_registry.login_status(path, "r:5000", "u", "other")["matches"] is False
    assert chain_registry.forget_login(path, "r:5000") is True
    assert chain_registry.forget_login(path, "r:5000") is False


def test_malformed_entry_reported_so_login_replaces_it(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r:5000": {"auth": "%%%"}}}))
    status = chain_registry.login_status(str(path), "r:5000", "u", "p")
    assert status["logged_in"] is True and status["matches"] is False
    assert "malformed" in status["malformed"]
    chain_registry.store_login(str(path), "r:5000", "u", "p")
    assert chain_registry.login_status(str(path), "r:5000", "u", "p")["matches"] is True


@pytest.mark.parametrize("bad", [None, "", "a b", 5])
def test_bad_registry_names(bad):
    with pytest.raises(SaltInvocationError, match="registry"):
        chain_registry.check_registry(bad)


@pytest.mark.parametrize("bad", [5, "", ["x"]])
def test_config_path_must_be_a_path(bad):
    with pytest.raises(SaltInvocationError, match="config_path"):
        chain_registry.config_path(bad)
    assert chain_registry.config_path("/x/config.json") == "/x/config.json"
