"""
The chain formula's apply-time lookups: the exact commit of a ref on the source server, and the
pipeline's archived artifact of that commit unpacked as a build context.

.. versionadded:: 0.3.0

:depends: ``git`` on the minion (``git ls-remote``), ``hg`` for a Mercurial repository's
    branch or tag (``hg identify``); the ``jenkins`` and ``container`` execution modules.

``formulas/chain`` (``chain.pipeline``, ``chain.image``) calls these through state slots
(``__slot__:salt:chain_pipeline.resolve(...)``), so that nothing is asked of the source server
or of Jenkins while the sls renders: ``state.show_sls`` only renders. Within one state run a
lookup is made once (the answer is kept in ``__context__``), so every state of the run sees the
same commit. :py:func:`resolve` and :py:func:`artifact` never raise for an expected failure:
they answer ``{"result": False, "comment": ...}`` for the guard state to report, and the states
that use their ``commit`` or ``context`` require that guard.

Under ``test=True`` nothing is fetched, unpacked or written: :py:func:`artifact` says which
build's artifact would be fetched and where.

:py:func:`trial` is the image stage's dynamic check (``chain.image``, between the build and the
push): the built image runs once on the build server's engine with the production environment
and must be healthy and name its commit on ``/version`` (``_utils/chain_trial.py`` decides;
this module does the I/O). Under ``test=True`` it starts nothing and says what it would do.
"""

import json
import logging
import os
import re
import secrets
import tarfile
import time
import urllib.error
import urllib.request

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_errors, chain_health, chain_registry, chain_trial
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_health
    import chain_registry
    import chain_trial

log = logging.getLogger(__name__)

__virtualname__ = "chain_pipeline"

FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
VCS = ("git", "hg")
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


def _lookup_hg(ref, url):
    """``hg identify -r ref url``: the full node of a branch, tag, bookmark or revision of the
    Mercurial repository ``url``, or raises with hg's message."""
    found = __salt__["cmd.run_all"](
        ["hg", "identify", "-r", ref, "-T", "{node}\n", "--", url],
        python_shell=False,
        output_loglevel="quiet",
        ignore_retcode=True,
        timeout=30,
        env={"HGPLAIN": "1"},
    )
    node = (found["stdout"] or "").strip().lower() if found["retcode"] == 0 else ""
    if not FULL_COMMIT.match(node):
        why = " ".join((found.get("stderr") or "no such revision").split())[:200]
        raise CommandExecutionError(f"ref {ref} is not a revision of {url} ({why})")
    return node


def _resolved(ref, url, given, vcs="git"):
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
    if vcs not in VCS:
        raise SaltInvocationError(f"vcs: expected git or hg, got {vcs!r}")
    if not url:
        raise SaltInvocationError("url: the source server's repository URL is needed")
    return _lookup_hg(ref, url) if vcs == "hg" else _lookup(ref, url)


def commit(ref, url, commit=None, vcs="git"):  # pylint: disable=redefined-outer-name
    """
    The exact commit (40 hex digits) of ``ref``: ``commit`` when given (it must be a full
    commit id), ``ref`` itself when it is one (a git sha1 or a Mercurial node, taken as is),
    else the branch or tag ``ref`` looked up on the source server ``url``: ``git ls-remote``
    (a peeled tag wins), or ``hg identify`` with ``vcs=hg``. Raises when it cannot be
    resolved. Read only.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.commit main git://127.0.0.1:9419/app.git
        salt build1 chain_pipeline.commit default http://127.0.0.1:8081/hg/app vcs=hg
    """
    return _resolved(ref, url, commit, vcs)


def resolve(ref, url, commit=None, vcs="git"):  # pylint: disable=redefined-outer-name
    """
    :py:func:`commit` as an answer for a state: ``{result, comment, commit}``; ``result`` is
    False (the reason in ``comment``) when the ref cannot be resolved. ``vcs``: ``git`` or
    ``hg`` (a Mercurial repository: ``hg identify``). Asked once per state run. Read only.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.resolve main git://127.0.0.1:9419/app.git
        salt build1 chain_pipeline.resolve default http://127.0.0.1:8081/hg/app vcs=hg
    """

    def ask():
        try:
            found = _resolved(ref, url, commit, vcs)
        except (CommandExecutionError, SaltInvocationError) as err:
            return {"result": False, "comment": str(err), "commit": None}
        what = "commit" if str(ref).strip().lower() == found else f"ref {ref}"
        return {"result": True, "comment": f"{what} is {found}", "commit": found}

    return _remembered(("resolve", str(ref), str(url), str(commit), str(vcs)), ask)


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


def artifact(job, ref, url, dest, commit=None, profile=None, vcs="git"):  # pylint: disable=redefined-outer-name
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
    found = resolve(ref, url, commit=commit, vcs=vcs)
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


def _json_arg(value, field):
    """A mapping passed by a slot as JSON text (slots cannot carry a mapping)."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError as err:
            raise SaltInvocationError(f"{field}: bad JSON") from err
    return value


def _get(url, timeout=5):
    """``(status, body)`` of a GET (an error status is an answer, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read(4096)
    except urllib.error.HTTPError as err:
        return err.code, err.read(4096)
    except (urllib.error.URLError, OSError) as err:
        return None, str(getattr(err, "reason", err)).encode()


def _in_registry(image, profile):
    """True when the registry already serves this very image (pushed after a passed trial)."""
    local = __salt__["container.image_inspect"](image, profile=profile)
    if local is None:
        raise CommandExecutionError(f"image {image} is not on the build server's engine")
    try:
        remote = __salt__["container.registry_digest"](image)
    except CommandExecutionError:
        return False
    repo = chain_registry.split_repo_tag(image)[0]
    return bool(remote) and f"{repo}@{remote}" in (local.get("RepoDigests") or [])


def _wait_ready(name, timeout, profile):
    """Wait (at most ``timeout`` seconds) until the container is ready; None or why not."""
    started, watch = time.monotonic(), chain_health.Watch()
    while True:
        data = __salt__["container.inspect"](name, profile=profile)
        now = time.monotonic()
        verdict = chain_trial.judged(watch, name, data, now)
        waited = now - started
        if verdict == "ready":
            return data, None
        if verdict == "failed" or waited >= timeout:
            return data, chain_trial.why_not_ready(data, round(waited, 1))
        time.sleep(0.5)


def _try(image, name, commit, opts, timeout, profile):
    """Run the trial container and check it: None when it passed, else why."""
    __salt__["container.run"](image, name, profile=profile, pull="never", **opts)
    data, problem = _wait_ready(name, timeout, profile)
    if problem:
        return problem
    port = chain_trial.published_port(data, opts["ports"][0].rsplit(":", 1)[1])
    if port is None:
        return "its port is not published on 127.0.0.1"
    base = f"http://127.0.0.1:{port}"
    return chain_trial.health_problem(*_get(base + "/health")) or chain_trial.version_problem(
        *_get(base + "/version"), commit
    )


def _tried(image, app, found, spec, timeout, profile):
    """The trial of ``found["commit"]``'s image (not under test): ``{result, comment, ...}``."""
    commit = found["commit"]
    if _in_registry(image, profile):
        comment = f"{image} (commit {commit}) is in the registry: it passed its trial before"
        return {"result": True, "comment": comment, "commit": commit, "container": None}
    name = chain_trial.container_name(app, commit, secrets.token_hex(3))
    started = time.monotonic()
    try:
        problem = _try(image, name, commit, spec, timeout, profile)
    finally:
        try:
            __salt__["container.remove"](name, force=True, profile=profile)
        except CommandExecutionError as err:
            log.warning("chain_pipeline.trial: could not remove %s: %s", name, err)
    log.info(
        "chain_pipeline.trial %s %s in %.1fs: %s", image, name, time.monotonic() - started, problem
    )
    return {
        "result": problem is None,
        "comment": chain_trial.verdict(commit, problem),
        "commit": commit,
        "container": name,
    }


def trial(
    image,
    ref,
    url,
    app="app",
    commit=None,  # pylint: disable=redefined-outer-name
    vcs="git",
    environment=None,
    healthcheck=None,
    port=8000,
    labels=None,
    timeout=60,
    profile=None,
):
    """
    The image stage's dynamic check, before ``image`` is pushed: a container of it runs on this
    minion's engine (``profile``) with the production ``environment`` and ``healthcheck`` (the
    deploy's ``service.environment`` and ``service.healthcheck``), ``port`` published on a free
    port of 127.0.0.1 only, named ``<app>-trial-<commit>-<random>``; it must be healthy within
    ``timeout`` seconds, answer ``/health`` with 200 and name the commit of ``ref`` on
    ``/version``. The container is removed whatever happens. Returns ``{result, comment,
    commit, container}``: ``comment`` is one line naming the commit and, on a failure, why
    (the health check's last output, or what ``/health`` or ``/version`` answered). An image
    the registry already serves (pushed after its trial) is not tried again. The mappings may
    be given as JSON text (as a state slot passes them). Under ``test=True`` nothing is started:
    ``comment`` says what would be tried. Done once per state run.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_pipeline.trial 127.0.0.1:5050/chain/app:main main \
            git://127.0.0.1:9419/app.git environment='{"APP_ENV": "production"}'
    """
    found = resolve(ref, url, commit=commit, vcs=vcs)
    if not found["result"]:
        return dict(found, container=None)
    try:
        timeout = chain_errors.as_number(timeout, "timeout", minimum=1)
        spec = chain_trial.options(
            _json_arg(environment, "environment"),
            _json_arg(healthcheck, "healthcheck"),
            port,
            _json_arg(labels, "labels"),
            found["commit"],
        )
        if isinstance(profile, str) and profile.startswith("{"):
            profile = _json_arg(profile, "profile")  # an inline profile, as JSON text
    except SaltInvocationError as err:
        return dict(found, result=False, comment=f"trial: {err}", container=None)
    if __opts__.get("test"):
        comment = (
            f"would start {image} (commit {found['commit']}) with the production environment "
            f"on 127.0.0.1, check that it is healthy within {timeout:g}s and that /version "
            "names the commit, remove it, and only then push"
        )
        return dict(found, comment=comment, container=None)

    def run():
        try:
            return _tried(image, app, found, spec, timeout, profile)
        except (CommandExecutionError, SaltInvocationError) as err:
            problem = " ".join(str(err).split())[:300]
            return {
                "result": False,
                "comment": chain_trial.verdict(found["commit"], problem),
                "commit": found["commit"],
                "container": None,
            }

    return _remembered(("trial", image, found["commit"], bool(__opts__.get("test"))), run)
