"""
``container_service`` in Swarm mode: a Swarm service rolled out by Swarm under the declared
``update`` policy, with our own health gate on top (each new task seen serving by the
frontend's HTTP check, and staying so for ``update.monitor``), rolled back with ``docker
service rollback`` when the gate refuses what Swarm accepted.

.. versionadded:: 0.3.0

Part of the ``container_service`` execution module (``container_service.py`` has the
container mode and the frontend's runtime API); every engine call goes through the
``container`` module. The decisions are ``chain_swarm``'s (pure). Run on a Swarm manager.
"""

import logging
import time

from salt.exceptions import CommandExecutionError

try:
    from saltext.chain.utils import (
        chain_service_haproxy,
        chain_service_plan,
        chain_swarm,
        chain_swarm_rollout,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_service_haproxy
    import chain_service_plan
    import chain_swarm
    import chain_swarm_rollout

log = logging.getLogger(__name__)

__virtualname__ = "container_service"

plan = chain_service_plan
swarm = chain_swarm
haproxy = chain_service_haproxy
rollout = chain_swarm_rollout
POLL = 0.25


def __virtual__():
    return __virtualname__


def _declaration(name, image, spec_args, options):
    """``(svc, swarm options)`` validated, before any I/O."""
    own = {k: v for k, v in options.items() if not k.startswith("__")}
    extra = {k: own.pop(k) for k in list(own) if k in swarm.SWARM_DEFAULTS}
    svc = plan.service(name, image, spec_args, **own)
    opts = swarm.options("swarm", spec=svc["spec"], update=svc["update"], **extra)
    return svc, opts


def _read(svc):
    """``(service inspect or None, task views)``."""
    service = __salt__["container.service_inspect"](svc["name"], profile=svc["profile"])
    if service is None:
        return None, []
    tasks = __salt__["container.service_tasks"](svc["name"], profile=svc["profile"])
    return service, [swarm.task_view(t, svc["network"]) for t in tasks]


def _servers(svc):
    if not svc["frontend"]:
        return {}
    return __salt__["container_service.frontend_servers"](
        svc["frontend"], svc["backend"], profile=svc["profile"]
    )


def _serving(svc, tasks):
    """True when the frontend serves every live task (always, without a frontend)."""
    if not svc["frontend"]:
        return True
    return swarm.serves_all(_servers(svc), tasks)


def swarm_check(name, image, spec_args=None, **options):
    """
    Compare a Swarm-mode service with its declaration, reading only: ``{converged, changes,
    image_ref}``. ``options`` are those of ``container_service.apply`` plus ``placement``,
    ``publish`` and ``endpoint_mode``.

    CLI Example:

    .. code-block:: bash

        salt manager1 container_service.swarm_check web app:2 \\
            '{healthcheck: {test: "true"}}' replicas=2
    """
    svc, opts = _declaration(name, image, spec_args, options)
    data = __salt__["container.image_inspect"](svc["image"], profile=svc["profile"])
    service, tasks = _read(svc)
    if data is None:
        old = ((service or {}).get("Spec") or {}).get("Labels", {}).get(plan.LABEL_IMAGE)
        return {
            "converged": False,
            "image_ref": None,
            "changes": {"image": {"old": old, "new": f"{image} (to be pulled)"}},
        }
    gens = swarm.generations(svc, opts, data["Id"])
    ref = swarm.task_image(svc["image"], plan.image_ref(svc["image"], data))
    if swarm.converged(service, tasks, gens, svc["replicas"]) and _serving(svc, tasks):
        return {"converged": True, "image_ref": ref, "changes": {}}
    found = swarm.changes(service, tasks, gens, svc["replicas"], ref)
    return {
        "converged": False,
        "image_ref": ref,
        "changes": found or {"frontend": {"old": "not serving every task", "new": "serving"}},
    }


class _Run:
    """One Swarm-mode rollout: the steps taken (with time offsets), and each look at Swarm and
    the frontend (one read of each per look), which keeps the frontend following the live
    tasks and feeds our gate."""

    def __init__(self, svc):
        self.svc, self.steps, self.t0 = svc, [], time.monotonic()
        self.seen = {}  # task id -> [since, looks] of its stretch down (chain_swarm.not_serving)
        self.up_since = {}  # task id -> first look of its stretch up (chain_swarm.monitored)
        self.read_failures = 0
        self.servers = {}  # the frontend's slots at the last look

    def step(self, text):
        text = f"{text} (+{time.monotonic() - self.t0:.1f}s)"
        log.info("container_service %s: %s", self.svc["name"], text)
        self.steps.append(text)

    def read(self):
        return _read(self.svc)

    def frontend(self):
        """The frontend's slots, or ``None`` when this read failed (the admin socket went
        unanswered under load): a failed look, not a verdict; :data:`chain_swarm.READ_FAILURES`
        in a row raise."""
        svc = self.svc
        try:
            text = __salt__["container_service.frontend_command"](
                svc["frontend"], haproxy.show_state(svc["backend"]), profile=svc["profile"]
            )
            servers = haproxy.parse_servers_state(text)
        except CommandExecutionError as err:
            self.read_failures += 1
            if self.read_failures >= swarm.READ_FAILURES:
                raise
            log.warning("container_service %s: frontend read failed: %s", svc["name"], err)
            return None
        self.read_failures = 0
        return servers

    def look(self):
        """``(service, tasks, up)``: Swarm's view, and the addresses the frontend's check sees
        up (``None`` without a frontend or when its read failed), the frontend made to follow
        the live tasks (one runtime API line for every change)."""
        service, tasks = self.read()
        if not self.svc["frontend"]:
            return service, tasks, None
        servers = self.frontend()
        if servers is None:
            return service, tasks, None
        self.servers = servers
        self.follow(tasks, servers)
        up, now = swarm.checked_up(servers), time.monotonic()
        for task in swarm.live(tasks):
            if task["addr"] not in up:
                self.up_since[task["id"]] = None
            elif self.up_since.get(task["id"]) is None:
                self.up_since[task["id"]] = now
        return service, tasks, up

    def follow(self, tasks, servers):
        """New live tasks into free slots (not taking traffic until the frontend's own check
        sees them up, then ``ready``), gone ones out (maintenance)."""
        svc = self.svc
        addrs = {t["addr"] for t in swarm.live(tasks) if t["addr"]}
        todo = swarm.frontend_plan(servers, addrs)
        if not todo:
            return
        line = ";".join(
            swarm.frontend_commands(svc["backend"], slot, action, addr, svc["port"])
            for slot, action, addr in todo
        )
        __salt__["container_service.frontend_command"](
            svc["frontend"], line, profile=svc["profile"]
        )
        for slot, action, addr in todo:
            self.step(f"frontend slot s{slot}: {action} {addr}")

    def wait(self, until, deadline, gen=None):
        """Follow Swarm (and keep the frontend following the tasks) until ``until(service,
        tasks)`` gives a verdict other than WAITING; returns ``(verdict, why)``. With ``gen``
        and a frontend, a task of ``gen`` running but not serving fails it early
        (``chain_swarm.not_serving``), within Swarm's delay after its batch."""
        while True:
            service, tasks, up = self.look()
            verdict, why = until(service, tasks)
            if verdict != swarm.WAITING:
                return verdict, why
            if gen and up is not None:
                late = swarm.not_serving(
                    tasks, gen, up, self.seen, time.monotonic(), swarm.grace(self.svc["update"])
                )
                if late:
                    return swarm.FAILED, late
            if time.monotonic() > deadline:
                return swarm.FAILED, f"not done within the progress deadline: {why}"
            time.sleep(POLL)

    def gate(self, gen, replicas, deadline, monitor=None):
        """Our gate on top of Swarm's, once Swarm is done: every live task of ``gen`` serving in
        the frontend (:func:`chain_swarm.not_serving`), each for ``monitor`` seconds in a row
        (default ``update.monitor``; the looks during Swarm's delay count), and every slot
        ``ready``. Returns why it failed, or ``None``."""
        svc = self.svc
        if not svc["frontend"]:
            return None
        monitor = svc["update"]["monitor"] if monitor is None else monitor
        grace = swarm.grace(svc["update"])
        while True:
            _, tasks, up = self.look()
            now = time.monotonic()
            new = [t for t in swarm.live(tasks) if t["generation"] == gen]
            if up is not None:
                late = swarm.not_serving(tasks, gen, up, self.seen, now, grace)
                if late:
                    return late
                if len(new) == replicas and swarm.monitored(
                    tasks, gen, self.up_since, now, monitor
                ):
                    if swarm.serves_all(self.servers, tasks):
                        self.step(f"every task of {gen[:8]} serves, {monitor:g}s in a row")
                        return None
            if now > deadline:
                down = sorted(t["id"][:12] for t in new if up is None or t["addr"] not in up)
                return (
                    f"{len(new)}/{replicas} task(s) of {gen[:8]} running, "
                    f"{', '.join(down) or 'none'} not serving within the progress deadline"
                )
            time.sleep(POLL)


def swarm_apply(name, image, spec_args=None, **options):
    """
    Converge Swarm service ``name`` (on a manager) to ``replicas`` tasks of ``image`` +
    ``spec_args``: Swarm rolls the tasks out under the ``update`` policy (its
    ``UpdateConfig``); then our gate (:py:func:`swarm_check` options). Returns ``{result,
    comment, changes, steps, rolled_back}``; raises only for bad input.

    CLI Example:

    .. code-block:: bash

        salt manager1 container_service.swarm_apply web app:2 \\
            '{healthcheck: {test: "true"}}' replicas=2 placement='{role: app}'
    """
    svc, opts = _declaration(name, image, spec_args, options)
    run = _Run(svc)
    try:
        return _roll_out(run, opts)
    except CommandExecutionError as err:
        return _result(False, f"{err}", {}, run, False)


def _want(svc):
    data = __salt__["container.image_inspect"](svc["image"], profile=svc["profile"])
    if data is None:
        __salt__["container.image_pull"](svc["image"], profile=svc["profile"])
        data = __salt__["container.image_inspect"](svc["image"], profile=svc["profile"])
        if data is None:
            raise CommandExecutionError(f"image {svc['image']} is not on the engine after a pull")
    return data


def _roll_out(run, opts):
    """Read the service; unless it is converged, create or update it, follow Swarm, gate."""
    svc = run.svc
    name, count = svc["name"], svc["replicas"]
    data = _want(svc)
    gens = swarm.generations(svc, opts, data["Id"])
    ref = swarm.task_image(svc["image"], plan.image_ref(svc["image"], data))
    service, tasks = run.read()
    if swarm.converged(service, tasks, gens, count) and _serving(svc, tasks):
        return _result(True, f"Service {name} runs {count} serving task(s) of {ref}", {}, run)
    found = swarm.changes(service, tasks, gens, count, ref)
    labels = ((service or {}).get("Spec") or {}).get("Labels") or {}
    history = plan.history_push(
        plan.history_read(labels.get(plan.LABEL_HISTORY)), ref, svc["history"] + 1
    )
    spec = swarm.service_spec(svc, opts, ref, gens, history)
    if service is None:
        __salt__["container.service_create"](spec, profile=svc["profile"])
        run.step(f"created service {name}")
    elif found:
        __salt__["container.service_update"](name, spec, profile=svc["profile"])
        run.step(f"updated service {name} ({', '.join(found)})")
    deadline = time.monotonic() + svc["update"]["progress_deadline"]
    try:
        verdict, why = run.wait(
            lambda s, t: swarm.progress(s, t, gens[0], count), deadline, gen=gens[0]
        )
        if verdict == swarm.DONE:
            why = run.gate(gens[0], count, deadline)
            if why is None:
                return _result(True, f"Service {name} rolled out: {count} serving task(s) of "
                               f"{ref}", found, run)  # fmt: skip
            verdict = swarm.FAILED
    except CommandExecutionError as err:  # the update is under way: still roll it back
        verdict, why = swarm.FAILED, f"{err}"
    return _failed(run, service, verdict, why, found)


def _failed(run, service, verdict, why, found):
    """After a failed rollout: Swarm rolled back already, or we do (``failure_action:
    rollback``), or the service is left as it is. A rollback is followed to its end: Swarm's
    ``rollback_completed`` with the previous spec's tasks live, each serving in the frontend."""
    svc = run.svc
    name, action = svc["name"], svc["update"]["failure_action"]
    if verdict != swarm.SWARM_ROLLED_BACK:
        if service is None or action != "rollback":
            left = "no previous spec" if service is None else f"failure_action {action}"
            return _result(False, f"Service {name}: {why}; left as it is ({left})", found, run)
        __salt__["container.service_rollback"](name, profile=svc["profile"])
        run.step(f"rolled {name} back (docker service rollback): {why}")
    deadline = time.monotonic() + svc["update"]["progress_deadline"]
    done, how = run.wait(_rollback_done, deadline)
    if done == swarm.DONE:
        back, tasks = run.read()
        gen = swarm.spec_generation(back)
        how = run.gate(gen, len(swarm.live(tasks)), deadline, monitor=0)
    if done != swarm.DONE or how:
        return _result(False, f"Service {name}: {why}; the rollback did not finish: {how}",
                       found, run)  # fmt: skip
    return _result(False, f"Service {name}: {why}; rolled back to the previous spec", found,
                   run, rolled_back=True)  # fmt: skip


def _rollback_done(service, tasks):
    if swarm.rolled_back_to_previous(service, tasks):
        return swarm.DONE, ""
    state = swarm.update_state(service)
    if state in swarm.PAUSED:
        return swarm.FAILED, f"the rollback paused ({state})"
    return swarm.WAITING, state or ""


def _result(ok, comment, changes, run, rolled_back=False):
    return {
        "result": ok,
        "comment": comment,
        "changes": changes if ok else {},
        "steps": run.steps,
        "rolled_back": rolled_back,
    }


def swarm_status(name, network=None, frontend=None, backend="app", profile=None):
    """
    A Swarm-mode service as ``chain.status`` shows it: ``{mode, service, replicas,
    update_state, image, current, history, tasks: {node host name: [task views]}}`` (live
    tasks only, each with ``digest``, ``health`` and, with a ``frontend``, ``serving``:
    ``chain_swarm_rollout.annotate``), ``None`` when it does not exist. ``frontend_error``
    when the frontend could not be read.

    CLI Example:

    .. code-block:: bash

        salt manager1 container_service.swarm_status web network=chain frontend=chain-frontend
    """
    plan.check_name(name)
    service = __salt__["container.service_inspect"](name, profile=profile)
    if service is None:
        return None
    nodes = {n: v["hostname"] for n, v in __salt__["container.node_list"](profile=profile).items()}
    tasks = [
        swarm.task_view(t, network, nodes)
        for t in __salt__["container.service_tasks"](name, profile=profile)
    ]
    serving, error = None, None
    if frontend:
        try:
            found = __salt__["container_service.frontend_servers"](
                frontend, backend, profile=profile
            )
            serving = {found[s]["addr"] for s in haproxy.serving(found)}
        except CommandExecutionError as err:
            error = str(err)[:300]
    spec = service.get("Spec") or {}
    labels = spec.get("Labels") or {}
    out = {
        "mode": "swarm",
        "service": name,
        "replicas": ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
        "update_state": swarm.update_state(service),
        "image": labels.get(plan.LABEL_IMAGE),
        "current": labels.get(plan.LABEL_IMAGE),
        "history": plan.history_read(labels.get(plan.LABEL_HISTORY)),
        "tasks": swarm.tasks_per_node([rollout.annotate(t, serving) for t in tasks]),
    }
    return dict(out, frontend_error=error) if error else out
