"""
Agent pools: option validation and one reconcile pass as a pure decision.

``decide(view, memory)`` takes what the caller read (a ``PoolView``: this pool's containers from
their labels, the controller's computers, the queue demand it serves, the engine's agent count,
the clock) and what earlier passes remembered, and returns what to do: how many agents to
launch, which to delete and why, which to mark temporarily offline, which to scale down, which
failed to come online, and the new memory (the caller's is not changed). The caller
(``jenkins_agent.reconcile``) does the I/O. No Salt dunders here.

One function per rule, each tested alone (docs/jenkins_agent.md, "What one reconcile pass
does"): demand (``demand``, ``wanted_for_demand``), scale-up (``launch_count``), idle
(``idle_mark``, ``scale_down``), max_uses (``used_up``), failures and back-off
(``connection``, ``came_online``, ``count_failures``, ``failure_marks``, ``backoff_until``,
``blocked``), orphans (``orphan_container``, ``orphan_nodes``), rolling image change with the
canary (``is_current``, ``accept_image``, ``image_to_launch``, ``roll``).

The numbers follow the anchors' and their users' lessons (docs/jenkins_agent.md):

* starting agents count against every cap and against demand (docker-plugin #594/#543);
* at most ``max_starting`` launches at once, launches sized by demand (docker-plugin #421/#575);
* a template whose agents never come online backs off (docker-plugin ``errorDuration``: 300 s
  cap here) and after ``max_failures`` in a row is reported broken instead of retried forever
  (kubernetes-plugin #2772; docker-plugin #740/#910);
* a container whose node is gone goes after ``orphan_grace`` (docker-plugin watchdog, 60 s),
  and a node of ours whose container is gone is deleted (docker-plugin #401);
* only what carries this pool's marks is ever touched.
"""

import copy
import dataclasses
import hashlib
import json
import math
import re

try:
    from saltext.chain.utils import chain_agents_labels as _labels
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_labels as _labels
    import chain_errors

BadInput = chain_errors.BadInput

LABEL_PREFIX = "org.saltext-chain.jenkins-agent"
LABEL_MANAGED = LABEL_PREFIX  # value: "true"
LABEL_CONTROLLER = LABEL_PREFIX + ".controller"
LABEL_POOL = LABEL_PREFIX + ".pool"
LABEL_NODE = LABEL_PREFIX + ".node"
LABEL_OWNER = LABEL_PREFIX + ".owner"
LABEL_IMAGE = LABEL_PREFIX + ".image"
LABEL_CONFIG = LABEL_PREFIX + ".config"
LABEL_CONTAINER_CONFIG = LABEL_PREFIX + ".container-config"
DESCRIPTION_MARK = "saltext-chain jenkins_agent"
SECRET_DIR = "/run/jenkins-agent"
SECRET_FILE = "secret"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

AGENT_DEFAULTS = {
    "executors": 1,
    "labels": None,
    "remote_fs": "/home/jenkins/agent",
    "connect_timeout": 120,
    "mode": "NORMAL",
    "agent_url": None,
    "agent_uid": 1000,
    "container_options": None,
    "web_socket": True,
}
POOL_DEFAULTS = {
    **AGENT_DEFAULTS,
    "label": None,
    "min": 0,
    "max": 4,
    "idle_minutes": 10,
    "max_uses": 0,
    "max_starting": 2,
    "engine_cap": 20,
    "orphan_grace": 60,
    "max_failures": 3,
    "backoff": 30,
    "backoff_max": 300,
    "canary_job": None,
    "canary_timeout": 300,
}
_INTS = {
    "executors": (1, 100),
    "connect_timeout": (1, 86400),
    "agent_uid": (0, 2**31),
    "min": (0, 1000),
    "max": (0, 1000),
    "max_uses": (0, 10**6),
    "max_starting": (1, 1000),
    "engine_cap": (1, 10000),
    "orphan_grace": (0, 86400),
    "max_failures": (1, 1000),
    "backoff": (0, 86400),
    "backoff_max": (0, 86400),
    "canary_timeout": (1, 86400),
}
# Options the container of an agent may not take: they carry or replace the secret hand-off.
_FORBIDDEN_CONTAINER = {"command", "cmd", "entrypoint", "name", "image"}


def check_name(value, field="name", node=False):
    pattern = _NODE_NAME if node else _NAME
    if not isinstance(value, str) or not pattern.match(value):
        what = (
            "letters, digits, '.', '_' or '-' (at most 63)"
            if node
            else "lowercase letters, digits, '.', '_' or '-' (at most 41), starting alphanumeric"
        )
        raise BadInput(f"{field}: expected {what}, got {value!r}")
    return value


def _labels_list(value, field):
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    else:
        raise BadInput(f"{field}: expected a list of labels or a space-separated string")
    for item in items:
        # A node's labels are split on any whitespace (Jenkins' Label.parse), so none is in one.
        if (
            not isinstance(item, str)
            or not item
            or any(ch.isspace() for ch in item)
            or _labels._tokens(item) != [("atom", item)]
        ):
            raise BadInput(f"{field}: {item!r} is not a plain label atom")
    return sorted(set(items))


def _check_container_options(value, field="container_options"):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{field}: expected a mapping of container options")
    bad = sorted(set(value) & _FORBIDDEN_CONTAINER)
    if bad:
        raise BadInput(
            f"{field}: {', '.join(bad)} cannot be set (the agent's command, name "
            "and image are managed)"
        )
    env = value.get("environment") or value.get("env") or {}
    keys = env if isinstance(env, dict) else [str(e).split("=", 1)[0] for e in env]
    if any(str(k).upper() in ("JENKINS_SECRET", "JNLP_SECRET") for k in keys):
        raise BadInput(
            f"{field}: the agent secret is handed over as a file, never in the environment"
        )
    return dict(value)


def agent_options(kwargs, defaults=None):
    """Validated options of one agent (``jenkins_agent.present``) or a pool: every value typed
    and range-checked, unknown keys refused, before any I/O."""
    defaults = AGENT_DEFAULTS if defaults is None else defaults
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise BadInput(
            f"unknown option(s): {', '.join(unknown)}; accepted: {', '.join(sorted(defaults))}"
        )
    opts = {**defaults, **{k: v for k, v in kwargs.items() if v is not None}}
    for key, (low, high) in _INTS.items():
        if key in opts and opts[key] is not None:
            opts[key] = chain_errors.as_int(opts[key], key, minimum=low, maximum=high)
    opts["labels"] = _labels_list(opts.get("labels"), "labels")
    if opts["mode"] not in ("NORMAL", "EXCLUSIVE"):
        raise BadInput(f"mode: expected NORMAL or EXCLUSIVE, got {opts['mode']!r}")
    if not isinstance(opts["remote_fs"], str) or not opts["remote_fs"].startswith("/"):
        raise BadInput(f"remote_fs: expected an absolute path, got {opts['remote_fs']!r}")
    url = opts.get("agent_url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^/@?#]+", url)):
        raise BadInput(f"agent_url: expected http(s)://host[:port]/..., got {url!r}")
    opts["web_socket"] = chain_errors.as_bool(opts["web_socket"], "web_socket")
    opts["container_options"] = _check_container_options(opts.get("container_options"))
    return opts


def pool_options(name, kwargs):
    """Validated pool options (``jenkins_agent.pool`` / ``jenkins_agent.reconcile``)."""
    check_name(name, "name")
    opts = agent_options(kwargs, POOL_DEFAULTS)
    label = opts.pop("label")
    if label is not None:
        opts["labels"] = sorted(set(opts["labels"]) | set(_labels_list(label, "label")))
    if not opts["labels"]:
        raise BadInput("label: a pool needs at least one label (queue demand is matched on it)")
    if opts["min"] > opts["max"]:
        raise BadInput(f"min ({opts['min']}) must not exceed max ({opts['max']})")
    opts["idle_minutes"] = chain_errors.as_number(opts["idle_minutes"], "idle_minutes", minimum=0)
    canary = opts.get("canary_job")
    if canary is not None:
        if isinstance(canary, str):
            canary = {"command": canary}
        if (
            not isinstance(canary, dict)
            or not isinstance(canary.get("command"), str)
            or set(canary) - {"command"}
        ):
            raise BadInput("canary_job: expected a shell command or {command: ...}")
        opts["canary_job"] = canary
    return opts


CONTAINER_KEYS = ("remote_fs", "agent_url", "agent_uid", "container_options", "web_socket")


def config_digest(opts, keys=None):
    """A short digest of what an agent is made from (a pool replaces an agent whose digest
    differs). With ``keys=CONTAINER_KEYS``: only what the container itself is made from (node
    fields such as labels, executors and mode are reconfigured on the node instead)."""
    keys = keys or (
        "executors",
        "labels",
        "remote_fs",
        "mode",
        "agent_url",
        "agent_uid",
        "container_options",
        "web_socket",
    )
    material = json.dumps({k: opts.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def description(pool, owner):
    """The node description marking a pool's node (ownership for reconcile)."""
    return f"{DESCRIPTION_MARK} pool={pool} owner={owner}"


def owns_node(desc, pool, owner):
    return (desc or "").strip() == description(pool, owner)


def summarize(row):
    """One agent container (a ``container.ps``-style row: labels, state, image, image_id) as
    ``jenkins_agent.list`` and the ``jenkins_agents`` grain show it."""
    labels = row.get("labels") or {}
    return {
        "node": labels.get(LABEL_NODE),
        "pool": labels.get(LABEL_POOL) or None,
        "controller": labels.get(LABEL_CONTROLLER),
        "labels": (labels.get(LABEL_PREFIX + ".labels") or "").split(),
        "image": labels.get(LABEL_IMAGE) or row.get("image"),
        "image_id": row.get("image_id"),
        "state": row.get("state"),
    }


def agent_command(url, node, remote_fs, web_socket=True):
    """agent.jar / inbound-agent arguments: the secret only as ``@FILE``."""
    args = [
        "-url",
        url,
        "-secret",
        f"@{SECRET_DIR}/{SECRET_FILE}",
        "-name",
        node,
        "-workDir",
        remote_fs,
    ]
    if web_socket:
        args.append("-webSocket")
    return args


def demand(queue_items, pool_labels, pool_nodes=()):
    """Buildable queue items this pool's agents would serve.

    ``queue_items``: ``[{buildable, why, label}]``; ``label`` (the job's assigned label, when
    the caller read it) wins over the label the ``why`` names. A ``why`` naming one of this
    pool's nodes (Jenkins names the node when exactly one matches) counts for the pool.
    Items without a label (any node) are left to unlabelled capacity.
    """
    labels = set(pool_labels)
    count = 0
    for item in queue_items:
        if not item.get("buildable"):
            continue
        text = item.get("label")
        if text is None:
            text = _labels.label_from_why(item.get("why"))
            if text is not None and text in pool_nodes:
                count += 1
                continue
        if not text:
            continue
        try:
            expr = _labels.parse(text)
        except BadInput:
            continue
        if _labels.matches(expr, labels):
            count += 1
    return count


# --------------------------------------------------------------------------- one pass, by rule
#
# Each rule below is a function of what it needs and returns what it decided; a rule that
# keeps something for the next pass takes the part of the memory it reads and returns a new
# one (the caller's dict is never changed). ``decide()`` runs them in order.

#: The memory keys of the failure rule (a new image, a new configuration or the first agent
#: online clears them).
FAILURE_KEYS = ("failures", "backoff_until", "broken")
#: Container states in which an agent may still come (or be) online.
LIVE_STATES = ("running", "created", "restarting")

# What the connection rule says of an agent whose container lives and whose node exists.
STARTING = "starting"
# What the max_uses rule says of an agent that ran ``max_uses`` builds.
REPLACE = "replace"  # idle: delete it now
DRAIN = "drain"  # busy: mark it temporarily offline so that it takes no new build
DRAINING = "draining"  # busy and already marked: wait for its build


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolView:
    """What one reconcile pass read, the input of ``decide()``.

    pool, owner
        The pool's name and this minion's id (the marks a node of ours carries).
    opts
        The pool's validated options (``pool_options()``).
    agents
        This pool's containers: ``[{container, node, state, created, current}]``
        (``current``: made from the pool's accepted image and configuration, ``is_current()``).
    computers
        ``{node: {offline, temporarily_offline, idle, builds, description}}``.
    demand
        Buildable queue items this pool serves (``demand()``).
    engine_total
        Agents (all pools) on this engine.
    now
        The pass's clock (seconds).
    """

    pool: str
    owner: str
    opts: dict
    agents: list
    computers: dict
    demand: int
    engine_total: int
    now: float


def _delete(node, container, reason, failed=None):
    item = {"node": node, "container": container, "reason": reason}
    if failed is not None:
        item["failed"] = failed
    return item


def _without(mapping, *keys):
    return {k: v for k, v in mapping.items() if k not in keys}


# ----- orphans


def orphan_container(agent, mem, opts, now):
    """Orphans, container side: a container whose node is gone from the controller is deleted
    after ``orphan_grace`` (at once when it no longer runs). Returns ``(delete item or None,
    node memory)``; the memory keeps since when the node is gone."""
    mem = {**mem, "nodeless_since": mem.get("nodeless_since", now)}
    if now - mem["nodeless_since"] >= opts["orphan_grace"] or agent["state"] != "running":
        return _delete(None, agent["container"], "its node is gone from the controller"), mem
    return None, mem


def orphan_nodes(view, seen, nodes_mem):
    """Orphans, node side: a node carrying this pool's and owner's marks whose container is not
    among ``seen`` is deleted after ``orphan_grace``. Nodes without both marks are never
    touched. Returns ``(delete items, nodes memory)``."""
    nodes_mem = dict(nodes_mem)
    deletes = []
    for node, comp in view.computers.items():
        if node in seen or not owns_node(comp.get("description"), view.pool, view.owner):
            continue
        mem = nodes_mem.get(node, {"first_seen": view.now})
        mem = {**mem, "containerless_since": mem.get("containerless_since", view.now)}
        nodes_mem[node] = mem
        if view.now - mem["containerless_since"] >= view.opts["orphan_grace"]:
            deletes.append(_delete(node, None, "its container is gone from this engine"))
    return deletes, nodes_mem


# ----- failures and back-off


def connection(agent, comp, mem, opts, now):
    """Failures and recycling of an agent whose node exists. Returns ``(verdict, node
    memory)``; the verdict is a delete item, ``STARTING``, or None (online, or marked
    temporarily offline by us).

    * a container that is no longer live is deleted with its node: a failure when the node was
      never online;
    * a node never online within ``connect_timeout`` of its container's creation: a failure;
    * a node that was online and stays offline for ``connect_timeout``: recycled;
    * otherwise an offline node is starting.
    """
    node, container = agent["node"], agent["container"]
    mem = _without(mem, "nodeless_since")
    if agent["state"] not in LIVE_STATES:
        reason = f"its container is {agent['state']}"
        return _delete(node, container, reason, failed=not mem.get("online_once")), mem
    if not comp.get("offline") or comp.get("temporarily_offline"):
        return None, _without(mem, "offline_since")
    timeout = opts["connect_timeout"]
    if mem.get("online_once"):
        mem["offline_since"] = mem.get("offline_since", now)
        if now - mem["offline_since"] >= timeout:
            reason = "offline longer than connect_timeout (recycled)"
            return _delete(node, container, reason), mem
        return STARTING, mem
    if now - (agent.get("created") or now) >= timeout:
        reason = f"not online within connect_timeout ({timeout} s)"
        return _delete(node, container, reason, failed=True), mem
    return STARTING, mem


def came_online(comp, mem):
    """``(True, memory marked online_once)`` the first pass a node is seen online, else
    ``(False, mem)``: a node seen online once is no start failure any more."""
    if comp.get("offline") or mem.get("online_once"):
        return False, mem
    return True, {**mem, "online_once": True}


def backoff_until(failures, opts, now):
    """The one back-off formula: ``backoff`` seconds doubled per failure in a row, at most
    ``backoff_max`` (docker-plugin's ``errorDuration``), from ``now``."""
    return now + min(opts["backoff"] * 2 ** (failures - 1), opts["backoff_max"])


def failure_marks(failures, count, reason, opts, now):
    """The memory keys to set after ``count`` more failures (``failures`` so far): the count,
    the back-off end and, from ``max_failures`` on, ``broken`` with ``reason``."""
    failures += count
    marks = {"failures": failures, "backoff_until": backoff_until(failures, opts, now)}
    if failures >= opts["max_failures"]:
        marks["broken"] = reason
    return marks


def without_failures(memory):
    """The memory with the failure rule's marks cleared."""
    return _without(memory, *FAILURE_KEYS)


def count_failures(memory, failed, newly_online, opts, now):
    """The failure rule over one pass: the failed deletes (``failed``) back the pool off, or
    break it; else the first agent online clears the marks. Returns the new memory."""
    if failed:
        marks = failure_marks(
            memory.get("failures", 0), len(failed), failed[-1]["reason"], opts, now
        )
        return {**memory, **marks}
    if newly_online:
        return {**without_failures(memory), "failures": 0}
    return memory


def blocked(memory, now):
    """Why the pool launches nothing this pass: ``"broken"``, ``"backoff"`` or None."""
    if memory.get("broken"):
        return "broken"
    if memory.get("backoff_until", 0) > now:
        return "backoff"
    return None


# ----- max_uses


def used_up(comp, mem, opts):
    """The ``max_uses`` rule: the builds seen on the node are remembered; once there are
    ``max_uses`` of them the agent is replaced when idle (``REPLACE``), else marked temporarily
    offline (``DRAIN``, or ``DRAINING`` once marked) so that its build finishes. Returns
    ``(verdict or None, node memory)``."""
    uses = sorted(set(mem.get("uses") or []) | set(comp.get("builds") or []))
    mem = {**mem, "uses": uses}
    if not opts["max_uses"] or len(uses) < opts["max_uses"]:
        return None, mem
    if comp.get("idle"):
        return REPLACE, mem
    return (DRAINING if comp.get("temporarily_offline") else DRAIN), mem


# ----- idle


def idle_mark(comp, mem, now):
    """An online agent is idle when it runs nothing and is not marked temporarily offline; the
    memory keeps since when. Returns ``(idle, node memory)``."""
    if comp.get("idle") and not comp.get("temporarily_offline"):
        return True, {**mem, "idle_since": mem.get("idle_since", now)}
    return False, _without(mem, "idle_since")


def scale_down(opts, *, demand, idle, starting, alive, idle_since, now):
    """Idle agents to remove: only when the free executors cover the demand, never the ones the
    demand will take, never below ``min``, the longest idle first, each idle for at least
    ``idle_minutes``. ``idle``: the idle nodes; ``starting``, ``alive``: how many agents are
    starting, and starting or online; ``idle_since``: ``{node: since}``."""
    executors = opts["executors"]
    if demand > (len(idle) + starting) * executors:
        return []
    keep = min(len(idle), math.ceil(demand / executors))
    surplus = min(alive - opts["min"], len(idle) - keep)
    out = []
    for node in sorted(idle, key=lambda n: idle_since.get(n, now)):
        if surplus <= 0:
            break
        if now - idle_since[node] >= opts["idle_minutes"] * 60:
            out.append(node)
            surplus -= 1
    return out


# ----- demand and scale-up


def wanted_for_demand(demand_count, *, idle, starting, executors):
    """The demand rule: agents to launch for ``demand_count`` queued items once the executors
    of idle and starting agents have taken their share."""
    need = max(0, demand_count - (idle + starting) * executors)
    return math.ceil(need / executors) if need else 0


def launch_count(opts, *, wanted, starting, alive, engine_total, blocked_by=None):
    """The scale-up rule: ``wanted`` launches raised to keep ``min`` agents, cut by ``max``
    (starting agents count), ``max_starting`` and ``engine_cap``; none while ``blocked_by``."""
    launch = max(wanted, opts["min"] - alive)
    launch = min(
        launch,
        opts["max"] - alive,
        opts["max_starting"] - starting,
        opts["engine_cap"] - engine_total,
    )
    return 0 if blocked_by else max(0, launch)


# ----- rolling image or configuration change, with the canary


def is_current(image_id, config_label, accepted, config):
    """An agent is current when its container runs the pool's accepted image id (any, before
    one is accepted) and carries the pool's configuration digest."""
    return (image_id == accepted or accepted is None) and config_label == config


def accept_image(memory, *, config, image_id, accept):
    """The memory after a pass saw configuration digest ``config`` and the image id
    ``image_id`` (None: not on the engine). A new configuration clears the failure marks; a new
    image id is accepted (clearing them too) when ``accept`` or when the pool has accepted none
    yet; otherwise it waits for the canary (``jenkins_agent.canary``)."""
    memory = dict(memory)
    if memory.get("config") != config:
        memory = {**without_failures(memory), "config": config}
    if image_id and memory.get("accepted") != image_id:
        if accept or memory.get("accepted") is None:
            memory = {**without_failures(memory), "accepted": image_id}
    return memory


def image_to_launch(image, image_id, accepted):
    """What new agents start from: the declared ``image`` unless a newer one waits for its
    canary, then the accepted image id."""
    return image if image_id is None or accepted in (None, image_id) else accepted


def roll(agents, computers, *, online, starting, deleting):
    """The rolling rule: agents of an older image or configuration go one at a time, never
    while another agent starts or one of them is being deleted. An idle one is deleted; else a
    busy one is marked temporarily offline (unless one already is), so no build is killed.
    Returns ``(delete item or None, node to disable or None)``."""
    outdated = [a["node"] for a in agents if a["node"] in online and not a.get("current", True)]
    if not outdated or starting or any(node in outdated for node in deleting):
        return None, None
    node = next((n for n in outdated if computers[n].get("idle")), None)
    if node is not None:
        container = next(a["container"] for a in agents if a["node"] == node)
        return _delete(node, container, "image or configuration changed (rolled)"), None
    if any(computers[n].get("temporarily_offline") for n in outdated):
        return None, None
    return None, outdated[0]


# ----- one pass


@dataclasses.dataclass
class _Census:
    """What the per-agent rules found, pass-local."""

    delete: list = dataclasses.field(default_factory=list)
    disable: list = dataclasses.field(default_factory=list)
    starting: list = dataclasses.field(default_factory=list)
    online: list = dataclasses.field(default_factory=list)
    idle: list = dataclasses.field(default_factory=list)
    newly_online: list = dataclasses.field(default_factory=list)


def _census(view, nodes_mem):
    """Every agent through the per-agent rules (orphans, connection, max_uses, idle).
    Returns ``(census, nodes memory)``."""
    found = _Census()
    opts, now = view.opts, view.now
    for agent in view.agents:
        node = agent["node"]
        mem = nodes_mem.get(node, {"first_seen": now})
        comp = view.computers.get(node)
        if comp is None:
            item, nodes_mem[node] = orphan_container(agent, mem, opts, now)
            found.delete += [item] if item else []
            continue
        verdict, mem = connection(agent, comp, mem, opts, now)
        if verdict is not None:
            nodes_mem[node] = mem
            found.delete += [] if verdict == STARTING else [verdict]
            found.starting += [node] if verdict == STARTING else []
            continue
        newly, mem = came_online(comp, mem)
        found.newly_online += [node] if newly else []
        uses, mem = used_up(comp, mem, opts)
        if uses == REPLACE:
            reason = f"used {len(mem['uses'])} time(s) (max_uses)"
            found.delete.append(_delete(node, agent["container"], reason))
        elif uses is not None:
            found.disable += [node] if uses == DRAIN else []
            found.online.append(node)
        else:
            found.online.append(node)
            is_idle, mem = idle_mark(comp, mem, now)
            found.idle += [node] if is_idle else []
        nodes_mem[node] = mem
    return found, nodes_mem


def decide(view, memory):
    """One reconcile pass as data: the rules above over ``view`` (a ``PoolView``) and what
    earlier passes remembered. ``memory`` is not changed; the new one is in the result.

    Returns ``{launch, delete: [{node, container, reason[, failed]}], disable: [node],
    scale_down: [node], outdated, starting, online, blocked, broken, backoff_until, memory}``.
    """
    opts, now = view.opts, view.now
    found, nodes_mem = _census(view, copy.deepcopy(memory.get("nodes") or {}))
    seen = {agent["node"] for agent in view.agents}
    orphans, nodes_mem = orphan_nodes(view, seen, nodes_mem)
    found.delete += orphans
    rolled, drain = roll(
        view.agents,
        view.computers,
        online=found.online,
        starting=found.starting,
        deleting=[d["node"] for d in found.delete],
    )
    if rolled:
        found.delete.append(rolled)
        found.online.remove(rolled["node"])
        found.idle = [n for n in found.idle if n != rolled["node"]]
    found.disable += [drain] if drain else []
    memory = {**copy.deepcopy(_without(memory, "nodes")), "nodes": nodes_mem}
    failed = [d for d in found.delete if d.get("failed")]
    memory = count_failures(memory, failed, found.newly_online, opts, now)
    alive = len(found.starting) + len(found.online)
    why_blocked = blocked(memory, now)
    counts = {"starting": len(found.starting), "alive": alive}
    wanted = wanted_for_demand(
        view.demand, idle=len(found.idle), starting=counts["starting"], executors=opts["executors"]
    )
    launch = launch_count(
        opts, wanted=wanted, engine_total=view.engine_total, blocked_by=why_blocked, **counts
    )
    idle_since = {node: nodes_mem[node].get("idle_since", now) for node in found.idle}
    down = scale_down(
        opts, demand=view.demand, idle=found.idle, idle_since=idle_since, now=now, **counts
    )
    deleted = {d["node"] for d in found.delete}
    memory["nodes"] = {
        node: mem
        for node, mem in nodes_mem.items()
        if node not in deleted and (node in seen or node in view.computers)
    }
    return {
        "launch": launch,
        "delete": found.delete,
        "disable": sorted(set(found.disable) - deleted),
        "scale_down": down,
        "outdated": sorted(
            a["node"]
            for a in view.agents
            if not a.get("current", True) and a["node"] not in deleted
        ),
        "starting": sorted(found.starting),
        "online": sorted(found.online),
        "blocked": why_blocked,
        "broken": memory.get("broken"),
        "backoff_until": memory.get("backoff_until"),
        "memory": memory,
    }


def plan(pool, opts, agents, computers, demand_count, memory, now, engine_total, owner):
    """``decide()`` in the positional form of earlier releases, for the callers that keep their
    memory in one dict: ``memory`` is replaced in place by the new memory (its one effect), and
    the decision is returned without it."""
    view = PoolView(
        pool=pool,
        owner=owner,
        opts=opts,
        agents=list(agents),
        computers=computers,
        demand=demand_count,
        engine_total=engine_total,
        now=now,
    )
    decision = decide(view, memory)
    memory.clear()
    memory.update(decision.pop("memory"))
    return decision
