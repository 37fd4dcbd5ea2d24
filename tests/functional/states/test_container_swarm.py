"""Docker Swarm against a real engine: the ``container`` module's swarm, node and service
functions, the ``container_swarm`` states and ``container_service.running`` with ``mode: swarm``
(no frontend here: tests/integration/test_swarm_service.py has the frontend, a load and the
gate), on the session's private Swarm engine (tests/support/swarm_engine.py: a dockerd in a
network namespace of its own, a one-node manager). The shared engines never enter a swarm.

``CONTRACTS`` lists the ``container_swarm`` state functions this file holds to the state
contract (apply, a zero-change second apply that sends nothing, test mode pure, bad input): the
contract suite (test_contracts.py) runs on engine 1, which must stay out of any swarm, and
counts these as covered here.
"""

import contextlib
import time

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, LABELS
from tests.support.swarm_engine import SwarmEngine

pytestmark = [pytest.mark.docker]

CONTRACTS = {
    "container_swarm.manager": "test_manager_worker_labels_left_on_a_scratch_engine",
    "container_swarm.worker": "test_worker_in_a_swarm_and_its_join_info",
    "container_swarm.node_labels": "test_manager_worker_labels_left_on_a_scratch_engine",
    "container_swarm.left": "test_manager_worker_labels_left_on_a_scratch_engine",
}
# Engine actions that change something (health-check execs are the engine's own).
WRITES = {
    "service": None,  # every action
    "node": None,
    "container": {"create", "start", "stop", "kill", "die", "destroy", "update", "restart"},
    "network": {"create", "connect", "disconnect", "destroy", "remove"},
    "image": {"pull", "push", "tag", "untag", "delete", "load", "build"},
    "volume": {"create", "destroy"},
}
SERVE = "echo ok > /tmp/index.html; httpd -f -p 8000 -h /tmp"
HEALTH = {
    "test": "wget -q -O /dev/null http://127.0.0.1:8000/",
    "interval": "1s",
    "timeout": "1s",
    "retries": 1,
}


def _profile(engine):
    return {"base_url": engine.url, "timeout": 60}


@contextlib.contextmanager
def engine_writes(engine):
    """The writes (type, action, name) the engine saw inside the block: ``found`` after it."""
    found = []
    with contextlib.closing(engine.api()) as api:
        since = time.time()
        yield found
        until = time.time() + 0.5
        time.sleep(0.6)  # the engine reports an event just after the call that caused it
        for e in api.events(since=int(since), until=until, decode=True):
            if e.get("timeNano", 0) < since * 1e9:
                continue
            actions = WRITES.get(e.get("Type"), ())
            action = e.get("Action", "").split(":")[0]
            if actions is None or action in actions:
                attrs = (e.get("Actor") or {}).get("Attributes") or {}
                found.append((e["Type"], action, attrs.get("name")))


def _wait_ingress(engine, since, timeout=30, quiet=3):
    """Swarm creates its ``ingress`` network on the engine a few seconds after an init, and
    the engine reports a ``create`` of it more than once (the cluster's network, then its
    instance on this node: ci44 saw the second one in the next apply's window). Wait for the
    first, then until no network event came for ``quiet`` seconds (the init's own events, not
    a later apply's)."""
    deadline = time.time() + timeout
    with contextlib.closing(engine.api()) as api:
        seen = None
        for e in api.events(since=int(since), until=deadline, decode=True,
                            filters={"type": "network", "event": "create"}):  # fmt: skip
            if (e.get("Actor") or {}).get("Attributes", {}).get("name") == "ingress":
                seen = time.time()
                break
        if seen is None:
            raise AssertionError(f"no ingress network within {timeout}s of the swarm init")
        last = seen
        while time.time() < deadline:
            until = last + quiet
            events = list(api.events(since=int(last), until=until, decode=True,
                                     filters={"type": "network"}))  # fmt: skip
            later = [e for e in events if e.get("timeNano", 0) / 1e9 > last]
            if not later:
                return
            last = max(e["timeNano"] / 1e9 for e in later)
    raise AssertionError(f"the engine's network events did not settle within {timeout}s")


def _apply(states, fun, name, test=False, **kwargs):
    mod, func = fun.split(".")
    return getattr(getattr(states, mod), func)(name, test=test, **kwargs)


def clean_failure(ret):
    assert ret.result is False, (ret.result, ret.comment, ret.changes)
    assert ret.comment.strip() and "Traceback" not in ret.comment, ret.comment
    assert ret.changes == {}, ret.changes


# ------------------------------------------------------------------------------ the module


def test_module_swarm_nodes_and_join_info(modules, swarm_engine):
    prof = _profile(swarm_engine)
    info = modules.container.swarm_info(profile=prof)
    assert info["state"] == "active" and info["manager"], info
    assert info["node_id"] == swarm_engine.node_id
    join = modules.container.swarm_join_info(profile=prof)
    assert join["addr"] == f"{swarm_engine.addr}:2377", join
    assert join["worker_token"].startswith("SWMTKN-1-"), "not a worker join token"
    nodes = modules.container.node_list(profile=prof)
    assert list(nodes) == [swarm_engine.node_id]
    node = modules.container.node_inspect(swarm_engine.node_id, profile=prof)
    assert node["role"] == "manager" and node["state"] == "ready", node
    assert modules.container.node_inspect("no-such-node", profile=prof) is None
    assert modules.container.service_inspect(engines.name("nosvc"), profile=prof) is None


# ------------------------------------------------------------------------------ the states


def test_worker_in_a_swarm_and_its_join_info(states, swarm_engine):
    """``worker`` on an engine already in a swarm changes nothing (a real join across hosts is
    the multi-host tier's); its inputs fail cleanly before any I/O, live and under test."""
    prof = _profile(swarm_engine)
    args = {"manager_addr": f"{swarm_engine.addr}:2377", "token": "SWMTKN-1-x", "profile": prof}
    with engine_writes(swarm_engine) as writes:
        for test in (True, False):
            ret = _apply(states, "container_swarm.worker", "swarm", test=test, **args)
            assert ret.result is True and ret.changes == {}, (ret.comment, ret.changes)
        for bad in (
            {"manager_addr": "no port"},
            {"manager_addr": None, "token": None},
            {"token": 5},
            {"listen_addr": "x"},
            {"profile": 5},
            {"manger_minion": "m1"},
        ):
            for test in (True, False):
                ret = _apply(
                    states, "container_swarm.worker", "swarm", test=test, **{**args, **bad}
                )
                if bad.get("manager_addr", "") is None:
                    # in a swarm already: the join arguments are not needed, nothing to do
                    assert ret.result is True, ret.comment
                    continue
                clean_failure(ret)
                assert "SWMTKN" not in ret.comment
    assert writes == []


@pytest.fixture
def scratch_engine(docker_engines):
    """A private engine in a network namespace of its own, in no swarm (yet)."""
    engine = SwarmEngine(swarm=False)
    try:
        yield engine.open()
    finally:
        engine.close()


def test_manager_worker_labels_left_on_a_scratch_engine(states, modules, scratch_engine):
    prof = _profile(scratch_engine)
    mgr = {"advertise_addr": scratch_engine.addr, "profile": prof}
    # bad input: one line, nothing sent
    with engine_writes(scratch_engine) as writes:
        for bad in ({"advertise_addr": "a b"}, {"listen_addr": "0.0.0.0"}, {"profile": 5}):
            for test in (True, False):
                ret = _apply(states, "container_swarm.manager", "s", test, **{**mgr, **bad})
                clean_failure(ret)
        for test in (True, False):
            clean_failure(
                _apply(states, "container_swarm.left", "s", test, force="x", profile=prof)
            )
        # test mode: the would-be change, nothing done
        dry = _apply(states, "container_swarm.manager", "s", test=True, **mgr)
        assert dry.result is None and dry.changes == {
            "swarm": {"old": "inactive", "new": "manager"}
        }
        # not in a swarm: no node to label, nothing to leave
        clean_failure(_apply(states, "container_swarm.node_labels", "n", labels={"a": "b"},
                             profile=prof))  # fmt: skip
        ret = _apply(states, "container_swarm.left", "s", profile=prof)
        assert ret.result is True and ret.changes == {}, ret.comment
    assert writes == []
    assert modules.container.swarm_info(profile=prof)["state"] == "inactive"

    since = time.time()
    ret = _apply(states, "container_swarm.manager", "s", **mgr)
    assert ret.result is True and ret.changes, ret.comment
    assert modules.container.swarm_info(profile=prof)["manager"] is True
    _wait_ingress(scratch_engine, since)  # Swarm's own last step of an init: not the next apply's
    with engine_writes(scratch_engine) as writes:
        for test in (True, False):
            again = _apply(states, "container_swarm.manager", "s", test=test, **mgr)
            assert again.result is True and again.changes == {}, again.comment
    assert writes == []

    # node labels: declared keys only, one change is that change, then converged
    labels = {"role": "app", "zone": "a"}
    with engine_writes(scratch_engine) as writes:
        dry = _apply(states, "container_swarm.node_labels", "n", True, labels=labels, profile=prof)
        assert dry.result is None and set(dry.changes["labels"]) == {"role", "zone"}
        for bad in ({"labels": None}, {"labels": {"a": ["x"]}}, {"node": 5}, {"profile": 5}):
            clean_failure(_apply(states, "container_swarm.node_labels", "n", **{
                "labels": labels, "profile": prof, **bad}))  # fmt: skip
    assert writes == []
    ret = _apply(states, "container_swarm.node_labels", "n", labels=labels, profile=prof)
    assert ret.result is True and set(ret.changes["labels"]) == {"role", "zone"}, ret
    ret = _apply(states, "container_swarm.node_labels", "n", labels={"zone": "b"}, profile=prof)
    assert ret.changes == {"labels": {"zone": {"old": "a", "new": "b"}}}, ret.changes
    node = modules.container.node_list(profile=prof)
    assert next(iter(node.values()))["labels"] == {"role": "app", "zone": "b"}
    with engine_writes(scratch_engine) as writes:
        for test in (True, False):
            again = _apply(states, "container_swarm.node_labels", "n", test, labels={"zone": "b"},
                           profile=prof)  # fmt: skip
            assert again.result is True and again.changes == {}, again.comment
    assert writes == []

    # leave: test mode first, then for real, then nothing to do
    with engine_writes(scratch_engine) as writes:
        dry = _apply(states, "container_swarm.left", "s", test=True, force=True, profile=prof)
        assert dry.result is None and dry.changes["swarm"]["new"] is None
    assert writes == []
    ret = _apply(states, "container_swarm.left", "s", force=True, profile=prof)
    assert ret.result is True and ret.changes, ret.comment
    assert modules.container.swarm_info(profile=prof)["state"] == "inactive"
    ret = _apply(states, "container_swarm.left", "s", force=True, profile=prof)
    assert ret.result is True and ret.changes == {}


# ------------------------------------------------------------------------------ mode: swarm


def _svc(engine, **extra):
    return {
        "image": BUSYBOX,
        "mode": "swarm",
        "command": ["sh", "-c", SERVE],
        "replicas": 2,
        "healthcheck": HEALTH,
        "environment": {"A": "1"},
        "labels": dict(LABELS),
        "stop_timeout": 1,
        "update": {"parallelism": 2, "monitor": 2, "progress_deadline": 60},
        "profile": _profile(engine),
        **extra,
    }


def _live(modules, engine, name):
    status = modules.container_service.swarm_status(name, profile=_profile(engine))
    return [t for tasks in status["tasks"].values() for t in tasks], status


def test_service_mode_swarm(states, modules, swarm_engine):
    """Create, converge, one declared change, a change Swarm's own gate refuses (rolled back by
    Swarm), and test mode / second apply sending nothing, on real Swarm tasks."""
    name = engines.name("swsvc")
    args = _svc(swarm_engine)
    with engine_writes(swarm_engine) as writes:
        dry = _apply(states, "container_service.running", name, test=True, **args)
        assert dry.result is None and set(dry.changes) == {"service"}, (dry.comment, dry.changes)
        for case, bad in {
            "placement-without-swarm": {"mode": "containers", "placement": {"role": "app"}},
            "mode": {"mode": "cluster"},
            "publish": {"publish": {"port": "x"}},
            "unsupported-option": {"memory": "64m"},
            "limit": {"update": {"monitor": 2, "limit": 1}},
            "monitor-shorter-than-health-window": {"update": {"monitor": 1}},
            "placement": {"placement": ["node.role==manager"]},
        }.items():
            for test in (True, False):
                ret = _apply(states, "container_service.running", name, test, **{**args, **bad})
                assert ret.result is False, (case, ret.comment)
                assert "\n" not in ret.comment.strip(), (case, ret.comment)
    assert writes == []

    ret = _apply(states, "container_service.running", name, **args)
    assert ret.result is True and set(ret.changes) == {"service"}, ret.comment
    tasks, status = _live(modules, swarm_engine, name)
    assert len(tasks) == 2 and status["replicas"] == 2, status
    gen = {t["generation"] for t in tasks}
    with engine_writes(swarm_engine) as writes:
        for test in (True, False):
            again = _apply(states, "container_service.running", name, test, **args)
            assert again.result is True and again.changes == {}, (again.comment, again.changes)
    assert writes == []

    # one declared change: a new generation rolled out by Swarm
    changed = dict(args, environment={"A": "2"})
    ret = _apply(states, "container_service.running", name, **changed)
    assert ret.result is True and set(ret.changes) == {"generation"}, ret.comment
    tasks, _ = _live(modules, swarm_engine, name)
    new_gen = {t["generation"] for t in tasks}
    assert len(tasks) == 2 and len(new_gen) == 1 and new_gen != gen, tasks
    assert _apply(states, "container_service.running", name, **changed).changes == {}

    # a change whose tasks never get healthy: Swarm's gate fails it and Swarm rolls back
    sick = dict(changed, command=["sh", "-c", "sleep 600"], update={**args["update"]})
    ret = _apply(states, "container_service.running", name, **sick)
    assert ret.result is False and "Swarm rolled the update back" in ret.comment, ret.comment
    assert ret.comment.endswith("rolled back to the previous spec") or "already done" in ret.comment
    assert set(ret.changes) == {"steps"}, ret.changes  # what was done: the update, no more
    tasks, status = _live(modules, swarm_engine, name)
    assert {t["generation"] for t in tasks} == new_gen and len(tasks) == 2, status
    assert _apply(states, "container_service.running", name, **changed).changes == {}
    assert modules.container.service_remove(name, profile=_profile(swarm_engine)) is True
