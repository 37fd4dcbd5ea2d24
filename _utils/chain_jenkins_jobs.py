"""
Jobs, the request sequences run on a client the caller passes: list, read, compare, create,
update, delete, enable/disable, status.

Release differences the comparison absorbs (Jenkins source, ``AbstractItem``): up to 2.555.x
``writeConfigDotXml`` copies the stored file (what was posted, after ``updateByXml``'s identity
transform), from 2.568.1 it re-serialises with ``Items.XSTREAM2.toXMLUTF8`` (defaults filled
in, ``plugin=`` attributes, plaintext secrets encrypted). Both are compared declared-only
(``chain_jenkins_xml.compare``), so a job converges after one write on either. Item names are
case-insensitive (``Jenkins.items`` is a ``CopyOnWriteMap.Tree`` on
``String.CASE_INSENSITIVE_ORDER`` in both): ``job/R1`` reads job ``r1``, and creating ``R1``
beside ``r1`` is refused; everything here addresses a job by the name it is given.

Nothing here uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import urllib.parse

try:
    from saltext.chain.utils import chain_errors, chain_jenkins_client, chain_jenkins_xml
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_client
    import chain_jenkins_xml

log = logging.getLogger(__name__)
job_path = chain_jenkins_client.job_path
JenkinsNotFound = chain_jenkins_client.JenkinsNotFound
JenkinsError = chain_jenkins_client.JenkinsError


class Ledger:
    """Keyed digests (HMAC-SHA256, key beside them, file 0600) of the values last posted to a
    job from this minion, per element path.

    Jenkins keeps ``Secret`` fields encrypted (``{AQAAAB...}``): from 2.568.1 ``updateByXml``
    re-saves the posted job at once (before, the posted text stays until Jenkins next saves it),
    so after one write a changed password cannot be told from the stored one by reading
    config.xml. The ledger tells it: a declared value whose digest differs from the last posted
    one is a change. Without a record (a job written elsewhere, a wiped cache) an encrypted
    value counts as unchanged, as before. ``cachedir`` None: no ledger.
    """

    def __init__(self, cachedir, server, name):
        digest = hashlib.sha256(f"{server}\0{name.lower()}".encode()).hexdigest()
        self.path = (
            os.path.join(cachedir, "jenkins", "posted", digest + ".json") if cachedir else None
        )
        self._data = None

    def _load(self):
        if self._data is None:
            self._data = {}
            if self.path and os.path.exists(self.path):
                try:
                    with open(self.path, encoding="utf-8") as fh:
                        self._data = json.load(fh)
                except (OSError, ValueError) as err:
                    log.warning("ignoring unreadable %s: %s", self.path, err)
        return self._data

    def _digest(self, key, text):
        return hmac.new(bytes.fromhex(key), text.encode("utf-8"), hashlib.sha256).hexdigest()

    def known(self, path, text):
        """True/False as ``text`` is/is not what was last posted at ``path``; None: no record."""
        data = self._load()
        recorded = data.get("values", {}).get(path)
        if recorded is None:
            return None
        return hmac.compare_digest(recorded, self._digest(data["key"], text))

    def record(self, text):
        """Remember the leaf values of the document just posted (never raises)."""
        if not self.path:
            return
        key = self._load().get("key") or secrets.token_hex(32)
        leaves = chain_jenkins_xml.leaf_texts(chain_jenkins_xml.canonical(text))
        data = {"key": key, "values": {p: self._digest(key, t) for p, t in leaves.items()}}
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
            self._data = data
        except OSError as err:
            log.warning("cannot record the posted job in %s: %s", self.path, err)


def _walk(items, prefix=""):
    out = []
    for item in items or []:
        full = f"{prefix}{item.get('name')}"
        out.append(
            {
                "name": item.get("name"),
                "fullname": full,
                "url": item.get("url"),
                "color": item.get("color"),
                "_class": item.get("_class"),
            }
        )
        out.extend(_walk(item.get("jobs"), full + "/"))
    return out


def list_all(client, depth=5):
    """Every job, folders walked ``depth`` levels: ``[{name, fullname, url, color, _class}]``."""
    tree = "jobs[name,url,color]"
    for _ in range(depth - 1):
        tree = f"jobs[name,url,color,{tree}]"
    return _walk(client.get_json("api/json", params={"tree": tree}).get("jobs"))


def info(client, name, tree=None):
    """A job's API object, or None when it does not exist."""
    path = job_path(name) + "api/json"
    return client.get_json_or_none(path, params={"tree": tree} if tree else None)


def config(client, name):
    """A job's config.xml text, or None when it does not exist."""
    return client.get_text_or_none(job_path(name) + "config.xml")


def ignore_paths(ignore):
    """``ignore`` validated: None or a list of element paths."""
    if ignore is None:
        return None
    ignore = [ignore] if isinstance(ignore, str) else ignore
    if not isinstance(ignore, (list, tuple)) or not all(
        isinstance(p, str) and p.strip("/") for p in ignore
    ):
        raise chain_errors.BadInput(
            "ignore must be a list of element paths such as 'properties/x.y.Property'"
        )
    return list(ignore)


def compare(client, name, desired, ignore=None, cachedir=None):
    """``{exists, changed, diff, xml, disabled, name}`` of desired XML text against the job
    (``name``: its full name as Jenkins stores it, which may differ in case)."""
    flag = chain_jenkins_xml.parse(desired, "config").findtext("disabled") or ""
    current = config(client, name)
    known = Ledger(cachedir, client.server, name).known
    cmp = chain_jenkins_xml.compare(desired, current, ignore=ignore, known=known)
    return {
        "exists": current is not None,
        "changed": not cmp["contained"],
        "diff": cmp["diff"],
        "xml": desired,
        "disabled": {"true": True, "false": False}.get(flag.strip().lower()),
        "name": stored_name(client, name) if current is not None else None,
    }


def stored_name(client, name):
    """The job's full name as Jenkins stores it (``r1`` when asked for ``R1``), or None."""
    data = info(client, name, "fullName")
    return None if data is None else data.get("fullName") or name


def _unloadable(err, text):
    """A 500 to a job XML: Jenkins could not load it (XStream), and stored nothing."""
    root = chain_jenkins_xml.parse(text, "config").tag
    return JenkinsError(
        f"{err}; Jenkins could not load the job XML (an unknown element or class: is the plugin "
        f"that provides <{root}> installed?)",
        status=err.status,
    )


def create(client, name, text, cachedir=None):
    """``createItem`` in the job's folder; Jenkins refuses a name in use (any case)."""
    parent, short = chain_jenkins_client.job_parent_and_short(name)
    query = urllib.parse.quote(short, safe="")
    try:
        client.post_xml(f"{parent}createItem?name={query}", text)
    except JenkinsError as err:
        raise (_unloadable(err, text) if err.status == 500 else err) from err
    Ledger(cachedir, client.server, name).record(text)
    return True


def update(client, name, text, cachedir=None):
    """POST the job's config.xml; a missing job is an error."""
    try:
        client.post_xml(job_path(name) + "config.xml", text)
    except JenkinsNotFound as err:
        raise JenkinsNotFound(f"job {name} does not exist", status=404) from err
    except JenkinsError as err:
        raise (_unloadable(err, text) if err.status == 500 else err) from err
    Ledger(cachedir, client.server, name).record(text)
    return True


def delete(client, name):
    """True when deleted, False when it did not exist (``doDelete``)."""
    try:
        client.request("POST", job_path(name) + "doDelete")
    except JenkinsNotFound:
        return False
    return True


def action(client, name, verb):
    """POST a job action (``enable``, ``disable``); a missing job is an error."""
    try:
        client.request("POST", job_path(name) + verb)
    except JenkinsNotFound as err:
        raise JenkinsNotFound(f"job {name} does not exist", status=404) from err
    return True


def enabled(client, name):
    """True/False as the job is enabled/disabled, None when it does not exist."""
    data = info(client, name, "buildable,color,disabled")
    if data is None:
        return None
    if data.get("disabled") is not None:
        return not data["disabled"]
    return data.get("color") != "disabled"


def status(client, name):
    """``{buildable, color, in_queue, last_build}`` (the old module's ``job_status``)."""
    data = info(client, name, "buildable,color,inQueue,lastBuild[number,result,building,url]")
    if data is None:
        raise JenkinsNotFound(f"Job '{name}' does not exist", status=404)
    last = data.get("lastBuild")
    return {
        "buildable": data.get("buildable"),
        "color": data.get("color"),
        "in_queue": data.get("inQueue"),
        "last_build": last and {k: last.get(k) for k in ("number", "result", "building", "url")},
    }


def plugins(client):
    """The installed plugins: ``{shortName: {version, active, enabled, long_name}}``."""
    tree = "plugins[shortName,longName,version,active,enabled]"
    data = client.get_json("pluginManager/api/json", params={"tree": tree})
    return {
        p["shortName"]: {
            "version": p.get("version"),
            "active": p.get("active"),
            "enabled": p.get("enabled"),
            "long_name": p.get("longName"),
        }
        for p in data.get("plugins") or []
        if p.get("shortName")
    }


def plugin_installed(client, name):
    """True when a plugin is installed under its short or long name."""
    return any(name in (short, p["long_name"]) for short, p in plugins(client).items())
