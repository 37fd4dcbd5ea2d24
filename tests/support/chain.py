"""formulas/chain in a test: pillar `chain` for the frontend + deploy (this run's names, label
and frontend ports, per_minion names, the sample app's health check) and the frontend image."""

import pathlib

from tests.support import engines, local
from tests.support.load import HEALTH

HAPROXY_CONTEXT = pathlib.Path(__file__).resolve().parents[2] / "images" / "haproxy"


def drop_forward_schedule(salt_cli, source_name, minion="build1"):
    """Delete the push forwarder's schedule that formulas/chain/source.sls added on ``minion``
    for a source server of this run. Left behind, it forks a job every second on that minion
    for the rest of the session, for a source server long gone (ci50's process accounting: the
    passes of test_chain_orchestrate's source server went on to the end of its worker's run)."""
    salt_cli.run("schedule.delete", f"chain-push-forward-{source_name}", minion_tgt=minion)


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


HEALTHY = '    """True when the service can serve requests."""\n    return True\n'
#: The sample app, sick only in production: its unit tests pass (they run without APP_ENV),
#: but with the production environment (APP_ENV=production) its /health answers 503.
SICK_IN_PRODUCTION = (
    '    """True when the service can serve requests: in production, its data directory."""\n'
    '    return os.environ.get("APP_ENV") != "production" or os.path.isdir("/var/lib/app")\n'
)
#: The production environment the tests give the deploy (pillar chain:service:environment).
PRODUCTION = {"APP_ENV": "production"}


def make_sick_in_production(app_dir):
    """Rewrite ``app_dir``/app.py (a copy of examples/app) as :data:`SICK_IN_PRODUCTION`."""
    app = pathlib.Path(app_dir) / "app.py"
    text = app.read_text()
    assert HEALTHY in text, "examples/app/app.py's healthy() changed: update tests/support/chain.py"
    app.write_text(text.replace(HEALTHY, SICK_IN_PRODUCTION))


def push_sick_commit(url, work, branch="sick"):
    """Clone the app's repository at ``url`` into ``work``, commit :data:`SICK_IN_PRODUCTION`
    and push it to ``branch``; returns the commit."""
    local.git("clone", "-q", url, str(work))
    make_sick_in_production(work)
    local.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "sick", cwd=work)
    local.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return local.git("rev-parse", "HEAD", cwd=work)
