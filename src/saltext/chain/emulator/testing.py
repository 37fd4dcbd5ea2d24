"""Start the emulator (and emulated agents) as subprocesses from tests or scripts.

    from saltext.chain.emulator.testing import running_emulator, running_agent

    with running_emulator(tmp_path / "home") as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        ...

Only loopback addresses are used.  Stdlib only.
"""

import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
AGENT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def wait_until_up(url, user, token, timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    auth = base64.b64encode(f"{user}:{token}".encode()).decode()
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"jenkins-emulator exited with {proc.returncode}")
        try:
            req = urllib.request.Request(
                url + "api/json?tree=url", headers={"Authorization": "Basic " + auth}
            )
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"jenkins-emulator at {url} not up after {timeout}s: {last!r}")


@contextlib.contextmanager
def running_emulator(
    home, port=None, plugins=(), user="admin", token=None, extra_args=(), log_path=None, python=None
):
    """Run ``python -m saltext.chain.emulator serve`` on 127.0.0.1; yields ``(url, user, token)``.

    ``plugins`` is an iterable of ``"name:version"`` strings.  The process is stopped on exit;
    the state in ``home`` stays (start again on the same home to test a restart).
    """
    with emulator_process(home, port, plugins, user, token, extra_args, log_path, python) as (
        _proc,
        url,
        user,
        token,
    ):
        yield url, user, token


@contextlib.contextmanager
def emulator_process(
    home, port=None, plugins=(), user="admin", token=None, extra_args=(), log_path=None, python=None
):
    """:func:`running_emulator` that also yields its ``Popen`` first: ``(proc, url, user,
    token)``, for a test that signals the controller (``SIGSTOP``: a frozen controller)."""
    home = os.fspath(home)
    os.makedirs(home, exist_ok=True)
    port = port or free_port()
    token = token or secrets.token_hex(16)
    # the token in a 0600 file, not on the command line, where `ps` shows it to every account
    secret_dir = tempfile.mkdtemp(prefix="jenkins-emulator-")  # 0700
    token_file = os.path.join(secret_dir, "admin-token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token)
    cmd = [
        python or sys.executable,
        "-m",
        "saltext.chain.emulator",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--home",
        home,
        "--admin-user",
        user,
        "--admin-token-file",
        token_file,
    ]
    for spec in plugins:
        cmd += ["--plugin", spec]
    cmd += list(extra_args)
    log_path = log_path or os.path.join(home, "emulator.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, user, token, proc=proc)
        yield proc, url, user, token
    finally:
        stop_process(proc)
        shutil.rmtree(secret_dir, ignore_errors=True)


@contextlib.contextmanager
def running_agent(url, secret, name, workdir, extra_env=None, log_path=None, python=None, args=()):
    """Run the emulated inbound agent (``agent.py``, extra agent.jar options ``args``) as a
    subprocess; yields the Popen."""
    env = _env()
    env.update(
        {
            "JENKINS_URL": url,
            "JENKINS_SECRET": secret,
            "JENKINS_AGENT_NAME": name,
            "JENKINS_AGENT_WORKDIR": os.fspath(workdir),
            "JENKINS_WEB_SOCKET": "true",
        }
    )
    env.update(extra_env or {})
    log_path = log_path or os.path.join(os.fspath(workdir), "agent.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [python or sys.executable, AGENT_SCRIPT, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc, timeout=5.0):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request_log(home):
    """The emulator's request log (``HOME/logs/requests.log``) as a list of dicts."""
    path = os.path.join(os.fspath(home), "logs", "requests.log")
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []
