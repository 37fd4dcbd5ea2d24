"""Integration: a real salt-master and two minions, each bound to its own Docker engine.

build1 talks to engine 1, web1 to engine 2, through the `container` connection profile in
its minion config. The master serves the extension directories and `formulas/` from
`file_roots` (the classic deployment); `synced` runs `saltutil.sync_all` on both sides.
"""

import contextlib
import os
import pathlib
import secrets
import socket

import pytest
import yaml

from saltext.chain.emulator import testing
from tests.conftest import REPO
from tests.support import cli_forkserver, engines, push, schedule, secret_scan

MINION_ENGINES = {"build1": "engine1", "web1": "engine2"}


def pytest_collection_modifyitems(items):
    """The integration+fault process's order on its xdist workers (tests/support/schedule.py);
    this hook sees the whole session's items."""
    schedule.arrange(items)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``: tests/support/schedule.py's work units, in that order."""
    if config.getvalue("dist") == "loadfile":
        return schedule.Units(config, log)
    return None


@pytest.fixture(scope="package")
def ext_tree(tmp_path_factory):
    """Only the extension dirs are served: never tests/, src/ or .venv."""
    tree = tmp_path_factory.mktemp("ext")
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons", "_utils"):
        os.symlink(REPO / kind, tree / kind)
    return tree


@pytest.fixture(scope="package")
def jenkins_emulator(tmp_path_factory):
    """The Jenkins emulator as the controller: real HTTP on 127.0.0.1, one built-in executor."""
    home = tmp_path_factory.mktemp("jenkins-home")
    with testing.running_emulator(
        home, plugins=("git:5.7.0",), extra_args=["--builtin-executors", "1"]
    ) as (url, user, token):
        yield {"url": url, "user": user, "token": token, "home": str(home)}


@pytest.fixture(scope="package")
def controller_settings(tmp_path_factory):
    """The ``jenkins`` formula's controller for this run (test_agents applies it on build1):
    run-unique names, a free loopback port, a fresh token, its secrets directory in tmp."""
    return {
        "name": engines.name("jenkins"),
        "image": f"saltext-chain/{engines.name('jenkins-emulator')}:1",
        "home_volume": engines.name("jenkins-home"),
        "port": testing.free_port(),
        "token": secrets.token_hex(16),
        "secrets_dir": str(tmp_path_factory.mktemp("jenkins-secrets") / "s"),
    }


def jenkins_pillar(emulator, ctl):
    """Profile ``default``: the emulator subprocess (most tests); profile ``ctl`` and the formula
    keys: the controller that the jenkins formula runs in its container."""
    return {
        "profiles": {
            "default": {k: emulator[k] for k in ("url", "user", "token")},
            "ctl": {
                "url": f"http://127.0.0.1:{ctl['port']}/",
                "user": "admin",
                "token": ctl["token"],
                "timeout": 30,
            },
        },
        "profile": "ctl",
        "formula_label": {engines.TEST_LABEL: engines.RUN},
        "controller": {
            "name": ctl["name"],
            "image": ctl["image"],
            "build": str(REPO),
            "base_image": engines.DEBIAN,
            "home_volume": ctl["home_volume"],
            "port": ctl["port"],
            "secrets_dir": ctl["secrets_dir"],
            "plugins": {"git": "5.7.0", "workflow-job": "1505.vea_4b_20a_4a_495"},
        },
        "pools": {},
        "reconcile": {"schedule": False},
    }


def demo_containers(minion):
    """The demo formula's pillar for one minion: names and labels owned by this test run.

    `make chain` applies the same formula with its own pillar (hello-web, worker, cache) on the
    same engines: the run-unique names and the run label keep the two apart.
    """
    spec = {
        "command": engines.stoppable("sleep 3600"),
        "labels": {engines.TEST_LABEL: engines.RUN},
        "restart_policy": "unless-stopped",
    }
    containers = {
        engines.name(f"{minion}-svc{i}"): dict(
            spec, environment={"INDEX": str(i), "MINION": minion}
        )
        for i in range(5)
    }
    containers[engines.name(f"{minion}-web")] = {
        "command": engines.stoppable("httpd -f -p 8080 -h /tmp"),
        "labels": {engines.TEST_LABEL: engines.RUN},
        "ports": ["127.0.0.1::8080"],
    }
    return containers


@pytest.fixture(scope="package")
def chain_registry():
    """The chain's own registry (formulas/chain/registry.sls) in the orchestrate tests: a free
    loopback port, and a password that only the minions' pillar holds (the orchestrate passes
    no secret along)."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        "port": port,
        "address": f"127.0.0.1:{port}",
        "username": "chain",
        "password": secrets.token_urlsafe(18),
    }


@pytest.fixture(scope="package")
def push_keys():
    """The push webhook's and the source records' HMAC keys: the master's own pillar."""
    return push.keys()


@pytest.fixture(scope="package")
def push_user():
    """The source server's push account of the end-to-end tests (build1's pillar only)."""
    return {"user": "tester", "password": secrets.token_urlsafe(12)}


@pytest.fixture(scope="package")
def e2e_chain(chain_registry):
    """The whole chain that a push runs in test_push_to_production.py: this run's names and
    free loopback ports (the master's chain:push config needs them before it starts)."""
    from tests.support import e2e  # pylint: disable=import-outside-toplevel

    return e2e.settings(chain_registry)


@pytest.fixture(scope="package")
def chain_ca(tmp_path_factory):
    """The chain's CA of test_chain_registry_tls.py: its signing policy in build1's pillar (the
    CA's minion), the key and certificate in this run's tmp; short-lived certificates (0.01 day,
    about 14 minutes) so that the renewal is tested."""
    root = tmp_path_factory.mktemp("chain-ca")
    return {
        "policy": "chain-registry-test",
        "key": str(root / "ca" / "ca.key"),
        "cert": str(root / "ca" / "ca.crt"),
        "days_valid": 0.01,
    }


@pytest.fixture(scope="package")
def secret_pillar(
    tmp_path_factory,
    registry_credentials,
    jenkins_emulator,
    controller_settings,
    chain_registry,
    push_keys,
    push_user,
    chain_ca,
):
    """Pillar that holds secrets or this run's names is written at run time, never committed."""
    root = tmp_path_factory.mktemp("pillar")
    (root / "registry.sls").write_text(
        yaml.safe_dump(
            {
                "container": {
                    "registries": {
                        engines.REGISTRY: registry_credentials,
                        chain_registry["address"]: {
                            k: chain_registry[k] for k in ("username", "password")
                        },
                    }
                },
                "stack": {"registry": engines.REGISTRY, "version": "1"},
                "jenkins": jenkins_pillar(jenkins_emulator, controller_settings),
                "ci": {"node": "agent-int", "job": "salt-built"},
                # Names and labels of what the integration formulas create belong to this run.
                "test_run": engines.RUN,
            }
        )
    )
    (root / "push_master.sls").write_text(yaml.safe_dump({"chain": {"push": push_keys}}))
    for minion in MINION_ENGINES:
        data = {"demo": {"containers": demo_containers(minion)}}
        if minion == "build1":  # the source server's push account; the forwarder's key
            data["chain"] = {
                "source": {"users": {push_user["user"]: push_user["password"]}},
                "push": {"source_key": push_keys["source_key"]},
            }
            # the chain CA's signing policy (x509, signed through the master's peer interface)
            data["x509_signing_policies"] = {
                chain_ca["policy"]: [
                    {"minions": "*"},
                    {"signing_private_key": chain_ca["key"]},
                    {"signing_cert": chain_ca["cert"]},
                    {"basicConstraints": "critical, CA:false"},
                    {"keyUsage": "critical, digitalSignature, keyEncipherment"},
                    {"extendedKeyUsage": "serverAuth"},
                    {"days_valid": chain_ca["days_valid"]},
                ]
            }
        (root / f"{minion}.sls").write_text(yaml.safe_dump(data))
    return root


@pytest.fixture(scope="package")
def master(salt_factories, ext_tree, docker_engines, secret_pillar, e2e_chain, tmp_path_factory):
    here = pathlib.Path(__file__).parent
    # root_dir and cachedir set (one inside the other: Salt puts a cachedir that is not under
    # root_dir below it), so that salt-api serves the team page's directory in the cachedir
    root = tmp_path_factory.mktemp("master-chain")
    page = root / "cache" / "saltext-chain" / "page"
    factory = salt_factories.salt_master_daemon(
        "master-chain",
        defaults={"root_dir": str(root)},
        overrides={
            "file_roots": {"base": [str(ext_tree), str(REPO / "formulas"), str(here / "files")]},
            "pillar_roots": {"base": [str(here / "pillar"), str(secret_pillar)]},
            "interface": "127.0.0.1",
            "open_mode": False,
            "cachedir": str(root / "cache"),
            # minions ask the chain's CA minion to sign (x509, docs/certificates.md)
            "peer": {".*": [r"x509\.sign_remote_certificate"]},
            # reactor, chain:push (the end-to-end chain's repositories too), salt-api, schedule
            **push.master_overrides(e2e_chain, page=page),
        },
    )
    assert factory.config["cachedir"] == str(root / "cache")
    # test_secrets.py scans what the session's containers, images and events showed
    secret_scan.RECORDER.start(salt_factories.event_listener, engines.ENGINES, engines.RUN)
    with factory.started():
        yield factory


def _minion(master, minion_id):
    engine = MINION_ENGINES[minion_id]
    return master.salt_minion_daemon(
        minion_id,
        overrides={
            "master": "127.0.0.1",
            "container": {
                "profiles": {"default": {"base_url": engines.ENGINES[engine], "timeout": 60}}
            },
        },
    )


@pytest.fixture(scope="package")
def salt_api(master):
    """salt-api (rest_cherrypy) of the master: the push webhook's way in."""
    factory = master.salt_api_daemon()
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def build1(master):
    factory = _minion(master, "build1")
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def web1(master):
    factory = _minion(master, "web1")
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def salt_cli(master):
    """``salt`` on this master, forked from a server with Salt imported (cli_forkserver.py)."""
    return cli_forkserver.salt(master, 300)


@pytest.fixture(scope="package")
def salt_run_cli(master):
    """``salt-run`` on this master, forked from a server with Salt imported."""
    return cli_forkserver.salt_run(master, 300)


@pytest.fixture(scope="module")
def app2(master, salt_cli, synced):
    """A second app server on engine 1 (the issue: it may share an engine, with its own
    names)."""
    factory = master.salt_minion_daemon(
        "app2",
        overrides={
            "master": "127.0.0.1",
            "container": {
                "profiles": {"default": {"base_url": engines.ENGINES["engine1"], "timeout": 60}}
            },
        },
    )
    try:
        with factory.started():
            ret = salt_cli.run("saltutil.sync_all", minion_tgt="app2")
            assert ret.returncode == 0, ret
            yield factory
    finally:
        # The master keeps an accepted key after the minion stops; later tests target "*" and
        # would wait for a minion that is gone.
        master.salt_key_cli().run("-d", "app2", "-y")


@pytest.fixture(scope="package")
def synced(salt_cli, salt_run_cli, build1, web1):
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="*")
    assert ret.returncode == 0, ret
    for minion in ("build1", "web1"):
        assert any("container" in m for m in ret.data[minion]["modules"]), ret.data
        # the shared code is synced too (modules import it from there without the pip package)
        assert {"utils.chain_errors", "utils.chain_profiles"} <= set(ret.data[minion]["utils"]), (
            ret.data
        )
    ret = salt_run_cli.run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    return True
