"""The container_events beacon through a real minion: the master sees a container die."""

import contextlib
import time

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_container_death_reaches_the_master_as_a_beacon_event(master, salt_cli, synced):
    ret = salt_cli.run(
        "beacons.add",
        "container_events",
        f"[{{'actions': ['die']}}, {{'labels': ['{TEST_LABEL}={RUN}', 'app=sc-{RUN}-beacon']}}]",
        minion_tgt="build1",
    )
    assert ret.returncode == 0, ret
    assert ret.data["result"] is True, ret.data
    try:
        # The first beacon run (within a loop interval) starts following build1's engine.
        time.sleep(3)
        start = time.time()
        with contextlib.closing(engines.client("engine1")) as client:
            client.containers.run(
                BUSYBOX,
                ["sh", "-c", "exit 3"],
                name=f"sc-{RUN}-beacon-int",
                detach=True,
                labels={TEST_LABEL: RUN, "app": f"sc-{RUN}-beacon"},
            )
        matched = master.event_listener.wait_for_events(
            [(master.id, f"salt/beacon/build1/container_events/die/sc-{RUN}-beacon-int")],
            after_time=start,
            timeout=30,
        )
        assert matched.found_all_events, matched.missed
        (event,) = list(matched)
        assert event.data["exit_code"] == 3
        assert event.data["id"] == "build1"
        assert event.data["engine"] == "default"
        assert event.data["labels"] == {TEST_LABEL: RUN, "app": f"sc-{RUN}-beacon"}
    finally:
        salt_cli.run("beacons.delete", "container_events", minion_tgt="build1")
        engines.cleanup("engine1")
