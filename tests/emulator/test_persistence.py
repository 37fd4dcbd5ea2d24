"""State under --home survives a restart; the built-in node's executors are configurable."""

import jenkins
import pytest
import requests

from saltext.chain.emulator import testing

from .helpers import create_inbound_node, freestyle, run_to_completion, wait_for

pytestmark = pytest.mark.emulator_only


def _secret(url, user, token, node):
    resp = requests.get(f"{url}computer/{node}/jenkins-agent.jnlp", auth=(user, token), timeout=10)
    return resp.text.split("<argument>")[1].split("</argument>")[0]


def test_restart_loses_nothing(tmp_path):
    home = tmp_path / "home"
    args = ["--builtin-executors", "1"]
    with testing.running_emulator(home, extra_args=args) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        create_inbound_node(server, "keep", labels="a b")
        # python-jenkins disable_node would not mark a disconnected agent offline: toggle directly
        requests.post(
            f"{url}computer/keep/toggleOffline?offlineMessage=parked",
            auth=(user, token),
            timeout=10,
        )
        node_xml = server.get_node_config("keep")
        secret = _secret(url, user, token, "keep")
        server.create_job(
            "kept",
            freestyle(
                "mkdir -p o; echo art > o/x.txt; echo ran-on-$NODE_NAME",
                label="built-in",
                artifacts="o/*.txt",
            ),
        )
        build = run_to_completion(server, "kept")
        assert build["result"] == "SUCCESS"
        assert build["builtOn"] == ""
        job_xml = server.get_job_config("kept")
        console = server.get_build_console_output("kept", 1)
        assert "ran-on-built-in" in console
        assert "Building on the built-in node in workspace" in console
        server.create_job("queued", freestyle("true", label="nowhere"))
        last_qid = server.build_job("queued")
    with testing.running_emulator(home, extra_args=args) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        assert server.get_node_config("keep") == node_xml
        info = server.get_node_info("keep")
        assert info["temporarilyOffline"] is True and info["offlineCauseReason"] == "parked"
        assert _secret(url, user, token, "keep") == secret
        assert server.get_job_config("kept") == job_xml
        assert server.get_build_console_output("kept", 1) == console
        again = server.get_build_info("kept", 1)
        assert again["result"] == "SUCCESS" and again["artifacts"][0]["relativePath"] == "o/x.txt"
        resp = requests.get(f"{url}job/kept/1/artifact/o/x.txt", auth=(user, token), timeout=10)
        assert resp.text == "art\n"
        assert server.get_job_info("kept")["nextBuildNumber"] == 2
        # the queue was restored and the id counter continues
        assert server.get_queue_item(last_qid)["task"]["name"] == "queued"
        assert server.build_job("kept") > last_qid
        wait_for(
            lambda: server.get_job_info("kept")["lastCompletedBuild"]["number"] == 2,
            what="second build",
        )


def test_builtin_has_no_executors_by_default(tmp_path):
    with testing.running_emulator(tmp_path / "home") as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        assert server.get_node_info("Built-In Node")["numExecutors"] == 0
        server.create_job("j", freestyle("true"))
        qid = server.build_job("j")
        item = wait_for(
            lambda: (lambda i: i if i["_class"].endswith("BuildableItem") else None)(
                server.get_queue_item(qid)
            ),
            what="buildable",
        )
        assert item["why"] == "Waiting for next available executor"


def test_root_url_option(tmp_path):
    args = ["--root-url", "http://jenkins.example.invalid:8080/ci"]
    with testing.running_emulator(tmp_path / "home", extra_args=args) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        assert server.get_info()["url"] == "http://jenkins.example.invalid:8080/ci/"
        server.create_job("j", freestyle("true", label="x"))
        resp = requests.post(
            f"{url}job/j/build", auth=(user, token), allow_redirects=False, timeout=10
        )
        # Location is made absolute from the request, not from the root URL (Stapler
        # ResponseImpl.sendRedirect(int, String), Jenkins 2.568.2 doBuild -> sendRedirect(201, …))
        assert resp.headers["Location"].startswith(f"{url}queue/item/")


def test_plugins_file(tmp_path):
    plugins = tmp_path / "plugins.txt"
    plugins.write_text("# baked\ngit:5.7.0\n\ncredentials:1408.va_622a_b_f5b_1b_1\n")
    args = ["--plugins-file", str(plugins)]
    with testing.running_emulator(tmp_path / "home", extra_args=args) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        assert server.get_plugin_info("credentials")["version"] == "1408.va_622a_b_f5b_1b_1"


def test_views_survive_a_restart(tmp_path):
    """Jenkins keeps its views and primaryView in HOME/config.xml; the emulator in views.json."""
    home = tmp_path / "home"
    view = (
        "<hudson.model.ListView><name>v</name><description>kept</description>"
        "<jobNames><string>j</string></jobNames></hudson.model.ListView>"
    )
    with testing.running_emulator(home) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        server.create_job("j", freestyle("true"))
        server.create_view("kept", view)
        before = server.get_view_config("kept")
    with testing.running_emulator(home) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        assert [v["name"] for v in server.get_views()] == ["all", "kept"]
        assert server.get_info()["primaryView"]["name"] == "all"
        assert server.get_view_config("kept") == before
        assert [j["name"] for j in server.get_jobs(view_name="kept")] == ["j"]
