"""Stapler-style remote API helpers: ``tree=`` filtering and JSON responses.

``tree=`` follows Stapler's ``TreePruner``/``NamedPathPruner``: a comma separated list of property
names, each optionally followed by ``[sub,tree]`` and/or a range ``{M,N}``, ``{M,}``, ``{,N}``,
``{N}`` applying to lists.  Objects always keep their ``_class``; a nested object asked for without
a sub-tree is rendered with ``_class`` only, as Stapler does.
"""

import json

from aiohttp import web


class TreeSyntaxError(ValueError):
    pass


def parse_tree(text):
    """Parse a ``tree=`` spec into ``{name: (subtree_or_None, (start, stop)_or_None)}``."""
    pos = 0

    def parse_list():
        nonlocal pos
        result = {}
        while True:
            start = pos
            while pos < len(text) and text[pos] not in ",[]{}":
                pos += 1
            name = text[start:pos].strip()
            if not name:
                raise TreeSyntaxError(f"Invalid tree: {text}")
            sub = None
            rng = None
            if pos < len(text) and text[pos] == "[":
                pos += 1
                sub = parse_list()
                if pos >= len(text) or text[pos] != "]":
                    raise TreeSyntaxError(f"Invalid tree: {text}")
                pos += 1
            if pos < len(text) and text[pos] == "{":
                end = text.find("}", pos)
                if end < 0:
                    raise TreeSyntaxError(f"Invalid tree: {text}")
                rng = _parse_range(text[pos + 1 : end])
                pos = end + 1
            result[name] = (sub, rng)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            return result

    tree = parse_list()
    if pos != len(text):
        raise TreeSyntaxError(f"Invalid tree: {text}")
    return tree


def _parse_range(spec):
    try:
        if "," in spec:
            lo, hi = spec.split(",", 1)
            return (int(lo) if lo.strip() else None, int(hi) if hi.strip() else None)
        idx = int(spec)
        return (idx, idx + 1)
    except ValueError as exc:
        raise TreeSyntaxError(f"Invalid range: {spec}") from exc


def tree_depth(tree):
    if not tree:
        return 0
    return 1 + max((tree_depth(sub) for sub, _ in tree.values()), default=0)


def apply_tree(value, tree):
    """Prune ``value`` (already rendered deep enough) to ``tree``."""
    if isinstance(value, dict):
        out = {}
        if "_class" in value:
            out["_class"] = value["_class"]
        if tree is None:
            return out
        for name, (sub, rng) in tree.items():
            if name not in value:
                continue
            item = value[name]
            if isinstance(item, list):
                if rng is not None:
                    item = item[rng[0] : rng[1]]
                out[name] = [apply_tree(v, sub) if isinstance(v, dict | list) else v for v in item]
            elif isinstance(item, dict):
                out[name] = apply_tree(item, sub)
            else:
                out[name] = item
        return out
    if isinstance(value, list):
        return [apply_tree(v, tree) for v in value]
    return value


def json_response(request, build, status=200):
    """Render ``build(depth)`` honouring ``depth=`` and ``tree=`` like Stapler's ``Api.doJson``."""
    tree_text = request.query.get("tree")
    try:
        depth = int(request.query.get("depth", "0") or 0)
    except ValueError:
        depth = 0
    if tree_text:
        try:
            tree = parse_tree(tree_text)
        except TreeSyntaxError as exc:
            return web.Response(status=400, text=str(exc))
        data = apply_tree(build(max(depth, tree_depth(tree))), tree)
    else:
        data = build(depth)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if request.query.get("pretty") == "true":
        body = json.dumps(data, ensure_ascii=False, indent=2)
    return web.Response(
        status=status, body=body.encode("utf-8"), content_type="application/json", charset="utf-8"
    )
