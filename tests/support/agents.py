"""The emulated agent image for jenkins_agent tests, built from this checkout under a run-unique
tag, and checks that an agent secret is nowhere it must not be."""

import contextlib
import io
import json
import os
import re
import tarfile

import docker

from tests.support import engines

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The agent script baked into the test image (CHAIN_AGENT_PY: try another one, e.g. a work in
# progress of the emulated agent, without touching the checkout).
AGENT_PY = os.environ.get("CHAIN_AGENT_PY") or os.path.join(
    REPO, "src/saltext/chain/emulator/agent.py"
)
BROKEN_DOCKERFILE = (
    f"FROM {engines.DEBIAN}\n"
    "RUN useradd -u 1000 -m jenkins\nUSER jenkins\n"
    'ENTRYPOINT ["sh", "-c", "echo agent image is broken: cannot start >&2; exit 3", "--"]\n'
)


def _context(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arcname, data in files.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


_BUILT = set()


def agent_reads_secret_files():
    """Whether this checkout's emulated agent honours ``-secret @FILE`` (args4j @ syntax)."""
    with open(AGENT_PY, encoding="utf-8") as fh:
        return "def expand_at_files" in fh.read()


def agent_image_tag():
    return f"saltext-chain/{engines.name('agent')}:1"


def remove_built():
    """Untag the agent images this run built (its own tags); their layers stay for the build
    cache of the next run (``noprune``)."""
    for engine, tag, _ in sorted(_BUILT):
        with contextlib.closing(engines.client(engine)) as client:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag, noprune=True)
    _BUILT.clear()


def build_agent_image(engine="engine1", tag=None, marker="", base=engines.DEBIAN):
    """Build images/jenkins-agent from this checkout (once per session and tag) FROM ``base``;
    returns the tag. ``marker`` (a word) is written to /etc/agent-flavour, so that two markers
    give two image ids and a canary job can tell them apart."""
    tag = tag or agent_image_tag()
    if (engine, tag, marker) in _BUILT:
        with contextlib.closing(engines.client(engine)) as client:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.get(tag)
                return tag
    with open(os.path.join(REPO, "images/jenkins-agent/Dockerfile"), "rb") as fh:
        dockerfile = fh.read()
    if marker:
        dockerfile += (
            f"\nUSER root\nRUN echo {marker} > /etc/agent-flavour\nUSER jenkins\n"
        ).encode()
    with open(AGENT_PY, "rb") as fh:
        agent = fh.read()
    files = {
        "images/jenkins-agent/Dockerfile": dockerfile,
        "src/saltext/chain/emulator/agent.py": agent,
    }
    with contextlib.closing(engines.client(engine)) as client:
        client.images.build(
            fileobj=_context(files),
            custom_context=True,
            dockerfile="images/jenkins-agent/Dockerfile",
            tag=tag,
            rm=True,
            buildargs={"BASE_IMAGE": base},
        )
    _BUILT.add((engine, tag, marker))
    return tag


def build_broken_image(engine="engine1"):
    tag = f"saltext-chain/{engines.name('broken-agent')}:1"
    with contextlib.closing(engines.client(engine)) as client:
        client.images.build(
            fileobj=_context({"Dockerfile": BROKEN_DOCKERFILE.encode()}),
            custom_context=True,
            tag=tag,
            rm=True,
        )
    return tag


def remove_image(tag, engine="engine1"):
    with contextlib.closing(engines.client(engine)) as client:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(tag, force=True)


def agent_containers(engine="engine1"):
    with contextlib.closing(engines.client(engine)) as client:
        return [
            c.attrs
            for c in client.containers.list(
                all=True,
                filters={
                    "label": [
                        f"{engines.TEST_LABEL}={engines.RUN}",
                        "org.saltext-chain.jenkins-agent=true",
                    ]
                },
            )
        ]


def assert_no_secret(secret, *things):
    """``secret`` appears in none of ``things`` (inspect data, returns, events: anything).

    ``secret`` must be one: hex of at least 128 bits (an agent's HMAC secret, an API token). A
    failed look-up (an error message, ``None``, a mapping) appears nowhere either: taken for the
    secret, it would make the check pass without checking anything."""
    assert isinstance(secret, str) and re.fullmatch(r"[0-9a-f]{32,}", secret), (
        f"not a secret (did its look-up fail?): {str(secret)[:200]!r}"
    )
    for thing in things:
        text = thing if isinstance(thing, str) else json.dumps(thing, default=str)
        assert secret not in text, "the agent secret leaked"


def static_agent(salt_cli, name, image, label, minion="build1"):
    """A permanent agent ``name`` (host network, this run's labels) applied with
    ``jenkins_agent.present`` through the master; fails the test when the state fails."""
    options = {"network_mode": "host", "labels": engines.LABELS}
    ret = salt_cli.run(
        "state.single",
        "jenkins_agent.present",
        name,
        f"image={image}",
        f"labels={json.dumps([label])}",
        "connect_timeout=60",
        f"container_options={json.dumps(options)}",
        minion_tgt=minion,
        _timeout=300,
    )
    assert ret.returncode == 0, ret.stdout[:3000]


@contextlib.contextmanager
def emulated_agent(modules, url, name, labels, work, **node):
    """A Jenkins node ``name`` with the emulated inbound agent connected (a subprocess), online
    before it yields; the node is deleted afterwards. ``modules``: a loader's modules."""
    from saltext.chain.emulator import testing  # noqa: PLC0415 - only the functional tests need it

    modules.jenkins.node_create(
        name, labels=list(labels), remote_fs=str(work), web_socket=True, **node
    )
    with testing.running_agent(url, modules.jenkins.agent_secret(name), name, work):
        modules.jenkins.wait_online(name, timeout=30, interval=0.2)
        yield name
    modules.jenkins.node_delete(name)
