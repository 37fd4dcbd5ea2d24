"""The ``salt`` and ``salt-run`` command lines of the integration tests, started by a fork server
that has Salt imported already.

A ``salt`` or ``salt-run`` process spends most of its CPU importing Salt before it parses a
single argument (0.8 CPU-s of the 1 to 1.7 CPU-s a call cost in CI, where the tests make about
350 of them). Here one server process per test process imports it once; each command line is
a fresh child forked from it that runs salt-factories' own generated script (``cli_salt.py``,
``cli_salt_run.py``: Salt's entry point, its exit code, ``atexit`` and ``os._exit``) with the
call's arguments, environment, working directory and output files. The child is a real
``salt``/``salt-run`` process in every other way: its own pid (which the tests' timeouts
signal), its own sockets, logging, signal handlers and event loop; nothing of it runs in the
test process.

:class:`ForkedSalt` and :class:`ForkedSaltRun` are salt-factories' ``Salt`` and ``SaltRun``
(same command lines, same output parsing) whose process comes from the server
(:class:`ForkedProcess`, the part of ``subprocess.Popen`` that pytest-shell-utilities uses).

The server: ``python -m tests.support.cli_forkserver SOCKET``. A request is a length-prefixed
JSON ``{argv, env, cwd}`` with the stdout and stderr file descriptors (``SCM_RIGHTS``); the
server forks a handler per request, which forks the command's process, answers ``PID n``, and
``EXIT code`` when it ends (``-signal`` when a signal ended it, as ``Popen.returncode``)."""

import array
import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import attr
from pytestshellutils.shell import SubprocessImpl
from saltfactories.bases import SaltCliImpl
from saltfactories.cli.run import SaltRun
from saltfactories.cli.salt import Salt

#: What the server imports before it forks anything: what ``salt`` and ``salt-run`` import,
#: read from ``sys.modules`` after each kind of call (a job, a runner, an orchestration). Each
#: one a command imported itself cost it about 0.3 CPU-s: ``salt.transport.tcp`` (imported
#: when the CLI connects to the event bus) brings ``salt.master``, whose gitfs support imports
#: GitPython, which runs ``git version`` twice.
PRELOAD = (
    "salt.scripts",
    "salt.cli.salt",
    "salt.cli.run",
    "salt.client",
    "salt.client.ssh.client",
    "salt.cloud",
    "salt.daemons.masterapi",
    "salt.fileserver.gitfs",
    "salt.key",
    "salt.loader",
    "salt.master",
    "salt.minion",
    "salt.output",
    "salt.pillar.git_pillar",
    "salt.runner",
    "salt.runners.state",
    "salt.state",
    "salt.transport.tcp",
    "salt.transport.zeromq",
    "salt.utils.batch_state",
    "salt.utils.event",
    "salt.utils.gitfs",
    "salt.utils.mine",
    "salt.utils.reactor",
    "salt.wheel",
    "jenkins",
    "saltext.chain.utils",  # and each of its modules (the runners import them)
)


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


def _recv_exact(conn, size, fds=None):
    data = b""
    while len(data) < size:
        if fds is None:
            chunk = conn.recv(size - len(data))
        else:
            chunk, ancdata, _, _ = conn.recvmsg(size - len(data), socket.CMSG_LEN(2 * 4))
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
        if not chunk:
            raise EOFError("the client went away")
        data += chunk
    return data


def _run_command(request, out_fd, err_fd):
    """In the command's process: become the command line (never returns)."""
    with open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    script = argv[1] if os.path.basename(argv[0]).startswith("python") else argv[0]
    sys.argv = argv[argv.index(script) :]
    code = 0
    try:
        import runpy  # noqa: PLC0415 - only the command's process needs it

        runpy.run_path(script, run_name="__main__")  # its own os._exit ends the process
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a command line that raised exits 1, as python does
        import traceback  # noqa: PLC0415

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _handle(conn):
    """In the handler: fork the command, report its pid and its exit (never returns)."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this one waits for its child
        fds = []
        size = int.from_bytes(_recv_exact(conn, 4, fds), "big")
        request = json.loads(_recv_exact(conn, size, fds))
        out_fd, err_fd = fds[:2]
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_command(request, out_fd, err_fd)
        os.close(out_fd)
        os.close(err_fd)
        conn.sendall(f"PID {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        conn.sendall(f"EXIT {os.waitstatus_to_exitcode(status)}\n".encode())
        code = 0
    finally:
        os._exit(code)


def _die_with_parent():
    """The server ends when the test process does, even killed outright (Linux's
    ``PR_SET_PDEATHSIG``; a fork does not inherit it, so running commands finish)."""
    import ctypes  # noqa: PLC0415

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent was gone before the call
        sys.exit(0)


def serve(path):
    _die_with_parent()
    for name in PRELOAD:
        __import__(name)
    import pkgutil  # noqa: PLC0415

    import saltext.chain.utils  # noqa: PLC0415

    for info in pkgutil.iter_modules(saltext.chain.utils.__path__, "saltext.chain.utils."):
        __import__(info.name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            _handle(conn)
        conn.close()


# ---------------------------------------------------------------------------------------------
# The test process's side
# ---------------------------------------------------------------------------------------------


class _Server:
    """The fork server of this test process, started at the first command line, stopped (by its
    pid) when the process exits."""

    lock = threading.Lock()
    proc = None
    path = None

    @classmethod
    def socket_path(cls):
        with cls.lock:
            if cls.proc is None or cls.proc.poll() is not None:
                cls._start()
            return cls.path

    @classmethod
    def _start(cls):
        workdir = tempfile.mkdtemp(prefix="chain-forkserver-")
        cls.path = os.path.join(workdir, "sock")
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        cls.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "tests.support.cli_forkserver", cls.path],
            cwd=repo,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = cls.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the salt command-line fork server did not start: {line!r}")
        atexit.register(cls._stop, cls.proc, workdir)

    @staticmethod
    def _stop(proc, workdir):
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(workdir, "sock"))
            os.rmdir(workdir)


class ForkedProcess:
    """The command's process as ``subprocess.Popen`` shows it to pytest-shell-utilities:
    ``pid``, ``args``, ``returncode``, ``poll``, ``wait``, ``communicate``, signals."""

    _translate_newlines = subprocess.Popen._translate_newlines  # noqa: SLF001

    def __init__(self, args, stdout, stderr, env, cwd):
        self.args = args
        self.returncode = None
        self._buffer = b""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(_Server.socket_path())
        payload = json.dumps({"argv": list(args), "env": dict(env), "cwd": str(cwd)}).encode()
        fds = array.array("i", [stdout.fileno(), stderr.fileno()])
        self._sock.sendmsg(
            [len(payload).to_bytes(4, "big") + payload],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)],
        )
        self.pid = int(self._line(None).split()[1])

    def _line(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(64)
            except (TimeoutError, BlockingIOError):
                raise subprocess.TimeoutExpired(self.args, timeout) from None
            if not chunk:
                raise RuntimeError(f"the fork server lost the command {self.args}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def wait(self, timeout=None):
        if self.returncode is None:
            self.returncode = int(self._line(timeout).split()[1])
            self._sock.close()
        return self.returncode

    def poll(self):
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.wait(0)
        return None

    def communicate(self, timeout=None):
        self.wait(timeout)
        return None, None

    def send_signal(self, sig):
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(Exception):
            self.wait()
        self._sock.close()


@attr.s(slots=True, kw_only=True)
class _ForkedImpl(SaltCliImpl):
    def init_terminal(self, cmdline, shell=False, env=None, cwd=None):
        if shell:  # a shell command line is not a Salt script: a process of its own
            return SubprocessImpl.init_terminal(self, cmdline, shell=shell, env=env, cwd=cwd)
        environ = self.factory.environ.copy()
        if env is not None:
            environ.update(env)
        self._terminal_stdout = tempfile.SpooledTemporaryFile(512000, buffering=0)
        self._terminal_stderr = tempfile.SpooledTemporaryFile(512000, buffering=0)
        self._terminal = ForkedProcess(
            cmdline,
            self._terminal_stdout,
            self._terminal_stderr,
            environ,
            cwd or self.factory.cwd,
        )
        self._terminal_result = None
        atexit.register(self.terminate)
        return self._terminal


@attr.s(kw_only=True, slots=True)
class ForkedSalt(Salt):
    """salt-factories' ``salt`` command line, forked from the server."""

    def _get_impl_class(self):
        return _ForkedImpl


@attr.s(kw_only=True, slots=True)
class ForkedSaltRun(SaltRun):
    """salt-factories' ``salt-run`` command line, forked from the server."""

    def _get_impl_class(self):
        return _ForkedImpl


def salt(master, timeout):
    """``salt`` on ``master`` (a salt-factories master), forked from the server."""
    return master.salt_cli(factory_class=ForkedSalt, timeout=timeout)


def salt_run(master, timeout):
    """``salt-run`` on ``master``, forked from the server."""
    return master.salt_run_cli(factory_class=ForkedSaltRun, timeout=timeout)


if __name__ == "__main__":
    serve(sys.argv[1])
