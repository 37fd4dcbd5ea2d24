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


def test_converged_is_chain_health_s_one_definition():
    assert not hasattr(plan, "converged")


HEALTH = {"test": "true", "interval": "1s", "timeout": "1s", "retries": 2}


def test_service_validates_once_and_returns_the_normalised_declaration():
    svc = plan.service(
        "web",
        "app:1",
        {"healthcheck": HEALTH, "environment": {"A": "1"}, "__id__": "x"},
        replicas="2",
        port="8001",
        update={"monitor": "4"},
    )
    assert set(svc) == set(plan.SERVICE_DEFAULTS) | {"name", "image", "spec_args", "spec"}
    assert svc["replicas"] == 2 and svc["port"] == 8001 and svc["history"] == 5
    assert svc["update"] == dict(plan.UPDATE_DEFAULTS, monitor=4)
    assert svc["spec_args"] == {"healthcheck": HEALTH, "environment": {"A": "1"}}
    assert svc["spec"]["image"] == "app:1" and svc["spec"]["healthcheck"]["Retries"] == 2
    assert svc["backend"] == "app" and svc["frontend"] is None and svc["stop_timeout"] == 10


@pytest.mark.parametrize(
    "args, options, words",
    [
        ({}, {}, "healthcheck"),
        ({"healthcheck": HEALTH}, {"replicas": 0}, "replicas"),
        ({"healthcheck": HEALTH}, {"replicas": 65}, "replicas"),
        ({"healthcheck": HEALTH}, {"port": 70000}, "port"),
        ({"healthcheck": HEALTH}, {"update": {"monitor": 1}}, "update.monitor"),
        ({"healthcheck": HEALTH}, {"history": -1}, "history"),
        ({"healthcheck": HEALTH}, {"stop_timeout": "soon"}, "stop_timeout"),
        ({"healthcheck": HEALTH}, {"backend": [0]}, "backend"),
        ({"healthcheck": HEALTH}, {"frontend": "fe"}, "network"),
        ({"healthcheck": HEALTH}, {"network": "bad net"}, "network"),
        ({"healthcheck": HEALTH}, {"profile": 0}, "profile"),
        ({"healthcheck": HEALTH}, {"replica": 2}, "replica"),
        ({"healthcheck": HEALTH, "networks": ["x"]}, {}, "networks"),
        ({"healthcheck": HEALTH, "hostname": "h"}, {}, "hostname"),
        ({"healthcheck": HEALTH, "volumez": ["/x"]}, {}, "volumez"),
    ],
)
def test_service_refuses_bad_input_naming_it(args, options, words):
    with pytest.raises(chain_errors.BadInput) as err:
        plan.service("web", "app:1", args, **options)
    assert words in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("image", [None, "", "  ", 5])
def test_service_refuses_a_missing_image(image):
    with pytest.raises(chain_errors.BadInput, match="image"):
        plan.service("web", image, {"healthcheck": HEALTH})


DIGEST = "sha256:" + "ab" * 32
IMAGE_ID = "sha256:" + "cd" * 32


@pytest.mark.parametrize(
    "image, repo_digests, expected",
    [
        # a registry with a port, no tag (the digest was missed: the image id was recorded)
        ("127.0.0.1:5050/chain/app", ["127.0.0.1:5050/chain/app@" + DIGEST], None),
        ("127.0.0.1:5050/chain/app:3", ["127.0.0.1:5050/chain/app@" + DIGEST], None),
        # a short name with a tag (the same bug)
        ("app:1", ["app@" + DIGEST], None),
        ("docker.io/library/busybox:1", ["busybox@" + DIGEST], None),
        ("chain/app:1", ["other/app@" + DIGEST], IMAGE_ID),  # not this repository's
        ("app:1", [], IMAGE_ID),  # a local build, never pushed
        ("app@" + DIGEST, [], "app@" + DIGEST),
    ],
)
def test_image_ref_records_the_repository_digest(image, repo_digests, expected):
    data = {"Id": IMAGE_ID, "RepoDigests": repo_digests}
    assert plan.image_ref(image, data) == (expected or repo_digests[0])


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


def test_the_state_takes_its_defaults_from_the_one_table():
    import inspect  # pylint: disable=import-outside-toplevel

    from saltext.chain.states import (  # pylint: disable=import-outside-toplevel
        container_service as state,
    )

    params = inspect.signature(state.running).parameters
    assert {n: p.default for n, p in params.items() if n in plan.SERVICE_DEFAULTS} == (
        plan.SERVICE_DEFAULTS
    )
