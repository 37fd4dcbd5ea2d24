"""A Swarm-mode rollout and rollback across two hosts (issue 18), zero failed requests.

The two Docker-in-Docker hosts form one swarm through Salt, the hosts master applying the
``container_swarm`` states to their own minions: ``manager`` on host1 (advertising its address
on the hosts network), its join information sent to the mine (readable by the hosts only),
``worker`` on host2 with ``manager_minion: host1`` (the token comes from the mine), then
``node_labels`` on both nodes from the manager.

The service's image comes from the chain's TLS registry (the session's ``tls_registry``): busybox
pushed from host1's engine by name, declared by digest; each node pulls it with the CA verified
and the credentials the service carries (``X-Registry-Auth`` from ``container:registries``).
Its version is the task's ``APP_VERSION`` (one image: no build per version); a task serves
``/version`` and ``/health`` on port 8000. The frontend (images/haproxy, pushed from engine 1
through the registry's loopback port and pulled by host1's minion) runs on host1 on the
service's attachable overlay network, published on host1's address. ``placement`` is the node
label both nodes carry; Swarm's spread puts the first deploy's two tasks one on each node (a
rolling update does not keep the spread: docs/swarm.md).

Under a steady load through that frontend: a first deploy, a second apply that changes nothing,
a rollout (version 1 -> 2), and a bad version whose tasks Swarm calls running and healthy (the
health check passes on the task's loopback) but which serve nothing on the overlay network: the
state's gate sees them not serving and rolls back with ``docker service rollback``. No request
fails; the bad version never answers; an apply of version 2 then changes nothing (the
rolled-back spec is the declared one). ``container_service.swarm_status`` shows the tasks per
node. Then the hosts leave the swarm (``container_swarm.left``), the worker first."""

import contextlib
import json
import time

import docker
import pytest
import yaml

from tests.integration.multihost import test_hosts_tls_registry as tls
from tests.integration.multihost.test_hosts_agents import all_ok
from tests.support import engines
from tests.support.chain import build_haproxy
from tests.support.load import Load, get

pytestmark = [pytest.mark.integration, pytest.mark.multihost, pytest.mark.docker]

SWARM = engines.name("hswarm")
SERVICE, NET, FE = (engines.name(f"hsw-{what}") for what in ("app", "net", "fe"))
APP_REPO = f"{tls.ADDRESS}/{engines.name('hsw-app')}"
FE_REPO = engines.name("hsw-haproxy")
HAPROXY = f"saltext-chain/{FE_REPO}:1"  # built on engine 1, pushed, then pulled by host1
NODE_LABELS = {"chain-run": engines.RUN, "role": "app"}
# the task's pages, then busybox's httpd on the overlay network (the bad version: on the
# task's loopback only, which its health check still reaches)
PAGES = (
    'mkdir -p /www && printf \'{"version": "%s"}\' "$APP_VERSION" > /www/version'
    " && echo ok > /www/health && httpd -f -p {listen} -h /www"
)
HEALTH = {
    "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/health"],
    "interval": "1s",
    "timeout": "1s",
    "retries": 2,
}


def _form(run, group):
    """host1 the manager, host2 a worker by the mine's join information, both labelled."""
    ip1 = group["host1"].ip
    all_ok(
        run.salt(
            "state.single", "container_swarm.manager", f"name={SWARM}", f"advertise_addr={ip1}",
            minion="host1",
        ),
        ["host1"],
    )  # fmt: skip
    sent = run.salt(
        "mine.send", "container.swarm_join_info", "allow_tgt=host*", "allow_tgt_type=glob",
        minion="host1",
    )  # fmt: skip
    assert sent.data is True, sent.stdout[-2000:]
    all_ok(
        run.salt(
            "state.single", "container_swarm.worker", f"name={SWARM}", "manager_minion=host1",
            "advertise_addr=eth0", minion="host2",
        ),
        ["host2"],
    )  # fmt: skip
    high = {
        f"{SWARM}-labels-{node}": {
            "container_swarm": [{"node": node}, {"labels": NODE_LABELS}, "node_labels"]
        }
        for node in ("host1", "host2")
    }
    all_ok(run.salt("state.high", json.dumps(high), minion="host1"), ["host1"])
    nodes = run.salt("container.node_list", minion="host1").data
    assert isinstance(nodes, dict) and len(nodes) == 2, nodes


def _push_frontend(client, loopback, password):
    """images/haproxy built on engine 1 and pushed through the registry's loopback port; its
    reference by the registry's name, as host1 pulls it."""
    build_haproxy(client, HAPROXY)
    pushed = f"127.0.0.1:{loopback}/{FE_REPO}:1"
    client.images.get(HAPROXY).tag(pushed)
    try:
        for line in client.images.push(
            pushed, auth_config={"username": "ci", "password": password}, stream=True, decode=True
        ):
            assert "error" not in line, line
    finally:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(pushed)
    return f"{tls.ADDRESS}/{FE_REPO}:1"


def _start_frontend(host, image):
    """The overlay network (attachable) and the frontend on host1, published on its address."""
    with contextlib.closing(host.client()) as inner:
        api = inner.api
        api.create_network(NET, driver="overlay", attachable=True, labels=dict(engines.LABELS))
        fe = api.create_container(
            image,
            name=FE,
            environment={"CHAIN_SLOTS": "8"},
            ports=[8080],
            labels=dict(engines.LABELS),
            host_config=api.create_host_config(port_bindings={8080: (host.ip, None)}),
        )
        api.start(fe["Id"])
        api.connect_container_to_network(fe["Id"], NET)
        return int(api.port(fe["Id"], 8080)[0]["HostPort"])


@pytest.fixture(scope="module")
def swarm_app(tls_registry, host_group, hosts_states):
    run, host1 = tls_registry["run"], host_group["host1"]
    times, started = {}, time.monotonic()
    try:
        _form(run, host_group)
        times["swarm"] = time.monotonic() - started
        started = time.monotonic()
        ref = f"{APP_REPO}:1"  # busybox under this module's repository
        image = f"{APP_REPO}@{tls.push_busybox(host1, run.password, ref)}"
        frontend = _push_frontend(host_group.client, tls_registry["loopback"], run.password)
        pulled = run.salt("container.image_pull", frontend, minion="host1", timeout=600)
        assert pulled.returncode == 0, pulled.stdout[-3000:]
        port = _start_frontend(host1, frontend)
        times["images"] = time.monotonic() - started
        print(
            f"\nmultihost swarm: formed through Salt {times['swarm']:.1f} s, app pushed and "
            f"frontend up on host1 {times['images']:.1f} s"
        )
        yield {"run": run, "image": image, "port": port, "host": host1.ip, "states": hosts_states}
    finally:
        _cleanup(run, host_group)


def _cleanup(run, group):
    host1 = group["host1"]
    with contextlib.suppress(Exception):
        with contextlib.closing(host1.client()) as inner:
            for cleanup in (
                lambda: inner.api.remove_service(SERVICE),
                lambda: inner.api.remove_container(FE, force=True, v=True),
                lambda: inner.api.remove_network(NET),
            ):
                with contextlib.suppress(docker.errors.APIError):
                    cleanup()
    for minion, force in (("host2", False), ("host1", True)):
        ret = run.salt(
            "state.single", "container_swarm.left", f"name={SWARM}", f"force={force}",
            minion=minion,
        )  # fmt: skip
        print(f"\nmultihost swarm: {minion} container_swarm.left: {ret.stdout[-500:]}")
    run.salt("mine.delete", "container.swarm_join_info", minion="host1")
    for host in group.hosts:
        tls._remove_images(host, APP_REPO)  # pylint: disable=protected-access
        tls._remove_images(host, f"{tls.ADDRESS}/{FE_REPO}")  # pylint: disable=protected-access
    with contextlib.suppress(docker.errors.ImageNotFound):
        group.client.images.remove(HAPROXY, force=True, noprune=True)


def _apply(app, version):
    """``container_service.running`` in Swarm mode on host1 (the manager) for ``version``."""
    listen = "127.0.0.1:8000" if version == "bad" else "8000"
    declared = {
        SERVICE: {
            "container_service.running": [
                {"mode": "swarm"},
                {"image": app["image"]},
                {"command": engines.stoppable(PAGES.replace("{listen}", listen))},
                {"environment": {"APP_VERSION": version}},
                {"replicas": 2},
                {"placement": {"role": "app"}},
                {"frontend": FE},
                {"backend": "app"},
                {"network": NET},
                {"port": 8000},
                {"healthcheck": HEALTH},
                {"labels": dict(engines.LABELS)},
                {"stop_timeout": 2},
                # one task at a time: a bad task is judged before Swarm stops a good one
                {"update": {"parallelism": 1, "monitor": 4, "progress_deadline": 120}},
            ]
        }
    }
    (app["states"] / "hswarm_app.sls").write_text(yaml.safe_dump(declared))
    ret = app["run"].apply("hswarm_app", minion="host1")
    (state,) = ret.data.values()
    return state


def _versions(app):
    return {json.loads(get(app["port"], host=app["host"])[1])["version"] for _ in range(10)}


def _view(group):
    """What Swarm did (the tasks, the UpdateStatus) and the frontend's log: for a failure."""
    lines = []
    try:
        with contextlib.closing(group["host1"].client()) as inner:
            api = inner.api
            nodes = {n["ID"]: n["Description"]["Hostname"] for n in api.nodes()}
            lines.append(f"UpdateStatus: {api.inspect_service(SERVICE).get('UpdateStatus')}")
            for t in sorted(api.tasks(filters={"service": SERVICE}), key=lambda t: t["CreatedAt"]):
                st = t["Status"]
                lines.append(
                    f"task {t['ID'][:12]} slot {t.get('Slot')} on {nodes.get(t.get('NodeID'))} "
                    f"{t['Spec']['ContainerSpec']['Env']} desired {t['DesiredState']} "
                    f"{st['State']} at {st['Timestamp']} {st.get('Err') or st.get('Message')}"
                )
            lines.append(api.logs(FE, tail=80).decode(errors="replace"))
    except Exception as err:  # noqa: BLE001 - a view for a failure, never its cause
        lines.append(f"(view failed: {err})")
    return "\n".join(lines)


def test_swarm_rollout_and_rollback_across_two_hosts_under_load(swarm_app, host_group):
    try:
        _rollout_and_rollback(swarm_app)
    finally:
        print(_view(host_group))  # shown when the test fails
    swarm_app["run"].no_secrets()


def _rollout_and_rollback(app):
    first = _apply(app, "1")
    assert first["result"] is True and set(first["changes"]) == {"service"}, first["comment"]
    assert _versions(app) == {"1"}
    # a task on each host, each of the image by digest from the TLS registry
    assert _nodes(app) == {"host1": [app["image"]], "host2": [app["image"]]}
    again = _apply(app, "1")
    assert again["result"] is True and again["changes"] == {}, again

    with Load(app["port"], host=app["host"]) as load:
        rolled = _apply(app, "2")
    assert rolled["result"] is True and "generation" in rolled["changes"], rolled["comment"]
    load.assert_served(min_ok=100)
    assert load.versions == {"1", "2"}, load.versions
    assert _versions(app) == {"2"}

    with Load(app["port"], host=app["host"]) as load:
        bad = _apply(app, "bad")
    assert bad["result"] is False, bad
    assert "running but not serving" in bad["comment"], bad["comment"]
    assert "rolled back" in bad["comment"], bad["comment"]
    load.assert_served(min_ok=100)
    assert load.versions == {"2"}, load.versions  # "bad" never answered through the frontend
    assert _versions(app) == {"2"}
    settled = _apply(app, "2")  # the rolled-back spec is the declared one
    assert settled["result"] is True and settled["changes"] == {}, settled

    assert _nodes(app, "rollback_completed") and sum(map(len, _nodes(app).values())) == 2


def _nodes(app, update_state=None):
    """``container_service.swarm_status`` on the manager: {node: [image of each task]}."""
    status = (
        app["run"]
        .salt("container_service.swarm_status", SERVICE, f"network={NET}", minion="host1")
        .data
    )
    assert isinstance(status, dict), status
    if update_state:
        assert status["update_state"] == update_state, status
    assert set(status["tasks"]) <= {"host1", "host2"}, status
    return {node: [t["image"] for t in tasks] for node, tasks in status["tasks"].items()}


def test_the_worker_leaves_naming_its_managers_then_the_manager(swarm_app, host_group):
    """``container_swarm.left`` on each host, the worker first: a worker's engine knows no
    cluster id, so the state names the swarm by the managers it joined; a second apply has
    nothing to leave. (The module's clean-up leaves again: nothing then.)"""
    run, ip1 = swarm_app["run"], host_group["host1"].ip
    for minion, force, old in (
        ("host2", False, f"worker of {ip1}:2377"),
        ("host1", True, None),
    ):
        for attempt in ("first", "again"):
            ret = run.salt(
                "state.single", "container_swarm.left", f"name={SWARM}", f"force={force}",
                minion=minion,
            )  # fmt: skip
            (state,) = all_ok(ret, [minion])[minion].values()
            if attempt == "again":
                assert state["changes"] == {}, state
                assert state["comment"] == "This engine is in no swarm", state
            elif old:
                assert state["changes"] == {"swarm": {"old": old, "new": None}}, state
                assert state["comment"] == f"Swarm of {ip1}:2377 left", state
            else:
                assert state["changes"]["swarm"]["old"].isalnum(), state  # the cluster id
                assert state["comment"].startswith("Swarm ") and "None" not in state["comment"]
