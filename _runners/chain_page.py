"""
The team's page: what the chain did and what runs where, as one self-refreshing page served by
salt-api.

.. versionadded:: 0.3.0

``write`` gathers the page's data and writes two files into ``<cachedir>/saltext-chain/page/``
(atomically: a temporary file, then a rename): ``index.html`` (the page, every section rendered,
inline CSS and script, no external asset) and ``chain.json`` (the data and the rendered sections;
the page fetches it every 2 s and swaps the sections in). salt-api's ``rest_cherrypy`` serves
that directory without a Salt token with its ``static`` option: the page is
``http://<host>:<port><static_path>/index.html``. (Not its ``app`` option: with ``app`` set,
salt-api answers every request whose ``Accept`` header is missing or ends in ``*/*`` with the
app, a webhook delivery's POST too.)

What it gathers: the push queue's ``snapshot`` (pushes and runs with their stages), every app's
rollout history, ``chain.status``'s data (digests per server and replica, the Jenkins agents and
pools; at most every ``status_interval`` seconds and after a run ended), the test counts and
coverage of the pipeline's builds (``dist/junit.xml`` and ``dist/coverage.json`` archived by the
build, read once per build number and cached) and the ``container_events`` beacon's events that
``record`` stored.

:configuration: In the master config (all optional):

    .. code-block:: yaml

        chain:
          page:
            status_interval: 30      # seconds between two chain.status gathers
            events: 500              # beacon events kept
            limit: 50                # pushes and runs shown
        rest_cherrypy:               # salt-api serves the page
          port: 8000
          host: 127.0.0.1
          disable_ssl: true
          static: /var/cache/salt/master/saltext-chain/page
          static_path: /page         # http://127.0.0.1:8000/page/index.html
"""

import contextlib
import fcntl
import json
import logging
import os
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_errors,
        chain_jenkins_builds,
        chain_jenkins_client,
        chain_push_queue,
        chain_push_verify,
        chain_run_store,
        chain_team_page,
    )
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_builds
    import chain_jenkins_client
    import chain_push_queue
    import chain_push_verify
    import chain_run_store
    import chain_team_page

log = logging.getLogger(__name__)

__virtualname__ = "chain_page"
page = chain_team_page
REPORTS = {"tests": "dist/junit.xml", "coverage": "dist/coverage.json"}


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# The master's files
# ---------------------------------------------------------------------------------------------


def _base(*parts):
    return os.path.join(__opts__["cachedir"], "saltext-chain", *parts)


def _conf():
    conf = (__opts__.get("chain") or {}).get("page") or {}
    return {
        "status_interval": chain_errors.as_number(
            conf.get("status_interval", 30), "chain:page:status_interval", minimum=0
        ),
        "events": chain_errors.as_int(conf.get("events", 500), "chain:page:events", minimum=1),
        "limit": chain_errors.as_int(conf.get("limit", 50), "chain:page:limit", minimum=1),
    }


def _apps():
    return sorted((__opts__.get("chain") or {}).get("apps") or {})


def _served_at(name):
    """Where salt-api serves a file of the page: its ``static_path`` (``/static`` by default),
    from the master config that salt-api reads too."""
    api = __opts__.get("rest_cherrypy") or {}
    return (api.get("static_path") or "/static").rstrip("/") + "/" + name


def _write_atomic(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _read_json(path, default):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


@contextlib.contextmanager
def _locked(name, wait=True):
    """An exclusive ``flock`` on ``page-state/<name>.lock``: yields whether it was taken (always
    ``True`` with ``wait``)."""
    path = os.path.join(chain_run_store.directory(_base("page-state")), f"{name}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# The cheap parts: the queue, the history, the rollouts running now
# ---------------------------------------------------------------------------------------------


def _queue(limit):
    path = _base("push-queue.sqlite")
    if not os.path.exists(path):
        return {"pushes": [], "runs": []}
    try:
        return chain_push_queue.snapshot(path, limit=limit)
    except Exception as err:  # noqa: BLE001 - the page shows why, the rest still renders
        log.warning("chain_page: the push queue cannot be read: %s", err)
        return {"pushes": [], "runs": [], "error": f"the push queue cannot be read: {err}"}


def _history(limit):
    root = os.path.join(__opts__["cachedir"], "chain")
    apps = set(_apps())
    with contextlib.suppress(OSError):
        apps |= {f[:-6] for f in os.listdir(os.path.join(root, "history")) if f.endswith(".jsonl")}
    return {app: chain_run_store.read(root, app, limit) for app in sorted(apps)}


def _rollouts_now():
    """When each rollout holding an app's lock now started (the lock file names its holder,
    emptied on release; a dead holder's PID does not count). Only reads: never takes a lock."""
    out = []
    locks = os.path.join(__opts__["cachedir"], "chain", "locks")
    with contextlib.suppress(OSError):
        for name in os.listdir(locks):
            holder = _read_json(os.path.join(locks, name), None)
            if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
                continue
            try:
                os.kill(holder["pid"], 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            out.append(holder.get("started") or time.time())
    return out


# ---------------------------------------------------------------------------------------------
# The expensive part: chain.status over the minions, the builds' reports
# ---------------------------------------------------------------------------------------------


def _config_get(key, default=None):
    """``config.get`` on the master: its config, then its pillar."""
    return __salt__["salt.cmd"]("config.get", key, default, with_pillar=True)


def _app_status(app):
    try:
        return __salt__["chain.status"](app, out_format="data", tags=0)[app]
    except (CommandExecutionError, SaltInvocationError) as err:
        return {"error": str(err)}


def _reports(client, job, number):
    """``{tests, coverage}`` of one build from its archived reports (``None`` where absent)."""
    out = {}
    for key, path in REPORTS.items():
        try:
            text = chain_jenkins_builds.artifact(client, job, path, number)
        except chain_jenkins_client.JenkinsNotFound:
            out[key] = None
            continue
        out[key] = page.junit_counts(text) if key == "tests" else page.coverage_percent(text)
    return out


def _builds(app, status):
    """The pipeline's last builds with their test counts and coverage; the reports of a finished
    build are read once and kept in ``page-state/builds-<app>.json`` by build number."""
    found = status.get("jenkins") or {}
    builds = found.get("builds") or []
    app_conf = ((__opts__.get("chain") or {}).get("apps") or {}).get(app) or {}
    job, profile = app_conf.get("jenkins_job"), app_conf.get("jenkins_profile")
    path = os.path.join(chain_run_store.directory(_base("page-state")), f"builds-{app}.json")
    cached = _read_json(path, {})
    todo = page.finished_builds(builds, cached)
    if todo and job and profile:
        try:
            client = chain_jenkins_client.get(
                chain_jenkins_client.connection(profile, _config_get), __context__
            )
            for number in todo:
                cached[str(number)] = _reports(client, job, number)
        except (CommandExecutionError, SaltInvocationError) as err:
            log.warning("chain_page: the reports of %s's builds cannot be read: %s", app, err)
        _write_atomic(path, json.dumps(cached, sort_keys=True))
    return [dict(b, **(cached.get(str(b.get("number"))) or {})) for b in builds]


def _expensive(runs, interval, force):
    """The last gathered ``{at, status, builds}``, gathered again first when due (and no other
    write is gathering it now)."""
    path = _base("page-state", "status.json")
    last = _read_json(path, {})
    now = time.time()
    if not (force or page.status_due(last.get("at"), runs, now, interval)):
        return last
    with _locked("status", wait=False) as mine:
        if not mine:
            return last
        status = {app: _app_status(app) for app in _apps()}
        builds = {app: _builds(app, st) for app, st in status.items() if "error" not in st}
        last = {"at": now, "status": status, "builds": builds}
        _write_atomic(path, json.dumps(last, sort_keys=True, default=str))
    return last


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def write(refresh=None):
    """
    Gather the page's data and write ``index.html`` and ``chain.json`` into
    ``<cachedir>/saltext-chain/page/``. The queue and the history are read every time;
    ``chain.status`` over the minions (and the new builds' reports) when it is due: never
    gathered, older than ``chain:page:status_interval`` seconds, or a run ended since.
    Returns ``{path, url, data, generated, status_at, runs, pushes, events}`` (``url`` and
    ``data``: the page's and the data's paths on salt-api).

    refresh
        ``True`` gathers ``chain.status`` now; ``False`` never (the last one is shown).

    CLI Example:

    .. code-block:: bash

        salt-run chain_page.write
        salt-run chain_page.write refresh=True
    """
    conf = _conf()
    queue = _queue(conf["limit"])
    history = _history(conf["limit"])
    if refresh is None or chain_errors.as_bool(refresh, "refresh"):
        force = refresh is not None
        expensive = _expensive(queue.get("runs"), conf["status_interval"], force)
    else:
        expensive = _read_json(_base("page-state", "status.json"), {})
    events = _read_json(_base("page-state", "events.json"), [])
    with _locked("write"):
        now = time.time()
        windows = page.rollout_windows(history, queue.get("runs"), now, _rollouts_now())
        data = page.merge({"queue": queue, "history": history}, expensive, events, windows, now)
        directory = chain_run_store.directory(_base("page"))
        os.chmod(directory, 0o755)
        _write_atomic(
            os.path.join(directory, "chain.json"),
            json.dumps(page.payload(data), sort_keys=True, default=str),
        )
        _write_atomic(
            os.path.join(directory, "index.html"), page.document(data, _served_at("chain.json"))
        )
    return {
        "path": directory,
        "url": _served_at("index.html"),
        "data": _served_at("chain.json"),
        "generated": now,
        "status_at": data["status_at"],
        "runs": len(queue.get("runs") or []),
        "pushes": len(queue.get("pushes") or []),
        "events": len(events),
    }


def record(event):
    """
    Store one ``container_events`` beacon event (``{tag, data}``: a mapping, JSON, or base64
    of JSON as the reactor ``chain/reactor/supervision.sls`` hands it over) for the page's
    supervision section, then write the page (without gathering ``chain.status``). The store
    keeps the last ``chain:page:events`` events. A death while a rollout holds an app's lock is
    marked as part of a rollout. Anything that is not such an event is refused (logged,
    nothing stored).

    CLI Example:

    .. code-block:: bash

        salt-run chain_page.record event='{"tag": "salt/beacon/web1/container_events/die/app-1",
            "data": {"id": "web1", "action": "die", "name": "app-1", "exit_code": 137,
                     "time": 1795680000.1}}'
    """
    if isinstance(event, str):
        event = chain_push_verify.reaction_event(event) or None
    try:
        evt = page.supervision_event(event)
    except ValueError as err:
        log.warning("chain_page: refused a supervision event: %s", err)
        return {"result": False, "comment": f"refused: {err}"}
    evt["during_rollout"] = bool(_rollouts_now())
    path = _base("page-state", "events.json")
    with _locked("events"):
        events = page.add_events(_read_json(path, []), [evt], _conf()["events"])
        _write_atomic(path, json.dumps(events, sort_keys=True))
    written = write(refresh=False)
    return {"result": True, "comment": f"recorded {evt['action']} of {evt['name']}", **written}
