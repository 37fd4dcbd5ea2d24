"""
Jenkins build agents in containers: one permanent agent, or a pool per label scaled from queue
demand and healed, on this minion's Docker engine.

.. versionadded:: 0.2.0

:depends: the ``container`` and ``jenkins`` execution modules of this extension.
:configuration: the ``jenkins`` profile names the controller (``profile``), the ``container``
    profile the engine (``engine``); see docs/jenkins_agent.md.

An agent is a node on the controller (inbound launcher over WebSocket) and a container started
from the agent image with ``-url URL -secret @/run/jenkins-agent/secret -name NODE -workDir
DIR -webSocket``. The secret is fetched from the controller and copied into the created (not yet
started) container as a file owned by the agent user with mode 0400; it never appears in the
container's environment, arguments or labels, nor in any return, log line or event.

Every container carries labels naming the controller, pool, node and owner (this minion);
reconcile only ever touches containers and nodes carrying its own marks.
"""

import concurrent.futures
import contextlib
import contextvars
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_agents_plan as _plan
    from saltext.chain.utils import chain_agents_read as _read
    from saltext.chain.utils import chain_errors, chain_jenkins_xml, chain_profiles
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_plan as _plan
    import chain_agents_read as _read
    import chain_errors
    import chain_jenkins_xml
    import chain_profiles

log = logging.getLogger(__name__)

__virtualname__ = "jenkins_agent"
__func_alias__ = {"list_": "list"}

LOG_TAIL = 20


def __virtual__():
    if not _read.HAS_REQUESTS:
        return (False, "the requests library is not installed")
    return __virtualname__


# --------------------------------------------------------------------------- helpers


def _conf(profile):
    conf = chain_profiles.resolve("jenkins", profile, __salt__["config.get"])
    return chain_profiles.jenkins_connection(conf)


def _owner():
    return str(__opts__.get("id") or "minion")


def _agent_labels(conf, node, pool, opts, image, extra=None):
    labels = dict(extra or {})
    labels.update(
        {
            _plan.LABEL_MANAGED: "true",
            _plan.LABEL_CONTROLLER: conf["url"],
            _plan.LABEL_POOL: pool or "",
            _plan.LABEL_NODE: node,
            _plan.LABEL_OWNER: _owner(),
            _plan.LABEL_IMAGE: image,
            _plan.LABEL_CONFIG: _plan.config_digest(opts),
            _plan.LABEL_CONTAINER_CONFIG: _plan.config_digest(opts, _plan.CONTAINER_KEYS),
            _plan.LABEL_PREFIX + ".created": str(int(time.time())),
            _plan.LABEL_PREFIX + ".labels": " ".join(opts["labels"]),
        }
    )
    return labels


def _node_fields(opts, description):
    return {
        "num_executors": opts["executors"],
        "remote_fs": opts["remote_fs"],
        "labels": opts["labels"],
        "mode": opts["mode"],
        "description": description,
        "web_socket": opts["web_socket"],
    }


def _hand_over_secret(container, node, uid, engine):
    """Fetch the node's secret and copy it into the created container as a 0400 file owned
    by the agent user (``-secret @FILE``). The secret is returned for scrubbing only."""
    secret = __salt__["jenkins.agent_secret"](node, profile=_PROFILE.get("jenkins"))
    tmp = tempfile.mkdtemp(prefix="jenkins-agent-")
    try:
        folder = os.path.join(tmp, os.path.basename(_plan.SECRET_DIR))
        os.mkdir(folder, 0o700)
        path = os.path.join(folder, _plan.SECRET_FILE)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret)
        if os.geteuid() == 0:
            os.chown(path, uid, uid)
            os.chown(folder, uid, uid)
        elif os.geteuid() != uid:
            raise CommandExecutionError(
                "the agent secret file must belong to the agent user (agent_uid "
                f"{uid}): run the minion as root or set agent_uid to {os.geteuid()}"
            )
        __salt__["container.copy_to"](
            container, folder, os.path.dirname(_plan.SECRET_DIR), profile=engine
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return secret


# The profiles of the call in progress (the loader runs one call per process/thread at a time).
_PROFILE = {}


def _launch(node, image, opts, conf, pool, engine, description, labels=None, fresh=False):
    """Create the node (when missing; ``fresh``: a name just drawn, so no lookup first) and a
    started container for it. Returns the secret (for scrubbing the caller's messages)."""
    if fresh or __salt__["jenkins.node_info"](node, profile=_PROFILE.get("jenkins")) is None:
        __salt__["jenkins.node_create"](
            node, profile=_PROFILE.get("jenkins"), **_node_fields(opts, description)
        )
    url = opts.get("agent_url") or conf["url"]
    container_opts = dict(opts["container_options"])
    user_labels = container_opts.pop("labels", None) or container_opts.pop("label", None) or {}
    __salt__["container.create"](
        image,
        node,
        profile=engine,
        command=_plan.agent_command(url, node, opts["remote_fs"], opts["web_socket"]),
        labels=_agent_labels(conf, node, pool, opts, image, {**user_labels, **(labels or {})}),
        **container_opts,
    )
    try:
        secret = _hand_over_secret(node, node, opts["agent_uid"], engine)
        __salt__["container.start"](node, profile=engine)
    except Exception:
        with contextlib.suppress(Exception):
            __salt__["container.remove"](node, force=True, volumes=True, profile=engine)
        raise
    return secret


def _why_offline(node, container, engine, secret=None, tail=LOG_TAIL):
    """The controller's offline cause and the container's last log lines, scrubbed."""
    parts = []
    with contextlib.suppress(Exception):
        info = __salt__["jenkins.node_info"](node, profile=_PROFILE.get("jenkins")) or {}
        if info.get("offlineCauseReason"):
            parts.append(f"controller: {info['offlineCauseReason']}")
    with contextlib.suppress(Exception):
        text = __salt__["container.logs"](container, tail=tail, profile=engine)
        if text:
            parts.append("container log tail:\n" + text.rstrip())
    return chain_errors.scrub("\n".join(parts), [secret])


#: Polls while waiting for agents: the first soon (an agent is usually online within a second),
#: then each 1.5 times the previous, at most POLL_MAX apart (a long wait costs the controller
#: one read a second, not ten).
POLL_FIRST = 0.05
POLL_MAX = 1.0


def _polls():
    delay = POLL_FIRST
    while True:
        yield delay
        delay = min(delay * 1.5, POLL_MAX)


def _wait_online(node, container, timeout, engine):
    """None once the node is online; else why not (the container stopped, or the timeout)."""
    deadline = time.monotonic() + timeout
    polls = _polls()
    while True:
        info = __salt__["jenkins.node_info"](node, profile=_PROFILE.get("jenkins"))
        if info is None:
            return "its node is gone from the controller"
        if not info.get("offline"):
            return None
        ctr = __salt__["container.inspect"](container, profile=engine)
        state = (ctr or {}).get("State") or {}
        if not state.get("Running"):
            return (
                f"its container stopped (exit code {state.get('ExitCode')})"
                if ctr
                else "its container is gone"
            )
        if time.monotonic() >= deadline:
            return f"still offline after connect_timeout ({timeout} s)"
        time.sleep(next(polls))


def _remove(node, container, engine):
    done = []
    if node and __salt__["jenkins.node_delete"](node, profile=_PROFILE.get("jenkins")):
        done.append(f"node {node} deleted")
    if container and __salt__["container.inspect"](container, profile=engine) is not None:
        __salt__["container.remove"](container, force=True, volumes=True, profile=engine)
        done.append(f"container {container} removed")
    return done


def _check_image(image):
    if not isinstance(image, str) or not image.strip():
        raise SaltInvocationError("image: expected an image reference like repo/name:tag")
    return image


def _set_profiles(profile, engine):
    if engine is not None and not isinstance(engine, (str, dict)):
        raise SaltInvocationError("engine: expected a container profile name or mapping")
    _PROFILE.clear()
    _PROFILE.update({"jenkins": profile, "container": engine})


# --------------------------------------------------------------------------- one agent


def present(name, image, profile=None, engine=None, test=False, **kwargs):
    """Ensure one permanent agent: its node (declared fields), a container from ``image`` on
    this minion's engine, online within ``connect_timeout``. With ``test=True`` nothing is
    written; the would-be changes are returned. Returns ``{changes, comment}``.

    Options: ``labels``, ``executors``, ``remote_fs``, ``mode``, ``connect_timeout`` (120),
    ``agent_url`` (as seen from the container; default the profile's url), ``agent_uid``
    (1000), ``web_socket``, ``container_options`` (container.create options such as
    ``network_mode``, ``binds``, ``labels``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.present agent1 saltext-chain/jenkins-agent labels='[docker]'
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    opts = _plan.agent_options(kwargs)
    _plan.check_name(name, "name", node=True)
    _check_image(image)
    test = chain_errors.as_bool(test, "test")
    _set_profiles(profile, engine)
    conf = _conf(profile)
    description = opts.get("description") or f"{_plan.DESCRIPTION_MARK} agent owner={_owner()}"
    fields = _node_fields(opts, description)
    changes = {}
    node = __salt__["jenkins.node_info"](name, profile=profile)
    if node is None:
        changes["node"] = {"old": None, "new": name}
    else:
        diff = __salt__["jenkins.node_compare"](name, profile=profile, **fields)
        if diff:
            changes["node"] = diff
    ctr = __salt__["container.inspect"](name, profile=engine)
    labels = ((ctr or {}).get("Config") or {}).get("Labels") or {}
    if ctr is not None and labels.get(_plan.LABEL_MANAGED) != "true":
        raise CommandExecutionError(
            f"container {name} exists and was not made by jenkins_agent; remove or rename it"
        )
    img = __salt__["container.image_inspect"](image, profile=engine)
    reasons = []
    if ctr is None:
        reasons.append("missing")
    else:
        if img is None or ctr.get("Image") != img.get("Id"):
            reasons.append("image changed")
        # node fields (labels, executors, mode) drift is fixed on the node, not the container
        if labels.get(_plan.LABEL_CONTAINER_CONFIG) != _plan.config_digest(
            opts, _plan.CONTAINER_KEYS
        ):
            reasons.append("configuration changed")
        if labels.get(_plan.LABEL_CONTROLLER) != conf["url"]:
            reasons.append("controller changed")
        if not (ctr.get("State") or {}).get("Running"):
            reasons.append("not running")
    if reasons:
        changes["container"] = {
            "old": None if ctr is None else (ctr.get("Image") or "")[:19],
            "new": image,
            "why": ", ".join(reasons),
        }
    online = node is not None and not node.get("offline")
    if not changes and not online and not (node or {}).get("temporarilyOffline"):
        changes["online"] = {"old": False, "new": True}
    if test or not changes:
        return {"changes": changes, "test": test}
    if "node" in changes and node is not None:
        __salt__["jenkins.node_reconfigure"](name, profile=profile, **fields)
    secret = None
    if "container" in changes or node is None:
        if ctr is not None:
            __salt__["container.remove"](name, force=True, volumes=True, profile=engine)
        secret = _launch(name, image, opts, conf, None, engine, description)
    problem = _wait_online(name, name, opts["connect_timeout"], engine)
    if problem:
        detail = _why_offline(name, name, engine, secret)
        raise CommandExecutionError(
            chain_errors.scrub(f"agent {name} did not come online: {problem}\n{detail}", [secret])
        )
    if not online:
        changes.setdefault("online", {"old": False, "new": True})
    return {"changes": changes, "test": False}


def absent(name, drain_timeout=300, force=False, profile=None, engine=None, test=False):
    """Remove one agent: mark its node temporarily offline, wait up to ``drain_timeout``
    seconds for running builds (``force=True`` removes it anyway), delete node and container.
    Returns ``{changes}``; a container not made by jenkins_agent is never removed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.absent agent1 drain_timeout=60
    """
    _plan.check_name(name, "name", node=True)
    drain_timeout = chain_errors.as_int(drain_timeout, "drain_timeout", minimum=0)
    force = chain_errors.as_bool(force, "force")
    test = chain_errors.as_bool(test, "test")
    _set_profiles(profile, engine)
    _conf(profile)
    node = __salt__["jenkins.node_info"](name, profile=profile)
    ctr = __salt__["container.inspect"](name, profile=engine)
    ours = (
        ctr is not None
        and ((ctr.get("Config") or {}).get("Labels") or {}).get(_plan.LABEL_MANAGED) == "true"
    )
    changes = {}
    if node is not None:
        changes["node"] = {"old": name, "new": None}
    if ours:
        changes["container"] = {"old": name, "new": None}
    if test or not changes:
        return {"changes": changes, "test": test}
    if node is not None:
        __salt__["jenkins.node_disable"](
            name, message="removed by jenkins_agent.absent", profile=profile
        )
        deadline = time.monotonic() + drain_timeout
        while True:
            info = __salt__["jenkins.node_info"](name, profile=profile) or {"idle": True}
            if info.get("idle", True):
                break
            if time.monotonic() >= deadline:
                if not force:
                    raise CommandExecutionError(
                        f"agent {name} still runs a build after drain_timeout "
                        f"({drain_timeout} s); it stays temporarily offline (force=True "
                        "removes it anyway)"
                    )
                break
            time.sleep(1)
    _remove(name if node is not None else None, name if ours else None, engine)
    return {"changes": changes, "test": False}


def list_(pool=None, engine=None):
    """The agents on this minion's engine, from container labels only (no controller call):
    ``{container: {node, pool, controller, labels, image, image_id, state}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.list
        salt '*' jenkins_agent.list pool=linux
    """
    wanted = [f"{_plan.LABEL_MANAGED}=true"]
    if pool is not None:
        wanted.append(f"{_plan.LABEL_POOL}={_plan.check_name(pool, 'pool')}")
    rows = __salt__["container.ps"](all=True, labels=wanted, profile=engine)
    return {name: _plan.summarize(row) for name, row in rows.items()}


# --------------------------------------------------------------------------- pools


def _memory_path(conf, pool):
    key = hashlib.sha256(conf["url"].encode()).hexdigest()[:10]
    folder = os.path.join(__opts__["cachedir"], "jenkins_agent")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, f"{key}-{pool}.json")


@contextlib.contextmanager
def _memory(conf, pool, write=True):
    path = _memory_path(conf, pool)
    with open(path + ".lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as handle:
                memory = json.load(handle)
        except (OSError, ValueError):
            memory = {}
        yield memory
        if write:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(memory, handle)
            os.replace(tmp, path)


def _pool_agents(conf, pool, engine, accepted, digest):
    rows = __salt__["container.ps"](
        all=True,
        profile=engine,
        labels=[
            f"{_plan.LABEL_MANAGED}=true",
            f"{_plan.LABEL_POOL}={pool}",
            f"{_plan.LABEL_OWNER}={_owner()}",
        ],
    )
    agents = []
    for name, row in rows.items():
        labels = row.get("labels") or {}
        if labels.get(_plan.LABEL_CONTROLLER) != conf["url"]:
            continue
        agents.append(
            {
                "container": name,
                "node": labels.get(_plan.LABEL_NODE) or name,
                "state": row.get("state"),
                "created": int(labels.get(_plan.LABEL_PREFIX + ".created") or 0),
                "current": _plan.is_current(
                    row.get("image_id"), labels.get(_plan.LABEL_CONFIG), accepted, digest
                ),
            }
        )
    return agents


def _engine_total(engine):
    rows = __salt__["container.ps"](labels=[f"{_plan.LABEL_MANAGED}=true"], profile=engine)
    return len(rows)


def reconcile(name, image, profile=None, engine=None, test=False, accept_image=None, **kwargs):
    """One pass over pool ``name``: launch agents for queue demand (buildable items whose
    label expression the pool's labels satisfy, counting starting agents against it and
    against ``max``, ``max_starting`` and ``engine_cap``), keep ``min``, scale idle agents
    down after ``idle_minutes``, replace agents after ``max_uses`` builds, remove containers
    whose node is gone and nodes whose container is gone (after ``orphan_grace``), recycle
    agents that never come online (``connect_timeout``) with back-off, and report the pool
    broken after ``max_failures`` such failures. ``test=True`` writes nothing.

    A new image id is taken at once (``accept_image``, default: unless the pool has a
    ``canary_job``; then only ``jenkins_agent.canary`` accepts it); agents of an older image
    or configuration are replaced one at a time, never during a build.

    Options: ``label`` (required), ``min``, ``max``, ``executors``, ``idle_minutes``,
    ``max_uses``, ``connect_timeout``, ``max_starting``, ``engine_cap``, ``orphan_grace``,
    ``max_failures``, ``backoff``, ``backoff_max``, ``remote_fs``, ``agent_url``,
    ``agent_uid``, ``container_options``, ``canary_job``, ``canary_timeout``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.reconcile linux saltext-chain/jenkins-agent label=linux max=8
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    opts = _plan.pool_options(name, kwargs)
    _check_image(image)
    test = chain_errors.as_bool(test, "test")
    if accept_image is None:
        accept_image = opts["canary_job"] is None
    accept_image = chain_errors.as_bool(accept_image, "accept_image")
    _set_profiles(profile, engine)
    conf = _conf(profile)
    now = time.time()
    digest = _plan.config_digest(opts)
    result = {
        "pool": name,
        "launched": [],
        "deleted": [],
        "disabled": [],
        "scaled_down": [],
        "errors": [],
    }
    with _memory(conf, name, write=not test) as memory:
        img = __salt__["container.image_inspect"](image, profile=engine)
        new_id = img["Id"] if img else None
        _keep(
            memory, _plan.accept_image(memory, config=digest, image_id=new_id, accept=accept_image)
        )
        accepted = memory.get("accepted")
        agents = _pool_agents(conf, name, engine, accepted, digest)
        view = _plan.PoolView(
            pool=name,
            owner=_owner(),
            opts=opts,
            agents=agents,
            computers=_read.computers(conf),
            demand=_plan.demand(_read.queue(conf), opts["labels"], {a["node"] for a in agents}),
            engine_total=_engine_total(engine),
            now=now,
        )
        decision = _plan.decide(view, memory)
        _keep(memory, decision["memory"])
        result.update(
            {
                "demand": view.demand,
                "starting": decision["starting"],
                "online": decision["online"],
                "outdated": decision["outdated"],
                "blocked": decision["blocked"],
                "broken": decision["broken"],
                "image_id": accepted,
                "pending_image": new_id != accepted and new_id is not None,
            }
        )
        if test:
            result.update(
                {
                    "launched": [f"{name}-<new>"] * decision["launch"],
                    "deleted": [
                        {k: d[k] for k in ("node", "container", "reason")}
                        for d in decision["delete"]
                    ],
                    "disabled": decision["disable"],
                    "scaled_down": decision["scale_down"],
                }
            )
            return result
        launch_image = _plan.image_to_launch(image, new_id, accepted)
        _carry_out(name, opts, conf, engine, decision, result, memory, launch_image)
    return result


def _keep(memory, new):
    """The locked memory becomes ``new`` (written back when the lock is released)."""
    memory.clear()
    memory.update(new)


def _clear_failures(memory):
    for key in _plan.FAILURE_KEYS:
        memory.pop(key, None)


def canary(name, image, profile=None, engine=None, test=False, **kwargs):
    """The canary gate of pool ``name`` for ``image``: when the image id differs from the one
    the pool accepted, start one canary agent from it under the separate label
    ``<pool>-canary``, run the pool's ``canary_job`` (a shell command, as job
    ``<pool>-canary``) on it, remove the canary, and accept the image only if the build
    succeeds. Returns ``{needed, passed, result, console_tail}``; ``test=True`` only says
    whether a canary run is needed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.canary linux saltext-chain/jenkins-agent:2 label=linux \\
            canary_job='make selftest'
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    opts = _plan.pool_options(name, kwargs)
    _check_image(image)
    test = chain_errors.as_bool(test, "test")
    if opts["canary_job"] is None:
        raise SaltInvocationError("canary_job: the pool declares no canary job")
    _set_profiles(profile, engine)
    conf = _conf(profile)
    with _memory(conf, name, write=not test) as memory:
        img = __salt__["container.image_inspect"](image, profile=engine)
        new_id = img["Id"] if img else None
        accepted = memory.get("accepted")
        out = {
            "needed": accepted is not None and new_id != accepted,
            "passed": None,
            "result": None,
            "console_tail": None,
            "old": accepted,
            "new": new_id or image,
        }
        if not out["needed"] or test:
            return out
        label = f"{name}-canary"
        job = f"{name}-canary"
        node = f"{name}-canary-{secrets.token_hex(3)}"
        canary_opts = {**opts, "labels": [label], "executors": 1}
        _put_job(job, label, opts["canary_job"]["command"])
        secret = None
        try:
            secret = _launch(
                node,
                image,
                canary_opts,
                conf,
                name + "-canary",
                engine,
                _plan.description(name + "-canary", _owner()),
                fresh=True,
            )
            problem = _wait_online(node, node, opts["connect_timeout"], engine)
            if problem:
                out.update(
                    passed=False,
                    result="OFFLINE",
                    console_tail=_why_offline(node, node, engine, secret),
                )
                return out
            build = __salt__["jenkins.build"](
                job, wait=True, timeout=opts["canary_timeout"], tail=30, profile=profile
            )
            out.update(
                result=build.get("result"),
                console_tail=chain_errors.scrub(build.get("console_tail") or "", [secret]),
            )
            out["passed"] = build.get("result") == "SUCCESS"
            if out["passed"]:
                memory["accepted"] = new_id
                _clear_failures(memory)
            return out
        finally:
            with contextlib.suppress(Exception):
                _remove(node, node, engine)


def _put_job(job, label, command):
    xml = chain_jenkins_xml.shell_job_xml(
        "canary self-test of jenkins_agent pool (managed)", label, str(command)
    )
    profile = _PROFILE.get("jenkins")
    diff = __salt__["jenkins.job_compare"](job, config=xml, profile=profile)
    if not diff["exists"]:
        __salt__["jenkins.job_create"](job, config_xml=xml, profile=profile)
    elif diff["changed"]:
        __salt__["jenkins.job_update"](job, config_xml=xml, profile=profile)


def _carry_out(pool, opts, conf, engine, decision, result, memory, image):
    """Do what the pass decided (``chain_agents_plan.decide``): delete, mark temporarily
    offline, scale down, launch; record each outcome in ``result`` and what the next pass needs
    (a failure's log tail, launched nodes, launch failures) in ``memory``."""
    _delete_agents(decision["delete"], engine, result, memory)
    for verb, nodes, func in (
        ("disable", decision["disable"], _disable_agent),
        ("scale down", decision["scale_down"], _scale_down_agent),
    ):
        for node in nodes:
            try:
                func(node, engine, result, memory)
            except CommandExecutionError as err:
                result["errors"].append(f"{verb} {node}: {err}")
    if decision["launch"]:
        _launch_agents(pool, decision["launch"], image, opts, conf, engine, result, memory)


def _delete_agents(items, engine, result, memory):
    """Remove the planned nodes and containers; a failed agent's offline cause and log tail
    become ``last_failure`` (and ``broken`` when the pool is broken)."""
    for item in items:
        if item.get("failed"):
            tail = _why_offline(item["node"], item["container"], engine)
            memory["last_failure"] = f"{item['node']}: {item['reason']}\n{tail}"
            if memory.get("broken"):
                memory["broken"] = memory["last_failure"]
                result["broken"] = memory["broken"]
        try:
            _remove(item["node"], item["container"], engine)
            result["deleted"].append({k: item[k] for k in ("node", "container", "reason")})
        except CommandExecutionError as err:
            result["errors"].append(f"remove {item['node'] or item['container']}: {err}")


def _disable_agent(node, engine, result, memory):  # pylint: disable=unused-argument
    """Mark an agent temporarily offline: it takes no new build and is replaced when idle."""
    __salt__["jenkins.node_disable"](
        node, message="jenkins_agent: replaced when idle", profile=_PROFILE.get("jenkins")
    )
    result["disabled"].append(node)


def _scale_down_agent(node, engine, result, memory):
    """Mark an idle agent temporarily offline, look again, and remove it if it is still idle;
    one that took a build in between is enabled again."""
    profile = _PROFILE.get("jenkins")
    __salt__["jenkins.node_disable"](
        node, message="jenkins_agent: idle, scaling down", profile=profile
    )
    info = __salt__["jenkins.node_info"](node, profile=profile) or {}
    if info.get("idle", True):
        _remove(node, node, engine)
        result["scaled_down"].append(node)
        memory.get("nodes", {}).pop(node, None)
    else:  # it took a build between the read and the mark: it stays
        __salt__["jenkins.node_enable"](node, profile=profile)


def _launch_agents(pool, count, image, opts, conf, engine, result, memory):
    """Launch ``count`` agents named ``<pool>-<8 hex>`` side by side; a pass with a failed
    launch counts one failure (back-off, then broken)."""
    description = _plan.description(pool, _owner())
    nodes = [f"{pool}-{secrets.token_hex(4)}" for _ in range(count)]
    # Launches run side by side (at most launch <= max_starting of them): each is a few
    # controller and engine round trips, so a pool of N comes up in about the time of one.
    # Every thread runs in a copy of this call's context (the loader's dunders live there).
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(nodes)) as pool_:
        futures = {
            node: pool_.submit(
                contextvars.copy_context().run,
                _launch,
                node,
                image,
                opts,
                conf,
                pool,
                engine,
                description,
                fresh=True,
            )
            for node in nodes
        }
    failed = None
    for node, future in futures.items():
        try:
            future.result()
            result["launched"].append(node)
            memory.setdefault("nodes", {})[node] = {"first_seen": time.time()}
        except (CommandExecutionError, SaltInvocationError) as err:
            result["errors"].append(f"launch {node}: {err}")
            with contextlib.suppress(Exception):
                _remove(node, None, engine)
            failed = err
    if failed is not None:  # one failure per pass, as when the launches were one by one
        marks = _plan.failure_marks(
            memory.get("failures", 0), 1, f"launch failed: {failed}", opts, time.time()
        )
        memory.update(marks)
        if "broken" in marks:
            result["broken"] = memory["broken"]


def wait_pool(name, count, timeout=120, profile=None, engine=None):
    """Wait until ``count`` agents of pool ``name`` on this engine are online; returns the
    online node names (raises with the offline causes and log tails on timeout).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins_agent.wait_pool linux 2 timeout=60
    """
    _plan.check_name(name, "name")
    count = chain_errors.as_int(count, "count", minimum=0)
    timeout = chain_errors.as_number(timeout, "timeout", minimum=0)
    _set_profiles(profile, engine)
    conf = _conf(profile)
    deadline = time.monotonic() + timeout
    polls = _polls()
    while True:
        agents = [
            a for a in list_(pool=name, engine=engine).values() if a["controller"] == conf["url"]
        ]
        computers = _read.computers(conf)
        online = sorted(
            a["node"] for a in agents if not computers.get(a["node"], {"offline": True})["offline"]
        )
        if len(online) >= count:
            with _memory(conf, name) as memory:  # seen online: a later exit is no start failure
                for node in online:
                    memory.setdefault("nodes", {}).setdefault(node, {"first_seen": time.time()})[
                        "online_once"
                    ] = True
                if online:
                    _clear_failures(memory)
            return online
        if time.monotonic() >= deadline:
            waiting = [a["node"] for a in agents if a["node"] not in online]
            details = "\n".join(_why_offline(n, n, engine) for n in waiting[:3])
            raise CommandExecutionError(
                f"pool {name}: {len(online)} of {count} agent(s) online after {timeout} s\n"
                f"{details}"
            )
        time.sleep(next(polls))
