"""Pure logic of Swarm mode: the Swarm-only options, the ServiceSpec of a declaration
(UpdateConfig/RollbackConfig, placement, published port), the two digests, task views, where a
rollout stands, the frontend following the tasks, and the changes reported."""

import pytest
from saltext.chain.utils import chain_errors
from saltext.chain.utils import chain_service_plan as plan
from saltext.chain.utils import chain_swarm as swarm

HC = {"test": "true", "interval": "1s", "timeout": "1s", "retries": 2}


def _svc(**extra):
    spec_args = {"healthcheck": HC, "environment": {"A": "1"}, "command": ["app"]}
    spec_args.update(extra.pop("spec_args", {}))
    return plan.service("web", "reg:5000/app:2", spec_args, **{"network": "net", **extra})


def _opts(svc, **extra):
    return swarm.options("swarm", spec=svc["spec"], update=svc["update"], **extra)


def test_swarm_options_only_with_mode_swarm():
    assert swarm.options("containers") is None
    with pytest.raises(chain_errors.BadInput, match="placement, publish: only with mode: swarm"):
        swarm.options("containers", placement={"role": "app"}, publish=80)
    with pytest.raises(chain_errors.BadInput, match="endpoint_mode: only with mode: swarm"):
        swarm.options("containers", endpoint_mode="dnsrr")
    with pytest.raises(chain_errors.BadInput, match="mode: expected one of containers, swarm"):
        swarm.check_mode("cluster")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"placement": ["node.role==manager"]}, "placement: expected a mapping"),
        ({"placement": {"role": "a=b"}}, "no '='"),
        ({"placement": {"role": ["x"]}}, "expected a label name"),
        ({"publish": {"port": "x"}}, "publish.port"),
        ({"publish": {"port": 80, "mode": "mesh"}}, "publish.mode"),
        ({"publish": {"port": 80, "proto": "udp"}}, "publish: expected"),
        ({"publish": True}, "publish: expected"),
        ({"endpoint_mode": "rr"}, "endpoint_mode: expected"),
        ({"publish": 80, "endpoint_mode": "dnsrr"}, "needs endpoint_mode vip"),
    ],
)
def test_swarm_options_refused(kwargs, message):
    with pytest.raises(chain_errors.BadInput, match=message):
        swarm.options("swarm", **kwargs)


def test_swarm_refuses_container_options_a_task_does_not_take_and_update_limit():
    svc = _svc(spec_args={"memory": "64m", "ports": {8000: 8000}})
    with pytest.raises(chain_errors.BadInput, match=r"^memory, ports: not a task option"):
        _opts(svc)
    svc = _svc(update={"monitor": 4, "limit": 1})
    with pytest.raises(chain_errors.BadInput, match="update.limit"):
        _opts(svc)


def test_service_spec_maps_the_update_policy_placement_and_port():
    svc = _svc(
        replicas=3,
        update={"parallelism": 2, "delay": 1.5, "monitor": 4, "max_failure_ratio": 0.5,
                "failure_action": "pause", "order": "stop-first"},
    )  # fmt: skip
    opts = _opts(svc, placement={"zone": "b", "role": "app"}, publish={"port": 8080})
    gens = swarm.generations(svc, opts, "sha256:1")
    spec = swarm.service_spec(svc, opts, "reg:5000/app@sha256:9", gens, ["reg:5000/app@sha256:9"])
    assert spec["UpdateConfig"] == {
        "Parallelism": 2,
        "Delay": 1_500_000_000,
        "FailureAction": "pause",
        "Monitor": 4_000_000_000,
        "MaxFailureRatio": 0.5,
        "Order": "stop-first",
    }
    assert spec["RollbackConfig"] == dict(spec["UpdateConfig"], Delay=0, FailureAction="continue")
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    task = spec["TaskTemplate"]
    assert task["Placement"] == {"Constraints": ["node.labels.role==app", "node.labels.zone==b"]}
    assert task["Networks"] == [{"Target": "net"}]
    ctr = task["ContainerSpec"]
    assert ctr["Image"] == "reg:5000/app@sha256:9"
    assert ctr["Env"] == ["A=1"] and ctr["Args"] == ["app"] and "Command" not in ctr
    assert ctr["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert ctr["Labels"][plan.LABEL_GENERATION] == gens[0]
    assert spec["EndpointSpec"] == {
        "Mode": "vip",
        "Ports": [
            {"Protocol": "tcp", "TargetPort": 8000, "PublishedPort": 8080, "PublishMode": "ingress"}
        ],
    }
    assert spec["Labels"][swarm.LABEL_SPEC] == gens[1]


def test_generations_task_digest_moves_only_with_what_replaces_tasks():
    svc = _svc()
    opts = _opts(svc)
    gen, whole = swarm.generations(svc, opts, "sha256:1")
    assert swarm.generations(svc, opts, "sha256:2")[0] != gen  # a rebuilt image
    other = _svc(update={"monitor": 8})  # the update policy: the spec digest only
    assert swarm.generations(other, _opts(other), "sha256:1")[0] == gen
    assert swarm.generations(other, _opts(other), "sha256:1")[1] != whole
    more = _svc(replicas=5)  # the replica count: neither
    assert swarm.generations(more, _opts(more), "sha256:1") == (gen, whole)
    placed = _opts(svc, placement={"role": "app"})
    assert swarm.generations(svc, placed, "sha256:1")[0] != gen


def _task(gen, state="running", desired="running", addr="10.0.1.5", node="n1", slot=1):
    return {
        "ID": f"t{slot}{state}",
        "Slot": slot,
        "NodeID": node,
        "DesiredState": desired,
        "Status": {"State": state},
        "Spec": {"ContainerSpec": {"Image": "app:2", "Labels": {plan.LABEL_GENERATION: gen}}},
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": "net"}}, "Addresses": [f"{addr}/24"]},
            {"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.255.0.9/16"]},
        ],
    }


def _service(gen, whole, replicas=2, state=None, message=None):
    out = {
        "Spec": {
            "Labels": {plan.LABEL_GENERATION: gen, swarm.LABEL_SPEC: whole, plan.LABEL_IMAGE: "i"},
            "Mode": {"Replicated": {"Replicas": replicas}},
        }
    }
    if state:
        out["UpdateStatus"] = {"State": state, "Message": message or ""}
    return out


def test_task_view_reads_the_address_on_the_service_network():
    view = swarm.task_view(_task("g1"), "net", {"n1": "host1"})
    assert view == {
        "id": "t1running",
        "slot": 1,
        "node": "host1",
        "state": "running",
        "desired": "running",
        "generation": "g1",
        "image": "app:2",
        "addr": "10.0.1.5",
        "error": None,
    }
    assert swarm.task_view(_task("g1"), None)["addr"] is None


def test_converged_and_progress():
    views = [swarm.task_view(_task("g1", slot=s, addr=f"10.0.1.{s}"), "net") for s in (1, 2)]
    assert swarm.converged(_service("g1", "w"), views, ("g1", "w"), 2)
    assert not swarm.converged(None, [], ("g1", "w"), 2)
    assert not swarm.converged(_service("g1", "w"), views, ("g1", "x"), 2)  # spec changed
    assert not swarm.converged(_service("g1", "w", replicas=3), views, ("g1", "w"), 3)
    assert not swarm.converged(_service("g1", "w", state="updating"), views, ("g1", "w"), 2)
    assert not swarm.converged(_service("g1", "w"), views[:1], ("g1", "w"), 2)
    # an old task still running beside the new ones (start-first, mid-update)
    old = swarm.task_view(_task("g0", slot=1, addr="10.0.1.9"), "net")
    assert not swarm.converged(_service("g1", "w"), [*views, old], ("g1", "w"), 2)
    # a task Swarm is shutting down does not count
    going = swarm.task_view(_task("g0", desired="shutdown"), "net")
    assert swarm.converged(_service("g1", "w"), [*views, going], ("g1", "w"), 2)

    assert swarm.progress(_service("g1", "w", state="updating"), views, "g1", 2)[0] == swarm.WAITING
    assert swarm.progress(_service("g1", "w", state="completed"), views, "g1", 2) == (
        swarm.DONE,
        "",
    )
    assert swarm.progress(_service("g1", "w"), views, "g1", 2) == (swarm.DONE, "")  # created
    assert swarm.progress(_service("g1", "w"), views[:1], "g1", 2)[0] == swarm.WAITING
    paused = _service("g1", "w", state="paused", message="update paused due to failure")
    verdict, why = swarm.progress(paused, views, "g1", 2)
    assert verdict == swarm.FAILED and "update paused due to failure" in why
    back = _service("g0", "w", state="rollback_completed", message="done")
    verdict, why = swarm.progress(back, views, "g1", 2)
    assert verdict == swarm.SWARM_ROLLED_BACK and why.startswith("Swarm rolled the update back")


def test_rolled_back_to_previous_waits_for_the_previous_tasks():
    old = [swarm.task_view(_task("g0", slot=s), "net") for s in (1, 2)]
    new = [swarm.task_view(_task("g1", slot=s), "net") for s in (1, 2)]
    done = _service("g0", "w", state="rollback_completed")
    assert swarm.rolled_back_to_previous(done, old)
    assert not swarm.rolled_back_to_previous(done, [old[0], new[1]])
    assert not swarm.rolled_back_to_previous(_service("g0", "w", state="rollback_started"), old)


def test_frontend_plan_follows_the_live_tasks():
    servers = {
        1: {"addr": "10.0.1.2", "maint": False, "op": "up", "drain": False},
        2: {"addr": "10.0.1.3", "maint": False, "op": "up", "drain": False},
        3: {"addr": "-", "maint": True, "op": "up", "drain": False},
        4: {"addr": "-", "maint": True, "op": "down", "drain": False},
    }
    # one task replaced: its slot out, the new one placed in the first free slot
    assert swarm.frontend_plan(servers, {"10.0.1.2", "10.0.1.7"}) == [
        (2, swarm.OUT, "10.0.1.3"),
        (3, swarm.PLACE, "10.0.1.7"),
    ]
    assert swarm.frontend_plan(servers, {"10.0.1.2", "10.0.1.3"}) == []
    with pytest.raises(chain_errors.BackendError, match="server slots"):
        swarm.frontend_plan(servers, {"10.0.1.2", "10.0.1.3", "a", "b", "c"})
    # placed: no traffic until the frontend's own check sees it up, then ready
    placed = {**servers, 3: {"addr": "10.0.1.7", "maint": False, "op": "down", "drain": True}}
    assert swarm.frontend_plan(placed, {"10.0.1.2", "10.0.1.3", "10.0.1.7"}) == []
    placed[3]["op"] = "up"
    assert swarm.frontend_plan(placed, {"10.0.1.2", "10.0.1.3", "10.0.1.7"}) == [
        (3, swarm.READY, "10.0.1.7")
    ]
    assert swarm.checked_up(placed) == {"10.0.1.2", "10.0.1.3", "10.0.1.7"}
    live = [swarm.task_view(_task("g1", slot=1, addr=a), "net") for a in ("10.0.1.2", "10.0.1.7")]
    assert not swarm.serves_all(placed, live)  # draining: not taking traffic yet
    placed[3]["drain"] = False
    assert swarm.serves_all(placed, live)


def test_frontend_commands_place_a_task_without_traffic():
    place = swarm.frontend_commands("app", 3, swarm.PLACE, "10.0.1.7", 8000)
    # HAProxy calls a slot leaving maintenance up before any check: drained, health forced
    # down, its own check brings it up
    assert place == (
        "set server app/s3 addr 10.0.1.7 port 8000;set server app/s3 state drain;"
        "set server app/s3 health down"
    )
    assert swarm.frontend_commands("app", 3, swarm.READY, "x", 1) == "set server app/s3 state ready"
    assert swarm.frontend_commands("app", 3, swarm.OUT, "x", 1) == "set server app/s3 state maint"


def test_monitored_counts_time_up_in_a_row():
    tasks = [swarm.task_view(_task("g1", slot=s, addr=f"10.0.1.{s}"), "net") for s in (1, 2)]
    ids = [t["id"] for t in tasks]
    assert swarm.monitored(tasks, "g1", {ids[0]: 1.0, ids[1]: 3.0}, now=7.0, monitor=4)
    assert not swarm.monitored(tasks, "g1", {ids[0]: 1.0, ids[1]: 3.5}, now=7.0, monitor=4)
    assert not swarm.monitored(tasks, "g1", {ids[0]: 1.0, ids[1]: None}, now=9.0, monitor=4)
    assert not swarm.monitored(tasks, "g2", {}, now=9.0, monitor=0)  # no task of g2


def test_changes():
    views = [swarm.task_view(_task("g1", slot=s), "net") for s in (1, 2)]
    assert swarm.changes(None, [], ("g1", "w"), 2, "app@sha256:1") == {
        "service": {"old": None, "new": "2 task(s) of app@sha256:1"}
    }
    assert swarm.changes(_service("g1", "w"), views, ("g1", "w"), 2, "i") == {}
    got = swarm.changes(_service("g0", "w"), views, ("g1", "w2"), 3, "app@sha256:2")
    assert got == {
        "generation": {"old": "g0", "new": "g1"},
        "image": {"old": "i", "new": "app@sha256:2"},
        "replicas": {"old": 2, "new": 3},
    }
    assert set(swarm.changes(_service("g1", "w"), views, ("g1", "w2"), 2, "i")) == {"spec"}
    assert set(swarm.changes(_service("g1", "w"), views[:1], ("g1", "w"), 2, "i")) == {"tasks"}
    paused = _service("g1", "w", state="paused")
    assert set(swarm.changes(paused, views, ("g1", "w"), 2, "i")) == {"update"}


def test_tasks_per_node():
    views = [swarm.task_view(_task("g1", slot=s, node=f"n{s % 2}"), "net") for s in (1, 2, 3)]
    views.append(swarm.task_view(_task("g0", state="shutdown", desired="shutdown"), "net"))
    per = swarm.tasks_per_node(views)
    assert sorted(per) == ["n0", "n1"] and len(per["n1"]) == 2 and len(per["n0"]) == 1


def test_not_serving_fails_a_running_task_the_frontend_never_saw_up():
    tasks = [
        swarm.task_view(_task("g1", slot=1, addr="10.0.1.2"), "net"),
        swarm.task_view(_task("g1", slot=2, addr="10.0.1.3"), "net"),
        swarm.task_view(_task("g0", slot=3, addr="10.0.1.4"), "net"),  # the previous: not judged
    ]
    seen = {}
    up = {"10.0.1.2"}
    assert swarm.not_serving(tasks, "g1", up, seen, now=10.0, grace=2) is None
    assert swarm.not_serving(tasks, "g1", up, seen, now=12.0, grace=2) is None  # start period
    why = swarm.not_serving(tasks, "g1", up, seen, now=12.5, grace=2)
    assert why.startswith("task t2running (10.0.1.3) is running but not serving"), why
    assert "3 looks in a row" in why
    # up, then down: judged from the first look down
    seen = {}
    both = {"10.0.1.2", "10.0.1.3"}
    assert swarm.not_serving(tasks, "g1", both, seen, 10.0, 2) is None
    assert swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, 11.0, 2) is None
    assert swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, 12.9, 2) is None
    assert "t2running" in swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, 13.1, 2)
    # a stretch of not being up that ends in time is forgotten
    seen = {}
    assert swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, 10.0, 2) is None
    assert swarm.not_serving(tasks, "g1", both, seen, 11.5, 2) is None
    assert swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, 12.5, 2) is None
    assert swarm.grace({"monitor": 8}) == 4 and swarm.grace({"monitor": 1}) == 1


def test_not_serving_needs_looks_in_a_row_not_one_slow_look():
    """Under CPU load a look can take seconds: one look down past the start period is not a
    verdict (HAProxy's fall and Docker's retries count consecutive failures)."""
    tasks = [swarm.task_view(_task("g1", slot=1, addr="10.0.1.2"), "net")]
    seen = {}
    assert swarm.not_serving(tasks, "g1", set(), seen, now=10.0, grace=2) is None
    assert swarm.not_serving(tasks, "g1", {"10.0.1.2"}, seen, now=20.0, grace=2) is None
    assert swarm.not_serving(tasks, "g1", set(), seen, now=30.0, grace=2) is None
    assert swarm.not_serving(tasks, "g1", set(), seen, now=31.0, grace=2) is None  # 2 looks
    assert swarm.not_serving(tasks, "g1", set(), seen, now=31.5, grace=2) is None  # 3, in grace
    assert "4 looks in a row" in swarm.not_serving(tasks, "g1", set(), seen, 32.5, 2)


def test_task_image_is_the_pinned_reference_when_there_is_one():
    assert swarm.task_image("reg/app:2", "reg/app@sha256:ab") == "reg/app@sha256:ab"
    assert swarm.task_image("app:2", "sha256:0123") == "app:2"  # a local image: its tag


def test_with_a_frontend_swarm_waits_between_batches_long_enough_for_our_gate():
    """Swarm's Monitor holds no batch back; its Delay does: with a frontend, the declared delay
    plus our start period, the monitor and a second."""
    svc = _svc(frontend="fe", update={"monitor": 6, "delay": 1})
    spec = swarm.service_spec(svc, _opts(svc), "app:2", ("g", "w"), [])
    assert spec["UpdateConfig"]["Delay"] == 11_000_000_000  # 1 + 3 + 6 + 1
    assert spec["UpdateConfig"]["Monitor"] == 6_000_000_000
    assert spec["RollbackConfig"]["Delay"] == 0
    assert swarm.gate_delay({"monitor": 6}, None) == 0
