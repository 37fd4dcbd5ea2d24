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

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_jenkins_xml,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_jenkins_xml
    import chain_state_args
    import chain_states

__virtualname__ = "jenkins_jobs"

MARK = "[managed by salt jenkins_jobs.applied: {}]"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "jenkins.job_render")


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
        try:
            with open(path, encoding="utf-8") as handle:
                out.append((path, handle.read()))
        except (OSError, UnicodeDecodeError) as err:
            raise CommandExecutionError(f"source: cannot read {path}: {err}") from err
    return out


def _check(name, source, prune, saltenv, profile):
    """Every argument, before anything is read."""
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


def _write_jobs(rendered, mark, test, profile, done):
    """Create or update every rendered job (marked); ``done`` gets each job written, as
    ``(verb, job)``. Returns ``(created, updated)``."""
    created, updated = [], []
    for job, xml_text in sorted(rendered.items()):
        xml_text = chain_jenkins_xml.with_description_mark(xml_text, mark)
        diff = __salt__["jenkins.job_compare"](job, config=xml_text, profile=profile)
        if not diff["exists"]:
            created.append(job)
            if not test:
                __salt__["jenkins.job_create"](job, config_xml=xml_text, profile=profile)
                done.append(("created", job))
        elif diff["changed"]:
            updated.append(job)
            if not test:
                __salt__["jenkins.job_update"](job, config_xml=xml_text, profile=profile)
                done.append(("updated", job))
    return created, updated


def _prune(rendered, mark, test, profile, done):
    """Delete the jobs carrying ``mark`` that the YAML no longer renders; returns their
    names (``done`` gets each job deleted)."""
    deleted = []
    for job in __salt__["jenkins.jobs"](profile=profile):
        full = job.get("fullname") or job.get("name")
        if full in rendered:
            continue
        config = __salt__["jenkins.job_config"](full, profile=profile) or ""
        if mark in chain_jenkins_xml.description(config):
            deleted.append(full)
            if not test:
                __salt__["jenkins.job_delete"](full, profile=profile)
                done.append(("deleted", full))
    return deleted


def _written(done):
    """``changes`` for the jobs really written, by verb."""
    changes = {}
    for verb, job in done:
        changes.setdefault(verb, []).append(job)
    return changes


@chain_state_args.checked()
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
    saltenv
        Fileserver environment of a ``salt://`` source (default ``base``).

    .. code-block:: yaml

        ci-jobs:
          jenkins_jobs.applied:
            - source: salt://jobs
            - prune: true
    """
    ret = chain_states.new_ret(name)
    test = __opts__["test"]
    done = []
    try:
        _check(name, source, prune, saltenv, profile)
        mark = MARK.format(name)
        texts = _sources(source.strip(), saltenv)
        rendered = __salt__["jenkins.job_render"]("\n".join(text for _path, text in texts))
        if not rendered:
            raise SaltInvocationError(f"source: {source} renders no job")
        created, updated = _write_jobs(rendered, mark, test, profile, done)
        deleted = _prune(rendered, mark, test, profile, done) if prune else []
    except chain_states.CAUGHT as err:
        steps = [f"{verb} {job}" for verb, job in done]
        return chain_states.fail(ret, err, done=steps, changes=_written(done))
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
