"""Pure logic of a replicated container service (``container_service.running``, ``chain``
runner): the ``update`` policy and its validation, the health-check window, replica
generations and names, batches, failure accounting and the digest history.

No Salt dunders, no I/O: callers pass what is needed.

Anchors: Docker Swarm ``update_config`` (parallelism 1, delay 0, monitor 5 s,
failure_action pause, max_failure_ratio 0, order stop-first); Kubernetes
``progressDeadlineSeconds`` 600. Where we differ, and why: a ``monitor`` shorter than the
health check's window is refused (Swarm accepts it and reports success for a container that
goes unhealthy right after, then restart-loops), and ``rollback`` restarts the previous
containers (same image id) instead of recreating them from a tag.
"""

import calendar
import hashlib
import json
import re
import time

try:
    from saltext.chain.utils import chain_errors
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
    import chain_errors

BadInput = chain_errors.BadInput

LABEL_SERVICE = "org.saltext-chain.service"
LABEL_GENERATION = "org.saltext-chain.service.generation"
LABEL_SLOT = "org.saltext-chain.service.slot"
LABEL_HISTORY = "org.saltext-chain.service.history"
LABEL_IMAGE = "org.saltext-chain.service.image"

FAILURE_ACTIONS = ("rollback", "pause", "continue")
ORDERS = ("start-first", "stop-first")
UPDATE_DEFAULTS = {
    "parallelism": 1,
    "delay": 0,
    "monitor": 5,
    "failure_action": "rollback",
    "max_failure_ratio": 0,
    "order": "start-first",
    "progress_deadline": 600,
}
#: Docker's own defaults for a health check field left out (seconds / count).
DOCKER_HEALTH_DEFAULTS = {"Interval": 30, "Timeout": 30, "Retries": 3, "StartPeriod": 0}
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$")
MAX_REPLICAS = 64


def check_name(name, field="name"):
    if not isinstance(name, str) or not NAME.match(name):
        raise BadInput(
            f"{field}: expected a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most "
            f"41 characters), got {name!r}"
        )
    return name


def check_replicas(value):
    return chain_errors.as_int(value, "replicas", minimum=1, maximum=MAX_REPLICAS)


def health_window(healthcheck):
    """Seconds a Docker health check needs to call a container that went bad ``unhealthy``:
    ``retries`` failed probes, each up to ``timeout`` long, ``interval`` apart. ``healthcheck`` is
    the normalised form (``{Test, Interval, Timeout, Retries, StartPeriod}``, durations in ns).
    ``None`` without a usable health check."""
    if not healthcheck or (healthcheck.get("Test") or ["NONE"])[0] == "NONE":
        return None

    def seconds(key):
        value = healthcheck.get(key)
        return DOCKER_HEALTH_DEFAULTS[key] if not value else value / 1e9

    retries = healthcheck.get("Retries") or DOCKER_HEALTH_DEFAULTS["Retries"]
    return round(retries * (seconds("Interval") + seconds("Timeout")), 3)


def check_update(update, window):
    """Validate an ``update`` policy against the health-check ``window`` (seconds, see
    :func:`health_window`); returns it complete with the defaults. Raises ``BadInput``."""
    if update is None:
        update = {}
    if not isinstance(update, dict):
        raise BadInput(
            "update: expected a mapping of {parallelism, delay, monitor, failure_action, "
            "max_failure_ratio, order, progress_deadline}"
        )
    unknown = sorted(set(update) - set(UPDATE_DEFAULTS))
    if unknown:
        raise BadInput(f"update: unknown key(s) {unknown}; accepted: {sorted(UPDATE_DEFAULTS)}")
    out = dict(UPDATE_DEFAULTS, **update)
    out["parallelism"] = chain_errors.as_int(out["parallelism"], "update.parallelism", minimum=1)
    out["delay"] = chain_errors.as_number(out["delay"], "update.delay (seconds)", minimum=0)
    out["monitor"] = chain_errors.as_number(out["monitor"], "update.monitor (seconds)", minimum=0)
    out["max_failure_ratio"] = chain_errors.as_number(
        out["max_failure_ratio"], "update.max_failure_ratio (0..1)", minimum=0, maximum=1
    )
    out["progress_deadline"] = chain_errors.as_number(
        out["progress_deadline"], "update.progress_deadline (seconds)", minimum=1
    )
    if out["failure_action"] not in FAILURE_ACTIONS:
        raise BadInput(
            f"update.failure_action: expected one of {', '.join(FAILURE_ACTIONS)}, "
            f"got {out['failure_action']!r}"
        )
    if out["order"] not in ORDERS:
        raise BadInput(f"update.order: expected one of {', '.join(ORDERS)}, got {out['order']!r}")
    if window is None:
        raise BadInput(
            "healthcheck: a replicated service needs a health check (the update's "
            "health gate), e.g. {test: 'curl -fs http://127.0.0.1:8000/health', "
            "interval: 1s, timeout: 1s, retries: 2}"
        )
    if out["monitor"] < window:
        raise BadInput(
            f"update.monitor: {out['monitor']:g}s is shorter than the health check's "
            f"window ({window:g}s = retries x (interval + timeout)); a replica could "
            f"pass the gate and only then be found unhealthy: raise monitor to at "
            f"least {window:g}"
        )
    if out["progress_deadline"] < out["monitor"]:
        raise BadInput("update.progress_deadline: must be at least update.monitor")
    return out


def check_history(value):
    return chain_errors.as_int(value, "history", minimum=0, maximum=100)


def generation(spec, image_id):
    """The id of a replica generation: a digest of the declared spec and the image id. Only
    declared fields enter it, so daemon-filled fields never start a new generation."""
    blob = json.dumps({"spec": spec, "image_id": image_id}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def replica_name(service, gen, index):
    return f"{service}-{gen[:8]}-{index}"


def batches(items, parallelism):
    """``items`` in consecutive groups of ``parallelism``."""
    items = list(items)
    return [items[i : i + parallelism] for i in range(0, len(items), parallelism)]


def too_many_failures(failed, total, ratio):
    """Swarm's rule: the update fails when more than ``ratio`` of the replicas failed."""
    return total > 0 and failed / total > ratio


def free_slots(used, slots, count):
    """``count`` frontend slots (1-based) not in ``used``; raises when the frontend lacks them."""
    free = [s for s in range(1, slots + 1) if s not in set(used)]
    if len(free) < count:
        raise chain_errors.BackendError(
            f"the frontend has {slots} server slots, {len(used)} in use: {count} more are needed "
            f"(raise CHAIN_SLOTS on the frontend to at least twice the replicas)"
        )
    return free[:count]


def history_push(history, entry, keep):
    """The digest history with ``entry`` (an image reference) first, without duplicates, at
    most ``keep`` entries."""
    out = [entry] + [h for h in history or [] if h != entry]
    return out[:keep]


def history_read(label):
    if not label:
        return []
    return [h for h in label.split(",") if h]


def history_label(history):
    return ",".join(history)


def pick_previous(history, current, wanted=None):
    """The image to roll back to: ``wanted`` when it is in the history (a digest prefix is
    enough), else the newest entry that is not ``current``. ``None`` when there is none."""
    others = [h for h in history if h != current]
    if wanted is None:
        return others[0] if others else None
    for entry in history:
        if (
            entry == wanted
            or entry.split("@")[-1].startswith(wanted)
            or (wanted.startswith("sha256:") and wanted in entry)
        ):
            return entry
    return None


def converged(replicas, gen, wanted):
    """True when exactly ``wanted`` replicas of generation ``gen`` run healthy (or without a
    health status) and no replica of another generation is running. ``replicas`` are
    ``{name: {generation, running, health}}``."""
    current = [r for r in replicas.values() if r["generation"] == gen]
    others_running = [r for r in replicas.values() if r["generation"] != gen and r["running"]]
    return (
        len(current) == wanted
        and not others_running
        and all(r["running"] and r.get("health") in ("healthy", None) for r in current)
    )


def timestamp(value):
    """A Docker RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) as epoch seconds; 0
    for a missing or zero one."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", value or "")
    if not match or match.group(1).startswith("0001"):
        return 0.0
    whole = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    return whole + float("0." + (match.group(2) or "0"))
