"""``container_service.running`` with ``mode: swarm`` through the real master and minion
(build1): a Swarm service of the sample app on the session's private Swarm engine
(tests/support/swarm_engine.py, a one-node manager in a network namespace of its own), behind
an HAProxy frontend container of that engine on the service's attachable overlay network, its
port published on the engine's own address. Under a steady load through the frontend: a rollout
(app 1 -> 2) and a bad version whose tasks Swarm calls running and healthy (the health check
passes on the task's loopback) but which serve nothing on the network: our gate sees them not
serving and rolls back with ``docker service rollback``. Zero failed requests throughout; a
second apply changes nothing; ``container_service.swarm_status`` shows the tasks per node.

Then the chain runner with the app in Swarm mode (pillar ``chain:service:mode: swarm``, the
manager build1), formulas/chain's deploy state making the attachable overlay network, the
frontend and the service on the same Swarm engine: ``chain.rollout`` converges, a second one is
a no-op recorded as such, ``chain.status`` shows the tasks per node, and an image whose tasks
serve nothing is rolled back (the deploy state's ``docker service rollback``).
"""

import io
import json

import pytest

from tests.conftest import REPO
from tests.support import engines, local
from tests.support.chain import build_haproxy
from tests.support.load import HEALTH, Load, get

pytestmark = [pytest.mark.integration, pytest.mark.docker]

PREFIX = f"saltext-chain/{engines.name('sw')}"
HAPROXY = f"{PREFIX}-haproxy:1"
APP = f"{PREFIX}-app:1"  # one image: the version is the task's APP_VERSION (one build less)
NAME, NET, FE = (engines.name(f"sw-{what}") for what in ("app", "net", "fe"))
# The bad version: the app listening on the task's loopback only. Its health check (run inside
# the task) passes; nothing on the overlay network reaches it.
BAD_COMMAND = [
    "python3",
    "-c",
    "import sys, signal; sys.path.insert(0, '/app'); import app; "
    "from http.server import ThreadingHTTPServer as S; signal.signal(signal.SIGTERM, app._stop); "
    "S(('127.0.0.1', 8000), app.Handler).serve_forever()",
]


@pytest.fixture(scope="module")
def swarm_app(swarm_engine):
    """The images on the Swarm engine, the overlay network and the frontend container."""
    swarm_engine.load(engines.DEBIAN, cache_dir=swarm_engine.images_dir)
    client = swarm_engine.client()
    api = client.api
    build_haproxy(client, HAPROXY)
    client.images.build(
        path=str(REPO / "examples" / "app"),
        tag=APP,
        rm=True,
        buildargs={"BASE_IMAGE": engines.DEBIAN},
    )
    api.create_network(NET, driver="overlay", attachable=True, labels=dict(engines.LABELS))
    fe = api.create_container(
        HAPROXY,
        name=FE,
        environment={"CHAIN_SLOTS": "8"},
        ports=[8080],
        labels=dict(engines.LABELS),
        host_config=api.create_host_config(port_bindings={8080: (swarm_engine.addr, None)}),
    )
    api.start(fe["Id"])
    api.connect_container_to_network(fe["Id"], NET)
    port = int(api.port(fe["Id"], 8080)[0]["HostPort"])
    yield {"port": port, "host": swarm_engine.addr}
    for cleanup in (
        lambda: api.remove_service(NAME),
        lambda: api.remove_container(FE, force=True),
    ):
        try:
            cleanup()
        except Exception:  # noqa: BLE001 - the engine goes with the session anyway
            pass


def _args(swarm_engine, version):
    return {
        "mode": "swarm",
        "image": APP,
        "environment": {"APP_VERSION": version},
        **({"command": BAD_COMMAND} if version == "bad" else {}),
        "replicas": 2,
        "frontend": FE,
        "backend": "app",
        "network": NET,
        "port": 8000,
        "healthcheck": HEALTH,
        "labels": dict(engines.LABELS),
        "stop_timeout": 2,
        "update": {
            "parallelism": 1,
            "monitor": 4,
            "order": "start-first",
            "progress_deadline": 120,
        },
        "profile": {"base_url": swarm_engine.url, "timeout": 60},
    }


def _apply(salt_cli, swarm_engine, version):
    pillar = {"swarmsvc": {"name": NAME, "args": _args(swarm_engine, version)}}
    ret = salt_cli.run(
        "state.sls", "swarmsvc", f"pillar={json.dumps(pillar)}", minion_tgt="build1", _timeout=600
    )
    assert isinstance(ret.data, dict), ret
    (state,) = ret.data.values()
    return state


def _swarm_view(swarm_engine):
    """What Swarm did (``docker service ps --no-trunc``, the UpdateStatus) and the frontend's
    log: printed with a failure."""
    api = swarm_engine.client().api
    lines = []
    try:
        svc = api.inspect_service(NAME)
        lines.append(f"UpdateStatus: {svc.get('UpdateStatus')}")
        for t in sorted(api.tasks(filters={"service": NAME}), key=lambda t: t["CreatedAt"]):
            st = t["Status"]
            lines.append(
                f"task {t['ID'][:12]} slot {t.get('Slot')} "
                f"{t['Spec']['ContainerSpec']['Image']} desired {t['DesiredState']} "
                f"{st['State']} at {st['Timestamp']} {st.get('Err') or st.get('Message')}"
            )
        lines.append(api.logs(FE, tail=80).decode(errors="replace"))
    except Exception as err:  # noqa: BLE001 - a view for a failure, never its cause
        lines.append(f"(view failed: {err})")
    return "\n".join(lines)


def _version(app):
    return {json.loads(get(app["port"], host=app["host"])[1])["version"] for _ in range(10)}


def test_swarm_rollout_and_rollback_under_load(salt_cli, synced, swarm_engine, swarm_app):
    try:
        _rollout_and_rollback(salt_cli, swarm_engine, swarm_app)
    finally:
        print(_swarm_view(swarm_engine))  # shown when the test fails


def _rollout_and_rollback(salt_cli, swarm_engine, swarm_app):
    first = _apply(salt_cli, swarm_engine, "1")
    assert first["result"] is True and set(first["changes"]) == {"service"}, first["comment"]
    assert _version(swarm_app) == {"1"}
    again = _apply(salt_cli, swarm_engine, "1")
    assert again["result"] is True and again["changes"] == {}, again

    with Load(swarm_app["port"], host=swarm_app["host"]) as load:
        rolled = _apply(salt_cli, swarm_engine, "2")
    assert rolled["result"] is True and "generation" in rolled["changes"], rolled["comment"]
    load.assert_served(min_ok=100)
    assert load.versions == {"1", "2"}, load.versions
    assert _version(swarm_app) == {"2"}

    with Load(swarm_app["port"], host=swarm_app["host"]) as load:
        bad = _apply(salt_cli, swarm_engine, "bad")
    assert bad["result"] is False, bad
    assert "running but not serving" in bad["comment"], bad["comment"]
    assert "rolled back" in bad["comment"], bad["comment"]
    load.assert_served(min_ok=100)
    assert load.versions == {"2"}, load.versions  # "bad" never answered through the frontend
    assert _version(swarm_app) == {"2"}
    settled = _apply(salt_cli, swarm_engine, "2")  # the rolled-back spec is the declared one
    assert settled["result"] is True and settled["changes"] == {}, settled

    status = salt_cli.run(
        "container_service.swarm_status",
        NAME,
        f"network={NET}",
        f"profile={json.dumps({'base_url': swarm_engine.url})}",
        minion_tgt="build1",
    ).data
    (node,) = status["tasks"]
    assert len(status["tasks"][node]) == 2, status
    assert {t["image"] for t in status["tasks"][node]} == {APP}, status
    assert status["update_state"] == "rollback_completed", status


# The chain runner in Swarm mode: names of its own on the same Swarm engine.
CHAIN_APP = f"sw{engines.RUN}"
BAD = f"{PREFIX}-bad:1"  # the app listening on its loopback only (BAD_COMMAND) as an image
C_SVC, C_NET, C_FE = (engines.name(f"swc-{what}") for what in ("app", "net", "fe"))


@pytest.fixture(scope="module")
def swarm_chain(swarm_engine, swarm_app):
    """The runner's arguments: formulas/chain's deploy in Swarm mode on build1 (the manager),
    the frontend published on the Swarm engine's own address; the bad image built."""
    client = swarm_engine.client()
    dockerfile = f"FROM {APP}\nCMD {json.dumps(BAD_COMMAND)}\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=BAD, rm=True)
    port = local.free_port()
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "profile": {"base_url": swarm_engine.url, "timeout": 60},
            "network": {"name": C_NET},
            "frontend": {
                "name": C_FE,
                "image": HAPROXY,
                "bind": swarm_engine.addr,
                "port": port,
                "slots": 8,
            },
            "service": {
                "mode": "swarm",
                "manager": "build1",
                "name": C_SVC,
                "replicas": 2,
                "stop_timeout": 2,
                "healthcheck": HEALTH,
                "environment": {"APP_VERSION": "1"},
                # one task at a time: a bad task is judged before Swarm stops a good one
                "update": {"parallelism": 1, "monitor": 4, "progress_deadline": 120},
            },
        }
    }
    args = [
        f"pillar={json.dumps(pillar)}",
        f"service={C_SVC}",
        f"frontend={C_FE}",
        f"network={C_NET}",
        "backend=app",
    ]
    yield {"args": args, "port": port, "host": swarm_engine.addr}
    api = client.api
    for cleanup in (
        lambda: api.remove_service(C_SVC),
        lambda: api.remove_container(C_FE, force=True),
        lambda: api.remove_network(C_NET),
    ):
        try:
            cleanup()
        except Exception:  # noqa: BLE001 - the engine goes with the session anyway
            pass


def _run(salt_run_cli, fun, *args):
    ret = salt_run_cli.run(fun, *args, _timeout=600)
    print(
        f"\n$ salt-run {fun} {args[0] if args else ''} -> rc {ret.returncode}\n{ret.stdout[:3000]}"
    )
    return ret


def test_chain_rollout_and_status_in_swarm_mode(salt_run_cli, synced, swarm_engine, swarm_chain):
    args = swarm_chain["args"]
    ret = _run(salt_run_cli, "chain.rollout", CHAIN_APP, APP, "ref=v1", *args)
    assert ret.returncode == 0 and ret.data["result"] is True, ret.stdout
    assert ret.data["mode"] == "swarm" and list(ret.data["servers"]) == ["build1"], ret.data
    assert ret.data["changes"] == {"build1": {"old": None, "new": APP}}, ret.data
    (node,) = ret.data["servers"]["build1"]["tasks"]
    assert len(ret.data["servers"]["build1"]["tasks"][node]) == 2, ret.data
    app = {"port": swarm_chain["port"], "host": swarm_chain["host"]}
    assert _version(app) == {"1"}

    again = _run(salt_run_cli, "chain.rollout", CHAIN_APP, APP, "ref=v1", *args)
    assert again.returncode == 0 and again.data["no_op"] is True, again.stdout
    assert again.data["changes"] == {}, again.data

    status = _run(salt_run_cli, "chain.status", CHAIN_APP, "out_format=data", "tags=0", *args)
    last = status.data[CHAIN_APP]["last_deploy"]  # the history's newest entry
    assert last["no_op"] is True and last["mode"] == "swarm", last
    service = status.data[CHAIN_APP]["servers"]["build1"]
    assert service["service"] == C_SVC and service["current"] == APP, service
    (tasks,) = service["tasks"].values()
    assert [(t["state"], t["health"], t["serving"]) for t in tasks] == [
        ("running", "healthy", True)
    ] * 2, service
    table = _run(salt_run_cli, "chain.status", CHAIN_APP, "tags=0", *args).stdout
    assert f"swarm service {C_SVC}: {APP} (2/2 task(s)" in table, table
    assert sum(1 for line in table.splitlines() if line.strip().endswith(" serving")) == 2, table

    bad = _run(salt_run_cli, "chain.rollout", CHAIN_APP, BAD, "ref=bad", *args)
    assert bad.returncode != 0 and bad.data["result"] is False, bad.stdout
    assert "rolled back" in bad.data["servers"]["build1"]["comment"], bad.data
    assert bad.data["now"] == {"build1": APP} and bad.data["changes"] == {}, bad.data
    assert _version(app) == {"1"}
    # Swarm says rollback_completed until the next update: the service is settled, and the
    # image it runs again is a no-op
    back = _run(salt_run_cli, "chain.rollout", CHAIN_APP, APP, "ref=v1", *args)
    assert back.returncode == 0 and back.data["no_op"] is True, back.stdout
