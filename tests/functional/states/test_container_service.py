"""container_service.running against a real engine and a real HAProxy frontend (images/haproxy),
with the sample app (examples/app): first deploy, idempotence, a good rolling update and a bad
one rolled back, each under a steady load loop through the frontend that must see zero failed
requests; honest test mode; bad input refused before any I/O."""

import contextlib
import shutil
import threading
import time

import pytest
from saltext.chain.utils import chain_health

from tests.conftest import REPO
from tests.support import engines, local
from tests.support.engines import DEBIAN, EventRecorder
from tests.support.load import HEALTH, Load, versions
from tests.support.pressure import cpu_busy

ENGINE = "engine1"
UPDATE = {
    "parallelism": 1,
    "monitor": 4,
    "failure_action": "rollback",
    "order": "start-first",
    "progress_deadline": 60,
}


@pytest.fixture(scope="module")
def images(loaders, docker_engines, tmp_path_factory):
    """The frontend image, two good app versions and a bad one (its /health answers 503)."""
    mod = loaders.modules.container
    tag = engines.name("svc")
    out = {"haproxy": f"saltext-chain/{tag}-haproxy:1"}
    mod.image_build(
        out["haproxy"], str(REPO / "images" / "haproxy"), base_image=DEBIAN, profile=ENGINE
    )
    for version in ("1", "2"):
        out[f"v{version}"] = f"saltext-chain/{tag}-app:{version}"
        mod.image_build(
            out[f"v{version}"],
            str(REPO / "examples" / "app"),
            base_image=DEBIAN,
            buildargs={"APP_VERSION": version},
            profile=ENGINE,
        )
    bad = tmp_path_factory.mktemp("bad-app")
    shutil.copytree(REPO / "examples" / "app", bad, dirs_exist_ok=True)
    app = bad / "app.py"
    app.write_text(
        app.read_text().replace(
            '    """True when the service can serve requests."""\n    return True',
            "    return False",
        )
    )
    assert "return False" in app.read_text()
    out["bad"] = f"saltext-chain/{tag}-app:bad"
    mod.image_build(
        out["bad"], str(bad), base_image=DEBIAN, buildargs={"APP_VERSION": "bad"}, profile=ENGINE
    )
    yield out
    for ref in out.values():
        with contextlib.suppress(Exception):
            mod.image_remove(ref, force=True, profile=ENGINE)


@pytest.fixture
def frontend(loaders, states, images):
    """A network and an HAProxy frontend published on a free loopback port."""
    net, name, port = engines.name("svc-net"), engines.name("svc-fe"), local.free_port()
    loaders.modules.container.network_create(net, labels=dict(engines.LABELS), profile=ENGINE)
    ret = states.container.running(
        name,
        image=images["haproxy"],
        networks=[net],
        ports=[f"127.0.0.1:{port}:8080"],
        labels=dict(engines.LABELS),
        environment={"CHAIN_BACKEND": "app", "CHAIN_SLOTS": "8"},
        wait_healthy=True,
        health_timeout=30,
        profile=ENGINE,
    )
    assert ret.result is True, ret.comment
    yield {"name": name, "network": net, "port": port}
    engines.cleanup(ENGINE)


def _service(images, fe, version, **extra):
    return {
        "image": images[version],
        "replicas": 2,
        "frontend": fe["name"],
        "backend": "app",
        "network": fe["network"],
        "port": 8000,
        "healthcheck": HEALTH,
        "update": UPDATE,
        "labels": dict(engines.LABELS),
        "stop_timeout": 5,
        "profile": ENGINE,
        **extra,
    }


def _mutations(rec):
    """The recorder's mutations, without anonymous volume events (another session's container
    creating one: such an event carries neither a name nor an owner label; this service
    declares no volume)."""
    return [m for m in rec.mutations() if not (m[0] == "volume" and m[2] is None)]


def test_rollout_and_rollback_under_load_lose_no_request(states, modules, frontend, images):
    name, port = engines.name("svc"), frontend["port"]
    first = states.container_service.running(name, **_service(images, frontend, "v1"))
    assert first.result is True, first.comment
    assert first.changes["replicas"] == {"old": 0, "new": 2}
    assert versions(port) == {"1"}

    with EventRecorder(ENGINE) as rec:
        again = states.container_service.running(name, **_service(images, frontend, "v1"))
    assert again.result is True and again.changes == {}, (again.comment, again.changes)
    assert _mutations(rec) == []

    with EventRecorder(ENGINE) as rec:
        dry = states.container_service.running(name, test=True, **_service(images, frontend, "v2"))
    assert dry.result is None and set(dry.changes) >= {"generation", "image"}, dry.changes
    assert _mutations(rec) == []

    with Load(port) as good:
        ret = states.container_service.running(name, **_service(images, frontend, "v2"))
    assert ret.result is True, ret.comment
    good.assert_served(min_ok=50)
    assert good.versions == {"1", "2"}
    assert versions(port) == {"2"}
    status = modules.container_service.status(
        name, frontend=frontend["name"], backend="app", network=frontend["network"], profile=ENGINE
    )
    assert len(status["serving"]) == 2 and len(status["replicas"]) == 2, status
    v2_ref = status["current"]
    assert status["history"][0] == v2_ref and len(status["history"]) == 2

    with Load(port) as bad:
        ret = states.container_service.running(name, **_service(images, frontend, "bad"))
    assert ret.result is False, ret.comment
    assert "rolled back" in ret.comment and "unhealthy" in ret.comment, ret.comment
    assert ret.changes["rollback"]["new"] == v2_ref
    bad.assert_served(min_ok=50)
    assert bad.versions == {"2"}
    status = modules.container_service.status(
        name, frontend=frontend["name"], backend="app", network=frontend["network"], profile=ENGINE
    )
    assert status["current"] == v2_ref and len(status["serving"]) == 2, status


def test_stop_first_rollback_restarts_the_previous_containers(states, modules, frontend, images):
    """stop-first: the old replica is stopped (kept) before the new one starts; when the new
    one fails, that very container (same id, same image id) serves again."""
    name, port = engines.name("svc-sf"), frontend["port"]
    upd = dict(UPDATE, order="stop-first")
    assert (
        states.container_service.running(
            name, **_service(images, frontend, "v1", update=upd)
        ).result
        is True
    )
    before = modules.container_service.replicas(name, profile=ENGINE)
    with Load(port) as load:
        ret = states.container_service.running(
            name, **_service(images, frontend, "bad", update=upd)
        )
    assert ret.result is False and "rolled back" in ret.comment, ret.comment
    load.assert_served(min_ok=20)
    after = modules.container_service.replicas(name, profile=ENGINE)
    assert {r["id"]: r["image_id"] for r in after.values()} == {
        r["id"]: r["image_id"] for r in before.values()
    }
    assert all(r["running"] for r in after.values())


def test_monitor_shorter_than_the_health_window_is_refused(states):
    """Refused at validation, before any I/O: the profile points at an engine that does not
    exist, so any engine call would fail with a connection error instead."""
    nowhere = {"base_url": "unix:///nonexistent/saltext-chain.sock", "timeout": 2}
    ret = states.container_service.running(
        engines.name("svc-x"),
        image="saltext-chain/nothing:1",
        healthcheck=HEALTH,
        update={"monitor": 1},
        profile=nowhere,
    )
    assert ret.result is False and "update.monitor" in ret.comment and "window (4s" in ret.comment
    assert "\n" not in ret.comment and ret.changes == {}
    # and the same declaration with a long enough monitor does reach the (missing) engine:
    ret = states.container_service.running(
        engines.name("svc-x"),
        image="saltext-chain/nothing:1",
        healthcheck=HEALTH,
        update={"monitor": 4},
        profile=nowhere,
    )
    assert ret.result is False and "update.monitor" not in ret.comment, ret.comment


def test_the_registry_digest_is_recorded_for_a_registry_with_a_port_and_no_tag(
    states, modules, docker_engines, registry_credentials, tmp_path
):
    """The image reference a replica records is ``repo@sha256:...`` for an image of a
    registry with a port (``127.0.0.1:5000/...``), with or without a tag; it was the image
    id before (the reference was parsed by hand)."""
    repo = f"{engines.REGISTRY}/saltext-chain/sc-{engines.RUN}-svc-ref"
    spec = {"image": repo, "healthcheck": HEALTH}
    try:
        login = states.container_registry.logged_in(
            engines.REGISTRY,
            config_path=str(tmp_path / "docker-config.json"),  # the test's: gone with it
            profile=ENGINE,
        )
        assert login.result is True, login.comment
        pushed = states.container_image.present(
            name=f"{repo}:latest", source=engines.BUSYBOX, push=True, profile=ENGINE
        )
        assert pushed.result is True, pushed.comment
        for image in (repo, f"{repo}:latest"):
            want = modules.container_service.desired("svc-ref", image, spec, 8000, ENGINE)
            assert want["image_ref"].startswith(f"{repo}@sha256:"), (image, want)
            assert want["image_ref"] != want["image_id"]
    finally:
        modules.container.image_remove(f"{repo}:latest", force=True, profile=ENGINE)


# --- A blip is not a failure (issue 17) -----------------------------------------------------
# Health checks that fail exactly once, keyed on a file in the container, then run the app's
# own check. retries 1: that one failed probe makes Docker say "unhealthy" until the next one.

#: Fails its first probe (no /tmp/seen yet), then passes: a new replica's blip. The start
#: period (the app image says 3 s) ends before that probe, so Docker counts the failure.
FIRST_FAIL = {
    "test": "if [ ! -e /tmp/seen ]; then touch /tmp/seen; exit 1; fi; " + HEALTH["test"],
    "interval": "2s",
    "timeout": "3s",
    "start_period": "1s",
    "retries": 1,
}
#: Fails the one probe after /tmp/blip appears (a test puts it there), then passes: a blip of a
#: replica that was healthy. Unhealthy for one interval (5 s): long enough for any reader.
BLIP = {
    "test": "if [ -e /tmp/blip ]; then rm -f /tmp/blip; exit 1; fi; " + HEALTH["test"],
    "interval": "5s",
    "timeout": "3s",
    "retries": 1,
}


def _failed_probes(modules, cname):
    """How many of the container's last probes (Docker keeps 5) failed."""
    data = modules.container.inspect(cname, profile=ENGINE)
    return sum(1 for e in data["State"]["Health"]["Log"] if e["ExitCode"] != 0)


def _blip(modules, cname, timeout=20):
    """Make ``cname``'s next probe fail and wait until Docker says ``unhealthy``."""
    res = modules.container.exec(cname, ["touch", "/tmp/blip"], profile=ENGINE)
    assert res["retcode"] == 0, res
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        data = modules.container.inspect(cname, profile=ENGINE)
        if data["State"]["Health"]["Status"] == "unhealthy":
            return
        time.sleep(0.1)
    raise AssertionError(f"{cname} never went unhealthy")


def test_a_replica_that_fails_its_first_probe_passes_the_gate(states, modules, frontend, images):
    """Docker calls the new replica unhealthy after its first probe; the next one passes. The
    gate waits for it (its health window) instead of rolling back."""
    name = engines.name("svc-first")
    spec = _service(
        images, frontend, "v1", replicas=1, healthcheck=FIRST_FAIL, update=dict(UPDATE, monitor=5)
    )
    ret = states.container_service.running(name, **spec)
    assert ret.result is True, ret.comment
    (cname,) = modules.container_service.replicas(name, profile=ENGINE)
    assert _failed_probes(modules, cname) == 1  # the blip happened
    assert versions(frontend["port"]) == {"1"}


def test_a_blip_of_a_converged_service_is_waited_for_not_redeployed(
    states, modules, frontend, images
):
    """Under CPU pressure of the test's own, a replica of a converged service goes unhealthy
    for one probe: ``container_service.status`` (the runner's check) waits it out, and applying
    the same declaration again (the runner's no-op) changes nothing on the engine."""
    name = engines.name("svc-blip")
    spec = _service(images, frontend, "v1", healthcheck=BLIP, update=dict(UPDATE, monitor=8))
    spec["update"]["parallelism"] = 2
    first = states.container_service.running(name, **spec)
    assert first.result is True, first.comment
    where = {"frontend": frontend["name"], "network": frontend["network"], "profile": ENGINE}
    sick = sorted(modules.container_service.replicas(name, profile=ENGINE))[-1]
    with cpu_busy(processes=2, seconds=90):
        _blip(modules, sick)
        with EventRecorder(ENGINE) as rec:
            again = states.container_service.running(name, **spec)
        assert again.result is True and again.changes == {}, (again.comment, again.changes)
        assert _mutations(rec) == []

        _blip(modules, sick)
        glance = modules.container_service.status(name, settle=False, **where)
        assert glance["replicas"][sick]["health"] == "unhealthy"  # the control: one look sees it
        assert chain_health.problem(glance["replicas"], glance["serving"]) is not None
        status = modules.container_service.status(name, **where)
        assert chain_health.problem(status["replicas"], status["serving"]) is None, status
        assert status["waited"] > 0, status
    assert _failed_probes(modules, sick) >= 1


#: The app's check behind two switches a test flips in the container: /tmp/no answers no (exit
#: 1), /tmp/slow makes the probe outlast its 1 s timeout (a loaded engine's slow exec) while
#: the app itself serves. retries 2: twice the retries (4) in a row was a failure at once.
SWITCHED = dict(
    HEALTH,
    test="if [ -e /tmp/no ]; then exit 1; fi; if [ -e /tmp/slow ]; then sleep 3; fi; "
    + HEALTH["test"],
)


def _streak(modules, cname, at_least, timeout=40):
    """Wait until Docker counts ``at_least`` failed probes of ``cname`` in a row."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        health = modules.container.inspect(cname, profile=ENGINE)["State"]["Health"]
        if health["Status"] == "unhealthy" and health["FailingStreak"] >= at_least:
            return health
        time.sleep(0.2)
    raise AssertionError(f"{cname}: never {at_least} failed probes in a row: {health}")


def test_probes_that_only_time_out_are_waited_for_and_probes_that_answer_no_are_not(
    states, modules, frontend, images
):
    """A replica whose exec probes run out of their timeout four times in a row, the app
    serving all along (what CI saw of a loaded engine): ``container_service.status`` (the
    runner's check after a deploy) waits until the probes answer again, instead of judging it
    failed at twice its retries. The control: the same streak answered no is judged at once."""
    name = engines.name("svc-slowprobe")
    spec = _service(images, frontend, "v1", replicas=1, healthcheck=SWITCHED)
    assert states.container_service.running(name, **spec).result is True
    where = {"frontend": frontend["name"], "network": frontend["network"], "profile": ENGINE}
    (cname,) = modules.container_service.replicas(name, profile=ENGINE)
    exec_ = lambda *argv: modules.container.exec(cname, list(argv), profile=ENGINE)  # noqa: E731
    try:
        assert exec_("touch", "/tmp/slow")["retcode"] == 0
        health = _streak(modules, cname, 4)
        assert all(e["ExitCode"] == -1 for e in health["Log"][-4:]), health["Log"]
        assert versions(frontend["port"]) == {"1"}  # the app serves meanwhile
        # the engine gets faster 3 s after the status read begins
        later = threading.Timer(3, exec_, ("rm", "-f", "/tmp/slow"))
        later.start()
        try:
            status = modules.container_service.status(name, **where)
        finally:
            later.join()
        assert chain_health.problem(status["replicas"], status["serving"]) is None, status
        assert status["waited"] >= 3, status  # it found the replica unhealthy and waited

        assert exec_("touch", "/tmp/no")["retcode"] == 0
        _streak(modules, cname, 4)
        status = modules.container_service.status(name, **where)
        assert chain_health.problem(status["replicas"], status["serving"]) == (
            f"not healthy: {cname}"
        ), status
        assert status["replicas"][cname]["timed_out"] is False
        assert status["waited"] < chain_health.SLOW_PROBE_PATIENCE, status
    finally:
        exec_("rm", "-f", "/tmp/no", "/tmp/slow")


def test_container_running_waits_for_a_first_probe_that_fails(states, modules):
    """container.running's readiness (wait_healthy): a container whose first probe fails, then
    passes, is healthy, not failed at its first unhealthy look."""
    cname = engines.name("first-fail")
    try:
        ret = states.container.running(
            cname,
            image=engines.BUSYBOX,
            command=engines.stoppable("sleep 600"),
            healthcheck={
                "test": "if [ ! -e /tmp/seen ]; then touch /tmp/seen; exit 1; fi",
                "interval": "2s",
                "timeout": "2s",
                "retries": 1,
            },
            labels=dict(engines.LABELS),
            wait_healthy=True,
            health_timeout=30,
            profile=ENGINE,
        )
        assert ret.result is True, ret.comment
        assert _failed_probes(modules, cname) == 1
    finally:
        modules.container.remove(cname, force=True, profile=ENGINE)
