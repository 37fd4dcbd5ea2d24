"""The chain runner with the app in Swarm mode through the real master and minion (build1), on
the session's private Swarm engine (tests/support/swarm_engine.py, a one-node manager in a
network namespace of its own): pillar ``chain:service:mode: swarm`` (the manager build1),
formulas/chain's deploy state making the attachable overlay network, the HAProxy frontend and
the service on the Swarm engine, the frontend's port published on the engine's own address.
``chain.rollout`` converges, a second one is a no-op recorded as such, ``chain.status`` shows
the tasks per node, and an image whose tasks Swarm calls running and healthy (the health check
passes on the task's loopback) but which serve nothing on the network is rolled back (the
deploy state's ``docker service rollback``).

``container_service.running`` in Swarm mode under load (a rollout and a rollback with zero
failed requests) runs across two hosts: tests/integration/multihost/test_hosts_swarm.py."""

import io
import json

import pytest

from tests.conftest import REPO
from tests.support import engines, local
from tests.support.chain import build_haproxy
from tests.support.load import HEALTH, get

pytestmark = [pytest.mark.integration, pytest.mark.docker]

PREFIX = f"saltext-chain/{engines.name('sw')}"
HAPROXY = f"{PREFIX}-haproxy:1"
APP = f"{PREFIX}-app:1"  # one image: the version is the task's APP_VERSION (one build less)
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
def swarm_images(swarm_engine):
    """The frontend's and the app's images on the Swarm engine (the app's one image: the
    version is the task's APP_VERSION)."""
    swarm_engine.load(engines.DEBIAN, cache_dir=swarm_engine.images_dir)
    client = swarm_engine.client()
    build_haproxy(client, HAPROXY)
    client.images.build(
        path=str(REPO / "examples" / "app"),
        tag=APP,
        rm=True,
        buildargs={"BASE_IMAGE": engines.DEBIAN},
    )
    return client


def _version(app):
    return {json.loads(get(app["port"], host=app["host"])[1])["version"] for _ in range(10)}


# The chain runner's names on the Swarm engine.
CHAIN_APP = f"sw{engines.RUN}"
BAD = f"{PREFIX}-bad:1"  # the app listening on its loopback only (BAD_COMMAND) as an image
C_SVC, C_NET, C_FE = (engines.name(f"swc-{what}") for what in ("app", "net", "fe"))


@pytest.fixture(scope="module")
def swarm_chain(swarm_engine, swarm_images):
    """The runner's arguments: formulas/chain's deploy in Swarm mode on build1 (the manager),
    the frontend published on the Swarm engine's own address; the bad image built."""
    client = swarm_images
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
        lambda: api.remove_container(C_FE, force=True, v=True),
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
