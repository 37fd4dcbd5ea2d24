"""chain_jenkins_xml: canonical form, containment, diff, masks, XML 1.1 control characters."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_jenkins_xml as X
from saltext.chain.utils.chain_errors import MASK

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
    assert X.parse(JENKINS).tag == "project"
    with pytest.raises(SaltInvocationError, match="not well-formed"):
        X.parse("<project><description></project>")
    with pytest.raises(SaltInvocationError, match="empty"):
        X.parse("   ")


def test_canonical_drops_declaration_whitespace_and_plugin_attributes():
    one = X.canonical('<a plugin="x@1"><b>  </b>\n  <c k="v">t</c></a>')
    two = X.canonical('<?xml version="1.1"?>\n<a plugin="x@2"><b/><c k="v">t</c></a>')
    assert X.to_string(one) == X.to_string(two) == '<a><b /><c k="v">t</c></a>'


def test_canonical_keeps_text_and_order():
    assert X.to_string(X.canonical("<a><y>1</y><x> 2 </x></a>")) == "<a><y>1</y><x> 2 </x></a>"


def test_jenkins_defaults_do_not_count():
    cmp = X.compare(DESIRED, JENKINS)
    assert cmp == {"contained": True, "diff": ""}


def test_changed_text_is_a_difference_with_a_diff():
    cmp = X.compare(DESIRED.replace("echo two", "echo three"), JENKINS)
    assert not cmp["contained"]
    assert "-      <command>echo two</command>" in cmp["diff"]
    assert "+      <command>echo three</command>" in cmp["diff"]
    # only the declared projection of Jenkins' copy is shown
    assert "keepDependencies" not in cmp["diff"]


def test_removed_list_entry_is_a_difference():
    desired = DESIRED.replace(
        "<hudson.tasks.Shell>\n      <command>echo two</command>\n    </hudson.tasks.Shell>", ""
    )
    cmp = X.compare(desired, JENKINS)
    assert not cmp["contained"]
    assert "-      <command>echo two</command>" in cmp["diff"]


def test_removed_class_named_entry_is_a_difference():
    current = JENKINS.replace("<publishers/>", "<publishers><hudson.tasks.Mailer/></publishers>")
    assert not X.compare(DESIRED, current)["contained"]


def test_list_order_matters_field_order_does_not():
    swapped = (
        DESIRED.replace("echo one", "TMP")
        .replace("echo two", "echo one")
        .replace("TMP", "echo two")
    )
    assert not X.compare(swapped, JENKINS)["contained"]
    fields = "<project><publishers/><description>hello</description></project>"
    assert X.compare(fields, JENKINS)["contained"]


def test_declared_attribute_must_match_extra_ones_are_ignored():
    assert not X.compare('<project><scm class="hudson.plugins.git.GitSCM"/></project>', JENKINS)[
        "contained"
    ]
    assert X.compare("<project><scm/></project>", JENKINS)["contained"]


def test_encrypted_secrets_are_never_compared_nor_shown():
    desired = "<cfg><password>hunter2</password><user>bob</user></cfg>"
    current = "<cfg><password>{AQAAABAAAAAQ1234abcd+/=}</password><user>bob</user></cfg>"
    assert X.compare(desired, current)["contained"]
    diff = X.compare(desired.replace("bob", "eve"), current)["diff"]
    assert "hunter2" not in diff and "AQAAAB" not in diff
    # the one output mask, not the comparison token
    assert f"<password>{MASK}</password>" in diff and X.ENCRYPTED not in diff


def test_absent_current_diff_adds_everything():
    cmp = X.compare(DESIRED, None)
    assert not cmp["contained"]
    assert "+  <description>hello</description>" in cmp["diff"]


def test_root_tag_mismatch():
    assert not X.compare("<flow-definition/>", JENKINS)["contained"]


def test_pretty_print_is_canonical_and_indented():
    out = X.pretty('<?xml version="1.0"?><a plugin="p@1"><b>x</b><c/></a>')
    assert out == "<a>\n  <b>x</b>\n  <c />\n</a>\n"


def test_xml_diff_of_two_documents():
    diff = X.diff("<a><b>1</b></a>", "<a><b>2</b></a>")
    assert "-  <b>1</b>" in diff and "+  <b>2</b>" in diff
    assert X.diff("<a/>", '<a plugin="z@1"/>') == ""


def test_jenkins_owned_actions_never_count():
    current = JENKINS.replace(
        "<actions/>",
        "<actions><org.jenkinsci.plugins.pipeline.modeldefinition.actions."
        'DeclarativeJobAction plugin="p@1"/></actions>',
    )
    assert X.compare(DESIRED.replace("<project>", "<project><actions/>"), current)["contained"]


def test_ignored_paths_are_left_out_on_both_sides():
    current = JENKINS.replace("<properties/>", "<properties><x.y.TriggersProperty/></properties>")
    desired = DESIRED.replace("<publishers/>", "<properties/><publishers/>")
    assert not X.compare(desired, current)["contained"]
    assert X.compare(desired, current, ignore=["properties/x.y.TriggersProperty"])["contained"]
    assert X.compare(desired, current, ignore=["project/properties/x.y.TriggersProperty"])[
        "contained"
    ]


# XML 1.1 allows character references to C0 controls (an ANSI colour code in a shell step);
# expat (XML 1.0) refuses them.
ANSI_DESIRED = (
    '<project><builders><hudson.tasks.Shell><command>printf "&#27;[32mok&#27;[0m"</command>'
    "</hudson.tasks.Shell></builders></project>"
)
ANSI_JENKINS = (
    '<?xml version="1.1" encoding="UTF-8"?>\n<project><keepDependencies>false</keepDependencies>'
    '<builders><hudson.tasks.Shell plugin="shell@1.0"><command>printf "&#x1b;[32mok&#x1b;[0m"'
    "</command></hudson.tasks.Shell></builders></project>"
)


def test_xml_1_1_control_character_references_parse_and_compare():
    root = X.parse(ANSI_JENKINS)
    assert root.find(".//command") is not None
    assert X.compare(ANSI_DESIRED, ANSI_JENKINS) == {"contained": True, "diff": ""}
    cmp = X.compare(ANSI_DESIRED.replace("[32m", "[31m"), ANSI_JENKINS)
    assert not cmp["contained"]
    # the diff shows the references, not the private placeholder
    assert "&#x1b;[31mok" in cmp["diff"] and "&#x1b;[32mok" in cmp["diff"]
    assert not any(0x10FF00 <= ord(ch) <= 0x10FF1F for ch in cmp["diff"])


def test_xml_1_1_references_round_trip_when_reserialised():
    root = X.parse("<slave><description>a&#27;b&#x7;</description><name>n</name></slave>")
    out = X.to_bytes(root).decode("utf-8")
    assert "<description>a&#x1b;b&#x7;</description>" in out
    # tab, LF, CR and ordinary references are XML 1.0 already: untouched
    assert X.parse("<a>x&#9;y&#10;&#65;</a>").text == "x\ty\nA"
    # inside CDATA and comments a reference is literal text
    assert X.parse("<a><![CDATA[&#27;]]><!-- &#27; --></a>").text == "&#27;"


SECRETS = """<project>
  <properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>
    <hudson.model.PasswordParameterDefinition>
      <name>DEPLOY_PW</name><defaultValue>{pw}</defaultValue>
    </hudson.model.PasswordParameterDefinition>
    <hudson.model.StringParameterDefinition>
      <name>REVISION</name><defaultValue>main</defaultValue>
    </hudson.model.StringParameterDefinition>
  </parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties>
  <scm class="hudson.plugins.git.GitSCM"><userRemoteConfigs><hudson.plugins.git.UserRemoteConfig>
    <credentialsId>git-creds</credentialsId>
  </hudson.plugins.git.UserRemoteConfig></userRemoteConfigs></scm>
  <publishers><x.Notifier><apiKey>{key}</apiKey><authToken>{key}</authToken><PASSWD>{key}</PASSWD>
    <webhookSecret>{key}</webhookSecret><room>{room}</room></x.Notifier></publishers>
</project>"""


def test_plaintext_secrets_never_appear_in_diffs():
    desired = SECRETS.format(pw="hunter2", key="k3y-new", room="ops")
    current = SECRETS.format(pw="hunter2", key="k3y-old", room="dev")
    cmp = X.compare(desired, current)
    assert not cmp["contained"]
    for secret in ("hunter2", "k3y-new", "k3y-old"):
        assert secret not in cmp["diff"]
    assert "+      <room>ops</room>" in cmp["diff"]
    assert "<credentialsId>git-creds</credentialsId>" in X.compare(desired, None)["diff"]
    assert "<name>REVISION</name>" in X.compare(desired, None)["diff"]
    created = X.compare(desired, None)["diff"]
    assert (
        "hunter2" not in created
        and "k3y-new" not in created
        and f"<apiKey>{MASK}</apiKey>" in created
    )
    assert "<defaultValue>main</defaultValue>" in created


def test_a_changed_secret_is_still_a_change_and_the_diff_says_so():
    desired = SECRETS.format(pw="hunter3", key="k", room="r")
    cmp = X.compare(desired, SECRETS.format(pw="hunter2", key="k", room="r"))
    assert not cmp["contained"]
    assert "hunter2" not in cmp["diff"] and "hunter3" not in cmp["diff"]
    assert f"-          <defaultValue>{MASK}</defaultValue>" in cmp["diff"]
    assert f"+          <defaultValue>{MASK} (changed)</defaultValue>" in cmp["diff"]
    same = X.compare(desired, SECRETS.format(pw="hunter3", key="k", room="r"))
    assert same == {"contained": True, "diff": ""}


def test_jenkins_redaction_for_readers_without_configure_is_not_a_difference():
    """jenkins.security.ExtendedReadSecretRedaction replaces secrets by ******** for a reader
    with Item/ExtendedRead only: such a value cannot be compared, like an encrypted one."""
    desired = "<cfg><password>hunter2</password><user>bob</user></cfg>"
    assert X.compare(desired, "<cfg><password>********</password><user>bob</user></cfg>")[
        "contained"
    ]
    cmp = X.compare(desired.replace("bob", "eve"), "<cfg><password>********</password></cfg>")
    assert "********" not in cmp["diff"] and "hunter2" not in cmp["diff"]


# --------------------------------------------------------------- job descriptions (marker)


def test_description_mark_appended_after_the_text_and_read_back():
    doc = (
        "<?xml version='1.1' encoding='UTF-8'?>\n"
        "<project><description>build it</description><builders/></project>"
    )
    marked = X.with_description_mark(doc, "[managed by salt jenkins_jobs.applied: ci]")
    assert marked.startswith("<?xml version='1.1' encoding='UTF-8'?>\n<project>")
    assert X.description(marked) == "build it\n\n[managed by salt jenkins_jobs.applied: ci]"
    assert "<builders />" in marked


def test_description_mark_creates_a_missing_description_first():
    marked = X.with_description_mark("<project><builders/></project>", "[m]")
    assert marked.startswith("<project><description>[m]</description>")
    assert X.description(marked) == "[m]"


def test_description_mark_keeps_control_character_references():
    doc = "<project><builders><a>&#27;[31mred</a></builders></project>"
    marked = X.with_description_mark(doc, "[m]")
    assert "&#x1b;[31mred" in marked and X.parse(marked).find("builders/a") is not None


def test_description_mark_refuses_a_malformed_document():
    with pytest.raises(X.BadInput, match="job XML is not well-formed"):
        X.with_description_mark("<project>", "[m]")


@pytest.mark.parametrize(
    "doc", ["not xml <", "", "<project/>", "<project><description/></project>"]
)
def test_description_of_anything_unreadable_or_empty_is_empty(doc):
    assert X.description(doc) == ""


def test_shell_job_xml_escapes_what_it_is_given_and_matches_the_hand_written_form():
    """The canary's job: a label expression and a command with XML's special characters come
    back as given; the job compares equal to the form written by hand before (an existing
    canary job is not updated)."""
    label, command = "pool-l && !x", "test \"$(id -u)\" -gt 0 && echo '<ok>' & wait"
    xml = X.shell_job_xml("canary", label, command)
    assert xml.startswith("<?xml version='1.1' encoding='UTF-8'?>\n<project>")
    root = X.parse(xml)
    assert root.findtext("assignedNode") == label
    assert root.findtext("builders/hudson.tasks.Shell/command") == command
    by_hand = (
        "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>canary</description>"
        "<assignedNode>pool-l &amp;&amp; !x</assignedNode><canRoam>false</canRoam>"
        "<disabled>false</disabled><concurrentBuild>false</concurrentBuild><builders>"
        "<hudson.tasks.Shell><command>test \"$(id -u)\" -gt 0 &amp;&amp; echo '&lt;ok&gt;'"
        " &amp; wait</command></hudson.tasks.Shell></builders><publishers/><buildWrappers/>"
        "</project>"
    )
    assert X.compare(xml, by_hand)["contained"] is True
    assert X.pretty(X.parse(xml)) == X.pretty(X.parse(by_hand))
