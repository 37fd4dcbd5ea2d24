"""Hosts of a test run (issue 18): Docker-in-Docker containers on engine 1, each with its own
dockerd and its own salt-minion of this checkout, on a network of the run's own. The machinery
is ``scripts/chain_hosts.py`` (what ``make chain HOSTS=N`` runs); this module gives it the run's
names (``sc-<RUN>-...``) and label (``saltext-chain.test=<RUN>``) and removes all it made.

The API, for the multihost tests (tests/integration/multihost, whose package fixture
``host_group`` starts two hosts once for all of them) and for later ones (TLS registry, Swarm)::

    from tests.support import hosts

    net = hosts.Network.create()        # sc-<RUN>-hosts on a free /24 of 10.215.0.0/16
    net.gateway, net.subnet, net.name
    overrides = hosts.master_overrides(net, file_roots=[...])
    # -> a salt-factories master listening on net.gateway only, auto_accept off
    group = hosts.start(2, master, net) # engines up, minions started (keys pre-seeded)
    host = group["host1"]               # or group.hosts; minion ids host1, host2, ...
    host.minion_id, host.name           # "host1", "sc-<RUN>-host1" (its container on engine 1)
    host.client()                       # docker.DockerClient of the host's own engine
    host.url                            # unix://…/docker.sock (bind-mounted from the host)
    host.exec("docker info")            # a command in the host (str: sh -c); its output
    host.ip                             # its address on net
    host.load("saltext-chain/busybox:latest")   # engine 1's image into the host's engine
    stranger = group.stranger("unknown1")       # a minion whose key was NOT pre-seeded
    group.close(); net.remove()

``master`` is a pytest-salt-factories master daemon (started): its pki directory receives the
hosts' public keys, its ``master.pub`` goes to each host, its event bus tells when each minion
started. Hosts start side by side; waits are on events (the engine's socket answers, the
minion's ``salt/minion/<id>/start``), never fixed sleeps.
"""

import contextlib
import importlib.util
import pathlib
import tempfile
import time

import docker

from tests.support import engines

REPO = pathlib.Path(__file__).resolve().parents[2]


def _load_machinery():
    spec = importlib.util.spec_from_file_location(
        "chain_hosts", REPO / "scripts" / "chain_hosts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chain_hosts = _load_machinery()


def _engine1():
    return docker.DockerClient(base_url=engines.ENGINES["engine1"], version="auto", timeout=600)


class Network:
    """The run's hosts network on engine 1: ``name``, ``subnet``, ``gateway``."""

    def __init__(self, client, net, subnet, gateway):
        self.client, self.net = client, net
        self.name, self.subnet, self.gateway = net.name, subnet, gateway

    @classmethod
    def create(cls, base="hosts"):
        client = _engine1()
        engine2 = docker.DockerClient(base_url=engines.ENGINES["engine2"], version="auto")
        with contextlib.closing(engine2):
            start = int(engines.RUN[:4], 36) % 256
            net, subnet, gateway = chain_hosts.create_network(
                client, engines.name(base), engines.LABELS, held_clients=[engine2], start=start
            )
        return cls(client, net, subnet, gateway)

    def remove(self):
        with contextlib.suppress(docker.errors.NotFound):
            self.net.remove()
        self.client.close()


def master_overrides(net, file_roots=(), **extra):
    """A salt-factories master's overrides for hosts on ``net``: it listens on the network's
    gateway address only and accepts no key it was not given."""
    return {
        "interface": net.gateway,
        "auto_accept": False,
        "open_mode": False,
        "file_roots": {"base": [str(p) for p in file_roots]},
        "log_granular_levels": {"asyncio": "critical"},
        **extra,
    }


class HostGroup:
    """Started hosts (``hosts``, ``group[minion_id]``) and what they need to be removed."""

    def __init__(self, master, net, root):
        self.master, self.net, self.root = master, net, pathlib.Path(root)
        self.client = _engine1()
        self.hosts = []
        self.strangers = []
        self.setup_seconds = None

    def __getitem__(self, minion_id):
        return next(h for h in self.hosts if h.minion_id == minion_id)

    @property
    def ids(self):
        return [h.minion_id for h in self.hosts]

    def _host(self, minion_id, engine=True):
        return chain_hosts.Host(
            self.client,
            engines.name(minion_id),
            minion_id,
            self.root / minion_id,
            engines.LABELS,
            engine=engine,
        )

    def _prepare(self, host, accept=True):
        conf = self.master.config
        ports = {"ret_port": conf["ret_port"], "publish_port": conf["publish_port"]}
        host.prepare(conf["pki_dir"], self.net.gateway, ports, accept=accept)

    def start(self, count, timeout=120):
        started = time.monotonic()
        new = [
            self._host(f"host{i}") for i in range(len(self.hosts) + 1, len(self.hosts) + 1 + count)
        ]
        for host in new:
            self._prepare(host)
        self.hosts.extend(new)  # removed by close() even when a start fails
        with chain_hosts.MasterEvents(self.master.config_file) as bus:
            chain_hosts.start_hosts(new, self.net.name, timeout)
            try:
                bus.wait_started([h.minion_id for h in new], timeout)
            except TimeoutError as err:
                raise AssertionError(f"{err}\n" + "\n".join(h.log_tail() for h in new)) from None
        self.setup_seconds = time.monotonic() - started
        return new

    def stranger(self, minion_id, timeout=60):
        """A minion on the network whose key the master was not given (no engine): started,
        and its authentication answered (``pend``). Removed by ``close``; its key is deleted."""
        host = self._host(minion_id, engine=False)
        self._prepare(host, accept=False)
        self.strangers.append(host)
        with chain_hosts.MasterEvents(self.master.config_file) as bus:
            host.start(self.net.name)
            try:
                bus.wait_auth(minion_id, "pend", timeout)
            except TimeoutError as err:
                raise AssertionError(f"{err}\n{host.log_tail()}") from None
        return host

    def forget(self, host):
        """Remove ``host`` (its container, engine, directory) and its key on the master."""
        host.close()
        pki = pathlib.Path(self.master.config["pki_dir"])
        for kind in ("minions", "minions_pre", "minions_rejected", "minions_denied"):
            with contextlib.suppress(FileNotFoundError):
                (pki / kind / host.minion_id).unlink()
        for group in (self.hosts, self.strangers):
            if host in group:
                group.remove(host)

    def close(self):
        for host in self.strangers + self.hosts:
            self.forget(host)
        self.client.close()
        with contextlib.suppress(OSError):
            self.root.rmdir()


def start(count, master, net, timeout=120):
    """``count`` hosts (host1, host2, ...) of this run, minions of ``master`` on ``net``."""
    chain_hosts.ensure_image(_engine1())
    # short: the engine's socket lives in it, and unix socket paths are limited to 107 bytes
    group = HostGroup(master, net, tempfile.mkdtemp(prefix="sch", dir="/tmp"))
    try:
        group.start(count, timeout)
    except BaseException:
        group.close()
        raise
    return group
