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
