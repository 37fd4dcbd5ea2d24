"""
Scatter/gather over Salt's event bus: publish several minion calls at once, then wait for all
their returns, asking each minion that has not answered yet whether it still runs its job (Salt's
own job check, ``saltutil.find_job``, the way ``LocalClient`` does after a call's timeout, but
from the start): a minion that does not answer that check within ``gather_job_timeout`` seconds
is unreachable, and its call ends then, not at the call's timeout. The caller passes a
``salt.client.LocalClient`` (and destroys it); nothing here reads Salt's dunders.
"""

import logging
import re
import time

log = logging.getLogger(__name__)

FIRST_CHECK = 2  # seconds after the publish: a job that ends sooner needs no check
#: Seconds a call whose minion twice said it does not run the job is still waited for before it
#: is lost: the two checks can straddle the whole job (not yet started at the first, just ended
#: at the second), and a loaded master takes seconds to deliver the return (ci42: 1.8 s late).
LOST_GRACE = 15


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
        self.probe, self.probe_until, self.idle, self.lost_at = None, None, 0, None


def gather(client, calls, timeout, check=None):
    """Publish every call at once, then wait for all: ``{key: (target, fun, args, kwarg)}`` ->
    ``{key: return}`` (``None``: no answer within ``timeout`` seconds, or the target is not a
    connected minion; a :class:`NoAnswer` when its minion did not answer the job check within
    ``check`` seconds, default the client's ``gather_job_timeout``, or twice said it no longer
    runs the job and sent no return within :data:`LOST_GRACE` seconds after). Returns come
    from the event bus (``listen=True`` subscribes before each publish), or from the job cache
    when an event was missed (checked whenever the bus is quiet for half a second)."""
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
    for job in list(jobs.values()):
        if job.probe == data.get("jid") and data.get("id") == job.target:
            job.probe = job.probe_until = None
            job.idle = 0 if data["return"] else job.idle + 1  # {}: the job no longer runs
            if not job.idle:
                job.lost_at = None
            elif job.idle >= 2 and job.lost_at is None:
                job.lost_at = time.monotonic() + LOST_GRACE  # its return may be on its way


def _probe(client, jobs, now, check):
    """Ask every minion whose job has no check under way whether it still runs it."""
    for jid, job in jobs.items():
        if job.probe is None:
            pub = client.run_job(job.target, "saltutil.find_job", [jid], timeout=check, listen=True)
            job.probe, job.probe_until = (pub or {}).get("jid") or "unsent", now + check


def _give_up(client, jobs, out, now, check):
    """End the calls whose minion did not answer its job check in time, and those it twice
    said it no longer runs whose return did not come within :data:`LOST_GRACE`."""
    for jid, job in list(jobs.items()):
        if job.probe_until is not None and now >= job.probe_until:
            why = unreachable(job.target, check)
        elif job.lost_at is not None and now >= job.lost_at:
            why = lost(job.target, jid)
        else:
            continue
        found = _cached(client, jid, job.target)
        out[job.key] = why if found is None else found.get("ret")
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


# ---------------------------------------------------------------------------------------------
# A state run refused because another one is under way on the minion
# ---------------------------------------------------------------------------------------------

#: Salt's answer to a ``state.*`` call while another state run is under way on that minion
#: (``salt/modules/state.py`` ``running``): one such line per run, in a list.
_BUSY = re.compile(
    r'The function "(?P<fun>[^"]+)" is running as PID (?P<pid>\d+) and was started at '
    r"(?P<started>.+?) with jid (?P<jid>\d+)"
)
BUSY_POLL = 1.0  # seconds between two looks at the run a refused call waits for


def busy(ret):
    """The state run that a refused ``state.*`` call names (``{fun, pid, started, jid}``), or
    None when ``ret`` is no such refusal."""
    if not isinstance(ret, list):
        return None
    for line in ret:
        match = _BUSY.search(str(line))
        if match:
            return match.groupdict()
    return None


def still_busy(target, run, waited):
    return NoAnswer(
        f"{target} runs another state run that did not end within {waited:g} s: "
        f"{run['fun']} (PID {run['pid']}, jid {run['jid']}, started at {run['started']}); "
        "the deploy of an interrupted rollout, or someone's state run: let it end, or stop it "
        f"(salt {target} saltutil.kill_job {run['jid']}), then run again"
    )


def gather_states(client, calls, timeout, check=None, notes=None, gather_=None, sleep=None):
    """:func:`gather`, where a ``state.*`` call that Salt refused because another state run is
    under way on its minion (the deploy an interrupted rollout left running, a highstate) waits
    for that run to end (``saltutil.find_job`` every :data:`BUSY_POLL` s) and then runs again,
    all within ``timeout``; one whose run does not end in time gets a :class:`NoAnswer` naming
    that run. ``notes`` (a dict) gets ``{key: what was waited for}``."""
    gather_, sleep = gather_ or gather, sleep or time.sleep
    started = time.monotonic()
    out = gather_(client, calls, timeout, check)
    waiting = {k: busy(v) for k, v in out.items()}
    waiting = {k: run for k, run in waiting.items() if run}
    for key, run in waiting.items():
        log.warning(
            "chain: %s: %s is running there (jid %s): waiting for it to end",
            calls[key][0],
            run["fun"],
            run["jid"],
        )
    while waiting:
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            for key, run in waiting.items():
                out[key] = still_busy(calls[key][0], run, timeout)
            break
        probes = {
            k: (calls[k][0], "saltutil.find_job", [run["jid"]], {}) for k, run in waiting.items()
        }
        looked = gather_(client, probes, min(left, 60), check)
        for key in [k for k in waiting if isinstance(looked.get(k), NoAnswer)]:
            out[key] = looked[key]  # its minion stopped answering meanwhile
            del waiting[key]
        ended = [k for k in waiting if looked.get(k) == {}]
        if not ended:
            if waiting:
                sleep(min(BUSY_POLL, left))
            continue
        again = gather_(client, {k: calls[k] for k in ended}, left, check)
        for key in ended:
            run = waiting.pop(key)
            if notes is not None:
                took = time.monotonic() - started
                notes[key] = f"waited {took:.1f} s for {run['fun']} (jid {run['jid']}) to end"
            out[key] = again.get(key)
            if busy(out[key]):  # yet another run began meanwhile: wait for that one too
                waiting[key] = busy(out[key])
    return out
