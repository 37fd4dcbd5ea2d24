"""
Jenkins XML, pure: parse (XML 1.1 control-character references included), canonical form,
pretty print, declared-only comparison, diffs with secrets masked, and the node
(``<slave>``) config.xml helpers.

What a controller answers to ``GET config.xml`` differs between releases: up to 2.555.x a job's
is the stored file byte for byte (``AbstractItem.writeConfigDotXml`` copies it), so right after
a create/update it is exactly what was posted; from 2.568.1 it is re-serialised by XStream
(defaults filled in, ``plugin=`` attributes, secrets encrypted). Node config.xml is
re-serialised in both. The comparison here is declared-only, so both answers converge.

Nothing here talks to Jenkins or uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import copy
import difflib
import re
import xml.etree.ElementTree as ET

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

BadInput = chain_errors.BadInput

#: Comparison token for a value Jenkins stores encrypted (``{AQAAAB...}``, ``hudson.util.Secret``)
#: or redacts for a reader without Item/Configure (``********``,
#: ``jenkins.security.ExtendedReadSecretRedaction``): such a value cannot be compared, so it
#: equals anything. It is not an output mask: diffs show :data:`chain_errors.MASK` instead.
ENCRYPTED = "{encrypted secret}"
#: Comparison token for a declared plaintext that differs from what was last posted where Jenkins
#: now shows only the encrypted value (see ``compare``'s ``known``).
CHANGED_SECRET = "{changed secret}"
_ENCRYPTED_RE = re.compile(r"^(\{AQAAAB[A-Za-z0-9+/=]*\}|\*{8})$")

JNLP_LAUNCHER = "hudson.slaves.JNLPLauncher"
NODE_FIELDS = (
    "num_executors",
    "remote_fs",
    "labels",
    "mode",
    "description",
    "web_socket",
    "work_dir",
)
#: Children of a node config.xml that record state, not configuration: never compared.
NODE_STATE_TAGS = ("temporaryOfflineCause",)

# Children of these elements belong to Jenkins and its plugins (e.g. Declarative Pipeline adds
# DeclarativeJobAction entries to a job's <actions> after a build): never a difference.
JENKINS_OWNED = {"actions"}

# ---------------------------------------------------------------------------------------------
# XML 1.1 control characters
# ---------------------------------------------------------------------------------------------

# XML 1.1 (what Jenkins writes) allows character references to C0 controls, e.g. ``&#27;`` for
# the ESC of an ANSI colour code in a shell step; expat only knows XML 1.0 and refuses them. They
# are parsed as private-use placeholders (plane 16) and turned back into references on output.
_CTRL_BASE = 0x10FF00
_CTRL_REF_RE = re.compile(
    r"(<!\[CDATA\[.*?\]\]>|<!--.*?-->)|&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));", re.S
)
_CTRL_CHARS = frozenset(range(1, 32)) - {9, 10, 13}
_CTRL_PLACEHOLDER_RE = re.compile(f"[{chr(_CTRL_BASE + 1)}-{chr(_CTRL_BASE + 31)}]")
# Stands for chain_errors.MASK inside a tree (ET would escape "<hidden>"); replaced on output.
_MASK_PLACEHOLDER = chr(_CTRL_BASE + 0xF0)


def hide_controls(text):
    """Replace references to C0 controls (not tab/LF/CR) by placeholders; CDATA/comments
    untouched."""

    def repl(match):
        if match.group(1) is not None:
            return match.group(1)
        code = int(match.group(2), 16) if match.group(2) is not None else int(match.group(3))
        return chr(_CTRL_BASE + code) if code in _CTRL_CHARS else match.group(0)

    return _CTRL_REF_RE.sub(repl, text) if "&#" in text else text


def unhide_controls(text):
    """Serialised XML with the placeholders back as character references (``&#x1b;``)."""
    text = text.replace(_MASK_PLACEHOLDER, chain_errors.MASK)
    return _CTRL_PLACEHOLDER_RE.sub(lambda m: f"&#x{ord(m.group(0)) - _CTRL_BASE:x};", text)


# ---------------------------------------------------------------------------------------------
# Parse, canonical form, pretty print
# ---------------------------------------------------------------------------------------------


def parse(text, what="XML"):
    """Parse XML text (declaration allowed, any version); :class:`BadInput` when malformed."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"{what} is empty")
    stripped = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"), count=1)
    try:
        return ET.fromstring(hide_controls(stripped))
    except ET.ParseError as err:
        raise BadInput(f"{what} is not well-formed XML: {err}") from err


def _root(doc, what="XML"):
    return parse(doc, what) if isinstance(doc, (str, bytes)) else doc


def canonical(elem):
    """A canonical copy: no whitespace-only text/tails, no ``plugin`` attributes, encrypted
    values as :data:`ENCRYPTED`. Element order is kept (it is significant for lists)."""
    elem = _root(elem)
    new = ET.Element(elem.tag, {k: v for k, v in elem.attrib.items() if k != "plugin"})
    text = elem.text
    if text is not None and not text.strip():
        text = None
    if text is not None and _ENCRYPTED_RE.match(text.strip()):
        text = ENCRYPTED
    new.text = text
    for child in elem:
        if isinstance(child.tag, str):
            new.append(canonical(child))
    return new


def to_string(elem):
    return ET.tostring(elem, encoding="unicode")


def pretty(elem):
    """Pretty-printed canonical XML (no declaration)."""
    tree = copy.deepcopy(canonical(elem))
    ET.indent(tree, space="  ")
    return unhide_controls(ET.tostring(tree, encoding="unicode")) + "\n"


def to_bytes(root):
    """A document to post: XML 1.1 declaration, control characters as references."""
    body = unhide_controls(ET.tostring(root, encoding="unicode"))
    return b"<?xml version='1.1' encoding='UTF-8'?>\n" + body.encode("utf-8")


def drop(root, paths):
    """Remove the elements at slash-separated ``paths`` (relative to the root) from a tree."""
    for path in paths or ():
        parts = [p for p in str(path).strip("/").split("/") if p]
        if parts and parts[0] == root.tag:
            parts = parts[1:]
        if not parts:
            continue
        for parent in root.findall("/".join(parts[:-1]) or "."):
            for child in parent.findall(parts[-1]):
                parent.remove(child)
    return root


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------

_SECRET_TAG_RE = re.compile(r"password|passwd|secret|token|apikey", re.I)


def is_secret_tag(tag, parent_tag=None):
    """Does an element hold a secret (``password``, ``apiKey``, a password parameter's default)?
    ``...Id`` elements (``credentialsId``) are references, not secrets."""
    local = tag.rsplit(".", 1)[-1] if isinstance(tag, str) else ""
    if (
        parent_tag
        and local == "defaultValue"
        and str(parent_tag).endswith("PasswordParameterDefinition")
    ):
        return True
    if local.endswith(("Id", "ID", "Ids")):
        return False
    return bool(_SECRET_TAG_RE.search(local))


def _masked(text):
    return None if text is None else _MASK_PLACEHOLDER


def mask(elem, parent_tag=None):
    """Mask secrets (plaintext and encrypted) of a (copied) tree in place; returns it."""
    if is_secret_tag(elem.tag, parent_tag) or elem.text == ENCRYPTED:
        elem.text = _masked(elem.text)
    for child in elem:
        mask(child, elem.tag)
    return elem


# ---------------------------------------------------------------------------------------------
# Declared-only comparison
# ---------------------------------------------------------------------------------------------


def _significant_extra(tag, desired_tags, parent_tag=None):
    """Does an element present only in Jenkins' copy matter?

    Jenkins re-serialises with every field of the Java object filled in: a *field* the desired
    XML does not declare is a default and is ignored. Entries of lists are different: their tag
    repeats a declared sibling's, or is a class name (``hudson.tasks.Shell``); an extra one is a
    real difference (a removed step), except under ``<actions>``.
    """
    if parent_tag in JENKINS_OWNED:
        return False
    return tag in desired_tags or "." in tag


def _align(desired, current, masked=False, parent_tag=None, known=None, path=None):
    """Project ``current`` onto ``desired`` (both canonical, same tag).

    Returns ``(desired', current')``: current' keeps, in desired's order, the elements matched
    to declared ones (same tag, k-th occurrence), the declared attributes only, and the
    significant extras; encrypted values equal anything. With ``masked`` (for diffs, never for
    the comparison) secrets are the mask on both sides, with `` (changed)`` on the desired side
    when the two plaintext values differ.
    """
    d_new = ET.Element(desired.tag, dict(desired.attrib))
    c_new = ET.Element(
        current.tag, {k: current.attrib[k] for k in desired.attrib if k in current.attrib}
    )
    d_text, c_text = desired.text, current.text
    path = path or desired.tag
    if ENCRYPTED in (d_text, c_text):
        stale = (
            c_text == ENCRYPTED
            and d_text not in (None, ENCRYPTED)
            and known is not None
            and known(path, d_text) is False
        )
        d_text, c_text = (CHANGED_SECRET if stale else ENCRYPTED), ENCRYPTED
    if masked and (is_secret_tag(desired.tag, parent_tag) or d_text in (ENCRYPTED, CHANGED_SECRET)):
        changed = d_text != c_text
        d_text, c_text = _masked(d_text), _masked(c_text)
        if changed and d_text == c_text:
            d_text += " (changed)"
    d_new.text, c_new.text = d_text, c_text
    by_tag = {}
    for idx, child in enumerate(current):
        by_tag.setdefault(child.tag, []).append(idx)
    used, seen = set(), {}
    for dchild in desired:
        k = seen.get(dchild.tag, 0)
        seen[dchild.tag] = k + 1
        candidates = by_tag.get(dchild.tag, [])
        if k < len(candidates):
            used.add(candidates[k])
            dn, cn = _align(
                dchild,
                current[candidates[k]],
                masked,
                desired.tag,
                known,
                f"{path}/{dchild.tag}[{k}]",
            )
            d_new.append(dn)
            c_new.append(cn)
        else:
            extra = copy.deepcopy(dchild)
            d_new.append(mask(extra, desired.tag) if masked else extra)
    for idx, cchild in enumerate(current):
        if idx not in used and _significant_extra(cchild.tag, set(seen), current.tag):
            extra = copy.deepcopy(cchild)
            c_new.append(mask(extra, current.tag) if masked else extra)
    return d_new, c_new


def _unified(before, after, old, new):
    return "\n".join(difflib.unified_diff(before, after, old, new, lineterm=""))


def leaf_texts(root):
    """``{path: text}`` of the leaf elements of a canonical tree, with the paths ``compare``
    gives ``known`` (``project/properties[0]/x.y.Secret[0]``)."""
    out = {}

    def walk(elem, path):
        if len(elem) == 0 and elem.text not in (None, ENCRYPTED):
            out[path] = elem.text
        seen = {}
        for child in elem:
            k = seen.get(child.tag, 0)
            seen[child.tag] = k + 1
            walk(child, f"{path}/{child.tag}[{k}]")

    walk(root, root.tag)
    return out


def compare(desired, current, ignore=None, known=None):
    """Compare desired XML with Jenkins' copy (``current`` may be None: absent).

    Returns ``{"contained": bool, "diff": str}``: ``contained`` is True when every declared
    element, attribute and text is present in ``current`` with the same value (what Jenkins adds
    on its own is ignored); ``diff`` is a unified diff of the pretty-printed canonical XML,
    Jenkins' side projected onto what is declared, secrets masked. ``ignore`` lists element
    paths (``properties/some.Property``) left out on both sides.

    An encrypted value in ``current`` equals any declared one, unless ``known(path, plaintext)``
    (what was last posted there, see ``leaf_texts``) answers False: then the secret changed.
    """
    d = drop(canonical(_root(desired)), ignore)
    if current is None:
        return {
            "contained": False,
            "diff": _unified([], pretty(mask(copy.deepcopy(d))).splitlines(), "current", "desired"),
        }
    c = drop(canonical(_root(current, "Jenkins' config.xml")), ignore)
    same_root = d.tag == c.tag
    d_al, c_al = _align(d, c, known=known) if same_root else (d, c)
    contained = same_root and to_string(d_al) == to_string(c_al)
    diff = ""
    if not contained:
        if same_root:
            d_m, c_m = _align(d, c, masked=True, known=known)
        else:
            d_m, c_m = mask(copy.deepcopy(d)), mask(copy.deepcopy(c))
        diff = _unified(pretty(c_m).splitlines(), pretty(d_m).splitlines(), "current", "desired")
    return {"contained": contained, "diff": diff}


def diff(old, new):
    """Unified diff of the pretty-printed canonical forms of two documents (secrets masked)."""

    def lines(doc):
        return [] if doc is None else pretty(mask(copy.deepcopy(canonical(doc)))).splitlines()

    return _unified(lines(old), lines(new), "old", "new")


# ---------------------------------------------------------------------------------------------
# Nodes (<slave> config.xml)
# ---------------------------------------------------------------------------------------------


def parse_labels(value):
    """list/set/tuple of labels, or a whitespace-separated string -> sorted list of atoms."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = []
        for item in value:
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise BadInput(f"labels: invalid label {item!r}")
            if not str(item).strip() or len(str(item).split()) != 1:
                raise BadInput(f"labels: {item!r} must be one word (labels are space-separated)")
            items.append(str(item).strip())
    else:
        raise BadInput("labels must be a list of words or a space-separated string")
    return sorted(set(items))


def node_spec(
    num_executors=None,
    remote_fs=None,
    labels=None,
    mode=None,
    description=None,
    web_socket=None,
    work_dir=None,
):
    """Validate the declared node fields (None = not declared)."""
    spec = {}
    if num_executors is not None:
        text = str(num_executors).strip()
        if isinstance(num_executors, bool) or not text.isdigit() or int(text) < 1:
            raise BadInput(f"num_executors must be a positive integer, got {num_executors!r}")
        spec["num_executors"] = int(text)
    if remote_fs is not None:
        if not isinstance(remote_fs, str) or not remote_fs.strip():
            raise BadInput("remote_fs must be a non-empty path")
        spec["remote_fs"] = remote_fs
    if labels is not None:
        spec["labels"] = parse_labels(labels)
    if mode is not None:
        if str(mode).upper() not in ("NORMAL", "EXCLUSIVE"):
            raise BadInput(f"mode must be NORMAL or EXCLUSIVE, got {mode!r}")
        spec["mode"] = str(mode).upper()
    if description is not None:
        if not isinstance(description, (str, int, float)) or isinstance(description, bool):
            raise BadInput("description must be text")
        spec["description"] = str(description)
    if web_socket is not None:
        if not isinstance(web_socket, bool):
            raise BadInput("web_socket must be true or false")
        spec["web_socket"] = web_socket
    if work_dir is not None:
        if not isinstance(work_dir, str):
            raise BadInput("work_dir must be a path (or empty for the default)")
        spec["work_dir"] = work_dir or None
    return spec


def reconfigure_spec(fields, config_xml=None):
    """The validated spec of ``node_reconfigure``'s keyword fields (None with a config_xml)."""
    fields = {k: v for k, v in fields.items() if not k.startswith("__")}
    unknown = set(fields) - set(NODE_FIELDS)
    if unknown:
        raise BadInput(f"node_reconfigure: unknown field(s) {', '.join(sorted(unknown))}")
    if config_xml is not None:
        if fields:
            raise BadInput("give either config_xml or fields, not both")
        return None
    return node_spec(**fields)


def node_fields(root):
    """Declarable fields of a node config.xml (``<slave>``)."""
    launcher = root.find("launcher")
    launcher_class = launcher.get("class") if launcher is not None else None
    ws = work_dir = None
    if launcher is not None:
        ws = (launcher.findtext("webSocket") or "false").strip() == "true"
        work_dir = (launcher.findtext("workDirSettings/workDirPath") or "").strip() or None
    try:
        executors = int((root.findtext("numExecutors") or "1").strip())
    except ValueError:
        executors = root.findtext("numExecutors")
    inbound = launcher_class == JNLP_LAUNCHER
    return {
        "num_executors": executors,
        "remote_fs": root.findtext("remoteFS") or "",
        "labels": sorted(set((root.findtext("label") or "").split())),
        "mode": (root.findtext("mode") or "NORMAL").strip(),
        "description": root.findtext("description") or "",
        "web_socket": ws if inbound else None,
        "work_dir": work_dir if inbound else None,
        "launcher": launcher_class,
    }


def node_changes(current, spec):
    """``{field: {old, new}}`` (labels as ``{added, removed}``) of the declared fields."""
    changes = {}
    for field, want in spec.items():
        have = current.get(field)
        if field == "labels":
            added, removed = sorted(set(want) - set(have)), sorted(set(have) - set(want))
            if added or removed:
                changes["labels"] = {"added": added, "removed": removed}
        elif field in ("web_socket", "work_dir") and current.get("launcher") != JNLP_LAUNCHER:
            changes[field] = {"old": f"(launcher {current.get('launcher')})", "new": want}
        elif have != want:
            changes[field] = {"old": have, "new": want}
    return changes


def set_child(parent, tag, text, before=None):
    """Set the text of ``parent/tag``, creating it before the first of ``before`` if absent."""
    elem = parent.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        anchor = next((i for i, c in enumerate(parent) if c.tag in (before or ())), None)
        if anchor is None:
            parent.append(elem)
        else:
            parent.insert(anchor, elem)
    elem.text = text
    return elem


def jnlp_launcher(web_socket=False, work_dir=None):
    launcher = ET.Element("launcher", {"class": JNLP_LAUNCHER})
    wds = ET.SubElement(launcher, "workDirSettings")
    ET.SubElement(wds, "disabled").text = "false"
    if work_dir:
        ET.SubElement(wds, "workDirPath").text = work_dir
    ET.SubElement(wds, "internalDir").text = "remoting"
    ET.SubElement(wds, "failIfWorkDirIsMissing").text = "false"
    ET.SubElement(launcher, "webSocket").text = "true" if web_socket else "false"
    return launcher


_NODE_ORDER = [
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


def _after(tag):
    return set(_NODE_ORDER[_NODE_ORDER.index(tag) + 1 :])


def _apply_launcher(root, spec):
    launcher = root.find("launcher")
    if launcher is None or launcher.get("class") != JNLP_LAUNCHER:
        new = jnlp_launcher(spec.get("web_socket", False), spec.get("work_dir"))
        if launcher is None:
            launcher = set_child(root, "launcher", None, _after("launcher"))
        idx = list(root).index(launcher)
        root.remove(launcher)
        root.insert(idx, new)
        return
    if "web_socket" in spec:
        set_child(launcher, "webSocket", "true" if spec["web_socket"] else "false")
    if "work_dir" in spec:
        wds = launcher.find("workDirSettings")
        if wds is None:
            wds = jnlp_launcher(False, None).find("workDirSettings")
            launcher.insert(0, wds)
        path = wds.find("workDirPath")
        if spec["work_dir"]:
            set_child(
                wds, "workDirPath", spec["work_dir"], {"internalDir", "failIfWorkDirIsMissing"}
            )
        elif path is not None:
            wds.remove(path)


def apply_node_spec(root, spec):
    """Write the declared fields into a ``<slave>`` tree, keeping everything else."""
    for field, tag in (
        ("description", "description"),
        ("remote_fs", "remoteFS"),
        ("num_executors", "numExecutors"),
        ("mode", "mode"),
    ):
        if field in spec:
            set_child(root, tag, str(spec[field]), _after(tag))
    if "labels" in spec:
        set_child(root, "label", " ".join(spec["labels"]), _after("label"))
    if "web_socket" in spec or "work_dir" in spec:
        _apply_launcher(root, spec)
    return root


def shell_job_xml(description, label, command):
    """A freestyle job's config.xml (a ``str`` to post) that runs ``command`` in a shell on an
    agent of ``label``, one build at a time, never elsewhere."""
    root = ET.Element("project")
    ET.SubElement(root, "description").text = description
    ET.SubElement(root, "assignedNode").text = label
    for tag, text in (("canRoam", "false"), ("disabled", "false"), ("concurrentBuild", "false")):
        ET.SubElement(root, tag).text = text
    shell = ET.SubElement(ET.SubElement(root, "builders"), "hudson.tasks.Shell")
    ET.SubElement(shell, "command").text = command
    ET.SubElement(root, "publishers")
    ET.SubElement(root, "buildWrappers")
    return to_bytes(root).decode("utf-8")


def node_xml(name, spec):
    """A complete ``<slave>`` config.xml for an inbound (JNLP) permanent agent."""
    root = ET.Element("slave")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "description").text = spec.get("description", "")
    ET.SubElement(root, "remoteFS").text = spec.get("remote_fs", "/home/jenkins/agent")
    ET.SubElement(root, "numExecutors").text = str(spec.get("num_executors", 1))
    ET.SubElement(root, "mode").text = spec.get("mode", "NORMAL")
    ET.SubElement(root, "retentionStrategy", {"class": "hudson.slaves.RetentionStrategy$Always"})
    root.append(jnlp_launcher(spec.get("web_socket", False), spec.get("work_dir")))
    ET.SubElement(root, "label").text = " ".join(spec.get("labels") or [])
    ET.SubElement(root, "nodeProperties")
    return root


def node_root(name, spec, root=None):
    """The ``<slave>`` tree of a new node: ``root`` (a given config.xml) renamed to ``name``,
    else one made from ``spec``."""
    if root is None:
        return node_xml(name, spec)
    set_child(root, "name", name, {"description", "remoteFS", "numExecutors"})
    return root


def keep_node_state(new_root, current_root):
    """Make ``new_root`` carry exactly the offline mark of ``current_root``.

    A reconfigure never changes whether a node is marked temporarily offline (that is
    ``toggleOffline``'s job): in 2.479.x ``Computer.setNode`` pushes the computer's offline
    cause onto the new node whatever the XML says, while from 2.492.1 the mark lives on the
    node (``Node.temporaryOfflineCause``) and ``Nodes.replaceNode`` takes the posted XML's.
    Posting the current mark converges on both.
    """
    for tag in NODE_STATE_TAGS:
        for elem in new_root.findall(tag):
            new_root.remove(elem)
        for elem in current_root.findall(tag):
            new_root.append(copy.deepcopy(elem))
    return new_root


def agent_secret(text):
    """The secret in a ``jenkins-agent.jnlp`` document (first ``application-desc/argument``),
    or None."""
    root = parse(text, "jenkins-agent.jnlp")
    arg = root.find(".//application-desc/argument")
    if arg is None:
        arg = root.find(".//argument")
    secret = (arg.text or "").strip() if arg is not None else ""
    return secret or None


# ---------------------------------------------------------------------------------------------
# Job descriptions (the marker of jenkins_jobs.applied)
# ---------------------------------------------------------------------------------------------

_DECLARATION_RE = re.compile(r"^\s*(<\?xml[^>]*\?>)")


def with_description_mark(xml_text, mark):
    """The job document ``xml_text`` with ``mark`` appended to its ``<description>`` (after a
    blank line; a missing description is created as the root's first child). The XML
    declaration is kept as it was; control-character references stay references.
    :class:`BadInput` when the document is not well-formed."""
    root = parse(xml_text, "job XML")
    desc = root.find("description")
    if desc is None:
        desc = ET.Element("description")
        root.insert(0, desc)
    text = (desc.text or "").rstrip()
    desc.text = f"{text}\n\n{mark}" if text else mark
    declaration = _DECLARATION_RE.match(xml_text)
    head = declaration.group(1) + "\n" if declaration else ""
    return head + unhide_controls(ET.tostring(root, encoding="unicode"))


def description(xml_text):
    """The text of a job document's ``<description>``; ``""`` when there is none or the text
    is not well-formed XML (a job nobody can read is nobody's)."""
    try:
        desc = parse(xml_text, "job XML").find("description")
    except BadInput:
        return ""
    return unhide_controls(desc.text or "") if desc is not None else ""
