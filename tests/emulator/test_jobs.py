"""Jobs: createItem, config.xml re-serialisation, enable/disable/delete, build triggers, queue."""

import re

import jenkins
import pytest
import requests

from .helpers import create_inbound_node, freestyle, wait_for


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/ItemGroupMixIn.java createTopLevelItem"
)
def test_create_job_and_duplicate(server, target, http, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("echo hi"))
    assert server.job_exists(name)
    with pytest.raises(jenkins.JenkinsException, match="already exists"):
        server.create_job(name, freestyle("echo hi"))
    resp = http.post(
        target.url + f"createItem?name={name}",
        data=freestyle("true"),
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert resp.status_code == 400
    # Jetty sends header chars above 0xFF as spaces: the ‘ ’ quotes arrive as blanks
    assert resp.headers["X-Error"] == f"A job already exists with the name  {name} "
    assert f"A job already exists with the name ‘{name}’" in resp.text


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/ItemGroupMixIn.java createTopLevelItem"
)
def test_create_job_without_content_type_is_400(target, name):
    req = requests.Request(
        "POST",
        target.url + f"createItem?name={name}",
        data=b"<project/>",
        auth=(target.user, target.token),
    ).prepare()
    req.headers.pop("Content-Type", None)
    resp = requests.Session().send(req, timeout=10)
    assert resp.status_code == 400
    assert resp.headers["X-Error"] == "No Content-Type header set"


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/AbstractItem.java writeConfigDotXml "
    "(Items.XSTREAM2.toXMLUTF8)",
)
def test_freestyle_config_is_reserialised_with_defaults(server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(
        name,
        "<project><builders><hudson.tasks.Shell><command>echo 'a' \"b\"</command>"
        "</hudson.tasks.Shell></builders></project>",
    )
    xml = server.get_job_config(name)
    assert xml.startswith('<?xml version="1.1" encoding="UTF-8"?>\n<project>')
    # real Jenkins may also write <actions/> first once something touched the job's actions
    tags = [t for t in re.findall(r"^  <([A-Za-z]+)", xml, re.M) if t != "actions"]
    assert tags == [
        "keepDependencies",
        "properties",
        "scm",
        "canRoam",
        "disabled",
        "blockBuildWhenDownstreamBuilding",
        "blockBuildWhenUpstreamBuilding",
        "triggers",
        "concurrentBuild",
        "builders",
        "publishers",
        "buildWrappers",
    ]
    assert '<scm class="hudson.scm.NullSCM"/>' in xml
    assert "<hudson.tasks.Shell>" in xml  # core class: no plugin attribute
    assert "echo &apos;a&apos; &quot;b&quot;" in xml
    # XStream does not run constructors: a missing canRoam reads back false
    assert "<canRoam>false</canRoam>" in xml


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/util/XStream2.java PluginClassOwnership")
@pytest.mark.emulator_only
def test_plugin_attributes(server, name, cleanup):
    cleanup[0].append(name)
    config = freestyle("true").replace(
        "<canRoam>true</canRoam>",
        '<scm class="hudson.plugins.git.GitSCM"><configVersion>2</configVersion><userRemoteConfigs>'
        "<hudson.plugins.git.UserRemoteConfig><url>https://example.invalid/r.git</url>"
        "</hudson.plugins.git.UserRemoteConfig></userRemoteConfigs></scm><canRoam>true</canRoam>",
    )
    server.create_job(name, config)
    xml = server.get_job_config(name)
    assert '<scm class="hudson.plugins.git.GitSCM" plugin="git@5.7.0">' in xml
    assert "<hudson.plugins.git.UserRemoteConfig>" in xml  # same plugin as its parent: no attribute
    # re-posting what we read is stable (idempotent round trip)
    server.reconfig_job(name, xml)
    assert server.get_job_config(name) == xml


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/AbstractItem.java updateByXml")
def test_reconfig_job(server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("echo one"))
    server.reconfig_job(name, freestyle("echo two"))
    assert "echo two" in server.get_job_config(name)


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/jenkins/model/ParameterizedJobMixIn.java doDisable/doEnable/doBuild; "
    "core/src/main/java/hudson/model/AbstractItem.java doDoDelete",
)
def test_enable_disable_delete_redirect(server, target, http, name):
    server.create_job(name, freestyle("true"))
    job = target.url + f"job/{name}/"
    resp = http.post(job + "disable", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    info = server.get_job_info(name)
    assert info["disabled"] is True and info["buildable"] is False and info["color"] == "disabled"
    assert "<disabled>true</disabled>" in server.get_job_config(name)
    resp = http.post(job + "build", allow_redirects=False, timeout=10)
    assert resp.status_code == 409
    resp = http.post(job + "enable", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert server.get_job_info(name)["disabled"] is False
    resp = http.post(job + "doDelete", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert not server.job_exists(name)


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/Job.java, AbstractProject.java @Exported getters"
)
def test_job_info_fields(server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true", params=[("GREETING", "hello")]))
    info = server.get_job_info(name)
    assert info["_class"] == "hudson.model.FreeStyleProject"
    assert info["name"] == name and info["fullName"] == name
    assert info["color"] == "notbuilt"
    assert info["builds"] == [] and info["lastBuild"] is None
    assert info["nextBuildNumber"] == 1
    assert info["inQueue"] is False and info["queueItem"] is None
    prop = info["property"][0]
    assert prop["_class"] == "hudson.model.ParametersDefinitionProperty"
    pdef = prop["parameterDefinitions"][0]
    assert pdef["name"] == "GREETING"
    assert pdef["defaultParameterValue"]["value"] == "hello"
    assert pdef["type"] == "StringParameterDefinition"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/model/ParameterizedJobMixIn.java doBuildWithParameters"
)
def test_build_with_parameters_on_plain_job_is_400(server, target, http, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true", label="nowhere-label"))
    resp = http.post(
        target.url + f"job/{name}/buildWithParameters?X=1", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 400
    assert f"{name} is not parameterized" in resp.text


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/model/ParameterizedJobMixIn.java doBuild"
)
def test_build_returns_201_with_absolute_queue_location(server, target, http, name, cleanup):
    cleanup[0].append(name)
    # with no agent at all Jenkins does not talk about labels; give it one agent
    cleanup[1].append(name + "-agent")
    create_inbound_node(server, name + "-agent", labels="other")
    server.create_job(name, freestyle("true", label="no-such-label-x"))
    resp = http.post(target.url + f"job/{name}/build", allow_redirects=False, timeout=10)
    assert resp.status_code == 201
    location = resp.headers["Location"]
    assert re.fullmatch(re.escape(target.url) + r"queue/item/\d+/", location)
    # a second /build merges into the queued item (201 to the same item, JENKINS-66105)
    resp2 = http.post(target.url + f"job/{name}/build", allow_redirects=False, timeout=10)
    assert resp2.status_code == 201 and resp2.headers["Location"] == location
    qid = int(location.rstrip("/").rsplit("/", 1)[1])
    item = wait_for(
        lambda: (lambda i: i if i["_class"].endswith("BuildableItem") else None)(
            server.get_queue_item(qid)
        ),
        what="buildable",
    )
    assert item["why"] == "There are no nodes with the label ‘no-such-label-x’"
    assert item["stuck"] is True
    assert item["task"]["name"] == name
    assert server.get_job_info(name)["inQueue"] is True
    server.cancel_queue(qid)
    left = server.get_queue_item(qid)
    assert left["_class"] == "hudson.model.Queue$LeftItem"
    assert left["cancelled"] is True and left["executable"] is None


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/ParametersDefinitionProperty.java "
    "_doBuild/buildWithParameters",
)
def test_parameterised_build_rules(server, target, http, name, cleanup):
    cleanup[0].append(name)
    server.create_job(
        name, freestyle("true", label="no-such-label-y", params=[("A", "1"), ("B", "2")])
    )
    job = target.url + f"job/{name}/"
    # ParametersDefinitionProperty._doBuild needs the structured "json" form
    resp = http.post(job + "build", allow_redirects=False, timeout=10)
    assert resp.status_code == 400
    assert "Nothing is submitted" in resp.text
    resp = http.post(job + "buildWithParameters?A=x", allow_redirects=False, timeout=10)
    assert resp.status_code == 201
    location = resp.headers["Location"]
    qid = int(location.rstrip("/").rsplit("/", 1)[1])
    item = server.get_queue_item(qid)
    assert item["params"] == "\nA=x\nB=2"  # missing ones take their defaults
    # identical parameters already queued -> 303 See Other to that item
    resp = http.post(job + "buildWithParameters?A=x", allow_redirects=False, timeout=10)
    assert resp.status_code == 303
    assert resp.headers["Location"] == location
    resp = http.post(job + "buildWithParameters?A=other", allow_redirects=False, timeout=10)
    assert resp.status_code == 201 and resp.headers["Location"] != location
    form = {"json": '{"parameter": [{"name": "A", "value": "from-form"}]}'}
    resp = http.post(job + "build", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 201
    queue = server.get_queue_info()
    assert sum(1 for i in queue if i["task"]["name"] == name) == 3
    for i in queue:
        if i["task"]["name"] == name:
            server.cancel_queue(i["id"])


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/Queue.java WaitingItem#getCauseOfBlockage"
)
def test_queue_item_waits_in_quiet_period(server, target, http, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true", label="no-such-label-z"))
    resp = http.post(target.url + f"job/{name}/build?delay=1sec", allow_redirects=False, timeout=10)
    qid = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    item = server.get_queue_item(qid)
    assert item["_class"] == "hudson.model.Queue$WaitingItem"
    assert item["why"].startswith("In the quiet period. Expires in ")
    assert "timestamp" in item
    item = wait_for(
        lambda: (lambda i: i if i["_class"].endswith("BuildableItem") else None)(
            server.get_queue_item(qid)
        ),
        timeout=5,
        what="buildable",
    )
    assert "buildableStartMilliseconds" in item
    server.cancel_queue(qid)


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/Queue.java BuildableItem#getCauseOfBlockage"
)
def test_why_names_the_offline_agent(server, name, cleanup):
    node = name + "-agent"
    cleanup[0].append(name)
    cleanup[1].append(node)
    create_inbound_node(server, node, labels="solo-" + name)
    server.create_job(name, freestyle("true", label="solo-" + name))
    qid = server.build_job(name)
    item = wait_for(
        lambda: (lambda i: i if i.get("why", "").endswith("is offline") else None)(
            server.get_queue_item(qid)
        ),
        what="offline why",
    )
    assert item["why"] == f"‘{node}’ is offline"
    server.cancel_queue(qid)


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/AbstractProject.java getAssignedLabelString; "
    "core/src/main/java/hudson/model/Queue.java BuildableItem#getCauseOfBlockage",
)
def test_queue_task_exports_its_label_expression(server, target, http, name, cleanup):
    cleanup[0].append(name)
    label = f"lx-{name}&&linux"
    server.create_job(name, freestyle("true", label=label))
    qid = server.build_job(name)
    tree = "items[id,why,task[name,labelExpression]]"
    resp = http.get(target.url + "queue/api/json", params={"tree": tree}, timeout=10)
    (item,) = [i for i in resp.json()["items"] if i["id"] == qid]
    assert item["task"]["labelExpression"] == label
    # labelExpression has visibility 1: not shown in a queue item's task at depth 0
    plain = http.get(target.url + "queue/api/json", timeout=10).json()["items"]
    assert "labelExpression" not in next(i for i in plain if i["id"] == qid)["task"]
    server.cancel_queue(qid)


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/BuildAuthorizationToken.java checkPermission"
)
def test_build_needs_post(server, target, http, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true"))
    resp = http.get(target.url + f"job/{name}/build", allow_redirects=False, timeout=10)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Queue.java doCancelItem")
def test_cancel_unknown_queue_item_is_404(http, target):
    resp = http.post(target.url + "queue/cancelItem?id=999999", timeout=10)
    assert resp.status_code == 404


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/AbstractProject.java getAssignedLabel"
)
@pytest.mark.emulator_only
def test_job_without_canroam_waits_for_builtin(server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, "<project/>")
    qid = server.build_job(name)
    item = wait_for(
        lambda: (lambda i: i if i["_class"].endswith("BuildableItem") else None)(
            server.get_queue_item(qid)
        ),
        what="buildable",
    )
    # tied to the built-in node (no canRoam), which has 0 executors by default
    assert item["why"] in (
        "Waiting for next available executor on ‘Built-In Node’",
        "Waiting for next available executor",
    )
    server.cancel_queue(qid)


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/ItemGroupMixIn.java createTopLevelItem "
    "(folder from cloudbees-folder)",
)
@pytest.mark.emulator_only
def test_folders(server, target, http, name, cleanup):
    folder = name + "-f"
    cleanup[0].append(folder)
    server.create_job(
        folder, '<com.cloudbees.hudson.plugins.folder.Folder plugin="cloudbees-folder@1.0"/>'
    )
    server.create_job(f"{folder}/inner", freestyle("true"))
    assert server.job_exists(f"{folder}/inner")
    info = server.get_job_info(f"{folder}/inner")
    assert info["fullName"] == f"{folder}/inner"
    assert info["url"] == f"{target.url}job/{folder}/job/inner/"
    names = {j["fullname"] for j in server.get_all_jobs()}
    assert f"{folder}/inner" in names
    xml = server.get_job_config(folder)
    assert 'plugin="cloudbees-folder@6.999.v42253c105443"' in xml
