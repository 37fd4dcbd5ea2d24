"""
Docker Swarm: the engine's swarm membership, its nodes and its services
(``container.swarm_*``, ``container.node_*``, ``container.service_*``).

.. versionadded:: 0.3.0

Part of the ``container`` execution module: this file shares its virtual name with
``container.py`` (profiles, the engine, containers), like ``container_networks.py``; the client
of a profile is the one ``container.py`` caches in ``__context__``. Service specs are the
Docker API's own ``ServiceSpec`` mappings (``chain_swarm.service_spec`` writes them for
``container_service.running`` with ``mode: swarm``). What works here and its limits:
``docs/swarm.md``.
"""

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_docker_client as _docker
    from saltext.chain.utils import chain_errors, chain_registry
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_client as _docker
    import chain_errors
    import chain_registry

__virtualname__ = "container"


def __virtual__():
    return _docker.virtual(__virtualname__)


def _client(profile=None):
    """The profile's client, the one ``container.py`` caches in ``__context__``."""
    return _docker.client_for(profile, __salt__["config.get"], __context__)


def _text(value, field):
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise SaltInvocationError(f"{field}: expected a non-empty string")
    return value


# ---------------------------------------------------------------------------------------------
# The swarm
# ---------------------------------------------------------------------------------------------


def swarm_info(profile=None):
    """
    This engine's place in a swarm: ``{state, node_id, manager, cluster_id, managers, nodes,
    addr, remote_managers}`` (``state``: ``inactive``, ``pending``, ``active``, ``error``,
    ``locked``). Reads only.

    CLI Example:

    .. code-block:: bash

        salt '*' container.swarm_info
    """
    info = _docker.call("engine info", _client(profile).info)
    swarm = info.get("Swarm") or {}
    cluster = swarm.get("Cluster") or {}
    return {
        "state": swarm.get("LocalNodeState") or "inactive",
        "node_id": swarm.get("NodeID") or None,
        "manager": bool(swarm.get("ControlAvailable")),
        "cluster_id": cluster.get("ID") or None,
        "managers": swarm.get("Managers") or 0,
        "nodes": swarm.get("Nodes") or 0,
        "addr": swarm.get("NodeAddr") or None,
        "remote_managers": sorted(m.get("Addr") for m in swarm.get("RemoteManagers") or []),
    }


def swarm_init(advertise_addr=None, listen_addr="0.0.0.0:2377", profile=None):
    """
    Make this engine the first manager of a new swarm; returns its node id.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.swarm_init advertise_addr=10.0.0.1
    """
    if advertise_addr is not None:
        _text(advertise_addr, "advertise_addr")
    _text(listen_addr, "listen_addr")
    client = _client(profile)
    _docker.call(
        "swarm init",
        client.init_swarm,
        advertise_addr=advertise_addr,
        listen_addr=listen_addr,
    )
    return swarm_info(profile=profile)["node_id"]


def swarm_join_info(profile=None):
    """
    What a worker needs to join this manager's swarm: ``{addr, worker_token, cluster_id}``
    (``addr``: this manager's address and port). The token is a secret: serve it through the
    mine with ``allow_tgt`` (``docs/swarm.md``) or pillar, never in a state's output.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.swarm_join_info
    """
    client = _client(profile)
    data = _docker.call("swarm inspect", client.inspect_swarm)
    info = swarm_info(profile=profile)
    port = "2377"
    for mgr in info["remote_managers"]:
        if mgr.rsplit(":", 1)[0] == info["addr"]:
            port = mgr.rsplit(":", 1)[1]
    return {
        "addr": f"{info['addr']}:{port}",
        "worker_token": (data.get("JoinTokens") or {}).get("Worker"),
        "cluster_id": data.get("ID"),
    }


def swarm_join(remote_addr, token, listen_addr="0.0.0.0:2377", advertise_addr=None, profile=None):
    """
    Join the swarm of the manager at ``remote_addr`` (``host:port``) with a join ``token``.

    CLI Example:

    .. code-block:: bash

        salt worker1 container.swarm_join 10.0.0.1:2377 SWMTKN-1-...
    """
    _text(remote_addr, "remote_addr")
    _text(token, "token")
    _docker.call(
        "swarm join",
        _client(profile).join_swarm,
        [remote_addr],
        token,
        listen_addr=listen_addr,
        advertise_addr=advertise_addr,
    )
    return True


def swarm_leave(force=False, profile=None):
    """
    Leave the swarm (``force`` for the last manager). ``False`` when not in one.

    CLI Example:

    .. code-block:: bash

        salt worker1 container.swarm_leave
    """
    force = chain_errors.as_bool(force, "force")
    if swarm_info(profile=profile)["state"] == "inactive":
        return False
    _docker.call("swarm leave", _client(profile).leave_swarm, force=force)
    return True


# ---------------------------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------------------------


def _node_view(node):
    spec = node.get("Spec") or {}
    return {
        "id": node["ID"],
        "hostname": (node.get("Description") or {}).get("Hostname"),
        "role": spec.get("Role"),
        "availability": spec.get("Availability"),
        "labels": dict(spec.get("Labels") or {}),
        "state": (node.get("Status") or {}).get("State"),
        "addr": (node.get("Status") or {}).get("Addr"),
        "version": (node.get("Version") or {}).get("Index"),
    }


def node_list(profile=None):
    """
    The swarm's nodes (on a manager): ``{id: {hostname, role, availability, labels, state,
    addr, version}}``.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.node_list
    """
    nodes = _docker.call("node list", _client(profile).nodes)
    return {n["ID"]: _node_view(n) for n in nodes}


def node_inspect(node, profile=None):
    """
    One node (by id or host name) as :py:func:`node_list` shows it, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.node_inspect worker1
    """
    _text(node, "node")
    data = _docker.get_or_none(f"inspect node {node}", _client(profile).inspect_node, node)
    return None if data is None else _node_view(data)


def node_set_labels(node, labels, profile=None):
    """
    Replace a node's labels with ``labels`` (a mapping of strings); returns the node.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.node_set_labels worker1 '{role: app}'
    """
    _text(node, "node")
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise SaltInvocationError("labels: expected a mapping of strings to strings")
    client = _client(profile)
    data = _docker.call(f"inspect node {node}", client.inspect_node, node)
    spec = dict(data.get("Spec") or {}, Labels=dict(labels))
    _docker.call(
        f"update node {node}", client.update_node, data["ID"], data["Version"]["Index"], spec
    )
    return node_inspect(data["ID"], profile=profile)


# ---------------------------------------------------------------------------------------------
# Services and tasks
# ---------------------------------------------------------------------------------------------


def service_inspect(name, profile=None):
    """
    A service's inspect data (``ID``, ``Version``, ``Spec``, ``PreviousSpec``,
    ``UpdateStatus``...), or ``None``.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_inspect web
    """
    _text(name, "name")
    return _docker.get_or_none(f"inspect service {name}", _client(profile).inspect_service, name)


def service_create(spec, profile=None):
    """
    Create a service from a Docker API ``ServiceSpec`` mapping; returns its id.

    When ``container:registries:<registry>`` holds credentials for the image's registry, they
    go with the request (``X-Registry-Auth``, as ``docker service create
    --with-registry-auth``): Swarm keeps them with the service and every node pulls with them.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_create '{Name: web, TaskTemplate: {ContainerSpec:
            {Image: app:1}}, Mode: {Replicated: {Replicas: 2}}}'
    """
    spec = _spec(spec)
    client = _client(profile)
    what = f"create service {spec['Name']}"
    resp = _docker.call(
        what,
        client._post_json,  # noqa: SLF001 - the SDK sends only the Docker config's credentials
        client._url("/services/create"),  # noqa: SLF001
        data=_body(spec),
        headers=_auth_headers(client, spec),
    )
    return _docker.call(what, client._result, resp, True)["ID"]  # noqa: SLF001


def service_update(name, spec, profile=None):
    """
    Replace service ``name``'s spec with ``spec`` (a whole ``ServiceSpec``); Swarm rolls the
    tasks out under its ``UpdateConfig`` when the task template changed. Registry credentials
    go with it as with :func:`service_create` (without any, Swarm keeps the service's).

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_update web "$(cat web-spec.json)"
    """
    spec = _spec(spec)
    client = _client(profile)
    cur = _docker.call(f"inspect service {name}", client.inspect_service, name)
    what = f"update service {name}"
    resp = _docker.call(
        what,
        client._post_json,  # noqa: SLF001 - the SDK sends only the Docker config's credentials
        client._url("/services/{0}/update", cur["ID"]),  # noqa: SLF001
        data=_body(spec),
        params={"version": cur["Version"]["Index"]},
        headers=_auth_headers(client, spec),
    )
    _docker.call(what, client._raise_for_status, resp)  # noqa: SLF001
    return True


def service_rollback(name, profile=None):
    """
    ``docker service rollback``: go back to the service's previous spec (Swarm replaces the
    tasks under its ``RollbackConfig``). Fails when the service has no previous spec.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_rollback web
    """
    client = _client(profile)
    cur = _docker.call(f"inspect service {name}", client.inspect_service, name)
    if not cur.get("PreviousSpec"):
        raise chain_errors.BackendError(f"service {name} has no previous spec to roll back to")
    url = client._url("/services/{0}/update", cur["ID"])  # noqa: SLF001 - no SDK call for it
    params = {"version": cur["Version"]["Index"], "rollback": "previous"}
    resp = _docker.call(
        f"roll back service {name}", client._post_json, url, data=cur["Spec"], params=params
    )
    _docker.call(f"roll back service {name}", client._raise_for_status, resp)
    return True


def service_remove(name, profile=None):
    """
    Remove a service (its tasks stop). ``False`` when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_remove web
    """
    _text(name, "name")
    return _docker.removed(f"remove service {name}", _client(profile).remove_service, name)


def service_tasks(name, profile=None):
    """
    The tasks of service ``name`` (Docker API task mappings, newest first).

    CLI Example:

    .. code-block:: bash

        salt manager1 container.service_tasks web
    """
    _text(name, "name")
    tasks = _docker.call(f"list tasks of {name}", _client(profile).tasks, filters={"service": name})
    return sorted(tasks, key=lambda t: t.get("CreatedAt") or "", reverse=True)


def _spec(spec):
    if (
        not isinstance(spec, dict)
        or not isinstance(spec.get("Name"), str)
        or not isinstance(spec.get("TaskTemplate"), dict)
    ):
        raise SaltInvocationError("spec: expected a ServiceSpec mapping with Name and TaskTemplate")
    return spec


#: The ``ServiceSpec`` fields a create or an update sends (as the SDK's calls do).
_SPEC_KEYS = (
    "Name",
    "Labels",
    "TaskTemplate",
    "Mode",
    "UpdateConfig",
    "RollbackConfig",
    "EndpointSpec",
)


def _body(spec):
    return {k: spec[k] for k in _SPEC_KEYS if spec.get(k) is not None}


def _auth_headers(client, spec):
    """``{"X-Registry-Auth": ...}`` for the spec's image: the credentials of its registry in
    ``container:registries`` (never another registry's), else those of the minion user's
    Docker config, as the SDK's own service calls send them; ``{}`` when neither has any."""
    image = (spec["TaskTemplate"].get("ContainerSpec") or {}).get("Image")
    if not image:
        return {}
    header = chain_registry.auth_header(image, __salt__["config.get"])
    if header is None:
        registry = chain_registry.registry_of(image)
        header = _docker.docker.auth.get_config_header(client, registry)
    return {"X-Registry-Auth": header} if header else {}
