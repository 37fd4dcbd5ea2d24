"""
Docker networks and volumes (``container.network_*``, ``container.volume_*``).

.. versionadded:: 0.1.0

Declared properties are compared the way they are created (``chain_docker_objects``). Part of the
``container`` execution module: this file shares its virtual name with
``container.py`` (profiles, the engine, containers), so its functions are called as
``container.<function>``; the client of a profile is the one ``container.py`` caches in
``__context__``.
"""

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_docker_client as _docker
    from saltext.chain.utils import chain_docker_objects as _objects
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_client as _docker
    import chain_docker_objects as _objects
    import chain_errors

__virtualname__ = "container"


def __virtual__():
    return _docker.virtual(__virtualname__)


def _client(profile=None):
    """The profile's client, the one ``container.py`` caches in ``__context__``."""
    return _docker.client_for(profile, __salt__["config.get"], __context__)


# ---------------------------------------------------------------------------------------------
# Networks and volumes (declared properties: chain_docker_objects)
# ---------------------------------------------------------------------------------------------


def network_inspect(name, profile=None):
    """Return a network's inspect data, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_inspect chain
    """
    _objects.name(name)
    return _docker.get_or_none(f"inspect network {name}", _client(profile).inspect_network, name)


def network_compare(
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
    """Compare a network with declared properties; ``None`` when it does not exist, else
    ``{"changes": {field: {old, new}}, "containers": [...]}``. Only declared properties are
    compared: IPAM pools the daemon chose, its own options and ``Status`` never differ.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_compare chain subnet=172.28.5.0/24 labels='{"app": "chain"}'
    """
    spec = _objects.network_spec(
        driver, labels, options, subnet, gateway, internal, enable_ipv6, attachable
    )
    current = network_inspect(name, profile=profile)
    if current is None:
        return None
    return {
        "changes": _objects.network_diff(spec, current),
        "containers": sorted(current.get("Containers") or {}),
    }


def volume_compare(name, driver=None, driver_opts=None, labels=None, profile=None):
    """Compare a volume with declared properties; ``None`` when it does not exist, else
    ``{"changes": {field: {old, new}}}`` over the declared fields only.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_compare jenkins_home labels='{"app": "jenkins"}'
    """
    spec = _objects.volume_spec(driver, driver_opts, labels)
    current = volume_inspect(name, profile=profile)
    return None if current is None else {"changes": _objects.volume_diff(spec, current)}


def networks(names=None, profile=None):
    """List networks as ``{name: {id, driver, labels}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.networks
    """
    names = [names] if isinstance(names, str) else names
    if names is not None and not (
        isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)
    ):
        raise SaltInvocationError("names: expected a list of network names")
    return _objects.network_rows(
        _docker.call("list networks", _client(profile).networks, names=names)
    )


def network_create(
    name,
    driver="bridge",
    labels=None,
    options=None,
    subnet=None,
    gateway=None,
    internal=False,
    enable_ipv6=False,
    profile=None,
    attachable=False,
):
    """Create a network; returns its id (``attachable``: an overlay network that standalone
    containers may join, e.g. a frontend beside a Swarm service's tasks).

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_create chain subnet=172.28.5.0/24
    """
    _objects.name(name)
    spec = _objects.network_spec(
        driver or "bridge", labels, options, subnet, gateway, internal, enable_ipv6, attachable
    )
    created = _docker.call(
        f"create network {name}",
        _client(profile).create_network,
        name,
        driver=spec["driver"],
        options=spec["options"],
        labels=spec["labels"],
        ipam=_docker.ipam(spec["subnet"], spec["gateway"]),
        internal=bool(spec["internal"]),
        enable_ipv6=bool(spec["enable_ipv6"]),
        attachable=bool(spec["attachable"]),
        check_duplicate=True,
    )
    return created["Id"]


def network_remove(name, profile=None):
    """Remove a network; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_remove chain
    """
    _objects.name(name)
    return _docker.removed(f"remove network {name}", _client(profile).remove_network, name)


def network_connect(
    network, container, aliases=None, ipv4_address=None, ipv6_address=None, profile=None
):
    """Connect a container to a network with optional aliases and static addresses.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_connect chain web aliases='["www"]'
    """
    _objects.name(network, "network")
    _objects.name(container, "container")
    aliases = [aliases] if isinstance(aliases, str) else aliases
    if aliases is not None and not (
        isinstance(aliases, (list, tuple)) and all(isinstance(a, str) for a in aliases)
    ):
        raise SaltInvocationError("aliases: expected a list of names")
    for value, field in ((ipv4_address, "ipv4_address"), (ipv6_address, "ipv6_address")):
        if value is not None and not isinstance(value, str):
            raise SaltInvocationError(f"{field}: expected an address, got {value!r}")
    _docker.call(
        f"connect {container} to {network}",
        _client(profile).connect_container_to_network,
        container,
        network,
        aliases=aliases,
        ipv4_address=ipv4_address,
        ipv6_address=ipv6_address,
    )
    return True


def network_disconnect(network, container, force=False, profile=None):
    """Disconnect a container from a network.

    CLI Example:

    .. code-block:: bash

        salt '*' container.network_disconnect chain web
    """
    _objects.name(network, "network")
    _objects.name(container, "container")
    force = chain_errors.as_bool(force, "force")
    _docker.call(
        f"disconnect {container} from {network}",
        _client(profile).disconnect_container_from_network,
        container,
        network,
        force=force,
    )
    return True


def volume_inspect(name, profile=None):
    """Return a volume's inspect data, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_inspect jenkins_home
    """
    _objects.name(name)
    return _docker.get_or_none(f"inspect volume {name}", _client(profile).inspect_volume, name)


def volumes(profile=None):
    """List volumes as ``{name: {driver, labels, mountpoint}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volumes
    """
    return _objects.volume_rows(_docker.call("list volumes", _client(profile).volumes))


def volume_create(name, driver="local", driver_opts=None, labels=None, profile=None):
    """Create a volume; returns its inspect data.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_create jenkins_home labels='{"app": "jenkins"}'
    """
    _objects.name(name)
    spec = _objects.volume_spec(driver or "local", driver_opts, labels)
    return _docker.call(f"create volume {name}", _client(profile).create_volume, name, **spec)


def volume_remove(name, force=False, profile=None):
    """Remove a volume; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.volume_remove jenkins_home
    """
    _objects.name(name)
    force = chain_errors.as_bool(force, "force")
    return _docker.removed(
        f"remove volume {name}", _client(profile).remove_volume, name, force=force
    )
