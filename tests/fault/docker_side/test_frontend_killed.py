"""Fault 9: the HAProxy frontend container killed (``docker kill``) in the middle of a rollout.
The rollout fails and says why (the frontend is not running); the next apply starts the
frontend again with every healthy replica in it."""

import time

import pytest
from saltext.chain.utils import chain_service_haproxy as haproxy
from saltext.chain.utils import chain_service_plan as plan

from tests.fault.docker_side import service
from tests.fault.docker_side.helpers import Background, state_results, wait_for
from tests.fault.docker_side.test_engine_killed import _apply, _apply_after, _assert_converged

pytestmark = pytest.mark.fault


def test_frontend_killed_in_a_rollout(private_engine, modules, file_root, images, clean):
    sls = service.write_sls(file_root)
    v1 = service.pillar(private_engine, images, version=1, wave=1)
    f = v1["fault"]
    _apply_after(modules, sls, v1)
    api = private_engine.api(timeout=30)
    old_gen = {
        c["Labels"][plan.LABEL_GENERATION]
        for c in api.containers(filters={"label": f"{plan.LABEL_SERVICE}={f['service']}"})
    }
    v2 = service.pillar(private_engine, images, version=2, wave=1)
    events = api.events(decode=True, filters={"type": "container", "event": "start"})
    run = Background(_apply, modules, sls, v2)
    for event in events:  # the new generation's first replica started: kill the frontend
        name = (event.get("Actor") or {}).get("Attributes", {}).get("name", "")
        if name.startswith(f["service"] + "-") and not any(g[:8] in name for g in old_gen):
            api.kill(f["frontend"])
            break
    events.close()
    results = run.result(timeout=180)
    app = results["fault-app"]
    assert app["result"] is False, app
    first = app["comment"].splitlines()[0]
    assert "Traceback" not in app["comment"], app["comment"]
    assert f"frontend {f['frontend']} is not running" in first, app["comment"]
    print(f"\nfrontend killed in a rollout: {first}")
    # the replicas were left out of nothing half-made: no replica created and never started
    half = [c["Names"] for c in api.containers(all=True) if c["State"] == "created"]
    assert not half, half

    started = time.monotonic()
    ret = _apply_after(modules, sls, v2)
    print(f"restored by the next apply in {time.monotonic() - started:.1f}s")
    assert ret["fault-frontend"]["changes"], ret["fault-frontend"]
    _assert_converged(api, v2)
    addr = service.frontend_addr(api, f["frontend"], f["network"])
    wait_for(
        lambda: (
            len(haproxy.serving(modules.container_service.frontend_servers(f["frontend"], "app")))
            == 2
        ),
        30,
        "both replicas serving in the restarted frontend",
    )
    assert service.versions(addr) == {"2"}
    again = state_results(modules.state.sls(sls, pillar=v2))
    assert not any(r["changes"] for r in again.values()), again
