"""
Scatter/gather over Salt's event bus: publish several minion calls at once, then wait for all
their returns. The caller passes a ``salt.client.LocalClient`` (and destroys it); nothing here
reads Salt's dunders.
"""

import time


def gather(client, calls, timeout):
    """Publish every call at once, then wait for all: ``{key: (target, fun, args, kwarg)}`` ->
    ``{key: return}`` (``None``: no answer within ``timeout`` seconds, or the target is not a
    connected minion). Returns come from the event bus (``listen=True`` subscribes before each
    publish), or from the job cache when an event was missed (checked whenever the bus is quiet
    for half a second)."""
    out, jobs = dict.fromkeys(calls), {}
    for key, (target, fun, args, kwarg) in calls.items():
        pub = client.run_job(target, fun, list(args), kwarg=kwarg, timeout=timeout, listen=True)
        if pub and target in (pub.get("minions") or []):
            jobs[pub["jid"]] = (key, target)
    deadline = time.monotonic() + timeout
    while jobs and time.monotonic() < deadline:
        evt = client.event.get_event(wait=0.5, tag="salt/job/", match_type="startswith", full=True)
        data = (evt or {}).get("data") or {}
        job = jobs.get(data.get("jid"))
        if job and data.get("id") == job[1] and "return" in data:
            out[job[0]] = data["return"]
            del jobs[data["jid"]]
        elif evt is None:
            _from_cache(client, jobs, out)
    return out


def _from_cache(client, jobs, out):
    """Take the returns the job cache already holds (their events were missed)."""
    for jid, (key, target) in list(jobs.items()):
        found = client.get_cache_returns(jid).get(target)
        if found is not None:
            out[key] = found.get("ret")
            del jobs[jid]
