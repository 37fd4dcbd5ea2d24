"""The team's page in a real browser: a salt-master whose salt-api (``rest_cherrypy``) serves the
page that the ``chain_page`` runner writes, and Debian's headless Chromium driven through
``/usr/bin/chromedriver`` (Selenium), with no network but 127.0.0.1.

Chromium and chromium-driver come from ``scripts/bootstrap``; without them the tests are
skipped, except in CI (``CI=true``) where that is a failure.
"""

import os
import pathlib
import shutil

import pytest

from saltext.chain.emulator import testing
from tests.browser import queue_data
from tests.conftest import REPO

HERE = pathlib.Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


def _need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if not missing:
        return
    why = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: {why}")
    pytest.skip(why)


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
                "run": master.salt_run_cli(timeout=120),
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
    """Headless Chromium with its console log; every host but 127.0.0.1 unresolvable and every
    proxied request sent to a closed port."""
    _need_browser()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download a driver
    from selenium import webdriver  # noqa: PLC0415 - only where a browser runs
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1800",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
