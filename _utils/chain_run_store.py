"""
The ``chain`` runner's files on the master, under ``<cachedir>/chain``: one lock per app (one
rollout or rollback of an app at a time) and each app's history of deploys as JSON lines.

The lock is an exclusive, non-blocking ``flock`` on ``locks/<app>.lock``; the file holds what the
holder runs (JSON, with its PID) so that a refused caller can name it. The kernel releases a
``flock`` when its holder's process ends, however it ends: a lock file left behind by a process
that died (its content naming a dead PID) does not block the next rollout; its stale content is
overwritten. Pure file I/O: callers pass the directory (no Salt dunders).
"""

import fcntl
import json
import os

from salt.exceptions import CommandExecutionError


class Busy(CommandExecutionError):
    """The app's rollout lock is held by another process (or another open of the lock)."""


def directory(root, *parts):
    """``root/parts...``, created (mode 0700) if missing."""
    path = os.path.join(root, *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class Lock:
    """One rollout per app: ``with Lock(root, app, {"image": ...}):`` or :class:`Busy`."""

    def __init__(self, root, app, what):
        self.app = app
        self.path = os.path.join(directory(root, "locks"), f"{app}.lock")
        self.what = what
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with os.fdopen(os.dup(self.fd)) as fh:
                holder = fh.read().strip() or "another process"
            os.close(self.fd)
            raise Busy(
                f"a rollout of {self.app} is already running ({holder}); try again "
                "when it has finished"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(dict(self.what, pid=os.getpid())).encode(), 0)
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False


def history_path(root, app):
    return os.path.join(root, "history", f"{app}.jsonl")


def record(root, app, entry):
    """Append one deploy (a JSON-serialisable mapping) to the app's history."""
    directory(root, "history")
    with open(history_path(root, app), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def read(root, app, limit):
    """The app's last ``limit`` entries, newest first (``[]`` without a history)."""
    path = history_path(root, app)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh if line.strip()]
    return list(reversed(entries))[:limit]
