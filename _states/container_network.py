"""
Docker networks as Salt states.

.. versionadded:: 0.1.0

Only declared properties are compared; defaults the daemon fills in (IPAM pools it chose, an
empty ``IPRange``, its own driver options, ``Status``) never cause a recreate. When a declared
property does change, the network is recreated and every container that was attached is
reconnected with its aliases and static addresses.

.. code-block:: yaml

    chain-net:
      container_network.present:
        - name: chain
        - subnet: 172.28.5.0/24
        - labels:
            app: chain
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "container_network"


def __virtual__():
    if "container.network_inspect" not in __salt__:
        return (False, "the container execution module did not load")
    return __virtualname__


def _attached(name, container_ids, profile):
    """Containers on the network with what they need to be reconnected as they were."""
    out = []
    for cid in container_ids:
        data = __salt__["container.inspect"](cid, profile=profile)
        if data is None:
            continue
        net = ((data.get("NetworkSettings") or {}).get("Networks") or {}).get(name) or {}
        ipam = net.get("IPAMConfig") or {}
        short = data["Id"][:12]
        out.append({
            "id": data["Id"],
            "name": data["Name"].lstrip("/"),
            "aliases": [a for a in net.get("Aliases") or [] if a != short] or None,
            "ipv4_address": ipam.get("IPv4Address") or None,
            "ipv6_address": ipam.get("IPv6Address") or None,
        })
    return out


def _reattach_old(name, attached, profile):
    """After a failed recreate: reconnect to the network if it still exists; return the names
    of containers that remain disconnected."""
    if __salt__["container.network_inspect"](name, profile=profile) is None:
        return sorted(c["name"] for c in attached)
    stranded = []
    for ctr in attached:
        try:
            __salt__["container.network_connect"](name, ctr["id"], aliases=ctr["aliases"], profile=profile)
        except CommandExecutionError:
            stranded.append(ctr["name"])
    return sorted(stranded)


def present(name, driver=None, labels=None, options=None, subnet=None, gateway=None,
            internal=None, enable_ipv6=None, profile=None):
    """
    Ensure a network exists with the declared properties.

    .. code-block:: yaml

        backend:
          container_network.present:
            - driver: bridge
            - internal: true
            - options:
                com.docker.network.bridge.enable_icc: "true"
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    try:
        if subnet is None and gateway is not None:
            raise SaltInvocationError("gateway needs a subnet")
        cmp = __salt__["container.network_compare"](
            name, driver=driver, labels=labels, options=options, subnet=subnet, gateway=gateway,
            internal=internal, enable_ipv6=enable_ipv6, profile=profile,
        )
        create = dict(driver=driver or "bridge", labels=labels, options=options, subnet=subnet,
                      gateway=gateway, internal=bool(internal), enable_ipv6=bool(enable_ipv6))
        if cmp is None:
            ret["changes"] = {"network": {"old": None, "new": name}}
            if __opts__["test"]:
                ret.update(result=None, comment=f"Network {name} would be created")
                return ret
            __salt__["container.network_create"](name, profile=profile, **create)
            ret["comment"] = f"Network {name} created"
            return ret
        diff = cmp["changes"]
        if not diff:
            ret["comment"] = f"Network {name} is as declared"
            return ret
        ret["changes"] = diff
        attached = _attached(name, cmp["containers"], profile)
        if __opts__["test"]:
            ret.update(result=None, comment=f"Network {name} would be recreated ({', '.join(diff)} differ)"
                       + (f" and {len(attached)} container(s) reconnected" if attached else ""))
            return ret
        for ctr in attached:
            __salt__["container.network_disconnect"](name, ctr["id"], force=True, profile=profile)
        try:
            __salt__["container.network_remove"](name, profile=profile)
            __salt__["container.network_create"](name, profile=profile, **create)
        except CommandExecutionError as err:
            # Put the containers back where possible; say which ones could not be.
            stranded = _reattach_old(name, attached, profile)
            ret.update(result=False, changes={"disconnected": {"old": sorted(c["name"] for c in attached),
                                                               "new": stranded}} if stranded else {})
            ret["comment"] = f"Network {name} could not be recreated: {err}" + (
                f"; containers left disconnected: {', '.join(stranded)}" if stranded else "")
            return ret
        for ctr in attached:
            __salt__["container.network_connect"](
                name, ctr["id"], aliases=ctr["aliases"], ipv4_address=ctr["ipv4_address"],
                ipv6_address=ctr["ipv6_address"], profile=profile,
            )
        if attached:
            ret["changes"]["reconnected"] = {"old": None, "new": sorted(c["name"] for c in attached)}
        ret["comment"] = f"Network {name} recreated ({', '.join(diff)} differed)"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret


def absent(name, force=False, profile=None):
    """
    Ensure a network does not exist. With containers attached it fails unless ``force``, which
    disconnects them first.

    .. code-block:: yaml

        old-net:
          container_network.absent:
            - force: true
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    try:
        current = __salt__["container.network_inspect"](name, profile=profile)
        if current is None:
            ret["comment"] = f"Network {name} is absent"
            return ret
        attached = sorted((c.get("Name") or cid) for cid, c in (current.get("Containers") or {}).items())
        if attached and not force:
            ret.update(result=False, comment=f"Network {name} has containers attached ({', '.join(attached)}); set force: true")
            return ret
        ret["changes"] = {"network": {"old": name, "new": None}}
        if attached:
            ret["changes"]["disconnected"] = {"old": attached, "new": None}
        if __opts__["test"]:
            ret.update(result=None, comment=f"Network {name} would be removed")
            return ret
        for cid in current.get("Containers") or {}:
            __salt__["container.network_disconnect"](name, cid, force=True, profile=profile)
        __salt__["container.network_remove"](name, profile=profile)
        ret["comment"] = f"Network {name} removed"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret
