"""A stand-in for ``_utils/chain_push_queue.py`` in the browser test only (the push queue is
built beside the page): ``snapshot(path, limit)`` as issue 16's design fixes it, over a tiny
SQLite table of the pushes and runs the test writes with :func:`put`. The test master loads it
through ``utils_dirs`` only while the real module is absent."""

import json
import sqlite3

SCHEMA = "CREATE TABLE IF NOT EXISTS fixture (seq INTEGER PRIMARY KEY, kind TEXT, doc TEXT)"


def put(path, kind, doc):
    """Add one push (``kind="push"``) or run (``"run"``)."""
    with sqlite3.connect(path) as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO fixture (kind, doc) VALUES (?, ?)", (kind, json.dumps(doc)))


def snapshot(path, limit=50):
    """``{"pushes": [...], "runs": [...]}``, newest first."""
    with sqlite3.connect(path) as conn:
        conn.execute(SCHEMA)
        out = {}
        for kind in ("push", "run"):
            rows = conn.execute(
                "SELECT doc FROM fixture WHERE kind = ? ORDER BY seq DESC LIMIT ?", (kind, limit)
            )
            out[f"{kind}es" if kind == "push" else f"{kind}s"] = [json.loads(r[0]) for r in rows]
    return out
