"""``container_service.running`` with ``mode: swarm`` through the real master and minion
(build1): a Swarm service of the sample app on the session's private Swarm engine
(tests/support/swarm_engine.py, a one-node manager in a network namespace of its own), behind
an HAProxy frontend container of that engine on the service's attachable overlay network, its
port published on the engine's own address. Under a steady load through the frontend: a rollout
(app 1 -> 2) and a bad version whose tasks Swarm calls running and healthy (the health check
passes on the task's loopback) but which serve nothing on the network: our gate sees them not
serving and rolls back with ``docker service rollback``. Zero failed requests throughout; a
second apply changes nothing; ``container_service.swarm_status`` shows the tasks per node.
"""

import json

import pytest

from tests.conftest import REPO
from tests.support import engines
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
