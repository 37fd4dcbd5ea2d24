"""
This engine's place in a Docker Swarm: the first manager, a worker that joins it, the labels of
a node (what ``container_service.running``'s ``placement`` picks nodes by), and leaving.

.. versionadded:: 0.3.0

A worker joins with the manager's address and worker token. Either pass them (``token`` from
pillar or SDB), or name the manager's minion with ``manager_minion``: the token is then read
from the Salt mine, where the manager's minion publishes ``container.swarm_join_info``; limit
who may read it with the mine's ``allow_tgt`` (``docs/swarm.md``). The token never appears in a
state's comment or changes.

.. code-block:: yaml

    swarm:
      container_swarm.manager:
        - advertise_addr: 10.0.0.1

    # on each worker
    swarm:
      container_swarm.worker:
        - manager_minion: manager1

    # on the manager
    app-node-labels:
      container_swarm.node_labels:
        - node: worker1
        - labels: {role: app}
"""

try:
    from saltext.chain.utils import chain_errors, chain_state_args, chain_states
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_state_args
    import chain_states

__virtualname__ = "container_swarm"

#: The mine function a manager's minion publishes for its workers.
MINE_FUNCTION = "container.swarm_join_info"


def __virtual__():
    return chain_states.needs(
        __salt__, __virtualname__, "container.swarm_info", "container.swarm_init"
    )


def _addr(value, field, port=False):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or " " in value:
        raise chain_errors.BadInput(f"{field}: expected an address like 10.0.0.1 or 10.0.0.1:2377")
    if port and not value.rsplit(":", 1)[-1].isdigit():
        raise chain_errors.BadInput(f"{field}: expected host:port, got {value!r}")
    return value


@chain_state_args.checked()
def manager(name, advertise_addr=None, listen_addr="0.0.0.0:2377", profile=None):
    """
    Ensure this engine is a Swarm manager: initialise a new swarm when it is in none.

    name
        A name for the state (the swarm's, for the reader).
    advertise_addr
        The address other nodes reach this manager on (``docker swarm init --advertise-addr``).
    listen_addr
        ``host:port`` the manager listens on for the cluster. Default ``0.0.0.0:2377``.
    profile
        Docker connection profile (name or dict), see the ``container`` execution module.

    .. code-block:: yaml

        swarm:
          container_swarm.manager:
            - advertise_addr: 10.0.0.1
    """
    ret = chain_states.new_ret(name)
    try:
        _addr(advertise_addr, "advertise_addr")
        _addr(listen_addr, "listen_addr", port=True)
        info = __salt__["container.swarm_info"](profile=profile)
        if info["state"] == "active" and info["manager"]:
            ret["comment"] = f"This engine is a manager of swarm {info['cluster_id']}"
            return ret
        if info["state"] != "inactive":
            role = "a worker" if info["state"] == "active" else f"{info['state']}"
            return chain_states.fail(
                ret, f"This engine's swarm state is {role}: leave it first", changes={}
            )
        ret["changes"] = {"swarm": {"old": "inactive", "new": "manager"}}
        chain_states.act(
            ret,
            __opts__["test"],
            "A new swarm",
            "initialised",
            lambda: __salt__["container.swarm_init"](
                advertise_addr=advertise_addr, listen_addr=listen_addr, profile=profile
            ),
        )
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


def _join_info(manager_addr, token, manager_minion):
    """``(addr, token)`` from the arguments or the mine."""
    if manager_minion is None:
        if not manager_addr or not token:
            raise chain_errors.BadInput(
                "manager_addr and token (or manager_minion, to read them from the mine) are needed"
            )
        return manager_addr, token
    if not isinstance(manager_minion, str) or not manager_minion.strip():
        raise chain_errors.BadInput("manager_minion: expected a minion id")
    found = __salt__["mine.get"](manager_minion, MINE_FUNCTION) or {}
    info = found.get(manager_minion)
    if not isinstance(info, dict) or not info.get("worker_token"):
        raise chain_errors.BackendError(
            f"the mine has no {MINE_FUNCTION} of {manager_minion} (is it in its mine_functions, "
            f"and may this minion read it: allow_tgt?)"
        )
    return manager_addr or info["addr"], token or info["worker_token"]


@chain_state_args.checked()
def worker(
    name,
    manager_addr=None,
    token=None,
    manager_minion=None,
    listen_addr="0.0.0.0:2377",
    advertise_addr=None,
    profile=None,
):
    """
    Ensure this engine is in a swarm: join the manager's as a worker when it is in none.

    name
        A name for the state.
    manager_addr
        The manager's ``host:port`` (default: the address the mine gives).
    token
        The worker join token (a secret: from pillar or SDB). Default: from the mine.
    manager_minion
        The manager's minion id: read ``container.swarm_join_info`` from the mine.
    listen_addr, advertise_addr
        As ``docker swarm join`` takes them.
    profile
        Docker connection profile (name or dict).

    .. code-block:: yaml

        swarm:
          container_swarm.worker:
            - manager_minion: manager1
    """
    ret = chain_states.new_ret(name)
    try:
        _addr(manager_addr, "manager_addr", port=True)
        _addr(listen_addr, "listen_addr", port=True)
        _addr(advertise_addr, "advertise_addr")
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise chain_errors.BadInput("token: expected a join token (a string)")
        info = __salt__["container.swarm_info"](profile=profile)
        if info["state"] == "active":
            ret["comment"] = f"This engine is in swarm {info['cluster_id']}"
            return ret
        if info["state"] != "inactive":
            why = f"This engine's swarm state is {info['state']}"
            return chain_states.fail(ret, why, changes={})
        addr, secret = _join_info(manager_addr, token, manager_minion)
        ret["changes"] = {"swarm": {"old": "inactive", "new": f"worker of {addr}"}}
        chain_states.act(
            ret,
            __opts__["test"],
            f"The swarm of {addr}",
            "joined",
            lambda: __salt__["container.swarm_join"](
                addr, secret, listen_addr=listen_addr, advertise_addr=advertise_addr,
                profile=profile,
            ),
        )  # fmt: skip
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def node_labels(name, labels=None, node=None, profile=None):
    """
    Ensure a node carries ``labels`` (declared keys only: other labels are kept). Run on a
    manager.

    name
        A name for the state.
    labels
        ``{label: value}`` (strings).
    node
        The node's id or host name. Default: this engine's own node.
    profile
        Docker connection profile (name or dict).

    .. code-block:: yaml

        app-node:
          container_swarm.node_labels:
            - node: worker1
            - labels: {role: app}
    """
    ret = chain_states.new_ret(name)
    try:
        if not isinstance(labels, dict) or not labels:
            raise chain_errors.BadInput("labels: expected a mapping of label to value")
        want = {}
        for key, value in labels.items():
            if not isinstance(key, str) or not key or not isinstance(value, (str, int)):
                raise chain_errors.BadInput(f"labels: {key!r}: expected a name and a string")
            want[key] = str(value)
        if node is not None and (not isinstance(node, str) or not node.strip()):
            raise chain_errors.BadInput("node: expected a node id or host name")
        node = node or __salt__["container.swarm_info"](profile=profile)["node_id"]
        if not node:
            return chain_states.fail(ret, "This engine is not in a swarm", changes={})
        found = __salt__["container.node_inspect"](node, profile=profile)
        if found is None:
            return chain_states.fail(ret, f"Node {node} is not in the swarm", changes={})
        have = found["labels"]
        diff = {k: {"old": have.get(k), "new": v} for k, v in want.items() if have.get(k) != v}
        if not diff:
            ret["comment"] = f"Node {found['hostname']} has its labels"
            return ret
        ret["changes"] = {"labels": diff}
        chain_states.act(
            ret,
            __opts__["test"],
            f"The labels of node {found['hostname']}",
            "set",
            lambda: __salt__["container.node_set_labels"](
                found["id"], {**have, **want}, profile=profile
            ),
        )
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def left(name, force=False, profile=None):
    """
    Ensure this engine is in no swarm: leave the one it is in.

    name
        A name for the state.
    force
        Leave even as the last manager (the swarm is gone then). Default False.
    profile
        Docker connection profile (name or dict).

    .. code-block:: yaml

        no-swarm:
          container_swarm.left: []
    """
    ret = chain_states.new_ret(name)
    try:
        force = chain_errors.as_bool(force, "force")
        info = __salt__["container.swarm_info"](profile=profile)
        if info["state"] == "inactive":
            ret["comment"] = "This engine is in no swarm"
            return ret
        # a worker's engine knows no cluster id, only its managers (what ``worker`` joined)
        managers = ", ".join(info["remote_managers"])
        swarm = info["cluster_id"] or f"worker of {managers}"
        ret["changes"] = {"swarm": {"old": swarm, "new": None}}
        chain_states.act(
            ret,
            __opts__["test"],
            f"Swarm {info['cluster_id']}" if info["cluster_id"] else f"Swarm of {managers}",
            "left",
            lambda: __salt__["container.swarm_leave"](force=force, profile=profile),
        )
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
