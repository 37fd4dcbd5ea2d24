"""The team's page, end to end: the ``chain_page`` runner writes it, salt-api serves it (no
token), the supervision reactor hands beacon events to the runner, and headless Chromium renders
it without a console error and follows new data without a reload."""

import json
import os
import time

import pytest
import requests
from saltext.chain.utils import chain_run_store, chain_team_page

from tests.browser import queue_data
from tests.support import browser as browsers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: A value crafted to add a reaction if the reactor rendered it (it must arrive as it is).
CRAFTED = "x'\"}\nevil:\n  runner.test.arg: [{{ 7 * 7 }}]\n{% raw %}"
EVIL = "<script>window.pwned = 1</script>fix the <b>login</b>"


def _expensive(now):
    """chain.status's data as the runner last gathered it (this master has no minions)."""
    replica = {
        "generation": 4,
        "status": "running",
        "health": "healthy",
        "serving": True,
        "restarts": 0,
    }
    server = {
        "current": "127.0.0.1:5000/chain/app@sha256:" + "a1" * 32,
        "replicas": {
            f"app-g4-{i}": dict(replica, image="127.0.0.1:5000/chain/app@sha256:" + "a1" * 32)
            for i in (1, 2)
        },
    }
    agents = {
        "linux-3f2a1c9d": {
            "offline": False,
            "idle": False,
            "labels": ["linux"],
            "builds": ["job/app-pipeline/12/"],
            "description": "saltext-chain jenkins_agent pool=linux owner=build1",
        },
        "linux-77b0e4aa": {
            "offline": False,
            "idle": True,
            "labels": ["linux"],
            "builds": [],
            "description": "saltext-chain jenkins_agent pool=linux owner=build1",
        },
    }
    builds = [
        {"number": 12, "result": "SUCCESS", "duration": 14.2, "ref": "c" * 40, "agent": None},
        {"number": 11, "result": "FAILURE", "duration": 9.8, "ref": "d" * 40, "agent": None},
    ]
    return {
        "at": now,
        "status": {
            "app": {
                "servers": {"app1": server, "app2": server},
                "jenkins": {
                    "url": "http://127.0.0.1:8090/",
                    "agents": agents,
                    "queue": [],
                    "builds": builds,
                },
            }
        },
        "builds": {
            "app": [
                dict(builds[0], tests={"total": 42, "failed": 0, "skipped": 1}, coverage=91.3),
                dict(builds[1], tests={"total": 42, "failed": 2, "skipped": 1}, coverage=90.8),
            ]
        },
    }


def _write(page_api):
    ret = page_api["run"].run("chain_page.write", "refresh=False")
    assert ret.returncode == 0, ret.stderr
    keys = {"path", "url", "data", "generated", "status_at", "runs", "pushes", "events"}
    assert set(ret.data) == keys
    assert ret.data["url"] == "/page/index.html" and ret.data["data"] == "/page/chain.json"
    if os.environ.get("CHAIN_PAGE_SHOW"):
        print("chain_page.write:", json.dumps(ret.data, sort_keys=True))
    return ret.data


def _wait(predicate, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _served(page_api):
    resp = requests.get(page_api["data_url"], timeout=10)
    return resp.json() if resp.status_code == 200 else None


@pytest.fixture(scope="module")
def seeded(page_api, queue):
    """Pushes and runs in the queue (one deployed; one failed, whose newer push superseded an
    older one), a failed rollout in the history, the status last gathered, and three beacon
    events sent through the master's reactor."""
    now = time.time()
    os.makedirs(os.path.dirname(page_api["queue"]), exist_ok=True)
    five = [(name, 2.0 + i, True) for i, name in enumerate(queue_data.STAGES)]
    queue.run([(1, "alice", "c", "add /version")], now - 300, five, end="deployed")
    queue.run(
        [(2, "bob", "e", "wip"), (3, "carol", "d", EVIL)],
        now - 120,
        [("infrastructure", 2.0, True), ("pipeline", 3.0, False)],
        end="failed",
        failure="pipeline: jenkins_build.succeeded app-pipeline #11: FAILURE",
        console_tail="FAILED tests/test_app.py::test_login - <b>assert</b> 500 == 200\n"
        "Finished: FAILURE",
        tests={"total": 42, "failed": 2, "skipped": 1},
        coverage=90.8,
    )
    root = str(page_api["cachedir"] / "chain")
    chain_run_store.record(
        root,
        "app",
        {
            "kind": "rollout",
            "result": False,
            "started": now - 900,
            "duration": 20,
            "image": "127.0.0.1:5000/chain/app@sha256:" + "b2" * 32,
            "comment": "app2 unhealthy",
            "rolled_back": {
                "app1": {"result": True, "image": "127.0.0.1:5000/chain/app@sha256:" + "a1" * 32}
            },
        },
    )
    state = page_api["cachedir"] / "saltext-chain" / "page-state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "status.json").write_text(json.dumps(_expensive(now)))
    _write(page_api)
    events = [
        ("app1", "die", "app-g4-2", {"exit_code": 137}),
        ("app1", "health_status", "app-g4-2", {"status": "starting"}),
        ("app2", "health_status", "app-g4-1", {"status": "unhealthy", "image": CRAFTED}),
    ]
    for server, action, name, extra in events:
        data = {
            "id": server,
            "action": action,
            "name": name,
            "time": time.time(),
            "container_id": name,
            "labels": {chain_team_page.LABEL_SERVICE: "app"},
            **extra,
        }
        ret = page_api["run"].run(
            "event.send",
            f"salt/beacon/{server}/container_events/{action}/{name}",
            f"data={json.dumps(data)}",
        )
        assert ret.returncode == 0, ret.stderr
    served = _wait(
        lambda: (d := _served(page_api)) and len(d["data"]["supervision"]["events"]) == 3 and d,
        what="the reactor to record the three beacon events",
    )
    return {"now": now, "served": served}


def test_salt_api_serves_the_page_and_its_data_without_a_token(page_api, seeded):
    resp = requests.get(page_api["url"], timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert 'name="chain-data" content="/page/chain.json"' in resp.text
    data = requests.get(page_api["data_url"], timeout=10)
    assert data.status_code == 200 and data.json()["data"]["queue"]["runs"]
    # the controls: salt-api's own API still wants a token, and a webhook delivery without an
    # Accept header still reaches the webhook (with `app` set it would get the page, 200)
    assert requests.get(page_api["base"] + "/jobs", timeout=10).status_code == 401
    hook = requests.post(
        page_api["base"] + "/hook/chain/push",
        data=b"{}",
        headers={"Accept": None, "Content-Type": "application/json"},
        timeout=10,
    )
    assert hook.status_code == 401 and "<!DOCTYPE html>\n<html" not in hook.text


def test_the_reactor_hands_beacon_events_over_as_data(seeded):
    sup = seeded["served"]["data"]["supervision"]
    assert sup["servers"]["app1"] == {"deaths": 1, "restarts": 1, "health": 1}
    assert sup["flagged"] == 1  # app-g4-2 died outside a rollout
    assert [e["name"] for e in sup["events"] if e["flag"]] == ["app-g4-2"]
    assert [e["image"] for e in sup["events"] if e["server"] == "app2"] == [CRAFTED]


def test_the_page_renders_and_follows_new_runs(page_api, seeded, browser, queue, tmp_path):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    browser.get(page_api["url"])
    for key, title in chain_team_page.SECTIONS:
        assert title in browsers.text(browser, f"#{key}")
        assert browsers.text(browser, f"#s-{key}").strip(), key
    body = browsers.text(browser, "body")
    assert EVIL in body  # the commit message shown as text ...
    assert browser.execute_script("return window.pwned === undefined")  # ... never run
    assert "1 replica death(s) outside a rollout" in body
    _wait(lambda: browsers.text(browser, "#live") == "live", what="the first refresh")
    browser.execute_script("window.notReloaded = true")
    before = set(
        browser.execute_script(
            "return [...document.querySelectorAll('.run')].map(e => e.dataset.run)"
        )
    )
    new = queue.run(
        [(4, "dave", "f", "speed up /health")],
        time.time() - 15,
        [("infrastructure", 2.0, True), ("pipeline", 13.0, None)],
    )
    assert new not in before
    _write(page_api)
    written = time.monotonic()
    _wait(
        lambda: browser.find_elements(By.CSS_SELECTOR, f'[data-run="{new}"]'),
        timeout=10,
        what="the new run on the page",
    )
    took = time.monotonic() - written
    if os.environ.get("CHAIN_PAGE_SHOW"):
        print(f"the new run on the page {took:.2f} s after chain_page.write returned")
    assert browser.execute_script("return window.notReloaded === true")  # no reload
    assert took <= 2 + 3, took  # the page fetches every 2 s
    assert "dave" in browsers.text(browser, "#s-runs")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    shot = os.environ.get("CHAIN_PAGE_SCREENSHOT") or str(tmp_path / "team-page.png")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 200, 4000))
    assert browser.save_screenshot(shot)
