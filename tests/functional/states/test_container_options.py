"""Every option container.running accepts: applied, then a second apply with zero changes.

This is where the anchors fail (saltstack/salt#65925, #42705, community.docker#934): daemon-filled
fields or a different spelling of the same value must never cause a recreate.
"""

import pytest

from tests.support import local
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker


def full_spec(tmp_path):
    return {
        "image": BUSYBOX,
        "command": [
            "sh",
            "-c",
            "echo started; echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp",
        ],
        "entrypoint": ["/bin/busybox"],
        "environment": {"A": "1", "B": "two words"},
        "ports": ["127.0.0.1::8080", "[::1]::8080", "127.0.0.1::9090/udp"],
        "labels": {TEST_LABEL: RUN, "app": "full"},
        "restart_policy": "on-failure:2",
        "binds": [f"{tmp_path}:/data:ro"],
        "tmpfs": {"/run/app": "size=1m"},
        "memory": "48m",
        "cpus": 0.5,
        "user": "0:0",
        "workdir": "/tmp",
        "hostname": "full-host",
        "cap_add": ["net_admin"],
        "cap_drop": ["CAP_MKNOD"],
        "log_config": {"driver": "json-file", "options": {"max-size": "1m"}},
        "healthcheck": {
            "test": "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1",
            "interval": "1s",
            "retries": 3,
        },
        "init": True,
        "shm_size": "8m",
    }


def test_every_option_is_idempotent(states, modules, engine, tmp_path):
    spec = full_spec(tmp_path)
    ret = states.container.running(
        f"sc-{RUN}-full", profile=engine, wait_healthy=True, health_timeout=30, **spec
    )
    assert ret.result is True, ret.comment
    data = modules.container.inspect(f"sc-{RUN}-full", profile=engine)
    assert data["Config"]["Hostname"] == "full-host"
    assert data["HostConfig"]["NanoCpus"] == 500_000_000
    assert data["HostConfig"]["Tmpfs"] == {"/run/app": "size=1m"}
    assert data["State"]["Health"]["Status"] == "healthy"
    # Both host addresses really serve the port.
    bindings = data["NetworkSettings"]["Ports"]["8080/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1", "::1"}

    with EventRecorder(engine) as rec:
        again = states.container.running(
            f"sc-{RUN}-full", profile=engine, wait_healthy=True, **spec
        )
    assert again.result is True and again.changes == {}, again.changes
    assert rec.mutations() == []

    # Same values, other spellings: still no change.
    respelled = dict(
        spec,
        environment=["A=1", "B=two words"],
        cap_add="NET_ADMIN",
        cap_drop=["mknod"],
        memory=48 * 1024 * 1024,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
        command="sh -c 'echo started; echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'",
    )
    assert states.container.running(f"sc-{RUN}-full", profile=engine, **respelled).changes == {}


@pytest.mark.parametrize(
    "field, value",
    [
        ("user", "65534:65534"),
        ("workdir", "/"),
        ("hostname", "other"),
        ("cap_add", ["NET_ADMIN", "SYS_TIME"]),
        ("tmpfs", {"/run/app": "size=2m"}),
        ("log_config", {"driver": "json-file", "options": {"max-size": "2m"}}),
        # busybox env runs the command as before: the container keeps running (an entrypoint
        # that makes it exit would leave the re-apply racing the restart policy)
        ("entrypoint", ["/bin/busybox", "env"]),
        ("binds", []),
    ],
)
def test_one_declared_change_is_exactly_that_change(
    states, modules, engine, tmp_path, field, value
):
    spec = full_spec(tmp_path)
    spec.pop("healthcheck")
    assert states.container.running(f"sc-{RUN}-one", profile=engine, **spec).result is True
    before = modules.container.inspect(f"sc-{RUN}-one", profile=engine)["Id"]
    ret = states.container.running(f"sc-{RUN}-one", profile=engine, **dict(spec, **{field: value}))
    assert ret.result is True, ret.comment
    assert set(ret.changes) == {field, "container"}, ret.changes
    assert modules.container.inspect(f"sc-{RUN}-one", profile=engine)["Id"] != before
    assert (
        states.container.running(
            f"sc-{RUN}-one", profile=engine, **dict(spec, **{field: value})
        ).changes
        == {}
    )


def test_comparisons_override(states, engine):
    base = {"image": BUSYBOX, "command": "sleep 600", "labels": {TEST_LABEL: RUN, "a": "1"}}
    assert states.container.running(f"sc-{RUN}-cmp", profile=engine, **base).result is True
    # Dropping a label: allowed to remain by default (labels compare allow_more_present)...
    fewer = dict(base, labels={TEST_LABEL: RUN})
    assert states.container.running(f"sc-{RUN}-cmp", profile=engine, **fewer).changes == {}
    # ...but strict when asked.
    strict = states.container.running(
        f"sc-{RUN}-cmp", profile=engine, comparisons={"labels": "strict"}, test=True, **fewer
    )
    assert strict.result is None and strict.changes["labels"] == {"old": {"a": "1"}, "new": {}}
    ignored = states.container.running(
        f"sc-{RUN}-cmp",
        profile=engine,
        comparisons={"command": "ignore"},
        **dict(base, command="sleep 1"),
    )
    assert ignored.changes == {}
    bad = states.container.running(
        f"sc-{RUN}-cmp", profile=engine, comparisons={"command": "loose"}, **base
    )
    assert bad.result is False and "mode must be one of" in bad.comment


def test_wait_healthy_fails_with_the_last_log_lines(states, modules, engine):
    spec = {
        "image": BUSYBOX,
        "command": ["sh", "-c", "echo booting; echo fatal: no config >&2; sleep 600"],
        "labels": {TEST_LABEL: RUN},
        "healthcheck": {"test": "exit 1", "interval": "500ms", "retries": 1},
    }
    ret = states.container.running(
        f"sc-{RUN}-sick", profile=engine, wait_healthy=True, health_timeout=20, **spec
    )
    assert ret.result is False
    assert "not healthy (unhealthy)" in ret.comment and "fatal: no config" in ret.comment


def test_probe_url_readiness(states, modules, engine):
    spec = {
        "image": BUSYBOX,
        "labels": {TEST_LABEL: RUN},
        "command": ["sh", "-c", "sleep 1; echo ok > /tmp/ready; exec httpd -f -p 8080 -h /tmp"],
    }
    port = local.free_port()  # not a fixed port: another run, or make chain, may hold one
    spec["ports"] = [f"127.0.0.1:{port}:8080"]
    ret = states.container.running(
        f"sc-{RUN}-probe",
        profile=engine,
        probe_url=f"http://127.0.0.1:{port}/ready",
        health_timeout=20,
        **spec,
    )
    assert ret.result is True and "healthy (HTTP 200)" in ret.comment, ret.comment


def test_exec_logs_copy(modules, states, engine, tmp_path):
    assert (
        states.container.running(
            f"sc-{RUN}-tools",
            profile=engine,
            image=BUSYBOX,
            labels={TEST_LABEL: RUN},
            command=["sh", "-c", "echo line1; echo line2 >&2; sleep 600"],
        ).result
        is True
    )
    out = modules.container.exec(
        f"sc-{RUN}-tools",
        ["sh", "-c", "echo $X; echo err >&2; exit 3"],
        environment={"X": "from-env"},
        workdir="/tmp",
        profile=engine,
    )
    assert out == {"retcode": 3, "stdout": "from-env\n", "stderr": "err\n"}
    assert (
        modules.container.exec(f"sc-{RUN}-tools", "id -u", user="65534", profile=engine)[
            "stdout"
        ].strip()
        == "65534"
    )
    logs = modules.container.logs(f"sc-{RUN}-tools", tail=10, profile=engine)
    assert "line1" in logs and "line2" in logs
    src = tmp_path / "payload.txt"
    src.write_text("payload\n")
    assert modules.container.copy_to(f"sc-{RUN}-tools", str(src), "/tmp", profile=engine) is True
    assert (
        modules.container.exec(f"sc-{RUN}-tools", "cat /tmp/payload.txt", profile=engine)["stdout"]
        == "payload\n"
    )
    back = modules.container.copy_from(
        f"sc-{RUN}-tools", "/tmp/payload.txt", str(tmp_path / "back"), profile=engine
    )
    assert open(back).read() == "payload\n"
