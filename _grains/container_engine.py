"""
Grain ``container_engine``: what the minion's Docker engine is and how busy it is.

.. versionadded:: 0.1.0

:depends: docker >= 7.1 (the Python SDK). Without it, or when the engine does not answer, the
    grain still exists and says so (``available: false`` plus ``error``); it never raises and
    never delays the minion's grain refresh by more than a couple of seconds.

The engine is the one of the minion's default container profile, the same configuration the
``container`` execution module uses. Grains are computed before ``__salt__`` exists, so the
profile is read directly from the minion config and, when it is already compiled, from pillar
(minion config first, then pillar, as ``config.get`` does):

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
    import docker
    import docker.errors
    import docker.tls

    HAS_DOCKER = True
except ImportError:  # pragma: no cover - exercised only without the SDK
    HAS_DOCKER = False

log = logging.getLogger(__name__)

__virtualname__ = "container_engine"

#: Seconds allowed for each request; a grain must never hold up the minion.
GRAIN_TIMEOUT = 2


def __virtual__():
    # Always loaded: a minion without the SDK reports ``available: false`` instead of nothing.
    return __virtualname__


def _lookup(source, key):
    """Traverse ``a:b:c`` in a (possibly loader-wrapped) mapping; ``None`` when absent."""
    node = source
    for part in key.split(":"):
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            return None
    return node


def _config(key):
    """The minion config's value for ``key``, else the pillar's (pillar may be absent)."""
    value = _lookup(globals().get("__opts__") or {}, key)
    if value is None:
        try:
            pillar = globals().get("__pillar__") or {}
        except Exception:  # noqa: BLE001 - an unset loader context raises on access
            pillar = {}
        value = _lookup(pillar, key)
    return value


def _profile():
    name = _config("container:default_profile") or "default"
    conf = _config(f"container:profiles:{name}")
    conf = dict(conf) if isinstance(conf, dict) else {}
    conf["name"] = name
    return conf


def _tls_config(tls):
    if not tls:
        return None
    if tls is True:
        return docker.tls.TLSConfig(verify=True)
    client_cert = None
    if tls.get("client_cert") and tls.get("client_key"):
        client_cert = (tls["client_cert"], tls["client_key"])
    return docker.tls.TLSConfig(
        client_cert=client_cert, ca_cert=tls.get("ca_cert"), verify=tls.get("verify", True)
    )


def _error_text(err):
    text = getattr(err, "explanation", None) or str(err) or type(err).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text


def _probe(conf):
    base_url = conf.get("base_url") or os.environ.get("DOCKER_HOST")
    facts = {"available": False, "profile": conf["name"], "base_url": base_url or None}
    if not HAS_DOCKER:
        facts["error"] = "the docker Python SDK (docker>=7.1) is not installed"
        return facts
    client = None
    try:
        kwargs = {"version": str(conf.get("version") or "auto"), "timeout": GRAIN_TIMEOUT}
        if base_url:
            kwargs["base_url"] = base_url
        tls = _tls_config(conf.get("tls"))
        if tls is not None:
            kwargs["tls"] = tls
        client = docker.APIClient(**kwargs)
        if kwargs["version"] == "auto":
            # Negotiation already asked the engine for its API version.
            api_version = client.api_version
        else:
            api_version = client.version(api_version=False).get("ApiVersion")
        info = client.info()
    except Exception as err:  # noqa: BLE001 - a grain reports, it never raises
        facts["error"] = _error_text(err)
        log.debug("container_engine grain: engine of profile '%s' unavailable: %s", conf["name"], err)
        return facts
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    facts.update(
        available=True,
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
        conf = _profile()
    except Exception as err:  # noqa: BLE001 - a malformed config must not break grains
        return {"container_engine": {"available": False, "error": f"bad container profile: {err}"}}
    try:
        return {"container_engine": _probe(conf)}
    except Exception as err:  # noqa: BLE001 - belt and braces
        return {
            "container_engine": {"available": False, "profile": conf.get("name"), "error": str(err)}
        }
