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


#: The lowest level a daemon sends to the test process's log server. salt-factories sends
#: ``debug``, and pytest (``log_level = "WARNING"``, pyproject.toml) drops everything below
#: WARNING when it arrives: those records cost each daemon a msgpack frame and the test process
#: an unpack and a trip through the logging handlers, for nothing. The daemons' own log files
#: keep ``debug`` (test_secrets.py scans them).
FORWARDED_LOG_LEVEL = "warning"


@pytest.fixture(scope="session")
def salt_factories(salt_factories):  # pylint: disable=redefined-outer-name
    """salt-factories' manager, every daemon it configures sending only what pytest keeps to
    the log server (:data:`FORWARDED_LOG_LEVEL`), and every master reading its own grains from
    Salt's grains cache (``grains_cache``): a ``salt-run`` (and a master's ``MasterMinion``)
    otherwise runs every grains module again, a third of a trivial ``salt-run``'s 1.5 CPU-s.
    (The manager is a slotted attrs class: its method is wrapped on the class, for the
    session.)"""
    cls = type(salt_factories)
    tweak = cls.final_common_config_tweaks

    def final_common_config_tweaks(self, config, role):
        forwarded = config.setdefault(f"pytest-{role}", {}).setdefault("log", {})
        forwarded.setdefault("level", FORWARDED_LOG_LEVEL)
        if role == "master":
            config.setdefault("grains_cache", True)
        tweak(self, config, role)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cls, "final_common_config_tweaks", final_common_config_tweaks)
        yield salt_factories


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
