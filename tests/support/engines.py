"""The two local Docker engines the tests use, and what they saw happen.

`scripts/bootstrap` starts both: engine 1 on the default socket, engine 2 (the second "host")
on its own socket, data root and bridge.
"""

import contextlib
import time

import docker

ENGINES = {
    "engine1": "unix:///var/run/docker.sock",
    "engine2": "unix:///run/saltext-chain/docker2.sock",
}
TEST_LABEL = "saltext-chain.test"
BUSYBOX = "saltext-chain/busybox:latest"
DEBIAN = "saltext-chain/debian:bookworm"
REGISTRY = "127.0.0.1:5000"

# Engine actions that change something. None may happen during a test=True run.
MUTATING_ACTIONS = {
    "container": {"create", "start", "stop", "kill", "die", "destroy", "rename", "update", "restart",
                  "pause", "unpause"},  # exec_* come from health checks too
    "image": {"pull", "push", "tag", "untag", "delete", "import", "load", "build"},
    "network": {"create", "connect", "disconnect", "destroy", "remove"},
    "volume": {"create", "mount", "unmount", "destroy"},
}


def client(engine):
    return docker.DockerClient(base_url=ENGINES[engine], version="auto", timeout=60)


class EventRecorder:
    """Records the engine's event stream between `start()` and `stop()`."""

    def __init__(self, engine):
        self.engine = engine
        self.events = []

    def __enter__(self):
        self._client = client(self.engine)
        self._since = time.time()
        return self

    def __exit__(self, *exc):
        # Events are timestamped by the engine; ask for the whole window once it closed.
        until = time.time() + 0.5
        time.sleep(0.6)
        self.events = [
            e for e in self._client.api.events(since=int(self._since), until=until, decode=True)
            if e.get("timeNano", 0) / 1e9 >= self._since
        ]
        self._client.close()
        return False

    def mutations(self):
        return [
            (e.get("Type"), e.get("Action", "").split(":")[0], (e.get("Actor") or {}).get("Attributes", {}).get("name"))
            for e in self.events
            if e.get("Action", "").split(":")[0] in MUTATING_ACTIONS.get(e.get("Type"), ())
        ]

    def actions(self, type_="container"):
        return [e.get("Action", "").split(":")[0] for e in self.events if e.get("Type") == type_]


def cleanup(engine, label=TEST_LABEL):
    """Remove every container, network and volume that carries the test label."""
    with contextlib.closing(client(engine)) as c:
        for ctr in c.containers.list(all=True, filters={"label": label}):
            ctr.remove(force=True, v=True)
        for net in c.networks.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                net.remove()
        for vol in c.volumes.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                vol.remove(force=True)


def require_engines():
    missing = []
    for name, url in ENGINES.items():
        try:
            with contextlib.closing(docker.APIClient(base_url=url, version="auto", timeout=5)) as c:
                c.ping()
        except Exception:  # noqa: BLE001 - any failure means the engine is not there
            missing.append(f"{name} ({url})")
    return missing
