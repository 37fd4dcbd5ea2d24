"""tests/support/load.py: a request that fails in any way (a wrong body included) is counted,
never the silent end of a client thread; more than one client; assert_served wants a minimum of
good requests. Against a throwaway HTTP server on 127.0.0.1."""

import contextlib
import http.server
import threading

import pytest

from tests.support.load import Load


@contextlib.contextmanager
def _server(body):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    "body", [b"not json", b'{"no_version": 1}'], ids=["ValueError", "KeyError"]
)
def test_a_body_that_is_not_a_version_is_a_failed_request(body):
    with _server(body) as port, Load(port) as load:
        pass
    assert load.ok == 0
    assert len(load.failed) >= 2, load.failed  # both clients, every request
    assert all(not t.is_alive() for t in load._threads)
    with pytest.raises(AssertionError, match="failed"):
        load.assert_served(1)


def test_good_requests_are_counted_from_every_client_and_a_minimum_is_asserted():
    with _server(b'{"version": "7"}') as port, Load(port, clients=3) as load:
        pass
    assert load.failed == [] and load.versions == {"7"}
    assert load.ok >= 3 * 20, load.ok  # 1 s of three clients at one request per 20 ms
    load.assert_served(3 * 20)
    with pytest.raises(AssertionError, match="good requests"):
        load.assert_served(load.ok + 1)


def test_one_client_is_not_a_load():
    with pytest.raises(ValueError, match="more than one client"):
        Load(1, clients=1)
