"""Multihost tests: one set of two Docker-in-Docker hosts per session (tests/support/hosts.py),
minions of a master of their own that listens on the hosts network's gateway only and accepts
no key it was not given. Every multihost test shares ``host_group``: starting hosts is the
expensive part."""

import pytest

from tests.support import hosts


@pytest.fixture(scope="session")
def hosts_network(docker_engines):
    net = hosts.Network.create()
    yield net
    net.remove()


@pytest.fixture(scope="session")
def hosts_states(tmp_path_factory):
    """The hosts master's ``file_roots``: tests write their sls files here."""
    return tmp_path_factory.mktemp("hosts-states")


@pytest.fixture(scope="session")
def hosts_master(salt_factories, hosts_network, hosts_states):
    factory = salt_factories.salt_master_daemon(
        "hosts-master", overrides=hosts.master_overrides(hosts_network, [hosts_states])
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def host_group(hosts_master, hosts_network):
    """Two hosts (host1, host2), each with its own engine and minion, started once."""
    group = hosts.start(2, hosts_master, hosts_network)
    print(f"\nmultihost: 2 hosts up in {group.setup_seconds:.1f} s")
    yield group
    group.close()
