"""The controller and agents across hosts (issue 18): the Jenkins controller (the emulator) on
engine 1, published on the hosts network's gateway address only, reached by name from two
Docker-in-Docker hosts; each host's own minion runs a pool (``jenkins.pools``, pillar
``jenkins:pools`` per minion) whose agents connect over WebSocket to that name.

The agent image gets onto each host's engine from the chain's TLS registry, by name and by
digest (the session's ``tls_registry``, conftest: host1's minion is the CA's, each host's minion
trusts it with ``chain.registry_trust``). It is pushed once from engine 1 through the
registry's loopback port (how the chain pushes today; engine 1 does not resolve the name), and
each host pulls ``<name:port>/<repo>@sha256:...`` with the CA verified.

One deploy serves every check: the name in each host's /etc/hosts (written by the formula), a
build on an agent of host1 and one on host2 (``Building remotely on <node>``), ``engine_cap``
counted per host, and an agent killed on host1 replaced on host1 while host2's agent is
untouched."""

import contextlib
import io
import json
import pathlib
import secrets
import tarfile
import time

import docker
import pytest
import yaml

from saltext.chain.emulator import testing
from tests.integration.multihost import test_hosts_tls_registry as tls
from tests.support import agents, engines

pytestmark = [pytest.mark.integration, pytest.mark.multihost, pytest.mark.docker]

REPO = pathlib.Path(__file__).resolve().parents[3]
CONTROLLER = engines.name("hosts-jenkins")
CONTROLLER_IMAGE = f"saltext-chain/{engines.name('hosts-emulator')}:1"
NAME = f"{engines.name('jenkins')}.hosts.test"
POOL = engines.name("hpool")
AGENT_REPO = f"{tls.ADDRESS}/{engines.name('hosts-agent')}"
POOL_LABEL = "org.saltext-chain.jenkins-agent.pool"
AGENT_IMAGE = f"saltext-chain/{engines.name('hosts-agent')}:1"  # engine 1's, before the push


def _emulator_context():
    """images/jenkins-emulator's context: its Dockerfile and the two COPY sources only."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(REPO / "images/jenkins-emulator/Dockerfile", "Dockerfile")
        tar.add(REPO / "images/jenkins-emulator/plugins.txt", "images/jenkins-emulator/plugins.txt")
        emulator = REPO / "src/saltext/chain/emulator"
        for path in sorted(emulator.glob("*.py")):
            tar.add(path, f"src/saltext/chain/emulator/{path.name}")
    buf.seek(0)
    return buf


def _start_controller(client, net, token):
    """The emulator on engine 1, published on the hosts network's gateway only; its url by
    name and its port."""
    client.images.build(
        fileobj=_emulator_context(),
        custom_context=True,
        tag=CONTROLLER_IMAGE,
        labels=engines.LABELS,
        rm=True,
        buildargs={"BASE_IMAGE": engines.DEBIAN},
    )
    port = testing.free_port(net.gateway)
    url = f"http://{NAME}:{port}/"
    client.containers.run(
        CONTROLLER_IMAGE,
        name=CONTROLLER,
        labels=engines.LABELS,
        environment={
            "JENKINS_EMULATOR_ADMIN_TOKEN": token,
            "JENKINS_EMULATOR_ROOT_URL": url,
            "JENKINS_EMULATOR_BUILTIN_EXECUTORS": "0",
        },
        ports={"8080/tcp": (net.gateway, port)},
        detach=True,
    )
    testing.wait_until_up(f"http://{net.gateway}:{port}/", "admin", token, timeout=60)
    return url, port


def _push_agent_image(client, loopback, password):
    """The run's agent image pushed from engine 1 (loopback port);
    its reference by name and digest, as the hosts pull it."""
    image = agents.build_agent_image(tag=AGENT_IMAGE)
    pushed = f"127.0.0.1:{loopback}/{engines.name('hosts-agent')}:1"
    client.images.get(image).tag(pushed)
    digest = None
    try:
        for line in client.images.push(
            pushed, auth_config={"username": "ci", "password": password}, stream=True, decode=True
        ):
            assert "error" not in line, line
            digest = (line.get("aux") or {}).get("Digest") or digest
    finally:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(pushed)
    assert digest and digest.startswith("sha256:"), digest
    return f"{AGENT_REPO}@{digest}"


def _jenkins_pillar(minion, url, token, gateway, image, engine_cap=1):
    return {
        "jenkins": {
            "profiles": {"hosts": {"url": url, "user": "admin", "token": token, "timeout": 30}},
            "profile": "hosts",
            "formula_label": engines.LABELS,
            "controller": {"enabled": False},
            "controller_name": {"name": NAME, "ip": gateway},
            "pools": {
                POOL: {
                    "image": image,
                    "label": f"{POOL}-{minion}",
                    "min": 1,
                    "max": 1,
                    "engine_cap": engine_cap,
                    "connect_timeout": 60,
                    "container_options": {"network_mode": "host", "labels": engines.LABELS},
                }
            },
            "reconcile": {"schedule": False},
        }
    }


def _agents(host):
    """This run's pool agents on ``host``'s engine: {container name: container}."""
    with contextlib.closing(host.client()) as inner:
        return {
            c.name: c
            for c in inner.containers.list(all=True, filters={"label": f"{POOL_LABEL}={POOL}"})
        }


def all_ok(ret, minions=("host1", "host2")):
    """Every state of every minion succeeded; ``{minion: states}`` (one minion's return is its
    bare value: salt-factories unwraps it)."""
    data = ret.data if len(minions) > 1 else {minions[0]: ret.data}
    assert isinstance(data, dict) and set(data) == set(minions), ret.stdout[-3000:]
    for minion, states in data.items():
        assert isinstance(states, dict), (minion, ret.stdout[-3000:])
        failed = {k: s for k, s in states.items() if s["result"] is not True}
        assert not failed, f"{minion}: " + json.dumps(failed, indent=1, default=str)[:6000]
    return data


@pytest.fixture(scope="module")
def agents_deployed(tls_registry, host_group, hosts_network, hosts_pillar):
    net, run, top = hosts_network, tls_registry["run"], tls_registry["top"]
    token = secrets.token_hex(16)
    times = {}
    try:
        started = time.monotonic()
        url, _ = _start_controller(host_group.client, net, token)
        image = _push_agent_image(host_group.client, tls_registry["loopback"], run.password)
        times["setup"] = time.monotonic() - started
        mine = dict(top)
        for host in host_group.hosts:
            pillar = _jenkins_pillar(host.minion_id, url, token, net.gateway, image)
            (hosts_pillar / f"agents_{host.minion_id}.sls").write_text(yaml.safe_dump(pillar))
            mine[host.minion_id] = [*top.get(host.minion_id, []), f"agents_{host.minion_id}"]
        tls.write_top(hosts_pillar, mine)
        assert run.salt("saltutil.refresh_pillar", "wait=True").returncode == 0
        started = time.monotonic()
        pulled = run.salt("container.image_pull", image, timeout=600)
        assert pulled.returncode == 0, pulled.stdout[-3000:]
        times["pull"] = time.monotonic() - started
        started = time.monotonic()
        first = all_ok(run.apply("jenkins.pools"))
        times["pools"] = time.monotonic() - started
        print(
            f"\nmultihost agents: controller + agent image pushed {times['setup']:.1f} s, pull "
            f"of the agent image on 2 hosts side by side {times['pull']:.1f} s, pools up "
            f"{times['pools']:.1f} s"
        )
        yield {"run": run, "image": image, "url": url, "token": token, "first": first}
    finally:
        started = time.monotonic()
        _cleanup(host_group, hosts_pillar, top)
        print(f"\nmultihost agents: cleanup {time.monotonic() - started:.1f} s")
        assert run.salt("saltutil.refresh_pillar", "wait=True").returncode == 0


def _cleanup(group, pillar_dir, top):
    # the pools' agents first (their controller is still up), then everything else; the
    # session's registry and its trust stay (conftest tls_registry)
    tls.write_top(pillar_dir, top)
    for host in group.hosts:
        (pillar_dir / f"agents_{host.minion_id}.sls").unlink(missing_ok=True)
        for ctr in _agents(host).values():
            with contextlib.suppress(docker.errors.APIError):
                ctr.remove(force=True, v=True)
        tls._remove_images(host, AGENT_REPO)  # pylint: disable=protected-access
        host.exec(
            "cp /etc/hosts /tmp/hosts.agents && grep -v ' " + NAME + "' /tmp/hosts.agents"
            " > /etc/hosts; true",
            check=False,
        )
    with contextlib.suppress(docker.errors.NotFound):
        group.client.containers.get(CONTROLLER).remove(force=True, v=True)
    with contextlib.suppress(docker.errors.ImageNotFound):
        group.client.images.remove(CONTROLLER_IMAGE, force=True)
    with contextlib.suppress(docker.errors.ImageNotFound):
        group.client.images.remove(AGENT_IMAGE, force=True, noprune=True)  # layers: a cache


def _build_on(run, minion, job):
    """A freestyle job tied to ``minion``'s pool label, built through that minion's jenkins
    module (by name); its console."""
    xml = (
        f"<project><assignedNode>{POOL}-{minion}</assignedNode><canRoam>false</canRoam>"
        "<quietPeriod>0</quietPeriod><builders><hudson.tasks.Shell><command>"
        f"echo built on $(hostname)</command></hudson.tasks.Shell></builders></project>"
    )
    ret = run.salt("jenkins.job_create", job, f"config_xml={xml}", "profile=hosts", minion=minion)
    assert ret.data is True, ret.stdout[-2000:]
    ret = run.salt("jenkins.build", job, "timeout=120", "profile=hosts", minion=minion)
    assert isinstance(ret.data, dict) and ret.data.get("result") == "SUCCESS", ret.stdout[-3000:]
    return run.salt("jenkins.console", job, "profile=hosts", minion=minion).data


def test_agents_on_two_hosts_build_and_heal_on_their_own_host(agents_deployed, host_group):
    run = agents_deployed["run"]
    nodes = {}
    for host in host_group.hosts:
        assert NAME in host.exec(["cat", "/etc/hosts"]), host.minion_id
        (node,) = _agents(host)
        nodes[host.minion_id] = node
        agent = _agents(host)[node]
        assert agent.status == "running", (host.minion_id, agent.status)
        assert agent.attrs["Config"]["Image"] == agents_deployed["image"], agent.attrs["Config"]
        cmd = agent.attrs["Config"]["Cmd"] or []
        assert agents_deployed["url"] in cmd and "-webSocket" in cmd, cmd
    assert not host_group.client.containers.list(all=True, filters={"name": f"^{POOL}-"})

    for minion, node in nodes.items():
        console = _build_on(run, minion, engines.name(f"hjob-{minion}"))
        assert f"Building remotely on {node}" in console, (minion, console)

    # engine_cap per host: each host's engine holds one agent, at the cap of 1: a second agent
    # is not launched there (test=True, min 2) ...; the control: with a cap of 2 it would be
    kwargs = ["label=" + json.dumps(f"{POOL}-host1"), "min=2", "max=2", "profile=hosts"]
    options = {"network_mode": "host", "labels": engines.LABELS}  # the pool's: no roll
    kwargs.append("container_options=" + json.dumps(options))
    image = agents_deployed["image"]
    for cap, launched in ((1, 0), (2, 1)):
        ret = run.salt(
            "jenkins_agent.reconcile", POOL, image, *kwargs, f"engine_cap={cap}", "test=True",
            minion="host1",
        )  # fmt: skip
        assert isinstance(ret.data, dict), ret.stdout[-2000:]
        assert len(ret.data["launched"]) == launched, (cap, ret.data)

    # kill host1's agent: the next apply on both hosts replaces it on host1 only
    host2_agent = _agents(host_group["host2"])[nodes["host2"]]
    _agents(host_group["host1"])[nodes["host1"]].kill()
    data = all_ok(run.apply("jenkins.pools"))
    (healed,) = [n for n, c in _agents(host_group["host1"]).items() if c.status == "running"]
    assert healed != nodes["host1"], data["host1"]
    host2_now = _agents(host_group["host2"])
    assert list(host2_now) == [nodes["host2"]], host2_now
    assert host2_now[nodes["host2"]].id == host2_agent.id
    assert (
        host2_now[nodes["host2"]].attrs["State"]["StartedAt"]
        == (host2_agent.attrs["State"]["StartedAt"])
    )
    assert not [s for s in data["host2"].values() if s.get("changes")], data["host2"]
    console = _build_on(run, "host1", engines.name("hjob-healed"))
    assert f"Building remotely on {healed}" in console, console
    run.no_secrets()
    assert not [o for o in run.outputs if agents_deployed["token"] in o]
