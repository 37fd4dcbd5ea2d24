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
    from saltext.chain.utils import (
        chain_errors,
        chain_health,
        chain_service_haproxy,
        chain_service_plan,
        chain_service_rollout,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_health
    import chain_service_haproxy
    import chain_service_plan
    import chain_service_rollout

log = logging.getLogger(__name__)

__virtualname__ = "container_service"

plan = chain_service_plan
rollout = chain_service_rollout
haproxy = chain_service_haproxy
POLL = 0.25
#: Seconds at most that :py:func:`status` looks again at momentarily unready replicas.
SETTLE_MAX = 30
#: Seconds between those looks: a look costs two commands in the frontend and an inspect per
#: replica, and health changes no faster than a probe (the chain's run every second).
SETTLE_POLL = 1.0


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
    health = chain_health.facts(data)
    return {
        "id": data["Id"],
        "name": data.get("Name", "").lstrip("/"),
        "generation": labels.get(plan.LABEL_GENERATION),
        "slot": int(slot) if slot and slot.isdigit() else None,
        "image": labels.get(plan.LABEL_IMAGE) or (data.get("Config") or {}).get("Image"),
        "image_id": data.get("Image"),
        "history": plan.history_read(labels.get(plan.LABEL_HISTORY)),
        "running": health["running"],
        "status": health["status"],
        "health": health["health"],
        "streak": health["streak"],
        "timed_out": health["timed_out"],
        "retries": health["retries"],
        "window": health["window"],
        "start_period": health["start_period"],
        "restarts": data.get("RestartCount", 0),
        "started_at": state.get("StartedAt"),
        "addr": addr or None,
    }


def replicas(name, network=None, profile=None):
    """
    The replicas of service ``name`` on this engine (running or not):
    ``{container: {id, generation, slot, image, image_id, history, running, status, health,
    streak, timed_out, retries, window, start_period, restarts, started_at, addr}}`` (the
    health facts: ``chain_health.facts``).

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
    try:
        res = __salt__["container.exec"](frontend, haproxy.argv(command), profile=profile)
    except CommandExecutionError as err:
        down = _frontend_down(frontend, profile)
        if down is None:
            raise
        raise down from err
    if res["retcode"] != 0:
        raise _frontend_down(frontend, profile) or CommandExecutionError(
            f"frontend {frontend}: the admin socket did not answer: "
            f"{(res['stderr'] or res['stdout']).strip().splitlines()[-1:] or ['no output']}"
        )
    return haproxy.check_answer(res["stdout"], command)


def _frontend_down(frontend, profile):
    """The error that says the frontend container is not running (killed, stopped, removed),
    or ``None`` when it runs (or the engine cannot say)."""
    try:
        data = __salt__["container.inspect"](frontend, profile=profile)
    except CommandExecutionError:
        return None
    if data is None:
        return CommandExecutionError(f"frontend {frontend} is not running (no such container)")
    state = data.get("State") or {}
    if state.get("Running"):
        return None
    return CommandExecutionError(
        f"frontend {frontend} is not running ({state.get('Status')}, exit code "
        f"{state.get('ExitCode')}): its runtime API is out of reach; the next run starts it "
        f"again and puts every healthy replica back in"
    )


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


def status(name, frontend=None, backend="app", network=None, profile=None, settle=True):
    """
    A service's state on this minion: its replicas (generation, image, health, slot) and, with
    a ``frontend``, whether each replica's slot serves. ``generations`` counts the replicas
    per generation; ``current`` is the newest running generation's image.

    Health is judged, not glanced at (``chain_health.Watch``): while a running replica is
    momentarily not ready (or out of the frontend's rotation), the service is read again until
    it is ready or its health window is over (``settle=False``: one look). ``waited`` is the
    seconds that took.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.status web frontend=chain-frontend backend=app network=chain
    """
    settle = chain_errors.as_bool(settle, "settle")
    watch, started = chain_health.Watch(), time.monotonic()
    while True:
        out = _status_look(name, frontend, backend, network, profile)
        if not settle:
            break
        now = time.monotonic()
        waiting = chain_health.pending(
            watch, out["replicas"], now, frontend=out["frontend"] == "running"
        )
        if not waiting or now - started > SETTLE_MAX:
            break
        time.sleep(SETTLE_POLL)
    out["waited"] = round(time.monotonic() - started, 2)
    return out


def _status_look(name, frontend, backend, network, profile):
    """One look at a service (see :py:func:`status`)."""
    reps = replicas(name, network=network, profile=profile)
    servers, frontend_state = {}, None
    if frontend:
        data = __salt__["container.inspect"](frontend, profile=profile)
        frontend_state = ((data or {}).get("State") or {}).get("Status", "absent")
        if frontend_state == "running":
            servers = frontend_servers(frontend, backend, profile)
    serving = set(haproxy.serving(servers))
    for rep in reps.values():
        rep["serving"] = rep["slot"] in serving and servers[rep["slot"]]["addr"] == rep["addr"]
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
# The rollout: chain_service_rollout decides, the executor below does the I/O
# ---------------------------------------------------------------------------------------------


class _Executor:
    """Performs a rollout's steps (``chain_service_rollout.Step``) on the engine and the
    frontend, and records what it did (``steps``, with time offsets)."""

    def __init__(self, svc):
        self.svc = svc
        self.name = svc["name"]
        self.profile = svc["profile"]
        self.frontend = svc["frontend"]
        self.backend = svc["backend"]
        self.network = svc["network"]
        self.steps = []
        self.target = None  # (generation, image reference, history) of the new replicas
        self.t0 = time.monotonic()

    def do(self, step):
        """Perform one step; returns what the plan expects back for its kind."""
        kind, arg = step
        if kind == rollout.CREATE:
            try:
                return self.create(*arg), None
            except CommandExecutionError as err:
                return None, str(err)
        if kind == rollout.GATE:
            return self.bring_up(arg)
        if kind == rollout.SLOTS:
            servers = None
            if self.frontend:
                servers = haproxy.parse_servers_state(self._fe(haproxy.show_state(self.backend)))
            return rollout.slot_count(servers)
        if kind == rollout.REMOVE:
            self.leave(arg, remove=True)
        elif kind == rollout.STOP:
            self.leave(arg)
        elif kind == rollout.DISCARD:
            rep = self.view(arg) or {"name": arg, "slot": None}
            self.leave(dict(rep, running=True), remove=True)
        elif kind == rollout.RESTORE:
            self.restore(arg)
        elif kind == rollout.WAIT:
            time.sleep(arg)
        else:
            raise ValueError(f"unknown rollout step {kind!r}")
        return None

    def _step(self, text):
        text = f"{text} (+{time.monotonic() - self.t0:.1f}s)"
        log.info("container_service %s: %s", self.name, text)
        self.steps.append(text)

    def view(self, cname):
        data = __salt__["container.inspect"](cname, profile=self.profile)
        return None if data is None else _replica_view(data, self.network)

    def _fe(self, command):
        return frontend_command(self.frontend, command, profile=self.profile)

    def create(self, index, slot):
        gen, image_ref, history = self.target
        cname = plan.replica_name(self.name, gen, index)
        if __salt__["container.inspect"](cname, profile=self.profile) is not None:
            __salt__["container.remove"](cname, force=True, profile=self.profile)
            self._step(f"removed {cname} left by an earlier run")
        labels = dict(self.svc["spec_args"].get("labels") or {})
        labels.update(
            {
                plan.LABEL_SERVICE: self.name,
                plan.LABEL_GENERATION: gen,
                plan.LABEL_SLOT: str(slot),
                plan.LABEL_IMAGE: image_ref,
                plan.LABEL_HISTORY: plan.history_label(history),
            }
        )
        args = dict(self.svc["spec_args"], image=self.svc["image"], labels=labels)
        if self.network:
            args["networks"] = {self.network: {"aliases": [cname]}}
        cid = __salt__["container.create"](name=cname, profile=self.profile, pull="never", **args)
        __salt__["container.start"](cid, profile=self.profile)
        self._step(f"started {cname} (slot s{slot})")
        return cname

    def wait_healthy(self, cname, deadline):
        """Ready before ``deadline`` (monotonic), judged over time (``chain_health.Watch``: a
        replica momentarily not ready is waited for); raise otherwise."""
        watch = chain_health.Watch()
        while True:
            rep = self.view(cname)
            now = time.monotonic()
            verdict = watch.judge(cname, rep, now)
            if verdict == chain_health.READY:
                return rep
            if rep is None:
                raise CommandExecutionError(f"{cname} disappeared")
            if verdict == chain_health.FAILED:
                why = _failure(rep, watch, now)
                raise CommandExecutionError(f"{cname} {why}{self._tail(cname)}")
            if now > deadline:
                raise CommandExecutionError(
                    f"{cname} not healthy within the progress deadline "
                    f"({self.svc['update']['progress_deadline']:g}s){self._tail(cname)}"
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
            haproxy.set_addr(self.backend, slot, rep["addr"], self.svc["port"])
            + ";"
            + haproxy.set_state(self.backend, slot, "ready")
        )
        while True:
            servers = haproxy.parse_servers_state(self._fe(haproxy.show_state(self.backend)))
            if slot in haproxy.serving(servers):
                self._step(f"{rep['name']} entered the frontend (s{slot})")
                return
            if time.monotonic() > deadline:
                raise CommandExecutionError(
                    f"the frontend did not see {rep['name']} up (s{slot}) within the deadline"
                )
            time.sleep(POLL)

    def leave(self, rep, remove=False):
        """Drain a replica's slot (no new requests, open sessions waited out), put it in
        maintenance, then stop (or remove) the container."""
        stop_timeout = self.svc["stop_timeout"]
        if self.frontend and rep.get("slot"):
            try:
                self._drain(rep, stop_timeout)
            except CommandExecutionError:
                if _frontend_down(self.frontend, self.profile) is None:
                    raise
                self._step(f"{rep['name']} not drained: the frontend is not running")
        if remove:
            __salt__["container.remove"](
                rep["name"], force=True, stop_timeout=stop_timeout, profile=self.profile
            )
            self._step(f"removed {rep['name']}")
        elif rep.get("running", True):
            __salt__["container.stop"](rep["name"], timeout=stop_timeout, profile=self.profile)
            self._step(f"stopped {rep['name']}")

    def _drain(self, rep, stop_timeout):
        slot = rep["slot"]
        self._fe(haproxy.set_state(self.backend, slot, "drain"))
        until = time.monotonic() + stop_timeout
        while time.monotonic() < until:
            stat = haproxy.parse_sessions(self._fe(haproxy.show_stat()), self.backend)
            if not stat.get(slot):
                break
            time.sleep(POLL)
        self._fe(haproxy.set_state(self.backend, slot, "maint"))
        self._step(f"drained {rep['name']} (s{slot})")

    def monitor(self, names, deadline):
        """Watch new replicas for ``monitor`` seconds (``chain_service_rollout.monitor_fault``,
        health judged over time by a ``chain_health.Watch``), longer for one that is then in
        the middle of a bad stretch (until it is judged, or ``deadline``). Returns ``{name:
        why}`` of those that failed."""
        first = {n: self.view(n) for n in names}
        until = time.monotonic() + self.svc["update"]["monitor"]
        watch, failed = chain_health.Watch(), {}
        while True:
            for n in names:
                if n not in failed:
                    view = self.view(n)
                    now = time.monotonic()
                    why = rollout.monitor_fault(first[n], view, watch.judge(n, view, now))
                    if why:
                        failed[n] = why
            now = time.monotonic()
            unsure = [n for n in names if n not in failed and watch.waiting(n)]
            if now >= until and (not unsure or now > deadline):
                failed.update({n: f"not ready for {watch.stretch(n, now):g}s" for n in unsure})
                return failed
            time.sleep(POLL)

    def bring_up(self, names):
        """Gate new replicas (started): healthy, in the frontend, then monitored. Returns
        ``{name: why}`` of those that failed."""
        deadline = time.monotonic() + self.svc["update"]["progress_deadline"]
        ok, failed = [], {}
        for cname in names:
            try:
                rep = self.wait_healthy(cname, deadline)
                self.enter(rep, deadline)
                ok.append(cname)
            except CommandExecutionError as err:
                failed[cname] = str(err)
        if ok:
            monitor = self.svc["update"]["monitor"]
            failed.update(
                {
                    n: f"{n} {why} during the {monitor:g}s monitor"
                    for n, why in self.monitor(ok, deadline).items()
                }
            )
        return failed

    def restore(self, old):
        """Start previous replicas again (same container, same image id) and let them in."""
        deadline = time.monotonic() + self.svc["update"]["progress_deadline"]
        for rep in old:
            if not rep["running"]:
                __salt__["container.start"](rep["name"], profile=self.profile)
                self._step(f"restarted {rep['name']} ({rep['image']})")
            fresh = self.wait_healthy(rep["name"], deadline)
            self.enter(fresh, deadline)


def _failure(rep, watch, now):
    """Why a replica was judged failed (``chain_health.Watch``), in a few words."""
    if not rep["running"] and rep["status"] in ("exited", "dead"):
        return "exited"
    took = watch.stretch(rep["name"], now)
    if rep["health"] == chain_health.UNHEALTHY:
        how = "probes timing out, " if rep.get("timed_out") else ""
        return f"is unhealthy ({how}failing streak {rep['streak']}, not ready for {took:g}s)"
    return f"is not ready ({rep['health'] or rep['status']}) after {took:g}s"


def _execute(run, steps):
    """Drive a rollout plan (``chain_service_rollout.steps``): perform each step, send its
    outcome back; returns the plan's ``Outcome``."""
    outcome = None
    while True:
        try:
            step = steps.send(outcome)
        except StopIteration as end:
            return end.value
        outcome = run.do(step)


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
        "image_ref": plan.image_ref(image, data),
    }


def _wanted(svc):
    return desired(svc["name"], svc["image"], svc["spec"], svc["port"], svc["profile"])


def _own(options):
    """The service options of a call: Salt's ``__pub_*`` keywords left out."""
    return {k: v for k, v in options.items() if not k.startswith("__")}


def apply(name, image, spec_args=None, **options):
    """
    Converge service ``name`` to ``replicas`` containers of ``image`` + ``spec_args`` (the
    options of ``container.running``), rolling out batch by batch under the ``update`` policy.
    ``options`` are the service's own (``replicas=1, frontend=None, backend=app,
    network=None, port=8000, update=None, history=5, stop_timeout=10, profile=None``, see
    ``container_service.running``). Returns ``{result, comment, changes, steps,
    rolled_back}``; raises only for bad input.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.apply web app:2 '{healthcheck: {test: "true"}}' replicas=2
    """
    svc = plan.service(name, image, spec_args, **_own(options))
    run = _Executor(svc)
    try:
        return _roll_out(run)
    except CommandExecutionError as err:
        return {
            "result": False,
            "comment": f"{err}",
            "changes": {},
            "steps": run.steps,
            "rolled_back": False,
        }


def _roll_out(run):
    """Read the service, and roll the wanted generation out unless it already runs."""
    svc = run.svc
    want = _wanted(svc)
    if want is None:
        __salt__["container.image_pull"](svc["image"], profile=svc["profile"])
        run._step(f"pulled {svc['image']}")
        want = _wanted(svc)
        if want is None:
            raise CommandExecutionError(f"image {svc['image']} is not on the engine after a pull")
    gen, ref, count = want["generation"], want["image_ref"], svc["replicas"]
    done, reps = _converged(svc, gen)
    if done:
        return {
            "result": True,
            "comment": f"Service {svc['name']} runs {count} healthy replica(s) of {ref}",
            "changes": {},
            "steps": [],
            "rolled_back": False,
        }
    prep = rollout.prepare(reps, gen, count, ref, svc["history"] + 1)
    run.target = (gen, ref, prep.history)
    outcome = _execute(run, rollout.steps(svc["name"], prep, count, svc["update"]))
    done = rollout.report(svc, outcome, ref, prep.previous, rollout.changes(reps, gen, ref, count))
    done["steps"] = run.steps
    return done


def check(name, image, spec_args=None, **options):
    """
    Compare a service with its declaration, reading only: ``{converged, changes, image_ref}``
    (``image_ref`` is ``None`` when the engine lacks the image: it would be pulled).
    ``options`` are those of :py:func:`apply`.

    CLI Example:

    .. code-block:: bash

        salt '*' container_service.check web app:2 '{healthcheck: {test: "true"}}' replicas=2
    """
    svc = plan.service(name, image, spec_args, **_own(options))
    want = _wanted(svc)
    if want is None:
        reps = replicas(svc["name"], network=svc["network"], profile=svc["profile"])
        running = sorted({r["image"] for r in reps.values() if r["running"]})
        return {
            "converged": False,
            "image_ref": None,
            "changes": {
                "image": {"old": ",".join(running) or None, "new": f"{image} (to be pulled)"}
            },
        }
    gen, ref = want["generation"], want["image_ref"]
    done, reps = _converged(svc, gen)
    if done:
        return {"converged": True, "image_ref": ref, "changes": {}}
    return {
        "converged": False,
        "image_ref": ref,
        "changes": rollout.changes(reps, gen, ref, svc["replicas"]),
    }


def _converged(svc, gen):
    """``(converged, replicas)``: ``chain_health.convergence`` over as many looks as a replica
    momentarily not ready needs to be judged (a blip is not a reason to redeploy), and the
    frontend kept the replicas (see below)."""
    watch = chain_health.Watch()
    while True:
        reps = replicas(svc["name"], network=svc["network"], profile=svc["profile"])
        where = chain_health.convergence(watch, reps, gen, svc["replicas"], time.monotonic())
        if where != chain_health.WAITING:
            return where == chain_health.CONVERGED and _frontend_kept(svc, reps, gen), reps
        time.sleep(POLL)


def _frontend_kept(svc, reps, gen):
    """False when the frontend (re)started after a replica entered it: its runtime state (the
    slots' addresses and readiness) is gone. Read from the engine only, no runtime API call."""
    if not svc["frontend"]:
        return True
    data = __salt__["container.inspect"](svc["frontend"], profile=svc["profile"])
    if data is None:
        raise CommandExecutionError(f"frontend container {svc['frontend']} does not exist")
    started = plan.timestamp((data.get("State") or {}).get("StartedAt"))
    return all(
        plan.timestamp(r["started_at"]) > started for r in reps.values() if r["generation"] == gen
    )
