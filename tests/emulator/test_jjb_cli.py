"""The real ``jenkins-jobs`` CLI (jenkins-job-builder) against the emulator, end to end.

Each test runs the CLI as a subprocess with its own config file, cache and HOME in a tmp dir,
then checks what the emulator holds over HTTP.  ``update --delete-old`` used to delete the
stale jobs and then crash with ``KeyError: 'name'`` in python-jenkins' ``get_view_name``
(``GET view/all/api/json?tree=name`` answered the root object instead of the ``AllView``).

emulator_only: ``--delete-old`` deletes every JJB-managed job and view the YAML does not name,
which must not run against somebody's real controller.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from tests.support import tools

MANAGED = "<!-- Managed by Jenkins Job Builder -->"
SOURCES = (
    "core/src/main/java/jenkins/model/Jenkins.java getViews, getView; "
    "core/src/main/java/hudson/model/View.java getViewName, doConfigDotXml, doDoDelete; "
    "core/src/main/java/hudson/model/AbstractItem.java doDoDelete"
)
JJB = pathlib.Path(sys.executable).with_name("jenkins-jobs")

pytestmark = [
    pytest.mark.jenkins("2.568.2", SOURCES),
    pytest.mark.emulator_only,
]


@pytest.fixture(autouse=True)
def _need_jjb():
    if not JJB.exists():
        tools.missing(f"{JJB} is missing: pip install -e . (jenkins-job-builder)")


class Cli:
    def __init__(self, target, tmp_path):
        self.dir = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.ini = tmp_path / "jenkins_jobs.ini"
        self.ini.write_text(
            "[job_builder]\nignore_cache=True\n\n"
            f"[jenkins]\nurl={target.url}\nuser={target.user}\npassword={target.token}\n"
        )

    def run(self, *args, check=True):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }
        proc = subprocess.run(
            [str(JJB), "--conf", str(self.ini), *args],
            cwd=self.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert proc.returncode == 0, f"jenkins-jobs {args} failed:\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def write(self, name, text):
        path = self.dir / name
        path.write_text(textwrap.dedent(text))
        return path


def _jobs_yaml(prefix, jobs, view_jobs=None):
    out = "".join(
        f"""
        - job:
            name: {prefix}-{job}
            builders:
              - shell: "echo {job}"
        """
        for job in jobs
    )
    if view_jobs is not None:
        names = "".join(f"\n                  - {prefix}-{job}" for job in view_jobs)
        out += f"""
        - view:
            name: {prefix}-view
            view-type: list
            description: jobs of {prefix}
            job-name:{names}
        """
    return out


def _exists(http, url):
    status = http.get(url + "api/json", params={"tree": "name"}).status_code
    assert status in (200, 404), status
    return status == 200


@pytest.fixture
def cli(target, tmp_path, server, name):
    cli = Cli(target, tmp_path)
    yield cli
    for job in server.get_jobs():
        if job["name"].startswith(name):
            server.delete_job(job["name"])
    for view in server.get_views():
        if view["name"].startswith(name):
            server.delete_view(view["name"])


def test_update_then_update_delete_old(cli, http, target, name):
    first = cli.write("first.yaml", _jobs_yaml(name, ["keep", "stale"], view_jobs=["keep"]))
    out = cli.run("update", str(first))
    assert "Number of jobs updated: 2" in out.stderr
    assert "Number of views updated: 1" in out.stderr
    for job in ("keep", "stale"):
        config = http.get(target.url + f"job/{name}-{job}/config.xml").text
        assert MANAGED.replace("<", "&lt;").replace(">", "&gt;") in config
        assert f"echo {job}" in config
    view = http.get(target.url + f"view/{name}-view/api/json").json()
    assert view["_class"] == "hudson.model.ListView"
    assert view["description"] == f"jobs of {name}{MANAGED}"
    assert [j["name"] for j in view["jobs"]] == [f"{name}-keep"]

    second = cli.write("second.yaml", _jobs_yaml(name, ["keep"]))
    out = cli.run("update", "--delete-old", str(second))
    assert "Number of jobs deleted: 1" in out.stderr
    assert "Number of views deleted: 1" in out.stderr
    assert _exists(http, target.url + f"job/{name}-keep/")
    assert not _exists(http, target.url + f"job/{name}-stale/")
    assert not _exists(http, target.url + f"view/{name}-view/")
    # the AllView is not JJB's (no managed description): it stays, and stays primary
    root = http.get(target.url + "api/json", params={"tree": "views[name],primaryView[name]"})
    assert root.json()["primaryView"]["name"] == "all"
    assert "all" in [v["name"] for v in root.json()["views"]]

    # a second run changes nothing and deletes nothing
    out = cli.run("update", "--delete-old", str(second))
    assert "Number of jobs deleted: 0" in out.stderr
    assert "Number of views deleted: 0" in out.stderr


def test_list_and_delete(cli, http, target, name):
    path = cli.write("jobs.yaml", _jobs_yaml(name, ["one", "two"], view_jobs=["one", "two"]))
    cli.run("update", str(path))
    # list: the jobs the controller holds, matched against the glob
    listed = cli.run("list", f"{name}-*").stdout.split()
    assert sorted(listed) == [f"{name}-one", f"{name}-two"]
    # list -p: the jobs the YAML defines
    listed = cli.run("list", "-p", str(path)).stdout.split()
    assert sorted(listed) == [f"{name}-one", f"{name}-two"]

    cli.run("delete", f"{name}-one")
    assert not _exists(http, target.url + f"job/{name}-one/")
    assert _exists(http, target.url + f"job/{name}-two/")
    # the list view drops the deleted job (ListView.Listener.onDeleted)
    view = http.get(target.url + f"view/{name}-view/api/json", params={"tree": "jobs[name]"})
    assert [j["name"] for j in view.json()["jobs"]] == [f"{name}-two"]
    assert (
        f"<string>{name}-one</string>"
        not in http.get(target.url + f"view/{name}-view/config.xml").text
    )

    # delete a view by name (views only), then a name that is neither: no error
    cli.run("delete", "--views-only", f"{name}-view")
    assert not _exists(http, target.url + f"view/{name}-view/")
    cli.run("delete", f"{name}-nothing")
    assert cli.run("list", f"{name}-*").stdout.split() == [f"{name}-two"]


def test_delete_old_without_views_in_the_yaml(cli, http, target, name):
    """The issue's case: jobs only; --delete-old still walks the controller's views."""
    cli.run("update", str(cli.write("a.yaml", _jobs_yaml(name, ["a", "b"]))))
    out = cli.run("update", "--delete-old", str(cli.write("b.yaml", _jobs_yaml(name, ["a"]))))
    assert "KeyError" not in out.stderr
    assert "Number of jobs deleted: 1" in out.stderr
    assert "Number of views deleted: 0" in out.stderr
    assert _exists(http, target.url + f"job/{name}-a/")
    assert not _exists(http, target.url + f"job/{name}-b/")
    assert _exists(http, target.url + "view/all/")
