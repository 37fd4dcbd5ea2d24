"""Scatter/gather: every call published before any wait, returns from the bus or the job cache,
``None`` for a target that is not connected or does not answer in time."""

import itertools

from saltext.chain.utils import chain_gather


class FakeEvents:
    def __init__(self, events):
        self.events = list(events)

    def get_event(self, wait, tag, match_type, full):
        assert (tag, match_type, full) == ("salt/job/", "startswith", True)
        return self.events.pop(0) if self.events else None


class FakeClient:
    """LocalClient's run_job / event / get_cache_returns, recording the order of calls."""

    def __init__(self, minions, events=(), cache=None):
        self.minions = minions
        self.event = FakeEvents(events)
        self.cache = cache or {}
        self.jids = (f"j{n}" for n in itertools.count())
        self.published = []

    def run_job(self, target, fun, args, kwarg, timeout, listen):
        assert listen is True
        jid = next(self.jids)
        self.published.append((jid, target, fun, args, kwarg))
        return {"jid": jid, "minions": [target] if target in self.minions else []}

    def get_cache_returns(self, jid):
        return self.cache.get(jid, {})


def evt(jid, minion, ret):
    return {
        "tag": f"salt/job/{jid}/ret/{minion}",
        "data": {"jid": jid, "id": minion, "return": ret},
    }


CALLS = {
    ("state", "a"): ("a", "state.apply", ["chain.deploy"], {"test": True}),
    ("status", "a"): ("a", "container_service.status", ["app"], {}),
    ("status", "b"): ("b", "container_service.status", ["app"], {}),
}


def test_returns_from_the_bus_and_the_cache():
    client = FakeClient(
        {"a", "b"},
        events=[
            evt("j1", "a", {"replicas": {}}),
            evt("j1", "b", "another minion's answer to j1"),
            {"tag": "salt/job/j0/new", "data": {"jid": "j0", "minions": ["a"]}},
            evt("j0", "a", {"state": "ok"}),
        ],
        cache={"j2": {"b": {"ret": {"replicas": {"r": 1}}}}},
    )
    got = chain_gather.gather(client, CALLS, timeout=5)
    assert got == {
        ("state", "a"): {"state": "ok"},
        ("status", "a"): {"replicas": {}},
        ("status", "b"): {"replicas": {"r": 1}},
    }
    assert [p[1:3] for p in client.published] == [
        ("a", "state.apply"),
        ("a", "container_service.status"),
        ("b", "container_service.status"),
    ]
    assert client.published[0][3:] == (["chain.deploy"], {"test": True})


def test_no_answer_and_unknown_target_are_none():
    client = FakeClient({"a"}, events=[evt("j0", "a", True)])
    got = chain_gather.gather(client, CALLS, timeout=0.3)
    assert got == {("state", "a"): True, ("status", "a"): None, ("status", "b"): None}
