"""
Nodes (permanent inbound agents), the request sequences run on a client the caller passes:
create, reconfigure, offline marks, agent secret, waiting for an agent to connect.

Checked against the Jenkins source of both LTS lines the module supports:

* create is two steps in every release: the form of ``ComputerSet.doDoCreateItem``
  (``name``, ``type`` = the ``NodeDescriptor``, ``json``), then the complete config.xml posted to
  ``computer/NAME/config.xml`` (``Computer.updateByXml``). ``computer/createItem`` with an XML
  body exists only from 2.541.1 (2.479.3 answers 400 "No mode given").
* ``Computer.updateByXml`` loads the XML with ``Jenkins.XSTREAM2`` (malformed XML or an unknown
  class is a 500; only another known Node class is the 400 "Node types do not match") and
  ``Nodes.replaceNode`` swaps the node in. The temporary-offline mark is carried over by
  ``Computer.setNode`` in 2.479.3, but lives on the node (``Node.temporaryOfflineCause``) from
  2.492.1: a reconfigure here always posts the current mark, so it never changes it.
* ``GET computer/NAME/config.xml`` is the node re-serialised by XStream in both.

Nothing here uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import copy
import json
import logging

try:
    from saltext.chain.utils import chain_jenkins_client, chain_jenkins_xml
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_jenkins_client
    import chain_jenkins_xml

log = logging.getLogger(__name__)
_xml = chain_jenkins_xml
JenkinsError = chain_jenkins_client.JenkinsError

NODE_TYPE = "hudson.slaves.DumbSlave$DescriptorImpl"
NODES_TREE = (
    "computer[displayName,offline,temporarilyOffline,offlineCauseReason,numExecutors,"
    "idle,jnlpAgent,assignedLabels[name]]"
)


def summary(data):
    """``{name: {offline, temporarily_offline, offline_reason, executors, idle, inbound,
    labels}}`` from ``computer/api/json``."""
    out = {}
    for comp in (data or {}).get("computer") or []:
        name = comp.get("displayName")
        labels = {lab.get("name") for lab in comp.get("assignedLabels") or []} - {name}
        out[name] = {
            "offline": comp.get("offline"),
            "temporarily_offline": comp.get("temporarilyOffline"),
            "offline_reason": comp.get("offlineCauseReason") or "",
            "executors": comp.get("numExecutors"),
            "idle": comp.get("idle"),
            "inbound": comp.get("jnlpAgent"),
            "labels": sorted(labels),
        }
    return out


def info(client, name):
    """A node's API object, or None when it does not exist (a 401/403 raises)."""
    return client.get_json_or_none(chain_jenkins_client.computer_path(name) + "api/json")


def whoami(client):
    """The authenticated user (``me``), or ``whoAmI`` for an anonymous client (Jenkins refuses
    ``me`` to anonymous)."""
    return client.get_json("me/api/json" if client.user else "whoAmI/api/json")


def groovy(source):
    """Groovy source for the script console, validated (before any request)."""
    if not isinstance(source, str) or not source.strip():
        raise chain_jenkins_xml.BadInput("script must be non-empty Groovy source")
    return source


def script(client, source, node=None):
    """Run Groovy in the script console (``scriptText``) of the controller or of ``node``."""
    path = (chain_jenkins_client.computer_path(node) if node else "") + "scriptText"
    return client.request("POST", path, data={"script": source}).text


def delete(client, name):
    """True when deleted, False when it did not exist (``doDelete``)."""
    try:
        client.request("POST", chain_jenkins_client.computer_path(name) + "doDelete")
    except chain_jenkins_client.JenkinsNotFound:
        return False
    return True


def create_form(name, fields):
    """The ``computer/doCreateItem`` form of a permanent inbound agent (``DumbSlave``)."""
    executors = fields["num_executors"]
    form = {
        "name": name,
        "nodeDescription": fields["description"],
        "numExecutors": executors if isinstance(executors, int) else 1,
        "remoteFS": fields["remote_fs"] or "/home/jenkins/agent",
        "labelString": " ".join(fields["labels"]),
        "mode": fields["mode"] if fields["mode"] in ("NORMAL", "EXCLUSIVE") else "NORMAL",
        "retentionStrategy": {"stapler-class": "hudson.slaves.RetentionStrategy$Always"},
        "nodeProperties": {"stapler-class-bag": "true"},
        "launcher": {"stapler-class": _xml.JNLP_LAUNCHER, "webSocket": bool(fields["web_socket"])},
    }
    return {"name": name, "type": NODE_TYPE, "json": json.dumps(form)}


def create(client, name, root):
    """Create node ``name`` as ``root`` (a ``<slave>`` tree): form, then config.xml; a node
    whose config.xml Jenkins refuses is removed again."""
    path = chain_jenkins_client.computer_path(name)
    client.request("POST", "computer/doCreateItem", data=create_form(name, _xml.node_fields(root)))
    try:
        client.post_xml(path + "config.xml", _xml.to_bytes(root))
    except JenkinsError as err:
        try:
            client.request("POST", path + "doDelete")
        except JenkinsError:
            log.warning("could not remove the half-created node %s", name)
        raise JenkinsError(
            f"node {name}: Jenkins rejected its config.xml: {err}", status=err.status
        ) from err
    return True


def config(client, name):
    """A node's config.xml text, or None when it does not exist."""
    return client.get_text_or_none(chain_jenkins_client.computer_path(name) + "config.xml")


def compare(client, name, spec):
    """The declared fields' changes (``{}``: as declared), None when the node is absent."""
    text = config(client, name)
    if text is None:
        return None
    return _xml.node_changes(_xml.node_fields(_xml.parse(text, "node config.xml")), spec)


def offline_message(message):
    """An offline message validated (None: empty)."""
    if message is not None and (
        not isinstance(message, (str, int, float)) or isinstance(message, bool)
    ):
        raise chain_jenkins_xml.BadInput("message: expected text")
    return "" if message is None else str(message)


def reconfigure(client, name, spec=None, new_root=None):
    """Write the declared ``spec`` into the current config.xml, or replace it by ``new_root``;
    the offline mark is kept. Returns the changes (``{}``: nothing posted)."""
    text = config(client, name)
    if text is None:
        raise chain_jenkins_client.JenkinsNotFound(f"node {name} does not exist", status=404)
    current = _xml.parse(text, "node config.xml")
    if new_root is None:
        changes = _xml.node_changes(_xml.node_fields(current), spec)
        if not changes:
            return {}
        new_root = _xml.apply_node_spec(copy.deepcopy(current), spec)
    else:
        _xml.set_child(new_root, "name", name, {"description", "remoteFS"})
        cmp = _xml.compare(new_root, current, ignore=_xml.NODE_STATE_TAGS)
        if cmp["contained"]:
            return {}
        changes = {"config": {"diff": cmp["diff"]}}
    _xml.keep_node_state(new_root, current)
    path = chain_jenkins_client.computer_path(name) + "config.xml"
    client.post_xml(path, _xml.to_bytes(new_root))
    return changes


def offline_state(client, name):
    """``(temporarily offline, offline cause)`` of a node; an error when it does not exist."""
    data = client.get_json_or_none(chain_jenkins_client.computer_path(name) + "api/json")
    if data is None:
        raise chain_jenkins_client.JenkinsNotFound(f"node {name} does not exist", status=404)
    return bool(data.get("temporarilyOffline")), data.get("offlineCauseReason") or ""


def set_offline(client, name, offline, message=""):
    """Mark a node temporarily offline with ``message`` (re-worded with
    ``changeOfflineCause`` when it already is), or clear the mark. True when it changed."""
    temp, reason = offline_state(client, name)
    if not offline:
        action = "toggleOffline" if temp else None
    elif not temp:
        action = "toggleOffline"
    else:
        action = "changeOfflineCause" if message and message.strip() != reason.strip() else None
    if action is None:
        return False
    path = chain_jenkins_client.computer_path(name) + action
    client.request("POST", path, params={"offlineMessage": message if offline else ""})
    return True


def agent_secret(client, name):
    """The inbound agent secret of a node (``computer/NAME/jenkins-agent.jnlp``)."""
    path = chain_jenkins_client.computer_path(name) + "jenkins-agent.jnlp"
    text = client.get_text_or_none(path)
    if text is None:
        raise JenkinsError(f"node {name} does not exist (or is not an inbound agent)", 404)
    try:
        secret = _xml.agent_secret(text)
    except chain_jenkins_xml.BadInput as err:
        raise JenkinsError(f"node {name}: jenkins-agent.jnlp is not XML") from err
    if not secret:
        raise JenkinsError(f"node {name}: no secret in jenkins-agent.jnlp")
    return secret


def wait_online(client, name, clock):
    """Poll until a node is online (``offline: false``); an error with its state on timeout."""
    path = chain_jenkins_client.computer_path(name) + "api/json"
    while True:
        data = client.get_json_or_none(path)
        if data is None:
            raise chain_jenkins_client.JenkinsNotFound(f"node {name} does not exist", status=404)
        if not data.get("offline"):
            return {"name": name, "online": True, "waited": clock.waited()}
        if clock.expired():
            raise JenkinsError(
                f"node {name} still offline after {clock.timeout:g}s: temporarilyOffline="
                f"{data.get('temporarilyOffline')}, offlineCauseReason="
                f"{data.get('offlineCauseReason')!r}, connecting={data.get('connecting')}, "
                f"inbound={data.get('jnlpAgent')}"
            )
        clock.pause()
