"""Every row of the container option table against the real engine (engine 1, Docker 20.10):
applied under the old Salt / docker SDK names, a second apply with zero changes and no engine
event, and one declared change giving exactly that change (in place where the table says so).

The options `test_container_options.py` covers on both engines (ports, healthcheck, cpus, ...)
are not repeated here. `publish_all_ports` is left to the unit tests: it would publish on every
host address, and these tests publish on 127.0.0.1 only.
"""

import hashlib

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, EventRecorder

pytestmark = pytest.mark.docker

ENGINE = "engine1"
MAC = (
    "02:42:"
    + ":".join(hashlib.sha256(RUN.encode()).hexdigest()[i : i + 2] for i in (0, 2, 4))
    + ":99"
)


def base(**over):
    """One container holding most of the table, written with the old state's option names."""
    spec = {
        "image": BUSYBOX,
        "cmd": ["sleep", "600"],
        "labels": engines.owned({"app": "table"}),
        "dns": ["127.0.0.1"],
        "dns_search": ["example.com"],
        "dns_opt": ["ndots:2"],
        "extra_hosts": {"db": "10.0.0.5"},
        "ulimits": ["nofile=1024:2048"],
        "devices": ["/dev/null:/dev/mynull"],
        "device_cgroup_rules": ["c 1:5 rwm"],
        "security_opt": ["no-new-privileges"],
        "sysctls": {"net.ipv4.ip_forward": "1"},
        "stop_signal": "SIGINT",
        "pids_limit": 100,
        "group_add": ["29"],
        "cpu_shares": 512,
        "cpuset_cpus": "0",
        "cpuset_mems": "0",
        "cpu_period": 100000,
        "cpu_quota": 50000,
        "mem_limit": "64m",
        "mem_reservation": "32m",
        "memswap_limit": "128m",
        "mem_swappiness": 10,
        "oom_kill_disable": True,
        "oom_score_adj": 100,
        "ipc_mode": "shareable",
        "cgroupns": "private",
        "domainname": "example.org",
        "mac_address": MAC,
        "tty": True,
        "stdin_open": True,
        "read_only": True,
        "working_dir": "/tmp",
        "volumes": ["/anon"],
        "volume_driver": "local",
        "runtime": "runc",
        "expose": [9999],
        "auto_remove": False,
        "device_read_bps": {"/dev/loop0": "1m"},
        "device_write_bps": {"/dev/loop0": "1m"},
        "device_read_iops": {"/dev/loop0": 100},
        "device_write_iops": {"/dev/loop0": 100},
        "log_driver": "json-file",
        "log_opt": {"max-size": "1m"},
        "restart": "unless-stopped",
        "init": True,  # sleep as PID 1 ignores SIGINT: stops would wait out their grace
    }
    spec.update(over)
    return spec


@pytest.fixture
def name(docker_engines):
    yield engines.name("tbl")
    engines.cleanup(ENGINE)


def mine(rec, name):
    """The engine's mutating events on this test's containers (other suites may run beside)."""
    return [m for m in rec.mutations() if (m[2] or "").startswith(name)]


def test_table_options_converge_and_reapply_with_zero_changes(states, modules, name):
    ret = states.container.running(name, profile=ENGINE, **base())
    assert ret.result is True, ret.comment
    data = modules.container.inspect(name, profile=ENGINE)
    host, cfg = data["HostConfig"], data["Config"]
    # What the engine reports for each (checked on Docker 20.10 / API 1.41).
    assert host["Dns"] == ["127.0.0.1"] and host["DnsOptions"] == ["ndots:2"]
    assert host["ExtraHosts"] == ["db:10.0.0.5"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rwm"}
    ]
    assert host["Memory"] == 64 * 1024**2 and host["MemorySwap"] == 128 * 1024**2
    assert host["PidsLimit"] == 100 and host["CpuShares"] == 512 and host["ReadonlyRootfs"] is True
    assert host["BlkioDeviceReadBps"] == [{"Path": "/dev/loop0", "Rate": 1024**2}]
    assert (
        cfg["MacAddress"] == MAC and cfg["StopSignal"] == "SIGINT" and cfg["WorkingDir"] == "/tmp"
    )
    assert cfg["Volumes"] == {"/anon": {}} and "9999/tcp" in cfg["ExposedPorts"]
    assert data["State"]["Running"]
    assert (
        modules.container.exec(name, "cat /etc/resolv.conf", profile=ENGINE)["stdout"].count(
            "ndots:2"
        )
        == 1
    )

    with EventRecorder(ENGINE) as rec:
        again = states.container.running(name, profile=ENGINE, **base())
    assert again.result is True and again.changes == {}, again.changes
    assert mine(rec, name) == []

    # The same values under this project's and the docker SDK's names: still nothing to do.
    respelled = base()
    for old, new in (
        ("cmd", "command"),
        ("mem_limit", "memory"),
        ("working_dir", "workdir"),
        ("volumes", "binds"),
        ("restart", "restart_policy"),
    ):
        respelled[new] = respelled.pop(old)
    respelled["log_config"] = {
        "driver": respelled.pop("log_driver"),
        "options": respelled.pop("log_opt"),
    }
    respelled["ulimits"] = {"nofile": "1024:2048"}
    assert states.container.running(name, profile=ENGINE, **respelled).changes == {}


# (option, new value, changed in place?)
CHANGES = [
    ("dns", ["127.0.0.2"], False),
    ("dns_search", ["example.net"], False),
    ("dns_opt", ["ndots:3"], False),
    ("extra_hosts", {"db": "10.0.0.6"}, False),
    ("ulimits", ["nofile=1024:4096"], False),
    ("devices", ["/dev/zero:/dev/myzero"], False),
    ("device_cgroup_rules", ["c 1:3 rwm"], False),
    ("security_opt", [], False),
    ("sysctls", {"net.ipv4.ip_forward": "0"}, False),
    ("stop_signal", "SIGTERM", False),
    ("group_add", ["29", "100"], False),
    ("oom_score_adj", 200, False),
    ("oom_kill_disable", False, False),
    ("mem_swappiness", 20, False),
    ("ipc_mode", "private", False),
    ("cgroupns", "host", False),
    ("domainname", "example.net", False),
    ("tty", False, False),
    ("stdin_open", False, False),
    ("read_only", False, False),
    ("working_dir", "/", False),
    ("volumes", ["/anon", "/anon2"], False),
    ("expose", [9999, 9998], False),
    ("device_read_bps", {"/dev/loop0": "2m"}, False),
    ("device_write_iops", {"/dev/loop0": 200}, False),
    ("pids_limit", 200, True),
    ("cpu_shares", 256, True),
    ("cpuset_cpus", "0-1", True),
    ("cpu_quota", 40000, True),
    ("cpu_period", 80000, True),
    ("mem_limit", "96m", True),
    ("mem_reservation", "16m", True),
    ("memswap_limit", "256m", True),
    ("restart", "always", True),
]

PUBLIC = {
    "cmd": "command",
    "mem_limit": "memory",
    "working_dir": "workdir",
    "volumes": "binds",
    "restart": "restart_policy",
}


@pytest.mark.parametrize("field, value, in_place", CHANGES, ids=[c[0] for c in CHANGES])
def test_one_declared_change_is_exactly_that_change(states, modules, name, field, value, in_place):
    assert states.container.running(name, profile=ENGINE, **base()).result is True
    before = modules.container.inspect(name, profile=ENGINE)["Id"]
    changed = base(**{field: value})
    ret = states.container.running(name, profile=ENGINE, **changed)
    assert ret.result is True, ret.comment
    key = PUBLIC.get(field, field)
    after = modules.container.inspect(name, profile=ENGINE)
    if in_place:
        assert set(ret.changes) == {key}, ret.changes
        assert after["Id"] == before
    else:
        assert set(ret.changes) == {key, "container"}, ret.changes
        assert after["Id"] != before
    with EventRecorder(ENGINE) as rec:
        assert states.container.running(name, profile=ENGINE, **changed).changes == {}
    assert mine(rec, name) == []


def test_host_namespaces_and_no_network(states, name):
    spec = {
        "image": BUSYBOX,
        "command": ["sleep", "600"],
        "labels": engines.owned(),
        "network_mode": "none",
        "network_disabled": True,
        "pid_mode": "host",
        "uts_mode": "host",
        "userns_mode": "host",
        "cgroup_parent": "/docker",
        "init": True,
    }
    ret = states.container.running(name, profile=ENGINE, **spec)
    assert ret.result is True, ret.comment
    assert states.container.running(name, profile=ENGINE, **spec).changes == {}
    ret = states.container.running(name, profile=ENGINE, **dict(spec, pid_mode=""))
    assert set(ret.changes) == {"pid_mode", "container"}, ret.changes


def test_links_and_volumes_from(states, modules, name):
    db = engines.name("tbl-db")
    assert (
        states.container.running(
            db,
            profile=ENGINE,
            image=BUSYBOX,
            command=["sleep", "600"],
            labels=engines.owned(),
            volumes=["/shared"],
        ).result
        is True
    )
    spec = {
        "image": BUSYBOX,
        "command": ["sleep", "600"],
        "labels": engines.owned(),
        "init": True,
        "links": {db: "database"},
        "volumes_from": [f"{db}:ro"],
    }
    ret = states.container.running(name, profile=ENGINE, **spec)
    assert ret.result is True, ret.comment
    assert (
        modules.container.exec(name, "grep -c database /etc/hosts", profile=ENGINE)[
            "stdout"
        ].strip()
        == "1"
    )
    assert states.container.running(name, profile=ENGINE, **spec).changes == {}
    ret = states.container.running(name, profile=ENGINE, **dict(spec, links=[f"{db}:db2"]))
    assert set(ret.changes) == {"links", "container"}, ret.changes
    assert ret.changes["links"] == {"added": [f"{db}:db2"], "removed": [f"{db}:database"]}


def test_stop_timeout_is_the_containers_own_through_create(modules, name):
    cid = modules.container.create(
        BUSYBOX,
        name,
        profile=ENGINE,
        command=["sleep", "600"],
        labels=engines.owned(),
        stop_timeout=7,
    )
    assert modules.container.inspect(cid, profile=ENGINE)["Config"]["StopTimeout"] == 7
    spec = modules.container.normalize(image=BUSYBOX, command=["sleep", "600"], stop_timeout=7)
    assert modules.container.compare(name, spec, profile=ENGINE)["changes"] == {}


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"cpus": "lots"}, "cpus: expected a number"),
        ({"healthcheck": {"test": "true", "retries": "many"}}, "healthcheck.retries"),
        ({"healthcheck": {"test": 5}}, "healthcheck.test"),
        ({"cap_add": 5}, "cap_add"),
        ({"log_config": {"driver": "json-file", "options": ["a"]}}, "log_config.options"),
        ({"restart_policy": "on-failure:x"}, "restart_policy"),
        ({"ulimits": ["nofile=lots"]}, "ulimits.nofile"),
        ({"mem_swappiness": 500}, "mem_swappiness"),
        ({"working_dir": "tmp"}, "working_dir: expected an absolute path"),
        ({"stop_timeout": "soon"}, "stop_timeout"),
        ({"wait_healthy": "maybe"}, "wait_healthy"),
        ({"comparisons": {"dns": "loose"}}, "comparisons"),
    ],
)
def test_bad_input_is_refused_before_any_engine_read(states, modules, name, bad, fragment):
    with EventRecorder(ENGINE) as rec:
        ret = states.container.running(
            name, profile=ENGINE, image=BUSYBOX, labels=engines.owned(), **bad
        )
    assert ret.result is False and fragment in ret.comment, ret.comment
    assert "\n" not in ret.comment and "Traceback" not in ret.comment
    assert ret.changes == {}
    assert mine(rec, name) == []
    assert modules.container.inspect(name, profile=ENGINE) is None


@pytest.mark.parametrize(
    "option",
    [
        {"blkio_weight": 300},
        {"blkio_weight_device": {"/dev/loop0": 300}},
        {"storage_opt": {"size": "1G"}},
    ],
    ids=["blkio_weight", "blkio_weight_device", "storage_opt"],
)
def test_an_option_the_engine_host_cannot_honour_fails_cleanly(states, modules, name, option):
    """An engine whose kernel lacks I/O weights drops blkio weights with a warning (the
    container would then differ on every run); overlay2 off xfs refuses storage_opt. Either the
    option converges, or the state fails in one line and leaves no container behind."""
    spec = {"image": BUSYBOX, "command": ["sleep", "600"], "labels": engines.owned(), **option}
    ret = states.container.running(name, profile=ENGINE, **spec)
    if ret.result is True:  # a host that honours it
        assert states.container.running(name, profile=ENGINE, **spec).changes == {}
        return
    assert ret.result is False and "\n" not in ret.comment and "Traceback" not in ret.comment
    assert ret.changes == {}
    assert modules.container.inspect(name, profile=ENGINE) is None
    assert modules.container.inspect(f"{name}.saltext-next", profile=ENGINE) is None


def test_mod_watch_test_mode_and_a_half_way_failure_reports_its_steps(states, modules, name):
    spec = {"image": BUSYBOX, "command": ["sleep", "600"], "labels": engines.owned()}
    assert states.container.running(name, profile=ENGINE, **spec).result is True
    ret = states.container.mod_watch(name, sfun="running", profile=ENGINE, test=True, **spec)
    assert (
        ret.result is None
        and ret.comment == f"Container {name} would be recreated because a watched state changed"
    )
    bad = states.container.mod_watch(name, sfun="running", profile=ENGINE, cpus="lots", **spec)
    assert bad.result is False and "cpus" in bad.comment
    # The replacement is created and the old container removed, then its start fails:
    # changes name every step that happened (the old container is gone).
    ret = states.container.running(
        name, profile=ENGINE, stop_timeout=1, **dict(spec, command=["/no/such/binary"])
    )
    assert ret.result is False
    steps = ret.changes["steps"]["new"]
    assert (
        steps[0].startswith(f"created {name}.saltext-next") and f"removed the old {name}" in steps
    )
    assert modules.container.inspect(name, profile=ENGINE)["Config"]["Cmd"] == ["/no/such/binary"]
