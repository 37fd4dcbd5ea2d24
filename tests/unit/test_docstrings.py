"""The documentation contract: every public execution/runner function has a CLI Example, every
public state function a YAML example, every module a docstring (the reference is built from
them)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _public_functions(kind):
    for path in sorted((ROOT / kind).glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        yield (
            path,
            ast.get_docstring(tree),
            [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")],
        )


@pytest.mark.parametrize("kind", ["_modules", "_runners"])
def test_cli_examples(kind):
    if not list(_public_functions(kind)):
        pytest.skip(f"{kind} has no modules yet")
    missing = [
        f"{p.name}:{f.name}"
        for p, _, funcs in _public_functions(kind)
        for f in funcs
        if "CLI Example" not in (ast.get_docstring(f) or "")
    ]
    assert missing == []


def test_state_yaml_examples():
    missing = [
        f"{p.name}:{f.name}"
        for p, _, funcs in _public_functions("_states")
        for f in funcs
        if f.name != "mod_watch" and ".. code-block:: yaml" not in (ast.get_docstring(f) or "")
    ]
    assert missing == []


@pytest.mark.parametrize("kind", ["_modules", "_states", "_runners", "_grains", "_beacons"])
def test_module_docstrings(kind):
    if not list(_public_functions(kind)):
        pytest.skip(f"{kind} has no modules yet")
    assert [p.name for p, doc, _ in _public_functions(kind) if not doc] == []
