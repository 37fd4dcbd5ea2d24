"""A push is all it takes, end to end through the real parts: a git push over HTTP and a
Mercurial push to the chain's source server (apache2, git http-backend, hgweb, basic auth) are
recorded by the repository's hook, forwarded by build1's minion as its own signed event, handed
by the master's thin reactor to the push queue, and run by the worker as the whole chain
(pipeline on an agent, image with its trial, rollout, smoke check): the frontend then serves
the pushed commit. The git push is made while the master is stopped: it is deployed once the
master is back, through the forwarder (which sends the record again until the queue has it), not
the poll check. The team's page, served by salt-api and open in headless Chromium from before the
run, shows that run by itself (its commit, its stages) without a reload and without a console
error.

The chain's settings (this run's names, free loopback ports) are the master's
``chain:push:repos:<repo>:pillar`` (tests/support/e2e.py, tests/support/push.py)."""

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest
from saltext.chain.utils import chain_push_queue as queue

from tests.conftest import REPO
from tests.support import agents, browser, engines, local, tools
from tests.support.chain import build_haproxy

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
FINAL = {"deployed", "built", "failed", "superseded", "nothing to do", "seeded"}


@pytest.fixture(scope="module")
def chain(master, salt_api, synced, salt_cli, salt_run_cli, e2e_chain, push_user):
    """The chain seeded and deployed once by hand (as `make chain` does): the source server
    exists, with its hooks and build1's forward schedule."""
    settings = e2e_chain
    client = engines.client(ENGINE)
    build_haproxy(client, settings["haproxy"])
    tag = agents.build_agent_image()
    agents.static_agent(salt_cli, settings["agent"], tag, settings["label"])
    first = local.git("-C", str(REPO), "subtree", "split", "-q", "--prefix=examples/app", "HEAD")
    pillar = json.loads(json.dumps(settings["pillar"]))
    pillar["chain"]["ref"] = first
    db = queue.path_in(master.config["cachedir"])
    # the master's queue is the worker's: another module's chain may have seeded this commit
    known = (
        {p["id"] for p in queue.snapshot(db, limit=1000)["pushes"]} if os.path.exists(db) else set()
    )
    try:
        ret = salt_run_cli.run(
            "state.orchestrate", "chain", f"pillar={json.dumps(pillar)}", _timeout=900
        )
        assert ret.returncode == 0, (ret.stdout or "")[-3000:]
        yield {
            **settings,
            "db": db,
            "known": known,
            "page": os.path.join(master.config["cachedir"], "saltext-chain", "page", "chain.json"),
            "first": first,
            "auth": f"{push_user['user']}:{push_user['password']}",
        }
    finally:
        salt_cli.run("jenkins.job_delete", settings["job"], minion_tgt="build1")
        salt_cli.run("jenkins.node_delete", settings["agent"], minion_tgt="build1")
        salt_cli.run("schedule.delete", f"chain-push-forward-{engines.name('e2e-source')}",
                     minion_tgt="build1")  # fmt: skip
        engines.cleanup(ENGINE)
        registry = settings["pillar"]["chain"]["registry"]
        engines.remove_references(ENGINE, f"{registry['address']}/{registry['repository']}")
        for image in settings["images"]:
            with contextlib.suppress(Exception):
                client.images.remove(image, force=True)
        client.close()


def _version(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as resp:
        return json.load(resp)["commit"]


def _deployed(chain, commit, timeout=300):
    """Wait until the push of ``commit`` is final in the queue; returns it."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = [
            p for p in queue.snapshot(chain["db"], limit=200)["pushes"] if p["commit"] == commit
        ]
        if found and all(p["state"] in FINAL for p in found):
            return found
        time.sleep(0.5)
    raise AssertionError(f"push of {commit} not final after {timeout} s: {found}")


def _queued(chain, commit, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = queue.snapshot(chain["db"], limit=200)["pushes"]
        if any(p["commit"] == commit for p in snap):
            return True
        time.sleep(0.5)
    return False


def _page_url(master):
    return f"http://127.0.0.1:{master.config['rest_cherrypy']['port']}/page/index.html"


@contextlib.contextmanager
def _team_page(master):
    """Headless Chromium on the team's page as salt-api serves it (``None`` where there is no
    browser, outside CI), marked so that a reload would show."""
    if browser.missing():
        assert not tools.in_ci(), f"CI: the team's page not checked: {browser.missing()}"
        print(f"the team's page not checked: {browser.missing()}")
        yield None
        return
    deadline = time.monotonic() + 60
    while True:  # written by the queue (the seed's push) before this test
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(_page_url(master), timeout=5) as resp:
                if resp.status == 200:
                    break
        assert time.monotonic() < deadline, f"{_page_url(master)} not served"
        time.sleep(0.5)
    with browser.chromium() as driver:
        driver.get(_page_url(master))
        driver.execute_script("window.notReloaded = true")
        yield driver


def _wait_page(driver, predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"the page never showed {what}"
        time.sleep(0.5)


def _page_shows_the_run(driver, chain, salt_run_cli, run):
    """The page shows ``run`` as deployed, with its commit and stages; it got there by itself
    (no reload), no console error."""

    def run_text():
        shown = browser.text(driver, f'[data-run="{run["run_id"]}"]')
        return shown if shown and "deployed" in shown else None

    shown = _wait_page(driver, run_text, f"run {run['run_id']} deployed")
    assert run["commit"][:10] in shown and "/main" in shown, shown
    for stage in ("infrastructure", "pipeline", "image", "rollout", "smoke"):
        assert stage in shown, (stage, shown)
    # not checked here: the digest deployed per server ("What runs where", chain.status of
    # the apps in the master's chain:apps): with the app in the integration master's chain:apps,
    # every queue run's page write publishes a container_service.status job, which
    # test_push_queue.py's "no minion job" check refuses
    print(f"the page: run {run['run_id']} deployed with its commit and stages")
    where = browser.text(driver, "#s-where")
    assert run["commit"][:10] in browser.text(driver, "#s-pushes"), where
    assert driver.execute_script("return window.notReloaded === true")  # refreshed itself
    assert browser.console_errors(driver) == []


def _commit(work, text):
    app = work / "app.py"
    app.write_text(app.read_text().replace("hello from the chain's sample app", text))


def test_a_git_push_made_while_the_master_is_down_deploys_once_it_is_back(
    chain, master, build1, salt_run_cli, tmp_path
):
    http = f"http://127.0.0.1:{chain['http_port']}/git/app.git"
    work = tmp_path / "git"
    local.git("clone", "-q", http, str(work))  # anonymous clone over HTTP
    _commit(work, "hello from a push")
    local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "push", cwd=work)
    commit = local.git("rev-parse", "HEAD", cwd=work)
    spool = os.path.join(
        build1.config["cachedir"], "saltext-chain", f"{engines.name('e2e-source')}-spool"
    )
    master.terminate()
    try:
        pushed = http.replace("http://", f"http://{chain['auth']}@")
        local.git("push", "-q", pushed, "HEAD:refs/heads/main", cwd=work)
        # the hook recorded it (synchronously, before the push returned) for the forwarder
        assert [n for n in os.listdir(spool) if n.endswith(".json")], os.listdir(spool)
        assert _version(chain["ports"]["build1"]) == chain["first"]
    finally:
        master.start()
    with _team_page(master) as driver:
        # the forwarder sends the record until the queue has it (the master's schedule has no
        # poll check here: nothing else would bring the push in)
        assert _queued(chain, commit, timeout=90), "the push never reached the queue"
        pushes = _deployed(chain, commit)
        deployed = [p for p in pushes if p["state"] == "deployed"]
        assert len(deployed) == 1, [(p, queue.run(chain["db"], p["run_id"])) for p in pushes]
        (push,) = deployed
        assert {p["state"] for p in pushes} <= {"deployed", "nothing to do", "superseded"}, pushes
        assert push["via"] == "http", push
        assert _version(chain["ports"]["build1"]) == commit
        run = queue.run(chain["db"], push["run_id"])
        stages = [s["name"] for s in run["stages"]]
        assert stages == ["infrastructure", "pipeline", "image", "rollout", "smoke"], run
        assert all(s["result"] is True for s in run["stages"]), run["stages"]
        if driver is not None:
            _page_shows_the_run(driver, chain, salt_run_cli, run)
    assert not [n for n in os.listdir(spool) if n.endswith(".json")]
    assert not [n for n in os.listdir(os.path.join(spool, "unacked")) if n.endswith(".json")]
    # the seed of the first, hand-made deploy was recorded, never run again
    seeded = [
        p
        for p in queue.snapshot(chain["db"], limit=1000)["pushes"]
        if p["commit"] == chain["first"] and p["id"] not in chain["known"]
    ]
    assert [p["state"] for p in seeded] == ["seeded"], seeded
    with open(chain["page"], encoding="utf-8") as fh:
        page = json.load(fh)
    assert push["run_id"] in json.dumps(page["data"]["queue"]["runs"])


def test_a_mercurial_push_deploys(chain, tmp_path):
    http = f"http://127.0.0.1:{chain['http_port']}/hg/app-hg"
    work = tmp_path / "hg"
    subprocess.run(["hg", "clone", "-q", http, str(work)], check=True, timeout=60)
    app = REPO / "examples" / "app"
    for name in ("app.py", "pyproject.toml", "setup.cfg", "README.md", "Dockerfile"):
        shutil.copy(app / name, work / name)
    shutil.copytree(app / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    _commit(work, "hello from Mercurial")
    hg = ["hg", "--cwd", str(work)]
    subprocess.run([*hg, "add", "-q"], check=True, timeout=60)
    subprocess.run([*hg, "commit", "-q", "-u", "t <t@t>", "-m", "from hg"], check=True, timeout=60)
    node = subprocess.run(
        [*hg, "log", "-r", ".", "-T", "{node}"], capture_output=True, text=True, check=True
    ).stdout
    pushed = http.replace("http://", f"http://{chain['auth']}@")
    subprocess.run([*hg, "push", "-q", pushed], check=True, timeout=60)
    (push,) = _deployed(chain, node)
    assert push["state"] == "deployed", push
    assert push["vcs"] == "hg" and push["branch"] == "default" and push["pusher"] == "tester"
    assert _version(chain["ports"]["build1"]) == node
