"""Faults on the Salt side of a rollout (issue 17, faults 6 and 7), with a master and two app
minions of this module's own (tests/support/fault_salt.py): a minion stopped in the middle of a
rollout and one down before it starts (known within seconds by Salt's job check, reported as
unreachable, ``max_failures`` applied, ``chain.status`` says which server runs what); the master
restarted during a rollout (the runner that held the lock dies with it: the next rollout is not
blocked, waits for the deploy the dead runner left running, the history records the interrupted
run, the next run converges); a minion down before an orchestrate's first stage.

Nothing shared is signalled: the minions, the master and the ``salt-run`` process stopped here
are this module's, by their PIDs."""

import json
import subprocess
import threading
import time

import pytest

from tests.support import cli_forkserver, engines
from tests.support import fault_salt as fs

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.docker]

APP = fs.APP
#: How long the deploy that the restarted master's runner left on minion a sleeps first: longer
#: than the master's restart, so that the next rollout meets it still running.
ORPHAN = 25


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return fs.ext_tree(tmp_path_factory.mktemp("fault-salt-ext"))


@pytest.fixture(scope="module")
def master(salt_factories, tree, docker_engines):
    factory = salt_factories.salt_master_daemon(
        f"fault-master-{engines.RUN}", overrides=fs.master_overrides(tree)
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minions(master):
    factories = {m: master.salt_minion_daemon(m, overrides=fs.minion_overrides()) for m in "ab"}
    for factory in factories.values():
        factory.start()
    try:
        yield factories
    finally:
        for factory in factories.values():
            factory.terminate()


@pytest.fixture(scope="module")
def salt_cli(master):
    return cli_forkserver.salt(master, 120)


@pytest.fixture(scope="module")
def salt_run_cli(master):
    return cli_forkserver.salt_run(master, 300)


@pytest.fixture(scope="module")
def images(docker_engines):
    client = engines.client(fs.ENGINE)
    tags = fs.build_images(client)
    yield tags
    engines.cleanup(fs.ENGINE)
    fs.remove_images(client, tags)
    client.close()


@pytest.fixture(scope="module")
def synced(salt_cli, salt_run_cli, minions):
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="*")
    assert ret.returncode == 0 and set(ret.data) == {"a", "b"}, ret
    assert salt_run_cli.run("saltutil.sync_all").returncode == 0
    return True


@pytest.fixture
def docker(images):
    client = engines.client(fs.ENGINE)
    yield client
    client.close()


def _rollout(salt_run_cli, image, targets=("a", "b"), **kwargs):
    started = time.monotonic()
    ret = salt_run_cli.run("chain.rollout", APP, image, *fs.rollout_args(targets, **kwargs))
    took = round(time.monotonic() - started, 1)
    print(f"\n$ salt-run chain.rollout {APP} {image} -> rc {ret.returncode} in {took} s")
    print(ret.data["comment"] if isinstance(ret.data, dict) else ret.stdout or ret.stderr)
    assert isinstance(ret.data, dict), ret
    return ret.data, took


def _answering(salt_cli, *ids):
    for minion in ids:
        ret = salt_cli.run("--timeout=5", "test.ping", minion_tgt=minion, _timeout=30)
        if ret.data is not True:
            return False
    return True


def _idle(salt_cli, minion):
    ret = salt_cli.run("saltutil.running", minion_tgt=minion, _timeout=30)
    return ret.returncode == 0 and not [
        j for j in ret.data or [] if j.get("fun") != "saltutil.running"
    ]


def _status(salt_run_cli):
    ret = salt_run_cli.run(
        "chain.status", APP, "out_format=data", "tags=0", "targets=a,b", f"service={fs.SERVICE}"
    )
    assert isinstance(ret.data, dict), ret
    return ret.data[APP]["servers"]


def test_a_minion_stopped_mid_rollout_and_one_down_before_it(
    master, minions, salt_cli, salt_run_cli, synced, images, docker
):
    ids = {v: docker.images.get(tag).id for v, tag in images.items()}
    got, _ = _rollout(salt_run_cli, images["1"])
    assert got["result"] is True, got["comment"]

    # b's minion stops while a (the canary) is being rolled to 2
    box = {}
    thread = threading.Thread(
        target=lambda: box.update(ret=_rollout(salt_run_cli, images["2"], slow={"a": 4}))
    )
    after = time.time()
    thread.start()
    matched = master.event_listener.wait_for_events(
        [(master.id, f"chain/rollout/{APP}/server")], after_time=after, timeout=60
    )
    assert matched.found_all_events, matched.missed
    minions["b"].terminate()
    thread.join(300)
    got, took = box["ret"]
    assert got["result"] is False
    unreachable = (
        "b is unreachable: it did not answer Salt's job check (saltutil.find_job) "
        f"within {fs.GATHER_JOB_TIMEOUT} s"
    )
    assert got["servers"]["b"]["comment"] == unreachable, got["comment"]
    assert got["servers"]["a"]["result"] is True
    assert got["rolled_back"]["a"] == dict(got["rolled_back"]["a"], result=True, image=ids["1"])
    assert f"  b: {unreachable}" in got["comment"].splitlines()
    assert got["now"]["a"] == ids["1"] and "b is unreachable" in got["now"]["b"]
    # known within seconds, not at the server's timeout (900 s by default)
    assert took < 60, took
    # nobody is left on a mixed version without saying so: a runs 1 again, b was never touched
    assert fs.running_images(docker, "a") == fs.running_images(docker, "b") == {ids["1"]}
    servers = _status(salt_run_cli)
    assert servers["a"]["current"] == ids["1"]
    assert servers["b"] == {"error": unreachable}
    print(f"chain.status: a runs {servers['a']['current']}; b: {servers['b']['error']}")

    # b's minion is down before the next rollout starts
    got, took = _rollout(salt_run_cli, images["2"])
    assert got["result"] is False and got["servers"]["b"]["comment"] == unreachable, got
    assert got["rolled_back"]["a"]["result"] is True and took < 60, (took, got["comment"])
    assert fs.running_images(docker, "a") == {ids["1"]}

    # b is back: the next run converges
    minions["b"].start()
    fs.wait_for(lambda: _answering(salt_cli, "b"), 60, "b answers again")
    got, _ = _rollout(salt_run_cli, images["2"])
    assert got["result"] is True, got["comment"]
    assert fs.running_images(docker, "a") == fs.running_images(docker, "b") == {ids["2"]}


def test_the_master_restarted_mid_rollout(
    master, minions, salt_cli, salt_run_cli, synced, images, docker
):
    lock = master.config["cachedir"] + f"/chain/locks/{APP}.lock"
    cmd = salt_run_cli.cmdline(
        "chain.rollout", APP, images["1"], *fs.rollout_args(("a", "b"), slow={"a": ORPHAN})
    )
    after = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        matched = master.event_listener.wait_for_events(
            [(master.id, f"chain/rollout/{APP}/server")], after_time=after, timeout=60
        )
        assert matched.found_all_events, matched.missed
        # the master restarts: the runner's process (its child, in its cgroup) ends with it
        fs.kill(proc.pid)
        proc.wait(10)
        master.terminate()
    finally:
        fs.kill(proc.pid)
        proc.wait(10)
    with open(lock, encoding="utf-8") as fh:
        stale = json.load(fh)
    assert stale["pid"] == proc.pid and stale["image"] == images["1"]
    started = time.monotonic()
    master.start()
    fs.wait_for(lambda: _answering(salt_cli, "a", "b"), 90, "the minions answer the new master")
    print(f"master back, minions answering in {time.monotonic() - started:.1f} s")
    # the deploy the dead runner had started on a goes on there and ends by itself; Salt refuses
    # a state run started beside it ("The function state.apply is running as PID"): the next
    # rollout waits for it, says so, and converges
    assert not _idle(salt_cli, "a"), "a's orphaned deploy already ended: make ORPHAN longer"
    got, took = _rollout(salt_run_cli, images["1"])
    assert got["result"] is True, got["comment"]
    waited = "  a: a state run was under way there: waited "
    assert any(line.startswith(waited) for line in got["comment"].splitlines()), got["comment"]
    print(f"the next rollout converged {time.monotonic() - started:.1f} s after the restart")
    want = {docker.images.get(images["1"]).id}
    assert fs.running_images(docker, "a") == fs.running_images(docker, "b") == want
    ret = salt_run_cli.run("chain.history", APP, "limit=2")
    newest, interrupted = ret.data
    assert newest["result"] is True and newest["image"] == images["1"]
    assert interrupted["interrupted"] is True and interrupted["result"] is False
    assert interrupted["comment"].startswith(
        f"rollout of {APP} to {images['1']} interrupted: its runner (PID {proc.pid}) ended"
    ), interrupted
    print(f"history: {interrupted['comment']}")
    with open(lock, encoding="utf-8") as fh:
        assert fh.read() == ""  # released by the run that finished


def test_a_minion_down_before_the_orchestrate_first_stage(
    master, minions, salt_cli, salt_run_cli, synced
):
    """Fault 6 at the orchestrate's first stage (``salt.state`` on a list of servers, as the
    chain's ``chain-infrastructure``): a minion down before the run is known within seconds
    (the master's ``timeout`` and ``gather_job_timeout``, not a state's), the stage fails
    naming it, and the next stage does not run."""
    minions["b"].terminate()
    try:
        started = time.monotonic()
        ret = salt_run_cli.run("state.orchestrate", "fault.orch", _timeout=120)
        took = time.monotonic() - started
        print(f"\n$ salt-run state.orchestrate fault.orch -> rc {ret.returncode} in {took:.1f} s")
        assert ret.returncode == 1, ret
        data = ret.data.get("data", ret.data)  # salt-run's json: {data: {master: states}}
        states = {v["__id__"]: v for v in data[master.id].values()}
        first, second = states["fault-first-stage"], states["fault-second-stage"]
        print(f"first stage: {first['comment']!r} after {first['duration'] / 1000:.1f} s")
        assert first["result"] is False and first["changes"]["ret"] == {"b": False}, first
        assert (
            first["comment"] == "Run failed on minions: b\nMinion b did not return a state result."
        )
        assert first["duration"] < 30_000, first  # seconds, not a state's timeout
        assert second["result"] is False and second.get("__state_ran__") is False, second
    finally:
        minions["b"].start()
        fs.wait_for(lambda: _answering(salt_cli, "b"), 60, "b answers again")
