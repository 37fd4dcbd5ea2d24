"""The container option table (pure): every option's normaliser, bad input, inspect -> canonical,
comparison modes, create/update bodies, and the generated docs being current."""

import subprocess
import sys

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_docker_spec as spec
from saltext.chain.utils import chain_docker_types as types
from saltext.chain.utils.chain_errors import BadInput

from tests.conftest import REPO

# One valid declared value per option, its canonical form, and what `docker inspect` reports
# for a container created from it (Docker 20.10, API 1.41; checked against the engine by the
# functional tests).
CASES = {
    "command": (
        "sh -c 'echo hi'",
        ["sh", "-c", "echo hi"],
        {"Config": {"Cmd": ["sh", "-c", "echo hi"]}},
    ),
    "entrypoint": (["/bin/sh"], ["/bin/sh"], {"Config": {"Entrypoint": ["/bin/sh"]}}),
    "environment": (
        ["A=1", {"B": True}],
        {"A": "1", "B": "true"},
        {"Config": {"Env": ["A=1", "B=true"]}},
    ),
    "user": (1000, "1000", {"Config": {"User": "1000"}}),
    "workdir": ("/srv", "/srv", {"Config": {"WorkingDir": "/srv"}}),
    "tty": ("yes", True, {"Config": {"Tty": True}}),
    "stdin_open": (True, True, {"Config": {"OpenStdin": True}}),
    "stop_signal": ("int", "SIGINT", {"Config": {"StopSignal": "SIGINT"}}),
    "stop_timeout": ("7", 7, {"Config": {"StopTimeout": 7}}),
    "init": (True, True, {"HostConfig": {"Init": True}}),
    "healthcheck": (
        {"test": "true", "interval": "2s", "retries": "3"},
        {"Test": ["CMD-SHELL", "true"], "Interval": 2 * 10**9, "Retries": 3},
        {
            "Config": {
                "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2 * 10**9, "Retries": 3}
            }
        },
    ),
    "labels": ({"x": 1}, {"x": "1"}, {"Config": {"Labels": {"x": "1"}}}),
    "restart_policy": (
        "on-failure:3",
        {"Name": "on-failure", "MaximumRetryCount": 3},
        {"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}},
    ),
    "auto_remove": (False, False, {"HostConfig": {"AutoRemove": False}}),
    "ports": (
        ["127.0.0.1:8080:80"],
        {"80/tcp": [("127.0.0.1", "8080")]},
        {"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}}},
    ),
    "expose": (
        [80, "53/udp"],
        ["53/udp", "80/tcp"],
        {"Config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}},
    ),
    "publish_all_ports": (True, True, {"HostConfig": {"PublishAllPorts": True}}),
    "networks": (
        ["app"],
        {"app": {"aliases": [], "ipv4_address": None, "ipv6_address": None}},
        {"NetworkSettings": {"Networks": {"app": {"Aliases": None, "IPAMConfig": None}}}},
    ),
    "network_mode": ("host", "host", {"HostConfig": {"NetworkMode": "host"}}),
    "network_disabled": (True, True, {"Config": {"NetworkDisabled": True}}),
    "hostname": ("web", "web", {"Config": {"Hostname": "web"}}),
    "domainname": ("example.org", "example.org", {"Config": {"Domainname": "example.org"}}),
    "mac_address": (
        "02:42:AC:11:00:99",
        "02:42:ac:11:00:99",
        {"Config": {"MacAddress": "02:42:ac:11:00:99"}},
    ),
    "dns": (
        "1.1.1.1, 9.9.9.9",
        ["1.1.1.1", "9.9.9.9"],
        {"HostConfig": {"Dns": ["1.1.1.1", "9.9.9.9"]}},
    ),
    "dns_search": (
        ["example.com"],
        ["example.com"],
        {"HostConfig": {"DnsSearch": ["example.com"]}},
    ),
    "dns_opt": (["ndots:2"], ["ndots:2"], {"HostConfig": {"DnsOptions": ["ndots:2"]}}),
    "extra_hosts": (
        {"db": "10.0.0.5", "v6": "::1"},
        ["db:10.0.0.5", "v6:::1"],
        {"HostConfig": {"ExtraHosts": ["v6:::1", "db:10.0.0.5"]}},
    ),
    "links": (
        {"db": "database"},
        ["db:database"],
        {"HostConfig": {"Links": ["/db:/web/database"]}},
    ),
    "binds": (
        ["/src:/dst:ro", "/anon"],
        [("", "/anon", "rw"), ("/src", "/dst", "ro")],
        {"HostConfig": {"Binds": ["/src:/dst:ro"]}, "Config": {"Volumes": {"/anon": {}}}},
    ),
    "volumes_from": ("other:ro", ["other:ro"], {"HostConfig": {"VolumesFrom": ["other:ro"]}}),
    "volume_driver": ("local", "local", {"HostConfig": {"VolumeDriver": "local"}}),
    "tmpfs": (
        ["/run:size=1m"],
        {"/run": "size=1m"},
        {"HostConfig": {"Tmpfs": {"/run": "size=1m"}}},
    ),
    "read_only": ("true", True, {"HostConfig": {"ReadonlyRootfs": True}}),
    "shm_size": ("8m", 8 * 1024**2, {"HostConfig": {"ShmSize": 8 * 1024**2}}),
    "storage_opt": ({"size": "1G"}, {"size": "1G"}, {"HostConfig": {"StorageOpt": {"size": "1G"}}}),
    "privileged": (False, False, {"HostConfig": {"Privileged": False}}),
    "cap_add": (
        "net_admin, CAP_SYS_TIME",
        ["NET_ADMIN", "SYS_TIME"],
        {"HostConfig": {"CapAdd": ["CAP_NET_ADMIN", "SYS_TIME"]}},
    ),
    "cap_drop": (["mknod"], ["MKNOD"], {"HostConfig": {"CapDrop": ["MKNOD"]}}),
    "security_opt": (
        ["no-new-privileges"],
        ["no-new-privileges"],
        {"HostConfig": {"SecurityOpt": ["no-new-privileges"]}},
    ),
    "devices": (
        ["/dev/null:/dev/mynull"],
        ["/dev/null:/dev/mynull:rwm"],
        {
            "HostConfig": {
                "Devices": [
                    {
                        "PathOnHost": "/dev/null",
                        "PathInContainer": "/dev/mynull",
                        "CgroupPermissions": "rwm",
                    }
                ]
            }
        },
    ),
    "device_cgroup_rules": (
        ["c 1:3 mr"],
        ["c 1:3 mr"],
        {"HostConfig": {"DeviceCgroupRules": ["c 1:3 mr"]}},
    ),
    "group_add": (["audio", 29], ["29", "audio"], {"HostConfig": {"GroupAdd": ["audio", "29"]}}),
    "sysctls": (
        ["net.ipv4.ip_forward=1"],
        {"net.ipv4.ip_forward": "1"},
        {"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1"}}},
    ),
    "ulimits": (
        ["nofile=1024:2048", "nproc=512"],
        {"nofile": "1024:2048", "nproc": "512:512"},
        {
            "HostConfig": {
                "Ulimits": [
                    {"Name": "nproc", "Soft": 512, "Hard": 512},
                    {"Name": "nofile", "Soft": 1024, "Hard": 2048},
                ]
            }
        },
    ),
    "ipc_mode": ("shareable", "shareable", {"HostConfig": {"IpcMode": "shareable"}}),
    "pid_mode": ("host", "host", {"HostConfig": {"PidMode": "host"}}),
    "uts_mode": ("host", "host", {"HostConfig": {"UTSMode": "host"}}),
    "userns_mode": ("host", "host", {"HostConfig": {"UsernsMode": "host"}}),
    "cgroupns": ("private", "private", {"HostConfig": {"CgroupnsMode": "private"}}),
    "cgroup_parent": ("/chain", "/chain", {"HostConfig": {"CgroupParent": "/chain"}}),
    "runtime": ("runc", "runc", {"HostConfig": {"Runtime": "runc"}}),
    "oom_kill_disable": (True, True, {"HostConfig": {"OomKillDisable": True}}),
    "oom_score_adj": (-500, -500, {"HostConfig": {"OomScoreAdj": -500}}),
    "memory": ("64m", 64 * 1024**2, {"HostConfig": {"Memory": 64 * 1024**2}}),
    "mem_reservation": ("32m", 32 * 1024**2, {"HostConfig": {"MemoryReservation": 32 * 1024**2}}),
    "memswap_limit": (-1, -1, {"HostConfig": {"MemorySwap": -1}}),
    "mem_swappiness": (10, 10, {"HostConfig": {"MemorySwappiness": 10}}),
    "cpus": ("1.5", 1_500_000_000, {"HostConfig": {"NanoCpus": 1_500_000_000}}),
    "cpu_shares": (512, 512, {"HostConfig": {"CpuShares": 512}}),
    "cpu_period": (100000, 100000, {"HostConfig": {"CpuPeriod": 100000}}),
    "cpu_quota": (50000, 50000, {"HostConfig": {"CpuQuota": 50000}}),
    "cpuset_cpus": ("0", "0", {"HostConfig": {"CpusetCpus": "0"}}),
    "cpuset_mems": ("0", "0", {"HostConfig": {"CpusetMems": "0"}}),
    "pids_limit": (100, 100, {"HostConfig": {"PidsLimit": 100}}),
    "blkio_weight": (300, 300, {"HostConfig": {"BlkioWeight": 300}}),
    "blkio_weight_device": (
        {"/dev/loop0": 200},
        {"/dev/loop0": 200},
        {"HostConfig": {"BlkioWeightDevice": [{"Path": "/dev/loop0", "Weight": 200}]}},
    ),
    "device_read_bps": (
        ["/dev/loop0:1m"],
        {"/dev/loop0": 1024**2},
        {"HostConfig": {"BlkioDeviceReadBps": [{"Path": "/dev/loop0", "Rate": 1024**2}]}},
    ),
    "device_write_bps": (
        {"/dev/loop0": "2m"},
        {"/dev/loop0": 2 * 1024**2},
        {"HostConfig": {"BlkioDeviceWriteBps": [{"Path": "/dev/loop0", "Rate": 2 * 1024**2}]}},
    ),
    "device_read_iops": (
        {"/dev/loop0": 100},
        {"/dev/loop0": 100},
        {"HostConfig": {"BlkioDeviceReadIOps": [{"Path": "/dev/loop0", "Rate": 100}]}},
    ),
    "device_write_iops": (
        {"/dev/loop0": "200"},
        {"/dev/loop0": 200},
        {"HostConfig": {"BlkioDeviceWriteIOps": [{"Path": "/dev/loop0", "Rate": 200}]}},
    ),
    "log_config": (
        {"driver": "json-file", "options": {"max-size": "1m"}},
        {"Type": "json-file", "Config": {"max-size": "1m"}},
        {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}}},
    ),
}


def test_every_option_has_a_case():
    assert set(CASES) == set(spec.BY_NAME)
    assert len(spec.OPTIONS) == len(spec.BY_NAME)  # one row per option


@pytest.mark.parametrize("name", sorted(CASES))
def test_normaliser_and_inspect_agree(name):
    declared, canonical, inspected = CASES[name]
    got = spec.normalize("img", {name: declared})
    assert got == {"image": "img", name: canonical}
    # What the engine reports for it reads back as the same canonical value: no drift.
    want = spec.expected(name, got, {})
    assert spec.actual(name, inspected) == want or not spec.differs(
        spec.BY_NAME[name].kind, spec.BY_NAME[name].mode, want, spec.actual(name, inspected)
    )
    assert not spec.diff(got, inspected, {}, {})[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_create_body_round_trips_through_inspect(name):
    """What create sends sits where inspect reads it (networks and binds aside)."""
    if name in ("networks", "binds", "links"):
        return
    declared, canonical, _ = CASES[name]
    body = spec.create_body({"image": "img", name: canonical})
    opt = spec.BY_NAME[name]
    section, _, key = opt.where.partition(".")
    inspected = {
        "HostConfig": body["HostConfig"],
        "Config": {k: v for k, v in body.items() if k != "HostConfig"},
    }
    assert key in (body["HostConfig"] if section == "HostConfig" else body)
    assert not spec.diff({"image": "img", name: canonical}, inspected, {}, {})[0]


def test_unset_options_read_as_their_default():
    for opt in spec.OPTIONS:
        if opt.name != "binds":
            assert spec.actual(opt.name, {"Config": {}, "HostConfig": {}}) == (
                opt.from_api(None) if opt.from_api else opt.unset
            ), opt.name


@pytest.mark.parametrize(
    "alias, name",
    [
        ("working_dir", "workdir"),
        ("mem_limit", "memory"),
        ("volumes", "binds"),
        ("volume", "binds"),
        ("port_bindings", "ports"),
        ("publish", "ports"),
        ("cmd", "command"),
        ("env", "environment"),
        ("rm", "auto_remove"),
        ("interactive", "stdin_open"),
        ("memory_swap", "memswap_limit"),
        ("cpuset", "cpuset_cpus"),
        ("ulimit", "ulimits"),
        ("sysctl", "sysctls"),
        ("ipc", "ipc_mode"),
        ("user_ns_mode", "userns_mode"),
        ("publish_all", "publish_all_ports"),
        ("restart", "restart_policy"),
        ("dns_option", "dns_opt"),
        ("security_opts", "security_opt"),
        ("label", "labels"),
    ],
)
def test_aliases(alias, name):
    declared, canonical, _ = CASES[name]
    assert spec.normalize("img", {alias: declared})[name] == canonical
    assert spec.comparisons({alias: "ignore"}) == {name: "ignore"}


def test_log_driver_and_log_opt_make_log_config():
    got = spec.normalize("img", {"log_driver": "json-file", "log_opt": {"max-size": "1m"}})
    assert got["log_config"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    with pytest.raises(BadInput, match="log_config"):
        spec.normalize("img", {"log_driver": "json-file", "log_config": {"driver": "none"}})


def test_one_option_under_two_names_is_refused():
    with pytest.raises(BadInput, match="give only one"):
        spec.normalize("img", {"workdir": "/a", "working_dir": "/b"})


@pytest.mark.parametrize(
    "field, value",
    [
        # The cases: each a clean one-line error, never a traceback or an accepted value.
        ("cpus", "lots"),
        ("healthcheck", {"test": "true", "retries": "many"}),
        ("healthcheck", {"test": 5}),
        ("cap_add", 5),
        ("log_config", {"driver": "json-file", "options": ["a"]}),
        ("restart_policy", "on-failure:x"),
        ("restart_policy", "always:3"),
        ("restart_policy", "sometimes"),
        ("restart_policy", {"Name": "on-failure", "MaximumRetryCount": "x"}),
        ("restart_policy", 5),
        ("cpus", True),
        ("cpus", -1),
        ("memory", "lots"),
        ("memory", -5),
        ("memory", [1]),
        ("shm_size", "1q"),
        ("healthcheck", "true"),
        ("healthcheck", {"test": "x", "interval": "soon"}),
        ("healthcheck", {"test": "x", "every": "1s"}),
        ("log_config", "json-file"),
        ("log_config", {"driver": ["x"]}),
        ("environment", 5),
        ("environment", ["A"]),
        ("environment", {"A": {"nested": 1}}),
        ("labels", "a"),
        ("command", 5),
        ("command", "'unclosed"),
        ("entrypoint", [True]),
        ("ports", ["80"]),
        ("ports", 80),
        ("ports", ["127.0.0.1:70000:80"]),
        ("expose", ["http"]),
        ("expose", {"80": 1}),
        ("binds", ["relative"]),
        ("binds", ["/a:rel"]),
        ("binds", 5),
        ("binds", {"/a": 5}),
        ("networks", 5),
        ("networks", {"n": {"bogus": 1}}),
        ("networks", [5]),
        ("workdir", "relative"),
        ("workdir", ["/x"]),
        ("user", {"a": 1}),
        ("tty", "maybe"),
        ("init", 2),
        ("privileged", "sure"),
        ("dns", 5),
        ("dns", [{"a": 1}]),
        ("extra_hosts", ["db"]),
        ("extra_hosts", 5),
        ("ulimits", ["nofile=lots"]),
        ("ulimits", {"nofile": "1:x"}),
        ("ulimits", 5),
        ("devices", ["null"]),
        ("devices", ["/dev/null:/dev/x:xyz"]),
        ("devices", 5),
        ("sysctls", "x"),
        ("group_add", 5),
        ("oom_score_adj", 5000),
        ("oom_score_adj", "x"),
        ("mem_swappiness", 101),
        ("pids_limit", "many"),
        ("pids_limit", -2),
        ("cpu_shares", -1),
        ("blkio_weight", 5000),
        ("blkio_weight_device", {"/dev/loop0": 1}),
        ("device_read_bps", {"/dev/x": "fast"}),
        ("device_read_iops", ["/dev/x"]),
        ("mac_address", "nope"),
        ("stop_signal", "NO SUCH"),
        ("stop_timeout", "soon"),
        ("tmpfs", 5),
        ("storage_opt", "size"),
        ("links", 5),
        ("memswap_limit", "x"),
        ("read_only", "ro"),
        ("auto_remove", "x"),
        ("volumes_from", 5),
    ],
)
def test_bad_input_is_refused_cleanly(field, value):
    with pytest.raises(BadInput) as err:
        spec.normalize("img", {field: value})
    message = str(err.value)
    assert "\n" not in message and field.split(".")[0] in message
    assert isinstance(err.value, SaltInvocationError)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"networks": ["n"], "network_mode": "host"}, "network_mode"),
        ({"cpus": 1, "cpu_quota": 50000}, "cpu_quota"),
        ({"auto_remove": True, "restart_policy": "always"}, "auto_remove"),
        ({"hostname": "x", "network_mode": "container:other"}, "hostname"),
        ({"prots": ["1:1"]}, "unknown container argument"),
    ],
)
def test_conflicts_and_unknown(kwargs, match):
    with pytest.raises(BadInput, match=match):
        spec.normalize("img", kwargs)


@pytest.mark.parametrize("image", ["", None, 5])
def test_image_is_required(image):
    with pytest.raises(BadInput, match="image"):
        spec.normalize(image, {})


@pytest.mark.parametrize("bad", [5, ["strict"], {"command": "loose"}, {"nope": "strict"}])
def test_bad_comparisons(bad):
    with pytest.raises(BadInput, match="comparisons"):
        spec.comparisons(bad)


@pytest.mark.parametrize(
    "ports, expected",
    [
        (["127.0.0.1:8080:80"], {"80/tcp": [("127.0.0.1", "8080")]}),
        (
            ["[::1]:8443:443/tcp", "127.0.0.1:8443:443"],
            {"443/tcp": [("127.0.0.1", "8443"), ("::1", "8443")]},
        ),
        (["127.0.0.1::53/udp"], {"53/udp": [("127.0.0.1", "")]}),
        (["8080:80"], {"80/tcp": [("", "8080")]}),
        ({"80": "127.0.0.1:8080"}, {"80/tcp": [("127.0.0.1", "8080")]}),
        ({"80/tcp": [{"host_ip": "::1", "host_port": 81}]}, {"80/tcp": [("::1", "81")]}),
    ],
)
def test_ports(ports, expected):
    assert types.ports(ports) == expected


@pytest.mark.parametrize(
    "bad", [["80"], ["a:b:c:d"], ["127.0.0.1:70000:80"], ["127.0.0.1:80:http"], "80:80"]
)
def test_bad_ports(bad):
    with pytest.raises(SaltInvocationError):
        types.ports(bad)


@pytest.mark.parametrize(
    "value, ns", [("1m30s", 90 * 10**9), ("500ms", 5 * 10**8), (2, 2 * 10**9), ("1h", 3600 * 10**9)]
)
def test_durations(value, ns):
    assert spec.duration_ns(value, "x") == ns


@pytest.mark.parametrize("bad", ["", "10 s", "s", "10x", True, -1, None])
def test_bad_durations(bad):
    with pytest.raises(SaltInvocationError):
        spec.duration_ns(bad, "x")


@pytest.mark.parametrize(
    "kind, mode, expected, actual, differs",
    [
        ("set", "strict", ["A"], ["A", "B"], True),
        ("set", "allow_more_present", ["A"], ["A", "B"], False),
        (
            "set",
            "strict",
            [["/a", "/b", "rw"]],
            [("/a", "/b", "rw")],
            False,
        ),  # JSON lists vs tuples
        ("dict", "strict", {"a": "1"}, {"a": "1", "b": "2"}, True),
        ("dict", "allow_more_present", {"a": "1"}, {"a": "1", "b": "2"}, False),
        ("dict", "allow_more_present", {"a": "1"}, {"a": "2"}, True),
        ("value", "ignore", 1, 2, False),
        ("value", "strict", ["a", "b"], ["b", "a"], True),
    ],
)
def test_typed_comparison(kind, mode, expected, actual, differs):
    assert spec.differs(kind, mode, expected, actual) is differs


def test_networks_comparison_ignores_daemon_aliases():
    want = {"app": {"aliases": ["web"], "ipv4_address": None, "ipv6_address": None}}
    have = {
        "app": {"aliases": ["0123456789ab", "web"], "ipv4_address": None, "ipv6_address": None},
        "bridge": {"aliases": [], "ipv4_address": None, "ipv6_address": None},
    }
    assert spec.differs("networks", "allow_more_present", want, have) is False
    assert spec.differs("networks", "strict", want, have) is False  # default bridge tolerated
    have["other"] = have["bridge"]
    assert spec.differs("networks", "strict", want, have) is True


def test_expected_merges_image_defaults():
    image_config = {
        "Env": ["PATH=/bin", "A=0"],
        "Labels": {"maintainer": "x"},
        "Volumes": {"/data": {}},
        "ExposedPorts": {"8080/tcp": {}},
    }
    declared = {
        "environment": {"A": "1"},
        "labels": {"app": "web"},
        "binds": [("/h", "/etc/x", "ro")],
        "expose": ["80/tcp"],
    }
    assert spec.expected("environment", declared, image_config) == {"PATH": "/bin", "A": "1"}
    assert spec.expected("labels", declared, image_config) == {"maintainer": "x", "app": "web"}
    assert spec.expected("binds", declared, image_config) == [
        ("", "/data", "rw"),
        ("/h", "/etc/x", "ro"),
    ]
    assert spec.expected("expose", declared, image_config) == ["80/tcp", "8080/tcp"]


def test_change_shapes():
    assert spec.change("set", ["A", "C"], ["A", "B"]) == {"added": ["C"], "removed": ["B"]}
    assert spec.change("dict", {"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {
        "old": {"b": "3", "c": "4"},
        "new": {"b": "2"},
    }


def test_secret_environment_values_are_masked_in_changes():
    change = spec.change(
        "dict",
        {"JENKINS_SECRET": "s3cr3t-new", "DB_PASSWORD": "pw-new", "MODE": "x"},
        {"JENKINS_SECRET": "s3cr3t-old", "MODE": "y"},
        "environment",
    )
    flat = str(change)
    assert "s3cr3t" not in flat and "pw-new" not in flat
    assert change == {
        "old": {"JENKINS_SECRET": "<hidden>", "MODE": "y"},
        "new": {"JENKINS_SECRET": "<hidden>", "DB_PASSWORD": "<hidden>", "MODE": "x"},
    }
    assert spec.change("dict", {"TOKEN": "1"}, {}, "labels") == {"old": {}, "new": {"TOKEN": "1"}}


def test_diff_sorts_fields_into_in_place_and_recreate():
    declared = spec.normalize(
        "img", {"memory": "64m", "cpu_shares": 512, "dns": ["1.1.1.1"], "labels": {"a": "1"}}
    )
    inspected = {
        "Config": {"Labels": {"a": "1", "extra": "x"}},
        "HostConfig": {"Memory": 0, "Dns": []},
    }
    changes, updatable, recreate = spec.diff(declared, inspected, {}, {})
    assert set(changes) == {"memory", "cpu_shares", "dns"}
    assert sorted(updatable) == ["cpu_shares", "memory"] and recreate == ["dns"]
    assert spec.diff(declared, inspected, {}, {"*": "ignore"})[0] == {}
    assert "labels" in spec.diff(declared, inspected, {}, {"labels": "strict"})[0]


def test_create_body():
    declared = spec.normalize(
        "img",
        {
            "ports": ["127.0.0.1::8080"],
            "expose": [9090],
            "binds": ["/h:/c:ro", "/anon"],
            "networks": {"a": {"aliases": ["web"], "ipv4_address": "10.1.0.5"}, "b": None},
            "environment": {"A": "1"},
            "ulimits": {"nofile": "1:2"},
            "memory": "1m",
        },
    )
    body = spec.create_body(declared)
    assert body["Image"] == "img" and body["Env"] == ["A=1"]
    assert body["ExposedPorts"] == {"8080/tcp": {}, "9090/tcp": {}}
    assert body["Volumes"] == {"/anon": {}}
    host = body["HostConfig"]
    assert (
        host["Binds"] == ["/h:/c:ro"] and host["NetworkMode"] == "a" and host["Memory"] == 1024**2
    )
    assert host["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1, "Hard": 2}]
    assert body["NetworkingConfig"] == {
        "EndpointsConfig": {"a": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.1.0.5"}}}
    }


def test_update_body():
    declared = spec.normalize(
        "img",
        {"memory": "64m", "cpus": 0.5, "restart_policy": "always", "dns": ["x"], "pids_limit": 50},
    )
    assert spec.update_body(
        declared, ["memory", "cpus", "restart_policy", "dns", "pids_limit"]
    ) == {
        "Memory": 64 * 1024**2,
        "MemorySwap": -1,
        "NanoCpus": 500_000_000,
        "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0},
        "PidsLimit": 50,
    }
    with_swap = spec.normalize("img", {"memory": "64m", "memswap_limit": "128m"})
    assert spec.update_body(with_swap, ["memory"])["MemorySwap"] == 128 * 1024**2
    assert spec.UPDATABLE >= {
        "restart_policy",
        "memory",
        "cpus",
        "networks",
        "cpu_shares",
        "pids_limit",
    }


def test_docs_are_generated_from_the_table():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_container_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = (REPO / "docs" / "container.md").read_text()
    for opt in spec.OPTIONS:
        assert f"| `{opt.name}` |" in text


def test_docstrings_list_the_table():
    names = spec.option_names()
    assert all(opt.name in names for opt in spec.OPTIONS)
    assert "working_dir" in names and "mem_limit" in names


ANON = "a" * 64


def _inspected(binds, volumes, mounts):
    return {
        "HostConfig": {"Binds": binds},
        "Config": {"Volumes": {p: {} for p in volumes}},
        "Mounts": mounts,
    }


def test_an_anonymous_volume_kept_by_a_recreate_is_still_anonymous():
    kept = _inspected([f"{ANON}:/keep:rw"], ["/keep"], [])
    assert spec.actual("binds", kept) == [("", "/keep", "rw")]
    # a volume named like that at a path nothing declares anonymous is a named bind
    named = _inspected([f"{ANON}:/data:rw"], [], [])
    assert spec.actual("binds", named) == [(ANON, "/data", "rw")]


def test_anonymous_volumes_are_engine_named_at_declared_paths():
    mounts = [
        {"Type": "volume", "Name": ANON, "Destination": "/keep"},
        {"Type": "volume", "Name": "b" * 64, "Destination": "/image-vol"},
        {"Type": "volume", "Name": "data", "Destination": "/data"},
        {"Type": "bind", "Source": "/srv", "Destination": "/srv"},
    ]
    got = spec.anonymous_volumes(_inspected(["data:/data:rw"], ["/keep", "/image-vol"], mounts))
    assert got == {"/keep": ANON, "/image-vol": "b" * 64}


def test_keep_volumes_mounts_only_where_the_new_container_is_anonymous():
    new = {"image": "x", "binds": [("", "/keep", "rw"), ("/srv", "/data", "ro")]}
    body = spec.create_body(new)
    kept = spec.keep_volumes(
        body,
        new,
        {"Volumes": {"/image-vol": {}}},
        {"/keep": ANON, "/image-vol": "b" * 64, "/data": "c" * 64, "/gone": "d" * 64},
    )
    assert kept == {ANON, "b" * 64}
    assert sorted(body["HostConfig"]["Binds"]) == sorted(
        ["/srv:/data:ro", f"{ANON}:/keep:rw", f"{'b' * 64}:/image-vol:rw"]
    )
    assert set(body["Volumes"]) == {"/keep", "/image-vol"}


def test_engine_named_is_64_hex_digits_and_nothing_else():
    assert spec.engine_named("a" * 64)
    assert spec.engine_named("0123456789abcdef" * 4)
    for name in ("a" * 63, "a" * 65, "A" * 64, "g" * 64, "sc-x-data", "", None):
        assert not spec.engine_named(name), name
