"""
What "healthy" and "converged" mean, once, for every caller: ``container.running``'s
``wait_healthy``, ``container_service`` (its gate, monitor, status and check) and the ``chain``
runner's own check after a server's rollout.

A replica (or container) is described by the keys ``container_service.replicas`` returns:
``running`` (bool), ``status`` (Docker's ``State.Status``), ``health`` (Docker's
``State.Health.Status`` or ``None`` without a health check), ``generation``, ``restarts``.
Nothing here does I/O.
"""

#: Docker health statuses (``State.Health.Status``); ``None`` is a container without a check.
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
STARTING = "starting"


def is_ready(rep):
    """Running, and healthy or without a health check: the one definition of "up"."""
    return bool(rep and rep.get("running")) and rep.get("health") in (HEALTHY, None)


def verdict(rep):
    """Where a replica stands on its way up: ``"ready"`` (see :func:`is_ready`), ``"failed"``
    (gone, exited or dead, or ``unhealthy``) or ``"waiting"`` (created, restarting, health
    ``starting``)."""
    if rep is None:
        return "failed"
    if is_ready(rep):
        return "ready"
    if not rep.get("running") and rep.get("status") in ("exited", "dead"):
        return "failed"
    if rep.get("health") == UNHEALTHY:
        return "failed"
    return "waiting"


def converged(replicas, gen, wanted):
    """True when exactly ``wanted`` replicas of generation ``gen`` are ready and no replica of
    another generation runs. ``replicas`` are ``{name: {generation, running, health}}``."""
    current = [r for r in replicas.values() if r.get("generation") == gen]
    others = [r for r in replicas.values() if r.get("generation") != gen and r.get("running")]
    return len(current) == wanted and not others and all(is_ready(r) for r in current)


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
