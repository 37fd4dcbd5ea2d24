"""Agents (nodes) and computers: ``/computer/…``.

Follows ``hudson/model/ComputerSet.java`` (``doDoCreateItem``, ``doCreateItem``),
``hudson/model/Computer.java`` (``doToggleOffline``, ``doChangeOfflineCause``, ``doDoDelete``,
``doConfigDotXml``, exported fields), ``hudson/slaves/SlaveComputer.java`` (``jenkins-agent.jnlp``,
``getJnlpMac``) and ``jenkins/slaves/JnlpAgentReceiver.java`` (secret = HMAC-SHA256 of the name).
"""

import hashlib
import hmac
import json
import os
import shutil
import time
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from . import configxml, labels, store
from .api import json_response

BUILTIN_NAMES = ("(built-in)", "(master)", "")
BUILTIN_DISPLAY = "Built-In Node"
BUILTIN_DESCRIPTION = "the Jenkins controller's built-in node"
UNSAFE_NAME_CHARS = "?*/\\%!@#$^&|<>[]:;"


def _iso_control(ch):
    """``Character.isISOControl``: U+0000-U+001F and U+007F-U+009F."""
    return ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F


def check_good_name(name):
    """``Jenkins.checkGoodName`` (``jenkins/model/Jenkins.java``, 2.568.2): an error message or
    None.  The name is checked as given (not trimmed) except for ``.``/``..``/trailing dot."""
    if name is None or name == "":
        return "No name is specified"
    if name.strip() in (".", ".."):
        return f"“{name.strip()}” is not an allowed name"
    for ch in name:
        if _iso_control(ch):
            printable = "".join(f"\\u{ord(c)};" if _iso_control(c) else c for c in name)
            return f"No control code is allowed: {printable}"
        if ch in UNSAFE_NAME_CHARS:
            return f"‘{ch}’ is an unsafe character"
    if name.strip().endswith("."):
        return "A name cannot end with ‘.’"
    return None


class Nodes:
    """Agents persisted as ``HOME/nodes/NAME/config.xml`` plus their runtime computer state."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.home = ctl.home
        self.nodes = {}
        self.offline_causes = {}  # name -> runtime (non temporary) offline cause dict
        self.key = store.secret_key(self.home, "jenkins.slaves.JnlpSlaveAgentProtocol.secret")
        root = os.path.join(self.home, "nodes")
        if os.path.isdir(root):
            for name in sorted(os.listdir(root)):
                path = os.path.join(root, name, "config.xml")
                text = store.read_text(path)
                if text is None:
                    continue
                try:
                    self.nodes[name] = configxml.node_from_xml(configxml.parse(text))
                except configxml.ConfigError:
                    continue

    def secret(self, name):
        return hmac.new(self.key, name.encode("utf-8"), hashlib.sha256).hexdigest()

    def names(self):
        return sorted(self.nodes)

    def get(self, name):
        return self.nodes.get(name)

    def save(self, node):
        self.nodes[node["name"]] = node
        store.atomic_write(
            os.path.join(store.node_dir(self.home, node["name"]), "config.xml"),
            configxml.node_to_xml(node, self.ctl.plugins.versions()) + "\n",
        )

    def delete(self, name):
        self.nodes.pop(name, None)
        self.offline_causes.pop(name, None)
        shutil.rmtree(store.node_dir(self.home, name), ignore_errors=True)

    # ------------------------------------------------------------ scheduling view
    def label_set(self, name):
        """Assigned labels: label atoms plus the node's own name (``Node.getAssignedLabels``)."""
        if name == "":
            return {"built-in", *labels.atoms(self.ctl.builtin_labels)}
        node = self.nodes[name]
        return {name, *labels.atoms(node.get("label"))}

    def is_connected(self, name):
        return name == "" or self.ctl.agents.connected(name)

    def temporarily_offline(self, name):
        if name == "":
            return self.ctl.builtin_offline is not None
        node = self.nodes.get(name)
        return bool(node and node.get("temporaryOfflineCause"))

    def is_offline(self, name):
        return self.temporarily_offline(name) or not self.is_connected(name)

    def num_executors(self, name):
        if name == "":
            return self.ctl.builtin_executors
        return self.nodes[name].get("numExecutors", 1)

    def display_name(self, name):
        return BUILTIN_DISPLAY if name == "" else name


def resolve_computer(ctl, name):
    """URL name -> internal name ('' for the built-in node) or None."""
    if name in BUILTIN_NAMES:
        return ""
    if name in ctl.nodes.nodes:
        return name
    return None


def offline_cause_json(cause):
    if not cause:
        return None
    return cause.get("json")


def temporary_cause_json(cause):
    user = cause.get("userId") or "anonymous"
    msg = cause.get("message")
    return {
        "_class": "hudson.slaves.OfflineCause$UserCause",
        "description": f"Disconnected by {user}" + (f" : {msg}" if msg else ""),
        "timestamp": cause.get("timestamp", 0),
    }


def executors_json(ctl, name, total, depth):
    """``Computer.getExecutors``: details (``currentExecutable`` …) only from depth 1.

    As Stapler shows them.
    """
    if depth < 1:
        return [{"_class": "hudson.model.Executor"} for _ in range(total)]
    running = {b.executor: b for b in ctl.builds.running.values() if b.built_on == name}
    result = []
    for i in range(total):
        build = running.get(i)
        current = None if build is None else build.as_executable(depth - 1)
        result.append(
            {
                "_class": "hudson.model.Executor",
                "currentExecutable": current,
                "idle": build is None,
                "likelyStuck": False,
                "number": i,
                "progress": -1,
            }
        )
    return result


def computer_json(ctl, name, depth=0):
    nodes = ctl.nodes
    connected = nodes.is_connected(name)
    temp = nodes.temporarily_offline(name)
    executors = nodes.num_executors(name)
    busy = ctl.builds.busy_executors(name)
    label_names = sorted(nodes.label_set(name))
    if name == "":
        cause = None
        if ctl.builtin_offline is not None:
            cause = temporary_cause_json(ctl.builtin_offline)
        data = {
            "_class": "hudson.model.Hudson$MasterComputer",
            "actions": [],
            "assignedLabels": [{"name": n} for n in label_names],
            "description": BUILTIN_DESCRIPTION,
            "displayName": BUILTIN_DISPLAY,
            "executors": executors_json(ctl, name, executors, depth),
            "icon": "symbol-computer",
            "iconClassName": "symbol-computer",
            "idle": busy == 0,
            "jnlpAgent": False,
            "launchSupported": True,
            "loadStatistics": {"_class": "hudson.model.Label$1"},
            "manualLaunchAllowed": True,
            "monitorData": {},
            "numExecutors": executors,
            "offline": temp,
            "offlineCause": cause,
            "offlineCauseReason": (ctl.builtin_offline or {}).get("message") or "",
            "oneOffExecutors": [],
            "temporarilyOffline": temp,
        }
        return data
    node = nodes.get(name)
    launcher_class, _, _ = configxml.launcher_info(node)
    jnlp = launcher_class == configxml.JNLP_LAUNCHER
    tcause = node.get("temporaryOfflineCause")
    if tcause:
        cause = temporary_cause_json(tcause)
        reason = tcause.get("message") or ""
    else:
        runtime = nodes.offline_causes.get(name) if not connected else None
        cause = runtime["json"] if runtime else None
        reason = runtime["reason"] if runtime else ""
    offline = temp or not connected
    icon = "symbol-computer-offline" if offline else "symbol-computer"
    return {
        "_class": "hudson.slaves.SlaveComputer",
        "actions": [],
        "assignedLabels": [{"name": n} for n in label_names],
        "description": node.get("description") or "",
        "displayName": name,
        "executors": executors_json(ctl, name, executors, depth),
        "icon": icon,
        "iconClassName": icon,
        "idle": busy == 0,
        "jnlpAgent": jnlp,
        "launchSupported": not jnlp,
        "loadStatistics": {"_class": "hudson.model.Label$1"},
        "manualLaunchAllowed": True,
        "monitorData": {},
        "numExecutors": executors,
        "offline": offline,
        "offlineCause": cause,
        "offlineCauseReason": reason,
        "oneOffExecutors": [],
        "temporarilyOffline": temp,
        "absoluteRemotePath": ctl.agents.remote_path(name) if connected else None,
    }


def computer_set_json(ctl, depth=0):
    names = [""] + [n for n in ctl.nodes.names() if ctl.nodes.num_executors(n) > 0]
    busy = sum(ctl.builds.busy_executors(n) for n in names)
    total = sum(ctl.nodes.num_executors(n) for n in names if not ctl.nodes.is_offline(n))
    return {
        "_class": "hudson.model.ComputerSet",
        "busyExecutors": busy,
        "computer": [computer_json(ctl, n, depth) for n in names],
        "displayName": "Nodes",
        "totalExecutors": total,
    }


# ---------------------------------------------------------------- handlers


async def handle(ctl, request, rest):
    """Dispatch ``/computer/<rest>``."""
    if not rest or rest == [""]:
        if request.method == "GET":
            return ctl.html_page(request, "Nodes")
        return web.Response(status=405)
    head = rest[0]
    if head == "api" and len(rest) >= 2 and rest[1] == "json":
        return json_response(request, lambda depth: computer_set_json(ctl, depth))
    if head == "doCreateItem":
        return await do_create_item_form(ctl, request)
    if head == "createItem":
        return await create_item_xml(ctl, request)
    name = resolve_computer(ctl, head)
    if name is None:
        return ctl.not_found(request)
    sub = [s for s in rest[1:] if s != ""]
    action = sub[0] if sub else ""
    if action == "":
        return ctl.html_page(request, ctl.nodes.display_name(name))
    if action == "api" and len(sub) >= 2 and sub[1] == "json":
        return json_response(request, lambda depth: computer_json(ctl, name, depth))
    if action == "config.xml":
        return await config_xml(ctl, request, name)
    if action == "doDelete":
        # Computer.doDoDelete is @RequirePOST (there is no delete.jelly for computers)
        if request.method != "POST":
            return web.Response(status=405, text="This URL requires POST")
        return do_delete(ctl, request, name)
    if action == "toggleOffline":
        return await toggle_offline(ctl, request, name)
    if action == "changeOfflineCause":
        return await change_offline_cause(ctl, request, name)
    if action in ("jenkins-agent.jnlp", "slave-agent.jnlp") and name != "":
        return jnlp_file(ctl, request, name)
    if action == "scriptText":
        return await ctl.script_text(request, node=name)
    return ctl.not_found(request)


async def do_create_item_form(ctl, request):
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    form = await ctl.form(request)
    # doDoCreateItem: checkName(Util.fixEmptyAndTrim(name))
    raw_name = request.query.get("name") if "name" in request.query else form.get("name")
    name = (raw_name or "").strip()
    if not name:
        return ctl.failure(request, "Query parameter 'name' is required")
    error = check_good_name(name)
    if error:
        return ctl.failure(request, error)
    if name in ctl.nodes.nodes:
        return ctl.failure(request, f"Agent called ‘{name}’ already exists")
    raw = form.get("json")
    if not raw:
        return ctl.nothing_submitted(request)
    try:
        data = json.loads(raw)
    except ValueError:
        return ctl.failure(
            request, "Failed to parse form data. Please report this problem as a bug"
        )
    node_type = form.get("type") or data.get("type") or ""
    if node_type not in ("hudson.slaves.DumbSlave$DescriptorImpl", "hudson.slaves.DumbSlave"):
        # NodeDescriptor.all().find(type) is null -> NullPointerException in doDoCreateItem
        return ctl.error_text(
            request, 500, f"java.lang.NullPointerException: no node type {node_type}"
        )
    try:
        executors = int(data.get("numExecutors", 1))
    except (TypeError, ValueError):
        return ctl.failure(request, "Not a number")
    if executors <= 0:
        return ctl.failure(
            request, f"Invalid agent configuration for {name}. Invalid number of executors."
        )
    remote_fs = data.get("remoteFS") or ""
    if not remote_fs.strip():
        return ctl.failure(request, "Remote directory is mandatory")
    retention = data.get("retentionStrategy") or {}
    retention_cls = (
        retention.get("stapler-class")
        or retention.get("$class")
        or "hudson.slaves.RetentionStrategy$Always"
    )
    node = {
        "name": name,
        "description": data.get("nodeDescription") or data.get("description") or "",
        "remoteFS": remote_fs,
        "numExecutors": executors,
        "mode": data.get("mode") or "NORMAL",
        "retentionStrategy": f'<retentionStrategy class="{escape(retention_cls)}" />',
        "launcher": configxml.ET.tostring(
            configxml.launcher_from_json(data.get("launcher")), encoding="unicode"
        ),
        "label": " ".join(labels.atoms(data.get("labelString") or data.get("label") or "")),
        "nodeProperties": None,
        "temporaryOfflineCause": None,
    }
    ctl.nodes.save(node)
    ctl.wake()
    return ctl.redirect(request, "computer/", status=302)


def _node_class_problem(root):
    """What ``Jenkins.XSTREAM2.fromXML`` + the ``(Node)`` cast would make of a posted root:
    None for a ``DumbSlave``; ``"type"`` for another known ``Node`` class; else the exception."""
    if root.tag in ("slave", "hudson.slaves.DumbSlave"):
        return None
    if root.tag in KNOWN_OTHER_NODE_CLASSES:
        return "type"
    return f"com.thoughtworks.xstream.mapper.CannotResolveClassException: {root.tag}"


def _posted_node(ctl, request, body, wrong_type):
    """A posted node config.xml read as ``Jenkins.XSTREAM2`` reads it: ``(node, None)``, or
    ``(None, the error answer)``: XStream's 500s for malformed XML, an unknown class or a field
    it cannot convert; ``wrong_type(root)`` answers another ``Node`` class (the caller's
    words: createItem casts, updateByXml compares types)."""
    try:
        root = configxml.parse(body)
    except configxml.ConfigError as exc:
        return None, ctl.error_text(
            request, 500, f"com.thoughtworks.xstream.io.StreamException: {exc}"
        )
    problem = _node_class_problem(root)
    if problem == "type":
        return None, wrong_type(root)
    if problem:
        return None, ctl.error_text(request, 500, problem)
    try:
        return configxml.node_from_xml(root), None
    except configxml.ConfigError as exc:
        return None, ctl.error_text(
            request, 500, f"com.thoughtworks.xstream.converters.ConversionException: {exc}"
        )


# Node classes of core that XStream knows besides DumbSlave (``hudson`` is the alias of
# ``hudson.model.Hudson``, the built-in node's Node)
KNOWN_OTHER_NODE_CLASSES = ("hudson", "hudson.model.Hudson", "jenkins.model.Jenkins")


async def create_item_xml(ctl, request):
    """``POST computer/createItem``: ``hudson/model/ComputerSet.java`` ``doCreateItem``
    (Jenkins 2.568.2; the XML branch exists from 2.541, 2.479.3 answers 400 "No mode given")."""
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    name = request.query.get("name")
    mode = request.query.get("mode")
    frm = request.query.get("from")
    if name is None or mode is None or frm is None:
        form = await ctl.form(request)
        name = name if name is not None else form.get("name")
        mode = mode if mode is not None else form.get("mode")
        frm = frm if frm is not None else form.get("from")
    if mode == "copy":
        # checkName, then XStream round trip of the source, then redirect to NAME/configure
        if name is None:
            return ctl.failure(request, "Query parameter 'name' is required")
        name = name.strip()
        error = check_good_name(name)
        if error:
            return ctl.failure(request, error)
        if name in ctl.nodes.nodes:
            return ctl.failure(request, f"Agent called ‘{name}’ already exists")
        source = ctl.nodes.get(frm) if frm else None
        if source is None:
            if not (frm or "").strip():
                return ctl.failure(request, "Specify which agent to copy")
            return ctl.failure(request, f"No such agent: {frm}")
        node = dict(source, name=name)
        ctl.nodes.save(node)
        ctl.wake()
        return ctl.redirect(request, f"computer/{quote(name, safe='')}/configure", status=302)
    ctype = request.headers.get("Content-Type")
    if ctype is not None and (ctype.startswith("application/xml") or ctype.startswith("text/xml")):
        node, error = _posted_node(
            ctl,
            request,
            await request.read(),
            lambda root: ctl.error_text(
                request, 500, f"java.lang.ClassCastException: {root.tag} is not a Node"
            ),
        )
        if error is not None:
            return error
        fixed = (name or "").strip()
        if fixed:
            node["name"] = fixed
        if ctl.nodes.get(node["name"]) is not None:
            return ctl.failure(request, f"Node '{node['name']}' already exists")
        # Jenkins.addNode -> Nodes.addNode: checkGoodName (enforceNameRestrictions, default true)
        error = check_good_name(node["name"])
        if error:
            return ctl.failure(request, error)
        ctl.nodes.save(node)
        ctl.wake()
        return web.Response(status=200)
    if mode is None:
        return ctl.failure(request, "No mode given")
    if mode not in ("hudson.slaves.DumbSlave", "hudson.slaves.DumbSlave$DescriptorImpl"):
        return ctl.failure(request, f"No node type ‘{mode}’ is known")
    # NodeDescriptor.handleNewNodePage: checkName, then the configure form of a new agent
    if name is None:
        return ctl.failure(request, "Query parameter 'name' is required")
    error = check_good_name(name.strip())
    if error:
        return ctl.failure(request, error)
    if name.strip() in ctl.nodes.nodes:
        return ctl.failure(request, f"Agent called ‘{name.strip()}’ already exists")
    return ctl.html_page(request, "New node")


async def config_xml(ctl, request, name):
    """``Computer.doConfigDotXml``/``updateByXml`` (Jenkins 2.568.2).

    POST: ``Jenkins.XSTREAM2.fromXML`` (malformed XML or an unknown class -> 500), a known Node
    class other than the current one -> 400 "Node types do not match", then
    ``Nodes.replaceNode(previous, result)``.  Since 2.482 the temporary offline cause is a field
    of the Node and ``replaceNode`` does not carry it over, so a posted XML without
    ``<temporaryOfflineCause>`` brings the node back online (2.479.3 kept it: the cause lived on
    the Computer, re-applied by ``Computer.setNode``)."""
    if name == "":
        # Jenkins.MasterComputer.doConfigDotXml: HttpResponses.status(SC_BAD_REQUEST)
        return web.Response(status=400)
    if request.method == "GET":
        text = configxml.node_to_xml(ctl.nodes.get(name), ctl.plugins.versions())
        return web.Response(text=text, content_type="application/xml", charset="utf-8")
    if request.method != "POST":
        return web.Response(status=400)
    node, error = _posted_node(
        ctl,
        request,
        await request.read(),
        lambda root: ctl.error_text(request, 400, "Node types do not match"),
    )
    if error is not None:
        return error
    node["name"] = node["name"] or name
    error = check_good_name(node["name"])  # Nodes.replaceNode: checkGoodName
    if error:
        return ctl.failure(request, error)
    old_launcher = configxml.launcher_info(ctl.nodes.get(name))[0]
    if node["name"] != name:
        # replaceNode puts the new name (replacing a node of that name, if any) and deletes the
        # old node's directory
        ctl.agents.disconnect(name)
        ctl.nodes.delete(name)
        if node["name"] in ctl.nodes.nodes:
            ctl.agents.disconnect(node["name"])
    ctl.nodes.save(node)
    if configxml.launcher_info(node)[0] != old_launcher:
        ctl.agents.disconnect(node["name"])
    ctl.wake()
    return web.Response(status=200)


def do_delete(ctl, request, name):
    if name == "":
        # Jenkins.MasterComputer.doDoDelete: HttpResponses.status(SC_BAD_REQUEST)
        return web.Response(status=400)
    ctl.agents.disconnect(name)
    ctl.nodes.delete(name)
    ctl.wake()
    return ctl.redirect(request, "computer/", status=302)


def _set_cause(ctl, name, message, user):
    cause = {"timestamp": int(time.time() * 1000), "userId": user, "message": message}
    if name == "":
        ctl.builtin_offline = cause
        return
    node = ctl.nodes.get(name)
    node["temporaryOfflineCause"] = cause
    ctl.nodes.save(node)


async def toggle_offline(ctl, request, name):
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    if ctl.nodes.temporarily_offline(name):
        if name == "":
            ctl.builtin_offline = None
        else:
            node = ctl.nodes.get(name)
            node["temporaryOfflineCause"] = None
            ctl.nodes.save(node)
        ctl.wake()
        return ctl.redirect(request, ctl.computer_url(name), status=302)
    return await change_offline_cause(ctl, request, name)


async def change_offline_cause(ctl, request, name):
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    form = await ctl.form(request)
    message = (
        request.query.get("offlineMessage") or form.get("offlineMessage") or ""
    ).strip() or None
    _set_cause(ctl, name, message, request["user"])
    ctl.wake()
    return ctl.redirect(request, ctl.computer_url(name), status=302)


def jnlp_file(ctl, request, name):
    node = ctl.nodes.get(name)
    launcher_class, websocket, launcher = configxml.launcher_info(node)
    args = [ctl.nodes.secret(name), name]
    if websocket:
        args.append("-webSocket")
    tunnel = launcher.findtext("tunnel")
    if tunnel:
        args += ["-tunnel", tunnel]
    wds = launcher.find("workDirSettings")
    if wds is not None and (wds.findtext("disabled") or "false") != "true":
        args += ["-workDir", wds.findtext("workDirPath") or node.get("remoteFS") or ""]
        args += ["-internalDir", wds.findtext("internalDir") or "remoting"]
        if (wds.findtext("failIfWorkDirIsMissing") or "false") == "true":
            args.append("-failIfWorkDirIsMissing")
    args += ["-url", ctl.agent_url(request)]
    body = (
        "<jnlp><application-desc>"
        + "".join(f"<argument>{escape(a)}</argument>" for a in args)
        + "</application-desc></jnlp>"
    )
    return web.Response(text=body, content_type="application/x-java-jnlp-file", charset="utf-8")
