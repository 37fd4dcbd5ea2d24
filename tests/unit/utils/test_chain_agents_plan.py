"""Pool planning: demand, caps counting starting agents, back-off, orphans, scale-down, uses."""

import pytest
from saltext.chain.utils import chain_agents_plan as plan
from saltext.chain.utils.chain_errors import BadInput

from tests.unit.utils.pool_cases import NOW, OWNER, agent, comp, opts


def run(o, agents=(), computers=None, demand=0, memory=None, now=NOW, engine_total=None):
    memory = {} if memory is None else memory
    total = len(agents) if engine_total is None else engine_total
    return plan.plan("p", o, list(agents), computers or {}, demand, memory, now, total, OWNER)


def test_demand_matches_label_expressions_and_pool_nodes():
    items = [
        {"buildable": True, "why": "Waiting for next available executor on ‘linux&&docker’"},
        {"buildable": True, "why": "There are no nodes with the label ‘linux’"},
        {"buildable": True, "why": "All nodes of label ‘windows’ are offline"},
        {"buildable": True, "why": "‘p-1’ is offline"},
        {"buildable": False, "why": "There are no nodes with the label ‘linux’"},
        {"buildable": True, "why": "Waiting for next available executor"},
        {"buildable": True, "why": "x", "label": "!windows"},
    ]
    assert plan.demand(items, ["linux", "docker"], {"p-1"}) == 4


def test_demand_reads_the_tasks_label_when_the_why_names_none():
    # Queue.BuildableItem.getCauseOfBlockage (2.568.2): with no agent node at all the why is
    # the bare "Waiting for next available executor"; the task's labelExpression still says
    why = "Waiting for next available executor"
    items = [
        {"buildable": True, "why": why, "label": "p-l&&linux"},
        {"buildable": True, "why": why, "label": "p-l&&windows"},
        {"buildable": True, "why": why, "label": None},
    ]
    assert plan.demand(items, ["p-l", "linux"]) == 1


def test_idle_agents_demand_will_take_are_not_scaled_down():
    o = opts(min=0, idle_minutes=0)
    agents = [agent("p-a"), agent("p-b")]
    computers = {"p-a": comp(), "p-b": comp()}
    assert len(run(o, agents, computers, demand=1)["scale_down"]) == 1
    assert run(o, agents, computers, demand=2)["scale_down"] == []
    assert len(run(o, agents, computers, demand=0)["scale_down"]) == 2


def test_scale_up_from_demand_counts_starting_agents_and_caps():
    o = opts(max=4, max_starting=2)
    assert run(o, demand=3)["launch"] == 2  # max_starting
    starting = [agent("p-a")]
    out = run(o, starting, {"p-a": comp(offline=True)}, demand=3)
    assert out["starting"] == ["p-a"]
    assert out["launch"] == 1  # 3 wanted, one starting already counts; max_starting 2
    out = run(
        o,
        [agent("p-a"), agent("p-b")],
        {"p-a": comp(offline=True), "p-b": comp(offline=True)},
        demand=5,
    )
    assert out["launch"] == 0  # two starting = max_starting (no provisioning storm)
    four = [agent(f"p-{i}") for i in range(4)]
    out = run(o, four, {f"p-{i}": comp(idle=False) for i in range(4)}, demand=9)
    assert out["launch"] == 0  # max
    assert run(opts(engine_cap=3), demand=5, engine_total=2)["launch"] == 1


def test_executors_size_the_launch_and_min_is_kept():
    assert run(opts(executors=2, max_starting=5), demand=3)["launch"] == 2
    assert run(opts(min=2), demand=0)["launch"] == 2


def test_idle_online_executors_absorb_demand():
    out = run(opts(), [agent("p-a")], {"p-a": comp()}, demand=1)
    assert out["launch"] == 0


def test_never_online_agents_back_off_then_broken():
    o = opts(connect_timeout=10, max_failures=2, backoff=30, min=1)
    memory = {}
    out = run(o, [agent("p-a", created=NOW - 11)], {"p-a": comp(offline=True)}, memory=memory)
    assert [d["reason"] for d in out["delete"]] == ["not online within connect_timeout (10 s)"]
    assert out["delete"][0]["failed"] and out["launch"] == 0 and out["blocked"] == "backoff"
    assert memory["backoff_until"] == NOW + 30
    out = run(o, memory=memory, now=NOW + 31)
    assert out["launch"] == 1  # back-off expired
    out = run(
        o,
        [agent("p-b", created=NOW + 20)],
        {"p-b": comp(offline=True)},
        memory=memory,
        now=NOW + 31,
    )
    assert out["broken"] and out["blocked"] == "broken" and out["launch"] == 0
    out = run(o, memory=memory, now=NOW + 10_000)
    assert out["launch"] == 0 and out["broken"]  # not retried forever


def test_first_online_resets_failures():
    memory = {"failures": 1, "backoff_until": NOW + 5}
    out = run(opts(), [agent("p-a")], {"p-a": comp()}, memory=memory)
    assert "failures" not in memory or memory["failures"] == 0
    assert out["blocked"] is None


def test_orphans_after_grace_and_exited_containers():
    o = opts(orphan_grace=60)
    memory = {}
    out = run(o, [agent("p-a")], {}, memory=memory)
    assert out["delete"] == []  # grace
    out = run(o, [agent("p-a")], {}, memory=memory, now=NOW + 61)
    assert out["delete"] == [
        {"node": None, "container": "p-a", "reason": "its node is gone from the controller"}
    ]
    memory = {}
    nodes = {
        "p-x": comp(offline=True),
        "other": comp(desc="not ours"),
        "p-y": comp(desc=plan.description("p", "another-minion")),
    }
    run(o, [], nodes, memory=memory)
    out = run(o, [], nodes, memory=memory, now=NOW + 61)
    assert out["delete"] == [
        {"node": "p-x", "container": None, "reason": "its container is gone from this engine"}
    ]
    out = run(o, [agent("p-a", state="exited")], {"p-a": comp(offline=True)})
    assert out["delete"][0]["reason"] == "its container is exited"


def test_scale_down_after_idle_minutes_to_min():
    o = opts(min=1, idle_minutes=1)
    memory = {}
    agents = [agent("p-a"), agent("p-b")]
    computers = {"p-a": comp(), "p-b": comp()}
    assert run(o, agents, computers, memory=memory)["scale_down"] == []
    out = run(o, agents, computers, memory=memory, now=NOW + 61)
    assert len(out["scale_down"]) == 1  # down to min, not below
    busy = {"p-a": comp(idle=False), "p-b": comp(idle=False)}
    assert run(o, agents, busy, memory={}, now=NOW + 1000)["scale_down"] == []


def test_max_uses_disables_then_replaces():
    o = opts(max_uses=1)
    memory = {}
    out = run(o, [agent("p-a")], {"p-a": comp(idle=False, builds=["job/x/1/"])}, memory=memory)
    assert out["disable"] == ["p-a"]
    out = run(o, [agent("p-a")], {"p-a": comp(temp=True, idle=True)}, memory=memory)
    assert out["delete"][0]["reason"] == "used 1 time(s) (max_uses)"


def test_outdated_agents_roll_one_at_a_time_when_idle():
    o = opts()
    agents = [agent("p-a", current=False), agent("p-b", current=False)]
    out = run(o, agents, {"p-a": comp(idle=False), "p-b": comp()})
    assert [d["node"] for d in out["delete"]] == ["p-b"]
    out = run(o, agents, {"p-a": comp(idle=False), "p-b": comp(idle=False)})
    assert out["delete"] == [] and out["disable"] == ["p-a"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"label": "linux", "min": "x"}, "min"),
        ({"label": "linux", "min": 3, "max": 2}, "min"),
        ({}, "label"),
        ({"label": "a&&b"}, "label"),
        ({"label": "linux", "idle_minutes": "soon"}, "idle_minutes"),
        ({"label": "linux", "bogus": 1}, "unknown option"),
        ({"label": "linux", "container_options": {"command": "x"}}, "command"),
        (
            {"label": "linux", "container_options": {"environment": {"JENKINS_SECRET": "s"}}},
            "secret",
        ),
        ({"label": "linux", "canary_job": 5}, "canary_job"),
        ({"label": "linux", "remote_fs": "rel"}, "remote_fs"),
    ],
)
def test_bad_pool_options(kwargs, match):
    with pytest.raises(BadInput, match=match):
        plan.pool_options("p", kwargs)


def test_bad_names():
    with pytest.raises(BadInput, match="name"):
        plan.pool_options("Bad Name", {"label": "x"})
    with pytest.raises(BadInput, match="name"):
        plan.check_name("a/b", node=True)


def test_agent_command_carries_the_secret_only_as_a_file():
    args = plan.agent_command("http://c/", "n", "/w")
    assert args[args.index("-secret") + 1] == "@/run/jenkins-agent/secret"
    assert "-webSocket" in args


@pytest.mark.parametrize("label", ["a\nb", "a\u00a0b", "a\rb", "a\fb"])
def test_a_pool_label_holds_no_whitespace(label):
    # Jenkins splits a node's label string on any whitespace (hudson.model.Label.parse,
    # QuotedStringTokenizer): such a label would become two.
    with pytest.raises(BadInput, match="not a plain label atom"):
        plan._labels_list([label], "labels")
    assert plan._labels_list(["linux", "docker"], "labels") == ["docker", "linux"]
