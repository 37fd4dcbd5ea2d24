"""chain_docker_client: client settings, TLS, and engine errors as typed chain_errors."""

import io
import re
import socket
import struct
import threading

import docker
import docker.errors
import docker.tls
import pytest
import requests
from saltext.chain.utils import chain_docker_client as dc
from saltext.chain.utils import chain_errors, chain_profiles


def _conn(**conf):
    return chain_profiles.docker_connection({"name": "p", **conf}, {})


def test_client_kwargs_always_carry_a_timeout():
    assert dc.client_kwargs(_conn()) == {"version": "auto", "timeout": 60}
    kwargs = dc.client_kwargs(
        _conn(
            base_url="tcp://127.0.0.1:2376",
            timeout=5,
            version="1.41",
            max_pool_size=3,
            user_agent="ua",
        )
    )
    assert kwargs == {
        "version": "1.41",
        "timeout": 5,
        "base_url": "tcp://127.0.0.1:2376",
        "max_pool_size": 3,
        "user_agent": "ua",
    }
    assert dc.client_kwargs(_conn(timeout=60), timeout=2)["timeout"] == 2


def test_tls_config(tmp_path):
    assert dc.tls_config(None) is None
    assert dc.tls_config(True).verify is True
    cert, key, ca = (tmp_path / n for n in ("cert.pem", "key.pem", "ca.pem"))
    for f in (cert, key, ca):
        f.write_text("x")
    tls = dc.tls_config({"client_cert": str(cert), "client_key": str(key), "ca_cert": str(ca)})
    assert isinstance(tls, docker.tls.TLSConfig)
    assert tls.cert == (str(cert), str(key)) and tls.ca_cert == str(ca) and tls.verify is True
    assert isinstance(dc.client_kwargs(_conn(tls=True))["tls"], docker.tls.TLSConfig)


def _api_error(status, explanation="engine says no"):
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError("x", response=response, explanation=explanation)


@pytest.mark.parametrize(
    "status, kind",
    [(404, chain_errors.NotFound), (409, chain_errors.Conflict), (500, chain_errors.BackendError)],
)
def test_engine_errors_are_typed_and_keep_the_engines_message(status, kind):
    def fail():
        raise _api_error(status)

    with pytest.raises(kind, match="inspect thing: engine says no") as err:
        dc.call("inspect thing", fail)
    assert type(err.value) is kind and err.value.status == status


def test_transport_errors_are_unreachable():
    def refused():
        raise requests.exceptions.ConnectionError("refused")

    def slow():
        raise requests.exceptions.ReadTimeout("read timed out")

    for func in (refused, slow):
        with pytest.raises(chain_errors.Unreachable, match="did not answer"):
            dc.call("ping", func)


def test_not_found_as_none_or_false_and_other_errors_raise():
    def missing():
        raise _api_error(404)

    assert dc.get_or_none("inspect", missing) is None
    assert dc.removed("remove", missing) is False
    assert dc.removed("remove", lambda: None) is True
    with pytest.raises(chain_errors.BackendError):
        dc.get_or_none("inspect", lambda: (_ for _ in ()).throw(_api_error(500)))


def test_programming_errors_are_not_swallowed():
    with pytest.raises(KeyError):
        dc.call("x", lambda: {}["k"])


def test_make_client_on_a_missing_socket_is_unreachable():
    where = "profile 'p' \\(unix:///nonexistent.sock\\)"
    with pytest.raises(chain_errors.Unreachable, match=where):
        dc.make_client(_conn(base_url="unix:///nonexistent.sock"))


def test_follow_a_progress_stream():
    assert dc.follow("push", [{"status": "x"}, {"aux": {"Digest": "sha256:1"}}]) == {
        "Digest": "sha256:1"
    }
    with pytest.raises(chain_errors.BackendError, match="pull a: denied"):
        dc.follow("pull a", [{"error": "first"}, {"error": "denied\n"}])


class _Client:
    chain_where = "profile 'p' (unix:///x.sock)"

    def __init__(self, error):
        self.error = error

    def inspect_container(self):
        raise self.error

    def push(self):
        def stream():
            yield {"status": "Pushing"}
            raise self.error

        return stream()


@pytest.mark.parametrize(
    "error, why",
    [
        (requests.exceptions.ConnectionError("('Connection aborted.', x)"), "dropped"),
        (requests.exceptions.ConnectionError("[Errno 111] Connection refused"), "refused"),
        (
            requests.exceptions.ReadTimeout("Read timed out. (read timeout=8)"),
            r"no answer within the timeout \(8s\)",
        ),
    ],
)
def test_an_engine_that_does_not_answer_is_named_by_its_profile(error, why):
    """A killed or frozen engine: one line naming the call, the profile and its URL, and why
    in a few words; also when it happens while a stream (a push's progress) is read."""
    client = _Client(error)
    with pytest.raises(chain_errors.Unreachable) as err:
        dc.call("inspect container web", client.inspect_container)
    text = str(err.value)
    assert text.startswith("inspect container web: the Docker engine of profile 'p' (unix:///x")
    assert re.search(why, text) and "\n" not in text, text
    stream = dc.call("push web", client.push)
    with pytest.raises(chain_errors.Unreachable, match=r"push web: the Docker engine of profile"):
        dc.follow("push web", stream)


def test_a_stream_that_is_not_an_engine_error_still_raises():
    def stream():
        yield {}
        raise KeyError("bug")

    with pytest.raises(KeyError):
        dc.follow("push", dc.call("push", stream))


def test_follow_asks_the_probe_while_the_engine_retries():
    asked = []

    def probe(answer):
        asked.append(answer)
        return answer

    retrying = [{"status": "Pushing"}, {"status": "Retrying in 5 seconds"}] * 3
    done = [{"aux": {"Digest": "sha256:1"}}]
    assert dc.follow("push a", iter(retrying + done), probe=lambda: probe(None))["Digest"]
    assert asked == [None]  # once a second at most
    with pytest.raises(chain_errors.Unreachable, match=r"push a: registry r gone \(the engine"):
        dc.follow("push a", iter(retrying + done), probe=lambda: probe("registry r gone"))
    # control: without a probe the same stream runs to its end
    assert dc.follow("push a", iter(retrying + done)) == {"Digest": "sha256:1"}


def test_a_registry_5xx_is_named_as_the_registrys_failure():
    error = {"error": "received unexpected HTTP status: 500 Internal Server Error"}
    with pytest.raises(chain_errors.BackendError, match="storage full or broken"):
        dc.follow("push a", [error])
    with pytest.raises(chain_errors.BackendError) as err:
        dc.follow("push a", [{"error": "denied: requested access to the resource is denied"}])
    assert "storage" not in str(err.value)


# --- An exec's output, read without loss -----------------------------------------------------


def _frame(stream, data):
    return struct.pack(">BxxxL", stream, len(data)) + data


@pytest.fixture
def upgrade_server(tmp_path):
    """A unix socket that answers every request as the engine answers an exec start, with the
    upgrade's headers and the whole output in one write (a short command, a slow client): what
    makes the output arrive in http.client's buffer with the headers."""
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(5)
    body = _frame(1, b"out\n") + _frame(2, b"err\n") + _frame(1, b"more\n")

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            while length and len(rest) < int(length.group(1)):
                rest += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + body
            )
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield "unix://" + path
    server.close()


def test_an_execs_output_that_came_with_the_headers_is_read(upgrade_server):
    """docker-py's exec_start loses it (the control: docker/docker-py#2042, the cause of
    ci42's empty exec output); ExecOutput reads it, stdout and stderr apart, in order."""
    client = docker.APIClient(base_url=upgrade_server, version="1.41", timeout=10)
    assert client.exec_start("x", demux=True) == (None, None)  # the SDK: nothing
    assert dc.ExecOutput(client).read("x") == (b"out\nmore\n", b"err\n")


def test_read_frames_stops_at_the_end_or_a_cut_frame():
    assert dc.read_frames(io.BytesIO(b"")) == (b"", b"")
    whole = _frame(1, b"a") + _frame(2, b"") + _frame(2, b"b")
    assert dc.read_frames(io.BytesIO(whole)) == (b"a", b"b")
    assert dc.read_frames(io.BytesIO(whole + _frame(1, b"cut")[:-1])) == (b"a" + b"cu", b"b")
    assert dc.read_frames(io.BytesIO(whole + b"\x01\x00")) == (b"a", b"b")  # a cut header
