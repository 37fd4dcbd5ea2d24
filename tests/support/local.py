"""Small local helpers of the tests: a free loopback port, git in a subprocess."""

import contextlib
import socket
import subprocess


def free_port():
    """A TCP port free on 127.0.0.1 right now (the caller binds it soon after)."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(*args, cwd=None):
    """``git ARGS`` in ``cwd``; its stripped output (the test fails on a non-zero exit)."""
    res = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()
