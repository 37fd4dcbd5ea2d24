"""chain_tls: the CA's files from the signing policy in pillar, the CA certificate read through
x509.get_signing_policy (answered here by the test) and installed as an engine's certs.d file."""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from _modules import chain_tls

PEM = "-----BEGIN CERTIFICATE-----\nQUFB\n-----END CERTIFICATE-----\n"
OTHER = "-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----\n"
POLICY = [
    {"minions": "*"},
    {"signing_private_key": "/srv/ca/ca.key"},
    {"signing_cert": "/srv/ca/ca.crt"},
]


class _CA:
    """What the CA's minion answers through the peer interface."""

    def __init__(self):
        self.pem = PEM
        self.error = None
        self.calls = []

    def __call__(self, signing_policy, ca_server=None):
        self.calls.append((signing_policy, ca_server))
        if self.error:
            raise CommandExecutionError(self.error)
        return {"signing_cert": self.pem, "minions": "*"}


@pytest.fixture
def ca():
    return _CA()


@pytest.fixture
def configure_loader_modules(ca):
    return {
        chain_tls: {
            "__salt__": {"x509.get_signing_policy": ca},
            "__pillar__": {"x509_signing_policies": {"chain-registry": POLICY}},
            "__opts__": {},
        }
    }


def test_ca_files_from_the_policy_or_what_is_missing():
    assert chain_tls.ca_files("chain-registry") == {
        "key": "/srv/ca/ca.key",
        "cert": "/srv/ca/ca.crt",
        "error": None,
    }
    missing = chain_tls.ca_files("other")
    assert missing["key"] is None
    assert missing["error"].startswith("x509_signing_policies:other: missing on this minion")


def test_install_then_current_then_a_new_ca_replaces_it(ca, tmp_path):
    certs_d = str(tmp_path / "certs.d")
    args = ("reg.test:5050", "chain-registry", "build1")
    assert chain_tls.registry_ca_current(*args, certs_d=certs_d) is False
    assert ca.calls == []  # no file: the CA is not asked
    ret = chain_tls.install_registry_ca(*args, certs_d=certs_d)
    path = os.path.join(certs_d, "reg.test:5050", "ca.crt")
    assert ret["comment"] == f"the CA of registry reg.test:5050 installed as {path}"
    assert ca.calls == [("chain-registry", "build1")]
    assert chain_tls.registry_ca_current(*args, certs_d=certs_d) is True
    ca.pem = OTHER  # a renewed CA
    assert chain_tls.registry_ca_current(*args, certs_d=certs_d) is False
    assert "replaced" in chain_tls.install_registry_ca(*args, certs_d=certs_d)["comment"]
    assert open(path, encoding="utf-8").read() == OTHER


def test_a_ca_that_cannot_be_read_is_a_clear_error(ca, tmp_path):
    certs_d = str(tmp_path)
    args = ("reg.test:5050", "chain-registry", "build1")
    chain_tls.install_registry_ca(*args, certs_d=certs_d)
    ca.error = "ca_server did not respond."
    # not current (the state then runs the install, which says why)
    assert chain_tls.registry_ca_current(*args, certs_d=certs_d) is False
    with pytest.raises(CommandExecutionError) as err:
        chain_tls.install_registry_ca(*args, certs_d=certs_d)
    assert str(err.value) == (
        "the CA certificate of signing policy chain-registry on build1 could not be read: "
        "ca_server did not respond."
    )
    ca.error, ca.pem = None, None
    with pytest.raises(CommandExecutionError, match="names no CA certificate"):
        chain_tls.ca_certificate("chain-registry", "build1")
    with pytest.raises(SaltInvocationError, match="ca_server: expected a name"):
        chain_tls.ca_certificate("chain-registry", "")
