"""Hosts on this machine: Docker-in-Docker containers on engine 1, each with its own dockerd and
its own salt-minion running this checkout's code, on a network of the project's own.

A host is a container of the image ``saltext-chain/host:bookworm`` (the local Debian base image
with Debian's ``docker.io``; built here, cached by the digest of its inputs in the label
``org.saltext-chain.inputs``). It runs without ``--privileged``: ``--cap-add ALL --cap-drop
SYS_RESOURCE``, seccomp and AppArmor unconfined, ``/sys/fs/cgroup`` mounted read-write, a named
volume at ``/var/lib/docker`` (a tmpfs is noexec; the container's own layer breaks dockerd's
renames). Its dockerd: ``--storage-driver=overlay2 --iptables=false
--cgroup-parent=/<container>`` (overlay2 on the volume, which lives on engine 1's ext4),
listening on ``/var/run/docker.sock`` inside and on ``docker.sock`` in the host's directory,
a directory of this machine bind-mounted at ``/chain-host``: the engine is reached from here
through that socket. The directory also holds the minion's config, its keys and both logs.

The salt-minion is this checkout's: the repository (with its ``.venv``) is mounted read-only at
its own path, and so is the prefix of the venv's Python when it is not the system's. Nothing is
downloaded when a host starts.

Trust: the minion's key pair is made here with Salt's own key code (``salt.crypt.write_keys``,
what ``salt-key --gen-keys`` runs) before the minion starts; its public key goes to the master's
``minions/<id>`` (accepted: the pre-seeding that Salt documents) and the master's public key to
the minion's ``minion_master.pub``, so the minion trusts that master only. The master listens on
the network's gateway address with ``auto_accept: False``: a minion whose key was not seeded
stays pending and runs nothing.

The network gets a free /24 of 10.215.0.0/16 (no route of this machine and no subnet of engine
1's or engine 2's networks overlaps it); its gateway (this machine's side of the bridge) is the
address the master listens on.

    .venv/bin/python scripts/chain_hosts.py image   # build the host image (or find it cached)
"""

import concurrent.futures
import contextlib
import hashlib
import io
import ipaddress
import pathlib
import shutil
import subprocess
import sys
import time

import docker
import yaml
from saltext.chain.utils.chain_docker_client import ExecOutput

REPO = pathlib.Path(__file__).resolve().parent.parent
IMAGE = "saltext-chain/host:bookworm"
BASE_IMAGE = "saltext-chain/debian:bookworm"
INPUTS = "org.saltext-chain.inputs"
POOL = ipaddress.ip_network("10.215.0.0/16")
INSIDE = "/chain-host"  # the host's directory, as its container sees it
ENGINE_SOCKET = "docker.sock"
# The host engine's storage: overlay2 on the volume at /var/lib/docker (engine 1's ext4, not an
# overlay: measured here, docs/hosts.md). vfs copies every layer in full, and containers of the
# Debian-based images loaded under it did not start here ("exec: sh: not found").
STORAGE_DRIVER = "overlay2"
DOCKERFILE = """\
ARG BASE_IMAGE={base}
FROM $BASE_IMAGE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io \\
    >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
LABEL {label}="{digest}"
"""
# What runs a host's dockerd without --privileged (issue 18, measured on this machine).
RUN_OPTIONS = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "init": True,  # tini as PID 1: it reaps and forwards the stop signal to the minion
}


def say(msg):
    print(f"==> {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# the image
# ---------------------------------------------------------------------------------------------


def _inputs_digest(base_id):
    text = DOCKERFILE.format(base="", label=INPUTS, digest="") + base_id + "v1"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def ensure_image(client, base=BASE_IMAGE, tag=IMAGE):
    """The host image's id: built FROM ``base`` unless ``tag`` already carries the digest of
    its inputs (this Dockerfile and the base image's id)."""
    base_id = client.images.get(base).id
    digest = _inputs_digest(base_id)
    with contextlib.suppress(docker.errors.ImageNotFound):
        image = client.images.get(tag)
        if (image.labels or {}).get(INPUTS) == digest:
            return image.id
    dockerfile = DOCKERFILE.format(base=base, label=INPUTS, digest=digest)
    image, _ = client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True, pull=False
    )
    return image.id


# ---------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------


def held_subnets(clients):
    """Every IPv4 network this machine routes, and every subnet of the engines' networks."""
    out = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    held = [
        ipaddress.ip_network(line.split()[0], strict=False)
        for line in out.splitlines()
        if line.split() and line.split()[0] != "default"
    ]
    for client in clients:
        for net in client.api.networks():
            for conf in (net.get("IPAM") or {}).get("Config") or []:
                with contextlib.suppress(ValueError, KeyError):
                    held.append(ipaddress.ip_network(conf["Subnet"], strict=False))
    return held


def free_subnet(held, pool=POOL, start=0):
    """The first /24 of ``pool`` (from the ``start``-th on, wrapping) that overlaps none of
    ``held``."""
    subnets = list(pool.subnets(new_prefix=24))
    for step in range(len(subnets)):
        subnet = subnets[(start + step) % len(subnets)]
        if not any(subnet.overlaps(other) for other in held if other.version == 4):
            return subnet
    raise RuntimeError(f"no free /24 in {pool}")


def create_network(client, name, labels, held_clients=(), start=0):
    """A bridge network ``name`` on a free /24 of 10.215.0.0/16; returns (network, subnet,
    gateway address). An existing network of that name is kept (``make chain`` again)."""
    with contextlib.suppress(docker.errors.NotFound):
        net = client.networks.get(name)
        conf = net.attrs["IPAM"]["Config"][0]
        return net, ipaddress.ip_network(conf["Subnet"]), conf["Gateway"]
    for attempt in range(5):  # another session may take the same /24 between look and create
        subnet = free_subnet(held_subnets([client, *held_clients]), start=start + attempt)
        gateway = str(next(subnet.hosts()))
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
        )
        try:
            net = client.networks.create(name, driver="bridge", ipam=ipam, labels=labels)
        except docker.errors.APIError as err:
            if "overlap" not in str(err) or attempt == 4:
                raise
            continue
        return net, subnet, gateway


# ---------------------------------------------------------------------------------------------
# keys and configs
# ---------------------------------------------------------------------------------------------


def seed_keys(master_pki, host_dir, minion_id, accept=True):
    """The minion's key pair in ``host_dir``/pki (Salt's ``write_keys``), the master's public key
    beside it as ``minion_master.pub``; with ``accept``, the minion's public key pre-seeded as
    accepted on the master (``minions/<id>``)."""
    import salt.crypt  # pylint: disable=import-outside-toplevel

    pki = pathlib.Path(host_dir) / "pki"
    pki.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (pki / "minion.pem").exists():
        salt.crypt.write_keys(str(pki), "minion", 2048)
    shutil.copyfile(pathlib.Path(master_pki) / "master.pub", pki / "minion_master.pub")
    if accept:
        accepted = pathlib.Path(master_pki) / "minions"
        accepted.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pki / "minion.pub", accepted / minion_id)
    return pki


def python_mounts():
    """Bind mounts (read-only, at the same path) that run this checkout's venv in a host: the
    repository, and the venv's base Python unless it is the system's (``/usr``)."""
    mounts = {str(REPO): {"bind": str(REPO), "mode": "ro"}}
    cfg = (REPO / ".venv" / "pyvenv.cfg").read_text()
    home = next(
        line.split("=", 1)[1].strip() for line in cfg.splitlines() if line.startswith("home")
    )
    prefix = pathlib.Path(home).resolve().parent
    if not str(prefix).startswith("/usr"):
        mounts[str(prefix)] = {"bind": str(prefix), "mode": "ro"}
    return mounts


def minion_config(minion_id, master, ports, extra=None):
    """A host's minion config: its master on the network's gateway, its keys and log in the
    host's directory, the default container profile on its own engine."""
    return {
        "id": minion_id,
        "master": master,
        "master_port": ports["ret_port"],
        "publish_port": ports["publish_port"],
        "pki_dir": f"{INSIDE}/pki",
        "cachedir": "/var/cache/salt/minion",
        "sock_dir": "/var/run/salt/minion",
        "pidfile": "/var/run/salt-minion.pid",
        "log_file": f"{INSIDE}/minion.log",
        "log_level_logfile": "info",
        "log_granular_levels": {"asyncio": "critical"},
        "user": "root",
        "acceptance_wait_time": 2,
        "container": {
            "profiles": {"default": {"base_url": "unix:///var/run/docker.sock", "timeout": 120}}
        },
        **(extra or {}),
    }


def run_script(cgroup_parent, engine=True):
    """The host's command: its dockerd (unless ``engine`` is false) in the background, the
    salt-minion in the foreground."""
    lines = ["#!/bin/sh"]
    if engine:
        lines.append(
            f"dockerd --storage-driver={STORAGE_DRIVER} --iptables=false "
            f"--cgroup-parent=/{cgroup_parent} -H unix:///var/run/docker.sock "
            f"-H unix://{INSIDE}/{ENGINE_SOCKET} >{INSIDE}/dockerd.log 2>&1 &"
        )
    lines.append(f"exec {REPO / '.venv' / 'bin' / 'salt-minion'} -c {INSIDE} --log-level=warning")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# hosts
# ---------------------------------------------------------------------------------------------


class Host:
    """One host: container ``name`` on engine 1 with minion ``minion_id``; ``dir`` is its
    directory here (``url`` the socket of its engine)."""

    def __init__(self, client, name, minion_id, host_dir, labels, engine=True):
        self.client_outer = client
        self.name = name
        self.minion_id = minion_id
        self.dir = pathlib.Path(host_dir)
        self.labels = labels
        self.engine = engine
        self.volume = f"{name}-docker"
        self.container = None

    @property
    def url(self):
        return f"unix://{self.dir / ENGINE_SOCKET}"

    @property
    def ip(self):
        self.container.reload()
        nets = self.container.attrs["NetworkSettings"]["Networks"]
        return next(iter(nets.values()))["IPAddress"]

    def prepare(self, master_pki, master, ports, accept=True, extra=None):
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        seed_keys(master_pki, self.dir, self.minion_id, accept=accept)
        conf = minion_config(self.minion_id, master, ports, extra)
        (self.dir / "minion").write_text(yaml.safe_dump(conf, sort_keys=False))
        (self.dir / "run.sh").write_text(run_script(self.name, self.engine))
        (self.dir / "run.sh").chmod(0o755)

    def start(self, network):
        volumes = {str(self.dir): {"bind": INSIDE, "mode": "rw"}, **python_mounts()}
        if self.engine:
            self.client_outer.volumes.create(self.volume, labels=self.labels)
            volumes[self.volume] = {"bind": "/var/lib/docker", "mode": "rw"}
            volumes["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
        self.container = self.client_outer.containers.run(
            IMAGE,
            [f"{INSIDE}/run.sh"],
            name=self.name,
            hostname=self.minion_id,
            network=network,
            labels=self.labels,
            volumes=volumes,
            detach=True,
            **RUN_OPTIONS,
        )
        return self

    def client(self, timeout=60):
        """A Docker client of the host's own engine (through the socket in its directory)."""
        return docker.DockerClient(base_url=self.url, version="auto", timeout=timeout)

    def exec(self, cmd, check=True):
        """Run ``cmd`` (a list, or a string for ``sh -c``) in the host; returns its output."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        api = self.container.client.api
        exec_id = api.exec_create(self.container.id, argv, stdout=True, stderr=True)["Id"]
        # read as the container module reads it: docker-py's exec_run loses output that came
        # with the engine's upgrade headers (docker/docker-py#2042; ci48: `cat` of the CA, '')
        out, err = ExecOutput(api).read(exec_id)
        code = api.exec_inspect(exec_id)["ExitCode"]
        text = (out + err).decode(errors="replace")
        if check and code != 0:
            raise RuntimeError(f"{self.name}: {argv} exited {code}: {text[-2000:]}")
        return text

    def wait_engine(self, timeout=60):
        """Until the host's dockerd answers on its socket (its container still running)."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                with contextlib.closing(self.client(timeout=5)) as inner:
                    inner.ping()
                    return
            self.container.reload()
            if self.container.status not in ("created", "running"):
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: dockerd not up in {timeout}s: {self.log_tail()}")
            time.sleep(0.1)

    def load(self, *tags):
        """Copy images from engine 1 into the host's engine (``docker save | docker load``)."""
        for tag in tags:
            save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
            subprocess.run(
                ["docker", "-H", self.url, "load", "-q"], stdin=save.stdout, check=True,
                capture_output=True,
            )  # fmt: skip
            save.stdout.close()
            if save.wait() != 0:
                raise RuntimeError(f"docker save {tag} failed")

    def log_tail(self, lines=20):
        out = []
        for name in ("dockerd.log", "minion.log"):
            with contextlib.suppress(OSError):
                text = (self.dir / name).read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {name}\n" + "\n".join(text))
        with contextlib.suppress(Exception):
            out.append("--- container\n" + self.container.logs(tail=lines).decode(errors="replace"))
        return "\n".join(out)

    def close(self):
        """Remove the host: its engine's containers, its container, volume, cgroups and
        directory."""
        if self.container is not None and self.engine:
            with contextlib.suppress(Exception):
                with contextlib.closing(self.client(timeout=20)) as inner:
                    for ctr in inner.containers.list(all=True):
                        ctr.remove(force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            self.client_outer.containers.get(self.name).remove(force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            self.client_outer.volumes.get(self.volume).remove(force=True)
        remove_cgroups(self.name)
        shutil.rmtree(self.dir, ignore_errors=True)


def remove_cgroups(parent):
    """The (empty) cgroups that the host's dockerd made under ``/<parent>``, deepest first."""
    root = pathlib.Path("/sys/fs/cgroup")
    found = []
    for hierarchy in root.iterdir():
        top = hierarchy / parent
        if top.is_dir() and not top.is_symlink():
            found.extend(p for p in top.rglob("*") if p.is_dir())
            found.append(top)
    for path in sorted(found, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()


def start_hosts(hosts, network, timeout=120):
    """Start ``hosts`` (prepared) side by side and wait until each one's engine answers."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        list(pool.map(lambda h: h.start(network), hosts))
        list(pool.map(lambda h: h.wait_engine(timeout) if h.engine else None, hosts))
    return hosts


# ---------------------------------------------------------------------------------------------
# the master's events
# ---------------------------------------------------------------------------------------------


class MasterEvents:
    """The master's event bus, subscribed before the hosts start: ``wait_started(ids)`` returns
    when each minion fired ``salt/minion/<id>/start``; ``wait_auth(id, act)`` when the master
    answered a minion's authentication with ``act`` (accept, pend, reject)."""

    def __init__(self, master_conf_file):
        import salt.config  # pylint: disable=import-outside-toplevel

        self.opts = salt.config.master_config(str(master_conf_file))
        self.bus = None
        self.seen = []

    def __enter__(self):
        import salt.utils.event  # pylint: disable=import-outside-toplevel

        self.bus = salt.utils.event.get_master_event(self.opts, self.opts["sock_dir"], listen=True)
        return self

    def __exit__(self, *exc):
        self.bus.destroy()

    def _wait(self, done, timeout, what):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not seen in {timeout}s")
            event = self.bus.get_event(wait=1, full=True)
            if event:
                self.seen.append((event["tag"], event["data"]))

    def wait_started(self, ids, timeout=120):
        wanted = {f"salt/minion/{i}/start" for i in ids}
        self._wait(lambda: wanted <= {t for t, _ in self.seen}, timeout, f"start of {sorted(ids)}")

    def wait_auth(self, minion_id, act, timeout=60):
        def done():
            return any(
                t == "salt/auth" and d.get("id") == minion_id and d.get("act") == act
                for t, d in self.seen
            )

        self._wait(done, timeout, f"salt/auth {act} of {minion_id}")


# ---------------------------------------------------------------------------------------------
# make chain HOSTS=N
# ---------------------------------------------------------------------------------------------

CHAIN_NETWORK = "chain-hosts"
CHAIN_LABELS = {"org.saltext-chain.formula": "hosts"}


def topology(hosts_pillar, count):
    """The first ``count`` hosts of pillar ``topology:hosts`` (``{id: {"roles": [...]}}``), and
    the pillar that keeps only them (``rollout_order`` too; ``registry`` as it is)."""
    topo = hosts_pillar["topology"]
    declared = topo.get("hosts") or {}
    if count > len(declared):
        raise SystemExit(
            f"{count} hosts asked for, {len(declared)} declared in pillar topology:hosts "
            "(pillar.example/hosts.sls): declare the others there"
        )
    chosen = dict(list(declared.items())[:count])
    order = [m for m in topo.get("rollout_order") or [] if m in chosen]
    kept = {"hosts": chosen, "rollout_order": order}
    if topo.get("registry"):
        kept["registry"] = topo["registry"]
    return chosen, {"topology": kept}


def app_hosts(hosts_pillar):
    """The hosts with the role ``app`` (``topology:hosts``), in ``topology:rollout_order`` (the
    first is the canary), then those the order leaves out in their declared order: the chain's
    app servers (``chain:targets``)."""
    topo = hosts_pillar["topology"]
    apps = [
        m for m, conf in (topo.get("hosts") or {}).items() if "app" in (conf or {}).get("roles", [])
    ]
    order = [m for m in topo.get("rollout_order") or [] if m in apps]
    return order + [m for m in apps if m not in order]


class ChainHosts:
    """The hosts of ``make chain HOSTS=N``: containers ``chain-<id>`` on the network
    ``chain-hosts``, their directories in ``<state>/hosts/<id>``. ``network()`` first (the
    master's address is its gateway), ``seed()`` before any daemon starts (every key, the
    master's too, is made here: nothing is auto-accepted), ``start()`` once the master runs."""

    def __init__(self, state_dir, hosts):
        self.state = pathlib.Path(state_dir)
        self.hosts = hosts  # {id: {"roles": [...]}}
        self.client = docker.from_env(timeout=600)
        self.gateway = None
        self.members = []

    @property
    def ids(self):
        return list(self.hosts)

    def network(self):
        engine2 = docker.DockerClient(base_url="unix:///run/saltext-chain/docker2.sock")
        with contextlib.closing(engine2):
            _, subnet, self.gateway = create_network(
                self.client, CHAIN_NETWORK, CHAIN_LABELS, held_clients=[engine2]
            )
        return subnet, self.gateway

    def seed(self, master_pki, local_minions, ports):
        """The master's key pair, each local minion's (``{id: its pki_dir}``) and each host's,
        the minions' public keys accepted on the master, the master's given to each minion."""
        import salt.crypt  # pylint: disable=import-outside-toplevel

        master_pki = pathlib.Path(master_pki)
        master_pki.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not (master_pki / "master.pem").exists():
            salt.crypt.write_keys(str(master_pki), "master", 2048)
        for minion_id, pki in local_minions.items():
            if pathlib.Path(pki).name != "pki":
                raise ValueError(f"{minion_id}: pki_dir must be <dir>/pki, not {pki}")
            seed_keys(master_pki, pathlib.Path(pki).parent, minion_id)
        self.members = [
            Host(self.client, f"chain-{m}", m, self.state / "hosts" / m, CHAIN_LABELS)
            for m in self.hosts
        ]
        for host in self.members:
            host.prepare(master_pki, self.gateway, ports)

    def start(self, master_conf_file, timeout=180):
        """Start the hosts that are not running; wait for their minions' start events."""
        ensure_image(self.client)
        todo = []
        for host in self.members:
            with contextlib.suppress(docker.errors.NotFound):
                host.container = self.client.containers.get(host.name)
                if host.container.status == "running":
                    say(f"host {host.minion_id} already running")
                    continue
                host.container.remove(force=True)
            todo.append(host)
        with MasterEvents(master_conf_file) as bus:
            for host in todo:
                say(f"starting host {host.minion_id} (container {host.name}, own dockerd)")
            start_hosts(todo, CHAIN_NETWORK, timeout)
            bus.wait_started([h.minion_id for h in todo], timeout)
        self.provide_base(todo)
        return todo

    @staticmethod
    def provide_base(hosts, base=BASE_IMAGE):
        """The local base image in each host's engine (the frontend's image is built FROM it
        there, and nothing is pulled from outside), side by side."""
        if not hosts:
            return
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            list(pool.map(lambda h: h.load(base), hosts))
        say(
            f"base image {base} loaded into {len(hosts)} hosts ({time.monotonic() - started:.1f} s)"
        )

    def describe(self):
        for host in self.members:
            roles = ",".join(self.hosts[host.minion_id].get("roles") or [])
            print(f"    {host.minion_id:8} {host.ip:15} roles {roles:10} engine {host.url}")


def chain_down(state_dir, master_pki=None):
    """Remove every host of ``make chain`` (label ``org.saltext-chain.formula=hosts``), its
    volume, cgroups, directory and accepted key. Not the network: the master listens on its
    gateway (``remove_chain_network`` once the master stopped)."""
    client = docker.from_env(timeout=120)
    label = "org.saltext-chain.formula=hosts"
    for ctr in client.containers.list(all=True, filters={"label": label}):
        minion_id = ctr.name.removeprefix("chain-")
        say(f"removing host {minion_id}")
        host = Host(client, ctr.name, minion_id, pathlib.Path(state_dir) / "hosts" / minion_id, {})
        host.container = ctr
        host.close()
        if master_pki:
            with contextlib.suppress(FileNotFoundError):
                (pathlib.Path(master_pki) / "minions" / minion_id).unlink()
    with contextlib.suppress(OSError):
        (pathlib.Path(state_dir) / "hosts").rmdir()
    client.close()


def remove_chain_network():
    """The network of ``make chain HOSTS=N`` (its gateway is the master's address: after the
    master stopped)."""
    client = docker.from_env(timeout=120)
    label = "org.saltext-chain.formula=hosts"
    for net in client.networks.list(names=[CHAIN_NETWORK], filters={"label": label}):
        net.remove()
    client.close()


def main(argv):
    if argv[1:] == ["image"]:
        client = docker.from_env(timeout=600)
        started = time.monotonic()
        image_id = ensure_image(client)
        say(f"host image {IMAGE}: {image_id[:19]} ({time.monotonic() - started:.1f} s)")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
