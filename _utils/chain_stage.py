"""
The stage markers of the chain's orchestrate (``chain.stage``), apart from their I/O: the
argument checks, the event's tag, which states a marker follows (its requisites), and a stage's
outcome in one line, read from the results of those states.

A run's events (docs/chain.md): ``chain/run/<run_id>/stage/<stage>/start`` ``{at}`` and
``.../done`` ``{at, duration, result, comment}``. Pure: the state's low chunk and the running
results in (Salt hands them to a state frozen: mappings, not dicts), decisions out; no Salt
dunders.
"""

import re
from collections.abc import Mapping

from salt.exceptions import SaltInvocationError

#: ``<UTC yyyymmddThhmmss>-<6 hex>`` in the queue; any short name without a ``/`` is taken.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STAGE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
EVENTS = ("start", "done")
#: The requisites a marker follows: the stage's states (``require``: it ran because they
#: succeeded; ``onfail``: because one failed).
FOLLOWS = ("require", "onfail", "require_any", "onfail_any", "onfail_all")
COMMENT_MAX = 300
REQUISITE_FAILED = "One or more requisite failed"
SALT_STATE_OK = "States ran successfully."


def check(stage, event, run_id, details):
    """The marker's arguments, or ``SaltInvocationError`` naming the bad one."""
    if not isinstance(stage, str) or not STAGE.match(stage):
        raise SaltInvocationError(f"name: expected a stage name ([a-z0-9_-]), got {stage!r}")
    if event not in EVENTS:
        raise SaltInvocationError(f"event: expected start or done, got {event!r}")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise SaltInvocationError(
            f"run_id: expected a run id like 20261206T120000-3f2a1c ([A-Za-z0-9_.-]), "
            f"got {run_id!r}"
        )
    if details is not None and not (
        isinstance(details, Mapping)
        and all(isinstance(k, str) for k in details)
        and all(v is None or isinstance(v, (str, int, float, bool)) for v in details.values())
    ):
        raise SaltInvocationError("details: expected a mapping of names to plain values")


def tag(run_id, stage, event):
    """``chain/run/<run_id>/stage/<stage>/<event>``."""
    return f"chain/run/{run_id}/stage/{stage}/{event}"


def followed(low):
    """The IDs of the states a marker follows (its ``require``/``onfail`` requisites in its
    low chunk), in order, each once."""
    ids = []
    for key in FOLLOWS:
        for req in low.get(key) or ():
            for value in req.values() if isinstance(req, Mapping) else (req,):
                if isinstance(value, str) and value not in ids:
                    ids.append(value)
    return ids


def one_line(text, limit=COMMENT_MAX):
    """The first non-blank line of ``text``, cut to ``limit`` characters."""
    for line in str(text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def results(ids, running):
    """``[(id, state return)]`` of the states named ``ids`` that ran (``running``: the
    orchestrate's results so far, keyed by Salt's state tags ``<mod>_|-<id>_|-<name>_|-<fun>``)."""
    by_id = {}
    for key, ret in running.items():
        parts = str(key).split("_|-")
        if len(parts) == 4 and parts[1] in ids and isinstance(ret, Mapping):
            by_id.setdefault(parts[1], ret)
    return [(sid, by_id[sid]) for sid in ids if sid in by_id]


def _minion_failure(ret):
    """The first failing state on a minion in a ``salt.state`` return (its ``changes.ret``):
    ``"<minion>: <state id>: <comment's first line>"``, the cause before the requisites it
    failed; ``None`` when there is none."""
    found = []
    for minion, states in sorted(((ret.get("changes") or {}).get("ret") or {}).items()):
        if not isinstance(states, Mapping):
            found.append((1, f"{minion}: {one_line(states) or 'no answer'}"))
            continue
        for key, st in sorted(states.items(), key=lambda kv: _run_num(kv[1])):
            if isinstance(st, Mapping) and st.get("result") is False:
                sid = st.get("__id__") or (str(key).split("_|-") + [key, key])[1]
                cause = one_line(st.get("comment"))
                found.append((int(cause.startswith(REQUISITE_FAILED)), f"{minion}: {sid}: {cause}"))
    found.sort(key=lambda item: item[0])
    return found[0][1] if found else None


def _run_num(st):
    return st.get("__run_num__", 0) if isinstance(st, Mapping) else 0


def _own(comment):
    """A state's comment for the stage's line: its first line, without ``salt.state``'s
    "States ran successfully." (it says which minions changed after it)."""
    return one_line(str(comment or "").removeprefix(SALT_STATE_OK).strip(), 120)


def outcome(ids, running):
    """A stage's outcome from the results of its states (``ids``, read in ``running``):
    ``(result, comment)``. ``result`` is ``False`` when one of them failed, else ``True``; the
    comment is one line: what failed first (inside a ``salt.state``, the minion's failing state
    rather than "Run failed on minions"), else each state's own comment, joined."""
    found = results(ids, running)
    failed = [(sid, ret) for sid, ret in found if ret.get("result") is False]
    if failed:
        sid, ret = failed[0]
        detail = _minion_failure(ret) or one_line(ret.get("comment")) or "failed"
        return False, one_line(f"{sid}: {detail}")
    if not found:
        return True, "done"
    changed = sum(1 for _, ret in found if ret.get("changes"))
    head = f"{len(found)} state(s) succeeded, {changed} with changes"
    own = "; ".join(c for c in (_own(ret.get("comment")) for _, ret in found) if c)
    return True, one_line(f"{head}: {own}" if own else head)
