"""Remote API: root object, tree=/depth=, plugins, scriptText."""

import pytest

from .helpers import freestyle


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/model/Jenkins.java @Exported getters")
def test_root_json(server, target):
    info = server.get_info()
    assert info["_class"] == "hudson.model.Hudson"
    assert info["useSecurity"] is True
    assert info["useCrumbs"] is True
    assert info["url"] == target.url
    for key in (
        "mode",
        "nodeDescription",
        "numExecutors",
        "jobs",
        "views",
        "primaryView",
        "quietingDown",
    ):
        assert key in info


@pytest.mark.jenkins(
    "2.568.2",
    "Stapler TreePruner (Api.doJson); core/src/main/java/jenkins/model/Jenkins.java getItems",
)
def test_tree_filter_on_jobs(server, name, cleanup):
    server.create_job(name, freestyle("true"))
    cleanup[0].append(name)
    info = server.get_info(query="?tree=jobs[name,url]")
    assert set(info) == {"_class", "jobs"}
    entry = next(j for j in info["jobs"] if j["name"] == name)
    assert set(entry) == {"_class", "name", "url"}
    assert entry["_class"] == "hudson.model.FreeStyleProject"
    # python-jenkins' job name probe
    assert server.get_job_name(name) == name
    assert server.job_exists(name) is True


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/Api.java doJson (Stapler TreePruner)"
)
def test_tree_nested_object_without_subtree_has_only_class(server, name, cleanup, http, target):
    server.create_job(name, freestyle("true"))
    cleanup[0].append(name)
    data = http.get(target.url + f"job/{name}/api/json?tree=name,scm", timeout=10).json()
    assert data == {
        "_class": "hudson.model.FreeStyleProject",
        "name": name,
        "scm": {"_class": "hudson.scm.NullSCM"},
    }


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/jenkins/model/Jenkins.java items (CASE_INSENSITIVE_ORDER) + Stapler ranges",
)
@pytest.mark.emulator_only
def test_tree_range(http, target, server):
    names = [f"range-{i}" for i in range(3)]
    for job in names:
        server.create_job(job, "<project/>")
    try:
        data = http.get(target.url + "api/json?tree=jobs[name]{1,2}", timeout=10).json()
        assert len(data["jobs"]) == 1
        data = http.get(target.url + "api/json?tree=jobs[name]{,2}", timeout=10).json()
        assert len(data["jobs"]) == 2
    finally:
        for job in names:
            server.delete_job(job)


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Api.java doJson (depth)")
def test_depth(server, name, cleanup):
    server.create_job(name, freestyle("true"))
    cleanup[0].append(name)
    shallow = next(j for j in server.get_info()["jobs"] if j["name"] == name)
    assert "buildable" not in shallow
    deep = next(j for j in server.get_info(query="?depth=1")["jobs"] if j["name"] == name)
    assert deep["buildable"] is True


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Api.java doJson (tree)")
def test_get_all_jobs_uses_nested_tree(server, name, cleanup):
    server.create_job(name, freestyle("true"))
    cleanup[0].append(name)
    assert any(j["fullname"] == name for j in server.get_all_jobs())


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/PluginWrapper.java @Exported getters")
@pytest.mark.emulator_only
def test_plugins(server):
    plugins = server.get_plugins()
    git = plugins["git"]
    assert git["version"] == "5.7.0"
    assert git["active"] is True and git["enabled"] is True
    assert git["longName"] == "Git plugin"
    for key in ("pinned", "hasUpdate", "bundled", "deleted", "dependencies", "shortName"):
        assert key in git
    info = server.get_plugin_info("workflow-job")
    assert info["shortName"] == "workflow-job"


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/PluginManager.java getPlugins")
@pytest.mark.emulator_only
def test_plugin_manager_depth0_hides_details(http, target):
    data = http.get(target.url + "pluginManager/api/json?depth=0", timeout=10).json()
    assert data["_class"] == "hudson.LocalPluginManager"
    assert all("shortName" not in p for p in data["plugins"])


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/util/RemotingDiagnostics.java executeGroovy"
)
def test_run_script_print(server):
    assert server.run_script('println "hello"').strip() == "hello"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/util/RemotingDiagnostics.java executeGroovy"
)
@pytest.mark.emulator_only
def test_run_script_unsupported_is_groovy_error(server):
    import jenkins

    with pytest.raises(jenkins.JenkinsException, match="Groovy"):
        server.run_script("def x = Jenkins.instance.items.collect { it.name }")


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/model/Jenkins.java doScriptText (@RequirePOST)"
)
def test_script_text_requires_post(http, target):
    assert http.get(target.url + "scriptText", timeout=10).status_code == 405
