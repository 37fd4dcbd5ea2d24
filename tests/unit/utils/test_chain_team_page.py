"""chain_team_page: the team page's data model and HTML (pure)."""

import html.parser
import json

import pytest
from saltext.chain.utils import chain_team_page as page

NOW = 1_800_000_100.0
EVIL = "<script>window.pwned=1</script> & <img src=x onerror=alert(1)>"


def snapshot():
    stages = [
        {"name": "infrastructure", "started": NOW - 60, "ended": NOW - 55, "result": True},
        {"name": "pipeline", "started": NOW - 55, "ended": NOW - 30, "result": True},
        {"name": "rollout", "started": NOW - 30, "ended": NOW - 10, "result": True},
    ]
    return {
        "pushes": [
            {
                "id": 3,
                "pusher": "carol",
                "repo": "app",
                "vcs": "git",
                "branch": "main",
                "commit": "c" * 40,
                "message": EVIL,
                "received_at": NOW - 20,
                "state": "queued",
                "run_id": None,
                "superseded_by": None,
            },
            {
                "id": 2,
                "pusher": "bob",
                "repo": "app",
                "vcs": "hg",
                "branch": "default",
                "commit": "b" * 40,
                "message": "fix",
                "received_at": NOW - 61,
                "state": "superseded",
                "run_id": None,
                "superseded_by": 1,
            },
            {
                "id": 1,
                "pusher": "alice",
                "repo": "app",
                "vcs": "git",
                "branch": "main",
                "commit": "a" * 40,
                "message": "first",
                "received_at": NOW - 62,
                "state": "deployed",
                "run_id": "20270115T080000-abcdef",
                "superseded_by": None,
            },
        ],
        "runs": [
            {
                "run_id": "20270115T080100-fedcba",
                "app": "app",
                "repo": "app",
                "branch": "dev",
                "commit": "d" * 40,
                "deploy": False,
                "state": "failed",
                "started": NOW - 9,
                "ended": NOW - 2,
                "stages": [],
                "failure": "pipeline: unit tests failed",
                "console_tail": "FAILED test_x <b>boom</b>",
                "tests": {"total": 9, "failed": 1, "skipped": 0},
                "coverage": 71.25,
                "pushes": [4],
            },
            {
                "run_id": "20270115T080000-abcdef",
                "app": "app",
                "repo": "app",
                "branch": "main",
                "commit": "a" * 40,
                "deploy": True,
                "state": "deployed",
                "started": NOW - 60,
                "ended": NOW - 10,
                "stages": stages,
                "failure": None,
                "console_tail": None,
                "tests": None,
                "coverage": None,
                "pushes": [1],
                "superseded": [2],
            },
        ],
    }


def status():
    return {
        "app": {
            "servers": {
                "web1": {
                    "current": "127.0.0.1:5000/app@sha256:" + "1" * 64,
                    "replicas": {
                        "app-g2-1": {
                            "generation": 2,
                            "image": "r/app@sha256:" + "1" * 64,
                            "status": "running",
                            "health": "healthy",
                            "serving": True,
                            "restarts": 0,
                        },
                        "app-g2-2": {
                            "generation": 2,
                            "image": "r/app@sha256:" + "2" * 64,
                            "status": "running",
                            "health": "unhealthy",
                            "serving": False,
                            "restarts": 3,
                        },
                    },
                },
                "web2": {"error": "web2: no status answer"},
            },
            "jenkins": {
                "url": "http://127.0.0.1:8090/",
                "agents": {
                    "linux-0a1b2c3d": {
                        "offline": False,
                        "idle": True,
                        "labels": ["linux"],
                        "description": "saltext-chain jenkins_agent pool=linux owner=build1",
                        "builds": [],
                    },
                    "static-1": {
                        "offline": True,
                        "idle": True,
                        "labels": ["x"],
                        "description": "",
                        "builds": [],
                    },
                },
                "queue": [],
                "builds": [],
            },
        }
    }


def events():
    raw = [
        ("web1", "die", "app-g2-1", NOW - 20, {"exit_code": 137}),  # during the rollout
        ("web1", "die", "app-g2-2", NOW + 30, {"exit_code": 1}),  # outside: flagged
        ("web1", "health_status", "app-g2-2", NOW + 31, {"status": "healthy"}),
        ("build1", "die", "agent-x", NOW - 1, {"exit_code": 0}),  # not a replica
    ]
    out = []
    for server, action, name, when, extra in raw:
        labels = {} if name.startswith("agent") else {page.LABEL_SERVICE: "app"}
        out.append(
            page.supervision_event(
                {
                    "tag": f"salt/beacon/{server}/container_events/{action}/{name}",
                    "data": {
                        "id": server,
                        "action": action,
                        "name": name,
                        "time": when,
                        "labels": labels,
                        "container_id": name,
                        **extra,
                    },
                }
            )
        )
    return out


def data():
    snap = snapshot()
    history = {
        "app": [
            {
                "kind": "rollback",
                "started": NOW - 500,
                "duration": 12,
                "result": True,
                "image": "r/app@sha256:" + "9" * 64,
                "rolled_back": {"web1": {"image": "r/app@sha256:" + "9" * 64}},
                "comment": "rolled back",
            }
        ]
    }
    builds = {
        "app": [
            {
                "number": 7,
                "result": "SUCCESS",
                "ref": "a" * 40,
                "tests": {"total": 12, "failed": 0, "skipped": 1},
                "coverage": 88.4,
            }
        ]
    }
    windows = page.rollout_windows(history, snap["runs"], NOW)
    return page.merge(
        {"queue": snap, "history": history},
        {"at": NOW - 5, "status": status(), "builds": builds},
        events(),
        windows,
        NOW,
    )


class Parsed(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.text, self.scripts = [], set(), [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)
            if key in ("src", "href"):
                assert value in ("data:,",), (tag, key, value)
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def parse(text):
    parsed = Parsed()
    parsed.feed(text)
    return parsed


def test_document_has_every_section_and_one_inline_script():
    doc = page.document(data(), "/page-data/chain.json")
    parsed = parse(doc)
    for key, _ in page.SECTIONS:
        assert key in parsed.ids and f"s-{key}" in parsed.ids
    assert parsed.tags.count("script") == 1
    assert "fetch(url" in parsed.scripts[0] and "2000" in parsed.scripts[0]
    assert '<meta name="chain-data" content="/page-data/chain.json">' in doc
    assert "http" not in doc.replace("http://127.0.0.1:8090/", "")  # no external asset


def test_a_commit_message_with_markup_is_text():
    doc = page.document(data(), "/d/chain.json")
    parsed = parse(doc)
    assert EVIL in "".join(parsed.text)  # shown as it was written ...
    assert parsed.tags.count("script") == 1  # ... and never as markup
    assert "img" not in parsed.tags
    for fragment in page.payload(data())["html"].values():  # what the script swaps in
        inner = parse(fragment)
        assert "script" not in inner.tags and "img" not in inner.tags and "b" not in inner.tags
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.fragments(data())["s-pushes"]


def test_sections_show_what_happened():
    parts = page.fragments(data())
    text = {k: "".join(parse(v).text) for k, v in parts.items()}
    assert (
        "20270115T080000-abcdef" in text["s-runs"] and "by alice · superseded #2" in text["s-runs"]
    )
    assert parts["s-runs"].count('class="seg ok"') == 3  # the deployed run's three stages
    assert "superseded" in text["s-pushes"] and "by push 1" in text["s-pushes"]
    assert "sha256:111111111111" in text["s-where"] and "sha256:222222222222" in text["s-where"]
    assert "web2: no status answer" in text["s-where"]
    assert "pool linux" in text["s-agents"] and "not in a pool" in text["s-agents"]
    assert "build1" in text["s-agents"]
    assert (
        "rollback" in text["s-rollbacks"] and "web1 -> sha256:999999999999" in text["s-rollbacks"]
    )
    assert "FAILED test_x <b>boom</b>" in text["s-failures"]
    assert "#7" in text["s-tests"] and "88.4 %" in text["s-tests"]
    assert "71.2 %" in text["s-tests"] or "71.3 %" in text["s-tests"]  # the failed run's own
    assert "1 replica death(s) outside a rollout" in text["s-supervision"]


def test_supervision_flags_only_a_replica_dying_outside_a_rollout():
    sup = data()["supervision"]
    flagged = [e["name"] for e in sup["events"] if e["flag"]]
    assert flagged == ["app-g2-2"]
    assert sup["servers"]["web1"] == {"deaths": 2, "restarts": 1, "health": 1}
    assert sup["servers"]["build1"] == {"deaths": 1, "restarts": 0, "health": 0}
    # the control: without the rollout window the first death is flagged too
    alone = page.supervision(events(), [])
    assert sorted(e["name"] for e in alone["events"] if e["flag"]) == ["app-g2-1", "app-g2-2"]
    marked = [dict(e, during_rollout=True) for e in events()]
    assert page.supervision(marked, [])["flagged"] == 0


@pytest.mark.parametrize(
    "event",
    [
        None,
        {"tag": "salt/beacon/web1/container_events/die/x", "data": "no"},
        {"tag": "salt/beacon/web1/other/die/x", "data": {"time": 1}},
        {"tag": "salt/beacon/web1/container_events/die/x", "data": {"id": "web2", "time": 1}},
        {"tag": "salt/beacon/web1/container_events/die/x", "data": {"action": "oom", "time": 1}},
        {"tag": "salt/beacon/web1/container_events/die/x", "data": {"id": "web1"}},
    ],
)
def test_supervision_event_refuses_what_is_not_a_beacon_event(event):
    with pytest.raises(ValueError):
        page.supervision_event(event)


def test_add_events_is_bounded_and_keeps_the_newest():
    store = []
    for i in range(7):
        store = page.add_events(store, [{"time": float(i)}], 5)
    assert [e["time"] for e in store] == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_junit_and_coverage_reports():
    xml = (
        '<testsuites><testsuite tests="5" failures="1" errors="1" skipped="2"/>'
        '<testsuite tests="3" failures="0" errors="0" skipped="0"/></testsuites>'
    )
    assert page.junit_counts(xml) == {"total": 8, "failed": 2, "skipped": 2}
    assert page.junit_counts('<testsuite tests="2"/>') == {"total": 2, "failed": 0, "skipped": 0}
    assert page.junit_counts("not xml") is None
    assert page.coverage_percent(json.dumps({"totals": {"percent_covered": 83.333}})) == 83.3
    assert page.coverage_percent("{}") is None


def test_status_due_and_finished_builds():
    assert page.status_due(None, [], NOW, 30)
    assert not page.status_due(NOW - 10, [{"ended": NOW - 20}], NOW, 30)
    assert page.status_due(NOW - 10, [{"ended": NOW - 5}], NOW, 30)  # a run ended since
    assert page.status_due(NOW - 31, [], NOW, 30)
    builds = [
        {"number": 3, "result": "BUILDING"},
        {"number": 2, "result": "SUCCESS"},
        {"number": 1, "result": "FAILURE"},
    ]
    assert page.finished_builds(builds, {"1": {}}) == [2]


def test_payload_round_trips_as_json():
    doc = json.loads(json.dumps(page.payload(data())))
    assert set(doc["html"]) == {f"s-{k}" for k, _ in page.SECTIONS} | {"summary"}
    assert doc["generated"] == NOW and doc["data"]["queue"]["runs"][0]["state"] == "failed"


def test_an_empty_page_renders():
    empty = page.merge({}, None, [], [], NOW)
    parsed = parse(page.document(empty, "/static/chain.json"))
    assert {k for k, _ in page.SECTIONS} <= parsed.ids
    assert "no run yet" in "".join(parsed.text)
