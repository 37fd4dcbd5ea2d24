"""Functional tests of the jenkins module and states against the Jenkins emulator.

A package-wide emulator runs as a subprocess on 127.0.0.1; the minion's config carries a
``jenkins`` profile pointing at it, so calls without ``profile=`` use it. These tests need no
Docker engine: this package builds its own (unstarted) minion config and loaders.
"""

import hashlib
import json
import os
import uuid

import pytest
from saltfactories.utils.functional import Loaders

from saltext.chain.emulator import testing
from tests.conftest import REPO

PLUGINS = ("git:5.7.0", "workflow-job:1505.vea_4b_20a_4a_495", "credentials:1405.vb_cda_74a_f8974")


@pytest.fixture(scope="package")
def emulator(tmp_path_factory):
    home = tmp_path_factory.mktemp("jenkins-home")
    with testing.running_emulator(home, plugins=PLUGINS) as (url, user, token):
        yield {"url": url, "user": user, "token": token, "home": str(home)}


@pytest.fixture(scope="package")
def profile(emulator):
    return {"url": emulator["url"], "user": emulator["user"], "token": emulator["token"], "timeout": 10}


@pytest.fixture(scope="package")
def minion_opts(salt_factories, emulator, profile, tmp_path_factory):
    files = tmp_path_factory.mktemp("jenkins-files")
    factory = salt_factories.salt_minion_daemon(
        "jenkins-func-minion",
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(files)]},
            "module_dirs": [str(REPO)],
            "jenkins": {"default_profile": "emu", "profiles": {"emu": profile}},
        },
    )
    opts = factory.config.copy()
    opts["_test_file_root"] = str(files)
    return opts


@pytest.fixture(scope="package")
def loaders(minion_opts):
    return Loaders(minion_opts, loaded_base_name=f"{__name__}.loaded")


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture
def file_root(minion_opts):
    return minion_opts["_test_file_root"]


@pytest.fixture
def uid():
    return uuid.uuid4().hex[:8]


def home_snapshot(home):
    """Digest of every file the emulator persists (its JENKINS_HOME-like state)."""
    out = {}
    for root, _dirs, files in os.walk(home):
        for name in files:
            if name.endswith(".log") or name.startswith(".tmp-"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, home)
            with open(path, "rb") as fh:
                data = fh.read()
            if f"{os.sep}builds{os.sep}" in rel or name == "nextBuildNumber":
                continue  # earlier tests' builds finish in the background; a new one shows in the queue
            if rel == "queue.json":
                # Items progress and expire in the background (other tests' builds); what a
                # trigger changes is the id counter: one more queue item.
                out[rel] = json.loads(data or b"{}").get("counter")
            else:
                out[rel] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture
def unchanged_home(emulator):
    """Assert that nothing the emulator persists changed inside the ``with`` block."""

    class _Guard:
        def __enter__(self):
            self.before = home_snapshot(emulator["home"])
            self.seen = len(testing.request_log(emulator["home"]))
            return self

        def __exit__(self, *exc):
            after = home_snapshot(emulator["home"])
            requests = testing.request_log(emulator["home"])[self.seen:]
            self.requests = requests
            if exc[0] is None:
                changed = sorted(k for k in set(self.before) | set(after) if self.before.get(k) != after.get(k))
                assert not changed, f"the controller's state changed: {changed}"
                posts = [f"{r['method']} {r['path']}" for r in requests if r["method"] != "GET"]
                assert not posts, f"requests that write reached the controller: {posts}"

    return _Guard
