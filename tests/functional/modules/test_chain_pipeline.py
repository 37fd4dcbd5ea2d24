"""chain_pipeline execution module: the commit of a ref (real git and hg, local repositories by
URL) and the pipeline's artifact of that commit (the Jenkins emulator, a build on an emulated
inbound agent), fetched once, nothing written under test; the image stage's trial (a real engine:
the sample app with the production environment, and the same app sick only in production)."""

import contextlib
import shutil
import subprocess

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_trial

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.functional.modules.test_jenkins_builds import freestyle
from tests.support import engines
from tests.support.agents import emulated_agent
from tests.support.chain import PRODUCTION, make_sick_in_production
from tests.support.engines import EventRecorder
from tests.support.load import HEALTH, HEALTH_503


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
def hg_repo(tmp_path_factory):
    """A Mercurial repository: two commits on default, a tag v1 on the first, a branch dev."""
    work = tmp_path_factory.mktemp("cp-hg")

    def hg(*args):
        return subprocess.run(
            ["hg", "--config", "ui.username=t", *args],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
            env={"HGPLAIN": "1", "PATH": "/usr/bin:/bin"},
        ).stdout.strip()

    hg("init")
    (work / "a").write_text("1\n")
    hg("commit", "-qA", "-m", "one")
    first = hg("log", "-r", ".", "-T", "{node}")
    hg("tag", "-r", first, "v1")  # commits .hgtags: the second commit
    second = hg("log", "-r", ".", "-T", "{node}")
    hg("branch", "-q", "dev")
    (work / "a").write_text("3\n")
    hg("commit", "-q", "-m", "three")
    third = hg("log", "-r", ".", "-T", "{node}")
    return {"url": str(work), "first": first, "second": second, "third": third}


def test_commit_of_an_hg_branch_a_tag_and_a_node(modules, hg_repo):
    pipeline = modules.chain_pipeline
    assert pipeline.commit("default", hg_repo["url"], vcs="hg") == hg_repo["second"]
    assert pipeline.commit("dev", hg_repo["url"], vcs="hg") == hg_repo["third"]
    assert pipeline.commit("v1", hg_repo["url"], vcs="hg") == hg_repo["first"]
    # a full node is built as it is: no lookup at all (an unreachable URL proves it)
    gone = f"http://127.0.0.1:{testing.free_port()}/hg/app"
    assert pipeline.commit(hg_repo["first"], gone, vcs="hg") == hg_repo["first"]
    with pytest.raises(CommandExecutionError, match="ref nope is not a revision of"):
        pipeline.commit("nope", hg_repo["url"], vcs="hg")
    with pytest.raises(SaltInvocationError, match="vcs: expected git or hg"):
        pipeline.commit("main", hg_repo["url"], vcs="svn")
    bad = pipeline.resolve("default", gone, vcs="hg")
    assert bad["result"] is False and bad["comment"].startswith("ref default is not a revision")


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


# ---------------------------------------------------------------- the image stage's trial

TRIAL_ENGINE = "engine1"
COMMIT = "c0ffee" + "1" * 34


@pytest.fixture(scope="module")
def trial_images(docker_engines, tmp_path_factory):
    """The sample app built with APP_COMMIT=COMMIT, and the same app sick only in production,
    under names of the CI registry that are never pushed (the trial asks the registry first)."""
    client = engines.client(TRIAL_ENGINE)
    sick = tmp_path_factory.mktemp("sick-app")
    shutil.copytree(REPO / "examples" / "app", sick, dirs_exist_ok=True)
    make_sick_in_production(sick)
    base = f"{engines.REGISTRY}/{engines.name('trial')}"
    out = {"ok": f"{base}:ok", "sick": f"{base}:sick"}
    for key, path in (("ok", REPO / "examples" / "app"), ("sick", sick)):
        client.images.build(
            path=str(path),
            tag=out[key],
            rm=True,
            buildargs={"BASE_IMAGE": engines.DEBIAN, "APP_COMMIT": COMMIT},
        )
    yield out
    engines.cleanup(TRIAL_ENGINE)
    for tag in out.values():
        with contextlib.suppress(Exception):
            client.images.remove(tag, force=True)
    client.close()


def _trial(modules, image, **kwargs):
    args = {
        "environment": PRODUCTION,
        # the probe's own timeout is the load tests' 1 s, too short for a python3 start on a
        # loaded machine; the verdicts checked here are about the answer, not its speed
        "healthcheck": {**HEALTH, "timeout": "5s"},
        "labels": {engines.TEST_LABEL: engines.RUN},
        "timeout": 30,
        "app": engines.name("t"),
        **kwargs,
    }
    return modules.chain_pipeline.trial(image, COMMIT, None, **args)


def _trial_containers():
    with contextlib.closing(engines.client(TRIAL_ENGINE)) as client:
        found = client.containers.list(all=True, filters={"label": chain_trial.LABEL})
        return [c.name for c in found if c.labels.get(engines.TEST_LABEL) == engines.RUN]


def test_trial_with_the_production_environment(modules, loaders, trial_images):
    # the good image: healthy with the production environment, /version names the commit
    good = _trial(modules, trial_images["ok"])
    assert good["result"] is True, good
    assert good["comment"] == chain_trial.verdict(COMMIT, None)
    assert good["container"].startswith(engines.name("t") + "-trial-")
    loaders.reset_state()

    # sick only in production: unhealthy, the health check's own words, one line
    sick = _trial(modules, trial_images["sick"])
    assert sick["result"] is False, sick
    assert sick["comment"] == (
        f"commit {COMMIT} failed its trial with the production environment: unhealthy; "
        f"health check: {HEALTH_503}"
    ), sick
    loaders.reset_state()
    # control: the same image without the production environment passes
    assert _trial(modules, trial_images["sick"], environment={})["result"] is True
    loaders.reset_state()

    # an image that names another commit; no health check at all (the image's own)
    other = modules.chain_pipeline.trial(
        trial_images["ok"], "d" * 40, None, labels={engines.TEST_LABEL: engines.RUN}
    )
    assert other["comment"].endswith(f"GET /version names commit {COMMIT}, not {'d' * 40}")
    loaders.reset_state()
    # never healthy within the timeout (a check that never passes, long before it counts)
    slow = _trial(
        modules,
        trial_images["ok"],
        healthcheck={"test": "false", "interval": "1s", "retries": 3, "start_period": "60s"},
        timeout=3,
    )
    assert slow["result"] is False and "not healthy within 3" in slow["comment"], slow
    loaders.reset_state()
    assert _trial_containers() == []  # every trial container removed, failed or not


def test_trial_under_test_starts_nothing(modules, loaders, trial_images):
    modules.opts["test"] = True
    try:
        with EventRecorder(TRIAL_ENGINE) as rec:
            plan = _trial(modules, trial_images["sick"])
    finally:
        modules.opts["test"] = False
        loaders.reset_state()
    assert plan["result"] is True and plan["comment"].startswith(
        f"would start {trial_images['sick']} (commit {COMMIT}) with the production environment"
    ), plan
    assert rec.mutations() == []


def test_trial_bad_input_and_missing_image(modules, loaders):
    bad = modules.chain_pipeline.trial("127.0.0.1:5000/x:1", COMMIT, None, environment="{nope")
    assert bad["result"] is False and bad["comment"] == "trial: environment: bad JSON"
    loaders.reset_state()
    gone = modules.chain_pipeline.trial(
        f"{engines.REGISTRY}/{engines.name('none')}:1", COMMIT, None
    )
    assert gone["result"] is False and "is not on the build server's engine" in gone["comment"]
