"""
The container option table: one row per option of ``container.running`` / ``container.create``.

Each row says what an option is called (its public name and the aliases it is also accepted
under: the docker SDK's, the old Salt ``docker_container.running``'s, and this project's earlier
spellings), how a declared value is validated and brought into one canonical form, where
``docker inspect`` reports it (which is also where the create request carries it: ``Config.X``
goes at the top of ``POST /containers/create``, ``HostConfig.X`` under ``HostConfig``), how two
values compare, and whether ``docker update`` changes it on a live container (the update body
uses the same ``HostConfig`` keys). Validation, comparison, create and update bodies, the
``mod_watch`` parameter split and the option table of ``docs/container.md`` are derived from
:data:`OPTIONS`; nothing else lists options.

Comparison kinds (``value``, ``set``, ``dict``, ``networks``) and modes (``strict``, ``ignore``,
``allow_more_present``) are defined in ``chain_docker_compare``.

Pure code: no Salt dunders, no docker SDK; the execution module does the I/O.
"""

import re
from collections.abc import Callable
from typing import Any, NamedTuple

try:
    from saltext.chain.utils import chain_docker_compare, chain_errors
    from saltext.chain.utils import chain_docker_types as t
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_compare
    import chain_docker_types as t
    import chain_errors

BadInput = chain_errors.BadInput

COMPARISON_MODES = chain_docker_compare.COMPARISON_MODES
differs = chain_docker_compare.differs
change = chain_docker_compare.change


class Option(NamedTuple):
    name: str  # public name: the key of the canonical spec, of `comparisons` and of `changes`
    aliases: tuple  # other names it is accepted under
    norm: Callable  # (value, field) -> canonical value; raises BadInput
    where: str  # "Config.Key" / "HostConfig.Key" in inspect and in the create body ("" = custom)
    kind: str = "value"  # value | set | dict | t.networks
    mode: str = "strict"  # default comparison mode
    update: bool = False  # changed in place (docker update; t.networks: connect/disconnect)
    doc: str = ""
    unset: Any = None  # what inspect reports when the option was never set
    to_api: Callable = None  # canonical -> API value (default: as is)
    from_api: Callable = None  # inspect value -> canonical (default: as is, None -> unset)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

_dict = {"kind": "dict", "unset": {}}
_set = {"kind": "set", "unset": []}
_nonneg = t.integer(minimum=0)
_int_u = {"unset": 0, "from_api": lambda v: int(v or 0)}
Row = Option


def _or(empty):
    return lambda v: v or empty


def _flag(name, where, doc="", aliases=()):
    """A boolean, False when never set."""
    return Option(name, aliases, t.boolean, where, unset=False, from_api=bool, doc=doc)


def _text(name, where, doc="", aliases=(), norm=t.string, update=False):
    """A string, "" when never set."""
    return Option(name, aliases, norm, where, unset="", from_api=_or(""), update=update, doc=doc)


def _strings(name, where, doc, aliases=(), norm=t.str_set):
    """An order-free list of strings."""
    return Option(name, aliases, norm, where, **_set, from_api=lambda v: sorted(v or []), doc=doc)


def _ordered(name, where, doc, aliases=()):
    """An ordered list of strings."""
    return Option(name, aliases, t.str_list, where, unset=[], doc=doc)


def _map(name, where, doc, aliases=(), norm=t.str_map, **more):
    """A string map compared key by key."""
    return Option(
        name, aliases, norm, where, **_dict, from_api=lambda v: dict(v or {}), doc=doc, **more
    )


def _caps(name, where, doc=""):
    """Linux capabilities, ``CAP_`` prefix optional."""
    return Option(name, (), t.caps, where, **_set, from_api=lambda v: t.caps(v or [], ""), doc=doc)


def _resource(name, aliases, norm, where, doc):
    """A resource limit: a number, 0 when unset, changed in place by ``docker update``."""
    return Option(name, aliases, norm, where, **_int_u, update=True, doc=doc)


def _rates(name, per_device, where, key, doc):
    """A per-device blkio option: ``{device: rate}`` <-> ``[{Path, <key>}]``."""
    rates = {"to_api": t.rates_api(key), "from_api": t.rates_read(key)}
    return Option(name, (), t.device_rates(per_device), where, **_dict, **rates, doc=doc)


OPTIONS = (
    # Command and process
    Row("command", ("cmd",), t.argv, "Config.Cmd", unset=[], doc="argv list or shell-split string"),
    Row("entrypoint", (), t.argv, "Config.Entrypoint", unset=[], doc="argv list or string"),
    Row(
        "environment",
        ("env",),
        t.str_map,
        "Config.Env",
        **_dict,
        doc="map or list of K=V; image's merged",
        to_api=lambda v: [f"{k}={x}" for k, x in v.items()],
        from_api=t.env_read,
    ),
    _text("user", "Config.User", "user[:group] or uid[:gid]"),
    _text("workdir", "Config.WorkingDir", "absolute path", ("working_dir",), t.abs_path),
    _flag("tty", "Config.Tty", "allocate a pseudo-TTY"),
    _flag("stdin_open", "Config.OpenStdin", "keep stdin open", ("interactive",)),
    _text("stop_signal", "Config.StopSignal", "e.g. SIGINT", norm=t.signal),
    Row(
        "stop_timeout",
        (),
        _nonneg,
        "Config.StopTimeout",
        doc="seconds the engine waits on `docker stop` (container.create only; see notes)",
    ),
    _flag("init", "HostConfig.Init", "run an init as PID 1"),
    Row(
        "healthcheck",
        (),
        t.healthcheck,
        "Config.Healthcheck",
        unset={},
        from_api=lambda v: dict(v or {}),
        doc="{test, interval, timeout, start_period, retries}",
    ),
    _map(
        "labels",
        "Config.Labels",
        "map or list of K=V; image's merged",
        ("label",),
        mode="allow_more_present",
    ),
    # Restart and lifetime
    Row(
        "restart_policy",
        ("restart",),
        t.restart_policy,
        "HostConfig.RestartPolicy",
        update=True,
        from_api=t.restart_read,
        doc="no, always, unless-stopped, on-failure[:N]",
    ),
    _flag("auto_remove", "HostConfig.AutoRemove", "remove the container when it exits", ("rm",)),
    # Network
    Row(
        "ports",
        ("port_bindings", "publish"),
        t.ports,
        "HostConfig.PortBindings",
        **_dict,
        to_api=t.ports_api,
        from_api=t.ports_read,
        doc="['[HOST_IP:]HOST_PORT:PORT[/proto]'] or map",
    ),
    Row(
        "expose",
        (),
        t.expose,
        "Config.ExposedPorts",
        **_set,
        mode="allow_more_present",
        to_api=lambda v: {p: {} for p in v},
        from_api=lambda v: sorted(v or {}),
        doc="ports exposed without publishing; image's merged",
    ),
    _flag(
        "publish_all_ports",
        "HostConfig.PublishAllPorts",
        "publish every exposed port on a random host port",
        ("publish_all",),
    ),
    Row(
        "networks",
        (),
        t.networks,
        "NetworkSettings.Networks",
        kind="networks",
        unset={},
        mode="allow_more_present",
        update=True,
        from_api=t.networks_read,
        doc="names, or {net: {aliases, ipv4_address, ipv6_address}}",
    ),
    Row(
        "network_mode",
        (),
        t.string,
        "HostConfig.NetworkMode",
        doc="bridge, host, none, container:NAME",
    ),
    _flag("network_disabled", "Config.NetworkDisabled", "no networking"),
    _text("hostname", "Config.Hostname"),
    _text("domainname", "Config.Domainname"),
    _text("mac_address", "Config.MacAddress", "API < 1.44 (Docker < 25)", norm=t.mac),
    _ordered("dns", "HostConfig.Dns", "list of resolver addresses (ordered)"),
    _ordered("dns_search", "HostConfig.DnsSearch", "search domains (ordered)"),
    _ordered(
        "dns_opt",
        "HostConfig.DnsOptions",
        "resolv.conf options, e.g. ndots:2",
        ("dns_option", "dns_options"),
    ),
    _strings(
        "extra_hosts",
        "HostConfig.ExtraHosts",
        "{host: ip} or ['host:ip']",
        ("add_host",),
        t.extra_hosts,
    ),
    Row(
        "links",
        ("link",),
        t.links,
        "HostConfig.Links",
        **_set,
        from_api=t.links_read,
        to_api=lambda v: list(v),
        doc="legacy links: {container: alias} or ['container:alias']",
    ),
    # Storage
    Row(
        "binds", ("volumes", "volume"), t.binds, "", **_set, doc="['SRC:DST[:MODE]', '/anonymous']"
    ),
    _strings("volumes_from", "HostConfig.VolumesFrom", "containers[:ro|rw]"),
    _text("volume_driver", "HostConfig.VolumeDriver"),
    _map(
        "tmpfs",
        "HostConfig.Tmpfs",
        "{path: mount options} or ['path:options']",
        norm=lambda v, f: t.str_map(v, f, sep=":"),
    ),
    _flag(
        "read_only", "HostConfig.ReadonlyRootfs", "read-only root filesystem", ("read_only_rootfs",)
    ),
    Row("shm_size", (), t.size_bytes, "HostConfig.ShmSize", **_int_u, doc="size of /dev/shm"),
    _map(
        "storage_opt",
        "HostConfig.StorageOpt",
        "storage driver options (needs overlay2 on xfs+pquota for size)",
    ),
    # Privileges and isolation
    _flag("privileged", "HostConfig.Privileged"),
    _caps("cap_add", "HostConfig.CapAdd", "capabilities, CAP_ prefix optional"),
    _caps("cap_drop", "HostConfig.CapDrop"),
    _strings(
        "security_opt",
        "HostConfig.SecurityOpt",
        "e.g. no-new-privileges, apparmor=PROFILE",
        ("security_opts",),
    ),
    Row(
        "devices",
        ("device",),
        t.devices,
        "HostConfig.Devices",
        **_set,
        to_api=t.devices_api,
        from_api=t.devices_read,
        doc="['/dev/HOST[:/dev/CONTAINER[:rwm]]']",
    ),
    _strings("device_cgroup_rules", "HostConfig.DeviceCgroupRules", "e.g. 'c 1:3 mr'"),
    Row(
        "group_add",
        ("groups",),
        t.str_set,
        "HostConfig.GroupAdd",
        **_set,
        from_api=lambda v: sorted(str(g) for g in v or []),
        doc="additional groups",
    ),
    _map("sysctls", "HostConfig.Sysctls", "{key: value}", ("sysctl",)),
    Row(
        "ulimits",
        ("ulimit",),
        t.ulimits,
        "HostConfig.Ulimits",
        **_dict,
        to_api=t.ulimits_api,
        from_api=t.ulimits_read,
        doc="{nofile: '1024:2048'} or ['nofile=1024:2048']",
    ),
    _text("ipc_mode", "HostConfig.IpcMode", "private, shareable, host, container:NAME", ("ipc",)),
    _text("pid_mode", "HostConfig.PidMode", "host, container:NAME", ("pid",)),
    _text("uts_mode", "HostConfig.UTSMode", "host"),
    _text("userns_mode", "HostConfig.UsernsMode", "host", ("user_ns_mode",)),
    _text("cgroupns", "HostConfig.CgroupnsMode", "host or private", ("cgroupns_mode",)),
    _text("cgroup_parent", "HostConfig.CgroupParent"),
    Row("runtime", (), t.string, "HostConfig.Runtime", doc="OCI runtime, e.g. runc"),
    _flag("oom_kill_disable", "HostConfig.OomKillDisable", "cgroup v1 only"),
    Row("oom_score_adj", (), t.integer(-1000, 1000), "HostConfig.OomScoreAdj", **_int_u),
    # Resources (most change in place)
    _resource(
        "memory", ("mem_limit",), t.size_bytes, "HostConfig.Memory", "memory limit, e.g. 512m"
    ),
    _resource(
        "mem_reservation",
        ("memory_reservation",),
        t.size_bytes,
        "HostConfig.MemoryReservation",
        "soft memory limit",
    ),
    _resource(
        "memswap_limit",
        ("memory_swap",),
        t.swap,
        "HostConfig.MemorySwap",
        "memory + swap, or -1 for unlimited",
    ),
    Row(
        "mem_swappiness",
        (),
        t.integer(0, 100),
        "HostConfig.MemorySwappiness",
        doc="0-100, cgroup v1",
    ),
    _resource("cpus", (), t.cpus, "HostConfig.NanoCpus", "number of CPUs, e.g. 1.5"),
    _resource("cpu_shares", (), _nonneg, "HostConfig.CpuShares", "relative weight"),
    _resource("cpu_period", (), _nonneg, "HostConfig.CpuPeriod", "microseconds"),
    _resource(
        "cpu_quota", (), t.integer(minimum=-1), "HostConfig.CpuQuota", "microseconds per period"
    ),
    _text("cpuset_cpus", "HostConfig.CpusetCpus", "e.g. 0-1", ("cpuset",), update=True),
    _text("cpuset_mems", "HostConfig.CpusetMems", "e.g. 0", update=True),
    _resource(
        "pids_limit",
        (),
        t.integer(minimum=-1),
        "HostConfig.PidsLimit",
        "max processes; 0 or -1 unlimited",
    ),
    _resource(
        "blkio_weight", (), t.integer(0, 1000), "HostConfig.BlkioWeight", "10-1000 (cgroup v1)"
    ),
    _rates(
        "blkio_weight_device",
        t.integer(10, 1000),
        "HostConfig.BlkioWeightDevice",
        "Weight",
        "{/dev/sda: 300}",
    ),
    _rates(
        "device_read_bps", t.size_bytes, "HostConfig.BlkioDeviceReadBps", "Rate", "{/dev/sda: 10m}"
    ),
    _rates(
        "device_write_bps",
        t.size_bytes,
        "HostConfig.BlkioDeviceWriteBps",
        "Rate",
        "{/dev/sda: 10m}",
    ),
    _rates(
        "device_read_iops", _nonneg, "HostConfig.BlkioDeviceReadIOps", "Rate", "{/dev/sda: 1000}"
    ),
    _rates(
        "device_write_iops", _nonneg, "HostConfig.BlkioDeviceWriteIOps", "Rate", "{/dev/sda: 1000}"
    ),
    # Logging
    Row(
        "log_config",
        (),
        t.log_config,
        "HostConfig.LogConfig",
        from_api=t.log_read,
        doc="{driver, options}; or log_driver + log_opt",
    ),
)
del Row

# Value types other modules use too.
argv = t.argv
duration_ns = t.duration_ns
size_bytes = t.size_bytes
str_map = t.str_map

BY_NAME = {o.name: o for o in OPTIONS}
ALIASES = {a: o.name for o in OPTIONS for a in o.aliases}
UPDATABLE = frozenset(o.name for o in OPTIONS if o.update)
# The old state's log_driver/log_opt are the two halves of one option.
_LOG_PARTS = {"log_driver": "driver", "log_opt": "options"}
ACCEPTED = frozenset(BY_NAME) | frozenset(ALIASES) | frozenset(_LOG_PARTS)


# ---------------------------------------------------------------------------------------------
# Derived: names, validation, canonical spec
# ---------------------------------------------------------------------------------------------


def resolve_names(kwargs):
    """{declared name: value} -> {public name: value}; unknown names and one option given
    under two names are refused. ``log_driver``/``log_opt`` become ``log_config``."""
    out, given = {}, {}
    log_parts = {}
    for key, value in kwargs.items():
        if key in _LOG_PARTS:
            log_parts[_LOG_PARTS[key]] = value
            key, value = "log_config", None
        name = ALIASES.get(key, key)
        if name not in BY_NAME:
            continue
        if name in given and given[name] != key:
            raise BadInput(f"{key}: the same option as {given[name]}; give only one of them")
        given[name] = key
        out[name] = value
    if log_parts:
        if out.get("log_config") is not None:
            raise BadInput("log_driver/log_opt: give either log_config or log_driver and log_opt")
        options = log_parts.get("options")
        out["log_config"] = {
            "driver": log_parts.get("driver", "json-file"),
            "options": {} if options is None else options,
        }
    unknown = sorted(set(kwargs) - ACCEPTED)
    if unknown:
        raise BadInput(
            f"unknown container argument(s): {', '.join(unknown)} "
            f"(known: image, {', '.join(sorted(BY_NAME))}; see docs/container.md)"
        )
    return out


def normalize_fields(kwargs):
    """Validate declared options (any accepted name) -> {public name: canonical value}."""
    declared_as = {ALIASES.get(k, k): k for k in kwargs}  # errors name what the caller wrote
    return {
        name: BY_NAME[name].norm(value, declared_as.get(name, name))
        for name, value in resolve_names(kwargs).items()
        if value is not None
    }


def normalize(image, kwargs):
    """Validate every declared option and return the canonical spec (only declared fields)."""
    if not image or not isinstance(image, str):
        raise BadInput("image: a container needs an image name")
    spec = {"image": image, **normalize_fields(kwargs)}
    _check_conflicts(spec)
    return spec


def _check_conflicts(spec):
    mode = spec.get("network_mode", "")
    if "networks" in spec and mode in ("host", "none"):
        raise BadInput("networks cannot be combined with network_mode host or none")
    if "cpus" in spec and ("cpu_quota" in spec or "cpu_period" in spec):
        raise BadInput(
            "cpus cannot be combined with cpu_quota/cpu_period (the engine refuses both)"
        )
    if spec.get("auto_remove") and spec.get("restart_policy", {}).get("Name", "no") != "no":
        raise BadInput("auto_remove cannot be combined with a t.restart_policy other than no")
    for field in ("hostname", "mac_address", "dns", "extra_hosts", "ports", "publish_all_ports"):
        if field in spec and mode.startswith("container:"):
            raise BadInput(f"{field} cannot be combined with network_mode {mode}")


def comparisons(value):
    """Validate a ``comparisons`` mapping ({field or alias or '*' or 'image': mode})."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"comparisons: expected a mapping of field -> mode, got {value!r}")
    out = {}
    for field, mode in value.items():
        name = ALIASES.get(field, field)
        if name not in BY_NAME and name not in ("*", "image"):
            raise BadInput(f"comparisons: unknown field {field!r}")
        if mode not in COMPARISON_MODES:
            raise BadInput(
                f"comparisons: {field}: mode must be one of {', '.join(COMPARISON_MODES)}"
            )
        out[name] = mode
    return out


# ---------------------------------------------------------------------------------------------
# Derived: what the engine reports, in the same canonical form
# ---------------------------------------------------------------------------------------------


def _at(doc, where):
    section, _, key = where.partition(".")
    return (doc.get(section) or {}).get(key)


_ANONYMOUS = re.compile(r"[0-9a-f]{64}")


def engine_named(volume):
    """True for a volume name the engine made up (64 hex digits): an anonymous volume's, or
    one a recreate kept."""
    return bool(_ANONYMOUS.fullmatch(volume or ""))


def anonymous_volumes(inspected):
    """``{container path: volume name}`` of a container's anonymous volumes: those the engine
    named itself (64 hex digits) at a path its image or its ``binds`` declare anonymous
    (``Config.Volumes``), including ones a recreate kept (:func:`keep_volumes`)."""
    paths = _at(inspected, "Config.Volumes") or {}
    return {
        m["Destination"]: m["Name"]
        for m in inspected.get("Mounts") or []
        if m.get("Type") == "volume"
        and engine_named(m.get("Name"))
        and m.get("Destination") in paths
    }


def keep_volumes(body, spec, image_config, keep):
    """Mount the volumes of ``keep`` (``{path: name}``, the anonymous volumes of the container
    a recreate replaces) where the new container gets an anonymous volume at the same path
    (declared ``/path``, or an image ``VOLUME`` no bind covers), as docker compose does: its
    data survives the recreate. Returns the names kept."""
    declared = dict(spec)
    declared.setdefault("binds", [])
    wanted = expected("binds", declared, image_config)
    anonymous = {dst: mode for src, dst, mode in wanted if not src}
    kept = {dst: keep[dst] for dst in anonymous if dst in keep}
    for dst, volume in kept.items():
        body["HostConfig"].setdefault("Binds", []).append(f"{volume}:{dst}:{anonymous[dst]}")
        body.setdefault("Volumes", {})[dst] = {}
    return set(kept.values())


def actual(name, inspected):
    """The canonical value of option ``name`` in a container's inspect data."""
    opt = BY_NAME[name]
    if name == "binds":
        have = t.binds(((inspected.get("HostConfig") or {}).get("Binds")) or [])
        paths = _at(inspected, "Config.Volumes") or {}
        # an anonymous volume a recreate kept is bound by its engine-made name: still anonymous
        have = [
            ("", dst, mode) if engine_named(src) and dst in paths else (src, dst, mode)
            for src, dst, mode in have
        ]
        bound = {dst for _, dst, _ in have}
        anon = [("", p, "rw") for p in paths if p not in bound]
        return sorted(set(have + anon))
    raw = _at(inspected, opt.where)
    if opt.from_api:
        return opt.from_api(raw)
    return opt.unset if raw is None else raw


def expected(name, spec, image_config):
    """The declared value, completed with what the image supplies when the engine merges it."""
    value = spec[name]
    if name == "environment":
        return {**t.env_read(image_config.get("Env")), **value}
    if name == "labels":
        return {**(image_config.get("Labels") or {}), **value}
    if name == "expose":
        return sorted(set(value) | set(image_config.get("ExposedPorts") or {}))
    if name == "healthcheck":
        base = dict(image_config.get("Healthcheck") or {})
        return {**base, **value} if value.get("Test") != ["NONE"] else value
    if name == "binds":
        declared = {dst for _, dst, _ in value}
        image_vols = [("", p, "rw") for p in image_config.get("Volumes") or {} if p not in declared]
        return sorted(set(value) | set(image_vols))
    return value


def mode_of(name, modes):
    return modes.get(name) or modes.get("*") or BY_NAME[name].mode


def diff(spec, inspected, image_config, modes):
    """Compare every declared option (not the image) with a container's inspect data.

    Returns ``(changes, updatable, recreate)``."""
    changes, updatable, recreate = {}, [], []
    for name in spec:
        if name == "image":
            continue
        opt = BY_NAME[name]
        want, have = expected(name, spec, image_config), actual(name, inspected)
        if differs(opt.kind, mode_of(name, modes), want, have):
            changes[name] = change(opt.kind, want, have, name)
            (updatable if opt.update else recreate).append(name)
    return changes, updatable, recreate


# ---------------------------------------------------------------------------------------------
# Derived: request bodies
# ---------------------------------------------------------------------------------------------


def create_body(spec):
    """The ``POST /containers/create`` body of a canonical spec (t.networks: the first one only;
    the others are connected after creation)."""
    body = {"Image": spec["image"], "HostConfig": {}}
    for name, value in spec.items():
        if name in ("image", "networks"):
            continue
        opt = BY_NAME[name]
        if name == "binds":
            body["HostConfig"]["Binds"] = [f"{s}:{d}:{m}" for s, d, m in value if s]
            body["Volumes"] = {d: {} for s, d, _ in value if not s}
            continue
        api = opt.to_api(value) if opt.to_api else value
        section, _, key = opt.where.partition(".")
        target = body["HostConfig"] if section == "HostConfig" else body
        target[key] = api
    exposed = {p: {} for p in spec.get("ports") or {}}
    if exposed or "ExposedPorts" in body:
        body["ExposedPorts"] = {**exposed, **(body.get("ExposedPorts") or {})}
    nets = spec.get("networks") or {}
    first = next(iter(nets), None)
    if first and "network_mode" not in spec:
        body["HostConfig"]["NetworkMode"] = first
    if first:
        body["NetworkingConfig"] = {"EndpointsConfig": {first: t.endpoint(nets[first])}}
    return body


def update_body(spec, fields):
    """The ``POST /containers/{id}/update`` body changing ``fields`` of a canonical spec."""
    body = {}
    for name in fields:
        opt = BY_NAME[name]
        if not opt.update or name == "networks":
            continue
        body[opt.where.partition(".")[2]] = opt.to_api(spec[name]) if opt.to_api else spec[name]
    if "Memory" in body and "MemorySwap" not in body:
        # A memory limit above the swap limit is refused: swap follows unless declared.
        body["MemorySwap"] = spec.get("memswap_limit", -1)
    return body


# ---------------------------------------------------------------------------------------------
# Derived: documentation
# ---------------------------------------------------------------------------------------------


def option_names():
    """'command (cmd), entrypoint, …' for docstrings."""
    return ", ".join(f"{o.name} ({', '.join(o.aliases)})" if o.aliases else o.name for o in OPTIONS)


def option_table():
    """The Markdown table of every option (docs/container.md)."""
    rows = [
        "| option | also accepted as | inspect field | compared | default mode | in place "
        "| notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in OPTIONS:
        where = o.where or "HostConfig.Binds + Config.Volumes"
        aliases = ", ".join(f"`{a}`" for a in o.aliases) + (
            ", `log_driver` + `log_opt`" if o.name == "log_config" else ""
        )
        rows.append(
            f"| `{o.name}` | {aliases} | `{where}` | {o.kind} | {o.mode} | "
            f"{'yes' if o.update else ''} | {o.doc} |"
        )
    return "\n".join(rows)


def update_names():
    """'restart_policy, memory (mem_limit), …': the options ``docker update`` changes."""
    return ", ".join(
        f"{o.name} ({', '.join(o.aliases)})" if o.aliases else o.name
        for o in OPTIONS
        if o.update and o.name != "networks"
    )
