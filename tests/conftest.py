"""Shared fixtures: repository paths, the two Docker engines, test-object cleanup."""

import logging
import pathlib
import shutil
import tempfile

import pytest

from tests.support import agents, engines

REPO = pathlib.Path(__file__).resolve().parent.parent

# Salt's log handlers flush into pytest's already-closed capture streams at interpreter exit;
# that prints "--- Logging error ---" tracebacks which are noise, not failures.
logging.raiseExceptions = False


@pytest.fixture(scope="session")
def repo_root():
    return REPO


def pytest_sessionfinish(session):
    """Under pytest-xdist, the controller removes what every worker's run left on the engines
    (each worker also cleans up its own run when its session ends)."""
    if hasattr(session.config, "workerinput"):  # a worker
        return
    if getattr(session.config.option, "dist", "no") == "no":
        return
    if engines.require_engines():
        return
    for name in engines.ENGINES:
        engines.cleanup_session(name)


@pytest.fixture(scope="session")
def docker_engines():
    """Both engines must answer; `scripts/bootstrap` starts them."""
    missing = engines.require_engines()
    if missing:
        pytest.fail(f"Docker engine(s) not answering: {', '.join(missing)}; run scripts/bootstrap")
    yield engines.ENGINES
    for name in engines.ENGINES:
        engines.cleanup(name)
    agents.remove_built()


@pytest.fixture(scope="session")
def salt_factories_config():
    # A short root dir keeps unix socket paths below the AF_UNIX limit, and it is removed.
    root = tempfile.mkdtemp(prefix="sc", dir="/tmp")
    yield {
        "code_dir": str(REPO),
        "inject_sitecustomize": False,
        "start_timeout": 120,
        "root_dir": root,
    }
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def registry_credentials():
    password_file = REPO / ".state" / "registry" / "password"
    if not password_file.exists():
        pytest.fail("the registry password is missing; run scripts/bootstrap")
    return {"username": "chain", "password": password_file.read_text().strip()}


@pytest.fixture(scope="session")
def swarm_engine(docker_engines, tmp_path_factory):
    """A private dockerd in a network namespace of its own, a one-node Swarm manager
    (tests/support/swarm_engine.py), with busybox; shared by the session's Swarm tests. The
    shared engines are never put into swarm mode."""
    from tests.support import swarm_engine as swarm  # noqa: PLC0415 - only Swarm tests

    engine = swarm.SwarmEngine().open()
    try:
        engine.images_dir = tmp_path_factory.mktemp("swarm-images")
        swarm.build_busybox(engine)
        yield engine
    finally:
        engine.close()
