"""Highstate through the master on both minions, each minion on its own engine.

The demo formula is applied with this run's pillar (tests/integration/conftest.py
`demo_containers`): every container is named `sc-<RUN>-...` and labelled with the run, and only
those are asserted on, so the test passes while `make chain` runs the same formula on the same
engines.
"""

import pytest

from tests.support import engines
from tests.support.engines import EventRecorder

pytestmark = [pytest.mark.integration, pytest.mark.docker]

EXPECTED = {
    m: {engines.name(f"{m}-svc{i}") for i in range(5)} | {engines.name(f"{m}-web")}
    for m in ("build1", "web1")
}
OWNED = ["org.saltext-chain.formula=demo", f"{engines.TEST_LABEL}={engines.RUN}"]


def _states(ret, minion):
    data = ret.data[minion] if "build1" in ret.data or "web1" in ret.data else ret.data
    assert isinstance(data, dict), data
    return data


def _changed(states):
    return {s["name"] for s in states.values() if s["changes"]}


def _engine_names(engine):
    c = engines.client(engine)
    try:
        return {x.name for x in c.containers.list(all=True, filters={"label": OWNED})}
    finally:
        c.close()


def test_highstate_lands_each_minion_on_its_own_engine_then_is_idempotent(salt_cli, synced):
    with EventRecorder("engine1") as rec1, EventRecorder("engine2") as rec2:
        ret = salt_cli.run("state.apply", "test=True", minion_tgt="*")
    assert ret.returncode == 0, ret
    for minion in ("build1", "web1"):
        states = _states(ret, minion)
        assert {s["result"] for s in states.values()} == {None}
        assert _changed(states) == EXPECTED[minion]
    assert rec1.mutations() == [] and rec2.mutations() == []
    assert _engine_names("engine1") == set() and _engine_names("engine2") == set()

    ret = salt_cli.run("state.apply", minion_tgt="*")
    assert ret.returncode == 0, ret
    for minion in ("build1", "web1"):
        states = _states(ret, minion)
        assert all(s["result"] is True for s in states.values()), states
        assert _changed(states) == EXPECTED[minion]
    assert _engine_names("engine1") == EXPECTED["build1"]
    assert _engine_names("engine2") == EXPECTED["web1"]

    with EventRecorder("engine1") as rec1, EventRecorder("engine2") as rec2:
        again = salt_cli.run("state.apply", minion_tgt="*")
        dry = salt_cli.run("state.apply", "test=True", minion_tgt="*")
    assert again.returncode == 0 and dry.returncode == 0
    for minion in ("build1", "web1"):
        assert _changed(_states(again, minion)) == set()
        assert {s["result"] for s in _states(dry, minion).values()} == {True}
    assert rec1.mutations() == [] and rec2.mutations() == []


def test_clean_removes_what_the_highstate_made(salt_cli, synced):
    ret = salt_cli.run("state.apply", "demo", minion_tgt="*")
    assert ret.returncode == 0, ret
    ret = salt_cli.run("state.apply", "demo.clean", minion_tgt="*")
    assert ret.returncode == 0, ret
    assert _engine_names("engine1") == set() and _engine_names("engine2") == set()
