"""Pure logic of container_service: the update policy, the health window, generations,
batches, failure accounting, the digest history; and the HAProxy runtime API text."""

import pytest
from saltext.chain.utils import chain_errors
from saltext.chain.utils import chain_service_haproxy as haproxy
from saltext.chain.utils import chain_service_plan as plan

HC = {
    "Test": ["CMD-SHELL", "true"],
    "Interval": 1_000_000_000,
    "Timeout": 1_000_000_000,
    "Retries": 2,
}


def test_health_window_is_retries_times_interval_plus_timeout():
    assert plan.health_window(HC) == 4
    assert plan.health_window({"Test": ["CMD", "true"]}) == 3 * (30 + 30)  # Docker's defaults
    assert plan.health_window(None) is None
    assert plan.health_window({"Test": ["NONE"]}) is None


def test_update_defaults_and_validation():
    out = plan.check_update(None, 4)
    assert out == dict(plan.UPDATE_DEFAULTS)
    assert out["failure_action"] == "rollback" and out["order"] == "start-first"
    assert plan.check_update({"parallelism": "2", "monitor": "4.5"}, 4)["parallelism"] == 2


@pytest.mark.parametrize(
    "update,words",
    [
        ({"monitor": 3}, ["update.monitor", "window (4s"]),
        ({"failure_action": "retry"}, ["update.failure_action"]),
        ({"order": "random"}, ["update.order"]),
        ({"parallelism": 0}, ["update.parallelism"]),
        ({"max_failure_ratio": 1.5}, ["update.max_failure_ratio"]),
        ({"surge": 1}, ["unknown key", "surge"]),
        ({"progress_deadline": 3, "monitor": 5}, ["progress_deadline"]),
        ("fast", ["update: expected a mapping"]),
    ],
)
def test_bad_update_is_refused_naming_the_key(update, words):
    with pytest.raises(chain_errors.BadInput) as err:
        plan.check_update(update, 4)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "\n" not in str(err.value)


def test_a_service_without_health_check_is_refused():
    with pytest.raises(chain_errors.BadInput, match="healthcheck"):
        plan.check_update({}, None)


def test_generation_depends_on_declared_spec_and_image_id_only():
    a = plan.generation({"image": "app:1", "env": {"A": "1"}}, "sha256:1")
    assert a == plan.generation({"env": {"A": "1"}, "image": "app:1"}, "sha256:1")
    assert a != plan.generation({"image": "app:1", "env": {"A": "2"}}, "sha256:1")
    assert a != plan.generation({"image": "app:1", "env": {"A": "1"}}, "sha256:2")
    assert plan.replica_name("web", a, 2) == f"web-{a[:8]}-2"


def test_batches_and_failure_ratio():
    assert plan.batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert plan.too_many_failures(1, 4, 0)
    assert not plan.too_many_failures(1, 4, 0.25)
    assert plan.too_many_failures(2, 4, 0.25)
    assert not plan.too_many_failures(0, 0, 0)


def test_free_slots():
    assert plan.free_slots([1, 3], 6, 2) == [2, 4]
    with pytest.raises(chain_errors.BackendError, match="CHAIN_SLOTS"):
        plan.free_slots([1, 2], 3, 2)


def test_history_and_previous():
    hist = plan.history_push(["r@sha256:bb", "r@sha256:aa"], "r@sha256:cc", 2)
    assert hist == ["r@sha256:cc", "r@sha256:bb"]
    assert plan.history_push(hist, "r@sha256:bb", 3) == ["r@sha256:bb", "r@sha256:cc"]
    assert plan.history_read(plan.history_label(hist)) == hist
    assert plan.pick_previous(hist, "r@sha256:cc") == "r@sha256:bb"
    assert plan.pick_previous(hist, "r@sha256:cc", "sha256:bb") == "r@sha256:bb"
    assert plan.pick_previous(hist, "r@sha256:cc", "sha256:zz") is None
    assert plan.pick_previous(["x"], "x") is None


def test_converged():
    reps = {
        "a": {"generation": "g1", "running": True, "health": "healthy"},
        "b": {"generation": "g1", "running": True, "health": None},
    }
    assert plan.converged(reps, "g1", 2)
    assert not plan.converged(reps, "g1", 3)
    assert not plan.converged(reps, "g2", 2)
    stopped_old = dict(reps, c={"generation": "g0", "running": False, "health": None})
    assert plan.converged(stopped_old, "g1", 2)
    running_old = dict(reps, c={"generation": "g0", "running": True, "health": "healthy"})
    assert not plan.converged(running_old, "g1", 2)
    sick = dict(reps, b={"generation": "g1", "running": True, "health": "unhealthy"})
    assert not plan.converged(sick, "g1", 2)


def test_timestamps_with_trimmed_nanoseconds_compare_right():
    assert plan.timestamp("2026-11-28T21:30:01.12Z") < plan.timestamp("2026-11-28T21:30:01.123Z")
    assert plan.timestamp("0001-01-01T00:00:00Z") == 0
    assert plan.timestamp(None) == 0


def test_names_are_checked():
    with pytest.raises(chain_errors.BadInput, match="name"):
        plan.check_name("bad name")
    with pytest.raises(chain_errors.BadInput, match="replicas"):
        plan.check_replicas(0)


STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight \
srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state \
srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl \
srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 app 1 s1 192.168.240.3 2 4 1 1 2 15 3 2 6 0 0 0 - 8000 - 0 0 - - 0
3 app 2 s2 127.0.0.1 0 5 1 1 5 1 0 0 14 0 0 0 - 8000 - 0 0 - - 0
3 app 3 s3 192.168.240.4 2 12 1 1 5 1 0 0 14 0 0 0 - 8000 - 0 0 - - 0
"""


def test_haproxy_servers_state_is_parsed():
    servers = haproxy.parse_servers_state(STATE)
    assert servers[1] == {
        "name": "s1",
        "addr": "192.168.240.3",
        "port": 8000,
        "op": "up",
        "maint": False,
        "drain": False,
    }
    assert servers[2]["maint"] and servers[2]["op"] == "down"
    assert servers[3]["drain"] and not servers[3]["maint"]
    assert haproxy.serving(servers) == [1]


def test_haproxy_sessions_from_show_stat():
    text = (
        "# pxname,svname,qcur,qmax,scur,smax\nchain,FRONTEND,,,3,4\n"
        "app,s1,0,0,2,5\napp,s2,0,0,0,1\napp,BACKEND,0,0,2,5\nother,s1,0,0,9,9\n"
    )
    assert haproxy.parse_sessions(text, "app") == {1: 2, 2: 0}


def test_haproxy_commands_and_errors():
    assert (
        haproxy.set_addr("app", 2, "10.0.0.5", 8000) == "set server app/s2 addr 10.0.0.5 port 8000"
    )
    assert haproxy.set_state("app", 2, "drain") == "set server app/s2 state drain"
    with pytest.raises(chain_errors.BadInput):
        haproxy.set_state("app", 1, "off")
    with pytest.raises(chain_errors.BadInput):
        haproxy.set_addr("app", 1, "10.0.0.5; shutdown", 80)
    with pytest.raises(chain_errors.BadInput):
        haproxy.server("app;x", 1)
    with pytest.raises(chain_errors.BackendError, match="refused"):
        haproxy.check_answer("No such server.\n", "set server app/s9 state ready")
    assert haproxy.argv("show info")[:2] == ["python3", "-c"]
