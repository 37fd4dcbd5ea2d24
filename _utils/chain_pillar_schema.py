"""
The pillar of the ``chain`` and ``jenkins`` formulas, checked while the formula renders, before
any state runs: every mistake named by its full key path (``chain:service:replicas``) with what
the key takes. Pure; no Salt dunders.

The schema is the formula's own ``defaults.yaml`` (every key it declares is known, typed by its
default: a mapping is a closed mapping, a string a string, ...) with the keys below on top: the
open mappings (``chain:servers:<minion>``, ``jenkins:pools:<name>``, ...), the keys that have no
default (``chain:source:users``, ``jenkins:profiles``, the master's ``chain:apps``/``push``/
``page``) and the values a type alone does not describe (ports, choices, a pool's options, which
``chain_agents_plan`` validates as the pool state does).
"""

import difflib

try:
    from saltext.chain.utils import (
        chain_agents_plan,
        chain_app_conf,
        chain_certs,
        chain_docker_types,
        chain_errors,
        chain_profiles,
        chain_service_plan,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_plan
    import chain_app_conf
    import chain_certs
    import chain_docker_types
    import chain_errors
    import chain_profiles
    import chain_service_plan

BadInput = chain_errors.BadInput
FORMULAS = ("chain", "jenkins")
#: Keys of a pool in ``jenkins:pools:<name>`` that the formula takes (the rest are the pool's).
POOL_FORMULA_KEYS = ("image", "build", "dockerfile", "base_image", "wait")
HEALTH_KEYS = ("test", "interval", "timeout", "retries", "start_period", "start_interval")
SCALAR = (str, int, float, bool)


class Open:
    """A mapping of names (``what``) to values of one spec."""

    def __init__(self, value, what="names"):
        self.value = value
        self.what = what


def _type_name(value):
    return {dict: "a mapping", list: "a list", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _got(path, value):
    """How a wrong value is shown: never the value of a secret-named key."""
    if chain_errors.is_secret_name(path.rsplit(":", 1)[-1]):
        return _type_name(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expect(errs, path, value, what):
    errs.append(f"{path}: expected {what}, got {_got(path, value)}")


def _leaf(kind):
    """A checker ``(value, path, errs)`` of a named kind of value."""

    def check(value, path, errs):
        if kind == "any":
            return
        if kind == "bool" and not isinstance(value, bool):
            _expect(errs, path, value, "true or false")
        elif kind in ("str", "str?") and not (
            isinstance(value, str) or (kind == "str?" and value is None)
        ):
            _expect(errs, path, value, "a string" + (" or null" if kind == "str?" else ""))
        elif kind == "text" and (isinstance(value, bool) or not isinstance(value, SCALAR)):
            _expect(errs, path, value, "a string")
        elif kind in ("int", "port", "number"):
            _number(kind, value, path, errs)
        elif kind == "strlist" and not (
            isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        ):
            _expect(errs, path, value, "a list of names")
        elif kind == "profile" and not isinstance(value, (str, dict, type(None))):
            _expect(errs, path, value, "a profile name, a mapping or null")

    return check


def _number(kind, value, path, errs):
    try:
        if kind == "number":
            chain_errors.as_number(value, path, minimum=0)
        else:
            low, high = (1, 65535) if kind == "port" else (0, None)
            chain_errors.as_int(value, path, minimum=low, maximum=high)
    except BadInput as exc:
        errs.append(str(exc))


def _choice(*choices):
    def check(value, path, errs):
        if value not in choices:
            _expect(errs, path, value, "one of " + ", ".join(map(str, choices)))

    return check


def _scalars(value, path, errs):
    """A mapping of names to plain values (labels, environment variables)."""
    if not isinstance(value, dict):
        return _expect(errs, path, value, "a mapping of names to values")
    for key, item in value.items():
        if item is not None and not isinstance(item, SCALAR):
            _expect(errs, f"{path}:{key}", item, "a plain value (string or number)")
    return None


def _healthcheck(value, path, errs):
    if not isinstance(value, dict):
        return _expect(errs, path, value, "a mapping of " + ", ".join(HEALTH_KEYS))
    _closed({k: "any" for k in HEALTH_KEYS}, value, path, errs)
    if "test" not in value:
        errs.append(f"{path}:test: missing (the health command, e.g. 'curl -fs http://...')")
        return None
    known = {k: v for k, v in value.items() if k in HEALTH_KEYS and v is not None}
    try:
        chain_docker_types.healthcheck(known, path)
    except BadInput as exc:
        errs.append(str(exc).replace(f"{path}.", f"{path}:", 1))
    return None


def _pool(name, value, path, errs):
    if not isinstance(value, dict):
        return _expect(errs, path, value, "a mapping of pool options")
    known = (*chain_agents_plan.POOL_DEFAULTS, *POOL_FORMULA_KEYS)
    _closed({k: "any" for k in known}, value, path, errs)
    if not value.get("image"):
        errs.append(f"{path}:image: missing (the agent image, e.g. saltext-chain/jenkins-agent)")
    elif not isinstance(value["image"], str):
        _expect(errs, f"{path}:image", value["image"], "an image name")
    for key in ("build", "dockerfile", "base_image"):
        _leaf("str?")(value.get(key), f"{path}:{key}", errs)
    if value.get("wait", True) not in (True, False):
        _expect(errs, f"{path}:wait", value["wait"], "true or false")
    options = {k: v for k, v in value.items() if k in chain_agents_plan.POOL_DEFAULTS}
    try:
        chain_agents_plan.pool_options(name, options)
    except BadInput as exc:
        text = str(exc)
        key = text.split(":", 1)[0]
        errs.append(
            f"{path}:{text}" if key in chain_agents_plan.POOL_DEFAULTS else f"{path}: {text}"
        )
    return None


def _profile(value, path, errs):
    if not isinstance(value, dict):
        return _expect(errs, path, value, "a mapping of " + ", ".join(_PROFILE_KEYS))
    _closed({k: "any" for k in _PROFILE_KEYS}, value, path, errs)
    if not value.get("url"):
        errs.append(f"{path}:url: missing (the controller's http(s)://host:port/)")
    elif not isinstance(value["url"], str):
        _expect(errs, f"{path}:url", value["url"], "a URL")
    if value.get("timeout") is not None:
        _leaf("number")(value["timeout"], f"{path}:timeout", errs)
    return None


_PROFILE_KEYS = tuple(sorted(chain_profiles.KEYS["jenkins"]))


def _app(value, path, errs):
    if not isinstance(value, dict):
        return _expect(errs, path, value, "a mapping of " + ", ".join(chain_app_conf.KEYS))
    _closed({k: "any" for k in chain_app_conf.KEYS}, value, path, errs)
    swarm = value.get("pillar")
    for key in ("chain", "service", "mode"):
        swarm = swarm.get(key) if isinstance(swarm, dict) else None
    if "targets" not in value and swarm != "swarm":  # Swarm mode: the manager is the target
        errs.append(f"{path}:targets: missing (the app servers' minion ids, in rollout order)")
    elif "targets" in value and not isinstance(value["targets"], (str, list)):
        _expect(errs, f"{path}:targets", value["targets"], "a list of minion ids")
    return None


def _update(parallelism):
    spec = {k: "number" for k in chain_service_plan.UPDATE_DEFAULTS}
    spec.update(
        parallelism=parallelism,
        failure_action=_choice(*chain_service_plan.FAILURE_ACTIONS),
        order=_choice(*chain_service_plan.ORDERS),
    )
    return spec


def _parallelism_or_all(value, path, errs):
    if value != "all":
        _number("int", value, path, errs)


def _tls_ip(value, path, errs):
    try:
        chain_certs.check_ip(value, path)
    except BadInput as exc:
        errs.append(str(exc))


#: What defaults.yaml does not say, by formula: key path -> spec.
EXTRA = {
    "chain": {
        ("ref",): "text",
        ("commit",): "text",
        ("image",): "text",
        ("wave",): "str?",
        ("run_id",): "text",
        ("deploy",): "bool",
        ("profile",): "profile",
        ("labels",): _scalars,
        ("targets",): "strlist",
        ("jobs", "jenkins_profile"): "profile",
        ("jobs", "default_ref"): "text",
        ("source", "branch"): "text",
        ("source", "rev"): "text",
        ("source", "repos"): "strlist",
        ("source", "hg_repos"): "strlist",
        ("source", "users"): Open("text", "user names"),
        ("service", "environment"): _scalars,
        ("service", "mode"): _choice("containers", "swarm"),
        ("service", "manager"): "str?",
        ("service", "placement"): _scalars,
        ("service", "publish"): "any",
        ("service", "healthcheck"): _healthcheck,
        ("service", "update"): _update("int"),
        ("service", "update_after_canary"): _update(_parallelism_or_all),
        ("registry", "server", "password"): "text",
        ("registry", "tls", "ip"): _tls_ip,
        ("registry", "tls", "ca", "days_valid"): "number",
        ("registry", "tls", "ca", "days_remaining"): "number",
        ("registry", "tls", "cert", "days_valid"): "number",
        ("registry", "tls", "cert", "days_remaining"): "number",
        ("servers",): Open("chain", "minion ids"),
        ("apps",): Open(_app, "app names"),
        ("push",): Open("any", "keys (docs/push.md)"),  # the master's: its runners check it
        ("page",): Open("any", "keys (docs/push.md)"),
    },
    "jenkins": {
        ("profile",): "str?",
        ("engine",): "str?",
        ("default_profile",): "str?",
        ("profiles",): Open(_profile, "profile names"),
        ("formula_label",): _scalars,
        ("controller", "build"): "str?",
        ("controller", "base_image"): "str?",
        ("controller", "admin_token"): "str?",
        ("controller", "environment"): _scalars,
        ("controller", "plugins"): Open("text", "plugin names"),
        ("pools",): Open(_pool, "pool names"),
    },
}


def _from_default(value):
    if isinstance(value, dict):
        return {k: _from_default(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "strlist"
    return "str" if isinstance(value, str) else "any"


def schema(formula, defaults):
    """The spec of pillar ``formula`` from its ``defaults.yaml`` mapping and :data:`EXTRA`."""
    spec = _from_default(defaults or {})
    if not isinstance(spec, dict):
        spec = {}
    for path, item in EXTRA[formula].items():
        node = spec
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = item
    for key, item in list(_walk_specs(spec)):
        if key[-1].endswith("port") and item == "int":
            _set(spec, key, "port")
    return spec


def _walk_specs(spec, path=()):
    for key, item in spec.items():
        if isinstance(item, dict):
            yield from _walk_specs(item, (*path, key))
        else:
            yield (*path, key), item


def _set(spec, path, item):
    for key in path[:-1]:
        spec = spec[key]
    spec[path[-1]] = item


def _closed(spec, value, path, errs):
    """Unknown keys of a closed mapping: each named, with a near known key if any."""
    for key in value:
        if key in spec:
            continue
        near = difflib.get_close_matches(str(key), [str(k) for k in spec], n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}? " if near else ""
        takes = ", ".join(sorted(map(str, spec)))
        errs.append(f"{path}:{key}: unknown key ({hint}{path} takes: {takes})")


def _check(spec, value, path, errs, root):
    if isinstance(spec, Open):
        if not isinstance(value, dict):
            return _expect(errs, path, value, f"a mapping of {spec.what}")
        for key, item in value.items():
            _check(spec.value, item, f"{path}:{key}", errs, root)
    elif spec == "chain":  # a server's overrides: any part of the chain pillar
        _check_partial(root, value, path, errs)
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            return _expect(errs, path, value, "a mapping of " + ", ".join(map(str, spec)))
        _closed(spec, value, path, errs)
        for key, item in value.items():
            if key in spec:
                _check(spec[key], item, f"{path}:{key}", errs, root)
    elif callable(spec) and not isinstance(spec, str):
        if spec is _pool:
            return _pool(path.rsplit(":", 1)[-1], value, path, errs)
        spec(value, path, errs)
    else:
        _leaf(spec)(value, path, errs)
    return None


def _check_partial(root, value, path, errs):
    server = {k: v for k, v in root.items() if k != "servers"}
    if value is None:
        return
    _check(server, value, path, errs, root)


def errors(formula, data, defaults=None):
    """Every mistake in pillar ``formula`` (``data``: its value, defaults merged or not), as
    lines ``<full:key:path>: <what is wrong and what it takes>``; ``[]`` when it is right."""
    if formula not in FORMULAS:
        raise BadInput(f"formula: expected one of {', '.join(FORMULAS)}, got {formula!r}")
    spec = schema(formula, defaults)
    errs = []
    _check(spec, data, formula, errs, spec)
    if formula == "jenkins" and isinstance(data, dict):
        _profile_names(data, errs)
    if formula == "chain" and isinstance(data, dict):
        _tls_address(data, errs)
    return errs


def _tls_address(data, errs):
    """With ``chain:registry:tls:enabled``, the address is ``name:port`` and its port the
    server's (the name resolves to the host, the engine connects to the published port)."""
    registry = data.get("registry")
    if not isinstance(registry, dict) or not isinstance(registry.get("tls"), dict):
        return
    if registry["tls"].get("enabled") is not True:
        return
    try:
        _, port = chain_certs.split_address(registry.get("address"), "chain:registry:address")
    except BadInput as exc:
        errs.append(str(exc))
        return
    server = registry.get("server") if isinstance(registry.get("server"), dict) else {}
    if "port" in server and str(server["port"]) != str(port):
        errs.append(
            f"chain:registry:address: its port {port} is not chain:registry:server:port "
            f"({server['port']}): the engines connect to the registry's published port"
        )


def _profile_names(data, errs):
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        return
    for key in ("profile", "default_profile"):
        name = data.get(key)
        if isinstance(name, str) and name not in profiles:
            errs.append(
                f"jenkins:{key}: {name!r} is not a profile of jenkins:profiles "
                f"({', '.join(sorted(map(str, profiles)))})"
            )


def check(formula, data, defaults=None):
    """``data`` when pillar ``formula`` is right; otherwise ``BadInput`` naming every mistake."""
    errs = errors(formula, data, defaults)
    if errs:
        count = f"{len(errs)} mistake" + ("s" if len(errs) > 1 else "")
        raise BadInput(f"pillar {formula}: {count}, nothing was applied:\n  " + "\n  ".join(errs))
    return data
