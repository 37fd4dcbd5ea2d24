"""Jenkins Job Builder rendering, in-process and offline."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import jenkins as jm

YAML = """
- job:
    name: hello
    description: say hello
    builders:
      - shell: echo hello
- job-template:
    name: '{name}-build'
    builders:
      - shell: 'make {target}'
- project:
    name: app
    target: all
    jobs:
      - '{name}-build'
"""


def test_render_expands_templates():
    out = jm._jjb_render_text(YAML)
    assert sorted(out) == ["app-build", "hello"]
    root = jm._xml_parse(out["app-build"])
    assert root.tag == "project"
    assert root.findtext("builders/hudson.tasks.Shell/command") == "make all"


def test_rendered_xml_is_contained_in_itself():
    xml = jm._jjb_render_text(YAML)["hello"]
    assert jm._xml_compare(xml, xml)["contained"]


@pytest.mark.parametrize(
    "bad",
    [
        "- job:\n    name: [unclosed\n",
        "- job: {name: x\n",
        "job:\n  name: x\n",
        "- nonsense:\n    name: x\n",
        "",
    ],
)
def test_malformed_yaml_is_an_invocation_error(bad):
    with pytest.raises(SaltInvocationError):
        jm._jjb_render_text(bad)


def test_desired_job_xml_picks_the_named_job():
    assert jm._xml_parse(jm._desired_job_xml("hello", jjb=YAML)).findtext("description").startswith("say hello")
    with pytest.raises(SaltInvocationError, match="not job 'other'"):
        jm._desired_job_xml("other", jjb=YAML)
    with pytest.raises(SaltInvocationError, match="exactly one"):
        jm._desired_job_xml("hello", config="<project/>", jjb=YAML)
    with pytest.raises(SaltInvocationError, match="not well-formed"):
        jm._desired_job_xml("hello", config="<project>")


def test_render_survives_salt_rebinding_yaml_loader(monkeypatch):
    """Salt rebinds yaml.Loader to CLoader; JJB imported under it used to fail ('anchors')."""
    import sys

    import yaml

    for mod in [m for m in sys.modules if m == "jenkins_jobs" or m.startswith("jenkins_jobs.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(yaml, "Loader", yaml.CLoader)
    import jenkins_jobs.loader  # noqa: F401  (imported under the C loader, as inside Salt)

    assert sorted(jm._jjb_render_text(YAML)) == ["app-build", "hello"]
    assert yaml.Loader is yaml.CLoader
