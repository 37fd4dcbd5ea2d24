"""Pure XML logic of the jenkins module: canonical form, containment, diff."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import jenkins as jm

DESIRED = """<?xml version='1.0' encoding='UTF-8'?>
<project>
  <description>hello</description>
  <scm class="hudson.scm.NullSCM"/>
  <builders>
    <hudson.tasks.Shell>
      <command>echo one</command>
    </hudson.tasks.Shell>
    <hudson.tasks.Shell>
      <command>echo two</command>
    </hudson.tasks.Shell>
  </builders>
  <publishers/>
</project>
"""

# What Jenkins serves back: version 1.1 header, plugin attributes, fields in its own order,
# defaults filled in (keepDependencies, configuredLocalRules, disabled ...).
JENKINS = """<?xml version="1.1" encoding="UTF-8"?>
<project>
  <actions/>
  <description>hello</description>
  <keepDependencies>false</keepDependencies>
  <properties/>
  <scm class="hudson.scm.NullSCM"/>
  <canRoam>true</canRoam>
  <disabled>false</disabled>
  <builders>
    <hudson.tasks.Shell plugin="shell@1.0">
      <command>echo one</command>
      <configuredLocalRules/>
    </hudson.tasks.Shell>
    <hudson.tasks.Shell plugin="shell@1.0">
      <command>echo two</command>
      <configuredLocalRules/>
    </hudson.tasks.Shell>
  </builders>
  <publishers/>
  <buildWrappers/>
</project>
"""


def test_parse_accepts_xml_1_1_and_rejects_malformed():
    assert jm._xml_parse(JENKINS).tag == "project"
    with pytest.raises(SaltInvocationError, match="not well-formed"):
        jm._xml_parse("<project><description></project>")
    with pytest.raises(SaltInvocationError, match="empty"):
        jm._xml_parse("   ")


def test_canonical_drops_declaration_whitespace_and_plugin_attributes():
    one = jm._xml_canonical('<a plugin="x@1"><b>  </b>\n  <c k="v">t</c></a>')
    two = jm._xml_canonical('<?xml version="1.1"?>\n<a plugin="x@2"><b/><c k="v">t</c></a>')
    assert jm._xml_string(one) == jm._xml_string(two) == '<a><b /><c k="v">t</c></a>'


def test_canonical_keeps_text_and_order():
    assert jm._xml_string(jm._xml_canonical("<a><y>1</y><x> 2 </x></a>")) == "<a><y>1</y><x> 2 </x></a>"


def test_jenkins_defaults_do_not_count():
    cmp = jm._xml_compare(DESIRED, JENKINS)
    assert cmp == {"contained": True, "diff": ""}


def test_changed_text_is_a_difference_with_a_diff():
    cmp = jm._xml_compare(DESIRED.replace("echo two", "echo three"), JENKINS)
    assert not cmp["contained"]
    assert "-      <command>echo two</command>" in cmp["diff"]
    assert "+      <command>echo three</command>" in cmp["diff"]
    # only the declared projection of Jenkins' copy is shown
    assert "keepDependencies" not in cmp["diff"]


def test_removed_list_entry_is_a_difference():
    desired = DESIRED.replace("<hudson.tasks.Shell>\n      <command>echo two</command>\n    </hudson.tasks.Shell>", "")
    cmp = jm._xml_compare(desired, JENKINS)
    assert not cmp["contained"]
    assert "-      <command>echo two</command>" in cmp["diff"]


def test_removed_class_named_entry_is_a_difference():
    current = JENKINS.replace("<publishers/>", "<publishers><hudson.tasks.Mailer/></publishers>")
    assert not jm._xml_compare(DESIRED, current)["contained"]


def test_list_order_matters_field_order_does_not():
    swapped = DESIRED.replace("echo one", "TMP").replace("echo two", "echo one").replace("TMP", "echo two")
    assert not jm._xml_compare(swapped, JENKINS)["contained"]
    fields = "<project><publishers/><description>hello</description></project>"
    assert jm._xml_compare(fields, JENKINS)["contained"]


def test_declared_attribute_must_match_extra_ones_are_ignored():
    assert not jm._xml_compare('<project><scm class="hudson.plugins.git.GitSCM"/></project>', JENKINS)["contained"]
    assert jm._xml_compare("<project><scm/></project>", JENKINS)["contained"]


def test_encrypted_secrets_are_never_compared_nor_shown():
    desired = "<cfg><password>hunter2</password><user>bob</user></cfg>"
    current = "<cfg><password>{AQAAABAAAAAQ1234abcd+/=}</password><user>bob</user></cfg>"
    assert jm._xml_compare(desired, current)["contained"]
    diff = jm._xml_compare(desired.replace("bob", "eve"), current)["diff"]
    assert "hunter2" not in diff and "AQAAAB" not in diff
    assert jm.SECRET_MASK in diff


def test_absent_current_diff_adds_everything():
    cmp = jm._xml_compare(DESIRED, None)
    assert not cmp["contained"]
    assert "+  <description>hello</description>" in cmp["diff"]


def test_root_tag_mismatch():
    assert not jm._xml_compare("<flow-definition/>", JENKINS)["contained"]


def test_pretty_print_is_canonical_and_indented():
    out = jm._xml_pretty('<?xml version="1.0"?><a plugin="p@1"><b>x</b><c/></a>')
    assert out == "<a>\n  <b>x</b>\n  <c />\n</a>\n"


def test_xml_diff_of_two_documents():
    diff = jm._xml_diff("<a><b>1</b></a>", "<a><b>2</b></a>")
    assert "-  <b>1</b>" in diff and "+  <b>2</b>" in diff
    assert jm._xml_diff("<a/>", '<a plugin="z@1"/>') == ""


def test_jenkins_owned_actions_never_count():
    current = JENKINS.replace(
        "<actions/>",
        '<actions><org.jenkinsci.plugins.pipeline.modeldefinition.actions.DeclarativeJobAction plugin="p@1"/>'
        "</actions>",
    )
    assert jm._xml_compare(DESIRED.replace("<project>", "<project><actions/>"), current)["contained"]


def test_ignored_paths_are_left_out_on_both_sides():
    current = JENKINS.replace("<properties/>", "<properties><x.y.TriggersProperty/></properties>")
    desired = DESIRED.replace("<publishers/>", "<properties/><publishers/>")
    assert not jm._xml_compare(desired, current)["contained"]
    assert jm._xml_compare(desired, current, ignore=["properties/x.y.TriggersProperty"])["contained"]
    assert jm._xml_compare(desired, current, ignore=["project/properties/x.y.TriggersProperty"])["contained"]
