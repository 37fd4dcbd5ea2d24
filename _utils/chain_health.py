"""
What "healthy" and "converged" mean, once, for every caller: ``container.running``'s
``wait_healthy``, ``container_service`` (its gate, monitor, status and check) and the ``chain``
runner's own check after a server's rollout.

A replica (or container) is described by the keys ``container_service.replicas`` returns:
``running`` (bool), ``status`` (Docker's ``State.Status``), ``health`` (Docker's
``State.Health.Status`` or ``None`` without a health check), ``generation``, ``restarts``, and
the facts of its health check (:func:`facts`): ``streak`` (Docker's ``FailingStreak``),
``retries``, ``window`` and ``start_period`` (seconds).

One look is not a judgement. Health is judged over time the way Docker and HAProxy judge it
(:class:`Watch`): a replica that is momentarily not ready (a probe timed out on a loaded
machine) is waited for; it is judged failed only once it stayed not ready for its whole health
window (``retries`` probes, each ``interval + timeout``: the time Docker needs to call a
container unhealthy, and the start period on top while Docker still says ``starting``), or
Docker counts twice its ``retries`` failed probes in a row, or it exited. A probe that ran out
of its timeout is no answer, not a bad one (Docker runs it with ``exec``, which a loaded
machine slows while the app serves): a replica whose failing probes all timed out gets
:data:`SLOW_PROBE_PATIENCE` instead. Nothing here does I/O; the callers pass the time
(``time.monotonic()``).
"""

#: Docker health statuses (``State.Health.Status``); ``None`` is a container without a check.
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
STARTING = "starting"

#: Judgements (:meth:`Watch.judge`, :func:`verdict`) and convergence (:func:`convergence`).
READY, WAITING, FAILED = "ready", "waiting", "failed"
CONVERGED, DIVERGED = "converged", "diverged"

#: Docker's own defaults for a health check field left out (seconds / count).
DOCKER_DEFAULTS = {"Interval": 30, "Timeout": 30, "Retries": 3, "StartPeriod": 0}
#: Seconds a container without a health check may stay not ready (created, restarting) or a
#: ready replica out of its frontend's rotation, before it counts as failed.
DEFAULT_WINDOW = 10.0
#: Seconds a replica whose failing probes all ran out of their timeout (no answer: a loaded
#: machine, or a hung app) may stay not ready before it counts as failed, when its own window
#: is shorter: as long as Kubernetes' default probe takes (3 failures, 10 s apart).
SLOW_PROBE_PATIENCE = 30.0
#: How Docker records a probe that ran out of its timeout (``State.Health.Log``: exit code -1).
TIMEOUT_OUTPUT = "Health check exceeded timeout"
_GONE = ("exited", "dead", "removing")


def window(healthcheck):
    """Seconds a Docker health check needs to call a container that went bad ``unhealthy``:
    ``retries`` failed probes, each up to ``timeout`` long, ``interval`` apart. ``healthcheck`` is
    Docker's form (``{Test, Interval, Timeout, Retries, StartPeriod}``, durations in ns, as in
    ``Config.Healthcheck``). ``None`` without a usable health check."""
    if not healthcheck or (healthcheck.get("Test") or ["NONE"])[0] == "NONE":
        return None
    retries = healthcheck.get("Retries") or DOCKER_DEFAULTS["Retries"]
    probe = _seconds(healthcheck, "Interval") + _seconds(healthcheck, "Timeout")
    return round(retries * probe, 3)


def _seconds(healthcheck, key):
    value = healthcheck.get(key)
    return DOCKER_DEFAULTS[key] if not value else value / 1e9


def facts(data):
    """The health facts of a container's inspect data (``docker inspect``): ``{running,
    status, health, streak, timed_out, retries, window, start_period}`` (see the module's
    docstring; ``timed_out``: :func:`timed_out`)."""
    state = (data or {}).get("State") or {}
    health = state.get("Health") or {}
    check = ((data or {}).get("Config") or {}).get("Healthcheck")
    usable = window(check) is not None
    return {
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": health.get("Status"),
        "streak": health.get("FailingStreak") or 0,
        "timed_out": timed_out(health),
        "retries": (check.get("Retries") or DOCKER_DEFAULTS["Retries"]) if usable else None,
        "window": window(check),
        "start_period": _seconds(check, "StartPeriod") if usable else 0.0,
    }


def _is_timeout(entry):
    return entry.get("ExitCode") == -1 and str(entry.get("Output") or "").startswith(TIMEOUT_OUTPUT)


def telling_probe(log):
    """The probe of a health check's log (``State.Health.Log``, oldest first) that says most
    about why the check fails: the last one that failed with an answer (a non-zero exit, where
    the app said why), else the last one (a timeout says only that). ``None`` for no log."""
    entries = [e for e in log or [] if isinstance(e, dict)]
    answered = [e for e in entries if e.get("ExitCode") not in (0, None) and not _is_timeout(e)]
    return answered[-1] if answered else (entries[-1] if entries else None)


def timed_out(health):
    """Whether every failed probe of the current failing streak that Docker's log still holds
    (``State.Health``: ``FailingStreak``, ``Log`` of the last 5 probes, oldest first) ran out
    of its timeout: exit code -1, ``Health check exceeded timeout (...)``. ``False`` without a
    failing streak, or when one of them answered (a non-zero exit: the app said no)."""
    streak = (health or {}).get("FailingStreak") or 0
    log = [e for e in (health or {}).get("Log") or [] if isinstance(e, dict)]
    failed = log[-streak:] if streak else []
    return bool(failed) and all(_is_timeout(e) for e in failed)


def is_ready(rep):
    """Running, and healthy or without a health check: one look's definition of "up"."""
    return bool(rep and rep.get("running")) and rep.get("health") in (HEALTHY, None)


def verdict(rep):
    """One look, no patience: ``"ready"`` (see :func:`is_ready`), ``"failed"`` (gone, exited or
    dead, or ``unhealthy``) or ``"waiting"`` (created, restarting, health ``starting``). Callers
    that can look again use a :class:`Watch`."""
    if rep is None:
        return FAILED
    if is_ready(rep):
        return READY
    if not rep.get("running") and rep.get("status") in ("exited", "dead"):
        return FAILED
    if rep.get("health") == UNHEALTHY:
        return FAILED
    return WAITING


def allowance(rep):
    """Seconds a replica may stay not ready before it is judged failed: its health window
    (:data:`DEFAULT_WINDOW` without a check; at least :data:`SLOW_PROBE_PATIENCE` while its
    failing probes all timed out), plus its start period while it is ``starting``."""
    extra = (rep.get("start_period") or 0.0) if rep.get("health") == STARTING else 0.0
    base = rep.get("window") or DEFAULT_WINDOW
    if rep.get("timed_out"):
        base = max(base, SLOW_PROBE_PATIENCE)
    return base + extra


class Watch:
    """Replicas judged over several looks. A replica's bad stretch starts at the first look that
    finds it not ready (or ready but out of its frontend's rotation) in a given way: a change of
    way (Docker's ``starting`` becoming ``unhealthy``) starts a new stretch, so the patience
    counts from Docker's own verdict; a look that finds it ready ends the stretch. Feed it every
    look, in order, with the time of the look."""

    def __init__(self):
        self._since = {}  # name -> (how it is not ready, when that began)

    def judge(self, name, rep, now, serving=None):
        """``"ready"``, ``"waiting"`` or ``"failed"`` for this look at replica ``name``
        (``rep``: its view, ``None`` when it is gone; ``serving``: ``False`` when a frontend
        should route to it and does not, ``None`` without a frontend)."""
        if rep is None or (not rep.get("running") and rep.get("status") in _GONE):
            self._since.pop(name, None)
            return FAILED
        if is_ready(rep) and serving is not False:
            self._since.pop(name, None)
            return READY
        how = (rep.get("running"), rep.get("status"), rep.get("health"), serving)
        if self._since.get(name, (None,))[0] != how:
            self._since[name] = (how, now)
        retries = rep.get("retries") or DOCKER_DEFAULTS["Retries"]
        long_failing = (rep.get("streak") or 0) >= 2 * retries and not rep.get("timed_out")
        if rep.get("health") == UNHEALTHY and long_failing:
            return FAILED  # failing for as long again as Docker needed to call it unhealthy
        return FAILED if self.stretch(name, now) >= allowance(rep) else WAITING

    def waiting(self, name):
        """True while ``name`` is in a bad stretch (not judged failed, or not yet)."""
        return name in self._since

    def stretch(self, name, now):
        """Seconds of ``name``'s current bad stretch (0 when there is none)."""
        return round(now - self._since[name][1], 1) if name in self._since else 0.0


def convergence(watch, replicas, gen, wanted, now):
    """Where a service stands against generation ``gen`` and ``wanted`` replicas, on this look
    (``replicas``: ``{name: view}``): :data:`CONVERGED` (exactly ``wanted`` replicas of ``gen``,
    all ready, none of another generation running), :data:`DIVERGED` (the count or the
    generations differ, or a replica is judged failed) or :data:`WAITING` (only momentarily not
    ready replicas stand between: look again)."""
    current = {n: r for n, r in replicas.items() if r.get("generation") == gen}
    others = [r for r in replicas.values() if r.get("generation") != gen and r.get("running")]
    if others or len(current) != wanted:
        return DIVERGED
    verdicts = {watch.judge(n, r, now) for n, r in current.items()}
    if verdicts <= {READY}:
        return CONVERGED
    return DIVERGED if FAILED in verdicts else WAITING


def converged(replicas, gen, wanted):
    """True when exactly ``wanted`` replicas of generation ``gen`` are ready and no replica of
    another generation runs, on one look. ``replicas`` are ``{name: {generation, running,
    health}}``."""
    current = [r for r in replicas.values() if r.get("generation") == gen]
    others = [r for r in replicas.values() if r.get("generation") != gen and r.get("running")]
    return len(current) == wanted and not others and all(is_ready(r) for r in current)


def pending(watch, replicas, now, frontend=False):
    """The replicas of a ``container_service.status`` look (``{name: view}`` with ``serving``
    when ``frontend``) that are running (or on their way) and judged ``waiting``: look again
    before reporting them. Sorted names."""
    out = []
    for name, rep in replicas.items():
        serving = rep.get("serving") if frontend and rep.get("slot") else None
        if rep.get("running") or rep.get("status") in ("created", "restarting"):
            if watch.judge(name, rep, now, serving=serving) == WAITING:
                out.append(name)
    return sorted(out)


def problem(replicas, serving=None):
    """The runner's check of a server after its rollout, as one line, or ``None`` when all is
    well: some replica runs, every running replica is ready, one generation runs, and (when
    ``serving`` is given: the names the frontend reports up) every running replica serves."""
    running = {n: r for n, r in replicas.items() if r.get("running")}
    if not running:
        return "no replica runs"
    sick = sorted(n for n, r in running.items() if not is_ready(r))
    if sick:
        return f"not healthy: {', '.join(sick)}"
    gens = {r.get("generation") for r in running.values()}
    if len(gens) > 1:
        return f"{len(gens)} generations running"
    if serving is not None and len(serving) != len(running):
        return f"{len(serving)} of {len(running)} replicas serving"
    return None
