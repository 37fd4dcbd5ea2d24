"""The masterless deployment of docs/container.md, run as printed: ``file_client: local`` and
``module_dirs`` pointing at a checkout, in a venv WITHOUT the installed package (so the states
come from ``module_dirs`` alone), through a real ``salt-call --local``. The same minion then
shows that a bad argument is a failed state in ``--out=json``, not an aborted run."""

import contextlib
import json
import re
import subprocess

import docker
import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_packaging import _venv_without_the_package
from tests.support import engines
from tests.support.engines import BUSYBOX, RUN

pytestmark = pytest.mark.integration

TYPO_SLS = """
typo-net:
  container_network.present:
    - name: {demo}-typo
    - drivr: bridge

runs-anyway:
  test.succeed_without_changes: []
"""


def _example(marker):
    page = (REPO / "docs" / "container.md").read_text()
    match = re.search(rf"<!-- masterless: {marker} -->\n```yaml\n(.*?)```", page, re.S)
    assert match, f"docs/container.md: no yaml block after <!-- masterless: {marker} -->"
    return match.group(1)


def _salt_call(python, conf, *args):
    """``(exit code, the JSON answer)`` of ``salt-call --local --out=json``."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import sys; from salt.scripts import salt_call; sys.argv[0] = 'salt-call'; "
            "salt_call()",
            "--local",
            "-c",
            str(conf),
            "--out=json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=conf,
    )
    try:
        return out.returncode, json.loads(out.stdout)["local"]
    except ValueError:
        pytest.fail(f"salt-call printed no JSON (rc {out.returncode}): {out.stderr[-2000:]}")


def _by_id(result):
    assert isinstance(result, dict), result
    return {v["__id__"]: v for v in result.values()}


def test_the_masterless_example_runs_as_printed(tmp_path, docker_engines):
    python = _venv_without_the_package(tmp_path)
    srv = tmp_path / "srv"
    srv.mkdir()
    minion = _example("minion").replace("/srv/saltext-chain", str(REPO))
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    config = yaml.safe_load(minion.replace("/srv/salt", str(srv)))
    assert config["file_client"] == "local" and config["module_dirs"] == [str(REPO)]
    config.update(id=f"masterless-{RUN}", root_dir=str(tmp_path / "root"))
    (conf_dir / "minion").write_text(yaml.safe_dump(config))
    demo = f"sc-{RUN}-demo"
    sls = _example("sls").replace("busybox:1.36", BUSYBOX).replace("demo-", f"{demo}-")
    (srv / "demo.sls").write_text(sls)
    (srv / "typo.sls").write_text(TYPO_SLS.format(demo=demo))
    try:
        code, first = _salt_call(python, conf_dir, "state.apply", "demo")
        first = _by_id(first)
        assert code == 0 and all(s["result"] is True for s in first.values()), first
        assert all(s["changes"] for s in first.values()), first
        code, again = _salt_call(python, conf_dir, "state.apply", "demo", "test=True")
        again = _by_id(again)
        assert code == 0 and [s["changes"] for s in again.values()] == [{}, {}], again
        with contextlib.closing(engines.client("engine1")) as client:
            info = client.api.inspect_container(f"{demo}-web")
        assert info["HostConfig"]["Init"] is True and info["State"]["Running"] is True

        code, typo = _salt_call(python, conf_dir, "state.apply", "typo")
        typo = _by_id(typo)
        assert code != 0, "a failed state makes salt-call exit non-zero"
        assert typo["typo-net"]["result"] is False
        assert typo["typo-net"]["comment"].startswith(
            "unknown argument 'drivr': did you mean 'driver'?"
        )
        assert typo["runs-anyway"]["result"] is True
    finally:
        with contextlib.closing(engines.client("engine1")) as client:
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_container(f"{demo}-web", force=True, v=True)
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_network(f"{demo}-net")
