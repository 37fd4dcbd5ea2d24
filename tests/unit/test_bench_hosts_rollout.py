"""benchmarks/hosts_rollout.py's pure helpers: each host's waves from the runner's events,
HAProxy's check lines from a frontend's log, the requests of a phase."""

import importlib.util
import pathlib
import types

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_hosts_rollout", REPO / "benchmarks" / "hosts_rollout.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ev(at, stage, target, wave, **data):
    return (at, f"chain/rollout/app/{stage}", dict(data, target=target, wave=wave))


def test_host_timings_pairs_each_wave_of_each_host(bench):
    events = [
        (100.0, "chain/rollout/app/start", {"targets": ["host2", "host1"]}),
        _ev(101.0, "server", "host2", "canary"),
        _ev(110.5, "server/done", "host2", "canary", seconds=9.4, result=True),
        _ev(111.0, "server", "host2", "rest"),
        _ev(111.0, "server", "host1", "rest"),
        _ev(130.0, "server/done", "host1", "rest", seconds=19.0, result=True),
        _ev(130.2, "server/done", "host2", "rest", seconds=19.0, result=False),
        (131.0, "chain/rollout/app/done", {"result": False}),
    ]
    got = bench.host_timings(events, 100.0)
    assert got == {
        "host2": [
            {"wave": "canary", "start_s": 1.0, "done_s": 10.5, "seconds": 9.4, "result": True},
            {"wave": "rest", "start_s": 11.0, "done_s": 30.2, "seconds": 19.0, "result": False},
        ],
        "host1": [
            {"wave": "rest", "start_s": 11.0, "done_s": 30.0, "seconds": 19.0, "result": True}
        ],
    }


def test_host_timings_leaves_a_wave_without_its_end_open(bench):
    events = [
        _ev(5.0, "server", "host3", "canary"),
        _ev(9.0, "server/done", "host4", "canary", seconds=1, result=True),  # never started
    ]
    got = bench.host_timings(events, 0.0)
    assert got["host3"] == [
        {"wave": "canary", "start_s": 5.0, "done_s": None, "seconds": None, "result": None}
    ]
    assert got["host4"] == []


def test_check_lines_keeps_haproxy_down_up_and_no_server_once_each(bench):
    logs = "\n".join(
        [
            "[NOTICE]   (1) : haproxy started",
            "[WARNING]  (11) : Server app/s1 is DOWN, reason: Layer7 timeout, check 510ms.",
            "Server app/s1 is DOWN, reason: Layer7 timeout, check 510ms.",
            "10.215.0.1:4242 GET /version 200",
            "Server app/s1 is UP/READY (leaving forced maintenance).",
            "[WARNING]  (11) : Server app/s1 is UP/READY (leaving forced maintenance).",
            "[ALERT]    (11) : backend 'app' has no server available!",
        ]
    )
    assert bench.check_lines(logs) == [
        "Server app/s1 is DOWN, reason: Layer7 timeout, check 510ms.",
        "Server app/s1 is UP/READY (leaving forced maintenance).",
        "backend 'app' has no server available!",
    ]
    assert bench.check_lines("x" * 300 + " is DOWN") == [("x" * 300 + " is DOWN")[-200:]]
    assert bench.check_lines("GET /version 200\n[NOTICE]   (1) : started") == []


def test_requests_summary_adds_the_hosts_and_keeps_their_failures(bench):
    loads = {
        "host1": types.SimpleNamespace(ok=10, failed=[], versions={"a", "b"}),
        "host2": types.SimpleNamespace(ok=7, failed=["HTTP 503"] * 12, versions={"b"}),
    }
    got = bench.requests_summary(loads)
    assert (got["ok"], got["failed"], got["versions"]) == (17, 12, ["a", "b"])
    assert got["per_host"]["host2"] == {"ok": 7, "failed": 12, "versions": ["b"]}
    assert got["failures"] == {"host2": ["HTTP 503"] * 10}


def _task(created, node, slot, image, state, at, desired="running"):
    return {
        "CreatedAt": created,
        "NodeID": node,
        "Slot": slot,
        "Spec": {"ContainerSpec": {"Image": image}},
        "Status": {"State": state, "Timestamp": at},
        "DesiredState": desired,
    }


def test_task_timings_keeps_the_rollouts_tasks_per_node_oldest_first(bench, monkeypatch):
    good, bad = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    monkeypatch.setattr(bench, "VERSIONS", {good: "good", bad: "bad"})
    started = bench._stamp("2026-12-07T07:00:00Z")
    tasks = [
        # an older task (before the rollout) and an unknown image: left out / its tail shown
        _task("2026-12-07T06:59:59.9Z", "n1", 1, f"r/app@{good}", "running", "2026-12-07T07:00:1Z"),
        _task(
            "2026-12-07T07:00:12.5Z", "n2", 2, f"r/app@{bad}", "failed",
            "2026-12-07T07:00:20.123456789Z", desired="shutdown",
        ),
        _task(
            "2026-12-07T07:00:02.250000000Z", "n2", 1, f"r/app@{good}", "running",
            "2026-12-07T07:00:05Z",
        ),
        _task("2026-12-07T07:00:30Z", "gone", 3, "other:1", "pending", ""),
    ]  # fmt: skip
    got = bench.task_timings(tasks, {"n1": "host1", "n2": "host2"}, started)
    assert got == {
        "host2": [
            {
                "slot": 1,
                "version": "good",
                "created_s": 2.25,
                "state": "running",
                "state_s": 5.0,
                "desired": "running",
            },
            {
                "slot": 2,
                "version": "bad",
                "created_s": 12.5,
                "state": "failed",
                "state_s": 20.12,
                "desired": "shutdown",
            },
        ],
        "gone": [
            {
                "slot": 3,
                "version": "other:1",
                "created_s": 30.0,
                "state": "pending",
                "state_s": None,
                "desired": "running",
            }
        ],
    }


def test_swarm_pillar_is_one_service_across_the_labelled_nodes(bench):
    got = bench.swarm_pillar("host2", 8, 2, {"role": "app"})
    assert got == {
        "chain": {
            "per_minion": True,
            "service": {
                "mode": "swarm",
                "manager": "host2",
                "replicas": 8,
                "placement": {"role": "app"},
                "update": {"parallelism": 2},
            },
        }
    }
