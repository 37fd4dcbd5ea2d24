"""
The chain formula's apply-time lookups: the exact commit of a ref on the source server, and the
pipeline's archived artifact of that commit unpacked as a build context.

.. versionadded:: 0.3.0

:depends: ``git`` on the minion (``git ls-remote``); the ``jenkins`` execution module.

``formulas/chain`` (``chain.pipeline``, ``chain.image``) calls these through state slots
(``__slot__:salt:chain_pipeline.resolve(...)``), so that nothing is asked of the source server
or of Jenkins while the sls renders: ``state.show_sls`` only renders. Within one state run a
lookup is made once (the answer is kept in ``__context__``), so every state of the run sees the
same commit. :py:func:`resolve` and :py:func:`artifact` never raise for an expected failure:
they answer ``{"result": False, "comment": ...}`` for the guard state to report, and the states
that use their ``commit`` or ``context`` require that guard.

Under ``test=True`` nothing is fetched, unpacked or written: :py:func:`artifact` says which
build's artifact would be fetched and where.
"""

import json
import logging
import os
import re
import tarfile

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "chain_pipeline"

FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
PEELED = "^{}"


def __virtual__():
    return __virtualname__


def _remembered(key, compute):
    """One answer per state run (``__context__`` lives as long as the run's loader)."""
    cache = __context__.setdefault("chain_pipeline", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _pick_commit(ls_remote_output):
    """The commit of ``git ls-remote`` output for a branch and a tag: a peeled tag (``^{}``,
    the commit an annotated tag points to) wins; None when nothing matched."""
    lines = [line.split() for line in ls_remote_output.splitlines() if line.strip()]
    peeled = [parts[0] for parts in lines if parts[-1].endswith(PEELED)]
    found = peeled or [parts[0] for parts in lines]
    return found[0].lower() if found else None


def _lookup(ref, url):
    """``git ls-remote`` of ``ref`` as a branch and as a tag of ``url``: the commit, or raises
    with git's message when it is neither."""
    wanted = [f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}{PEELED}"]
    found = __salt__["cmd.run_all"](
        ["git", "ls-remote", "--", url, *wanted],
        python_shell=False,
        output_loglevel="quiet",
        ignore_retcode=True,
        timeout=30,
    )
    found_commit = _pick_commit(found["stdout"]) if found["retcode"] == 0 else None
    if found_commit is None:
        why = " ".join((found.get("stderr") or "no such ref").split())[:200]
        raise CommandExecutionError(f"ref {ref} is not a branch or tag of {url} ({why})")
    return found_commit


def _resolved(ref, url, given):
    """The commit of ``ref`` (see :py:func:`commit`); raises when it cannot be resolved."""
    given = str(given or "").strip().lower()
    ref = str(ref or "").strip()
    if given:
        if not FULL_COMMIT.match(given):
            raise SaltInvocationError("pillar chain:commit must be a full commit id")
        return given
    if not ref:
        raise SaltInvocationError("pillar chain:ref is empty: the commit to build")
    if FULL_COMMIT.match(ref.lower()):
        return ref.lower()
    if not url:
        raise SaltInvocationError("url: the source server's repository URL is needed")
    return _lookup(ref, url)


def commit(ref, url, commit=None):  # pylint: disable=redefined-outer-name
    """
    The exact commit (40 hex digits) of ``ref``: ``commit`` when given (it must be a full
    commit id), ``ref`` itself when it is one, else the branch or tag ``ref`` looked up on the
    source server ``url`` (``git ls-remote``; a peeled tag wins). Raises when it cannot be
    resolved. Read only.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.commit main git://127.0.0.1:9419/app.git
    """
    return _resolved(ref, url, commit)


def resolve(ref, url, commit=None):  # pylint: disable=redefined-outer-name
    """
    :py:func:`commit` as an answer for a state: ``{result, comment, commit}``; ``result`` is
    False (the reason in ``comment``) when the ref cannot be resolved. Asked once per state run.
    Read only.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.resolve main git://127.0.0.1:9419/app.git
    """

    def ask():
        try:
            found = _resolved(ref, url, commit)
        except (CommandExecutionError, SaltInvocationError) as err:
            return {"result": False, "comment": str(err), "commit": None}
        what = "commit" if str(ref).strip().lower() == found else f"ref {ref}"
        return {"result": True, "comment": f"{what} is {found}", "commit": found}

    return _remembered(("resolve", str(ref), str(url), str(commit)), ask)


def _unpack(tarball, into):
    """Unpack the pipeline's ``git archive`` (everything under ``app/``) into ``into``."""
    with tarfile.open(tarball, "r:gz") as archive:
        archive.extractall(into, filter="data")


def _fetch(job, found, dest, profile):
    """The artifact of commit ``found`` under ``dest``, fetched and unpacked where missing (not
    under test): ``{result, comment, commit, context, build}``."""
    folder = os.path.join(dest, found)
    tarball = os.path.join(folder, f"app-{found}.tar.gz")
    context = os.path.join(folder, "app")
    ret = {"result": True, "commit": found, "context": context, "build": None}
    if os.path.isfile(os.path.join(context, "Dockerfile")):
        ret["comment"] = f"the artifact of commit {found} is unpacked in {context}"
        return ret
    fetch = None
    if not os.path.isfile(tarball):
        build = __salt__["jenkins.last_build_with"](job, parameters={"REF": found}, profile=profile)
        if not build or build.get("result") != "SUCCESS":
            last = f" (the last one: {build.get('result')})" if build else ""
            ret.update(result=False, context=None)
            ret["comment"] = (
                f"no successful build of {job} for commit {found}{last}: "
                "the pipeline stage (chain.pipeline) runs it"
            )
            return ret
        ret["build"] = build["number"]
        fetch = f"dist/app-{found}.tar.gz of build #{build['number']} of {job}"
    if __opts__.get("test"):
        what = f"would fetch {fetch} and unpack it" if fetch else f"would unpack {tarball}"
        ret["comment"] = f"{what} into {context} (commit {found})"
        return ret
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if fetch:
        partial = f"{tarball}.part"  # renamed once complete: a cut download is fetched again
        __salt__["jenkins.artifact"](
            job, f"dist/app-{found}.tar.gz", number=ret["build"], dest=partial, profile=profile
        )
        os.replace(partial, tarball)
    _unpack(tarball, folder)
    done = f"fetched {fetch} and unpacked it" if fetch else f"unpacked {tarball}"
    ret["comment"] = f"{done} into {context}"
    return ret


def artifact(job, ref, url, dest, commit=None, profile=None):  # pylint: disable=redefined-outer-name
    """
    The build context of the commit of ``ref``: the archived ``dist/app-<commit>.tar.gz`` of the
    newest successful build of ``job`` with ``REF=<commit>``, fetched once into
    ``dest/<commit>/`` and unpacked there (``dest/<commit>/app``). Returns
    ``{result, comment, commit, context, build}``: ``result`` False (the reason in ``comment``)
    when the ref cannot be resolved or no successful build of that commit exists; ``build`` is
    the number of the build fetched from (None when nothing had to be fetched). Done once per
    state run. Under ``test=True`` nothing is fetched or written: ``comment`` says what would be.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.artifact app-pipeline main git://127.0.0.1:9419/app.git /srv/a
    """
    found = resolve(ref, url, commit=commit)
    if isinstance(profile, str) and profile.startswith("{"):
        try:
            profile = json.loads(profile)  # an inline profile, passed by a slot as JSON text
        except ValueError:
            return dict(found, result=False, context=None, build=None, comment="profile: bad JSON")
    if not found["result"]:
        return dict(found, context=None, build=None)
    if not dest or not os.path.isabs(str(dest)):
        return dict(
            found, result=False, context=None, build=None, comment="dest: expected an absolute path"
        )

    def fetch():
        try:
            return _fetch(job, found["commit"], str(dest), profile)
        except (CommandExecutionError, SaltInvocationError, OSError, tarfile.TarError) as err:
            log.debug("chain_pipeline.artifact %s %s", job, found["commit"], exc_info=True)
            return {
                "result": False,
                "comment": f"the artifact of commit {found['commit']} of {job}: {err}",
                "commit": found["commit"],
                "context": None,
                "build": None,
            }

    test = bool(__opts__.get("test"))
    return _remembered(("artifact", job, found["commit"], str(dest), str(profile), test), fetch)
