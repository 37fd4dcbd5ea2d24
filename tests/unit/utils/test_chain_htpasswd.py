"""chain_htpasswd with Debian's htpasswd (apache2-utils, installed by scripts/bootstrap)."""

import os
import stat

import pytest
from saltext.chain.utils import chain_htpasswd

from tests.support import tools


@pytest.fixture(autouse=True)
def _htpasswd_here():
    if not os.path.exists("/usr/bin/htpasswd"):
        tools.missing("htpasswd missing: apt-get install apache2-utils")


def test_write_then_current_keeps_a_verifying_entry_and_remakes_a_changed_one(tmp_path):
    path = str(tmp_path / "auth" / "htpasswd")
    assert chain_htpasswd.current(path, {"ann": "pw1"}, 0o600, 0o700) is False
    assert chain_htpasswd.write(path, {"ann": "pw1", "bob": "pw2"}, 0o600, 0o700) == []
    first = open(path, encoding="utf-8").read()
    assert "pw1" not in first and first.startswith("ann:$2")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert chain_htpasswd.current(path, {"ann": "pw1", "bob": "pw2"}, 0o600, 0o700) is True
    # A second write keeps both entries as they were (bcrypt salts are random).
    assert chain_htpasswd.write(path, {"ann": "pw1", "bob": "pw2"}, 0o600, 0o700) == ["ann", "bob"]
    assert open(path, encoding="utf-8").read() == first
    # A changed password, a user gone, another mode: not current.
    assert chain_htpasswd.current(path, {"ann": "new", "bob": "pw2"}, 0o600, 0o700) is False
    assert chain_htpasswd.current(path, {"ann": "pw1"}, 0o600, 0o700) is False
    assert chain_htpasswd.current(path, {"ann": "pw1", "bob": "pw2"}, 0o640, 0o700) is False
    assert chain_htpasswd.write(path, {"ann": "new"}, 0o600, 0o700) == ["ann", "bob"]
    (line,) = open(path, encoding="utf-8").read().splitlines()
    assert line != first.splitlines()[0]  # made anew: the old one does not verify with "new"
    assert chain_htpasswd.names(path) == ["ann"] and chain_htpasswd.verifies(path, "ann", "new")
