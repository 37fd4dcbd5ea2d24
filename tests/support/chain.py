"""Pillar `chain` for formulas/chain's frontend + deploy in a test: this run's names (prefix),
label and frontend ports, per_minion names, the sample app's health check."""

from tests.support import engines
from tests.support.load import HEALTH


def deploy_pillar(prefix, haproxy, ports, slots=8, **service):
    """``{"chain": ...}``: network ``<prefix>-net``, frontend ``<prefix>-fe`` (image
    ``haproxy``, ``slots``), service ``<prefix>-app`` (``service`` overrides), a frontend port
    per server from ``ports`` ({minion id: port})."""
    return {
        "chain": {
            "per_minion": True,
            "labels": {engines.TEST_LABEL: engines.RUN},
            "network": {"name": engines.name(f"{prefix}-net")},
            "frontend": {"name": engines.name(f"{prefix}-fe"), "image": haproxy, "slots": slots},
            "service": {
                "name": engines.name(f"{prefix}-app"),
                "healthcheck": HEALTH,
                "update": {"monitor": 4, "progress_deadline": 60},
                **service,
            },
            "servers": {m: {"frontend": {"port": p}} for m, p in ports.items()},
        }
    }
