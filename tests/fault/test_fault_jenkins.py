"""The Jenkins controller frozen (issue 17, fault 2): the emulator process of this module's own
stopped with ``SIGSTOP`` (it keeps its socket: connections are accepted by the kernel, nothing
answers). Every ``jenkins`` module and state call, and what the master's runners read
(``chain.status``'s overview), ends within the profile's ``timeout`` with one clear error, also
while it waits for a running build; after ``SIGCONT`` the same calls answer again.

Nothing shared is signalled: the controller is this module's subprocess, by its PID."""

import contextlib
import os
import signal
import threading
import time

import pytest
from saltext.chain.utils import chain_jenkins_client, chain_jenkins_overview
from saltfactories.utils.functional import Loaders

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.functional.modules.test_jenkins_builds import freestyle
from tests.support import engines

pytestmark = [pytest.mark.fault]

TIMEOUT = 2  # the profile's timeout (seconds)
FROZEN_TIMEOUT = 1  # the calls to the frozen controller: the profile with a shorter timeout
FROZEN = {"name": "ctl", "timeout": FROZEN_TIMEOUT}
#: A call may take its one request's timeout and what Python and Salt add around it.
SLACK = 1.5
JOB, BUSY, NODE = (engines.name(f"frozen-{what}") for what in ("job", "busy", "node"))


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    home = tmp_path_factory.mktemp("frozen-jenkins")
    with testing.emulator_process(
        home, plugins=("git:5.7.0",), extra_args=["--builtin-executors", "1"]
    ) as (proc, url, user, token):
        yield {"proc": proc, "url": url, "user": user, "token": token}


@pytest.fixture(scope="module")
def loaders(salt_factories, controller, tmp_path_factory):
    profile = {k: controller[k] for k in ("url", "user", "token")}
    factory = salt_factories.salt_minion_daemon(
        f"frozen-minion-{engines.RUN}",
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(tmp_path_factory.mktemp("frozen-files"))]},
            "module_dirs": [str(REPO)],
            "jenkins": {
                "default_profile": "ctl",
                "profiles": {"ctl": dict(profile, timeout=TIMEOUT)},
            },
        },
    )
    return Loaders(factory.config.copy(), loaded_base_name=f"{__name__}.loaded")


@contextlib.contextmanager
def frozen(proc):
    """``SIGSTOP`` of the controller this module started; ``SIGCONT`` however the block ends."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def _calls(modules, states, controller):
    """``{what: call}``: reads, writes, waits and states, each against the frozen controller
    (profile ``ctl`` with ``timeout`` :data:`FROZEN_TIMEOUT`)."""
    jenkins, p = modules.jenkins, FROZEN
    conn = {k: controller[k] for k in ("url", "user", "token")}
    conn = chain_jenkins_client.connection(dict(conn, timeout=FROZEN_TIMEOUT), lambda k, d=None: d)
    return {
        "jenkins.version": lambda: jenkins.version(profile=p),
        "jenkins.info": lambda: jenkins.info(profile=p),
        "jenkins.nodes": lambda: jenkins.nodes(profile=p),
        "jenkins.node_exists": lambda: jenkins.node_exists(NODE, profile=p),
        "jenkins.node_create": lambda: jenkins.node_create(NODE + "-2", profile=p),
        "jenkins.wait_online": lambda: jenkins.wait_online(
            NODE, timeout=60, interval=0.2, profile=p
        ),
        "jenkins.jobs": lambda: jenkins.jobs(profile=p),
        "jenkins.job_config": lambda: jenkins.job_config(JOB, profile=p),
        "jenkins.job_update": lambda: jenkins.job_update(
            JOB, config_xml=freestyle("echo 2"), profile=p
        ),
        "jenkins.build": lambda: jenkins.build(JOB, timeout=60, poll_interval=0.2, profile=p),
        "jenkins.build_wait": lambda: jenkins.build_wait(
            BUSY, 1, timeout=60, poll_interval=0.2, profile=p
        ),
        "jenkins.console": lambda: jenkins.console(BUSY, 1, profile=p),
        "jenkins.plugins": lambda: jenkins.plugins(profile=p),
        "jenkins_job.present": lambda: states.jenkins_job.present(
            JOB, config=freestyle("echo 3"), profile=p
        ),
        "jenkins_node.present": lambda: states.jenkins_node.present(
            NODE, num_executors=2, profile=p
        ),
        "jenkins_plugin.installed": lambda: states.jenkins_plugin.installed("git", profile=p),
        "jenkins_build.succeeded": lambda: states.jenkins_build.succeeded(
            JOB, timeout=60, poll_interval=0.2, profile=p
        ),
        "runner chain.status (overview)": lambda: chain_jenkins_overview.overview(
            conn, BUSY, limit=5
        ),
    }


def _outcome(call):
    """``(seconds, what it said)``: the exception's text, or a state's comment."""
    started = time.monotonic()
    try:
        ret = call()
    except Exception as err:  # noqa: BLE001 - the error is what the test reads
        return time.monotonic() - started, f"{type(err).__name__}: {err}"
    took = time.monotonic() - started
    if hasattr(ret, "result") and hasattr(ret, "comment"):  # a state's StateResult
        return took, f"result {ret.result}: {ret.comment}"
    return took, f"returned {ret!r}"[:400]


def test_every_call_ends_within_the_profile_timeout_while_the_controller_is_frozen(
    loaders, controller
):
    modules, states = loaders.modules, loaders.states
    modules.jenkins.job_create(JOB, config_xml=freestyle("echo 1", label="built-in"))
    modules.jenkins.job_create(BUSY, config_xml=freestyle("sleep 30", label="built-in"))
    modules.jenkins.build(BUSY, wait=False)
    modules.jenkins.node_create(NODE)
    calls = _calls(modules, states, controller)
    seen = {}
    with frozen(controller["proc"]):
        for what, call in calls.items():
            seen[what] = _outcome(call)
    for what, (took, said) in sorted(seen.items(), key=lambda kv: -kv[1][0]):
        print(f"{took:5.2f} s  {what}: {said[:200]}")
    slowest = max(seen, key=lambda w: seen[w][0])
    print(f"slowest: {slowest} {seen[slowest][0]:.2f} s against a {FROZEN_TIMEOUT} s timeout")
    late = {w: round(t, 2) for w, (t, _) in seen.items() if t > FROZEN_TIMEOUT + SLACK}
    assert not late, late
    unclear = {
        w: s for w, (_, s) in seen.items() if f"did not answer within {FROZEN_TIMEOUT}s" not in s
    }
    assert not unclear, unclear
    failed_states = [w for w in seen if "." in w and w.split(".")[0].startswith("jenkins_")]
    assert all(seen[w][1].startswith("result False") for w in failed_states), seen
    # thawed: it answers again at once
    started = time.monotonic()
    assert modules.jenkins.job_exists(JOB) is True
    assert modules.jenkins.node_exists(NODE) is True
    print(f"thawed: answering again after {time.monotonic() - started:.2f} s")


def test_the_controller_restarted_mid_build(loaders, tmp_path):
    """Fault 4 (the controller restarted while a build runs): a wait for that build rides out the
    restart (the controller refuses connections meanwhile) and reads the result 2.568.2 reports,
    ``ABORTED``; the build fails saying so; the next build runs."""
    jenkins = loaders.modules.jenkins
    home, port = tmp_path / "home", testing.free_port()
    args = {"port": port, "extra_args": ["--builtin-executors", "1"], "token": "t" * 32}
    box = {}
    with testing.emulator_process(home, **args) as (proc, url, user, token):
        prof = {"url": url, "user": user, "token": token, "timeout": TIMEOUT}
        config = freestyle("echo started; sleep 60", label="built-in")
        jenkins.job_create(JOB, config_xml=config, profile=prof)
        assert jenkins.build(JOB, wait=False, profile=prof)["number"] == 1
        wait = threading.Thread(
            target=lambda: box.update(
                ret=jenkins.build_wait(JOB, 1, timeout=120, poll_interval=0.2, profile=prof)
            )
        )
        wait.start()
        time.sleep(1)
        os.kill(proc.pid, signal.SIGKILL)  # the controller this test started
        proc.wait(10)
        down = time.monotonic()
        time.sleep(3)  # down for a while: the wait is refused meanwhile
    with testing.emulator_process(home, **args) as (proc, url, user, token):
        wait.join(60)
        print(f"the wait ended {time.monotonic() - down:.1f} s after the controller went down")
        ret = box["ret"]
        assert ret["result"] == "ABORTED" and ret["number"] == 1, ret
        # the log ends where the build stopped: nothing is appended (Run.reload)
        assert ret["console_tail"].splitlines()[-2:] == ["started", "+ sleep 60"], ret
        jenkins.job_update(JOB, config_xml=freestyle("echo again", label="built-in"), profile=prof)
        again = jenkins.build(JOB, timeout=60, poll_interval=0.2, profile=prof)
        assert again["result"] == "SUCCESS" and again["number"] == 2, again
