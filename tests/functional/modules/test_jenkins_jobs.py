"""jenkins execution module: jobs from XML and JJB YAML, legacy function names."""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

XML = """<?xml version='1.0' encoding='UTF-8'?>
<project>
  <description>{desc}</description>
  <builders>
    <hudson.tasks.Shell>
      <command>echo hi</command>
    </hudson.tasks.Shell>
  </builders>
</project>
"""

JJB = """
- job:
    name: {name}
    description: from jjb
    builders:
      - shell: echo jjb
"""


def test_create_compare_update_delete(modules, uid):
    name = f"j-{uid}"
    assert modules.jenkins.job_exists(name) is False
    assert modules.jenkins.job_info(name) is None
    assert modules.jenkins.job_config(name) is None
    cmp = modules.jenkins.job_compare(name, config=XML.format(desc="one"))
    assert (
        cmp["exists"] is False
        and cmp["changed"] is True
        and "+  <description>one</description>" in cmp["diff"]
    )
    assert modules.jenkins.job_create(name, config_xml=XML.format(desc="one")) is True
    assert modules.jenkins.job_exists(name) is True
    served = modules.jenkins.job_config(name)
    # Jenkins re-serialises (declaration, defaults); the declared config is still contained
    assert served != XML.format(desc="one")
    assert modules.jenkins.job_compare(name, config=XML.format(desc="one"))["changed"] is False
    cmp = modules.jenkins.job_compare(name, config=XML.format(desc="two"))
    assert cmp["changed"] and "-  <description>one</description>" in cmp["diff"]
    assert modules.jenkins.job_update(name, config_xml=XML.format(desc="two")) is True
    assert modules.jenkins.job_info(name)["description"] == "two"
    assert any(j["name"] == name for j in modules.jenkins.jobs())
    with pytest.raises(CommandExecutionError, match="already exists"):
        modules.jenkins.job_create(name, config_xml=XML.format(desc="x"))
    assert modules.jenkins.job_delete(name) is True
    assert modules.jenkins.job_delete(name) is False


def test_enable_disable(modules, uid):
    name = f"d-{uid}"
    modules.jenkins.job_create(name, config_xml=XML.format(desc="x"))
    assert modules.jenkins.job_enabled(name) is True
    modules.jenkins.job_disable(name)
    assert modules.jenkins.job_enabled(name) is False
    assert modules.jenkins.job_info(name)["buildable"] is False
    modules.jenkins.job_enable(name)
    assert modules.jenkins.job_enabled(name) is True
    assert modules.jenkins.job_enabled(f"none-{uid}") is None
    modules.jenkins.job_delete(name)


def test_jjb_create_and_render(modules, uid):
    name = f"y-{uid}"
    rendered = modules.jenkins.job_render(JJB.format(name=name))
    assert list(rendered) == [name]
    modules.jenkins.job_create(name, jjb=JJB.format(name=name))
    assert modules.jenkins.job_info(name)["description"].startswith("from jjb")
    assert modules.jenkins.job_compare(name, jjb=JJB.format(name=name))["changed"] is False
    modules.jenkins.job_delete(name)


def test_malformed_input_fails_before_any_request(modules, uid, unchanged_home):
    name = f"m-{uid}"
    with unchanged_home():
        with pytest.raises(SaltInvocationError, match="not well-formed"):
            modules.jenkins.job_create(name, config_xml="<project><description></project>")
        with pytest.raises(SaltInvocationError, match="jjb"):
            modules.jenkins.job_create(name, jjb="- job:\n    name: [oops\n")
        with pytest.raises(SaltInvocationError, match="not well-formed"):
            modules.jenkins.job_update(name, config_xml="<project")
        with pytest.raises(SaltInvocationError):
            modules.jenkins.create_job(name)
    assert modules.jenkins.job_exists(name) is False


def test_legacy_functions(modules, uid, file_root):
    name = f"l-{uid}"
    with open(os.path.join(file_root, f"{name}.xml"), "w", encoding="utf-8") as fh:
        fh.write(XML.format(desc="legacy"))
    with pytest.raises(SaltInvocationError, match="cannot fetch"):
        modules.jenkins.create_job(name, config_xml="salt://nope.xml")
    text = modules.jenkins.create_job(name, config_xml=f"salt://{name}.xml")
    assert "legacy" in text
    with pytest.raises(CommandExecutionError, match="already exists"):
        modules.jenkins.create_job(name, config_xml=f"salt://{name}.xml")
    assert modules.jenkins.job_exists(name) is True
    assert modules.jenkins.get_job_info(name)["description"] == "legacy"
    assert "<description>legacy</description>" in modules.jenkins.get_job_config(name)
    assert any(j["name"] == name for j in modules.jenkins.get_jobs())
    status = modules.jenkins.job_status(name)
    assert status == {"buildable": True, "color": "notbuilt", "in_queue": False, "last_build": None}
    assert modules.jenkins.disable_job(name) is True
    assert modules.jenkins.job_status(name)["buildable"] is False
    assert modules.jenkins.enable_job(name) is True
    assert "updated" in modules.jenkins.update_job(name, config_xml=XML.format(desc="updated"))
    assert modules.jenkins.get_job_info(name)["description"] == "updated"
    assert modules.jenkins.delete_job(name) is True
    for func in ("get_job_info", "get_job_config", "delete_job", "job_status"):
        with pytest.raises(CommandExecutionError, match="does not exist"):
            getattr(modules.jenkins, func)(name)
    with pytest.raises(SaltInvocationError):
        modules.jenkins.job_exists()
