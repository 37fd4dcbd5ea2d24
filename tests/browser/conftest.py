"""The team's page in a real browser: a salt-master whose salt-api (``rest_cherrypy``) serves the
page that the ``chain_page`` runner writes, and Debian's headless Chromium driven through
``/usr/bin/chromedriver`` (Selenium), with no network but 127.0.0.1.

The browser is tests/support/browser.py's (the end-to-end push test uses it too): without
Chromium and chromium-driver the tests are skipped, except in CI (``CI=true``) where that is a
failure.
"""

import pathlib

import pytest

from saltext.chain.emulator import testing
from tests.browser import queue_data
from tests.conftest import REPO
from tests.support import browser as support_browser
from tests.support import cli_forkserver

HERE = pathlib.Path(__file__).resolve().parent

pytestmark = pytest.mark.browser


@pytest.fixture(scope="package")
def page_api(salt_factories, tmp_path_factory):
    """A master (with the supervision reactor) and its salt-api serving the page:
    ``{master, url, data_url, cachedir, run}``."""
    # Salt puts a cachedir that is not under root_dir below it: both are set, one inside the
    # other, so that salt-api's paths and the runner's are the same.
    root = tmp_path_factory.mktemp("page-master")
    cachedir = root / "cache"
    page_dir = cachedir / "saltext-chain" / "page"
    port = testing.free_port()
    overrides = {
        "interface": "127.0.0.1",
        "open_mode": False,
        "cachedir": str(cachedir),
        "file_roots": {"base": [str(REPO / "formulas")]},
        "reactor": [{"salt/beacon/*/container_events/*": ["salt://chain/reactor/supervision.sls"]}],
        "chain": {"page": {"status_interval": 3600}},
        "rest_cherrypy": {
            "host": "127.0.0.1",
            "port": port,
            "disable_ssl": True,
            # `static` only: with `app` set, salt-api answers any request whose Accept header
            # is missing or ends in */* with the app (a webhook POST too: 200, no event).
            "static": str(page_dir),
            "static_path": "/page",
        },
    }
    master = salt_factories.salt_master_daemon(
        "master-page", defaults={"root_dir": str(root)}, overrides=overrides
    )
    assert master.config["cachedir"] == str(cachedir)
    with master.started():
        api = master.salt_api_daemon()
        with api.started():
            yield {
                "master": master,
                "run": cli_forkserver.salt_run(master, 120),
                "base": f"http://127.0.0.1:{port}",
                "url": f"http://127.0.0.1:{port}/page/index.html",
                "data_url": f"http://127.0.0.1:{port}/page/chain.json",
                "cachedir": cachedir,
                "queue": str(cachedir / "saltext-chain" / "push-queue.sqlite"),
            }


@pytest.fixture(scope="package")
def queue(page_api):
    """Writes the test's pushes and runs into the master's push queue."""
    return queue_data.writer(page_api["queue"])


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium with its console log (tests/support/browser.py)."""
    with support_browser.chromium() as driver:
        yield driver
