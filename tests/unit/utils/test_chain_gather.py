"""Scatter/gather: every call published before any wait, returns from the bus or the job cache,
``None`` for a target that is not connected or does not answer in time."""

import itertools
import time

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


class ProbedClient(FakeClient):
    """A client whose minions answer Salt's job check: ``running`` say they run the job,
    ``idle`` that they do not (``{}``); any other minion never answers (it is down)."""

    def __init__(self, minions, running=(), idle=(), **kwargs):
        super().__init__(minions, **kwargs)
        self.running, self.idle = set(running), set(idle)
        self.opts = {"gather_job_timeout": 0.4}

    def run_job(self, target, fun, args, kwarg=None, timeout=None, listen=True):
        pub = super().run_job(target, fun, args, kwarg, timeout, listen)
        if fun == "saltutil.find_job":
            if target in self.running:
                self.event.events.append(evt(pub["jid"], target, {"jid": args[0]}))
            elif target in self.idle:
                self.event.events.append(evt(pub["jid"], target, {}))
        return pub


def test_a_minion_that_does_not_answer_the_job_check_is_unreachable_within_it(monkeypatch):
    monkeypatch.setattr(chain_gather, "FIRST_CHECK", 0.2)
    client = ProbedClient(
        {"a", "b"}, running={"a"}, events=[evt("j0", "a", {"s": 1}), evt("j1", "a", {"r": 1})]
    )
    started = time.monotonic()
    got = chain_gather.gather(client, CALLS, timeout=30)
    took = time.monotonic() - started
    assert got[("status", "b")] == "b is unreachable: it did not answer Salt's job check " + (
        "(saltutil.find_job) within 0.4 s"
    )
    assert isinstance(got[("status", "b")], chain_gather.NoAnswer)
    assert got[("state", "a")] == {"s": 1} and got[("status", "a")] == {"r": 1}
    assert took < 5, took
    checked = [p for p in client.published if p[2] == "saltutil.find_job"]
    assert [(p[1], p[3][0]) for p in checked] == [("b", "j2")]


def test_a_running_job_is_waited_for_and_its_late_return_taken(monkeypatch):
    monkeypatch.setattr(chain_gather, "FIRST_CHECK", 0.1)
    client = ProbedClient({"a"}, running={"a"})
    calls = {"k": ("a", "state.apply", ["x"], {})}
    got = chain_gather.gather(client, calls, timeout=1.5)
    assert got == {"k": None}  # it ran all along: no NoAnswer, the call's own timeout ends it
    assert len([p for p in client.published if p[2] == "saltutil.find_job"]) >= 2


def test_a_job_the_minion_no_longer_runs_is_lost_unless_the_cache_has_it(monkeypatch):
    monkeypatch.setattr(chain_gather, "FIRST_CHECK", 0.1)
    monkeypatch.setattr(chain_gather, "LOST_GRACE", 0.3)
    client = ProbedClient({"a", "b"}, idle={"a", "b"}, cache={})
    calls = {"a": ("a", "state.apply", ["x"], {}), "b": ("b", "state.apply", ["x"], {})}
    real = client.get_cache_returns
    client.get_cache_returns = lambda jid: (
        {"b": {"ret": {"late": True}}} if jid == "j1" else real(jid)
    )
    got = chain_gather.gather(client, calls, timeout=30)
    assert got["a"] == "a no longer runs job j0 and sent no return (the minion restarted?)"
    assert got["b"] == {"late": True}


class LateReturnClient(ProbedClient):
    """ci42: the minion said twice it did not run the job (not yet started, then just ended),
    and its return reached the master after the second check."""

    def run_job(self, target, fun, args, kwarg=None, timeout=None, listen=True):
        pub = super().run_job(target, fun, args, kwarg, timeout, listen)
        checks = [p for p in self.published if p[2] == "saltutil.find_job"]
        if fun == "saltutil.find_job" and len(checks) == 2:
            self.late = (time.monotonic(), evt(args[0], target, {"deployed": True}))
        return pub

    def get_cache_returns(self, jid):
        late = getattr(self, "late", None)
        if late and time.monotonic() - late[0] > 0.5 and not getattr(self, "sent", False):
            self.sent = True
            self.event.events.append(late[1])  # on the bus 0.5 s after the second check
        return super().get_cache_returns(jid)


def test_a_return_that_comes_after_the_second_no_longer_runs_is_taken(monkeypatch):
    monkeypatch.setattr(chain_gather, "FIRST_CHECK", 0.1)
    monkeypatch.setattr(chain_gather, "LOST_GRACE", 3)
    client = LateReturnClient({"a"}, idle={"a"})
    got = chain_gather.gather(client, {"k": ("a", "state.apply", ["x"], {})}, timeout=30)
    assert got == {"k": {"deployed": True}}
    # the control: without the grace the same run is lost
    monkeypatch.setattr(chain_gather, "LOST_GRACE", 0)
    client = LateReturnClient({"a"}, idle={"a"})
    got = chain_gather.gather(client, {"k": ("a", "state.apply", ["x"], {})}, timeout=30)
    assert got["k"] == "a no longer runs job j0 and sent no return (the minion restarted?)"


REFUSED = [
    'The function "state.apply" is running as PID 4242 and was started at '
    "2026, Dec 06 19:00:01.123456 with jid 20261206190001123456"
]


def test_a_refused_state_run_is_read_and_anything_else_is_not():
    assert chain_gather.busy(REFUSED) == {
        "fun": "state.apply",
        "pid": "4242",
        "started": "2026, Dec 06 19:00:01.123456",
        "jid": "20261206190001123456",
    }
    for ret in ({"state": {"result": True}}, ["Pillar failed to render"], "x", None, []):
        assert chain_gather.busy(ret) is None


class FakeGather:
    """``gather`` answering from a script: the deploy is refused until the running job (jid
    20261206190001123456) has been looked up ``running`` times."""

    def __init__(self, running, answer=None):
        self.running, self.answer, self.calls = running, answer, []

    def __call__(self, client, calls, timeout, check):
        self.calls.append({k: v[1] for k, v in calls.items()})
        out = {}
        for key, (_, fun, args, _) in calls.items():
            if fun == "saltutil.find_job":
                self.running -= 1
                out[key] = {"jid": args[0], "pid": 4242} if self.running > 0 else {}
            elif self.running > 0:
                out[key] = REFUSED
            else:
                out[key] = self.answer or {"state": {"result": True}}
        return out


def test_a_deploy_refused_by_a_running_state_run_waits_for_it_then_runs():
    fake, slept, notes = FakeGather(running=3), [], {}
    calls = {"a": ("a", "state.apply", ["deploy"], {}), "b": ("b", "state.apply", ["deploy"], {})}
    out = chain_gather.gather_states(None, calls, 60, notes=notes, gather_=fake, sleep=slept.append)
    assert out["a"] == {"state": {"result": True}} and out["b"] == {"state": {"result": True}}
    assert fake.calls[0] == {"a": "state.apply", "b": "state.apply"}
    assert fake.calls[1] == {"a": "saltutil.find_job", "b": "saltutil.find_job"}
    assert fake.calls[-1] == {"a": "state.apply", "b": "state.apply"} and len(slept) == 1
    assert set(notes) == {"a", "b"}
    assert "for state.apply (jid 20261206190001123456) to end" in notes["a"]


def test_a_run_that_does_not_end_in_time_is_named_and_unreachable_ends_the_wait():
    fake = FakeGather(running=10**6)
    out = chain_gather.gather_states(
        None, {"a": ("a", "state.apply", ["deploy"], {})}, 0.3, gather_=fake, sleep=time.sleep
    )
    assert isinstance(out["a"], chain_gather.NoAnswer)
    assert out["a"].startswith("a runs another state run that did not end within 0.3 s: ")
    assert "state.apply (PID 4242, jid 20261206190001123456" in out["a"]
    assert "saltutil.kill_job 20261206190001123456" in out["a"]

    def gone(client, calls, timeout, check):
        return {
            k: REFUSED if fun == "state.apply" else chain_gather.unreachable("a", 3)
            for k, (_, fun, _, _) in calls.items()
        }

    out = chain_gather.gather_states(None, {"a": ("a", "state.apply", [], {})}, 60, gather_=gone)
    assert out["a"] == chain_gather.unreachable("a", 3)


def test_returns_that_are_not_refusals_pass_through_untouched():
    fake = FakeGather(running=0, answer={"x": 1})
    calls = {"s": ("a", "container_service.status", [], {})}
    assert chain_gather.gather_states(None, calls, 5, gather_=fake) == {"s": {"x": 1}}
    assert len(fake.calls) == 1
