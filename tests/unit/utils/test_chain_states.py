"""chain_states: the return skeleton, the test-mode step and __virtual__ of every state module."""

import pytest
from saltext.chain.utils import chain_states


def test_act_under_test_does_nothing_and_says_so():
    calls = []
    ret = chain_states.act(chain_states.new_ret("n"), True, "Node n", "deleted", lambda: 1 / 0)
    assert (ret["result"], ret["comment"]) == (None, "Node n would be deleted")
    ret = chain_states.act(
        chain_states.new_ret("n"), False, "Node n", "deleted", lambda: calls.append(1)
    )
    assert (ret["result"], ret["comment"], calls) == (True, "Node n deleted", [1])


@pytest.mark.parametrize(
    "functions, answer",
    [
        (("container.inspect",), "svc"),
        (("container.login",), (False, "the container execution module did not load")),
        (
            ("container_service.apply", "container.inspect"),
            (False, "the container and container_service execution modules did not load"),
        ),
    ],
)
def test_needs(functions, answer):
    salt = {"container.inspect": None}
    assert chain_states.needs(salt, "svc", *functions) == answer


def test_fail_names_what_failed_first_then_the_detail_then_the_steps_done():
    ret = chain_states.new_ret("n")
    ret["changes"] = {"image": {"old": "a", "new": "b"}}
    err = chain_states.CAUGHT[0]("start of n failed: port in use\n\nlast log lines:\n  boom\n")
    chain_states.fail(ret, err, done=["pulled app:2", "created n"])
    assert ret["result"] is False
    assert ret["comment"].splitlines() == [
        "start of n failed: port in use",
        "last log lines:",
        "  boom",
        "already done: pulled app:2; created n",
    ]
    assert ret["changes"] == {"image": {"old": "a", "new": "b"}}
    assert chain_states.fail(ret, "x", changes={})["changes"] == {}
    assert chain_states.fail(chain_states.new_ret("n"), "")["comment"] == "failed"
