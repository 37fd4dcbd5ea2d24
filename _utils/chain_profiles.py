"""
Connection profiles, resolved one way for every caller: the ``container`` and ``jenkins``
execution modules, the ``container_engine`` grain and the ``container_events`` beacon.

A profile lives under ``<kind>:profiles:<name>`` (minion config, pillar or master config, read
through the ``config.get`` the caller passes in) and a call may name one, pass one inline as a
dict, or both (``{"name": "ci", "timeout": 5}`` overrides the named profile's keys). Rules:

* no name: ``<kind>:default_profile``, else ``default``;
* a named profile that is not configured is an error, except ``default`` (which falls back to
  the backend's own defaults: ``DOCKER_HOST``/the local socket, the old flat ``jenkins.*`` keys);
* an inline profile without a name that carries its own endpoint (``base_url``/``url``) stands
  alone: the default profile's credentials and TLS files are never merged into another backend;
* unknown keys, a profile that is not a mapping and malformed values raise :class:`BadInput`.

Helpers take ``config_get`` (a callable like ``config.get``) instead of Salt's dunders.
"""

import hashlib
import json
import re
import urllib.parse

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

BadInput = chain_errors.BadInput

#: Keys each kind of profile accepts, and the key naming its endpoint.
KEYS = {
    "container": frozenset(
        {
            "name",
            "base_url",
            "version",
            "timeout",
            "build_timeout",
            "tls",
            "user_agent",
            "max_pool_size",
        }
    ),
    "jenkins": frozenset({"name", "url", "user", "token", "password", "timeout", "verify"}),
}
ENDPOINT = {"container": "base_url", "jenkins": "url"}
TLS_KEYS = frozenset({"ca_cert", "client_cert", "client_key", "verify"})

DOCKER_TIMEOUT = 60
DOCKER_BUILD_TIMEOUT = 3600
#: Seconds a grain allows each engine request: a grain must never hold up the minion.
GRAIN_TIMEOUT = 2
JENKINS_TIMEOUT = 30


def resolve(kind, profile, config_get, legacy=None):
    """The merged, key-checked profile mapping (with ``name``) for ``profile``.

    kind
        ``container`` or ``jenkins``.
    profile
        ``None``, a profile name, or a dict (optionally with ``name``) of overrides.
    config_get
        ``config_get(key, default)`` with Salt's ``a:b:c`` traversal.
    legacy
        A callable giving the base mapping when no profile is configured at all.
    """
    keys = KEYS[kind]
    if isinstance(profile, dict):
        inline = dict(profile)
        name = inline.pop("name", None)
        if name is not None and not isinstance(name, str):
            raise BadInput(f"profile: name must be a string, got {name!r}")
    elif profile is None or isinstance(profile, str):
        inline, name = {}, profile
    else:
        raise BadInput(f"profile must be a name or a mapping, not {type(profile).__name__}")
    unknown = set(inline) - keys
    if unknown:
        raise BadInput(f"unknown {kind} profile key(s): {', '.join(sorted(map(str, unknown)))}")
    explicit = name is not None
    if name is None and inline.get(ENDPOINT[kind]):
        name, base = "inline", {}
    else:
        if name is None:
            name = config_get(f"{kind}:default_profile", None) or "default"
            if not isinstance(name, str):
                raise BadInput(f"{kind}:default_profile must be a profile name, got {name!r}")
        base = config_get(f"{kind}:profiles:{name}", None)
        if base is None:
            if explicit and name != "default":
                raise BadInput(
                    f"unknown {kind} profile '{name}': define {kind}:profiles:{name} "
                    "in the minion config or pillar"
                )
            base = legacy() if legacy else {}
    if not isinstance(base, dict):
        raise BadInput(f"{kind}:profiles:{name} must be a mapping")
    merged = {**base, **inline}
    unknown = set(merged) - keys
    if unknown:
        raise BadInput(
            f"{kind}:profiles:{name}: unknown key(s): {', '.join(sorted(map(str, unknown)))}"
        )
    merged["name"] = name
    return merged


def docker_connection(conf, environ=None):
    """Validated Docker connection settings from a resolved ``container`` profile.

    ``{name, base_url, version, timeout, build_timeout, tls, max_pool_size, user_agent}``;
    ``base_url`` falls back to ``DOCKER_HOST`` from ``environ``, then the SDK's local socket.
    """
    name = conf["name"]
    where = f"container profile '{name}'"
    base_url = conf.get("base_url") or (environ or {}).get("DOCKER_HOST") or None
    if base_url is not None and not isinstance(base_url, str):
        raise BadInput(f"{where}: base_url must be a string like unix:///var/run/docker.sock")
    version = str(conf.get("version") or "auto")
    if version != "auto" and not re.match(r"^\d+\.\d+$", version):
        raise BadInput(f"{where}: version must be 'auto' or an API version like 1.41")
    tls = conf.get("tls") or None
    if tls is not None and tls is not True:
        if not isinstance(tls, dict):
            raise BadInput(f"{where}: tls must be true or a mapping of {sorted(TLS_KEYS)}")
        unknown = set(tls) - TLS_KEYS
        if unknown:
            raise BadInput(f"{where}: unknown tls key(s): {', '.join(sorted(map(str, unknown)))}")
        tls = dict(tls)
    return {
        "name": name,
        "base_url": base_url,
        "version": version,
        "timeout": _positive(conf.get("timeout"), DOCKER_TIMEOUT, where, "timeout", int),
        "build_timeout": _positive(
            conf.get("build_timeout"), DOCKER_BUILD_TIMEOUT, where, "build_timeout", int
        ),
        "tls": tls,
        "max_pool_size": _positive(conf.get("max_pool_size"), None, where, "max_pool_size", int),
        "user_agent": str(conf["user_agent"]) if conf.get("user_agent") else None,
    }


def jenkins_connection(conf):
    """Validated Jenkins connection settings from a resolved ``jenkins`` profile.

    ``{name, url (ending in /), user, token, timeout, verify}``. The url may carry neither
    credentials nor a query string (they would leak into error messages), and it is never
    echoed back when it does.
    """
    name = conf["name"]
    where = f"jenkins profile '{name}'"
    merged = dict(conf)
    if "password" in merged:
        merged.setdefault("token", merged.pop("password"))
        merged.pop("password", None)
    url = merged.get("url")
    if not url or not isinstance(url, str):
        raise BadInput(
            f"no Jenkins URL for profile '{name}': set jenkins:profiles:{name}:url "
            "(or pass profile={'url': ...})"
        )
    netloc = urllib.parse.urlsplit(url).netloc if "://" in url else url.split("/", 1)[0]
    if "@" in netloc:
        raise BadInput(
            f"{where}: the url must not contain a user or token (user:token@host); put them in "
            f"the profile keys (jenkins:profiles:{name}:user/token)"
        )
    if "?" in url or "#" in url:
        raise BadInput(
            f"{where}: the url must be the controller's base url, without a query string or "
            "fragment (credentials go in the user/token keys)"
        )
    if not re.match(r"^https?://[^/?#]+", url):
        raise BadInput(f"{where}: url must be http(s)://..., got {url!r}")
    verify = merged.get("verify", True)
    if not isinstance(verify, (bool, str)):
        raise BadInput(f"{where}: verify must be true/false or a CA bundle path")
    if (merged.get("user") is None) != (merged.get("token") is None):
        raise BadInput(f"{where}: set both user and token, or neither")
    return {
        "name": name,
        "url": url if url.endswith("/") else url + "/",
        "user": None if merged.get("user") is None else str(merged["user"]),
        "token": None if merged.get("token") is None else str(merged["token"]),
        "timeout": _positive(merged.get("timeout"), JENKINS_TIMEOUT, where, "timeout", float),
        "verify": verify,
    }


def loader_mapping(value):
    """A loader-injected mapping (a grain's ``__opts__``/``__pillar__``) as a plain mapping:
    ``{}`` when unset, also outside a loader, where touching the context raises."""
    try:
        return value or {}
    except Exception:  # noqa: BLE001 - an unset loader context raises on access
        return {}


def default_docker_connection(opts, pillar, environ):
    """The default container profile's settings from minion opts and pillar (plain mappings
    or the grain's loader-injected ones), resolved as the execution module resolves them: for
    grains, which have no ``config.get``."""
    config_get = config_getter(loader_mapping(opts), loader_mapping(pillar))
    return docker_connection(resolve("container", None, config_get), environ)


def cache_key(kind, conf):
    """A per-process cache key for a client; secrets only enter it through a SHA-256."""
    material = json.dumps(conf, sort_keys=True, default=str).encode()
    return f"{kind}.client:" + hashlib.sha256(material).hexdigest()


def config_getter(*sources):
    """A ``config_get`` over plain mappings, first hit wins (e.g. minion opts, then pillar):
    for callers that have no ``config.get`` yet, such as grains."""

    def config_get(key, default=None):
        for source in sources:
            node = source
            for part in key.split(":"):
                try:
                    node = node[part]
                except (KeyError, TypeError, IndexError):
                    node = None
                    break
            if node is not None:
                return node
        return default

    return config_get


def _positive(value, default, where, field, cast):
    if value is None or value == "":
        return default
    if cast is int:
        number = chain_errors.as_int(value, f"{where}: {field}", minimum=1)
    else:
        number = chain_errors.as_number(value, f"{where}: {field}")
        if number <= 0:
            raise BadInput(f"{where}: {field} must be positive, got {value!r}")
    return number
