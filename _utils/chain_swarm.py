"""Pure logic of Docker Swarm for ``container_service.running`` with ``mode: swarm`` and the
``container_swarm`` states: the Swarm-only options and their validation, the ServiceSpec a
declaration asks for (``UpdateConfig``/``RollbackConfig`` from the ``update`` policy, placement
from node labels, the published port), what a service's tasks say (converged, still rolling,
rolled back by Swarm), the frontend's slots to follow the tasks, and the ``changes`` to report.

No Salt dunders, no I/O: callers pass the engine's inspect data.

Where it differs from Swarm, and why: Swarm's own gate is the task's health check (a task is
``running`` once its container is healthy); ours is on top of it, the frontend's own HTTP check
of each task's address (a task can be running and healthy yet not serve: its health check tests
something else, or the port is wrong; see ``docs/swarm.md`` for the moby reports checked).
A rollout that Swarm completed but that our gate refuses is
rolled back with ``docker service rollback`` (``rollback=previous``).
"""

import hashlib
import json

try:
    from saltext.chain.utils import chain_errors, chain_service_plan
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_service_plan

BadInput = chain_errors.BadInput
plan = chain_service_plan

MODES = ("containers", "swarm")
#: The service label that holds the digest of everything declared but the replica count.
LABEL_SPEC = "org.saltext-chain.service.spec"
#: Options of ``container_service.running`` that only ``mode: swarm`` takes, and defaults.
SWARM_DEFAULTS = {"placement": None, "publish": None, "endpoint_mode": "vip"}
ENDPOINT_MODES = ("vip", "dnsrr")
PUBLISH_MODES = ("ingress", "host")
#: Container options a Swarm task takes (normalised names, ``chain_docker_spec``).
TASK_OPTIONS = (
    "image",
    "environment",
    "command",
    "entrypoint",
    "labels",
    "healthcheck",
    "user",
    "workdir",
    "stop_timeout",
)
#: UpdateStatus states (Docker API) in which Swarm is still at work, and the end ones.
ROLLING = ("updating", "rollback_started")
PAUSED = ("paused", "rollback_paused")
ROLLED_BACK = "rollback_completed"
NS = 1_000_000_000

# verdicts of :func:`progress`
DONE, WAITING, FAILED, SWARM_ROLLED_BACK = "done", "waiting", "failed", "rolled_back"


def check_mode(mode):
    if mode not in MODES:
        raise BadInput(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    return mode


def options(mode, placement=None, publish=None, endpoint_mode="vip", spec=None, update=None):
    """Validate the Swarm-only options against ``mode`` (``None`` values with ``mode:
    containers``); returns ``{placement, publish, endpoint_mode}`` normalised. ``spec`` (the
    normalised container options) and ``update`` (checked policy) are checked for what Swarm
    cannot do. Raises ``BadInput``."""
    check_mode(mode)
    given = {"placement": placement, "publish": publish}
    if mode == "containers":
        wrong = sorted(k for k, v in given.items() if v is not None)
        if wrong or endpoint_mode != "vip":
            wrong += [] if endpoint_mode == "vip" else ["endpoint_mode"]
            raise BadInput(f"{', '.join(wrong)}: only with mode: swarm")
        return None
    out = {
        "placement": _placement(placement),
        "publish": _publish(publish),
        "endpoint_mode": endpoint_mode,
    }
    if endpoint_mode not in ENDPOINT_MODES:
        raise BadInput(f"endpoint_mode: expected one of {', '.join(ENDPOINT_MODES)}")
    if out["publish"] and out["publish"]["mode"] == "ingress" and endpoint_mode == "dnsrr":
        raise BadInput("publish.mode ingress needs endpoint_mode vip (Swarm refuses dnsrr)")
    unsupported = sorted(set(spec or {}) - set(TASK_OPTIONS))
    if unsupported:
        raise BadInput(
            f"{', '.join(unsupported)}: not a task option with mode: swarm (accepted: "
            f"{', '.join(o for o in TASK_OPTIONS if o != 'image')})"
        )
    if update and update.get("limit"):
        raise BadInput("update.limit: not with mode: swarm (Swarm updates every task)")
    return out


def _placement(placement):
    """``{node label: value}`` -> sorted ``node.labels.K==V`` constraints."""
    if placement is None:
        return []
    if not isinstance(placement, dict):
        raise BadInput("placement: expected a mapping of node label to value, e.g. {role: app}")
    out = []
    for key, value in placement.items():
        if not isinstance(key, str) or not key or not isinstance(value, (str, int)):
            raise BadInput(f"placement: {key!r}: expected a label name and a string value")
        if any(c in f"{key}{value}" for c in "=! "):
            raise BadInput(f"placement: {key!r}: no '=', '!' or spaces in labels")
        out.append(f"node.labels.{key}=={value}")
    return sorted(out)


def _publish(publish):
    """``{port: N, mode: ingress|host}`` (or a bare port) -> normalised, or ``None``."""
    if publish is None:
        return None
    if isinstance(publish, int) and not isinstance(publish, bool):
        publish = {"port": publish}
    if not isinstance(publish, dict) or set(publish) - {"port", "mode"}:
        raise BadInput("publish: expected {port: N, mode: ingress|host}")
    port = chain_errors.as_int(publish.get("port"), "publish.port", minimum=1, maximum=65535)
    mode = publish.get("mode", "ingress")
    if mode not in PUBLISH_MODES:
        raise BadInput(f"publish.mode: expected one of {', '.join(PUBLISH_MODES)}")
    return {"port": port, "mode": mode}


def task_image(declared, image_ref):
    """The image reference the tasks run and the service records: the pinned
    ``repo@sha256:`` reference when there is one (every node pulls the same image), else the
    declared one (an image only this engine has: a local build, a single node)."""
    return image_ref if "@sha256:" in image_ref else declared


def digest(value):
    blob = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _ns(seconds):
    return int(round(float(seconds) * NS))


def update_config(update, gate=0):
    """Swarm's ``UpdateConfig`` from a checked ``update`` policy. ``gate``: seconds our gate
    needs after a batch runs before Swarm may replace the next (:func:`gate_delay`), added to
    ``delay``. (Swarm's ``Monitor`` only counts failures after the fact: it does not hold the
    next batch back; its ``Delay`` does.)"""
    return {
        "Parallelism": update["parallelism"],
        "Delay": _ns(update["delay"] + gate),
        "FailureAction": update["failure_action"],
        "Monitor": _ns(update["monitor"]),
        "MaxFailureRatio": float(update["max_failure_ratio"]),
        "Order": update["order"],
    }


def rollback_config(update):
    """Swarm's ``RollbackConfig``: the same batches and order, no delay, and a rollback that
    sees a task fail goes on (``continue``): the way back is finished as far as it can be, and
    our gate judges what it left (``pause`` left a service half way back when one probe of a
    previous task failed under load; ``rollback`` is not a rollback's action)."""
    return dict(update_config(update), Delay=0, FailureAction="continue")


def gate_delay(update, frontend):
    """Seconds Swarm waits between batches beyond the declared ``delay`` so that our gate has
    watched a batch for the ``monitor`` (and a second to act) before Swarm replaces the next:
    ``monitor + 1`` with a frontend, 0 without one (Swarm's health check is the only gate)."""
    return update["monitor"] + 1 if frontend else 0


def container_spec(spec, image, gen, extra_labels=None):
    """Swarm's ``ContainerSpec`` from normalised container options (:data:`TASK_OPTIONS`)."""
    labels = dict(spec.get("labels") or {})
    labels.update(extra_labels or {})
    labels[plan.LABEL_GENERATION] = gen
    out = {"Image": image, "Labels": labels}
    if spec.get("environment"):
        out["Env"] = [f"{k}={v}" for k, v in sorted(spec["environment"].items())]
    if spec.get("entrypoint") is not None:
        out["Command"] = list(spec["entrypoint"])
    if spec.get("command") is not None:
        out["Args"] = list(spec["command"])
    if spec.get("healthcheck"):
        out["Healthcheck"] = dict(spec["healthcheck"])
    if spec.get("user") is not None:
        out["User"] = spec["user"]
    if spec.get("workdir") is not None:
        out["Dir"] = spec["workdir"]
    if spec.get("stop_timeout") is not None:
        out["StopGracePeriod"] = _ns(spec["stop_timeout"])
    return out


def generations(svc, swarm, image_id):
    """``(task generation, spec digest)``: the first changes when the tasks must be replaced
    (container options, image id, placement, network, port); the second when anything declared
    but the replica count changes (it adds the update policy and the published port)."""
    task = {
        "spec": svc["spec"],
        "port": svc["port"],
        "network": svc["network"],
        "placement": swarm["placement"],
    }
    gen = plan.generation(task, image_id)
    whole = {"task": gen, "update": svc["update"], "swarm": swarm, "frontend": svc["frontend"]}
    return gen, digest(whole)


def service_spec(svc, swarm, image, gens, history):
    """The ``ServiceSpec`` (Docker API) of a declaration: ``svc`` from
    ``chain_service_plan.service``, ``swarm`` from :func:`options`, ``image`` the reference
    the tasks run, ``gens`` from :func:`generations`, ``history`` the image references before."""
    gen, spec_digest = gens
    task = {
        "ContainerSpec": container_spec(svc["spec"], image, gen, {plan.LABEL_SERVICE: svc["name"]}),
        "Placement": {"Constraints": list(swarm["placement"])},
    }
    if svc["network"]:
        task["Networks"] = [{"Target": svc["network"]}]
    endpoint = {"Mode": swarm["endpoint_mode"]}
    if swarm["publish"]:
        endpoint["Ports"] = [
            {
                "Protocol": "tcp",
                "TargetPort": svc["port"],
                "PublishedPort": swarm["publish"]["port"],
                "PublishMode": swarm["publish"]["mode"],
            }
        ]
    return {
        "Name": svc["name"],
        "Labels": {
            plan.LABEL_SERVICE: svc["name"],
            plan.LABEL_GENERATION: gen,
            LABEL_SPEC: spec_digest,
            plan.LABEL_IMAGE: image,
            plan.LABEL_HISTORY: plan.history_label(history),
        },
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": svc["replicas"]}},
        "UpdateConfig": update_config(svc["update"], gate_delay(svc["update"], svc["frontend"])),
        "RollbackConfig": rollback_config(svc["update"]),
        "EndpointSpec": endpoint,
    }


def task_view(task, network=None, nodes=None):
    """A task in a few fields: ``{id, slot, node, state, desired, generation, image, addr,
    error}``; ``nodes`` maps node ids to host names."""
    spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
    status = task.get("Status") or {}
    addr = None
    for att in task.get("NetworksAttachments") or []:
        if network and ((att.get("Network") or {}).get("Spec") or {}).get("Name") == network:
            addr = ((att.get("Addresses") or [""])[0]).split("/")[0] or None
    node = task.get("NodeID")
    return {
        "id": task.get("ID"),
        "slot": task.get("Slot"),
        "node": (nodes or {}).get(node, node),
        "state": status.get("State"),
        "desired": task.get("DesiredState"),
        "generation": (spec.get("Labels") or {}).get(plan.LABEL_GENERATION),
        "image": spec.get("Image"),
        "addr": addr,
        "error": status.get("Err") or None,
    }


def live(tasks):
    """The tasks Swarm runs and wants running."""
    return [t for t in tasks if t["state"] == "running" and t["desired"] == "running"]


def update_state(service):
    return ((service or {}).get("UpdateStatus") or {}).get("State")


def converged(service, tasks, gens, replicas):
    """True when ``service`` (inspect) carries the wanted digests and replica count, Swarm is not
    at work, and exactly ``replicas`` tasks of the wanted generation run (none of another)."""
    if service is None:
        return False
    spec = service.get("Spec") or {}
    labels = spec.get("Labels") or {}
    count = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    if labels.get(plan.LABEL_GENERATION) != gens[0] or labels.get(LABEL_SPEC) != gens[1]:
        return False
    if count != replicas or update_state(service) in ROLLING + PAUSED:
        return False
    running = live(tasks)
    return len(running) == replicas and all(t["generation"] == gens[0] for t in running)


def progress(service, tasks, gen, replicas):
    """Where a rollout stands: ``(verdict, why)``, the verdict one of :data:`DONE`,
    :data:`WAITING`, :data:`FAILED` (Swarm paused it) or :data:`SWARM_ROLLED_BACK`."""
    state = update_state(service)
    message = ((service or {}).get("UpdateStatus") or {}).get("Message") or ""
    if state == ROLLED_BACK:
        return SWARM_ROLLED_BACK, f"Swarm rolled the update back: {message}".rstrip(": ")
    if state in PAUSED:
        return FAILED, f"Swarm paused the update ({state}): {message}".rstrip(": ")
    if state in ROLLING:
        return WAITING, state
    running = live(tasks)
    if len(running) == replicas and all(t["generation"] == gen for t in running):
        return DONE, ""
    return WAITING, f"{len(running)}/{replicas} task(s) of {gen[:8]} running"


def rolled_back_to_previous(service, tasks):
    """True once a rollback (ours or Swarm's) is over and the previous spec's tasks run."""
    if update_state(service) != ROLLED_BACK:
        return False
    spec = service.get("Spec") or {}
    gen = (spec.get("Labels") or {}).get(plan.LABEL_GENERATION)
    count = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    running = live(tasks)
    return len(running) == count and all(t["generation"] == gen for t in running)


def frontend_plan(servers, addrs):
    """Commands that make the frontend's slots follow the tasks: ``[(slot, addr or None)]``,
    an address to put in a free slot (made ready), ``None`` to put a slot in maintenance.
    ``servers`` is ``{slot: {addr, maint, ...}}`` (``chain_service_haproxy``), ``addrs`` the
    live tasks' addresses. Raises ``BackendError`` when the frontend lacks free slots."""
    held = {row["addr"]: slot for slot, row in servers.items() if not row.get("maint")}
    out = [(slot, None) for addr, slot in sorted(held.items()) if addr not in addrs]
    new = sorted(a for a in addrs if a and a not in held)
    used = list(held.values())
    free = plan.free_slots(used, len(servers), len(new)) if new else []
    out.extend(zip(free, new, strict=True))
    return out


def not_serving(tasks, gen, up, seen, now, grace):
    """Our gate while Swarm rolls: why a live task of generation ``gen`` that the frontend has
    not seen up (``up``: the addresses it serves) for more than ``grace`` seconds in a row
    fails the rollout, or ``None``. ``seen`` (task id -> when its current stretch of not being
    up began, ``None`` while it is up) is kept by the caller across looks. A task is timed
    from its first look down: HAProxy may call a slot up for its first second (before its
    ``fall`` checks failed), and a task that served and then stopped is timed again."""
    for task in live(tasks):
        if task["generation"] != gen:
            continue
        if task["addr"] in up:
            seen[task["id"]] = None
            continue
        if seen.get(task["id"]) is None:
            seen[task["id"]] = now
        if now - seen[task["id"]] > grace:
            return (
                f"task {task['id'][:12]} ({task['addr']}) is running but not serving: the "
                f"frontend's check has not seen it up for {now - seen[task['id']]:.1f}s"
            )
    return None


def grace(update):
    """Seconds a task Swarm calls running has to be seen serving by the frontend: half the
    ``monitor`` (at least 1 s), so our verdict comes within Swarm's monitor of its batch."""
    return max(1.0, update["monitor"] / 2)


def changes(service, tasks, gens, replicas, image_ref):
    """The ``changes`` of a rollout: ``{field: {old, new}}``."""
    if service is None:
        return {"service": {"old": None, "new": f"{replicas} task(s) of {image_ref}"}}
    spec = service.get("Spec") or {}
    labels = spec.get("Labels") or {}
    out = {}
    if labels.get(plan.LABEL_GENERATION) != gens[0]:
        out["generation"] = {"old": labels.get(plan.LABEL_GENERATION), "new": gens[0]}
        if labels.get(plan.LABEL_IMAGE) != image_ref:
            out["image"] = {"old": labels.get(plan.LABEL_IMAGE), "new": image_ref}
    elif labels.get(LABEL_SPEC) != gens[1]:
        out["spec"] = {"old": labels.get(LABEL_SPEC), "new": gens[1]}
    count = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    if count != replicas:
        out["replicas"] = {"old": count, "new": replicas}
    running = live(tasks)
    if not out and (len(running) != replicas or any(t["generation"] != gens[0] for t in running)):
        out["tasks"] = {"old": f"{len(running)} running", "new": f"{replicas} running"}
    if not out and update_state(service) in PAUSED:
        out["update"] = {"old": update_state(service), "new": "completed"}
    return out


def tasks_per_node(tasks):
    """``{node: [task views]}`` of the live tasks, for ``chain.status``."""
    out = {}
    for task in live(tasks):
        out.setdefault(task["node"], []).append(task)
    return out
