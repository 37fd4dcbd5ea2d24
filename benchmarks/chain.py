"""Rollout figures of container_service (issue 10): 2 servers x 2 replicas behind their own
HAProxy frontend, on engine 1, driven server by server as ``chain.rollout`` does, each apply a
``salt-call --local container_service.apply`` process.

Printed: first deploy; a no-op apply; a good rollout (per server: wall, the intrinsic part -
each new replica's start-to-in-the-frontend time plus the monitor window - and the rest, the
orchestration overhead); a bad image on the first server (time to detect, time to restore);
rolling an updated server back to its previous image id.

Run from the repository root after scripts/bootstrap:

    .venv/bin/python benchmarks/chain.py [--monitor 4]

Everything it creates carries the label ``saltext-chain.bench=chain`` and is removed at the end.
"""

import argparse
import contextlib
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import docker
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
ENGINE = "unix:///var/run/docker.sock"
DEBIAN = "saltext-chain/debian:bookworm"
LABELS = {"saltext-chain.bench": "chain"}
PREFIX = "bench-chain"
# the chain formula's default check (examples/app's /health, every second)
HEALTH = yaml.safe_load((REPO / "formulas/chain/defaults.yaml").read_text())["chain"]["service"][
    "healthcheck"
]
SERVERS = ("a", "b")


def build_images(client, tmp):
    images = {"haproxy": f"saltext-chain/{PREFIX}-haproxy:1"}
    client.images.build(
        path=str(REPO / "images" / "haproxy"),
        tag=images["haproxy"],
        rm=True,
        buildargs={"BASE_IMAGE": DEBIAN},
    )
    bad = tmp / "bad-app"
    shutil.copytree(REPO / "examples" / "app", bad)
    app = bad / "app.py"
    app.write_text(
        app.read_text().replace(
            '    """True when the service can serve requests."""\n    return True',
            "    return False",
        )
    )
    for version, path in (
        ("1", REPO / "examples" / "app"),
        ("2", REPO / "examples" / "app"),
        ("bad", bad),
    ):
        images[version] = f"saltext-chain/{PREFIX}-app:{version}"
        client.images.build(
            path=str(path),
            tag=images[version],
            rm=True,
            buildargs={"BASE_IMAGE": DEBIAN, "APP_VERSION": version},
        )
    return images


def frontends(client, images):
    for server in SERVERS:
        net = client.networks.create(f"{PREFIX}-{server}", labels=LABELS)
        ctr = client.containers.run(
            images["haproxy"],
            name=f"{PREFIX}-fe-{server}",
            detach=True,
            labels=LABELS,
            network=net.name,
            environment={"CHAIN_SLOTS": "8"},
        )
        for _ in range(100):
            ctr.reload()
            if (ctr.attrs["State"].get("Health") or {}).get("Status") == "healthy":
                break
            time.sleep(0.2)


def salt_call(config_dir, *args):
    exe = pathlib.Path(sys.executable).parent / "salt-call"
    started = time.monotonic()
    proc = subprocess.run(
        [str(exe), "--local", "-c", str(config_dir), "--out=json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    try:
        data = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        raise SystemExit(
            f"salt-call {args[:2]} failed: {proc.stdout[-800:]} {proc.stderr[-800:]}"
        ) from None
    return data, wall


def apply(config_dir, server, image, monitor):
    spec = json.dumps({"healthcheck": HEALTH, "labels": LABELS})
    update = json.dumps(
        {
            "parallelism": 1,
            "monitor": monitor,
            "failure_action": "rollback",
            "progress_deadline": 60,
        }
    )
    return salt_call(
        config_dir,
        "container_service.apply",
        f"{PREFIX}-app-{server}",
        image,
        spec,
        "replicas=2",
        f"frontend={PREFIX}-fe-{server}",
        f"network={PREFIX}-{server}",
        f"update={update}",
        "stop_timeout=5",
    )


def offsets(steps, pattern):
    out = []
    for step in steps:
        match = re.search(r"\(\+([0-9.]+)s\)$", step)
        if match and re.search(pattern, step):
            out.append((step, float(match.group(1))))
    return out


def intrinsic(steps, monitor):
    """Per new replica: start -> in the frontend, plus the monitor window it must pass."""
    started = {
        re.sub(r" \(.*", "", s.split("started ", 1)[1]): t for s, t in offsets(steps, r"^started ")
    }
    total = 0.0
    for step, t in offsets(steps, r"entered the frontend"):
        name = step.split(" ", 1)[0]
        total += t - started.get(name, t) + monitor
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitor", type=float, default=4.0)
    args = parser.parse_args()
    client = docker.DockerClient(base_url=ENGINE, version="auto", timeout=120)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-chain-"))
    conf = tmp / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        json.dumps(
            {
                "id": "bench-chain",
                "file_client": "local",
                "module_dirs": [str(REPO)],
                "root_dir": str(tmp / "root"),
                "cachedir": str(tmp / "cache"),
                "log_file": str(tmp / "minion.log"),
                "pki_dir": str(tmp / "pki"),
                "container": {"profiles": {"default": {"base_url": ENGINE, "timeout": 60}}},
            }
        )
    )
    rows = []
    try:
        images = build_images(client, tmp)
        frontends(client, images)
        m = args.monitor

        t = time.monotonic()
        for server in SERVERS:
            ret, wall = apply(conf, server, images["1"], m)
            assert ret["result"], ret
        rows.append(("first deploy, 2 servers x 2 replicas", time.monotonic() - t, ""))

        walls = [apply(conf, s, images["1"], m)[1] for s in SERVERS]
        rows.append(("no-op apply (salt-call process, per server)", sum(walls) / 2, "mean"))

        t = time.monotonic()
        intr = 0.0
        for server in SERVERS:
            ret, wall = apply(conf, server, images["2"], m)
            assert ret["result"], ret
            intr += intrinsic(ret["steps"], m)
        total = time.monotonic() - t
        rows.append(
            (
                "good rollout v1 -> v2, 2 servers x 2 replicas",
                total,
                f"intrinsic {intr:.1f}s (start->healthy->in frontend + {m:g}s monitor per "
                f"replica), overhead {total - intr:.1f}s = {(total - intr) / total:.0%}",
            )
        )

        ret, wall = apply(conf, "a", images["bad"], m)
        assert ret["result"] is False and ret["rolled_back"], ret
        detect = offsets(ret["steps"], r"^drained .*-app-a-")
        detected = detect[0][1] if detect else float("nan")
        end = offsets(ret["steps"], r".")[-1][1]
        rows.append(
            ("bad image on server a: detected (unhealthy)", detected, "from the apply's start")
        )
        rows.append(
            (
                "bad image on server a: restored (previous serving, new removed)",
                end,
                f"salt-call wall {wall:.1f}s",
            )
        )

        status, _ = salt_call(
            conf,
            "container_service.status",
            f"{PREFIX}-app-b",
            f"frontend={PREFIX}-fe-b",
            f"network={PREFIX}-b",
        )
        previous = [h for h in status["history"] if h != status["current"]][0]
        ret, wall = apply(conf, "b", previous, m)
        assert ret["result"], ret
        rows.append(
            (
                "roll server b back to its previous image id",
                wall,
                f"{previous[:19]}..., no build, no pull",
            )
        )
    finally:
        for ctr in client.containers.list(all=True, filters={"label": "saltext-chain.bench=chain"}):
            ctr.remove(force=True)
        for net in client.networks.list(filters={"label": "saltext-chain.bench=chain"}):
            with contextlib.suppress(docker.errors.APIError):
                net.remove()
        for ref in ("haproxy", "1", "2", "bad"):
            with contextlib.suppress(Exception):
                client.images.remove(
                    f"saltext-chain/{PREFIX}-"
                    + ("haproxy:1" if ref == "haproxy" else f"app:{ref}"),
                    force=True,
                )
        shutil.rmtree(tmp, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  seconds  notes")
    for name, secs, note in rows:
        print(f"{name:<{width}}  {secs:7.2f}  {note}")


if __name__ == "__main__":
    main()
