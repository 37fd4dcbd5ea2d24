"""
The chain registry's TLS: where each Docker engine finds the CA of a registry, whether a PEM
file already holds a certificate, and the checks of a registry address served with TLS.

Docker verifies a registry at ``host:port`` against ``<certs.d>/<host:port>/ca.crt``
(``/etc/docker/certs.d`` for a root engine); the chain's own HTTP requests to the registry
(digests, login checks) use the same file, so the engine and the chain trust the same CA.

A registry whose name resolves into an ``insecure-registries`` range (by default the engine's
``127.0.0.0/8``) is not verified at all by the engine: a TLS registry is named, and the name
resolves to an address outside loopback (:func:`check_address`).

Pure: nothing here touches Salt's dunders.
"""

import ipaddress
import os
import re

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

BadInput = chain_errors.BadInput

#: Where a root Docker engine reads the CA of each registry (``<dir>/<host:port>/ca.crt``).
CERTS_D = "/etc/docker/certs.d"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)


def split_address(address, field="chain:registry:address"):
    """``("name", port)`` of a registry address ``name:port`` served with TLS: a DNS name (not
    an IP address, not ``localhost``) and a port. :class:`BadInput` otherwise."""
    if not isinstance(address, str) or address.count(":") != 1:
        raise BadInput(f"{field}: expected name:port (a DNS name and a port), got {address!r}")
    host, port = address.split(":")
    port = chain_errors.as_int(port, f"{field} (port)", minimum=1, maximum=65535)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise BadInput(
            f"{field}: {host} is an IP address; a registry with TLS is reached by a name "
            "(its certificate names it, every host resolves it)"
        )
    if not HOSTNAME.fullmatch(host) or host.lower() == "localhost":
        raise BadInput(f"{field}: {host!r} is not a DNS name other than localhost")
    return host, port


def check_ip(ip, field="chain:registry:tls:ip"):
    """The address every host resolves the registry's name to: an IP address outside loopback
    (the engine trusts any certificate in its default insecure range 127.0.0.0/8), or ``""``
    (no ``/etc/hosts`` entry: the network's DNS resolves the name)."""
    if ip in ("", None):
        return ""
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError as exc:
        raise BadInput(f"{field}: expected an IP address, got {ip!r}") from exc
    if addr.is_loopback:
        raise BadInput(
            f"{field}: {ip} is loopback: Docker treats 127.0.0.0/8 as an insecure registry "
            "range and verifies no certificate there; use an address of the host on a network"
        )
    return str(addr)


def ca_path(address, certs_d=CERTS_D):
    """The CA file an engine reads for registry ``address``: ``<certs_d>/<address>/ca.crt``."""
    if not isinstance(address, str) or not address or "/" in address or address in (".", ".."):
        raise BadInput(f"address: expected host:port, got {address!r}")
    return os.path.join(certs_d or CERTS_D, address, "ca.crt")


def ca_bundle(registry, certs_d=CERTS_D):
    """What an HTTP client verifies registry ``registry`` (``host:port``) with: its engine CA
    file when there is one, else ``True`` (the system's CAs)."""
    path = os.path.join(certs_d or CERTS_D, str(registry), "ca.crt")
    return path if "/" not in str(registry) and os.path.isfile(path) else True


def certificates(text):
    """The base64 bodies of the PEM certificates in ``text``, blanks removed, in order."""
    return [re.sub(r"\s", "", body) for body in PEM_CERT.findall(text or "")]


def same_certificates(current, wanted):
    """Whether PEM text ``current`` holds exactly the certificates of ``wanted`` (line breaks
    and surrounding text aside)."""
    want = certificates(wanted)
    return bool(want) and certificates(current) == want


def read_text(path):
    """The text of ``path``, or ``None`` when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_public(path, text, mode=0o644, dir_mode=0o755):
    """Write public ``text`` (a certificate) to ``path`` atomically, ``mode`` in directories of
    ``dir_mode`` made as needed. Whether the file was there before."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    existed = os.path.exists(path)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return existed


def signing_policy(policies, name):
    """The signing policy ``name`` of pillar ``x509_signing_policies`` (x509's list of
    one-key mappings or a mapping) as one mapping, with the CA's ``signing_private_key`` and
    ``signing_cert`` paths checked. :class:`BadInput` naming what is missing."""
    where = f"x509_signing_policies:{name}"
    policy = (policies or {}).get(name) if isinstance(policies, dict) else None
    if isinstance(policy, list):
        merged = {}
        for item in policy:
            if not isinstance(item, dict):
                raise BadInput(f"{where}: expected a list of one-key mappings")
            merged.update(item)
        policy = merged
    if not isinstance(policy, dict) or not policy:
        raise BadInput(
            f"{where}: missing on this minion (the CA's signing policy, docs/certificates.md)"
        )
    for key in ("signing_private_key", "signing_cert"):
        value = policy.get(key)
        if not isinstance(value, str) or not os.path.isabs(value):
            raise BadInput(f"{where}:{key}: expected an absolute path on the CA's minion")
    return policy
