"""Pull of the app image by digest from the chain's TLS registry on 4 hosts (issue 18): the
time per host, one host at a time and all of them side by side.

It needs the chain across hosts running (``make chain HOSTS=N``, N >= 1: the registry by name
with TLS on the hosts network's gateway, the app deployed by digest). It starts ``--hosts`` (4)
fresh hosts of its own (``scripts/chain_hosts.py``'s, on the chain's hosts network; no minion:
their dockerd only, label ``org.saltext-chain.bench=hosts_pull``), each trusting the chain's CA
the way ``chain.registry_trust`` does it (the name in the host's /etc/hosts, the CA that build1's
engine trusts as ``/etc/docker/certs.d/<name:port>/ca.crt``; no insecure registry), then:

1. one at a time: each host pulls the image by digest into its empty engine, alone;
2. side by side: the image removed from every host, all of them pull at once.

``--rounds`` (2) rounds of both. The image is the one the chain deployed (a replica's
``<name:port>/<repo>@sha256:...`` on the first app host), or ``--image``. ``--driver vfs``
runs the hosts' engines on vfs instead of overlay2 (the before/after of docs/hosts.md).

    make chain HOSTS=1                               # or more
    .venv/bin/python benchmarks/hosts_pull.py        # ~2 minutes
    .venv/bin/python benchmarks/hosts_pull.py --driver vfs --rounds 1

Prints the figures and writes ``benchmarks/results/hosts_pull[-<driver>].json``. Never asserts.
Removes its hosts (containers, volumes, cgroups, directories) at the end, also after an error.
"""

import argparse
import concurrent.futures
import contextlib
import json
import pathlib
import statistics
import sys
import tempfile
import time

import docker
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import chain_hosts  # noqa: E402  pylint: disable=wrong-import-position

STATE = REPO / ".state" / "chain"
RESULTS = REPO / "benchmarks" / "results"
LABELS = {"org.saltext-chain.bench": "hosts_pull"}
CERTS_D = pathlib.Path("/etc/docker/certs.d")


def say(msg):
    print(f"==> {msg}", flush=True)


def chain_registry():
    """The running chain's registry address and its user (the pillar make chain wrote)."""
    chain = yaml.safe_load((STATE / "srv" / "pillar" / "chain.sls").read_text())["chain"]
    address = chain["registry"]["address"]
    if not chain["registry"].get("tls", {}).get("enabled"):
        sys.exit(f"the chain's registry {address} has no TLS: start it with make chain HOSTS=N")
    regs = yaml.safe_load((STATE / "srv" / "pillar" / "registries.sls").read_text())
    creds = regs["container"]["registries"][address]
    ip = chain["registry"]["tls"]["ip"]
    return address, ip, {"username": creds["username"], "password": creds["password"]}


def deployed_image(address):
    """The image by digest that a replica of the app runs on the first host of the chain."""
    for host_dir in sorted((STATE / "hosts").iterdir()):
        client = docker.DockerClient(base_url=f"unix://{host_dir / 'docker.sock'}", timeout=30)
        with contextlib.closing(client):
            for ctr in client.containers.list(filters={"label": "org.saltext-chain.formula=chain"}):
                image = ctr.attrs["Config"]["Image"]
                if image.startswith(f"{address}/") and "@sha256:" in image:
                    return image
    sys.exit(f"no replica runs an image of {address} by digest: deploy the chain first")


def start_hosts(count, driver, root, network):
    """``count`` hosts of chain_hosts (their dockerd only, on ``driver``), engines answering."""
    client = docker.from_env(timeout=600)
    chain_hosts.ensure_image(client)
    master_pki = root / "master-pki"  # a key for the minion config nobody runs
    master_pki.mkdir()
    import salt.crypt  # pylint: disable=import-outside-toplevel

    salt.crypt.write_keys(str(master_pki), "master", 2048)
    hosts = []
    for i in range(1, count + 1):
        host = chain_hosts.Host(client, f"chain-bench{i}", f"bench{i}", root / f"bench{i}", LABELS)
        host.prepare(master_pki, "127.0.0.1", {"ret_port": 1, "publish_port": 2}, accept=False)
        script = chain_hosts.run_script(host.name).replace(
            f"--storage-driver={chain_hosts.STORAGE_DRIVER}", f"--storage-driver={driver}"
        )
        lines = script.splitlines()[:-1]  # no minion: the engine only, in the foreground
        lines[-1] = "exec " + lines[-1].rstrip(" &")
        (host.dir / "run.sh").write_text("\n".join(lines) + "\n")
        hosts.append(host)
    started = time.monotonic()
    chain_hosts.start_hosts(hosts, network)
    return hosts, time.monotonic() - started


def trust(hosts, address, ip):
    """What chain.registry_trust makes on a host: the name in /etc/hosts, the chain's CA."""
    ca = (CERTS_D / address / "ca.crt").read_text()
    name = address.rsplit(":", 1)[0]
    for host in hosts:
        host.exec(f"echo '{ip} {name}' >> /etc/hosts")
        host.exec(f"mkdir -p /etc/docker/certs.d/{address}")
        host.exec(f"cat > /etc/docker/certs.d/{address}/ca.crt <<'EOF'\n{ca}EOF")
        with contextlib.closing(host.client()) as inner:
            conf = inner.info()["RegistryConfig"]
        if address in conf["IndexConfigs"] or conf["InsecureRegistryCIDRs"] != ["127.0.0.0/8"]:
            sys.exit(f"{host.name}: an insecure registry is configured: {conf}")


def wait_login(hosts, address, auth, timeout=30):
    """Until each engine logs in to the registry (its resolver caches /etc/hosts for 5 s): the
    name resolves and the certificate verifies against the CA, before any pull is timed."""
    for host in hosts:
        deadline = time.monotonic() + timeout
        with contextlib.closing(host.client()) as inner:
            while True:
                try:
                    inner.login(registry=address, reauth=True, **auth)
                    break
                except docker.errors.APIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)


def pull(host, image, auth):
    with contextlib.closing(host.client(timeout=1200)) as inner:
        started = time.monotonic()
        inner.images.pull(image, auth_config=auth)
        took = time.monotonic() - started
        size = inner.images.get(image).attrs["Size"]
    return took, size


def empty(host, image):
    with contextlib.closing(host.client(timeout=600)) as inner:
        with contextlib.suppress(docker.errors.ImageNotFound):
            inner.images.remove(image, force=True)
        inner.images.prune(filters={"dangling": False})
        if inner.images.list(all=True):
            raise RuntimeError(f"{host.name}: images left: {inner.images.list(all=True)}")


def one_round(hosts, image, auth):
    alone = {}
    for host in hosts:
        empty(host, image)
        alone[host.minion_id], size = pull(host, image, auth)
    for host in hosts:
        empty(host, image)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        done = dict(zip(hosts, pool.map(lambda h: pull(h, image, auth), hosts), strict=True))
    wall = time.monotonic() - started
    together = {h.minion_id: took for h, (took, _) in done.items()}
    return {"alone": alone, "together": together, "together_wall": wall, "size": size}


def report(args, image, start_s, rounds):
    ids = list(rounds[0]["alone"])
    size_mb = rounds[0]["size"] / 1e6
    print(f"\nimage {image}\n  {size_mb:.0f} MB unpacked; hosts' engines on {args.driver}")
    print(f"  {len(ids)} hosts started (engines answering) in {start_s:.1f} s\n")
    print(f"  {'host':8} {'alone s':>18} {'side by side s':>18}")
    for mid in ids:
        alone = " / ".join(f"{r['alone'][mid]:.1f}" for r in rounds)
        together = " / ".join(f"{r['together'][mid]:.1f}" for r in rounds)
        print(f"  {mid:8} {alone:>18} {together:>18}")
    alone = [r["alone"][m] for r in rounds for m in ids]
    walls = [r["together_wall"] for r in rounds]
    print(
        f"\n  median alone {statistics.median(alone):.1f} s per host; side by side, all "
        f"{len(ids)} done in {statistics.median(walls):.1f} s (median wall of {len(walls)})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--driver", default=chain_hosts.STORAGE_DRIVER)
    parser.add_argument("--image", help="default: the app image a chain replica runs")
    args = parser.parse_args()
    address, ip, auth = chain_registry()
    image = args.image or deployed_image(address)
    say(f"{args.hosts} hosts on {args.driver}, pulling {image}")
    with tempfile.TemporaryDirectory(prefix="hosts-pull-") as tmp:
        hosts = []
        try:
            hosts, start_s = start_hosts(
                args.hosts, args.driver, pathlib.Path(tmp), chain_hosts.CHAIN_NETWORK
            )
            trust(hosts, address, ip)
            wait_login(hosts, address, auth)
            rounds = []
            for n in range(args.rounds):
                say(f"round {n + 1}: one host at a time, then side by side")
                rounds.append(one_round(hosts, image, auth))
        finally:
            for host in hosts:
                host.close()
    report(args, image, start_s, rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.driver == chain_hosts.STORAGE_DRIVER else f"-{args.driver}"
    out = RESULTS / f"hosts_pull{suffix}.json"
    data = {"image": image, "driver": args.driver, "start_s": start_s, "rounds": rounds}
    out.write_text(json.dumps({"command": sys.argv, **data}, indent=1))
    say(f"written {out}")


if __name__ == "__main__":
    main()
