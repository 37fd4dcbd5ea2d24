"""
The ``chain`` runner's files on the master, under ``<cachedir>/chain``: one lock per app (one
rollout or rollback of an app at a time) and each app's history of deploys as JSON lines.

The lock is an exclusive, non-blocking ``flock`` on ``locks/<app>.lock``; the file holds what the
holder runs (JSON, with its PID) so that a refused caller can name it. The kernel releases a
``flock`` when its holder's process ends, however it ends: a lock file left behind by a process
that died (its content naming a dead PID) does not block the next rollout; its stale content is
overwritten, and recorded: the history gains an ``interrupted`` entry for the run that died
(:func:`interrupted`), once, by the next caller that takes the lock. Pure file I/O: callers pass
the directory (no Salt dunders).
"""

import fcntl
import json
import os
import time

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
        self.root, self.what = root, what
        self.fd, self.stale = None, None

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
        left = os.pread(self.fd, 65536, 0).decode(errors="replace").strip()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(dict(self.what, pid=os.getpid())).encode(), 0)
        if left:  # a holder that ended without releasing it (killed, its master restarted)
            self.stale = _parse(left)
            record(self.root, self.app, interrupted(self.app, self.stale, time.time()))
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False


def _parse(text):
    try:
        held = json.loads(text)
    except ValueError:
        return {"holder": text[:200]}
    return held if isinstance(held, dict) else {"holder": text[:200]}


def interrupted(app, held, now):
    """The history entry of a run that died holding the lock (``held``: what its lock file
    said): failed, ``interrupted``, no server known to be done (``chain.status`` says what each
    runs now)."""
    kind = held.get("kind") or "rollout"
    started = held.get("started") if isinstance(held.get("started"), (int, float)) else None
    who = f"PID {held['pid']}" if held.get("pid") else held.get("holder", "unknown")
    return {
        "app": app,
        "kind": kind,
        "image": held.get("image"),
        "ref": held.get("ref"),
        "result": False,
        "interrupted": True,
        "no_op": False,
        "changes": {},
        "servers": {},
        "rolled_back": {},
        "started": started or now,
        "duration": round(now - started, 2) if started else 0,
        "comment": f"{kind} of {app} to {held.get('image')} interrupted: its runner ({who}) "
        "ended before it finished (killed, or its master restarted); found when the next one "
        f"took the lock; chain.status {app} says which server runs which image",
    }


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
