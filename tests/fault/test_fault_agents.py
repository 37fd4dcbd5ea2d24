"""Build agents on a bad day (issue 17, faults 5 and 4): an agent container killed in the middle
of a build, an agent image that never connects, and the controller restarted in its container
while an agent runs a build.

The controller is this module's own container (images/jenkins-emulator built from this checkout
under a run-unique tag, its home on a volume of the run, published on 127.0.0.1 only); the agents
are containers of the pools this module's tests name, on engine 1. What a test kills or restarts
is one of these containers, by its id. Each test checks that nothing is left behind: no container,
no node and no anonymous volume of an agent that was removed (the agent image declares two
``VOLUME``s: a container removed without its volumes leaves them on the engine for ever)."""

import base64
import contextlib
import io
import secrets
import tarfile
import time
import urllib.request
import uuid
from xml.sax.saxutils import escape

import docker
import pytest
from saltfactories.utils.functional import Loaders

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.support import agents, engines

pytestmark = [pytest.mark.fault, pytest.mark.docker]

ENGINE = "engine1"
POOL_LABEL = "org.saltext-chain.jenkins-agent.pool"
#: An agent image that starts and never connects (a wrong entrypoint): it stays up, logs a line
#: and waits, with a volume of its own like the real agent image.
SILENT_DOCKERFILE = (
    f"FROM {engines.DEBIAN}\n"
    "RUN useradd -u 1000 -m jenkins && mkdir -p /home/jenkins/agent "
    "&& chown jenkins /home/jenkins/agent\n"
    "USER jenkins\nVOLUME /home/jenkins/agent\n"
    'ENTRYPOINT ["sh", "-c", "echo this agent image never connects >&2; exec sleep 600", "--"]\n'
)


def _tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arcname, data in files.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _controller_context():
    files = {}
    for rel in ("images/jenkins-emulator/Dockerfile", "images/jenkins-emulator/plugins.txt"):
        files[rel] = (REPO / rel).read_bytes()
    emulator = REPO / "src/saltext/chain/emulator"
    for path in sorted(emulator.glob("*.py")):
        files[f"src/saltext/chain/emulator/{path.name}"] = path.read_bytes()
    return _tar(files)


def _answers(url, user, token):
    request = urllib.request.Request(url + "api/json")
    request.add_header("Authorization", "Basic " + _basic(user, token))
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310 - 127.0.0.1
            return resp.status == 200
    except OSError:
        return False


def _basic(user, token):
    return base64.b64encode(f"{user}:{token}".encode()).decode()


@pytest.fixture(scope="module")
def controller(docker_engines):
    """The controller in a container of this module's own: ``{url, user, token, container}``."""
    tag, name = f"saltext-chain/{engines.name('fault-ctl')}:1", engines.name("fault-ctl")
    port, token = testing.free_port(), secrets.token_hex(16)
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.build(
            fileobj=_controller_context(),
            custom_context=True,
            dockerfile="images/jenkins-emulator/Dockerfile",
            tag=tag,
            rm=True,
            buildargs={"BASE_IMAGE": engines.DEBIAN},
        )
        home = client.volumes.create(engines.name("fault-ctl-home"), labels=engines.owned())
        ctr = client.containers.run(
            tag,
            name=name,
            detach=True,
            labels=engines.owned(),
            environment={"JENKINS_EMULATOR_ADMIN_TOKEN": token},  # a test's own controller
            ports={"8080/tcp": ("127.0.0.1", port)},
            volumes={home.name: {"bind": "/var/jenkins_home", "mode": "rw"}},
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            _until(lambda: _answers(url, "admin", token), 60, "the controller answering")
            yield {"url": url, "user": "admin", "token": token, "container": ctr.id}
        finally:
            with contextlib.suppress(docker.errors.APIError):
                ctr.remove(force=True, v=True)
            with contextlib.suppress(docker.errors.APIError):
                home.remove(force=True)
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def modules(salt_factories, controller, tmp_path_factory):
    profile = {k: controller[k] for k in ("url", "user", "token")}
    factory = salt_factories.salt_minion_daemon(
        f"fault-agents-{engines.RUN}",
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(tmp_path_factory.mktemp("fault-agents-files"))]},
            "module_dirs": [str(REPO)],
            "container": {
                "default_profile": ENGINE,
                "profiles": {ENGINE: {"base_url": engines.ENGINES[ENGINE], "timeout": 60}},
            },
            "jenkins": {"default_profile": "ctl", "profiles": {"ctl": dict(profile, timeout=10)}},
        },
    )
    return Loaders(factory.config.copy(), loaded_base_name=f"{__name__}.loaded")


@pytest.fixture(scope="module")
def agent_image(docker_engines):
    tag = agents.build_agent_image()
    yield tag
    agents.remove_image(tag)


@pytest.fixture
def pool(modules):
    name = engines.name(f"fp{uuid.uuid4().hex[:4]}")
    yield name
    jenkins = modules.modules.jenkins
    for node in jenkins.nodes():
        if node.startswith(name + "-"):
            jenkins.node_delete(node)
    with contextlib.closing(engines.client(ENGINE)) as client:  # the pool's agents, not the
        for ctr in client.containers.list(all=True, filters={"label": f"{POOL_LABEL}={name}"}):
            ctr.remove(force=True, v=True)  # controller (engines.cleanup would take it too)


def _until(func, timeout=60, what="the condition", interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last value {value!r})")
        time.sleep(interval)


def _opts(pool, **kw):
    return {
        "label": f"{pool}-l linux",
        "min": 1,
        "max": 1,
        "connect_timeout": 60,
        "container_options": {"network_mode": "host", "labels": engines.owned()},
        **kw,
    }


def _job(command, label):
    return (
        "<?xml version='1.1' encoding='UTF-8'?>\n<project><description>fault test</description>"
        f"<assignedNode>{escape(label)}</assignedNode><canRoam>false</canRoam>"
        "<disabled>false</disabled><concurrentBuild>false</concurrentBuild><builders>"
        f"<hudson.tasks.Shell><command>{escape(command)}</command></hudson.tasks.Shell>"
        "</builders><publishers/><buildWrappers/></project>"
    )


def _volumes(container):
    """The anonymous volumes of a container (by name or id)."""
    with contextlib.closing(engines.client(ENGINE)) as client:
        mounts = client.api.inspect_container(container)["Mounts"]
    return {m["Name"] for m in mounts if m.get("Type") == "volume"}


def _left(containers, nodes, volumes, jenkins):
    """What is left of removed agents: containers, nodes and volumes still there."""
    left = []
    with contextlib.closing(engines.client(ENGINE)) as client:
        for ctr in containers:
            with contextlib.suppress(docker.errors.NotFound):
                client.api.inspect_container(ctr)
                left.append(f"container {ctr}")
        for vol in volumes:
            with contextlib.suppress(docker.errors.NotFound):
                client.api.inspect_volume(vol)
                left.append(f"volume {vol[:12]}")
    left += [f"node {n}" for n in nodes if jenkins.node_info(n) is not None]
    return left


def _building(jenkins, job, number):
    info = jenkins.build_info(job, number) or {}
    return info.get("building") and info.get("builtOn")


def test_agent_killed_mid_build_and_the_controller_restarted_in_its_container(
    modules, agent_image, controller, pool
):
    """Fault 5: an agent container killed while it runs a build: the build fails saying the
    agent went offline, the next pass removes the dead agent (container, node, volumes) and
    launches a replacement. Fault 4: the controller's container restarted while the
    replacement runs a build: the build ends ABORTED, the agent reconnects by itself (no new
    launch), and the next build runs on it."""
    jenkins, agent = modules.modules.jenkins, modules.modules.jenkins_agent
    job, o = engines.name(f"fj{uuid.uuid4().hex[:4]}"), _opts(pool)
    jenkins.job_create(job, config_xml=_job("echo started; sleep 60", f"{pool}-l"))
    try:
        (first,) = agent.reconcile(pool, agent_image, **o)["launched"]
        agent.wait_pool(pool, 1, timeout=60)
        first_volumes = _volumes(first)
        assert len(first_volumes) == 2, first_volumes  # the agent image's two VOLUMEs
        jenkins.build(job, wait=False)
        _until(lambda: _building(jenkins, job, 1) == first, what="build 1 running on " + first)
        with contextlib.closing(engines.client(ENGINE)) as client:
            client.containers.get(first).kill()
        killed = time.monotonic()
        ret = jenkins.build_wait(job, 1, timeout=60, poll_interval=0.2)
        print(f"build 1 ended {ret['result']} {time.monotonic() - killed:.1f} s after the kill")
        assert ret["result"] == "FAILURE", ret
        assert "Agent went offline during the build" in ret["console_tail"], ret
        healed = agent.reconcile(pool, agent_image, **o)
        assert [(d["node"], d["reason"]) for d in healed["deleted"]] == [
            (first, "its container is exited")
        ], healed
        (second,) = healed["launched"]
        assert agent.wait_pool(pool, 1, timeout=60) == [second]
        print(f"replacement {second} online {time.monotonic() - killed:.1f} s after the kill")
        assert _left([first], [first], first_volumes, jenkins) == []
        # fault 4: the controller restarted in its container in the middle of build 2
        jenkins.build(job, wait=False)
        _until(lambda: _building(jenkins, job, 2) == second, what="build 2 running on " + second)
        with contextlib.closing(engines.client(ENGINE)) as client:
            ctl = client.containers.get(controller["container"])
            ctl.kill()
            down = time.monotonic()
            ctl.start()
        ret = jenkins.build_wait(job, 2, timeout=90, poll_interval=0.2)
        assert ret["result"] == "ABORTED", ret
        assert agent.wait_pool(pool, 1, timeout=60) == [second]  # reconnected by itself
        print(f"controller restarted: {second} online again {time.monotonic() - down:.1f} s later")
        again = agent.reconcile(pool, agent_image, **o)
        assert again["launched"] == [] and again["deleted"] == [], again
        jenkins.job_update(job, config_xml=_job("echo built again", f"{pool}-l"))
        ret = jenkins.build(job, timeout=60, poll_interval=0.2)
        assert (ret["result"], ret["number"]) == ("SUCCESS", 3), ret
        assert f"Building remotely on {second}" in jenkins.console(job, 3)
        # scaled to zero: the last agent goes with its volumes too
        second_volumes = _volumes(second)
        down = agent.reconcile(pool, agent_image, **_opts(pool, min=0, max=0, idle_minutes=0))
        assert down["scaled_down"] == [second], down
        assert _left([second], [second], second_volumes, jenkins) == []
    finally:
        jenkins.job_delete(job)


def _silent_image():
    tag = f"saltext-chain/{engines.name('silent-agent')}:1"
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.build(
            fileobj=_tar({"Dockerfile": SILENT_DOCKERFILE.encode()}),
            custom_context=True,
            tag=tag,
            rm=True,
        )
    return tag


def _pool_containers(pool):
    with contextlib.closing(engines.client(ENGINE)) as client:
        return {
            c.name: {m["Name"] for m in c.attrs["Mounts"] if m.get("Type") == "volume"}
            for c in client.containers.list(all=True, filters={"label": f"{POOL_LABEL}={pool}"})
        }


def test_an_agent_image_that_never_connects_is_backed_off_then_reported_broken(
    modules, agent_image, pool
):
    """Fault 5: agents of an image that starts and never connects are removed after
    ``connect_timeout`` (container, node and volumes), the pool backs off between launches and,
    after ``max_failures``, is reported broken with the offline cause and the container's log;
    the pool state fails saying so. A good image clears the mark and the pool comes up."""
    jenkins, agent = modules.modules.jenkins, modules.modules.jenkins_agent
    states = modules.states
    silent = _silent_image()
    try:
        o = _opts(pool, connect_timeout=2, max_failures=2, backoff=1)
        seen, deleted, blocked, report = {}, [], set(), None
        started = time.monotonic()
        while time.monotonic() - started < 60 and report is None:
            out = agent.reconcile(pool, silent, **o)
            deleted += out["deleted"]
            blocked.add(out["blocked"])
            report = out["broken"]
            for name, vols in _pool_containers(pool).items():
                seen.setdefault(name, set()).update(vols)
            time.sleep(0.3)
        took = time.monotonic() - started
        print(f"broken after {took:.1f} s, {len(seen)} launches: {report}")
        assert report, (deleted, blocked)
        assert len(seen) == 2 and all(len(v) == 1 for v in seen.values()), seen
        assert [d["reason"] for d in deleted] == ["not online within connect_timeout (2 s)"] * 2
        assert "backoff" in blocked, blocked  # a pass between the two launches waited
        assert "this agent image never connects" in report, report
        assert _left(seen, seen, set().union(*seen.values()), jenkins) == []
        ret = states.jenkins_agent.pool(pool, image=silent, **o)
        assert ret.result is False and ret.changes == {}, ret
        assert ret.comment.startswith(f"Pool {pool} is broken, not launching: {pool}-"), ret
        assert _pool_containers(pool) == {}
        # a good image clears the mark: the pool comes up
        ret = states.jenkins_agent.pool(pool, image=agent_image, **dict(o, connect_timeout=60))
        assert ret.result is True and len(ret.changes["launched"]) == 1, ret
    finally:
        agent.reconcile(pool, agent_image, **_opts(pool, min=0, max=0, idle_minutes=0))
        agents.remove_image(silent)
