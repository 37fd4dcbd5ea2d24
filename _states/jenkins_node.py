"""
Jenkins nodes (permanent inbound agents) as Salt states: ``present``, ``absent``, ``enabled``,
``disabled``.

.. versionadded:: 0.1.0

``present`` compares only what the state declares (labels as a set, executors, mode, remote
FS, description, inbound launcher ``web_socket``/``work_dir``) with the node's config.xml, and
reconfigures by editing that config.xml, so everything else — a temporary-offline mark
included — is kept. ``enabled``/``disabled`` act on the administrative mark
(``temporarilyOffline``), not on whether an agent is connected.

.. code-block:: yaml

    agent1:
      jenkins_node.present:
        - num_executors: 2
        - labels: [docker, linux]
        - remote_fs: /home/jenkins/agent
        - web_socket: true
        - profile: ci
"""

import functools

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_state_args, chain_states
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_state_args
    import chain_states


__virtualname__ = "jenkins_node"

FIELDS = ("num_executors", "remote_fs", "labels", "mode", "description", "web_socket", "work_dir")


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins.node_compare")


def _act(ret, what, verb, func, name, **kwargs):
    """Under test say what would be done, else call ``__salt__[func]``; returns ``ret``."""
    action = functools.partial(__salt__[func], name, **kwargs)
    return chain_states.act(ret, __opts__["test"], what, verb, action)


@chain_state_args.checked()
def present(
    name,
    num_executors=None,
    remote_fs=None,
    labels=None,
    mode=None,
    description=None,
    web_socket=None,
    work_dir=None,
    profile=None,
):
    """
    Ensure a permanent inbound agent node exists with the declared settings.

    name
        Node name.
    num_executors, remote_fs, labels, mode, description
        Declared settings; undeclared ones are left as they are (on creation: 1 executor,
        ``/home/jenkins/agent``, no labels, NORMAL).
    web_socket, work_dir
        Inbound launcher options (WebSocket transport, remoting work directory).
    profile
        Jenkins connection profile (name or dict), see the ``jenkins`` execution module.

    .. code-block:: yaml

        build-agent-1:
          jenkins_node.present:
            - num_executors: 4
            - labels:
              - docker
              - linux
            - mode: EXCLUSIVE
            - web_socket: true
    """
    ret = chain_states.new_ret(name)
    declared = {
        k: v
        for k, v in {
            "num_executors": num_executors,
            "remote_fs": remote_fs,
            "labels": labels,
            "mode": mode,
            "description": description,
            "web_socket": web_socket,
            "work_dir": work_dir,
        }.items()
        if v is not None
    }
    try:
        args = {**declared, "profile": profile}
        diff = __salt__["jenkins.node_compare"](name, **args)
        if diff is None:
            ret["changes"] = {"node": {"old": None, "new": name}}
            return _act(ret, f"Node {name}", "created", "jenkins.node_create", name, **args)
        if not diff:
            ret["comment"] = f"Node {name} is as declared"
            return ret
        ret["changes"] = diff
        verb = f"reconfigured ({', '.join(sorted(diff))})"
        _act(ret, f"Node {name}", verb, "jenkins.node_reconfigure", name, **args)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def absent(name, profile=None):
    """
    Ensure a node does not exist.

    .. code-block:: yaml

        old-agent:
          jenkins_node.absent:
            - profile: ci
    """
    ret = chain_states.new_ret(name)
    try:
        if not __salt__["jenkins.node_exists"](name, profile=profile):
            ret["comment"] = f"Node {name} is absent"
            return ret
        ret["changes"] = {"node": {"old": name, "new": None}}
        _act(ret, f"Node {name}", "deleted", "jenkins.node_delete", name, profile=profile)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


def _offline(name, profile):
    data = __salt__["jenkins.node_info"](name, profile=profile)
    if data is None:
        raise CommandExecutionError(f"Node {name} does not exist")
    return bool(data.get("temporarilyOffline")), data.get("offlineCauseReason") or ""


@chain_state_args.checked()
def enabled(name, profile=None):
    """
    Ensure a node is not marked temporarily offline (a disconnected agent stays as it is).

    .. code-block:: yaml

        agent1:
          jenkins_node.enabled:
            - require:
              - jenkins_node: agent1
    """
    ret = chain_states.new_ret(name)
    try:
        temp, reason = _offline(name, profile)
        if not temp:
            ret["comment"] = f"Node {name} is enabled"
            return ret
        ret["changes"] = {"temporarily_offline": {"old": True, "new": False}}
        verb = f"brought back online (was offline: {reason or 'no message'})"
        _act(ret, f"Node {name}", verb, "jenkins.node_enable", name, profile=profile)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret


@chain_state_args.checked()
def disabled(name, message=None, profile=None):
    """
    Ensure a node is marked temporarily offline; with ``message``, with that offline message
    (an already-disabled node's message is re-worded when it differs).

    .. code-block:: yaml

        agent1:
          jenkins_node.disabled:
            - message: disk replacement, back on Monday
    """
    ret = chain_states.new_ret(name)
    try:
        if message is not None and (
            not isinstance(message, (str, int, float)) or isinstance(message, bool)
        ):
            raise SaltInvocationError("message: expected text")
        temp, reason = _offline(name, profile)
        msg = None if message is None else str(message)
        if temp and (msg is None or msg.strip() == reason.strip() or not msg.strip()):
            ret["comment"] = f"Node {name} is disabled"
            return ret
        if not temp:
            ret["changes"] = {"temporarily_offline": {"old": False, "new": True}}
            if msg:
                ret["changes"]["message"] = {"old": reason or None, "new": msg}
            verb = "disabled"
        else:
            ret["changes"] = {"message": {"old": reason or None, "new": msg}}
            verb = "given a new offline message"
        disable = {"message": msg or "", "profile": profile}
        _act(ret, f"Node {name}", verb, "jenkins.node_disable", name, **disable)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
