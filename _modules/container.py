"""
Docker engine lifecycle through the docker SDK: containers, images, networks, volumes, registries.

The ``container`` module is three files sharing one virtual name (Salt merges their functions):
this one (profiles, the engine, containers, prune, events), ``container_images.py`` (images,
builds, registries) and ``container_networks.py`` (networks, volumes).

.. versionadded:: 0.1.0

:depends: docker >= 7.1 (the Python SDK); a Docker engine reachable from the minion.

This module succeeds Salt's removed ``docker`` module. It is a façade over ``_utils/``:
profiles (``chain_profiles``), the client and typed errors (``chain_docker_client``), the
container option table (``chain_docker_spec``), builds (``chain_docker_build``), registries
(``chain_registry``), networks and volumes (``chain_docker_objects``).

:configuration: Every function takes an optional ``profile``: a name under
    ``container:profiles`` (minion config, pillar or master config, read with ``config.get``),
    a dict of overrides (``profile={"name": "build-host", "timeout": 5}``), or nothing for
    ``container:default_profile`` (else ``DOCKER_HOST`` or the local socket). The client of a
    profile is created once per process (``__context__``) with a timeout always set. Registry
    credentials live under ``container:registries:<host[:port]>:{username, password}``; see
    ``docs/configuration.md``.

    .. code-block:: yaml

        container:
          profiles:
            default: {base_url: unix:///var/run/docker.sock, timeout: 60}
          registries:
            127.0.0.1:5000: {username: chain, password: secret}
"""

import contextlib
import functools
import io
import os
import re
import tarfile
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_docker_build,
        chain_docker_spec,
        chain_docker_types,
        chain_errors,
        chain_health,
        chain_profiles,
    )
    from saltext.chain.utils import chain_docker_client as _docker
    from saltext.chain.utils import chain_docker_objects as _objects
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_build
    import chain_docker_client as _docker
    import chain_docker_objects as _objects  # networks, volumes, list rows, label filters
    import chain_docker_spec
    import chain_docker_types
    import chain_errors
    import chain_health
    import chain_profiles


__virtualname__ = "container"
__func_alias__ = {"exec_": "exec"}

DEFAULT_TIMEOUT = chain_profiles.DOCKER_TIMEOUT
DEFAULT_BUILD_TIMEOUT = chain_profiles.DOCKER_BUILD_TIMEOUT
INPUTS_LABEL = chain_docker_build.INPUTS_LABEL
PROFILE_KEYS = chain_profiles.KEYS["container"]


def __virtual__():
    return _docker.virtual(__virtualname__)


# ---------------------------------------------------------------------------------------------
# Connection profiles and the client (chain_profiles, chain_docker_client)
# ---------------------------------------------------------------------------------------------


def connection(profile=None):
    """Return the resolved connection settings of a profile (named, inline or default), as
    every function of this module uses them: ``{name, base_url, version, timeout, tls,
    max_pool_size, user_agent, build_timeout}``. Beacons and other long-lived clients build
    theirs from it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.connection
        salt '*' container.connection profile=build-host
    """
    conf = chain_profiles.resolve("container", profile, __salt__["config.get"])
    return chain_profiles.docker_connection(conf, os.environ)


def _client(profile=None):
    """The low-level ``docker.APIClient`` for a profile, cached in ``__context__`` (shared by
    the ``container_images`` and ``container_networks`` files of this module)."""
    return _docker.client_for(profile, __salt__["config.get"], __context__, os.environ)


def _timestamp(value, field):
    number = chain_errors.as_number(value, field, minimum=0)
    return int(number) if number.is_integer() else number


# ---------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------


def version(profile=None):
    """Return the engine's version information (``docker version``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.version
        salt '*' container.version profile=build-host
    """
    return _docker.call("version", _client(profile).version)


def info(profile=None):
    """Return system-wide engine information (``docker info``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.info
    """
    return _docker.call("info", _client(profile).info)


def ping(profile=None):
    """Return True when the engine answers.

    CLI Example:

    .. code-block:: bash

        salt '*' container.ping
    """
    return bool(_docker.call("ping", _client(profile).ping))


# ---------------------------------------------------------------------------------------------
# Container options: the table in chain_docker_spec (validation, canonical form, comparison)
# ---------------------------------------------------------------------------------------------

#: Fields the engine changes on a live container (``docker update``; networks by connect).
UPDATABLE = chain_docker_spec.UPDATABLE
#: The modes a ``comparisons`` override may choose.
COMPARISON_MODES = chain_docker_spec.COMPARISON_MODES


def normalize(image=None, **kwargs):
    """
    Validate and normalise a container spec; raises ``SaltInvocationError`` on bad input.

    Returns the canonical form used for creation and comparison: only declared fields, under
    their public names (an alias such as ``working_dir`` or ``mem_limit`` is accepted), with
    ports as ``{"80/tcp": [[host_ip, host_port]]}``, durations in nanoseconds, sizes in bytes.
    The options are listed in the table of ``docs/container.md``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.normalize image=nginx ports='["127.0.0.1:8080:80"]'
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    return chain_docker_spec.normalize(image, kwargs)


def compare(name, spec, comparisons=None, profile=None, image_data=None):
    """
    Compare a container with a normalised spec (see :py:func:`normalize`), field by field.

    Only the fields the spec declares are compared. Returns ``None`` when the container does not
    exist, else ``{"running": bool, "image_id": id, "changes": {field: {old, new}},
    "updatable": [fields fixable in place], "recreate": [fields needing a new container]}``.

    comparisons
        Per-field override: ``strict``, ``ignore`` or ``allow_more_present``; ``"*"`` sets the
        default for every field. E.g. ``{"labels": "strict", "environment": "ignore"}``.
    image_data
        The image's inspect data when the caller already has it (saves one API read).

    CLI Example:

    .. code-block:: bash

        salt '*' container.compare web "$(salt-call --out=json container.normalize image=nginx)"
    """
    modes = chain_docker_spec.comparisons(comparisons)
    _objects.name(name)
    if not isinstance(spec, dict) or not isinstance(spec.get("image"), str):
        raise SaltInvocationError("spec: expected the output of container.normalize")
    inspected = inspect(name, profile=profile)
    if inspected is None:
        return None
    image_name = spec["image"]
    wanted_image = image_data or __salt__["container.image_inspect"](image_name, profile=profile)
    if wanted_image is None:
        raise CommandExecutionError(f"image {image_name} is not present on the engine")
    changes, recreate = {}, []
    if modes.get("image", modes.get("*", "strict")) != "ignore":
        if inspected.get("Image") != wanted_image["Id"]:
            changes["image_id"] = {"old": inspected.get("Image"), "new": wanted_image["Id"]}
            recreate.append("image_id")
        if (inspected.get("Config") or {}).get("Image") != image_name:
            changes["image"] = {"old": inspected["Config"].get("Image"), "new": image_name}
            recreate.append("image")
    fields, updatable, rebuild = chain_docker_spec.diff(
        spec, inspected, wanted_image.get("Config") or {}, modes
    )
    changes.update(fields)
    state = inspected.get("State") or {}
    return {
        "id": inspected["Id"],
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
        "image_id": wanted_image["Id"],
        "changes": changes,
        "updatable": updatable,
        "recreate": recreate + rebuild,
    }


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------


def inspect(name, profile=None):
    """Return a container's inspect data, or ``None`` when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' container.inspect web
    """
    _objects.name(name)
    return _docker.get_or_none(
        f"inspect container {name}", _client(profile).inspect_container, name
    )


def ps(all=False, labels=None, filters=None, profile=None):  # pylint: disable=redefined-builtin
    """
    List containers as ``{name: {id, image, image_id, status, state, labels, ports}}``;
    ``all`` includes stopped ones, ``labels`` (``["key", "key=value"]``) selects.

    CLI Example:

    .. code-block:: bash

        salt '*' container.ps all=True labels='["org.saltext-chain.role=agent"]'
    """
    if filters is not None and not isinstance(filters, dict):
        raise SaltInvocationError("filters: expected a mapping like {status: [running]}")
    filters, wanted = dict(filters or {}), _objects.label_filters(labels)
    filters.update({"label": wanted} if wanted else {})
    everything = chain_errors.as_bool(all, "all")
    rows = _docker.call(
        "list containers", _client(profile).containers, all=everything, filters=filters
    )
    return _objects.container_rows(rows)


def _create_args(client, spec, name):  # pylint: disable=unused-argument
    """The ``POST /containers/create`` body of a normalised spec (from the option table), with
    the client config's proxy variables prepended to the environment as the SDK does."""
    body = chain_docker_spec.create_body(spec)
    proxies = getattr(client, "_proxy_configs", None)
    if proxies:
        body["Env"] = proxies.inject_proxy_environment(body.get("Env") or [])
    return body


def create(image, name, profile=None, pull="missing", keep_volumes=None, **kwargs):
    """
    Create (not start) a container from declared options; returns its id.

    Accepts every option of the container option table (``docs/container.md``), under its
    name or an alias: {options}.

    pull
        ``missing`` (default) pulls the image when the engine lacks it; ``never`` fails instead.

    keep_volumes
        ``{container path: volume name}``: existing volumes mounted where the container would
        get a new anonymous volume (a ``/path`` of ``binds``, or an image ``VOLUME`` no bind
        covers). ``container.running`` passes the anonymous volumes of the container a
        recreate replaces, so that their data survives it (as docker compose does).

    CLI Example:

    .. code-block:: bash

        salt '*' container.create saltext-chain/busybox:latest web command='httpd -f -p 80'
    """
    spec = normalize(image=image, **kwargs)
    _objects.name(name)
    if pull not in ("missing", "never"):
        raise SaltInvocationError(f"pull: expected missing or never, got {pull!r}")
    keep = keep_volumes or {}
    if not isinstance(keep, dict) or not all(
        isinstance(k, str) and k.startswith("/") and isinstance(v, str) and v
        for k, v in keep.items()
    ):
        raise SaltInvocationError(
            f"keep_volumes: expected {{/container/path: volume name}}, got {keep_volumes!r}"
        )
    return _create_from_spec(spec, name, profile=profile, pull=pull, keep=keep)


create.__doc__ = create.__doc__.replace("{options}", chain_docker_spec.option_names())


def _ensure_image(image, profile, pull):
    """The image's inspect data, pulled first when the engine lacks it (``pull``)."""
    data = __salt__["container.image_inspect"](image, profile=profile)
    if data is None:
        pull_image = functools.partial(__salt__["container.image_pull"], image, profile=profile)
        _docker.pull_missing(image, pull, pull_image)
        data = __salt__["container.image_inspect"](image, profile=profile) or {}
    return data


def _create_from_spec(spec, name, profile=None, pull="missing", keep=None):
    client = _client(profile)
    image = _ensure_image(spec["image"], profile, pull)
    body = _create_args(client, spec, name)
    if keep:
        chain_docker_spec.keep_volumes(body, spec, image.get("Config") or {}, keep)
    created = _docker.call(
        f"create container {name}", client.create_container_from_config, body, name
    )
    cid = created["Id"]
    try:
        for net, opts in list((spec.get("networks") or {}).items())[1:]:
            __salt__["container.network_connect"](
                net, cid, profile=profile, **_endpoint_kwargs(opts)
            )
        _check_kept(spec, cid, created.get("Warnings"), image, profile)
    except CommandExecutionError:
        # never started: its anonymous volumes are as new as it is, and nobody else's
        _docker.call(f"remove container {name}", client.remove_container, cid, force=True, v=True)
        raise
    return cid


def _check_kept(spec, cid, warnings, image, profile):
    """The engine silently discards options its kernel or configuration lacks (e.g. blkio
    weights without a weight-capable I/O scheduler); such a container would differ from its
    declaration on every run. Refuse it, naming the options and the engine's warnings.
    ``image``: the image's inspect data, read once for the whole create."""
    declared = {k: v for k, v in spec.items() if k != "networks"}
    changes = chain_docker_spec.diff(
        declared, inspect(cid, profile=profile), image.get("Config") or {}, {}
    )[0]
    if changes:
        raise CommandExecutionError(
            f"the engine did not keep {', '.join(sorted(changes))} as declared"
            + (f" ({'; '.join(warnings)})" if warnings else "")
            + ": remove the option or configure the engine host to support it"
        )


def _endpoint_kwargs(opts):
    return {
        "aliases": opts.get("aliases") or None,
        "ipv4_address": opts.get("ipv4_address"),
        "ipv6_address": opts.get("ipv6_address"),
    }


def start(name, profile=None):
    """Start a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.start web
    """
    _docker.call(f"start container {name}", _client(profile).start, _objects.name(name))
    return True


def stop(name, timeout=10, profile=None):
    """Stop a container, killing it after ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt '*' container.stop web timeout=30
    """
    grace = chain_errors.as_int(timeout, "timeout", minimum=0)
    _docker.call(
        f"stop container {name}", _client(profile).stop, _objects.name(name), timeout=grace
    )
    return True


def restart(name, timeout=10, profile=None):
    """Restart a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.restart web
    """
    grace = chain_errors.as_int(timeout, "timeout", minimum=0)
    _docker.call(
        f"restart container {name}", _client(profile).restart, _objects.name(name), timeout=grace
    )
    return True


def remove(
    name,
    force=False,
    volumes=False,  # pylint: disable=redefined-outer-name
    stop_timeout=None,
    profile=None,
):
    """
    Remove a container; returns False when there was none. ``force`` removes it even when
    running (``stop_timeout`` seconds of grace first, when given). ``volumes`` removes its
    anonymous volumes with it, also those a recreate kept (which the engine counts as named),
    unless another container uses them.

    CLI Example:

    .. code-block:: bash

        salt '*' container.remove web force=True
    """
    _objects.name(name)
    force, volumes = chain_errors.as_bool(force, "force"), chain_errors.as_bool(volumes, "volumes")
    grace = (
        None
        if stop_timeout is None
        else chain_errors.as_int(stop_timeout, "stop_timeout", minimum=0)
    )
    client = _client(profile)
    if force and grace is not None:
        try:
            _docker.call(f"stop container {name}", client.stop, name, timeout=grace)
        except chain_errors.NotFound:
            return False
    kept = {}
    if volumes:  # mounted by name since a recreate: the engine's v=True leaves them
        kept = chain_docker_spec.anonymous_volumes(inspect(name, profile=profile) or {})
    removed = _docker.removed(
        f"remove container {name}", client.remove_container, name, v=volumes, force=force
    )
    for volume in sorted(set(kept.values())):
        with contextlib.suppress(CommandExecutionError):  # gone with it, or used elsewhere
            _docker.removed(f"remove volume {volume}", client.remove_volume, volume)
    return removed


def run(image, name, profile=None, pull="missing", **kwargs):
    """Create and start a container (the options of :py:func:`create`); returns its inspect data.

    CLI Example:

    .. code-block:: bash

        salt '*' container.run saltext-chain/busybox:latest web command='sleep 3600' \\
            ports='["127.0.0.1:8080:80"]' restart_policy=unless-stopped
    """
    cid = create(image, name, profile=profile, pull=pull, **kwargs)
    try:
        start(cid, profile=profile)
    except CommandExecutionError:
        remove(cid, force=True, profile=profile)
        raise
    return inspect(cid, profile=profile)


def rename(name, new_name, profile=None):
    """Rename a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.rename web web-old
    """
    _objects.name(new_name, "new_name")
    _docker.call(
        f"rename container {name} to {new_name}",
        _client(profile).rename,
        _objects.name(name),
        new_name,
    )
    return True


def update(name, restart_policy=None, memory=None, cpus=None, profile=None, **kwargs):
    """
    Change a live container's restart policy and resources without recreating it.

    Takes the options the table marks as changeable in place: {options}. Memory without
    ``memswap_limit`` lets swap follow it (unlimited), since a limit above swap is refused.

    CLI Example:

    .. code-block:: bash

        salt '*' container.update web memory=512m cpus=1.5 restart_policy=always
        salt '*' container.update web cpu_shares=512 pids_limit=200
    """
    _objects.name(name)
    declared = {"restart_policy": restart_policy, "memory": memory, "cpus": cpus}
    declared.update((k, v) for k, v in kwargs.items() if not k.startswith("__"))
    fields = chain_docker_spec.normalize_fields(declared)
    fixed = sorted(set(fields) - UPDATABLE | ({"networks"} & set(fields)))
    if fixed:
        raise SaltInvocationError(
            f"{', '.join(fixed)}: cannot be changed in place (use container.running to recreate); "
            f"update takes {chain_docker_spec.update_names()}"
        )
    body = chain_docker_spec.update_body(fields, fields)
    if body:
        client = _client(profile)
        # docker-py's update_container lacks NanoCpus and PidsLimit: post the documented body.
        url = client._url("/containers/{0}/update", name)  # pylint: disable=protected-access
        response = _docker.call(f"update container {name}", client._post_json, url, data=body)  # pylint: disable=protected-access
        _docker.call(f"update container {name}", client._raise_for_status, response)  # pylint: disable=protected-access
    return True


update.__doc__ = update.__doc__.replace("{options}", chain_docker_spec.update_names())


def exec_(name, cmd, environment=None, user=None, workdir=None, profile=None):
    """Run a command in a running container; returns ``{retcode, stdout, stderr}``. ``cmd`` is
    an argv list, or a string run by ``/bin/sh -c``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.exec web 'cat /etc/hostname'
        salt '*' container.exec web '["ls", "-l", "/"]' user=nobody workdir=/tmp
    """
    args = _objects.exec_args(_objects.name(name), cmd, environment, user, workdir)
    client, what = _client(profile), f"exec in {name}"
    created = _docker.call(what, client.exec_create, stdout=True, stderr=True, **args)
    out, err = _docker.call(what, _docker.ExecOutput(client).read, created["Id"])
    return {
        "retcode": _docker.call(what, client.exec_inspect, created["Id"]).get("ExitCode"),
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
    }


def logs(name, tail=100, since=None, timestamps=False, profile=None):
    """Return a container's recent log lines (stdout and stderr) as text: ``tail`` lines from
    the end (``all`` for everything), ``since`` a unix timestamp or a duration like ``10m``
    meaning "that long ago".

    CLI Example:

    .. code-block:: bash

        salt '*' container.logs web tail=20 since=5m
    """
    _objects.name(name)
    if tail != "all":
        tail = chain_errors.as_int(tail, "tail (a number of lines or 'all')", minimum=0)
    if isinstance(since, str) and not since.strip().isdigit():
        since = int(time.time() - chain_docker_types.duration_ns(since, "since") / 10**9)
    elif since is not None:
        since = chain_errors.as_int(since, "since (a unix timestamp or a duration like 10m)")
    timestamps = chain_errors.as_bool(timestamps, "timestamps")
    data = _docker.call(
        f"logs of {name}",
        _client(profile).logs,
        name,
        stdout=True,
        stderr=True,
        tail=tail,
        since=since,
        timestamps=timestamps,
    )
    return data.decode("utf-8", "replace")


def wait_healthy(name, timeout=60, probe_url=None, interval=0.5, profile=None):
    """Wait until a container is healthy; returns ``{healthy, status, waited}``.

    With a Docker health check, waits for ``healthy``; a container that is ``unhealthy`` fails
    once it is judged so over time (``chain_health.Watch``: unhealthy for its whole health
    window, or for twice its ``retries`` probes in a row), so a blip is waited for. With
    ``probe_url`` (an ``http://127.0.0.1:PORT/path`` URL of a published port), waits for an
    HTTP status below 400. Without either, waits until it runs.
    Raises ``CommandExecutionError`` with the last log lines on failure or timeout.

    CLI Example:

    .. code-block:: bash

        salt '*' container.wait_healthy web timeout=30
        salt '*' container.wait_healthy web probe_url=http://127.0.0.1:8080/health
    """
    _objects.name(name)
    timeout = chain_errors.as_number(timeout, "timeout (seconds)", minimum=0)
    interval = chain_errors.as_number(interval, "interval (seconds)", minimum=0)
    if probe_url is not None and not re.match(r"^https?://\S+$", str(probe_url)):
        raise SaltInvocationError(f"probe_url: expected an http(s):// URL, got {probe_url!r}")
    started, watch = time.monotonic(), chain_health.Watch()
    while True:
        data = inspect(name, profile=profile)
        if data is None:
            raise CommandExecutionError(f"container {name} does not exist")
        healthy, finished, status = _objects.health(
            data, probe_url, timeout, watch, time.monotonic()
        )
        if healthy:
            return {
                "healthy": True,
                "status": status,
                "waited": round(time.monotonic() - started, 3),
            }
        if not finished and time.monotonic() - started >= timeout:
            status += f" after {timeout:g}s"
            finished = True
        if finished:
            break
        time.sleep(interval)
    tail = logs(name, tail=20, profile=profile).rstrip()
    raise CommandExecutionError(
        f"container {name} is not healthy ({status}); last log lines:\n{tail or '(no output)'}"
    )


def copy_to(name, source, dest, profile=None):
    """Copy a local file or directory into a container at ``dest`` (a directory path).

    CLI Example:

    .. code-block:: bash

        salt '*' container.copy_to web /srv/site/index.html /usr/share/nginx/html
    """
    _objects.name(name)
    _objects.name(dest, "dest")
    if not isinstance(source, str) or not os.path.exists(source):
        raise SaltInvocationError(f"source {source} does not exist")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(source, arcname=os.path.basename(source.rstrip("/")))
    if not _docker.call(
        f"copy into {name}", _client(profile).put_archive, name, dest, buf.getvalue()
    ):
        raise CommandExecutionError(f"copy into {name}:{dest} was refused")
    return True


def copy_from(name, source, dest, profile=None):
    """Copy a file or directory out of a container into the local directory ``dest``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.copy_from web /etc/nginx/nginx.conf /tmp/
    """
    for value, field in ((name, "name"), (source, "source"), (dest, "dest")):
        _objects.name(value, field)
    stream, _ = _docker.call(f"copy from {name}", _client(profile).get_archive, name, source)
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        tar.extractall(dest, filter="data")
    return os.path.join(dest, os.path.basename(source.rstrip("/")))


def prune(
    containers=False,
    images=False,  # pylint: disable=redefined-outer-name
    networks=False,
    volumes=False,
    build=False,
    labels=None,
    profile=None,
):
    """Remove unused objects of the kinds asked for; returns what each prune reclaimed.
    ``labels`` limits it to objects carrying them (``["key=value"]``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.prune containers=True images=True labels='["saltext-chain.test=1"]'
    """
    asked = {
        kind: chain_errors.as_bool(value, kind)
        for kind, value in (
            ("containers", containers),
            ("images", images),
            ("networks", networks),
            ("volumes", volumes),
            ("build", build),
        )
    }
    wanted = _objects.label_filters(labels)
    client = _client(profile)
    out = {}
    for kind in ("containers", "images", "networks", "volumes"):
        if asked[kind]:
            out[kind] = _docker.call(
                f"prune {kind}",
                getattr(client, f"prune_{kind}"),
                filters={"label": wanted} if wanted else None,
            )
    if asked["build"]:
        out["build"] = _docker.call("prune build cache", client.prune_builds)
    return out


def events(since, until=None, filters=None, profile=None):
    """Return the engine events between two unix timestamps (``until`` defaults to now).

    CLI Example:

    .. code-block:: bash

        salt '*' container.events since=1700000000 filters='{"type": ["container"]}'
    """
    since = _timestamp(since, "since (a unix timestamp)")
    until = time.time() if until is None else _timestamp(until, "until (a unix timestamp)")
    if filters is not None and not isinstance(filters, dict):
        raise SaltInvocationError("filters: expected a mapping like {type: [container]}")
    return list(
        _docker.call(
            "events",
            _client(profile).events,
            since=since,
            until=until,
            filters=filters,
            decode=True,
        )
    )
