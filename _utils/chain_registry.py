"""
Image registries: image names, credentials, the Docker client ``config.json`` and the ``/v2``
HTTP API with token auth.

* names -- :func:`split_repo_tag`, :func:`registry_of` (``host[:port]``, ``[v6]:port``,
  ``localhost``; everything else is Docker Hub), :func:`check_image_name`;
* credentials -- :func:`credentials` reads ``container:registries:<registry>`` through the
  ``config_get`` the caller passes (the one place that reads it), for that registry alone;
* the client config -- :func:`read_config` / :func:`write_config` (atomic, mode 0600, like
  ``docker login``), :func:`stored_login` (a malformed ``auth`` entry is a clean error);
* the HTTP API -- :func:`registry_base`, :func:`request` (Basic auth, one Bearer challenge
  followed: Docker Hub, GHCR, GitLab, Harbor), :func:`check`, :func:`manifest_digest`.
  Every request has a timeout.

Nothing here touches Salt's dunders.
"""

import base64
import binascii
import json
import os
import re

try:
    from saltext.chain.utils import chain_certs, chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_certs
    import chain_errors

BadInput = chain_errors.BadInput

DEFAULT_TIMEOUT = 10
LOOPBACK = ("127.", "localhost", "[::1]", "::1")
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.manifest.v1+json"
)


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def check_image_name(name, field="name"):
    """``name`` when it is a non-empty image reference without blanks, else :class:`BadInput`."""
    if not isinstance(name, str) or not name.strip() or re.search(r"\s", name):
        raise BadInput(f"{field}: expected an image name like repo/name:tag, got {name!r}")
    return name


def split_repo_tag(name):
    """``registry:5000/app/web:1.2`` -> ``("registry:5000/app/web", "1.2")``; no tag means
    ``latest``; a digest reference (``repo@sha256:...``) is returned whole with tag ``None``."""
    if "@" in name:
        return name, None
    repo, tag = name, "latest"
    if ":" in name.rsplit("/", 1)[-1]:
        repo, tag = name.rsplit(":", 1)
    return repo, tag


def registry_of(image):
    """The registry an image name points at: its first component when that looks like a host
    (has a dot or a port, is ``[v6]``-bracketed or ``localhost``), else ``docker.io``."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def repository_path(name):
    """``(registry, path in the registry, tag)`` of an image name, for the ``/v2`` API."""
    registry = registry_of(name)
    repo, tag = split_repo_tag(name)
    if repo.startswith(registry + "/"):
        repo = repo[len(registry) + 1 :]
    return registry, repo, tag


# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------


def configured(registry, config_get):
    """The ``container:registries:<registry>`` mapping (``{}`` when none); ``config_get`` is a
    callable like ``config.get``."""
    creds = (config_get("container:registries", {}) or {}).get(registry) or {}
    if not isinstance(creds, dict):
        raise BadInput(f"container:registries:{registry} must be a mapping of username/password")
    return creds


def credentials(registry, config_get, username=None, password=None, required=False):
    """``(username, password)`` for one registry: the arguments, else the configured ones.

    With ``required`` both must be known, else :class:`BadInput` naming where to put them;
    without it, ``(None, None)`` is returned when nothing is configured.
    """
    creds = configured(registry, config_get)
    username = username or creds.get("username")
    password = password or creds.get("password")
    if required and (not username or not password):
        raise BadInput(
            f"registry {registry}: no credentials (pass username/password or set "
            f"container:registries:{registry} in pillar)"
        )
    return (str(username) if username else None), (str(password) if password else None)


def auth_config(image, config_get):
    """The SDK's ``auth_config`` for an image's registry alone (never every registry), or
    ``None``."""
    username, password = credentials(registry_of(image), config_get)
    if not username or not password:
        return None
    return {"username": username, "password": password}


def auth_header(image, config_get):
    """The ``X-Registry-Auth`` header value with which an engine pulls ``image``, or on a Swarm
    manager every node does (``docker service create/update --with-registry-auth``): the
    configured credentials of the image's registry alone, as base64url JSON ``{username,
    password, serveraddress}`` (Docker's ``AuthConfig``); ``None`` when none are configured."""
    auth = auth_config(image, config_get)
    if not auth:
        return None
    payload = json.dumps(dict(auth, serveraddress=registry_of(image))).encode()
    return base64.urlsafe_b64encode(payload).decode()


# ---------------------------------------------------------------------------------------------
# The Docker client config (~/.docker/config.json)
# ---------------------------------------------------------------------------------------------


def config_path(path=None):
    """``path``, else ``~/.docker/config.json``."""
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise BadInput(f"config_path: expected a file path, got {path!r}")
    return path or os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def read_config(path):
    """The parsed client config (``{}`` when the file does not exist)."""
    try:
        with open(path, encoding="utf-8") as fh:
            conf = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise chain_errors.BackendError(f"cannot read {path}: {err}") from err
    if not isinstance(conf, dict):
        raise chain_errors.BackendError(f"cannot read {path}: not a JSON object")
    return conf


def write_config(path, conf):
    """Write the client config atomically with mode 0600 (it holds credentials)."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        json.dump(conf, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def encode_auth(username, password):
    """The ``auth`` value ``docker login`` stores."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def stored_login(conf, registry, path="config.json"):
    """``(username, password)`` stored for ``registry`` in a parsed config, or ``(None, None)``.
    A malformed ``auth`` entry raises :class:`~chain_errors.BackendError` naming the file."""
    entry = (conf.get("auths") or {}).get(registry) or {}
    if not isinstance(entry, dict) or not entry.get("auth"):
        return None, None
    try:
        text = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    if ":" not in text:
        raise chain_errors.BackendError(
            f"{path}: the auth entry for {registry} is malformed (expected base64 of "
            "user:password); log out of the registry or fix the file"
        )
    username, _, password = text.partition(":")
    return username, password


def login_status(path, registry, want_user=None, want_pw=None):
    """What the client config at ``path`` holds for ``registry``: ``{logged_in, username,
    matches, config_path, malformed}``. ``matches`` compares with the wanted credentials
    (``None`` when none are wanted). A malformed ``auth`` entry counts as logged in with
    credentials that do not match (``malformed`` holds the error), so a login replaces it and
    a logout removes it. Secrets are never returned."""
    try:
        stored_user, stored_pw = stored_login(read_config(path), registry, path)
        malformed = None
    except chain_errors.BackendError as err:
        if "malformed" not in str(err):
            raise
        stored_user, stored_pw, malformed = None, None, str(err)
    matches = None
    if want_user or want_pw:
        matches = not malformed and stored_user == want_user and stored_pw == want_pw
    return {
        "logged_in": bool(stored_user) or bool(malformed),
        "username": stored_user,
        "matches": matches,
        "config_path": path,
        "malformed": malformed,
    }


def store_login(path, registry, username, password):
    """Record a verified login in the client config, as ``docker login`` does."""
    conf = read_config(path)
    conf.setdefault("auths", {})[registry] = {"auth": encode_auth(username, password)}
    write_config(path, conf)


def forget_login(path, registry):
    """Remove a registry's entry from the client config; ``False`` when there was none."""
    conf = read_config(path)
    if registry not in (conf.get("auths") or {}):
        return False
    del conf["auths"][registry]
    write_config(path, conf)
    return True


def check_registry(registry, field="registry"):
    """A registry name as users write it (``host[:port]``, ``[v6]:port``, a URL)."""
    if not isinstance(registry, str) or not registry.strip() or re.search(r"\s", registry):
        raise BadInput(f"{field}: expected host[:port], got {registry!r}")
    return registry


# ---------------------------------------------------------------------------------------------
# The /v2 HTTP API
# ---------------------------------------------------------------------------------------------


def registry_base(registry):
    """Base URL of a registry's HTTP API from a name as users write it (``host[:port]``,
    ``[v6]:port``, or a URL). Loopback registries are plain HTTP, as the engine treats them."""
    text = str(registry).strip().rstrip("/")
    scheme = None
    if "://" in text:
        scheme, _, text = text.partition("://")
    host = text.split("/", 1)[0]
    if host in DOCKER_HUB:
        return "https://registry-1.docker.io"
    if scheme is None:
        scheme = "http" if host.startswith(LOOPBACK) else "https"
    return f"{scheme}://{host}"


def check_timeout(timeout, field="timeout"):
    """A positive number of seconds."""
    value = chain_errors.as_number(timeout, field)
    if value <= 0:
        raise BadInput(f"{field}: must be a positive number of seconds, got {timeout!r}")
    return value


def bearer_token(challenge, username, password, timeout):
    """Token auth: ask the challenge's realm for a token (``None`` when it gives none)."""
    import requests  # pylint: disable=import-outside-toplevel

    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", None)
    if not realm:
        return None
    auth = (username, password) if username and password else None
    try:
        resp = requests.get(realm, params=params, auth=auth, timeout=float(timeout))
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    try:
        body = resp.json() if resp.content else {}
    except ValueError:
        return None
    return body.get("token") or body.get("access_token") if isinstance(body, dict) else None


def request(
    registry,
    path,
    username=None,
    password=None,
    method="GET",
    timeout=DEFAULT_TIMEOUT,
    headers=None,
):
    """One registry API request with Basic auth, following a Bearer challenge once. HTTPS is
    verified against the registry's Docker engine CA (``/etc/docker/certs.d/<host:port>/
    ca.crt``) when there is one, as the engine does, else the system's CAs.
    :class:`~chain_errors.Unreachable` when the registry does not answer or its certificate
    does not verify."""
    import requests  # pylint: disable=import-outside-toplevel

    base = registry_base(registry)
    url = base + path
    headers = dict(headers or {})
    auth = (username, password) if username and password else None
    timeout = float(timeout or DEFAULT_TIMEOUT)
    verify = chain_certs.ca_bundle(base.partition("://")[2])
    try:
        resp = requests.request(
            method, url, auth=auth, timeout=timeout, headers=headers, verify=verify
        )
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("bearer"):
            token = bearer_token(challenge[len("bearer") :].strip(), username, password, timeout)
            if token:
                headers["Authorization"] = f"Bearer {token}"
                resp = requests.request(
                    method, url, timeout=timeout, headers=headers, verify=verify
                )
        return resp
    except requests.exceptions.SSLError as err:
        trusted = verify if isinstance(verify, str) else "the system's CAs"
        raise chain_errors.Unreachable(
            f"registry {registry}: its TLS certificate does not verify against {trusted}"
        ) from err
    except requests.RequestException as err:
        raise chain_errors.Unreachable(
            f"registry {registry} did not answer: {type(err).__name__}"
        ) from err


def gone(registry, timeout=3):
    """Why ``registry`` does not answer at all now (connection refused, no answer within
    ``timeout``), or ``None`` when ``GET /v2/`` gets any HTTP answer (401 included)."""
    try:
        request(registry, "/v2/", timeout=timeout)
    except chain_errors.Unreachable as err:
        return str(err)
    return None


def check(registry, username=None, password=None, timeout=DEFAULT_TIMEOUT):
    """``{"authenticated": bool, "status": http_status}`` of ``GET /v2/`` with credentials."""
    resp = request(registry, "/v2/", username, password, timeout=timeout)
    return {"authenticated": resp.status_code == 200, "status": resp.status_code}


def manifest_digest(name, username=None, password=None, timeout=DEFAULT_TIMEOUT):
    """The manifest digest the registry serves for an image name, or ``None`` when absent."""
    registry, repo, tag = repository_path(name)
    if tag is None:  # repo@sha256:...
        repo, _, tag = repo.partition("@")
    resp = request(
        registry,
        f"/v2/{repo}/manifests/{tag}",
        username,
        password,
        method="HEAD",
        timeout=timeout,
        headers={"Accept": MANIFEST_TYPES},
    )
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        raise chain_errors.BackendError(
            f"registry {registry}: HTTP {resp.status_code} for {repo}:{tag}",
            status=resp.status_code,
        )
    return resp.headers.get("Docker-Content-Digest")


def tags(repository, username=None, password=None, limit=50, timeout=DEFAULT_TIMEOUT, prefer=()):
    """The tags of ``repository`` (``host[:port]/path``) with the manifest digest each one
    serves, from the ``/v2`` API: ``{"tags": {tag: digest}, "truncated": bool, "total": N}``,
    or ``None`` when the registry does not know the repository. At most ``limit`` tags are
    looked up: first those of ``prefer`` that exist (e.g. the deployed ones, newest first),
    then the last ones in the registry's order (which is lexical: it says nothing of age); an
    auth or server error is a :class:`~chain_errors.BackendError`."""
    check_image_name(repository, "repository")
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    registry, repo, _ = repository_path(repository.split("@", 1)[0])
    if registry == "docker.io":
        raise BadInput(f"repository: expected host[:port]/path, got {repository!r}")
    resp = request(registry, f"/v2/{repo}/tags/list", username, password, timeout=timeout)
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        hint = f" (credentials: container:registries:{registry})" if resp.status_code == 401 else ""
        raise chain_errors.BackendError(
            f"registry {registry}: HTTP {resp.status_code} listing the tags of {repo}{hint}",
            status=resp.status_code,
        )
    try:
        names = list((resp.json() or {}).get("tags") or [])
    except ValueError as err:
        raise chain_errors.BackendError(f"registry {registry}: the tag list is not JSON") from err
    wanted = pick_tags(names, limit, prefer)
    found = {
        tag: manifest_digest(f"{registry}/{repo}:{tag}", username, password, timeout)
        for tag in wanted
    }
    return {"tags": found, "truncated": len(names) > len(wanted), "total": len(names)}


def pick_tags(names, limit, prefer=()):
    """At most ``limit`` of ``names``: those of ``prefer`` first (in its order), then the
    last of ``names``."""
    present = set(names)
    wanted = [t for t in dict.fromkeys(prefer) if t in present][:limit]
    rest = [t for t in names if t not in set(wanted)]
    room = limit - len(wanted)
    return wanted + (rest[-room:] if room > 0 else [])
