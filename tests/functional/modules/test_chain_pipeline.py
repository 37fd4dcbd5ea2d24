"""chain_pipeline execution module: the commit of a ref (real git, a local repository by URL) and
the pipeline's artifact of that commit (the Jenkins emulator, a build on an emulated inbound
agent), fetched once, nothing written under test."""

import subprocess

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from saltext.chain.emulator import testing
from tests.functional.modules.test_jenkins_builds import freestyle
from tests.support.agents import emulated_agent


def _git(*args, cwd=None):
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A bare repository served by file URL: branch main, an annotated tag v1 (on the first
    commit), a lightweight tag light (on the second)."""
    work = tmp_path_factory.mktemp("cp-work")
    _git("init", "-q", "-b", "main", str(work))
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    (work / "a").write_text("1\n")
    _git("add", "a", cwd=work)
    _git(*ident, "commit", "-qm", "one", cwd=work)
    first = _git("rev-parse", "HEAD", cwd=work)
    _git(*ident, "tag", "-a", "v1", "-m", "v1", cwd=work)
    (work / "a").write_text("2\n")
    _git(*ident, "commit", "-qam", "two", cwd=work)
    second = _git("rev-parse", "HEAD", cwd=work)
    _git("tag", "light", cwd=work)
    bare = tmp_path_factory.mktemp("cp-bare") / "app.git"
    _git("clone", "-q", "--bare", str(work), str(bare))
    return {"url": f"file://{bare}", "first": first, "second": second}


def test_commit_of_a_branch_a_tag_and_a_commit(modules, repo):
    pipeline = modules.chain_pipeline
    assert pipeline.commit("main", repo["url"]) == repo["second"]
    assert pipeline.commit("light", repo["url"]) == repo["second"]
    # an annotated tag: the commit it points to (peeled), not the tag object
    assert pipeline.commit("v1", repo["url"]) == repo["first"]
    assert pipeline.commit(repo["first"].upper(), None) == repo["first"]
    assert pipeline.commit("main", repo["url"], commit=repo["first"]) == repo["first"]
    with pytest.raises(SaltInvocationError, match="full commit id"):
        pipeline.commit("main", repo["url"], commit="abc123")
    with pytest.raises(SaltInvocationError, match="chain:ref is empty"):
        pipeline.commit("", repo["url"])
    with pytest.raises(CommandExecutionError, match="nope is not a branch or tag of file://"):
        pipeline.commit("nope", repo["url"])


def test_resolve_answers_instead_of_raising(modules, repo, tmp_path):
    got = modules.chain_pipeline.resolve("main", repo["url"])
    assert got == {
        "result": True,
        "comment": f"ref main is {repo['second']}",
        "commit": repo["second"],
    }
    bad = modules.chain_pipeline.resolve("nope", repo["url"])
    assert bad["result"] is False and bad["commit"] is None
    assert "nope is not a branch or tag" in bad["comment"]
    # an unreachable source server: git's reason, no traceback
    gone = modules.chain_pipeline.resolve("main", f"git://127.0.0.1:{testing.free_port()}/app.git")
    assert gone["result"] is False and "refused" in gone["comment"].lower(), gone


def test_resolve_asks_once_per_run(modules, repo, tmp_path):
    """Within one run (one loader context) every state sees the same commit, even when the
    branch moves in between."""
    bare = repo["url"][len("file://") :]
    work = tmp_path / "w"
    _git("clone", "-q", repo["url"], str(work))
    first = modules.chain_pipeline.resolve("moving", repo["url"])
    assert first["result"] is False  # no such branch yet; the answer is kept for the run
    _git("push", "-q", "origin", "HEAD:refs/heads/moving", cwd=work)
    assert modules.chain_pipeline.resolve("moving", repo["url"]) == first
    assert _git("rev-parse", "refs/heads/moving", cwd=bare) == repo["second"]


@pytest.fixture(scope="module")
def agent(loaders, emulator, tmp_path_factory):
    """A node labelled ``cp`` with the emulated inbound agent connected (a subprocess)."""
    work = tmp_path_factory.mktemp("cp-agent-work")
    with emulated_agent(loaders.modules, emulator["url"], "cp-agent", ["cp"], work) as name:
        yield name


ARTIFACT = (
    'mkdir -p dist app &amp;&amp; echo "FROM scratch" &gt; app/Dockerfile &amp;&amp; '
    'echo "$REF" &gt; app/commit &amp;&amp; tar czf "dist/app-$REF.tar.gz" app'
)


def test_artifact_fetched_once_and_nothing_written_under_test(
    loaders, modules, agent, repo, uid, tmp_path, unchanged_home
):
    job = f"cp-{uid}"
    modules.jenkins.job_create(
        job, config_xml=freestyle(ARTIFACT, label="cp", params=[("REF", "x")], artifacts="dist/*")
    )
    dest = tmp_path / "artifacts"
    commit = repo["second"]

    missing = modules.chain_pipeline.artifact(job, "main", repo["url"], str(dest))
    assert missing["result"] is False and missing["context"] is None
    assert f"no successful build of {job} for commit {commit}" in missing["comment"]
    loaders.reset_state()

    res = modules.jenkins.build(job, parameters={"REF": commit}, timeout=60, poll_interval=0.2)
    assert res["result"] == "SUCCESS", res

    # test mode: the build is found, nothing is fetched or written, nothing sent that writes
    modules.opts["test"] = True
    try:
        with unchanged_home():
            plan = modules.chain_pipeline.artifact(job, "main", repo["url"], str(dest))
    finally:
        modules.opts["test"] = False
        loaders.reset_state()
    assert plan["result"] is True and plan["build"] == res["number"], plan
    assert plan["comment"].startswith(f"would fetch dist/app-{commit}.tar.gz of build #"), plan
    assert not dest.exists()

    got = modules.chain_pipeline.artifact(job, "main", repo["url"], str(dest))
    context = dest / commit / "app"
    assert got == {
        "result": True,
        "comment": got["comment"],
        "commit": commit,
        "context": str(context),
        "build": res["number"],
    }
    assert (context / "commit").read_text().strip() == commit
    assert got["comment"].startswith(f"fetched dist/app-{commit}.tar.gz of build #")
    loaders.reset_state()

    # already there: nothing asked of Jenkins (a profile that cannot be reached proves it)
    again = modules.chain_pipeline.artifact(
        job,
        "main",
        repo["url"],
        str(dest),
        profile=f'{{"url": "http://127.0.0.1:{testing.free_port()}/"}}',
    )
    assert again["result"] is True and again["build"] is None, again
    assert again["context"] == str(context) and "is unpacked in" in again["comment"]
    modules.jenkins.job_delete(job)


def test_artifact_of_an_unreachable_controller_fails_cleanly(modules, repo, tmp_path):
    got = modules.chain_pipeline.artifact(
        "app-pipeline",
        repo["first"],
        None,
        str(tmp_path / "a"),
        profile=f'{{"url": "http://127.0.0.1:{testing.free_port()}/", "timeout": 2}}',
    )
    assert got["result"] is False and got["commit"] == repo["first"], got
    assert "Traceback" not in got["comment"] and got["comment"].startswith("the artifact of commit")
    assert not (tmp_path / "a").exists()
