"""chain_jenkins_jobs on the answers of real controllers: a job converges after one write
whether GET config.xml is the stored file (2.479.3) or XStream's rewrite (2.568.2); item names
are case-insensitive (see jenkins_transport for how the answers are reproduced)."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_jenkins_jjb as J
from saltext.chain.utils import chain_jenkins_jobs as JOBS

from tests.unit.utils import jenkins_transport as T

YAML = """
- job:
    name: app
    description: build the app
    parameters:
      - password: {name: DEPLOY_PW, default: hunter2}
    builders:
      - shell: 'printf "ok\\n"; make'
"""

XML = "application/xml;charset=utf-8"


def _stored_2_479(posted):
    """AbstractItem.writeConfigDotXml (2.479.3): IOUtils.copy of the file that
    ItemGroupMixIn.createProjectFromXML / updateByXml wrote with XMLUtils.safeTransform (an
    identity transform: its own declaration, the content as posted)."""
    text = posted.decode("utf-8")
    body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
    return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>' + body


def _xstream_2_568(posted):
    """AbstractItem.writeConfigDotXml (2.568.2): Items.XSTREAM2.toXMLUTF8 of the loaded job:
    1.1 declaration, every field, Secret fields encrypted."""
    return """<?xml version='1.1' encoding='UTF-8'?>
<project>
  <actions/>
  <description>build the app&lt;!-- Managed by Jenkins Job Builder --&gt;</description>
  <keepDependencies>false</keepDependencies>
  <properties>
    <hudson.model.ParametersDefinitionProperty>
      <parameterDefinitions>
        <hudson.model.PasswordParameterDefinition>
          <name>DEPLOY_PW</name>
          <description></description>
          <defaultValue>{AQAAABAAAAAQaBcDeFgHiJkLmNoPqRsTuV0123456789+/==}</defaultValue>
        </hudson.model.PasswordParameterDefinition>
      </parameterDefinitions>
    </hudson.model.ParametersDefinitionProperty>
  </properties>
  <scm class="hudson.scm.NullSCM"/>
  <canRoam>true</canRoam>
  <disabled>false</disabled>
  <blockBuildWhenDownstreamBuilding>false</blockBuildWhenDownstreamBuilding>
  <blockBuildWhenUpstreamBuilding>false</blockBuildWhenUpstreamBuilding>
  <triggers/>
  <concurrentBuild>false</concurrentBuild>
  <builders>
    <hudson.tasks.Shell>
      <command>printf &quot;ok\\n&quot;; make</command>
      <configuredLocalRules/>
    </hudson.tasks.Shell>
  </builders>
  <publishers/>
  <buildWrappers/>
</project>"""


def _controller(rewrite):
    """A controller holding one job, ``r1``/``app``, stored as ``rewrite`` makes it."""
    store = {}

    def create(req):
        name = req.url.split("name=", 1)[1]
        if name.lower() in store:
            # ItemGroupMixIn.createTopLevelItem: Failure(Messages.Hudson_JobAlreadyExists) ->
            # AbstractModelObject/error.jelly: 400 with X-Error
            return T.answer(
                400,
                "<html>Error</html>",
                {"X-Error": f"A job already exists with the name \u2018{name}\u2019"},
            )
        store[name.lower()] = (name, rewrite(req.body))
        return T.answer(200)

    def get(name):
        def read(req):
            if name.lower() not in store:
                return T.answer(404)
            stored, text = store[name.lower()]
            if req.url.split("?")[0].endswith("api/json"):
                return T.answer(
                    json={"_class": "hudson.model.FreeStyleProject", "fullName": stored}
                )
            return T.answer(200, text, {"Content-Type": XML})

        return read

    routes = {("POST", "createItem"): create}
    for name in ("app", "r1"):
        routes[("GET", f"job/{name}/config.xml")] = get(name)
        routes[("GET", f"job/{name}/api/json")] = get(name)
    return T.Transport(routes), store


@pytest.mark.parametrize(
    "release,rewrite", [("2.479.3", _stored_2_479), ("2.568.2", _xstream_2_568)]
)
def test_a_created_job_compares_as_declared_on_both_releases(release, rewrite):
    transport, _ = _controller(rewrite)
    client = T.client(transport)
    desired = J.render(YAML)["app"]
    before = JOBS.compare(client, "app", desired)
    assert before["exists"] is False and before["changed"] is True
    assert "hunter2" not in before["diff"]
    JOBS.create(client, "app", desired)
    after = JOBS.compare(client, "app", desired)
    assert after == {
        "exists": True,
        "changed": False,
        "diff": "",
        "xml": desired,
        "disabled": None,
        "name": "app",
    }


def test_job_names_are_case_insensitive_like_jenkins_items():
    transport, store = _controller(_stored_2_479)
    client = T.client(transport)
    JOBS.create(client, "r1", "<project><description>x</description></project>")
    # job/R1/config.xml is job r1 (Jenkins.items: CASE_INSENSITIVE_ORDER); compare says so
    cmp = JOBS.compare(client, "R1", "<project><description>x</description></project>")
    assert cmp["changed"] is False and cmp["name"] == "r1"
    with pytest.raises(CommandExecutionError, match="A job already exists with the name .R1."):
        JOBS.create(client, "R1", "<project/>")
    assert list(store) == ["r1"]


def test_an_unloadable_job_is_an_error_and_nothing_is_stored():
    """createProjectFromXML: Items.load of an unknown root or a missing plugin's class throws;
    the item directory is deleted and the exception reaches the oops page (500)."""
    headers, body = T.oops()
    transport = T.Transport({("POST", "createItem"): T.answer(500, body, headers)})
    with pytest.raises(CommandExecutionError, match="500 to POST createItem: A problem occurred"):
        JOBS.create(T.client(transport), "odd", "<nonsense.Type/>")


def test_update_and_actions_of_a_missing_job_say_so():
    client = T.client(T.Transport())
    with pytest.raises(CommandExecutionError, match="job gone does not exist"):
        JOBS.update(client, "gone", "<project/>")
    with pytest.raises(CommandExecutionError, match="job gone does not exist"):
        JOBS.action(client, "gone", "disable")
    assert JOBS.delete(client, "gone") is False
    assert JOBS.enabled(client, "gone") is None


def test_ignore_paths():
    assert JOBS.ignore_paths(None) is None and JOBS.ignore_paths("a/b") == ["a/b"]
    for bad in (5, ["/"], [3]):
        with pytest.raises(SaltInvocationError, match="^ignore"):
            JOBS.ignore_paths(bad)


def test_folders_are_walked():
    data = {
        "jobs": [
            {
                "name": "f",
                "url": "u/f",
                "_class": "Folder",
                "jobs": [{"name": "a", "url": "u/f/a", "color": "blue"}],
            },
            {"name": "b", "color": "red"},
        ]
    }
    transport = T.Transport({("GET", "api/json"): T.answer(json=data)})
    assert [j["fullname"] for j in JOBS.list_all(T.client(transport))] == ["f", "f/a", "b"]


def test_a_changed_secret_is_a_change_even_when_jenkins_shows_it_encrypted(tmp_path):
    """2.568.1+ re-saves a posted job at once (AbstractItem.updateByXml: configXmlFile.write):
    a password default comes back as {AQAAAB...}. The ledger of what was posted tells a
    changed secret from the stored one."""
    transport, _ = _controller(_xstream_2_568)
    client = T.client(transport)
    desired = J.render(YAML)["app"]
    JOBS.create(client, "app", desired, cachedir=str(tmp_path))
    assert JOBS.compare(client, "app", desired, cachedir=str(tmp_path))["changed"] is False
    new = desired.replace("hunter2", "s3cond")
    cmp = JOBS.compare(client, "app", new, cachedir=str(tmp_path))
    assert cmp["changed"] is True
    assert "hunter2" not in cmp["diff"] and "s3cond" not in cmp["diff"]
    assert "<defaultValue><hidden> (changed)</defaultValue>" in cmp["diff"]
    # no record (another minion, a wiped cache): an encrypted value counts as unchanged
    assert JOBS.compare(client, "app", new)["changed"] is False
    ledger = next((tmp_path / "jenkins" / "posted").iterdir())
    assert oct(ledger.stat().st_mode & 0o777) == "0o600" and "hunter2" not in ledger.read_text()


def test_a_job_jenkins_cannot_load_names_the_plugin_it_needs():
    body = (
        "<html><body><h2>HTTP ERROR 500 com.thoughtworks.xstream.mapper."
        "CannotResolveClassException: flow-definition</h2></body></html>"
    )
    transport = T.Transport(
        {
            ("POST", "createItem"): T.answer(
                500, body, {"Content-Type": "text/html;charset=iso-8859-1"}
            )
        }
    )
    with pytest.raises(CommandExecutionError) as err:
        JOBS.create(T.client(transport), "pipe", "<flow-definition/>")
    text = str(err.value)
    assert "CannotResolveClassException: flow-definition" in text
    assert "is the plugin that provides <flow-definition> installed?" in text
