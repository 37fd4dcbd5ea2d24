"""The two local Docker engines the tests use, and what they saw happen.

`scripts/bootstrap` starts both: engine 1 on the default socket, engine 2 (the second "host")
on its own socket, data root and bridge.
"""

import contextlib
import os
import re
import secrets
import time

import docker

ENGINES = {
    "engine1": "unix:///var/run/docker.sock",
    "engine2": "unix:///run/saltext-chain/docker2.sock",
}
TEST_LABEL = "saltext-chain.test"
# This test session's id: every object a test creates carries ``TEST_LABEL=RUN`` and a name from
# ``name()``, and cleanup removes only objects with this run's label. Two sessions (or a running
# ``make chain``) on the same engines never see or remove each other's objects.
# Export CHAIN_TEST_RUN to pin it (e.g. to clean up after a crashed run).
RUN = os.environ.get("CHAIN_TEST_RUN") or secrets.token_hex(3)
if not re.fullmatch(r"[a-z0-9]{1,12}", RUN):
    raise ValueError(f"CHAIN_TEST_RUN must be 1-12 lowercase letters/digits, not {RUN!r}")
LABELS = {TEST_LABEL: RUN}
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


def name(base=""):
    """A name unique to this run: ``name("web")`` -> ``sc-<RUN>-web``."""
    return f"sc-{RUN}-{base}" if base else f"sc-{RUN}"


def owned(labels=None):
    """``labels`` plus this run's ownership label (for containers, networks, volumes)."""
    return {**(labels or {}), **LABELS}


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


def cleanup(engine, label=None):
    """Remove every container, network and volume that carries this run's label."""
    label = label or f"{TEST_LABEL}={RUN}"
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
