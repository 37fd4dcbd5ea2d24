"""
Networks and volumes as declared in a state or a call: checked (no I/O), compared with what
the engine reports; the engine's list answers summarised; exec arguments and container health.

Only declared properties are compared: IPAM pools the daemon chose, its own driver options and
``Status`` never differ. Maps (labels, options, driver options) are normalised as creation
stores them (``true``/``false`` for booleans, numbers as text), so what was created converges.

Used by the ``container`` execution module and, for checking input before any engine read, by
the ``container_network`` and ``container_volume`` states. No Salt dunders here.
"""

import ipaddress
import re

try:
    from saltext.chain.utils import chain_docker_types, chain_errors, chain_health
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_types
    import chain_errors
    import chain_health

BadInput = chain_errors.BadInput

_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]+(/\d{1,3})?$")


def name(value, field="name"):
    """A non-empty name (container, network, volume, path)."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field}: expected a non-empty name, got {value!r}")
    return value


def label_filters(labels, field="labels"):
    """``["key", "key=value"]`` (or one string) -> the engine's ``label`` filter list."""
    if labels is None or labels == [] or labels == "":
        return None
    items = [labels] if isinstance(labels, str) else labels
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) and i for i in items):
        raise BadInput(f"{field}: expected a list of 'key' or 'key=value' strings")
    return list(items)


def _map(value, field):
    return None if value is None else chain_docker_types.str_map(value, field)


def _driver(value, example):
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise BadInput(f"driver: expected a driver name like {example}, got {value!r}")
    return value


def _flag(value, field):
    return None if value is None else chain_errors.as_bool(value, field)


def network_spec(
    driver=None,
    labels=None,
    options=None,
    subnet=None,
    gateway=None,
    internal=None,
    enable_ipv6=None,
    attachable=None,
):
    """Declared network properties, checked and normalised; undeclared ones stay ``None``."""
    for value, field in ((subnet, "subnet"), (gateway, "gateway")):
        if value is not None and not _ADDRESS.match(str(value)):
            raise BadInput(f"{field}: expected an address like 172.28.5.0/24, got {value!r}")
    if gateway is not None and subnet is None:
        raise BadInput("gateway needs a subnet")
    if subnet is not None:
        _check_pool(str(subnet), None if gateway is None else str(gateway))
    return {
        "driver": _driver(driver, "bridge"),
        "labels": _map(labels, "labels"),
        "options": _map(options, "options"),
        "subnet": None if subnet is None else str(subnet),
        "gateway": None if gateway is None else str(gateway),
        "internal": _flag(internal, "internal"),
        "enable_ipv6": _flag(enable_ipv6, "enable_ipv6"),
        "attachable": _flag(attachable, "attachable"),
    }


def _check_pool(subnet, gateway):
    """A subnet in CIDR notation (``10.0.0.0/33`` is refused here, not by the engine) and a
    gateway that is an address inside it, other than the subnet's own network address."""
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError as err:
        raise BadInput(
            f"subnet: expected CIDR notation like 172.28.5.0/24, got {subnet!r}: {err}"
        ) from None
    if "/" not in subnet:
        raise BadInput(f"subnet: expected CIDR notation like 172.28.5.0/24, got {subnet!r}")
    if gateway is None:
        return
    try:
        address = ipaddress.ip_address(gateway)
    except ValueError:
        raise BadInput(f"gateway: expected an address like 172.28.5.1, got {gateway!r}") from None
    if address.version != network.version or address not in network:
        raise BadInput(f"gateway: {gateway} is not inside the subnet {subnet}")
    if address == network.network_address and network.num_addresses > 2:
        raise BadInput(f"gateway: {gateway} is the subnet's network address; use a host address")


def volume_spec(driver=None, driver_opts=None, labels=None):
    """Declared volume properties, checked and normalised."""
    return {
        "driver": _driver(driver, "local"),
        "driver_opts": _map(driver_opts, "driver_opts"),
        "labels": _map(labels, "labels"),
    }


def _declared(diff, field, declared, have):
    """Keys declared whose value differs."""
    have = have or {}
    wrong = {k: v for k, v in (declared or {}).items() if have.get(k) != v}
    if wrong:
        diff[field] = {"old": {k: have.get(k) for k in wrong}, "new": wrong}


def _value(diff, field, declared, have):
    if declared is not None and have != declared:
        diff[field] = {"old": have, "new": declared}


def network_diff(spec, current):
    """``{field: {old, new}}`` between a :func:`network_spec` and a network's inspect data."""
    diff = {}
    _value(diff, "driver", spec["driver"], current.get("Driver"))
    _declared(diff, "labels", spec["labels"], current.get("Labels"))
    _declared(diff, "options", spec["options"], current.get("Options"))
    pools = ((current.get("IPAM") or {}).get("Config")) or []
    for field, key in (("subnet", "Subnet"), ("gateway", "Gateway")):
        have = [p.get(key) for p in pools]
        if spec[field] is not None and spec[field] not in have:
            diff[field] = {"old": have, "new": spec[field]}
    _value(diff, "internal", spec["internal"], bool(current.get("Internal")))
    _value(diff, "enable_ipv6", spec["enable_ipv6"], bool(current.get("EnableIPv6")))
    _value(diff, "attachable", spec["attachable"], bool(current.get("Attachable")))
    return diff


def volume_diff(spec, current):
    """``{field: {old, new}}`` between a :func:`volume_spec` and a volume's inspect data."""
    diff = {}
    _value(diff, "driver", spec["driver"], current.get("Driver"))
    _declared(diff, "driver_opts", spec["driver_opts"], current.get("Options"))
    _declared(diff, "labels", spec["labels"], current.get("Labels"))
    return diff


def container_rows(rows):
    """``GET /containers/json`` -> ``{name: {id, image, image_id, state, status, labels,
    ports}}``."""
    out = {}
    for row in rows:
        cname = (row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/")
        out[cname] = {
            "id": row["Id"],
            "image": row.get("Image"),
            "image_id": row.get("ImageID"),
            "state": row.get("State"),
            "status": row.get("Status"),
            "labels": row.get("Labels") or {},
            "ports": [
                f"{p.get('IP', '')}:{p.get('PublicPort', '')}->{p['PrivatePort']}/"
                f"{p.get('Type', 'tcp')}"
                for p in row.get("Ports") or []
            ],
        }
    return out


def image_rows(rows):
    """``GET /images/json`` -> ``{id: {tags, created, size, labels}}``."""
    return {
        row["Id"]: {
            "tags": row.get("RepoTags") or [],
            "created": row.get("Created"),
            "size": row.get("Size"),
            "labels": row.get("Labels") or {},
        }
        for row in rows
    }


def network_rows(rows):
    """``GET /networks`` -> ``{name: {id, driver, labels}}``."""
    return {
        r["Name"]: {"id": r["Id"], "driver": r.get("Driver"), "labels": r.get("Labels") or {}}
        for r in rows
    }


def volume_rows(data):
    """``GET /volumes`` -> ``{name: {driver, labels, mountpoint}}``."""
    return {
        v["Name"]: {
            "driver": v.get("Driver"),
            "labels": v.get("Labels") or {},
            "mountpoint": v.get("Mountpoint"),
        }
        for v in (data or {}).get("Volumes") or []
    }


def exec_args(container, cmd, environment=None, user=None, workdir=None):
    """``exec_create`` arguments: ``cmd`` an argv list, or a string run by ``/bin/sh -c``."""
    if isinstance(cmd, str) and cmd.strip():
        argv = ["/bin/sh", "-c", cmd]
    elif isinstance(cmd, (list, tuple)) and cmd:
        argv = chain_docker_types.argv(cmd, "cmd")
    else:
        raise BadInput(f"cmd: expected a command string or argv list, got {cmd!r}")
    for value, field in ((user, "user"), (workdir, "workdir")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise BadInput(f"{field}: expected a string, got {value!r}")
    return {
        "container": container,
        "cmd": argv,
        "environment": _map(environment, "environment"),
        "user": str(user or ""),
        "workdir": None if workdir is None else str(workdir),
    }


def health(data, probe_url=None, timeout=5.0, watch=None, now=None):
    """``(healthy, finished, status)`` of one look at a container's inspect data: its Docker
    health check, else an HTTP probe of ``probe_url`` (below 400 is healthy), else running.
    With a ``watch`` (``chain_health.Watch``, fed every look with its time ``now``) an unhealthy
    look finishes only once the container is judged failed: a blip is waited for."""
    view = chain_health.facts(data)
    state = data.get("State") or {}
    status = view["health"]
    # What Docker says decides (chain_health, the one definition), unless a probe is asked for.
    if watch is None:
        verdict = chain_health.verdict(view)
    else:
        verdict = watch.judge(data.get("Id") or data.get("Name"), view, now)
    if not state.get("Running"):
        return False, verdict == "failed", state.get("Status", "not running")
    if probe_url:
        import requests  # pylint: disable=import-outside-toplevel

        try:
            code = requests.get(probe_url, timeout=min(5.0, timeout)).status_code
        except requests.RequestException as err:
            return False, False, f"probe failed: {type(err).__name__}"
        return code < 400, False, f"HTTP {code}"
    return verdict == "ready", verdict == "failed", status or "running"
