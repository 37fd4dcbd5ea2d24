"""
The one Docker adapter: client settings, TLS, and the SDK call wrapper with typed errors.

Used by the ``container`` execution module, the ``container_engine`` grain and the
``container_events`` beacon. Connection settings come from
:func:`chain_profiles.docker_connection` (``{name, base_url, version, timeout, tls,
max_pool_size, user_agent, build_timeout}``); every client gets a timeout.

Engine errors become :mod:`chain_errors` types, so callers never match message text:

* 404 -> :class:`~chain_errors.NotFound` (``inspect`` turns it into ``None``, ``remove`` into
  ``False``: see :func:`get_or_none` and :func:`removed`);
* 409 -> :class:`~chain_errors.Conflict`;
* no answer (connection refused, timeout, TLS failure) -> :class:`~chain_errors.Unreachable`;
* any other engine error -> :class:`~chain_errors.BackendError` carrying the engine's message
  and HTTP status.

Nothing here touches Salt's dunders.
"""

import os
import re
import struct
import time
import types

from salt.exceptions import CommandExecutionError

try:
    import docker
    import docker.errors
    import docker.tls
    import docker.types

    HAS_DOCKER = True
except ImportError:  # pragma: no cover - exercised only without the SDK
    HAS_DOCKER = False

try:
    from saltext.chain.utils import chain_errors, chain_profiles
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_profiles


def tls_config(tls):
    """A ``docker.tls.TLSConfig`` from a profile's ``tls`` value (``None``/``True``/mapping)."""
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


def client_kwargs(conn, timeout=None):
    """``docker.APIClient`` keyword arguments from connection settings (``timeout`` overrides
    the profile's, e.g. a grain's short one). The timeout is always set."""
    kwargs = {
        "version": conn.get("version") or "auto",
        "timeout": timeout or conn.get("timeout") or 60,
    }
    for key in ("base_url", "max_pool_size", "user_agent"):
        if conn.get(key):
            kwargs[key] = conn[key]
    tls = tls_config(conn.get("tls"))
    if tls is not None:
        kwargs["tls"] = tls
    return kwargs


def where(conn):
    """``profile 'NAME' (URL)`` for error messages."""
    return f"profile '{conn.get('name')}' ({conn.get('base_url') or 'local socket'})"


def make_client(conn, timeout=None):
    """A new ``docker.APIClient`` for connection settings; :class:`~chain_errors.Unreachable`
    when the engine does not answer the API version negotiation."""
    try:
        client = docker.APIClient(**client_kwargs(conn, timeout))
    except docker.errors.DockerException as err:
        raise chain_errors.Unreachable(
            f"cannot reach the Docker engine of {where(conn)}: {transport_text(err)}"
        ) from err
    except Exception as err:  # requests/urllib3 errors raised while negotiating
        if _is_transport(err):
            raise chain_errors.Unreachable(
                f"cannot reach the Docker engine of {where(conn)}: {transport_text(err)}"
            ) from err
        raise
    # Whose engine a transport error met (see :func:`translate`): the profile and its URL.
    client.chain_where = where(conn)
    if client.base_url.startswith(("http+docker://", "npipe://")):
        # A local socket is never proxied: skip requests' per-request lookup of proxy and
        # netrc settings in the environment (about a third of a cached inspect's client time).
        client.trust_env = False
    return client


def error_text(err):
    """The engine's own message of an SDK error (``explanation``), as text."""
    text = getattr(err, "explanation", None) or str(err) or type(err).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)


def translate(err, what, engine=None):
    """The :mod:`chain_errors` exception for an SDK or transport error during ``what``;
    ``engine`` (``where()`` of the client's profile) is named when the engine did not answer."""
    if isinstance(err, docker.errors.APIError):
        status = err.status_code
        kind = {404: chain_errors.NotFound, 409: chain_errors.Conflict}.get(
            status, chain_errors.BackendError
        )
        return kind(f"{what}: {error_text(err)}", status=status)
    if _is_transport(err):
        whose = f"the Docker engine of {engine}" if engine else "the Docker engine"
        return chain_errors.Unreachable(f"{what}: {whose} did not answer: {transport_text(err)}")
    return chain_errors.BackendError(f"{what}: {error_text(err)}")


def transport_text(err):
    """A transport error (requests/urllib3) in a few words: the engine's socket refused or
    dropped the connection, or sent nothing within the client's timeout."""
    text = str(err)
    timeout = re.search(r"read timeout=([0-9.]+)", text)
    if timeout or "timed out" in text.lower():
        return f"no answer within the timeout ({timeout.group(1) if timeout else '?'}s)"
    for words, short in _TRANSPORT_WORDS:
        if words in text:
            return short
    return " ".join(text.split())[:200]


_TRANSPORT_WORDS = (
    ("Connection refused", "connection refused (is dockerd running?)"),
    ("No such file or directory", "no socket (is dockerd running?)"),
    ("Connection aborted", "the connection was dropped"),
    ("Connection broken", "the connection was dropped"),
    ("Connection reset", "the connection was dropped"),
    ("RemoteDisconnected", "the connection was dropped"),
)


def call(what, func, *args, **kwargs):
    """Call the SDK; engine errors raise typed :mod:`chain_errors` exceptions naming ``what``
    (and, when the engine did not answer, its profile). A stream (a pull's, push's or build's
    progress) is returned wrapped: an error while it is read is translated too."""
    engine = getattr(getattr(func, "__self__", None), "chain_where", None)
    try:
        result = func(*args, **kwargs)
    except docker.errors.DockerException as err:
        raise translate(err, what, engine) from err
    except Exception as err:  # requests' connection errors and timeouts
        if _is_transport(err):
            raise translate(err, what, engine) from err
        raise
    if isinstance(result, types.GeneratorType):
        return _guarded(what, result, engine)
    return result


def _guarded(what, stream, engine):
    """``stream``'s items; an engine error met while reading it is translated (the engine
    killed or frozen in the middle of a pull, push or build)."""
    try:
        yield from stream
    except docker.errors.DockerException as err:
        raise translate(err, what, engine) from err
    except Exception as err:  # requests' connection errors and timeouts
        if _is_transport(err):
            raise translate(err, what, engine) from err
        raise


def get_or_none(what, func, *args, **kwargs):
    """:func:`call` for a read: ``None`` when the object does not exist."""
    try:
        return call(what, func, *args, **kwargs)
    except chain_errors.NotFound:
        return None


def removed(what, func, *args, **kwargs):
    """:func:`call` for a removal: ``True`` when removed, ``False`` when there was nothing."""
    try:
        call(what, func, *args, **kwargs)
    except chain_errors.NotFound:
        return False
    return True


def follow(what, stream, probe=None):
    """Read a pull/push progress stream to its end; the engine's last error line raises
    :class:`~chain_errors.BackendError`. Returns the last ``aux`` payload (a push's digest).

    ``probe`` (a callable: why the registry does not answer, or ``None``) is asked, at most
    once a second, while the engine retries a layer ("Retrying in N seconds": five attempts,
    about 50 s): a registry that is gone fails the call then, with the reason, instead of
    after the engine's last attempt. A 5xx answer of the registry is named as the registry's
    own failure (its storage full, its backend broken)."""
    errors, aux, asked = [], {}, None
    for chunk in stream:
        if "error" in chunk:
            errors.append(str(chunk["error"]).strip())
        aux = chunk.get("aux") or aux
        if probe and str(chunk.get("status") or "").startswith("Retrying in"):
            now = time.monotonic()
            if asked is None or now - asked >= 1:
                asked = now
                why = probe()
                if why:
                    raise chain_errors.Unreachable(f"{what}: {why} (the engine was retrying)")
    if errors:
        last = errors[-1]
        if re.search(r"unexpected HTTP status: 5[0-9][0-9]", last):
            last += " (the registry failed to store or serve it: its storage full or broken?)"
        raise chain_errors.BackendError(f"{what}: {last}")
    return aux


#: A frame of an exec's or attach's multiplexed stream: stream id (1 stdout, 2 stderr), size.
_FRAME = struct.Struct(">BxxxL")


class ExecOutput:
    """An exec's whole output, read without loss: ``ExecOutput(client).read(exec_id)`` starts
    the exec (created with stdout and stderr, no tty) and returns ``(stdout, stderr)`` bytes.

    docker-py's ``exec_start`` reads the stream from the socket beneath http.client's buffered
    reader: the frames that arrived with the response's headers (a short command, a client
    slowed by load) are in that buffer and lost (``(None, None)``; docker/docker-py#2042).
    This reads them from the buffered reader itself. Over ssh or a Windows named pipe (where
    docker-py reads another object) the SDK's own call is used. ``chain_where`` is the client's,
    so that :func:`call` names the engine."""

    def __init__(self, client):
        self.client = client
        self.chain_where = getattr(client, "chain_where", None)

    def read(self, exec_id):
        client = self.client
        if str(client.base_url).startswith(("http+docker://ssh", "http+docker://localnpipe")):
            out, err = client.exec_start(exec_id, demux=True)
            return out or b"", err or b""
        res = client._post_json(  # pylint: disable=protected-access
            client._url("/exec/{0}/start", exec_id),  # pylint: disable=protected-access
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": False, "Detach": False},
            stream=True,
        )
        try:
            client._raise_for_status(res)  # pylint: disable=protected-access
            return read_frames(res.raw._fp.fp)  # pylint: disable=protected-access
        finally:
            res.close()


def read_frames(reader):
    """``(stdout, stderr)`` of a multiplexed stream read to its end from ``reader`` (a
    file object whose ``read(n)`` blocks for ``n`` bytes or the end)."""
    out = {1: [], 2: []}
    while True:
        header = reader.read(_FRAME.size)
        if len(header) < _FRAME.size:
            break
        stream, size = _FRAME.unpack(header)
        data = reader.read(size) if size else b""
        out.setdefault(stream, []).append(data)
        if len(data) < size:
            break
    return b"".join(out[1]), b"".join(out[2])


def is_local(client):
    """True when the client talks to an engine on this host's socket (a registry address
    such as 127.0.0.1:5000 then means the same host to the minion and to the engine)."""
    return str(getattr(client, "base_url", "")).startswith("http+docker://")


def _is_transport(err):
    return type(err).__module__.startswith(("requests", "urllib3")) or isinstance(
        err, (ConnectionError, TimeoutError)
    )


def virtual(name):
    """The ``__virtual__`` answer of a loader module that needs the docker SDK."""
    if not HAS_DOCKER:
        return (False, "the docker Python SDK (docker>=7.1) is not installed")
    return name


def ipam(subnet, gateway=None):
    """The ``ipam`` argument of ``create_network`` for one pool (None without a subnet)."""
    if not subnet:
        return None
    pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
    return docker.types.IPAMConfig(pool_configs=[pool])


def pull_missing(image, pull, pull_image):
    """Pull an image the engine lacks through ``pull_image()`` (``pull``: ``missing`` or
    ``never``); either failure says why the image is not there."""
    if pull == "never":
        raise chain_errors.BackendError(f"image {image} is not present on the engine (pull=never)")
    try:
        pull_image()
    except CommandExecutionError as err:
        raise chain_errors.BackendError(
            f"image {image} is not present on the engine and could not be pulled: {err}"
        ) from err


def client_for(profile, config_get, context, environ=None):
    """The client of a profile, created once and kept in ``context`` (the loader's
    ``__context__``) under a key that hashes the resolved settings."""
    conn = chain_profiles.docker_connection(
        chain_profiles.resolve("container", profile, config_get),
        os.environ if environ is None else environ,
    )
    key = chain_profiles.cache_key("container", conn)
    client = context.get(key)
    if client is None:
        client = context[key] = make_client(conn)
    return client
