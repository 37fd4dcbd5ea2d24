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
    from saltext.chain.utils import chain_errors, chain_service_haproxy, chain_service_plan
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_service_haproxy
    import chain_service_plan

BadInput = chain_errors.BadInput
plan = chain_service_plan
haproxy = chain_service_haproxy

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
    """Swarm's ``RollbackConfig``: the same batches and order, no delay (a rollback with a
    delay killed the good container: moby#37972), and a rollback that sees a task fail goes on
    (``continue``): the way back is finished as far as it can be, and our gate follows it until
    the previous tasks serve (``pause`` left a service half way back when one probe of a
    previous task failed under load; ``rollback`` is not a rollback's action). Swarm's own
    automatic rollback is not relied on to decide (reported not to happen: moby#35498): the
    state calls ``docker service rollback`` itself, and judges the result in the frontend
    (a start-first rollback replaced healthy old tasks: moby#34111)."""
    return dict(update_config(update), Delay=0, FailureAction="continue")


def gate_delay(update, frontend):
    """Seconds Swarm waits between batches beyond the declared ``delay`` so that our gate has
    judged a batch (its start period, :func:`grace`) and watched it for the ``monitor`` (and a
    second to act) before Swarm replaces the next: ``grace + monitor + 1`` with a frontend, 0
    without one (Swarm's health check is the only gate)."""
    return grace(update) + update["monitor"] + 1 if frontend else 0


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


def spec_generation(service):
    """The task generation of a service's current spec (its label)."""
    return (((service or {}).get("Spec") or {}).get("Labels") or {}).get(plan.LABEL_GENERATION)


def rolled_back_to_previous(service, tasks):
    """True once a rollback (ours or Swarm's) is over and the previous spec's tasks run."""
    if update_state(service) != ROLLED_BACK:
        return False
    spec = service.get("Spec") or {}
    gen = spec_generation(service)
    count = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    running = live(tasks)
    return len(running) == count and all(t["generation"] == gen for t in running)


#: Looks in a row that must find a task not up before our gate fails it (as HAProxy's ``fall``
#: and Docker's ``retries`` count consecutive failures, not one slow look).
FALL = 3
#: Frontend reads in a row that may fail (the admin socket unanswered under load) before a
#: rollout gives up on the frontend: a failed read is a failed look, not a verdict.
READ_FAILURES = 5
# frontend_plan actions
PLACE, READY, OUT = "place", "ready", "out"


def frontend_plan(servers, addrs):
    """Commands that make the frontend's slots follow the tasks: ``[(slot, action, addr)]``.
    ``PLACE``: a new task's address into a free slot, *not* taking traffic yet (``drain``, its
    health forced down: HAProxy calls a slot leaving maintenance up before any check, so a
    ``ready`` slot would route to a task that may not serve); ``READY``: a placed slot whose
    own HTTP check has since seen the task up takes traffic; ``OUT``: a gone task's slot to
    maintenance. ``servers`` is ``{slot: {addr, op, maint, drain, ...}}``
    (``chain_service_haproxy``), ``addrs`` the live tasks' addresses. Raises ``BackendError``
    when the frontend lacks free slots."""
    held = {row["addr"]: slot for slot, row in servers.items() if not row.get("maint")}
    out = [(slot, OUT, addr) for addr, slot in sorted(held.items()) if addr not in addrs]
    for addr, slot in sorted(held.items()):
        row = servers[slot]
        if addr in addrs and row.get("drain") and row.get("op") == "up":
            out.append((slot, READY, addr))
    new = sorted(a for a in addrs if a and a not in held)
    used = list(held.values())
    free = plan.free_slots(used, len(servers), len(new)) if new else []
    out.extend((slot, PLACE, addr) for slot, addr in zip(free, new, strict=True))
    return out


def frontend_commands(backend, slot, action, addr, port):
    """The runtime API line of one :func:`frontend_plan` entry."""
    name = haproxy.server(backend, slot)
    if action == OUT:
        return haproxy.set_state(backend, slot, "maint")
    if action == READY:
        return haproxy.set_state(backend, slot, "ready")
    return ";".join(
        (
            haproxy.set_addr(backend, slot, addr, port),
            haproxy.set_state(backend, slot, "drain"),
            f"set server {name} health down",
        )
    )


def not_serving(tasks, gen, up, seen, now, grace):
    """Our gate while Swarm rolls: why a live task of generation ``gen`` fails the rollout, or
    ``None``. Judged as Docker judges a health check and HAProxy a server: a task fails after
    :data:`FALL` looks *in a row* that found it not up in the frontend (``up``: the addresses
    it serves), and not before ``grace`` seconds (its start period) from the first of them;
    one slow or failed look under load is no verdict. ``seen`` (task id -> ``[since, looks]``
    of its current stretch down, ``None`` while it is up) is kept by the caller across looks;
    a task that served and then stopped is judged again from its next look down."""
    for task in live(tasks):
        if task["generation"] != gen:
            continue
        if task["addr"] in up:
            seen[task["id"]] = None
            continue
        if seen.get(task["id"]) is None:
            seen[task["id"]] = [now, 0]
        stretch = seen[task["id"]]
        stretch[1] += 1
        if stretch[1] >= FALL and now - stretch[0] > grace:
            return (
                f"task {task['id'][:12]} ({task['addr']}) is running but not serving: the "
                f"frontend's check has not seen it up for {now - stretch[0]:.1f}s "
                f"({stretch[1]} looks in a row)"
            )
    return None


def grace(update):
    """A new task's start period in our gate: seconds from its first look down before it can
    fail (:func:`not_serving`): half the ``monitor``, at least 1 s (HAProxy's check, every
    500 ms, calls a placed task up within one ``inter`` of its serving)."""
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


def checked_up(servers):
    """The addresses the frontend's own check sees up (serving, or placed and awaiting
    :data:`READY`): what our gate judges a task by."""
    return {row["addr"] for row in servers.values() if row["op"] == "up" and not row["maint"]}


def serves_all(servers, tasks):
    """True when every live task's slot takes traffic (up and ``ready``)."""
    up = {servers[s]["addr"] for s in haproxy.serving(servers)}
    return all(t["addr"] in up for t in live(tasks))


def monitored(tasks, gen, up_since, now, monitor):
    """True when every live task of ``gen`` has been up in the frontend for ``monitor``
    seconds in a row (``up_since``: task id -> first look of its current stretch up)."""
    new = [t for t in live(tasks) if t["generation"] == gen]
    return bool(new) and all(
        up_since.get(t["id"]) is not None and now - up_since[t["id"]] >= monitor for t in new
    )


def tasks_per_node(tasks):
    """``{node: [task views]}`` of the live tasks, for ``chain.status``."""
    out = {}
    for task in live(tasks):
        out.setdefault(task["node"], []).append(task)
    return out
