"""
Grain ``container_engine``: what the minion's Docker engine is and how busy it is.

.. versionadded:: 0.1.0

:depends: docker >= 7.1 (the Python SDK). Without it, or when the engine does not answer, the
    grain still exists and says so (``available: false`` plus ``error``); it never raises and
    never delays the minion's grain refresh by more than a couple of seconds.

The engine is the one of the minion's default container profile, resolved by the same code
and rules as the ``container`` execution module (``chain_profiles.resolve``). Grains are
computed before ``__salt__`` exists, so the profile is read directly from the minion config
and, when it is already compiled, from pillar (minion config first, then pillar, as
``config.get`` does). A profile that is malformed (e.g. not a mapping, an unknown key) gives
``available: false`` with the error, like any other failure:

.. code-block:: yaml

    container:
      default_profile: build-host
      profiles:
        build-host:
          base_url: unix:///var/run/docker.sock

Without any configuration the engine from ``DOCKER_HOST`` or the local socket is used.

The grain costs two small requests with a 2 second timeout: ``GET /version`` (API version
negotiation, which also gives ``api_version``) and ``GET /info``:

.. code-block:: yaml

    container_engine:
      available: true
      profile: default
      base_url: unix:///var/run/docker.sock
      id: VUEO:VHOC:...         # docker info ID (engines sharing /etc/docker share it)
      name: build-host          # the engine host's name (docker info)
      root_dir: /var/lib/docker # the engine's data root: with id and name, which engine it is
      engine_version: 26.1.5+dfsg1
      api_version: '1.45'
      os: linux
      arch: x86_64
      storage_driver: overlay2
      containers_running: 3
      containers_total: 5
      images: 12

Target minions by it, e.g. ``salt -G 'container_engine:available:True' test.ping``.
"""

import logging
import os

try:
    from saltext.chain.utils import chain_docker_client, chain_profiles
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_client
    import chain_profiles

log = logging.getLogger(__name__)

__virtualname__ = "container_engine"

#: Seconds allowed for each request; a grain must never hold up the minion.
GRAIN_TIMEOUT = chain_profiles.GRAIN_TIMEOUT


def __virtual__():
    # Always loaded: a minion without the SDK reports ``available: false`` instead of nothing.
    return __virtualname__


def _connection():
    """The default profile's connection settings, resolved as the execution module does."""
    loader = globals()
    return chain_profiles.default_docker_connection(
        loader.get("__opts__"), loader.get("__pillar__"), os.environ
    )


def _probe(conn):
    facts = {"available": False, "profile": conn["name"], "base_url": conn["base_url"]}
    if not chain_docker_client.HAS_DOCKER:
        facts["error"] = "the docker Python SDK (docker>=7.1) is not installed"
        return facts
    client = None
    try:
        client = chain_docker_client.make_client(conn, timeout=GRAIN_TIMEOUT)
        if conn["version"] == "auto":
            # Negotiation already asked the engine for its API version.
            api_version = client.api_version
        else:
            api_version = client.version(api_version=False).get("ApiVersion")
        info = client.info()
    except Exception as err:  # noqa: BLE001 - a grain reports, it never raises
        facts["error"] = chain_docker_client.error_text(err)
        log.debug(
            "container_engine grain: engine of profile '%s' unavailable: %s", conn["name"], err
        )
        return facts
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    facts.update(
        available=True,
        id=info.get("ID"),
        name=info.get("Name"),
        root_dir=info.get("DockerRootDir"),
        engine_version=info.get("ServerVersion"),
        api_version=api_version,
        os=info.get("OSType"),
        arch=info.get("Architecture"),
        storage_driver=info.get("Driver"),
        containers_running=info.get("ContainersRunning"),
        containers_total=info.get("Containers"),
        images=info.get("Images"),
    )
    return facts


def container_engine():
    """
    Return the ``container_engine`` grain: availability, version, platform, storage driver and
    container/image counts of the engine of the minion's default container profile.

    When the engine cannot be reached (or the docker SDK is missing) the grain is
    ``{available: false, profile, base_url, error}``.

    .. code-block:: yaml

        # top.sls: only minions whose engine answers get the docker host formula
        base:
          'container_engine:available:True':
            - match: grain
            - docker_host
    """
    try:
        conn = _connection()
    except Exception as err:  # noqa: BLE001 - a malformed config must not break grains
        return {"container_engine": {"available": False, "error": f"bad container profile: {err}"}}
    try:
        return {"container_engine": _probe(conn)}
    except Exception as err:  # noqa: BLE001 - belt and braces
        return {
            "container_engine": {"available": False, "profile": conn.get("name"), "error": str(err)}
        }
