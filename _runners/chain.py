"""
The chain from the master: roll an app out server by server, roll it back, and read what runs
where (``status``, ``inventory``, ``history``).

.. versionadded:: 0.2.0

An app is deployed by a state file (``sls``, e.g. ``chain.deploy``) that declares a
``container_service.running`` from pillar ``chain:image``. ``rollout`` applies it on one server
at a time, checks each server's result and health itself (every replica healthy and serving in
the frontend), counts failures over the whole rollout and, past ``max_failures``, applies the
previous image again on the servers already updated. Salt's ``batch`` and orchestrate
``failhard`` are not used: they neither stop reliably on failure nor keep every result
(saltstack/salt#54521, #29643, #26254). One rollout per app at a time (a lock on the master).
Progress events are fired on the master bus under ``chain/rollout/<app>/...``.

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
              jenkins_profile: ci          # chain.status: the controller (jenkins:profiles:ci)
              jenkins_job: app-pipeline    # chain.status: the pipeline's last builds
              pillar:                      # more pillar for the deploy state
                chain: {per_minion: false}
"""

import csv
import fcntl
import io
import json
import logging
import os
import re
import time

import salt.client
import salt.utils.event
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_errors,
        chain_jenkins_client,
        chain_jenkins_overview,
        chain_registry,
        chain_service_plan,
        chain_status_page,
    )
except ImportError:  # synced into the master's extmods/utils (file_roots deployment)
    import chain_errors
    import chain_jenkins_client
    import chain_jenkins_overview
    import chain_registry
    import chain_service_plan
    import chain_status_page

log = logging.getLogger(__name__)

__virtualname__ = "chain"
plan = chain_service_plan
APP = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
KEYS = (
    "targets",
    "sls",
    "service",
    "frontend",
    "backend",
    "network",
    "max_failures",
    "timeout",
    "pillar",
    "jenkins_profile",
    "jenkins_job",
)


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Configuration, lock, history, events
# ---------------------------------------------------------------------------------------------


def _app_conf(app, overrides):
    if not isinstance(app, str) or not APP.match(app):
        raise SaltInvocationError(f"app: expected a name ([a-zA-Z0-9_.-]), got {app!r}")
    conf = dict(((__opts__.get("chain") or {}).get("apps") or {}).get(app) or {})
    conf.update({k: v for k, v in overrides.items() if k in KEYS and v is not None})
    targets = conf.get("targets")
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t]
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise SaltInvocationError(
            "targets: expected minion ids (a list or a comma-separated "
            "string), from the call or chain:apps:<app>:targets"
        )
    conf["targets"] = targets
    conf.setdefault("sls", "chain.deploy")
    conf.setdefault("service", app)
    conf.setdefault("backend", "app")
    plan.check_name(conf["service"].replace("{minion}", "m"), "service")
    conf["max_failures"] = chain_errors.as_int(
        conf.get("max_failures", 0), "max_failures", minimum=0
    )
    conf["timeout"] = chain_errors.as_int(conf.get("timeout", 900), "timeout", minimum=1)
    if not isinstance(conf.setdefault("pillar", {}), dict):
        raise SaltInvocationError("pillar: expected a mapping passed to the deploy state")
    if not isinstance(conf["sls"], str) or not conf["sls"]:
        raise SaltInvocationError("sls: expected a state file name like chain.deploy")
    return conf


def _dir(*parts):
    path = os.path.join(__opts__["cachedir"], "chain", *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class _Busy(CommandExecutionError):
    """The app's rollout lock is held."""


def _refused(app, image, err):
    """A refused rollout: a result (salt-run exits 1), not a traceback."""
    __context__["retcode"] = 1
    return {"app": app, "image": image, "result": False, "comment": str(err), "retcode": 1}


class _Lock:
    """One rollout per app on this master: an exclusive, non-blocking flock."""

    def __init__(self, app, what):
        self.app = app
        self.path = os.path.join(_dir("locks"), f"{app}.lock")
        self.what = what

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with os.fdopen(os.dup(self.fd)) as fh:
                holder = fh.read().strip() or "another process"
            os.close(self.fd)
            raise _Busy(
                f"a rollout of {self.app} is already running ({holder}); try again "
                "when it has finished"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, json.dumps(dict(self.what, pid=os.getpid())).encode())
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False


def _fire(app, stage, data):
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
            bus.fire_event(dict(data, app=app, stage=stage), f"chain/rollout/{app}/{stage}")
    except Exception as err:  # noqa: BLE001 - progress events never break a rollout
        log.warning("chain: could not fire %s event: %s", stage, err)


def _record(app, entry):
    with open(os.path.join(_dir("history"), f"{app}.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def _client():
    return salt.client.get_local_client(mopts=__opts__)


# ---------------------------------------------------------------------------------------------
# One server
# ---------------------------------------------------------------------------------------------


def _names(conf, target):
    """service, frontend and network on one server: ``{minion}`` in them is its id (servers
    sharing one engine need their own names)."""
    return {
        k: conf[k].replace("{minion}", target) if isinstance(conf.get(k), str) else conf.get(k)
        for k in ("service", "frontend", "network")
    }


def _status_call(conf, target):
    """``container_service.status`` of the app on one server: its arguments, keyword arguments."""
    names = _names(conf, target)
    kwarg = {"frontend": names["frontend"], "backend": conf["backend"], "network": names["network"]}
    return [names["service"]], kwarg


def _server_status(conf, target):
    args, kwarg = _status_call(conf, target)
    ret = _client().cmd(target, "container_service.status", args, kwarg=kwarg, timeout=60)
    data = ret.get(target)
    if not isinstance(data, dict):
        raise CommandExecutionError(f"{target}: no status answer ({data!r})"[:300])
    return data


def _healthy(status, frontend):
    """The runner's own check: replicas run, all healthy, all serving in the frontend."""
    running = [r for r in status["replicas"].values() if r["running"]]
    if not running:
        return "no replica runs"
    sick = [
        n
        for n, r in status["replicas"].items()
        if r["running"] and r["health"] not in ("healthy", None)
    ]
    if sick:
        return f"not healthy: {', '.join(sick)}"
    gens = {r["generation"] for r in running}
    if len(gens) > 1:
        return f"{len(gens)} generations running"
    if frontend and len(status["serving"]) != len(running):
        return f"{len(status['serving'])} of {len(running)} replicas serving"
    return None


def _pillar(conf, image, app):
    extra = conf["pillar"]
    return dict(extra, chain=dict(extra.get("chain") or {}, image=image, app=app))


def _failed_states(data):
    return [
        f"{s.get('__id__', k)}: {s.get('comment')}"
        for k, s in data.items()
        if isinstance(s, dict) and s.get("result") is not True
    ]


def _apply(conf, target, image, app):
    started = time.monotonic()
    ret = _client().cmd(
        target,
        "state.apply",
        [conf["sls"]],
        kwarg={"pillar": _pillar(conf, image, app)},
        timeout=conf["timeout"],
    )
    data = ret.get(target)
    took = round(time.monotonic() - started, 2)
    if not isinstance(data, dict):
        return False, f"{target}: {data or 'no answer'}"[:500], took
    failed = _failed_states(data)
    if failed:
        return False, "; ".join(failed)[:1000], took
    return True, f"{len(data)} state(s) succeeded", took


def _gather(calls, timeout):
    """Publish every call at once, then wait for all: ``{key: (target, fun, args, kwarg)}`` ->
    ``{key: return}`` (``None``: no answer within ``timeout`` seconds). Returns come from the
    event bus (subscribed before each publish), or the job cache when an event was missed."""
    client = _client()
    try:
        out, jobs = dict.fromkeys(calls), {}
        for key, (target, fun, args, kwarg) in calls.items():
            pub = client.run_job(target, fun, list(args), kwarg=kwarg, timeout=timeout, listen=True)
            if pub and target in (pub.get("minions") or []):
                jobs[pub["jid"]] = (key, target)
        deadline = time.monotonic() + timeout
        while jobs and time.monotonic() < deadline:
            evt = client.event.get_event(
                wait=0.5, tag="salt/job/", match_type="startswith", full=True
            )
            data = (evt or {}).get("data") or {}
            job = jobs.get(data.get("jid"))
            if job and data.get("id") == job[1] and "return" in data:
                out[job[0]] = data["return"]
                del jobs[data["jid"]]
            elif evt is None:
                for jid, (key, target) in list(jobs.items()):
                    found = client.get_cache_returns(jid).get(target)
                    if found is not None:
                        out[key] = found.get("ret")
                        del jobs[jid]
        return out
    finally:
        client.destroy()


def _unchanged(conf, image, app):
    """Whether rolling ``image`` out would change nothing, checked on every server at once (a
    check only reads): the deploy state in test mode (declared spec, image id, replica count,
    frontend: ``container_service.running`` compares all of them) reports no change on each,
    and the runner's own check passes (every replica healthy and serving). Returns
    ``{target: server entry}`` then, else ``None`` (the rollout goes server by server)."""
    started = time.monotonic()
    calls = {}
    for target in conf["targets"]:
        kwarg = {"pillar": _pillar(conf, image, app), "test": True}
        calls[("state", target)] = (target, "state.apply", [conf["sls"]], kwarg)
        calls[("status", target)] = (
            target,
            "container_service.status",
            *_status_call(conf, target),
        )
    got = _gather(calls, min(conf["timeout"], 120))
    took = round(time.monotonic() - started, 2)
    servers = {}
    for target in conf["targets"]:
        states, status = got[("state", target)], got[("status", target)]
        if not isinstance(states, dict) or not isinstance(status, dict) or not states:
            return None
        if _failed_states(states) or any(
            isinstance(s, dict) and s.get("changes") for s in states.values()
        ):
            return None
        if "replicas" not in status or _healthy(status, conf.get("frontend")):
            return None
        servers[target] = {
            "result": True,
            "no_op": True,
            "comment": f"no change: {len(states)} state(s) unchanged in test mode, "
            f"{len(status['serving'] if conf.get('frontend') else status['replicas'])} "
            "replica(s) healthy",
            "seconds": took,
            "previous": status.get("current"),
        }
    return servers


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def rollout(app, image, ref=None, **kwargs):
    """
    Roll ``image`` out to the app's servers one at a time; on too many failures, roll the
    servers already updated back to what they ran before. Returns ``{result, servers,
    rolled_back, duration}``; ``salt-run`` exits non-zero when it fails or the app's rollout
    lock is held.

    app
        The app name (``chain:apps:<app>`` holds its defaults).
        ``{minion}`` in ``service``, ``frontend`` or ``network`` stands for each server's id.
    image
        The image to deploy (a tag or ``repo@sha256:...``), passed as pillar ``chain:image``.
        A tag in a registry is deployed by the digest the registry serves for it when the
        rollout starts (``<repository>@sha256:...``, with the master's
        ``container:registries:<registry>`` credentials), so every server runs the same image.
    pin
        ``False`` deploys a tag as it is (each engine uses the image it holds under that tag,
        pulling only when it has none).
    ref
        The commit it was built from (recorded in the history).
    targets, sls, service, frontend, backend, network, max_failures, timeout
        Override the app's configuration.
    pillar
        More pillar for the deploy state (``chain:image`` and ``chain:app`` are set on top).

    CLI Example:

    .. code-block:: bash

        salt-run chain.rollout app 127.0.0.1:5000/chain/app:3f2a1c9 targets=app1,app2
    """
    conf = _app_conf(app, kwargs)
    if not isinstance(image, str) or not image.strip():
        raise SaltInvocationError("image: expected an image reference")
    pin = chain_errors.as_bool(kwargs.get("pin", True), "pin")
    if pin:
        image = _pinned(image)
    try:
        with _Lock(app, {"image": image, "started": time.time()}):
            return _rollout(app, image, ref, conf)
    except _Busy as err:
        return _refused(app, image, err)


def _rollout(app, image, ref, conf, kind="rollout"):
    started = time.time()
    _fire(app, "start", {"image": image, "targets": conf["targets"], "kind": kind})
    unchanged = _unchanged(conf, image, app)
    if unchanged is not None:
        what = {"kind": kind, "ref": ref, "image": image, "no_op": True}
        return _done(app, started, what, True, unchanged, {})
    servers, done, failures = {}, [], 0
    previous = {}
    for target in conf["targets"]:
        try:
            before = _server_status(conf, target)
            previous[target] = before.get("current")
        except CommandExecutionError as err:
            previous[target] = None
            log.info("chain: %s has no status yet: %s", target, err)
        _fire(app, "server", {"target": target, "image": image})
        ok, comment, took = _apply(conf, target, image, app)
        problem = None
        if ok:
            try:
                problem = _healthy(_server_status(conf, target), conf.get("frontend"))
            except CommandExecutionError as err:
                problem = str(err)
        servers[target] = {
            "result": ok and not problem,
            "comment": problem or comment,
            "seconds": took,
            "previous": previous[target],
        }
        _fire(app, "server/done", dict(servers[target], target=target))
        if ok and not problem:
            done.append(target)
            continue
        failures += 1
        if failures > conf["max_failures"]:
            break
    result = failures == 0 or (
        failures <= conf["max_failures"] and len(done) + failures == len(conf["targets"])
    )
    rolled_back = {}
    if not result:
        for target in reversed(done):
            if not previous[target]:
                rolled_back[target] = {"result": False, "comment": "nothing ran before"}
                continue
            _fire(app, "rollback", {"target": target, "image": previous[target]})
            ok, comment, took = _apply(conf, target, previous[target], app)
            rolled_back[target] = {
                "result": ok,
                "image": previous[target],
                "comment": comment,
                "seconds": took,
            }
    what = {"kind": kind, "ref": ref, "image": image, "no_op": False}
    return _done(app, started, what, result, servers, rolled_back)


def _done(app, started, what, result, servers, rolled_back):
    """Record the rollout in the history, fire ``done``, and return its result."""
    entry = {
        "app": app,
        **what,
        "result": result,
        "servers": servers,
        "rolled_back": rolled_back,
        "started": started,
        "duration": round(time.time() - started, 2),
    }
    _record(app, entry)
    _fire(app, "done", {"result": result, "duration": entry["duration"], "no_op": what["no_op"]})
    # salt-run exits with a returned dict's retcode; orchestrate's salt.runner reads the context
    if not result:
        __context__["retcode"] = 1
    return dict(entry, retcode=0 if result else 1)


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
        with _Lock(app, {"image": image, "started": time.time(), "kind": "rollback"}):
            return _rollout(app, image, None, conf, kind="rollback")
    except _Busy as err:
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
    images = [h.get("image") or "" for h in history(name, limit=50)]
    named = [i for i in images if "/" in i and not i.startswith("sha256:")]
    if not named or chain_registry.registry_of(named[0]) == "docker.io":
        return None
    repository = chain_registry.split_repo_tag(named[0])[0].split("@", 1)[0]
    registry = chain_registry.registry_of(repository)
    try:
        username, password = chain_registry.credentials(registry, _config_get)
        found = chain_registry.tags(repository, username, password, limit=limit)
    except (CommandExecutionError, SaltInvocationError) as err:
        return {"repository": repository, "error": str(err)}
    if found is None:
        return {"repository": repository, "error": "no such repository in the registry"}
    return {"repository": repository, **found}


def _jenkins_status(conf):
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
    return chain_jenkins_overview.overview(connection, conf.get("jenkins_job"))


def status(app=None, out_format="table", tags=20, **kwargs):
    """
    What runs where: for each server of the app, the image, every replica with its
    generation, health and whether it serves in the frontend, the app's last deploy, and the
    tags of the app's repository in its registry with the digest each serves (``/v2`` API;
    the repository of the newest deploy by image name, the credentials of
    ``container:registries:<registry>`` in the master's pillar or config; ``tags`` caps how
    many), and with ``jenkins_profile`` (the app's configuration or an argument) the Jenkins
    controller: its agents (online, idle or busy, labels), the queue and the last builds of
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
    confs = {name: _app_conf(name, kwargs) for name in apps}
    data = {}
    for name in apps:
        conf = confs[name]
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
            "jenkins": _jenkins_status(conf),
        }
    if out_format == "data":
        return data
    if out_format == "html":
        return chain_status_page.render(data)
    lines = []
    for name, info in data.items():
        last = info["last_deploy"] or {}
        lines.append(
            f"app {name}: last {last.get('kind', 'deploy')} "
            f"{'ok' if last.get('result') else 'FAILED' if last else 'none'} "
            f"{last.get('image', '')} {('ref ' + last['ref']) if last.get('ref') else ''}".rstrip()
        )
        for target, st in info["servers"].items():
            if "error" in st:
                lines.append(f"  {target}: {st['error']}")
                continue
            lines.append(f"  {target}: {st.get('current')}")
            for rname, rep in st["replicas"].items():
                lines.append(
                    f"    {rname:<40} {rep['status'] or '':<8} "
                    f"{rep['health'] or '-':<10} s{rep['slot'] or '-':<3} "
                    f"{'serving' if rep.get('serving') else 'out'}"
                )
        if info["jenkins"]:
            lines.extend(chain_jenkins_overview.lines(info["jenkins"], conf.get("jenkins_job")))
        reg = info["registry"]
        if reg:
            lines.append(f"  registry {reg['repository']}: {reg.get('error', '')}".rstrip())
            for tag, digest in (reg.get("tags") or {}).items():
                lines.append(f"    {tag:<40} {digest or '-'}")
            if reg.get("truncated"):
                lines.append(f"    (the last {tags} tags; tags=N shows more)")
    return "\n".join(lines)


def history(app, limit=20):
    """
    The app's deploys and rollbacks, newest first: ref, image, servers (result, seconds,
    previous image), rollbacks, duration.

    CLI Example:

    .. code-block:: bash

        salt-run chain.history app limit=5
    """
    if not isinstance(app, str) or not APP.match(app):
        raise SaltInvocationError(f"app: expected a name, got {app!r}")
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    path = os.path.join(__opts__["cachedir"], "chain", "history", f"{app}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh if line.strip()]
    return list(reversed(entries))[:limit]


INVENTORY_COLUMNS = (
    "minion",
    "name",
    "id",
    "image",
    "image_id",
    "state",
    "health",
    "ports",
    "labels",
)


def inventory(tgt="*", out_format="json", tgt_type="glob"):
    """
    Every container on every targeted minion: image, image id, state, health, ports, labels;
    as data (``out_format=json``) or CSV text (``out_format=csv``), ready for a CMDB.

    CLI Example:

    .. code-block:: bash

        salt-run chain.inventory --out=json
        salt-run chain.inventory out_format=csv > containers.csv
    """
    if out_format not in ("json", "csv"):
        raise SaltInvocationError("out_format: expected json or csv")
    if not isinstance(tgt, str) or not tgt:
        raise SaltInvocationError("tgt: expected a target expression")
    ret = _client().cmd(tgt, "container.ps", kwarg={"all": True}, tgt_type=tgt_type, timeout=60)
    rows = []
    for minion in sorted(ret):
        found = ret[minion]
        if not isinstance(found, dict):
            rows.append({"minion": minion, "name": None, "error": str(found)[:300]})
            continue
        for name in sorted(found):
            ctr = found[name]
            status = ctr.get("status") or ""
            health = re.search(r"\((healthy|unhealthy|health: starting)\)", status)
            rows.append(
                {
                    "minion": minion,
                    "name": name,
                    "id": ctr.get("id", "")[:12],
                    "image": ctr.get("image"),
                    "image_id": ctr.get("image_id"),
                    "state": ctr.get("state"),
                    "health": health.group(1).replace("health: ", "") if health else None,
                    "ports": ctr.get("ports") or [],
                    "labels": ctr.get("labels") or {},
                }
            )
    if out_format == "json":
        return rows
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=INVENTORY_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(
            dict(
                row,
                ports=" ".join(row.get("ports") or []),
                labels=json.dumps(row.get("labels") or {}, sort_keys=True),
            )
        )
    return buf.getvalue()
