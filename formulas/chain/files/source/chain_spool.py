"""The push records of the chain's source server (issue 16's record format), written to the
spool that the build server's minion forwards to the master (`chain_push.forward`).

One JSON file per pushed branch head, written atomically: a temporary file in the spool's own
directory (a name starting with '.', which the minion skips), fsync, rename to
``<pushed_at in ns>-<delivery>.json`` (names sort oldest first), fsync of the directory. A
reader sees a whole record or none. A hook never fails a push on its own error: the push is
already accepted when post-receive/txnclose runs; ``report`` tells the pusher and appends the
reason to ``<spool>/hook-errors.log`` (the minion logs it), and the master's poll check
(chain_push.check) queues the branch head that has no record.
"""

import json
import os
import sys
import time
import traceback
import uuid

SPOOL = os.environ.get("CHAIN_SPOOL", "/srv/spool")
ZERO = "0" * 40


def record(vcs, repo, ref, before, after, pusher, via, message, author, now=None):
    """One push record (a dict in the shared format)."""
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    lines = (message or "").strip().splitlines()
    return {
        "delivery": uuid.uuid4().hex,
        "vcs": vcs,
        "repo": repo,
        "branch": branch,
        "ref": ref,
        "before": before or ZERO,
        "after": after,
        "pusher": pusher,
        "via": via,
        "message": (lines[0] if lines else "")[:200],
        "author": author or "",
        "pushed_at": round(time.time() if now is None else now, 3),
    }


def write(rec, spool=None):
    """Write ``rec`` into the spool atomically; the final path."""
    spool = spool or SPOOL
    name = f"{int(rec['pushed_at'] * 1e9):020d}-{rec['delivery']}.json"
    tmp = os.path.join(spool, f".{name}.tmp")
    final = os.path.join(spool, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rec, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(spool, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return final


def report(what, spool=None):
    """A hook's own failure: told to the pusher (stderr) and appended to the spool's error log.
    Never raises."""
    reason = "".join(traceback.format_exception_only(*sys.exc_info()[:2])).strip()
    line = f"{time.time():.3f} {what}: push accepted but NOT recorded: {reason}"
    try:
        sys.stderr.write(f"chain: {line} (the master's poll check will find it)\n")
    except Exception:  # pylint: disable=broad-except
        pass
    try:
        with open(os.path.join(spool or SPOOL, "hook-errors.log"), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except Exception:  # pylint: disable=broad-except
        pass
