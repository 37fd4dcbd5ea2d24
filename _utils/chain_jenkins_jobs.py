"""
Jobs, the request sequences run on a client the caller passes: list, read, compare, create,
update, delete, enable/disable, status.

Release differences the comparison absorbs (Jenkins source, ``AbstractItem``): up to 2.479.x
``writeConfigDotXml`` copies the stored file (what was posted, after ``updateByXml``'s identity
transform), from 2.568.x it re-serialises with ``Items.XSTREAM2.toXMLUTF8`` (defaults filled
in, ``plugin=`` attributes, plaintext secrets encrypted). Both are compared declared-only
(``chain_jenkins_xml.compare``), so a job converges after one write on either. Item names are
case-insensitive (``Jenkins.items`` is a ``CopyOnWriteMap.Tree`` on
``String.CASE_INSENSITIVE_ORDER`` in both): ``job/R1`` reads job ``r1``, and creating ``R1``
beside ``r1`` is refused; everything here addresses a job by the name it is given.

Nothing here uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import urllib.parse

try:
    from saltext.chain.utils import chain_errors, chain_jenkins_client, chain_jenkins_xml
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
    import chain_errors
    import chain_jenkins_client
    import chain_jenkins_xml

job_path = chain_jenkins_client.job_path
JenkinsNotFound = chain_jenkins_client.JenkinsNotFound


def _walk(items, prefix=""):
    out = []
    for item in items or []:
        full = f"{prefix}{item.get('name')}"
        out.append({"name": item.get("name"), "fullname": full, "url": item.get("url"),
                    "color": item.get("color"), "_class": item.get("_class")})
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
            isinstance(p, str) and p.strip("/") for p in ignore):
        raise chain_errors.BadInput(
            "ignore must be a list of element paths such as 'properties/x.y.Property'")
    return list(ignore)


def compare(client, name, desired, ignore=None):
    """``{exists, changed, diff, xml, disabled}`` of desired XML text against the job."""
    flag = (chain_jenkins_xml.parse(desired, "config").findtext("disabled") or "")
    current = config(client, name)
    cmp = chain_jenkins_xml.compare(desired, current, ignore=ignore)
    return {"exists": current is not None, "changed": not cmp["contained"], "diff": cmp["diff"],
            "xml": desired, "disabled": {"true": True, "false": False}.get(flag.strip().lower())}


def create(client, name, text):
    """``createItem`` in the job's folder; Jenkins refuses a name in use (any case)."""
    parent, short = chain_jenkins_client.job_parent_and_short(name)
    query = urllib.parse.quote(short, safe="")
    client.post_xml(f"{parent}createItem?name={query}", text)
    return True


def update(client, name, text):
    """POST the job's config.xml; a missing job is an error."""
    try:
        client.post_xml(job_path(name) + "config.xml", text)
    except JenkinsNotFound as err:
        raise JenkinsNotFound(f"job {name} does not exist", status=404) from err
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
    return {"buildable": data.get("buildable"), "color": data.get("color"),
            "in_queue": data.get("inQueue"),
            "last_build": last and {k: last.get(k) for k in ("number", "result", "building",
                                                               "url")}}


def plugins(client):
    """The installed plugins: ``{shortName: {version, active, enabled, long_name}}``."""
    tree = "plugins[shortName,longName,version,active,enabled]"
    data = client.get_json("pluginManager/api/json", params={"tree": tree})
    return {
        p["shortName"]: {"version": p.get("version"), "active": p.get("active"),
                         "enabled": p.get("enabled"), "long_name": p.get("longName")}
        for p in data.get("plugins") or [] if p.get("shortName")
    }
