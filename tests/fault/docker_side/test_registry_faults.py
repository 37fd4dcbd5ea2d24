"""Faults 3 and 8: the registry killed (``docker kill`` of its container) while the engine pushes
a built image and while a rollout pulls one; the registry's storage full (a small tmpfs of its
own). A clear failure, the built image kept (the next run pushes it without rebuilding), a
rollout that cannot pull changes nothing, a full registry keeps serving what it had."""

import contextlib
import os
import time

import pytest

from tests.fault.docker_side.helpers import Background
from tests.fault.docker_side.registry import Registry, Relay
from tests.support import engines

pytestmark = pytest.mark.fault

BIG = 24 * 1024 * 1024  # a layer of random bytes: the push and pull take a moment


@pytest.fixture
def context(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "big").write_bytes(os.urandom(BIG))
    (ctx / "Dockerfile").write_text(f"FROM {engines.BUSYBOX}\nCOPY big /big\n")
    return ctx


@pytest.fixture
def registry(private_engine, tmp_path):
    data = tmp_path / "registry-data"
    data.mkdir()
    reg = Registry(private_engine, tmp_path, data=data)
    relay = Relay(reg.port)
    yield reg, relay
    relay.close()
    reg.close()


def _clear(comment, what):
    assert "Traceback" not in comment, comment
    first = comment.splitlines()[0]
    assert first.startswith(what), comment
    return first


def _killed_in_a_push_and_in_a_pull(modules, states, registry, context):
    reg, relay = registry
    repo = f"{engines.name('pushed')}"
    ref = f"127.0.0.1:{relay.port}/{repo}:1"

    # 1. killed once the engine starts uploading a layer of the image it just built
    relay.on(rb"POST /v2/[^ ]*/blobs/uploads/", reg.kill)
    started = time.monotonic()
    ret = states.container_image.present(ref, build=str(context), push=True)
    took = time.monotonic() - started
    assert relay.fired.is_set(), "the push never reached the registry"
    assert ret.result is False, ret.comment
    first = _clear(ret.comment, f"push {ref}: registry 127.0.0.1:{relay.port} did not answer")
    print(f"\nregistry killed in a push ({took:.1f}s): {first}")
    assert took < 30, took  # not the engine's five attempts (about 50 s)
    kept = modules.container.image_inspect(ref)
    assert kept is not None, "the built image was lost"

    reg.start()
    started = time.monotonic()
    again = states.container_image.present(ref, build=str(context), push=True)
    assert again.result is True, again.comment
    assert "image_id" not in again.changes, again.changes  # not rebuilt
    assert modules.container.image_inspect(ref)["Id"] == kept["Id"]
    assert reg.digest(repo, "1"), "the image is not in the registry"
    print(f"pushed by the next run in {time.monotonic() - started:.1f}s: {again.comment}")

    # 2. killed when a rollout's pull starts downloading a layer: nothing of the service changes
    svc = engines.name("pullsvc")
    spec = {
        "replicas": 1,
        "command": engines.stoppable("sleep 3600"),
        "healthcheck": {"test": "true", "interval": "1s", "timeout": "1s", "retries": 1},
        "update": {"monitor": 2},
        "labels": dict(engines.LABELS),
        "stop_timeout": 1,
    }
    ok = states.container_service.running(svc, image=engines.BUSYBOX, **spec)
    assert ok.result is True, ok.comment
    before = modules.container_service.replicas(svc)
    assert modules.container.image_remove(ref, force=True)
    # gone from the engine, not only untagged: the pull must fetch it from the registry
    assert modules.container.image_inspect(kept["Id"]) is None, "the image is still there"
    relay.on(rb"GET /v2/[^ ]*/blobs/sha256:", reg.kill)
    started = time.monotonic()
    ret = states.container_service.running(svc, image=ref, **spec)
    took = time.monotonic() - started
    assert relay.fired.is_set(), "the pull never reached the registry"
    assert ret.result is False, ret.comment
    # the layers' downloads are retried (then the probe says the registry is gone); the
    # image's config is fetched once, and its failure may come first: either is one line
    first = _clear(ret.comment, f"pull {ref}: ")
    print(f"registry killed in a rollout's pull ({took:.1f}s): {first}")
    assert took < 30, took
    after = modules.container_service.replicas(svc)
    assert after.keys() == before.keys(), (before, after)
    assert all(r["running"] for r in after.values()), after

    reg.start()
    done = states.container_service.running(svc, image=ref, **spec)
    assert done.result is True, done.comment
    now = modules.container_service.replicas(svc).values()
    # the replicas record the reference by its registry digest (repo@sha256:...)
    assert {r["image"].split("@")[0] for r in now if r["running"]} == {ref.rsplit(":", 1)[0]}


class _FullRegistry:
    """Fault 8, run beside the others (the engine retries a push to a registry that answers
    500 five times, about 50 s: waiting for it alone would cost that much): a registry on a
    12 MB tmpfs holding one small image, then the push of a bigger one."""

    def __init__(self, private_engine, modules, states, tmp_path, context):
        self.modules = modules
        self.reg = Registry(private_engine, tmp_path, tmpfs_size="12m")
        self.repo = engines.name("small")
        self.small = f"127.0.0.1:{self.reg.port}/{self.repo}:1"
        modules.container.image_tag(engines.BUSYBOX, self.small)
        first = states.container_image.present(self.small, source=engines.BUSYBOX, push=True)
        assert first.result is True, first.comment
        self.had = self.reg.digest(self.repo, "1")
        assert self.had
        self.big = f"127.0.0.1:{self.reg.port}/{engines.name('big')}:1"
        # an image of its own: built from the killed push's context, the two tags shared one
        # image, whose removal by one tag left it in the engine, so the pull under test found
        # it there and never asked the registry (ci46)
        own = tmp_path / "ctx-full"
        own.mkdir()
        os.link(context / "big", own / "big")
        (own / "Dockerfile").write_text(
            (context / "Dockerfile").read_text() + "LABEL org.saltext-chain.test-image=full\n"
        )
        self.push = Background(states.container_image.present, self.big, build=str(own), push=True)

    def check(self):
        ret = self.push.result(timeout=120)
        took = time.monotonic() - self.push.started
        assert ret.result is False, ret.comment
        line = _clear(ret.comment, f"push {self.big}: ")
        assert "storage full or broken" in line, line
        print(f"full registry ({took:.1f}s): {line}")
        assert self.modules.container.image_inspect(self.big) is not None  # the build is kept
        # what it had, it still serves: the manifest, and a pull of it
        assert self.reg.digest(self.repo, "1") == self.had
        assert self.modules.container.image_remove(self.small)
        assert self.modules.container.image_pull(self.small)["id"]

    def close(self):
        if not self.push.done():
            with contextlib.suppress(Exception):
                self.push.result(timeout=120)
        self.reg.close()


def test_registry_killed_and_full(
    private_engine, modules, states, registry, context, tmp_path, clean
):
    full = _FullRegistry(private_engine, modules, states, tmp_path, context)
    try:
        _killed_in_a_push_and_in_a_pull(modules, states, registry, context)
        full.check()
    finally:
        full.close()
