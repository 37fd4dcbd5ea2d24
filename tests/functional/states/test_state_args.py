"""A typo, an old option, a missing argument or a wrong type in any state fails that state
alone (a bad network pool too: issue 19), through Salt's real state run
(``state.sls``: the sls compiler, requisites and ``State.call``'s argument binding),
and the run's other states still run. Nothing here reaches an engine or the controller: every
case fails before its first read."""

import json
import pathlib

import pytest

from tests.support.engines import RUN

SLS = """
typo-network:
  container_network.present:
    - name: sa-{run}-net
    - drivr: bridge

typo-image:
  container_image.present:
    - name: sa-{run}/img:1
    - build: salt://nowhere
    - buildarg: {{A: "1"}}

typo-volume:
  container_volume.absent:
    - name: sa-{run}-vol
    - forse: true

old-option:
  container.running:
    - name: sa-{run}-web
    - image: busybox
    - shutdown_timeout: 5

own-argument:
  container.running:
    - name: sa-{run}-web2
    - image: busybox
    - wait_healty: true

missing:
  container.running:
    - name: sa-{run}-web3

wrong-type:
  jenkins_build.succeeded:
    - name: sa-{run}-job
    - timeout: soon

typo-node:
  jenkins_node.present:
    - name: sa-{run}-node
    - executor: 2

registry:
  container_registry.logged_out:
    - name: 127.0.0.1:1
    - config_pth: /tmp

bad-subnet:
  container_network.present:
    - name: sa-{run}-net2
    - subnet: 10.0.0.0/33

bad-gateway:
  container_network.present:
    - name: sa-{run}-net3
    - subnet: 10.0.0.0/24
    - gateway: 10.0.1.1

typo-watching:
  container.running:
    - name: sa-{run}-web4
    - image: busybox
    - wait_healty: true
    - watch:
      - test: changed

changed:
  test.succeed_with_changes: []

still-runs:
  test.succeed_without_changes:
    - require:
      - test: first

first:
  test.nop
"""

EXPECTED = {
    "typo-network": "unknown argument 'drivr': did you mean 'driver'? "
    "(container_network.present takes: driver,",
    "typo-image": "unknown argument 'buildarg': did you mean 'buildargs'?",
    "typo-volume": "unknown argument 'forse': did you mean 'force'?",
    "old-option": "argument 'shutdown_timeout' is no longer taken: use stop_timeout",
    "own-argument": "unknown argument 'wait_healty': did you mean 'wait_healthy'?",
    "missing": "missing argument 'image': container.running needs it",
    "wrong-type": "timeout: expected a number, got 'soon'",
    "bad-subnet": "subnet: expected CIDR notation like 172.28.5.0/24, got '10.0.0.0/33'",
    "bad-gateway": "gateway: 10.0.1.1 is not inside the subnet 10.0.0.0/24",
    # Salt calls mod_watch after a failed running: it answers the same
    "typo-watching": "unknown argument 'wait_healty': did you mean 'wait_healthy'?",
    "typo-node": "unknown argument 'executor': did you mean 'num_executors'?",
    "registry": "unknown argument 'config_pth': did you mean 'config_path'?",
}


@pytest.mark.parametrize("test", [False, True], ids=["live", "test-mode"])
def test_bad_arguments_fail_their_state_and_the_run_goes_on(modules, file_root, test):
    # state.sls, not template_str: template_str does not take test=True
    pathlib.Path(file_root, f"badargs{RUN}.sls").write_text(SLS.format(run=RUN))
    ret = modules.state.sls(f"badargs{RUN}", test=test)
    by_id = {v["__id__"]: v for v in ret.raw.values()}
    assert set(by_id) == set(EXPECTED) | {"still-runs", "first", "changed"}, sorted(by_id)
    for sid, start in EXPECTED.items():
        state = by_id[sid]
        assert state["result"] is False, (sid, state)
        assert state["comment"].startswith(start), (sid, state["comment"])
        assert "\n" not in state["comment"] and state["changes"] == {}, (sid, state)
    assert by_id["still-runs"]["result"] is True, by_id["still-runs"]
    # the list names the state's own arguments and the option table's aliases
    takes = by_id["own-argument"]["comment"].split("takes: ", 1)[1].rstrip(")").split(", ")
    assert {"image", "wait_healthy", "probe_url", "port_bindings", "mem_limit"} <= set(takes)
    json.loads(json.dumps(ret.raw))  # --out=json has something to print
