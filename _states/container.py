"""
Containers as Salt states: ``running``, ``stopped``, ``absent``.

.. versionadded:: 0.1.0

Only what a state declares is compared with what the engine reports (typed: values, lists,
sets, maps), so fields the daemon fills in never cause a recreate. Restart policy, memory, CPUs
and networks are changed in place; any other declared difference recreates the container. A new
image id under the same name recreates it too, so a ``container_image.present`` that rebuilt the
image converges its containers without ``watch`` and ``force``.

.. code-block:: yaml

    web:
      container.running:
        - image: 127.0.0.1:5000/app/web:1.2
        - command: ["httpd", "-f", "-p", "80"]
        - environment:
            APP_ENV: production
        - ports:
          - 127.0.0.1:8080:80
        - labels:
            app: web
        - restart_policy: unless-stopped
        - healthcheck:
            test: wget -q -O /dev/null http://127.0.0.1/ || exit 1
            interval: 2s
        - wait_healthy: true
        - health_timeout: 60
"""

import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "container"

WATCH_ACTIONS = ("recreate", "restart", "none")


def __virtual__():
    if "container.inspect" not in __salt__:
        return (False, "the container execution module did not load")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "comment": "", "changes": {}}


def _short(cid):
    return cid[:12] if cid else cid


def _watched_changed():
    """True when a state this one ``watch``es reported changes earlier in this run."""
    low = globals().get("__low__") or {}
    running = globals().get("__running__") or {}
    wanted = []
    for key in ("watch", "watch_any"):
        for req in low.get(key) or []:
            if isinstance(req, dict):
                wanted.extend(req.items())
    if not wanted:
        return False
    for tag, result in running.items():
        if not result.get("changes"):
            continue
        parts = tag.split("_|-")
        if len(parts) < 3:
            continue
        for mod, ref in wanted:
            if parts[0] == mod and ref in (parts[1], parts[2]) or mod == "sls" and result.get("__sls__") == ref:
                return True
    return False


def _stop_remove(name, stop_timeout, profile):
    __salt__["container.remove"](name, force=True, stop_timeout=stop_timeout, profile=profile)


def _replace(name, spec_args, profile, pull, stop_timeout):
    """Recreate: the replacement is created first under a temporary name, so a bad spec or a
    failed pull leaves the old container serving; only then the old one goes and the new one
    takes its name and starts."""
    staging = f"{name}.saltext-next"
    __salt__["container.remove"](staging, force=True, profile=profile)  # a failed earlier run
    cid = __salt__["container.create"](profile=profile, pull=pull, name=staging, **spec_args)
    _stop_remove(name, stop_timeout, profile)
    __salt__["container.rename"](cid, name, profile=profile)
    __salt__["container.start"](cid, profile=profile)
    return cid


def _create_start(name, spec_args, profile, pull):
    cid = __salt__["container.create"](profile=profile, pull=pull, name=name, **spec_args)
    __salt__["container.start"](cid, profile=profile)
    return cid


def _apply_in_place(name, fields, spec, cmp, profile, strict=False):
    if {"restart_policy", "memory", "cpus"} & set(fields):
        __salt__["container.update"](
            name,
            restart_policy=spec.get("restart_policy") if "restart_policy" in fields else None,
            memory=spec.get("memory") if "memory" in fields else None,
            cpus=spec["cpus"] / 10**9 if "cpus" in fields else None,
            profile=profile,
        )
    if "networks" in fields:
        _converge_networks(name, spec["networks"], cmp["changes"]["networks"]["old"] or {}, strict, profile)


def _converge_networks(name, wanted, current, strict, profile):
    """Connect what is missing, reconnect only what differs, disconnect extras when strict."""
    for net, want in wanted.items():
        have = current.get(net)
        if have is not None:
            same = set(want["aliases"]) <= set(have["aliases"]) and all(
                not want[k] or want[k] == have[k] for k in ("ipv4_address", "ipv6_address"))
            if same:
                continue
            __salt__["container.network_disconnect"](net, name, force=True, profile=profile)
        __salt__["container.network_connect"](
            net, name, aliases=want["aliases"] or None, ipv4_address=want["ipv4_address"],
            ipv6_address=want["ipv6_address"], profile=profile,
        )
    if strict:
        for net in sorted(set(current) - set(wanted) - {"bridge"}):
            __salt__["container.network_disconnect"](net, name, force=True, profile=profile)


def running(
    name,
    image,
    profile=None,
    pull="missing",
    comparisons=None,
    wait_healthy=False,
    health_timeout=60,
    probe_url=None,
    stop_timeout=10,
    watch_action="recreate",
    **kwargs,
):
    """
    Ensure a container exists with the declared configuration and is running.

    name
        Container name.
    image
        Image reference. A different image id behind the same name recreates the container.
    profile
        Engine connection profile (name or dict), see the ``container`` execution module.
    pull
        ``missing`` (default): pull the image if the engine lacks it; ``never``: fail instead.
    comparisons
        Per-field comparison override: ``strict``, ``ignore`` or ``allow_more_present``
        (``"*"`` for every field). Defaults: strict, except ``labels`` and ``networks``
        (``allow_more_present``); ``environment`` and ``labels`` include the image's own.
    wait_healthy
        Wait until the container is healthy (its Docker health check, else ``probe_url``) for
        up to ``health_timeout`` seconds; fail with its last log lines otherwise.
    probe_url
        HTTP URL on a published loopback port that answers < 400 when the service is ready.
    stop_timeout
        Seconds of grace before a stop or recreate kills the container.
    watch_action
        What a change in a ``watch``ed state does: ``recreate`` (default), ``restart`` or
        ``none``. It happens even when this state made other changes in the same run.

    Every other argument is a container option of ``container.create``: ``command``,
    ``entrypoint``, ``environment``, ``ports``, ``labels``, ``restart_policy``, ``binds``,
    ``tmpfs``, ``networks``, ``network_mode``, ``memory``, ``cpus``, ``user``, ``workdir``,
    ``hostname``, ``cap_add``, ``cap_drop``, ``log_config``, ``healthcheck``, ``privileged``,
    ``init``, ``shm_size``.

    .. code-block:: yaml

        agent1:
          container.running:
            - image: saltext-chain/jenkins-agent:latest
            - environment:
                JENKINS_URL: http://jenkins:8080/
            - networks:
                chain:
                  aliases: [agent1]
            - memory: 512m
            - restart_policy: unless-stopped
    """
    ret = _ret(name)
    spec_args = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    try:
        if watch_action not in WATCH_ACTIONS:
            raise SaltInvocationError(f"watch_action must be one of {', '.join(WATCH_ACTIONS)}")
        if pull not in ("missing", "never"):
            raise SaltInvocationError("pull must be 'missing' or 'never'")
        spec = __salt__["container.normalize"](image=image, **spec_args)
        test = __opts__["test"]
        image_data = __salt__["container.image_inspect"](image, profile=profile)
        if image_data is None:
            cmp = _image_missing(name, image, pull, profile)
            if cmp is None and not test:
                cmp = __salt__["container.compare"](name, spec, comparisons=comparisons, profile=profile)
        else:
            cmp = __salt__["container.compare"](
                name, spec, comparisons=comparisons, profile=profile, image_data=image_data
            )

        if cmp is None:  # no such container
            ret["changes"] = {"container": {"old": None, "new": name}}
            if test:
                ret["result"] = None
                ret["comment"] = f"Container {name} would be created from {image} and started"
                return ret
            cid = _create_start(name, spec_args | {"image": image}, profile, pull)
            ret["changes"]["container"]["new"] = f"{name} ({_short(cid)})"
            ret["comment"] = f"Container {name} created and started"
        elif cmp["recreate"]:
            ret["changes"] = dict(cmp["changes"])
            if test:
                ret["result"] = None
                ret["comment"] = f"Container {name} would be recreated ({', '.join(cmp['recreate'])} differ)"
                return ret
            cid = _replace(name, spec_args | {"image": image}, profile, pull, stop_timeout)
            ret["changes"]["container"] = {"old": _short(cmp["id"]), "new": _short(cid)}
            ret["comment"] = f"Container {name} recreated ({', '.join(cmp['recreate'])} differed)"
        else:
            done = []
            if cmp["updatable"]:
                ret["changes"] = dict(cmp["changes"])
                done.append(f"updated in place ({', '.join(cmp['updatable'])})")
            if not cmp["running"]:
                ret["changes"]["state"] = {"old": cmp["status"], "new": "running"}
                done.append("started")
            if not done:
                ret["comment"] = f"Container {name} is running as declared"
            elif test:
                ret["result"] = None
                ret["comment"] = f"Container {name} would be " + " and ".join(done)
                return ret
            else:
                if cmp["updatable"]:
                    modes = comparisons or {}
                    strict = (modes.get("networks") or modes.get("*")) == "strict"
                    _apply_in_place(name, cmp["updatable"], spec, cmp, profile, strict)
                if not cmp["running"]:
                    __salt__["container.start"](name, profile=profile)
                ret["comment"] = f"Container {name} " + " and ".join(done)
                # Salt skips mod_watch when this run already reported changes
                # (saltstack/salt#68958): honour the watch here instead.
                if ret["changes"] and watch_action != "none" and _watched_changed():
                    ret["comment"] += "; " + _watch(name, image, watch_action, stop_timeout, profile, pull, spec_args)
                    ret["changes"]["watch"] = {"old": None, "new": watch_action}

        if wait_healthy or probe_url:
            settled = cmp and cmp["running"] and cmp.get("health") in ("healthy", None)
            if not ret["changes"] and settled and not probe_url:
                return ret  # a running container without a health check, or a healthy one
            health = __salt__["container.wait_healthy"](
                name, timeout=health_timeout, probe_url=probe_url, profile=profile
            )
            ret["comment"] += f"; healthy ({health['status']}) after {health['waited']}s"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret["result"] = False
        ret["comment"] = str(err)
        if not ret["changes"] or __opts__["test"]:
            ret["changes"] = {}
    return ret


def _image_missing(name, image, pull, profile):
    """The engine lacks the image: pull it (or predict the pull under test), then compare."""
    if pull == "never":
        raise CommandExecutionError(f"image {image} is not present on the engine (pull=never)")
    if not __opts__["test"]:
        try:
            __salt__["container.image_pull"](image, profile=profile)
        except CommandExecutionError as err:
            raise CommandExecutionError(
                f"image {image} is not present on the engine and could not be pulled: {err}"
            ) from err
        return None  # the caller compares again with the pulled image
    existing = __salt__["container.inspect"](name, profile=profile)
    if existing is None:
        return None
    state = existing.get("State") or {}
    return {
        "id": existing["Id"], "running": bool(state.get("Running")), "status": state.get("Status"),
        "health": None, "updatable": [], "recreate": ["image"],
        "changes": {"image": {"old": existing["Config"].get("Image"), "new": f"{image} (to be pulled)"}},
    }


def _watch(name, image, action, stop_timeout, profile, pull, spec_args):
    if action == "restart":
        __salt__["container.restart"](name, timeout=stop_timeout, profile=profile)
        return "restarted because a watched state changed"
    cid = _replace(name, spec_args | {"image": image}, profile, pull, stop_timeout)
    return f"recreated ({_short(cid)}) because a watched state changed"


def mod_watch(name, sfun=None, **kwargs):
    """
    React to a change in a ``watch``ed state: ``running`` recreates (or restarts, per
    ``watch_action``) the container; ``stopped`` and ``absent`` do nothing more.

    .. code-block:: yaml

        web:
          container.running:
            - image: app/web:1.2
            - watch_action: restart
            - watch:
              - file: /srv/web/config.yml
    """
    if sfun != "running":
        return {"name": name, "result": True, "comment": f"watch has no effect on container.{sfun}", "changes": {}}
    ret = _ret(name)
    action = kwargs.get("watch_action", "recreate")
    profile = kwargs.get("profile")
    if action == "none":
        ret["comment"] = "watch_action is none"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"Container {name} would be {action}ed because a watched state changed"
        ret["changes"] = {"watch": {"old": None, "new": action}}
        return ret
    try:
        if __salt__["container.inspect"](name, profile=profile) is None:
            return running(name, **kwargs)
        spec_args = {k: v for k, v in kwargs.items() if k not in (
            "image", "profile", "pull", "comparisons", "wait_healthy", "health_timeout",
            "probe_url", "stop_timeout", "watch_action") and not k.startswith("__")}
        __salt__["container.normalize"](image=kwargs["image"], **spec_args)
        ret["comment"] = _watch(name, kwargs["image"], action, kwargs.get("stop_timeout", 10), profile,
                                kwargs.get("pull", "missing"), spec_args)
        ret["changes"] = {"watch": {"old": None, "new": action}}
        if kwargs.get("wait_healthy") or kwargs.get("probe_url"):
            __salt__["container.wait_healthy"](
                name, timeout=kwargs.get("health_timeout", 60), probe_url=kwargs.get("probe_url"), profile=profile
            )
    except (CommandExecutionError, SaltInvocationError) as err:
        ret["result"] = False
        ret["comment"] = str(err)
    return ret


def stopped(name, stop_timeout=10, profile=None):
    """
    Ensure a container exists and is not running.

    .. code-block:: yaml

        old-worker:
          container.stopped:
            - stop_timeout: 30
    """
    ret = _ret(name)
    try:
        current = __salt__["container.inspect"](name, profile=profile)
        if current is None:
            ret["result"] = False
            ret["comment"] = f"Container {name} does not exist"
            return ret
        state = current.get("State") or {}
        if not state.get("Running"):
            ret["comment"] = f"Container {name} is already stopped ({state.get('Status')})"
            return ret
        ret["changes"] = {"state": {"old": state.get("Status"), "new": "exited"}}
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = f"Container {name} would be stopped"
            return ret
        __salt__["container.stop"](name, timeout=stop_timeout, profile=profile)
        ret["comment"] = f"Container {name} stopped"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret


def absent(name, force=True, stop_timeout=10, volumes=False, profile=None):
    """
    Ensure a container does not exist (stopping it first when ``force``, the default).

    .. code-block:: yaml

        legacy-web:
          container.absent:
            - stop_timeout: 5
    """
    ret = _ret(name)
    try:
        current = __salt__["container.inspect"](name, profile=profile)
        if current is None:
            ret["comment"] = f"Container {name} is absent"
            return ret
        running_now = (current.get("State") or {}).get("Running")
        if running_now and not force:
            ret["result"] = False
            ret["comment"] = f"Container {name} is running; set force: true to remove it"
            return ret
        ret["changes"] = {"container": {"old": f"{name} ({_short(current['Id'])})", "new": None}}
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = f"Container {name} would be removed"
            return ret
        __salt__["container.remove"](
            name, force=True, volumes=volumes, stop_timeout=stop_timeout if running_now else None, profile=profile
        )
        ret["comment"] = f"Container {name} removed"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret
