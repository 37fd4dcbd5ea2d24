"""chain_jenkins_version: the ordering jenkins_plugin.installed uses."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_jenkins_version as V


@pytest.mark.parametrize(
    "older,newer",
    [
        ("2.9", "2.10"),
        ("1.2.3-beta", "1.2.3"),
        ("1.2.3-alpha", "1.2.3-beta"),
        ("1.2.3-beta-1", "1.2.3-beta-2"),
        ("1.2.3-rc1", "1.2.3"),
        ("1.0-SNAPSHOT", "1.0"),
        ("1.2", "1.2.1"),
        ("1.2-beta", "1.2.1"),
        ("4.13.3-1.0", "4.13.3-1.1"),
        ("1198.v387c99c6a_13c", "1199.v1"),
        ("5.2.0", "5.10.0"),
    ],
)
def test_ordering(older, newer):
    assert V.compare(older, newer) == -1
    assert V.compare(newer, older) == 1


@pytest.mark.parametrize(
    "a,b", [("1.2", "1.2.0"), ("1.0", "1"), ("2.10", "2.10"), ("1.0-final", "1.0")]
)
def test_equal(a, b):
    assert V.compare(a, b) == 0


def test_empty_version_is_rejected():
    with pytest.raises(SaltInvocationError):
        V.compare("", "1.0")


def test_a_version_read_as_a_number_by_salts_command_line_is_refused_not_misordered():
    """`salt '*' jenkins.version_compare 2.10 2.9`: the CLI's YAML turns 2.10 into 2.1 (the
    old answer was -1); quoted, it stays a string and orders as Jenkins does."""
    import salt.utils.args  # pylint: disable=import-outside-toplevel

    unquoted = salt.utils.args.parse_input(["2.10", "2.9"])
    assert unquoted == [2.1, 2.9]
    with pytest.raises(SaltInvocationError, match=r"arrived as a number.*quote it"):
        V.compare(*unquoted)
    quoted = salt.utils.args.parse_input(['"2.10"', '"2.9"'])
    assert quoted == ["2.10", "2.9"]
    assert V.compare(*quoted) == 1
    assert V.compare(2, "2.0") == 0  # an integer is exact
