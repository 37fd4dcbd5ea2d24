"""The whole chain that a push runs in tests/integration/test_push_to_production.py: the app's
pillar for the orchestrate (this run's names and labels, free loopback ports), known before the
master starts (its ``chain:push:repos:<repo>:pillar``).

One app server, build1 itself (engine 1): the test is about the way in (hooks, forwarder,
reactor, queue, worker), not about rolling across servers (test_chain_rollout.py)."""

from tests.conftest import REPO
from tests.support import engines, local
from tests.support.chain import deploy_pillar

APP = f"e2e{engines.RUN}"
TARGETS = ["build1"]


def settings(chain_registry):
    """``{app, pillar, ports, source, job, label, agent, images}`` of this run."""
    source_port, http_port = local.free_port(), local.free_port()
    ports = {m: local.free_port() for m in TARGETS}
    haproxy = f"saltext-chain/{engines.name('e2e')}-haproxy:1"
    images = [f"saltext-chain/{engines.name(n)}:1" for n in ("e2e-registry", "e2e-source")]
    job, label = engines.name("e2e-pipeline"), engines.name("e2el")
    chain = {
        "app": APP,
        "targets": TARGETS,
        "build_target": "build1",
        "registry": {
            "address": chain_registry["address"],
            "repository": f"sc-{engines.RUN}/e2e-app",
            "server": {
                "name": engines.name("e2e-registry"),
                "image": images[0],
                "volume": engines.name("e2e-registry-data"),
                "port": chain_registry["port"],
            },
        },
        "source": {
            "name": engines.name("e2e-source"),
            "image": images[1],
            "volume": engines.name("e2e-source-data"),
            "hg_volume": engines.name("e2e-source-hg"),
            "port": source_port,
            "http_port": http_port,
            "checkout": str(REPO),
            "forward_seconds": 1,
        },
        "jobs": {
            "name": job,
            "label": label,
            "git_url": f"git://127.0.0.1:{source_port}/app.git",
            "hg_url": f"http://127.0.0.1:{http_port}/hg/{{repo}}",
        },
        **deploy_pillar("e2e", haproxy, ports, environment={"APP_ENV": "production"})["chain"],
    }
    return {
        "app": APP,
        "pillar": {"chain": chain},
        "ports": ports,
        "source_port": source_port,
        "http_port": http_port,
        "job": job,
        "label": label,
        "agent": engines.name("e2e-agent"),
        "haproxy": haproxy,
        "images": [*images, haproxy],
    }
