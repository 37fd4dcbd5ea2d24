"""chain_docker_objects: declared network/volume properties checked and compared, list rows."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_docker_objects as objects
from saltext.chain.utils import chain_health

NETWORK = {
    "Driver": "bridge",
    "Labels": {"app": "chain", "backup": "true"},
    "Options": {"com.docker.network.bridge.enable_icc": "true", "daemon.own": "x"},
    "IPAM": {"Config": [{"Subnet": "172.28.5.0/24", "Gateway": "172.28.5.1"}]},
    "Internal": False,
    "EnableIPv6": False,
}


def test_only_declared_network_properties_are_compared():
    assert objects.network_diff(objects.network_spec(), NETWORK) == {}
    same = objects.network_spec(
        "bridge", {"backup": True}, None, "172.28.5.0/24", "172.28.5.1", False, "no"
    )
    assert objects.network_diff(same, NETWORK) == {}
    diff = objects.network_diff(
        objects.network_spec(labels={"app": "x"}, internal=True, subnet="10.0.0.0/24"), NETWORK
    )
    assert diff == {
        "labels": {"old": {"app": "chain"}, "new": {"app": "x"}},
        "internal": {"old": False, "new": True},
        "subnet": {"old": ["172.28.5.0/24"], "new": "10.0.0.0/24"},
    }


def test_attachable_is_compared_when_declared():
    overlay = dict(NETWORK, Driver="overlay", Attachable=True)
    assert objects.network_diff(objects.network_spec("overlay", attachable=True), overlay) == {}
    assert objects.network_diff(objects.network_spec("overlay"), NETWORK) == {
        "driver": {"old": "bridge", "new": "overlay"}
    }
    assert objects.network_diff(objects.network_spec(attachable=True), NETWORK) == {
        "attachable": {"old": False, "new": True}
    }


def test_only_declared_volume_properties_are_compared():
    volume = {"Driver": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}, "Labels": None}
    assert objects.volume_diff(objects.volume_spec(driver_opts={"type": "tmpfs"}), volume) == {}
    assert objects.volume_diff(objects.volume_spec(labels=["a=1"]), volume) == {
        "labels": {"old": {"a": None}, "new": {"a": "1"}}
    }
    assert objects.volume_diff(objects.volume_spec(driver="nfs"), volume) == {
        "driver": {"old": "local", "new": "nfs"}
    }


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"labels": 5}, "labels"),
        ({"options": ["novalue"]}, "options"),
        ({"subnet": "not-a-subnet"}, "subnet"),
        ({"gateway": "10.0.0.1"}, "gateway needs a subnet"),
        ({"internal": "maybe"}, "internal"),
        ({"enable_ipv6": 2}, "enable_ipv6"),
        ({"driver": ""}, "driver"),
    ],
)
def test_bad_network_input_names_the_argument(kwargs, field):
    with pytest.raises(SaltInvocationError, match=field):
        objects.network_spec(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subnet": "10.0.0.0/33"}, "subnet: expected CIDR notation .* '10.0.0.0/33'"),
        ({"subnet": "10.0.0.256/24"}, "subnet: expected CIDR notation"),
        ({"subnet": "10.0.0.0"}, "subnet: expected CIDR notation"),
        ({"subnet": "fd00::/129"}, "subnet: expected CIDR notation"),
        ({"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "gateway: 10.0.1.1 is not inside"),
        ({"subnet": "10.0.0.0/24", "gateway": "fd00::1"}, "gateway: fd00::1 is not inside"),
        ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1/24"}, "gateway: expected an address"),
        ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.0"}, "the subnet's network address"),
    ],
)
def test_a_bad_pool_is_refused_before_the_engine_sees_it(kwargs, message):
    with pytest.raises(SaltInvocationError, match=message):
        objects.network_spec(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"},
        {"subnet": "10.0.0.1/24"},  # host bits: the engine takes it, so do we
        {"subnet": "fd00:1::/64", "gateway": "fd00:1::1"},
        {"subnet": "10.0.0.0/31", "gateway": "10.0.0.0"},
    ],
)
def test_good_pools_pass(kwargs):
    assert objects.network_spec(**kwargs)["subnet"] == kwargs["subnet"]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"driver_opts": "type=tmpfs"}, "driver_opts"),
        ({"labels": {"a": [1]}}, "labels"),
        ({"driver": 5}, "driver"),
    ],
)
def test_bad_volume_input_names_the_argument(kwargs, field):
    with pytest.raises(SaltInvocationError, match=field):
        objects.volume_spec(**kwargs)


def test_label_filters_and_names():
    assert objects.label_filters(None) is None and objects.label_filters([]) is None
    assert objects.label_filters("a=1") == ["a=1"]
    for bad in (5, [1], [""]):
        with pytest.raises(SaltInvocationError, match="labels"):
            objects.label_filters(bad)
    with pytest.raises(SaltInvocationError, match="container"):
        objects.name("", "container")


def test_list_rows():
    rows = [
        {
            "Id": "abc" * 22,
            "Names": ["/web"],
            "Image": "i",
            "ImageID": "sha",
            "State": "running",
            "Status": "Up",
            "Labels": None,
            "Ports": [{"IP": "127.0.0.1", "PublicPort": 8080, "PrivatePort": 80, "Type": "tcp"}],
        }
    ]
    assert objects.container_rows(rows)["web"]["ports"] == ["127.0.0.1:8080->80/tcp"]
    assert objects.container_rows([{"Id": "0123456789abcdef"}])["0123456789ab"]["labels"] == {}
    assert objects.volume_rows(None) == {}
    assert objects.network_rows([{"Name": "n", "Id": "1"}]) == {
        "n": {"id": "1", "driver": None, "labels": {}}
    }
    assert objects.image_rows([{"Id": "x", "RepoTags": None}])["x"]["tags"] == []


def test_exec_args():
    assert objects.exec_args("web", "echo hi")["cmd"] == ["/bin/sh", "-c", "echo hi"]
    args = objects.exec_args("web", ["ls", 1], ["A=1"], "nobody", "/tmp")
    assert args == {
        "container": "web",
        "cmd": ["ls", "1"],
        "environment": {"A": "1"},
        "user": "nobody",
        "workdir": "/tmp",
    }
    for bad, field in (
        ((5,), "cmd"),
        (("",), "cmd"),
        (("x", None, True), "user"),
        (("x", None, None, ["/"]), "workdir"),
    ):
        with pytest.raises(SaltInvocationError, match=field):
            objects.exec_args("web", *bad)


@pytest.mark.parametrize(
    "state, expected",
    [
        ({"Running": True, "Health": {"Status": "healthy"}}, (True, False, "healthy")),
        ({"Running": True, "Health": {"Status": "starting"}}, (False, False, "starting")),
        ({"Running": True, "Health": {"Status": "unhealthy"}}, (False, True, "unhealthy")),
        ({"Running": True}, (True, False, "running")),
        ({"Running": False, "Status": "exited"}, (False, True, "exited")),
        ({"Running": False, "Status": "created"}, (False, False, "created")),
    ],
)
def test_health(state, expected):
    assert objects.health({"State": state}) == expected


def test_health_with_a_watch_waits_a_blip_out():
    """container.wait_healthy's look: with a Watch, one unhealthy look is not the end; a
    container unhealthy for its whole window is (one look without it: at once, above)."""
    data = {
        "Id": "c1",
        "State": {"Running": True, "Health": {"Status": "unhealthy", "FailingStreak": 2}},
        "Config": {
            "Healthcheck": {"Test": ["CMD", "x"], "Interval": 1e9, "Timeout": 1e9, "Retries": 2}
        },
    }
    watch = chain_health.Watch()
    assert objects.health(data, watch=watch, now=0.0) == (False, False, "unhealthy")
    assert objects.health(data, watch=watch, now=3.9) == (False, False, "unhealthy")
    assert objects.health(data, watch=watch, now=4.0) == (False, True, "unhealthy")
    healthy = dict(data, State={"Running": True, "Health": {"Status": "healthy"}})
    assert objects.health(healthy, watch=chain_health.Watch(), now=0.0) == (True, False, "healthy")
