"""Pure logic of the container module: normalisation, typed comparison, build input digests."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import container


@pytest.fixture
def configure_loader_modules():
    return {container: {"__salt__": {}, "__opts__": {}, "__context__": {}}}


@pytest.mark.parametrize(
    "ports, expected",
    [
        (["127.0.0.1:8080:80"], {"80/tcp": [("127.0.0.1", "8080")]}),
        (["[::1]:8443:443/tcp", "127.0.0.1:8443:443"], {"443/tcp": [("127.0.0.1", "8443"), ("::1", "8443")]}),
        (["127.0.0.1::53/udp"], {"53/udp": [("127.0.0.1", "")]}),
        (["8080:80"], {"80/tcp": [("", "8080")]}),
        ({"80": "127.0.0.1:8080"}, {"80/tcp": [("127.0.0.1", "8080")]}),
        ({"80/tcp": [{"host_ip": "::1", "host_port": 81}]}, {"80/tcp": [("::1", "81")]}),
    ],
)
def test_ports(ports, expected):
    assert container._ports(ports) == expected


@pytest.mark.parametrize("bad", [["80"], ["a:b:c:d"], ["127.0.0.1:70000:80"], ["127.0.0.1:80:http"], "80:80"])
def test_bad_ports(bad):
    with pytest.raises(SaltInvocationError):
        container._ports(bad)


@pytest.mark.parametrize("value, ns", [("1m30s", 90 * 10**9), ("500ms", 5 * 10**8), (2, 2 * 10**9), ("1h", 3600 * 10**9)])
def test_durations(value, ns):
    assert container._duration_ns(value, "x") == ns


@pytest.mark.parametrize("bad", ["", "10 s", "s", "10x", True])
def test_bad_durations(bad):
    with pytest.raises(SaltInvocationError):
        container._duration_ns(bad, "x")


def test_normalize_shapes_and_rejects_unknown():
    spec = container.normalize(
        image="app:1", command="sh -c 'echo hi'", environment=["A=1", {"B": True}], labels={"x": 1},
        restart_policy="on-failure:3", memory="64m", cpus=1.5, cap_add="net_admin, CAP_SYS_TIME",
        healthcheck={"test": "true", "interval": "2s"}, binds=["/src:/dst"], __pub_fun="x",
    )
    assert spec["command"] == ["sh", "-c", "echo hi"]
    assert spec["environment"] == {"A": "1", "B": "true"}
    assert spec["labels"] == {"x": "1"}
    assert spec["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert spec["memory"] == 64 * 1024 * 1024 and spec["cpus"] == 1_500_000_000
    assert spec["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert spec["healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 2 * 10**9}
    assert spec["binds"] == [("/src", "/dst", "rw")]
    with pytest.raises(SaltInvocationError, match="unknown container argument"):
        container.normalize(image="app:1", prots=["1:1"])
    with pytest.raises(SaltInvocationError, match="image"):
        container.normalize(image="")
    with pytest.raises(SaltInvocationError, match="network_mode"):
        container.normalize(image="a", networks=["n"], network_mode="host")


@pytest.mark.parametrize(
    "kind, mode, expected, actual, differs",
    [
        ("set", "strict", ["A"], ["A", "B"], True),
        ("set", "allow_more_present", ["A"], ["A", "B"], False),
        ("dict", "strict", {"a": "1"}, {"a": "1", "b": "2"}, True),
        ("dict", "allow_more_present", {"a": "1"}, {"a": "1", "b": "2"}, False),
        ("dict", "allow_more_present", {"a": "1"}, {"a": "2"}, True),
        ("value", "ignore", 1, 2, False),
        ("value", "strict", ["a", "b"], ["b", "a"], True),
    ],
)
def test_typed_comparison(kind, mode, expected, actual, differs):
    assert container._differs(kind, mode, expected, actual) is differs


def test_networks_comparison_ignores_daemon_aliases():
    want = {"app": {"aliases": ["web"], "ipv4_address": None, "ipv6_address": None}}
    have = {"app": {"aliases": ["0123456789ab", "web"], "ipv4_address": None, "ipv6_address": None},
            "bridge": {"aliases": [], "ipv4_address": None, "ipv6_address": None}}
    assert container._differs("networks", "allow_more_present", want, have) is False
    assert container._differs("networks", "strict", want, have) is False  # default bridge tolerated
    have["other"] = have["bridge"]
    assert container._differs("networks", "strict", want, have) is True


def test_expected_merges_image_defaults():
    image_config = {"Env": ["PATH=/bin", "A=0"], "Labels": {"maintainer": "x"}}
    spec = {"environment": {"A": "1"}, "labels": {"app": "web"}}
    assert container._expected("environment", spec, image_config) == {"PATH": "/bin", "A": "1"}
    assert container._expected("labels", spec, image_config) == {"maintainer": "x", "app": "web"}


def test_change_shapes():
    assert container._change("set", ["A", "C"], ["A", "B"]) == {"added": ["C"], "removed": ["B"]}
    assert container._change("dict", {"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {
        "old": {"b": "3", "c": "4"}, "new": {"b": "2"}}


def test_build_inputs_digest_honours_dockerignore(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "debug.log").write_text("x\n")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    first = container.build_inputs_digest(str(tmp_path))
    (tmp_path / "debug.log").write_text("y\n")
    assert container.build_inputs_digest(str(tmp_path)) == first
    (tmp_path / "app.py").write_text("print(2)\n")
    second = container.build_inputs_digest(str(tmp_path))
    assert second != first
    assert container.build_inputs_digest(str(tmp_path), buildargs={"V": "1"}) != second
    assert container.build_inputs_digest(str(tmp_path), target="prod") != second
    (tmp_path / "app.py").chmod(0o755)
    assert container.build_inputs_digest(str(tmp_path)) != second


def test_secret_environment_values_are_masked_in_changes():
    change = container._change("dict", {"JENKINS_SECRET": "s3cr3t-new", "DB_PASSWORD": "pw-new", "MODE": "x"},
                               {"JENKINS_SECRET": "s3cr3t-old", "MODE": "y"}, "environment")
    flat = str(change)
    assert "s3cr3t" not in flat and "pw-new" not in flat
    assert change == {"old": {"JENKINS_SECRET": "<hidden>", "MODE": "y"},
                      "new": {"JENKINS_SECRET": "<hidden>", "DB_PASSWORD": "<hidden>", "MODE": "x"}}
    # Labels are not secret-bearing by convention and stay readable.
    assert container._change("dict", {"TOKEN": "1"}, {}, "labels") == {"old": {}, "new": {"TOKEN": "1"}}


@pytest.mark.parametrize(
    "text, args, expected",
    [
        ("FROM debian:12\n", {}, ["debian:12"]),
        ("ARG BASE_IMAGE=busybox:1\nFROM ${BASE_IMAGE}\n", {}, ["busybox:1"]),
        ("ARG BASE_IMAGE=busybox:1\nFROM $BASE_IMAGE AS build\nFROM scratch\nCOPY --from=build / /\n",
         {"BASE_IMAGE": "alpine:3"}, ["alpine:3"]),
        ("FROM --platform=linux/amd64 app:1 AS a\nFROM a\nFROM other:2\n", {}, ["app:1", "other:2"]),
    ],
)
def test_base_images_of_a_dockerfile(text, args, expected):
    assert container._base_images(text, args) == expected


def test_digest_takes_labels_and_list_buildargs(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    plain = container.build_inputs_digest(str(tmp_path))
    assert container.build_inputs_digest(str(tmp_path), labels={"a": "1"}) != plain
    assert container.build_inputs_digest(str(tmp_path), buildargs=["V=1"]) == \
        container.build_inputs_digest(str(tmp_path), buildargs={"V": "1"})


@pytest.mark.parametrize(
    "name, base",
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("localhost:5000", "http://localhost:5000"),
        ("[::1]:5000", "http://[::1]:5000"),
        ("registry.example:5000", "https://registry.example:5000"),
        ("https://index.docker.io/v1/", "https://registry-1.docker.io"),
        ("docker.io", "https://registry-1.docker.io"),
        ("http://ci.internal:5000/", "http://ci.internal:5000"),
    ],
)
def test_registry_base_url(name, base):
    assert container._registry_base(name) == base
