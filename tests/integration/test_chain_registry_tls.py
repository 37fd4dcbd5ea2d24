"""The chain's registry by name, with TLS (docs/certificates.md), through the real master and
minions on engines 1 and 2: build1 is the CA's minion (chain.ca: Salt's x509 states, the key
in this run's tmp) and runs the registry (chain.registry with tls on), its certificate signed
through the master's peer interface; chain.registry_trust maps the run-unique name to the
host's docker0 address in /etc/hosts and installs the CA as /etc/docker/certs.d/<name:port>/
ca.crt (what both engines verify the registry with: no insecure registry; 127.0.0.0/8, the
engines' default insecure range, is not used).

One deploy serves every check: test mode first (nothing made), the apply, a second apply and
test mode with no changes; push and pull by digest through the name on both engines; the CA
key and the password in no output; a wrong CA refused with an error naming the registry, then
the trust restored by web1's minion (the CA read from build1 through the peer interface); the
short-lived certificate renewed before expiry, the registry serving the new one."""

import contextlib
import datetime
import json
import os
import pathlib
import secrets
import shutil
import socket
import ssl
import subprocess

import docker
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from saltext.chain.utils import chain_errors, chain_registry

from tests.support import engines, local

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ENGINE = "engine1"
NAME = engines.name("tls-registry")
IMAGE = f"saltext-chain/{NAME}:1"
VOLUME = engines.name("tls-registry-data")
HOST = f"{engines.name('registry')}.tls.test"
TOP = f"{NAME}-top.sls"
CERTS_D = "/etc/docker/certs.d"
SLS = ("chain.ca", "chain.registry", "chain.registry_trust")


def _gateway():
    """An address of this machine outside loopback: engine 1's docker0 gateway. The engine's
    IPAM names it only when it chose it: a bridge whose address was already set when dockerd
    started shows its Subnet alone (ci50, docker.io 20.10.24), so the bridge's own address is
    read then."""
    with contextlib.closing(engines.client(ENGINE)) as client:
        attrs = client.networks.get("bridge").attrs
    gateway = ((attrs.get("IPAM") or {}).get("Config") or [{}])[0].get("Gateway")
    if gateway:
        return gateway
    bridge = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", bridge],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split(" inet ", 1)[1].split("/", 1)[0]


def _pillar(tls, cert_days_remaining=0.005):
    pillar = json.loads(json.dumps(tls["pillar"]))
    pillar["chain"]["registry"]["tls"]["cert"]["days_remaining"] = cert_days_remaining
    return pillar


@pytest.fixture(scope="module")
def tls(master, salt_cli, synced, chain_ca, tmp_path_factory):
    port = local.free_port()
    ip = _gateway()
    address = f"{HOST}:{port}"
    password = secrets.token_urlsafe(18)
    tls_dir = tmp_path_factory.mktemp("registry-tls") / "pki"
    pillar = {
        "chain": {
            "labels": {engines.TEST_LABEL: engines.RUN},
            "build_target": "build1",
            "registry": {
                "address": address,
                "server": {
                    "name": NAME,
                    "image": IMAGE,
                    "volume": VOLUME,
                    "port": port,
                    "bind": ip,
                },
                "tls": {
                    "enabled": True,
                    "ip": ip,
                    "ca_server": "build1",
                    "signing_policy": chain_ca["policy"],
                    "dir": str(tls_dir),
                    "ca": {"cn": f"{NAME} CA", "days_valid": 1, "days_remaining": 0},
                    "cert": {"days_valid": 1, "days_remaining": 0.005},
                },
            },
        },
        "container": {"registries": {address: {"username": "ci", "password": password}}},
    }
    top = master.state_tree.base.temp_file(
        TOP, "base:\n  build1:\n" + "".join(f"    - {sls}\n" for sls in SLS)
    )
    info = {
        "address": address,
        "host": HOST,
        "ip": ip,
        "port": port,
        "password": password,
        "pillar": pillar,
        "dir": tls_dir,
        "ca": chain_ca,
        "ca_file": pathlib.Path(CERTS_D, address, "ca.crt"),
    }
    try:
        with top:
            yield info
    finally:
        _remove_hosts_entry(HOST)
        shutil.rmtree(pathlib.Path(CERTS_D, address), ignore_errors=True)
        _remove_owned(address)


def _remove_hosts_entry(host, path="/etc/hosts"):
    """Drop this run's name from /etc/hosts, in place (the file may be a bind mount)."""
    with open(path, "r+", encoding="utf-8") as fh:
        lines = fh.read().splitlines(keepends=True)
        kept = [line for line in lines if host not in line.split("#", 1)[0].split()]
        if kept != lines:
            fh.seek(0)
            fh.write("".join(kept))
            fh.truncate()


def _remove_owned(address):
    """The registry container, its volume and image, and the images pulled through it."""
    with contextlib.closing(engines.client(ENGINE)) as client:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(NAME).remove(force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(VOLUME).remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(IMAGE, force=True)
    for engine in engines.ENGINES:
        with contextlib.closing(engines.client(engine)) as client:
            for image in client.images.list(all=True):
                refs = [*image.tags, *(image.attrs.get("RepoDigests") or [])]
                for ref in refs:  # only this registry's references: never the image's others
                    if ref.startswith(f"{address}/"):
                        with contextlib.suppress(docker.errors.APIError):
                            client.images.remove(ref)


def _apply(salt_cli, tls, pillar=None, test=False, minion="build1", sls=None):
    args = ["state.sls", ",".join(sls)] if sls else ["state.top", TOP]
    ret = salt_cli.run(
        *args,
        f"pillar={json.dumps(pillar or tls['pillar'])}",
        *(["test=True"] if test else []),
        minion_tgt=minion,
        _timeout=600,
    )
    _no_secrets(tls, ret.stdout + json.dumps(ret.data, default=str))
    assert isinstance(ret.data, dict), ret.stdout[:3000]
    # by state id; x509's states add their file.managed as a sub-state run of the same id:
    # the x509 state's own return wins
    states = {}
    for key, state in sorted(ret.data.items(), key=lambda kv: not kv[0].startswith("file_|-")):
        states[key.split("_|-")[1]] = state
    return ret, states


def _no_secrets(tls, text):
    assert tls["password"] not in text
    key = pathlib.Path(tls["ca"]["key"])
    if key.exists():  # the CA key's body, and the registry key's
        for path in (key, tls["dir"] / "registry.key"):
            if path.exists():
                body = "".join(path.read_text().splitlines()[1:-1])
                assert body and body[:40] not in text.replace("\n", "").replace("\\n", "")


def _docker(config, *args, engine=ENGINE, stdin=None):
    return subprocess.run(
        ["docker", "-H", engines.ENGINES[engine], "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _served_serial(tls):
    """The serial of the certificate the registry serves, verified with the installed CA."""
    ctx = ssl.create_default_context(cafile=str(tls["ca_file"]))
    with socket.create_connection((tls["ip"], tls["port"]), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=tls["host"]) as conn:
            der = conn.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def _file_serial(path):
    return x509.load_pem_x509_certificate(pathlib.Path(path).read_bytes()).serial_number


def _wrong_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the chain's CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def deployed(salt_cli, tls):
    """Test mode on nothing, the apply, then a second apply and test mode: no changes."""
    # The certificates' part on nothing (the registry's image build cannot be shown in test
    # mode before its build context exists: the whole top is shown in test mode below)
    with engines.EventRecorder(ENGINE) as recorder:
        ret, states = _apply(
            salt_cli,
            tls,
            test=True,
            sls=["chain.ca", "chain.registry_cert", "chain.registry_trust"],
        )
    failed = {k: s["comment"] for k, s in states.items() if s["result"] not in (None, True)}
    assert failed == {}, failed
    assert states["chain-registry-tls-cert-x509-certificate_managed"]["result"] is None, states
    assert states["chain-registry-ca-module-run"]["result"] is None, states
    assert recorder.mutations(owned_only=True) == [], recorder.mutations(owned_only=True)
    for path in (tls["ca"]["key"], tls["ca"]["cert"], tls["ca_file"], tls["dir"]):
        assert not os.path.exists(path), path
    assert HOST not in pathlib.Path("/etc/hosts").read_text()

    ret, states = _apply(salt_cli, tls)
    assert ret.returncode == 0, ret.stdout[-4000:]
    assert all(s["result"] is True for s in states.values()), json.dumps(states)[:4000]
    for sid in (
        "chain-ca-key-x509-private_key_managed",
        "chain-ca-cert-x509-certificate_managed",
        "chain-registry-tls-cert-x509-certificate_managed",
        "chain-registry-name-host-present",
        "chain-registry-ca-module-run",
        "chain-registry-container-running",
    ):
        assert states[sid]["changes"], (sid, states[sid])
    _no_secrets(tls, ret.stdout)  # now that the keys exist

    for test in (False, True):
        ret, states = _apply(salt_cli, tls, test=test)
        assert ret.returncode == 0, ret.stdout[-4000:]
        assert all(s["result"] is True for s in states.values()), json.dumps(states)[:4000]
        assert {k: s["changes"] for k, s in states.items() if s["changes"]} == {}
        assert states["chain-registry-container-running"]["result"] is True
    return tls


def test_push_and_pull_by_digest_through_the_tls_name(deployed, tmp_path):
    tls = deployed
    # the CA key stays where the CA's minion made it (0400); the engines are given no
    # insecure registry: 127.0.0.0/8 only, which the name does not resolve to
    assert os.stat(tls["ca"]["key"]).st_mode & 0o777 == 0o400
    assert f"{tls['ip']} {HOST}" in " ".join(pathlib.Path("/etc/hosts").read_text().split())
    for engine in engines.ENGINES:
        with contextlib.closing(engines.client(engine)) as client:
            conf = client.info()["RegistryConfig"]
        assert conf["InsecureRegistryCIDRs"] == ["127.0.0.0/8"], conf
        assert tls["address"] not in conf["IndexConfigs"], conf
    assert _served_serial(tls) == _file_serial(tls["dir"] / "registry.crt")

    ref = f"{tls['address']}/{engines.name('tls-smoke')}:1"
    creds = tls["pillar"]["container"]["registries"][tls["address"]]
    configs = {}
    for engine in engines.ENGINES:
        configs[engine] = tmp_path / engine
        res = _docker(
            configs[engine],
            "login",
            tls["address"],
            "-u",
            "ci",
            "--password-stdin",
            engine=engine,
            stdin=tls["password"],
        )
        assert res.returncode == 0, res.stderr
    assert _docker(configs[ENGINE], "tag", engines.BUSYBOX, ref).returncode == 0
    pushed = _docker(configs[ENGINE], "push", ref)
    assert pushed.returncode == 0, pushed.stderr
    digest = chain_registry.manifest_digest(ref, creds["username"], creds["password"])
    assert digest and digest.startswith("sha256:") and digest in pushed.stdout, pushed.stdout
    by_digest = f"{ref.rsplit(':', 1)[0]}@{digest}"
    for engine in engines.ENGINES:
        pulled = _docker(configs[engine], "pull", by_digest, engine=engine)
        assert pulled.returncode == 0, (engine, pulled.stderr)
        assert digest in pulled.stdout
    tls["by_digest"] = by_digest
    tls["configs"] = configs


def test_a_wrong_ca_is_refused_then_the_trust_is_restored(deployed, salt_cli):
    tls = deployed
    by_digest, configs = tls["by_digest"], tls["configs"]
    good = tls["ca_file"].read_bytes()
    tls["ca_file"].write_bytes(_wrong_ca())
    engine = "engine2"
    with contextlib.closing(engines.client(engine)) as client:
        client.images.remove(by_digest, force=True)
    refused = _docker(configs[engine], "pull", by_digest, engine=engine)
    assert refused.returncode != 0
    assert tls["address"] in refused.stderr and "x509" in refused.stderr, refused.stderr
    with pytest.raises(chain_errors.Unreachable) as err:
        chain_registry.check(tls["address"])
    assert f"registry {tls['address']}: its TLS certificate does not verify" in str(err.value)
    # through Salt: the engine's refusal, naming the registry
    ret = salt_cli.run("container.image_pull", by_digest, minion_tgt="web1")
    assert ret.returncode != 0
    assert tls["address"] in ret.stdout and "x509" in ret.stdout, ret.stdout

    # web1's minion (no CA, no signing policy of its own) installs the chain's CA again:
    # read from build1 through the master's peer interface
    ret, states = _apply(salt_cli, tls, minion="web1", sls=["chain.registry_trust"])
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert "replaced" in str(states["chain-registry-ca-module-run"]["changes"]), states
    assert tls["ca_file"].read_bytes().strip() == good.strip()
    pulled = _docker(configs[engine], "pull", by_digest, engine=engine)
    assert pulled.returncode == 0, pulled.stderr


def test_the_short_lived_certificate_is_renewed_before_expiry(deployed, salt_cli):
    tls = deployed
    crt = tls["dir"] / "registry.crt"
    old = _file_serial(crt)
    assert _served_serial(tls) == old
    # 0.01 day certificates (the CA's policy); a renewal window of 0.02 day: it is due.
    # Test mode says so and changes nothing.
    due = _pillar(tls, cert_days_remaining=0.02)
    with engines.EventRecorder(ENGINE) as recorder:
        ret, states = _apply(salt_cli, tls, pillar=due, test=True)
    cert_state = states["chain-registry-tls-cert-x509-certificate_managed"]
    assert cert_state["result"] is None, cert_state
    assert cert_state["changes"] == {"expiration": True}, cert_state
    assert states["chain-registry-container-running"]["result"] is None, states
    assert recorder.mutations(owned_only=True) == [], recorder.mutations(owned_only=True)
    assert _file_serial(crt) == old

    ret, states = _apply(salt_cli, tls, pillar=due)
    assert ret.returncode == 0, ret.stdout[-4000:]
    cert_state = states["chain-registry-tls-cert-x509-certificate_managed"]
    assert cert_state["result"] is True and cert_state["changes"].get("expiration"), cert_state
    assert cert_state["comment"] == "The certificate has been recreated", cert_state
    assert "restarted" in states["chain-registry-container-running"]["comment"], states
    new = _file_serial(crt)
    assert new != old and _served_serial(tls) == new
    pulled = _docker(tls["configs"][ENGINE], "pull", tls["by_digest"])
    assert pulled.returncode == 0, pulled.stderr
