"""jenkins_node, jenkins_job, jenkins_build, jenkins_plugin states against the emulator:
apply, idempotent second apply, honest test mode (the controller's persisted state unchanged)."""

import os
import time

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils.chain_errors import MASK

from tests.support.agents import emulated_agent

JOB_XML = """<?xml version='1.0' encoding='UTF-8'?>
<project>
  <description>{desc}</description>
  <assignedNode>{label}</assignedNode>
  <canRoam>false</canRoam>
  <builders>
    <hudson.tasks.Shell>
      <command>{command}</command>
    </hudson.tasks.Shell>
  </builders>
</project>
"""

JJB = """
- job-template:
    name: '{{name}}-build'
    description: 'templated'
    node: {label}
    parameters:
      - string:
          name: REVISION
          default: none
    builders:
      - shell: 'echo build {{name}} $REVISION'
- project:
    name: {project}
    jobs:
      - '{{name}}-build'
"""


def job_xml(desc="d", label="nowhere", command="true"):
    return JOB_XML.format(desc=desc, label=label, command=command)


# ------------------------------------------------------------------------------ nodes


def test_node_present_create_idempotent_reconfigure(states, modules, uid, unchanged_home):
    name = f"sn-{uid}"
    decl = {
        "num_executors": 2,
        "labels": ["docker", "linux"],
        "web_socket": True,
        "description": "agent",
    }
    with unchanged_home():
        ret = states.jenkins_node.present(name, test=True, **decl)
    assert ret.result is None and ret.changes == {"node": {"old": None, "new": name}}
    assert "would be created" in ret.comment
    assert modules.jenkins.node_exists(name) is False

    ret = states.jenkins_node.present(name, **decl)
    assert ret.result is True, ret.comment
    assert ret.changes == {"node": {"old": None, "new": name}}
    again = states.jenkins_node.present(name, **dict(decl, labels=["linux", "docker"]))
    assert again.result is True and again.changes == {}, again.comment

    changed = dict(decl, labels=["docker", "arm"], num_executors=3)
    with unchanged_home():
        ret = states.jenkins_node.present(name, test=True, **changed)
    assert ret.result is None
    assert ret.changes == {
        "labels": {"added": ["arm"], "removed": ["linux"]},
        "num_executors": {"old": 2, "new": 3},
    }
    assert states.jenkins_node.disabled(name, message="hold").result is True
    ret = states.jenkins_node.present(name, **changed)
    assert ret.result is True and set(ret.changes) == {"labels", "num_executors"}
    assert states.jenkins_node.present(name, **changed).changes == {}
    info = modules.jenkins.node_info(name)
    assert info["numExecutors"] == 3 and info["temporarilyOffline"] is True  # offline mark kept

    with unchanged_home():
        ret = states.jenkins_node.absent(name, test=True)
    assert ret.result is None and ret.changes == {"node": {"old": name, "new": None}}
    assert states.jenkins_node.absent(name).changes == {"node": {"old": name, "new": None}}
    again = states.jenkins_node.absent(name)
    assert again.result is True and again.changes == {}


def test_node_enabled_disabled(states, modules, uid, unchanged_home):
    name = f"se-{uid}"
    modules.jenkins.node_create(name)
    # never connected: offline, but not disabled -> enabled is already satisfied
    assert states.jenkins_node.enabled(name).changes == {}
    with unchanged_home():
        ret = states.jenkins_node.disabled(name, message="maint", test=True)
    assert ret.result is None and ret.changes["temporarily_offline"] == {"old": False, "new": True}
    ret = states.jenkins_node.disabled(name, message="maint")
    assert ret.result is True and ret.changes["temporarily_offline"] == {"old": False, "new": True}
    assert states.jenkins_node.disabled(name, message="maint").changes == {}
    assert states.jenkins_node.disabled(name).changes == {}
    ret = states.jenkins_node.disabled(name, message="other reason")
    assert ret.changes == {"message": {"old": "maint", "new": "other reason"}}
    assert modules.jenkins.node_info(name)["offlineCauseReason"] == "other reason"
    with unchanged_home():
        ret = states.jenkins_node.enabled(name, test=True)
    assert ret.result is None and ret.changes == {
        "temporarily_offline": {"old": True, "new": False}
    }
    assert states.jenkins_node.enabled(name).changes == {
        "temporarily_offline": {"old": True, "new": False}
    }
    assert states.jenkins_node.enabled(name).changes == {}
    missing = states.jenkins_node.enabled(f"none-{uid}")
    assert missing.result is False and "does not exist" in missing.comment
    modules.jenkins.node_delete(name)


def test_node_bad_input_and_bad_profile(states, uid, profile, unchanged_home):
    with unchanged_home():
        ret = states.jenkins_node.present(f"bad-{uid}", num_executors=0)
        assert ret.result is False and "num_executors" in ret.comment
        ret = states.jenkins_node.present(f"bad-{uid}", profile="nope")
        assert ret.result is False and "unknown jenkins profile" in ret.comment
        ret = states.jenkins_node.present(f"bad-{uid}", profile=dict(profile, token="wrong-secret"))
        assert ret.result is False and "rejected the credentials" in ret.comment
        assert "wrong-secret" not in ret.comment


# ------------------------------------------------------------------------------ jobs


def test_job_present_xml_idempotent_diff_and_absent(states, modules, uid, unchanged_home):
    name = f"sj-{uid}"
    with unchanged_home():
        ret = states.jenkins_job.present(name, config=job_xml(), test=True)
    assert ret.result is None and ret.changes["job"] == {"old": None, "new": name}
    assert "+  <description>d</description>" in ret.changes["config"]["diff"]
    assert modules.jenkins.job_exists(name) is False

    ret = states.jenkins_job.present(name, config=job_xml())
    assert ret.result is True, ret.comment
    assert "warning" not in ret.comment
    # Jenkins re-serialised with its defaults: the next run is clean
    assert modules.jenkins.job_config(name) != job_xml()
    again = states.jenkins_job.present(name, config=job_xml())
    assert again.result is True and again.changes == {}, again.comment

    with unchanged_home():
        ret = states.jenkins_job.present(name, config=job_xml(command="make"), test=True)
    assert ret.result is None
    diff = ret.changes["config"]["diff"]
    assert "-      <command>true</command>" in diff and "+      <command>make</command>" in diff
    ret = states.jenkins_job.present(name, config=job_xml(command="make"))
    assert ret.result is True and "config" in ret.changes
    assert states.jenkins_job.present(name, config=job_xml(command="make")).changes == {}

    with unchanged_home():
        ret = states.jenkins_job.absent(name, test=True)
    assert ret.result is None
    assert states.jenkins_job.absent(name).changes == {"job": {"old": name, "new": None}}
    assert states.jenkins_job.absent(name).changes == {}


def test_job_present_from_salt_path_and_enabled(states, modules, uid, file_root, unchanged_home):
    name = f"sp-{uid}"
    with open(os.path.join(file_root, f"{name}.xml"), "w", encoding="utf-8") as fh:
        fh.write(job_xml(desc="from file"))
    ret = states.jenkins_job.present(name, config=f"salt://{name}.xml", enabled=False)
    assert ret.result is True, ret.comment
    assert ret.changes["enabled"] == {"old": True, "new": False}
    assert modules.jenkins.job_enabled(name) is False
    assert (
        states.jenkins_job.present(name, config=f"salt://{name}.xml", enabled=False).changes == {}
    )
    with unchanged_home():
        ret = states.jenkins_job.present(name, enabled=True, test=True)
    assert ret.result is None and ret.changes == {"enabled": {"old": False, "new": True}}
    assert states.jenkins_job.present(name, enabled=True).changes == {
        "enabled": {"old": False, "new": True}
    }
    assert states.jenkins_job.present(name, config=f"salt://{name}.xml", enabled=True).changes == {}
    modules.jenkins.job_delete(name)


def test_job_present_from_jjb_idempotent(states, modules, uid, unchanged_home):
    project = f"app{uid}"
    name = f"{project}-build"
    yaml_text = JJB.format(label="nowhere", project=project)
    with unchanged_home():
        ret = states.jenkins_job.present(name, jjb=yaml_text, test=True)
    assert ret.result is None and "job" in ret.changes
    ret = states.jenkins_job.present(name, jjb=yaml_text)
    assert ret.result is True, ret.comment
    assert modules.jenkins.job_info(name)["description"].startswith("templated")
    assert states.jenkins_job.present(name, jjb=yaml_text).changes == {}
    ret = states.jenkins_job.present(name, jjb=yaml_text.replace("echo build", "echo BUILD"))
    assert ret.result is True and "+      <command>echo BUILD" in ret.changes["config"]["diff"]
    wrong = states.jenkins_job.present(f"other-{uid}", jjb=yaml_text)
    assert wrong.result is False and "not job" in wrong.comment
    modules.jenkins.job_delete(name)


def test_job_malformed_input_fails_before_any_request(states, uid, unchanged_home):
    with unchanged_home():
        ret = states.jenkins_job.present(f"m-{uid}", config="<project><description></project>")
        assert ret.result is False and "not well-formed" in ret.comment and ret.changes == {}
        ret = states.jenkins_job.present(f"m-{uid}", jjb="- job:\n    name: [broken\n")
        assert ret.result is False and "jjb" in ret.comment
        ret = states.jenkins_job.present(f"m-{uid}", config=job_xml(), jjb="- job: {}")
        assert ret.result is False and "exactly one" in ret.comment
        ret = states.jenkins_job.present(f"m-{uid}")
        assert ret.result is False


# ------------------------------------------------------------------------------ builds


@pytest.fixture(scope="module")
def agent(loaders, emulator, tmp_path_factory):
    modules = loaders.modules
    work = tmp_path_factory.mktemp("state-agent")
    with emulated_agent(modules, emulator["url"], "state-agent", ["stateemu"], work) as name:
        yield name


def test_build_succeeded_then_idempotent_then_failure(states, modules, agent, uid, unchanged_home):
    name = f"sb-{uid}"
    params = (
        "<properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>"
        "<hudson.model.StringParameterDefinition><name>REVISION</name><defaultValue>none</defaultValue>"
        "</hudson.model.StringParameterDefinition></parameterDefinitions>"
        "</hudson.model.ParametersDefinitionProperty></properties>"
    )
    xml = job_xml(label="stateemu", command='echo "rev $REVISION"').replace(
        "<canRoam>", params + "<canRoam>"
    )
    modules.jenkins.job_create(name, config_xml=xml)
    with unchanged_home():
        ret = states.jenkins_build.succeeded(name, parameters={"REVISION": "r1"}, test=True)
    assert ret.result is None and "would be triggered" in ret.comment
    assert modules.jenkins.job_status(name)["last_build"] is None

    ret = states.jenkins_build.succeeded(
        name, parameters={"REVISION": "r1"}, timeout=60, poll_interval=0.2
    )
    assert ret.result is True, ret.comment
    assert ret.changes["build"]["new"]["result"] == "SUCCESS"
    again = states.jenkins_build.succeeded(
        name, parameters={"REVISION": "r1"}, timeout=60, poll_interval=0.2
    )
    assert again.result is True and again.changes == {}, again.comment
    assert "already SUCCESS" in again.comment
    forced = states.jenkins_build.succeeded(
        name, parameters={"REVISION": "r1"}, force=True, timeout=60, poll_interval=0.2
    )
    assert forced.result is True and forced.changes["build"]["new"]["number"] == 2

    failing = f"sf-{uid}"
    modules.jenkins.job_create(
        failing, config_xml=job_xml(label="stateemu", command="echo broken step; exit 1")
    )
    ret = states.jenkins_build.succeeded(failing, timeout=60, poll_interval=0.2)
    assert ret.result is False and "FAILURE" in ret.comment and "broken step" in ret.comment
    slow = f"ss-{uid}"
    modules.jenkins.job_create(slow, config_xml=job_xml(label="stateemu", command="sleep 5"))
    ret = states.jenkins_build.succeeded(slow, timeout=1, poll_interval=0.2)
    assert ret.result is False and "did not finish within 1s" in ret.comment
    missing = states.jenkins_build.succeeded(f"none-{uid}")
    assert missing.result is False and "does not exist" in missing.comment


def test_build_accept_unstable_option_is_checked(states, modules, uid):
    name = f"su-{uid}"
    modules.jenkins.job_create(name, config_xml=job_xml(label=f"none-{uid}"))
    ret = states.jenkins_build.succeeded(name, timeout=1, poll_interval=0.2, accept_unstable=True)
    assert ret.result is False and "did not leave the queue" in ret.comment


# ------------------------------------------------------------------------------ plugins


def test_plugin_installed(states, unchanged_home):
    with unchanged_home():
        ok = states.jenkins_plugin.installed("git", version="5.2.0")
        assert ok.result is True and ok.changes == {}, ok.comment
        assert states.jenkins_plugin.installed("git", version="5.10.0").result is False
        many = states.jenkins_plugin.installed(
            "all", plugins=[{"git": "5.7.0"}, "workflow-job", "missing-plugin"]
        )
        assert many.result is False and "missing-plugin is not installed" in many.comment
        assert "git" not in many.comment.split(":", 1)[1]
        test_mode = states.jenkins_plugin.installed("git", test=True)
        assert test_mode.result is True and test_mode.changes == {}
        bad = states.jenkins_plugin.installed("git", version=2.1)
        assert bad.result is False and "quote the version" in bad.comment


def test_job_present_jjb_from_salt_path_and_ignore(states, modules, uid, file_root):
    project = f"fs{uid}"
    name = f"{project}-build"
    with open(os.path.join(file_root, f"{project}.yaml"), "w", encoding="utf-8") as fh:
        fh.write(JJB.format(label="nowhere", project=project))
    ret = states.jenkins_job.present(name, jjb=f"salt://{project}.yaml")
    assert ret.result is True, ret.comment
    assert states.jenkins_job.present(name, jjb=f"salt://{project}.yaml").changes == {}
    # another owner (say a Jenkinsfile's properties step) adds a job property
    xml = modules.jenkins.job_config(name).replace(
        "<properties>",
        "<properties><org.example.TriggersProperty><spec>H * * * *</spec>"
        "</org.example.TriggersProperty>",
        1,
    )
    modules.jenkins.job_update(name, config_xml=xml)
    assert "TriggersProperty" in modules.jenkins.job_config(name)
    flagged = states.jenkins_job.present(name, jjb=f"salt://{project}.yaml", test=True)
    assert (
        flagged.result is None
        and "-    <org.example.TriggersProperty>" in flagged.changes["config"]["diff"]
    )
    ignored = states.jenkins_job.present(
        name, jjb=f"salt://{project}.yaml", ignore=["properties/org.example.TriggersProperty"]
    )
    assert ignored.result is True and ignored.changes == {}, ignored.comment
    modules.jenkins.job_delete(name)


def test_job_in_a_folder(states, modules, uid):
    folder = f"team{uid}"
    modules.jenkins.job_create(
        folder, config_xml='<com.cloudbees.hudson.plugins.folder.Folder plugin="cloudbees-folder"/>'
    )
    name = f"{folder}/app"
    ret = states.jenkins_job.present(name, config=job_xml(desc="in folder"))
    assert ret.result is True, ret.comment
    assert modules.jenkins.job_info(name)["fullName"] == name
    assert any(j["fullname"] == name for j in modules.jenkins.jobs())
    assert states.jenkins_job.present(name, config=job_xml(desc="in folder")).changes == {}
    assert states.jenkins_job.absent(name).changes == {"job": {"old": name, "new": None}}
    modules.jenkins.job_delete(folder)


def test_job_enabled_contradicting_the_xml_is_refused(states, uid, unchanged_home):
    xml = job_xml().replace("<canRoam>", "<disabled>true</disabled><canRoam>")
    with unchanged_home():
        ret = states.jenkins_job.present(f"c-{uid}", config=xml, enabled=True)
    assert ret.result is False and "contradicts" in ret.comment


SECRET_JOB = """<project>
  <properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>
    <hudson.model.PasswordParameterDefinition><name>DEPLOY_PW</name><defaultValue>{pw}</defaultValue>
    </hudson.model.PasswordParameterDefinition>
  </parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties>
  <assignedNode>nowhere</assignedNode>
  <builders><hudson.tasks.Shell><command>true</command></hudson.tasks.Shell></builders>
</project>"""


def test_job_secrets_stay_out_of_changes(states, uid, unchanged_home):
    name = f"sec-{uid}"
    with unchanged_home():
        ret = states.jenkins_job.present(name, config=SECRET_JOB.format(pw="hunter2"), test=True)
    assert ret.result is None and "hunter2" not in str(ret.changes)
    assert f"<defaultValue>{MASK}" in str(ret.changes)
    ret = states.jenkins_job.present(name, config=SECRET_JOB.format(pw="hunter2"))
    assert ret.result is True and "hunter2" not in str(ret.changes) + ret.comment, ret.comment
    assert states.jenkins_job.present(name, config=SECRET_JOB.format(pw="hunter2")).changes == {}
    # a changed secret is still a change; neither value is shown
    ret = states.jenkins_job.present(name, config=SECRET_JOB.format(pw="s3cond"))
    assert ret.result is True and "config" in ret.changes, ret.comment
    shown = str(ret.changes) + ret.comment
    assert "hunter2" not in shown and "s3cond" not in shown and f"{MASK} (changed)" in shown
    assert states.jenkins_job.present(name, config=SECRET_JOB.format(pw="s3cond")).changes == {}
    states.jenkins_job.absent(name)


def test_build_second_apply_waits_for_the_running_build(states, modules, agent, uid):
    name = f"sw-{uid}"
    modules.jenkins.job_create(
        # long enough that the build still runs at the test-mode apply under CI load (ci58:
        # 4 s were over before it, which then rightly answered "already SUCCESS")
        name,
        config_xml=job_xml(label="stateemu", command="sleep 12; echo slow done"),
    )
    for _ in range(100):  # an earlier test's slow build may still hold the agent's executor
        if modules.jenkins.node_info(agent).get("idle"):
            break
        time.sleep(0.1)
    first = states.jenkins_build.succeeded(name, timeout=1.5, poll_interval=0.1)
    assert first.result is False and "did not finish" in first.comment
    running = modules.jenkins.last_build_with(name)
    assert running["number"] == 1 and running["building"] is True and running["result"] is None
    with_test = states.jenkins_build.succeeded(name, test=True)
    assert with_test.result is None and with_test.changes == {} and "#1" in with_test.comment
    second = states.jenkins_build.succeeded(name, timeout=60, poll_interval=0.2)
    assert second.result is True, second.comment
    assert second.changes == {} and "#1" in second.comment and "SUCCESS" in second.comment
    assert modules.jenkins.job_info(name)["nextBuildNumber"] == 2  # no duplicate build
    assert states.jenkins_build.succeeded(name).changes == {}


def test_build_parameters_the_job_does_not_define_are_refused(states, modules, uid, unchanged_home):
    name = f"sp-{uid}"
    modules.jenkins.job_create(
        name,
        config_xml=JOB_XML.format(desc="d", label="nowhere", command="true").replace(
            "<canRoam>",
            "<properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>"
            "<hudson.model.StringParameterDefinition><name>REVISION</name><defaultValue>x</defaultValue>"
            "</hudson.model.StringParameterDefinition></parameterDefinitions>"
            "</hudson.model.ParametersDefinitionProperty></properties><canRoam>",
        ),
    )
    plain = f"spp-{uid}"
    modules.jenkins.job_create(plain, config_xml=job_xml())
    with unchanged_home():
        ret = states.jenkins_build.succeeded(
            name, parameters={"REVISON": "abc", "REVISION": "abc"}, test=True
        )
        assert ret.result is False and "REVISON" in ret.comment and ret.changes == {}
        ret = states.jenkins_build.succeeded(name, parameters={"REVISON": "abc"}, timeout=5)
        assert ret.result is False and "REVISON" in ret.comment and ret.changes == {}
        ret = states.jenkins_build.succeeded(
            name, parameters={"REVISON": "abc"}, force=True, timeout=5
        )
        assert ret.result is False and "REVISON" in ret.comment and ret.changes == {}
        with pytest.raises(SaltInvocationError, match="REVISON"):
            modules.jenkins.build(name, parameters={"REVISON": "abc"}, timeout=5)
        with pytest.raises(SaltInvocationError, match="EXTRA"):
            modules.jenkins.build(plain, parameters={"EXTRA": "1"}, timeout=5)
