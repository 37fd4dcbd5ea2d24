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

try:
    from saltext.chain.utils import (
        chain_docker_spec,
        chain_service_plan,
        chain_state_args,
        chain_states,
        chain_swarm,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_spec
    import chain_service_plan
    import chain_state_args
    import chain_states
    import chain_swarm


__virtualname__ = "container_service"

plan = chain_service_plan
#: The service's own options and their defaults (``chain_service_plan.SERVICE_DEFAULTS``,
#: where they are written once); the signature below takes them from there.
DEFAULT = plan.SERVICE_DEFAULTS


def __virtual__():
    return chain_states.needs(
        __salt__, __virtualname__, "container_service.apply", "container.inspect"
    )


def _would(ret, found, replicas):
    """The test-mode return from ``container_service.check`` (or ``swarm_check``)."""
    name = ret["name"]
    if found["converged"]:
        ret["comment"] = (
            f"Service {name} runs {replicas} healthy replica(s) of {found['image_ref']}"
        )
    else:
        ret.update(
            result=None,
            changes=found["changes"],
            comment=f"Service {name} would be rolled out ({', '.join(found['changes'])})",
        )
    return ret


@chain_state_args.checked(accepts=chain_docker_spec.ACCEPTED)
def running(
    name,
    image,
    replicas=DEFAULT["replicas"],
    frontend=DEFAULT["frontend"],
    backend=DEFAULT["backend"],
    network=DEFAULT["network"],
    port=DEFAULT["port"],
    update=DEFAULT["update"],
    history=DEFAULT["history"],
    stop_timeout=DEFAULT["stop_timeout"],
    profile=DEFAULT["profile"],
    mode="containers",
    placement=None,
    publish=None,
    endpoint_mode="vip",
    **kwargs,
):
    """
    Ensure ``replicas`` healthy containers of ``image`` run, in the ``frontend``.

    name
        The service name; replicas are named ``<name>-<generation>-<n>``.
    image
        Image reference; its id is part of the generation (a rebuilt tag rolls out).
    replicas
        Number of containers (1..64). Default 1.
    frontend, backend
        The HAProxy container (``images/haproxy``) and its backend (its ``CHAIN_BACKEND``,
        default ``app``); a replica enters it (runtime API) once healthy and is drained before
        it stops.
    network
        The Docker network shared with the frontend (required with a frontend).
    port
        The replicas' service port (the frontend's ``CHAIN_APP_PORT``). Default 8000.
    update
        ``{parallelism: 1, delay: 0, monitor: 5, failure_action: rollback|pause|continue,
        max_failure_ratio: 0, order: start-first|stop-first, progress_deadline: 600}``.
        ``monitor`` (seconds a new replica must stay healthy) shorter than the health check's
        window (``retries x (interval + timeout)``) is refused.
    history
        How many previous image digests the replicas' label keeps (for ``chain.rollback``).
        Default 5.
    stop_timeout
        Seconds of grace for a drained replica's open sessions and for its stop. Default 10.
    mode
        ``containers`` (default: replicas are containers of this minion's engine) or ``swarm``
        (a Swarm service on this manager's swarm, rolled out by Swarm under ``update`` with our
        frontend gate on top and ``docker service rollback``; ``docs/swarm.md``).
    placement
        ``mode: swarm`` only: ``{node label: value}``, the nodes the tasks may run on.
    publish
        ``mode: swarm`` only: ``{port: N, mode: ingress|host}``, the published port of the
        tasks' ``port`` (``ingress``: Swarm's routing mesh, which needs the kernel's IPVS).
    endpoint_mode
        ``mode: swarm`` only: ``vip`` (default) or ``dnsrr``.

    Every other argument is a container option of ``container.running`` (``docs/container.md``);
    a ``healthcheck`` is required (the health gate). The whole declaration is validated once,
    by ``container_service.check`` (test mode, reads only) or ``container_service.apply``,
    before any I/O.

    .. code-block:: yaml

        app:
          container_service.running:
            - image: 127.0.0.1:5000/chain/app:3f2a1c9
            - replicas: 2
            - frontend: chain-frontend
            - network: chain
            - healthcheck: {test: "true", interval: 1s, timeout: 1s, retries: 2}
    """
    given = dict(locals())
    own = {key: given[key] for key in DEFAULT}  # the service's own options, passed down whole
    ret = chain_states.new_ret(name)
    spec_args = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    prefix = "container_service."
    try:
        swarm = {"placement": placement, "publish": publish, "endpoint_mode": endpoint_mode}
        if chain_swarm.check_mode(mode) == "swarm":
            own.update(swarm)
            prefix = "container_service.swarm_"
        else:
            chain_swarm.options(mode, **swarm)
        if __opts__["test"]:
            found = __salt__[prefix + "check"](name, image, spec_args, **own)
            return _would(ret, found, replicas)
        done = __salt__[prefix + "apply"](name, image, spec_args, **own)
    except chain_states.CAUGHT as err:
        return chain_states.fail(ret, err, changes={})
    changes = dict(done["changes"])
    if done["result"] is False:
        if done["steps"]:
            changes["steps"] = {"old": None, "new": list(done["steps"])}
        return chain_states.fail(ret, done["comment"], done=done["steps"], changes=changes)
    ret.update(comment=done["comment"], changes=changes)
    return ret
