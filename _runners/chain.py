"""
The chain from the master: roll an app out (a canary first, then the rest together), roll it
back, and read what runs where (``status``, ``inventory``, ``history``).

.. versionadded:: 0.2.0

.. versionchanged:: 0.3.0
    ``canary``: the first server(s) one at a time, then the rest together (``0``/``serial``:
    one at a time, as before); on a canary server one new replica first (the deploy state's
    ``update.limit``), its other replicas with the rest.

An app is deployed by a state file (``sls``, e.g. ``chain.deploy``) that declares a
``container_service.running`` from pillar ``chain:image``. ``rollout`` applies it on the
canary server(s) one at a time (pillar ``chain:wave: canary``: ``chain.deploy`` rolls one
new replica there, gated and monitored, beside the previous ones), then on every server at
once (``chain:wave: rest``: the canaries' other replicas and every other server's), checks
each server's result and health itself after each apply (every replica healthy and serving in
the frontend; after a canary apply the two generations each on their own), counts failures
over the whole rollout and, past ``max_failures`` after an apply, applies the previous image
again on the servers already changed. When the servers' status already shows that the image
changes something (a pinned digest that runs nowhere on some server), the test-mode no-op
check is skipped. Salt's ``batch`` and orchestrate
``failhard`` are not used: they neither stop reliably on failure nor keep every result
(saltstack/salt#54521, #29643, #26254). One rollout per app at a time (a lock on the master).
Progress events are fired on the master bus under ``chain/rollout/<app>/...``.

.. versionchanged:: 0.4.0
    An app in Swarm mode (its deploy pillar ``chain:service:mode: swarm`` with
    ``chain:service:manager``): the deploy state runs once, on the manager (Swarm rolls the
    tasks across the nodes, the state gates them and rolls back with ``docker service
    rollback``), and ``status`` shows the service's tasks per node (docs/runners.md).

:configuration: Defaults per app in the master config (keyword arguments override them):

    .. code-block:: yaml

        chain:
          apps:
            app:
              targets: [app1, app2]        # minion ids, in rollout order
              sls: chain.deploy
              service: app                 # the container_service name
              frontend: chain-frontend
              backend: app
              network: chain
              max_failures: 0              # failed servers tolerated before rolling back
              canary: 1                    # one at a time first, then the rest (0: serial)
              jenkins_profile: ci          # chain.status: the controller (jenkins:profiles:ci)
              jenkins_job: app-pipeline    # chain.status: the pipeline's last builds
              pillar:                      # more pillar for the deploy state
                chain: {per_minion: false}
"""

import logging
import os
import time

import salt.client
import salt.utils.event
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_app_conf,
        chain_errors,
        chain_gather,
        chain_jenkins_client,
        chain_jenkins_overview,
        chain_registry,
        chain_rollout_policy,
        chain_run_store,
        chain_service_plan,
        chain_status_page,
        chain_status_text,
        chain_swarm_rollout,
    )
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_app_conf
    import chain_errors
    import chain_gather
    import chain_jenkins_client
    import chain_jenkins_overview
    import chain_registry
    import chain_rollout_policy
    import chain_run_store
    import chain_service_plan
    import chain_status_page
    import chain_status_text
    import chain_swarm_rollout

log = logging.getLogger(__name__)

__virtualname__ = "chain"
plan = chain_service_plan
policy = chain_rollout_policy
swarm_rollout = chain_swarm_rollout


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Configuration, the master's files, events, the client
# ---------------------------------------------------------------------------------------------


def _app_conf(app, overrides):
    return chain_app_conf.resolve((__opts__.get("chain") or {}).get("apps"), app, overrides)


def _root():
    """The runner's files on the master: ``<cachedir>/chain`` (locks, history)."""
    return os.path.join(__opts__["cachedir"], "chain")


def _refused(app, image, err):
    """A refused rollout: a result (salt-run exits 1), not a traceback."""
    __context__["retcode"] = 1
    return {"app": app, "image": image, "result": False, "comment": str(err), "retcode": 1}


def _fire(app, stage, data):
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
            bus.fire_event(dict(data, app=app, stage=stage), f"chain/rollout/{app}/{stage}")
    except Exception as err:  # noqa: BLE001 - progress events never break a rollout
        log.warning("chain: could not fire %s event: %s", stage, err)


def _client():
    """A ``LocalClient`` of this master's configuration file (as Salt's own ``salt.state``
    does): in a master process (the reactor, the schedule) one made from the loader's
    ``__opts__`` is refused ("Authentication failure of type user")."""
    conf_file = __opts__.get("conf_file")
    if conf_file and os.path.exists(conf_file):
        return salt.client.get_local_client(conf_file)
    return salt.client.get_local_client(mopts=__opts__)


def _gather(calls, timeout, notes=None):
    """:func:`chain_gather.gather_states` with a client of its own: a minion that does not
    answer Salt's job check within the master's ``gather_job_timeout`` is unreachable then; a
    state run that Salt refuses because another one is under way there (the deploy of an
    interrupted rollout) waits for it within ``timeout`` (``notes``: what was waited for)."""
    client = _client()
    try:
        return chain_gather.gather_states(client, calls, timeout, notes=notes)
    finally:
        client.destroy()


# ---------------------------------------------------------------------------------------------
# One server
# ---------------------------------------------------------------------------------------------


def _status_call(conf, target):
    """The call that reads the app's status on a target (Swarm mode: the service's tasks per
    node, ``container_service.swarm_status`` on the manager)."""
    return (target, chain_app_conf.status_fun(conf), *chain_app_conf.status_call(conf, target))


def _server_status(conf, target):
    call = _status_call(conf, target)
    data = _gather({target: call}, 60)[target]
    if isinstance(data, chain_gather.NoAnswer):
        raise CommandExecutionError(data)
    if data is None and conf["mode"] == swarm_rollout.SWARM:
        service = call[2][0]
        raise CommandExecutionError(f"{target}: no Swarm service {service} (not deployed yet)")
    if not isinstance(data, dict):
        raise CommandExecutionError(f"{target}: no status answer ({data!r})"[:300])
    return data


def _check_server(conf, target, status, kind=None, before=None):
    """The runner's own check of a server after its deploy state succeeded (``status``: its
    ``container_service.status`` read then; ``kind``, ``before``: the apply's and the status
    before the rollout, see :func:`chain_rollout_policy.wave_problem`): ``None``, or why it is
    not well, with the last health check output of each replica that is not healthy."""
    problem = policy.wave_problem(status, conf.get("frontend"), kind, before)
    if not problem:
        return None
    for name in policy.sick_replicas(status):
        ret = _client().cmd(target, "container.inspect", [name], timeout=60)
        output = chain_status_text.health_output(ret.get(target))
        health = status["replicas"][name].get("health")
        problem += f"; {name}: {health}" + (f": {output}" if output else "")
    return problem


def _apply_deploy_state(conf, target, image, app, wave=None):
    """``state.apply`` of the deploy state on one server with ``image`` (``wave``: pillar
    ``chain:wave``): ``(ok, comment, seconds)``; the comment names every state that failed."""
    started = time.monotonic()
    kwarg = {"pillar": chain_app_conf.deploy_pillar(conf, image, app, wave)}
    notes = {}
    ret = _gather({target: (target, "state.apply", [conf["sls"]], kwarg)}, conf["timeout"], notes)
    took = round(time.monotonic() - started, 2)
    return _applied(target, ret[target], took, notes.get(target))


def _applied(target, data, took, note=None):
    """``(ok, comment, seconds, changed)`` of one server's deploy state return (``note``: a
    state run already under way there that it waited for; ``changed``: a state of it reported
    changes)."""
    if isinstance(data, chain_gather.NoAnswer):
        return False, str(data), took, False
    if not isinstance(data, dict):
        return False, f"{target}: {data or 'no answer'}"[:500], took, False
    failed = policy.failed_states(data)
    after = f" ({note})" if note else ""
    changed = any(isinstance(s, dict) and s.get("changes") for s in data.values())
    if failed:
        return False, "; ".join(failed)[:1000] + after, took, changed
    return True, f"{len(data)} state(s) succeeded{after}", took, changed


def _apply_together(conf, wave, image, app, kind):
    """The deploy state on every server of a wave at once (``kind``: pillar ``chain:wave``):
    ``{target: (ok, comment, seconds)}`` (``seconds``: the wave's time)."""
    if len(wave) == 1:
        return {wave[0]: _apply_deploy_state(conf, wave[0], image, app, kind)}
    started = time.monotonic()
    pillar = chain_app_conf.deploy_pillar(conf, image, app, kind)
    calls = {t: (t, "state.apply", [conf["sls"]], {"pillar": pillar}) for t in wave}
    notes = {}
    got = _gather(calls, conf["timeout"], notes)
    took = round(time.monotonic() - started, 2)
    return {t: _applied(t, got.get(t), took, notes.get(t)) for t in wave}


def _statuses(conf, targets, pull=None):
    """``container_service.status`` of several servers, read at once: ``{target: status or
    None}`` (``None``: no answer). ``pull``: an image each server pulls meanwhile, in the same
    round (:func:`chain_rollout_policy.pre_pull`; a failed pull is only logged: the deploy
    state pulls again and says why)."""
    calls = {t: _status_call(conf, t) for t in targets}
    if pull:
        profile = (conf["pillar"].get("chain") or {}).get("profile")
        for t in targets:
            calls[("pull", t)] = (t, "container.image_pull", [pull], {"profile": profile})
    got = _gather(calls, 60) if calls else {}
    for t in targets if pull else ():
        if not isinstance(got.get(("pull", t)), dict):
            log.warning("chain: %s: pre-pull of %s: %s", t, pull, got.get(("pull", t)))
    return {t: got.get(t) if isinstance(got.get(t), dict) else None for t in targets}


# ---------------------------------------------------------------------------------------------
# Every server
# ---------------------------------------------------------------------------------------------


def _unchanged(conf, image, app, waited=None):
    """Whether rolling ``image`` out would change nothing, checked on every server at once (a
    check only reads): the deploy state in test mode (declared spec, image id, replica count,
    frontend: ``container_service.running`` compares all of them) and
    ``container_service.status``; :func:`chain_rollout_policy.no_op` decides. Returns
    ``{target: server entry}`` then, else ``None`` (the rollout goes wave by wave).
    ``waited`` (a dict) gets ``{target: note}`` for a state run already under way there that
    the check waited for."""
    started = time.monotonic()
    calls = {}
    for target in conf["targets"]:
        kwarg = {"pillar": chain_app_conf.deploy_pillar(conf, image, app), "test": True}
        calls[("state", target)] = (target, "state.apply", [conf["sls"]], kwarg)
        calls[("status", target)] = _status_call(conf, target)
    notes = {}
    got = _gather(calls, min(conf["timeout"], 120), notes)
    if waited is not None:
        waited.update({key[1]: note for key, note in notes.items()})
    took = round(time.monotonic() - started, 2)
    decide = swarm_rollout.no_op if conf["mode"] == swarm_rollout.SWARM else policy.no_op
    return decide(conf["targets"], got, conf.get("frontend"), took)


def _where_now(conf):
    """Which image each server runs now (read on every server at once)."""
    got = _gather({t: _status_call(conf, t) for t in conf["targets"]}, 60)
    return {
        t: st.get("current")
        if isinstance(st, dict)
        else f"unknown ({st})"
        if isinstance(st, chain_gather.NoAnswer)
        else f"unknown (no status answer: {st!r})"
        for t, st in got.items()
    }


def _update_servers(app, image, conf, before):
    """Deploy ``image`` apply by apply (:func:`chain_rollout_policy.waves`: one new replica on
    each canary server, one at a time, then every other replica together) until too many
    servers failed: ``(servers, done, failed, previous, changed)`` (``before``: each server's status
    when the rollout started; ``done``: the servers updated, in order; ``failed``: those whose
    last apply failed; ``previous``: what each ran; ``changed``: the servers whose apply
    reported changes)."""
    servers, done, failed, changed = {}, [], [], set()
    previous = {t: (st or {}).get("current") for t, st in before.items()}
    for kind, wave in policy.waves(conf["targets"], conf["canary"]):
        wave = [t for t in wave if t not in failed]
        for target in wave:
            data = {"target": target, "image": image, "wave": kind, "together": len(wave)}
            _fire(app, "server", data)
        applied = _apply_together(conf, wave, image, app, kind)
        status = _statuses(conf, [t for t in wave if applied[t][0]])
        for target in wave:
            ok, comment, took, touched = applied[target]
            if touched:
                changed.add(target)
            problem = None
            if ok and status[target] is None:
                problem = f"{target}: no status answer after its deploy"
            elif ok:
                problem = _check_server(conf, target, status[target], kind, before.get(target))
            servers[target] = policy.server_entry(
                servers.get(target), ok, comment, problem, took, previous[target]
            )
            _fire(app, "server/done", dict(servers[target], target=target, wave=kind))
            if ok and target not in done:
                done.append(target)  # changed, even when its check then failed
            if not servers[target]["result"]:
                failed.append(target)
        if policy.stop(len(failed), conf["max_failures"]):
            break
    return servers, done, failed, previous, changed


def _roll_back(app, conf, roll_back):
    """Deploy each server's previous image again (``[(target, image or None)]``)."""
    rolled_back = {}
    for target, image in roll_back:
        if not image:
            rolled_back[target] = {"result": False, "comment": "nothing ran before"}
            continue
        _fire(app, "rollback", {"target": target, "image": image})
        ok, comment, took, _changed = _apply_deploy_state(conf, target, image, app)
        rolled_back[target] = {"result": ok, "image": image, "comment": comment, "seconds": took}
    return rolled_back


def _predict(app, image, conf):
    """``rollout`` under ``test=True``: what it would change, from reads only."""
    if _unchanged(conf, image, app) is not None:
        return {
            "app": app,
            "image": image,
            "result": True,
            "changes": {},
            "comment": f"rollout of {app} to {image}: no change, every server already runs it",
        }
    now = _where_now(conf)
    return {
        "app": app,
        "image": image,
        "result": None,
        "changes": {t: {"old": now.get(t), "new": image} for t in conf["targets"]},
        "comment": f"rollout of {app} to {image}: would be rolled out to "
        + ", ".join(conf["targets"]),
    }


def _no_op_check(conf, image, app, what):
    """:func:`_unchanged` for a rollout of either mode, its waits recorded in
    ``what["waited"]``: the no-op's entries, or None when something would change."""
    waited = {}
    unchanged = _unchanged(conf, image, app, waited)
    what["waited"] = waited
    return unchanged


def _rollout(app, image, ref, conf, kind="rollout"):
    if conf["mode"] == swarm_rollout.SWARM:
        return _rollout_swarm(app, image, ref, conf, kind)
    started = time.time()
    _fire(app, "start", {"image": image, "targets": conf["targets"], "kind": kind})
    what = {"kind": kind, "ref": ref, "image": image, "no_op": True}
    before = _statuses(conf, conf["targets"], pull=image if policy.pre_pull(image) else None)
    if not policy.certain_change(image, before):
        unchanged = _no_op_check(conf, image, app, what)
        if unchanged is not None:
            return _done(app, started, what, True, unchanged, {})
    servers, done, failed, previous, changed = _update_servers(app, image, conf, before)
    result, roll_back = policy.decide(conf["targets"], done, failed, conf["max_failures"], previous)
    rolled_back = _roll_back(app, conf, roll_back)
    what = dict(
        what,
        no_op=False,
        changes=policy.changes(image, done, previous, rolled_back, changed),
    )
    if not result:
        what["now"] = _where_now(conf)
    return _done(app, started, what, result, servers, rolled_back)


def _rollout_swarm(app, image, ref, conf, kind):
    """A rollout in Swarm mode: the deploy state once, on the manager (Swarm rolls the tasks
    across the nodes under the declared ``update``; ``container_service.running`` gates them
    and runs ``docker service rollback`` when they fail), then the runner's own check of the
    service (:func:`chain_swarm_rollout.problem`); past it, the previous image is applied
    again. The no-op check, the events, the history and the result as in the per-server mode:
    one entry, the manager's, with the service's tasks per node."""
    started, manager = time.time(), conf["manager"]
    _fire(app, "start", {"image": image, "targets": [manager], "kind": kind, "mode": "swarm"})
    what = {"kind": kind, "ref": ref, "image": image, "no_op": True, "mode": "swarm"}
    before = _statuses(conf, [manager])[manager]
    if not swarm_rollout.certain_change(image, before):
        unchanged = _no_op_check(conf, image, app, what)
        if unchanged is not None:
            return _done(app, started, what, True, unchanged, {})
    previous = {manager: (before or {}).get("current")}
    _fire(app, "server", {"target": manager, "image": image, "wave": "swarm", "together": 1})
    ok, comment, took, touched = _apply_deploy_state(conf, manager, image, app)
    after = _statuses(conf, [manager])[manager]
    check = swarm_rollout.problem(after, image, conf.get("frontend")) if ok else None
    servers = {manager: swarm_rollout.entry(ok, comment, check, took, previous[manager], after)}
    _fire(app, "server/done", dict(servers[manager], target=manager, wave="swarm"))
    done, failed = [manager] if ok else [], [] if servers[manager]["result"] else [manager]
    result, roll_back = policy.decide([manager], done, failed, 0, previous)
    rolled_back = _roll_back(app, conf, roll_back)
    changed = {manager} if touched else set()
    what = dict(
        what, no_op=False, changes=policy.changes(image, done, previous, rolled_back, changed)
    )
    if not result:
        what["now"] = _where_now(conf)
    return _done(app, started, what, result, servers, rolled_back)


def _done(app, started, what, result, servers, rolled_back):
    """Record the rollout in the history, fire ``done``, and return its result: the entry with
    ``comment`` (:func:`chain_status_text.rollout_comment`) and ``changes`` (Salt's convention:
    ``{}`` when nothing changed)."""
    # Salt 3008.4's ``salt.runner`` state (salt/states/saltmod.py, ``runner``) returns
    # ``changes: {"return": <this return>}`` whatever the return holds, so an orchestrate counts
    # every runner call as a change, and on a failure salt/state.py ``format_log`` logs
    # ``str(changes)`` (this whole return) at ERROR. ``changes`` and ``comment`` here are what a
    # state reporting the rollout takes: ``{}`` on a no-op, ``{server: {old, new}}`` otherwise.
    entry = {
        "app": app,
        "changes": {},
        **{k: v for k, v in what.items() if k != "waited"},
        "result": result,
        "servers": servers,
        "rolled_back": rolled_back,
        "started": started,
        "duration": round(time.time() - started, 2),
    }
    entry["comment"] = chain_status_text.rollout_comment(entry)
    for target, note in sorted((what.get("waited") or {}).items()):
        entry["comment"] += f"\n  {target}: a state run was under way there: {note}"
    chain_run_store.record(_root(), app, entry)
    _fire(app, "done", {"result": result, "duration": entry["duration"], "no_op": what["no_op"]})
    # salt-run exits with a returned dict's retcode; orchestrate's salt.runner reads the context
    if not result:
        __context__["retcode"] = 1
    return dict(entry, retcode=0 if result else 1)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def rollout(app, image, ref=None, **kwargs):
    """
    Roll ``image`` out to the app's servers one at a time; on too many failures, roll the
    servers already updated back to what they ran before. Returns ``{result, servers,
    rolled_back, changes, comment, duration}`` (``changes``: ``{}`` when nothing changed, else
    ``{server: {old, new}}``; ``comment``: on a failure, which server failed and why, what was
    rolled back and which server runs which image now, also in ``now``); ``salt-run`` exits
    non-zero when it fails or the app's rollout lock is held.

    app
        The app name (``chain:apps:<app>`` holds its defaults).
        ``{minion}`` in ``service``, ``frontend`` or ``network`` stands for each server's id.
    image
        The image to deploy (a tag or ``repo@sha256:...``), passed as pillar ``chain:image``.
        A tag in a registry is deployed by the digest the registry serves for it when the
        rollout starts (``<repository>@sha256:...``, with the master's
        ``container:registries:<registry>`` credentials), so every server runs the same image.
    test
        ``True`` only reads: what the rollout would change (the deploy state in test mode and
        each server's status, on every server at once), with ``result`` ``True`` and no
        ``changes`` when it would change nothing, else ``None`` and ``{server: {old, new}}``.
        Nothing is deployed, locked, recorded or fired.
    pin
        ``False`` deploys a tag as it is (each engine uses the image it holds under that tag,
        pulling only when it has none).
    ref
        The commit it was built from (recorded in the history).
    targets, sls, service, frontend, backend, network, max_failures, timeout
        Override the app's configuration.
    pillar
        More pillar for the deploy state (``chain:image`` and ``chain:app`` are set on top).
        ``chain:service:mode: swarm`` with ``chain:service:manager``: the app is one Swarm
        service, deployed by one apply on the manager; the result has one entry, the
        manager's, with the service's tasks per node.

    CLI Example:

    .. code-block:: bash

        salt-run chain.rollout app 127.0.0.1:5000/chain/app:3f2a1c9 targets=app1,app2
    """
    conf = _app_conf(app, kwargs)
    if not isinstance(image, str) or not image.strip():
        raise SaltInvocationError("image: expected an image reference")
    pin = chain_errors.as_bool(kwargs.get("pin", True), "pin")
    test = chain_errors.as_bool(kwargs.get("test", False), "test")
    if pin:
        image = _pinned(image)
    if test:
        return _predict(app, image, conf)
    try:
        what = {"kind": "rollout", "image": image, "ref": ref, "started": time.time()}
        with chain_run_store.Lock(_root(), app, what):
            return _rollout(app, image, ref, conf)
    except chain_run_store.Busy as err:
        return _refused(app, image, err)


def rollback(app, digest=None, **kwargs):
    """
    Roll the app back on its servers, to the previous image each server recorded (its
    replicas' history label) or to ``digest`` (an entry of that history; a ``sha256:`` prefix
    is enough). The previous image id runs again: nothing is rebuilt.

    CLI Example:

    .. code-block:: bash

        salt-run chain.rollback app
        salt-run chain.rollback app digest=sha256:3f2a1c9d
    """
    conf = _app_conf(app, kwargs)
    if digest is not None and (not isinstance(digest, str) or not digest):
        raise SaltInvocationError("digest: expected an image digest or reference")
    status = {t: _server_status(conf, t) for t in conf["targets"]}
    wanted = set()
    for target, st in status.items():
        pick = plan.pick_previous(st.get("history") or [], st.get("current"), digest)
        if pick is None:
            raise CommandExecutionError(
                f"{target}: no {'image ' + digest if digest else 'previous image'} in its "
                f"history ({', '.join(st.get('history') or []) or 'empty'})"
            )
        wanted.add(pick)
    if len(wanted) != 1:
        raise CommandExecutionError(
            f"the servers would roll back to different images "
            f"({', '.join(sorted(wanted))}); name one with digest="
        )
    image = wanted.pop()
    try:
        what = {"image": image, "started": time.time(), "kind": "rollback"}
        with chain_run_store.Lock(_root(), app, what):
            return _rollout(app, image, None, conf, kind="rollback")
    except chain_run_store.Busy as err:
        return _refused(app, image, err)


def _pinned(image):
    """``<repository>@<digest>`` of the manifest the registry serves for a tag now, so that
    every server runs exactly that image: an engine that already holds the tag from an earlier
    build or pull would not pull it again, and a later push may move the tag. The image as given
    when it names a digest already, is on Docker Hub, or the registry cannot say (no
    credentials in the master's ``container:registries``, no answer: logged)."""
    if "@" in image:
        return image
    registry = chain_registry.registry_of(image)
    if registry == "docker.io":
        return image
    try:
        username, password = chain_registry.credentials(registry, _config_get)
        digest = chain_registry.manifest_digest(image, username, password)
    except (CommandExecutionError, SaltInvocationError) as err:
        log.warning("chain: deploying %s by its tag, its digest is unknown: %s", image, err)
        return image
    if not digest:
        log.warning("chain: deploying %s by its tag: the registry does not serve it", image)
        return image
    return f"{chain_registry.split_repo_tag(image)[0]}@{digest}"


def _config_get(key, default=None):
    """``config.get`` on the master: its config, then its pillar."""
    return __salt__["salt.cmd"]("config.get", key, default, with_pillar=True)


def _registry_status(name, limit):
    """The tags and digests of the repository of the app's newest deploy by image name."""
    past = history(name, limit=50)
    images = [h.get("image") or "" for h in past]
    named = [i for i in images if "/" in i and not i.startswith("sha256:")]
    if not named or chain_registry.registry_of(named[0]) == "docker.io":
        return None
    repository = chain_registry.split_repo_tag(named[0])[0].split("@", 1)[0]
    registry = chain_registry.registry_of(repository)
    try:
        username, password = chain_registry.credentials(registry, _config_get)
        deployed = [h["ref"] for h in past if h.get("ref")]  # newest first
        found = chain_registry.tags(repository, username, password, limit=limit, prefer=deployed)
    except (CommandExecutionError, SaltInvocationError) as err:
        return {"repository": repository, "error": str(err)}
    if found is None:
        return {"repository": repository, "error": "no such repository in the registry"}
    return {"repository": repository, **found}


def _jenkins_status(conf, builds=5):
    """The controller's agents, queue and the pipeline job's last builds (``jenkins_profile``
    and ``jenkins_job`` of the app's configuration; the profile from the master's config or
    pillar), or None when the app names no Jenkins profile."""
    profile = conf.get("jenkins_profile")
    if not profile:
        return None
    try:
        connection = chain_jenkins_client.connection(profile, _config_get)
    except (CommandExecutionError, SaltInvocationError) as err:
        return {"url": f"profile {profile}", "error": str(err)}
    return chain_jenkins_overview.overview(connection, conf.get("jenkins_job"), limit=builds)


def status(app=None, out_format="table", tags=20, builds=5, **kwargs):
    """
    What runs where: for each server of the app, the image, every replica with its
    generation, health and whether it serves in the frontend (an app in Swarm mode: its
    service's tasks per node, each with its state, health, image digest and whether it serves),
    the app's last deploy, and the
    tags of the app's repository in its registry with the digest each serves (``/v2`` API;
    the repository of the newest deploy by image name, the credentials of
    ``container:registries:<registry>`` in the master's pillar or config; ``tags`` caps how
    many: the deployed ones first, then the last in the registry's order), and with
    ``jenkins_profile`` (the app's configuration or an argument) the Jenkins controller: its
    agents (online, idle or busy, labels), the queue and the last ``builds`` builds of
    ``jenkins_job`` with their ``REF``. ``out_format=table`` (default) gives readable lines;
    ``--out=json`` with ``out_format=data`` gives the data; ``out_format=html`` one
    self-contained HTML page of the same (no scripts, no external assets).

    CLI Example:

    .. code-block:: bash

        salt-run chain.status app
        salt-run chain.status app out_format=data --out=json
        salt-run chain.status app out_format=html --out=json | python3 -c \
            'import json,sys; print(json.load(sys.stdin))' > status.html
    """
    apps = [app] if app else sorted((__opts__.get("chain") or {}).get("apps") or {})
    if not apps:
        raise SaltInvocationError("app: name one, or configure chain:apps in the master config")
    if out_format not in ("table", "data", "html"):
        raise SaltInvocationError("out_format: expected table, data or html")
    tags = chain_errors.as_int(tags, "tags", minimum=0)
    builds = chain_errors.as_int(builds, "builds", minimum=1)
    confs = {name: _app_conf(name, kwargs) for name in apps}
    data = {}
    for name, conf in confs.items():
        servers = {}
        for target in conf["targets"]:
            try:
                servers[target] = _server_status(conf, target)
            except CommandExecutionError as err:
                servers[target] = {"error": str(err)}
        last = history(name, limit=1)
        data[name] = {
            "servers": servers,
            "last_deploy": last[0] if last else None,
            "registry": _registry_status(name, tags) if tags else None,
            "jenkins": _jenkins_status(conf, builds),
        }
    if out_format == "data":
        return data
    if out_format == "html":
        return chain_status_page.render(data)
    jobs = {name: conf.get("jenkins_job") for name, conf in confs.items()}
    return chain_status_text.table(data, jobs, tags)


def history(app, limit=20):
    """
    The app's deploys and rollbacks, newest first: ref, image, servers (result, seconds,
    previous image), rollbacks, duration.

    CLI Example:

    .. code-block:: bash

        salt-run chain.history app limit=5
    """
    chain_app_conf.check_app(app)
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    return chain_run_store.read(_root(), app, limit)


def inventory(tgt="*", out_format="json", tgt_type="glob"):
    """
    Every container on every targeted minion's engine: image, image id, state, health, ports,
    labels; as data (``out_format=json``) or CSV text (``out_format=csv``), ready for a CMDB.
    A row per container and engine: minions that share an engine (grain ``container_engine``:
    its id, name and data root) list its containers once, naming all of them (``minions``).

    CLI Example:

    .. code-block:: bash

        salt-run chain.inventory --out=json
        salt-run chain.inventory out_format=csv > containers.csv
    """
    if out_format not in ("json", "csv"):
        raise SaltInvocationError("out_format: expected json or csv")
    if not isinstance(tgt, str) or not tgt:
        raise SaltInvocationError("tgt: expected a target expression")
    client = _client()
    ret = client.cmd(tgt, "container.ps", kwarg={"all": True}, tgt_type=tgt_type, timeout=60)
    grains = client.cmd(tgt, "grains.get", ["container_engine"], tgt_type=tgt_type, timeout=30)
    engines = {m: chain_status_text.engine_of(g) for m, g in (grains or {}).items()}
    rows = chain_status_text.inventory_rows(ret, engines)
    return rows if out_format == "json" else chain_status_text.inventory_csv(rows)


def replay(push, wait=True):
    """
    Run a push of the push queue again by hand (``chain_push.replay``): a new push of the
    same repository, branch and commit, run even when that commit is what runs now.

    CLI Example:

    .. code-block:: bash

        salt-run chain.replay 42
    """
    return __salt__["chain_push.replay"](push, wait=wait)
