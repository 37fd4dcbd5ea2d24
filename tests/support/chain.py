"""formulas/chain in a test: pillar `chain` for the frontend + deploy (this run's names, label
and frontend ports, per_minion names, the sample app's health check) and the frontend image."""

import pathlib

from tests.support import engines, local
from tests.support.load import HEALTH

HAPROXY_CONTEXT = pathlib.Path(__file__).resolve().parents[2] / "images" / "haproxy"


def build_haproxy(client, tag):
    """images/haproxy on the local Debian base image, tagged ``tag`` (a name of this run)."""
    client.images.build(
        path=str(HAPROXY_CONTEXT), tag=tag, rm=True, buildargs={"BASE_IMAGE": engines.DEBIAN}
    )


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


def push_failing_commit(url, work, branch="broken"):
    """Clone the app's repository at ``url`` into ``work``, commit a unit test that fails
    ("broken on purpose") and push it to ``branch``; returns the commit."""
    local.git("clone", "-q", url, str(work))
    (work / "tests" / "test_broken.py").write_text(
        "import unittest\n\n\nclass Broken(unittest.TestCase):\n"
        "    def test_broken(self):\n        self.fail('broken on purpose')\n"
    )
    local.git("add", "tests/test_broken.py", cwd=work)
    local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "broken", cwd=work)
    local.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return local.git("rev-parse", "HEAD", cwd=work)
