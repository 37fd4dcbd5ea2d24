"""Conformance suite for the Jenkins emulator.

By default a session-wide emulator is started as a subprocess on 127.0.0.1.  When
``JENKINS_URL``, ``JENKINS_USER`` and ``JENKINS_TOKEN`` are set, the same tests run against that
real Jenkins instead; tests that need the emulator itself (its agent, its restart, its CLI
options) are marked ``emulator_only`` and skip there.
"""

import os
import pathlib
import uuid

import jenkins
import pytest
import requests

from saltext.chain.emulator import testing

from .helpers import node_secret

REAL_URL = os.environ.get("JENKINS_URL")
REAL_USER = os.environ.get("JENKINS_USER")
REAL_TOKEN = os.environ.get("JENKINS_TOKEN")
USE_REAL = bool(REAL_URL and REAL_USER and REAL_TOKEN)

# run the emulator and the agents with another interpreter (e.g. a venv with aiohttp 3.8)
EMULATOR_PYTHON = os.environ.get("EMULATOR_PYTHON") or None

PLUGINS = (
    "git:5.7.0",
    "workflow-job:1505.vea_4b_20a_4a_495",
    "cloudbees-folder:6.999.v42253c105443",
)
ADMIN_PASSWORD = "s3cret-password"


# The release the emulator reproduces (it announces it in X-Jenkins); every check of this suite
# was read from the source of this tag of jenkinsci/jenkins.
RELEASE = "2.568.2"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "emulator_only: needs the emulator itself (skipped against a real Jenkins)"
    )
    config.addinivalue_line(
        "markers",
        "jenkins(release, source, since=None): the Jenkins release whose source the check was read "
        "from (file + method); since= the first LTS with that behaviour: against an older real "
        "controller the test is skipped",
    )


def pytest_collection_modifyitems(config, items):
    # This hook sees the whole session's items: only the conformance suite's are ours.
    here = pathlib.Path(__file__).resolve().parent
    items = [item for item in items if here in pathlib.Path(str(item.fspath)).resolve().parents]
    unsourced = [
        item.nodeid
        for item in items
        if item.get_closest_marker("jenkins") is None
        and item.get_closest_marker("emulator_only") is None
    ]
    if unsourced:
        raise pytest.UsageError(
            "conformance tests must name the Jenkins release and source they check "
            "(@pytest.mark.jenkins(...)) or be emulator_only: " + ", ".join(unsourced)
        )
    if not USE_REAL:
        return
    skip = pytest.mark.skip(
        reason="needs the Jenkins emulator (JENKINS_URL points to a real Jenkins)"
    )
    for item in items:
        if "emulator_only" in item.keywords:
            item.add_marker(skip)


def _version(text):
    return tuple(int(part) for part in text.split(".") if part.isdigit())


@pytest.fixture(scope="session")
def target_version(target):
    """The release the target announces in X-Jenkins."""
    resp = requests.get(target.url + "api/json", auth=(target.user, target.token), timeout=10)
    return resp.headers.get("X-Jenkins", "")


@pytest.fixture(autouse=True)
def _release_gate(request):
    marker = request.node.get_closest_marker("jenkins")
    since = marker.kwargs.get("since") if marker else None
    if since:
        version = request.getfixturevalue("target_version")
        if version and _version(version) < _version(since):
            pytest.skip(f"behaviour of Jenkins {since} and later; the target runs {version}")


class Target:
    def __init__(self, url, user, token, emulated, home=None, password=None):
        self.url = url if url.endswith("/") else url + "/"
        self.user = user
        self.token = token
        self.emulated = emulated
        self.home = home
        self.password = password

    def client(self):
        return jenkins.Jenkins(self.url, self.user, self.token, timeout=10)

    def session(self):
        sess = requests.Session()
        sess.auth = (self.user, self.token)
        return sess


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    if USE_REAL:
        yield Target(REAL_URL, REAL_USER, REAL_TOKEN, emulated=False)
        return
    home = tmp_path_factory.mktemp("jenkins-home")
    extra = ["--admin-password", ADMIN_PASSWORD]
    with testing.running_emulator(
        home, plugins=PLUGINS, extra_args=extra, python=EMULATOR_PYTHON
    ) as (url, user, token):
        yield Target(url, user, token, emulated=True, home=str(home), password=ADMIN_PASSWORD)


@pytest.fixture
def server(target):
    return target.client()


@pytest.fixture
def http(target):
    return target.session()


@pytest.fixture
def name():
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture
def cleanup(server):
    jobs, nodes = [], []
    yield jobs, nodes
    for job in jobs:
        try:
            server.delete_job(job)
        except jenkins.JenkinsException:
            pass
    for node in nodes:
        try:
            server.delete_node(node)
        except jenkins.JenkinsException:
            pass


@pytest.fixture
def agent_factory(target, tmp_path):
    """Start emulated agents (host subprocesses) for nodes of the session emulator."""
    started = []

    def start(node, workdir=None, secret=None, url=None):
        workdir = workdir or tmp_path / f"agent-{node}"
        workdir.mkdir(parents=True, exist_ok=True)
        ctx = testing.running_agent(
            url or target.url,
            secret or node_secret(target, node),
            node,
            workdir,
            log_path=str(tmp_path / f"{node}-{len(started)}.log"),
            python=EMULATOR_PYTHON,
        )
        proc = ctx.__enter__()
        started.append(ctx)
        return proc

    yield start
    for ctx in reversed(started):
        ctx.__exit__(None, None, None)
