"""The browser guard: without chromium or chromedriver the browser test is skipped, except in CI
(``CI=true``) where it fails."""

import pytest

from tests.support import browser

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("missing", ["CHROMIUM", "CHROMEDRIVER"])
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch, missing):
    monkeypatch.setattr(browser, missing, "/nonexistent/chromium-or-driver")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: /nonexistent/chromium-or-driver"):
        browser.need_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        browser.need_browser()


def test_the_browser_is_there_on_this_machine():
    browser.need_browser()  # the control: neither fails nor skips here
