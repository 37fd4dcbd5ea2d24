"""chain_secrets: the chain registry's htpasswd file written from pillar
``container:registries:<address>`` with the real ``htpasswd`` (apache2-utils): one bcrypt
entry, 0600 in a 0700 directory, kept while it verifies, a changed password seen, bad pillar
refused by name; the password in no return."""

import json
import stat

import pytest
from salt.exceptions import SaltInvocationError

from _modules import chain_secrets

ADDRESS = "127.0.0.1:5050"
PASSWORD = 'pa ss"wörd/+=%'  # what a quoting slip would break


@pytest.fixture
def pillar(monkeypatch):
    data = {"container": {"registries": {ADDRESS: {"username": "chain", "password": PASSWORD}}}}
    monkeypatch.setattr(chain_secrets, "__pillar__", data, raising=False)
    return data


def test_written_once_kept_while_it_verifies_and_rewritten_on_a_new_password(pillar, tmp_path):
    path = tmp_path / "auth" / "htpasswd"
    assert chain_secrets.registry_htpasswd_current(str(path), ADDRESS) is False
    ret = chain_secrets.registry_htpasswd(str(path), ADDRESS)
    assert ret["result"] is True and PASSWORD not in json.dumps(ret)
    (entry,) = path.read_text().split("\n")[:-1]
    assert entry.startswith("chain:$2") and PASSWORD not in entry
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert chain_secrets.registry_htpasswd_current(str(path), ADDRESS) is True

    pillar["container"]["registries"][ADDRESS]["password"] = "another"
    assert chain_secrets.registry_htpasswd_current(str(path), ADDRESS) is False
    pillar["container"]["registries"][ADDRESS]["password"] = PASSWORD
    path.chmod(0o644)  # readable by every local account: not current
    assert chain_secrets.registry_htpasswd_current(str(path), ADDRESS) is False
    chain_secrets.registry_htpasswd(str(path), ADDRESS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pillar["container"]["registries"][ADDRESS]["username"] = "other"
    assert chain_secrets.registry_htpasswd_current(str(path), ADDRESS) is False


@pytest.mark.parametrize(
    "creds, word",
    [
        (None, "must be a mapping"),
        ({"username": "chain"}, ":password must be"),
        ({"username": "chain", "password": ""}, ":password must be"),
        ({"username": "chain", "password": "a\nb"}, ":password must be"),
        ({"username": "a b", "password": "x"}, ":username must be"),
    ],
)
def test_bad_pillar_is_refused_by_name_without_the_value(pillar, tmp_path, creds, word):
    pillar["container"]["registries"][ADDRESS] = creds
    with pytest.raises(SaltInvocationError, match=word) as err:
        chain_secrets.registry_htpasswd(str(tmp_path / "htpasswd"), ADDRESS)
    assert f"container:registries:{ADDRESS}" in str(err.value)
    assert "a\nb" not in str(err.value)
    assert not (tmp_path / "htpasswd").exists()
