"""scripts/chain_hosts.py: the pure parts (the hosts network's subnet, the topology from pillar,
a host's minion config and command)."""

import ipaddress

import pytest

from tests.support.hosts import chain_hosts


def net(text):
    return ipaddress.ip_network(text)


def test_the_subnet_is_the_first_free_24_of_the_pool():
    assert chain_hosts.free_subnet([]) == net("10.215.0.0/24")
    held = [net("10.215.0.0/24"), net("10.215.1.128/25"), net("192.168.0.0/16")]
    assert chain_hosts.free_subnet(held) == net("10.215.2.0/24")
    assert chain_hosts.free_subnet(held, start=255) == net("10.215.255.0/24")


def test_a_wider_network_that_covers_the_pool_leaves_no_subnet():
    with pytest.raises(RuntimeError, match="no free /24"):
        chain_hosts.free_subnet([net("10.0.0.0/8")])


def test_the_topology_is_the_first_hosts_of_pillar_with_their_rollout_order():
    pillar = {
        "topology": {
            "hosts": {"a": {"roles": ["build"]}, "b": {"roles": ["app"]}, "c": {"roles": ["app"]}},
            "rollout_order": ["c", "b"],
        }
    }
    chosen, kept = chain_hosts.topology(pillar, 2)
    assert chosen == {"a": {"roles": ["build"]}, "b": {"roles": ["app"]}}
    assert kept == {"topology": {"hosts": chosen, "rollout_order": ["b"]}}
    with pytest.raises(SystemExit, match="4 hosts asked for, 3 declared"):
        chain_hosts.topology(pillar, 4)


def test_the_registry_name_is_kept_with_the_topology():
    pillar = {"topology": {"hosts": {"a": {}}, "registry": {"name": "registry.example"}}}
    _, kept = chain_hosts.topology(pillar, 1)
    assert kept["topology"]["registry"] == {"name": "registry.example"}


def test_the_app_hosts_are_those_of_role_app_in_rollout_order_then_the_others():
    hosts = {
        "a": {"roles": ["build", "app"]},
        "b": {"roles": ["app"]},
        "c": {"roles": ["build"]},
        "d": {"roles": ["app"]},
        "e": None,
    }
    order = ["d", "c", "b"]
    pillar = {"topology": {"hosts": hosts, "rollout_order": order}}
    assert chain_hosts.app_hosts(pillar) == ["d", "b", "a"]
    assert chain_hosts.app_hosts({"topology": {"hosts": hosts}}) == ["a", "b", "d"]
    assert chain_hosts.app_hosts({"topology": {"hosts": {"c": {"roles": ["build"]}}}}) == []


def test_a_hosts_minion_talks_to_the_gateway_and_uses_its_own_engine():
    conf = chain_hosts.minion_config("host1", "10.215.3.1", {"ret_port": 1, "publish_port": 2})
    assert (conf["master"], conf["master_port"], conf["publish_port"]) == ("10.215.3.1", 1, 2)
    assert conf["pki_dir"] == "/chain-host/pki"
    assert conf["container"]["profiles"]["default"]["base_url"] == "unix:///var/run/docker.sock"


def test_the_hosts_command_starts_dockerd_as_measured_then_the_minion():
    script = chain_hosts.run_script("sc-x-host1")
    dockerd, minion = script.splitlines()[1:]
    for flag in ("--storage-driver=overlay2", "--iptables=false", "--cgroup-parent=/sc-x-host1"):
        assert flag in dockerd.split()
    assert dockerd.endswith("&") and minion.startswith("exec ") and "salt-minion" in minion
    assert "dockerd" not in chain_hosts.run_script("sc-x-stranger", engine=False)


def test_the_image_digest_follows_the_base_image():
    assert chain_hosts._inputs_digest("sha256:a") == chain_hosts._inputs_digest("sha256:a")
    assert chain_hosts._inputs_digest("sha256:a") != chain_hosts._inputs_digest("sha256:b")
