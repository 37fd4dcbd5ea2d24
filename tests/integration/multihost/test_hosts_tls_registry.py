"""The chain across hosts with the TLS registry (issue 18): the registry reached by name from
two Docker-in-Docker hosts, verified with the chain's CA, and an app pulled by digest on each.

host1's minion is the CA's minion: ``chain.ca`` makes the CA inside host1 (the key never leaves
it), ``chain.registry_cert`` the registry's key and certificate for the name (signed through
the hosts master's peer interface) in host1's directory, and ``chain_secrets.registry_htpasswd``
the registry's bcrypt entry. The registry container (the chain's registry image, built on
engine 1 from ``formulas/chain/files/registry``) runs on engine 1 attached to the hosts network
at a fixed address: the hosts reach it there (its loopback port is for engine 1's pushes).
Each host's own minion applies ``chain.registry_trust`` (the name in the host's /etc/hosts,
the CA in its engine's certs.d); the image (a small HTTP image of the tests' own: busybox's
httpd, not examples/app, whose Debian layers cost seconds per host) is pushed from host1's
engine, then ``container_service.running`` on each host's minion pulls it by digest and serves
it.

The CA, the registry and the trust are the session's (conftest ``tls_registry``, made by
``registry_up`` here): the agents across hosts pull from the same registry. One deploy serves
every check: no insecure registry in any host engine, a second apply changes
nothing, a host with a wrong CA is refused with an error naming the registry (then its trust is
restored by its minion), and the password and the CA key in no output."""

import contextlib
import datetime
import ipaddress
import json
import pathlib
import secrets
import shutil
import tempfile
import time

import docker
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from saltext.chain.emulator import testing
from tests.support import cli_forkserver, engines

pytestmark = [pytest.mark.integration, pytest.mark.multihost, pytest.mark.docker]

REPO = pathlib.Path(__file__).resolve().parents[3]
REGISTRY = engines.name("hosts-registry")
REGISTRY_IMAGE = f"saltext-chain/{REGISTRY}:1"
HOST = f"{engines.name('registry')}.hosts.test"
PORT = 5000
ADDRESS = f"{HOST}:{PORT}"
APP = engines.name("hostapp")
REF = f"{ADDRESS}/{engines.name('hostapp')}:1"
POLICY = "chain-registry-hosts"
CA_DIR = f"/etc/pki/{engines.name('ca')}"  # inside host1: the CA key never leaves it
INSIDE_TLS = "/chain-host/registry-tls"  # host1's directory, mounted into the registry
INSIDE_AUTH = "/chain-host/registry-auth"
CA_FILE = f"/etc/docker/certs.d/{ADDRESS}/ca.crt"


def _changes(states):
    return {k: s["changes"] for k, s in states.items() if s.get("changes")}


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
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Run:
    """The module's deploy: the salt CLI, the secrets to look for, every output seen."""

    def __init__(self, master, group, ip, password):
        self.master, self.group, self.ip, self.password = master, group, ip, password
        self.outputs = []

    def salt(self, *args, minion="host*", timeout=300):
        ret = cli_forkserver.salt(self.master, timeout).run(*args, minion_tgt=minion)
        self.outputs.append(ret.stdout + ret.stderr + json.dumps(ret.data, default=str))
        return ret

    def apply(self, sls, minion="host*", test=False):
        ret = self.salt("state.sls", sls, *(["test=True"] if test else []), minion=minion)
        assert isinstance(ret.data, dict), ret.stdout[-3000:]
        return ret

    def no_secrets(self):
        host1 = self.group["host1"]
        key = host1.exec(["cat", f"{CA_DIR}/ca.key"])
        body = "".join(key.strip().splitlines()[1:-1])
        assert len(body) > 40, key[:20]
        for text in self.outputs:
            assert self.password not in text
            assert body[:40] not in text.replace("\n", "").replace("\\n", "")


def _pillar(ip, password):
    common = {
        "chain": {
            "labels": engines.LABELS,
            "registry": {
                "address": ADDRESS,
                # the registry container on the hosts network (engine 1): its name and port
                "server": {"name": REGISTRY, "image": REGISTRY_IMAGE, "port": PORT},
                "tls": {
                    "enabled": True,
                    "ip": ip,
                    "ca_server": "host1",
                    "signing_policy": POLICY,
                    "dir": INSIDE_TLS,
                    "ca": {"cn": f"{REGISTRY} CA", "days_valid": 1, "days_remaining": 0},
                    "cert": {"days_valid": 1, "days_remaining": 0},
                },
            },
        },
        "container": {"registries": {ADDRESS: {"username": "ci", "password": password}}},
    }
    ca = {
        "x509_signing_policies": {
            POLICY: [
                {"minions": "host*"},
                {"signing_private_key": f"{CA_DIR}/ca.key"},
                {"signing_cert": f"{CA_DIR}/ca.crt"},
                {"basicConstraints": "critical, CA:false"},
                {"keyUsage": "critical, digitalSignature, keyEncipherment"},
                {"extendedKeyUsage": "serverAuth"},
                {"days_valid": 1},
            ]
        }
    }
    return common, ca


def _write_states(states_dir):
    (states_dir / "regtls_server.sls").write_text(
        "include:\n  - chain.ca\n  - chain.registry_cert\n\n"
        + yaml.safe_dump(
            {
                "regtls-htpasswd": {
                    "module.run": [
                        {
                            "chain_secrets.registry_htpasswd": [
                                {"path": f"{INSIDE_AUTH}/htpasswd"},
                                {"address": ADDRESS},
                            ]
                        },
                        {
                            "unless": [
                                {
                                    "fun": "chain_secrets.registry_htpasswd_current",
                                    "path": f"{INSIDE_AUTH}/htpasswd",
                                    "address": ADDRESS,
                                }
                            ]
                        },
                    ]
                }
            }
        )
    )


def _deploy_sls(states_dir, digest):
    by_digest = f"{REF.rsplit(':', 1)[0]}@{digest}"
    (states_dir / "regtls_app.sls").write_text(
        yaml.safe_dump(
            {
                APP: {
                    "container_service.running": [
                        {"image": by_digest},
                        {"replicas": 1},
                        {"port": 8080},
                        {"stop_timeout": 2},
                        {
                            "command": engines.stoppable(
                                "mkdir -p /www && echo served-by-digest > /www/index.html"
                                " && httpd -f -p 8080 -h /www"
                            )
                        },
                        {
                            "healthcheck": {
                                "test": ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"],
                                "interval": "1s",
                                "timeout": "1s",
                                "retries": 1,
                            }
                        },
                        {"update": {"monitor": 2}},
                        {"labels": engines.LABELS},
                    ]
                }
            }
        )
    )
    return by_digest


def _start_registry(group, net, ip):
    """The chain's registry image on engine 1, attached to the hosts network at ``ip``, with
    host1's key, certificate and htpasswd (made by host1's minion) mounted read-only; its port
    also on a free loopback port of this machine (engine 1 pushes there, as the chain pushes
    today: engine 1 does not resolve the name; the hosts pull by name, verified). Returns that
    loopback port."""
    client = group.client
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copytree(REPO / "formulas/chain/files/registry", ctx, dirs_exist_ok=True)
        shutil.copy2("/usr/bin/docker-registry", pathlib.Path(ctx, "docker-registry"))
        client.images.build(path=ctx, tag=REGISTRY_IMAGE, labels=engines.LABELS, rm=True)
    host1_dir = group.root / "host1"
    loopback = testing.free_port()
    container = client.containers.create(
        REGISTRY_IMAGE,
        name=REGISTRY,
        labels=engines.LABELS,
        environment={
            "REGISTRY_HTTP_TLS_CERTIFICATE": "/etc/docker/registry/tls/registry.crt",
            "REGISTRY_HTTP_TLS_KEY": "/etc/docker/registry/tls/registry.key",
        },
        volumes={
            str(host1_dir / "registry-tls"): {"bind": "/etc/docker/registry/tls", "mode": "ro"},
            str(host1_dir / "registry-auth"): {"bind": "/etc/docker/registry/auth", "mode": "ro"},
        },
        ports={f"{PORT}/tcp": ("127.0.0.1", loopback)},
        network=net.name,
        networking_config={net.name: client.api.create_endpoint_config(ipv4_address=ip)},
    )
    container.start()
    _wait_healthy(container)
    return loopback


def _wait_healthy(container, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return
        if container.status == "exited":
            break
        time.sleep(0.5)
    raise AssertionError(container.logs()[-2000:].decode(errors="replace"))


def push_busybox(host, password, ref=REF):
    """The small HTTP image (busybox) pushed from ``host``'s engine as ``ref``; its digest."""
    host.load(engines.BUSYBOX)
    with contextlib.closing(host.client()) as inner:
        inner.images.get(engines.BUSYBOX).tag(ref)
        digest = None
        for line in inner.images.push(
            ref, auth_config={"username": "ci", "password": password}, stream=True, decode=True
        ):
            assert "error" not in line, line
            digest = (line.get("aux") or {}).get("Digest") or digest
    assert digest and digest.startswith("sha256:"), digest
    return digest


def write_top(pillar_dir, top):
    """The hosts master's pillar top file: ``top`` ({target: [sls, ...]}) under ``base``."""
    (pillar_dir / "top.sls").write_text(yaml.safe_dump({"base": top}))


def registry_up(master, group, net, pillar_dir, states_dir):
    """The multihost session's TLS registry (conftest ``tls_registry``): host1's minion makes
    the CA, the registry's certificate and its htpasswd; the registry starts on engine 1; each
    host's minion trusts it (``chain.registry_trust``: a first apply changes, a second changes
    nothing). Returns {"run": Run, "top": the pillar top, "loopback": the registry's loopback
    port}."""
    ip = str(ipaddress.ip_network(net.subnet)[250])
    run = Run(master, group, ip, secrets.token_urlsafe(18))
    common, ca = _pillar(ip, run.password)
    (pillar_dir / "regtls.sls").write_text(yaml.safe_dump(common))
    (pillar_dir / "regtls_ca.sls").write_text(yaml.safe_dump(ca))
    top = {"host*": ["regtls"], "host1": ["regtls_ca"]}
    write_top(pillar_dir, top)
    _write_states(states_dir)
    ret = run.salt("saltutil.refresh_pillar", "wait=True")
    assert ret.returncode == 0, ret
    started = time.monotonic()
    states = run.apply("regtls_server", minion="host1").data
    assert all(s["result"] is True for s in states.values()), json.dumps(states)[:4000]
    certs = time.monotonic()
    loopback = _start_registry(group, net, ip)
    registry = time.monotonic()
    for attempt in ("first", "second"):
        _applied(run.apply("chain.registry_trust"), attempt)
    print(
        f"\nmultihost tls registry: CA and certificate {certs - started:.1f} s, registry "
        f"{registry - certs:.1f} s, trust on 2 hosts (twice) {time.monotonic() - registry:.1f} s"
    )
    return {"run": run, "top": top, "loopback": loopback}


def registry_down(group, pillar_dir):
    """Undo ``registry_up``: the top file, the registry, every host's trust and images of it."""
    (pillar_dir / "top.sls").unlink(missing_ok=True)
    with contextlib.suppress(docker.errors.NotFound):
        group.client.containers.get(REGISTRY).remove(force=True, v=True)
    with contextlib.suppress(docker.errors.ImageNotFound):
        group.client.images.remove(REGISTRY_IMAGE, force=True)
    for host in group.hosts:
        _remove_images(host, f"{ADDRESS}/")
        host.exec(["rm", "-rf", f"/etc/docker/certs.d/{ADDRESS}"], check=False)
        host.exec(
            "cp /etc/hosts /tmp/hosts.chain && grep -v ' "
            + HOST
            + "' /tmp/hosts.chain > /etc/hosts; true",
            check=False,
        )


def _applied(ret, attempt):
    """Both hosts applied every state; changes on the first attempt only."""
    assert set(ret.data) == {"host1", "host2"}, ret
    for minion, states in ret.data.items():
        assert all(s["result"] is True for s in states.values()), (minion, states)
        assert bool(_changes(states)) == (attempt == "first"), (attempt, minion, states)


def _remove_images(host, prefix):
    with contextlib.suppress(Exception):
        with contextlib.closing(host.client()) as inner:
            for image in inner.images.list():
                for ref in [*image.tags, *(image.attrs.get("RepoDigests") or [])]:
                    if ref.startswith(prefix):
                        with contextlib.suppress(docker.errors.APIError):
                            inner.images.remove(ref, force=True)


@pytest.fixture(scope="module")
def deployed(tls_registry, host_group, hosts_states):
    run = tls_registry["run"]
    try:
        started = time.monotonic()
        digest = push_busybox(host_group["host1"], run.password)
        by_digest = _deploy_sls(hosts_states, digest)
        for attempt in ("first", "second"):
            _applied(run.apply("regtls_app"), attempt)
        print(f"\nmultihost tls: push + app on 2 hosts (twice) {time.monotonic() - started:.1f} s")
        yield {"run": run, "digest": digest, "by_digest": by_digest}
    finally:
        _remove_app(host_group)


def _remove_app(group):
    for host in group.hosts:
        with contextlib.suppress(Exception):
            with contextlib.closing(host.client()) as inner:
                for box in inner.containers.list(
                    all=True, filters={"label": f"{engines.TEST_LABEL}={engines.RUN}"}
                ):
                    if box.name.startswith(APP):
                        box.remove(force=True, v=True)
        _remove_images(host, REF.rsplit(":", 1)[0])


def _replicas(host):
    with contextlib.closing(host.client()) as inner:
        return [
            c
            for c in inner.containers.list(filters={"label": f"{engines.TEST_LABEL}={engines.RUN}"})
            if c.name.startswith(f"{APP}-")
        ]


def test_each_host_pulls_by_digest_from_the_tls_registry_and_serves(deployed, host_group):
    for host in host_group.hosts:
        with contextlib.closing(host.client()) as inner:
            conf = inner.info()["RegistryConfig"]
        # no insecure registry: the engine's default range only, and not the registry's name
        assert conf["InsecureRegistryCIDRs"] == ["127.0.0.0/8"], (host.minion_id, conf)
        assert ADDRESS not in conf["IndexConfigs"], conf
        assert HOST in host.exec(["cat", "/etc/hosts"])
        assert "BEGIN CERTIFICATE" in host.exec(["cat", CA_FILE])
        replicas = _replicas(host)
        assert len(replicas) == 1, (host.minion_id, replicas)
        replica = replicas[0]
        assert replica.attrs["Config"]["Image"] == deployed["by_digest"], replica.attrs["Config"]
        with contextlib.closing(host.client()) as inner:
            image = inner.images.get(replica.image.id)
        assert deployed["by_digest"] in image.attrs["RepoDigests"], image.attrs["RepoDigests"]
        replica_ip = next(iter(replica.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        page = host.exec(
            [
                "python3",
                "-c",
                f"import urllib.request;print(urllib.request.urlopen("
                f"'http://{replica_ip}:8080/',timeout=5).read().decode())",
            ]
        )
        assert "served-by-digest" in page, (host.minion_id, page)


def test_a_host_with_a_wrong_ca_is_refused_then_trusted_again(deployed, host_group):
    run, by_digest = deployed["run"], deployed["by_digest"]
    host2 = host_group["host2"]
    good = host2.exec(["cat", CA_FILE])
    host2.exec(f"cat > '{CA_FILE}' <<'EOF'\n{_wrong_ca()}EOF")
    with contextlib.closing(host2.client()) as inner:  # the replica keeps the image itself
        inner.images.remove(by_digest, force=True)
    ret = run.salt("container.image_pull", by_digest, minion="host2")
    assert ret.returncode != 0, ret
    assert ADDRESS in ret.stdout and "x509" in ret.stdout, ret.stdout
    # host1 (its CA unchanged) still pulls: the refusal is host2's wrong CA, nothing else
    ret = run.salt("container.image_pull", by_digest, minion="host1")
    assert ret.returncode == 0, ret.stdout[-2000:]

    ret = run.apply("chain.registry_trust", minion="host2")
    states = ret.data
    assert all(s["result"] is True for s in states.values()), states
    assert "replaced" in str(_changes(states)), states
    assert host2.exec(["cat", CA_FILE]).strip() == good.strip()
    ret = run.salt("container.image_pull", by_digest, minion="host2")
    assert ret.returncode == 0, ret.stdout[-2000:]
    run.no_secrets()
