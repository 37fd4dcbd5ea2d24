"""Integration: a real salt-master and two minions, each bound to its own Docker engine.

build1 talks to engine 1, web1 to engine 2, through the `container` connection profile in
its minion config. The master serves the extension directories and `formulas/` from
`file_roots` (the classic deployment); `synced` runs `saltutil.sync_all` on both sides.
"""

import os
import pathlib

import pytest
import yaml

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.support import engines

MINION_ENGINES = {"build1": "engine1", "web1": "engine2"}


@pytest.fixture(scope="package")
def ext_tree(tmp_path_factory):
    """Only the extension dirs are served: never tests/, src/ or .venv."""
    tree = tmp_path_factory.mktemp("ext")
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons"):
        os.symlink(REPO / kind, tree / kind)
    return tree


@pytest.fixture(scope="package")
def jenkins_emulator(tmp_path_factory):
    """The Jenkins emulator as the controller: real HTTP on 127.0.0.1, one built-in executor."""
    home = tmp_path_factory.mktemp("jenkins-home")
    with testing.running_emulator(home, plugins=("git:5.7.0",), extra_args=["--builtin-executors", "1"]) as (
        url, user, token
    ):
        yield {"url": url, "user": user, "token": token, "home": str(home)}


@pytest.fixture(scope="package")
def secret_pillar(tmp_path_factory, registry_credentials, jenkins_emulator):
    """Pillar that holds secrets is written at run time, never committed."""
    root = tmp_path_factory.mktemp("pillar")
    (root / "registry.sls").write_text(yaml.safe_dump({
        "container": {"registries": {engines.REGISTRY: registry_credentials}},
        "stack": {"registry": engines.REGISTRY, "version": "1"},
        "jenkins": {"profiles": {"default": {k: jenkins_emulator[k] for k in ("url", "user", "token")}}},
        "ci": {"node": "agent-int", "job": "salt-built"},
    }))
    return root


@pytest.fixture(scope="package")
def master(salt_factories, ext_tree, docker_engines, secret_pillar):
    here = pathlib.Path(__file__).parent
    factory = salt_factories.salt_master_daemon(
        "master-chain",
        overrides={
            "file_roots": {"base": [str(ext_tree), str(REPO / "formulas"), str(here / "files")]},
            "pillar_roots": {"base": [str(here / "pillar"), str(secret_pillar)]},
            "interface": "127.0.0.1",
            "open_mode": False,
        },
    )
    with factory.started():
        yield factory


def _minion(master, minion_id):
    engine = MINION_ENGINES[minion_id]
    return master.salt_minion_daemon(
        minion_id,
        overrides={
            "master": "127.0.0.1",
            "container": {"profiles": {"default": {"base_url": engines.ENGINES[engine], "timeout": 60}}},
        },
    )


@pytest.fixture(scope="package")
def build1(master):
    factory = _minion(master, "build1")
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def web1(master):
    factory = _minion(master, "web1")
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def salt_cli(master):
    return master.salt_cli(timeout=300)


@pytest.fixture(scope="package")
def salt_run_cli(master):
    return master.salt_run_cli(timeout=300)


@pytest.fixture(scope="package")
def synced(salt_cli, salt_run_cli, build1, web1):
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="*")
    assert ret.returncode == 0, ret
    for minion in ("build1", "web1"):
        assert any("container" in m for m in ret.data[minion]["modules"]), ret.data
    ret = salt_run_cli.run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    return True
