"""
Secrets that a formula needs on the minion, read from pillar when a state runs, never passed
as arguments: the chain registry's htpasswd file (``formulas/chain/registry.sls``).

.. versionadded:: 0.4.0

:depends: ``htpasswd`` (apache2-utils) on the minion.

A value that a template renders is in the sls that ``state.show_sls`` prints, in the master's
job cache and in the minion's debug log. So the formulas name the pillar entry and these
functions read it themselves: the rendered sls holds only the registry's address.

The registry's user is the client credentials of ``container:registries:<address>``
(``username``, ``password``): the one place of the registry password, read by the ``container``
module for pushes and pulls as well. The htpasswd entry is bcrypt (``htpasswd -B``); the
password goes to ``htpasswd`` on its stdin only. Neither the password nor the hash is ever in a
return, a comment or a log.

The formula runs :py:func:`registry_htpasswd` as a ``module.run`` guarded by
``unless: chain_secrets.registry_htpasswd_current``, so a re-apply changes nothing and the
registry container (``watch_action: restart``) restarts only when its entry changed.
"""

import logging
import re

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_htpasswd
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_htpasswd

log = logging.getLogger(__name__)

__virtualname__ = "chain_secrets"

USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def __virtual__():
    return __virtualname__


def _registry_credentials(address):
    """``(username, password)`` of ``container:registries:<address>`` in pillar, checked.

    ``__pillar__`` itself: the address holds ``:`` (``127.0.0.1:5050``), which ``pillar.get``
    reads as a delimiter, and outside a template ``pillar.get`` answers a module with masked
    values (Salt 3008's ``salt.utils.secret``)."""
    if not address or not isinstance(address, str):
        raise SaltInvocationError("address: the registry's host:port (chain:registry:address)")
    registries = (__pillar__.get("container") or {}).get("registries") or {}
    creds = registries.get(address) if isinstance(registries, dict) else None
    if not isinstance(creds, dict):
        raise SaltInvocationError(
            f"pillar container:registries:{address} must be a mapping of username/password"
        )
    username, password = creds.get("username"), creds.get("password")
    if not isinstance(username, str) or not USER.fullmatch(username):
        raise SaltInvocationError(
            f"pillar container:registries:{address}:username must be letters, digits, '.', '_' "
            "or '-'"
        )
    if not isinstance(password, str) or not password or "\n" in password:
        raise SaltInvocationError(
            f"pillar container:registries:{address}:password must be a non-empty one-line string"
        )
    return username, password


def registry_htpasswd_current(path, address):
    """True when the htpasswd file ``path`` holds exactly one entry, that of the user of pillar
    ``container:registries:<address>``, verifying with its password; the file mode 0600 and its
    directory 0700, both owned by the minion's user.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_secrets.registry_htpasswd_current /srv/auth/htpasswd 127.0.0.1:5050
    """
    username, password = _registry_credentials(address)
    return chain_htpasswd.current(path, {username: password}, 0o600, 0o700)


def registry_htpasswd(path, address):
    """Write the htpasswd file ``path`` of the chain's registry: one bcrypt entry for the user
    of pillar ``container:registries:<address>`` (``username``, ``password``), mode 0600 in a
    0700 directory, replaced atomically (the registry container mounts the directory read-only
    and sees the new file). The password is read from pillar here, never passed as an argument:
    it is in no sls, state return or log.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_secrets.registry_htpasswd /srv/auth/htpasswd 127.0.0.1:5050
    """
    username, password = _registry_credentials(address)
    chain_htpasswd.write(path, {username: password}, 0o600, 0o700)
    log.info("chain_secrets: %s: the bcrypt entry of %s written", path, username)
    return {"result": True, "comment": f"{path}: the bcrypt entry of {username} written"}
