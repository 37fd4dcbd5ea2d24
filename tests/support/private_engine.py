"""A Docker engine of the test session's own, for the fault tier (tests/fault): a dockerd that a
test may kill -9, freeze (SIGSTOP) and restart without touching the shared engines.

It has its own socket, ``--data-root``, ``--exec-root``, ``--pidfile`` and containerd namespaces
under a temporary directory, and its own bridge (created here, never ``--bridge none``: that
deletes engine 1's ``docker0``) on a free /24 of 10.214.0.0/16, with the /23 that holds it (the
bridge and one user network of the tests) accepted in engine 1's ``DOCKER-USER`` chain (engine 1's
FORWARD policy is DROP and bridged traffic passes it). ``--iptables=false --ip-masq=false``: the
firewall stays engine 1's, as for engine 2 (scripts/bootstrap). Every signal goes to the PID this
module started; the bridge, the rule and the directories are removed when the engine is closed.
"""

import contextlib
import ipaddress
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import docker

from tests.support import engines

DOCKERD = "/usr/sbin/dockerd"
POOL = ipaddress.ip_network("10.214.0.0/16")


def _held_networks():
    out = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    held = []
    for line in out.splitlines():
        first = line.split()[0]
        if first != "default":
            held.append(ipaddress.ip_network(first, strict=False))
    return held


def free_pair():
    """A /23 of 10.214.0.0/16 that no route of the host overlaps (the run id picks the start)."""
    held = _held_networks()
    pairs = list(POOL.subnets(new_prefix=23))
    start = int(engines.RUN[:4], 16) % len(pairs) if engines.RUN[:4].isalnum() else 0
    for step in range(len(pairs)):
        pair = pairs[(start + step) % len(pairs)]
        if not any(pair.overlaps(other) for other in held):
            return pair
    raise AssertionError(f"no free /23 in {POOL}")


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            kids = pathlib.Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            out.extend(int(k) for k in kids)
            todo.extend(int(k) for k in kids)
    return out


class PrivateEngine:
    """One private dockerd. ``url`` is its socket; ``pid`` the running dockerd's PID."""

    def __init__(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="scf", dir="/tmp"))
        self.sock = self.root / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.bridge = f"scf{engines.RUN}"[:15]
        pair = free_pair()
        self.pair = pair
        self.bridge_net, self.user_net = list(pair.subnets(new_prefix=24))
        self.log = self.root / "dockerd.log"
        self.proc = None
        self._rule = ["DOCKER-USER", "-s", str(pair), "-d", str(pair), "-j", "ACCEPT"]

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self):
        gateway = f"{next(self.bridge_net.hosts())}/{self.bridge_net.prefixlen}"
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", gateway, "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        subprocess.run(["iptables", "-I", *self._rule], check=True)
        self.start()
        return self

    def argv(self):
        ns = f"scf-{engines.RUN}"
        return [
            DOCKERD,
            "--host",
            self.url,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--bridge",
            self.bridge,
            "--iptables=false",
            "--ip-masq=false",
            "--containerd-namespace",
            ns,
            "--containerd-plugins-namespace",
            f"{ns}-plugins",
        ]

    def start(self, timeout=60):
        """Start dockerd (again, on the same data root) and wait until it answers.

        A dockerd killed with ``-9`` takes its containerd with it, but this machine's PID 1 does
        not reap it: the zombie's PID, still in containerd's pid file, makes the next dockerd wait
        for a containerd that will never answer ("containerd is still running"). That file is
        this engine's own; it goes before a start."""
        for pidfile in ("dockerd.pid", "exec/containerd/containerd.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.root / pidfile).unlink()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_up(timeout)

    def wait_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with contextlib.closing(self.api(timeout=5)) as c:
                    c.ping()
                return
            except Exception:  # noqa: BLE001 - not answering yet
                if self.proc.poll() is not None:
                    raise AssertionError(f"dockerd exited: {self.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"dockerd not up in {timeout}s: {self.log_tail()}"
                    ) from None
                time.sleep(0.2)

    @property
    def pid(self):
        return self.proc.pid

    def kill9(self):
        """``kill -9`` of this dockerd (its PID), reaped."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def freeze(self, timeout=10):
        """``SIGSTOP`` of this dockerd, returned once every thread of it is stopped: the
        signal is delivered to each thread as it is next scheduled, and a request sent before
        that (on a loaded machine) could still be answered."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while not self._stopped():
            if time.monotonic() > deadline:
                raise AssertionError(f"dockerd {self.proc.pid} not stopped in {timeout}s")
            time.sleep(0.01)

    def _stopped(self):
        """Every thread of this dockerd in state ``T`` (stopped by a signal)."""
        states = []
        for stat in pathlib.Path(f"/proc/{self.proc.pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError):
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        return bool(states) and all(state in ("T", "t") for state in states)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.thaw()
            with contextlib.suppress(Exception):
                with contextlib.closing(self.api(timeout=10)) as c:
                    for ctr in c.containers(all=True, quiet=True):
                        c.remove_container(ctr["Id"], force=True, v=True)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._kill_leftovers()
        subprocess.run(["iptables", "-D", *self._rule], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)
        self._unmount_leftovers()
        subprocess.run(["rm", "-rf", str(self.root)], check=False)

    def _kill_leftovers(self):
        """The containerd shims this engine started (their command line names its root) and
        the processes under them: left when a test ended while its dockerd was down."""
        root = str(self.root)
        pids = []
        for proc in pathlib.Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if root.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
        for pid in pids + [c for p in pids for c in _descendants(p)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _unmount_leftovers(self):
        root = str(self.root)
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            points = [line.split()[1] for line in fh if line.split()[1].startswith(root)]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)

    # -- reading -------------------------------------------------------------------------------

    def api(self, timeout=60):
        return docker.APIClient(base_url=self.url, version="auto", timeout=timeout)

    def client(self, timeout=60):
        return docker.DockerClient(base_url=self.url, version="auto", timeout=timeout)

    def log_tail(self, lines=20):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def load(self, *tags, cache_dir):
        """Copy images from engine 1 (``docker save | docker load``); the saved tar is kept in
        ``cache_dir`` by image id, so a session saves each image once."""
        for tag in tags:
            image_id = subprocess.run(
                ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            tar = pathlib.Path(cache_dir) / (image_id.replace(":", "-") + ".tar")
            if not tar.exists():
                part = tar.with_suffix(".part")
                subprocess.run(["docker", "save", "-o", str(part), tag], check=True)
                part.rename(tar)
            subprocess.run(
                ["docker", "-H", self.url, "load", "-q", "-i", str(tar)],
                check=True,
                capture_output=True,
            )
