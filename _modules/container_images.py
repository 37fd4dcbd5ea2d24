"""
Docker images, builds and registries (``container.image_*``, ``login``, ``registry_*``).

.. versionadded:: 0.1.0

Images are content-addressed when built (``chain_docker_build``); names and credentials come from
``chain_registry``. Part of the ``container`` execution module: this file shares its virtual name
with ``container.py`` (profiles, the engine, containers), so its functions are called as
``container.<function>``; the client of a profile is the one ``container.py`` caches in
``__context__``.
"""

import functools

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_docker_build, chain_errors, chain_registry
    from saltext.chain.utils import chain_docker_client as _docker
    from saltext.chain.utils import chain_docker_objects as _objects
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_build
    import chain_docker_client as _docker
    import chain_docker_objects as _objects
    import chain_errors
    import chain_registry

INPUTS_LABEL = chain_docker_build.INPUTS_LABEL

__virtualname__ = "container"


def __virtual__():
    return _docker.virtual(__virtualname__)


def _client(profile=None):
    """The profile's client, the one ``container.py`` caches in ``__context__``."""
    return _docker.client_for(profile, __salt__["config.get"], __context__)


# ---------------------------------------------------------------------------------------------
# Images (names and credentials: chain_registry; build inputs: chain_docker_build)
# ---------------------------------------------------------------------------------------------


def image_inspect(name, profile=None):
    """Return an image's inspect data, or ``None`` when the engine does not have it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_inspect saltext-chain/busybox:latest
    """
    chain_registry.check_image_name(name)
    return _docker.get_or_none(f"inspect image {name}", _client(profile).inspect_image, name)


def images(all=False, labels=None, profile=None):  # pylint: disable=redefined-builtin
    """
    List images as ``{id: {tags, created, size, labels}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.images labels='["org.saltext-chain.inputs"]'
    """
    wanted, everything = _objects.label_filters(labels), chain_errors.as_bool(all, "all")
    rows = _docker.call(
        "list images",
        _client(profile).images,
        all=everything,
        filters={"label": wanted} if wanted else None,
    )
    return _objects.image_rows(rows)


def _auth_for(image):
    """Credentials for the image's registry only (never every configured registry)."""
    return chain_registry.auth_config(image, __salt__["config.get"])


def image_pull(name, platform=None, profile=None):
    """Pull an image; returns ``{id, changed}`` (``changed`` when the local id moved).
    Credentials of ``container:registries:<its registry>`` are used for that registry alone.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_pull 127.0.0.1:5000/app/web:1.2
    """
    repo, tag = chain_registry.split_repo_tag(chain_registry.check_image_name(name))
    if platform is not None and not isinstance(platform, str):
        raise SaltInvocationError(f"platform: expected a string like linux/amd64, got {platform!r}")
    kwargs = {"tag": tag, "stream": True, "decode": True, "auth_config": _auth_for(name)}
    kwargs.update({"platform": platform} if platform else {})
    before = image_inspect(name, profile=profile)
    client = _client(profile)
    _docker.follow(
        f"pull {name}",
        _docker.call(f"pull {name}", client.pull, repo, **kwargs),
        probe=_registry_probe(name, client),
    )
    after = image_inspect(name, profile=profile)
    if after is None:
        raise CommandExecutionError(f"pull {name}: the engine reports no image after the pull")
    return {"id": after["Id"], "changed": before is None or before["Id"] != after["Id"]}


def image_tag(source, target, profile=None):
    """Tag an image (``source``) as ``target`` (``repo:tag``).

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_tag app/web:build 127.0.0.1:5000/app/web:1.2
    """
    chain_registry.check_image_name(source, "source")
    repo, tag = chain_registry.split_repo_tag(chain_registry.check_image_name(target, "target"))
    _docker.call(
        f"tag {source} as {target}", _client(profile).tag, source, repo, tag=tag, force=True
    )
    return True


def image_push(name, profile=None):
    """Push an image to its registry; returns ``{digest}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_push 127.0.0.1:5000/app/web:1.2
    """
    repo, tag = chain_registry.split_repo_tag(chain_registry.check_image_name(name))
    client = _client(profile)
    stream = _docker.call(
        f"push {name}",
        client.push,
        repo,
        tag=tag,
        stream=True,
        decode=True,
        auth_config=_auth_for(name),
    )
    probe = _registry_probe(name, client)
    return {"digest": _docker.follow(f"push {name}", stream, probe=probe).get("Digest")}


def _registry_probe(name, client):
    """What :func:`chain_docker_client.follow` asks while the engine retries a layer: whether
    the image's registry answers at all. Only for an engine on this host (the registry's
    address means the same to both); ``None`` otherwise."""
    registry = chain_registry.registry_of(name)
    if registry == "docker.io" or not _docker.is_local(client):
        return None
    return functools.partial(chain_registry.gone, registry)


def image_remove(name, force=False, profile=None):
    """Remove an image; returns False when there was none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_remove app/web:old force=True
    """
    chain_registry.check_image_name(name)
    force = chain_errors.as_bool(force, "force")
    return _docker.removed(f"remove image {name}", _client(profile).remove_image, name, force=force)


def _build_context(inputs, saltenv, prune, profile):
    """``(context dir, inputs digest)``: a ``salt://`` context is cached; only a real build
    (``prune``) deletes cached files the fileserver no longer serves."""
    context, served = chain_docker_build.context_dir(
        inputs["path"],
        saltenv or "base",
        __opts__.get("cachedir"),
        lambda *args, **kwargs: __salt__["cp.cache_dir"](*args, **kwargs),
        lambda *args, **kwargs: __salt__["cp.list_master"](*args, **kwargs),
        prune,
        list_cache={
            "masterless": __opts__.get("file_client") == "local",
            "list_cache_time": __opts__.get("fileserver_list_cache_time", 20),
        },
    )
    text = chain_docker_build.read_dockerfile(context, inputs["dockerfile"], inputs["path"], served)
    bases = {}
    for ref in chain_docker_build.base_images(text.decode("utf-8", "replace"), inputs["buildargs"]):
        found = image_inspect(ref, profile=profile)
        bases[ref] = found["Id"] if found else None
    return context, chain_docker_build.inputs_digest(context, inputs, bases, served)


def build_inputs_digest(
    path,
    dockerfile="Dockerfile",
    buildargs=None,
    target=None,
    saltenv="base",
    labels=None,
    base_image=None,
    profile=None,
):
    """Digest of everything an image build reads: the Dockerfile, the context files (honouring
    ``.dockerignore``, names, modes and contents), the build args (``base_image`` is the
    ``BASE_IMAGE`` arg), the target, the labels, and the ids of the base images its ``FROM``
    lines name as the engine has them now — a rebuilt base image rebuilds what stands on it.
    A ``salt://`` context is cached, but nothing is deleted: files the fileserver no longer
    serves are left out of the digest.

    CLI Example:

    .. code-block:: bash

        salt '*' container.build_inputs_digest salt://app/image buildargs='{"VERSION": "1.2"}'
    """
    inputs = chain_docker_build.check_inputs(
        path, dockerfile, buildargs, target, labels, base_image, saltenv
    )
    return _build_context(inputs, saltenv, False, profile)[1]


def image_build(
    name,
    path,
    dockerfile="Dockerfile",
    buildargs=None,
    target=None,
    labels=None,
    base_image=None,
    nocache=False,
    saltenv="base",
    profile=None,
):
    """Build an image from a context directory (``salt://`` or local) and tag it ``name``.

    The digest of the build inputs (see :py:func:`build_inputs_digest`) is recorded as the
    ``org.saltext-chain.inputs`` label. ``base_image`` sets the ``BASE_IMAGE`` build arg
    (Dockerfiles begin with ``ARG BASE_IMAGE`` / ``FROM ${BASE_IMAGE}``).
    Returns ``{id, digest, log}``; a failed build raises with the builder's last lines.

    CLI Example:

    .. code-block:: bash

        salt '*' container.image_build app/web:1.2 salt://app/image buildargs='{"VERSION": "1.2"}'
    """
    chain_registry.check_image_name(name)
    inputs = chain_docker_build.check_inputs(
        path, dockerfile, buildargs, target, labels, base_image, saltenv
    )
    nocache = chain_errors.as_bool(nocache, "nocache")
    timeout = __salt__["container.connection"](profile)["build_timeout"]
    context, digest = _build_context(inputs, saltenv, True, profile)
    stream = _docker.call(
        f"build {name}",
        _client(profile).build,
        path=context,
        tag=name,
        dockerfile=inputs["dockerfile"],
        buildargs=inputs["buildargs"] or None,
        target=inputs["target"],
        labels={**inputs["labels"], INPUTS_LABEL: digest},
        rm=True,
        forcerm=True,
        nocache=nocache,
        decode=True,
        timeout=timeout,
    )
    _, log_tail = chain_docker_build.follow_build(name, stream)
    return {"id": image_inspect(name, profile=profile)["Id"], "digest": digest, "log": log_tail}


# ---------------------------------------------------------------------------------------------
# Registries (chain_registry)
# ---------------------------------------------------------------------------------------------


def _forget_clients():
    """Cached clients keep the credentials of a login; drop them when credentials change."""
    for key in [k for k in __context__ if str(k).startswith("container.client:")]:
        __context__.pop(key).close()


def login_status(registry, username=None, password=None, config_path=None):
    """Report whether the Docker client config holds the given (or pillar) credentials for a
    registry, without changing anything: ``{logged_in, username, matches, config_path,
    malformed}``; secrets are never returned. A malformed ``auth`` entry is reported
    (``malformed``) as credentials that do not match: ``login`` replaces it, ``logout``
    removes it.

    CLI Example:

    .. code-block:: bash

        salt '*' container.login_status 127.0.0.1:5000
    """
    chain_registry.check_registry(registry)
    want = chain_registry.credentials(registry, __salt__["config.get"], username, password)
    if any(want):
        chain_registry.credentials(
            registry, __salt__["config.get"], username, password, required=True
        )
    return chain_registry.login_status(chain_registry.config_path(config_path), registry, *want)


def login(registry, username=None, password=None, config_path=None, profile=None):
    """Log in to a registry: the engine verifies the credentials, then they are stored in the
    Docker client config (``~/.docker/config.json`` unless ``config_path``), as ``docker login``
    does. Credentials default to ``container:registries:<registry>`` from pillar/config. Pulls
    and pushes by this module use a registry's credentials for that registry alone.
    The password is never returned or logged.

    CLI Example:

    .. code-block:: bash

        salt '*' container.login 127.0.0.1:5000
    """
    chain_registry.check_registry(registry)
    username, password = chain_registry.credentials(
        registry, __salt__["config.get"], username, password, required=True
    )
    path = chain_registry.config_path(config_path)
    chain_registry.read_config(path)  # an unreadable config fails before the engine is asked
    result = _docker.call(
        f"login to {registry} as {username}",
        _client(profile).login,
        username=username,
        password=password,
        registry=registry,
        reauth=True,
        dockercfg_path="/nonexistent",
    )
    chain_registry.store_login(path, registry, username, password)
    _forget_clients()
    return {
        "registry": registry,
        "username": username,
        "status": (result or {}).get("Status", "Login Succeeded"),
    }


def logout(registry, config_path=None):
    """Remove a registry's credentials from the Docker client config; False when there were none.

    CLI Example:

    .. code-block:: bash

        salt '*' container.logout 127.0.0.1:5000
    """
    chain_registry.check_registry(registry)
    if not chain_registry.forget_login(chain_registry.config_path(config_path), registry):
        return False
    _forget_clients()
    return True


def registry_check(registry, username=None, password=None, timeout=10):
    """Check credentials against a registry's ``/v2/`` endpoint without changing anything:
    ``{"authenticated": bool, "status": http_status}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.registry_check 127.0.0.1:5000
    """
    chain_registry.check_registry(registry)
    timeout = chain_registry.check_timeout(timeout)
    username, password = chain_registry.credentials(
        registry, __salt__["config.get"], username, password
    )
    return chain_registry.check(registry, username, password, timeout=timeout)


def registry_digest(name, timeout=10):
    """Return the manifest digest a registry serves for ``registry/repo:tag``, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt '*' container.registry_digest 127.0.0.1:5000/app/web:1.2
    """
    chain_registry.check_image_name(name)
    timeout = chain_registry.check_timeout(timeout)
    creds = _auth_for(name) or {}
    return chain_registry.manifest_digest(
        name, creds.get("username"), creds.get("password"), timeout=timeout
    )
