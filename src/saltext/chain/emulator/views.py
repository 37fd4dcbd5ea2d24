"""Views of the root item group, as Jenkins 2.568.2 has them.

Sources (``git show jenkins-2.568.2:PATH`` in jenkinsci/jenkins):

* ``core/src/main/java/jenkins/model/Jenkins.java``: ``getViews``/``getPrimaryView`` are
  ``@Exported`` on the root (``/api/json`` lists ``views`` and ``primaryView``); ``loadConfig``
  creates ``new AllView(AllView.DEFAULT_VIEW_NAME)`` ("all") as the primary view when there is
  none; ``doCreateView`` is ``View.create``; Stapler binds ``/view/NAME/`` to ``getView(NAME)``
  and answers 404 when it returns null.
* ``core/src/main/java/hudson/model/ViewGroupMixIn.java``: ``getView`` (exact name, then, when
  the primary view is the default ``AllView``, any localized form of ``Hudson.ViewName`` such
  as "All": JENKINS-38606), ``getViews`` (sorted by ``View.SORTER``: the name),
  ``getPrimaryView`` (falls back to the first view), ``deleteView`` ("Cannot delete last view").
* ``core/src/main/java/hudson/model/View.java``: ``@Exported`` ``name`` and ``url`` (visibility
  2), ``description``, ``jobs`` (``getItems``), ``property`` (inline); ``getUrl`` is the owner's
  URL for the primary view and ``view/NAME/`` otherwise; ``getJob`` binds ``view/NAME/job/J`` to
  any item of the owner; ``doConfigDotXml`` (GET: ``XStream2.toXMLUTF8``, POST:
  ``updateByXml``, which keeps the name and refuses another view class); ``doDoDelete``
  (``@RequirePOST``, redirects to the owner); ``create`` / ``createViewFromXML``.
* ``core/src/main/java/hudson/model/AllView.java``: holds every item.
  ``core/src/main/java/hudson/model/ListView.java``: ``jobNames`` (a ``TreeSet``, by default
  ``String.CASE_INSENSITIVE_ORDER``), ``includeRegex``, ``columns``, ``jobFilters``,
  ``recurse``; ``getItems`` (named items that exist, then those matching the regex);
  ``doCreateItem`` adds the new item's name; ``Listener.onDeleted`` drops a deleted item's name.

The emulator keeps the views in ``HOME/views.json``; job filters and ``recurse`` are stored and
written back but not applied.
"""

import copy
import os
import re

from aiohttp import web

from . import configxml, store
from .api import json_response
from .jobs import _ci_key, store_quote

ALL_VIEW = "hudson.model.AllView"
LIST_VIEW = "hudson.model.ListView"
DEFAULT_VIEW_NAME = "all"  # AllView.DEFAULT_VIEW_NAME
# Jenkins.XSTREAM aliases ("view", "listView" -> ListView) and the classes core provides
VIEW_CLASSES = {ALL_VIEW: ALL_VIEW, LIST_VIEW: LIST_VIEW, "view": LIST_VIEW, "listView": LIST_VIEW}
# Hudson.ViewName in core/src/main/resources/hudson/model/Messages*.properties (2.568.2)
LOCALIZED_ALL = {
    "All", "Alla", "Alle", "Hepsi", "Todo", "Tous", "Tudo", "Tutto", "Visi", "Wszystkie",
    "Все", "Всички", "Све", "すべて", "全部",
}  # fmt: skip
# ListViewColumn.createDefaultInitialColumnList for core alone
DEFAULT_COLUMNS = [
    "hudson.views.StatusColumn",
    "hudson.views.WeatherColumn",
    "hudson.views.JobColumn",
    "hudson.views.LastSuccessColumn",
    "hudson.views.LastFailureColumn",
    "hudson.views.LastDurationColumn",
    "hudson.views.BuildButtonColumn",
]
CASE_INSENSITIVE = "java.lang.String$CaseInsensitiveComparator"
CASE_INSENSITIVE_CLASSES = {CASE_INSENSITIVE, "hudson.util.CaseInsensitiveComparator"}


class ViewError(ValueError):
    """A posted view Jenkins would not read (``IOException: Unable to read``: a 500)."""


def _element(tag, text=None, **attrib):
    elem = configxml.ET.Element(tag, attrib)
    elem.text = text
    return elem


def _sorted_names(names, comparator):
    key = _ci_key if comparator in CASE_INSENSITIVE_CLASSES else (lambda n: n)
    unique = {}
    for name in names:
        unique.setdefault(key(name), name)  # TreeSet.add keeps the first of equal names
    return [unique[k] for k in sorted(unique)]


def _job_names(posted):
    """``jobNames`` as XStream's ``TreeSetConverter`` reads and writes it."""
    elem = _element("jobNames")
    if posted is None:  # readResolve: new TreeSet<>(String.CASE_INSENSITIVE_ORDER)
        elem.append(_element("comparator", **{"class": CASE_INSENSITIVE}))
        return elem
    cmp = posted.find("comparator")
    comparator = cmp.get("class") if cmp is not None else None
    names = [s.text or "" for s in posted.findall("string")]
    elem.append(
        _element("comparator", **{"class": comparator}) if comparator else _element("no-comparator")
    )
    for name in _sorted_names(names, comparator):
        elem.append(_element("string", name))
    return elem


def _compiles(regex):
    try:
        re.compile(regex)
    except re.error:
        return False
    return True


def normalize(root, name):
    """The view as ``XStream2.toXMLUTF8`` writes it back, in ``View``/``ListView`` field order."""
    cls = VIEW_CLASSES.get(root.tag)
    if cls is None:
        raise ViewError(f"No such view class: {root.tag}")
    out = _element(cls)
    out.append(_element("name", name))
    if root.find("description") is not None:
        out.append(_element("description", root.findtext("description") or ""))
    for flag in ("filterExecutors", "filterQueue"):
        out.append(_element(flag, "true" if root.findtext(flag) == "true" else "false"))
    props = copy.deepcopy(root.find("properties"))
    if props is None:
        props = _element("properties")
    props.attrib = {"class": "hudson.model.View$PropertyList"}
    out.append(props)
    if cls == LIST_VIEW:
        out.append(_job_names(root.find("jobNames")))
        for field, default in (("jobFilters", []), ("columns", DEFAULT_COLUMNS)):
            posted = root.find(field)
            elem = copy.deepcopy(posted) if posted is not None else _element(field)
            if posted is None:
                elem.extend(_element(c) for c in default)
            out.append(elem)
        regex = root.findtext("includeRegex")
        if regex is not None and _compiles(regex):  # readResolve drops a bad pattern
            out.append(_element("includeRegex", regex))
        out.append(_element("recurse", "true" if root.findtext("recurse") == "true" else "false"))
    return out


class View:
    def __init__(self, views, root):
        self.views = views
        self.root = root

    @property
    def name(self):
        return self.root.findtext("name")

    @property
    def view_class(self):
        return self.root.tag

    @property
    def is_primary(self):
        return self.views.primary() is self

    def url_path(self):
        """``View.getUrl``: the owner's URL for the primary view, else ``view/NAME/``."""
        return "" if self.is_primary else f"view/{store_quote(self.name)}/"

    def url(self):
        return self.views.ctl.current_root_url + self.url_path()

    def items(self):
        """``getItems``: every top-level item (``AllView``) or ``ListView``'s selection."""
        top = self.views.ctl.jobs.top
        if self.view_class == ALL_VIEW:
            return top.values()
        found = [top.get(n) for n in self.job_names()]
        items = [job for job in found if job is not None]
        regex = self.root.findtext("includeRegex")
        if regex is not None:  # normalize kept it only if it compiles
            items += [job for job in top.values() if re.fullmatch(regex, job.name)]
        return list(dict.fromkeys(items))

    def job_names(self):
        elem = self.root.find("jobNames")
        return [s.text or "" for s in elem.findall("string")] if elem is not None else []

    def add_job_name(self, name):
        """``ListView.doCreateItem``: ``jobNames.add`` (the set's order and equality)."""
        self.root.find("jobNames").append(_element("string", name))
        self.root = normalize(self.root, self.name)

    def drop_job_name(self, name):
        """``ListView.Listener.deleteViewItem``: ``jobNames.remove`` (by the set's comparator)."""
        elem = self.root.find("jobNames")
        if elem is None:
            return False
        cmp = elem.find("comparator")
        same = _ci_key if cmp is not None and cmp.get("class") in CASE_INSENSITIVE_CLASSES else str
        gone = [s for s in elem.findall("string") if same(s.text or "") == same(name)]
        for string in gone:
            elem.remove(string)
        return bool(gone)

    def summary(self):
        """A view nested in another object at depth 0: the visibility-2 properties."""
        return {"_class": self.view_class, "name": self.name, "url": self.url()}

    def json(self, depth=0):
        from .jobs import job_json, job_summary

        return {
            "_class": self.view_class,
            "description": self.root.findtext("description"),
            "jobs": [
                job_json(self.views.ctl, j, depth - 1) if depth > 0 else job_summary(j)
                for j in self.items()
            ],
            "name": self.name,
            "property": [],
            "url": self.url(),
        }


class Views:
    """``Jenkins.views`` + ``primaryView`` (``ViewGroupMixIn``), persisted in ``views.json``."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.path = os.path.join(ctl.home, "views.json")
        data = store.read_json(self.path, {}) or {}
        self._views = []
        for text in data.get("views", []):
            root = configxml.parse(text)
            self._views.append(View(self, normalize(root, root.findtext("name") or "")))
        self.primary_name = data.get("primaryView")
        if not self._views or self.primary_name is None:  # Jenkins.loadConfig
            self._views.append(View(self, normalize(_element(ALL_VIEW), DEFAULT_VIEW_NAME)))
            self.primary_name = DEFAULT_VIEW_NAME
            self.save()

    def save(self):
        store.write_json(
            self.path,
            {
                "primaryView": self.primary_name,
                "views": [configxml.serialize(v.root) for v in self._views],
            },
        )

    def _exact(self, name):
        return next((v for v in self._views if v.name == name), None)

    def get(self, name):
        """``ViewGroupMixIn.getView``."""
        if name is None:
            return None
        view = self._exact(name)
        if view is not None or name == self.primary_name:
            return view
        primary = self.primary()
        if (
            primary is not None
            and primary.view_class == ALL_VIEW
            and primary.name == DEFAULT_VIEW_NAME
            and name in LOCALIZED_ALL
        ):
            return primary
        return None

    def primary(self):
        """``ViewGroupMixIn.getPrimaryView``: the named one, else the first."""
        return self._exact(self.primary_name) or (self._views[0] if self._views else None)

    def all(self):
        """``ViewGroupMixIn.getViews``: sorted by ``View.SORTER`` (the name)."""
        return sorted(self._views, key=lambda v: v.name)

    def add(self, root, name):
        view = View(self, normalize(root, name))
        self._views.append(view)
        self.save()
        return view

    def update(self, view, root):
        """``View.updateByXml``: the same class only; the name stays."""
        if VIEW_CLASSES.get(root.tag) != view.view_class:
            raise ViewError(
                f"Expecting view type: class {view.view_class} but got: class "
                f"{VIEW_CLASSES.get(root.tag, root.tag)} instead.\nShould you needed to change to "
                "a new view type, you must first delete and then re-create the view with the new "
                "view type."
            )
        view.root = normalize(root, view.name)
        self.save()

    def delete(self, view):
        """``ViewGroupMixIn.deleteView``."""
        if len(self._views) <= 1:
            raise ViewError("Cannot delete last view")
        self._views.remove(view)
        self.save()

    def forget_job(self, name):
        """``ListView.Listener.onDeleted`` for a top-level item."""
        changed = [v for v in self._views if v.view_class == LIST_VIEW and v.drop_job_name(name)]
        if changed:
            self.save()


# ---------------------------------------------------------------- HTTP


async def create_view(ctl, request):
    """``POST createView``: ``Jenkins.doCreateView`` -> ``View.create`` (2.568.2)."""
    from .jobs import is_xml_submission, request_parameter
    from .nodes import check_good_name

    if request.method != "POST":
        return web.Response(status=405, text="This URL requires POST")
    mode = await request_parameter(ctl, request, "mode")
    if request.headers.get("Content-Type") is None and mode != "copy":
        return ctl.failure(request, "No Content-Type header set")
    name = await request_parameter(ctl, request, "name")
    error = check_good_name(name)
    if error:
        return ctl.failure(request, error)
    if ctl.views.get(name) is not None:
        return ctl.failure(request, f'A view already exists with the name "{name}"')
    if not mode:
        if not is_xml_submission(request):
            return ctl.failure(request, "No view type is specified")
        try:  # createViewFromXML: XStream reads it (a 500 when it cannot), the name is ours
            ctl.views.add(configxml.parse(await request.read()), name)
        except (configxml.ConfigError, ViewError) as exc:
            return ctl.error_text(request, 500, f"java.io.IOException: Unable to read: {exc}")
        return web.Response(status=200)
    if mode == "copy":
        source_name = await request_parameter(ctl, request, "from")
        source = ctl.views.get(source_name)
        if source is None:
            if not source_name:
                return ctl.failure(request, "Specify which view to copy")
            return ctl.failure(request, f"No such view: {source_name}")
        view = ctl.views.add(copy.deepcopy(source.root), name)
    elif mode in (ALL_VIEW, LIST_VIEW):  # ViewDescriptor ids (all().findByName)
        view = ctl.views.add(_element(mode), name)
    else:
        return ctl.failure(request, f"No view type ‘{mode}’ is known")
    # getPostConstructLandingPage: "" for AllView, "configure" otherwise
    landing = "" if view.view_class == ALL_VIEW else "configure"
    return ctl.redirect(request, view.url_path() + landing, status=302)


async def handle(ctl, request, rest):
    """``/view/NAME/<rest>``: Stapler binds NAME through ``Jenkins.getView`` (null: 404)."""
    view = ctl.views.get(rest[0]) if rest else None
    if view is None:
        return ctl.not_found(request)
    rest = rest[1:]
    while rest and rest[-1] == "":
        rest = rest[:-1]
    action = rest[0] if rest else ""
    if action == "":
        return ctl.html_page(request, view.name)
    if rest[:2] == ["api", "json"]:
        return json_response(request, view.json)
    if action == "job":  # View.getJob: any item of the owner, in the view or not
        return await ctl.route_job(request, rest)
    if action == "config.xml" and len(rest) == 1:
        return await _config_xml(ctl, request, view)
    if action == "doDelete" and len(rest) == 1:
        if request.method != "POST":  # @RequirePOST
            return web.Response(status=405, text="This URL requires POST")
        try:
            ctl.views.delete(view)
        except ViewError as exc:
            return ctl.error_text(request, 500, f"java.lang.IllegalStateException: {exc}")
        return ctl.redirect(request, "", status=302)
    if action == "createItem" and len(rest) == 1:
        return await _create_item(ctl, request, view)
    return ctl.not_found(request)


async def _config_xml(ctl, request, view):
    """``View.doConfigDotXml``: GET writes the view, POST is ``updateByXml``, else a 400."""
    if request.method == "GET":
        return web.Response(
            text=configxml.serialize(view.root), content_type="application/xml", charset="utf-8"
        )
    if request.method != "POST":
        return ctl.error_text(request, 400, f"Unexpected request method {request.method}")
    try:
        root = configxml.parse(await request.read())
    except configxml.ConfigError as exc:
        return ctl.error_text(
            request, 500, f"java.io.IOException: Failed to persist configuration.xml: {exc}"
        )
    try:
        ctl.views.update(view, root)
    except ViewError as exc:
        return ctl.error_text(request, 500, f"java.io.IOException: {exc}")
    return web.Response(status=200)


async def _create_item(ctl, request, view):
    """``AllView``/``ListView.doCreateItem``: the owner creates it; a list view adds its name."""
    from .jobs import create_item, request_parameter

    name = await request_parameter(ctl, request, "name")
    existed = name is not None and name.strip() in ctl.jobs.top
    response = await create_item(ctl, request, None)
    created = name is not None and not existed and name.strip() in ctl.jobs.top
    if created and view.view_class == LIST_VIEW:
        view.add_job_name(ctl.jobs.top.get(name.strip()).name)
        ctl.views.save()
    return response


def _util_escape(text):
    """``hudson.Util.escape``: HTML-escape, ``\\n`` -> ``<br>``, runs of blanks -> ``&nbsp;``."""
    table = {"\n": "<br>", "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#039;"}
    out = []
    for i, char in enumerate(text):
        if char == " ":
            out.append("&nbsp;" if text[i + 1 : i + 2] == " " else " ")
        else:
            out.append(table.get(char, char))
    return "".join(out)


def _form_validation(error=None):
    """``FormValidation.ok()`` (``<div/>``) or ``error(message)``, as ``respond`` sends them."""
    body = "<div/>" if error is None else f'<div class="error">{_util_escape(error)}</div>'
    return web.Response(
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": "sandbox; default-src 'none';"},
    )


async def check_view_name(ctl, request, deprecated=False):
    """``Jenkins.doCheckViewName`` (taken, then ``checkGoodName``) and the deprecated
    ``doViewExistsCheck`` (taken only): ``value`` is a request parameter, empty means OK."""
    from .jobs import request_parameter
    from .nodes import check_good_name

    name = await request_parameter(ctl, request, "value") or None  # Util.fixEmpty
    if name is None:
        return _form_validation()
    if ctl.views.get(name) is not None:
        return _form_validation(f'A view already exists with the name "{name}"')
    if not deprecated:
        return _form_validation(check_good_name(name))
    return _form_validation()
