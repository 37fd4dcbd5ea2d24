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

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "container_registry"


def __virtual__():
    if "container.login" not in __salt__:
        return (False, "the container execution module did not load")
    return __virtualname__


def logged_in(name, username=None, password=None, config_path=None, profile=None):
    """
    Ensure the Docker client config holds working credentials for registry ``name``.

    .. code-block:: yaml

        127.0.0.1:5000:
          container_registry.logged_in:
            - username: chain
            - password: {{ pillar['registry_password'] }}
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    try:
        status = __salt__["container.login_status"](name, username=username, password=password,
                                                     config_path=config_path)
        if status["matches"]:
            check = __salt__["container.registry_check"](name, username=username, password=password)
            if check["authenticated"]:
                ret["comment"] = f"Logged in to {name} as {status['username']}"
                return ret
        user = username or ((__salt__["config.get"]("container:registries", {}) or {}).get(name) or {}).get("username")
        if not user or not (password or ((__salt__["config.get"]("container:registries", {}) or {}).get(name) or {}).get("password")):
            raise SaltInvocationError(
                f"registry {name}: no credentials (pass username/password or set container:registries:{name} in pillar)"
            )
        ret["changes"] = {"username": {"old": status["username"], "new": user}}
        if status["username"] == user:
            ret["changes"] = {"credentials": {"old": "stored", "new": "renewed"}}
        if __opts__["test"]:
            ret.update(result=None, comment=f"Would log in to {name} as {user}")
            return ret
        __salt__["container.login"](name, username=username, password=password,
                                    config_path=config_path, profile=profile)
        ret["comment"] = f"Logged in to {name} as {user}"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret


def logged_out(name, config_path=None):
    """
    Ensure the Docker client config holds no credentials for registry ``name``.

    .. code-block:: yaml

        old-registry.example:5000:
          container_registry.logged_out
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    try:
        status = __salt__["container.login_status"](name, config_path=config_path)
        if not status["logged_in"]:
            ret["comment"] = f"Not logged in to {name}"
            return ret
        ret["changes"] = {"username": {"old": status["username"], "new": None}}
        if __opts__["test"]:
            ret.update(result=None, comment=f"Would log out of {name}")
            return ret
        __salt__["container.logout"](name, config_path=config_path)
        ret["comment"] = f"Logged out of {name}"
    except (CommandExecutionError, SaltInvocationError) as err:
        ret.update(result=False, comment=str(err), changes={})
    return ret
