"""
Agent pools: option validation and one reconcile pass as a pure decision.

``plan()`` takes what the caller read (this pool's containers from their labels, the
controller's computers, the labels queue demand asks for, what earlier passes remembered) and
returns what to do: how many agents to launch, which to delete and why, which to mark
temporarily offline, which failed to come online. The caller (``jenkins_agent.reconcile``) does
the I/O. No Salt dunders here.

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

import hashlib
import json
import math
import re

try:
    from saltext.chain.utils import chain_agents_labels as _labels
    from saltext.chain.utils import chain_errors
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
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
        if not isinstance(item, str) or not item or _labels._tokens(item) != [("atom", item)]:
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


def plan(pool, opts, agents, computers, demand_count, memory, now, engine_total, owner):
    """One reconcile pass as data.

    pool, opts
        The pool's name and validated options.
    agents
        This pool's containers: ``[{container, node, state, created, current}]``
        (``current``: made from the pool's accepted image and configuration).
    computers
        ``{node: {offline, temporarily_offline, idle, builds, description}}``.
    demand_count
        Buildable queue items this pool serves (``demand()``).
    memory
        What earlier passes remembered (mutated and returned in the result).
    engine_total
        Agents (all pools) on this engine.

    Returns ``{launch, delete: [{node, container, reason, failed}], disable: [node],
    scale_down: [node], starting, online, broken, backoff_until, memory}``.
    """
    nodes_mem = memory.setdefault("nodes", {})
    delete, disable, scale_down = [], [], []
    starting, online, idle, newly_online = [], [], [], []
    seen = set()
    for agent in agents:
        node = agent["node"]
        seen.add(node)
        mem = nodes_mem.setdefault(node, {"first_seen": now})
        comp = computers.get(node)
        if comp is None:
            since = mem.setdefault("nodeless_since", now)
            if now - since >= opts["orphan_grace"] or agent["state"] != "running":
                delete.append(
                    {
                        "node": None,
                        "container": agent["container"],
                        "reason": "its node is gone from the controller",
                    }
                )
            continue
        mem.pop("nodeless_since", None)
        if agent["state"] not in ("running", "created", "restarting"):
            delete.append(
                {
                    "node": node,
                    "container": agent["container"],
                    "reason": f"its container is {agent['state']}",
                    "failed": not mem.get("online_once"),
                }
            )
            continue
        age = now - (agent.get("created") or now)
        if comp.get("offline") and not comp.get("temporarily_offline"):
            if mem.get("online_once"):
                since = mem.setdefault("offline_since", now)
                if now - since >= opts["connect_timeout"]:
                    delete.append(
                        {
                            "node": node,
                            "container": agent["container"],
                            "reason": "offline longer than connect_timeout (recycled)",
                        }
                    )
                else:
                    starting.append(node)
            elif age >= opts["connect_timeout"]:
                delete.append(
                    {
                        "node": node,
                        "container": agent["container"],
                        "failed": True,
                        "reason": f"not online within connect_timeout "
                        f"({opts['connect_timeout']} s)",
                    }
                )
            else:
                starting.append(node)
            continue
        mem.pop("offline_since", None)
        if not comp.get("offline") and not mem.get("online_once"):
            mem["online_once"] = True
            newly_online.append(node)
        uses = set(mem.get("uses") or []) | set(comp.get("builds") or [])
        mem["uses"] = sorted(uses)
        if opts["max_uses"] and len(uses) >= opts["max_uses"]:
            if comp.get("idle"):
                delete.append(
                    {
                        "node": node,
                        "container": agent["container"],
                        "reason": f"used {len(uses)} time(s) (max_uses)",
                    }
                )
            else:
                if not comp.get("temporarily_offline"):
                    disable.append(node)
                online.append(node)
            continue
        online.append(node)
        if comp.get("idle") and not comp.get("temporarily_offline"):
            mem.setdefault("idle_since", now)
            idle.append(node)
        else:
            mem.pop("idle_since", None)
    for node, comp in computers.items():
        if node in seen or not owns_node(comp.get("description"), pool, owner):
            continue
        mem = nodes_mem.setdefault(node, {"first_seen": now})
        since = mem.setdefault("containerless_since", now)
        if now - since >= opts["orphan_grace"]:
            delete.append(
                {
                    "node": node,
                    "container": None,
                    "reason": "its container is gone from this engine",
                }
            )
    # an image/config change rolls one agent at a time, never killing a running build
    outdated = [a["node"] for a in agents if a["node"] in online and not a.get("current", True)]
    rolling = [n for n in outdated if computers[n].get("temporarily_offline")]
    if outdated and not starting and not any(d["node"] in outdated for d in delete):
        node = next((n for n in outdated if computers[n].get("idle")), None)
        if node is not None:
            agent = next(a for a in agents if a["node"] == node)
            delete.append(
                {
                    "node": node,
                    "container": agent["container"],
                    "reason": "image or configuration changed (rolled)",
                }
            )
            online.remove(node)
            idle = [n for n in idle if n != node]
        elif not rolling:
            disable.append(outdated[0])
    alive = len(starting) + len(online)
    failed = [d for d in delete if d.get("failed")]
    if failed:
        memory["failures"] = memory.get("failures", 0) + len(failed)
        step = opts["backoff"] * 2 ** (memory["failures"] - 1)
        memory["backoff_until"] = now + min(step, opts["backoff_max"])
        if memory["failures"] >= opts["max_failures"]:
            memory["broken"] = failed[-1]["reason"]
    elif newly_online:
        memory["failures"] = 0
        memory.pop("backoff_until", None)
        memory.pop("broken", None)

    executors = opts["executors"]
    free = len(idle) * executors + len(starting) * executors
    need = max(0, demand_count - free)
    launch = math.ceil(need / executors) if need else 0
    launch = max(launch, opts["min"] - alive)
    launch = min(
        launch,
        opts["max"] - alive,
        opts["max_starting"] - len(starting),
        opts["engine_cap"] - engine_total,
    )
    blocked = None
    if memory.get("broken"):
        blocked = "broken"
    elif memory.get("backoff_until", 0) > now:
        blocked = "backoff"
    if blocked:
        launch = 0
    launch = max(0, launch)

    if demand_count <= free:
        # idle agents the queued demand will take are kept; only the rest above min may go
        keep = min(len(idle), math.ceil(demand_count / executors))
        surplus = min(alive - opts["min"], len(idle) - keep)
        for node in sorted(idle, key=lambda n: nodes_mem[n].get("idle_since", now)):
            if surplus <= 0:
                break
            if now - nodes_mem[node]["idle_since"] >= opts["idle_minutes"] * 60:
                scale_down.append(node)
                surplus -= 1
    for item in delete:
        if item["node"]:
            nodes_mem.pop(item["node"], None)
    for node in list(nodes_mem):
        if node not in seen and node not in computers:
            nodes_mem.pop(node, None)
    disable = sorted(set(disable) - {d["node"] for d in delete})
    return {
        "launch": launch,
        "delete": delete,
        "disable": disable,
        "scale_down": scale_down,
        "outdated": sorted(
            a["node"]
            for a in agents
            if not a.get("current", True) and a["node"] not in {d["node"] for d in delete}
        ),
        "starting": sorted(starting),
        "online": sorted(online),
        "blocked": blocked,
        "broken": memory.get("broken"),
        "backoff_until": memory.get("backoff_until"),
        "memory": memory,
    }
