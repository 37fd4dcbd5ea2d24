"""container.running / stopped / absent against both real engines."""

import contextlib

import docker.errors
import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker


def _spec(**extra):
    spec = {
        "image": BUSYBOX,
        "command": engines.stoppable("echo hello; httpd -f -p 8080 -h /tmp"),
        "environment": {"APP_ENV": "test", "EMPTY": ""},
        "ports": ["127.0.0.1::8080"],
        "labels": {TEST_LABEL: RUN, "app": "web"},
        "restart_policy": "unless-stopped",
    }
    spec.update(extra)
    return spec


def _names(n=1):
    return [f"sc-{RUN}-web-{i}" for i in range(n)]


def test_running_apply_then_idempotent_then_one_change(states, modules, engine):
    (name,) = _names()
    ret = states.container.running(name, profile=engine, **_spec())
    assert ret.result is True, ret.comment
    assert ret.changes["container"]["old"] is None
    first = modules.container.inspect(name, profile=engine)
    assert first["State"]["Running"]
    assert first["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"

    with EventRecorder(engine) as rec:
        again = states.container.running(name, profile=engine, **_spec())
    assert again.result is True, again.comment
    assert again.changes == {}
    assert rec.mutations() == []

    changed = states.container.running(
        name, profile=engine, **_spec(environment={"APP_ENV": "prod", "EMPTY": ""})
    )
    assert changed.result is True, changed.comment
    assert set(changed.changes) == {"environment", "container"}
    assert changed.changes["environment"] == {
        "old": {"APP_ENV": "test"},
        "new": {"APP_ENV": "prod"},
    }
    after = modules.container.inspect(name, profile=engine)
    assert after["Id"] != first["Id"]
    assert "APP_ENV=prod" in after["Config"]["Env"]


def test_in_place_update_keeps_the_container(states, modules, engine):
    (name,) = _names()
    assert states.container.running(name, profile=engine, **_spec()).result is True
    before = modules.container.inspect(name, profile=engine)["Id"]
    ret = states.container.running(
        name, profile=engine, **_spec(restart_policy="always", memory="64m")
    )
    assert ret.result is True, ret.comment
    assert set(ret.changes) == {"restart_policy", "memory"}
    after = modules.container.inspect(name, profile=engine)
    assert after["Id"] == before
    assert after["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert after["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert (
        states.container.running(
            name, profile=engine, **_spec(restart_policy="always", memory="64m")
        ).changes
        == {}
    )


def test_test_mode_touches_nothing(states, modules, engine):
    (name,) = _names()
    with EventRecorder(engine) as rec:
        ret = states.container.running(name, profile=engine, test=True, **_spec())
    assert ret.result is None
    assert ret.changes == {"container": {"old": None, "new": name}}
    assert "would be created" in ret.comment
    assert modules.container.inspect(name, profile=engine) is None
    assert rec.mutations() == []

    assert states.container.running(name, profile=engine, **_spec()).result is True
    with EventRecorder(engine) as rec:
        ret = states.container.running(
            name, profile=engine, test=True, **_spec(labels={TEST_LABEL: RUN, "app": "api"})
        )
        gone = states.container.absent(name, profile=engine, test=True)
        stop = states.container.stopped(name, profile=engine, test=True)
    assert ret.result is None and ret.changes["labels"] == {
        "old": {"app": "web"},
        "new": {"app": "api"},
    }
    assert gone.result is None and stop.result is None
    assert rec.mutations() == []
    assert modules.container.inspect(name, profile=engine)["Config"]["Labels"]["app"] == "web"


def test_daemon_filled_fields_never_recreate(states, modules, engine):
    """No hostname, MAC, env PATH from the image etc. declared: nothing of those is compared."""
    (name,) = _names()
    spec = {"image": BUSYBOX, "command": "sleep 600", "labels": {TEST_LABEL: RUN}}
    assert states.container.running(name, profile=engine, **spec).result is True
    ret = states.container.running(name, profile=engine, **spec)
    assert ret.changes == {}, ret.changes


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"no_such_option": 1}, "unknown argument 'no_such_option' (container.running takes:"),
        ({"ports": ["8080-80"]}, "ports: invalid port '8080-80'"),
        ({"ports": ["127.0.0.1:99999:80"]}, "invalid host port"),
        ({"restart_policy": "sometimes"}, "restart_policy"),
        ({"image": "127.0.0.1:5000/saltext-chain/does-not-exist:1"}, "could not be pulled"),
        ({"image": BUSYBOX, "pull": "never", "memory": "lots"}, "memory"),
        ({"profile": "nope"}, "unknown container profile 'nope'"),
    ],
)
def test_bad_input_fails_clearly_and_creates_nothing(
    states, modules, bad, fragment, docker_engines
):
    engine = bad.pop("profile", "engine1")
    (name,) = _names()
    spec = _spec(**bad)
    with EventRecorder("engine1") as rec:
        ret = states.container.running(name, profile=engine, **spec)
    assert ret.result is False
    assert fragment in ret.comment
    assert ret.changes == {}
    assert [m for m in rec.mutations() if m[0] == "container"] == []
    assert modules.container.inspect(name, profile="engine1") is None


def test_stopped_and_absent(states, modules, engine):
    (name,) = _names()
    assert states.container.running(name, profile=engine, **_spec()).result is True
    ret = states.container.stopped(name, profile=engine, stop_timeout=1)
    assert ret.result is True and ret.changes["state"]["new"] == "exited"
    assert states.container.stopped(name, profile=engine).changes == {}
    again = states.container.running(name, profile=engine, **_spec())
    assert again.changes == {"state": {"old": "exited", "new": "running"}}
    ret = states.container.absent(name, profile=engine, stop_timeout=1)
    assert ret.result is True and ret.changes["container"]["new"] is None
    assert modules.container.inspect(name, profile=engine) is None
    assert states.container.absent(name, profile=engine).changes == {}


def test_each_engine_is_its_own_host(states, modules, docker_engines):
    (name,) = _names()
    assert states.container.running(name, profile="engine2", **_spec()).result is True
    assert modules.container.inspect(name, profile="engine2") is not None
    assert modules.container.inspect(name, profile="engine1") is None
    engines.cleanup("engine2")


def test_secret_environment_never_in_output(states, engine):
    (name,) = _names()
    spec = _spec(environment={"JENKINS_SECRET": "f00dfeed" * 8, "APP_ENV": "test"})
    first = states.container.running(name, profile=engine, **spec)
    assert first.result is True
    rotated = states.container.running(
        name,
        profile=engine,
        **_spec(environment={"JENKINS_SECRET": "beefcafe" * 8, "APP_ENV": "test"}),
    )
    assert rotated.result is True
    assert rotated.changes["environment"] == {
        "old": {"JENKINS_SECRET": "<hidden>"},
        "new": {"JENKINS_SECRET": "<hidden>"},
    }
    assert "f00dfeed" not in str(rotated.raw) and "beefcafe" not in str(rotated.raw)


def _anonymous(client, name):
    mounts = client.api.inspect_container(name)["Mounts"]
    return {m["Destination"]: m["Name"] for m in mounts if m["Type"] == "volume"}


def test_a_recreate_keeps_anonymous_volumes_still_declared_and_leaves_no_orphan(
    states, modules, engine
):
    """As docker compose does: the replacement mounts the old container's anonymous volume at
    a path it still declares anonymous (its data survives); one no longer declared goes with
    the old container; the result is idempotent and ``absent`` with ``volumes`` removes the
    kept one too (the engine counts it as named once mounted by name)."""
    (name,) = _names()
    spec = {
        "image": BUSYBOX,
        "command": engines.stoppable("sleep 600"),
        "labels": {TEST_LABEL: RUN},
    }
    with contextlib.closing(engines.client(engine)) as client:
        first = states.container.running(name, profile=engine, binds=["/keep", "/drop"], **spec)
        assert first.result is True, first.comment
        old = _anonymous(client, name)
        client.containers.get(name).exec_run(["sh", "-c", "echo kept > /keep/f"])
        ret = states.container.running(name, profile=engine, binds=["/keep"], **spec)
        assert ret.result is True, ret.comment
        assert set(ret.changes) == {"binds", "container"}, ret.changes
        assert _anonymous(client, name) == {"/keep": old["/keep"]}
        assert client.containers.get(name).exec_run(["cat", "/keep/f"]).output == b"kept\n"
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get(old["/drop"])
        again = states.container.running(name, profile=engine, binds=["/keep"], **spec)
        assert again.result is True and again.changes == {}, again.changes
        # a recreate for another reason keeps it again, still idempotent
        labelled = dict(spec, labels={TEST_LABEL: RUN, "v": "2"})
        ret = states.container.running(name, profile=engine, binds=["/keep"], **labelled)
        assert ret.result is True and "container" in ret.changes, ret.changes
        assert _anonymous(client, name) == {"/keep": old["/keep"]}
        assert (
            states.container.running(name, profile=engine, binds=["/keep"], **labelled).changes
            == {}
        )
        gone = states.container.absent(name, profile=engine, force=True, volumes=True)
        assert gone.result is True, gone.comment
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get(old["/keep"])


def test_a_staging_container_left_behind_goes_with_its_anonymous_volumes(states, engine):
    """A recreate cut between its steps leaves ``<name>.saltext-next``, created and never
    started: the next run removes it, and the anonymous volume it got at create time with it
    (an orphan volume otherwise, one per interrupted recreate)."""
    (name,) = _names()
    with contextlib.closing(engines.client(engine)) as client:
        staging = client.containers.create(
            BUSYBOX, ["true"], name=f"{name}.saltext-next", labels={TEST_LABEL: RUN},
            volumes=["/scratch"],
        )  # fmt: skip
        [volume] = [m["Name"] for m in staging.attrs["Mounts"] if m["Type"] == "volume"]
        ret = states.container.running(name, profile=engine, **_spec())
        assert ret.result is True, ret.comment
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(staging.id)
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get(volume)


def test_failed_recreate_leaves_the_old_container_serving(states, modules, engine):
    (name,) = _names()
    assert states.container.running(name, profile=engine, **_spec()).result is True
    before = modules.container.inspect(name, profile=engine)["Id"]
    # A bind whose source is relative is refused by the engine at create time.
    bad = states.container.running(name, profile=engine, **_spec(binds=["relative/path:/data"]))
    assert bad.result is False
    still = modules.container.inspect(name, profile=engine)
    assert still["Id"] == before and still["State"]["Running"]
    assert modules.container.inspect(f"{name}.saltext-next", profile=engine) is None
    # A good change afterwards converges, and the staging name never lingers.
    good = states.container.running(
        name, profile=engine, **_spec(labels={TEST_LABEL: RUN, "app": "v2"})
    )
    assert good.result is True and good.changes["container"]["old"] == before[:12]
    assert modules.container.inspect(name, profile=engine)["Config"]["Labels"]["app"] == "v2"
