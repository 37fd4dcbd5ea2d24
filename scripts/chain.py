"""Run the chain on the embedded default: a local salt-master, minions build1 and web1 each bound
to its own local Docker engine, and the demo highstate. Real daemons, started like an operator
would start them; nothing here is test scaffolding.

    .venv/bin/python scripts/chain.py up      # start master + minions, sync, highstate, report
    .venv/bin/python scripts/chain.py status  # what runs where
    .venv/bin/python scripts/chain.py down    # remove the demo containers, stop the daemons
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
STATE = pathlib.Path(os.environ.get("CHAIN_STATE_DIR", REPO / ".state")) / "chain"
SOCKS = pathlib.Path("/run/saltext-chain/chain")  # short: unix socket paths have a length limit
BIN = pathlib.Path(sys.executable).parent
MINIONS = {
    "build1": "unix:///var/run/docker.sock",
    "web1": "unix:///run/saltext-chain/docker2.sock",
}
PORTS = {"publish_port": 14505, "ret_port": 14506}


def say(msg):
    print(f"==> {msg}", flush=True)


def _write_configs():
    srv = STATE / "srv"
    (srv / "ext").mkdir(parents=True, exist_ok=True)
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons", "_utils"):
        link = srv / "ext" / kind
        if not link.exists():
            link.symlink_to(REPO / kind)
    (srv / "states").mkdir(exist_ok=True)
    (srv / "states" / "top.sls").write_text("base:\n  '*':\n    - demo\n")
    pillar = srv / "pillar"
    pillar.mkdir(exist_ok=True)
    (pillar / "top.sls").write_text("base:\n  '*':\n    - demo\n")
    demo = yaml.safe_load((REPO / "pillar.example" / "demo.sls").read_text())
    (pillar / "demo.sls").write_text(yaml.safe_dump(demo))

    master = {
        "id": "chain-master",
        "root_dir": "/",
        "pki_dir": str(STATE / "master" / "pki"),
        "cachedir": str(STATE / "master" / "cache"),
        "sock_dir": str(SOCKS / "master"),
        "pidfile": str(SOCKS / "master.pid"),
        "log_file": str(STATE / "log" / "master.log"),
        "interface": "127.0.0.1",
        "auto_accept": True,
        "file_roots": {"base": [str(srv / "ext"), str(REPO / "formulas"), str(srv / "states")]},
        "pillar_roots": {"base": [str(pillar)]},
        "user": "root",
        **PORTS,
    }
    conf = STATE / "etc"
    (conf / "master.d").mkdir(parents=True, exist_ok=True)
    (conf / "master").write_text(yaml.safe_dump(master))
    for minion_id, base_url in MINIONS.items():
        mconf = {
            "id": minion_id,
            "master": "127.0.0.1",
            "master_port": PORTS["ret_port"],
            "root_dir": "/",
            "pki_dir": str(STATE / minion_id / "pki"),
            "cachedir": str(STATE / minion_id / "cache"),
            "sock_dir": str(SOCKS / minion_id),
            "pidfile": str(SOCKS / f"{minion_id}.pid"),
            "log_file": str(STATE / "log" / f"{minion_id}.log"),
            "user": "root",
            "container": {"profiles": {"default": {"base_url": base_url, "timeout": 60}}},
        }
        mdir = STATE / "etc" / minion_id
        mdir.mkdir(parents=True, exist_ok=True)
        (mdir / "minion").write_text(yaml.safe_dump(mconf))
    (STATE / "log").mkdir(exist_ok=True)
    SOCKS.mkdir(parents=True, exist_ok=True)


def _alive(pidfile):
    try:
        os.kill(int(pathlib.Path(pidfile).read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def _salt(*args, timeout=600):
    cmd = [
        str(BIN / "salt"),
        "-c",
        str(STATE / "etc"),
        "--out=json",
        "--static",
        "--timeout=120",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return json.loads(out.stdout or "{}"), out.returncode
    except json.JSONDecodeError:
        return {"_raw": out.stdout + out.stderr}, out.returncode


def up(args):
    _write_configs()
    if _alive(SOCKS / "master.pid"):
        say("salt-master already running")
    else:
        say("starting salt-master (127.0.0.1:14505/14506)")
        subprocess.run([str(BIN / "salt-master"), "-c", str(STATE / "etc"), "-d"], check=True)
    for minion_id, base_url in MINIONS.items():
        if _alive(SOCKS / f"{minion_id}.pid"):
            say(f"salt-minion {minion_id} already running")
            continue
        say(f"starting salt-minion {minion_id} (Docker engine {base_url})")
        subprocess.run(
            [str(BIN / "salt-minion"), "-c", str(STATE / "etc" / minion_id), "-d"], check=True
        )
    say("waiting for both minions to answer")
    deadline = time.monotonic() + 120
    while True:
        ret, _ = _salt("*", "test.ping", timeout=60)
        if all(ret.get(m) is True for m in MINIONS):
            break
        if time.monotonic() > deadline:
            sys.exit(f"minions did not answer: {ret}")
        time.sleep(2)
    say("saltutil.sync_all on the minions")
    _salt("*", "saltutil.sync_all")
    say("highstate (demo formula, pillar.example/demo.sls)")
    ret, code = _salt("*", "state.apply", timeout=900)
    _report(ret)
    status(args)
    if code != 0 or any(not isinstance(v, dict) for v in ret.values()):
        sys.exit(1)


def _report(ret):
    for minion, states in sorted(ret.items()):
        if not isinstance(states, dict):
            print(f"  {minion}: {states}")
            continue
        total = sum(s.get("duration", 0) for s in states.values())
        changed = [s for s in states.values() if s.get("changes")]
        failed = [s for s in states.values() if s.get("result") is False]
        print(
            f"  {minion}: {len(states)} states, {len(changed)} changed, "
            f"{len(failed)} failed, {total:.0f} ms"
        )
        for state in sorted(states.values(), key=lambda s: s.get("__run_num__", 0)):
            mark = (
                "FAIL"
                if state.get("result") is False
                else ("chg " if state.get("changes") else "ok  ")
            )
            print(f"    {mark} {state.get('name')}: {state.get('comment')}")


def status(_args):
    say("containers per minion (each on its own engine)")
    ret, _ = _salt("*", "container.ps", "labels=['org.saltext-chain.formula=demo']")
    for minion, rows in sorted(ret.items()):
        print(f"  {minion}:")
        if not isinstance(rows, dict):
            print(f"    {rows}")
            continue
        for name, row in sorted(rows.items()):
            print(f"    {name:<20} {row['state']:<8} {row['image']:<32} {' '.join(row['ports'])}")


def down(_args):
    if _alive(SOCKS / "master.pid"):
        say("removing the demo containers")
        _report(_salt("*", "state.apply", "demo.clean")[0])
    for name in [*MINIONS, "master"]:
        pidfile = SOCKS / f"{name}.pid"
        if _alive(pidfile):
            say(f"stopping {name}")
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pidfile) and time.monotonic() < deadline:
                time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", up), ("status", status), ("down", down)):
        sub.add_parser(name).set_defaults(func=func)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
