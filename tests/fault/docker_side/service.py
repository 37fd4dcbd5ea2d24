"""The deploy the fault tests break: a network, an HAProxy frontend, two plain containers and a
two-replica ``container_service`` behind the frontend, all on the private engine (profile
``fault``), written as one sls the tests apply with ``state.sls``. Pillar ``fault`` picks the app
version and the plain containers' environment (a change recreates them)."""

import json
import textwrap

from tests.fault.docker_side.conftest import PROFILE
from tests.support import engines, load

HEALTH = load.HEALTH
UPDATE = {
    "parallelism": 2,
    "monitor": 4,
    "failure_action": "rollback",
    "order": "start-first",
    "progress_deadline": 60,
}

SLS = textwrap.dedent(
    """\
    {%- set f = pillar['fault'] %}
    fault-net:
      container_network.present:
        - name: {{ f.network }}
        - subnet: {{ f.subnet }}
        - labels: {{ f.labels | json }}

    fault-frontend:
      container.running:
        - name: {{ f.frontend }}
        - image: {{ f.haproxy }}
        - networks: [{{ f.network }}]
        - labels: {{ f.labels | json }}
        - environment: {CHAIN_BACKEND: app, CHAIN_SLOTS: "8"}
        - wait_healthy: true
        - health_timeout: 30
        - stop_timeout: 2
        - require:
          - container_network: fault-net

    {%- for n in ('a', 'b') %}

    fault-plain-{{ n }}:
      container.running:
        - name: {{ f.plain }}-{{ n }}
        - image: {{ f.busybox }}
        - command: {{ f.command | json }}
        - environment: {WAVE: "{{ f.wave }}"}
        - labels: {{ f.labels | json }}
        - stop_timeout: 1
    {%- endfor %}

    fault-app:
      container_service.running:
        - name: {{ f.service }}
        - image: {{ f.image }}
        - replicas: 2
        - frontend: {{ f.frontend }}
        - network: {{ f.network }}
        - port: 8000
        - healthcheck: {{ f.health | json }}
        - update: {{ f['update'] | json }}
        - labels: {{ f.labels | json }}
        - stop_timeout: 2
        - require:
          - container: fault-frontend
    """
)


def write_sls(file_root, name="faultdeploy"):
    (file_root / f"{name}.sls").write_text(SLS)
    return name


def pillar(private_engine, images, version, wave):
    return {
        "fault": {
            "network": engines.name("fnet"),
            "subnet": str(private_engine.user_net),
            "frontend": engines.name("ffe"),
            "haproxy": images["haproxy"],
            "plain": engines.name("fplain"),
            "busybox": engines.BUSYBOX,
            "command": engines.stoppable("sleep 3600"),
            "wave": str(wave),
            "service": engines.name("fapp"),
            "image": images[f"v{version}"],
            "health": HEALTH,
            "update": UPDATE,
            "labels": dict(engines.LABELS),
        }
    }


def frontend_addr(api, frontend, network):
    data = api.inspect_container(frontend)
    return data["NetworkSettings"]["Networks"][network]["IPAddress"]


def ask(addr, path="/version", timeout=3):
    """``(status, body)`` of one request to the frontend (its address on the private network:
    the engine's published ports die with its dockerd, the container does not)."""
    return load.get(8080, path, host=addr, timeout=timeout)


def versions(addr, n=12):
    out = set()
    for _ in range(n):
        status, body = ask(addr)
        assert status == 200, (status, body)
        out.add(json.loads(body)["version"])
    return out


__all__ = ["PROFILE", "pillar", "write_sls", "frontend_addr", "ask", "versions"]
