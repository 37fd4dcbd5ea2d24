"""Tests own only what they create (tests/support/engines.py ``name()``, ``LABELS``): no test
publishes a fixed host port, labels its objects with a fixed run id, or tags a fixed image name
(``saltext-chain/jenkins-agent:test``, ports 18081/18082 once did: two runs, or a run beside
``make chain``, took each other's)."""

import pathlib
import re

TESTS = pathlib.Path(__file__).resolve().parents[2]
FIXED = {
    "a fixed host port published": re.compile(r"""["']127\.0\.0\.1:[0-9]{2,5}:[0-9]+"""),
    "a fixed run label": re.compile(r"""["']saltext-chain\.test["']\s*:\s*["'][^"']*["']"""),
    "a fixed image tag of no run": re.compile(r"""tag\s*=\s*["']saltext-chain/[a-z0-9-]+:"""),
}
# The tiers that make objects on the engines (unit tests make none).
TIERS = ("functional", "integration", "emulator", "browser", "support")
# Values that are no object of the engines: bad input and a pure normalisation.
ALLOWED = {
    ("tests/functional/states/test_container.py", '"127.0.0.1:99999:80'),
    ("tests/integration/test_packaging.py", '"127.0.0.1:8080:80'),
}


def test_no_test_names_an_object_of_no_run():
    offenders = []
    for path in sorted(p for tier in TIERS for p in (TESTS / tier).rglob("*.py")):
        rel = path.relative_to(TESTS.parent).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern in FIXED.items():
                match = pattern.search(line)
                if match and (rel, match.group(0)) not in ALLOWED:
                    offenders.append(f"{rel}:{number}: {what}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)
