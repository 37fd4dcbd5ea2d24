"""
A replicated container service behind an HAProxy frontend, rolled out with a health gate and
automatic rollback: ``container_service.running``.

.. versionadded:: 0.2.0

``replicas`` containers of one spec (the options of ``container.running``) run on this
minion's engine. A change of the declared spec or of the image id starts a new generation,
rolled out batch by batch under ``update``; each new replica must be healthy (its Docker
health check), be seen up by the frontend's own check and stay so for ``monitor`` seconds
before the previous replica it replaces is drained and stopped. On failure the previous
replicas (kept, stopped) are started again: the exact previous image id, never a rebuild.

.. code-block:: yaml

    app:
      container_service.running:
        - image: 127.0.0.1:5000/chain/app:3f2a1c9
        - replicas: 2
        - frontend: chain-frontend     # the HAProxy container (images/haproxy)
        - backend: app
        - network: chain
        - port: 8000
        - healthcheck:
            test: python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health')"
            interval: 1s
            timeout: 1s
            retries: 2
        - environment:
            APP_ENV: production
        - update:
            parallelism: 1
            monitor: 5
            failure_action: rollback
            order: start-first
        - require:
          - container: chain-frontend
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_docker_spec,
        chain_errors,
        chain_service_plan,
        chain_states,
    )
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
    import chain_docker_spec
    import chain_errors
    import chain_service_plan
    import chain_states


__virtualname__ = "container_service"

plan = chain_service_plan
#: Options a replica may not take from the declaration: the service sets them itself.
RESERVED = {"name", "networks", "network_mode", "hostname"}


def __virtual__():
    return chain_states.needs(
        __salt__, __virtualname__, "container_service.apply", "container.inspect"
    )


def _validate(name, image, spec_args, settings):
    """Every argument, before anything is read from the engine. Returns the normalised spec."""
    plan.check_name(name)
    plan.check_replicas(settings["replicas"])
    if not isinstance(image, str) or not image.strip():
        raise SaltInvocationError("image: expected an image reference")
    profile, frontend, network = settings["profile"], settings["frontend"], settings["network"]
    if profile is not None and not isinstance(profile, (str, dict)):
        raise SaltInvocationError("profile: expected a profile name or a mapping")
    reserved = sorted(RESERVED & set(chain_docker_spec.resolve_names(spec_args)))
    if reserved:
        raise SaltInvocationError(
            f"{', '.join(reserved)}: set by the service (use network: to attach the replicas)"
        )
    spec = chain_docker_spec.normalize(image, spec_args)
    plan.check_update(settings["update"], plan.health_window(spec.get("healthcheck")))
    plan.check_history(settings["history"])
    chain_errors.as_int(settings["port"], "port", minimum=1, maximum=65535)
    chain_errors.as_int(settings["stop_timeout"], "stop_timeout", minimum=0)
    # backend is checked even without a frontend: no input goes unchecked
    plan.check_name(settings["backend"], "backend")
    if frontend is not None:
        plan.check_name(frontend, "frontend")
        if not network:
            raise SaltInvocationError(
                "network: a frontend reaches the replicas over a network; name it"
            )
    if network is not None:
        plan.check_name(network, "network")
    return spec


def running(
    name,
    image,
    replicas=1,
    frontend=None,
    backend="app",
    network=None,
    port=8000,
    update=None,
    history=5,
    stop_timeout=10,
    profile=None,
    **kwargs,
):
    """
    Ensure ``replicas`` healthy containers of ``image`` run, in the ``frontend``.

    name
        The service name; replicas are named ``<name>-<generation>-<n>``.
    image
        Image reference; its id is part of the generation (a rebuilt tag rolls out).
    replicas
        Number of containers (1..64).
    frontend, backend
        The HAProxy container (``images/haproxy``) and its backend (its ``CHAIN_BACKEND``); a
        replica enters it (runtime API) once healthy and is drained before it stops.
    network
        The Docker network shared with the frontend (required with a frontend).
    port
        The replicas' service port (the frontend's ``CHAIN_APP_PORT``).
    update
        ``{parallelism: 1, delay: 0, monitor: 5, failure_action: rollback|pause|continue,
        max_failure_ratio: 0, order: start-first|stop-first, progress_deadline: 600}``.
        ``monitor`` (seconds a new replica must stay healthy) shorter than the health check's
        window (``retries x (interval + timeout)``) is refused.
    history
        How many previous image digests the replicas' label keeps (for ``chain.rollback``).
    stop_timeout
        Seconds of grace for a drained replica's open sessions and for its stop.

    Every other argument is a container option of ``container.running`` (``docs/container.md``);
    a ``healthcheck`` is required (the health gate).

    .. code-block:: yaml

        app:
          container_service.running:
            - image: 127.0.0.1:5000/chain/app:3f2a1c9
            - replicas: 2
            - frontend: chain-frontend
            - network: chain
            - healthcheck: {test: "true", interval: 1s, timeout: 1s, retries: 2}
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    spec_args = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    settings = {
        "replicas": replicas,
        "frontend": frontend,
        "backend": backend,
        "network": network,
        "port": port,
        "update": update,
        "history": history,
        "stop_timeout": stop_timeout,
        "profile": profile,
    }
    try:
        _validate(name, image, spec_args, settings)
        checked = {
            k: v for k, v in settings.items() if k not in ("update", "history", "stop_timeout")
        }
        found = __salt__["container_service.check"](name, image, spec_args, **checked)
        if found["converged"]:
            ret["comment"] = (
                f"Service {name} runs {replicas} healthy replica(s) of {found['image_ref']}"
            )
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes=found["changes"],
                comment=f"Service {name} would be rolled out ({', '.join(found['changes'])})",
            )
            return ret
        done = __salt__["container_service.apply"](name, image, spec_args, **settings)
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err).strip().splitlines()[0], changes={})
        return ret
    ret["result"] = done["result"]
    ret["comment"] = done["comment"]
    ret["changes"] = dict(done["changes"])
    if done["steps"] and done["result"] is False:
        ret["changes"]["steps"] = {"old": None, "new": list(done["steps"])}
    return ret
