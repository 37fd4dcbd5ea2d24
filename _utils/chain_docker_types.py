"""
Value types of container options: validate one declared value and bring it into the canonical
form that ``docker inspect`` reports (with the converters between the two where they differ).

Every function raises :class:`~saltext.chain.utils.chain_errors.BadInput` naming the field and
what it accepts. Used by the option table in ``chain_docker_spec``; pure code.
"""

import re
import shlex

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

BadInput = chain_errors.BadInput

# ---------------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------------


def string(value, field):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput(f"{field}: expected a string, got {value!r}")
    return str(value)


def abs_path(value, field):
    text = string(value, field)
    if not text.startswith("/"):
        raise BadInput(f"{field}: expected an absolute path, got {value!r}")
    return text


def boolean(value, field):
    return chain_errors.as_bool(value, field)


def integer(minimum=None, maximum=None):
    return lambda value, field: chain_errors.as_int(value, field, minimum, maximum)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.IGNORECASE)
_SIZE_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_bytes(value, field):
    """'256m', '1g', '512k', 1048576 -> bytes (the docker CLI's binary units)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise BadInput(
            f"{field}: expected a size like '256m', '1g' or a number of bytes, got {value!r}"
        )
    return int(float(match.group(1)) * _SIZE_UNIT[match.group(2).lower()])


def swap(value, field):
    """memswap_limit: a size, or -1 for unlimited swap."""
    if value in (-1, "-1"):
        return -1
    return size_bytes(value, field)


def cpus(value, field):
    return int(round(chain_errors.as_number(value, field, minimum=0.01) * 10**9))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def duration_ns(value, field):
    """'1m30s', '500ms', 10 (seconds) -> nanoseconds."""
    if isinstance(value, bool):
        raise BadInput(f"{field}: expected a duration like '10s', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise BadInput(f"{field}: a duration cannot be negative, got {value!r}")
        return int(value * 10**9)
    text = str(value).strip() if isinstance(value, str) else ""
    pos, total = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise BadInput(f"{field}: expected a duration like '10s' or '1m30s', got {value!r}")
    return int(total)


def signal(value, field):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = string(value, field).strip().upper()
    if not re.fullmatch(r"(SIG)?[A-Z0-9+-]+", text):
        raise BadInput(f"{field}: expected a signal like SIGTERM, got {value!r}")
    return text if text.isdigit() or text.startswith("SIG") else "SIG" + text


def mac(value, field):
    text = string(value, field).lower()
    if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", text):
        raise BadInput(f"{field}: expected a MAC address like 02:42:ac:11:00:02, got {value!r}")
    return text


# ---------------------------------------------------------------------------------------------
# Lists and maps
# ---------------------------------------------------------------------------------------------


def str_list(value, field, split=r"[,\s]+"):
    """A list of strings, or one string of comma/space separated items."""
    if isinstance(value, str):
        return [v for v in re.split(split, value) if v]
    if isinstance(value, (list, tuple)):
        return [string(v, field) for v in value]
    raise BadInput(f"{field}: expected a list of strings, got {value!r}")


def str_set(value, field):
    return sorted(set(str_list(value, field)))


def argv(value, field):
    """A command: a list of words, or a string split like a shell would."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            raise BadInput(f"{field}: {err}") from None
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return [str(v) for v in value]
    raise BadInput(f"{field}: expected a string or a list of strings, got {value!r}")


def str_map(value, field, sep="="):
    """A dict, or a list of 'K=V' strings / one-key dicts (Salt's usual shapes) -> {str: str}."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = []
        for entry in value:
            if isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, str) and sep in entry:
                items.append(tuple(entry.split(sep, 1)))
            else:
                raise BadInput(f"{field}: entries must be 'KEY{sep}VALUE', got {entry!r}")
    else:
        raise BadInput(f"{field}: expected a mapping or a list of 'KEY{sep}VALUE'")
    out = {}
    for key, val in items:
        if not isinstance(key, str) or not key:
            raise BadInput(f"{field}: invalid key {key!r}")
        if isinstance(val, (dict, list, tuple)):
            raise BadInput(f"{field}: {key}: expected a plain value, got {val!r}")
        out[key] = (
            ""
            if val is None
            else ("true" if val is True else "false" if val is False else str(val))
        )
    return out


def caps(value, field):
    return sorted({c.upper().removeprefix("CAP_") for c in str_list(value, field)})


def extra_hosts(value, field):
    """{host: ip} or ['host:ip'] -> sorted ['host:ip'] (an IPv6 address keeps its colons)."""
    pairs = str_map(value, field, sep=":")
    if not all(pairs.values()):
        raise BadInput(f"{field}: every host needs an address ('HOST:IP')")
    return sorted(f"{host}:{ip}" for host, ip in pairs.items())


def ulimits(value, field):
    """{nofile: 1024} / {nofile: '1024:2048'} / ['nofile=1024:2048'] / [{name, soft, hard}]."""
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, dict) and "name" in v or isinstance(v, dict) and "Name" in v for v in value
    ):
        items = {}
        for v in value:
            low = {k.lower(): x for k, x in v.items()}
            items[low["name"]] = f"{low.get('soft', '')}:{low.get('hard', low.get('soft', ''))}"
    else:
        items = str_map(value, field)
    out = {}
    for name, limits in items.items():
        soft, _, hard = str(limits).partition(":")
        soft = chain_errors.as_int(soft, f"{field}.{name}", minimum=-1)
        hard = chain_errors.as_int(hard or soft, f"{field}.{name}", minimum=-1)
        out[name] = f"{soft}:{hard}"
    return out


def ulimits_api(value):
    return [
        {"Name": n, "Soft": int(s), "Hard": int(h)}
        for n, (s, _, h) in ((n, v.partition(":")) for n, v in sorted(value.items()))
    ]


def ulimits_read(value):
    return {u["Name"]: f"{u.get('Soft', 0)}:{u.get('Hard', 0)}" for u in value or []}


def devices(value, field):
    """'/dev/x', '/dev/x:/dev/y', '/dev/x:/dev/y:rw' -> sorted 'HOST:CONTAINER:PERMS'."""
    out = set()
    for entry in str_list(value, field, split=r"[,\s]+"):
        parts = entry.split(":")
        if len(parts) > 3 or not parts[0].startswith("/"):
            raise BadInput(f"{field}: expected '/dev/HOST[:/dev/CONTAINER[:PERMS]]', got {entry!r}")
        host = parts[0]
        inside = parts[1] if len(parts) > 1 and parts[1] else host
        perms = parts[2] if len(parts) > 2 else "rwm"
        if not re.fullmatch(r"[rwm]{1,3}", perms) or not inside.startswith("/"):
            raise BadInput(f"{field}: invalid device {entry!r} (perms are r, w, m)")
        out.add(f"{host}:{inside}:{perms}")
    return sorted(out)


def devices_api(value):
    keys = ("PathOnHost", "PathInContainer", "CgroupPermissions")
    return [dict(zip(keys, d.split(":"), strict=True)) for d in value]


def devices_read(value):
    return sorted(
        f"{d['PathOnHost']}:{d['PathInContainer']}:{d['CgroupPermissions']}" for d in value or []
    )


def device_rates(conv):
    """{path: rate} or ['path:rate'] -> {path: int}; the API wants [{Path, Rate|Weight}]."""

    def norm(value, field):
        return {p: conv(r, f"{field}.{p}") for p, r in str_map(value, field, sep=":").items()}

    return norm


def rates_api(key):
    return lambda value: [{"Path": p, key: r} for p, r in sorted(value.items())]


def rates_read(key):
    return lambda value: {d["Path"]: d[key] for d in value or []}


def links(value, field):
    """{container: alias} or ['container[:alias]'] -> sorted 'container:alias'."""
    if isinstance(value, dict):
        pairs = {str(k): str(v or k) for k, v in value.items()}
    else:
        pairs = {}
        for entry in str_list(value, field):
            name, _, alias = entry.partition(":")
            pairs[name] = alias or name
    return sorted(f"{k.lstrip('/')}:{v}" for k, v in pairs.items())


def links_read(value):
    """The engine reports '/target:/self/alias'."""
    return sorted(
        f"{src.lstrip('/')}:{dst.rsplit('/', 1)[-1]}"
        for src, _, dst in (link.partition(":") for link in value or [])
    )


# ---------------------------------------------------------------------------------------------
# Structured options
# ---------------------------------------------------------------------------------------------

_PORT = re.compile(r"^\d{1,5}(/(tcp|udp|sctp))?$")


def port_key(value, field):
    text = str(value).strip()
    if isinstance(value, bool) or not _PORT.match(text) or not 0 < int(text.split("/")[0]) <= 65535:
        raise BadInput(f"{field}: invalid container port {value!r} (e.g. 80 or 80/tcp)")
    return text if "/" in text else text + "/tcp"


def host_port(value, field):
    text = "" if value in (None, "", 0, "0") else str(value)
    if text and (not text.isdigit() or not 0 < int(text) <= 65535):
        raise BadInput(f"{field}: invalid host port {value!r}")
    return text


def port_string(entry, field):
    """'[HOST_IP:]HOST_PORT:CONTAINER_PORT[/proto]' with IPv6 host IPs in brackets."""
    text = str(entry).strip()
    match = re.match(r"^\[([0-9a-fA-F:.]+)\]:(\d*):(.+)$", text)
    if match:
        return port_key(match.group(3), field), (match.group(1), host_port(match.group(2), field))
    parts = text.split(":")
    if len(parts) == 3:
        return port_key(parts[2], field), (parts[0], host_port(parts[1], field))
    if len(parts) == 2:
        return port_key(parts[1], field), ("", host_port(parts[0], field))
    raise BadInput(
        f"{field}: invalid port {entry!r}; use 'HOST_IP:HOST_PORT:CONTAINER_PORT[/proto]' "
        "(e.g. '127.0.0.1:8080:80' or '[::1]:8080:80/tcp'; a port only exposed is 'expose')"
    )


def ports(value, field="ports"):
    """-> {"80/tcp": [(host_ip, host_port), ...]} (sorted)."""
    out = {}
    if isinstance(value, dict):
        for cport, binding in value.items():
            key = port_key(cport, field)
            for b in binding if isinstance(binding, list) else [binding]:
                if isinstance(b, dict):
                    pair = (str(b.get("host_ip", "")), host_port(b.get("host_port"), field))
                elif isinstance(b, str) and ":" in b:
                    ip, _, hport = b.rpartition(":")
                    pair = (ip.strip("[]"), host_port(hport, field))
                else:
                    pair = ("", host_port(b, field))
                out.setdefault(key, []).append(pair)
    elif isinstance(value, (list, tuple)):
        for entry in value:
            key, pair = port_string(entry, field)
            out.setdefault(key, []).append(pair)
    else:
        raise BadInput(f"{field}: expected a list like ['127.0.0.1:8080:80'] or a mapping")
    return {k: sorted(set(v)) for k, v in sorted(out.items())}


def ports_api(value):
    return {k: [{"HostIp": ip, "HostPort": hp} for ip, hp in v] for k, v in value.items()}


def ports_read(value):
    return {
        k: sorted({(b.get("HostIp", ""), host_port(b.get("HostPort"), "ports")) for b in v or []})
        for k, v in (value or {}).items()
    }


def expose(value, field):
    entries = [value] if isinstance(value, (int, str)) and not isinstance(value, bool) else value
    if not isinstance(entries, (list, tuple)):
        raise BadInput(f"{field}: expected a list of ports like [80, '53/udp']")
    return sorted({port_key(p, field) for p in entries})


def restart_policy(value, field="restart_policy"):
    """'no', 'always', 'unless-stopped', 'on-failure[:N]' or {Name, MaximumRetryCount}."""
    if isinstance(value, dict):
        low = {str(k).lower(): v for k, v in value.items()}
        name = low.get("name")
        retries = low.get("maximumretrycount", low.get("maximum_retry_count", 0))
    elif isinstance(value, str):
        name, sep, retries = value.partition(":")
        retries = retries if sep else 0
    else:
        name, retries = None, 0
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise BadInput(
            f"{field}: {value!r} is not one of no, always, unless-stopped, on-failure[:N]"
        )
    retries = chain_errors.as_int(
        0 if retries is None else retries, f"{field} (retry count)", minimum=0
    )
    if retries and name != "on-failure":
        raise BadInput(f"{field}: a retry count is only allowed with on-failure, got {value!r}")
    return {"Name": name, "MaximumRetryCount": retries}


def restart_read(value):
    value = value or {}
    return {
        "Name": value.get("Name") or "no",
        "MaximumRetryCount": int(value.get("MaximumRetryCount") or 0),
    }


def binds(value, field="binds"):
    """'SRC:DST[:MODE]', '/DST' (an anonymous volume) or {SRC: {bind, mode}} -> sorted
    (src, dst, mode) tuples; an anonymous volume has src ''."""
    out = []
    if isinstance(value, dict):
        for src, opts in value.items():
            if isinstance(opts, dict):
                out.append((str(src), opts.get("bind"), str(opts.get("mode", "rw"))))
            elif isinstance(opts, str):
                out.append((str(src), opts, "rw"))
            else:
                raise BadInput(f"{field}: {src}: expected {{bind: /path, mode: ro}}, got {opts!r}")
    elif isinstance(value, (list, tuple, str)):
        for entry in [value] if isinstance(value, str) else value:
            parts = str(entry).split(":") if isinstance(entry, str) else [None]
            if len(parts) == 1 and parts[0] and parts[0].startswith("/"):
                out.append(("", parts[0], "rw"))
            elif len(parts) in (2, 3) and all(parts[:2]):
                out.append((parts[0], parts[1], parts[2] if len(parts) == 3 else "rw"))
            else:
                raise BadInput(f"{field}: invalid entry {entry!r}; use 'SRC:DST[:MODE]' or '/DST'")
    else:
        raise BadInput(f"{field}: expected a list of 'SRC:DST[:MODE]' or a mapping")
    for src, dst, _ in out:
        if not isinstance(dst, str) or not dst.startswith("/"):
            raise BadInput(f"{field}: the container path of {src!r} must be absolute")
    return sorted(set(out))


def networks(value, field="networks"):
    """list of names, or {name: {aliases, ipv4_address, ipv6_address}} -> canonical dict."""
    if isinstance(value, (list, tuple)):
        entries = {}
        for item in value:
            if isinstance(item, dict):
                entries.update(item)
            elif isinstance(item, str):
                entries[item] = {}
            else:
                raise BadInput(f"{field}: expected network names, got {item!r}")
    elif isinstance(value, dict):
        entries = value
    else:
        raise BadInput(f"{field}: expected a list of names or a mapping")
    out = {}
    for name, opts in entries.items():
        opts = opts or {}
        if isinstance(opts, list):  # Salt's old list-of-one-key-dicts style
            merged = {}
            for item in opts:
                if not isinstance(item, dict):
                    raise BadInput(f"{field}: {name}: expected options as a mapping")
                merged.update(item)
            opts = merged
        if not isinstance(opts, dict):
            raise BadInput(f"{field}: {name}: expected {{aliases, ipv4_address, ipv6_address}}")
        unknown = set(opts) - {"aliases", "ipv4_address", "ipv6_address"}
        if unknown:
            raise BadInput(f"{field}: {name}: unknown option(s) {sorted(unknown)}")
        out[str(name)] = {
            "aliases": str_set(opts.get("aliases") or [], f"{field}.{name}.aliases"),
            "ipv4_address": opts.get("ipv4_address") and string(opts["ipv4_address"], field),
            "ipv6_address": opts.get("ipv6_address") and string(opts["ipv6_address"], field),
        }
    return out


def networks_read(value):
    out = {}
    for name, net in (value or {}).items():
        ipam = net.get("IPAMConfig") or {}
        out[name] = {
            "aliases": sorted(set(net.get("Aliases") or [])),
            "ipv4_address": ipam.get("IPv4Address") or None,
            "ipv6_address": ipam.get("IPv6Address") or None,
        }
    return out


def endpoint(opts):
    """An EndpointSettings body from a canonical network entry."""
    body = {"Aliases": opts.get("aliases") or None}
    ipam = {
        k: opts.get(s)
        for k, s in (("IPv4Address", "ipv4_address"), ("IPv6Address", "ipv6_address"))
        if opts.get(s)
    }
    if ipam:
        body["IPAMConfig"] = ipam
    return body


_HEALTH_DURATIONS = {"interval": "Interval", "timeout": "Timeout", "start_period": "StartPeriod"}


def healthcheck(value, field="healthcheck"):
    if not isinstance(value, dict) or "test" not in value:
        raise BadInput(f"{field}: expected a mapping with at least 'test'")
    unknown = set(value) - {"test", "retries", *_HEALTH_DURATIONS}
    if unknown:
        raise BadInput(f"{field}: unknown key(s) {sorted(unknown)}")
    test = value["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    elif isinstance(test, list) and test and all(isinstance(t, str) for t in test):
        test = test if test[0] in ("CMD", "CMD-SHELL", "NONE") else ["CMD", *test]
    else:
        raise BadInput(f"{field}.test: expected a shell command or a list of strings, got {test!r}")
    out = {"Test": test}
    for key, api in _HEALTH_DURATIONS.items():
        if value.get(key) is not None:
            out[api] = duration_ns(value[key], f"{field}.{key}")
    if value.get("retries") is not None:
        out["Retries"] = chain_errors.as_int(value["retries"], f"{field}.retries", minimum=0)
    return out


def log_config(value, field="log_config"):
    """{driver|type: json-file, options|config: {...}} -> {Type, Config}."""
    if not isinstance(value, dict) or not {"type", "driver", "Type"} & set(value):
        raise BadInput(f"{field}: expected {{driver: json-file, options: {{max-size: 10m}}}}")
    driver = value.get("driver", value.get("type", value.get("Type")))
    if not isinstance(driver, str) or not driver:
        raise BadInput(f"{field}.driver: expected a log driver name like json-file, got {driver!r}")
    options = value.get("options", value.get("config", value.get("Config")))
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise BadInput(f"{field}.options: expected a mapping of driver options, got {options!r}")
    return {
        "Type": string(driver, f"{field}.driver"),
        "Config": str_map(options, f"{field}.options"),
    }


def log_read(value):
    value = value or {}
    return {"Type": value.get("Type"), "Config": dict(value.get("Config") or {})}


def env_read(value):
    return dict(entry.partition("=")[::2] for entry in value or [])
