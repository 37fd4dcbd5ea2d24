"""
Grain ``jenkins_agents``: the Jenkins agents running in containers on this minion's engine.

.. versionadded:: 0.2.0

Read from the labels ``jenkins_agent`` puts on its containers, with one ``GET
/containers/json`` (label filter, 2 second timeout) on the engine of the minion's default
container profile; the controller is never called. The grain never raises: without the SDK,
or with the engine down, it is ``{}`` and the reason is logged at debug level.

.. code-block:: yaml

    jenkins_agents:
      linux-1a2b3c4d:
        node: linux-1a2b3c4d
        pool: linux
        controller: http://127.0.0.1:8080/
        labels: [docker, linux]
        image: saltext-chain/jenkins-agent:latest
        image_id: sha256:...
        state: running

Target build hosts by it, e.g. ``salt -G 'jenkins_agents:*:pool:linux' test.ping``.
"""

import logging
import os

try:
    from saltext.chain.utils import chain_agents_plan, chain_profiles
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_plan
    import chain_profiles

try:
    try:
        from saltext.chain.utils import chain_docker_client
    except ImportError as _exc:
        if not str(_exc.name).startswith("saltext"):
            raise  # a real import error inside the util, not a missing package
        import chain_docker_client
except ImportError:  # pragma: no cover - reported by the grain as empty
    chain_docker_client = None

log = logging.getLogger(__name__)

__virtualname__ = "jenkins_agents"

GRAIN_TIMEOUT = chain_profiles.GRAIN_TIMEOUT


def __virtual__():
    return __virtualname__


def agents(opts=None, pillar=None):
    """``{container: {node, pool, controller, labels, image, image_id, state}}`` (may raise;
    the grain function below never does)."""
    conn = chain_profiles.default_docker_connection(opts, pillar, os.environ)
    client = chain_docker_client.make_client(conn, timeout=GRAIN_TIMEOUT)
    try:
        rows = client.containers(
            all=True, filters={"label": f"{chain_agents_plan.LABEL_MANAGED}=true"}
        )
    finally:
        client.close()
    out = {}
    for row in rows:
        name = (row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/")
        out[name] = chain_agents_plan.summarize(
            {
                "labels": row.get("Labels") or {},
                "state": row.get("State"),
                "image": row.get("Image"),
                "image_id": row.get("ImageID"),
            }
        )
    return out


def jenkins_agents():
    """
    Return the ``jenkins_agents`` grain (``{}`` when the engine cannot be read).

    .. code-block:: yaml

        # top.sls: the build hosts that carry a linux pool
        base:
          'jenkins_agents:*:pool:linux':
            - match: grain
            - build_host
    """
    try:
        if chain_docker_client is None or not chain_docker_client.HAS_DOCKER:
            return {"jenkins_agents": {}}
        loader = globals()
        return {"jenkins_agents": agents(loader.get("__opts__"), loader.get("__pillar__"))}
    except Exception as err:  # noqa: BLE001 - a grain reports, it never raises
        log.debug("jenkins_agents grain: %s", err)
        return {"jenkins_agents": {}}
