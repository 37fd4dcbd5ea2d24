"""The Salt side of the fault tier (tests/fault/test_fault_salt.py): a master and two app minions
of the test's own (pytest-salt-factories), a tiny app (two label-only images of the local Debian
base, one replica per server, no frontend) and its deploy state, so that a rollout takes seconds
and the test may stop a minion or restart the master by the PIDs it started.

The deploy state ``fault.deploy`` sleeps first on the minions that pillar ``chain:slow`` names
(``{minion: seconds}``): the window in which a test breaks something mid-rollout."""

import contextlib
import io
import json
import os
import signal
import time

from tests.conftest import REPO
from tests.support import engines

ENGINE = "engine1"
#: The master's ``gather_job_timeout`` (Salt's default is 10 s): how long a minion may take to
#: answer the job check before the rollout counts it unreachable.
GATHER_JOB_TIMEOUT = 3
APP = f"fa{engines.RUN}"
SERVICE = engines.name("fault-app-{minion}")
REPOSITORY = f"saltext-chain/{engines.name('fault-app')}"

DEPLOY_SLS = """\
{%- set c = pillar['chain'] %}
{%- set slow = (c.get('slow') or {}).get(grains['id']) %}
{%- if slow %}
fault-deploy-slow:
  cmd.run:
    - name: sleep {{ slow }}
    - require_in:
      - container_service: fault-deploy-running
{%- endif %}

fault-deploy-running:
  container_service.running:
    - name: {{ c.service | replace('{minion}', grains['id']) }}
    - image: {{ c.image }}
    - replicas: 1
    - command: ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
    - healthcheck: {test: "true", interval: 1s, timeout: 1s, retries: 1}
    - update: {monitor: 2, progress_deadline: 60}
    - stop_timeout: 2
    - labels: {{ c.labels | json }}
"""


#: An orchestrate's first stage as the chain's (formulas/chain/init.sls ``chain-infrastructure``:
#: ``salt.state`` on a list of servers), then a second stage that requires it.
ORCH_SLS = """\
fault-first-stage:
  salt.state:
    - tgt: [a, b]
    - tgt_type: list
    - sls: [fault.first]

fault-second-stage:
  salt.function:
    - name: test.ping
    - tgt: a
    - require:
      - salt: fault-first-stage
"""
FIRST_SLS = """\
fault-first:
  test.succeed_without_changes
"""


def ext_tree(root):
    """The extension directories (only those), ``fault/deploy.sls`` and a two-stage orchestrate
    (``fault/orch.sls``, its first stage ``fault/first.sls``) under ``root``."""
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons", "_utils"):
        os.symlink(REPO / kind, root / kind)
    (root / "fault").mkdir()
    (root / "fault" / "deploy.sls").write_text(DEPLOY_SLS)
    (root / "fault" / "orch.sls").write_text(ORCH_SLS)
    (root / "fault" / "first.sls").write_text(FIRST_SLS)
    return root


def master_overrides(tree):
    return {
        "file_roots": {"base": [str(tree)]},
        "interface": "127.0.0.1",
        "open_mode": False,
        "gather_job_timeout": GATHER_JOB_TIMEOUT,
    }


def minion_overrides():
    url = engines.ENGINES[ENGINE]
    return {"master": "127.0.0.1", "container": {"profiles": {"default": {"base_url": url}}}}


def build_images(client):
    """``{version: tag}``: two images of distinct ids (a label each) on the base image."""
    tags = {}
    for version in ("1", "2"):
        tag = f"{REPOSITORY}:{version}"
        dockerfile = f"FROM {engines.DEBIAN}\nLABEL {engines.TEST_LABEL}.version={version}\n"
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
        tags[version] = tag
    return tags


def remove_images(client, tags):
    for tag in tags.values():
        with contextlib.suppress(Exception):
            client.images.remove(tag, force=True)


def rollout_args(targets, slow=None, **extra):
    """``salt-run chain.rollout`` keyword arguments (``key=value``) of the tiny app."""
    pillar = {
        "chain": {"service": SERVICE, "labels": {engines.TEST_LABEL: engines.RUN}, "slow": slow}
    }
    args = {
        "targets": ",".join(targets),
        "sls": "fault.deploy",
        "service": SERVICE,
        "pin": "false",
        "pillar": json.dumps(pillar),
        **extra,
    }
    return [f"{k}={v}" for k, v in args.items()]


def running_images(client, minion):
    """The image ids of the replicas that run ``minion``'s service."""
    name = SERVICE.replace("{minion}", minion)
    found = client.containers.list(filters={"label": f"{engines.TEST_LABEL}={engines.RUN}"})
    return {c.attrs["Image"] for c in found if c.name.startswith(f"{name}-")}


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


def kill(pid):
    """SIGKILL of a process this test started (by its PID)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
