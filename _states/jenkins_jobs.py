"""
Jobs as code at scale: a whole Jenkins Job Builder file or directory applied at once.

.. versionadded:: 0.2.0

Every ``*.yaml``/``*.yml`` file of the source is read (sorted by path) and rendered together
in-process by ``jenkins.job_render``, so job templates and projects may live in different
files; every job the YAML produces is created or updated. Each job's description gets a marker
naming this state (``[managed by salt jenkins_jobs.applied: NAME]``). With ``prune: true``, the
jobs that carry this marker and that the YAML no longer produces are deleted. Jobs made another
way, or by another ``jenkins_jobs.applied``, are never touched.

.. code-block:: yaml

    ci-jobs:
      jenkins_jobs.applied:
        - source: salt://jobs          # a directory or one file; a local path works too
        - prune: true
"""

import os
import re
import xml.etree.ElementTree as ET

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jenkins_jobs"

MARK = "[managed by salt jenkins_jobs.applied: {}]"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def __virtual__():
    if "jenkins.job_render" not in __salt__:
        return (False, "the jenkins execution module is not available")
    return __virtualname__


def _sources(source, saltenv):
    """``[(path, text)]`` of the YAML files of ``source`` (salt:// or local, file or dir)."""
    if source.startswith("salt://"):
        prefix = source[len("salt://") :].strip("/")
        files = [
            f
            for f in __salt__["cp.list_master"](saltenv=saltenv, prefix=prefix)
            if f == prefix or f.startswith(prefix + "/")
        ]
        files = sorted(f for f in files if f.endswith((".yaml", ".yml")))
        if not files:
            raise SaltInvocationError(f"source: no .yaml/.yml file under {source}")
        out = []
        for path in files:
            text = __salt__["cp.get_file_str"](f"salt://{path}", saltenv=saltenv)
            if text is False or text is None:
                raise CommandExecutionError(f"source: cannot read salt://{path}")
            out.append((path, text))
        return out
    if not os.path.isabs(source):
        raise SaltInvocationError("source: expected a salt:// path or an absolute local path")
    if os.path.isfile(source):
        paths = [source]
    elif os.path.isdir(source):
        paths = sorted(
            os.path.join(root, f)
            for root, _dirs, names in os.walk(source)
            for f in names
            if f.endswith((".yaml", ".yml"))
        )
    else:
        raise SaltInvocationError(f"source: {source} does not exist")
    if not paths:
        raise SaltInvocationError(f"source: no .yaml/.yml file under {source}")
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            out.append((path, handle.read()))
    return out


def _marked(xml_text, mark):
    """The job XML with ``mark`` appended to its description."""
    decl = ""
    body = xml_text.lstrip()
    if body.startswith("<?xml"):
        decl, body = body.split("?>", 1)
        decl += "?>\n"
    root = ET.fromstring(body)
    desc = root.find("description")
    if desc is None:
        desc = ET.Element("description")
        root.insert(0, desc)
    text = (desc.text or "").rstrip()
    desc.text = f"{text}\n\n{mark}" if text else mark
    return decl + ET.tostring(root, encoding="unicode")


def applied(name, source, prune=False, profile=None, saltenv="base"):
    """
    Apply every job a Jenkins Job Builder file or directory produces; with ``prune: true``,
    delete the jobs this state made earlier that the YAML no longer produces.

    name
        The state's id, recorded in each job's description marker (letters, digits, ``._-``).
    source
        A ``salt://`` directory or file, or an absolute local path.
    prune
        Delete the jobs carrying this state's marker that the YAML no longer renders.
    profile
        Jenkins connection profile.

    .. code-block:: yaml

        ci-jobs:
          jenkins_jobs.applied:
            - source: salt://jobs
            - prune: true
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        if not isinstance(name, str) or not _NAME.match(name):
            raise SaltInvocationError(
                f"name: expected letters, digits, '.', '_' or '-' (the marker id), got {name!r}"
            )
        if not isinstance(source, str) or not source.strip():
            raise SaltInvocationError("source: expected a salt:// path or an absolute path")
        if prune not in (True, False):
            raise SaltInvocationError(f"prune: expected true or false, got {prune!r}")
        if not isinstance(saltenv, str) or not saltenv:
            raise SaltInvocationError(f"saltenv: expected an environment name, got {saltenv!r}")
        if profile is not None and not isinstance(profile, (str, dict)):
            raise SaltInvocationError("profile must be a name or a mapping")
        mark = MARK.format(name)
        texts = _sources(source.strip(), saltenv)
        rendered = __salt__["jenkins.job_render"]("\n".join(text for _path, text in texts))
        if not rendered:
            raise SaltInvocationError(f"source: {source} renders no job")
        test = bool(__opts__.get("test"))
        created, updated, deleted = [], [], []
        for job, xml_text in sorted(rendered.items()):
            xml_text = _marked(xml_text, mark)
            diff = __salt__["jenkins.job_compare"](job, config=xml_text, profile=profile)
            if not diff["exists"]:
                created.append(job)
                if not test:
                    __salt__["jenkins.job_create"](job, config_xml=xml_text, profile=profile)
            elif diff["changed"]:
                updated.append(job)
                if not test:
                    __salt__["jenkins.job_update"](job, config_xml=xml_text, profile=profile)
        if prune:
            for job in __salt__["jenkins.jobs"](profile=profile):
                full = job.get("fullname") or job.get("name")
                if full in rendered:
                    continue
                config = __salt__["jenkins.job_config"](full, profile=profile) or ""
                if mark in _description(config):
                    deleted.append(full)
                    if not test:
                        __salt__["jenkins.job_delete"](full, profile=profile)
    except (SaltInvocationError, CommandExecutionError) as err:
        ret.update(
            result=False,
            comment=str(err).strip().splitlines()[0] if str(err) else type(err).__name__,
        )
        return ret
    except Exception as err:  # noqa: BLE001 - never a traceback to the user
        ret.update(result=False, comment=f"{type(err).__name__}: {err}".splitlines()[0])
        return ret
    for key, jobs in (("created", created), ("updated", updated), ("deleted", deleted)):
        if jobs:
            ret["changes"][key] = jobs
    summary = (
        f"{len(rendered)} job(s) from {source}: {len(created)} created, "
        f"{len(updated)} updated, {len(deleted)} deleted"
    )
    if test and ret["changes"]:
        ret["result"] = None
        ret["comment"] = "Would apply " + summary
    else:
        ret["comment"] = ("Applied " if ret["changes"] else "As declared: ") + summary
    return ret


def _description(config_xml):
    try:
        body = (
            config_xml.split("?>", 1)[1] if config_xml.lstrip().startswith("<?xml") else config_xml
        )
        desc = ET.fromstring(body).find("description")
    except (ET.ParseError, IndexError):
        return ""
    return (desc.text or "") if desc is not None else ""
