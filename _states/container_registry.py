"""
Registry logins as Salt states.

.. versionadded:: 0.1.0

Credentials come from the state or from pillar ``container:registries:<registry>``; they are
verified by the engine and stored in the Docker client config like ``docker login`` does.
Passwords never appear in ``comment`` or ``changes``.

.. code-block:: yaml

    registry-login:
      container_registry.logged_in:
        - name: 127.0.0.1:5000
"""

import functools

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_registry,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_registry
    import chain_state_args
    import chain_states

__virtualname__ = "container_registry"


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "container.login")


def _check(name, config_path, username=None, password=None):
    chain_registry.check_registry(name, "name")
    chain_registry.config_path(config_path)
    for value, field in ((username, "username"), (password, "password")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise SaltInvocationError(f"{field}: expected a string, got {type(value).__name__}")


@chain_state_args.checked()
def logged_in(name, username=None, password=None, config_path=None, profile=None):
    """
    Ensure the Docker client config holds working credentials for registry ``name``.

    .. code-block:: yaml

        127.0.0.1:5000:
          container_registry.logged_in:
            - username: chain
            - password: {{ pillar['registry_password'] }}
    """
    ret = chain_states.new_ret(name)
    try:
        _check(name, config_path, username, password)
        __salt__["container.connection"](profile)  # the profile is checked before any I/O
        user, _ = chain_registry.credentials(
            name, __salt__["config.get"], username, password, required=True
        )
        status = __salt__["container.login_status"](
            name, username=username, password=password, config_path=config_path
        )
        if status["matches"]:
            check = __salt__["container.registry_check"](name, username=username, password=password)
            if check["authenticated"]:
                ret["comment"] = f"Logged in to {name} as {status['username']}"
                return ret
        ret["changes"] = {"username": {"old": status["username"], "new": user}}
        if status["username"] == user:
            ret["changes"] = {"credentials": {"old": "stored", "new": "renewed"}}
        elif status.get("malformed"):
            ret["changes"] = {"credentials": {"old": "malformed", "new": "renewed"}}
        if __opts__["test"]:
            ret.update(result=None, comment=f"Would log in to {name} as {user}")
            return ret
        __salt__["container.login"](
            name, username=username, password=password, config_path=config_path, profile=profile
        )
        ret["comment"] = f"Logged in to {name} as {user}"
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def logged_out(name, config_path=None):
    """
    Ensure the Docker client config holds no credentials for registry ``name``.

    .. code-block:: yaml

        old-registry.example:5000:
          container_registry.logged_out
    """
    ret = chain_states.new_ret(name)
    try:
        _check(name, config_path)
        status = __salt__["container.login_status"](name, config_path=config_path)
        if not status["logged_in"]:
            ret["comment"] = f"Not logged in to {name}"
            return ret
        ret["changes"] = {"username": {"old": status["username"], "new": None}}
        logout = functools.partial(__salt__["container.logout"], name, config_path=config_path)
        chain_states.act(ret, __opts__["test"], f"Credentials for {name}", "removed", logout)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
