"""
Replicated container services behind an HAProxy frontend: read their replicas, talk to the
frontend's runtime API, and roll a new generation out with a health gate and automatic
rollback. ``container_service.running`` (the state) is the usual entry point; the ``chain``
runner calls :py:func:`status` and the state across servers.

.. versionadded:: 0.2.0

:depends: the ``container`` execution module (every engine call goes through it).

A service ``web`` is a set of containers labelled ``org.saltext-chain.service=web``, named
``web-<generation>-<n>``, where the generation is a digest of the declared spec and the image
id. Each replica holds one server slot (``s1``..``sN``) of the frontend's backend: it enters
(``ready``) only once healthy, and is drained (``drain``, open sessions waited out, then
``maint``) before it stops. The previous generation stays (stopped, or running out of the
frontend) until the new one passed its gate; a rollback restarts those containers, so the
exact previous image id serves again, without a pull or a rebuild.
"""

import logging
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_errors, chain_service_haproxy, chain_service_plan
except ImportError:  # synced into the minion's extmods/utils (file_roots deployment)
    import chain_errors
    import chain_service_haproxy
    import chain_service_plan

log = logging.getLogger(__name__)

__virtualname__ = "container_service"

plan = chain_service_plan
haproxy = chain_service_haproxy
POLL = 0.25


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _replica_view(data, network):
    labels = (data.get("Config") or {}).get("Labels") or {}
    state = data.get("State") or {}
    nets = (data.get("NetworkSettings") or {}).get("Networks") or {}
    addr = (nets.get(network) or {}).get("IPAddress") if network else None
    slot = labels.get(plan.LABEL_SLOT)
    return {
        "id": data["Id"],
        "name": data.get("Name", "").lstrip("/"),
        "generation": labels.get(plan.LABEL_GENERATION),
        "slot": int(slot) if slot and slot.isdigit() else None,
        "image": labels.get(plan.LABEL_IMAGE) or (data.get("Config") or {}).get("Image"),
        "image_id": data.get("Image"),
        "history": plan.history_read(labels.get(plan.LABEL_HISTORY)),
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
        "restarts": data.get("RestartCount", 0),
        "started_at": state.get("StartedAt"),
        "addr": addr or None,
    }


def replicas(name, network=None, profile=None):
    """
    The replicas of service ``name`` on this engine (running or not):
    ``{container: {id, generation, slot, image, image_id, history, running, status, health,
    restarts, addr}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.replicas web network=chain
    """
    plan.check_name(name)
    rows = __salt__["container.ps"](
        all=True, labels=[f"{plan.LABEL_SERVICE}={name}"], profile=profile
    )
    out = {}
    for cname in sorted(rows):
        data = __salt__["container.inspect"](cname, profile=profile)
        if data is not None:
            out[cname] = _replica_view(data, network)
    return out


def frontend_command(frontend, command, profile=None):
    """
    Send one runtime API command (or several separated by ``;``) to the HAProxy of the
    ``frontend`` container and return its answer.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.frontend_command chain-frontend 'show servers state app'
    """
    plan.check_name(frontend, "frontend")
    if not isinstance(command, str) or not command.strip() or "\n" in command:
        raise SaltInvocationError("command: expected one line of HAProxy runtime API commands")
    res = __salt__["container.exec"](frontend, haproxy.argv(command), profile=profile)
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"frontend {frontend}: the admin socket did not answer: "
            f"{(res['stderr'] or res['stdout']).strip().splitlines()[-1:] or ['no output']}"
        )
    return haproxy.check_answer(res["stdout"], command)


def frontend_servers(frontend, backend, profile=None):
    """
    The backend's server slots as the frontend sees them: ``{slot: {addr, port, op, maint,
    drain, sessions}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.frontend_servers chain-frontend app
    """
    servers = haproxy.parse_servers_state(
        frontend_command(frontend, haproxy.show_state(backend), profile=profile)
    )
    sessions = haproxy.parse_sessions(
        frontend_command(frontend, haproxy.show_stat(), profile), backend
    )
    for slot, row in servers.items():
        row["sessions"] = sessions.get(slot, 0)
    return servers


def status(name, frontend=None, backend="app", network=None, profile=None):
    """
    A service's state on this minion: its replicas (generation, image, health, slot) and, with
    a ``frontend``, whether each replica's slot serves. ``generations`` counts the replicas
    per generation; ``current`` is the newest running generation's image.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.status web frontend=chain-frontend backend=app network=chain
    """
    reps = replicas(name, network=network, profile=profile)
    servers, frontend_state = {}, None
    if frontend:
        data = __salt__["container.inspect"](frontend, profile=profile)
        frontend_state = ((data or {}).get("State") or {}).get("Status", "absent")
        if frontend_state == "running":
            servers = frontend_servers(frontend, backend, profile)
    for rep in reps.values():
        slot = servers.get(rep["slot"]) if rep["slot"] else None
        rep["serving"] = bool(
            slot
            and slot["op"] == "up"
            and not slot["maint"]
            and not slot["drain"]
            and slot["addr"] == rep["addr"]
        )
    running = [r for r in reps.values() if r["running"]]
    gens = {}
    for rep in reps.values():
        gens[rep["generation"]] = gens.get(rep["generation"], 0) + 1
    return {
        "service": name,
        "replicas": reps,
        "generations": gens,
        "current": running[0]["image"] if running else None,
        "history": running[0]["history"] if running else [],
        "serving": sorted(n for n, r in reps.items() if r["serving"]),
        "frontend": frontend_state,
    }


def smoke(frontend, path="/version", port=8080, expect=None, profile=None):
    """
    Ask the app through the ``frontend`` (from inside its container, on its own port): the
    answer's body; raises when the status is not 200 or ``expect`` is not in the body.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.smoke chain-frontend path=/version expect=3f2a1c9
    """
    plan.check_name(frontend, "frontend")
    port = chain_errors.as_int(port, "port", minimum=1, maximum=65535)
    if not isinstance(path, str) or not path.startswith("/") or " " in path:
        raise SaltInvocationError("path: expected a URL path like /version")
    code = (
        "import sys,urllib.request as u\n"
        f"r=u.urlopen('http://127.0.0.1:{port}{path}', timeout=5)\n"
        "sys.stdout.write(r.read().decode())\n"
    )
    res = __salt__["container.exec"](frontend, ["python3", "-c", code], profile=profile)
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"smoke check {path} through {frontend} failed: "
            f"{(res['stderr'] or '').strip().splitlines()[-1:]}"
        )
    if expect is not None and str(expect) not in res["stdout"]:
        raise CommandExecutionError(
            f"smoke check {path} through {frontend}: {expect!r} not in {res['stdout'][:200]!r}"
        )
    return res["stdout"]


# ---------------------------------------------------------------------------------------------
# The rollout (called by the state once everything is validated)
# ---------------------------------------------------------------------------------------------


class _Rollout:
    """One apply of a service: what it did (``steps``) and how it ended."""

    def __init__(self, name, cfg, profile):
        self.name = name
        self.cfg = cfg
        self.profile = profile
        self.steps = []
        self.frontend = cfg.get("frontend")
        self.backend = cfg.get("backend") or "app"
        self.network = cfg.get("network")
        self.t0 = time.monotonic()

    # -- engine helpers -------------------------------------------------------------------
    def _step(self, text):
        text = f"{text} (+{time.monotonic() - self.t0:.1f}s)"
        log.info("container_service %s: %s", self.name, text)
        self.steps.append(text)

    def view(self, cname):
        data = __salt__["container.inspect"](cname, profile=self.profile)
        return None if data is None else _replica_view(data, self.network)

    def _fe(self, command):
        return frontend_command(self.frontend, command, profile=self.profile)

    def create(self, gen, index, slot, image_ref, history, spec_args):
        cname = plan.replica_name(self.name, gen, index)
        if __salt__["container.inspect"](cname, profile=self.profile) is not None:
            __salt__["container.remove"](cname, force=True, profile=self.profile)
            self._step(f"removed {cname} left by an earlier run")
        labels = dict(spec_args.get("labels") or {})
        labels.update(
            {
                plan.LABEL_SERVICE: self.name,
                plan.LABEL_GENERATION: gen,
                plan.LABEL_SLOT: str(slot),
                plan.LABEL_IMAGE: image_ref,
                plan.LABEL_HISTORY: plan.history_label(history),
            }
        )
        args = dict(spec_args, labels=labels)
        if self.network:
            args["networks"] = {self.network: {"aliases": [cname]}}
        cid = __salt__["container.create"](name=cname, profile=self.profile, pull="never", **args)
        __salt__["container.start"](cid, profile=self.profile)
        self._step(f"started {cname} (slot s{slot})")
        return cname

    def wait_healthy(self, cname, deadline):
        """Docker health ``healthy`` before ``deadline`` (monotonic); raise otherwise."""
        while True:
            rep = self.view(cname)
            if rep is None:
                raise CommandExecutionError(f"{cname} disappeared")
            if not rep["running"] and rep["status"] in ("exited", "dead"):
                raise CommandExecutionError(f"{cname} exited{self._tail(cname)}")
            if rep["health"] == "unhealthy":
                raise CommandExecutionError(f"{cname} is unhealthy{self._tail(cname)}")
            if rep["running"] and rep["health"] in ("healthy", None):
                return rep
            if time.monotonic() > deadline:
                raise CommandExecutionError(
                    f"{cname} not healthy within the progress deadline "
                    f"({self.cfg['update']['progress_deadline']:g}s){self._tail(cname)}"
                )
            time.sleep(POLL)

    def _tail(self, cname):
        try:
            text = __salt__["container.logs"](cname, tail=5, profile=self.profile).strip()
        except CommandExecutionError:
            return ""
        return f"; last log lines: {' | '.join(text.splitlines()[-5:])}" if text else ""

    def enter(self, rep, deadline):
        """Put a healthy replica in its slot and wait until HAProxy's own check says up."""
        if not self.frontend:
            return
        if not rep["addr"]:
            raise CommandExecutionError(f"{rep['name']} has no address on network {self.network}")
        slot = rep["slot"]
        self._fe(
            haproxy.set_addr(self.backend, slot, rep["addr"], self.cfg["port"])
            + ";"
            + haproxy.set_state(self.backend, slot, "ready")
        )
        while True:
            row = haproxy.parse_servers_state(self._fe(haproxy.show_state(self.backend))).get(slot)
            if row and row["op"] == "up" and not row["maint"]:
                self._step(f"{rep['name']} entered the frontend (s{slot})")
                return
            if time.monotonic() > deadline:
                raise CommandExecutionError(
                    f"the frontend did not see {rep['name']} up (s{slot}) within the deadline"
                )
            time.sleep(POLL)

    def leave(self, rep, stop=True, remove=False):
        """Drain a replica's slot (no new requests, open sessions waited out), put it in
        maintenance, then stop (or remove) the container."""
        if self.frontend and rep.get("slot"):
            slot = rep["slot"]
            self._fe(haproxy.set_state(self.backend, slot, "drain"))
            until = time.monotonic() + self.cfg["stop_timeout"]
            while time.monotonic() < until:
                stat = haproxy.parse_sessions(self._fe(haproxy.show_stat()), self.backend)
                if not stat.get(slot):
                    break
                time.sleep(POLL)
            self._fe(haproxy.set_state(self.backend, slot, "maint"))
            self._step(f"drained {rep['name']} (s{slot})")
        if remove:
            __salt__["container.remove"](
                rep["name"], force=True, stop_timeout=self.cfg["stop_timeout"], profile=self.profile
            )
            self._step(f"removed {rep['name']}")
        elif stop and rep.get("running", True):
            __salt__["container.stop"](
                rep["name"], timeout=self.cfg["stop_timeout"], profile=self.profile
            )
            self._step(f"stopped {rep['name']}")

    def monitor(self, names):
        """Watch new replicas for ``monitor`` seconds: each must stay running, not become
        unhealthy, not restart. Returns the names that failed."""
        first = {n: self.view(n) for n in names}
        until = time.monotonic() + self.cfg["update"]["monitor"]
        failed = {}
        while True:
            for n in names:
                if n in failed:
                    continue
                rep = self.view(n)
                if rep is None or not rep["running"]:
                    failed[n] = "stopped"
                elif rep["health"] == "unhealthy":
                    failed[n] = "unhealthy"
                elif rep["restarts"] != first[n]["restarts"]:
                    failed[n] = "restarted"
            if time.monotonic() >= until:
                return failed
            time.sleep(POLL)

    def bring_up(self, reps_or_specs):
        """Gate a batch: healthy, in the frontend, then monitored. ``reps_or_specs`` are
        container names already started. Returns ``(ok_names, {name: reason})``."""
        deadline = time.monotonic() + self.cfg["update"]["progress_deadline"]
        ok, failed = [], {}
        for cname in reps_or_specs:
            try:
                rep = self.wait_healthy(cname, deadline)
                self.enter(rep, deadline)
                ok.append(cname)
            except CommandExecutionError as err:
                failed[cname] = str(err)
        if ok:
            failed.update(
                {
                    n: f"{n} {why} during the {self.cfg['update']['monitor']:g}s monitor"
                    for n, why in self.monitor(ok).items()
                }
            )
            ok = [n for n in ok if n not in failed]
        return ok, failed

    def restore(self, old):
        """Start previous replicas again (same container, same image id) and let them in."""
        deadline = time.monotonic() + self.cfg["update"]["progress_deadline"]
        for rep in old:
            if not rep["running"]:
                __salt__["container.start"](rep["name"], profile=self.profile)
                self._step(f"restarted {rep['name']} ({rep['image']})")
            fresh = self.wait_healthy(rep["name"], deadline)
            self.enter(fresh, deadline)


def _image_ref(image, image_data):
    """The exact reference to record: ``repo@sha256:...`` when the image came from a registry,
    else its id."""
    repo = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image.split("@")[0]
    if "@" in image:
        return image
    for digest in image_data.get("RepoDigests") or []:
        if digest.split("@", 1)[0] == repo:
            return digest
    return image_data["Id"]


def desired(name, image, spec, port=None, profile=None):
    """
    The generation a declaration asks for: ``{generation, image_id, image_ref}``, or ``None``
    when the engine lacks the image. Reads only.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.desired web app:1 \\
            "$(salt-call --out=json container.normalize image=app:1)"
    """
    plan.check_name(name)
    data = __salt__["container.image_inspect"](image, profile=profile)
    if data is None:
        return None
    return {
        "generation": plan.generation({"spec": spec, "port": port}, data["Id"]),
        "image_id": data["Id"],
        "image_ref": _image_ref(image, data),
    }


def apply(
    name,
    image,
    spec_args,
    replicas=1,
    frontend=None,
    backend="app",
    network=None,
    port=8000,
    update=None,
    history=5,
    stop_timeout=10,
    profile=None,
):
    """
    Converge service ``name`` to ``replicas`` containers of ``image`` + ``spec_args`` (the
    options of ``container.running``), rolling out batch by batch under the ``update`` policy
    (see ``container_service.running``). Returns ``{result, comment, changes, steps,
    rolled_back}``; raises only for bad input.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.apply web app:2 '{healthcheck: {test: "true"}}' replicas=2
    """
    plan.check_name(name)
    count = plan.check_replicas(replicas)
    spec = __salt__["container.normalize"](image=image, **spec_args)
    cfg = {
        "frontend": frontend,
        "backend": backend,
        "network": network,
        "port": chain_errors.as_int(port, "port", minimum=1, maximum=65535),
        "update": plan.check_update(update, plan.health_window(spec.get("healthcheck"))),
        "stop_timeout": chain_errors.as_int(stop_timeout, "stop_timeout", minimum=0),
        "history": plan.check_history(history),
    }
    if frontend:
        plan.check_name(frontend, "frontend")
        haproxy.server(backend, 1)
        if not network:
            raise SaltInvocationError(
                "network: a frontend reaches the replicas over a network; name it"
            )
    run = _Rollout(name, cfg, profile)
    try:
        return _apply(run, name, image, spec, spec_args, count)
    except CommandExecutionError as err:
        return {
            "result": False,
            "comment": f"{err}",
            "changes": {},
            "steps": run.steps,
            "rolled_back": False,
        }


def _apply(run, name, image, spec, spec_args, count):
    cfg, upd = run.cfg, run.cfg["update"]
    want = desired(name, image, spec, cfg["port"], run.profile)
    if want is None:
        __salt__["container.image_pull"](image, profile=run.profile)
        run._step(f"pulled {image}")
        want = desired(name, image, spec, cfg["port"], run.profile)
    gen = want["generation"]
    reps = replicas(name, network=run.network, profile=run.profile)
    if plan.converged(reps, gen, count) and _frontend_kept(run, reps, gen):
        return {
            "result": True,
            "comment": f"Service {name} runs {count} healthy replica(s) of {want['image_ref']}",
            "changes": {},
            "steps": [],
            "rolled_back": False,
        }
    new = sorted((r for r in reps.values() if r["generation"] == gen), key=lambda r: r["name"])
    old_running = sorted(
        (r for r in reps.values() if r["generation"] != gen and r["running"]),
        key=lambda r: r["name"],
    )
    stale = [r for r in reps.values() if r["generation"] != gen and not r["running"]]
    previous = old_running[0]["image"] if old_running else None
    history = plan.history_push(
        old_running[0]["history"] if old_running else (new[0]["history"] if new else []),
        want["image_ref"],
        cfg["history"] + 1,
    )
    changes = _changes(reps, gen, want["image_ref"], count)

    # Replicas of the new generation that are not running or not healthy are replaced.
    broken = [r for r in new if not r["running"] or r["health"] == "unhealthy"]
    for rep in broken:
        run.leave(rep, remove=True)
    good = [r for r in new if r not in broken]
    # Extra replicas of the wanted generation (scale down): drain and remove.
    for rep in good[count:]:
        run.leave(rep, remove=True)
    good = good[:count]
    used = [r["slot"] for r in reps.values() if r["slot"] and r not in broken]
    taken = {
        int(r["name"].rsplit("-", 1)[-1]) for r in good if r["name"].rsplit("-", 1)[-1].isdigit()
    }
    indexes = [i for i in range(1, count * 2 + 1) if i not in taken][: count - len(good)]
    pairs = []  # (new index, old replica or None)
    olds = list(old_running)
    for index in indexes:
        pairs.append((index, olds.pop(0) if olds else None))
    surplus = olds  # old replicas beyond the new count: drained once the rollout passed

    done_new, done_old, failed = [], [], {}
    paused = rolled_back = False
    for number, batch in enumerate(plan.batches(pairs, upd["parallelism"])):
        if number and upd["delay"]:
            time.sleep(upd["delay"])
        if upd["order"] == "stop-first":
            for _, old in batch:
                if old:
                    run.leave(old)
        slots = plan.free_slots(used, _slots(run), len(batch))
        used.extend(slots)
        by_name = {}
        for (index, old), slot in zip(batch, slots, strict=True):
            try:
                cname = run.create(
                    gen, index, slot, want["image_ref"], history, dict(spec_args, image=image)
                )
                by_name[cname] = (index, old)
            except CommandExecutionError as err:
                failed[f"{name}#{index}"] = str(err)
                if old and upd["order"] == "stop-first":
                    run.restore([dict(old, running=False)])
        ok, bad = run.bring_up(list(by_name))
        failed.update(bad)
        for cname in bad:
            rep = run.view(cname) or {"name": cname, "slot": None}
            run.leave(dict(rep, running=True), remove=True)
            old = by_name.get(cname, (None, None))[1]
            if old and upd["order"] == "stop-first":
                run.restore([dict(old, running=False)])
        for cname in ok:
            old = by_name[cname][1]
            if old and upd["order"] == "start-first":
                run.leave(old)
            done_new.append(cname)
            if old:
                done_old.append(old)
        if failed and plan.too_many_failures(len(failed), count, upd["max_failure_ratio"]):
            if upd["failure_action"] == "rollback":
                # The previous replicas serve again first, then the new ones leave.
                run.restore([dict(o, running=False) for o in done_old])
                for cname in done_new:
                    run.leave(dict(run.view(cname) or {"name": cname}, running=True), remove=True)
                rolled_back = True
            elif upd["failure_action"] == "pause":
                paused = True
            else:
                continue
            break
    detail = "; ".join(failed.values())
    if rolled_back:
        return {
            "result": False,
            "rolled_back": True,
            "steps": run.steps,
            "changes": {"rollback": {"old": want["image_ref"], "new": previous}},
            "comment": f"Service {name}: the update to {want['image_ref']} failed and was "
            f"rolled back to {previous or 'nothing'}: {detail}",
        }
    if paused:
        return {
            "result": False,
            "rolled_back": False,
            "steps": run.steps,
            "changes": changes,
            "comment": f"Service {name}: update paused after {len(done_new)} of "
            f"{len(pairs)} replica(s): {detail}",
        }
    # The new generation passed: the previous one goes (its image id is in the history).
    for rep in surplus:
        run.leave(rep, remove=True)
    for rep in done_old + stale:
        run.leave(dict(rep, slot=None), remove=True)
    if failed:
        return {
            "result": False,
            "rolled_back": False,
            "steps": run.steps,
            "changes": changes,
            "comment": f"Service {name}: {len(failed)} replica(s) failed and were left out "
            f"(failure_action continue): {detail}",
        }
    return {
        "result": True,
        "rolled_back": False,
        "steps": run.steps,
        "changes": changes,
        "comment": f"Service {name}: {count} replica(s) of {want['image_ref']} healthy"
        + (f" in the frontend {run.frontend}" if run.frontend else ""),
    }


def _changes(reps, gen, image_ref, count):
    """What converging to generation ``gen`` changes: ``generation`` (old/new), and ``image``
    and ``replicas`` when they differ."""
    running = [r for r in reps.values() if r["running"]]
    old_gens = sorted({r["generation"] for r in running if r["generation"] != gen})
    old_images = sorted({r["image"] for r in running if r["generation"] != gen})
    now = (
        len([r for r in running if r["generation"] == gen])
        if not old_gens
        else len([r for r in running if r["generation"] in old_gens])
    )
    changes = {"generation": {"old": ",".join(old_gens) or (gen if now else None), "new": gen}}
    if changes["generation"]["old"] == gen:
        changes.pop("generation")
    if old_images and old_images != [image_ref]:
        changes["image"] = {"old": ",".join(old_images), "new": image_ref}
    if now != count:
        changes["replicas"] = {"old": now, "new": count}
    if not changes:  # same generation and count, but a replica is unhealthy or the frontend lost it
        changes["replicas"] = {"old": f"{now} (not all healthy in the frontend)", "new": count}
    return changes


def check(
    name,
    image,
    spec_args=None,
    replicas=1,
    frontend=None,
    backend="app",
    network=None,
    port=8000,
    profile=None,
):
    """
    Compare a service with its declaration, reading only: ``{converged, changes, image_ref}``
    (``image_ref`` is ``None`` when the engine lacks the image: it would be pulled).

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.check web app:2 '{healthcheck: {test: "true"}}' replicas=2
    """
    plan.check_name(name)
    count = plan.check_replicas(replicas)
    spec = __salt__["container.normalize"](image=image, **(spec_args or {}))
    port = chain_errors.as_int(port, "port", minimum=1, maximum=65535)
    run = _Rollout(name, {"frontend": frontend, "backend": backend, "network": network}, profile)
    want = desired(name, image, spec, port, profile)
    reps = globals()["replicas"](name, network=network, profile=profile)
    if want is None:
        return {
            "converged": False,
            "image_ref": None,
            "changes": {
                "image": {
                    "old": ",".join(sorted({r["image"] for r in reps.values() if r["running"]}))
                    or None,
                    "new": f"{image} (to be pulled)",
                }
            },
        }
    gen = want["generation"]
    if plan.converged(reps, gen, count) and _frontend_kept(run, reps, gen):
        return {"converged": True, "image_ref": want["image_ref"], "changes": {}}
    return {
        "converged": False,
        "image_ref": want["image_ref"],
        "changes": _changes(reps, gen, want["image_ref"], count),
    }


def _frontend_kept(run, reps, gen):
    """False when the frontend (re)started after a replica entered it: its runtime state (the
    slots' addresses and readiness) is gone. Read from the engine only, no runtime API call."""
    if not run.frontend:
        return True
    data = __salt__["container.inspect"](run.frontend, profile=run.profile)
    if data is None:
        raise CommandExecutionError(f"frontend container {run.frontend} does not exist")
    started = plan.timestamp((data.get("State") or {}).get("StartedAt"))
    return all(
        plan.timestamp(r["started_at"]) > started for r in reps.values() if r["generation"] == gen
    )


def _slots(run):
    """The frontend's number of server slots (its CHAIN_SLOTS), 64 without a frontend."""
    if not run.frontend:
        return 4 * plan.MAX_REPLICAS
    servers = haproxy.parse_servers_state(run._fe(haproxy.show_state(run.backend)))
    return max(servers) if servers else 0
