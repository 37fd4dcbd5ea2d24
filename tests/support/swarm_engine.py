"""A Docker engine of the test session's own, in a network namespace of its own, made a one-node
Swarm manager: what the Swarm tests (``container_swarm``, ``container_service.running`` with
``mode: swarm``) run against. The shared engines 1 and 2 are never put into swarm mode.

Why a network namespace: Swarm's gossip port (7946) is fixed, so one network namespace holds at
most one swarm node (moby#39280), and two test processes (the functional and the integration
tier run side by side in CI) would fight over it; Swarm also makes ``docker_gwbridge``, the
ingress sandbox and their firewall rules, which belong in no namespace but the engine's own. Here
the dockerd runs in ``ip netns`` ``sc<RUN>sw`` with its own bridge, ``docker_gwbridge`` and
iptables (its own tables: engine 1's firewall is not touched), and one veth pair to the host on
a free /30 of 10.214.0.0/16: the engine's ports are reached on :attr:`SwarmEngine.addr` (an
address of ours, like a container's), never on the host's interfaces. The socket is a file, so
the API is reached from the host as usual.

What this machine's kernel lacks: IPVS (``ip_vs``), so Swarm's routing mesh (ingress publish) and
its VIP load balancing do not pass traffic; host-mode published ports and overlay networks work
(checked: docs/swarm.md).
"""

import contextlib
import io
import ipaddress
import secrets
import subprocess
import tarfile

from tests.support import engines
from tests.support.private_engine import DOCKERD, PrivateEngine, free_pair


class SwarmEngine(PrivateEngine):
    """One private dockerd in its own network namespace, a Swarm manager once :meth:`open`
    returns (``swarm=False``: in no swarm). ``url`` is its socket, ``addr`` its address on the
    veth (the advertise address)."""

    def __init__(self, swarm=True):
        super().__init__()
        self.swarm = swarm
        tok = secrets.token_hex(3)  # two engines of one run (a scratch one) never share a name
        self.netns = f"sc{engines.RUN}-{tok}"
        self.veth_host, self.veth_ns = f"sw{tok}h", f"sw{tok}n"
        self._made = set()  # what this engine created (and only that is removed)
        link = next(iter(free_pair().subnets(new_prefix=30)))
        hosts = list(link.hosts())
        self.link = link
        self.host_addr, self.addr = str(hosts[0]), str(hosts[1])
        self.node_id = None

    def _ip(self, *args, netns=False):
        pre = ["ip", "netns", "exec", self.netns] if netns else []
        subprocess.run([*pre, "ip", *args], check=True, capture_output=True)

    def open(self):
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        self._made.add("netns")
        try:
            self._ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
            self._made.add("veth")
            self._ip("link", "set", self.veth_ns, "netns", self.netns)
            self._ip("addr", "add", f"{self.host_addr}/30", "dev", self.veth_host)
            self._ip("link", "set", self.veth_host, "up")
            self._ip("addr", "add", f"{self.addr}/30", "dev", self.veth_ns, netns=True)
            self._ip("link", "set", self.veth_ns, "up", netns=True)
            self._ip("link", "set", "lo", "up", netns=True)
            self.start()
            if self.swarm:
                with contextlib.closing(self.api(timeout=60)) as api:
                    self.node_id = api.init_swarm(
                        advertise_addr=self.addr, listen_addr=f"{self.addr}:2377"
                    )
        except BaseException:
            self.close()
            raise
        return self

    def argv(self):
        ns = f"scsw-{engines.RUN}"
        return [
            "nsenter",
            f"--net=/run/netns/{self.netns}",
            DOCKERD,
            "--host",
            self.url,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--containerd-namespace",
            ns,
            "--containerd-plugins-namespace",
            f"{ns}-plugins",
        ]

    def close(self):
        """Stop the dockerd (its PID), then remove what :meth:`open` made: the network
        namespace (its veth end and every interface and rule inside go with it), the host's
        veth end, the mounts and the directory. Nothing of the host's is named here but those."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                with contextlib.closing(self.api(timeout=10)) as api:
                    for svc in api.services():
                        api.remove_service(svc["ID"])
                    for ctr in api.containers(all=True, quiet=True):
                        api.remove_container(ctr["Id"], force=True, v=True)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._kill_leftovers()
        if "veth" in self._made:
            self._ip_quiet("link", "del", self.veth_host)
        if "netns" in self._made:
            subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
        self._unmount_leftovers()
        subprocess.run(["rm", "-rf", str(self.root)], check=False)

    def _ip_quiet(self, *args):
        subprocess.run(["ip", *args], check=False, capture_output=True)

    @property
    def network(self):
        return ipaddress.ip_network(self.link)


BUSYBOX_DOCKERFILE = b"""FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/root", "/etc"]
CMD ["/bin/sh"]
"""


def build_busybox(engine, tag=engines.BUSYBOX):
    """``tag`` built on ``engine`` as scripts/bootstrap builds it (FROM scratch + the host's
    static busybox): no copy from engine 1, whose tag other sessions' tests may untag."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", arcname="busybox")
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(BUSYBOX_DOCKERFILE)
        tar.addfile(info, io.BytesIO(BUSYBOX_DOCKERFILE))
    buf.seek(0)
    with contextlib.closing(engine.api()) as api:
        for _ in api.build(fileobj=buf, custom_context=True, tag=tag, rm=True, decode=True):
            pass
        api.inspect_image(tag)  # raises when the build failed
