"""Hosts on this machine (issue 18): two Docker-in-Docker hosts, each with its own engine and its
own salt-minion of this checkout, minions of a master that listens on the hosts network's
gateway only, with keys pre-seeded and nothing auto-accepted."""

import contextlib
import socket

import pytest
import yaml

from tests.support import cli_forkserver, engines

pytestmark = [pytest.mark.integration, pytest.mark.multihost, pytest.mark.docker]

BOX = engines.name("hostbox")


def _connects(address, port):
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(5)
        return sock.connect_ex((address, port)) == 0


def _changes(ret):
    return {k: v["changes"] for k, v in ret.items() if v.get("changes")}


def test_the_master_listens_on_the_hosts_gateway_only(hosts_master, hosts_network):
    """The master's ports answer on the network's gateway address (the control) and on no other
    address of this machine: not on loopback."""
    for port in (hosts_master.config["ret_port"], hosts_master.config["publish_port"]):
        assert _connects(hosts_network.gateway, port), port
        assert not _connects("127.0.0.1", port), port


def test_hosts_answer_and_run_a_container_on_their_own_engine(
    host_group, hosts_master, hosts_states
):
    """Each host's minion answers, and a state applied on both runs a container on each host's
    own engine (not on engine 1, where the hosts themselves run); a second apply changes
    nothing."""
    ping = cli_forkserver.salt(hosts_master, 60).run("test.ping", minion_tgt="*")
    assert ping.data == {"host1": True, "host2": True}, ping

    for host in host_group.hosts:
        host.load(engines.BUSYBOX)
    (hosts_states / "hostbox.sls").write_text(
        yaml.safe_dump(
            {
                BOX: {
                    "container.running": [
                        {"image": engines.BUSYBOX},
                        {"command": engines.stoppable("sleep 3600")},
                        {"labels": engines.LABELS},
                    ]
                }
            }
        )
    )
    cli = cli_forkserver.salt(hosts_master, 180)
    for attempt in ("first", "second"):
        ret = cli.run("state.apply", "hostbox", minion_tgt="host*")
        assert ret.returncode == 0, ret
        assert set(ret.data) == {"host1", "host2"}, ret
        for minion, states in ret.data.items():
            assert all(s["result"] is True for s in states.values()), (minion, states)
            changed = _changes(states)
            assert bool(changed) == (attempt == "first"), (attempt, minion, changed)

    for host in host_group.hosts:
        with contextlib.closing(host.client()) as inner:
            box = inner.containers.get(BOX)
            assert box.status == "running", box.status
            assert box.labels[engines.TEST_LABEL] == engines.RUN
        assert host.exec(["docker", "inspect", "-f", "{{.State.Running}}", BOX]).strip() == "true"
    assert not host_group.client.containers.list(all=True, filters={"name": f"^{BOX}$"})


def test_an_unknown_minion_is_not_accepted(host_group, hosts_master):
    """A minion on the hosts network whose key was not pre-seeded stays pending and runs no job;
    the control: once its key is accepted, the same minion answers."""
    stranger = host_group.stranger("stranger1")
    try:
        _stranger_is_held_back(host_group, hosts_master, stranger)
    finally:
        host_group.forget(stranger)


def _stranger_is_held_back(host_group, hosts_master, stranger):
    keys = hosts_master.salt_key_cli().run("-L")
    assert "stranger1" in keys.data["minions_pre"], keys
    assert "stranger1" not in keys.data["minions"], keys

    cli = cli_forkserver.salt(hosts_master, 20)
    alone = cli.run("test.ping", minion_tgt="stranger1")
    # one minion's return is its bare value (salt-factories unwraps it): True is an answer too
    assert alone.data is not True and not (
        isinstance(alone.data, dict) and alone.data.get("stranger1")
    ), (alone, hosts_master.salt_key_cli().run("-L").data)
    everyone = cli.run("test.ping", minion_tgt="*")
    assert everyone.data == {"host1": True, "host2": True}, (
        everyone,
        hosts_master.salt_key_cli().run("-L").data,
    )

    # control: the stranger is a working minion, held back by its key only
    from tests.support.hosts import chain_hosts  # pylint: disable=import-outside-toplevel

    with chain_hosts.MasterEvents(hosts_master.config_file) as bus:
        accepted = hosts_master.salt_key_cli().run("-a", "stranger1", "-y")
        assert accepted.returncode == 0, accepted
        bus.wait_started(["stranger1"], timeout=60)
    ping = cli_forkserver.salt(hosts_master, 60).run("test.ping", minion_tgt="stranger1")
    assert ping.data is True or ping.data == {"stranger1": True}, (ping, stranger.log_tail())
