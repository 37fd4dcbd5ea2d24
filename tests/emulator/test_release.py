"""Checks of issue 8: the behaviours that differ between Jenkins releases, read from the source of
the release the emulator reproduces (``jenkins-2.568.2``).  ``since=`` names the first LTS line
with the behaviour, so that against an older real controller the check is skipped, not failed.
"""

import uuid

import pytest
import requests

from .helpers import create_inbound_node, freestyle

XML = {"Content-Type": "application/xml"}
SLAVE = (
    "<slave><name>{name}</name><remoteFS>/tmp/agent</remoteFS><numExecutors>1</numExecutors>"
    '<launcher class="hudson.slaves.JNLPLauncher"/></slave>'
)
RELEASE = "2.568.2"


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/Functions.java advertiseHeaders (X-Jenkins)"
)
def test_announced_release(target, target_version):
    if target.emulated:
        assert target_version == RELEASE
    assert target_version


# ---------------------------------------------------------------- computer/createItem


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/ComputerSet.java doCreateItem (XML branch)",
    since="2.541",
)
def test_node_create_item_xml_branch(target, http, server, name, cleanup):
    cleanup[1].append(name)
    url = target.url + "computer/createItem"
    # no ?name=: the node keeps the name of the XML (name = Util.fixEmptyAndTrim(name))
    resp = http.post(
        url, data=SLAVE.format(name=name), headers=XML, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 200
    assert server.node_exists(name)
    resp = http.post(
        url + f"?name={name}",
        data=SLAVE.format(name="other"),
        headers=XML,
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.headers["X-Error"] == f"Node '{name}' already exists"


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/ComputerSet.java doCreateItem (XSTREAM2.fromXML)",
    since="2.541",
)
def test_node_create_item_unknown_class_is_500(target, http, server, name):
    resp = http.post(
        target.url + f"computer/createItem?name={name}",
        data=f"<nonsense.Type{name[2:]}/>",
        headers=XML,
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 500
    assert not server.node_exists(name)


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/ComputerSet.java doCreateItem (mode == null)"
)
def test_node_create_item_without_xml_or_mode(target, http, name):
    """Also 2.479.3, where even an XML body ends here."""
    resp = http.post(
        target.url + f"computer/createItem?name={name}", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 400
    assert resp.headers["X-Error"] == "No mode given"
    resp = http.post(
        target.url + f"computer/createItem?name={name}&mode=no.such.Type",
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400
    assert "No node type" in resp.text and "no.such.Type" in resp.text


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/ComputerSet.java doCreateItem (mode=copy)"
)
def test_node_copy_redirects_to_configure(target, http, server, name, cleanup):
    cleanup[1].extend([name, name + "-copy"])
    create_inbound_node(server, name, labels="copy-src")
    resp = http.post(
        target.url + f"computer/createItem?name={name}-copy&mode=copy&from={name}",
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"computer/{name}-copy/configure")
    assert server.node_exists(name + "-copy")


# ---------------------------------------------------------------- computer/X/config.xml


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/Computer.java updateByXml; "
    "core/src/main/java/jenkins/model/Nodes.java replaceNode",
    since="2.482",
)
def test_node_config_post_without_cause_brings_node_back(target, http, server, name, cleanup):
    """Since 2.482 the temporary offline cause is a field of the Node; replaceNode does not carry
    it over (2.479.3 kept it: Computer.setNode re-applied the Computer's cause)."""
    cleanup[1].append(name)
    create_inbound_node(server, name)
    http.post(
        target.url + f"computer/{name}/toggleOffline?offlineMessage=maint",
        allow_redirects=False,
        timeout=10,
    )
    assert server.get_node_info(name)["temporarilyOffline"] is True
    xml = server.get_node_config(name)
    start, end = xml.index("<temporaryOfflineCause"), xml.index("</temporaryOfflineCause>")
    server.reconfig_node(name, xml[:start] + xml[end + len("</temporaryOfflineCause>") :])
    assert server.get_node_info(name)["temporarilyOffline"] is False


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/Computer.java updateByXml (XSTREAM2.fromXML)"
)
def test_node_config_post_malformed_or_unknown_is_500(target, http, server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    url = target.url + f"computer/{name}/config.xml"
    assert http.post(url, data="<slave><name>", headers=XML, timeout=10).status_code == 500
    assert http.post(url, data="<no.such.NodeType/>", headers=XML, timeout=10).status_code == 500
    assert server.node_exists(name)


@pytest.mark.emulator_only
@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/Computer.java updateByXml (Node types do not match)"
)
def test_node_config_post_other_node_class_is_400(target, http, server, name, cleanup):
    """Emulator only: which core Node classes XStream can build from a bare element was not
    checked against a running controller."""
    cleanup[1].append(name)
    create_inbound_node(server, name)
    resp = http.post(
        target.url + f"computer/{name}/config.xml", data="<hudson/>", headers=XML, timeout=10
    )
    assert resp.status_code == 400
    assert "Node types do not match" in resp.text


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/jenkins/model/Jenkins.java MasterComputer#doConfigDotXml"
)
def test_builtin_node_config_xml_is_400(target, http):
    assert http.get(target.url + "computer/(built-in)/config.xml", timeout=10).status_code == 400


# ---------------------------------------------------------------- job names


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/jenkins/model/Jenkins.java items "
    "(CopyOnWriteMap.Tree, String.CASE_INSENSITIVE_ORDER), getItem, getItems",
)
def test_job_names_are_case_insensitive(target, http, server, cleanup):
    base = "ci-" + uuid.uuid4().hex[:8]
    lower, upper = base + "-b", base.upper() + "-A"
    cleanup[0].extend([lower, upper])
    server.create_job(lower, freestyle("true"))
    resp = http.post(
        target.url + f"createItem?name={lower.upper()}",
        data=freestyle("true"),
        headers=XML,
        timeout=10,
    )
    assert resp.status_code == 400
    assert "A job already exists with the name" in resp.headers["X-Error"]
    data = http.get(target.url + f"job/{lower.upper()}/api/json?tree=name", timeout=10).json()
    assert data["name"] == lower
    server.create_job(upper, freestyle("true"))
    names = [
        j["name"]
        for j in http.get(target.url + "api/json?tree=jobs[name]", timeout=10).json()["jobs"]
    ]
    ours = [n for n in names if n.lower().startswith(base)]
    assert ours == [upper, lower]  # "…-A" before "…-b" whatever the case


# ---------------------------------------------------------------- createItem


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/ItemGroupMixIn.java createProjectFromXML"
)
def test_create_item_unknown_root_is_500_and_nothing_stored(target, http, server, name):
    resp = http.post(
        target.url + f"createItem?name={name}", data="<nonsense.Type/>", headers=XML, timeout=10
    )
    assert resp.status_code == 500
    assert not server.job_exists(name)
    resp = http.post(
        target.url + f"createItem?name={name}", data="<project>", headers=XML, timeout=10
    )
    assert resp.status_code == 500
    assert not server.job_exists(name)


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/ItemGroupMixIn.java createTopLevelItem"
)
def test_create_item_modes(target, http, server, name, cleanup):
    cleanup[0].extend([name, name + "-copy"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = http.post(
        target.url + f"createItem?name={name}",
        data="x=1",
        headers=form,
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400 and resp.headers["X-Error"] == "No mode given"
    server.create_job(name, freestyle("true"))
    resp = http.post(
        target.url + f"createItem?name={name}-copy&mode=copy&from={name}",
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"job/{name}-copy/configure")
    assert server.job_exists(name + "-copy")


@pytest.mark.jenkins(RELEASE, "core/src/main/java/hudson/model/AbstractItem.java updateByXml")
def test_job_config_post_other_type_is_500(target, http, server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true"))
    resp = http.post(
        target.url + f"job/{name}/config.xml", data="<nonsense.Type/>", headers=XML, timeout=10
    )
    assert resp.status_code == 500
    assert "<project>" in server.get_job_config(name)


# ---------------------------------------------------------------- delete


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/AbstractItem.java doDoDelete (@RequirePOST), "
    "delete (HttpDeletable); core/src/main/resources/hudson/model/AbstractItem/delete.jelly",
)
def test_job_delete_urls(target, http, server, name):
    server.create_job(name, freestyle("true"))
    job = target.url + f"job/{name}/"
    assert http.get(job + "doDelete", allow_redirects=False, timeout=10).status_code == 405
    resp = http.post(job + "delete", allow_redirects=False, timeout=10)
    assert resp.status_code == 200  # the confirmation page
    assert server.job_exists(name)
    assert http.delete(job, allow_redirects=False, timeout=10).status_code == 204
    assert not server.job_exists(name)


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/model/Computer.java doDoDelete (@RequirePOST)"
)
def test_node_do_delete_needs_post(target, http, server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    assert (
        http.get(
            target.url + f"computer/{name}/doDelete", allow_redirects=False, timeout=10
        ).status_code
        == 405
    )
    assert server.node_exists(name)


# ---------------------------------------------------------------- builds and the queue


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/jenkins/model/ParameterizedJobMixIn.java doBuildWithParameters",
    since="2.528",
)
def test_build_with_parameters_not_parameterized_message(target, http, server, name, cleanup):
    """2.479.3 throws IllegalStateException there (a 500)."""
    cleanup[0].append(name)
    server.create_job(name, freestyle("true"))
    resp = http.post(
        target.url + f"job/{name}/buildWithParameters", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 400
    assert f"{name} is not parameterized" in resp.text


@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/ParametersDefinitionProperty.java _doBuild "
    '(Queue.schedule -> null when merged -> sendRedirect("."))',
)
def test_build_form_merged_into_queued_item_is_302(target, http, server, name, cleanup):
    cleanup[0].append(name)
    server.create_job(name, freestyle("true", label="no-such-label-" + name, params=[("P", "a")]))
    form = {"json": '{"parameter": [{"name": "P", "value": "x"}]}'}
    url = target.url + f"job/{name}/build?delay=0sec"
    first = http.post(url, data=form, allow_redirects=False, timeout=10)
    assert first.status_code == 201
    second = http.post(url, data=form, allow_redirects=False, timeout=10)
    assert second.status_code == 302
    assert second.headers["Location"].rstrip("/").endswith(f"job/{name}")
    server.cancel_queue(int(first.headers["Location"].rstrip("/").rsplit("/", 1)[-1]))


# ---------------------------------------------------------------- security


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/security/WhoAmI.java (UnprotectedRootAction, @Exported)"
)
def test_whoami_is_unprotected(target, http):
    resp = requests.get(target.url + "whoAmI/api/json", timeout=10)
    assert resp.status_code == 200
    data = resp.json()
    assert data["anonymous"] is True and data["name"] == "anonymous"
    assert "details" not in data and "toString" not in data
    data = http.get(target.url + "whoAmI/api/json", timeout=10).json()
    assert (
        data["anonymous"] is False and data["name"] == target.user and data["authenticated"] is True
    )
    assert "details" not in data and "toString" not in data


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/hudson/security/AccessDeniedException3.java reportAsHeaders"
)
def test_anonymous_denial_lists_every_implying_permission(target):
    resp = requests.get(target.url + "api/json", timeout=10)
    assert resp.status_code == 403
    assert resp.headers["X-Required-Permission"] == "hudson.model.Hudson.Read"
    implied = resp.raw.headers.getlist("X-Permission-Implied-By")
    assert implied == ["hudson.security.Permission.GenericRead", "hudson.model.Hudson.Administer"]


@pytest.mark.jenkins(
    RELEASE, "core/src/main/java/jenkins/security/BasicHeaderProcessor.java doFilter"
)
def test_malformed_basic_header_is_401(target):
    resp = requests.get(
        target.url + "api/json", headers={"Authorization": "Basic bm9jb2xvbg=="}, timeout=10
    )
    assert resp.status_code == 401


@pytest.mark.emulator_only
@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/security/csrf/CrumbFilter.java doFilter/extractCrumbFromRequest",
)
def test_crumb_parameter_and_dot_crumb(target, name, cleanup):
    """Emulator only: needs password (session) authentication, which the suite only has there."""
    server = target.client()
    server.create_job(name, "<project/>")
    cleanup[0].append(name)
    sess = requests.Session()
    sess.auth = (target.user, target.password)
    crumb = sess.get(target.url + "crumbIssuer/api/json", timeout=10).json()["crumb"]
    # the ".crumb" fallback's value is thrown away: it never validates a POST
    resp = sess.post(
        target.url + f"job/{name}/disable",
        data={".crumb": crumb},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 403
    resp = sess.post(
        target.url + f"job/{name}/disable",
        headers={".crumb": crumb},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 403
    # a request parameter in the query string is one
    resp = sess.post(
        target.url + f"job/{name}/disable?Jenkins-Crumb={crumb}", allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302


@pytest.mark.jenkins(RELEASE, "core/src/main/java/hudson/PluginWrapper.java @Exported getters")
def test_plugins_export_no_minimum_java_version(http, target):
    plugins = http.get(target.url + "pluginManager/api/json?depth=1", timeout=10).json()["plugins"]
    assert all("minimumJavaVersion" not in p for p in plugins)
    assert all("requiredCoreVersion" in p for p in plugins)


# ------------------------------------------------------------- agents and builds (emulated agent)


@pytest.mark.emulator_only
@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/jenkins/agents/WebSocketAgents.java doIndex; "
    "core/src/main/java/jenkins/slaves/DefaultJnlpSlaveReceiver.java afterProperties",
    since="2.516",
)
def test_wsagents_refusals_and_cookie_reconnect(target, server, name, cleanup, agent_factory):
    """400 + the ConnectionRefusalException message since 2.516 (2.479.3: a 500); a handshake
    presenting the current Connection-Cookie replaces the channel."""
    from saltext.chain.emulator.agents import CAPABILITY

    from .helpers import node_secret, wait_online

    cleanup[1].append(name)
    create_inbound_node(server, name)
    agent_factory(name)
    wait_online(server, name)
    headers = {
        "Node-Name": name,
        "Secret-Key": node_secret(target, name),
        "X-Remoting-Capability": CAPABILITY,
    }
    resp = requests.get(target.url + "wsagents/", headers=headers, timeout=10)
    assert resp.status_code == 400
    assert (
        f"{name} is already connected to this controller. Rejecting this connection." in resp.text
    )
    # a node whose launcher is not an inbound one is refused with the receiver's message
    other = name + "-cmd"
    cleanup[1].append(other)
    xml = (
        f"<slave><name>{other}</name><remoteFS>/tmp</remoteFS><numExecutors>1</numExecutors>"
        '<launcher class="hudson.slaves.CommandLauncher" plugin="command-launcher">'
        "<agentCommand>true"
        "</agentCommand></launcher></slave>"
    )
    requests.post(
        target.url + "computer/createItem",
        data=xml,
        headers=XML,
        auth=(target.user, target.token),
        timeout=10,
    )
    headers.update({"Node-Name": other, "Secret-Key": node_secret(target, other)})
    resp = requests.get(target.url + "wsagents/", headers=headers, timeout=10)
    assert resp.status_code == 400
    assert f"{other} is not an inbound agent" in resp.text


@pytest.mark.emulator_only
@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/hudson/model/Job.java getEstimatedDuration/"
    "getEstimatedDurationCandidates; Stapler LargeText.doProgressText",
)
def test_estimated_duration_live_and_progressive_restart(
    target, server, name, cleanup, agent_factory
):
    from .helpers import run_to_completion, wait_online

    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="est-" + name)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("sleep 0.3; exit 1", label="est-" + name))
    info = run_to_completion(server, name)
    first = info["number"]
    assert info["result"] == "FAILURE"
    # a failed build is the fallback candidate: the estimate is its duration, read live
    assert server.get_build_info(name, first)["estimatedDuration"] == info["duration"] > 0
    log = target.session().get(
        f"{target.url}job/{name}/{first}/logText/progressiveText?start=999999", timeout=10
    )
    assert log.status_code == 200
    assert log.text.startswith("Started by user")  # start past the end restarts from 0
    assert int(log.headers["X-Text-Size"]) == len(log.content)


@pytest.mark.emulator_only
@pytest.mark.jenkins(
    RELEASE,
    "core/src/main/java/jenkins/slaves/DefaultJnlpSlaveReceiver.java afterProperties "
    "(ConnectionFromCurrentPeer); core/src/main/java/jenkins/agents/WebSocketAgents.java doIndex",
)
def test_wsagents_reconnect_with_current_cookie_replaces_channel(target, server, name, cleanup):
    """Emulator only: speaks the handshake without remoting (a real controller would then wait
    for the remoting protocol)."""
    import asyncio

    import aiohttp

    from saltext.chain.emulator.agents import CAPABILITY

    from .helpers import node_secret, wait_online

    cleanup[1].append(name)
    create_inbound_node(server, name)
    secret = node_secret(target, name)
    url = target.url + "wsagents/"

    async def scenario():
        headers = {"Node-Name": name, "Secret-Key": secret, "X-Remoting-Capability": CAPABILITY}
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(url, headers=headers)
            cookie = first._response.headers["Connection-Cookie"]
            assert len(cookie) == 64 and int(cookie, 16) >= 0
            # another peer (no cookie, or another cookie) is refused while the channel lives
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 400
            async with session.get(
                url, headers=dict(headers, **{"Connection-Cookie": "ab" * 32})
            ) as resp:
                assert resp.status == 400
                assert "already connected" in await resp.text()
            # the current peer presenting its cookie replaces the channel
            second = await session.ws_connect(
                url, headers=dict(headers, **{"Connection-Cookie": cookie})
            )
            assert second._response.headers["Connection-Cookie"] == cookie
            msg = await first.receive(timeout=5)
            while msg.type == aiohttp.WSMsgType.TEXT:  # the emulator's own "hello" first
                msg = await first.receive(timeout=5)
            assert msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            )
            await asyncio.to_thread(wait_online, server, name)
            await second.close()
            await first.close()

    asyncio.run(scenario())
