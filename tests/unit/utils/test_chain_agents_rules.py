"""The agent pool's rules one by one (docs/jenkins_agent.md, "What one reconcile pass does"):
demand, scale-up, idle, max_uses, failures and back-off, orphans, rolling image change with
the canary; then ``decide()`` leaving the caller's memory alone."""

import copy

import pytest
from saltext.chain.utils import chain_agents_plan as plan

from tests.unit.utils.pool_cases import NOW, OWNER, agent, comp, opts


def view(o=None, agents=(), computers=None, demand=0, engine_total=0, now=NOW):
    return plan.PoolView(
        pool="p",
        owner=OWNER,
        opts=o or opts(),
        agents=list(agents),
        computers=computers or {},
        demand=demand,
        engine_total=engine_total,
        now=now,
    )


# --------------------------------------------------------------------------- demand


def test_demand_is_what_idle_and_starting_executors_leave_over():
    assert plan.wanted_for_demand(3, idle=0, starting=0, executors=1) == 3
    assert plan.wanted_for_demand(3, idle=1, starting=1, executors=1) == 1
    assert plan.wanted_for_demand(3, idle=2, starting=2, executors=1) == 0


def test_demand_is_sized_by_executors_per_agent():
    assert plan.wanted_for_demand(5, idle=0, starting=0, executors=2) == 3
    assert plan.wanted_for_demand(5, idle=1, starting=0, executors=2) == 2
    assert plan.wanted_for_demand(0, idle=0, starting=0, executors=2) == 0


# --------------------------------------------------------------------------- scale-up


def launch(o, wanted=0, starting=0, alive=0, engine_total=0, blocked_by=None):
    return plan.launch_count(
        o,
        wanted=wanted,
        starting=starting,
        alive=alive,
        engine_total=engine_total,
        blocked_by=blocked_by,
    )


def test_scale_up_keeps_min_without_demand():
    assert launch(opts(min=2)) == 2
    assert launch(opts(min=2), alive=1) == 1
    assert launch(opts(min=2, max_starting=5), wanted=4) == 4


def test_scale_up_caps_count_starting_agents():
    o = opts(max=4, max_starting=2, engine_cap=20)
    assert launch(o, wanted=9) == 2  # max_starting
    assert launch(o, wanted=9, starting=1, alive=1) == 1
    assert launch(o, wanted=9, starting=2, alive=2) == 0
    assert launch(o, wanted=9, alive=3) == 1  # max
    assert launch(opts(engine_cap=3), wanted=5, engine_total=2) == 1
    assert launch(opts(engine_cap=3), wanted=5, engine_total=5) == 0  # never negative


@pytest.mark.parametrize("why", ["backoff", "broken"])
def test_scale_up_launches_nothing_while_blocked(why):
    assert launch(opts(min=2), wanted=2, blocked_by=why) == 0


# --------------------------------------------------------------------------- idle


def test_idle_since_is_kept_from_the_first_idle_pass_and_cleared_by_work():
    idle, mem = plan.idle_mark(comp(), {"first_seen": 1}, NOW)
    assert idle and mem["idle_since"] == NOW
    idle, mem = plan.idle_mark(comp(), mem, NOW + 50)
    assert idle and mem["idle_since"] == NOW
    idle, mem = plan.idle_mark(comp(idle=False), mem, NOW + 60)
    assert not idle and "idle_since" not in mem


def test_an_agent_marked_temporarily_offline_is_not_idle():
    idle, mem = plan.idle_mark(comp(temp=True), {"idle_since": NOW - 5}, NOW)
    assert not idle and "idle_since" not in mem


def down(o, demand=0, idle=(), starting=0, alive=None, idle_since=None, now=NOW):
    idle = list(idle)
    return plan.scale_down(
        o,
        demand=demand,
        idle=idle,
        starting=starting,
        alive=len(idle) + starting if alive is None else alive,
        idle_since=idle_since or {},
        now=now,
    )


def test_scale_down_after_idle_minutes_longest_idle_first():
    o = opts(idle_minutes=1)
    since = {"p-a": NOW - 30, "p-b": NOW - 90, "p-c": NOW - 200}
    assert down(o, idle=["p-a", "p-b", "p-c"], idle_since=since) == ["p-c", "p-b"]
    assert down(opts(idle_minutes=0.5), idle=["p-a"], idle_since=since) == ["p-a"]


def test_scale_down_keeps_min_and_what_the_demand_will_take():
    o = opts(idle_minutes=0, min=1)
    since = {"p-a": NOW - 2, "p-b": NOW - 1, "p-c": NOW}
    assert down(o, idle=["p-a", "p-b", "p-c"], idle_since=since) == ["p-a", "p-b"]
    o = opts(idle_minutes=0)
    assert down(o, demand=2, idle=["p-a", "p-b", "p-c"], idle_since=since) == ["p-a"]
    # two executors each: one agent covers two queued items
    o = opts(idle_minutes=0, executors=2)
    assert down(o, demand=2, idle=["p-a", "p-b"], idle_since=since) == ["p-a"]


def test_no_scale_down_while_demand_exceeds_free_executors():
    o = opts(idle_minutes=0)
    assert down(o, demand=3, idle=["p-a", "p-b"], idle_since={"p-a": 0, "p-b": 0}) == []


# --------------------------------------------------------------------------- max_uses


def test_max_uses_zero_never_replaces():
    verdict, mem = plan.used_up(comp(builds=["b1", "b2"]), {}, opts(max_uses=0))
    assert verdict is None and mem["uses"] == ["b1", "b2"]


def test_max_uses_counts_distinct_builds_across_passes():
    o = opts(max_uses=2)
    verdict, mem = plan.used_up(comp(idle=False, builds=["b1"]), {}, o)
    assert verdict is None
    verdict, mem = plan.used_up(comp(idle=False, builds=["b1"]), mem, o)
    assert verdict is None and mem["uses"] == ["b1"]  # the same build seen twice
    verdict, mem = plan.used_up(comp(idle=False, builds=["b2"]), mem, o)
    assert verdict == plan.DRAIN and mem["uses"] == ["b1", "b2"]


def test_max_uses_drains_a_busy_agent_then_replaces_it_when_idle():
    o = opts(max_uses=1)
    mem = {"uses": ["b1"]}
    assert plan.used_up(comp(idle=False), mem, o)[0] == plan.DRAIN
    assert plan.used_up(comp(idle=False, temp=True), mem, o)[0] == plan.DRAINING
    assert plan.used_up(comp(idle=True, temp=True), mem, o)[0] == plan.REPLACE


# --------------------------------------------------------------------------- failures


def test_a_container_that_exited_goes_with_its_node_a_failure_only_if_never_online():
    o = opts()
    item, _ = plan.connection(agent("p-a", state="exited"), comp(offline=True), {}, o, NOW)
    assert item == {
        "node": "p-a",
        "container": "p-a",
        "reason": "its container is exited",
        "failed": True,
    }
    item, _ = plan.connection(
        agent("p-a", state="dead"), comp(offline=True), {"online_once": True}, o, NOW
    )
    assert item["reason"] == "its container is dead" and item["failed"] is False


def test_never_online_within_connect_timeout_is_a_failure():
    o = opts(connect_timeout=10)
    young = agent("p-a", created=NOW - 9)
    assert plan.connection(young, comp(offline=True), {}, o, NOW)[0] == plan.STARTING
    old = agent("p-a", created=NOW - 10)
    item, _ = plan.connection(old, comp(offline=True), {}, o, NOW)
    assert item["failed"] is True
    assert item["reason"] == "not online within connect_timeout (10 s)"


def test_online_once_then_offline_is_recycled_after_connect_timeout_without_failure():
    o = opts(connect_timeout=10)
    a = agent("p-a", created=NOW - 1000)
    verdict, mem = plan.connection(a, comp(offline=True), {"online_once": True}, o, NOW)
    assert verdict == plan.STARTING and mem["offline_since"] == NOW
    verdict, mem = plan.connection(a, comp(offline=True), mem, o, NOW + 10)
    assert verdict["reason"] == "offline longer than connect_timeout (recycled)"
    assert "failed" not in verdict
    verdict, mem = plan.connection(a, comp(), {**mem, "nodeless_since": 1}, o, NOW + 11)
    assert verdict is None and "offline_since" not in mem and "nodeless_since" not in mem


def test_an_agent_marked_temporarily_offline_is_no_start_failure():
    o = opts(connect_timeout=10)
    a = agent("p-a", created=NOW - 1000)
    verdict, _ = plan.connection(a, comp(offline=True, temp=True), {}, o, NOW)
    assert verdict is None


def test_came_online_only_the_first_time():
    newly, mem = plan.came_online(comp(), {})
    assert newly and mem["online_once"]
    assert plan.came_online(comp(), mem) == (False, mem)
    assert plan.came_online(comp(offline=True), {}) == (False, {})


def test_backoff_doubles_per_failure_and_is_capped():
    o = opts(backoff=30, backoff_max=300)
    assert [plan.backoff_until(n, o, NOW) - NOW for n in range(1, 6)] == [30, 60, 120, 240, 300]
    assert plan.backoff_until(3, opts(backoff=0), NOW) == NOW


def test_failure_marks_break_the_pool_at_max_failures():
    o = opts(backoff=10, max_failures=3)
    assert plan.failure_marks(0, 1, "x", o, NOW) == {"failures": 1, "backoff_until": NOW + 10}
    assert plan.failure_marks(1, 2, "why", o, NOW) == {
        "failures": 3,
        "backoff_until": NOW + 40,
        "broken": "why",
    }


def test_count_failures_backs_off_or_clears_on_first_online():
    o = opts(backoff=10, max_failures=5)
    memory = {"accepted": "sha256:1", "failures": 1}
    failed = [{"reason": "a", "failed": True}, {"reason": "b", "failed": True}]
    new = plan.count_failures(memory, failed, ["p-x"], o, NOW)
    assert new["failures"] == 3 and new["backoff_until"] == NOW + 40
    assert memory == {"accepted": "sha256:1", "failures": 1}  # the caller's is left alone
    cleared = plan.count_failures({**new, "broken": "b"}, [], ["p-x"], o, NOW)
    assert cleared == {"accepted": "sha256:1", "failures": 0}
    assert plan.count_failures(new, [], [], o, NOW) == new


def test_blocked_by_broken_then_backoff():
    assert plan.blocked({"broken": "x", "backoff_until": NOW - 1}, NOW) == "broken"
    assert plan.blocked({"backoff_until": NOW + 1}, NOW) == "backoff"
    assert plan.blocked({"backoff_until": NOW}, NOW) is None
    assert plan.blocked({}, NOW) is None


# --------------------------------------------------------------------------- orphans


def test_a_container_whose_node_is_gone_goes_after_orphan_grace():
    o = opts(orphan_grace=60)
    item, mem = plan.orphan_container(agent("p-a"), {"first_seen": 1}, o, NOW)
    assert item is None and mem["nodeless_since"] == NOW
    item, mem = plan.orphan_container(agent("p-a"), mem, o, NOW + 59)
    assert item is None
    item, _ = plan.orphan_container(agent("p-a"), mem, o, NOW + 60)
    assert item == {
        "node": None,
        "container": "p-a",
        "reason": "its node is gone from the controller",
    }


def test_a_stopped_container_whose_node_is_gone_goes_at_once():
    item, _ = plan.orphan_container(agent("p-a", state="exited"), {}, opts(), NOW)
    assert item["container"] == "p-a"


def test_only_our_nodes_whose_container_is_gone_are_deleted_after_the_grace():
    computers = {
        "p-x": comp(offline=True),
        "p-seen": comp(),
        "other": comp(desc="made by hand"),
        "p-y": comp(desc=plan.description("p", "another-minion")),
        "q-z": comp(desc=plan.description("q", OWNER)),
    }
    v = view(opts(orphan_grace=60), computers=computers)
    deletes, nodes = plan.orphan_nodes(v, {"p-seen"}, {})
    assert deletes == [] and set(nodes) == {"p-x"}
    assert nodes["p-x"]["containerless_since"] == NOW
    later = view(opts(orphan_grace=60), computers=computers, now=NOW + 60)
    deletes, _ = plan.orphan_nodes(later, {"p-seen"}, nodes)
    assert deletes == [
        {"node": "p-x", "container": None, "reason": "its container is gone from this engine"}
    ]


# --------------------------------------------------------------------------- rolling + canary


def test_current_means_the_accepted_image_and_the_pool_configuration():
    assert plan.is_current("sha256:1", "cfg", "sha256:1", "cfg")
    assert plan.is_current("sha256:2", "cfg", None, "cfg")  # nothing accepted yet
    assert not plan.is_current("sha256:2", "cfg", "sha256:1", "cfg")
    assert not plan.is_current("sha256:1", "old", "sha256:1", "cfg")


def test_a_new_image_is_taken_at_once_without_a_canary_and_clears_failures():
    memory = {"config": "c", "accepted": "sha256:1", "failures": 3, "broken": "x"}
    new = plan.accept_image(memory, config="c", image_id="sha256:2", accept=True)
    assert new == {"config": "c", "accepted": "sha256:2"}
    assert memory["accepted"] == "sha256:1" and memory["broken"] == "x"


def test_a_new_image_waits_for_the_canary_unless_none_was_accepted():
    memory = {"config": "c", "accepted": "sha256:1", "failures": 3}
    assert plan.accept_image(memory, config="c", image_id="sha256:2", accept=False) == memory
    first = plan.accept_image({"config": "c"}, config="c", image_id="sha256:2", accept=False)
    assert first["accepted"] == "sha256:2"
    assert plan.accept_image(memory, config="c", image_id=None, accept=True) == memory


def test_a_new_configuration_clears_failures():
    memory = {"config": "c1", "accepted": "sha256:1", "failures": 3, "backoff_until": NOW}
    new = plan.accept_image(memory, config="c2", image_id="sha256:1", accept=False)
    assert new == {"config": "c2", "accepted": "sha256:1"}


def test_new_agents_start_from_the_accepted_image_while_a_canary_is_pending():
    assert plan.image_to_launch("img:2", "sha256:2", "sha256:2") == "img:2"
    assert plan.image_to_launch("img:2", "sha256:2", None) == "img:2"
    assert plan.image_to_launch("img:2", None, "sha256:1") == "img:2"
    assert plan.image_to_launch("img:2", "sha256:2", "sha256:1") == "sha256:1"


def roll(agents, computers, online=None, starting=(), deleting=()):
    online = [a["node"] for a in agents] if online is None else online
    return plan.roll(agents, computers, online=online, starting=starting, deleting=deleting)


def test_roll_replaces_an_idle_outdated_agent_first():
    agents = [agent("p-a", current=False), agent("p-b", current=False), agent("p-c")]
    computers = {"p-a": comp(idle=False), "p-b": comp(), "p-c": comp()}
    item, drain = roll(agents, computers)
    assert item == {
        "node": "p-b",
        "container": "p-b",
        "reason": "image or configuration changed (rolled)",
    }
    assert drain is None


def test_roll_drains_a_busy_outdated_agent_never_killing_its_build():
    agents = [agent("p-a", current=False), agent("p-b", current=False)]
    busy = {"p-a": comp(idle=False), "p-b": comp(idle=False)}
    assert roll(agents, busy) == (None, "p-a")
    draining = {"p-a": comp(idle=False, temp=True), "p-b": comp(idle=False)}
    assert roll(agents, draining) == (None, None)  # one at a time


def test_roll_waits_for_starting_agents_and_deletions():
    agents = [agent("p-a", current=False)]
    computers = {"p-a": comp()}
    assert roll(agents, computers, starting=["p-n"]) == (None, None)
    assert roll(agents, computers, deleting=["p-a"]) == (None, None)
    assert roll(agents, computers, online=[]) == (None, None)  # only online agents roll
    assert roll([agent("p-a")], computers) == (None, None)


# --------------------------------------------------------------------------- one pass


def test_decide_returns_a_new_memory_and_leaves_the_callers_alone():
    memory = {"failures": 1, "backoff_until": NOW - 1, "nodes": {"p-a": {"first_seen": 1}}}
    before = copy.deepcopy(memory)
    v = view(opts(min=1), [agent("p-a")], {"p-a": comp()}, engine_total=1)
    out = plan.decide(v, memory)
    assert memory == before
    assert out["memory"]["failures"] == 0 and "backoff_until" not in out["memory"]
    assert out["memory"]["nodes"]["p-a"]["online_once"] is True
    assert out["memory"]["nodes"]["p-a"]["first_seen"] == 1


def test_decide_forgets_deleted_and_vanished_nodes():
    memory = {"nodes": {"p-a": {"first_seen": 1}, "p-gone": {"first_seen": 1}}}
    v = view(opts(), [agent("p-a", state="exited")], {"p-a": comp(offline=True)})
    out = plan.decide(v, memory)
    assert [d["node"] for d in out["delete"]] == ["p-a"]
    assert out["memory"]["nodes"] == {}


def test_decide_chains_the_rules():
    # p-a exited before ever coming online (a failure: back-off), p-b is outdated and idle
    # (rolled), demand 2: no launch while backing off, two once the back-off is over
    o = opts(backoff=30, max=4)
    agents = [agent("p-a", state="exited"), agent("p-b", current=False), agent("p-c")]
    computers = {"p-a": comp(offline=True), "p-b": comp(), "p-c": comp(idle=False)}
    out = plan.decide(view(o, agents, computers, demand=2, engine_total=3), {})
    assert [d["reason"] for d in out["delete"]] == [
        "its container is exited",
        "image or configuration changed (rolled)",
    ]
    assert out["online"] == ["p-c"] and out["outdated"] == []
    assert out["blocked"] == "backoff" and out["launch"] == 0
    assert out["backoff_until"] == NOW + 30
    assert set(out["memory"]["nodes"]) == {"p-c"}
    later = view(o, agents[2:], {"p-c": comp(idle=False)}, demand=2, engine_total=1, now=NOW + 30)
    again = plan.decide(later, out["memory"])
    assert again["delete"] == [] and again["launch"] == 2 and again["blocked"] is None


def test_plan_updates_the_callers_memory_in_place_and_returns_no_memory():
    memory = {"nodes": {}}
    same = memory
    out = plan.plan("p", opts(), [agent("p-a")], {"p-a": comp()}, 0, memory, NOW, 1, OWNER)
    assert "memory" not in out
    assert same["nodes"]["p-a"]["online_once"] is True


def test_pool_view_takes_keywords_only():
    with pytest.raises(TypeError):
        plan.PoolView("p", OWNER, opts(), [], {}, 0, 0, NOW)  # pylint: disable=too-many-function-args
