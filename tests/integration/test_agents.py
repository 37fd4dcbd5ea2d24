"""Agents in containers through the real master and two minions (each with its own engine).

The controller is the ``jenkins`` formula's: ``state.sls jenkins.controller`` on build1 builds
the controller image from images/jenkins-emulator, puts JENKINS_HOME on a volume, hands the admin
token over as a read-only root-only file, publishes it on 127.0.0.1 and waits for its health
check. Agents reach it on 127.0.0.1 (host network). Every name belongs to this run."""

import contextlib
import json
import os
import re
import stat
import time

import pytest

from tests.support import agents, engines

pytestmark = pytest.mark.integration

MINIONS = {"build1": "engine1", "web1": "engine2"}
PROFILE = "ctl"  # the pillar profile of the formula's controller (conftest.jenkins_pillar)


@pytest.fixture(scope="module")
def agent_image(docker_engines):
    tags = {engine: agents.build_agent_image(engine) for engine in MINIONS.values()}
    yield agents.agent_image_tag()
    for engine in tags:
        engines.cleanup(engine)
        agents.remove_image(tags[engine], engine)


def _states(ret):
    assert ret.returncode == 0 or isinstance(ret.data, dict), ret
    data = ret.data
    assert isinstance(data, dict), ret
    return data


@pytest.fixture(scope="module")
def controller(salt_cli, synced, controller_settings, docker_engines):
    """The formula's controller on build1 (engine 1), removed with ``jenkins.clean``."""
    ctl = controller_settings
    try:
        first = salt_cli.run("state.sls", "jenkins.controller", minion_tgt="build1")
        yield {**ctl, "first": _states(first)}
    finally:
        salt_cli.run("state.sls", "jenkins.clean", minion_tgt="build1")
        with contextlib.closing(engines.client("engine1")) as client:
            with contextlib.suppress(Exception):
                client.volumes.get(ctl["home_volume"]).remove(force=True)
            with contextlib.suppress(Exception):
                client.images.remove(ctl["image"], force=True)


def _by_id(states):
    return {v["__id__"]: v for v in states.values()}


def test_controller_formula_runs_in_its_container(salt_cli, controller):
    first = _by_id(controller["first"])
    failed = {k: v["comment"] for k, v in first.items() if v["result"] is not True}
    assert not failed, failed
    assert set(first) >= {
        "jenkins-controller-image-container_image-present",
        "jenkins-controller-home-container_volume-present",
        "jenkins-controller-admin-token-file-managed",
        "jenkins-controller-container-running",
        "jenkins-controller-plugins-jenkins_plugin-installed",
    }
    again = _by_id(_states(salt_cli.run("state.sls", "jenkins.controller", minion_tgt="build1")))
    assert {k: v["changes"] for k, v in again.items() if v["changes"]} == {}
    assert all(v["result"] is True for v in again.values()), again

    token = controller["token"]
    with contextlib.closing(engines.client("engine1")) as client:
        attrs = client.containers.get(controller["name"]).attrs
    assert attrs["State"]["Health"]["Status"] == "healthy"
    assert attrs["Config"]["Labels"][engines.TEST_LABEL] == engines.RUN
    bindings = attrs["HostConfig"]["PortBindings"]["8080/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(controller["port"])}]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/var/jenkins_home"]["Name"] == controller["home_volume"]
    secret_mount = mounts["/run/secrets/jenkins-admin-token"]
    assert secret_mount["RW"] is False
    info = os.stat(secret_mount["Source"])
    assert stat.S_IMODE(info.st_mode) == 0o400 and info.st_uid == 1000
    assert stat.S_IMODE(os.stat(os.path.dirname(secret_mount["Source"])).st_mode) == 0o700
    # the token: in no environment variable, argument or label, in no state return
    agents.assert_no_secret(token, attrs, controller["first"], again)

    me = salt_cli.run("jenkins.whoami", f"profile={PROFILE}", minion_tgt="build1").data
    assert isinstance(me, dict) and me["id"] == "admin", me
    version = salt_cli.run("jenkins.version", f"profile={PROFILE}", minion_tgt="web1").data
    assert version == "2.568.2"
    # a wrong token is refused: the controller really uses the token from the file
    bad = salt_cli.run(
        "jenkins.whoami",
        f"profile={json.dumps({'name': PROFILE, 'token': 'not-the-token'})}",
        minion_tgt="build1",
    )
    assert "rejected the credentials" in json.dumps(bad.data), bad


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
        "profile": PROFILE,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
        **kw,
    }
    return [f"{k}={json.dumps(v)}" for k, v in args.items()]


def _job_xml(label, command):
    return (
        f"<project><assignedNode>{label}</assignedNode><canRoam>false</canRoam>"
        "<quietPeriod>0</quietPeriod><builders><hudson.tasks.Shell><command>"
        f"{command}</command></hudson.tasks.Shell></builders></project>"
    )


def _until(func, timeout=90, interval=1, what="the condition", explain=None):
    """``func()`` once it is truthy; a failure after ``timeout`` s, with ``explain()`` (what
    the minion and the controller say then) when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value:
            return value
        if time.monotonic() > deadline:
            why = f"; {explain()!r}" if explain else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last {value!r}){why}")
        time.sleep(interval)


def _jenkins(salt_cli, fun, *args, minion="build1"):
    return salt_cli.run(f"jenkins.{fun}", *args, f"profile={PROFILE}", minion_tgt=minion).data


def _last_result(salt_cli, job):
    info = _jenkins(salt_cli, "build_info", job, "lastBuild")
    return isinstance(info, dict) and not info.get("building") and info.get("result")


def test_pool_per_minion_grain_and_no_secret(salt_cli, agent_image, controller):
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
            secrets[node] = _jenkins(salt_cli, "agent_secret", node, minion=minion)
            salt_cli.run("saltutil.refresh_grains", minion_tgt=minion)
            grain = salt_cli.run("grains.get", "jenkins_agents", minion_tgt=minion).data
            assert grain[node]["pool"] == pools[minion] and grain[node]["state"] == "running"
            assert grain[node]["controller"] == f"http://127.0.0.1:{controller['port']}/"
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


def test_schedule_scales_a_pool_up_from_queue_demand_and_back_down(
    salt_cli, agent_image, controller
):
    """A pool at min 0: a queued build gets an agent from the minion's schedule (no highstate),
    runs on it, and the idle agent is removed again (idle_minutes 0)."""
    pool = engines.name("ip-sched")
    job = engines.name("ij-sched")
    schedule = f"jenkins-agent-reconcile-{pool}"
    kwargs = {
        "label": f"{pool}-l",
        "min": 0,
        "max": 1,
        "idle_minutes": 0,
        "connect_timeout": 60,
        "profile": PROFILE,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
    }
    created = _jenkins(
        salt_cli, "job_create", job, f"config_xml={_job_xml(f'{pool}-l', 'echo scheduled')}"
    )
    assert created is True, created
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
        # schedule.add answers result False (exit code 0) when the minion did not confirm it
        assert ret.returncode == 0 and ret.data.get("result") is True, ret

        def listed():
            return salt_cli.run("jenkins_agent.list", f"pool={pool}", minion_tgt="build1").data

        def explain():
            """The schedule as the minion holds it, and what a pass would do now."""
            return {
                "schedule": salt_cli.run(
                    "schedule.list", "return_yaml=False", minion_tgt="build1"
                ).data,
                "reconcile (test)": salt_cli.run(
                    "jenkins_agent.reconcile",
                    pool,
                    agent_image,
                    "test=True",
                    *[f"{k}={json.dumps(v)}" for k, v in kwargs.items()],
                    minion_tgt="build1",
                ).data,
            }

        before = listed()
        assert before == {}, before
        queued = _jenkins(salt_cli, "build", job, "wait=False")
        assert isinstance(queued, dict), queued  # queued, not an error
        # On a loaded machine an agent can be launched, run this short build and be removed
        # (idle_minutes 0) between two looks: wait for either; the build's console then names
        # the node it ran on, which must be one the schedule launched for this pool.
        seen = {}

        def launched_or_built():
            up = listed()
            seen.update(up if isinstance(up, dict) else {})
            return up or _last_result(salt_cli, job)

        _until(launched_or_built, what="an agent launched for the queued build", explain=explain)
        assert len(seen) <= 1, seen  # the pool's max is 1
        result = _until(lambda: _last_result(salt_cli, job), what="the build")
        console = _jenkins(salt_cli, "console", job)
        assert result == "SUCCESS", console
        ran_on = re.search(r"Building remotely on (\S+)", console)
        assert ran_on and "scheduled" in console, console
        node = ran_on.group(1)
        assert re.fullmatch(rf"{re.escape(pool)}-[0-9a-f]{{8}}", node), (node, console)
        assert not seen or set(seen) == {node}, (seen, node)
        # back down: the idle agent's container and node are removed by the schedule
        _until(lambda: listed() == {}, what="the idle agent removed")
        gone = _jenkins(salt_cli, "node_info", node)
        assert gone is None, gone
    finally:
        salt_cli.run("schedule.delete", schedule, minion_tgt="build1")
        _jenkins(salt_cli, "job_delete", job)
        salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pool, agent_image, min=0, idle_minutes=0, max=1),
            minion_tgt="build1",
        )


def test_killed_agent_fails_its_build_clearly_and_the_pool_heals(salt_cli, agent_image, controller):
    pool = engines.name("ip-kill")
    job = engines.name("ij-kill")
    assert _jenkins(salt_cli, "job_create", job, f"config_xml={_job_xml(f'{pool}-l', 'sleep 60')}")
    try:
        ret = salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pool, agent_image, min=1, max=1),
            minion_tgt="build1",
        )
        state = _state(ret, "build1")
        assert state["result"] is True, state["comment"]
        (first,) = state["changes"]["launched"]
        _jenkins(salt_cli, "build", job, "wait=False")
        _until(
            lambda: (_jenkins(salt_cli, "build_info", job, "lastBuild") or {}).get("building"),
            what="the build running",
        )
        with contextlib.closing(engines.client("engine1")) as client:
            client.containers.get(first).kill()
        assert _until(lambda: _last_result(salt_cli, job), what="the build's end") == "FAILURE"
        console = _jenkins(salt_cli, "console", job)
        assert f"Building remotely on {first}" in console
        assert "Agent went offline during the build" in console, console
        # the pool heals: the dead agent's container and node go, a new agent comes online
        healed = salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pool, agent_image, min=1, max=1),
            minion_tgt="build1",
        )
        state = _state(healed, "build1")
        assert state["result"] is True, state["comment"]
        assert [d["node"] for d in state["changes"]["deleted"]] == [first]
        (second,) = state["changes"]["launched"]
        assert second != first
        assert _jenkins(salt_cli, "node_info", first) is None
        assert _jenkins(salt_cli, "node_info", second)["offline"] is False
        rows = salt_cli.run("jenkins_agent.list", f"pool={pool}", minion_tgt="build1").data
        assert list(rows) == [second]
    finally:
        _jenkins(salt_cli, "job_delete", job)
        salt_cli.run(
            "state.single",
            "jenkins_agent.pool",
            *_pool_kwargs(pool, agent_image, min=0, max=0, idle_minutes=0),
            minion_tgt="build1",
        )
