"""No function in production code is over 100 lines (its docstring included): a long function
mixes concerns that belong in pieces of their own (the house rule of issue 15)."""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PRODUCTION = ["_modules", "_states", "_runners", "_grains", "_beacons", "_utils", "src", "scripts"]
LIMIT = 100


def production_files():
    for top in PRODUCTION:
        yield from sorted((REPO / top).rglob("*.py"))
    yield REPO / "scripts" / "chain.py"


def long_functions(source, limit=LIMIT):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                yield node.name, node.lineno, length


def test_the_check_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    assert list(long_functions(f"def long():\n{body}\n")) == [("long", 1, LIMIT + 1)]
    assert not list(long_functions("def short():\n    return 1\n"))


@pytest.mark.parametrize(
    "path", sorted(set(production_files())), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_function_over_100_lines(path):
    found = list(long_functions(path.read_text()))
    assert not found, f"{path.relative_to(REPO)}: " + ", ".join(
        f"{name} (line {line}, {length} lines)" for name, line, length in found
    )
