"""
Scatter/gather over Salt's event bus: publish several minion calls at once, then wait for all
their returns, asking each minion that has not answered yet whether it still runs its job (Salt's
own job check, ``saltutil.find_job``, the way ``LocalClient`` does after a call's timeout, but
from the start): a minion that does not answer that check within ``gather_job_timeout`` seconds
is unreachable, and its call ends then, not at the call's timeout. The caller passes a
``salt.client.LocalClient`` (and destroys it); nothing here reads Salt's dunders.
"""

import time

FIRST_CHECK = 2  # seconds after the publish: a job that ends sooner needs no check


class NoAnswer(str):
    """The return of a call whose minion is unreachable or lost its job (a ``str``, so that a
    caller that prints returns prints why)."""


def unreachable(target, check):
    return NoAnswer(
        f"{target} is unreachable: it did not answer Salt's job check "
        f"(saltutil.find_job) within {check:g} s"
    )


def lost(target, jid):
    return NoAnswer(f"{target} no longer runs job {jid} and sent no return (the minion restarted?)")


class _Job:
    """One published call: whose it is, and its job check under way (``probe``, its jid)."""

    def __init__(self, key, target):
        self.key, self.target = key, target
        self.probe, self.probe_until, self.idle = None, None, 0


def gather(client, calls, timeout, check=None):
    """Publish every call at once, then wait for all: ``{key: (target, fun, args, kwarg)}`` ->
    ``{key: return}`` (``None``: no answer within ``timeout`` seconds, or the target is not a
    connected minion; a :class:`NoAnswer` when its minion did not answer the job check within
    ``check`` seconds, default the client's ``gather_job_timeout``, or twice said it no longer
    runs the job). Returns come from the event bus (``listen=True`` subscribes before each
    publish), or from the job cache when an event was missed (checked whenever the bus is quiet
    for half a second)."""
    check = float(check or (getattr(client, "opts", None) or {}).get("gather_job_timeout") or 10)
    out, jobs = dict.fromkeys(calls), {}
    for key, (target, fun, args, kwarg) in calls.items():
        pub = client.run_job(target, fun, list(args), kwarg=kwarg, timeout=timeout, listen=True)
        if pub and target in (pub.get("minions") or []):
            jobs[pub["jid"]] = _Job(key, target)
    now = time.monotonic()
    deadline, next_check = now + timeout, now + min(FIRST_CHECK, check)
    while jobs and time.monotonic() < deadline:
        evt = client.event.get_event(wait=0.5, tag="salt/job/", match_type="startswith", full=True)
        _take(client, jobs, out, (evt or {}).get("data") or {})
        if evt is None:
            _from_cache(client, jobs, out)
        now = time.monotonic()
        _give_up(client, jobs, out, now, check)
        if now >= next_check:
            _probe(client, jobs, now, check)
            next_check = now + check
    return out


def _take(client, jobs, out, data):
    """A return event: a call's return, or a job check's answer."""
    if "return" not in data:
        return
    job = jobs.get(data.get("jid"))
    if job and data.get("id") == job.target:
        out[job.key] = data["return"]
        del jobs[data["jid"]]
        return
    for jid, job in list(jobs.items()):
        if job.probe == data.get("jid") and data.get("id") == job.target:
            job.probe = job.probe_until = None
            job.idle = 0 if data["return"] else job.idle + 1  # {}: the job no longer runs
            if job.idle >= 2:
                found = _cached(client, jid, job.target)
                out[job.key] = lost(job.target, jid) if found is None else found.get("ret")
                del jobs[jid]


def _probe(client, jobs, now, check):
    """Ask every minion whose job has no check under way whether it still runs it."""
    for jid, job in jobs.items():
        if job.probe is None:
            pub = client.run_job(job.target, "saltutil.find_job", [jid], timeout=check, listen=True)
            job.probe, job.probe_until = (pub or {}).get("jid") or "unsent", now + check


def _give_up(client, jobs, out, now, check):
    """End the calls whose minion did not answer its job check in time."""
    for jid, job in list(jobs.items()):
        if job.probe_until is not None and now >= job.probe_until:
            found = _cached(client, jid, job.target)
            out[job.key] = unreachable(job.target, check) if found is None else found.get("ret")
            del jobs[jid]


def _from_cache(client, jobs, out):
    """Take the returns the job cache already holds (their events were missed)."""
    for jid, job in list(jobs.items()):
        found = _cached(client, jid, job.target)
        if found is not None:
            out[job.key] = found.get("ret")
            del jobs[jid]


def _cached(client, jid, target):
    """The job cache's return of ``target`` for ``jid`` (``{"ret": ...}``), or ``None``."""
    return client.get_cache_returns(jid).get(target)
