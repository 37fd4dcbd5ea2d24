"""Builds: records, logs, artifacts and ``job/J/N/…`` pages.

Follows ``hudson/model/Run.java`` (exported fields, ``doConsoleText``, ``getLogText`` /
``logText/progressiveText`` with ``X-Text-Size``/``X-More-Data`` from
``hudson/console/AnnotatedLargeText.java``), ``hudson/model/AbstractBuild.java`` (``builtOn``,
"Building remotely on …" log header), ``hudson/model/PermalinkProjectAction.java`` (``lastBuild`` …)
and ``jenkins/model/ArtifactManager`` (``artifact/PATH``).
"""

import asyncio
import mimetypes
import os
import shutil
import time

from aiohttp import web

from . import store
from .api import json_response

PERMALINKS = {
    "lastBuild": lambda b: True,
    "lastCompletedBuild": lambda b: not b.building,
    "lastSuccessfulBuild": lambda b: not b.building and b.result in ("SUCCESS", "UNSTABLE"),
    "lastStableBuild": lambda b: not b.building and b.result == "SUCCESS",
    "lastFailedBuild": lambda b: not b.building and b.result == "FAILURE",
    "lastUnstableBuild": lambda b: not b.building and b.result == "UNSTABLE",
    "lastUnsuccessfulBuild": lambda b: not b.building and b.result != "SUCCESS",
}


def parameters_action(params):
    """The ``ParametersAction`` of a build or queue item with ``params`` ``[(name, value)]``."""
    return {
        "_class": "hudson.model.ParametersAction",
        "parameters": [
            {"_class": "hudson.model.StringParameterValue", "name": n, "value": v}
            for n, v in params
        ],
    }


class Build:
    FIELDS = (
        "job",
        "number",
        "queue_id",
        "timestamp",
        "duration",
        "result",
        "building",
        "built_on",
        "executor",
        "params",
        "causes",
        "artifacts",
        "estimated",
    )

    def __init__(self, mgr, **kw):
        self.mgr = mgr
        self.job = kw["job"]
        self.number = kw["number"]
        self.queue_id = kw.get("queue_id", 0)
        self.timestamp = kw.get("timestamp", int(time.time() * 1000))
        self.duration = kw.get("duration", 0)
        self.result = kw.get("result")
        self.building = kw.get("building", True)
        self.built_on = kw.get("built_on", "")
        self.executor = kw.get("executor", 0)
        self.params = kw.get("params") or []
        self.causes = kw.get("causes") or []
        self.artifacts = kw.get("artifacts") or []
        self.estimated = kw.get("estimated", -1)
        self.started = time.monotonic()
        self.dir = os.path.join(store.job_dir(mgr.ctl.home, self.job), "builds", str(self.number))
        self.log_path = os.path.join(self.dir, "log")
        self.done = asyncio.Event() if not self.building else None

    def key(self):
        return f"{self.job}#{self.number}"

    def url(self):
        job = self.mgr.ctl.jobs.get(self.job)
        path = job.url_path() if job else "job/" + "/job/".join(self.job.split("/")) + "/"
        return f"{self.mgr.ctl.current_root_url}{path}{self.number}/"

    def save(self):
        data = {f: getattr(self, f) for f in self.FIELDS}
        store.write_json(os.path.join(self.dir, "build.json"), data)

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def append_log(self, text):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.log_path, "ab") as handle:
            handle.write(text.encode("utf-8", "replace") if isinstance(text, str) else text)

    def as_executable(self, depth):
        """The build where an executor or a queue item shows it: a reference, the whole
        object from ``depth`` 1."""
        if depth > 0:
            return self.json(depth - 1)
        return {"_class": "hudson.model.FreeStyleBuild", "number": self.number, "url": self.url()}

    def json(self, depth=0):
        artifacts = []
        names = [p.rsplit("/", 1)[-1] for p in self.artifacts]
        for path, name in zip(self.artifacts, names, strict=True):
            artifacts.append(
                {
                    "displayPath": name if names.count(name) == 1 else path,
                    "fileName": name,
                    "relativePath": path,
                }
            )
        actions = [{"_class": "hudson.model.CauseAction", "causes": self.causes}]
        if self.params:
            actions.append(parameters_action(self.params))
        duration = self.duration if not self.building else 0
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "actions": actions,
            "artifacts": artifacts,
            "building": self.building,
            "description": None,
            "displayName": f"#{self.number}",
            "duration": duration,
            "estimatedDuration": self.mgr.estimated_duration(self.job),  # Run.getEstimatedDuration
            "executor": {"_class": "hudson.model.Executor"} if self.building else None,
            "fullDisplayName": " » ".join(self.job.split("/")) + f" #{self.number}",
            "id": str(self.number),
            "inProgress": self.building,
            "keepLog": False,
            "number": self.number,
            "queueId": self.queue_id,
            "result": self.result,
            "timestamp": self.timestamp,
            "url": self.url(),
            "builtOn": self.built_on,
            "changeSet": {"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": None},
            "culprits": [],
        }


class Builds:
    def __init__(self, ctl):
        self.ctl = ctl
        self.by_job = {}
        self.running = {}  # key -> Build
        for job in ctl.jobs.all():
            self._load_job(job.full_name)

    def _load_job(self, full_name):
        base = os.path.join(store.job_dir(self.ctl.home, full_name), "builds")
        result = []
        if os.path.isdir(base):
            for entry in os.listdir(base):
                if not entry.isdigit():
                    continue
                data = store.read_json(os.path.join(base, entry, "build.json"))
                if not data:
                    continue
                build = Build(self, **data)
                if build.building:
                    # the controller went away while it ran: 2.568.2 loads such a build as
                    # ABORTED (core hudson/model/Run.java reload: the result it sets before
                    # reading build.xml, which a running build's record lacks); its log is left
                    # as it was, ending where the build stopped (no "Finished:" line)
                    build.building = False
                    build.result = "ABORTED"
                    build.save()
                result.append(build)
        result.sort(key=lambda b: b.number)
        self.by_job[full_name] = result

    def for_job(self, full_name):
        return self.by_job.get(full_name, [])

    def get(self, full_name, number):
        for build in self.for_job(full_name):
            if build.number == number:
                return build
        return None

    def forget_job(self, full_name):
        for build in self.by_job.pop(full_name, []):
            if build.building:
                self.running.pop(build.key(), None)
                self.ctl.agents.abort(build)

    def busy_executors(self, node):
        return sum(1 for b in self.running.values() if b.built_on == node)

    def free_executor(self, node, total):
        used = {b.executor for b in self.running.values() if b.built_on == node}
        for i in range(total):
            if i not in used:
                return i
        return None

    def building_of(self, full_name):
        return [b for b in self.running.values() if b.job == full_name]

    def estimated_duration(self, full_name):
        """``Job.getEstimatedDuration``/``getEstimatedDurationCandidates`` (2.568.2), computed on
        every read: the last successful (or unstable) build, then completed builds among the
        last 6 (SUCCESS/UNSTABLE first, FAILURE as the fallback; ABORTED/NOT_BUILT are not
        ``isCompleteBuild``), at most 3; the mean duration, -1 when none or all last 0 ms."""
        builds = self.for_job(full_name)
        last_ok = next(
            (b for b in reversed(builds) if not b.building and b.result in ("SUCCESS", "UNSTABLE")),
            None,
        )
        candidates = [last_ok] if last_ok is not None else []
        fallback = []
        for i, build in enumerate(reversed(builds)):
            if len(candidates) >= 3 or i >= 6:
                break
            if build.building or build.result is None or build is last_ok:
                continue
            if build.result in ("SUCCESS", "UNSTABLE"):
                candidates.append(build)
            elif build.result == "FAILURE":
                fallback.append(build)
        while len(candidates) < 3 and fallback:
            candidates.append(fallback.pop(0))
        if not candidates:
            return -1
        total = sum(b.duration for b in candidates)
        if total == 0:
            return -1
        return int(total / len(candidates) + 0.5)  # Math.round

    # -------------------------------------------------------------- lifecycle
    def start(self, job, item, node, executor):
        number = job.next_build_number
        job.next_build_number += 1
        job.save_next_build_number()
        build = Build(
            self,
            job=job.full_name,
            number=number,
            queue_id=item.id,
            built_on=node,
            executor=executor,
            params=item.params or [],
            causes=item.causes,
            estimated=self.estimated_duration(job.full_name),
        )
        self.by_job.setdefault(job.full_name, []).append(build)
        self.running[build.key()] = build
        os.makedirs(build.dir, exist_ok=True)
        for cause in item.causes:
            build.append_log(cause.get("shortDescription", "") + "\n")
        build.append_log("Running as SYSTEM\n")
        build.save()
        return build

    def finish(self, build, result):
        if not build.building:
            return
        build.result = result
        build.building = False
        build.duration = int((time.monotonic() - build.started) * 1000)
        build.append_log(f"Finished: {result}\n")
        build.save()
        self.running.pop(build.key(), None)
        self.ctl.wake()

    def archive_path(self, build, relpath):
        clean = os.path.normpath(relpath).lstrip("/")
        if clean.startswith("..") or os.path.isabs(clean):
            raise ValueError(f"bad artifact path {relpath}")
        return os.path.join(build.dir, "archive", clean)

    def add_artifact(self, build, relpath, data, offset=0, last=True):
        path = self.archive_path(build, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "r+b" if offset and os.path.exists(path) else "wb") as handle:
            handle.seek(offset)
            handle.write(data)
        if last and relpath not in build.artifacts:
            build.artifacts.append(relpath)
            build.artifacts.sort()
            build.save()

    def delete_build(self, build):
        builds = self.by_job.get(build.job, [])
        if build in builds:
            builds.remove(build)
        shutil.rmtree(build.dir, ignore_errors=True)

    # -------------------------------------------------------------- HTTP
    def resolve(self, job, token):
        builds = self.for_job(job.full_name)
        if token.isdigit():
            return self.get(job.full_name, int(token))
        if token == "firstBuild":
            return builds[0] if builds else None
        pred = PERMALINKS.get(token)
        if pred is None:
            return None
        for build in reversed(builds):
            if pred(build):
                return build
        return None

    async def handle(self, request, job, rest):
        ctl = self.ctl
        if not rest:
            return ctl.not_found(request)
        build = self.resolve(job, rest[0])
        if build is None:
            return ctl.not_found(request)
        sub = rest[1:]
        action = sub[0] if sub else ""
        if action == "":
            return ctl.html_page(request, f"{job.full_name} #{build.number}")
        if action == "api" and len(sub) >= 2 and sub[1] == "json":
            return json_response(request, build.json)
        if action == "consoleText":
            data = b""
            try:
                with open(build.log_path, "rb") as handle:
                    data = handle.read()
            except OSError:
                pass
            return web.Response(body=data, content_type="text/plain", charset="utf-8")
        if (
            action == "logText"
            and len(sub) >= 2
            and sub[1] in ("progressiveText", "progressiveHtml")
        ):
            # Stapler LargeText.doProgressText: start past the end of the log -> 0 ("text rolled
            # over"); while the build runs only whole lines are sent (writeLogTo stops after the
            # last newline); X-Text-Size is the raw byte offset to ask for next.
            try:
                start = max(0, int(request.query.get("start", "0") or 0))
            except ValueError:
                start = 0
            if start > build.log_size():
                start = 0
            data = b""
            try:
                with open(build.log_path, "rb") as handle:
                    handle.seek(start)
                    data = handle.read()
            except OSError:
                pass
            if build.building:
                cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
                data = data[: cut + 1] if cut >= 0 else b""
            size = start + len(data)
            headers = {"X-Text-Size": str(size)}
            if build.building:
                headers["X-More-Data"] = "true"
            return web.Response(
                body=data, content_type="text/plain", charset="utf-8", headers=headers
            )
        if action == "artifact":
            rel = "/".join(sub[1:])
            if not rel:
                listing = "\n".join(build.artifacts)
                return web.Response(text=listing, content_type="text/plain")
            try:
                path = self.archive_path(build, rel)
            except ValueError:
                return ctl.not_found(request)
            if not os.path.isfile(path):
                return ctl.not_found(request)
            ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
            with open(path, "rb") as handle:
                return web.Response(body=handle.read(), content_type=ctype)
        if action in ("stop", "term", "kill") and request.method == "POST":
            if build.building:
                ctl.agents.abort(build)
                build.append_log("Aborted by " + (request.get("user") or "anonymous") + "\n")
                self.finish(build, "ABORTED")
            return ctl.redirect(request, job.url_path() + f"{build.number}/", status=302)
        if action in ("doDelete", "delete") and request.method == "POST":
            if build.building:
                return ctl.error_text(request, 400, "Unable to delete a build in progress")
            self.delete_build(build)
            return ctl.redirect(request, job.url_path(), status=302)
        return ctl.not_found(request)
