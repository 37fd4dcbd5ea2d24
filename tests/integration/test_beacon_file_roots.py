"""The container_events beacon in the classic deployment (file_roots + saltutil.sync_all, no
pip package): Salt gives beacons no utils dir on sys.path, so the beacon reaches the shared
chain_profiles/chain_docker_client through the container execution module that loaded them."""

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_packaging import _salt_call, _venv_without_the_package

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, sys, time
import salt.config, salt.loader
opts = salt.config.minion_config(sys.argv[1])
opts["grains"] = salt.loader.grains(opts)
funcs = salt.loader.minion_mods(opts)
beacons = salt.loader.beacons(opts, funcs)
validate, beacon = beacons["container_events.validate"], beacons["container_events.beacon"]
bad = validate([{"profile": {"base_url": "unix:///x", "colour": "red"}}])
good = validate([{"profile": "default"}, {"actions": ["die"]}])
mod = sys.modules[beacon.__module__]
first = beacon([{"actions": ["die"]}, {"_beacon_name": "fr-check"}])
connected = False
for _ in range(50):
    watchers = list(mod._WATCHERS.values())
    if watchers and all(w.connected for w in watchers):
        connected = True
        break
    time.sleep(0.1)
errors = [w.last_error for w in mod._WATCHERS.values()]
beacons["container_events.close"]([{"_beacon_name": "fr-check"}])
print(json.dumps({"bad": list(bad), "good": list(good), "first": first, "connected": connected,
                  "errors": errors,
                  "package": "saltext.chain" in sys.modules,
                  "flat": [m for m in ("chain_docker_client", "chain_profiles")
                           if m in sys.modules]}))
"""


def test_beacon_without_the_package_uses_the_synced_utils(tmp_path, docker_engines):
    python = _venv_without_the_package(tmp_path)
    srv = tmp_path / "srv"
    for kind in ("_modules", "_states", "_grains", "_beacons", "_utils"):
        shutil.copytree(
            REPO / kind, srv / kind, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        yaml.safe_dump(
            {
                "id": "beacon-check",
                "root_dir": str(tmp_path / "root"),
                "file_client": "local",
                "file_roots": {"base": [str(srv)]},
            }
        )
    )
    synced = _salt_call(None, conf, "saltutil.sync_all", python=python)
    assert "beacons.container_events" in synced["beacons"], synced
    out = subprocess.run(
        [str(python), "-c", SCRIPT, str(conf / "minion")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["package"] is False and result["flat"] == [
        "chain_docker_client",
        "chain_profiles",
    ], result
    assert result["bad"][0] is False and "unknown profile key(s): colour" in result["bad"][1]
    assert result["good"][0] is True, result
    assert result["first"] == [] and result["connected"] is True, result
