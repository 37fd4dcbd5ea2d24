"""A missing tool skips a test on a developer's machine and fails it in CI (tests/support/tools.py),
and no test of the suite skips for a missing tool any other way."""

import pathlib
import re

import pytest

from tests.support import tools

TESTS = pathlib.Path(__file__).resolve().parents[2]
# Skips that are not for a missing tool, each with its reason.
NOT_A_TOOL = {
    "tests/support/tools.py": "the one place a missing tool is skipped (or failed in CI)",
    "tests/browser/conftest.py": "its own CI=true guard (tests/browser/test_browser_guard.py)",
    "tests/emulator/conftest.py": "against a real Jenkins: emulator-only tests, newer behaviour",
    "tests/unit/test_docstrings.py": "a loader directory without modules",
}
SKIP = re.compile(r"pytest\.(skip\(|importorskip\(|mark\.skip(if)?\b)")


@pytest.mark.parametrize("ci", ["true", "", "false"])
def test_a_missing_tool_fails_in_ci_and_skips_elsewhere(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci == "true" else pytest.skip.Exception
    with pytest.raises(expected, match="sphinx is missing"):
        tools.missing("sphinx is missing")


def test_no_test_skips_for_a_missing_tool_but_through_tools():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS.parent).as_posix()
        if rel in NOT_A_TOOL or path == pathlib.Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SKIP.search(line) and "tools.missing" not in line:
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)
