"""The chain's sample application: a small HTTP service.

``/`` greets, ``/health`` answers 200 when the service can serve (the health gate of a rollout
and HAProxy's server check), ``/version`` tells which build runs (``APP_VERSION`` and
``APP_COMMIT``, set when the image is built). Standard library only.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "dev")
COMMIT = os.environ.get("APP_COMMIT", "unknown")


def healthy():
    """True when the service can serve requests."""
    return True


def greeting(version=VERSION):
    return f"hello from the chain's sample app, version {version}\n"


def route(path):
    """``(status, content type, body)`` for a request path."""
    path = path.split("?", 1)[0]
    if path == "/health":
        ok = healthy()
        return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"unhealthy\n"
    if path == "/version":
        body = json.dumps({"version": VERSION, "commit": COMMIT}).encode() + b"\n"
        return 200, "application/json", body
    if path == "/":
        return 200, "text/plain", greeting().encode()
    return 404, "text/plain", b"not found\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the http.server API
        status, ctype, body = route(self.path)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one line per request on stderr, like an access log
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


def _stop(signum, frame):  # noqa: ARG001 - the signal handler signature
    """``docker stop`` sends SIGTERM; as PID 1 the default action would be to ignore it, and the
    engine would kill the container only after its grace period."""
    sys.exit(0)


def main(port=None):
    port = int(port or os.environ.get("APP_PORT", "8000"))
    signal.signal(signal.SIGTERM, _stop)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    print(f"app {VERSION} ({COMMIT}) listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
