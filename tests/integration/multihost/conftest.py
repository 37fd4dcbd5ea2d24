"""Multihost tests: one set of two Docker-in-Docker hosts for the package
(tests/support/hosts.py), minions of a master of their own that listens on the hosts network's
gateway only and accepts no key it was not given. Every multihost test shares ``host_group``:
starting hosts is the expensive part. Package scope, not the session's: the hosts, their master
and the TLS registry go when the package ends (tests/support/schedule.py runs it whole on one
worker), so they cost nothing to the modules after it, and no later module's clean-up of the
run's containers takes a host from under a teardown that still needs it (ci47: the registry's
teardown ran at the session's end, after another module had removed the hosts)."""

import pathlib

import pytest

from tests.support import hosts

FORMULAS = pathlib.Path(__file__).resolve().parents[3] / "formulas"


@pytest.fixture(scope="package")
def hosts_network(docker_engines):
    net = hosts.Network.create()
    yield net
    net.remove()


@pytest.fixture(scope="package")
def hosts_states(tmp_path_factory):
    """The hosts master's ``file_roots``: tests write their sls files here."""
    return tmp_path_factory.mktemp("hosts-states")


@pytest.fixture(scope="package")
def hosts_pillar(tmp_path_factory):
    """The hosts master's ``pillar_roots``: tests write their pillar (and its top.sls) here, at
    run time (secrets and this run's names are never committed)."""
    return tmp_path_factory.mktemp("hosts-pillar")


@pytest.fixture(scope="package")
def hosts_master(salt_factories, hosts_network, hosts_states, hosts_pillar):
    """The chain's formulas beside the tests' sls; the CA's minion signs through the peer
    interface (x509, docs/certificates.md), as on the single-host master."""
    overrides = hosts.master_overrides(
        hosts_network,
        [hosts_states, FORMULAS],
        pillar_roots={"base": [str(hosts_pillar)]},
        peer={".*": [r"x509\.sign_remote_certificate"]},
    )
    # salt-factories accepts every pending key of a master it starts (its default auth event
    # handler runs `salt-key --accept`): this master's trust is Salt's own, so nothing here does
    factory = salt_factories.salt_master_daemon(
        "hosts-master", overrides=overrides, on_auth_event_callback=_leave_keys_alone
    )
    with factory.started():
        yield factory


def _leave_keys_alone(master, payload):  # pylint: disable=unused-argument
    """An auth event is only watched: no key is accepted by the test harness."""


@pytest.fixture(scope="package")
def host_group(hosts_master, hosts_network):
    """Two hosts (host1, host2), each with its own engine and minion, started once."""
    group = hosts.start(2, hosts_master, hosts_network)
    print(f"\nmultihost: 2 hosts up in {group.setup_seconds:.1f} s")
    yield group
    group.close()


@pytest.fixture(scope="package")
def tls_registry(host_group, hosts_master, hosts_network, hosts_states, hosts_pillar):
    """The chain's registry by name with TLS, trusted by every host (test_hosts_tls_registry's
    ``registry_up``): made once for every multihost test that pulls from it (the TLS registry's
    own checks, the agents across hosts). {"run", "top", "loopback"}: the salt CLI and the
    secrets it must not show, the pillar top file (a test adding to it writes it back with
    ``write_top`` when done), the registry's loopback port (engine 1 pushes there)."""
    from tests.integration.multihost import test_hosts_tls_registry as tls  # noqa: PLC0415

    try:
        yield tls.registry_up(hosts_master, host_group, hosts_network, hosts_pillar, hosts_states)
    finally:
        tls.registry_down(host_group, hosts_pillar)
