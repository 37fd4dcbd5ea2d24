"""The agent image and the emulator on the base image's Python 3.11 + aiohttp 3.8.

Docker needed.
"""

import io
import os
import re
import tarfile

import jenkins
import pytest

from saltext.chain.emulator import testing
from tests.support import engines, tools

from .helpers import (
    create_inbound_node,
    docker_available,
    freestyle,
    node_secret,
    run_to_completion,
    wait_for,
    wait_online,
)

pytestmark = [pytest.mark.docker, pytest.mark.emulator_only]

BASE_IMAGE = "saltext-chain/debian:bookworm"
AGENT_TAG = f"saltext-chain/{engines.name('emu-agent')}:1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# This run's label and names (tests/support/engines.py): the tests own only what they create.
TEST_LABEL = engines.LABELS


@pytest.fixture(scope="module")
def docker_client():
    client = docker_available()
    if not client:
        tools.missing("no Docker engine at /var/run/docker.sock (run scripts/bootstrap)")
    import docker

    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        tools.missing(f"{BASE_IMAGE} is absent (run scripts/bootstrap)")
    yield client
    engines.cleanup("engine1")  # this run's containers (a test that failed before removing)


def _context(*paths):
    """A build context holding only ``paths`` (repo-relative), like BuildKit would send."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in paths:
            tar.add(os.path.join(REPO, rel), arcname=rel)
    buf.seek(0)
    return buf


def test_agent_image_runs_shell_steps_in_the_container(
    docker_client, target, server, name, cleanup, request
):
    image, _ = docker_client.images.build(
        fileobj=_context("images/jenkins-agent/Dockerfile", "src/saltext/chain/emulator/agent.py"),
        custom_context=True,
        dockerfile="images/jenkins-agent/Dockerfile",
        tag=AGENT_TAG,
        buildargs={"BASE_IMAGE": BASE_IMAGE},
        rm=True,
    )
    request.addfinalizer(lambda: docker_client.images.remove(AGENT_TAG, force=True))
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="in-docker-" + name, remote_fs="/home/jenkins/agent")
    container = docker_client.containers.run(
        image.id,
        detach=True,
        network_mode="host",
        labels=TEST_LABEL,
        name=engines.name(f"emu-{name}"),
        environment={
            "JENKINS_URL": target.url,
            "JENKINS_SECRET": node_secret(target, name),
            "JENKINS_AGENT_NAME": name,
            "JENKINS_AGENT_WORKDIR": "/home/jenkins/agent",
            "JENKINS_WEB_SOCKET": "true",
        },
    )
    try:
        try:
            wait_online(server, name, timeout=20)
        except AssertionError:
            raise AssertionError(container.logs().decode(errors="replace")) from None
        server.create_job(
            name,
            freestyle(
                "test -f /.dockerenv && echo IN_CONTAINER\nid -un\n"
                "python3 -c 'import aiohttp; print(\"aiohttp\", aiohttp.__version__)'\n"
                "echo marker > in-container.txt",
                label="in-docker-" + name,
                artifacts="in-container.txt",
            ),
        )
        build = run_to_completion(server, name)
        console = server.get_build_console_output(name, build["number"])
        assert build["result"] == "SUCCESS", console
        assert "\nIN_CONTAINER\n" in console
        assert "\njenkins\n" in console
        assert re.search(r"\naiohttp 3\.8\.\d+\n", console), console
        assert "in workspace /home/jenkins/agent/workspace/" in console
        rc, out = container.exec_run(
            ["cat", f"/home/jenkins/agent/workspace/{name}/in-container.txt"]
        )
        assert rc == 0 and out == b"marker\n"
    finally:
        container.remove(force=True, v=True)
    wait_online(server, name, online=False)


def test_emulator_runs_on_base_image_python(docker_client, tmp_path):
    """The controller itself on Debian's python3 + python3-aiohttp (3.8), no image build needed."""
    port = testing.free_port()
    home = tmp_path / "home"
    home.mkdir()
    token = "tok-" + os.urandom(8).hex()
    container = docker_client.containers.run(
        BASE_IMAGE,
        [
            "python3",
            "-m",
            "saltext.chain.emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--home",
            "/home-emu",
            "--admin-token",
            token,
            "--admin-password",
            "pw",
            "--builtin-executors",
            "1",
            "--plugin",
            "git:5.7.0",
        ],
        detach=True,
        network_mode="host",
        labels=TEST_LABEL,
        name=engines.name("emu-python"),
        user=f"{os.getuid()}:{os.getgid()}",
        environment={"PYTHONPATH": "/src"},
        volumes={
            os.path.join(REPO, "src"): {"bind": "/src", "mode": "ro"},
            str(home): {"bind": "/home-emu", "mode": "rw"},
        },
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        try:
            testing.wait_until_up(url, "admin", token, timeout=20)
        except (TimeoutError, RuntimeError):
            raise AssertionError(container.logs().decode(errors="replace")) from None
        server = jenkins.Jenkins(url, "admin", token, timeout=10)
        assert server.get_whoami()["id"] == "admin"
        server.create_job(
            "j",
            freestyle(
                "echo on-$NODE_NAME; python3 -c 'import aiohttp; print(aiohttp.__version__)'",
                label="built-in",
            ),
        )
        build = run_to_completion(server, "j")
        console = server.get_build_console_output("j", build["number"])
        assert build["result"] == "SUCCESS", console
        assert "on-built-in" in console and re.search(r"\n3\.8\.\d+\n", console)
        # password auth goes through the crumb path on aiohttp 3.8 too
        pw = jenkins.Jenkins(url, "admin", "pw", timeout=10)
        pw.disable_job("j")
        assert server.get_job_info("j")["color"] == "disabled"
        create_inbound_node(server, "n1")
        wait_for(lambda: server.get_node_info("n1")["offline"], what="node listed")
    finally:
        container.remove(force=True, v=True)
