"""
Docker engine lifecycle through the docker SDK: containers, images, networks, volumes, registries.

.. versionadded:: 0.1.0

:depends: docker >= 7.1 (the Python SDK); a Docker engine reachable from the minion.

This module succeeds Salt's removed ``docker`` module. Every function takes an optional
``profile`` naming the engine to talk to; the client for a profile is created once per process
(``__context__``) with a timeout always set.

:configuration: Engines are described by connection profiles in the minion config, pillar or
    master config (looked up with ``config.get``):

    .. code-block:: yaml

        container:
          default_profile: default      # used when a call names none
          profiles:
            default:
              base_url: unix:///var/run/docker.sock
              timeout: 60               # seconds, for every API call
            build-host:
              base_url: tcp://127.0.0.1:2376
              version: auto             # API version negotiation (default)
              tls:
                ca_cert: /etc/docker/ca.pem
                client_cert: /etc/docker/cert.pem
                client_key: /etc/docker/key.pem
                verify: true
          registries:
            127.0.0.1:5000:
              username: chain
              password: secret          # keep it in pillar or SDB

    A call may name a profile (``profile=build-host``) or pass one inline as a dict; keys given
    inline override the named profile's (``profile={"name": "build-host", "timeout": 5}``).
    Without any configuration the engine from ``DOCKER_HOST`` or the local socket is used.
"""

import base64
import hashlib
import io
import json
import logging
import os
import re
import shlex
import tarfile
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import docker
    import docker.errors
    import docker.types
    import docker.utils
    from docker.utils.build import exclude_paths

    HAS_DOCKER = True
except ImportError:  # pragma: no cover - exercised only without the SDK
    HAS_DOCKER = False

log = logging.getLogger(__name__)

__virtualname__ = "container"
__func_alias__ = {"exec_": "exec", "list_": "list"}

DEFAULT_TIMEOUT = 60
INPUTS_LABEL = "org.saltext-chain.inputs"
PROFILE_KEYS = {"name", "base_url", "version", "timeout", "build_timeout", "tls", "user_agent", "max_pool_size"}
DEFAULT_BUILD_TIMEOUT = 3600


def __virtual__():
    if not HAS_DOCKER:
        return (False, "the docker Python SDK (docker>=7.1) is not installed")
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Connection profiles and the client
# ---------------------------------------------------------------------------------------------


def _resolve_profile(profile):
    """Return the effective profile dict: named profile from config, then inline overrides."""
    if isinstance(profile, dict):
        inline = dict(profile)
        name = inline.pop("name", None)
    elif profile is None or isinstance(profile, str):
        inline, name = {}, profile
    else:
        raise SaltInvocationError(f"profile must be a name or a dict, not {type(profile).__name__}")
    unknown = set(inline) - PROFILE_KEYS
    if unknown:
        raise SaltInvocationError(f"unknown container profile key(s): {', '.join(sorted(unknown))}")
    explicit = name is not None
    if name is None:
        name = __salt__["config.get"]("container:default_profile", "default")
    base = __salt__["config.get"](f"container:profiles:{name}", None)
    if base is None:
        if explicit and name != "default":
            raise SaltInvocationError(
                f"unknown container profile '{name}': define container:profiles:{name} "
                "in the minion config or pillar"
            )
        base = {}
    if not isinstance(base, dict):
        raise SaltInvocationError(f"container:profiles:{name} must be a mapping")
    merged = {**base, **inline}
    unknown = set(merged) - PROFILE_KEYS
    if unknown:
        raise SaltInvocationError(
            f"container:profiles:{name}: unknown key(s): {', '.join(sorted(unknown))}"
        )
    merged["name"] = name
    return merged


def _tls_config(tls):
    if not tls:
        return None
    if tls is True:
        return docker.tls.TLSConfig(verify=True)
    client_cert = None
    if tls.get("client_cert") and tls.get("client_key"):
        client_cert = (tls["client_cert"], tls["client_key"])
    return docker.tls.TLSConfig(
        client_cert=client_cert, ca_cert=tls.get("ca_cert"), verify=tls.get("verify", True)
    )


def connection(profile=None):
    """
    Return the resolved connection settings of a profile (named, inline or default), as
    every function of this module uses them: ``{name, base_url, version, timeout, tls,
    max_pool_size, user_agent}``. Beacons and other long-lived clients build theirs from it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.connection
        salt '*' container.connection profile=build-host
    """
    conf = _resolve_profile(profile)
    return {
        "name": conf["name"],
        "base_url": conf.get("base_url") or os.environ.get("DOCKER_HOST") or None,
        "version": str(conf.get("version") or "auto"),
        "timeout": int(conf.get("timeout") or DEFAULT_TIMEOUT),
        "tls": conf.get("tls") or None,
        "max_pool_size": int(conf["max_pool_size"]) if conf.get("max_pool_size") else None,
        "user_agent": conf.get("user_agent") or None,
        "build_timeout": int(conf.get("build_timeout") or DEFAULT_BUILD_TIMEOUT),
    }


def _client_kwargs(conn):
    """``docker.APIClient`` keyword arguments from :py:func:`connection` settings (pure)."""
    kwargs = {"version": conn["version"], "timeout": conn["timeout"]}
    for key in ("base_url", "max_pool_size", "user_agent"):
        if conn.get(key):
            kwargs[key] = conn[key]
    tls = _tls_config(conn.get("tls"))
    if tls is not None:
        kwargs["tls"] = tls
    return kwargs


def _client(profile=None):
    """The low-level ``docker.APIClient`` for a profile, cached in ``__context__``."""
    conn = connection(profile)
    key = "container.client:" + json.dumps(conn, sort_keys=True, default=str)
    client = __context__.get(key)
    if client is not None:
        return client
    try:
        client = docker.APIClient(**_client_kwargs(conn))
    except docker.errors.DockerException as err:
        raise CommandExecutionError(
            f"cannot reach the Docker engine of profile '{conn['name']}' "
            f"({conn['base_url'] or 'local socket'}): {err}"
        ) from err
    __context__[key] = client
    return client


def _api_error(err, what):
    explanation = getattr(err, "explanation", None) or str(err)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return CommandExecutionError(f"{what}: {explanation}")


_RAISE = object()


def _call(what, func, *args, not_found=_RAISE, **kwargs):
    """Call the SDK; engine errors become ``CommandExecutionError`` with the engine's message.

    not_found
        What to return instead of raising when the engine answers 404 (typed not-found:
        ``inspect`` returns ``None``, ``remove`` returns ``False``).
    """
    try:
        return func(*args, **kwargs)
    except docker.errors.NotFound as err:
        if not_found is _RAISE:
            raise _api_error(err, what) from err
        return not_found
    except docker.errors.APIError as err:
        raise _api_error(err, what) from err
    except docker.errors.DockerException as err:
        raise CommandExecutionError(f"{what}: {err}") from err
    except Exception as err:  # requests' connection errors and timeouts
        if type(err).__module__.startswith(("requests", "urllib3")):
            raise CommandExecutionError(f"{what}: the Docker engine did not answer: {err}") from err
        raise


# ---------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------


def version(profile=None):
    """
    Return the engine's version information (``docker version``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.version
        salt '*' container.version profile=build-host
    """
    return _call("version", _client(profile).version)


def info(profile=None):
    """
    Return system-wide engine information (``docker info``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.info
    """
    return _call("info", _client(profile).info)


def ping(profile=None):
    """
    Return True when the engine answers.

    CLI Example:

    .. code-block:: bash

        salt '*' container.ping
    """
    return bool(_call("ping", _client(profile).ping))


# ---------------------------------------------------------------------------------------------
# Input normalisation (pure): the declared spec in one canonical form
# ---------------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def _duration_ns(value, field):
    """'1m30s', '500ms', 10 (seconds) -> nanoseconds."""
    if isinstance(value, bool):
        raise SaltInvocationError(f"{field}: expected a duration like '10s', got {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 10**9)
    text = str(value).strip()
    pos, total = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise SaltInvocationError(f"{field}: expected a duration like '10s' or '1m30s', got {value!r}")
    return int(total)


def _argv(value, field):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            raise SaltInvocationError(f"{field}: {err}") from err
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise SaltInvocationError(f"{field}: expected a string or a list of strings, got {value!r}")


def _str_map(value, field, sep="="):
    """A dict, or a list of 'K=V' strings / one-key dicts (Salt's usual shapes) -> {str: str}."""
    if value is None:
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = []
        for entry in value:
            if isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, str) and sep in entry:
                items.append(tuple(entry.split(sep, 1)))
            else:
                raise SaltInvocationError(f"{field}: entries must be 'KEY{sep}VALUE', got {entry!r}")
    else:
        raise SaltInvocationError(f"{field}: expected a mapping or a list of 'KEY{sep}VALUE'")
    out = {}
    for key, val in items:
        if not isinstance(key, str) or not key:
            raise SaltInvocationError(f"{field}: invalid key {key!r}")
        out[key] = "" if val is None else (json.dumps(val) if isinstance(val, bool) else str(val))
    return out


_PORT = re.compile(r"^\d{1,5}(/(tcp|udp|sctp))?$")


def _port_key(value, field):
    text = str(value).strip()
    if not _PORT.match(text):
        raise SaltInvocationError(f"{field}: invalid container port {value!r} (e.g. 80 or 80/tcp)")
    if int(text.split("/")[0]) > 65535:
        raise SaltInvocationError(f"{field}: container port out of range: {value!r}")
    return text if "/" in text else text + "/tcp"


def _host_port(value, field):
    text = "" if value in (None, "", 0, "0") else str(value)
    if text and (not text.isdigit() or not 0 < int(text) <= 65535):
        raise SaltInvocationError(f"{field}: invalid host port {value!r}")
    return text


def _parse_port_string(entry, field):
    """'[HOST_IP:]HOST_PORT:CONTAINER_PORT[/proto]' with IPv6 host IPs in brackets."""
    text = str(entry).strip()
    match = re.match(r"^\[([0-9a-fA-F:.]+)\]:(\d*):(.+)$", text)
    if match:
        return _port_key(match.group(3), field), (match.group(1), _host_port(match.group(2), field))
    parts = text.split(":")
    if len(parts) == 3:
        ip, hport, cport = parts
        return _port_key(cport, field), (ip, _host_port(hport, field))
    if len(parts) == 2:
        hport, cport = parts
        return _port_key(cport, field), ("", _host_port(hport, field))
    raise SaltInvocationError(
        f"{field}: invalid port {entry!r}; use 'HOST_IP:HOST_PORT:CONTAINER_PORT[/proto]' "
        "(e.g. '127.0.0.1:8080:80' or '[::1]:8080:80/tcp')"
    )


def _ports(value, field="ports"):
    """-> {"80/tcp": [(host_ip, host_port), ...]} (sorted)."""
    if value is None:
        return None
    out = {}
    if isinstance(value, dict):
        for cport, binding in value.items():
            key = _port_key(cport, field)
            bindings = binding if isinstance(binding, list) else [binding]
            for b in bindings:
                if isinstance(b, dict):
                    pair = (str(b.get("host_ip", "")), _host_port(b.get("host_port"), field))
                elif isinstance(b, str) and ":" in b:
                    ip, _, hport = b.rpartition(":")
                    pair = (ip.strip("[]"), _host_port(hport, field))
                else:
                    pair = ("", _host_port(b, field))
                out.setdefault(key, []).append(pair)
    elif isinstance(value, (list, tuple)):
        for entry in value:
            key, pair = _parse_port_string(entry, field)
            out.setdefault(key, []).append(pair)
    else:
        raise SaltInvocationError(f"{field}: expected a list like ['127.0.0.1:8080:80'] or a mapping")
    return {k: sorted(set(v)) for k, v in sorted(out.items())}


def _restart_policy(value):
    if value is None:
        return None
    if isinstance(value, dict):
        name = value.get("Name", value.get("name"))
        retries = int(value.get("MaximumRetryCount", value.get("maximum_retry_count", 0)) or 0)
    else:
        name, _, retries = str(value).partition(":")
        retries = int(retries) if retries.isdigit() else 0
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise SaltInvocationError(
            f"restart_policy: {value!r} is not one of no, always, unless-stopped, on-failure[:N]"
        )
    return {"Name": name, "MaximumRetryCount": retries if name == "on-failure" else 0}


def _binds(value):
    """'src:dst[:mode]' or {src: {bind, mode}} -> sorted list of (src, dst, mode)."""
    if value is None:
        return None
    out = []
    if isinstance(value, dict):
        for src, opts in value.items():
            if isinstance(opts, dict):
                out.append((src, opts.get("bind"), opts.get("mode", "rw")))
            else:
                out.append((src, str(opts), "rw"))
    elif isinstance(value, (list, tuple)):
        for entry in value:
            parts = str(entry).split(":")
            if len(parts) not in (2, 3) or not all(parts[:2]):
                raise SaltInvocationError(f"binds: invalid entry {entry!r}; use 'SRC:DST[:MODE]'")
            out.append((parts[0], parts[1], parts[2] if len(parts) == 3 else "rw"))
    else:
        raise SaltInvocationError("binds: expected a list of 'SRC:DST[:MODE]' or a mapping")
    for src, dst, _ in out:
        if not dst or not str(dst).startswith("/"):
            raise SaltInvocationError(f"binds: the container path of {src!r} must be absolute")
    return sorted(set(out))


def _networks(value):
    """list of names, or {name: {aliases, ipv4_address, ipv6_address}} -> canonical dict."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        entries = {}
        for item in value:
            if isinstance(item, dict):
                for name, opts in item.items():
                    entries[name] = opts
            else:
                entries[str(item)] = {}
    elif isinstance(value, dict):
        entries = value
    else:
        raise SaltInvocationError("networks: expected a list of names or a mapping")
    out = {}
    for name, opts in entries.items():
        opts = opts or {}
        if isinstance(opts, list):  # Salt's old list-of-one-key-dicts style
            merged = {}
            for item in opts:
                merged.update(item)
            opts = merged
        unknown = set(opts) - {"aliases", "ipv4_address", "ipv6_address"}
        if unknown:
            raise SaltInvocationError(f"networks: {name}: unknown option(s) {sorted(unknown)}")
        aliases = opts.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        out[str(name)] = {
            "aliases": sorted({str(a) for a in aliases}),
            "ipv4_address": opts.get("ipv4_address"),
            "ipv6_address": opts.get("ipv6_address"),
        }
    return out


def _caps(value, field):
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    return sorted({str(c).upper().removeprefix("CAP_") for c in value})


def _bytes(value, field):
    if value is None:
        return None
    try:
        return int(docker.utils.parse_bytes(value if isinstance(value, str) else int(value)))
    except (docker.errors.DockerException, ValueError, TypeError) as err:
        raise SaltInvocationError(f"{field}: {value!r} is not a size like '256m' or bytes") from err


def _healthcheck(value):
    if value is None:
        return None
    if not isinstance(value, dict) or "test" not in value:
        raise SaltInvocationError("healthcheck: expected a mapping with at least 'test'")
    unknown = set(value) - {"test", "interval", "timeout", "retries", "start_period"}
    if unknown:
        raise SaltInvocationError(f"healthcheck: unknown key(s) {sorted(unknown)}")
    test = value["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    elif isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        test = ["CMD", *test]
    out = {"Test": [str(t) for t in test]}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        if value.get(key) is not None:
            out[api] = _duration_ns(value[key], f"healthcheck.{key}")
    if value.get("retries") is not None:
        out["Retries"] = int(value["retries"])
    return out


def _log_config(value):
    if value is None:
        return None
    if not isinstance(value, dict) or "type" not in value and "driver" not in value:
        raise SaltInvocationError("log_config: expected {driver: json-file, options: {...}}")
    driver = value.get("driver", value.get("type"))
    options = value.get("options", value.get("config")) or {}
    return {"Type": str(driver), "Config": {str(k): str(v) for k, v in options.items()}}


# Every argument `running`/`create` accept, with its normaliser and its comparison kind.
# kinds: value (exact), set (order-free), dict (key by key), networks (special), image (special)
_SPEC = {
    "command": (lambda v: _argv(v, "command"), "value"),
    "entrypoint": (lambda v: _argv(v, "entrypoint"), "value"),
    "environment": (lambda v: _str_map(v, "environment"), "dict"),
    "labels": (lambda v: _str_map(v, "labels"), "dict"),
    "ports": (_ports, "dict"),
    "restart_policy": (_restart_policy, "value"),
    "binds": (_binds, "set"),
    "tmpfs": (lambda v: _str_map(v, "tmpfs", sep=":"), "dict"),
    "networks": (_networks, "networks"),
    "network_mode": (lambda v: None if v is None else str(v), "value"),
    "memory": (lambda v: _bytes(v, "memory"), "value"),
    "cpus": (lambda v: None if v is None else int(float(v) * 10**9), "value"),
    "user": (lambda v: None if v is None else str(v), "value"),
    "workdir": (lambda v: None if v is None else str(v), "value"),
    "hostname": (lambda v: None if v is None else str(v), "value"),
    "cap_add": (lambda v: _caps(v, "cap_add"), "set"),
    "cap_drop": (lambda v: _caps(v, "cap_drop"), "set"),
    "log_config": (_log_config, "value"),
    "healthcheck": (_healthcheck, "value"),
    "privileged": (lambda v: None if v is None else bool(v), "value"),
    "init": (lambda v: None if v is None else bool(v), "value"),
    "shm_size": (lambda v: _bytes(v, "shm_size"), "value"),
}
# Fields the engine can change on a live container (``docker update`` / network connect).
UPDATABLE = {"restart_policy", "memory", "cpus", "networks"}
# Default comparison per kind, and the modes a `comparisons` override may choose.
_DEFAULT_MODE = {"value": "strict", "set": "strict", "dict": "strict", "networks": "allow_more_present"}
_FIELD_MODE = {"labels": "allow_more_present"}
COMPARISON_MODES = ("strict", "ignore", "allow_more_present")


def normalize(image=None, **kwargs):
    """
    Validate and normalise a container spec; raises ``SaltInvocationError`` on bad input.

    Returns the canonical form used for creation and comparison: only declared fields, with
    ports as ``{"80/tcp": [[host_ip, host_port]]}``, durations in nanoseconds, sizes in bytes.

    CLI Example:

    .. code-block:: bash

        salt '*' container.normalize image=nginx ports='["127.0.0.1:8080:80"]'
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    unknown = set(kwargs) - set(_SPEC)
    if unknown:
        raise SaltInvocationError(
            f"unknown container argument(s): {', '.join(sorted(unknown))} "
            f"(known: image, {', '.join(sorted(_SPEC))})"
        )
    if not image or not isinstance(image, str):
        raise SaltInvocationError("image: a container needs an image name")
    spec = {"image": image}
    for field, value in kwargs.items():
        normaliser, _ = _SPEC[field]
        result = normaliser(value)
        if result is not None:
            spec[field] = result
    if "networks" in spec and spec.get("network_mode") in ("host", "none"):
        raise SaltInvocationError("networks cannot be combined with network_mode host or none")
    return spec


# ---------------------------------------------------------------------------------------------
# What the engine reports, in the same canonical form
# ---------------------------------------------------------------------------------------------


def _env_dict(env_list):
    out = {}
    for entry in env_list or []:
        key, _, val = entry.partition("=")
        out[key] = val
    return out


def _actual(field, inspected):
    cfg = inspected.get("Config") or {}
    host = inspected.get("HostConfig") or {}
    if field == "command":
        return cfg.get("Cmd") or []
    if field == "entrypoint":
        return cfg.get("Entrypoint") or []
    if field == "environment":
        return _env_dict(cfg.get("Env"))
    if field == "labels":
        return dict(cfg.get("Labels") or {})
    if field == "ports":
        out = {}
        for key, bindings in (host.get("PortBindings") or {}).items():
            out[key] = sorted(
                {(b.get("HostIp", ""), _host_port(b.get("HostPort"), "ports")) for b in bindings or []}
            )
        return out
    if field == "restart_policy":
        rp = host.get("RestartPolicy") or {}
        name = rp.get("Name") or "no"
        return {"Name": name, "MaximumRetryCount": int(rp.get("MaximumRetryCount") or 0)}
    if field == "binds":
        return _binds(host.get("Binds") or []) or []
    if field == "tmpfs":
        return dict(host.get("Tmpfs") or {})
    if field == "networks":
        out = {}
        for name, net in ((inspected.get("NetworkSettings") or {}).get("Networks") or {}).items():
            ipam = net.get("IPAMConfig") or {}
            out[name] = {
                "aliases": sorted(set(net.get("Aliases") or [])),
                "ipv4_address": ipam.get("IPv4Address") or None,
                "ipv6_address": ipam.get("IPv6Address") or None,
            }
        return out
    if field == "network_mode":
        return host.get("NetworkMode")
    if field == "memory":
        return int(host.get("Memory") or 0)
    if field == "cpus":
        return int(host.get("NanoCpus") or 0)
    if field == "user":
        return cfg.get("User") or ""
    if field == "workdir":
        return cfg.get("WorkingDir") or ""
    if field == "hostname":
        return cfg.get("Hostname") or ""
    if field == "cap_add":
        return _caps(host.get("CapAdd") or [], field)
    if field == "cap_drop":
        return _caps(host.get("CapDrop") or [], field)
    if field == "log_config":
        lc = host.get("LogConfig") or {}
        return {"Type": lc.get("Type"), "Config": dict(lc.get("Config") or {})}
    if field == "healthcheck":
        return dict(cfg.get("Healthcheck") or {})
    if field == "privileged":
        return bool(host.get("Privileged"))
    if field == "init":
        return bool(host.get("Init"))
    if field == "shm_size":
        return int(host.get("ShmSize") or 0)
    raise KeyError(field)


def _expected(field, spec, image_config):
    """The declared value, completed with what the image supplies when the engine merges it."""
    value = spec[field]
    if field == "environment":
        return {**_env_dict(image_config.get("Env")), **value}
    if field == "labels":
        return {**(image_config.get("Labels") or {}), **value}
    if field == "healthcheck":
        base = dict(image_config.get("Healthcheck") or {})
        return {**base, **value} if value.get("Test") != ["NONE"] else value
    return value


def _differs(kind, mode, expected, actual):
    if mode == "ignore":
        return False
    if kind == "set":
        exp, act = set(expected), set(actual or [])
        return not exp <= act if mode == "allow_more_present" else exp != act
    if kind == "dict":
        actual = actual or {}
        if mode == "allow_more_present":
            return any(actual.get(k) != v for k, v in expected.items())
        return expected != actual
    if kind == "networks":
        actual = actual or {}
        for name, want in expected.items():
            have = actual.get(name)
            if have is None or not set(want["aliases"]) <= set(have["aliases"]):
                return True
            for key in ("ipv4_address", "ipv6_address"):
                if want[key] and want[key] != have[key]:
                    return True
        return mode == "strict" and set(actual) - set(expected) - {"bridge"} != set()
    return expected != actual


_SECRET_KEY = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)


def _mask_secrets(mapping):
    """Secret-named variables show that they changed, never their values (not even hashed)."""
    return {k: ("<hidden>" if _SECRET_KEY.search(k) else v) for k, v in mapping.items()}


def _change(kind, expected, actual, field=None):
    change = _raw_change(kind, expected, actual)
    if field == "environment":
        change = {side: _mask_secrets(values) for side, values in change.items()}
    return change


def _raw_change(kind, expected, actual):
    if kind == "set":
        exp, act = set(expected), set(actual or [])
        return {"added": sorted(exp - act), "removed": sorted(act - exp)}
    if kind == "dict":
        actual = actual or {}
        keys = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
        return {
            "old": {k: actual[k] for k in keys if k in actual},
            "new": {k: expected[k] for k in keys if k in expected},
        }
    return {"old": actual, "new": expected}


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
    comparisons = _comparisons(comparisons)
    inspected = inspect(name, profile=profile)
    if inspected is None:
        return None
    image_name = spec["image"]
    wanted_image = image_data or image_inspect(image_name, profile=profile)
    changes, updatable, recreate = {}, [], []
    if wanted_image is None:
        raise CommandExecutionError(f"image {image_name} is not present on the engine")
    image_mode = comparisons.get("image", comparisons.get("*", "strict"))
    if image_mode != "ignore":
        if inspected.get("Image") != wanted_image["Id"]:
            changes["image_id"] = {"old": inspected.get("Image"), "new": wanted_image["Id"]}
            recreate.append("image_id")
        if (inspected.get("Config") or {}).get("Image") != image_name:
            changes["image"] = {"old": inspected["Config"].get("Image"), "new": image_name}
            recreate.append("image")
    image_config = wanted_image.get("Config") or {}
    for field in spec:
        if field == "image":
            continue
        kind = _SPEC[field][1]
        mode = comparisons.get(field) or comparisons.get("*") or _FIELD_MODE.get(field) or _DEFAULT_MODE[kind]
        expected = _expected(field, spec, image_config)
        actual = _actual(field, inspected)
        if _differs(kind, mode, expected, actual):
            changes[field] = _change(kind, expected, actual, field)
            (updatable if field in UPDATABLE else recreate).append(field)
    state = inspected.get("State") or {}
    return {
        "id": inspected["Id"],
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
        "image_id": wanted_image["Id"],
        "changes": changes,
        "updatable": updatable,
        "recreate": recreate,
    }


def _comparisons(comparisons):
    if not comparisons:
        return {}
    if not isinstance(comparisons, dict):
        raise SaltInvocationError("comparisons: expected a mapping of field -> mode")
    for field, mode in comparisons.items():
        if field not in _SPEC and field not in ("*", "image"):
            raise SaltInvocationError(f"comparisons: unknown field {field!r}")
        if mode not in COMPARISON_MODES:
            raise SaltInvocationError(
                f"comparisons: {field}: mode must be one of {', '.join(COMPARISON_MODES)}"
            )
    return dict(comparisons)


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------


def inspect(name, profile=None):
    """
    Return a container's inspect data, or ``None`` when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' container.inspect web
    """
    return _call(f"inspect container {name}", _client(profile).inspect_container, name, not_found=None)


def ps(all=False, labels=None, filters=None, profile=None):  # pylint: disable=redefined-builtin
    """
    List containers as ``{name: {id, image, status, state, labels, ports}}``.

    all
        Include stopped containers.
    labels
        Only containers carrying these labels (``["key", "key=value"]``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.ps all=True labels='["org.saltext-chain.role=agent"]'
    """
    filters = dict(filters or {})
    if labels:
        filters["label"] = [labels] if isinstance(labels, str) else list(labels)
    rows = _call("list containers", _client(profile).containers, all=bool(all), filters=filters)
    out = {}
    for row in rows:
        name = (row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/")
        out[name] = {
            "id": row["Id"],
            "image": row.get("Image"),
            "image_id": row.get("ImageID"),
            "state": row.get("State"),
            "status": row.get("Status"),
            "labels": row.get("Labels") or {},
            "ports": [
                f"{p.get('IP', '')}:{p.get('PublicPort', '')}->{p['PrivatePort']}/{p.get('Type', 'tcp')}"
                for p in row.get("Ports") or []
            ],
        }
    return out


def _create_args(client, spec, name):
    """Translate a normalised spec into ``create_container`` keyword arguments."""
    host = {}
    if "ports" in spec:
        host["port_bindings"] = {
            k: [(ip, int(hp) if hp else None) if ip else (int(hp) if hp else None) for ip, hp in v]
            for k, v in spec["ports"].items()
        }
    if "restart_policy" in spec:
        host["restart_policy"] = spec["restart_policy"]
    if "binds" in spec:
        host["binds"] = [f"{s}:{d}:{m}" for s, d, m in spec["binds"]]
    if "tmpfs" in spec:
        host["tmpfs"] = spec["tmpfs"]
    if "memory" in spec:
        host["mem_limit"] = spec["memory"]
    if "cpus" in spec:
        host["nano_cpus"] = spec["cpus"]
    if "cap_add" in spec:
        host["cap_add"] = spec["cap_add"]
    if "cap_drop" in spec:
        host["cap_drop"] = spec["cap_drop"]
    if "log_config" in spec:
        host["log_config"] = docker.types.LogConfig(
            type=spec["log_config"]["Type"], config=spec["log_config"]["Config"]
        )
    if "privileged" in spec:
        host["privileged"] = spec["privileged"]
    if "init" in spec:
        host["init"] = spec["init"]
    if "shm_size" in spec:
        host["shm_size"] = spec["shm_size"]
    networks = spec.get("networks") or {}
    first = next(iter(networks), None)
    if spec.get("network_mode"):
        host["network_mode"] = spec["network_mode"]
    elif first:
        host["network_mode"] = first
    kwargs = {
        "image": spec["image"],
        "name": name,
        "detach": True,
        "host_config": client.create_host_config(**host),
    }
    if "ports" in spec:
        kwargs["ports"] = [
            (int(k.split("/")[0]), k.split("/")[1]) if not k.endswith("/tcp") else int(k.split("/")[0])
            for k in spec["ports"]
        ]
    for field, arg in (
        ("command", "command"),
        ("entrypoint", "entrypoint"),
        ("environment", "environment"),
        ("labels", "labels"),
        ("user", "user"),
        ("workdir", "working_dir"),
        ("hostname", "hostname"),
    ):
        if field in spec:
            kwargs[arg] = spec[field]
    if "healthcheck" in spec:
        kwargs["healthcheck"] = spec["healthcheck"]
    if first:
        opts = networks[first]
        kwargs["networking_config"] = client.create_networking_config(
            {
                first: client.create_endpoint_config(
                    aliases=opts["aliases"] or None,
                    ipv4_address=opts["ipv4_address"],
                    ipv6_address=opts["ipv6_address"],
                )
            }
        )
    return kwargs


def create(image, name, profile=None, pull="missing", **kwargs):
    """
    Create (not start) a container from declared options; returns its id.

    Accepts the options of :py:func:`normalize`: ``command``, ``entrypoint``, ``environment``,
    ``ports`` (``["127.0.0.1:8080:80", "[::1]:8443:443/tcp"]``), ``labels``, ``restart_policy``,
    ``binds``, ``tmpfs``, ``networks`` (names, or ``{net: {aliases, ipv4_address,
    ipv6_address}}``), ``network_mode``, ``memory``, ``cpus``, ``user``, ``workdir``,
    ``hostname``, ``cap_add``, ``cap_drop``, ``log_config``, ``healthcheck``, ``privileged``,
    ``init``, ``shm_size``.

    pull
        ``missing`` (default) pulls the image when the engine lacks it; ``never`` fails instead.

    CLI Example:

    .. code-block:: bash

        salt '*' container.create saltext-chain/busybox:latest web command='httpd -f -p 80'
    """
    spec = normalize(image=image, **kwargs)
    return _create_from_spec(spec, name, profile=profile, pull=pull)


def _ensure_image(image, profile, pull):
    if image_inspect(image, profile=profile) is not None:
        return
    if pull == "never":
        raise CommandExecutionError(f"image {image} is not present on the engine (pull=never)")
    try:
        image_pull(image, profile=profile)
    except CommandExecutionError as err:
        raise CommandExecutionError(
            f"image {image} is not present on the engine and could not be pulled: {err}"
        ) from err


def _create_from_spec(spec, name, profile=None, pull="missing"):
    client = _client(profile)
    _ensure_image(spec["image"], profile, pull)
    kwargs = _create_args(client, spec, name)
    created = _call(f"create container {name}", client.create_container, **kwargs)
    cid = created["Id"]
    try:
        for net, opts in list((spec.get("networks") or {}).items())[1:]:
            network_connect(net, cid, profile=profile, **_endpoint_kwargs(opts))
    except CommandExecutionError:
        _call(f"remove container {name}", client.remove_container, cid, force=True)
        raise
    return cid


def _endpoint_kwargs(opts):
    return {
        "aliases": opts.get("aliases") or None,
        "ipv4_address": opts.get("ipv4_address"),
        "ipv6_address": opts.get("ipv6_address"),
    }


def start(name, profile=None):
    """
    Start a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.start web
    """
    _call(f"start container {name}", _client(profile).start, name)
    return True


def stop(name, timeout=10, profile=None):
    """
    Stop a container, killing it after ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt '*' container.stop web timeout=30
    """
    client = _client(profile)
    # The HTTP timeout must outlast the engine's own grace period.
    _call(f"stop container {name}", client.stop, name, timeout=int(timeout))
    return True


def restart(name, timeout=10, profile=None):
    """
    Restart a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.restart web
    """
    _call(f"restart container {name}", _client(profile).restart, name, timeout=int(timeout))
    return True


def remove(name, force=False, volumes=False, stop_timeout=None, profile=None):
    """
    Remove a container; returns False when there was none.

    force
        Remove it even when running (``stop_timeout`` seconds of grace first, when given).

    CLI Example:

    .. code-block:: bash

        salt '*' container.remove web force=True
    """
    client = _client(profile)
    if force and stop_timeout is not None:
        if _call(f"stop container {name}", client.stop, name, timeout=int(stop_timeout), not_found=False) is False:
            return False
    return _call(f"remove container {name}", client.remove_container, name, v=bool(volumes),
                 force=bool(force), not_found=False) is not False


def run(image, name, profile=None, pull="missing", **kwargs):
    """
    Create and start a container; returns its inspect data.

    Takes the options of :py:func:`create`.

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
    """
    Rename a container.

    CLI Example:

    .. code-block:: bash

        salt '*' container.rename web web-old
    """
    _call(f"rename container {name} to {new_name}", _client(profile).rename, name, new_name)
    return True


def update(name, restart_policy=None, memory=None, cpus=None, profile=None):
    """
    Change a live container's restart policy and resources without recreating it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.update web memory=512m cpus=1.5 restart_policy=always
    """
    kwargs = {}
    if restart_policy is not None:
        kwargs["restart_policy"] = _restart_policy(restart_policy)
    if memory is not None:
        kwargs["mem_limit"] = _bytes(memory, "memory")
        # A memory limit above the container's swap limit is refused: let swap follow it.
        kwargs["memswap_limit"] = -1
    client = _client(profile)
    if kwargs:
        _call(f"update container {name}", client.update_container, name, **kwargs)
    if cpus is not None:
        # docker-py's update_container cannot set NanoCpus (the field `--cpus` sets), and
        # CpuQuota conflicts with it; post the documented field to the update endpoint.
        body = {"NanoCpus": int(float(cpus) * 10**9)}
        url = client._url("/containers/{0}/update", name)  # pylint: disable=protected-access
        response = _call(f"update container {name}", client._post_json, url, data=body)  # pylint: disable=protected-access
        _call(f"update container {name}", client._raise_for_status, response)  # pylint: disable=protected-access
    return True


def exec_(name, cmd, environment=None, user=None, workdir=None, profile=None):
    """
    Run a command in a running container; returns ``{retcode, stdout, stderr}``.

    cmd
        An argv list, or a string run by ``/bin/sh -c``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.exec web 'cat /etc/hostname'
        salt '*' container.exec web '["ls", "-l", "/"]' user=nobody workdir=/tmp
    """
    argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else _argv(cmd, "cmd")
    env = _str_map(environment, "environment")
    client = _client(profile)
    created = _call(
        f"exec in {name}",
        client.exec_create,
        name,
        argv,
        environment=env,
        user=user or "",
        workdir=workdir,
        stdout=True,
        stderr=True,
    )
    out, err = _call(f"exec in {name}", client.exec_start, created["Id"], demux=True)
    result = _call(f"exec in {name}", client.exec_inspect, created["Id"])
    return {
        "retcode": result.get("ExitCode"),
        "stdout": (out or b"").decode("utf-8", "replace"),
        "stderr": (err or b"").decode("utf-8", "replace"),
    }


def logs(name, tail=100, since=None, timestamps=False, profile=None):
    """
    Return a container's recent log lines (stdout and stderr) as text.

    tail
        Number of lines from the end (``all`` for everything).
    since
        Unix timestamp, or a duration like ``10m`` meaning "that long ago".

    CLI Example:

    .. code-block:: bash

        salt '*' container.logs web tail=20 since=5m
    """
    if isinstance(since, str) and not since.isdigit():
        since = int(time.time() - _duration_ns(since, "since") / 10**9)
    elif since is not None:
        since = int(since)
    data = _call(
        f"logs of {name}",
        _client(profile).logs,
        name,
        stdout=True,
        stderr=True,
        tail=tail if tail == "all" else int(tail),
        since=since,
        timestamps=bool(timestamps),
    )
    return data.decode("utf-8", "replace")


def wait_healthy(name, timeout=60, probe_url=None, interval=0.5, profile=None):
    """
    Wait until a container is healthy; returns ``{healthy, status, waited}``.

    With a Docker health check, waits for ``healthy`` (fails at once on ``unhealthy`` after the
    start period). With ``probe_url`` (an ``http://127.0.0.1:PORT/path`` URL of a published
    port), waits for an HTTP status below 400. Without either, waits until it runs.
    Raises ``CommandExecutionError`` with the last log lines on failure or timeout.

    CLI Example:

    .. code-block:: bash

        salt '*' container.wait_healthy web timeout=30
        salt '*' container.wait_healthy web probe_url=http://127.0.0.1:8080/health
    """
    import requests  # pylint: disable=import-outside-toplevel

    deadline = time.monotonic() + float(timeout)
    started = time.monotonic()
    status = "unknown"
    while True:
        data = inspect(name, profile=profile)
        if data is None:
            raise CommandExecutionError(f"container {name} does not exist")
        state = data.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        if not state.get("Running"):
            status = state.get("Status", "not running")
            if state.get("Status") in ("exited", "dead"):
                break
        elif probe_url:
            try:
                code = requests.get(probe_url, timeout=min(5.0, float(timeout))).status_code
                status = f"HTTP {code}"
                if code < 400:
                    return {"healthy": True, "status": status, "waited": round(time.monotonic() - started, 3)}
            except requests.RequestException as err:
                status = f"probe failed: {type(err).__name__}"
        elif health:
            status = health
            if health == "healthy":
                return {"healthy": True, "status": status, "waited": round(time.monotonic() - started, 3)}
            if health == "unhealthy":
                break
        else:
            return {"healthy": True, "status": "running", "waited": round(time.monotonic() - started, 3)}
        if time.monotonic() >= deadline:
            status += f" after {timeout}s"
            break
        time.sleep(float(interval))
    tail = logs(name, tail=20, profile=profile).rstrip()
    raise CommandExecutionError(
        f"container {name} is not healthy ({status}); last log lines:\n{tail or '(no output)'}"
    )


def copy_to(name, source, dest, profile=None):
    """
    Copy a local file or directory into a container at ``dest`` (a directory path).

    CLI Example:

    .. code-block:: bash

        salt '*' container.copy_to web /srv/site/index.html /usr/share/nginx/html
    """
    if not os.path.exists(source):
        raise SaltInvocationError(f"source {source} does not exist")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(source, arcname=os.path.basename(source.rstrip("/")))
    buf.seek(0)
    ok = _call(f"copy into {name}", _client(profile).put_archive, name, dest, buf.getvalue())
    if not ok:
        raise CommandExecutionError(f"copy into {name}:{dest} was refused")
    return True


def copy_from(name, source, dest, profile=None):
    """
    Copy a file or directory out of a container into the local directory ``dest``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.copy_from web /etc/nginx/nginx.conf /tmp/
    """
    stream, _ = _call(f"copy from {name}", _client(profile).get_archive, name, source)
    buf = io.BytesIO(b"".join(stream))
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=buf) as tar:
        tar.extractall(dest, filter="data")
    return os.path.join(dest, os.path.basename(source.rstrip("/")))


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


def image_inspect(name, profile=None):
    """
    Return an image's inspect data, or ``None`` when the engine does not have it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_inspect saltext-chain/busybox:latest
    """
    return _call(f"inspect image {name}", _client(profile).inspect_image, name, not_found=None)


def images(all=False, labels=None, profile=None):  # pylint: disable=redefined-builtin
    """
    List images as ``{id: {tags, created, size, labels}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.images labels='["org.saltext-chain.inputs"]'
    """
    filters = {"label": [labels] if isinstance(labels, str) else list(labels)} if labels else None
    rows = _call("list images", _client(profile).images, all=bool(all), filters=filters)
    return {
        row["Id"]: {
            "tags": row.get("RepoTags") or [],
            "created": row.get("Created"),
            "size": row.get("Size"),
            "labels": row.get("Labels") or {},
        }
        for row in rows
    }


def _split_repo_tag(name):
    repo, tag = name, "latest"
    last = name.rsplit("/", 1)[-1]
    if "@" in name:
        return name, None
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    return repo, tag


def _registry_of(image):
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _auth_for(image):
    """Credentials for the image's registry only (never every configured registry)."""
    registry = _registry_of(image)
    creds = (__salt__["config.get"]("container:registries", {}) or {}).get(registry)
    if not creds:
        return None
    return {"username": creds.get("username"), "password": creds.get("password")}


def image_pull(name, platform=None, profile=None):
    """
    Pull an image; returns ``{id, changed}`` (``changed`` when the local id moved).

    Credentials, when the image's registry is listed under ``container:registries``, are used
    for that registry alone.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_pull 127.0.0.1:5000/app/web:1.2
    """
    before = image_inspect(name, profile=profile)
    repo, tag = _split_repo_tag(name)
    client = _client(profile)
    kwargs = {"tag": tag, "stream": True, "decode": True, "auth_config": _auth_for(name)}
    if platform:
        kwargs["platform"] = platform
    errors = []
    for chunk in _call(f"pull {name}", client.pull, repo, **kwargs):
        if "error" in chunk:
            errors.append(chunk.get("error"))
    if errors:
        raise CommandExecutionError(f"pull {name}: {errors[-1]}")
    after = image_inspect(name, profile=profile)
    if after is None:
        raise CommandExecutionError(f"pull {name}: the engine reports no image after the pull")
    return {"id": after["Id"], "changed": before is None or before["Id"] != after["Id"]}


def image_tag(source, target, profile=None):
    """
    Tag an image (``source``) as ``target`` (``repo:tag``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_tag app/web:build 127.0.0.1:5000/app/web:1.2
    """
    repo, tag = _split_repo_tag(target)
    _call(f"tag {source} as {target}", _client(profile).tag, source, repo, tag=tag, force=True)
    return True


def image_push(name, profile=None):
    """
    Push an image to its registry; returns ``{digest}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_push 127.0.0.1:5000/app/web:1.2
    """
    repo, tag = _split_repo_tag(name)
    digest, errors = None, []
    stream = _call(
        f"push {name}", _client(profile).push, repo, tag=tag, stream=True, decode=True,
        auth_config=_auth_for(name),
    )
    for chunk in stream:
        if "error" in chunk:
            errors.append(chunk["error"])
        aux = chunk.get("aux") or {}
        digest = aux.get("Digest", digest)
    if errors:
        raise CommandExecutionError(f"push {name}: {errors[-1]}")
    return {"digest": digest}


def image_remove(name, force=False, profile=None):
    """
    Remove an image; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_remove app/web:old force=True
    """
    return _call(f"remove image {name}", _client(profile).remove_image, name, force=bool(force), not_found=False) is not False


def _resolve_context(path, saltenv="base"):
    if not path:
        raise SaltInvocationError("image build: a context directory (path) is required")
    if str(path).startswith("salt://"):
        cached = __salt__["cp.cache_dir"](path, saltenv=saltenv, include_empty=True)
        if not cached:
            raise SaltInvocationError(f"image build: {path} is not on the Salt fileserver")
        prefix = path[len("salt://"):].strip("/")
        local = os.path.join(__opts__["cachedir"], "files", saltenv, prefix)
        if not os.path.isdir(local):
            raise SaltInvocationError(f"image build: {path} did not cache as a directory")
        _prune_cached_context(local, prefix, saltenv)
        return local
    if not os.path.isdir(path):
        raise SaltInvocationError(f"image build: context {path} is not a directory")
    return path


def _prune_cached_context(local, prefix, saltenv):
    """``cp.cache_dir`` never deletes what left the fileserver; a build context must."""
    served = {
        os.path.relpath(f, prefix)
        for f in __salt__["cp.list_master"](saltenv=saltenv, prefix=prefix + "/")
    }
    for root, dirs, files in os.walk(local, topdown=False):
        for fname in files:
            full = os.path.join(root, fname)
            if os.path.relpath(full, local) not in served:
                os.remove(full)
        for dname in dirs:
            full = os.path.join(root, dname)
            if not os.listdir(full):
                os.rmdir(full)


_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.IGNORECASE | re.MULTILINE)


def _base_images(dockerfile_text, buildargs):
    """The images a Dockerfile's FROM lines name, with ARG defaults and build args applied."""
    head = dockerfile_text.split("\n")
    first_from = next((i for i, line in enumerate(head) if _FROM.match(line)), len(head))
    defaults = {m.group(1): (m.group(2) or "").strip("\"'") for m in _ARG.finditer("\n".join(head[:first_from]))}
    values = {**defaults, **buildargs}
    stages, images = set(), []
    for match in _FROM.finditer(dockerfile_text):
        ref = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: values.get(m.group(1), ""), match.group(1))
        if ref.lower() != "scratch" and ref not in stages:
            images.append(ref)
        if match.group(2):
            stages.add(match.group(2))
    return images


def build_inputs_digest(path, dockerfile="Dockerfile", buildargs=None, target=None, saltenv="base",
                        labels=None, base_image=None, profile=None):
    """
    Digest of everything an image build reads: the Dockerfile, the context files (honouring
    ``.dockerignore``, names, modes and contents), the build args (``base_image`` is the
    ``BASE_IMAGE`` arg), the target, the labels, and the ids of the base images its ``FROM``
    lines name as the engine has them now — a rebuilt base image rebuilds what stands on it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.build_inputs_digest salt://app/image buildargs='{"VERSION": "1.2"}'
    """
    context = _resolve_context(path, saltenv)
    dockerfile = dockerfile or "Dockerfile"
    dockerfile_path = os.path.join(context, dockerfile)
    if not os.path.isfile(dockerfile_path):
        raise SaltInvocationError(f"image build: no {dockerfile} in {path}")
    ignore_file = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.isfile(ignore_file):
        with open(ignore_file, encoding="utf-8") as fh:
            patterns = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    files = sorted(exclude_paths(context, patterns, dockerfile=dockerfile))
    digest = hashlib.sha256()
    digest.update(b"saltext-chain build inputs v1\0")
    for rel in files:
        full = os.path.join(context, rel)
        if os.path.isdir(full) and not os.path.islink(full):
            continue
        st = os.lstat(full)
        digest.update(rel.encode() + b"\0" + oct(st.st_mode & 0o777).encode() + b"\0")
        if os.path.islink(full):
            digest.update(os.readlink(full).encode())
        else:
            with open(full, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
        digest.update(b"\0")
    with open(dockerfile_path, "rb") as fh:
        dockerfile_bytes = fh.read()
    digest.update(b"dockerfile\0" + dockerfile_bytes)
    args = dict(_str_map(buildargs, "buildargs") or {})
    if base_image:
        args["BASE_IMAGE"] = base_image
    bases = {}
    for ref in _base_images(dockerfile_bytes.decode("utf-8", "replace"), args):
        found = image_inspect(ref, profile=profile)
        bases[ref] = found["Id"] if found else None
    digest.update(json.dumps({"buildargs": args, "target": target, "labels": _str_map(labels, "labels") or {},
                              "bases": bases}, sort_keys=True).encode())
    return digest.hexdigest()


def image_build(
    name,
    path,
    dockerfile="Dockerfile",
    buildargs=None,
    target=None,
    labels=None,
    base_image=None,
    nocache=False,
    saltenv="base",
    profile=None,
):
    """
    Build an image from a context directory (``salt://`` or local) and tag it ``name``.

    The digest of the build inputs (see :py:func:`build_inputs_digest`) is recorded as the
    ``org.saltext-chain.inputs`` label. ``base_image`` sets the ``BASE_IMAGE`` build arg
    (Dockerfiles begin with ``ARG BASE_IMAGE`` / ``FROM ${BASE_IMAGE}``).
    Returns ``{id, digest, log}``; a failed build raises with the builder's last lines.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_build app/web:1.2 salt://app/image buildargs='{"VERSION": "1.2"}'
    """
    context = _resolve_context(path, saltenv)
    digest = build_inputs_digest(context, dockerfile, buildargs, target, labels=labels,
                                 base_image=base_image, profile=profile)
    buildargs = dict(_str_map(buildargs, "buildargs") or {})
    if base_image:
        buildargs["BASE_IMAGE"] = base_image
    all_labels = {**(_str_map(labels, "labels") or {}), INPUTS_LABEL: digest}
    client = _client(profile)
    lines, errors = [], []
    stream = _call(
        f"build {name}",
        client.build,
        path=context,
        tag=name,
        dockerfile=dockerfile,
        buildargs=buildargs or None,
        target=target,
        labels=all_labels,
        rm=True,
        forcerm=True,
        nocache=bool(nocache),
        decode=True,
        timeout=connection(profile)["build_timeout"],
    )
    image_id = None
    for chunk in stream:
        if "stream" in chunk:
            lines.append(chunk["stream"].rstrip("\n"))
            match = re.search(r"Successfully built ([0-9a-f]+)", chunk["stream"])
            if match:
                image_id = match.group(1)
        if "error" in chunk:
            errors.append(chunk["error"].strip())
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    if errors or not image_id:
        tail = "\n".join([ln for ln in lines if ln][-15:] + errors)
        raise CommandExecutionError(f"build {name} failed:\n{tail}")
    built = image_inspect(name, profile=profile)
    return {"id": built["Id"], "digest": digest, "log": "\n".join(ln for ln in lines if ln)[-4000:]}


def _docker_config_path(config_path=None):
    return config_path or os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def _read_docker_config(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise CommandExecutionError(f"cannot read {path}: {err}") from err


def _write_docker_config(path, conf):
    """Atomically, mode 0600 (it holds credentials), like ``docker login``."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        json.dump(conf, fh, indent=2)
    os.replace(tmp, path)


def _forget_clients():
    """Cached clients keep the credentials of a login; drop them when credentials change."""
    for key in [k for k in __context__ if str(k).startswith("container.client:")]:
        __context__.pop(key).close()


def _registry_credentials(registry, username=None, password=None):
    creds = (__salt__["config.get"]("container:registries", {}) or {}).get(registry) or {}
    username = username or creds.get("username")
    password = password or creds.get("password")
    if not username or not password:
        raise SaltInvocationError(
            f"registry {registry}: no credentials (pass username/password or set "
            f"container:registries:{registry} in pillar)"
        )
    return username, password


def login_status(registry, username=None, password=None, config_path=None):
    """
    Report whether the Docker client config holds the given (or pillar) credentials for a
    registry, without changing anything. Returns ``{"logged_in", "username", "matches"}``;
    secrets are never returned.

    CLI Example:

    .. code-block:: bash

        salt '*' container.login_status 127.0.0.1:5000
    """
    path = _docker_config_path(config_path)
    entry = (_read_docker_config(path).get("auths") or {}).get(registry) or {}
    stored_user, stored_pw = None, None
    if entry.get("auth"):
        stored_user, _, stored_pw = base64.b64decode(entry["auth"]).decode("utf-8", "replace").partition(":")
    matches = None
    if username or password or (__salt__["config.get"]("container:registries", {}) or {}).get(registry):
        want_user, want_pw = _registry_credentials(registry, username, password)
        matches = stored_user == want_user and stored_pw == want_pw
    return {"logged_in": bool(stored_user), "username": stored_user, "matches": matches, "config_path": path}


def login(registry, username=None, password=None, config_path=None, profile=None):
    """
    Log in to a registry: the engine verifies the credentials, then they are stored in the
    Docker client config (``~/.docker/config.json`` unless ``config_path``), as ``docker login``
    does. Credentials default to ``container:registries:<registry>`` from pillar/config. Pulls
    and pushes by this module use a registry's credentials for that registry alone.
    The password is never returned or logged.

    CLI Example:

    .. code-block:: bash

        salt '*' container.login 127.0.0.1:5000
    """
    username, password = _registry_credentials(registry, username, password)
    try:
        result = _client(profile).login(
            username=username, password=password, registry=registry, reauth=True,
            dockercfg_path="/nonexistent",
        )
    except docker.errors.APIError as err:
        raise _api_error(err, f"login to {registry} as {username}") from err
    path = _docker_config_path(config_path)
    conf = _read_docker_config(path)
    conf.setdefault("auths", {})[registry] = {
        "auth": base64.b64encode(f"{username}:{password}".encode()).decode()
    }
    _write_docker_config(path, conf)
    _forget_clients()
    return {"registry": registry, "username": username, "status": result.get("Status", "Login Succeeded")}


def logout(registry, config_path=None):
    """
    Remove a registry's credentials from the Docker client config; False when there were none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.logout 127.0.0.1:5000
    """
    path = _docker_config_path(config_path)
    conf = _read_docker_config(path)
    if registry not in (conf.get("auths") or {}):
        return False
    del conf["auths"][registry]
    _write_docker_config(path, conf)
    _forget_clients()
    return True


_LOOPBACK = ("127.", "localhost", "[::1]", "::1")
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def _registry_base(registry):
    """Base URL of a registry's HTTP API from a name as users write it (host[:port],
    [v6]:port, or a URL). Loopback registries are plain HTTP, as the engine treats them."""
    text = str(registry).strip().rstrip("/")
    scheme = None
    if "://" in text:
        scheme, _, text = text.partition("://")
    host = text.split("/", 1)[0]
    if host in _DOCKER_HUB:
        return "https://registry-1.docker.io"
    if scheme is None:
        scheme = "http" if host.startswith(_LOOPBACK) else "https"
    return f"{scheme}://{host}"


def _bearer_token(challenge, username, password, timeout):
    """Token auth (Docker Hub, GHCR, GitLab, Harbor): ask the realm for a token."""
    import requests  # pylint: disable=import-outside-toplevel

    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", None)
    if not realm:
        return None
    auth = (username, password) if username and password else None
    try:
        resp = requests.get(realm, params=params, auth=auth, timeout=float(timeout))
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    body = resp.json() if resp.content else {}
    return body.get("token") or body.get("access_token")


def _registry_request(registry, path, username=None, password=None, method="GET", timeout=10, headers=None):
    """One registry API request with Basic auth, following a Bearer challenge once."""
    import requests  # pylint: disable=import-outside-toplevel

    url = _registry_base(registry) + path
    headers = dict(headers or {})
    auth = (username, password) if username and password else None
    try:
        resp = requests.request(method, url, auth=auth, timeout=float(timeout), headers=headers)
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("bearer"):
            token = _bearer_token(challenge[len("bearer"):].strip(), username, password, timeout)
            if token:
                headers["Authorization"] = f"Bearer {token}"
                resp = requests.request(method, url, timeout=float(timeout), headers=headers)
        return resp
    except requests.RequestException as err:
        raise CommandExecutionError(f"registry {registry} did not answer: {type(err).__name__}") from err


def registry_check(registry, username=None, password=None, timeout=10):
    """
    Check credentials against a registry's ``/v2/`` endpoint without changing anything.

    Returns ``{"authenticated": bool, "status": http_status}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.registry_check 127.0.0.1:5000
    """
    creds = (__salt__["config.get"]("container:registries", {}) or {}).get(registry) or {}
    username = username or creds.get("username")
    password = password or creds.get("password")
    resp = _registry_request(registry, "/v2/", username, password, timeout=timeout)
    return {"authenticated": resp.status_code == 200, "status": resp.status_code}


def registry_digest(name, timeout=10):
    """
    Return the manifest digest a registry serves for ``registry/repo:tag``, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.registry_digest 127.0.0.1:5000/app/web:1.2
    """
    registry = _registry_of(name)
    repo, tag = _split_repo_tag(name)
    repo = repo[len(registry) + 1:] if repo.startswith(registry + "/") else repo
    creds = _auth_for(name) or {}
    resp = _registry_request(
        registry, f"/v2/{repo}/manifests/{tag}", creds.get("username"), creds.get("password"),
        method="HEAD", timeout=timeout,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                           "application/vnd.oci.image.manifest.v1+json"},
    )
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        raise CommandExecutionError(f"registry {registry}: HTTP {resp.status_code} for {repo}:{tag}")
    return resp.headers.get("Docker-Content-Digest")


# ---------------------------------------------------------------------------------------------
# Networks and volumes
# ---------------------------------------------------------------------------------------------


def network_inspect(name, profile=None):
    """
    Return a network's inspect data, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_inspect chain
    """
    return _call(f"inspect network {name}", _client(profile).inspect_network, name, not_found=None)


def _declared_map_diff(field, declared, have, diff):
    """Keys the sls declares whose value differs (values normalised as creation stores them)."""
    declared = _str_map(declared, field) or {}
    have = have or {}
    wrong = {k: v for k, v in declared.items() if have.get(k) != v}
    if wrong:
        diff[field] = {"old": {k: have.get(k) for k in wrong}, "new": wrong}


def network_compare(name, driver=None, labels=None, options=None, subnet=None, gateway=None,
                    internal=None, enable_ipv6=None, profile=None):
    """
    Compare a network with declared properties; ``None`` when it does not exist, else
    ``{"changes": {field: {old, new}}, "containers": [...]}``. Only declared properties are
    compared: IPAM pools the daemon chose, its own options and ``Status`` never differ.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_compare chain subnet=172.28.5.0/24 labels='{"app": "chain"}'
    """
    current = network_inspect(name, profile=profile)
    if current is None:
        return None
    diff = {}
    if driver is not None and current.get("Driver") != driver:
        diff["driver"] = {"old": current.get("Driver"), "new": driver}
    _declared_map_diff("labels", labels, current.get("Labels"), diff)
    _declared_map_diff("options", options, current.get("Options"), diff)
    pools = ((current.get("IPAM") or {}).get("Config")) or []
    if subnet is not None and subnet not in [p.get("Subnet") for p in pools]:
        diff["subnet"] = {"old": [p.get("Subnet") for p in pools], "new": subnet}
    if gateway is not None and gateway not in [p.get("Gateway") for p in pools]:
        diff["gateway"] = {"old": [p.get("Gateway") for p in pools], "new": gateway}
    if internal is not None and bool(current.get("Internal")) != bool(internal):
        diff["internal"] = {"old": bool(current.get("Internal")), "new": bool(internal)}
    if enable_ipv6 is not None and bool(current.get("EnableIPv6")) != bool(enable_ipv6):
        diff["enable_ipv6"] = {"old": bool(current.get("EnableIPv6")), "new": bool(enable_ipv6)}
    return {"changes": diff, "containers": sorted(current.get("Containers") or {})}


def volume_compare(name, driver=None, driver_opts=None, labels=None, profile=None):
    """
    Compare a volume with declared properties; ``None`` when it does not exist, else
    ``{"changes": {field: {old, new}}}`` over the declared fields only.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_compare jenkins_home labels='{"app": "jenkins"}'
    """
    current = volume_inspect(name, profile=profile)
    if current is None:
        return None
    diff = {}
    if driver is not None and current.get("Driver") != driver:
        diff["driver"] = {"old": current.get("Driver"), "new": driver}
    _declared_map_diff("driver_opts", driver_opts, current.get("Options"), diff)
    _declared_map_diff("labels", labels, current.get("Labels"), diff)
    return {"changes": diff}


def networks(names=None, profile=None):
    """
    List networks as ``{name: {id, driver, labels}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.networks
    """
    rows = _call("list networks", _client(profile).networks, names=names)
    return {r["Name"]: {"id": r["Id"], "driver": r.get("Driver"), "labels": r.get("Labels") or {}} for r in rows}


def network_create(name, driver="bridge", labels=None, options=None, subnet=None, gateway=None,
                   internal=False, enable_ipv6=False, profile=None):
    """
    Create a network; returns its id.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_create chain subnet=172.28.5.0/24
    """
    client = _client(profile)
    ipam = None
    if subnet:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
    created = _call(
        f"create network {name}", client.create_network, name, driver=driver,
        options=_str_map(options, "options"), labels=_str_map(labels, "labels"), ipam=ipam,
        internal=bool(internal), enable_ipv6=bool(enable_ipv6), check_duplicate=True,
    )
    return created["Id"]


def network_remove(name, profile=None):
    """
    Remove a network; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_remove chain
    """
    return _call(f"remove network {name}", _client(profile).remove_network, name, not_found=False) is not False


def network_connect(network, container, aliases=None, ipv4_address=None, ipv6_address=None, profile=None):
    """
    Connect a container to a network with optional aliases and static addresses.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_connect chain web aliases='["www"]'
    """
    _call(
        f"connect {container} to {network}", _client(profile).connect_container_to_network,
        container, network, aliases=aliases, ipv4_address=ipv4_address, ipv6_address=ipv6_address,
    )
    return True


def network_disconnect(network, container, force=False, profile=None):
    """
    Disconnect a container from a network.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_disconnect chain web
    """
    _call(
        f"disconnect {container} from {network}", _client(profile).disconnect_container_from_network,
        container, network, force=bool(force),
    )
    return True


def volume_inspect(name, profile=None):
    """
    Return a volume's inspect data, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_inspect jenkins_home
    """
    return _call(f"inspect volume {name}", _client(profile).inspect_volume, name, not_found=None)


def volumes(profile=None):
    """
    List volumes as ``{name: {driver, labels, mountpoint}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volumes
    """
    data = _call("list volumes", _client(profile).volumes) or {}
    return {
        v["Name"]: {"driver": v.get("Driver"), "labels": v.get("Labels") or {}, "mountpoint": v.get("Mountpoint")}
        for v in data.get("Volumes") or []
    }


def volume_create(name, driver="local", driver_opts=None, labels=None, profile=None):
    """
    Create a volume; returns its inspect data.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_create jenkins_home labels='{"app": "jenkins"}'
    """
    return _call(
        f"create volume {name}", _client(profile).create_volume, name, driver=driver,
        driver_opts=_str_map(driver_opts, "driver_opts"), labels=_str_map(labels, "labels"),
    )


def volume_remove(name, force=False, profile=None):
    """
    Remove a volume; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_remove jenkins_home
    """
    return _call(f"remove volume {name}", _client(profile).remove_volume, name, force=bool(force), not_found=False) is not False


def prune(containers=False, images=False, networks=False, volumes=False, build=False,  # pylint: disable=redefined-outer-name
          labels=None, profile=None):
    """
    Remove unused objects of the kinds asked for; returns what each prune reclaimed.

    labels
        Only objects carrying these labels (``["key=value"]``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.prune containers=True images=True labels='["saltext-chain.test=1"]'
    """
    client = _client(profile)
    filters = {"label": [labels] if isinstance(labels, str) else list(labels)} if labels else None
    out = {}
    if containers:
        out["containers"] = _call("prune containers", client.prune_containers, filters=filters)
    if images:
        out["images"] = _call("prune images", client.prune_images, filters=filters)
    if networks:
        out["networks"] = _call("prune networks", client.prune_networks, filters=filters)
    if volumes:
        out["volumes"] = _call("prune volumes", client.prune_volumes, filters=filters)
    if build:
        out["build"] = _call("prune build cache", client.prune_builds)
    return out


def events(since, until=None, filters=None, profile=None):
    """
    Return the engine events between two unix timestamps (``until`` defaults to now).

    CLI Example:

    .. code-block:: bash

        salt '*' container.events since=1700000000 filters='{"type": ["container"]}'
    """
    until = until if until is not None else time.time()
    stream = _call(
        "events", _client(profile).events, since=since, until=until, filters=filters, decode=True
    )
    return list(stream)

