"""
How a declared value and what the engine reports compare, by comparison kind and mode, and how
their difference is reported in ``changes``.

Kinds: ``value`` (exact, order matters), ``set`` (order-free), ``dict`` (key by key),
``networks`` (endpoints: aliases and addresses). Modes: ``strict``, ``ignore``,
``allow_more_present`` (what exists may hold more than declared).

The container option table (``chain_docker_spec``) names each option's kind and default mode;
this module knows nothing of options. Pure code: no Salt dunders, no docker SDK.
"""

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

COMPARISON_MODES = ("strict", "ignore", "allow_more_present")


def _hashable(item):
    return tuple(item) if isinstance(item, list) else item


def differs(kind, mode, want, have):
    """True when ``have`` (canonical, from inspect) is not as ``want`` declares under ``mode``."""
    if mode == "ignore":
        return False
    if kind == "set":
        exp, act = {_hashable(x) for x in want}, {_hashable(x) for x in have or []}
        return not exp <= act if mode == "allow_more_present" else exp != act
    if kind == "dict":
        have = have or {}
        if mode == "allow_more_present":
            return any(have.get(k) != v for k, v in want.items())
        return want != have
    if kind == "networks":
        have = have or {}
        for name, opts in want.items():
            cur = have.get(name)
            if cur is None or not set(opts["aliases"]) <= set(cur["aliases"]):
                return True
            if any(opts[k] and opts[k] != cur[k] for k in ("ipv4_address", "ipv6_address")):
                return True
        return mode == "strict" and set(have) - set(want) - {"bridge"} != set()
    return want != have


def change(kind, want, have, field=None):
    """The ``changes`` entry of one field: sets as added/removed, maps as the differing keys."""
    if kind == "set":
        exp, act = {_hashable(x) for x in want}, {_hashable(x) for x in have or []}
        out = {"added": sorted(exp - act), "removed": sorted(act - exp)}
    elif kind == "dict":
        have = have or {}
        keys = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        out = {
            "old": {k: have[k] for k in keys if k in have},
            "new": {k: want[k] for k in keys if k in want},
        }
    else:
        out = {"old": have, "new": want}
    if field == "environment":
        out = {side: chain_errors.mask_mapping(values) for side, values in out.items()}
    return out
