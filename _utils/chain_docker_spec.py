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

from collections.abc import Callable
from typing import Any, NamedTuple

try:
    from saltext.chain.utils import chain_docker_compare, chain_errors
    from saltext.chain.utils import chain_docker_types as t
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
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
_sdict = {"kind": "dict", "unset": {}, "from_api": lambda v: dict(v or {})}
_nonneg = t.integer(minimum=0)
_bool_f = {"unset": False, "from_api": bool}
_str_u = {"unset": "", "from_api": lambda v: v or ""}
_int_u = {"unset": 0, "from_api": lambda v: int(v or 0)}
Row = Option

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
    Row("user", (), t.string, "Config.User", **_str_u, doc="user[:group] or uid[:gid]"),
    Row(
        "workdir", ("working_dir",), t.abs_path, "Config.WorkingDir", **_str_u, doc="absolute path"
    ),
    Row("tty", (), t.boolean, "Config.Tty", **_bool_f, doc="allocate a pseudo-TTY"),
    Row(
        "stdin_open",
        ("interactive",),
        t.boolean,
        "Config.OpenStdin",
        **_bool_f,
        doc="keep stdin open",
    ),
    Row("stop_signal", (), t.signal, "Config.StopSignal", **_str_u, doc="e.g. SIGINT"),
    Row(
        "stop_timeout",
        (),
        _nonneg,
        "Config.StopTimeout",
        doc="seconds the engine waits on `docker stop` (container.create only; see notes)",
    ),
    Row("init", (), t.boolean, "HostConfig.Init", **_bool_f, doc="run an init as PID 1"),
    Row(
        "healthcheck",
        (),
        t.healthcheck,
        "Config.Healthcheck",
        unset={},
        from_api=lambda v: dict(v or {}),
        doc="{test, interval, timeout, start_period, retries}",
    ),
    Row(
        "labels",
        ("label",),
        t.str_map,
        "Config.Labels",
        **_sdict,
        mode="allow_more_present",
        doc="map or list of K=V; image's merged",
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
    Row(
        "auto_remove",
        ("rm",),
        t.boolean,
        "HostConfig.AutoRemove",
        **_bool_f,
        doc="remove the container when it exits",
    ),
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
    Row(
        "publish_all_ports",
        ("publish_all",),
        t.boolean,
        "HostConfig.PublishAllPorts",
        **_bool_f,
        doc="publish every exposed port on a random host port",
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
    Row(
        "network_disabled", (), t.boolean, "Config.NetworkDisabled", **_bool_f, doc="no networking"
    ),
    Row("hostname", (), t.string, "Config.Hostname", **_str_u),
    Row("domainname", (), t.string, "Config.Domainname", **_str_u),
    Row("mac_address", (), t.mac, "Config.MacAddress", **_str_u, doc="API < 1.44 (Docker < 25)"),
    Row(
        "dns",
        (),
        t.str_list,
        "HostConfig.Dns",
        unset=[],
        doc="list of resolver addresses (ordered)",
    ),
    Row(
        "dns_search",
        (),
        t.str_list,
        "HostConfig.DnsSearch",
        unset=[],
        doc="search domains (ordered)",
    ),
    Row(
        "dns_opt",
        ("dns_option", "dns_options"),
        t.str_list,
        "HostConfig.DnsOptions",
        unset=[],
        doc="resolv.conf options, e.g. ndots:2",
    ),
    Row(
        "extra_hosts",
        ("add_host",),
        t.extra_hosts,
        "HostConfig.ExtraHosts",
        **_set,
        from_api=lambda v: sorted(v or []),
        doc="{host: ip} or ['host:ip']",
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
    Row(
        "volumes_from",
        (),
        t.str_set,
        "HostConfig.VolumesFrom",
        **_set,
        from_api=lambda v: sorted(v or []),
        doc="containers[:ro|rw]",
    ),
    Row("volume_driver", (), t.string, "HostConfig.VolumeDriver", **_str_u),
    Row(
        "tmpfs",
        (),
        lambda v, f: t.str_map(v, f, sep=":"),
        "HostConfig.Tmpfs",
        **_sdict,
        doc="{path: mount options} or ['path:options']",
    ),
    Row(
        "read_only",
        ("read_only_rootfs",),
        t.boolean,
        "HostConfig.ReadonlyRootfs",
        **_bool_f,
        doc="read-only root filesystem",
    ),
    Row("shm_size", (), t.size_bytes, "HostConfig.ShmSize", **_int_u, doc="size of /dev/shm"),
    Row(
        "storage_opt",
        (),
        t.str_map,
        "HostConfig.StorageOpt",
        **_sdict,
        doc="storage driver options (needs overlay2 on xfs+pquota for size)",
    ),
    # Privileges and isolation
    Row("privileged", (), t.boolean, "HostConfig.Privileged", **_bool_f),
    Row(
        "cap_add",
        (),
        t.caps,
        "HostConfig.CapAdd",
        **_set,
        from_api=lambda v: t.caps(v or [], ""),
        doc="capabilities, CAP_ prefix optional",
    ),
    Row(
        "cap_drop", (), t.caps, "HostConfig.CapDrop", **_set, from_api=lambda v: t.caps(v or [], "")
    ),
    Row(
        "security_opt",
        ("security_opts",),
        t.str_set,
        "HostConfig.SecurityOpt",
        **_set,
        from_api=lambda v: sorted(v or []),
        doc="e.g. no-new-privileges, apparmor=PROFILE",
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
    Row(
        "device_cgroup_rules",
        (),
        t.str_set,
        "HostConfig.DeviceCgroupRules",
        **_set,
        from_api=lambda v: sorted(v or []),
        doc="e.g. 'c 1:3 mr'",
    ),
    Row(
        "group_add",
        ("groups",),
        t.str_set,
        "HostConfig.GroupAdd",
        **_set,
        from_api=lambda v: sorted(str(g) for g in v or []),
        doc="additional groups",
    ),
    Row("sysctls", ("sysctl",), t.str_map, "HostConfig.Sysctls", **_sdict, doc="{key: value}"),
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
    Row(
        "ipc_mode",
        ("ipc",),
        t.string,
        "HostConfig.IpcMode",
        **_str_u,
        doc="private, shareable, host, container:NAME",
    ),
    Row("pid_mode", ("pid",), t.string, "HostConfig.PidMode", **_str_u, doc="host, container:NAME"),
    Row("uts_mode", (), t.string, "HostConfig.UTSMode", **_str_u, doc="host"),
    Row("userns_mode", ("user_ns_mode",), t.string, "HostConfig.UsernsMode", **_str_u, doc="host"),
    Row(
        "cgroupns",
        ("cgroupns_mode",),
        t.string,
        "HostConfig.CgroupnsMode",
        **_str_u,
        doc="host or private",
    ),
    Row("cgroup_parent", (), t.string, "HostConfig.CgroupParent", **_str_u),
    Row("runtime", (), t.string, "HostConfig.Runtime", doc="OCI runtime, e.g. runc"),
    Row(
        "oom_kill_disable",
        (),
        t.boolean,
        "HostConfig.OomKillDisable",
        **_bool_f,
        doc="cgroup v1 only",
    ),
    Row("oom_score_adj", (), t.integer(-1000, 1000), "HostConfig.OomScoreAdj", **_int_u),
    # Resources (most change in place)
    Row(
        "memory",
        ("mem_limit",),
        t.size_bytes,
        "HostConfig.Memory",
        **_int_u,
        update=True,
        doc="memory limit, e.g. 512m",
    ),
    Row(
        "mem_reservation",
        ("memory_reservation",),
        t.size_bytes,
        "HostConfig.MemoryReservation",
        **_int_u,
        update=True,
        doc="soft memory limit",
    ),
    Row(
        "memswap_limit",
        ("memory_swap",),
        t.swap,
        "HostConfig.MemorySwap",
        **_int_u,
        update=True,
        doc="memory + swap, or -1 for unlimited",
    ),
    Row(
        "mem_swappiness",
        (),
        t.integer(0, 100),
        "HostConfig.MemorySwappiness",
        doc="0-100, cgroup v1",
    ),
    Row(
        "cpus",
        (),
        t.cpus,
        "HostConfig.NanoCpus",
        **_int_u,
        update=True,
        doc="number of CPUs, e.g. 1.5",
    ),
    Row(
        "cpu_shares",
        (),
        _nonneg,
        "HostConfig.CpuShares",
        **_int_u,
        update=True,
        doc="relative weight",
    ),
    Row(
        "cpu_period", (), _nonneg, "HostConfig.CpuPeriod", **_int_u, update=True, doc="microseconds"
    ),
    Row(
        "cpu_quota",
        (),
        t.integer(minimum=-1),
        "HostConfig.CpuQuota",
        **_int_u,
        update=True,
        doc="microseconds per period",
    ),
    Row(
        "cpuset_cpus",
        ("cpuset",),
        t.string,
        "HostConfig.CpusetCpus",
        **_str_u,
        update=True,
        doc="e.g. 0-1",
    ),
    Row("cpuset_mems", (), t.string, "HostConfig.CpusetMems", **_str_u, update=True, doc="e.g. 0"),
    Row(
        "pids_limit",
        (),
        t.integer(minimum=-1),
        "HostConfig.PidsLimit",
        **_int_u,
        update=True,
        doc="max processes; 0 or -1 unlimited",
    ),
    Row(
        "blkio_weight",
        (),
        t.integer(0, 1000),
        "HostConfig.BlkioWeight",
        **_int_u,
        update=True,
        doc="10-1000 (cgroup v1)",
    ),
    Row(
        "blkio_weight_device",
        (),
        t.device_rates(t.integer(10, 1000)),
        "HostConfig.BlkioWeightDevice",
        **_dict,
        to_api=t.rates_api("Weight"),
        from_api=t.rates_read("Weight"),
        doc="{/dev/sda: 300}",
    ),
    Row(
        "device_read_bps",
        (),
        t.device_rates(t.size_bytes),
        "HostConfig.BlkioDeviceReadBps",
        **_dict,
        to_api=t.rates_api("Rate"),
        from_api=t.rates_read("Rate"),
        doc="{/dev/sda: 10m}",
    ),
    Row(
        "device_write_bps",
        (),
        t.device_rates(t.size_bytes),
        "HostConfig.BlkioDeviceWriteBps",
        **_dict,
        to_api=t.rates_api("Rate"),
        from_api=t.rates_read("Rate"),
        doc="{/dev/sda: 10m}",
    ),
    Row(
        "device_read_iops",
        (),
        t.device_rates(_nonneg),
        "HostConfig.BlkioDeviceReadIOps",
        **_dict,
        to_api=t.rates_api("Rate"),
        from_api=t.rates_read("Rate"),
        doc="{/dev/sda: 1000}",
    ),
    Row(
        "device_write_iops",
        (),
        t.device_rates(_nonneg),
        "HostConfig.BlkioDeviceWriteIOps",
        **_dict,
        to_api=t.rates_api("Rate"),
        from_api=t.rates_read("Rate"),
        doc="{/dev/sda: 1000}",
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


def actual(name, inspected):
    """The canonical value of option ``name`` in a container's inspect data."""
    opt = BY_NAME[name]
    if name == "binds":
        have = t.binds(((inspected.get("HostConfig") or {}).get("Binds")) or [])
        bound = {dst for _, dst, _ in have}
        anon = [("", p, "rw") for p in (_at(inspected, "Config.Volumes") or {}) if p not in bound]
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
