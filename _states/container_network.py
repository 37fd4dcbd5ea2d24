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

from salt.exceptions import CommandExecutionError

try:
    from saltext.chain.utils import (
        chain_docker_objects,
        chain_docker_states,
        chain_errors,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_objects
    import chain_docker_states
    import chain_errors
    import chain_state_args
    import chain_states

__virtualname__ = "container_network"


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "container.network_inspect")


def _running():
    """The results of the states that ran before this one in this run (``{}`` outside one)."""
    return globals().get("__running__") or {}


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
        out.append(
            {
                "id": data["Id"],
                "name": data["Name"].lstrip("/"),
                "aliases": [a for a in net.get("Aliases") or [] if a != short] or None,
                "ipv4_address": ipam.get("IPv4Address") or None,
                "ipv6_address": ipam.get("IPv6Address") or None,
            }
        )
    return out


def _connect(name, containers, profile, addresses=True):
    """Connect each container; return the names of those that could not be."""
    failed = []
    for ctr in containers:
        extra = {"ipv4_address": ctr["ipv4_address"], "ipv6_address": ctr["ipv6_address"]}
        try:
            __salt__["container.network_connect"](
                name,
                ctr["id"],
                aliases=ctr["aliases"],
                profile=profile,
                **(extra if addresses else {}),
            )
        except CommandExecutionError:
            failed.append(ctr["name"])
    return sorted(failed)


def _recreate(name, create, attached, profile, ret):
    """Disconnect, remove, create, reconnect. Every step that happened is recorded in
    ``ret["changes"]``; a failure says what was done and what is left."""
    steps = {"disconnected": [], "removed": False, "created": False}
    try:
        for ctr in attached:
            __salt__["container.network_disconnect"](name, ctr["id"], force=True, profile=profile)
            steps["disconnected"].append(ctr)
        steps["removed"] = __salt__["container.network_remove"](name, profile=profile)
        __salt__["container.network_create"](name, profile=profile, **create)
        steps["created"] = True
    except CommandExecutionError as err:
        # Put the containers back where possible (on the old network when it still exists).
        done = steps["disconnected"]
        exists = __salt__["container.network_inspect"](name, profile=profile) is not None
        stranded = (
            _connect(name, done, profile, addresses=False)
            if exists
            else sorted(c["name"] for c in done)
        )
        changes = {}
        if steps["removed"] and not exists:
            changes["network"] = {"old": name, "new": None}
        if done:
            changes["disconnected"] = {"old": sorted(c["name"] for c in done), "new": stranded}
        left = f"\ncontainers left disconnected: {', '.join(stranded)}" if stranded else ""
        steps_done = [f"disconnected {', '.join(sorted(c['name'] for c in done))}"] if done else []
        if steps["removed"] and not exists:
            steps_done.append("removed the old network")
        chain_states.fail(
            ret,
            f"Network {name} could not be recreated: {err}{left}",
            done=steps_done,
            changes=changes,
        )
        return False
    failed = _connect(name, attached, profile)
    reconnected = sorted(c["name"] for c in attached if c["name"] not in failed)
    if reconnected:
        ret["changes"]["reconnected"] = {"old": None, "new": reconnected}
    if failed:
        ret["changes"]["disconnected"] = {"old": sorted(c["name"] for c in attached), "new": failed}
        steps_done = [f"recreated network {name}"]
        if reconnected:
            steps_done.append(f"reconnected {', '.join(reconnected)}")
        chain_states.fail(
            ret,
            f"Network {name} recreated, but containers could not "
            f"be reconnected: {', '.join(failed)}",
            done=steps_done,
        )
        return False
    return True


@chain_state_args.checked()
def present(
    name,
    driver=None,
    labels=None,
    options=None,
    subnet=None,
    gateway=None,
    internal=None,
    enable_ipv6=None,
    profile=None,
    attachable=None,
):
    """
    Ensure a network exists with the declared properties.

    attachable
        An overlay network (``driver: overlay``, on a Swarm manager) that standalone containers
        may join: the frontend of a Swarm-mode ``container_service``.

    subnet
        The network's address pool in CIDR notation (``172.28.5.0/24``, ``fd00:1::/64``).
    gateway
        An address inside ``subnet``, not its network address (needs ``subnet``).

    Both are checked before the engine is asked anything, under ``test=True`` too.

    .. code-block:: yaml

        backend:
          container_network.present:
            - driver: bridge
            - internal: true
            - options:
                com.docker.network.bridge.enable_icc: "true"
    """
    ret = chain_states.new_ret(name)
    try:
        # All input checked before the engine is asked anything.
        spec = chain_docker_objects.network_spec(
            driver, labels, options, subnet, gateway, internal, enable_ipv6, attachable
        )
        chain_docker_objects.name(name)
        compare = {k: v for k, v in spec.items() if k != "attachable" or v is not None}
        cmp = __salt__["container.network_compare"](name, profile=profile, **compare)
        create = dict(
            spec,
            driver=driver or "bridge",
            internal=bool(spec["internal"]),
            enable_ipv6=bool(spec["enable_ipv6"]),
            **({"attachable": True} if spec["attachable"] else {}),
        )
        if chain_docker_states.settled(
            ret,
            "Network",
            name,
            __opts__["test"],
            cmp,
            lambda: __salt__["container.network_create"](name, profile=profile, **create),
        ):
            return ret
        diff = cmp["changes"]
        attached = _attached(name, cmp["containers"], profile)
        if __opts__["test"]:
            ret.update(
                changes=diff,
                result=None,
                comment=f"Network {name} would be recreated ({', '.join(diff)} differ)"
                + (f" and {len(attached)} container(s) reconnected" if attached else ""),
            )
            return ret
        ret["changes"] = dict(diff)
        if _recreate(name, create, attached, profile, ret):
            ret["comment"] = f"Network {name} recreated ({', '.join(diff)} differed)"
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def absent(name, force=False, profile=None):
    """
    Ensure a network does not exist. With containers attached it fails unless ``force``, which
    disconnects them first. Under ``test=True``, containers that a ``container.absent`` state
    that ran earlier in the same run would remove do not count as attached (the real run
    removes them first; ``require`` those states).

    .. code-block:: yaml

        old-net:
          container_network.absent:
            - force: true
    """
    ret = chain_states.new_ret(name)
    done = []
    try:
        force = chain_errors.as_bool(force, "force")
        current = __salt__["container.network_inspect"](name, profile=profile)
        if current is None:
            ret["comment"] = f"Network {name} is absent"
            return ret
        members = current.get("Containers") or {}
        attached = sorted((c.get("Name") or cid) for cid, c in members.items())
        test = __opts__["test"]
        # Under test, containers a container.absent of this run would remove are not there
        # when the real run reaches this state.
        going = chain_docker_states.removed_earlier(_running(), attached) if test else []
        staying = [c for c in attached if c not in going]
        if staying and not force:
            return chain_states.fail(
                ret,
                f"Network {name} has containers attached ({', '.join(staying)}); set force: true",
            )
        ret["changes"] = {"network": {"old": name, "new": None}}
        if staying:
            ret["changes"]["disconnected"] = {"old": staying, "new": None}
        if test:
            first = f" once {', '.join(going)} are removed (container.absent)" if going else ""
            ret.update(result=None, comment=f"Network {name} would be removed{first}")
            return ret
        for cid, member in members.items():
            __salt__["container.network_disconnect"](name, cid, force=True, profile=profile)
            done.append(member.get("Name") or cid)
        __salt__["container.network_remove"](name, profile=profile)
        ret["comment"] = f"Network {name} removed"
    except chain_states.CAUGHT as err:
        # What was disconnected before the failure stays reported.
        changes = {"disconnected": {"old": sorted(done), "new": None}} if done else {}
        steps_done = [f"disconnected {', '.join(sorted(done))}"] if done else []
        chain_states.fail(ret, err, done=steps_done, changes=changes)
    return ret
