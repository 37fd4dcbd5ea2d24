"""Headless Chromium for the tests that look at the team's page (tests/browser and the end-to-end
push test): Debian's ``chromium`` driven through ``/usr/bin/chromedriver`` (Selenium), with its
console log, and no network but 127.0.0.1.

Chromium and chromium-driver come from ``scripts/bootstrap``; without them a test that needs
them is skipped, except in CI (``CI=true``) where that is a failure.
"""

import contextlib
import os
import shutil

from tests.support import tools

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing():
    """Why there is no browser here (``None`` when Chromium and its driver are there)."""
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if not absent:
        return None
    return f"{', '.join(absent)} missing: apt-get install chromium chromium-driver"


def need_browser():
    """Skip (fail in CI: :func:`tools.missing`) unless Chromium and its driver are there."""
    why = missing()
    if why:
        tools.missing(why)


@contextlib.contextmanager
def chromium(width=1280, height=1800):
    """A headless Chromium (a Selenium driver) with its console log; every host but 127.0.0.1
    unresolvable and every proxied request sent to a closed port."""
    need_browser()
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
        f"--window-size={width},{height}",
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


def text(driver, css):
    """The rendered text of the first element matching ``css``, or None when there is none.

    Found and read in one script: the pages re-render themselves every few seconds, and an
    element found by one WebDriver call can be replaced before the next call reads it
    (``StaleElementReferenceException``, seen in CI).
    """
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css
    )


def console_errors(driver):
    """The console's SEVERE/ERROR entries since the last call."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
