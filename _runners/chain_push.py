"""
From a push to a chain run, on the master: verify, refuse or queue, then run the queue.

.. versionadded:: 0.3.0

The reactor hands every ``chain/push/source`` event (the source server's minion) and every
``salt/netapi/hook/chain/push`` event (a forge, through salt-api) to :func:`receive` as data;
it checks the event (:mod:`chain_push_verify`), records the push once in the durable queue
(:mod:`chain_push_queue`, sqlite in ``<cachedir>/saltext-chain/push-queue.sqlite``) and starts
:func:`drain`, the worker: one per app (a lease in the queue), newest push per branch first, each
run a ``state.orchestrate`` of the chain with pillar ``chain:{ref, run_id, deploy, vcs, repo}``.
:func:`check` (a master schedule) asks the source server for its branch heads and queues what
was missed. Events: ``chain/push/accepted|refused|duplicate``, ``chain/run/<id>/start|done``.

:configuration: The master config (see ``docs/push.md``):

    .. code-block:: yaml

        chain:
          push:
            source_minion: build1
            deploy_branch: main
            branches: ["*"]
            repos:
              app: {app: app, vcs: git}
              app-hg: {app: app, vcs: hg}      # deploy branch "default"
            orchestrate: chain                 # per repo: repos:<repo>:orchestrate
            webhook: {max_body: 1048576, key_pillar: chain:push:webhook_key}
            poll_interval: 60
            reconnect_grace: 90                # a push made while it was down waits for minions
"""

import contextlib
import contextvars
import copy
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import salt.client
import salt.key
import salt.pillar
import salt.utils.data
import salt.utils.dictupdate
import salt.utils.event
from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_errors, chain_push_queue, chain_push_verify
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_push_queue
    import chain_push_verify

log = logging.getLogger(__name__)

__virtualname__ = "chain_push"
queue_db = chain_push_queue
verify = chain_push_verify
_KEYS = {}
KEY_TTL = 30.0
HEARTBEAT = 10.0


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Configuration, the queue's file, events
# ---------------------------------------------------------------------------------------------


def _settings():
    return verify.settings((__opts__.get("chain") or {}).get("push"))


def _db():
    return queue_db.path_in(__opts__["cachedir"])


def _fire(tag, data):
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
            bus.fire_event(data, tag)
    except Exception as err:  # noqa: BLE001 - an event never breaks a run
        log.warning("chain_push: could not fire %s: %s", tag, err)


def _master_pillar_value(path):
    """A value of the master's own pillar (cached ``KEY_TTL`` s; a key: never logged)."""
    cached = _KEYS.get(path)
    if cached and time.monotonic() - cached[1] < KEY_TTL:
        return cached[0]
    minion_id = __opts__["id"]
    pillar = salt.pillar.Pillar(__opts__, {"id": minion_id}, minion_id, "base").compile_pillar()
    value = salt.utils.data.traverse_dict_and_list(pillar, path, None, delimiter=":")
    value = str(value) if value not in (None, "") else None
    _KEYS[path] = (value, time.monotonic())
    return value


def _webhook_key(conf):
    """The webhook's HMAC key (``webhook:key_pillar`` in the master's pillar)."""
    return _master_pillar_value(conf["webhook"]["key_pillar"])


def _source_key(conf):
    """The source records' HMAC key (``source_key_pillar``), or None: records are unsigned."""
    return _master_pillar_value(conf["source_key_pillar"]) if conf["source_key_pillar"] else None


# ---------------------------------------------------------------------------------------------
# Receiving
# ---------------------------------------------------------------------------------------------


def _verified(tag, data, conf):
    """``(record, source)`` or :class:`chain_push_verify.Refused`."""
    if tag == verify.SOURCE_TAG:
        return verify.verify_minion_event(data, conf, _source_key(conf)), "minion"
    if tag == verify.WEBHOOK_TAG:
        record = verify.verify_webhook(data, conf, _webhook_key(conf))
        if queue_db.seen(_db(), record["delivery"]):
            raise verify.Refused("replayed", f"delivery {record['delivery']} was seen before")
        return record, "webhook"
    raise verify.Refused("malformed", f"tag {str(tag)[:80]!r} is not a push tag")


def _refused_before(err, tag, data, source):
    """Record a refusal of the source minion's own record (:attr:`Refused.vouched`) as the
    delivery's receipt, so that the forwarder stops sending it: True when it was recorded
    before (this is a re-send: logged at INFO only, not fired again)."""
    record = data.get("data") if isinstance(data, dict) else None
    delivery = record.get("delivery") if isinstance(record, dict) else None
    if not (err.vouched and tag == verify.SOURCE_TAG and isinstance(delivery, str)):
        return False
    if not verify.DELIVERY.match(delivery):
        return False
    if queue_db.refuse(_db(), delivery, source, str(err)):
        return False
    log.info("chain_push: delivery %s from %s again, refused before: %s", delivery, source, err)
    return True


def _refuse(err, tag, data):
    source = "webhook"
    if tag != verify.WEBHOOK_TAG:
        source = str((data or {}).get("id") if isinstance(data, dict) else None)[:80]
    if _refused_before(err, tag, data, source):
        return {"result": False, "refused": err.reason, "comment": f"{err} (again)"}
    event = {"reason": str(err), "source": source}
    headers = (data or {}).get("headers") if isinstance(data, dict) else None
    for name, value in (headers or {}).items() if isinstance(headers, dict) else ():
        if name.lower() in ("x-github-delivery", "x-gitea-delivery") and isinstance(value, str):
            if verify.DELIVERY.match(value):
                event["delivery"] = value
    log.warning("chain_push: refused a push from %s: %s", source, err)
    _fire("chain/push/refused", event)
    return {"result": False, "refused": err.reason, "comment": str(err)}


def _event_of(event):
    """The reaction's ``event`` (:func:`chain_push_verify.reaction_event`)."""
    return verify.reaction_event(event)


def receive(event, background=True):
    """
    Check one push event and queue it (the reactor calls this; ``event`` is ``{tag, data}``,
    as a mapping, JSON, or base64 of JSON as the reactor files pass it).
    A refusal is logged once at WARNING with its reason and fired as ``chain/push/refused``;
    nothing is queued. An accepted push is fired as ``chain/push/accepted``, then the worker
    (:func:`drain`) starts: in a thread of this process when ``background`` (the default: the
    answer comes back at once), else before returning.

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.receive event='{"tag": "chain/push/source", "data": {...}}'
    """
    event = _event_of(event)
    tag, data = event.get("tag"), event.get("data")
    conf = _settings()
    try:
        record, kind = _verified(tag, data, conf)
    except verify.Refused as err:
        return _refuse(err, tag, data)
    # the seed (scripts/chain.py up/deploy, the chain.source formula pushing the operator's
    # checkout through the git daemon) is run by the orchestrate that seeded it: recorded, so
    # that the poll check knows the commit, never run a second time
    seeded = record.get("pusher") == "seed" and record.get("via") == "git-daemon"
    got = queue_db.enqueue(_db(), record, final="seeded" if seeded else None)
    if got["duplicate"] and kind == "webhook":
        return _refuse(verify.Refused("replayed", "the delivery was seen before"), tag, data)
    if got["duplicate"]:
        log.info("chain_push: delivery %s again: nothing to do", record["delivery"])
        _fire("chain/push/duplicate", {"push": got["push"], "delivery": record["delivery"]})
        return {"result": True, "push": got["push"], "comment": "nothing to do (duplicate)"}
    _fire(
        "chain/push/accepted",
        {
            "push": got["push"],
            "delivery": record["delivery"],
            "repo": record["repo"],
            "branch": record["branch"],
            "commit": record["after"],
            "pusher": record["pusher"],
            "via": record["via"],
        },
    )
    ret = {"result": True, "push": got["push"], "state": got["state"]}
    if seeded:
        _page()
        return dict(ret, comment=f"push {got['push']} seeded by the orchestrate that runs it")
    if chain_errors.as_bool(background, "background"):
        _in_background(record["app"])
        return dict(ret, comment=f"queued push {got['push']}; the worker runs it")
    return dict(ret, drain=drain(record["app"]))


def _in_background(app):
    """Start the worker (:func:`drain` of ``app``) as a ``salt-run`` process of its own, with
    this master's configuration, and return at once.

    Not a thread of the caller: a runner called by the reactor (or the master's schedule)
    lives in a master process whose Salt clients the master refuses (the chain's rollout and
    status publish jobs with ``LocalClient``: "Authentication failure of type user"), and a
    run takes minutes of the reactor's thread pool. A worker process is what ``salt-run``
    gives an operator; the app's lease keeps it alone.

    None is started while a live worker holds the app's lease: the push was queued before
    this looks, and that worker looks for work again after it gives the lease back, so the
    push is never left behind. (A burst of 50 pushes started 50 ``salt-run`` processes, about
    1.7 CPU-s each, to find the lease held: the master's machine stalled under them.)"""
    holder = queue_db.held(_db(), app)
    if holder is not None:
        log.info(
            "chain_push: the worker of %s (pid %s) is running: it takes the push",
            app,
            holder["pid"],
        )
        return
    conf_file = __opts__.get("conf_file")
    salt_run = os.path.join(os.path.dirname(sys.executable), "salt-run")
    if not conf_file or not os.path.exists(salt_run):
        ctx = contextvars.copy_context()  # no salt-run to start: a thread, as a last resort
        threading.Thread(
            target=ctx.run, args=(_drain_logged, app), name=f"chain-push-{app}", daemon=True
        ).start()
        return
    cmd = [salt_run, "-c", os.path.dirname(conf_file), "chain_push.drain", f"app={app}"]
    subprocess.Popen(  # pylint: disable=consider-using-with
        [*cmd, "--out=json", "--log-level=quiet"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not stopped with the reactor's process group
        close_fds=True,
    )
    log.info("chain_push: worker of %s started: %s", app, " ".join(cmd))


def _drain_logged(app):
    try:
        drain(app)
    except Exception:  # noqa: BLE001 - a thread has no caller to report to
        log.exception("chain_push: the worker of %s stopped", app)


# ---------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------


class _Heartbeat(threading.Thread):
    """Renews the app's lease every ``HEARTBEAT`` s while the worker runs."""

    def __init__(self, db, app, holder):
        super().__init__(name=f"chain-push-heartbeat-{app}", daemon=True)
        self.db, self.app, self.holder = db, app, holder
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(HEARTBEAT):
            try:
                queue_db.heartbeat(self.db, self.app, self.holder)
            except Exception as err:  # noqa: BLE001
                log.warning("chain_push: heartbeat of %s: %s", self.app, err)


class _StageRecorder(threading.Thread):
    """Records a run's ``chain/run/<id>/stage/<stage>/start|done`` events from the master bus
    into the queue while the run's orchestrate fires them."""

    def __init__(self, opts, db, rid):
        super().__init__(name=f"chain-push-stages-{rid}", daemon=True)
        # the loader's context (__salt__, __opts__), which a new thread does not inherit: the
        # page writer needs __salt__ (without it the thread died after the first event)
        self.ctx = contextvars.copy_context()
        self.opts, self.db, self.rid = opts, db, rid
        self.prefix = f"chain/run/{rid}/stage/"
        self.ready, self.done = threading.Event(), threading.Event()

    def run(self):
        self.ctx.run(self._listen)

    def _listen(self):
        try:
            with salt.utils.event.get_master_event(
                self.opts, self.opts["sock_dir"], listen=True
            ) as bus:
                self.ready.set()
                quiet_since = None
                while True:
                    ev = bus.get_event(wait=0.2, tag=self.prefix, full=True)
                    if ev:
                        self._record(ev)
                        quiet_since = None
                    elif self.done.is_set():
                        quiet_since = quiet_since or time.monotonic()
                        # the orchestrate returned: its last events may still be on the
                        # way (the worker is a process of its own, not the master's)
                        if time.monotonic() - quiet_since > 2:
                            return
        except Exception as err:  # noqa: BLE001 - stages are progress, not the run
            log.warning("chain_push: stage events of %s not recorded: %s", self.rid, err)
        finally:
            self.ready.set()

    def _record(self, ev):
        parts = ev["tag"][len(self.prefix) :].split("/")
        data = ev.get("data") or {}
        if len(parts) != 2 or parts[1] not in ("start", "done"):
            return
        comment = str(data.get("comment") or "").splitlines()
        queue_db.record_stage(
            self.db,
            self.rid,
            parts[0][:40],
            parts[1],
            data.get("at") or time.time(),
            data.get("result"),
            comment[0][:300] if comment else None,
        )
        _page()


def _failure(running):
    """``(failure, console_tail)`` of an orchestrate's return: the first failing state's
    comment (not a "requisite failed"), its first line and its last 40 lines."""
    if not isinstance(running, dict):
        text = "; ".join(str(x) for x in running) if isinstance(running, list) else str(running)
        return text.splitlines()[0][:500] if text else "the orchestrate failed", text[-4000:]
    failed = sorted(
        (s for s in running.values() if isinstance(s, dict) and s.get("result") is False),
        key=lambda s: s.get("__run_num__", 0),
    )
    real = [s for s in failed if "requisite failed" not in str(s.get("comment"))] or failed
    if not real:
        return "the orchestrate failed", None
    state = real[0]
    comment = str(state.get("comment") or "")
    name = state.get("__id__") or state.get("name") or "a state"
    first = comment.splitlines()[0] if comment else "failed"
    return f"{name}: {first}"[:500], "\n".join(comment.splitlines()[-40:]) or None


def _orchestrate(conf, claim):
    """Run the repository's orchestrate for a claimed push: ``(state, failure, tail)``."""
    pillar = {
        "chain": {
            "ref": claim["commit"],
            "run_id": claim["run_id"],
            "deploy": bool(claim["deploy"]),
            "vcs": claim["vcs"],
            "repo": claim["repo"],
        }
    }
    repo_conf = conf["repos"].get(claim["repo"], {})
    extra = repo_conf.get("pillar") or {}
    if extra:  # the repository's own pillar (chain:push:repos:<repo>:pillar) under the run's
        pillar = salt.utils.dictupdate.merge(
            copy.deepcopy(extra), pillar, strategy="recurse", merge_lists=False
        )
    sls = repo_conf.get("orchestrate") or conf["orchestrate"]
    try:
        ret = __salt__["state.orchestrate"](sls, saltenv="base", pillar=pillar)
    except Exception as err:  # noqa: BLE001 - a run that raises is a failed run
        log.exception("chain_push: run %s raised", claim["run_id"])
        return "failed", f"the orchestrate raised: {err}"[:500], None
    if isinstance(ret, dict) and ret.get("retcode") == 0:
        return ("deployed" if claim["deploy"] else "built"), None, None
    data = (ret or {}).get("data") if isinstance(ret, dict) else ret
    running = next(iter(data.values()), data) if isinstance(data, dict) and data else data
    failure, tail = _failure(running)
    return "failed", failure, tail


def _page(refresh=False):
    """Rewrite the team's page (``chain_page.write``) after a step: from the queue and the
    history only (milliseconds), unless ``refresh`` is None (after a run: ``chain.status`` is
    gathered again when due, which reads every server). A page that cannot be written never
    stops a run."""
    write = __salt__.get("chain_page.write") if hasattr(__salt__, "get") else None
    if write is None:
        return
    try:
        write(refresh=refresh)
    except Exception as err:  # noqa: BLE001 - the page is a view of the queue, not the run
        log.warning("chain_push: the team's page was not written: %s", err)


def _master_started():
    """When this master started (its pidfile's time), or None."""
    try:
        return os.stat(__opts__["pidfile"]).st_mtime
    except (KeyError, OSError, TypeError):
        return None


def _await_minions(conf, rid, pushed_at):
    """For a push made before this master started (while it was down or restarting), in the
    master's first ``reconnect_grace`` seconds: wait until every accepted minion answers.
    Minions reconnect to a restarted master on their own back-off (``recon_max``, up to tens of
    seconds on a loaded machine), and a run started before its servers are back would fail
    them as unreachable. Other runs, or once all answer, wait for nothing and publish nothing
    (a minion that is down is the orchestrate's to report, within seconds). Returns the
    silent ones."""
    grace = float(conf.get("reconnect_grace") or 0)
    started = _master_started()
    if not grace or started is None or time.time() - started >= grace:
        return []
    if not isinstance(pushed_at, (int, float)) or pushed_at >= started:
        return []
    minions = salt.key.get_key(__opts__).list_status("acc").get("minions") or []
    missing, told = list(minions), False
    client = _local_client()
    try:
        while missing:
            ret = client.cmd(missing, "test.ping", tgt_type="list", timeout=3)
            missing = [m for m in missing if ret.get(m) is not True]
            if not missing or time.time() - started >= grace:
                break
            if not told:
                told = True
                log.info("chain_push: run %s waits for %s to reconnect", rid, ", ".join(missing))
                _fire(f"chain/run/{rid}/waiting", {"minions": missing})
    finally:
        client.destroy()
    return missing


def _run(conf, claim):
    """One claimed run: events, the no-op check, the orchestrate, its result."""
    db, rid, started = _db(), claim["run_id"], time.time()
    _fire(
        f"chain/run/{rid}/start",
        {
            k: claim[k]
            for k in ("app", "repo", "branch", "commit", "deploy", "pushes", "superseded")
        },
    )
    _page()
    forced = bool((claim.get("push") or {}).get("replay"))
    if (
        not forced
        and queue_db.last_run_commit(db, claim["repo"], claim["branch"]) == claim["commit"]
    ):
        state, failure, tail = "nothing to do", None, None
    else:
        outcome = None
        with _unless_stopped():
            _await_minions(conf, rid, (claim.get("push") or {}).get("pushed_at"))
            recorder = _StageRecorder(__opts__, db, rid)
            recorder.start()
            recorder.ready.wait(10)
            try:
                outcome = _orchestrate(conf, claim)
            finally:
                recorder.done.set()
                recorder.join(5)
        if _STOP.is_set():
            return _interrupted(db, claim)
        state, failure, tail = outcome
    queue_db.finish(db, rid, state, failure=failure, console_tail=tail)
    done = {"result": state, "duration": round(time.time() - started, 3)}
    if failure:
        done["failure"] = failure
    _fire(f"chain/run/{rid}/done", done)
    _page(refresh=None)
    log.info("chain_push: run %s of %s@%s: %s", rid, claim["branch"], claim["commit"][:12], state)
    return dict(done, run_id=rid, branch=claim["branch"], commit=claim["commit"])


# Set by SIGTERM or SIGINT while a worker runs in its process's main thread (_stop_on_signals).
_STOP = threading.Event()
STOPPED = "interrupted: its worker was stopped (SIGTERM or SIGINT: the master going down); re-run"


@contextlib.contextmanager
def _stop_on_signals():
    """While a worker runs in a process's main thread (``salt-run chain_push.drain``, what the
    reactor and the schedule start): SIGTERM or SIGINT sets :data:`_STOP`, then salt-run's own
    handler ends the process as before. A master going down stops its workers with it (its
    service manager signals every process of the master; so do pytest-salt-factories). Salt's
    handler raises ``SystemExit``, which a runner called inside the orchestrate catches and
    returns as a failed state (``salt.client.mixins``: ``except (Exception, SystemExit)``):
    without the flag the cut run was recorded failed for good, and its push never ran again."""
    _STOP.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum, frame):
        _STOP.set()
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before != signal.SIG_IGN:
            raise SystemExit(128 + signum)

    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def _unless_stopped():
    """A ``SystemExit`` raised by the stop signal in the block ends the block, not the run (the
    run is queued again: :func:`_interrupted`); any other goes on up."""
    try:
        yield
    except SystemExit:
        if not _STOP.is_set():
            raise


def _interrupted(db, claim):
    """The run was cut by a stop signal: recorded failed ("interrupted") and its push queued
    again, for the next worker (the master's start-up drain) to run from the start."""
    rid = claim["run_id"]
    queue_db.interrupt(db, rid, STOPPED)
    log.warning(
        "chain_push: run %s of %s@%s cut by a stop signal; its push is queued again",
        rid,
        claim["branch"],
        claim["commit"][:12],
    )
    return {
        "result": "interrupted",
        "run_id": rid,
        "branch": claim["branch"],
        "commit": claim["commit"],
    }


def _drain_app(conf, app):
    db, holder, runs = _db(), queue_db.holder_id(), []
    while True:
        if _STOP.is_set():
            return {"runs": runs, "comment": "stopped by a signal: a cut run is queued again"}
        if not queue_db.acquire(db, app, holder):
            return {"runs": runs, "comment": "another worker runs this app's queue"}
        beat = _Heartbeat(db, app, holder)
        beat.start()
        try:
            while True:
                claim = queue_db.claim(db, app)
                if claim is None:
                    break
                runs.append(_run(conf, claim))
                if _STOP.is_set():
                    break
        finally:
            beat.done.set()
            queue_db.release(db, app, holder)
        # a push queued after the last claim and before the release found the lease held:
        # look again now that it is free (no lost wake-up)
        if not queue_db.has_work(db, app):
            return {"runs": runs}


def drain(app=None, spawn=False):
    """
    The worker: run the queue of ``app`` (every app with queued pushes when none is named)
    until it is empty, one run at a time per app. A worker that finds the app's lease held by
    a live worker returns at once (that worker takes the new push). Runs left ``running`` by
    a worker that died (the master stopped) are run again. The master schedule runs this on
    start (with ``spawn=True``); :func:`receive` starts it after each accepted push.
    ``spawn=True`` starts each app's worker as a ``salt-run`` process of its own and returns
    at once (what the schedule and the reactor need: see :func:`_in_background`).

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.drain
        salt-run chain_push.drain app=app
        salt-run chain_push.drain spawn=True
    """
    apps = [app] if app else queue_db.queued_apps(_db())
    if chain_errors.as_bool(spawn, "spawn"):
        for name in apps:
            _in_background(name)
        return {name: {"comment": "worker started"} for name in apps}
    conf = _settings()
    with _stop_on_signals():
        return {name: _drain_app(conf, name) for name in apps}


# ---------------------------------------------------------------------------------------------
# Catching up, replaying, reading
# ---------------------------------------------------------------------------------------------


def _source_heads(conf, timeout):
    minion = conf.get("source_minion")
    if not minion:
        raise SaltInvocationError("chain:push:source_minion is not set")
    client = _local_client()
    try:
        ret = client.cmd(minion, "chain_push.heads", timeout=timeout)
    finally:
        client.destroy()
    heads = ret.get(minion)
    if not isinstance(heads, dict):
        raise SaltInvocationError(f"{minion}: chain_push.heads gave no heads ({heads!r})"[:300])
    return heads


def _local_client():
    """A ``LocalClient`` of this master's configuration file (as Salt's own ``salt.state``
    does), not of ``__opts__``: in a master process (the schedule, the reactor) a client made
    from the loader's options is refused ("Authentication failure of type user")."""
    conf_file = __opts__.get("conf_file")
    if conf_file and os.path.exists(conf_file):
        return salt.client.get_local_client(conf_file)
    return salt.client.get_local_client(mopts=__opts__)


def _poll_record(conf, repo, branch, commit, now):
    digest = hashlib.sha256(f"{repo}\0{branch}\0{commit}".encode()).hexdigest()[:20]
    vcs = conf["repos"].get(repo, {}).get("vcs")
    record = {"delivery": f"poll-{digest}", "vcs": vcs, "repo": repo, "ref": f"refs/heads/{branch}"}
    record.update(after=commit, pusher="poll", via="poll", pushed_at=now, message="")
    return verify.check_record(record, conf, "poll")


def check(timeout=30, drain_after=True):
    """
    Catch what was missed (the Argo CD / Flux fallback): ask the source minion for each
    repository's branch heads (its ``chain_push.heads``: ``{repo: {branch: commit}}``) and
    queue every head that differs from the newest push the queue holds for that branch; then
    run the queue. The master schedule runs this every ``poll_interval`` seconds.

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.check
    """
    conf, db, now = _settings(), _db(), time.time()
    known = queue_db.heads(db)
    queued, skipped = [], []
    for repo, branches in _source_heads(conf, timeout).items():
        if isinstance(branches, dict) and isinstance(branches.get("branches"), dict):
            branches = branches["branches"]
        for branch, commit in (branches or {}).items() if isinstance(branches, dict) else ():
            if known.get((repo, branch)) == commit:
                continue
            try:
                record = _poll_record(conf, repo, branch, commit, now)
            except verify.Refused as err:
                skipped.append(f"{repo}/{branch}: {err}")
                continue
            got = queue_db.enqueue(db, record)
            if not got["duplicate"]:
                queued.append(
                    {"push": got["push"], "repo": repo, "branch": branch, "commit": commit}
                )
    ret = {"queued": queued, "skipped": skipped}
    if queued and chain_errors.as_bool(drain_after, "drain_after"):
        ret["drain"] = drain(spawn=True)
    return ret


def replay(push, wait=True):
    """
    Run a push again by hand (even when its commit is what runs now): a new push with the
    same repository, branch and commit, queued as the newest of its branch; with ``wait``
    (the default) the worker runs before this returns.

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.replay 42
    """
    push = chain_errors.as_int(push, "push", minimum=1)
    found = queue_db.push(_db(), push)
    if found is None:
        raise SaltInvocationError(f"push {push}: no such push in the queue")
    if not found["record"]:
        raise SaltInvocationError(f"push {push}: its stored record does not decode")
    record = dict(found["record"], replay=push, source="replay", pushed_at=time.time())
    record["delivery"] = f"replay-{push}-{time.time_ns()}"
    got = queue_db.enqueue(_db(), record)
    ret = {"result": True, "push": got["push"], "replay_of": push, "commit": record["after"]}
    if chain_errors.as_bool(wait, "wait"):
        return dict(ret, drain=drain(record["app"]))
    _in_background(record["app"])
    return ret


def receipts(deliveries):
    """
    What the queue has recorded of the source minion's ``deliveries`` (a list, or one string
    with commas): ``{"receipts": {delivery: {"push": id, "state": ...} | {"refused": reason}}}``
    (deliveries the queue does not know are left out). The source minion's forwarder
    (``chain_push.forward``) asks for this through the master (``publish.runner``: the master's
    ``peer_run`` must allow ``chain_push.receipts`` to the source minion, see docs/push.md)
    and keeps each record until its receipt is there, sending it again otherwise.

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.receipts 9f0c2a...,77b1e0...
    """
    if isinstance(deliveries, str):
        deliveries = deliveries.split(",")
    if not isinstance(deliveries, (list, tuple)) or len(deliveries) > 1000:
        raise SaltInvocationError("deliveries: a list of at most 1000 delivery ids")
    wanted = [str(d).strip() for d in deliveries if str(d).strip()]
    bad = [d for d in wanted if not verify.DELIVERY.match(d)]
    if bad:
        raise SaltInvocationError(f"deliveries: not a delivery id: {bad[0][:100]!r}")
    return {"receipts": queue_db.receipts(_db(), wanted) if wanted else {}}


def history(app=None, limit=20):
    """
    The runs of pushes, newest first: run id, branch, commit, result, stages, failure, and
    the pushes each ran and superseded.

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.history app limit=5
    """
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    return queue_db.snapshot(_db(), limit=limit, app=app)["runs"]


def queue(app=None, limit=50):
    """
    The pushes, newest first, with their state (queued, running, superseded and by which
    push, and the result of the run that took them).

    CLI Example:

    .. code-block:: bash

        salt-run chain_push.queue
    """
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    return queue_db.snapshot(_db(), limit=limit, app=app)["pushes"]
