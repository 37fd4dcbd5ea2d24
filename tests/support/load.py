"""A steady, bounded request loop through a frontend on 127.0.0.1 (one request every 20 ms),
counting failed requests and the app versions that answered; the sample app's health check as
the chain tests declare it."""

import http.client
import json
import threading
import time

# examples/app's /health, checked every second (the tests' update monitors are sized on it)
HEALTH = {
    "test": 'python3 -c "import urllib.request as u; '
    "u.urlopen('http://127.0.0.1:8000/health', timeout=1)\"",
    "interval": "1s",
    "timeout": "1s",
    "retries": 2,
}


def get(port, path="/version"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def versions(port, n=20):
    return {json.loads(get(port)[1])["version"] for _ in range(n)}


class Load:
    def __init__(self, port, limit=20000):
        self.port, self.limit = port, limit
        self.ok, self.failed, self.versions = 0, [], set()
        self._stop = threading.Event()

    def _loop(self):
        while not self._stop.is_set() and self.ok + len(self.failed) < self.limit:
            try:
                status, body = get(self.port)
                if status == 200:
                    self.ok += 1
                    self.versions.add(json.loads(body)["version"])
                else:
                    self.failed.append(f"HTTP {status}")
            except (OSError, http.client.HTTPException) as err:
                self.failed.append(repr(err))
            time.sleep(0.02)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self._stop.set()
        self._thread.join(10)
        return False
