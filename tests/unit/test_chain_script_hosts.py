"""scripts/chain.py with hosts (make chain HOSTS=N, docs/hosts.md): the pillar that puts the
app's servers on the hosts of role app and serves them the registry by name with TLS, from
pillar.example/ as make chain reads it."""

import importlib.util
import pathlib
import sys
import types

import pytest

from tests.support.hosts import chain_hosts

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script():
    sys.modules.setdefault("chain_hosts", chain_hosts)  # what the script imports by name
    spec = importlib.util.spec_from_file_location("chain_script", REPO / "scripts" / "chain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SECRET = {k: f"s-{k}" for k in ("registry", "jenkins", "push", "webhook", "source")}


def _hosts(script, count):
    _, pillar = chain_hosts.topology(script._example("hosts"), count)
    return types.SimpleNamespace(pillar=pillar, gateway="10.215.7.1")


def test_with_three_hosts_the_app_runs_on_the_app_hosts_from_the_tls_registry(script):
    pillar = script._pillar(SECRET)
    hosts = _hosts(script, 3)
    address = script._across_hosts(pillar, hosts)
    chain = pillar["chain"]["chain"]
    assert address == hosts.registry == "registry.chain.internal:5050"
    assert chain["targets"] == ["host2", "host3", "host1"]  # rollout order: host2 the canary
    assert chain["servers"] == {
        m: {"frontend": {"bind": "0.0.0.0", "port": 8080}} for m in chain["targets"]
    }
    registry = chain["registry"]
    assert registry["address"] == address and registry["server"]["bind"] == "10.215.7.1"
    assert registry["tls"]["enabled"] is True and registry["tls"]["ip"] == "10.215.7.1"
    creds = pillar["registries"]["container"]["registries"]
    assert list(creds) == [address] and creds[address]["password"] == "s-registry"
    # the CA's policy in build1's pillar only, its files under the chain's state directory
    policy = pillar["chain_build"]["x509_signing_policies"]["chain-registry"]
    paths = {k: v for entry in policy for k, v in entry.items() if k.startswith("signing_")}
    assert paths == {
        "signing_private_key": str(script.STATE / "ca" / "ca.key"),
        "signing_cert": str(script.STATE / "ca" / "ca.crt"),
    }
    assert "x509_signing_policies" not in pillar["registries"]


def test_one_host_serves_the_app_and_without_hosts_nothing_changes(script):
    pillar = script._pillar(SECRET)
    script._across_hosts(pillar, _hosts(script, 1))
    assert pillar["chain"]["chain"]["targets"] == ["host1"]
    single = script._pillar(SECRET)
    assert single["chain"]["chain"]["targets"] == ["web1", "web2"]
    assert single["chain"]["chain"]["registry"]["address"] == "127.0.0.1:5050"
    assert single["chain"]["chain"]["registry"]["tls"]["enabled"] is False
