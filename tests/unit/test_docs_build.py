"""The docs build, and their module reference covers every loader module (from the docstrings)."""

import importlib.util
import pathlib
import subprocess
import sys

from tests.support import tools

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_sphinx_builds_a_page_per_module(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        tools.missing("sphinx is not installed: pip install -e '.[tests]'")
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(ROOT / "docs"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for kind in ("_modules", "_states", "_grains", "_beacons", "_runners"):
        for path in (ROOT / kind).glob("*.py"):
            if path.name.startswith("_"):
                continue
            page = tmp_path / "ref" / f"{kind.strip('_')}.{path.stem}.html"
            assert page.exists(), page
            assert "CLI Example" in page.read_text() or kind not in ("_modules", "_runners")
