"""Agents in containers through the real master and two minions (each with its own engine): a
pool per minion, the grain, and a minion schedule that gives a queued build an agent without a
highstate. The emulator is the controller (127.0.0.1, so agents use the host network)."""

import contextlib
import json
import time

import pytest

from tests.support import agents, engines

pytestmark = pytest.mark.integration

MINIONS = {"build1": "engine1", "web1": "engine2"}


@pytest.fixture(scope="module")
def agent_image(docker_engines):
    tags = {engine: agents.build_agent_image(engine) for engine in MINIONS.values()}
    yield agents.agent_image_tag()
    for engine in tags:
        engines.cleanup(engine)
        agents.remove_image(tags[engine], engine)


def _state(ret, minion):
    data = ret.data[minion] if minion in (ret.data or {}) else ret.data
    (state,) = data.values()
    return state


def _pool_kwargs(pool, image, **kw):
    args = {
        "name": pool,
        "image": image,
        "label": f"{pool}-l",
        "connect_timeout": 60,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
        **kw,
    }
    return [f"{k}={json.dumps(v)}" for k, v in args.items()]


def test_pool_per_minion_grain_and_no_secret(salt_cli, synced, agent_image, jenkins_emulator):
    pools = {m: engines.name(f"ip-{m}") for m in MINIONS}
    try:
        recorders = [engines.EventRecorder(e) for e in MINIONS.values()]
        with contextlib.ExitStack() as stack:
            for rec in recorders:
                stack.enter_context(rec)
            rets = {
                m: salt_cli.run(
                    "state.single",
                    "jenkins_agent.pool",
                    *_pool_kwargs(pools[m], agent_image, min=1),
                    minion_tgt=m,
                )
                for m in MINIONS
            }
        nodes = {}
        for minion, ret in rets.items():
            state = _state(ret, minion)
            assert state["result"] is True, state["comment"]
            (nodes[minion],) = state["changes"]["launched"]
        assert nodes["build1"] != nodes["web1"]
        secrets = {}
        for minion, node in nodes.items():
            secrets[node] = salt_cli.run("jenkins.agent_secret", node, minion_tgt=minion).data
            salt_cli.run("saltutil.refresh_grains", minion_tgt=minion)
            grain = salt_cli.run("grains.get", "jenkins_agents", minion_tgt=minion).data
            assert grain[node]["pool"] == pools[minion] and grain[node]["state"] == "running"
            assert not [
                n
                for n, a in grain.items()
                if a["pool"] in pools.values() and a["pool"] != pools[minion]
            ]
        inspected = agents.agent_containers("engine1") + agents.agent_containers("engine2")
        everything = [r.data for r in rets.values()] + [rec.events for rec in recorders]
        for secret in secrets.values():
            agents.assert_no_secret(secret, inspected, everything)
        again = salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pools["build1"], agent_image, min=1),
            minion_tgt="build1",
        )
        assert _state(again, "build1")["changes"] == {}
    finally:
        for minion, pool in pools.items():
            salt_cli.run(
                "state.single",
                "jenkins_agent.pool",
                *_pool_kwargs(pool, agent_image, min=0, idle_minutes=0),
                minion_tgt=minion,
            )


def test_schedule_gives_a_queued_build_an_agent(salt_cli, synced, agent_image):
    pool = engines.name("ip-sched")
    job = engines.name("ij-sched")
    schedule = f"jenkins-agent-reconcile-{pool}"
    kwargs = {
        "label": f"{pool}-l",
        "min": 0,
        "max": 1,
        "idle_minutes": 0,
        "connect_timeout": 60,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
    }
    xml = (
        "<project><assignedNode>" + f"{pool}-l" + "</assignedNode><canRoam>false</canRoam>"
        "<quietPeriod>0</quietPeriod><builders><hudson.tasks.Shell><command>echo scheduled"
        "</command></hudson.tasks.Shell></builders></project>"
    )
    assert (
        salt_cli.run("jenkins.job_create", job, f"config_xml={xml}", minion_tgt="build1").returncode
        == 0
    )
    try:
        ret = salt_cli.run(
            "schedule.add",
            schedule,
            "function=jenkins_agent.reconcile",
            f"job_args={json.dumps([pool, agent_image])}",
            f"job_kwargs={json.dumps(kwargs)}",
            "seconds=2",
            minion_tgt="build1",
        )
        assert ret.returncode == 0, ret
        salt_cli.run("jenkins.build", job, "wait=False", minion_tgt="build1")
        deadline = time.monotonic() + 90
        result = None
        while time.monotonic() < deadline and result is None:
            info = salt_cli.run("jenkins.build_info", job, "lastBuild", minion_tgt="build1").data
            if isinstance(info, dict) and not info.get("building"):
                result = info.get("result")
            time.sleep(1)
        assert result == "SUCCESS"
        assert "scheduled" in salt_cli.run("jenkins.console", job, minion_tgt="build1").data
    finally:
        salt_cli.run("schedule.delete", schedule, minion_tgt="build1")
        salt_cli.run("jenkins.job_delete", job, minion_tgt="build1")
        salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pool, agent_image, min=0, idle_minutes=0, max=1),
            minion_tgt="build1",
        )
