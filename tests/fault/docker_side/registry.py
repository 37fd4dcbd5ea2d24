"""A registry of the test's own, as a container of the private engine, and a loopback TCP relay
in front of it that sees the engine's requests: a test kills the registry the moment the engine
starts uploading (or downloading) a layer, not after a guessed sleep.

The registry is Debian's ``docker-registry`` (the one scripts/bootstrap serves on :5000),
bind-mounted read-only into the busybox image with the libraries it links (``ldd``), without
auth, its storage a host directory or a small tmpfs.
"""

import contextlib
import http.client
import pathlib
import re
import socket
import subprocess
import threading
import time

from tests.support import engines, local

BINARY = "/usr/bin/docker-registry"
CONFIG = (
    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
    "    rootdirectory: /var/lib/registry\n  delete:\n    enabled: true\n"
    "http:\n  addr: 0.0.0.0:5000\n"
)


def _libraries():
    out = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout
    return sorted(set(re.findall(r"(/\S+\.so[.\d]*)", out)))


class Registry:
    """``docker-registry`` in a container named ``name`` of the private engine, published on
    127.0.0.1:``port`` (its own loopback port; the relay's is ``address``)."""

    def __init__(self, engine, workdir, data=None, tmpfs_size=None):
        self.api = engine.api(timeout=30)
        self.name = engines.name(f"reg{local.free_port()}")
        self.port = local.free_port()
        conf = pathlib.Path(workdir) / "registry-conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "config.yml").write_text(CONFIG)
        binds = [f"{BINARY}:{BINARY}:ro", f"{conf}:/etc/registry:ro"]
        binds += [f"{lib}:{lib}:ro" for lib in _libraries()]
        if data:
            binds.append(f"{data}:/var/lib/registry")
        host = self.api.create_host_config(
            binds=binds,
            port_bindings={5000: ("127.0.0.1", self.port)},
            tmpfs={"/var/lib/registry": f"size={tmpfs_size}"} if tmpfs_size else None,
        )
        self.api.create_container(
            engines.BUSYBOX,
            [BINARY, "serve", "/etc/registry/config.yml"],
            name=self.name,
            host_config=host,
            ports=[5000],
            labels=dict(engines.LABELS),
        )
        self.start()

    def start(self):
        self.api.start(self.name)
        deadline = time.monotonic() + 30
        while not self.answers():
            assert time.monotonic() < deadline, self.api.logs(self.name)[-2000:]
            time.sleep(0.1)

    def answers(self, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=2)
        try:
            conn.request("GET", "/v2/")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def kill(self):
        self.api.kill(self.name)

    def digest(self, repo, tag, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=5)
        try:
            conn.request(
                "HEAD",
                f"/v2/{repo}/manifests/{tag}",
                headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            )
            resp = conn.getresponse()
            return resp.getheader("Docker-Content-Digest") if resp.status == 200 else None
        finally:
            conn.close()

    def close(self):
        with contextlib.suppress(Exception):
            self.api.remove_container(self.name, force=True, v=True)
        self.api.close()


class Relay:
    """127.0.0.1:``port`` -> the registry's port. ``on(pattern, action)``: ``action()`` runs
    once, before the request whose bytes match ``pattern`` reaches the registry."""

    def __init__(self, target_port):
        self.target = target_port
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._trigger = None
        self.fired = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def on(self, pattern, action):
        self.fired.clear()
        self._trigger = (re.compile(pattern), action)

    def _accept(self):
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, src, dst, watch):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                trigger = self._trigger
                if watch and trigger and not self.fired.is_set() and trigger[0].search(data):
                    self.fired.set()
                    trigger[1]()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self):
        self._sock.close()
