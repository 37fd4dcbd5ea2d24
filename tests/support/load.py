"""A steady, bounded request load through a frontend on 127.0.0.1: ``clients`` threads, each one
request every 20 ms, counting the requests that succeeded, those that failed (any exception, a
wrong status or a body that is not the app's version) and the app versions that answered; the
sample app's health check as the chain tests declare it.

A rollout test under load asserts both sides: ``load.assert_served(min_ok)``, no failed request
and at least ``min_ok`` good ones (a load that never ran is no evidence)."""

import http.client
import json
import pathlib
import threading
import time

import yaml

# examples/app's /health, checked every second (the tests' update monitors are sized on it):
# the chain formula's default, so the tests run the check users get
HEALTH = yaml.safe_load(
    (pathlib.Path(__file__).resolve().parents[2] / "formulas/chain/defaults.yaml").read_text()
)["chain"]["service"]["healthcheck"]
#: what that check prints when /health answers 503
HEALTH_503 = "GET /health: HTTP 503"


def get(port, path="/version", host="127.0.0.1", timeout=5):
    """``(status, body)`` of one GET."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def versions(port, n=20):
    return {json.loads(get(port)[1])["version"] for _ in range(n)}


class Load:
    """``with Load(port) as load: ...``; then ``load.assert_served(min_ok)``."""

    def __init__(self, port, limit=20000, clients=2, host="127.0.0.1"):
        if clients < 2:
            raise ValueError("a load is more than one client: concurrent requests meet a switch")
        self.port, self.limit, self.clients, self.host = port, limit, clients, host
        self.ok, self.failed, self.versions = 0, [], set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _one(self):
        try:
            status, body = get(self.port, host=self.host)
            if status != 200:
                return f"HTTP {status}"
            version = json.loads(body)["version"]
        except Exception as err:  # noqa: BLE001 - every way a request can fail is a failure
            return repr(err)
        with self._lock:
            self.ok += 1
            self.versions.add(version)
        return None

    def _loop(self):
        try:
            while not self._stop.is_set() and self.ok + len(self.failed) < self.limit:
                error = self._one()
                if error:
                    with self._lock:
                        self.failed.append(error)
                time.sleep(0.02)
        except BaseException as err:  # a client that dies is a failure too, never a silence
            self.failed.append(f"client died: {err!r}")
            raise

    def __enter__(self):
        self._threads = [
            threading.Thread(target=self._loop, daemon=True, name=f"load-{self.port}-{i}")
            for i in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
            if thread.is_alive():
                self.failed.append(f"{thread.name} did not stop within 10 s")
        return False

    def assert_served(self, min_ok):
        """No failed request, and at least ``min_ok`` that succeeded."""
        assert self.failed == [], f"{len(self.failed)} failed: {self.failed[:5]}"
        assert self.ok >= min_ok, f"only {self.ok} good requests (at least {min_ok} wanted)"
