"""Views: the root's ``views``/``primaryView``, ``/view/NAME/…``, ``createView``.

What Jenkins 2.568.2 does, read from ``core/src/main/java/jenkins/model/Jenkins.java``
(``getViews``, ``getPrimaryView``, ``getView``, ``doCreateView``, ``loadConfig``),
``core/src/main/java/hudson/model/ViewGroupMixIn.java``, ``View.java``, ``AllView.java`` and
``ListView.java``; the client side is python-jenkins' views functions.
"""

import jenkins
import pytest

from .helpers import freestyle

VIEW_SRC = "core/src/main/java/hudson/model/View.java"
MIXIN_SRC = "core/src/main/java/hudson/model/ViewGroupMixIn.java"
JENKINS_SRC = "core/src/main/java/jenkins/model/Jenkins.java"

ALL_VIEW_XML = """<?xml version="1.1" encoding="UTF-8"?>
<hudson.model.AllView>
  <name>all</name>
  <filterExecutors>false</filterExecutors>
  <filterQueue>false</filterQueue>
  <properties class="hudson.model.View$PropertyList"/>
</hudson.model.AllView>"""


def list_view_xml(names=(), regex=None, description=None, comparator=True):
    """A ListView as jenkins-job-builder posts it (``hudson.util.CaseInsensitiveComparator``)."""
    cmp = '<comparator class="hudson.util.CaseInsensitiveComparator"/>' if comparator else ""
    strings = "".join(f"<string>{n}</string>" for n in names)
    desc = f"<description>{description}</description>" if description is not None else ""
    rx = f"<includeRegex>{regex}</includeRegex>" if regex is not None else ""
    return (
        f"<hudson.model.ListView><name>ignored</name>{desc}<filterExecutors>false</filterExecutors>"
        "<filterQueue>false</filterQueue><properties class='hudson.model.View$PropertyList'/>"
        f"<jobNames>{cmp}{strings}</jobNames><jobFilters/>"
        "<columns><hudson.views.StatusColumn/><hudson.views.JobColumn/></columns>"
        f"{rx}<recurse>false</recurse></hudson.model.ListView>"
    )


@pytest.fixture
def views(server):
    created = []
    yield created
    for view in created:
        try:
            server.delete_view(view)
        except jenkins.JenkinsException:
            pass


@pytest.mark.jenkins("2.568.2", f"{JENKINS_SRC} getPrimaryView, getViews, loadConfig")
def test_root_lists_the_all_view_as_primary(http, target):
    data = http.get(
        target.url + "api/json", params={"tree": "views[name,url],primaryView[name,url]"}
    ).json()
    # loadConfig: no view yet -> new AllView("all"), the primary view; its URL is the root's
    assert data["primaryView"] == {
        "_class": "hudson.model.AllView",
        "name": "all",
        "url": target.url,
    }
    assert data["primaryView"] in data["views"]
    # at depth 0 a nested view shows its visibility-2 properties only: name and url
    plain = http.get(target.url + "api/json").json()
    assert plain["primaryView"] == data["primaryView"]
    assert all(set(v) == {"_class", "name", "url"} for v in plain["views"])


@pytest.mark.jenkins(
    "2.568.2",
    f"{VIEW_SRC} getViewName (@Exported name), getItems (@Exported jobs), getAbsoluteUrl; "
    "core/src/main/java/hudson/model/AllView.java getItems",
)
def test_all_view_api_json(server, http, target, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true"))
    # python-jenkins get_view_name: GET view/all/api/json?tree=name, then ['name']
    resp = http.get(target.url + "view/all/api/json", params={"tree": "name"})
    assert resp.status_code == 200
    assert resp.json() == {"_class": "hudson.model.AllView", "name": "all"}
    assert server.get_view_name("all") == "all"
    assert server.view_exists("all") is True
    data = http.get(target.url + "view/all/api/json").json()
    assert sorted(data) == ["_class", "description", "jobs", "name", "property", "url"]
    assert data["description"] is None and data["property"] == []
    assert data["url"] == target.url  # the primary view's URL is its owner's
    assert name in [j["name"] for j in data["jobs"]]
    assert name in [j["name"] for j in server.get_jobs(view_name="all")]


@pytest.mark.jenkins("2.568.2", f"{MIXIN_SRC} getView (JENKINS-38606 localized names)")
@pytest.mark.parametrize("alias", ["All", "Alle", "Tous"])
def test_localized_all_reaches_the_default_all_view(http, target, alias):
    resp = http.get(target.url + f"view/{alias}/api/json", params={"tree": "name"})
    assert resp.status_code == 200
    assert resp.json()["name"] == "all"


@pytest.mark.jenkins("2.568.2", f"{JENKINS_SRC} getView (null: Stapler answers 404)")
def test_unknown_view_is_404(server, http, target, name):
    for path in ("api/json?tree=name", "config.xml", ""):
        assert http.get(target.url + f"view/{name}/{path}").status_code == 404
    assert http.get(target.url + "view/all-x/api/json").status_code == 404
    assert server.get_view_name(name) is None
    assert server.view_exists(name) is not True
    with pytest.raises(jenkins.JenkinsException, match="does not exist"):
        server.get_jobs(view_name=name)


@pytest.mark.jenkins("2.568.2", f"{VIEW_SRC} doConfigDotXml, writeXml (XStream2.toXMLUTF8)")
def test_all_view_config_xml(http, target):
    resp = http.get(target.url + "view/all/config.xml")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/xml")
    assert resp.text == ALL_VIEW_XML


@pytest.mark.jenkins("2.568.2", f"{VIEW_SRC} getJob (any item of the owner)")
def test_jobs_are_reached_through_a_view(server, http, target, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true"))
    data = http.get(target.url + f"view/all/job/{name}/api/json", params={"tree": "name"}).json()
    assert data["name"] == name
    assert http.get(target.url + f"view/all/job/{name}-missing/api/json").status_code == 404


@pytest.mark.jenkins(
    "2.568.2",
    f"{VIEW_SRC} create, createViewFromXML, doConfigDotXml; "
    "core/src/main/java/hudson/model/ListView.java getItems; "
    f"{MIXIN_SRC} getViews (View.SORTER)",
)
def test_list_view_lifecycle(server, http, target, name, cleanup, views):
    jobs = [f"{name}-b", f"{name}-a", f"{name}-rx1"]
    cleanup[0].extend(jobs)
    for job in jobs:
        server.create_job(job, freestyle("true"))
    views.append(name)
    server.create_view(name, list_view_xml([f"{name}-b", f"{name}-A", f"{name}-gone"]))
    assert server.view_exists(name) is True
    with pytest.raises(jenkins.JenkinsException, match="already exists"):
        server.create_view(name, list_view_xml())
    listed = [v["name"] for v in server.get_views()]
    assert listed == sorted(listed) and name in listed
    entry = next(v for v in server.get_views() if v["name"] == name)
    assert entry == {
        "_class": "hudson.model.ListView",
        "name": name,
        "url": f"{target.url}view/{name}/",
    }
    # the name comes from the URL; jobNames is a case-insensitive TreeSet; columns are kept
    xml = server.get_view_config(name)
    assert f"<name>{name}</name>" in xml
    assert (
        "  <jobNames>\n"
        '    <comparator class="hudson.util.CaseInsensitiveComparator"/>\n'
        f"    <string>{name}-A</string>\n"
        f"    <string>{name}-b</string>\n"
        f"    <string>{name}-gone</string>\n"
        "  </jobNames>\n"
        "  <jobFilters/>\n"
        "  <columns>\n"
        "    <hudson.views.StatusColumn/>\n"
        "    <hudson.views.JobColumn/>\n"
        "  </columns>\n"
        "  <recurse>false</recurse>\n"
    ) in xml
    # getItems: the named items that exist (case-insensitively), in jobNames' order
    assert [j["name"] for j in server.get_jobs(view_name=name)] == [f"{name}-a", f"{name}-b"]
    # reconfigure: the name stays, the regex adds matching items
    server.reconfig_view(name, list_view_xml([f"{name}-b"], regex=f"{name}-rx.*", description="d"))
    data = http.get(target.url + f"view/{name}/api/json").json()
    assert data["name"] == name and data["description"] == "d"
    assert [j["name"] for j in data["jobs"]] == [f"{name}-b", f"{name}-rx1"]
    server.delete_view(name)
    assert server.view_exists(name) is not True
    assert http.get(target.url + f"view/{name}/api/json").status_code == 404


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/ListView.java doCreateItem, Listener.onDeleted",
)
def test_list_view_follows_items_created_in_it_and_deleted(
    server, http, target, name, cleanup, views
):
    views.append(name)
    server.create_view(name, list_view_xml())
    job = f"{name}-in-view"
    cleanup[0].append(job)
    resp = http.post(
        target.url + f"view/{name}/createItem",
        params={"name": job},
        data=freestyle("true"),
        headers={"Content-Type": "application/xml"},
    )
    assert resp.status_code == 200
    assert [j["name"] for j in server.get_jobs(view_name=name)] == [job]
    assert f"<string>{job}</string>" in server.get_view_config(name)
    server.delete_job(job)
    assert f"<string>{job}</string>" not in server.get_view_config(name)


@pytest.mark.jenkins("2.568.2", f"{VIEW_SRC} updateByXml (same class only)")
def test_reconfigure_to_another_view_class_is_refused(server, http, target, name, views):
    views.append(name)
    server.create_view(name, list_view_xml())
    resp = http.post(
        target.url + f"view/{name}/config.xml",
        data="<hudson.model.AllView><name>x</name></hudson.model.AllView>",
        headers={"Content-Type": "application/xml"},
    )
    assert resp.status_code == 500
    assert "hudson.model.ListView" in server.get_view_config(name)


@pytest.mark.jenkins("2.568.2", f"{VIEW_SRC} create; {JENKINS_SRC} doCreateView")
def test_create_view_refusals(http, target, name):
    url = target.url + "createView"
    resp = http.post(url, params={"name": name}, data=b"", headers={"Content-Type": None})
    assert resp.status_code == 400 and resp.headers["X-Error"] == "No Content-Type header set"
    resp = http.post(url, data={"name": name})
    assert resp.status_code == 400 and resp.headers["X-Error"] == "No view type is specified"
    resp = http.post(url, data={"name": name, "mode": "no.such.View"})
    assert resp.status_code == 400
    # Hudson messages quote with ‘ ’, which Jetty writes as spaces in a header
    assert resp.headers["X-Error"] == "No view type  no.such.View  is known"
    resp = http.post(
        url, params={"name": "a/b"}, data=list_view_xml(), headers={"Content-Type": "text/xml"}
    )
    assert resp.status_code == 400 and "unsafe character" in resp.headers["X-Error"]
    resp = http.post(
        url, params={"name": "all"}, data=list_view_xml(), headers={"Content-Type": "text/xml"}
    )
    assert resp.status_code == 400
    assert resp.headers["X-Error"] == 'A view already exists with the name "all"'
    assert http.get(target.url + f"view/{name}/api/json").status_code == 404


@pytest.mark.jenkins("2.568.2", f"{VIEW_SRC} doDoDelete (@RequirePOST); {MIXIN_SRC} deleteView")
@pytest.mark.emulator_only  # a real controller may have more than one view
def test_the_last_view_cannot_be_deleted(http, target):
    assert http.get(target.url + "view/all/doDelete", allow_redirects=False).status_code == 405
    resp = http.post(target.url + "view/all/doDelete", allow_redirects=False)
    assert resp.status_code == 500
    assert "Cannot delete last view" in resp.text
    assert http.get(target.url + "view/all/api/json").status_code == 200


@pytest.mark.jenkins(
    "2.568.2",
    f"{JENKINS_SRC} doCheckViewName, doViewExistsCheck; "
    "core/src/main/java/hudson/util/FormValidation.java ok, error, respond; "
    "core/src/main/java/hudson/Util.java escape",
)
def test_view_name_checks(http, target, name):
    taken = '<div class="error">A view already exists with the name &quot;all&quot;</div>'
    for check in ("checkViewName", "viewExistsCheck"):
        for value, body in (("", "<div/>"), (name, "<div/>"), ("all", taken)):
            resp = http.get(target.url + check, params={"value": value})
            assert resp.status_code == 200
            assert resp.headers["Content-Type"].startswith("text/html")
            assert resp.text == body
    # only doCheckViewName also checks the name is a good one (Jenkins.checkGoodName)
    resp = http.get(target.url + "checkViewName", params={"value": "a<b"})
    assert resp.text == '<div class="error">‘&lt;’ is an unsafe character</div>'
    assert http.get(target.url + "viewExistsCheck", params={"value": "a<b"}).text == "<div/>"


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/ListView.java readResolve")
def test_a_regex_that_does_not_compile_is_dropped(server, name, views):
    views.append(name)
    server.create_view(name, list_view_xml(regex="(unclosed"))
    assert "includeRegex" not in server.get_view_config(name)
    assert server.get_jobs(view_name=name) == []
