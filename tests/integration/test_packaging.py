"""The pip deployment: the salt.loader entry point exposes the top-level _modules/_states/...
dirs as saltext.chain.*, for a wheel in a fresh virtualenv and for the editable install."""

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.integration

EXPECTED_STATES = {"container", "container_image", "container_network", "container_volume", "container_registry",
                   "jenkins_node", "jenkins_job", "jenkins_build", "jenkins_plugin"}
EXPECTED_MODULES = {"container", "jenkins"}


def _local_config(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(yaml.safe_dump({
        "id": "pkg-check", "root_dir": str(tmp_path / "root"), "file_client": "local",
        "file_roots": {"base": [str(tmp_path / "empty")]},
    }))
    (tmp_path / "empty").mkdir()
    return conf


def _salt_call(bindir, conf, *args):
    out = subprocess.run(
        [str(bindir / "salt-call"), "--local", "-c", str(conf), "--out=json", *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=conf,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)["local"]


def _check(bindir, conf):
    states = set(_salt_call(bindir, conf, "sys.list_state_modules"))
    assert EXPECTED_STATES <= states, sorted(states)
    spec = _salt_call(bindir, conf, "container.normalize", "image=app/web:1", 'ports=["127.0.0.1:8080:80"]')
    assert spec == {"image": "app/web:1", "ports": {"80/tcp": [["127.0.0.1", "8080"]]}}
    modules = set(_salt_call(bindir, conf, "sys.list_modules"))
    assert EXPECTED_MODULES <= modules, sorted(modules)
    (conf.parent / "empty" / "pkg.yaml").write_text("- job:\n    name: pkg\n    builders:\n      - shell: 'true'\n")
    xml = _salt_call(bindir, conf, "jenkins.job_render", "salt://pkg.yaml")
    assert "<hudson.tasks.Shell>" in xml["pkg"]
    grains = _salt_call(bindir, conf, "grains.item", "container_engine")
    assert "container_engine" in grains


def test_editable_install_needs_no_sync(tmp_path):
    _check(REPO / ".venv" / "bin", _local_config(tmp_path))


def test_wheel_in_a_fresh_virtualenv_needs_no_sync(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".state", ".git", "__pycache__", "*.egg-info", "build", "tests", "benchmarks", "docs"))
    wheels = tmp_path / "wheels"
    subprocess.run([str(REPO / ".venv" / "bin" / "pip"), "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
                   check=True, timeout=300)
    (wheel,) = wheels.glob("saltext_chain-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, timeout=900)
    _check(venv / "bin", _local_config(tmp_path))
