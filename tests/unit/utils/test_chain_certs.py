"""chain_certs: registry addresses served with TLS, the engine's CA file, PEM comparison, the
CA's signing policy."""

import os
import re
import stat

import pytest
from saltext.chain.utils import chain_certs, chain_errors, chain_pillar_schema

PEM_A = "-----BEGIN CERTIFICATE-----\nQUFB\nQkJC\n-----END CERTIFICATE-----\n"
PEM_B = "-----BEGIN CERTIFICATE-----\nQ0ND\n-----END CERTIFICATE-----\n"


def test_split_address_takes_a_name_and_port_only():
    assert chain_certs.split_address("registry.chain.internal:5050") == (
        "registry.chain.internal",
        5050,
    )
    for bad, why in (
        ("127.0.0.1:5000", "is an IP address"),
        ("[::1]:5000", "expected name:port"),
        ("localhost:5000", "other than localhost"),
        ("reg_istry:5000", "not a DNS name"),
        ("registry", "expected name:port"),
        ("registry:0", "at least 1"),
        ("registry:x", "chain:registry:address (port)"),
        (None, "expected name:port"),
    ):
        with pytest.raises(chain_errors.BadInput, match=re.escape(why)):
            chain_certs.split_address(bad)


def test_check_ip_refuses_loopback_the_engines_insecure_range():
    assert chain_certs.check_ip("") == ""
    assert chain_certs.check_ip("172.17.0.1") == "172.17.0.1"
    with pytest.raises(chain_errors.BadInput, match="insecure registry range"):
        chain_certs.check_ip("127.0.0.2")
    with pytest.raises(chain_errors.BadInput, match="expected an IP address"):
        chain_certs.check_ip("registry.internal")


def test_ca_path_and_bundle(tmp_path):
    certs_d = str(tmp_path)
    path = chain_certs.ca_path("reg.test:5050", certs_d)
    assert path == os.path.join(certs_d, "reg.test:5050", "ca.crt")
    for bad in ("", "../x", "..", "a/b"):
        with pytest.raises(chain_errors.BadInput):
            chain_certs.ca_path(bad, certs_d)
    assert chain_certs.ca_bundle("reg.test:5050", certs_d) is True  # no file: the system's CAs
    assert chain_certs.write_public(path, PEM_A) is False
    assert chain_certs.ca_bundle("reg.test:5050", certs_d) == path
    assert chain_certs.ca_bundle("../reg.test:5050", certs_d) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert chain_certs.write_public(path, PEM_B) is True
    assert chain_certs.read_text(path) == PEM_B
    assert chain_certs.read_text(path + ".missing") is None


def test_same_certificates_ignores_line_breaks_not_content():
    assert chain_certs.same_certificates(PEM_A.replace("\n", "\r\n"), PEM_A)
    assert chain_certs.same_certificates("text before\n" + PEM_A, PEM_A)
    assert not chain_certs.same_certificates(PEM_B, PEM_A)
    assert not chain_certs.same_certificates(PEM_A + PEM_B, PEM_A)
    assert not chain_certs.same_certificates("", "")  # nothing wanted is never current


def test_signing_policy_merges_the_list_form_and_checks_the_ca_paths():
    policies = {
        "chain-registry": [
            {"minions": "*"},
            {"signing_private_key": "/etc/pki/ca.key"},
            {"signing_cert": "/etc/pki/ca.crt"},
        ]
    }
    policy = chain_certs.signing_policy(policies, "chain-registry")
    assert policy["signing_private_key"] == "/etc/pki/ca.key" and policy["minions"] == "*"
    with pytest.raises(chain_errors.BadInput, match="x509_signing_policies:other: missing"):
        chain_certs.signing_policy(policies, "other")
    with pytest.raises(chain_errors.BadInput, match="signing_cert: expected an absolute path"):
        chain_certs.signing_policy({"p": {"signing_private_key": "/k", "signing_cert": "c"}}, "p")
    with pytest.raises(chain_errors.BadInput, match="one-key mappings"):
        chain_certs.signing_policy({"p": ["x"]}, "p")


def _chain(**tls):
    return {
        "registry": {
            "address": tls.pop("address", "reg.test:5050"),
            "server": {"port": 5050},
            "tls": dict({"enabled": True, "ip": "172.17.0.1"}, **tls),
        }
    }


def test_the_pillar_schema_checks_the_tls_keys():
    defaults = {
        "registry": {
            "address": "127.0.0.1:5050",
            "server": {"port": 5050},
            "tls": {
                "enabled": False,
                "ip": "",
                "cert": {"days_valid": 30, "days_remaining": 7},
            },
        }
    }
    assert chain_pillar_schema.errors("chain", _chain(), defaults) == []
    fraction = _chain(cert={"days_valid": 0.01, "days_remaining": 0.005})
    assert chain_pillar_schema.errors("chain", fraction, defaults) == []
    errs = chain_pillar_schema.errors("chain", _chain(ip="127.0.0.1"), defaults)
    assert errs == [
        "chain:registry:tls:ip: 127.0.0.1 is loopback: Docker treats 127.0.0.0/8 as an "
        "insecure registry range and verifies no certificate there; use an address of the "
        "host on a network"
    ]
    errs = chain_pillar_schema.errors("chain", _chain(address="127.0.0.1:5050"), defaults)
    assert len(errs) == 1 and "127.0.0.1 is an IP address" in errs[0]
    errs = chain_pillar_schema.errors("chain", _chain(address="reg.test:5051"), defaults)
    assert errs == [
        "chain:registry:address: its port 5051 is not chain:registry:server:port (5050): "
        "the engines connect to the registry's published port"
    ]
    # TLS off: the loopback address of today is right
    off = _chain(address="127.0.0.1:5050", enabled=False)
    assert chain_pillar_schema.errors("chain", off, defaults) == []
