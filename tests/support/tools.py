"""A tool a test needs is missing (Docker, sphinx, jenkins-job-builder...): on a developer's
machine the test is skipped with the way to install it; in CI (``CI=true``, which ``.ci/run``
sets) it fails: CI has every tool, and a test that skipped there would pass unseen."""

import os

import pytest


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def missing(why):
    """Skip (a developer's machine) or fail (CI) the test, saying what is missing."""
    if in_ci():
        pytest.fail(f"CI: {why}", pytrace=False)
    pytest.skip(why)
