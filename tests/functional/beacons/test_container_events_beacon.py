"""The container_events beacon against the real engines: deaths, health, filters, reconnects."""

import contextlib
import copy
import os
import socket
import sys
import threading
import time

import docker.errors
import pytest
import salt.loader

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL

pytestmark = pytest.mark.docker

DEADLINE = 20
# A profile for an engine that comes and goes (see SocketForwarder); its socket starts absent.
FLAKY_SOCKET = f"/tmp/sc-fwd-{os.getpid()}.sock"


@pytest.fixture
def beacons(loaders, docker_engines):
    """Salt's beacon loader on the functional minion's config plus a profile `flaky`."""
    opts = copy.deepcopy(loaders.opts)
    opts["container"]["profiles"]["flaky"] = {"base_url": f"unix://{FLAKY_SOCKET}", "timeout": 10}
    modules = salt.loader.minion_mods(opts, context={}, loaded_base_name=loaders.loaded_base_name)
    loader = salt.loader.beacons(
        opts, modules, context={}, loaded_base_name=loaders.loaded_base_name
    )
    opened = []

    class Beacon:
        def __init__(self, name, **options):
            self.config = [{key: value} for key, value in options.items()]
            self.config.append({"_beacon_name": name})
            opened.append(self.config)

        def __call__(self):
            return loader["container_events.beacon"](copy.deepcopy(self.config))

        def until(self, predicate, deadline=DEADLINE):
            """Run the beacon like the minion's loop does until `predicate(events)` holds."""
            seen = []
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                seen.extend(self())
                if predicate(seen):
                    return seen
                time.sleep(0.25)
            pytest.fail(f"beacon events after {deadline}s did not match: {seen}")

    Beacon.loader = loader
    yield Beacon
    for config in opened:
        loader["container_events.close"](config)
    _remove_created()


_CREATED = []


def _run(engine, name, command, labels=None, **kwargs):
    with contextlib.closing(engines.client(engine)) as client:
        ctr = client.containers.run(
            BUSYBOX,
            command,
            name=name,
            detach=True,
            labels={TEST_LABEL: RUN, **(labels or {})},
            **kwargs,
        )
    _CREATED.append((engine, ctr.id))
    return ctr.id


def _remove_created():
    """Remove this test's containers (by id: other sessions may share the engines and label)."""
    while _CREATED:
        engine, ctr_id = _CREATED.pop()
        with contextlib.closing(engines.client(engine)) as client:
            # Gone already, or being removed by someone else's label cleanup: fine either way.
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.api.remove_container(ctr_id, force=True, v=True)


def _of(events, action, name):
    return [e for e in events if e["action"] == action and e["name"] == name]


def _wait_queued(beacon_name, container, timeout=20):
    """Wait until the beacon's watcher has queued ``container``'s event (it reads the engine's
    stream in its own thread: on a loaded machine that takes a while), without draining it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for module in list(sys.modules.values()):
            for key, watcher in list((getattr(module, "_WATCHERS", None) or {}).items()):
                if isinstance(key, tuple) and key[0] == beacon_name:
                    if any(item.get("name") == container for item in list(watcher.queue)):
                        return
        time.sleep(0.05)
    raise AssertionError(f"the {beacon_name} watcher queued nothing of {container} in {timeout}s")


def _watcher_threads():
    return [t for t in threading.enumerate() if t.name.startswith("container_events[")]


def test_die_and_healthy_events(beacons, engine):
    beacon = beacons(f"ce-{engine}", profile=engine)
    assert beacon() == []  # starts following the engine
    threads = len(_watcher_threads())
    die_id = _run(
        engine, f"sc-{RUN}-ev-die", ["sh", "-c", "exit 3"], labels={"app": f"sc-{RUN}-ev"}
    )
    _run(
        engine,
        f"sc-{RUN}-ev-health",
        ["sleep", "60"],
        healthcheck={"test": ["CMD", "true"], "interval": 300_000_000, "retries": 1},
    )
    events = beacon.until(
        lambda ev: (
            _of(ev, "die", f"sc-{RUN}-ev-die")
            and any(
                e["status"] == "healthy" for e in _of(ev, "health_status", f"sc-{RUN}-ev-health")
            )
        )
    )

    (die,) = _of(events, "die", f"sc-{RUN}-ev-die")
    assert die["tag"] == f"die/sc-{RUN}-ev-die"
    assert die["exit_code"] == 3
    assert die["status"] is None
    assert die["container_id"] == die_id
    assert die["image"] == BUSYBOX
    # The container's labels (its image's included), without the engine's other attributes.
    assert {TEST_LABEL: RUN, "app": f"sc-{RUN}-ev"}.items() <= die["labels"].items()
    assert not {"name", "image", "exitCode", "execDuration"} & set(die["labels"])
    assert die["engine"] == engine
    assert abs(die["time"] - time.time()) < DEADLINE + 5

    healthy = [
        e for e in _of(events, "health_status", f"sc-{RUN}-ev-health") if e["status"] == "healthy"
    ]
    assert healthy[0]["tag"] == f"health_status/sc-{RUN}-ev-health"
    assert healthy[0]["exit_code"] is None
    assert healthy[0]["engine"] == engine
    # Each engine event is delivered once, even though the beacon ran many times.
    assert len(_of(events, "die", f"sc-{RUN}-ev-die")) == 1
    # Every run reused the one thread the first run started.
    assert len(_watcher_threads()) == threads


def test_label_and_action_filters(beacons, docker_engines):
    filtered = beacons("ce-filtered", actions=["die"], labels=[f"app=sc-{RUN}-ev"])
    everything = beacons("ce-all")  # the minion's default profile: engine1
    assert filtered() == [] and everything() == []
    _run(
        "engine1",
        f"sc-{RUN}-ev-app",
        ["sh", "-c", "exit 1"],
        labels={"app": f"sc-{RUN}-ev", "tier": "web"},
    )
    _run("engine1", f"sc-{RUN}-ev-other", ["sh", "-c", "exit 2"], labels={"app": "other"})
    _run(
        "engine1",
        f"sc-{RUN}-ev-app-health",
        ["sleep", "60"],
        labels={"app": f"sc-{RUN}-ev"},
        healthcheck={"test": ["CMD", "true"], "interval": 300_000_000, "retries": 1},
    )

    seen = everything.until(
        lambda ev: (
            _of(ev, "die", f"sc-{RUN}-ev-app")
            and _of(ev, "die", f"sc-{RUN}-ev-other")
            and _of(ev, "health_status", f"sc-{RUN}-ev-app-health")
        )
    )
    assert _of(seen, "die", f"sc-{RUN}-ev-other")[0]["exit_code"] == 2
    assert {TEST_LABEL: RUN, "app": f"sc-{RUN}-ev", "tier": "web"}.items() <= _of(
        seen, "die", f"sc-{RUN}-ev-app"
    )[0]["labels"].items()

    # Everything the unfiltered beacon saw has happened, so the filtered one has it queued too.
    got = filtered()
    assert [(e["action"], e["name"]) for e in got] == [("die", f"sc-{RUN}-ev-app")]
    assert got[0]["exit_code"] == 1
    assert got[0]["labels"] == {"app": f"sc-{RUN}-ev"}  # only the labels the config names
    assert filtered() == []


class SocketForwarder:
    """A unix socket that forwards to engine1's: an engine we can take away and bring back."""

    def __init__(self, path, target="/var/run/docker.sock"):
        self.path, self.target = path, target
        self._server = None
        self._conns = []
        self._lock = threading.Lock()

    def start(self):
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(16)
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def test_engine_not_up_yet_then_up_then_gone_and_back(beacons):
    engine = SocketForwarder(FLAKY_SOCKET)
    beacon = beacons("ce-flaky", profile="flaky")
    try:
        # No engine behind the profile yet: nothing, and no exception, run after run.
        started = time.monotonic()
        for _ in range(6):
            assert beacon() == []
            time.sleep(0.25)
        assert time.monotonic() - started < 5
        assert [t.name for t in _watcher_threads()].count("container_events[flaky]") == 1

        # The engine comes up: the thread connects by itself and events flow.
        engine.start()
        _run("engine1", f"sc-{RUN}-ev-first", ["sh", "-c", "exit 4"])
        (first,) = _of(
            beacon.until(lambda ev: _of(ev, "die", f"sc-{RUN}-ev-first")),
            "die",
            f"sc-{RUN}-ev-first",
        )
        assert first["exit_code"] == 4 and first["engine"] == "flaky"

        # The engine goes away; a container dies meanwhile; the engine comes back.
        engine.stop()
        assert beacon() == []
        _run("engine1", f"sc-{RUN}-ev-missed", ["sh", "-c", "exit 5"])
        with contextlib.closing(engines.client("engine1")) as client:
            client.api.wait(f"sc-{RUN}-ev-missed", timeout=10)
        time.sleep(1)
        assert beacon() == []
        engine.start()
        # Replayed from the engine's own buffer on reconnect: not lost, and delivered once.
        events = beacon.until(lambda ev: _of(ev, "die", f"sc-{RUN}-ev-missed"))
        assert [e["exit_code"] for e in _of(events, "die", f"sc-{RUN}-ev-missed")] == [5]
        assert not _of(events, "die", f"sc-{RUN}-ev-first")
    finally:
        engine.stop()


def test_close_stops_the_thread_and_the_next_run_restarts_it(beacons):
    beacon = beacons("ce-close", profile="engine2")
    assert beacon() == []
    assert "container_events[engine2]" in [t.name for t in _watcher_threads()]
    beacons.loader["container_events.close"](copy.deepcopy(beacon.config))
    end = time.monotonic() + 5
    while (
        "container_events[engine2]" in [t.name for t in _watcher_threads()]
        and time.monotonic() < end
    ):
        time.sleep(0.1)
    assert "container_events[engine2]" not in [t.name for t in _watcher_threads()]
    assert beacon() == []
    _run("engine2", f"sc-{RUN}-ev-after-close", ["sh", "-c", "exit 6"])
    events = beacon.until(lambda ev: _of(ev, "die", f"sc-{RUN}-ev-after-close"))
    assert _of(events, "die", f"sc-{RUN}-ev-after-close")[0]["exit_code"] == 6


def test_queue_is_bounded_and_keeps_the_newest(beacons):
    # Only this run's containers: other sessions' die events on the shared engine would fill it.
    beacon = beacons(
        "ce-bounded",
        profile="engine2",
        queue_size=2,
        actions=["die"],
        labels=[f"{TEST_LABEL}={RUN}"],
    )
    assert beacon() == []
    since = time.time()
    names = [f"sc-{RUN}-ev-q{code}" for code in (1, 2, 3)]
    with contextlib.closing(engines.client("engine2")) as client:
        for code, name in zip((1, 2, 3), names, strict=True):
            _run("engine2", name, ["sh", "-c", f"exit {code}"])
            assert client.api.wait(name, timeout=10)["StatusCode"] == code
        # The engine has published the last die; give the beacon's stream reader a margin.
        last = client.api.events(
            since=int(since),
            until=time.time() + 1,
            decode=True,
            filters={"event": "die", "container": names[2]},
        )
        assert list(last), "the engine did not publish the last die event"
    _wait_queued("ce-bounded", names[2])
    events = beacon()
    # Exactly the two newest: an empty (or short) delivery fails instead of passing.
    assert [(e["action"], e["name"], e["exit_code"]) for e in events] == [
        ("die", names[1], 2),
        ("die", names[2], 3),
    ], events
    assert beacon() == []


def test_changing_the_profile_switches_engines(beacons):
    first = beacons("ce-switch", profile="engine1")
    assert first() == []
    assert "container_events[engine1]" in [t.name for t in _watcher_threads()]
    second = beacons("ce-switch", profile="engine2")  # same beacon, as after beacons.modify
    assert second() == []
    end = time.monotonic() + 5
    while (
        "container_events[engine1]" in [t.name for t in _watcher_threads()]
        and time.monotonic() < end
    ):
        time.sleep(0.1)
    assert "container_events[engine1]" not in [t.name for t in _watcher_threads()]
    _run("engine2", f"sc-{RUN}-ev-switched", ["sh", "-c", "exit 7"])
    events = second.until(lambda ev: _of(ev, "die", f"sc-{RUN}-ev-switched"))
    assert _of(events, "die", f"sc-{RUN}-ev-switched")[0]["engine"] == "engine2"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"actions": ["die", "start"]}, "unknown action(s) start"),
        ({"actions": "die"}, "actions must be a non-empty list"),
        ({"labels": "app"}, "labels must be a list"),
        ({"profile": {"base_url": "unix:///x", "colour": "red"}}, "unknown profile key(s): colour"),
        ({"profile": 3}, "profile must be a name or a dict"),
        ({"queue_size": 0}, "queue_size must be a positive integer"),
        ({"evnets": ["die"]}, "unknown option(s): evnets"),
    ],
)
def test_validate_rejects_bad_configuration(beacons, config, message):
    valid, comment = beacons.loader["container_events.validate"]([config])
    assert valid is False
    assert message in comment
    # Run anyway (as a direct call would): no exception, no events, no thread.
    before = len(_watcher_threads())
    assert beacons.loader["container_events.beacon"]([config, {"_beacon_name": "ce-bad"}]) == []
    assert len(_watcher_threads()) == before


def test_validate_accepts_salt_options_and_a_dict(beacons):
    validate = beacons.loader["container_events.validate"]
    assert (
        validate(
            [
                {"profile": "engine1"},
                {"actions": ["oom"]},
                {"labels": ["a", "b=c"]},
                {"interval": 5},
                {"disable_during_state_run": True},
                {"queue_size": 10},
            ]
        )[0]
        is True
    )
    assert validate({"actions": ["die"]})[0] is False  # beacons are configured as lists


def test_unknown_profile_name_returns_nothing(beacons):
    assert beacons("ce-unknown", profile="no-such-profile")() == []
