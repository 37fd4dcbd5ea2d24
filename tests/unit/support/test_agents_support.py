"""tests/support/agents.py assert_no_secret: a failed secret look-up is not a secret (it would
appear nowhere, and the leak check would pass without checking); a real one is found."""

import secrets

import pytest

from tests.support.agents import assert_no_secret


@pytest.mark.parametrize(
    "looked_up",
    [
        "ERROR: jenkins.agent_secret: node sc-x-1 has no agent secret",
        "'jenkins.agent_secret' is not available.",
        None,
        {"error": "no such node"},
        "",
    ],
)
def test_a_failed_look_up_is_refused(looked_up):
    with pytest.raises(AssertionError, match="not a secret"):
        assert_no_secret(looked_up, {"Config": {"Env": []}})


def test_a_secret_is_found_where_it_leaked_and_passes_where_it_did_not():
    secret = secrets.token_hex(32)
    assert_no_secret(secret, {"Config": {"Env": ["A=1"]}}, "a log line")
    with pytest.raises(AssertionError, match="leaked"):
        assert_no_secret(secret, {"Config": {"Env": [f"SECRET={secret}"]}})
