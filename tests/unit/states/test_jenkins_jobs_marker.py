"""jenkins_jobs.applied's description marker (pure XML handling)."""

from _states import jenkins_jobs


def test_marker_appended_and_read_back():
    xml = (
        "<?xml version='1.1' encoding='UTF-8'?>\n"
        "<project><description>build it</description></project>"
    )
    marked = jenkins_jobs._marked(xml, jenkins_jobs.MARK.format("ci"))
    assert marked.startswith("<?xml version='1.1'")
    assert (
        jenkins_jobs._description(marked)
        == "build it\n\n[managed by salt jenkins_jobs.applied: ci]"
    )


def test_marker_added_without_a_description():
    marked = jenkins_jobs._marked("<project><builders/></project>", "[m]")
    assert jenkins_jobs._description(marked) == "[m]"
    assert jenkins_jobs._description("not xml <") == ""
