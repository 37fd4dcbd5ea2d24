"""Pure logic of a replicated container service (``container_service.running``, ``chain``
runner): the service's own options (their defaults and their validation, once), the
``update`` policy, the health-check window, replica generations and names, batches, failure
accounting, the image reference to record and the digest history. The rollout itself (what
to do, step by step) is :mod:`chain_service_rollout`; what "ready" and "converged" mean is
:mod:`chain_health`.

No Salt dunders, no I/O: callers pass what is needed.

Anchors: Docker Swarm ``update_config`` (parallelism 1, delay 0, monitor 5 s,
failure_action pause, max_failure_ratio 0, order stop-first); Kubernetes
``progressDeadlineSeconds`` 600. ``limit`` (at most that many new replicas in one apply, the
rest of the previous generation left serving: the ``chain`` runner's canary replica) is the
idea of a StatefulSet's ``rollingUpdate.partition``; 0 (the default) rolls every replica.
Where we differ, and why: a ``monitor`` shorter than the health check's window is refused
(Swarm accepts it and reports success for a container that goes unhealthy right after, then
restart-loops), and ``rollback`` restarts the previous containers (same image id) instead of
recreating them from a tag.
"""

import calendar
import hashlib
import json
import re
import time

try:
    from saltext.chain.utils import chain_docker_spec, chain_errors, chain_health, chain_registry
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_spec
    import chain_errors
    import chain_health
    import chain_registry

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
    "limit": 0,
}
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$")
MAX_REPLICAS = 64
#: Server slots a service without a frontend numbers its replicas from: 256, room for every
#: replica of two generations (old and new) and the stopped ones kept for a rollback.
SLOTS_WITHOUT_FRONTEND = 4 * MAX_REPLICAS

#: The service's own options (every other argument is a container option of
#: ``container.running``) with their defaults: the one place they are written. The state,
#: ``container_service.check`` and ``container_service.apply`` take them as keywords and
#: :func:`service` validates them.
SERVICE_DEFAULTS = {
    "replicas": 1,
    "frontend": None,
    "backend": "app",
    "network": None,
    "port": 8000,
    "update": None,
    "history": 5,
    "stop_timeout": 10,
    "profile": None,
}
#: Container options a replica may not take from the declaration: the service sets them.
RESERVED = {"name", "networks", "network_mode", "hostname"}


def check_name(name, field="name"):
    if not isinstance(name, str) or not NAME.match(name):
        raise BadInput(
            f"{field}: expected a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most "
            f"41 characters), got {name!r}"
        )
    return name


def check_replicas(value):
    return chain_errors.as_int(value, "replicas", minimum=1, maximum=MAX_REPLICAS)


def service(name, image, spec_args=None, **options):
    """Validate a declaration, once and before any I/O, and return it normalised:
    ``{name, image, spec_args, spec, replicas, frontend, backend, network, port, update,
    history, stop_timeout, profile}``. ``spec_args`` are the container options (``spec`` is
    their normalised form, see ``chain_docker_spec.normalize``); ``options`` the service's own
    (:data:`SERVICE_DEFAULTS`). Raises ``BadInput``."""
    unknown = sorted(set(options) - set(SERVICE_DEFAULTS))
    if unknown:
        raise BadInput(
            f"{', '.join(unknown)}: not an option of a service (container options go in spec_args)"
        )
    out = dict(SERVICE_DEFAULTS, **options)
    out["name"] = check_name(name)
    out["replicas"] = check_replicas(out["replicas"])
    if not isinstance(image, str) or not image.strip():
        raise BadInput("image: expected an image reference")
    out["image"] = image
    if out["profile"] is not None and not isinstance(out["profile"], (str, dict)):
        raise BadInput("profile: expected a profile name or a mapping")
    if spec_args is not None and not isinstance(spec_args, dict):
        raise BadInput("spec_args: expected a mapping of container options")
    spec_args = {k: v for k, v in (spec_args or {}).items() if not str(k).startswith("__")}
    reserved = sorted(RESERVED & set(chain_docker_spec.resolve_names(spec_args)))
    if reserved:
        raise BadInput(
            f"{', '.join(reserved)}: set by the service (use network: to attach the replicas)"
        )
    out["spec_args"] = spec_args
    out["spec"] = chain_docker_spec.normalize(image, spec_args)
    out["update"] = check_update(out["update"], health_window(out["spec"].get("healthcheck")))
    out["history"] = check_history(out["history"])
    out["port"] = chain_errors.as_int(out["port"], "port", minimum=1, maximum=65535)
    out["stop_timeout"] = chain_errors.as_int(out["stop_timeout"], "stop_timeout", minimum=0)
    # backend is checked even without a frontend: no input goes unchecked
    check_name(out["backend"], "backend")
    if out["frontend"] is not None:
        check_name(out["frontend"], "frontend")
        if not out["network"]:
            raise BadInput("network: a frontend reaches the replicas over a network; name it")
    if out["network"] is not None:
        check_name(out["network"], "network")
    return out


def health_window(healthcheck):
    """Seconds a Docker health check needs to call a container that went bad ``unhealthy``
    (``chain_health.window``: ``retries x (interval + timeout)``). ``healthcheck`` is the
    normalised form (``{Test, Interval, Timeout, Retries, StartPeriod}``, durations in ns).
    ``None`` without a usable health check."""
    return chain_health.window(healthcheck)


def check_update(update, window):
    """Validate an ``update`` policy against the health-check ``window`` (seconds, see
    :func:`health_window`); returns it complete with the defaults. Raises ``BadInput``."""
    if update is None:
        update = {}
    if not isinstance(update, dict):
        raise BadInput(
            "update: expected a mapping of {parallelism, delay, monitor, failure_action, "
            "max_failure_ratio, order, progress_deadline, limit}"
        )
    unknown = sorted(set(update) - set(UPDATE_DEFAULTS))
    if unknown:
        raise BadInput(f"update: unknown key(s) {unknown}; accepted: {sorted(UPDATE_DEFAULTS)}")
    out = dict(UPDATE_DEFAULTS, **update)
    out["parallelism"] = chain_errors.as_int(out["parallelism"], "update.parallelism", minimum=1)
    out["limit"] = chain_errors.as_int(out["limit"], "update.limit", minimum=0)
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


def image_ref(image, image_data):
    """The exact reference of ``image`` to record: the declared ``repo@sha256:...`` when it
    is one, else the engine's repo digest of the same repository (``image_data`` is the
    image's inspect: ``RepoDigests``, ``Id``), else the image id (a local build never pushed).
    The repository is read by ``chain_registry``'s parser, so a registry with a port
    (``127.0.0.1:5050/chain/app``) and a short name (``app:1``) are understood."""
    repo, tag = chain_registry.split_repo_tag(image)
    if tag is None:
        return image
    want = _familiar(repo)
    for digest in image_data.get("RepoDigests") or []:
        if _familiar(digest.split("@", 1)[0]) == want:
            return digest
    return image_data["Id"]


def _familiar(repo):
    """A repository as Docker lists it in ``RepoDigests``: Docker Hub's ``docker.io/`` and
    ``library/`` prefixes left out."""
    for prefix in ("docker.io/", "index.docker.io/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
    return repo[len("library/") :] if repo.startswith("library/") else repo


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


def timestamp(value):
    """A Docker RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) as epoch seconds; 0
    for a missing or zero one."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", value or "")
    if not match or match.group(1).startswith("0001"):
        return 0.0
    whole = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    return whole + float("0." + (match.group(2) or "0"))
