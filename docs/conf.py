"""Sphinx configuration. The module reference (docs/ref/) is generated at build time from the
docstrings of every file in _modules, _states, _runners, _grains and _beacons."""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

project = "saltext-chain"
author = "saltext-chain developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
html_theme = "alabaster"

KINDS = {
    "_modules": "Execution modules",
    "_states": "State modules",
    "_runners": "Runners",
    "_grains": "Grains",
    "_beacons": "Beacons",
}


def _virtualname(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "__virtualname__" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return path.stem


def generate_reference():
    ref = ROOT / "docs" / "ref"
    ref.mkdir(exist_ok=True)
    index = ["Module reference", "================", "", ".. toctree::", "   :maxdepth: 1", ""]
    for kind, title in KINDS.items():
        files = sorted(p for p in (ROOT / kind).glob("*.py") if not p.name.startswith("_"))
        if not files:
            continue
        page = [title, "=" * len(title), "", ".. toctree::", "   :maxdepth: 1", ""]
        for path in files:
            name = _virtualname(path)
            stub = f"{kind.strip('_')}.{path.stem}"
            (ref / f"{stub}.rst").write_text(
                f"{name}\n{'=' * len(name)}\n\n.. automodule:: {kind}.{path.stem}\n    :members:\n"
            )
            page.append(f"   {stub}")
        (ref / f"{kind.strip('_')}.rst").write_text("\n".join(page) + "\n")
        index.append(f"   {kind.strip('_')}")
    (ref / "index.rst").write_text("\n".join(index) + "\n")


generate_reference()
