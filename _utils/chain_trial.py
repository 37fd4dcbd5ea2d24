"""
The image stage's trial, apart from its I/O (``chain_pipeline.trial``): before the app's
server image is pushed, it runs once on the build server's engine with the production
environment (the deploy's ``service.environment`` and ``service.healthcheck``, its port
published on loopback only), must become healthy within a bounded time, answer ``/health``
with 200 and name the commit on ``/version``; it is removed either way.

What is decided here: the trial container's name and options, where its port is published,
the health check's last output, whether ``/health`` and ``/version`` answered well, and the
one-line verdict. No Salt dunders, no I/O.
"""

import json
import re

try:
    from saltext.chain.utils import chain_errors, chain_health
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_health

BadInput = chain_errors.BadInput

#: The label naming the commit a trial container tries (beside the formula's own labels).
LABEL = "org.saltext-chain.trial"
NAME_PART = re.compile(r"[^a-zA-Z0-9_.-]+")
MAX_DETAIL = 200


def container_name(app, commit, token):
    """``<app>-trial-<commit[:12]>-<token>``: unique per run (``token``: a few random hex)."""
    base = NAME_PART.sub("-", str(app or "app")).strip("-_.") or "app"
    return f"{base[:40]}-trial-{str(commit)[:12]}-{token}"


def options(environment, healthcheck, port, labels, commit):
    """The container options of a trial (``container.run``'s keywords): the production
    environment and health check as the deploy gives them, ``port`` published on a free port
    of 127.0.0.1 only, the formula's labels plus :data:`LABEL`. Raises ``BadInput``."""
    port = chain_errors.as_int(port, "port", minimum=1, maximum=65535)
    for value, field in ((environment, "environment"), (labels, "labels")):
        if value is not None and not isinstance(value, dict):
            raise BadInput(f"{field}: expected a mapping")
    if healthcheck is not None and not isinstance(healthcheck, dict):
        raise BadInput("healthcheck: expected a mapping (the deploy's service.healthcheck)")
    opts = {
        "environment": dict(environment or {}),
        "labels": dict(labels or {}, **{LABEL: str(commit)}),
        "ports": [f"127.0.0.1::{port}"],
    }
    if healthcheck:
        opts["healthcheck"] = dict(healthcheck)
    return opts


def published_port(inspect, port):
    """The loopback host port Docker picked for ``port`` (inspect data), or None."""
    ports = ((inspect or {}).get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{int(port)}/tcp") or []:
        if binding.get("HostIp") in ("127.0.0.1", "") and str(binding.get("HostPort", "")):
            return int(binding["HostPort"])
    return None


def state_of(inspect):
    """A container's inspect data as ``chain_health``'s replica view, and its verdict."""
    state = (inspect or {}).get("State") or {}
    rep = {
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
    }
    return rep, chain_health.verdict(rep if inspect else None)


def judged(watch, name, inspect, now):
    """The trial container's verdict on this look (``inspect``: its inspect data, ``None``
    when it is gone), judged over time by ``watch`` (a ``chain_health.Watch``): a probe that
    timed out on a loaded machine is waited for, a probe that answers no is not."""
    return watch.judge(name, chain_health.facts(inspect) if inspect else None, now)


def health_output(inspect):
    """The last line of the output of the health check's telling probe
    (``chain_health.telling_probe``: the last that failed with an answer, where a failing
    check says why, else the last), or None."""
    log = (((inspect or {}).get("State") or {}).get("Health") or {}).get("Log") or []
    probe = chain_health.telling_probe(log) or {}
    lines = [ln.strip() for ln in str(probe.get("Output") or "").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1][:MAX_DETAIL] if lines else None


def why_not_ready(inspect, waited=None):
    """Why a trial container is not ready: gone, exited (with its code), unhealthy or still
    starting after ``waited`` seconds, with the health check's last output."""
    if inspect is None:
        return "the container disappeared"
    rep, _ = state_of(inspect)
    state = inspect.get("State") or {}
    if not rep["running"]:
        why = f"it exited (code {state.get('ExitCode')})"
    elif rep["health"] == chain_health.UNHEALTHY:
        why = "unhealthy"
    else:
        why = f"not healthy within {waited:g}s ({rep['health'] or rep['status']})"
    out = health_output(inspect)
    return f"{why}; health check: {out}" if out else why


def _short(body):
    text = " ".join(body.decode("utf-8", "replace").split()) if body else ""
    return text[:MAX_DETAIL] or "(empty)"


def health_problem(status, body):
    """``/health``'s answer: None when 200, else why."""
    return None if status == 200 else f"GET /health answered {status}: {_short(body)}"


def version_problem(status, body, commit):
    """``/version``'s answer: None when it is JSON naming ``commit``, else why."""
    if status != 200:
        return f"GET /version answered {status}: {_short(body)}"
    try:
        named = json.loads(body).get("commit")
    except (ValueError, AttributeError):
        return f"GET /version is not JSON with a commit: {_short(body)}"
    if str(named) != str(commit):
        return f"GET /version names commit {named}, not {commit}"
    return None


def verdict(commit, problem):
    """The trial's one line: ``commit <sha> passed its trial ...`` or why it failed."""
    if problem is None:
        return (
            f"commit {commit} passed its trial with the production environment "
            "(healthy, /version names it)"
        )
    return f"commit {commit} failed its trial with the production environment: {problem}"
