"""chain_errors: the hierarchy, the single mask, the argument validators."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_errors as ce


def test_hierarchy():
    assert issubclass(ce.BadInput, SaltInvocationError)
    for cls in (ce.NotFound, ce.Conflict, ce.Unreachable):
        assert issubclass(cls, ce.BackendError) and issubclass(cls, CommandExecutionError)
    assert ce.NotFound("gone", status=404).status == 404


def test_mask_mapping_and_scrub():
    assert ce.mask_mapping({"DB_PASSWORD": "x", "api_key": "y", "MODE": "z"}) == {
        "DB_PASSWORD": ce.MASK,
        "api_key": ce.MASK,
        "MODE": "z",
    }
    assert ce.scrub("token abc123 and abc", ["abc123", "", None]) == f"token {ce.MASK} and abc"


@pytest.mark.parametrize("value, expected", [(5, 5), ("7", 7), (3.0, 3)])
def test_as_int_accepts(value, expected):
    assert ce.as_int(value, "tail") == expected


@pytest.mark.parametrize("value", ["x", True, 1.5, None, [1], "1.5"])
def test_as_int_refuses(value):
    with pytest.raises(ce.BadInput, match="^tail: expected an integer"):
        ce.as_int(value, "tail")


def test_ranges_and_numbers():
    with pytest.raises(ce.BadInput, match="at least 1"):
        ce.as_int(0, "limit", minimum=1)
    assert ce.as_number("2.5", "cpus") == 2.5
    for bad in ("lots", float("nan"), float("inf"), False):
        with pytest.raises(ce.BadInput):
            ce.as_number(bad, "cpus")


def test_as_bool():
    assert ce.as_bool("yes", "x") is True and ce.as_bool(0, "x") is False
    with pytest.raises(ce.BadInput):
        ce.as_bool("maybe", "x")
