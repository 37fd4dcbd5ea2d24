"""scripts/run_tests.py (`make test`): the combined summary line and exit code of its two pytest
processes."""

import importlib.util

import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("run_tests", REPO / "scripts" / "run_tests.py")
run_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tests)


def test_closing_line_is_pytests_last_summary():
    text = (
        "tests/unit/test_x.py::test_a PASSED\n"
        "FAILED tests/unit/test_x.py::test_b - assert 1 == 2 in 0.5s\n"
        "============ 1 failed, 10 passed, 2 warnings in 12.34s ============\n"
        "\n"
    )
    assert run_tests.closing_line(text) == (
        "============ 1 failed, 10 passed, 2 warnings in 12.34s ============"
    )
    assert run_tests.closing_line("collecting ... \nINTERNALERROR> boom\n") is None


def test_combined_line_adds_the_counts_in_pytests_order():
    line = run_tests.combined_line(
        [
            "===== 3 failed, 800 passed, 1 skipped, 1 warning in 300.00s (0:05:00) =====",
            "===== 20 passed, 1 error in 700.10s (0:11:40) =====",
        ],
        701.5,
    )
    assert " 3 failed, 820 passed, 1 skipped, 1 warnings, 1 errors in 701.50s (0:11:41) " in line
    assert line.startswith("=") and line.endswith("=")
    assert run_tests.counts(line) == {
        "failed": 3,
        "passed": 820,
        "skipped": 1,
        "warnings": 1,
        "errors": 1,
    }


@pytest.mark.parametrize(
    ("codes", "wanted"),
    [
        ((0, 0), 0),
        ((1, 0), 1),
        ((0, 1), 1),
        ((5, 0), 0),  # one part collected nothing, the other ran: the run collected tests
        ((5, 1), 1),
        ((5, 5), 5),  # nothing at all: .ci/run fails on it
        ((2, 1), 2),  # interrupted outranks failed
    ],
)
def test_combined_exit_code(codes, wanted):
    assert run_tests.combined_code(codes) == wanted


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),  # side by side is the default
        ({"CHAIN_TEST_PARALLEL": "1"}, True),
        ({"CHAIN_TEST_PARALLEL": ""}, True),
        ({"CHAIN_TEST_PARALLEL": "0"}, False),  # the serial way stays
        ({"CHAIN_TEST_PARALLEL": "no"}, False),
        ({"CHAIN_TEST_PARALLEL": "False"}, False),
    ],
)
def test_side_by_side_is_the_default_and_serial_stays_possible(env, wanted):
    assert run_tests.parallel(env) is wanted


def test_every_part_writes_its_junit_file(tmp_path):
    cmds = run_tests.parts(1, str(tmp_path))
    assert all(any(a.startswith("--junitxml=") for a in cmd) for cmd in cmds.values())
    assert f"--junitxml={tmp_path / 'tests.xml'}" in run_tests.serial_cmd(str(tmp_path))
    assert not any(a.startswith("--junitxml") for a in run_tests.serial_cmd())


def test_the_side_by_side_parts_run_every_test_directory():
    """A new directory under tests/ (tests/browser was one) runs in CI too: every directory that
    holds test files is in one of the two parts."""
    holding = {
        p.parent.relative_to(REPO).parts[1]
        for p in (REPO / "tests").rglob("test_*.py")
        if "support" not in p.parts
    }
    named = {
        a.split("/", 1)[1]
        for cmd in run_tests.parts(1).values()
        for a in cmd
        if a.startswith("tests/")
    }
    assert holding <= named, holding - named


def test_the_integration_part_runs_on_its_own_xdist_workers_when_asked():
    """Two integration workers (the default of ``main``) each bring their own master and
    minions; one is a plain pytest process."""
    two = run_tests.parts(1, integration_workers=2)["integration+fault"]
    assert two[two.index("-n") + 1] == "2" and "loadfile" in two
    assert "-n" not in run_tests.parts(1, integration_workers=1)["integration+fault"]
