"""Jenkins Job Builder rendering, in-process and offline."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_jenkins_jjb as J
from saltext.chain.utils import chain_jenkins_xml as X

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
    out = J.render(YAML)
    assert sorted(out) == ["app-build", "hello"]
    root = X.parse(out["app-build"])
    assert root.tag == "project"
    assert root.findtext("builders/hudson.tasks.Shell/command") == "make all"


def test_rendered_xml_is_contained_in_itself():
    xml = J.render(YAML)["hello"]
    assert X.compare(xml, xml)["contained"]


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
        J.render(bad)


def test_desired_job_xml_picks_the_named_job():
    assert (
        X.parse(J.desired_job_xml("hello", None, YAML, "base", None))
        .findtext("description")
        .startswith("say hello")
    )
    with pytest.raises(SaltInvocationError, match="not job 'other'"):
        J.desired_job_xml("other", None, YAML, "base", None)
    with pytest.raises(SaltInvocationError, match="exactly one"):
        J.desired_job_xml("hello", "<project/>", YAML, "base", None)
    with pytest.raises(SaltInvocationError, match="not well-formed"):
        J.desired_job_xml("hello", "<project>", None, "base", None)


def test_render_survives_salt_rebinding_yaml_loader(monkeypatch):
    """Salt rebinds yaml.Loader to CLoader; JJB imported under it used to fail ('anchors')."""
    import sys

    import yaml

    for mod in [m for m in sys.modules if m == "jenkins_jobs" or m.startswith("jenkins_jobs.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(yaml, "Loader", yaml.CLoader)
    import jenkins_jobs.loader  # noqa: F401  (imported under the C loader, as inside Salt)

    assert sorted(J.render(YAML)) == ["app-build", "hello"]
    assert yaml.Loader is yaml.CLoader
