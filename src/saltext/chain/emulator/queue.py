"""The build queue: ``queue/api/json``, ``queue/item/N/api/json``, ``queue/cancelItem``.

Items progress Waiting (quiet period) -> Buildable/Blocked -> Left with ``executable``, as in
``hudson/model/Queue.java``.  The ``why`` texts are the ones of
``core/src/main/resources/hudson/model/Messages.properties`` (``Queue.*``) chosen the way
``Queue.BuildableItem.getCauseOfBlockage`` and ``hudson/model/queue/CauseOfBlockage.java`` do, and
"Build #N is already in progress" from ``jenkins/model/Messages.properties``
(``BlockedBecauseOfBuildInProgress``).  Left items are kept for 5 minutes.
"""

import os
import time

from aiohttp import web

from . import builds, configxml, labels, store
from .api import json_response

LEFT_ITEM_TTL = 300.0


def now_ms():
    return int(time.time() * 1000)


def time_span(ms):
    """``hudson.Util.getTimeSpanString``."""
    ms = max(0, int(ms))
    seconds = ms / 1000.0
    if seconds < 10:
        return f"{seconds:.1f} sec".replace(".0 sec", " sec") if seconds >= 1 else f"{ms} ms"
    if seconds < 60:
        return f"{int(seconds)} sec"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} sec" if sec else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"


class Item:
    def __init__(self, **kw):
        self.id = kw["id"]
        self.job = kw["job"]
        self.params = kw.get("params")
        self.causes = kw.get("causes") or []
        self.in_queue_since = kw.get("in_queue_since", now_ms())
        self.timestamp = kw.get("timestamp", self.in_queue_since)
        self.state = kw.get("state", "waiting")
        self.why = kw.get("why")
        self.stuck = kw.get("stuck", False)
        self.buildable_start = kw.get("buildable_start")
        self.cancelled = kw.get("cancelled", False)
        self.executable = kw.get("executable")  # [job, number]
        self.left_at = kw.get("left_at")

    def to_dict(self):
        return dict(self.__dict__)

    def url_path(self):
        return f"queue/item/{self.id}/"


class Queue:
    def __init__(self, ctl):
        self.ctl = ctl
        self.path = os.path.join(ctl.home, "queue.json")
        data = store.read_json(self.path, {}) or {}
        self.counter = int(data.get("counter", 0))
        self.items = {}
        for raw in data.get("items", []):
            item = Item(**raw)
            self.items[item.id] = item

    def save(self):
        store.write_json(
            self.path,
            {"counter": self.counter, "items": [i.to_dict() for i in self.items.values()]},
        )

    def active(self):
        return [i for i in sorted(self.items.values(), key=lambda i: i.id) if i.state != "left"]

    def item_for_job(self, full_name):
        for item in self.active():
            if item.job == full_name:
                return item
        return None

    def schedule(self, job, delay, params, cause):
        """``Queue.schedule2``: returns ``(item, created)``; an equal pending item is reused."""
        for item in self.active():
            if item.job == job.full_name and (item.params or None) == (params or None):
                return item, False
        self.counter += 1
        since = now_ms()
        item = Item(
            id=self.counter,
            job=job.full_name,
            params=params,
            causes=[cause],
            in_queue_since=since,
            timestamp=since + int(max(0.0, delay) * 1000),
        )
        self.items[item.id] = item
        self.refresh_why(item)
        self.save()
        self.ctl.wake()
        return item, True

    def leave(self, item, executable=None, cancelled=False):
        item.state = "left"
        item.executable = executable
        item.cancelled = cancelled
        item.why = None
        item.stuck = False
        item.left_at = now_ms()

    def cancel(self, item):
        if item.state == "left":
            return False
        self.leave(item, cancelled=True)
        self.save()
        return True

    def cancel_job(self, full_name):
        changed = False
        for item in self.active():
            if item.job == full_name:
                self.leave(item, cancelled=True)
                changed = True
        if changed:
            self.save()

    # ------------------------------------------------------------ scheduling
    def refresh_why(self, item):
        if item.state == "waiting":
            diff = item.timestamp - now_ms()
            item.why = (
                f"In the quiet period. Expires in {time_span(diff)}"
                if diff >= 0
                else "Finished waiting"
            )

    def maintain(self):
        """One pass of ``Queue.maintain``: returns True when something changed."""
        changed = False
        now = now_ms()
        for item in list(self.items.values()):
            if item.state == "left" and item.left_at and now - item.left_at > LEFT_ITEM_TTL * 1000:
                del self.items[item.id]
                changed = True
        started_jobs = set()
        for item in self.active():
            job = self.ctl.jobs.get(item.job)
            if job is None or not job.buildable:
                self.leave(item, cancelled=True)
                changed = True
                continue
            if item.state == "waiting":
                if now < item.timestamp:
                    self.refresh_why(item)
                    continue
                item.state = "buildable"
                item.buildable_start = now
                changed = True
            if not job.concurrent:
                running = self.ctl.builds.building_of(job.full_name)
                if running or job.full_name in started_jobs:
                    if item.state != "blocked":
                        changed = True
                    item.state = "blocked"
                    if running:
                        build = running[0]
                        eta = ""
                        estimated = self.ctl.builds.estimated_duration(build.job)  # live, like Job
                        if estimated > 0:
                            remaining = estimated - (time.monotonic() - build.started) * 1000
                            if remaining > 0:
                                eta = f" (ETA: {time_span(remaining)})"
                        item.why = f"Build #{build.number} is already in progress{eta}"
                    else:
                        item.why = "A build is already in progress"
                    continue
            if item.state == "blocked":
                item.state = "buildable"
                item.buildable_start = now
                changed = True
            if self.ctl.quieting_down:
                if item.why != "Jenkins is about to shut down":
                    item.why, item.stuck = "Jenkins is about to shut down", False
                    changed = True
                continue
            node, executor = self.find_executor(job)
            if node is not None:
                build = self.ctl.builds.start(job, item, node, executor)
                self.leave(item, executable=[job.full_name, build.number])
                started_jobs.add(job.full_name)
                self.ctl.agents.dispatch(build, job)
                changed = True
                continue
            why, stuck = self.cause_of_blockage(job)
            if why != item.why or stuck != item.stuck:
                item.why, item.stuck = why, stuck
                changed = True
        if changed:
            self.save()
        return changed

    def _label(self, job):
        expr_text, builtin = configxml.job_label(job.root)
        if builtin:
            return labels.Atom("built-in")
        return labels.get_label(expr_text)

    def candidates(self, job):
        nodes = self.ctl.nodes
        label = self._label(job)
        result = []
        for name in [""] + nodes.names():
            if label is None:
                mode = "NORMAL" if name == "" else nodes.get(name).get("mode", "NORMAL")
                if mode != "NORMAL":
                    continue
            elif not label.matches(nodes.label_set(name)):
                continue
            result.append(name)
        return label, result

    def find_executor(self, job):
        nodes = self.ctl.nodes
        _, names = self.candidates(job)
        for name in names:
            total = nodes.num_executors(name)
            if total <= 0 or nodes.is_offline(name):
                continue
            executor = self.ctl.builds.free_executor(name, total)
            if executor is not None:
                return name, executor
        return None, None

    def cause_of_blockage(self, job):
        nodes = self.ctl.nodes
        label, names = self.candidates(job)
        if not nodes.names():
            label = None  # "no master/agent. pointless to talk about nodes"
        if label is None:
            return "Waiting for next available executor", False
        matching = [n for n in [""] + nodes.names() if label.matches(nodes.label_set(n))]
        online = [n for n in matching if nodes.num_executors(n) > 0 or n == ""]
        offline = all(nodes.is_offline(n) for n in online)
        label_name = str(label)
        if offline:
            if len(matching) != 1:
                if not matching:
                    return f"There are no nodes with the label ‘{label_name}’", True
                return f"All nodes of label ‘{label_name}’ are offline", True
            return f"‘{nodes.display_name(matching[0])}’ is offline", True
        if len(matching) != 1:
            return f"Waiting for next available executor on ‘{label_name}’", False
        return f"Waiting for next available executor on ‘{nodes.display_name(matching[0])}’", False

    # ------------------------------------------------------------ JSON
    def item_json(self, item, depth=0):
        job = self.ctl.jobs.get(item.job)
        task = {"_class": "hudson.model.FreeStyleProject", "name": item.job.rsplit("/", 1)[-1]}
        if job is not None:
            from .jobs import job_summary

            task = job_summary(job)
            if depth > 0 and job.root.tag == "project":
                # AbstractProject.getAssignedLabelString, @Exported(name = "labelExpression")
                # (2.568.2): visibility 1, so a queue item's task shows it from depth 1 or when
                # tree= names it; null when the job may roam or names no node.
                task["labelExpression"] = configxml.job_label(job.root)[0]
        actions = [{"_class": "hudson.model.CauseAction", "causes": item.causes}]
        if item.params:
            actions.insert(0, builds.parameters_action(item.params))
        cls = {
            "waiting": "WaitingItem",
            "blocked": "BlockedItem",
            "buildable": "BuildableItem",
            "left": "LeftItem",
        }[item.state]
        if item.state == "waiting":
            self.refresh_why(item)
        data = {
            "_class": f"hudson.model.Queue${cls}",
            "actions": actions,
            "blocked": item.state == "blocked",
            "buildable": item.state == "buildable",
            "id": item.id,
            "inQueueSince": item.in_queue_since,
            "params": "".join(f"\n{n}={v}" for n, v in (item.params or [])),
            "stuck": item.stuck,
            "task": task,
            "url": item.url_path(),
            "why": item.why,
        }
        if item.state == "waiting":
            data["timestamp"] = item.timestamp
        elif item.state in ("blocked", "buildable"):
            data["buildableStartMilliseconds"] = item.buildable_start
            if item.state == "buildable":
                data["pending"] = False
        else:
            data["cancelled"] = item.cancelled
            executable = None
            if item.executable:
                build = self.ctl.builds.get(item.executable[0], item.executable[1])
                if build is not None:
                    executable = build.as_executable(depth)
            data["executable"] = executable
        return data

    def queue_json(self, depth=0):
        return {
            "_class": "hudson.model.Queue",
            "discoverableItems": [],
            "items": [self.item_json(i, depth) for i in reversed(self.active())],
        }

    # ------------------------------------------------------------ HTTP
    async def handle(self, request, rest):
        ctl = self.ctl
        rest = [s for s in rest if s != ""]
        if not rest:
            return ctl.html_page(request, "Queue")
        if rest[0] == "api" and len(rest) >= 2 and rest[1] == "json":
            return json_response(request, self.queue_json)
        if rest[0] == "cancelItem":
            if request.method != "POST":
                return web.Response(status=405, text="This URL requires POST")
            raw = request.query.get("id") or (await ctl.form(request)).get("id") or ""
            item = self.items.get(int(raw)) if raw.strip().isdigit() else None
            if item is None:
                return ctl.error_text(request, 404, f"Provided id ({raw}) not found")
            if not self.cancel(item):
                return ctl.error_text(request, 500, f"Could not cancel run for id {raw}")
            return web.Response(status=204)
        if rest[0] == "item" and len(rest) >= 2 and rest[1].isdigit():
            item = self.items.get(int(rest[1]))
            if item is None:
                return ctl.not_found(request)
            sub = rest[2:]
            if not sub:
                return ctl.html_page(request, f"Queue item {item.id}")
            if sub[0] == "api" and len(sub) >= 2 and sub[1] == "json":
                return json_response(request, lambda depth: self.item_json(item, depth))
            if sub[0] == "cancelQueue" and request.method == "POST":
                self.cancel(item)
                return web.Response(status=204)
        return ctl.not_found(request)
