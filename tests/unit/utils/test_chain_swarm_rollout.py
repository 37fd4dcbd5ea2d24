"""chain_swarm_rollout: the chain runner's decisions for an app in Swarm mode (pure), and what
chain.status's text and page show of its service (tasks per node)."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_status_page as page
from saltext.chain.utils import chain_status_text as text
from saltext.chain.utils import chain_swarm_rollout as sr

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
IMG1, IMG2 = f"reg:5000/app@{D1}", f"reg:5000/app@{D2}"


def _task(tid, node, addr, image=IMG1, state="running"):
    view = {"id": tid, "slot": 1, "node": node, "state": state, "desired": "running"}
    return dict(view, generation="g1", image=image, addr=addr, error=None)


def status(*tasks, replicas=2, state="completed", current=IMG1, serving=("10.0.0.3", "10.0.0.4")):
    out = {}
    for task in tasks or (
        _task("t" * 25, "node1", "10.0.0.3"),
        _task("u" * 25, "node2", "10.0.0.4"),
    ):
        out.setdefault(task["node"], []).append(sr.annotate(task, serving))
    return {
        "mode": "swarm",
        "service": "app",
        "replicas": replicas,
        "update_state": state,
        "image": current,
        "current": current,
        "history": [current],
        "tasks": out,
    }


def test_settings_containers_by_default_and_swarm_with_its_manager():
    assert sr.settings({"pillar": {}}, ["a", "b"]) == ("containers", None, ["a", "b"])
    conf = {"pillar": {"chain": {"service": {"mode": "swarm", "manager": "m"}}}}
    assert sr.settings(conf, None) == ("swarm", "m", ["m"])
    assert sr.settings(conf, ["m"]) == ("swarm", "m", ["m"])
    with pytest.raises(SaltInvocationError, match="deployed on its manager only"):
        sr.settings(conf, ["m", "n"])


def test_status_call_reads_the_service_with_its_frontend_and_profile():
    conf = {"backend": "app", "pillar": {"chain": {"profile": {"base_url": "tcp://x:2375"}}}}
    names = {"service": "app", "frontend": "fe", "network": "ov"}
    assert sr.status_call(conf, names) == (
        ["app"],
        {
            "network": "ov",
            "frontend": "fe",
            "backend": "app",
            "profile": {"base_url": "tcp://x:2375"},
        },
    )


def test_annotate_digest_health_serving():
    task = sr.annotate(_task("t1", "n1", "10.0.0.3"), {"10.0.0.3"})
    assert (task["digest"], task["health"], task["serving"]) == (D1, "healthy", True)
    task = sr.annotate(_task("t1", "n1", "10.0.0.9", image="app:1", state="starting"), set())
    assert (task["digest"], task["health"], task["serving"]) == (None, "starting", False)
    assert sr.annotate(_task("t1", "n1", "10.0.0.3"), None)["serving"] is None


def test_problem_accepts_a_converged_serving_service():
    assert sr.problem(status(), IMG1, "fe") is None
    # Swarm keeps saying so after a rollback until the next update: settled, not a problem
    assert sr.problem(status(state="rollback_completed"), IMG1, "fe") is None
    assert sr.problem(status(serving=None), IMG1, None) is None  # no frontend: not judged


@pytest.mark.parametrize(
    "found, image, says",
    [
        (None, IMG1, "no Swarm service status"),
        (status(state="rollback_started"), IMG1, "update state is rollback_started"),
        (status(state="paused"), IMG1, "update state is paused"),
        (status(replicas=3), IMG1, "2/3 task(s) running"),
        (status(), IMG2, f"runs {IMG1}, not {IMG2}"),
        (
            status(_task("t" * 25, "n1", "10.0.0.3"), _task("u" * 25, "n2", "10.0.0.4", IMG2)),
            IMG1,
            "task(s) uuuuuuuuuuuu run another image",
        ),
        (status(serving=("10.0.0.3",)), IMG1, "task(s) uuuuuuuuuuuu on node2 not serving in"),
        (dict(status(serving=None), frontend_error="no such container"), IMG1, "fe: no such"),
    ],
)
def test_problem_names_what_is_wrong(found, image, says):
    assert says in sr.problem(found, image, "fe")


def test_certain_change_only_for_a_pinned_digest_some_task_lacks():
    assert sr.certain_change(IMG2, status()) is True
    assert sr.certain_change(IMG1, status()) is False
    assert sr.certain_change("app:2", status()) is False  # a tag: the test-mode check decides
    assert sr.certain_change(IMG1, None) is False  # no answer: the check decides
    assert sr.certain_change(IMG1, dict(status(), tasks={})) is True


def test_no_op_needs_an_unchanged_state_and_a_well_service():
    states = {"svc": {"result": True, "changes": {}}, "fe": {"result": True, "changes": {}}}
    got = {("state", "m"): states, ("status", "m"): status()}
    found = sr.no_op(["m"], got, "fe", 1.5)
    assert found["m"]["result"] is True and found["m"]["no_op"] is True
    assert found["m"]["previous"] == IMG1 and found["m"]["service"] == "app"
    assert sorted(found["m"]["tasks"]) == ["node1", "node2"]
    assert (
        "2 state(s) unchanged in test mode, 2 task(s) healthy and serving" in found["m"]["comment"]
    )
    changed = dict(states, svc={"result": None, "changes": {"generation": {}}})
    assert sr.no_op(["m"], {**got, ("state", "m"): changed}, "fe", 1) is None
    assert sr.no_op(["m"], {**got, ("status", "m"): status(replicas=3)}, "fe", 1) is None
    assert sr.no_op(["m"], {**got, ("status", "m"): None}, "fe", 1) is None
    assert sr.no_op(["m"], {("status", "m"): status()}, "fe", 1) is None


def test_entry_is_the_server_entry_with_the_tasks_per_node():
    found = sr.entry(True, "2 state(s) succeeded", None, 12.345, IMG1, status())
    assert found["result"] is True and found["seconds"] == 12.35 and found["previous"] == IMG1
    assert found["mode"] == "swarm" and found["service"] == "app"
    assert found["tasks"]["node1"] == [
        {"id": "t" * 25, "state": "running", "health": "healthy", "digest": D1, "serving": True}
    ]
    failed = sr.entry(True, "ok", "task(s) x not serving", 1, None, None)
    assert failed["result"] is False and failed["comment"] == "task(s) x not serving"
    assert "tasks" not in failed


def test_task_rows_and_headline():
    rows = sr.task_rows(status(serving=("10.0.0.3",)))
    assert [(r["node"], r["serving"], r["digest"]) for r in rows] == [
        ("node1", "serving", D1),
        ("node2", "out", D1),
    ]
    assert sr.task_rows(status(serving=None))[0]["serving"] == "-"
    assert sr.headline(status()) == f"swarm service app: {IMG1} (2/2 task(s), update completed)"


DATA = {
    "app": {"servers": {"mgr": status()}, "last_deploy": None, "jenkins": None, "registry": None}
}


def test_status_text_shows_the_tasks_per_node():
    lines = text.table(DATA, {}, 0).splitlines()
    assert lines[1] == f"  mgr: swarm service app: {IMG1} (2/2 task(s), update completed)"
    assert lines[2].split() == ["node1", "t" * 12, "running", "healthy", D1, "serving"]
    assert lines[3].split()[0] == "node2"


def test_status_page_shows_the_tasks_per_node():
    html = page.render(DATA, now=0)
    assert "<th>node</th><th>task</th><th>state</th><th>health</th><th>image digest</th>" in html
    assert "<td>node2</td>" in html and f"<code>{D1}</code>" in html
    assert '<td class="ok">serving</td>' in html and '<td class="ok">healthy</td>' in html


def test_a_swarm_failure_says_the_service_rolled_itself_back():
    entry = {
        "app": "app",
        "kind": "rollout",
        "image": IMG2,
        "mode": "swarm",
        "result": False,
        "no_op": False,
        "servers": {"mgr": {"result": False, "comment": "Service app: ...; rolled back"}},
        "rolled_back": {},
        "now": {"mgr": IMG1},
    }
    assert text.rollout_comment(entry).splitlines() == [
        f"rollout of app to {IMG2} failed on mgr",
        "  mgr: Service app: ...; rolled back",
        "  rolled back by the deploy state itself, if it says so above",
        f"  now: mgr runs {IMG1}",
    ]


def test_a_swarm_success_and_no_op_name_the_service_and_its_tasks():
    entry = {"app": "app", "kind": "rollout", "image": IMG1, "mode": "swarm", "rolled_back": {}}
    server = sr.entry(True, "3 state(s) succeeded", None, 5, None, status())
    entry = dict(entry, result=True, no_op=False, servers={"mgr": server})
    assert text.rollout_comment(entry) == (
        f"rollout of app to {IMG1}: Swarm service app on mgr: updated (2 task(s))"
    )
    assert text.rollout_comment(dict(entry, no_op=True)) == (
        f"rollout of app to {IMG1}: Swarm service app on mgr: no change, it already runs it "
        "(2 task(s))"
    )
