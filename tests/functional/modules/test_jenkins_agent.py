"""jenkins_agent pools on a real engine and the emulator: scale up from queue demand and back
down, heal a killed agent, remove a container whose node was deleted, back off and report a
broken image, test mode writes nothing."""

import contextlib
import time
import uuid
from xml.sax.saxutils import escape

import pytest
from saltext.chain.utils import chain_agents_plan as plan

from tests.support import agents, engines

pytestmark = [pytest.mark.docker]


def freestyle(command, label):
    return (
        "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>jenkins_agent test"
        f"</description><assignedNode>{escape(label)}</assignedNode><canRoam>false</canRoam>"
        "<disabled>false</disabled><concurrentBuild>false</concurrentBuild><builders>"
        f"<hudson.tasks.Shell><command>{escape(command)}</command></hudson.tasks.Shell>"
        "</builders><publishers/><buildWrappers/></project>"
    )


@pytest.fixture
def pool(modules):
    name = engines.name(f"p{uuid.uuid4().hex[:4]}")
    yield name
    for row in modules.jenkins_agent.list(pool=name).values():
        modules.jenkins.node_delete(row["node"])
    for node in modules.jenkins.nodes():
        if node.startswith(name + "-"):
            modules.jenkins.node_delete(node)
    engines.cleanup("engine1")


def opts(pool, **kw):
    return {
        "label": f"{pool}-l linux",
        "min": 0,
        "max": 2,
        "connect_timeout": 60,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
        **kw,
    }


def until(func, timeout=60, interval=0.5, what="the condition"):
    """``func()``'s first truthy value; fails the test (instead of hanging or returning a
    falsy value) when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last value {value!r})")
        time.sleep(interval)


def last_result(modules, job):
    info = modules.jenkins.build_info(job, "lastBuild")
    return info and not info.get("building") and info.get("result")


def test_scale_up_from_queue_demand_then_down(modules, agent_image, pool):
    job = engines.name(f"j{uuid.uuid4().hex[:4]}")
    modules.jenkins.job_create(job, config_xml=freestyle("echo built-on-pool", f"{pool}-l&&linux"))
    try:
        o = opts(pool, idle_minutes=0)
        out = modules.jenkins_agent.reconcile(pool, agent_image, **o)
        assert out["launched"] == [] and out["demand"] == 0
        modules.jenkins.build(job, wait=False, timeout=1)  # queued: no agent yet
        out = until(lambda: modules.jenkins_agent.reconcile(pool, agent_image, **o)["launched"])
        assert len(out) == 1 and out[0].startswith(pool + "-")
        again = modules.jenkins_agent.reconcile(pool, agent_image, **o)
        assert again["launched"] == [] and again["starting"] + again["online"] == out
        assert until(lambda: last_result(modules, job)) == "SUCCESS"
        assert "built-on-pool" in modules.jenkins.console(job)
        down = until(lambda: modules.jenkins_agent.reconcile(pool, agent_image, **o)["scaled_down"])
        assert down == out
        assert modules.jenkins.node_info(out[0]) is None
        assert modules.jenkins_agent.list(pool=pool) == {}
    finally:
        modules.jenkins.job_delete(job)


def test_deleted_node_container_removed_and_pool_heals(modules, agent_image, pool):
    o = opts(pool, min=1, orphan_grace=0)
    (first,) = modules.jenkins_agent.reconcile(pool, agent_image, **o)["launched"]
    modules.jenkins_agent.wait_pool(pool, 1, timeout=60)
    assert modules.jenkins.node_delete(first) is True
    out = modules.jenkins_agent.reconcile(pool, agent_image, **o)
    assert out["deleted"] == [
        {"node": None, "container": first, "reason": "its node is gone from the controller"}
    ]
    assert len(out["launched"]) == 1 and out["launched"] != [first]
    assert first not in modules.jenkins_agent.list(pool=pool)
    modules.jenkins_agent.wait_pool(pool, 1, timeout=60)


def test_orphans_go_after_the_grace_both_ways_and_foreign_ones_stay(modules, agent_image, pool):
    grace = 4
    o = opts(pool, min=1, orphan_grace=grace)
    reconcile = lambda: modules.jenkins_agent.reconcile(pool, agent_image, **o)  # noqa: E731
    (first,) = reconcile()["launched"]
    modules.jenkins_agent.wait_pool(pool, 1, timeout=60)
    client = engines.client("engine1")
    try:
        mark = client.containers.get(first).labels
        assert mark[plan.LABEL_OWNER] and mark[engines.TEST_LABEL] == engines.RUN
        # the pool's shape but not its marks: another minion's agent, a hand-made container,
        # a hand-made node, a node marked for the same pool by another owner
        other = client.containers.run(
            engines.BUSYBOX,
            ["sleep", "600"],
            name=f"{pool}-0ther000",
            detach=True,
            labels={**mark, plan.LABEL_OWNER: "another-minion", plan.LABEL_NODE: "x"},
        )
        hand = client.containers.run(
            engines.BUSYBOX,
            ["sleep", "600"],
            name=f"{pool}-hand0000",
            detach=True,
            labels=engines.owned(),
        )
        modules.jenkins.node_create(f"{pool}-handnode", description="made by hand")
        modules.jenkins.node_create(
            f"{pool}-othernode", description=plan.description(pool, "another-minion")
        )

        # a node deleted on the controller: its container goes after the grace
        assert modules.jenkins.node_delete(first) is True
        started = time.monotonic()
        out = reconcile()
        assert out["deleted"] == [], "removed within the grace"
        assert first in modules.jenkins_agent.list(pool=pool)
        (second,) = out["launched"]  # the pool refills to min at once
        deleted = until(lambda: reconcile()["deleted"], timeout=grace + 30, what="orphan removed")
        assert time.monotonic() - started >= grace
        assert deleted == [
            {"node": None, "container": first, "reason": "its node is gone from the controller"}
        ]
        assert first not in modules.jenkins_agent.list(pool=pool)
        assert modules.jenkins_agent.wait_pool(pool, 1, timeout=60) == [second]

        # a container removed: its node is deleted after the grace
        client.containers.get(second).remove(force=True, v=True)
        started = time.monotonic()
        out = reconcile()
        assert out["deleted"] == [] and modules.jenkins.node_info(second) is not None
        (third,) = out["launched"]
        deleted = until(lambda: reconcile()["deleted"], timeout=grace + 30, what="node deleted")
        assert time.monotonic() - started >= grace
        assert deleted == [
            {"node": second, "container": None, "reason": "its container is gone from this engine"}
        ]
        assert modules.jenkins.node_info(second) is None
        assert modules.jenkins_agent.wait_pool(pool, 1, timeout=60) == [third]

        # what the pool did not make is still there, untouched
        for _ in range(2):
            assert reconcile()["deleted"] == []
        assert modules.jenkins.node_info(f"{pool}-handnode") is not None
        assert modules.jenkins.node_info(f"{pool}-othernode") is not None
        for ctr in (other, hand):
            ctr.reload()
            assert ctr.status == "running"
        assert set(modules.jenkins_agent.list(pool=pool)) == {third, other.name}
    finally:
        client.close()


def test_one_pass_launches_side_by_side_and_all_come_online(modules, agent_image, pool):
    o = opts(pool, min=3, max=3, max_starting=3)
    out = modules.jenkins_agent.reconcile(pool, agent_image, **o)
    assert out["errors"] == [] and len(set(out["launched"])) == 3, out
    assert sorted(modules.jenkins_agent.wait_pool(pool, 3, timeout=60)) == sorted(out["launched"])
    again = modules.jenkins_agent.reconcile(pool, agent_image, **o)
    assert again["launched"] == [] and again["online"] == sorted(out["launched"])


def test_killed_agent_fails_its_build_and_pool_heals(modules, agent_image, pool):
    job = engines.name(f"k{uuid.uuid4().hex[:4]}")
    modules.jenkins.job_create(job, config_xml=freestyle("sleep 30", f"{pool}-l"))
    try:
        o = opts(pool, min=1)
        (first,) = modules.jenkins_agent.reconcile(pool, agent_image, **o)["launched"]
        modules.jenkins_agent.wait_pool(pool, 1, timeout=60)
        modules.jenkins.build(job, wait=False, timeout=1)  # queued: no agent yet
        assert until(lambda: (modules.jenkins.build_info(job, "lastBuild") or {}).get("building"))
        with contextlib.closing(engines.client("engine1")) as client:
            client.containers.get(first).kill()
        assert until(lambda: last_result(modules, job)) in ("FAILURE", "ABORTED")
        out = until(lambda: modules.jenkins_agent.reconcile(pool, agent_image, **o)["deleted"])
        assert out[0]["node"] == first
        online = modules.jenkins_agent.wait_pool(pool, 1, timeout=60)
        assert first not in online
    finally:
        modules.jenkins.job_delete(job)


def test_broken_image_is_backed_off_and_reported(modules, pool, docker_engines):
    broken = agents.build_broken_image()
    try:
        o = opts(pool, min=1, connect_timeout=30, max_failures=2, backoff=0)
        launched, report = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = modules.jenkins_agent.reconcile(pool, broken, **o)
            launched += out["launched"]
            if out["broken"]:
                report = out["broken"]
                break
            time.sleep(1)
        assert report and "agent image is broken" in report
        assert len(launched) == 2
        for _ in range(3):
            out = modules.jenkins_agent.reconcile(pool, broken, **o)
            assert out["launched"] == [] and out["blocked"] == "broken"
    finally:
        engines.cleanup("engine1")
        agents.remove_image(broken)


def test_pool_state_idempotent_and_test_mode_pure(
    states, modules, agent_image, pool, unchanged_home
):
    o = opts(pool, min=1)
    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.pool(pool, image=agent_image, test=True, **o)
    assert ret.result is None and len(ret.changes["launched"]) == 1
    assert rec.mutations() == []
    ret = states.jenkins_agent.pool(pool, image=agent_image, **o)
    assert ret.result is True and len(ret.changes["launched"]) == 1, ret.comment
    node = ret.changes["launched"][0]
    assert modules.jenkins.node_info(node)["offline"] is False
    secret = modules.jenkins.agent_secret(node)
    agents.assert_no_secret(secret, ret.raw, agents.agent_containers())
    # the second apply: zero changes, no engine event, no controller write
    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.pool(pool, image=agent_image, **o)
    assert ret.result is True and ret.changes == {}, ret.changes
    assert rec.mutations(owned_only=True) == []
    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.pool(pool, image=agent_image, test=True, **o)
    assert ret.result is True and ret.changes == {}
    assert rec.mutations(owned_only=True) == []
    assert list(modules.jenkins_agent.list(pool=pool)) == [node]


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"min": "x"}, "min"),
        ({"label": None}, "label"),
        ({"max_uses": -1}, "max_uses"),
        ({"canary_job": 3}, "canary_job"),
    ],
)
def test_pool_bad_input_before_io(states, pool, kwargs, word, unchanged_home, docker_engines):
    with unchanged_home(), engines.EventRecorder("engine1") as rec:
        ret = states.jenkins_agent.pool(pool, image="x:1", **{**opts(pool), **kwargs})
    assert ret.result is False and word in ret.comment
    # what a pool would create carries this run's name and label (other sessions share engine1)
    assert rec.mutations(owned_only=True) == []


def test_canary_gate_keeps_a_bad_image_out_and_rolls_a_good_one(states, modules, agent_image, pool):
    bad = agents.build_agent_image(tag=f"saltext-chain/{engines.name('agent')}:bad", marker="bad")
    good = agents.build_agent_image(
        tag=f"saltext-chain/{engines.name('agent')}:good", marker="good"
    )
    o = opts(pool, min=1, canary_job="grep -q good /etc/agent-flavour")
    try:
        ret = states.jenkins_agent.pool(pool, image=agent_image, **o)
        assert ret.result is True and len(ret.changes["launched"]) == 1, ret.comment
        (first,) = ret.changes["launched"]

        ret = states.jenkins_agent.pool(pool, image=bad, test=True, **o)
        assert ret.result is None and ret.changes["image"]["new"] == bad
        ret = states.jenkins_agent.pool(pool, image=bad, **o)
        assert ret.result is False and "canary" in ret.comment, ret.comment
        assert "grep -q good /etc/agent-flavour" in ret.comment  # the console tail
        # the canary ran on its own agent under the separate label, not on the pool's agent
        console = modules.jenkins.console(f"{pool}-canary")
        assert f"Building remotely on {pool}-canary-" in console and f"({pool}-canary)" in console
        rows = modules.jenkins_agent.list(pool=pool)
        assert list(rows) == [first] and rows[first]["image"] == agent_image
        assert not [n for n in modules.jenkins.nodes() if "-canary-" in n and n.startswith(pool)]
        # the schedule's pass (no canary) keeps the old image too
        out = modules.jenkins_agent.reconcile(pool, bad, **o)
        assert out["launched"] == [] and out["outdated"] == []

        ret = states.jenkins_agent.pool(pool, image=good, **o)
        assert ret.result is True, ret.comment
        assert ret.changes["image"]["new"].startswith("sha256:")
        rows = modules.jenkins_agent.list(pool=pool)
        assert len(rows) == 1 and first not in rows
        assert next(iter(rows.values()))["image"] == good
        ret = states.jenkins_agent.pool(pool, image=good, **o)
        assert ret.result is True and ret.changes == {}, ret.changes
    finally:
        modules.jenkins.job_delete(f"{pool}-canary")
        engines.cleanup("engine1")
        agents.remove_image(bad)
        agents.remove_image(good)
