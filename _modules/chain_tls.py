"""
The chain registry's TLS on each minion: the CA's files named by its signing policy, and the
CA certificate installed where the Docker engine verifies the registry
(``<certs.d>/<name>:<port>/ca.crt``).

.. versionadded:: 0.5.0

:depends: Salt's ``x509`` module (``x509_v2``, the default in 3008) and ``cryptography``.

The CA is made by Salt's ``x509`` states on the CA's minion (the build host,
``formulas/chain/ca.sls``); its private key never leaves that minion. Other minions get the
CA's certificate the way ``x509`` documents: ``x509.get_signing_policy`` with ``ca_server``,
which asks the CA's minion through the master's peer interface
(``peer: {<minions>: [x509.sign_remote_certificate]}`` in the master config) and answers the
policy without the key. The certificate is read when the state runs, not when the sls renders,
so one highstate can make the CA and install it.

``formulas/chain/registry_trust.sls`` runs :py:func:`install_registry_ca` as a ``module.run``
guarded by ``unless: chain_tls.registry_ca_current``: a second apply changes nothing, a new CA
certificate (a renewed CA) is written over the old one.
"""

import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_certs
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_certs

log = logging.getLogger(__name__)

__virtualname__ = "chain_tls"


def __virtual__():
    return __virtualname__


def ca_files(signing_policy):
    """The CA's key and certificate paths of signing policy ``signing_policy`` in this
    minion's pillar (``x509_signing_policies``): ``{"key", "cert", "error"}``; ``error`` says
    what is missing (``None`` when both paths are there). The key's content is never read.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_tls.ca_files chain-registry
    """
    # __pillar__ itself: pillar.get answers a module with masked values (salt.utils.secret)
    policies = __pillar__.get("x509_signing_policies") or {}
    try:
        policy = chain_certs.signing_policy(policies, signing_policy)
    except SaltInvocationError as err:
        return {"key": None, "cert": None, "error": str(err)}
    return {"key": policy["signing_private_key"], "cert": policy["signing_cert"], "error": None}


def ca_certificate(signing_policy, ca_server):
    """The PEM certificate of the CA that signs with ``signing_policy`` on minion ``ca_server``
    (through the master's peer interface, as ``x509`` does).

    CLI Example:

    .. code-block:: bash

        salt web1 chain_tls.ca_certificate chain-registry build1
    """
    for field, value in (("signing_policy", signing_policy), ("ca_server", ca_server)):
        if not isinstance(value, str) or not value:
            raise SaltInvocationError(f"{field}: expected a name, got {value!r}")
    try:
        policy = __salt__["x509.get_signing_policy"](signing_policy, ca_server=ca_server)
    except (CommandExecutionError, SaltInvocationError) as err:
        raise CommandExecutionError(
            f"the CA certificate of signing policy {signing_policy} on {ca_server} could not "
            f"be read: {err}"
        ) from err
    pem = (policy or {}).get("signing_cert")
    if not chain_certs.certificates(pem):
        raise CommandExecutionError(
            f"signing policy {signing_policy} on {ca_server} names no CA certificate (signing_cert)"
        )
    return pem


def registry_ca_current(address, signing_policy, ca_server, certs_d=None):
    """True when ``<certs_d>/<address>/ca.crt`` holds the certificate of the CA of
    ``signing_policy`` on ``ca_server``; False when it does not, or the CA cannot be read
    (:py:func:`install_registry_ca` then says why).

    CLI Example:

    .. code-block:: bash

        salt '*' chain_tls.registry_ca_current registry.chain.internal:5050 chain-registry build1
    """
    path = chain_certs.ca_path(address, certs_d)
    current = chain_certs.read_text(path)
    if current is None:
        return False
    try:
        wanted = ca_certificate(signing_policy, ca_server)
    except CommandExecutionError as err:  # install_registry_ca fails with it, in a state
        log.warning("chain_tls: %s", err)
        return False
    return chain_certs.same_certificates(current, wanted)


def install_registry_ca(address, signing_policy, ca_server, certs_d=None):
    """Install the certificate of the CA of ``signing_policy`` on ``ca_server`` as
    ``<certs_d>/<address>/ca.crt`` (``/etc/docker/certs.d`` by default), where the Docker
    engine verifies registry ``address``; mode 0644, replaced atomically.

    CLI Example:

    .. code-block:: bash

        salt '*' chain_tls.install_registry_ca registry.chain.internal:5050 chain-registry build1
    """
    path = chain_certs.ca_path(address, certs_d)
    pem = ca_certificate(signing_policy, ca_server)
    try:
        existed = chain_certs.write_public(path, pem)
    except OSError as err:
        raise CommandExecutionError(f"{path} could not be written: {err.strerror}") from err
    verb = "replaced" if existed else "installed"
    log.info("chain_tls: the CA of %s %s as %s", address, verb, path)
    return {"result": True, "comment": f"the CA of registry {address} {verb} as {path}"}
