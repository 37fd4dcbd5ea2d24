"""The tier's state calls take the pillar the loaders compiled, as ``salt-call`` does
(tests/functional/conftest.py ``minion_opts``): a ``state.single`` that compiled the pillar again
cost over half of its CPU, and the tier makes about a thousand such calls."""

import salt.state


def _gathers(monkeypatch):
    calls = []
    real = salt.state.State._gather_pillar

    def counting(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(salt.state.State, "_gather_pillar", counting)
    return calls


def test_a_state_call_reuses_the_compiled_pillar(loaders, states, monkeypatch):
    assert loaders.opts["pillar"], "an empty pillar is compiled again by every state call"
    calls = _gathers(monkeypatch)
    ret = states.test.succeed_without_changes("reuse")
    assert ret.result is True, ret.comment
    assert calls == []
    # the control: a call with a pillar override compiles its own, and the counter sees it
    ret = states.test.succeed_without_changes("override", pillar={"extra": 1})
    assert ret.result is True, ret.comment
    assert calls == [1]
