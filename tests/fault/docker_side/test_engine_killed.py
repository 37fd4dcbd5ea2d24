"""Fault 1: the engine's dockerd killed (``kill -9`` of the private engine's PID) during a state
run that recreates containers and during a ``container_service.running`` rollout, then started
again. Every state fails with one line naming the engine and the profile (never a traceback);
the frontend keeps serving while the engine is down; the next apply converges and leaves no
staging or half-made container behind."""

import contextlib
import threading
import time

import pytest
from saltext.chain.utils import chain_service_plan as plan

from tests.fault.docker_side import service
from tests.fault.docker_side.helpers import Background, one_clear_line, state_results, wait_for
from tests.support import engines

pytestmark = pytest.mark.fault

STAGING = ".saltext-next"


class KillOnCreate:
    """Kill -9 the engine's dockerd the moment it reports the creation of a container whose name
    ``match`` accepts (the engine's own event stream: no sleep, no guess)."""

    def __init__(self, engine, match):
        self.engine, self.match = engine, match
        self.killed_at = None
        self.victim = None
        self._api = engine.api(timeout=120)
        self._events = self._api.events(
            decode=True, filters={"type": "container", "event": "create"}
        )
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        with contextlib.suppress(Exception):  # the stream ends with the engine
            for event in self._events:
                name = (event.get("Actor") or {}).get("Attributes", {}).get("name", "")
                if self.match(name):
                    self.victim = name
                    self.engine.kill9()
                    self.killed_at = time.monotonic()
                    return

    def close(self):
        with contextlib.suppress(Exception):
            self._api.close()


def _apply(modules, name, pillar):
    return state_results(modules.state.sls(name, pillar=pillar))


def _assert_all_failed_clearly(results, engine):
    lines = {}
    for sid, res in results.items():
        assert res["result"] is False, (sid, res["comment"])
        lines[sid] = one_clear_line(res["comment"], engine)
    return lines


def _assert_converged(api, pillar):
    f = pillar["fault"]
    everything = api.containers(all=True, filters={"label": engines.TEST_LABEL})
    names = {c["Names"][0].lstrip("/"): c for c in everything}
    assert not [n for n in names if n.endswith(STAGING)], sorted(names)
    half = [n for n, c in names.items() if c["State"] == "created"]
    assert not half, f"created, never started: {half}"
    for n in ("a", "b"):
        data = api.inspect_container(f"{f['plain']}-{n}")
        assert data["State"]["Running"], n
        assert f"WAVE={f['wave']}" in data["Config"]["Env"], n
    running = [
        c
        for c in everything
        if c["Labels"].get(plan.LABEL_SERVICE) == f["service"] and c["State"] == "running"
    ]
    assert len(running) == 2, [c["Names"] for c in running]


def _apply_after(modules, name, pillar):
    ret = _apply(modules, name, pillar)
    bad = {sid: r["comment"] for sid, r in ret.items() if r["result"] is not True}
    assert not bad, bad
    return ret


def test_engine_killed_in_a_state_run_and_in_a_rollout(
    private_engine, modules, file_root, images, clean
):
    sls = service.write_sls(file_root)
    v1 = service.pillar(private_engine, images, version=1, wave=1)
    f = v1["fault"]
    _apply_after(modules, sls, v1)
    api = private_engine.api(timeout=30)
    addr = service.frontend_addr(api, f["frontend"], f["network"])
    assert service.versions(addr) == {"1"}

    # 1. killed while the state run recreates a plain container (its staging copy created)
    wave2 = service.pillar(private_engine, images, version=1, wave=2)
    killer = KillOnCreate(private_engine, lambda n: n.endswith(STAGING))
    started = time.monotonic()
    results = _apply(modules, sls, wave2)
    took = time.monotonic() - started
    killer.close()
    assert killer.killed_at, "the engine was not killed: no staging container was created"
    failed = {sid: r for sid, r in results.items() if r["result"] is not True}
    assert "fault-plain-a" in failed, results
    lines = _assert_all_failed_clearly(failed, private_engine)
    print(f"\nkill -9 in a state run ({took:.1f}s): " + " | ".join(sorted(set(lines.values()))))
    # the frontend's container outlives its dockerd: it still serves v1
    assert service.versions(addr, n=6) == {"1"}
    private_engine.start()
    recovered = time.monotonic()
    _apply_after(modules, sls, wave2)
    print(f"recovered by the next apply in {time.monotonic() - recovered:.1f}s")
    _assert_converged(api, wave2)

    # 2. killed in a rollout (v1 -> v2), once the new generation's first replica exists
    v2 = service.pillar(private_engine, images, version=2, wave=2)
    api = private_engine.api(timeout=30)
    addr = service.frontend_addr(api, f["frontend"], f["network"])
    before = service.versions(addr)
    assert before == {"1"}
    old_gen = {
        c["Labels"][plan.LABEL_GENERATION]
        for c in api.containers(filters={"label": f"{plan.LABEL_SERVICE}={f['service']}"})
    }
    killer = KillOnCreate(
        private_engine,
        lambda n: n.startswith(f["service"] + "-") and not any(g[:8] in n for g in old_gen),
    )
    run = Background(_apply, modules, sls, v2)
    wait_for(lambda: killer.killed_at, 120, "the rollout's first new replica")
    # down: the frontend keeps serving the replicas that survived (v1, still in their slots)
    assert service.versions(addr, n=6) == {"1"}
    results = run.result(timeout=120)
    killer.close()
    assert results["fault-app"]["result"] is False, results["fault-app"]
    line = one_clear_line(results["fault-app"]["comment"], private_engine)
    print(f"kill -9 in a rollout: {line}")
    private_engine.start()
    recovered = time.monotonic()
    _apply_after(modules, sls, v2)
    print(f"rollout recovered by the next apply in {time.monotonic() - recovered:.1f}s")
    api = private_engine.api(timeout=30)
    _assert_converged(api, v2)
    addr = service.frontend_addr(api, f["frontend"], f["network"])
    assert service.versions(addr) == {"2"}
    again = _apply_after(modules, sls, v2)
    assert not any(r["changes"] for r in again.values()), {
        s: r["changes"] for s, r in again.items() if r["changes"]
    }


def test_a_recreate_cut_between_removal_and_rename_leaves_no_staging(private_engine, states, clean):
    """A kill between a recreate's removal of the old container and its rename leaves the new
    container under its staging name and none under the real one (the kill above lands earlier:
    the engine's event of the staging copy). The next run ends with the one container and no
    staging copy."""
    name = engines.name("cut")
    command = engines.stoppable("sleep 3600")
    api = private_engine.api(timeout=30)
    api.create_container(engines.BUSYBOX, command, name=name + STAGING, labels=dict(engines.LABELS))
    ret = states.container.running(
        name, image=engines.BUSYBOX, command=command, labels=dict(engines.LABELS), stop_timeout=1
    )
    assert ret.result is True, ret.comment
    left = sorted(c["Names"][0].lstrip("/") for c in api.containers(all=True))
    assert left == [name], left
    assert api.inspect_container(name)["State"]["Running"]
