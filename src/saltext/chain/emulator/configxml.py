"""config.xml parsing and re-serialisation the way Jenkins' XStream writes it.

* ``GET …/config.xml`` is written by ``XStream2.toXMLUTF8`` (``hudson/util/XStream2.java``): the
  header is ``<?xml version="1.1" encoding="UTF-8"?>``, two-space indentation, ``'`` and ``"``
  escaped in text, empty collections as ``<x/>``, empty strings as ``<x></x>``.
* Elements whose class comes from a plugin get ``plugin="name@version"`` (XStream2's
  ``PluginClassOwnership``); core classes (``hudson.tasks.Shell`` …) get none.
* A freestyle ``<project>`` is rewritten in the field order of
  ``hudson/model/{AbstractItem,Job,AbstractProject,Project}.java`` with the fields XStream always
  writes filled in.  Jenkins deserialises without running constructors, so a missing
  ``<canRoam>`` reads back as ``false`` (and, with no ``<assignedNode>``, ties the job to the
  built-in node — ``AbstractProject.getAssignedLabel``); the emulator reproduces that.
* An agent ``<slave>`` is written in the field order of ``hudson/model/{Node,Slave}.java``.
"""

import copy
import re
import xml.etree.ElementTree as ET

XML_DECLARATION = '<?xml version="1.1" encoding="UTF-8"?>'


class ConfigError(ValueError):
    """The posted XML cannot be used (maps to a 400/500 like Jenkins)."""


# Fields whose value is a string: an empty one is written ``<x></x>``, not ``<x/>``.
STRING_FIELDS = {
    "description",
    "displayName",
    "label",
    "remoteFS",
    "command",
    "assignedNode",
    "defaultValue",
    "artifacts",
    "excludes",
    "name",
    "value",
    "url",
    "userId",
    "customWorkspace",
    "jdk",
    "message",
    "labelString",
    "internalDir",
    "tunnel",
    "credentialsId",
    "spec",
    "script",
    "targets",
    "configuredLocalRootPath",
    "agentCommand",
    "host",
    "javaPath",
    "jvmOptions",
    "prefixStartSlaveCmd",
    "suffixStartSlaveCmd",
    "string",
    "authToken",
    "trim",
    "choices",
}

# class-name prefix -> plugin short name (XStream2 PluginClassOwnership looks the class up in the
# plugin that defines it; these are the well-known homes of common job/node classes).
PLUGIN_PREFIXES = [
    ("hudson.plugins.git.", "git"),
    ("jenkins.plugins.git.", "git"),
    ("org.jenkinsci.plugins.gitclient.", "git-client"),
    ("hudson.plugins.parameterizedtrigger.", "parameterized-trigger"),
    ("com.cloudbees.hudson.plugins.folder.", "cloudbees-folder"),
    ("org.jenkinsci.plugins.workflow.job.", "workflow-job"),
    ("org.jenkinsci.plugins.workflow.cps.", "workflow-cps"),
    ("hudson.plugins.ws_cleanup.", "ws-cleanup"),
    ("hudson.plugins.timestamper.", "timestamper"),
    ("hudson.plugins.build_timeout.", "build-timeout"),
    ("org.jenkinsci.plugins.credentialsbinding.", "credentials-binding"),
    ("com.cloudbees.plugins.credentials.", "credentials"),
    ("hudson.tasks.junit.", "junit"),
    ("hudson.plugins.copyartifact.", "copyartifact"),
    ("hudson.plugins.ansicolor.", "ansicolor"),
    ("org.jenkinsci.plugins.envinject.", "envinject"),
    ("hudson.plugins.emailext.", "email-ext"),
    ("hudson.tasks.Mailer", "mailer"),
    ("hudson.plugins.sshslaves.", "ssh-slaves"),
    ("hudson.slaves.CommandLauncher", "command-launcher"),
    ("com.cloudbees.jenkins.GitHubPushTrigger", "github"),
    ("com.coravy.hudson.plugins.github.", "github"),
    ("org.jenkinsci.plugins.docker.workflow.", "docker-workflow"),
    ("com.nirima.jenkins.plugins.docker.", "docker-plugin"),
    ("io.jenkins.docker.", "docker-plugin"),
    ("hudson.plugins.gradle.", "gradle"),
    ("hudson.tasks.Ant", "ant"),
    ("hudson.plugins.throttleconcurrents.", "throttle-concurrents"),
    ("hudson.matrix.", "matrix-project"),
    ("hudson.security.AuthorizationMatrixProperty", "matrix-auth"),
    ("org.jenkinsci.plugins.matrixauth.", "matrix-auth"),
    ("org.jenkinsci.plugins.scriptsecurity.", "script-security"),
    ("jenkins.branch.", "branch-api"),
    ("hudson.plugins.promoted_builds.", "promoted-builds"),
]
ROOT_ALIASES = {
    "flow-definition": "workflow-job",
    "matrix-project": "matrix-project",
    "maven2-moduleset": "maven-plugin",
}
_GENERIC_PLUGIN = re.compile(
    r"^(?:hudson\.plugins|jenkins\.plugins|org\.jenkinsci\.plugins|io\.jenkins\.plugins)\.([A-Za-z0-9_]+)\."
)

FREESTYLE_ORDER = [
    # (tag, default) ; default None = optional (written only when present)
    ("actions", None),
    ("description", None),
    ("displayName", None),
    ("keepDependencies", "false"),
    ("properties", ""),
    ("scm", "NullSCM"),
    ("quietPeriod", None),
    ("scmCheckoutRetryCount", None),
    ("assignedNode", None),
    ("canRoam", "false"),
    ("disabled", "false"),
    ("blockBuildWhenDownstreamBuilding", "false"),
    ("blockBuildWhenUpstreamBuilding", "false"),
    ("jdk", None),
    ("authToken", None),
    ("triggers", ""),
    ("concurrentBuild", "false"),
    ("customWorkspace", None),
    ("builders", ""),
    ("publishers", ""),
    ("buildWrappers", ""),
]

FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"


def parse(data):
    """Parse posted XML (bytes or str); the XML 1.1 declaration Jenkins emits is accepted."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = data.strip()
    if not data:
        raise ConfigError("Empty XML document")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        # expat only knows XML 1.0; retry without a version="1.1" declaration.
        stripped = re.sub(rb"^<\?xml[^>]*\?>", b"", data)
        try:
            return ET.fromstring(stripped)
        except ET.ParseError:
            raise ConfigError(f"Failed to parse XML: {exc}") from exc


_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#xd;"}


def _escape(text, attr=False):
    out = []
    for ch in text:
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch in "\t\n":
            out.append(ch if not attr else f"&#x{ord(ch):x};")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"&#x{ord(ch):x};")
        else:
            out.append(ch)
    return "".join(out)


def _write(elem, lines, indent):
    pad = "  " * indent
    attrs = "".join(f' {k}="{_escape(v, attr=True)}"' for k, v in elem.attrib.items())
    children = list(elem)
    text = elem.text if elem.text is not None else ""
    if children:
        lines.append(f"{pad}<{elem.tag}{attrs}>")
        for child in children:
            _write(child, lines, indent + 1)
        lines.append(f"{pad}</{elem.tag}>")
    elif text.strip() or (text and elem.tag in STRING_FIELDS):
        lines.append(f"{pad}<{elem.tag}{attrs}>{_escape(text)}</{elem.tag}>")
    elif elem.tag in STRING_FIELDS and not elem.attrib:
        lines.append(f"{pad}<{elem.tag}{attrs}></{elem.tag}>")
    else:
        lines.append(f"{pad}<{elem.tag}{attrs}/>")


def serialize(root):
    """XStream-style text with the ``version="1.1"`` declaration (no trailing newline)."""
    lines = [XML_DECLARATION]
    _write(root, lines, 0)
    return "\n".join(lines)


def _class_of(elem):
    cls = elem.get("class") or elem.tag
    return cls.replace("_-", "$").replace("__", "_")


def plugin_of(elem, plugins, is_root=False):
    """The installed plugin owning ``elem``'s class, or None for core / unknown classes."""
    if is_root and elem.tag in ROOT_ALIASES:
        name = ROOT_ALIASES[elem.tag]
        return name if name in plugins else None
    cls = _class_of(elem)
    if "." not in cls:
        return None
    for prefix, name in PLUGIN_PREFIXES:
        if cls == prefix.rstrip(".") or cls.startswith(prefix):
            return name if name in plugins else None
    match = _GENERIC_PLUGIN.match(cls)
    if match:
        for candidate in (match.group(1), match.group(1).replace("_", "-")):
            if candidate in plugins:
                return candidate
    return None


def apply_plugin_attrs(root, plugins):
    """Set ``plugin="name@version"`` where XStream2 would, drop stale ones for core classes."""

    def visit(elem, owner, is_root):
        name = plugin_of(elem, plugins, is_root=is_root)
        attrib = {k: v for k, v in elem.attrib.items() if k != "plugin"}
        stale = elem.get("plugin")
        if name and name != owner:
            attrib["plugin"] = f"{name}@{plugins[name]}"
            owner = name
        elif stale and not name and stale.split("@")[0] not in plugins and "." in _class_of(elem):
            # class from a plugin we do not know about: keep what was posted
            attrib["plugin"] = stale
        elem.attrib.clear()
        elem.attrib.update(attrib)
        for child in elem:
            visit(child, owner, False)

    visit(root, None, True)
    return root


def _text(elem, tag, default=None):
    child = elem.find(tag)
    if child is None:
        return default
    return child.text if child.text is not None else ""


def _bool(value, default=False):
    if value is None:
        return default
    return value.strip().lower() == "true"


def normalize_project(root):
    """Freestyle ``<project>``: Jenkins field order, defaults filled in, unknown fields last."""
    by_tag = {}
    for child in root:
        by_tag.setdefault(child.tag, child)
    known = {tag for tag, _ in FREESTYLE_ORDER}
    new = ET.Element(root.tag, dict(root.attrib))
    for tag, default in FREESTYLE_ORDER:
        child = by_tag.get(tag)
        if child is None:
            if default is None:
                continue
            child = ET.Element(tag)
            if tag == "scm":
                child.set("class", "hudson.scm.NullSCM")
            elif default:
                child.text = default
        elif tag == "scm" and child.get("class") in (None, "", "jenkins.scm.NullSCM", "NullSCM"):
            child.set("class", "hudson.scm.NullSCM")
        elif tag in ("properties", "triggers", "builders", "publishers", "buildWrappers"):
            child.attrib.pop("class", None)
        elif tag in (
            "keepDependencies",
            "canRoam",
            "disabled",
            "concurrentBuild",
            "blockBuildWhenDownstreamBuilding",
            "blockBuildWhenUpstreamBuilding",
        ):
            child.text = "true" if _bool(child.text) else "false"
        new.append(child)
    for child in root:
        if child.tag not in known:
            new.append(child)
    publishers = new.find("publishers")
    if publishers is not None:
        for step in publishers:
            if step.tag == "hudson.tasks.ArtifactArchiver":
                normalize_archiver(step)
    builders = new.find("builders")
    if builders is not None:
        for step in builders:
            if step.tag in ("hudson.tasks.Shell", "hudson.tasks.BatchFile"):
                normalize_command_interpreter(step)
    return new


ARCHIVER_FIELDS = [  # hudson/tasks/ArtifactArchiver.java (2.568.2), declaration order
    ("artifacts", None),
    ("excludes", None),
    ("latestOnly", None),
    ("allowEmptyArchive", "false"),
    ("onlyIfSuccessful", "false"),
    ("fingerprint", "false"),
    ("defaultExcludes", "true"),
    ("caseSensitive", "true"),
    ("followSymlinks", "true"),
]


def normalize_archiver(step):
    """``ArtifactArchiver``: XStream writes its fields in declaration order, nulls left out;
    ``readResolve`` fills ``allowEmptyArchive`` (false unless the ``warnOnEmpty`` property),
    ``defaultExcludes``, ``caseSensitive``, ``followSymlinks`` (true) when absent; primitive
    ``onlyIfSuccessful``/``fingerprint`` are always written."""
    by_tag = {child.tag: child for child in step}
    known = {tag for tag, _ in ARCHIVER_FIELDS}
    rest = [child for child in step if child.tag not in known]
    for child in list(step):
        step.remove(child)
    for tag, default in ARCHIVER_FIELDS:
        child = by_tag.get(tag)
        if child is None:
            if default is None:
                continue
            child = ET.Element(tag)
            child.text = default
        elif default is not None:
            child.text = "true" if _bool(child.text) else "false"
        step.append(child)
    for child in rest:
        step.append(child)


def normalize_command_interpreter(step):
    """``hudson/tasks/Shell.java``/``BatchFile.java`` ``readResolve`` (2.568.2) rebuilds the step
    with ``configuredLocalRules`` set to an empty list when absent, so XStream writes the fields
    of ``CommandInterpreter`` (``command``, ``configuredLocalRules``) then the step's own
    (``unstableReturn``, omitted while null)."""
    by_tag = {child.tag: child for child in step}
    order = ["command", "configuredLocalRules", "unstableReturn"]
    if "configuredLocalRules" not in by_tag:
        by_tag["configuredLocalRules"] = ET.Element("configuredLocalRules")
    if "command" not in by_tag:
        by_tag["command"] = ET.Element("command")
    rest = [child for child in step if child.tag not in order]
    for child in list(step):
        step.remove(child)
    for tag in order:
        if tag in by_tag:
            step.append(by_tag[tag])
    for child in rest:
        step.append(child)


def normalize_job(root, plugins):
    """Return the element Jenkins would hold in memory for a posted job config."""
    root = copy.deepcopy(root)
    _strip_whitespace(root)
    if root.tag == "project":
        root = normalize_project(root)
    elif root.tag == FOLDER_CLASS:
        for tag in ("properties", "folderViews", "healthMetrics"):
            if root.find(tag) is None:
                root.append(ET.Element(tag))
    return apply_plugin_attrs(root, plugins)


def _strip_whitespace(elem):
    for child in elem:
        child.tail = None
        _strip_whitespace(child)
    if len(elem) and elem.text is not None and not elem.text.strip():
        elem.text = None


def job_kind(root):
    if root.tag == "project":
        return "freestyle"
    if root.tag == FOLDER_CLASS:
        return "folder"
    return "other"


JOB_CLASSES = {
    "project": "hudson.model.FreeStyleProject",
    FOLDER_CLASS: FOLDER_CLASS,
    "flow-definition": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
    "matrix-project": "hudson.matrix.MatrixProject",
    "maven2-moduleset": "hudson.maven.MavenModuleSet",
}


# XStream aliases/classes of items and the plugin that must be installed for XStream to know them
ITEM_ROOTS = {
    "project": None,
    "hudson.model.FreeStyleProject": None,
    FOLDER_CLASS: "cloudbees-folder",
    "flow-definition": "workflow-job",
    "org.jenkinsci.plugins.workflow.job.WorkflowJob": "workflow-job",
    "matrix-project": "matrix-project",
    "hudson.matrix.MatrixProject": "matrix-project",
    "maven2-moduleset": "maven-plugin",
    "hudson.maven.MavenModuleSet": "maven-plugin",
}
CANONICAL_ROOT = {
    "hudson.model.FreeStyleProject": "project",
    "org.jenkinsci.plugins.workflow.job.WorkflowJob": "flow-definition",
    "hudson.matrix.MatrixProject": "matrix-project",
    "hudson.maven.MavenModuleSet": "maven2-moduleset",
}


def unknown_item_class(root, plugins):
    """What ``Items.load``/``Items.XSTREAM2`` would throw for this root element, or None.

    XStream resolves the root element to a class (an alias such as ``project`` or a class name);
    a class that no installed plugin provides is a ``CannotResolveClassException``."""
    if root.tag in ITEM_ROOTS:
        plugin = ITEM_ROOTS[root.tag]
        if plugin is None or plugin in plugins:
            if root.tag in CANONICAL_ROOT:
                root.tag = CANONICAL_ROOT[root.tag]
            return None
    return f"com.thoughtworks.xstream.mapper.CannotResolveClassException: {root.tag}"


def job_class(root):
    return JOB_CLASSES.get(root.tag, _class_of(root))


def set_flag(root, tag, value):
    child = root.find(tag)
    if child is None:
        child = ET.SubElement(root, tag)
    child.text = "true" if value else "false"


def parameter_definitions(root):
    """``[{type, name, description, default, choices}]`` from ParametersDefinitionProperty."""
    result = []
    for prop in root.iterfind("properties/hudson.model.ParametersDefinitionProperty"):
        defs = prop.find("parameterDefinitions")
        if defs is None:
            continue
        for pdef in defs:
            cls = _class_of(pdef)
            short = cls.rsplit(".", 1)[-1]
            entry = {
                "class": cls,
                "type": short,
                "name": _text(pdef, "name", ""),
                "description": _text(pdef, "description"),
                "default": _text(pdef, "defaultValue"),
                "choices": None,
            }
            if short == "BooleanParameterDefinition":
                entry["default"] = "true" if _bool(entry["default"]) else "false"
            if short == "ChoiceParameterDefinition":
                choices_el = pdef.find("choices")
                choices = []
                if choices_el is not None:
                    strings = choices_el.findall(".//string")
                    if strings:
                        choices = [s.text or "" for s in strings]
                    elif choices_el.text:
                        choices = choices_el.text.splitlines()
                entry["choices"] = choices
                entry["default"] = choices[0] if choices else ""
            if entry["default"] is None:
                entry["default"] = ""
            result.append(entry)
    return result


def build_steps(root):
    """Builders and publishers as the JSON the agent executes."""
    steps = []
    builders = root.find("builders")
    for builder in builders if builders is not None else []:
        cls = _class_of(builder)
        if cls == "hudson.tasks.Shell":
            step = {"type": "shell", "command": _text(builder, "command", "") or ""}
            unstable = _text(builder, "unstableReturn")
            if unstable and unstable.strip().lstrip("-").isdigit():
                step["unstableReturn"] = int(unstable)
            steps.append(step)
        else:
            steps.append({"type": "unsupported", "class": cls})
    publishers = root.find("publishers")
    archivers = []
    for publisher in publishers if publishers is not None else []:
        if _class_of(publisher) == "hudson.tasks.ArtifactArchiver":
            archivers.append(
                {
                    "artifacts": _text(publisher, "artifacts", "") or "",
                    "excludes": _text(publisher, "excludes", "") or "",
                    "allowEmptyArchive": _bool(_text(publisher, "allowEmptyArchive")),
                    "onlyIfSuccessful": _bool(_text(publisher, "onlyIfSuccessful")),
                    "defaultExcludes": _bool(_text(publisher, "defaultExcludes"), True),
                }
            )
    return steps, archivers


def job_label(root):
    """``(expression_or_None, ties_to_builtin)`` following ``AbstractProject.getAssignedLabel``."""
    if root.tag != "project":
        return None, False
    if _bool(_text(root, "canRoam")):
        return None, False
    assigned = _text(root, "assignedNode")
    if assigned is None or not assigned.strip():
        return None, True
    return assigned.strip(), False


# ---------------------------------------------------------------- nodes (agents)

NODE_ORDER = [
    "name",
    "description",
    "remoteFS",
    "numExecutors",
    "mode",
    "retentionStrategy",
    "launcher",
    "label",
    "nodeProperties",
]

JNLP_LAUNCHER = "hudson.slaves.JNLPLauncher"


def default_launcher(websocket=False):
    launcher = ET.Element("launcher", {"class": JNLP_LAUNCHER})
    launcher.append(_workdir_settings({}))
    ET.SubElement(launcher, "webSocket").text = "true" if websocket else "false"
    return launcher


def _workdir_settings(values):
    wds = ET.Element("workDirSettings")
    ET.SubElement(wds, "disabled").text = "true" if _truthy(values.get("disabled")) else "false"
    if values.get("workDirPath"):
        ET.SubElement(wds, "workDirPath").text = str(values["workDirPath"])
    ET.SubElement(wds, "internalDir").text = str(values.get("internalDir") or "remoting")
    ET.SubElement(wds, "failIfWorkDirIsMissing").text = (
        "true" if _truthy(values.get("failIfWorkDirIsMissing")) else "false"
    )
    return wds


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "on", "1", "yes")
    return bool(value)


def launcher_from_json(data):
    """Build ``<launcher>`` from the structured-form JSON python-jenkins posts."""
    data = dict(data or {})
    cls = data.pop("stapler-class", None) or data.pop("$class", None) or JNLP_LAUNCHER
    data.pop("kind", None)
    launcher = ET.Element("launcher", {"class": cls})
    if cls == JNLP_LAUNCHER:
        wds = data.get("workDirSettings")
        launcher.append(_workdir_settings(wds if isinstance(wds, dict) else {}))
        ET.SubElement(launcher, "webSocket").text = (
            "true" if _truthy(data.get("webSocket")) else "false"
        )
        if data.get("tunnel"):
            ET.SubElement(launcher, "tunnel").text = str(data["tunnel"])
        return launcher
    for key, value in data.items():
        child = ET.SubElement(launcher, key)
        if isinstance(value, dict):
            for k2, v2 in value.items():
                ET.SubElement(child, k2).text = _scalar(v2)
        else:
            child.text = _scalar(value)
    return launcher


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def normalize_launcher(launcher):
    if launcher is None:
        return default_launcher()
    launcher = copy.deepcopy(launcher)
    if launcher.get("class") == JNLP_LAUNCHER:
        wds_el = launcher.find("workDirSettings")
        values = {}
        if wds_el is not None:
            values = {c.tag: (c.text or "") for c in wds_el}
        new = ET.Element("launcher", dict(launcher.attrib))
        new.append(_workdir_settings(values))
        ET.SubElement(new, "webSocket").text = (
            "true" if _bool(_text(launcher, "webSocket")) else "false"
        )
        tunnel = _text(launcher, "tunnel")
        if tunnel:
            ET.SubElement(new, "tunnel").text = tunnel
        return new
    return launcher


def node_from_xml(root):
    """Read a posted ``<slave>`` into the emulator's node dict."""
    if root.tag not in ("slave", "hudson.slaves.DumbSlave"):
        raise ConfigError(f"Expecting class hudson.slaves.DumbSlave but got {root.tag}")
    _strip_whitespace(root)
    try:
        executors = int((_text(root, "numExecutors", "1") or "1").strip())
    except ValueError as exc:
        raise ConfigError("Invalid number of executors") from exc
    cause_el = root.find("temporaryOfflineCause")
    cause = None
    if cause_el is not None:
        args = [s.text or "" for s in cause_el.findall("description/args/string")]
        cause = {
            "timestamp": int(_text(cause_el, "timestamp", "0") or 0),
            "userId": args[0] if args else None,
            "message": _text(cause_el, "message"),
        }
    retention = root.find("retentionStrategy")
    props = root.find("nodeProperties")
    return {
        "name": (_text(root, "name", "") or "").strip(),
        "description": _text(root, "description", "") or "",
        "remoteFS": _text(root, "remoteFS", "") or "",
        "numExecutors": executors,
        "mode": (_text(root, "mode", "NORMAL") or "NORMAL").strip() or "NORMAL",
        "retentionStrategy": ET.tostring(retention, encoding="unicode")
        if retention is not None
        else None,
        "launcher": ET.tostring(normalize_launcher(root.find("launcher")), encoding="unicode"),
        "label": _text(root, "label", "") or "",
        "nodeProperties": ET.tostring(props, encoding="unicode") if props is not None else None,
        "temporaryOfflineCause": cause,
    }


def node_to_xml(node, plugins):
    """``<slave>`` in ``Node``/``Slave`` field order (``temporaryOfflineCause`` first)."""
    root = ET.Element("slave")
    cause = node.get("temporaryOfflineCause")
    if cause:
        el = ET.SubElement(
            root, "temporaryOfflineCause", {"class": "hudson.slaves.OfflineCause$UserCause"}
        )
        ET.SubElement(el, "timestamp").text = str(cause["timestamp"])
        desc = ET.SubElement(el, "description")
        holder = ET.SubElement(desc, "holder")
        ET.SubElement(holder, "owner").text = "hudson.slaves.Messages"
        ET.SubElement(desc, "key").text = "SlaveComputer.DisconnectedBy"
        args = ET.SubElement(desc, "args")
        ET.SubElement(args, "string").text = cause.get("userId") or "anonymous"
        msg = cause.get("message")
        ET.SubElement(args, "string").text = f" : {msg}" if msg else ""
        if msg is not None:
            ET.SubElement(el, "message").text = msg
        if cause.get("userId"):
            ET.SubElement(el, "userId").text = cause["userId"]
    ET.SubElement(root, "name").text = node["name"]
    ET.SubElement(root, "description").text = node.get("description") or ""
    ET.SubElement(root, "remoteFS").text = node.get("remoteFS") or ""
    ET.SubElement(root, "numExecutors").text = str(node.get("numExecutors", 1))
    ET.SubElement(root, "mode").text = node.get("mode") or "NORMAL"
    if node.get("retentionStrategy"):
        root.append(ET.fromstring(node["retentionStrategy"]))
    else:
        ET.SubElement(
            root, "retentionStrategy", {"class": "hudson.slaves.RetentionStrategy$Always"}
        )
    root.append(ET.fromstring(node["launcher"]) if node.get("launcher") else default_launcher())
    ET.SubElement(root, "label").text = node.get("label") or ""
    if node.get("nodeProperties"):
        root.append(ET.fromstring(node["nodeProperties"]))
    else:
        ET.SubElement(root, "nodeProperties")
    _strip_whitespace(root)
    return serialize(apply_plugin_attrs(root, plugins))


def launcher_info(node):
    """``(class, websocket)`` of the node's launcher."""
    launcher = ET.fromstring(node["launcher"]) if node.get("launcher") else default_launcher()
    return launcher.get("class"), _bool(_text(launcher, "webSocket")), launcher
