"""Jobs and folders: ``createItem``, ``job/J/…``.

Follows ``hudson/model/ItemGroupMixIn.java`` (``createTopLevelItem``: 400 "No Content-Type header
set", duplicate -> ``Hudson.JobAlreadyExists``), ``hudson/model/AbstractItem.java``
(``doConfigDotXml``/``updateByXml``/``doDoDelete``), ``jenkins/model/ParameterizedJobMixIn.java``
(``doBuild``/``doBuildWithParameters``/``doEnable``/``doDisable``), ``hudson/model/
ParametersDefinitionProperty.java`` (``_doBuild`` needs the ``json`` form, ``buildWithParameters``
-> 303 when an identical item is already queued) and the ``@Exported`` fields of
``hudson/model/{AbstractItem,Job,AbstractProject}.java``.
"""

import json
import os
import shutil

from aiohttp import web

from . import configxml, store
from .api import json_response

COLORS = {
    "SUCCESS": "blue",
    "UNSTABLE": "yellow",
    "FAILURE": "red",
    "ABORTED": "aborted",
    "NOT_BUILT": "notbuilt",
}


class Job:
    def __init__(self, ctl, full_name, root, parent=None):
        self.ctl = ctl
        self.full_name = full_name
        self.name = full_name.rsplit("/", 1)[-1]
        self.parent = parent
        self.root = root
        self.children = ItemMap()
        self.dir = store.job_dir(ctl.home, full_name)
        self.next_build_number = int(
            (store.read_text(os.path.join(self.dir, "nextBuildNumber"), "1") or "1").strip() or 1
        )

    @property
    def kind(self):
        return configxml.job_kind(self.root)

    @property
    def is_folder(self):
        return self.kind == "folder"

    @property
    def job_class(self):
        return configxml.job_class(self.root)

    def url_path(self):
        return "".join(f"job/{store_quote(p)}/" for p in self.full_name.split("/"))

    def url(self):
        return self.ctl.current_root_url + self.url_path()

    @property
    def disabled(self):
        return (self.root.findtext("disabled") or "false").strip() == "true"

    @property
    def concurrent(self):
        return (self.root.findtext("concurrentBuild") or "false").strip() == "true"

    @property
    def buildable(self):
        return self.kind == "freestyle" and not self.disabled

    def parameters(self):
        return configxml.parameter_definitions(self.root)

    def save_config(self):
        store.atomic_write(
            os.path.join(self.dir, "config.xml"), configxml.serialize(self.root) + "\n"
        )

    def save_next_build_number(self):
        store.atomic_write(os.path.join(self.dir, "nextBuildNumber"), f"{self.next_build_number}\n")

    def color(self):
        if self.is_folder:
            return None
        if self.disabled:
            return "disabled"
        builds = self.ctl.builds.for_job(self.full_name)
        last = builds[-1] if builds else None
        completed = [b for b in builds if not b.building]
        base = COLORS.get(completed[-1].result, "notbuilt") if completed else "notbuilt"
        if last is not None and last.building:
            return base + "_anime"
        return base


def _ci_key(name):
    """``String.CASE_INSENSITIVE_ORDER`` compares ``toLowerCase(toUpperCase(c))`` char by char."""
    return "".join(c.upper().lower() for c in name)


class ItemMap:
    """``Jenkins.items``: a ``CopyOnWriteMap.Tree`` ordered by ``String.CASE_INSENSITIVE_ORDER``
    (``jenkins/model/Jenkins.java``): lookups and the duplicate check ignore case, iteration is
    sorted case-insensitively (so ``jobs`` and ``tree=jobs[…]{M,N}`` page through that order)."""

    def __init__(self):
        self._items = {}

    def get(self, name, default=None):
        if name is None:
            return default
        entry = self._items.get(_ci_key(name))
        return entry if entry is not None else default

    def __contains__(self, name):
        return _ci_key(name) in self._items

    def __setitem__(self, name, job):
        self._items[_ci_key(name)] = job

    def pop(self, name, default=None):
        return self._items.pop(_ci_key(name), default)

    def values(self):
        return [self._items[k] for k in sorted(self._items)]

    def __iter__(self):
        return iter([job.name for job in self.values()])

    def __len__(self):
        return len(self._items)


def store_quote(name):
    from urllib.parse import quote

    return quote(name, safe="")


class Jobs:
    def __init__(self, ctl):
        self.ctl = ctl
        self.top = ItemMap()
        self._load(ctl.home, "", None, self.top)

    def _load(self, base, prefix, parent, into):
        root_dir = os.path.join(base, "jobs")
        if not os.path.isdir(root_dir):
            return
        for name in sorted(os.listdir(root_dir)):
            text = store.read_text(os.path.join(root_dir, name, "config.xml"))
            if text is None:
                continue
            try:
                root = configxml.parse(text)
            except configxml.ConfigError:
                continue
            job = Job(self.ctl, prefix + name, root, parent)
            into[name] = job
            if job.is_folder:
                self._load(os.path.join(root_dir, name), prefix + name + "/", job, job.children)

    def get(self, full_name):
        parts = [p for p in full_name.split("/") if p]
        items = self.top
        job = None
        for part in parts:
            job = items.get(part)
            if job is None:
                return None
            items = job.children
        return job

    def all(self):
        out = []

        def walk(items):
            for job in items.values():
                out.append(job)
                walk(job.children)

        walk(self.top)
        return out

    def create(self, parent, name, root):
        full = (parent.full_name + "/" if parent else "") + name
        root = configxml.normalize_job(root, self.ctl.plugins.versions())
        job = Job(self.ctl, full, root, parent)
        (parent.children if parent else self.top)[name] = job
        job.save_config()
        return job

    def delete(self, job):
        items = job.parent.children if job.parent else self.top
        items.pop(job.name, None)
        if job.parent is None:  # ListView.Listener.onDeleted (views of the root only)
            self.ctl.views.forget_job(job.name)
        for sub in [job] + [j for j in self.all() if j.full_name.startswith(job.full_name + "/")]:
            self.ctl.queue.cancel_job(sub.full_name)
            self.ctl.builds.forget_job(sub.full_name)
        shutil.rmtree(job.dir, ignore_errors=True)


# ---------------------------------------------------------------- JSON


def job_summary(job):
    data = {"_class": job.job_class, "name": job.name, "url": job.url()}
    color = job.color()
    if color is not None:
        data["color"] = color
    return data


def _build_ref(build):
    if build is None:
        return None
    return {"_class": "hudson.model.FreeStyleBuild", "number": build.number, "url": build.url()}


def job_json(ctl, job, depth=0, all_builds=False):
    desc = job.root.findtext("description")
    display = job.root.findtext("displayName")
    base = {
        "_class": job.job_class,
        "actions": [],
        "description": desc if desc is not None else None,
        "displayName": display or job.name,
        "displayNameOrNull": display or None,
        "fullDisplayName": " » ".join(job.full_name.split("/")),
        "fullName": job.full_name,
        "name": job.name,
        "url": job.url(),
    }
    if job.is_folder:
        base.update(
            {
                "healthReport": [],
                "jobs": [
                    job_json(ctl, j, depth - 1) if depth > 0 else job_summary(j)
                    for j in job.children.values()
                ],
                "primaryView": {"_class": "hudson.model.AllView", "name": "All", "url": job.url()},
                "views": [{"_class": "hudson.model.AllView", "name": "All", "url": job.url()}],
            }
        )
        return base
    builds = ctl.builds.for_job(job.full_name)
    by_desc = list(reversed(builds))

    def ref(build):
        if build is None:
            return None
        return build.json(depth - 1) if depth > 0 else _build_ref(build)

    def last(pred):
        for build in by_desc:
            if pred(build):
                return build
        return None

    completed = lambda b: not b.building  # noqa: E731
    item = ctl.queue.item_for_job(job.full_name)
    label, _ = configxml.job_label(job.root)
    params = job.parameters()
    props = []
    if params:
        props.append(
            {
                "_class": "hudson.model.ParametersDefinitionProperty",
                "parameterDefinitions": [parameter_definition_json(p) for p in params],
            }
        )
    base.update(
        {
            "buildable": job.buildable,
            "builds": [ref(b) for b in by_desc[:100]],
            "color": job.color(),
            "firstBuild": ref(builds[0] if builds else None),
            "healthReport": [],
            "inQueue": item is not None,
            "keepDependencies": (job.root.findtext("keepDependencies") or "false") == "true",
            "lastBuild": ref(by_desc[0] if by_desc else None),
            "lastCompletedBuild": ref(last(completed)),
            "lastFailedBuild": ref(last(lambda b: completed(b) and b.result == "FAILURE")),
            "lastStableBuild": ref(last(lambda b: completed(b) and b.result == "SUCCESS")),
            "lastSuccessfulBuild": ref(
                last(lambda b: completed(b) and b.result in ("SUCCESS", "UNSTABLE"))
            ),
            "lastUnstableBuild": ref(last(lambda b: completed(b) and b.result == "UNSTABLE")),
            "lastUnsuccessfulBuild": ref(last(lambda b: completed(b) and b.result != "SUCCESS")),
            "nextBuildNumber": job.next_build_number,
            "property": props,
            "queueItem": ctl.queue.item_json(item, depth) if item is not None else None,
            "concurrentBuild": job.concurrent,
            "disabled": job.disabled,
            "downstreamProjects": [],
            "labelExpression": label,
            "scm": {
                "_class": (
                    job.root.find("scm").get("class")
                    if job.root.find("scm") is not None
                    else "hudson.scm.NullSCM"
                )
            },
            "upstreamProjects": [],
        }
    )
    if all_builds:
        # Job.getAllBuilds is @Exported(visibility=-2): only present when tree= names it
        base["allBuilds"] = [ref(b) for b in by_desc]
    return base


def parameter_definition_json(p):
    value_class = p["class"].replace("Definition", "Value")
    default_value = p["default"]
    if p["type"] == "BooleanParameterDefinition":
        default_value = default_value == "true"
    data = {
        "_class": p["class"],
        "defaultParameterValue": {"_class": value_class, "name": p["name"], "value": default_value},
        "description": p["description"],
        "name": p["name"],
        "type": p["type"],
    }
    if p["type"] == "PasswordParameterDefinition":
        data["defaultParameterValue"] = {"_class": value_class, "name": p["name"]}
    if p["choices"] is not None:
        data["choices"] = p["choices"]
    return data


# ---------------------------------------------------------------- handlers


def is_xml_submission(request):
    """``requestContentType.startsWith("application/xml") || … startsWith("text/xml")``."""
    ctype = request.headers.get("Content-Type")
    return ctype is not None and (
        ctype.startswith("application/xml") or ctype.startswith("text/xml")
    )


async def request_parameter(ctl, request, name):
    """``req.getParameter(name)``: the query string first, then a urlencoded/multipart form."""
    if name in request.query:
        return request.query.get(name)
    form = await ctl.form(request)
    return form.get(name)


def _resolve_from(ctl, parent, path):
    """``Jenkins.getItem(pathName, context)``: relative to the folder, else a full name."""
    if not path:
        return None
    if not path.startswith("/") and parent is not None:
        found = ctl.jobs.get(parent.full_name + "/" + path)
        if found is not None:
            return found
    return ctl.jobs.get(path.lstrip("/"))


def new_item_root(ctl, mode):
    """The empty item ``createProject(descriptor, …)`` makes for a known ``mode`` (the
    descriptor id, ``Items.all().findByName``); None for an unknown one."""
    if mode == "hudson.model.FreeStyleProject":
        return configxml.ET.Element("project")
    if mode == configxml.FOLDER_CLASS and "cloudbees-folder" in ctl.plugins.versions():
        return configxml.ET.Element(configxml.FOLDER_CLASS)
    return None


async def _posted_item(ctl, request, io_failure):
    """The config.xml posted for an item, as ``(root, None)``, or ``(None, the 500 Jenkins
    answers)``: the identity transform's ``IOException`` (``io_failure``) for malformed XML,
    XStream's for a class no plugin provides."""
    try:
        root = configxml.parse(await request.read())
    except configxml.ConfigError as exc:
        return None, ctl.error_text(request, 500, f"java.io.IOException: {io_failure}: {exc}")
    problem = configxml.unknown_item_class(root, ctl.plugins.versions())
    if problem:
        return None, ctl.error_text(request, 500, problem)
    return root, None


async def create_item(ctl, request, parent):
    """``POST [job/F/]createItem``: ``hudson/model/ItemGroupMixIn.java`` ``createTopLevelItem``
    and ``createProjectFromXML`` (Jenkins 2.568.2)."""
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    if parent is not None and not parent.is_folder:
        return ctl.not_found(request)
    mode = await request_parameter(ctl, request, "mode")
    if request.headers.get("Content-Type") is None and mode != "copy":
        return ctl.failure(request, "No Content-Type header set")
    xml = is_xml_submission(request)
    name = request.query.get("name") if xml else await request_parameter(ctl, request, "name")
    if name is None:
        return ctl.failure(request, "Query parameter 'name' is required")
    from .nodes import check_good_name

    error = check_good_name(name)  # Jenkins.checkGoodName(name) runs before the trim
    if error:
        return ctl.failure(request, error)
    name = name.strip()
    items = parent.children if parent else ctl.jobs.top
    if name in items:  # parent.getItem(name): case-insensitive
        return ctl.failure(request, f"A job already exists with the name ‘{name}’")
    if mode == "copy":
        source_name = await request_parameter(ctl, request, "from")
        source = _resolve_from(ctl, parent, source_name)
        if source is None:
            if not source_name:
                return ctl.failure(request, "Specify which job to copy")
            return ctl.failure(request, f"No such job: {source_name}")
        root = configxml.parse(configxml.serialize(source.root))
        job = ctl.jobs.create(parent, name, root)
        return ctl.redirect(request, job.url_path() + "configure", status=302)
    if xml:
        # createProjectFromXML: identity transform (malformed XML -> IOException "Failed to
        # persist config.xml"), then Items.load through XStream (unknown class -> exception);
        # either way a 500 and the new directory is deleted, nothing stays behind.
        root, error = await _posted_item(ctl, request, "Failed to persist config.xml")
        if error is not None:
            return error
        ctl.jobs.create(parent, name, root)
        return web.Response(status=200)
    if mode is None:
        return ctl.failure(request, "No mode given")
    root = new_item_root(ctl, mode)
    if root is None:
        return ctl.failure(request, f"No item type ‘{mode}’ is known")
    job = ctl.jobs.create(parent, name, root)
    return ctl.redirect(request, job.url_path() + "configure", status=302)


async def handle(ctl, request, job, rest):
    """Dispatch ``job/J/<rest>`` (J already resolved, folders included)."""
    rest = [s for s in rest]
    while rest and rest[-1] == "":
        rest.pop()
    action = rest[0] if rest else ""
    if action == "" and request.method != "DELETE":
        return ctl.html_page(request, job.full_name)
    if action == "api" and len(rest) >= 2 and rest[1] == "json":
        wants_all = "allBuilds" in request.query.get("tree", "")
        return json_response(request, lambda depth: job_json(ctl, job, depth, all_builds=wants_all))
    if action == "config.xml":
        return await config_xml(ctl, request, job)
    if action == "" and request.method == "DELETE":
        # AbstractItem implements HttpDeletable: DELETE job/J/ -> delete(req, rsp) -> 204
        ctl.jobs.delete(job)
        return web.Response(status=204)
    if action == "doDelete":
        # AbstractItem.doDoDelete is @RequirePOST; it redirects to the parent (view/folder)
        if request.method != "POST":
            return web.Response(status=405, text="This URL requires POST")
        parent_path = job.parent.url_path() if job.parent else ""
        ctl.jobs.delete(job)
        return ctl.redirect(request, parent_path, status=302)
    if action == "delete":
        # AbstractItem/delete.jelly: a confirmation page; it deletes nothing
        return ctl.html_page(request, f"Delete {job.full_name}")
    if action == "createItem" and job.is_folder:
        return await create_item(ctl, request, job)
    if action in ("enable", "disable"):
        if request.method != "POST":
            return web.Response(status=405, text="This URL requires POST")
        if job.kind == "freestyle":
            configxml.set_flag(job.root, "disabled", action == "disable")
            job.save_config()
            if action == "disable":
                ctl.queue.cancel_job(job.full_name)
        return ctl.redirect(request, job.url_path(), status=302)
    if action == "build":
        return await do_build(ctl, request, job)
    if action == "buildWithParameters":
        return await do_build_with_parameters(ctl, request, job)
    return await ctl.builds.handle(request, job, rest)


async def config_xml(ctl, request, job):
    if request.method == "GET":
        root = configxml.apply_plugin_attrs(job.root, ctl.plugins.versions())
        return web.Response(
            text=configxml.serialize(root), content_type="application/xml", charset="utf-8"
        )
    if request.method != "POST":
        return web.Response(status=405)
    # AbstractItem.updateByXml: identity transform ("Failed to process config.xml"), then
    # XStream unmarshals into the job; another class is "Expecting class X but got class Y
    # instead", an unknown one a CannotResolveClassException: all 500s, nothing changes.
    root, error = await _posted_item(ctl, request, "Failed to process config.xml")
    if error is not None:
        return error
    if root.tag != job.root.tag:
        return ctl.error_text(
            request,
            500,
            f"java.io.IOException: Expecting class {job.job_class} but got class "
            f"{configxml.job_class(root)} instead",
        )
    job.root = configxml.normalize_job(root, ctl.plugins.versions())
    job.save_config()
    ctl.wake()
    return web.Response(status=200)


def _delay(request, job):
    text = request.query.get("delay")
    if text:
        text = text.strip().lower()
        for suffix, factor in (
            ("sec", 1),
            ("secs", 1),
            ("s", 1),
            ("ms", 0.001),
            ("min", 60),
            ("m", 60),
        ):
            if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
                return float(text[: -len(suffix)]) * factor
        try:
            return float(text)
        except ValueError:
            pass
    quiet = job.root.findtext("quietPeriod")
    if quiet and quiet.strip().isdigit():
        return float(quiet)
    return ctl_quiet(job)


def ctl_quiet(job):
    return job.ctl.quiet_period


def _cause(request):
    user = request.get("user") or "anonymous"
    return {
        "_class": "hudson.model.Cause$UserIdCause",
        "shortDescription": f"Started by user {user}",
        "userId": user,
        "userName": user,
    }


async def do_build(ctl, request, job):
    if job.is_folder:
        return ctl.not_found(request)
    if not job.buildable:
        return ctl.error_text(request, 409, f"{job.full_name} is not buildable")
    params = job.parameters()
    if params and request.method != "POST":
        return ctl.html_page(request, f"Build {job.full_name}")
    if params:
        form = await ctl.form(request)
        raw = form.get("json")
        if not raw:
            if form or request.query:
                return ctl.error_text(request, 400, "This page expects a form submission")
            return ctl.error_text(request, 400, "Nothing is submitted")
        try:
            submitted = json.loads(raw).get("parameter") or []
        except (ValueError, AttributeError):
            return ctl.error_text(request, 400, "This page expects a form submission")
        if isinstance(submitted, dict):
            submitted = [submitted]
        names = {p["name"]: p for p in params}
        values = []
        for entry in submitted:
            pname = entry.get("name")
            if pname not in names:
                return ctl.error_text(request, 500, f"No such parameter definition: {pname}")
            values.append((pname, str(entry.get("value", names[pname]["default"]))))
        item, created = ctl.queue.schedule(job, _delay(request, job), values, _cause(request))
        if not created:
            # ParametersDefinitionProperty._doBuild uses Queue.schedule, which answers null when
            # the request was merged into an equal queued item -> rsp.sendRedirect(".")
            return ctl.redirect(request, job.url_path(), status=302)
        status = 201
        try:
            status = int(json.loads(raw).get("statusCode", 201))
        except (TypeError, ValueError, AttributeError):
            status = 201
        return ctl.redirect(request, item.url_path(), status=status)
    if request.method != "POST":
        # BuildAuthorizationToken.checkPermission
        return web.Response(status=405, text="This URL requires POST", headers={"Allow": "POST"})
    item, created = ctl.queue.schedule(job, _delay(request, job), None, _cause(request))
    # ParameterizedJobMixIn.doBuild answers 201 even when the item was merged (JENKINS-66105)
    return ctl.redirect(request, item.url_path(), status=201)


async def do_build_with_parameters(ctl, request, job):
    if job.is_folder:
        return ctl.not_found(request)
    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST", headers={"Allow": "POST"})
    if not job.buildable:
        return ctl.error_text(request, 409, f"{job.full_name} is not buildable")
    params = job.parameters()
    if not params:
        return ctl.error_text(request, 400, f"{job.full_name} is not parameterized")
    form = await ctl.form(request)
    values = []
    for p in params:
        value = request.query.get(p["name"])
        if value is None:
            value = form.get(p["name"])
        if value is None:
            value = p["default"]
        elif p["type"] == "BooleanParameterDefinition":
            value = "true" if value.strip().lower() in ("true", "on", "yes", "1") else "false"
        values.append((p["name"], value))
    item, created = ctl.queue.schedule(job, _delay(request, job), values, _cause(request))
    return ctl.redirect(request, item.url_path(), status=201 if created else 303)
