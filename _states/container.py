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

import contextlib
import functools
import inspect

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_docker_client,
        chain_docker_spec,
        chain_errors,
        chain_health,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_client
    import chain_docker_spec
    import chain_errors
    import chain_health
    import chain_state_args
    import chain_states


__virtualname__ = "container"

WATCH_ACTIONS = ("recreate", "restart", "none")


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "container.inspect")


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
            if (
                parts[0] == mod
                and ref in (parts[1], parts[2])
                or mod == "sls"
                and result.get("__sls__") == ref
            ):
                return True
    return False


def _replace(name, spec_args, profile, pull, stop_timeout, steps):
    """Recreate: the replacement is created first under a temporary name, so a bad spec or a
    failed pull leaves the old container serving; only then the old one goes and the new one
    takes its name and starts. Each step done is appended to ``steps``."""
    staging = _drop_staging(name, profile, steps)
    anonymous = chain_docker_spec.anonymous_volumes(
        __salt__["container.inspect"](name, profile=profile) or {}
    )
    cid = __salt__["container.create"](
        profile=profile, pull=pull, name=staging, keep_volumes=anonymous, **spec_args
    )
    steps.append(f"created {staging} ({_short(cid)})")
    __salt__["container.remove"](name, force=True, stop_timeout=stop_timeout, profile=profile)
    steps.append(f"removed the old {name}")
    _settle_anonymous(anonymous, cid, profile, steps)
    __salt__["container.rename"](cid, name, profile=profile)
    steps.append(f"renamed {staging} to {name}")
    __salt__["container.start"](cid, profile=profile)
    steps.append(f"started {name}")
    return cid


def _settle_anonymous(anonymous, cid, profile, steps):
    """The old container's anonymous volumes (``{path: name}``) after a recreate: the new one
    mounts those at a path where it declares an anonymous volume too (their data survives, as
    with docker compose); the others are removed, never left as orphans."""
    new = __salt__["container.inspect"](cid, profile=profile) or {}
    kept = set(chain_docker_spec.anonymous_volumes(new).values())
    if kept:
        paths = sorted(p for p, v in anonymous.items() if v in kept)
        steps.append(f"kept its anonymous volume(s) at {', '.join(paths)}")
    for path, volume in sorted(anonymous.items()):
        if volume not in kept:
            with contextlib.suppress(CommandExecutionError):  # in use elsewhere: not an orphan
                __salt__["container.volume_remove"](volume, profile=profile)
                steps.append(f"removed its anonymous volume at {path} (no longer declared)")


def _drop_staging(name, profile, steps):
    """Remove the staging container an interrupted recreate left (the engine killed between
    its steps: the old container may even be gone already); returns the staging name."""
    staging = f"{name}.saltext-next"
    # never renamed, so never started as ``name``: its anonymous volumes are its own, and new
    if __salt__["container.remove"](staging, force=True, volumes=True, profile=profile):
        steps.append(f"removed {staging} left by an earlier run")
    return staging


def _create_start(name, spec_args, profile, pull, steps):
    _drop_staging(name, profile, steps)
    cid = __salt__["container.create"](profile=profile, pull=pull, name=name, **spec_args)
    steps.append(f"created {name} ({_short(cid)})")
    __salt__["container.start"](cid, profile=profile)
    steps.append(f"started {name}")
    return cid


def _apply_in_place(name, fields, spec_args, cmp, profile, strict, steps):
    """``docker update`` the declared values of the differing in-place fields (the table says
    which), then converge networks by connect/disconnect."""
    declared = chain_docker_spec.resolve_names(spec_args)
    values = {f: declared[f] for f in fields if f != "networks"}
    if "memory" in values and "memswap_limit" in declared:
        values["memswap_limit"] = declared["memswap_limit"]  # swap stays as declared
    if values:
        __salt__["container.update"](name, profile=profile, **values)
        steps.append(f"updated {', '.join(sorted(values))}")
    if "networks" in fields:
        wanted = chain_docker_spec.BY_NAME["networks"].norm(declared["networks"], "networks")
        _converge_networks(
            name, wanted, cmp["changes"]["networks"]["old"] or {}, strict, profile, steps
        )


def _converge_networks(name, wanted, current, strict, profile, steps):
    """Connect what is missing, reconnect only what differs, disconnect extras when strict."""
    for net, want in wanted.items():
        have = current.get(net)
        if have is not None:
            same = set(want["aliases"]) <= set(have["aliases"]) and all(
                not want[k] or want[k] == have[k] for k in ("ipv4_address", "ipv6_address")
            )
            if same:
                continue
            __salt__["container.network_disconnect"](net, name, force=True, profile=profile)
            steps.append(f"disconnected from {net}")
        __salt__["container.network_connect"](
            net,
            name,
            aliases=want["aliases"] or None,
            ipv4_address=want["ipv4_address"],
            ipv6_address=want["ipv6_address"],
            profile=profile,
        )
        steps.append(f"connected to {net}")
    if strict:
        for net in sorted(set(current) - set(wanted) - {"bridge"}):
            __salt__["container.network_disconnect"](net, name, force=True, profile=profile)
            steps.append(f"disconnected from {net}")


def _check_state_args(watch_action, pull, wait_healthy, health_timeout, probe_url, stop_timeout):
    """The state's own arguments, validated before anything is read from the engine."""
    if watch_action not in WATCH_ACTIONS:
        raise SaltInvocationError(f"watch_action must be one of {', '.join(WATCH_ACTIONS)}")
    if pull not in ("missing", "never"):
        raise SaltInvocationError("pull must be 'missing' or 'never'")
    chain_errors.as_bool(wait_healthy, "wait_healthy")
    chain_errors.as_number(health_timeout, "health_timeout", minimum=0)
    chain_errors.as_int(stop_timeout, "stop_timeout", minimum=0)
    if probe_url is not None and not (isinstance(probe_url, str) and probe_url.startswith("http")):
        raise SaltInvocationError(f"probe_url: expected an http(s) URL, got {probe_url!r}")


@chain_state_args.checked(accepts=chain_docker_spec.ACCEPTED)
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
        Seconds of grace (default 10) between the stop signal and the kill when a stop or
        recreate stops the container. A PID 1 that ignores ``SIGTERM`` (a shell script,
        ``sleep``) waits all of it on every recreate: declare ``init: true``.
    watch_action
        What a change in a ``watch``ed state does: ``recreate`` (default), ``restart`` or
        ``none``. It happens even when this state made other changes in the same run. Under
        ``test=True`` only a ``watch`` on the ``container_image.present`` that rebuilds the
        image previews the recreation (nothing is built under test, so the image id is still
        the old one).

    Every other argument is a container option of the option table in ``docs/container.md``
    (the docker SDK's and Salt's old ``docker_container.running`` names are accepted as
    aliases): {options}. ``stop_timeout`` here is the grace above, not the container's own
    ``StopTimeout`` (which ``container.create`` sets).

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
    ret = chain_states.new_ret(name)
    spec_args = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    steps = []
    try:
        _check_state_args(watch_action, pull, wait_healthy, health_timeout, probe_url, stop_timeout)
        wait_healthy = chain_errors.as_bool(wait_healthy, "wait_healthy")
        spec = __salt__["container.normalize"](image=image, **spec_args)
        chain_docker_spec.comparisons(comparisons)
        test = __opts__["test"]
        cmp = _compare(name, image, spec, comparisons, pull, profile, test)
        how = {
            "profile": profile,
            "pull": pull,
            "stop_timeout": stop_timeout,
            "comparisons": comparisons,
            "watch_action": watch_action,
        }
        if cmp is None:  # no such container
            planned = _create(ret, name, spec_args | {"image": image}, how, test, steps)
        elif cmp["recreate"]:
            planned = _recreate(ret, name, cmp, spec_args | {"image": image}, how, test, steps)
        else:
            planned = _converge_in_place(ret, name, image, cmp, spec_args, how, test, steps)
        if planned:
            return ret  # test mode: what would be done

        if wait_healthy or probe_url:
            settled = chain_health.is_ready(cmp)
            if not ret["changes"] and settled and not probe_url:
                return ret  # a running container without a health check, or a healthy one
            health = __salt__["container.wait_healthy"](
                name, timeout=health_timeout, probe_url=probe_url, profile=profile
            )
            ret["comment"] += f"; healthy ({health['status']}) after {health['waited']}s"
    except chain_states.CAUGHT as err:
        _failed(ret, err, steps)
    return ret


def _compare(name, image, spec, comparisons, pull, profile, test):
    """``container.compare``'s answer for the declared ``spec`` (None: no such container),
    the image pulled first when the engine lacks it (predicted under test)."""
    image_data = _image_data(image, profile)
    if image_data is None:
        cmp = _image_missing(name, image, pull, profile)
        if cmp is None and not test:
            cmp = __salt__["container.compare"](
                name, spec, comparisons=comparisons, profile=profile
            )
        return cmp
    return __salt__["container.compare"](
        name, spec, comparisons=comparisons, profile=profile, image_data=image_data
    )


def _create(ret, name, create_args, how, test, steps):
    """No such container: create and start it. True when ``ret`` is final (test mode)."""
    ret["changes"] = {"container": {"old": None, "new": name}}
    if test:
        ret["result"] = None
        ret["comment"] = (
            f"Container {name} would be created from {create_args['image']} and started"
        )
        return True
    cid = _create_start(name, create_args, how["profile"], how["pull"], steps)
    ret["changes"]["container"]["new"] = f"{name} ({_short(cid)})"
    ret["comment"] = f"Container {name} created and started"
    return False


def _recreate(ret, name, cmp, create_args, how, test, steps):
    """A declared difference that cannot change in place: replace the container. True when
    ``ret`` is final (test mode)."""
    ret["changes"] = dict(cmp["changes"])
    if test:
        ret["result"] = None
        ret["comment"] = (
            f"Container {name} would be recreated ({', '.join(cmp['recreate'])} differ)"
        )
        return True
    cid = _replace(name, create_args, how["profile"], how["pull"], how["stop_timeout"], steps)
    ret["changes"]["container"] = {"old": _short(cmp["id"]), "new": _short(cid)}
    ret["comment"] = f"Container {name} recreated ({', '.join(cmp['recreate'])} differed)"
    return False


def _converge_in_place(ret, name, image, cmp, spec_args, how, test, steps):
    """Update the in-place fields, start a stopped container, and honour a ``watch`` whose
    state changed. True when ``ret`` is final (test mode)."""
    done = []
    if cmp["updatable"]:
        ret["changes"] = dict(cmp["changes"])
        done.append(f"updated in place ({', '.join(cmp['updatable'])})")
    if not cmp["running"]:
        ret["changes"]["state"] = {"old": cmp["status"], "new": "running"}
        done.append("started")
    if not done:
        ret["comment"] = f"Container {name} is running as declared"
        return False
    if test:
        ret["result"] = None
        ret["comment"] = f"Container {name} would be " + " and ".join(done)
        return True
    profile = how["profile"]
    if cmp["updatable"]:
        modes = chain_docker_spec.comparisons(how["comparisons"])
        strict = chain_docker_spec.mode_of("networks", modes) == "strict"
        _apply_in_place(name, cmp["updatable"], spec_args, cmp, profile, strict, steps)
    if not cmp["running"]:
        __salt__["container.start"](name, profile=profile)
        steps.append(f"started {name}")
    ret["comment"] = f"Container {name} " + " and ".join(done)
    # Salt skips mod_watch when this run already reported changes
    # (saltstack/salt#68958): honour the watch here instead.
    action = how["watch_action"]
    if ret["changes"] and action != "none" and _watched_changed():
        ret["comment"] += "; " + _watch(
            name, image, action, how["stop_timeout"], profile, how["pull"], spec_args, steps
        )
        ret["changes"]["watch"] = {"old": None, "new": action}
    return False


#: ``__context__`` key of the image reads shared by the ``container`` states of one run.
_RUN_IMAGES = "chain.container.run_images"


def _image_data(image, profile):
    """The image's inspect data, read once per image and profile by consecutive ``container``
    states of one state run (a no-op highstate then costs one read per container, not two).

    ``state.apply`` gives every run its own ``__context__``, so nothing outlives the run. An entry
    is reused only while every state that ran since it was read is a ``container`` state: those
    never retag an image they found present. Any other state in between (``cmd.run`` of a
    ``docker pull``, a ``container_image.present`` build) makes the next read a fresh one.
    """
    running = globals().get("__running__")
    if running is None:  # not inside a state run: nothing to scope a cache to
        return __salt__["container.image_inspect"](image, profile=profile)
    cache = __context__.setdefault(_RUN_IMAGES, {})
    key = repr((image, profile))
    hit = cache.get(key)
    if hit is not None and all(
        tag in hit["seen"] or tag.startswith("container_|-") for tag in running
    ):
        return hit["data"]
    data = __salt__["container.image_inspect"](image, profile=profile)
    if data is not None:
        cache[key] = {"data": data, "seen": frozenset(running)}
    return data


def _failed(ret, err, steps):
    """A failure: the comment names it, then the steps already done; ``changes`` keep what
    was declared to change and every step done (none done: ``{}``)."""
    changes = dict(ret["changes"], steps={"old": None, "new": list(steps)}) if steps else {}
    return chain_states.fail(ret, err, done=steps, changes=changes)


running.__doc__ = running.__doc__.replace("{options}", chain_docker_spec.option_names())
#: running's own parameters; every other argument is a container option (the table).
_RUNNING_PARAMS = inspect.signature(running).parameters
_RUNNING_PARAMS = {k: p for k, p in _RUNNING_PARAMS.items() if p.kind is not p.VAR_KEYWORD}


def _image_missing(name, image, pull, profile):
    """The engine lacks the image: pull it (or predict the pull under test), then compare."""
    if pull == "never" or not __opts__["test"]:
        pull_image = functools.partial(__salt__["container.image_pull"], image, profile=profile)
        chain_docker_client.pull_missing(image, pull, pull_image)
        return None  # the caller compares again with the pulled image
    existing = __salt__["container.inspect"](name, profile=profile)
    if existing is None:
        return None
    state = existing.get("State") or {}
    return {
        "id": existing["Id"],
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": None,
        "updatable": [],
        "recreate": ["image"],
        "changes": {
            "image": {"old": existing["Config"].get("Image"), "new": f"{image} (to be pulled)"}
        },
    }


def _watch(name, image, action, stop_timeout, profile, pull, spec_args, steps):
    if action == "restart":
        __salt__["container.restart"](name, timeout=stop_timeout, profile=profile)
        steps.append(f"restarted {name}")
        return "restarted because a watched state changed"
    cid = _replace(name, spec_args | {"image": image}, profile, pull, stop_timeout, steps)
    return f"recreated ({_short(cid)}) because a watched state changed"


_WATCH_VERB = {"recreate": "recreated", "restart": "restarted"}


def mod_watch(name, sfun=None, **kwargs):
    """
    React to a change in a ``watch``ed state: ``running`` recreates (or restarts, per
    ``watch_action``) the container; ``stopped`` and ``absent`` do nothing more.

    The state's arguments are ``running``'s: its own parameters, and the container options of
    the option table.

    .. code-block:: yaml

        web:
          container.running:
            - image: app/web:1.2
            - watch_action: restart
            - watch:
              - file: /srv/web/config.yml
    """
    ret = chain_states.new_ret(name)
    if sfun != "running":
        ret["comment"] = f"watch has no effect on container.{sfun}"
        return ret
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    problem = running.rules.problem(kwargs)  # running's arguments, checked as running does
    if problem is not None:
        return chain_states.fail(ret, problem, changes={})
    own = {
        k: kwargs.get(k, p.default)
        for k, p in _RUNNING_PARAMS.items()
        if k not in ("name", "image")
    }
    spec_args = {k: v for k, v in kwargs.items() if k not in _RUNNING_PARAMS}
    action, profile = own["watch_action"], own["profile"]
    steps = []
    try:
        _check_state_args(
            own["watch_action"],
            own["pull"],
            own["wait_healthy"],
            own["health_timeout"],
            own["probe_url"],
            own["stop_timeout"],
        )
        __salt__["container.normalize"](image=kwargs.get("image"), **spec_args)
        chain_docker_spec.comparisons(own["comparisons"])
        __salt__["container.connection"](profile)  # the profile too, before any engine read
        if action == "none":
            ret["comment"] = "watch_action is none"
            return ret
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = (
                f"Container {name} would be {_WATCH_VERB[action]} because a watched state changed"
            )
            ret["changes"] = {"watch": {"old": None, "new": action}}
            return ret
        if __salt__["container.inspect"](name, profile=profile) is None:
            return running(name, **kwargs)
        ret["comment"] = _watch(
            name,
            kwargs["image"],
            action,
            own["stop_timeout"],
            profile,
            own["pull"],
            spec_args,
            steps,
        )
        ret["changes"] = {"watch": {"old": None, "new": action}}
        if own["wait_healthy"] or own["probe_url"]:
            __salt__["container.wait_healthy"](
                name, timeout=own["health_timeout"], probe_url=own["probe_url"], profile=profile
            )
    except chain_states.CAUGHT as err:
        _failed(ret, err, steps)
    return ret


@chain_state_args.checked()
def stopped(name, stop_timeout=10, profile=None):
    """
    Ensure a container exists and is not running.

    .. code-block:: yaml

        old-worker:
          container.stopped:
            - stop_timeout: 30
    """
    ret = chain_states.new_ret(name)
    try:
        chain_errors.as_int(stop_timeout, "stop_timeout", minimum=0)
        current = __salt__["container.inspect"](name, profile=profile)
        if current is None:
            return chain_states.fail(ret, f"Container {name} does not exist")
        state = current.get("State") or {}
        if not state.get("Running"):
            ret["comment"] = f"Container {name} is already stopped ({state.get('Status')})"
            return ret
        ret["changes"] = {"state": {"old": state.get("Status"), "new": "exited"}}
        stop = functools.partial(
            __salt__["container.stop"], name, timeout=stop_timeout, profile=profile
        )
        chain_states.act(ret, __opts__["test"], f"Container {name}", "stopped", stop)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def absent(name, force=True, stop_timeout=10, volumes=False, profile=None):
    """
    Ensure a container does not exist (stopping it first when ``force``, the default).

    .. code-block:: yaml

        legacy-web:
          container.absent:
            - stop_timeout: 5
    """
    ret = chain_states.new_ret(name)
    try:
        force = chain_errors.as_bool(force, "force")
        volumes = chain_errors.as_bool(volumes, "volumes")
        chain_errors.as_int(stop_timeout, "stop_timeout", minimum=0)
        current = __salt__["container.inspect"](name, profile=profile)
        if current is None:
            ret["comment"] = f"Container {name} is absent"
            return ret
        running_now = (current.get("State") or {}).get("Running")
        if running_now and not force:
            return chain_states.fail(
                ret, f"Container {name} is running; set force: true to remove it"
            )
        ret["changes"] = {"container": {"old": f"{name} ({_short(current['Id'])})", "new": None}}
        remove = functools.partial(
            __salt__["container.remove"],
            name,
            force=True,
            volumes=volumes,
            stop_timeout=stop_timeout if running_now else None,
            profile=profile,
        )
        chain_states.act(ret, __opts__["test"], f"Container {name}", "removed", remove)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
