"""
The master's push queue: every push recorded once, pushes to a branch coalesced, one run per
app at a time, nothing lost when the master dies. One SQLite file (the standard library's
``sqlite3``) in ``<master cachedir>/saltext-chain/push-queue.sqlite``, in WAL mode; every write
is one ``BEGIN IMMEDIATE`` transaction (the database's write lock is taken before anything is
read, so two processes never hand out the same push: a claim reads and marks in one
transaction).

- A push is keyed by its ``delivery`` (unique): a second delivery with the same id is a
  duplicate and stores nothing.
- Coalescing: when a push arrives, an older push of the same repository and branch that is
  still ``queued`` becomes ``superseded`` (``superseded_by`` = the newer push); a push older
  than the newest one already seen on its branch is stored superseded at once. "Older" is the
  hook's ``pushed_at`` (arrival order when equal): a forwarder that resends late never rolls
  a branch back.
- One run per app: a lease row per app (holder, pid, host, heartbeat). A lease whose pid is
  dead on this host, or whose heartbeat is older than ``stale`` seconds, is taken over.
- Receipts: :func:`receipts` tells the source minion's forwarder which of its deliveries the
  queue holds (or refused for good: :func:`refuse`), so that it keeps a record until then and
  sends it again otherwise; a delivery sent twice is still one push.
- Restart: a worker that takes a lease first puts the pushes of any run of its app still
  ``running`` (its worker died with the master) back to ``queued``; the run is recorded failed
  ("interrupted").

Push states: queued, running, deployed, built, failed, superseded, nothing to do. Callers go
through these functions, never raw SQL. No Salt dunders.
"""

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import time

FILE = "push-queue.sqlite"
FINAL = ("deployed", "built", "failed", "nothing to do")
STALE = 60.0
_READY = set()
SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery TEXT NOT NULL UNIQUE,
    source TEXT, repo TEXT NOT NULL, vcs TEXT, app TEXT NOT NULL, branch TEXT NOT NULL,
    ref TEXT, before TEXT, commit_ TEXT NOT NULL, deploy INTEGER, pusher TEXT, via TEXT,
    message TEXT, author TEXT, pushed_at REAL, received_at REAL NOT NULL,
    state TEXT NOT NULL, run_id TEXT, superseded_by INTEGER, record TEXT);
CREATE INDEX IF NOT EXISTS pushes_queued ON pushes (app, state);
CREATE INDEX IF NOT EXISTS pushes_branch ON pushes (repo, branch);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, app TEXT NOT NULL, repo TEXT, branch TEXT, commit_ TEXT,
    deploy INTEGER, state TEXT NOT NULL, started REAL, ended REAL, failure TEXT,
    console_tail TEXT, tests TEXT, coverage REAL, pushes TEXT, superseded TEXT);
CREATE INDEX IF NOT EXISTS runs_branch ON runs (repo, branch, state);
CREATE TABLE IF NOT EXISTS stages (
    run_id TEXT NOT NULL, name TEXT NOT NULL, started REAL, ended REAL, result TEXT,
    comment TEXT, seq INTEGER, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS refusals (
    delivery TEXT PRIMARY KEY, source TEXT, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    app TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER, host TEXT, heartbeat REAL,
    run_id TEXT);
"""
PUSH_COLUMNS = (
    "id, delivery, source, repo, vcs, app, branch, ref, before, commit_, deploy, pusher, via, "
    "message, author, pushed_at, received_at, state, run_id, superseded_by"
)


def path_in(cachedir):
    """``<cachedir>/saltext-chain/push-queue.sqlite`` (the directory is made, mode 0700)."""
    directory = os.path.join(cachedir, "saltext-chain")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return os.path.join(directory, FILE)


def run_id(now=None):
    """``<UTC yyyymmddThhmmss>-<6 hex>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


def _new_run_id(conn, now):
    """A :func:`run_id` that no run holds yet: hundreds of claims in one second (a burst, four
    workers) draw from 6 hex digits per second, where two runs once drew the same id."""
    while True:
        rid = run_id(now)
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (rid,)).fetchone() is None:
            return rid


def holder_id():
    """Who holds a lease: host, pid and a random part (two threads of one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@contextlib.contextmanager
def connect(path):
    """A connection (autocommit mode: transactions are explicit), WAL, a 30 s busy timeout."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA synchronous = NORMAL")
        if path not in _READY:  # once per process and file (both are idempotent)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            _READY.add(path)
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def transaction(path):
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception)."""
    with connect(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _push(row):
    push = dict(row)
    push["commit"] = push.pop("commit_")
    push["deploy"] = bool(push["deploy"]) if push.get("deploy") is not None else None
    return push


# ---------------------------------------------------------------------------------------------
# Pushes
# ---------------------------------------------------------------------------------------------


def _newest_on_branch(conn, repo, branch):
    return conn.execute(
        "SELECT id, pushed_at, state, commit_ FROM pushes WHERE repo = ? AND branch = ? "
        "AND state != 'superseded' ORDER BY pushed_at DESC, id DESC LIMIT 1",
        (repo, branch),
    ).fetchone()


def enqueue(path, record, now=None, final=None):
    """Store a checked push record (:func:`chain_push_verify.check_record`): ``{"push": id,
    "state": ..., "duplicate": bool, "superseded": [ids]}``. A known delivery stores nothing
    (``duplicate``). ``final`` (e.g. ``"seeded"``) stores the push in that state: known (the
    poll check sees its commit) but never run, and superseding nothing."""
    now = now or time.time()
    with transaction(path) as conn:
        known = conn.execute(
            "SELECT id, state FROM pushes WHERE delivery = ?", (record["delivery"],)
        ).fetchone()
        if known:
            return {"push": known["id"], "state": known["state"], "duplicate": True}
        newest = _newest_on_branch(conn, record["repo"], record["branch"])
        pushed_at = record.get("pushed_at") or now
        stale = newest is not None and newest["pushed_at"] > pushed_at
        state = "superseded" if stale else (final or "queued")
        cur = conn.execute(
            "INSERT INTO pushes (delivery, source, repo, vcs, app, branch, ref, before, commit_,"
            " deploy, pusher, via, message, author, pushed_at, received_at, state,"
            " superseded_by, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record["delivery"],
                record.get("source"),
                record["repo"],
                record.get("vcs"),
                record["app"],
                record["branch"],
                record.get("ref"),
                record.get("before"),
                record["after"],
                int(bool(record.get("deploy"))),
                record.get("pusher"),
                record.get("via"),
                record.get("message"),
                record.get("author"),
                pushed_at,
                now,
                state,
                newest["id"] if stale else None,
                json.dumps(record, sort_keys=True),
            ),
        )
        push = cur.lastrowid
        superseded = []
        if not stale and not final:
            superseded = [
                r["id"]
                for r in conn.execute(
                    "SELECT id FROM pushes WHERE repo = ? AND branch = ? AND state = 'queued' "
                    "AND id != ?",
                    (record["repo"], record["branch"], push),
                )
            ]
            conn.executemany(
                "UPDATE pushes SET state = 'superseded', superseded_by = ? WHERE id = ? "
                "OR superseded_by = ?",
                [(push, i, i) for i in superseded],
            )
        return {"push": push, "state": state, "duplicate": False, "superseded": superseded}


def push(path, push_id):
    """One push (``None`` if unknown), with its stored ``record``."""
    with connect(path) as conn:
        row = conn.execute(
            f"SELECT {PUSH_COLUMNS}, record FROM pushes WHERE id = ?", (push_id,)
        ).fetchone()
    if row is None:
        return None
    found = _push(row)
    try:
        found["record"] = json.loads(found["record"] or "{}")
    except ValueError:
        found["record"] = None
    return found


def seen(path, delivery):
    """Whether a delivery id is already in the queue."""
    with connect(path) as conn:
        return conn.execute("SELECT 1 FROM pushes WHERE delivery = ?", (delivery,)).fetchone()


def refuse(path, delivery, source, reason, now=None):
    """Record that a delivery was refused for good (its record itself is wrong: a branch not on
    the allow-list, a malformed ref), so that its sender stops sending it. True the first time,
    False when it was recorded before (or the delivery is queued)."""
    with transaction(path) as conn:
        if conn.execute("SELECT 1 FROM pushes WHERE delivery = ?", (delivery,)).fetchone():
            return False
        cur = conn.execute(
            "INSERT OR IGNORE INTO refusals (delivery, source, reason, at) VALUES (?,?,?,?)",
            (delivery, source, str(reason)[:300], now or time.time()),
        )
        return cur.rowcount == 1


def receipts(path, deliveries):
    """What the queue has recorded of ``deliveries``: ``{delivery: {"push": id, "state": ...}}``
    for a queued push (committed: it survives a restart), ``{delivery: {"refused": reason}}``
    for a refusal recorded by :func:`refuse`; unknown deliveries are left out."""
    wanted = sorted({str(d) for d in deliveries})
    out = {}
    with connect(path) as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT delivery, reason FROM refusals WHERE delivery IN ({marks})", chunk
            ):
                out[row["delivery"]] = {"refused": row["reason"]}
            for row in conn.execute(
                f"SELECT delivery, id, state FROM pushes WHERE delivery IN ({marks})", chunk
            ):
                out[row["delivery"]] = {"push": row["id"], "state": row["state"]}
    return out


def queued_apps(path):
    """The apps that have queued pushes or runs left ``running``."""
    with connect(path) as conn:
        rows = conn.execute(
            "SELECT DISTINCT app FROM pushes WHERE state IN ('queued', 'running') ORDER BY app"
        ).fetchall()
    return [r["app"] for r in rows]


def has_work(path, app):
    """Whether ``app`` has a queued push (or a run left ``running`` by a dead worker)."""
    with connect(path) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pushes WHERE app = ? AND state IN ('queued', 'running') LIMIT 1",
                (app,),
            ).fetchone()
        )


def last_run_commit(path, repo, branch):
    """The commit of the newest run of a branch that succeeded (``deployed`` or ``built``)."""
    with connect(path) as conn:
        row = conn.execute(
            "SELECT commit_ FROM runs WHERE repo = ? AND branch = ? AND state IN "
            "('deployed', 'built') ORDER BY started DESC LIMIT 1",
            (repo, branch),
        ).fetchone()
    return row["commit_"] if row else None


def heads(path):
    """``{(repo, branch): commit}`` of the newest push of every branch that is not superseded
    (what was last queued or run for it)."""
    with connect(path) as conn:
        rows = conn.execute(
            "SELECT repo, branch, commit_ FROM pushes WHERE state != 'superseded' "
            "ORDER BY pushed_at, id"
        ).fetchall()
    return {(r["repo"], r["branch"]): r["commit_"] for r in rows}


# ---------------------------------------------------------------------------------------------
# Leases: one run per app
# ---------------------------------------------------------------------------------------------


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lease_free(row, now, stale):
    if row is None:
        return True
    if row["host"] == socket.gethostname() and not _alive(row["pid"]):
        return True
    return now - (row["heartbeat"] or 0) > stale


def acquire(path, app, holder, stale=STALE, now=None):
    """Take ``app``'s lease for ``holder`` (:func:`holder_id`): True, or False when someone
    alive holds it. Taking it puts pushes of runs left ``running`` back to ``queued``."""
    now = now or time.time()
    with transaction(path) as conn:
        row = conn.execute("SELECT * FROM leases WHERE app = ?", (app,)).fetchone()
        if row is not None and row["holder"] != holder and not _lease_free(row, now, stale):
            return False
        conn.execute(
            "INSERT OR REPLACE INTO leases (app, holder, pid, host, heartbeat) VALUES (?,?,?,?,?)",
            (app, holder, os.getpid(), socket.gethostname(), now),
        )
        _requeue_interrupted(conn, app, now)
        return True


INTERRUPTED = "interrupted: its worker stopped (the master restarted); re-run"


def _requeue_interrupted(conn, app, now):
    for run in conn.execute(
        "SELECT run_id FROM runs WHERE app = ? AND state = 'running'", (app,)
    ).fetchall():
        _requeue_run(conn, run[0], now, INTERRUPTED)
    conn.execute(  # and any push left running without its run (written by an older version)
        "UPDATE pushes SET state = 'queued', run_id = NULL WHERE app = ? AND state = 'running'",
        (app,),
    )


def _requeue_run(conn, rid, now, why):
    conn.execute(
        "UPDATE runs SET state = 'failed', ended = ?, failure = ? WHERE run_id = ?"
        " AND state = 'running'",
        (now, why, rid),
    )
    conn.execute(
        "UPDATE pushes SET state = 'queued', run_id = NULL WHERE run_id = ? AND state = 'running'",
        (rid,),
    )


def interrupt(path, rid, why=INTERRUPTED, now=None):
    """A run its worker gives up half-way (the worker was told to stop: the master is going
    down): the run is recorded failed with ``why`` (it says "interrupted") and its pushes are
    queued again, as a worker taking the lease after a dead one does. A run already ended is
    left as it is."""
    with transaction(path) as conn:
        _requeue_run(conn, rid, now or time.time(), why)


def heartbeat(path, app, holder, now=None):
    """Renew the lease; False when ``holder`` no longer holds it."""
    with transaction(path) as conn:
        cur = conn.execute(
            "UPDATE leases SET heartbeat = ? WHERE app = ? AND holder = ?",
            (now or time.time(), app, holder),
        )
        return cur.rowcount == 1


def release(path, app, holder):
    """Give the lease back (only its holder can)."""
    with transaction(path) as conn:
        conn.execute("DELETE FROM leases WHERE app = ? AND holder = ?", (app, holder))


def held(path, app, stale=STALE, now=None):
    """The lease row of ``app`` when a live worker holds it (its pid alive on this host, or
    its heartbeat fresh), else ``None``: a push queued now is that worker's to run, since it
    looks for work again after giving the lease back (see the worker's loop)."""
    row = lease(path, app)
    return None if _lease_free(row, now or time.time(), stale) else row


def lease(path, app):
    """The lease row of ``app`` (``None`` when free)."""
    with connect(path) as conn:
        row = conn.execute("SELECT * FROM leases WHERE app = ?", (app,)).fetchone()
    return dict(row) if row else None


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


def _undecodable(conn, row, now):
    """A push whose stored record does not decode is failed, never dropped."""
    try:
        json.loads(row["record"] or "")
        return False
    except ValueError:
        conn.execute(
            "UPDATE pushes SET state = 'failed', superseded_by = NULL WHERE id = ?", (row["id"],)
        )
        conn.execute(
            "INSERT INTO runs (run_id, app, repo, branch, commit_, deploy, state, started, ended,"
            " failure, pushes, superseded) VALUES (?,?,?,?,?,?,'failed',?,?,?,?,'[]')",
            (
                run_id(now),
                row["app"],
                row["repo"],
                row["branch"],
                row["commit_"],
                row["deploy"],
                now,
                now,
                "the stored push record does not decode",
                json.dumps([row["id"]]),
            ),
        )
        return True


def claim(path, app, now=None):
    """The next run of ``app``, or ``None``: the branch whose newest queued push waited longest,
    its newest queued push; older queued pushes of that branch are superseded. The run is
    recorded ``running`` in the same transaction. Returns ``{run_id, app, repo, vcs, branch,
    commit, deploy, pushes, superseded, push}`` (``push``: the push's stored record)."""
    now = now or time.time()
    with transaction(path) as conn:
        while True:
            first = conn.execute(
                "SELECT repo, branch FROM pushes WHERE app = ? AND state = 'queued' "
                "ORDER BY id LIMIT 1",
                (app,),
            ).fetchone()
            if first is None:
                return None
            branch = conn.execute(
                f"SELECT {PUSH_COLUMNS}, record FROM pushes WHERE app = ? AND state = 'queued' "
                "AND repo = ? AND branch = ? ORDER BY id",
                (app, first["repo"], first["branch"]),
            ).fetchall()
            chosen = max(branch, key=lambda r: (r["pushed_at"] or 0, r["id"]))
            if not _undecodable(conn, chosen, now):
                break
        older = [r["id"] for r in branch if r["id"] != chosen["id"]]
        rid = _new_run_id(conn, now)
        conn.executemany(
            "UPDATE pushes SET state = 'superseded', superseded_by = ? WHERE id = ? "
            "OR superseded_by = ?",
            [(chosen["id"], i, i) for i in older],
        )
        conn.execute(
            "UPDATE pushes SET state = 'running', run_id = ? WHERE id = ?", (rid, chosen["id"])
        )
        superseded = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM pushes WHERE superseded_by = ? ORDER BY id", (chosen["id"],)
            )
        ]
        conn.execute(
            "INSERT INTO runs (run_id, app, repo, branch, commit_, deploy, state, started,"
            " pushes, superseded) VALUES (?,?,?,?,?,?,'running',?,?,?)",
            (
                rid,
                app,
                chosen["repo"],
                chosen["branch"],
                chosen["commit_"],
                chosen["deploy"],
                now,
                json.dumps([chosen["id"]]),
                json.dumps(superseded),
            ),
        )
        conn.execute("UPDATE leases SET run_id = ? WHERE app = ?", (rid, app))
    claimed = _push(chosen)
    return {
        "run_id": rid,
        "app": app,
        "repo": claimed["repo"],
        "vcs": claimed["vcs"],
        "branch": claimed["branch"],
        "commit": claimed["commit"],
        "deploy": claimed["deploy"],
        "pushes": [claimed["id"]],
        "superseded": superseded,
        "push": json.loads(chosen["record"]),
        "started": now,
    }


def finish(path, rid, state, failure=None, console_tail=None, tests=None, coverage=None):
    """Record a run's end: ``state`` (deployed, built, failed, nothing to do) on the run and
    its pushes."""
    if state not in FINAL:
        raise ValueError(f"state: expected one of {', '.join(FINAL)}")
    with transaction(path) as conn:
        conn.execute(
            "UPDATE runs SET state = ?, ended = ?, failure = ?, console_tail = ?, tests = ?,"
            " coverage = ? WHERE run_id = ?",
            (
                state,
                time.time(),
                failure,
                console_tail,
                json.dumps(tests) if tests is not None else None,
                coverage,
                rid,
            ),
        )
        conn.execute("UPDATE pushes SET state = ? WHERE run_id = ?", (state, rid))


#: A stage's result as stored (text) -> as read: the booleans of the stage events.
_RESULTS = {"True": True, "False": False}


def record_stage(path, rid, name, kind, at, result=None, comment=None):
    """A stage event of a run: ``kind`` ``start`` or ``done`` (with ``result`` and a one-line
    ``comment``)."""
    with transaction(path) as conn:
        if kind == "start":
            seq = conn.execute("SELECT COUNT(*) FROM stages WHERE run_id = ?", (rid,)).fetchone()
            conn.execute(
                "INSERT OR IGNORE INTO stages (run_id, name, started, seq) VALUES (?,?,?,?)",
                (rid, name, at, seq[0]),
            )
            return
        conn.execute(
            "INSERT OR IGNORE INTO stages (run_id, name, started, seq) VALUES (?,?,?,?)",
            (rid, name, None, 1000),
        )
        conn.execute(
            "UPDATE stages SET ended = ?, result = ?, comment = ? WHERE run_id = ? AND name = ?",
            (at, None if result is None else str(result), comment, rid, name),
        )


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _json(text, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _run(conn, row):
    run = dict(row)
    run["commit"] = run.pop("commit_")
    run["deploy"] = bool(run["deploy"]) if run["deploy"] is not None else None
    run["tests"] = _json(run["tests"], None)
    run["pushes"] = _json(run["pushes"], [])
    run["superseded"] = _json(run["superseded"], [])
    run["stages"] = [
        dict(s, result=_RESULTS.get(s["result"], s["result"]))
        for s in conn.execute(
            "SELECT name, started, ended, result, comment FROM stages WHERE run_id = ? "
            "ORDER BY seq, started",
            (run["run_id"],),
        )
    ]
    return run


def run(path, rid):
    """One run with its stages (``None`` if unknown)."""
    with connect(path) as conn:
        row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (rid,)).fetchone()
        return _run(conn, row) if row else None


def snapshot(path, limit=50, app=None):
    """``{"pushes": [...], "runs": [...]}``, newest first, at most ``limit`` of each (the shape
    in ``docs/push.md``)."""
    where, args = ("WHERE app = ?", (app,)) if app else ("", ())
    with connect(path) as conn:
        pushes = [
            _push(r)
            for r in conn.execute(
                f"SELECT {PUSH_COLUMNS} FROM pushes {where} ORDER BY id DESC LIMIT ?",
                (*args, int(limit)),
            )
        ]
        runs = [
            _run(conn, r)
            for r in conn.execute(
                f"SELECT * FROM runs {where} ORDER BY started DESC, rowid DESC LIMIT ?",
                (*args, int(limit)),
            ).fetchall()
        ]
    for p in pushes:
        for key in ("source", "ref", "before", "author", "pushed_at", "deploy"):
            p.pop(key, None)
    return {"pushes": pushes, "runs": runs}
