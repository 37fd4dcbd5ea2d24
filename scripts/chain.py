"""Run the chain on the embedded default: a local salt-master and three minions, each bound to a
local Docker engine, and `salt-run state.orchestrate chain` for the sample app's newest commit.

    build1  engine 1   the registry (127.0.0.1:5050), the source server (git://127.0.0.1:9419),
                       the Jenkins controller (http://127.0.0.1:8090, the emulator image) and
                       its agent pool, the app's pipeline job; the app image is built here
    web1    engine 2   app server: HAProxy on 127.0.0.1:8081 and 2 replicas of the app
    web2    engine 2   app server: HAProxy on 127.0.0.1:8082 and 2 replicas (own names)

Real daemons, configured like an operator would (pillar from pillar.example/, secrets generated
once into .state/chain/secrets.json, mode 0600); nothing here is test scaffolding.

    .venv/bin/python scripts/chain.py up       # start master + minions, sync, deploy the app
    .venv/bin/python scripts/chain.py up --hosts 2   # the same, and 2 hosts (docs/hosts.md)
    .venv/bin/python scripts/chain.py deploy   # deploy the checkout's newest commit of the app
    .venv/bin/python scripts/chain.py status   # salt-run chain.status app
    .venv/bin/python scripts/chain.py follow   # follow the next run (stages, the build's console)
    .venv/bin/python scripts/chain.py down     # remove the chain's containers, stop the daemons
"""

import argparse
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import threading
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
STATE = pathlib.Path(os.environ.get("CHAIN_STATE_DIR", REPO / ".state")) / "chain"
SOCKS = pathlib.Path("/run/saltext-chain/chain")  # short: unix socket paths have a length limit
BIN = pathlib.Path(sys.executable).parent
ENGINE1 = "unix:///var/run/docker.sock"
ENGINE2 = "unix:///run/saltext-chain/docker2.sock"
MINIONS = {"build1": ENGINE1, "web1": ENGINE2, "web2": ENGINE2}
APP_SERVERS = {"web1": 8081, "web2": 8082}
REGISTRY = "127.0.0.1:5050"
HOST_APP_PORT = 8080  # with hosts: each host's frontend, on its address (docs/hosts.md)
JENKINS_PORT = 8090
PORTS = {"publish_port": 14505, "ret_port": 14506}
SOURCE_HTTP = 9420  # the source server's web server: git and hg over HTTP, pushes with a password
API_PORT = 8095  # salt-api (rest_cherrypy): the forges' webhook and the team's page
PUSHER = "dev"  # the team's account on the source server (password in secrets.json)
# Salt 3008's TCP/IPC publisher leaves its drain task pending when a short-lived process (each
# job, each salt-run) closes its event connection; asyncio then logs "Task was destroyed but it
# is pending!" at ERROR for every job. It means nothing for the chain (docs/chain.md, "Logs"):
# asyncio's own messages are logged from CRITICAL up only.
QUIET = {"log_granular_levels": {"asyncio": "critical"}}
PREFIX = "examples/app"  # the app's directory: its history is what the source server serves
LABELS = ("org.saltext-chain.formula=chain", "org.saltext-chain.formula=jenkins")


def say(msg):
    print(f"==> {msg}", flush=True)


def _secrets():
    """The registry password, the Jenkins admin token, the team's push password and the
    webhook key, generated once (a key missing from an older file is added)."""
    path = STATE / "secrets.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "registry": lambda: secrets.token_urlsafe(18),
        "jenkins": lambda: secrets.token_hex(16),
        "push": lambda: secrets.token_urlsafe(18),
        "webhook": lambda: secrets.token_hex(32),
        "source": lambda: secrets.token_hex(32),
    }
    missing = {k: make() for k, make in wanted.items() if k not in found}
    if missing:
        found.update(missing)
        STATE.mkdir(parents=True, exist_ok=True)
        _write(path, json.dumps(found), 0o600)
    return found


def _example(name):
    return yaml.safe_load((REPO / "pillar.example" / f"{name}.sls").read_text())


def _pillar(secret):
    """pillar.example/chain.sls and jenkins.sls with the embedded default's hosts, ports and
    secrets. Secrets only where they are used, each in one place: the admin token (the jenkins
    profile's token) on build1, the registry's credentials (its htpasswd user on build1, pushes
    and pulls) on every minion."""
    registry = REGISTRY
    chain = _example("chain")["chain"]
    chain.update(targets=list(APP_SERVERS), per_minion=True, jenkins={"enabled": True})
    chain["source"]["checkout"] = str(REPO)
    chain["source"]["prefix"] = PREFIX
    chain["source"]["http_port"] = SOURCE_HTTP
    # the pool's agents use the host's network: they clone through the loopback port
    chain["jobs"]["git_url"] = f"git://127.0.0.1:{chain['source']['port']}/app.git"
    chain["jobs"]["hg_url"] = f"http://127.0.0.1:{SOURCE_HTTP}/hg/{{repo}}"
    chain["frontend"]["build"] = str(REPO / "images" / "haproxy")
    # engine 2 accepts traffic between its containers only in 172.31.0.0/16 (scripts/bootstrap)
    chain["servers"] = {
        m: {"frontend": {"port": p}, "network": {"subnet": f"172.31.{i}.0/24"}}
        for i, (m, p) in enumerate(APP_SERVERS.items(), start=1)
    }

    jenkins = _example("jenkins")["jenkins"]
    url = f"http://127.0.0.1:{JENKINS_PORT}/"
    jenkins["profiles"]["ci"].update(url=url, token=secret["jenkins"])
    jenkins["controller"].update(port=JENKINS_PORT, build=str(REPO))
    pool = jenkins["pools"]["linux"]
    pool.update(build=str(REPO), dockerfile="images/jenkins-agent/Dockerfile", min=1, max=4)
    jenkins["pools"] = {"linux": pool}

    creds = _example("chain")["container"]["registries"]
    creds[registry]["password"] = secret["registry"]
    return {
        "top": {
            "base": {
                "*": ["chain", "registries"],
                "build1": ["jenkins", "chain_build"],
                "chain-master": ["chain_master"],
            }
        },
        "chain": {"chain": chain},
        "chain_build": {
            "chain": {
                # the team's account on the source server (hashed into its htpasswd)
                "source": {"users": {PUSHER: secret["push"]}},
                # build1's forwarder signs its push records with it (docs/push.md)
                "push": {"source_key": secret["source"]},
            }
        },
        # the master's own pillar: the keys of the forges' webhook deliveries and of the
        # source server's push records
        "chain_master": {
            "chain": {"push": {"webhook_key": secret["webhook"], "source_key": secret["source"]}}
        },
        "registries": {"container": {"registries": creds}},
        "jenkins": {"jenkins": jenkins},
    }


def _across_hosts(pillar, hosts):
    """``make chain HOSTS=N`` (docs/hosts.md): the app's servers are the hosts of role ``app``
    (``chain_hosts.app_hosts``: in rollout order), each serving on its own engine, its frontend
    on the host's address; the registry is reached by its name (``topology:registry:name``)
    on the hosts network's gateway, with TLS: the CA is build1's (chain.ca, its key under
    .state), every engine trusts it (chain.registry_trust), no insecure registry."""
    import chain_hosts  # pylint: disable=import-outside-toplevel

    chain = pillar["chain"]["chain"]
    targets = chain_hosts.app_hosts(hosts.pillar)
    if not targets:
        sys.exit("no host of role app among the hosts chosen (pillar.example/hosts.sls)")
    registry = chain["registry"]
    address = f"{hosts.pillar['topology']['registry']['name']}:{registry['server']['port']}"
    chain.update(targets=targets)
    chain["servers"] = {
        m: {"frontend": {"bind": "0.0.0.0", "port": HOST_APP_PORT}} for m in targets
    }
    registry["address"] = hosts.registry = address
    registry["server"]["bind"] = hosts.gateway
    registry["tls"].update(enabled=True, ip=hosts.gateway, dir=str(STATE / "registry-tls"))
    creds = pillar["registries"]["container"]["registries"]
    creds[address] = creds.pop(REGISTRY)
    policy = _example("chain")["x509_signing_policies"]
    for entry in policy[registry["tls"]["signing_policy"]]:
        for key in ("signing_private_key", "signing_cert"):
            if key in entry:
                entry[key] = str(STATE / "ca" / pathlib.Path(entry[key]).name)
    pillar["chain_build"]["x509_signing_policies"] = policy
    return address


def _write(path, data, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    os.chmod(path, mode)


def _write_configs(hosts=None):
    srv = STATE / "srv"
    (srv / "ext").mkdir(parents=True, exist_ok=True)
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons", "_utils"):
        link = srv / "ext" / kind
        if not link.exists():
            link.symlink_to(REPO / kind)
    # a highstate converges each server's infrastructure; the deploy is the orchestrate's
    top = {"base": {"build1": ["chain.registry", "chain.source", "chain.jobs"]}}
    top["base"].update({m: ["chain.frontend"] for m in APP_SERVERS})
    _write(srv / "states" / "top.sls", top, 0o644)
    os.chmod(STATE, 0o700)
    secret = _secrets()
    pillar = _pillar(secret)
    if hosts:  # make chain HOSTS=N: the hosts' ids, roles and rollout order (docs/hosts.md)
        pillar["hosts"] = hosts.pillar
        pillar["top"]["base"]["*"].append("hosts")
        _across_hosts(pillar, hosts)
    for name, data in pillar.items():
        _write(srv / "pillar" / f"{name}.sls", data)
    chain = pillar["chain"]["chain"]
    master = {
        "id": "chain-master",
        "root_dir": "/",
        "pki_dir": str(STATE / "master" / "pki"),
        "cachedir": str(STATE / "master" / "cache"),
        "sock_dir": str(SOCKS / "master"),
        "pidfile": str(SOCKS / "master.pid"),
        "log_file": str(STATE / "log" / "master.log"),
        **QUIET,
        # with hosts, the hosts network's gateway and pre-seeded keys only (docs/hosts.md)
        "interface": hosts.gateway if hosts else "127.0.0.1",
        "auto_accept": not hosts,
        "file_roots": {"base": [str(srv / "ext"), str(REPO / "formulas"), str(srv / "states")]},
        "pillar_roots": {"base": [str(srv / "pillar")]},
        "user": "root",
        # every salt-run (the push worker's too) and the master's MasterMinions read the
        # master's grains from Salt's cache: a trivial salt-run costs 1.0 CPU-s, not 1.5
        "grains_cache": True,
        # chain.status / chain.rollback app: where the app runs (names get -<minion id>)
        "chain": {
            "apps": {
                chain["app"]: {
                    "targets": chain["targets"],
                    "service": chain["service"]["name"] + "-{minion}",
                    "frontend": chain["frontend"]["name"] + "-{minion}",
                    "network": chain["network"]["name"] + "-{minion}",
                    "backend": chain["frontend"].get("backend", "app"),
                    "pillar": {"chain": {"per_minion": True}},
                    "jenkins_profile": "ci",
                    "jenkins_job": chain["jobs"]["name"],
                }
            },
            # a push to the source server runs the chain (docs/push.md): build1's minion
            # forwards its hooks' records; main (git) and default (hg) deploy, other
            # branches build and test only
            "push": {
                "source_minion": "build1",
                "deploy_branch": "main",
                "branches": ["*"],
                "repos": {
                    chain["source"]["repo"]: {"app": chain["app"], "vcs": "git"},
                    "app-hg": {"app": chain["app"], "vcs": "hg", "deploy_branch": "default"},
                },
                "orchestrate": "chain",
                "webhook": {"max_body": 1048576, "key_pillar": "chain:push:webhook_key"},
                "poll_interval": 60,
            },
        },
        # chain.status reads the controller (agents, queue, the pipeline's builds)
        "jenkins": {"profiles": {"ci": pillar["jenkins"]["jenkins"]["profiles"]["ci"]}},
        # chain.status reads the registry's tags with these credentials
        "container": pillar["registries"]["container"],
        # with hosts: the registry's certificate is signed by build1's CA for build1, and every
        # host reads the CA from build1, through the peer interface (docs/certificates.md)
        **({"peer": {".*": [r"x509\.sign_remote_certificate"]}} if hosts else {}),
        **_push_config(),
        **PORTS,
    }
    _write(STATE / "etc" / "master", master)
    for minion_id, base_url in MINIONS.items():
        conf = _minion_config(minion_id, base_url, chain, hosts.gateway if hosts else None)
        _write(STATE / "etc" / minion_id / "minion", conf)
    (STATE / "log").mkdir(exist_ok=True)
    SOCKS.mkdir(parents=True, exist_ok=True)
    # `. .state/chain/env.sh`: salt, salt-run, salt-call… of the venv with this config, so that
    # the docs' commands run as printed (Salt reads SALT_CONFIG_DIR)
    _write(
        STATE / "env.sh",
        f'export SALT_CONFIG_DIR="{STATE / "etc"}"\nexport PATH="{BIN}:$PATH"\n',
        0o644,
    )


def _minion_config(minion_id, base_url, chain, master=None):
    mconf = {
        "id": minion_id,
        "master": master or "127.0.0.1",
        "master_port": PORTS["ret_port"],
        "root_dir": "/",
        "pki_dir": str(STATE / minion_id / "pki"),
        "cachedir": str(STATE / minion_id / "cache"),
        "sock_dir": str(SOCKS / minion_id),
        "pidfile": str(SOCKS / f"{minion_id}.pid"),
        "log_file": str(STATE / "log" / f"{minion_id}.log"),
        **QUIET,
        "user": "root",
        "container": {"profiles": {"default": {"base_url": base_url, "timeout": 120}}},
    }
    if minion_id in APP_SERVERS:
        # container supervision on the team's page: the app's replicas' deaths, OOMs and
        # health changes (each server's own: web1 and web2 share engine 2)
        service = f"{chain['service']['name']}-{minion_id}"
        mconf["beacons"] = {
            "container_events": [
                {"labels": [f"org.saltext-chain.service={service}"]},
                {"interval": 2},
            ]
        }
    return mconf


def _push_config():
    """Master config of push to production (docs/push.md): salt-api on loopback for the forges'
    webhook and the team's page, the thin reactor, the queue's schedule."""
    page = STATE / "master" / "cache" / "saltext-chain" / "page"
    page.mkdir(parents=True, exist_ok=True)
    return {
        "rest_cherrypy": {
            "host": "127.0.0.1",
            "port": API_PORT,
            "disable_ssl": True,
            "webhook_disable_auth": True,  # chain_push verifies each delivery's HMAC itself
            "webhook_url": "/hook",
            # the page as static files only: with `app` set, salt-api answers a POST without an
            # Accept header (Gitea's) with the page instead of the hook (docs/push.md)
            "static": str(page),
            "static_path": "/page",
        },
        "api_pidfile": str(SOCKS / "api.pid"),
        "api_logfile": str(STATE / "log" / "api.log"),
        "reactor": [
            {"chain/push/source": ["salt://chain/reactor/push.sls"]},
            {"salt/netapi/hook/chain/push": ["salt://chain/reactor/webhook.sls"]},
            {"salt/beacon/*/container_events/*": ["salt://chain/reactor/supervision.sls"]},
        ],
        # build1's forwarder reads the queue's receipts of its records (docs/push.md)
        "peer_run": {r"^build1$": [r"^chain_push\.receipts$"]},
        "schedule": {
            "chain-push-drain": {
                "function": "chain_push.drain",
                "kwargs": {"spawn": True},
                "seconds": 60,
                "run_on_start": True,
                "maxrunning": 1,
            },
            "chain-push-check": {"function": "chain_push.check", "seconds": 60, "maxrunning": 1},
        },
    }


def _alive(pidfile):
    try:
        os.kill(int(pathlib.Path(pidfile).read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def _salt(*args, timeout=600):
    cmd = [str(BIN / "salt"), "-c", str(STATE / "etc"), "--out=json", "--static", "--timeout=120"]
    out = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        return json.loads(out.stdout or "{}"), out.returncode
    except json.JSONDecodeError:
        return {"_raw": out.stdout + out.stderr}, out.returncode


def _salt_run(*args, out=None, timeout=1800):
    """salt-run; its output goes to the terminal unless ``out`` names an outputter to parse."""
    cmd = [str(BIN / "salt-run"), "-c", str(STATE / "etc"), *args]
    if out:
        done = subprocess.run(
            [*cmd, f"--out={out}"], capture_output=True, text=True, timeout=timeout, check=False
        )
        return done.stdout, done.returncode
    # stdout live; stderr without Salt's own "unclosed <object>" warnings at exit
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stderr:
            if not line.startswith("unclosed "):
                sys.stderr.write(line)
        return None, proc.wait(timeout=timeout)


def _hosts(count=None):
    """``make chain HOSTS=N`` (scripts/chain_hosts.py), or None for the single-host chain;
    ``count`` None: what the running chain was started with."""
    record = STATE / "hosts.json"
    if count is None:
        count = json.loads(record.read_text())["count"] if record.exists() else 0
    if not count:
        return None
    import chain_hosts  # pylint: disable=import-outside-toplevel

    chosen, pillar = chain_hosts.topology(_example("hosts"), count)
    hosts = chain_hosts.ChainHosts(STATE, chosen)
    hosts.pillar = pillar
    hosts.network()
    return hosts


def _start(hosts=None):
    _write_configs(hosts)
    if hosts:
        local = {m: STATE / m / "pki" for m in MINIONS}
        hosts.seed(STATE / "master" / "pki", local, PORTS)
    if _alive(SOCKS / "master.pid"):
        say("salt-master already running")
    else:
        where = hosts.gateway if hosts else "127.0.0.1"
        say(f"starting salt-master ({where}:{PORTS['publish_port']}/{PORTS['ret_port']})")
        subprocess.run([str(BIN / "salt-master"), "-c", str(STATE / "etc"), "-d"], check=True)
    if _alive(SOCKS / "api.pid"):
        say("salt-api already running")
    else:
        say(f"starting salt-api (http://127.0.0.1:{API_PORT}/: the forges' webhook, the page)")
        subprocess.run([str(BIN / "salt-api"), "-c", str(STATE / "etc"), "-d"], check=True)
    for minion_id, base_url in MINIONS.items():
        if _alive(SOCKS / f"{minion_id}.pid"):
            say(f"salt-minion {minion_id} already running")
            continue
        say(f"starting salt-minion {minion_id} (Docker engine {base_url})")
        subprocess.run(
            [str(BIN / "salt-minion"), "-c", str(STATE / "etc" / minion_id), "-d"], check=True
        )
    if hosts:
        hosts.start(STATE / "etc" / "master")
    say("waiting for the minions to answer")
    deadline = time.monotonic() + 120
    while True:
        ret, _ = _salt("*", "test.ping", timeout=60)
        if all(ret.get(m) is True for m in [*MINIONS, *(hosts.ids if hosts else [])]):
            break
        if time.monotonic() > deadline:
            sys.exit(f"minions did not answer: {ret}")
        time.sleep(2)
    say("saltutil.sync_all on the minions and the master; pillar refreshed")
    _salt("*", "saltutil.sync_all")
    _salt("*", "saltutil.refresh_pillar")
    _salt_run("saltutil.sync_all", out="json")


def _commit():
    """The commit the source server serves for the checkout's HEAD: the history of examples/app
    (what formulas/chain/files/source/seed.sh pushes)."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "subtree", "split", "-q", f"--prefix={PREFIX}", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _progress(stop):
    """Print the orchestrate's stages as the master's event bus reports them."""
    import salt.config  # pylint: disable=import-outside-toplevel
    import salt.utils.event  # pylint: disable=import-outside-toplevel

    opts = salt.config.master_config(str(STATE / "etc" / "master"))
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        while not stop.is_set():
            event = bus.get_event(wait=1, full=True)
            if not event:
                continue
            tag, data = event["tag"], event["data"]
            if tag.startswith("salt/job/") and "/ret/" in tag and data.get("fun") == "state.sls":
                states = data.get("return")
                ok = isinstance(states, dict) and all(
                    isinstance(s, dict) and s.get("result") is not False for s in states.values()
                )
                changed = (
                    sum(1 for s in states.values() if isinstance(s, dict) and s.get("changes"))
                    if isinstance(states, dict)
                    else 0
                )
                sls = ",".join(str(a) for a in (data.get("fun_args") or [])[:1])
                print(
                    f"    {data.get('id')}: state.sls {sls}: "
                    f"{'ok' if ok else 'FAILED'}, {changed} changed",
                    flush=True,
                )
            elif tag.startswith("chain/rollout/"):
                detail = {k: v for k, v in data.items() if not k.startswith("_")}
                print(f"    {tag}: {json.dumps(detail)[:160]}", flush=True)


def deploy(args):
    """The orchestrate for a commit, with the pillar of this checkout (its app is seeded)."""
    _write_configs(_hosts())
    return _orchestrate(args)


def _orchestrate(args):
    ref = args.ref or _commit()
    pillar = json.dumps({"chain": {"ref": ref}})
    say(f"salt-run state.orchestrate chain pillar='{pillar}'")
    stop = threading.Event()
    watcher = threading.Thread(target=_progress, args=(stop,), daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        _, code = _salt_run(
            "state.orchestrate",
            "chain",
            f"pillar={pillar}",
            "--state-output=terse",
            "--log-level=error",  # not Salt's own "unclosed MasterEvent" warnings
        )
    finally:
        stop.set()
    say(f"orchestrate finished in {time.monotonic() - started:.1f} s (exit code {code})")
    return code


def up(args):
    record = STATE / "hosts.json"
    before = json.loads(record.read_text())["count"] if record.exists() else 0
    if _alive(SOCKS / "master.pid") and before != args.hosts:
        sys.exit(f"the chain runs with {before} hosts, not {args.hosts}: `make down` first")
    hosts = _hosts(args.hosts)
    _start(hosts)
    _write(record, json.dumps({"count": args.hosts}), 0o644)
    code = _orchestrate(args)
    status(args)
    say("where to reach it")
    for minion, where in _app_addresses(hosts).items():
        print(f"    app on {minion}:  http://{where}/  (and /version, /health)")
    print(
        f"    Jenkins:        http://127.0.0.1:{JENKINS_PORT}/  (user admin, token in "
        f"{STATE / 'secrets.json'})"
    )
    registry = f"https://{hosts.registry}" if hosts else f"http://{REGISTRY}"
    print(f"    registry:       {registry}/v2/  (user chain, same file)")
    print(f"    salt:           . {STATE / 'env.sh'}; salt-run chain.status app")
    print(f"    the team's page: http://127.0.0.1:{API_PORT}/page/index.html  (refreshes itself)")
    say(f'where to push (user {PUSHER}, password "push" in {STATE / "secrets.json"})')
    print(f"    git: http://127.0.0.1:{SOURCE_HTTP}/git/app.git     (branch main deploys)")
    print(f"    hg:  http://127.0.0.1:{SOURCE_HTTP}/hg/app-hg       (branch default deploys)")
    print(f"    follow a run: {BIN / 'python'} {REPO / 'scripts' / 'chain.py'} follow")
    if hosts:
        say(f"hosts (minions of the master on {hosts.gateway}; docs/hosts.md)")
        hosts.describe()
    if code != 0:
        sys.exit(code)


def _app_addresses(hosts):
    """Where each app server's frontend answers: loopback ports, or each app host's address."""
    if not hosts:
        return {m: f"127.0.0.1:{port}" for m, port in APP_SERVERS.items()}
    import chain_hosts  # pylint: disable=import-outside-toplevel

    ips = {h.minion_id: h.ip for h in hosts.members}
    return {m: f"{ips[m]}:{HOST_APP_PORT}" for m in chain_hosts.app_hosts(hosts.pillar)}


def status(_args):
    say("salt-run chain.status app")
    _salt_run("chain.status", "app", "--log-level=error")
    page, code = _salt_run(
        "chain.status", "app", "out_format=html", "--log-level=error", out="json"
    )
    if code == 0:
        path = STATE / "status.html"
        _write(path, json.loads(page), 0o644)
        say(f"the same as a page: {path}")


def down(_args):
    if _alive(SOCKS / "master.pid"):
        say("removing the chain's containers (volumes and images stay: the next up is quick)")
        _salt("build1", "schedule.delete", "jenkins-agent-reconcile-linux")
        removed = set()  # web1 and web2 share engine 2
        for label in (*LABELS, "org.saltext-chain.jenkins-agent=true"):
            ret, _ = _salt("*", "container.ps", f"labels=['{label}']", "all=True")
            for minion, rows in sorted(ret.items()):
                for name in sorted(rows if isinstance(rows, dict) else {}):
                    if (MINIONS.get(minion), name) not in removed:
                        removed.add((MINIONS.get(minion), name))
                        print(f"    {minion}: {name}")
                        _salt(minion, "container.remove", name, "force=True")
    hosts = (STATE / "hosts.json").exists()
    if hosts:  # after the salt '*' above (the hosts answer it), before the master stops
        import chain_hosts  # pylint: disable=import-outside-toplevel

        chain_hosts.chain_down(STATE, STATE / "master" / "pki")
    for name in ["api", *MINIONS, "master"]:
        pidfile = SOCKS / f"{name}.pid"
        if _alive(pidfile):
            say(f"stopping {name}")
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pidfile) and time.monotonic() < deadline:
                time.sleep(0.2)
    if hosts:  # the master listened on its gateway
        chain_hosts.remove_chain_network()
        (STATE / "hosts.json").unlink()


# ---------------------------------------------------------------------------------------------
# follow: one run, live (chain/run/<id>/... events on the master bus, the build's console)
# ---------------------------------------------------------------------------------------------

FOLLOW_TIMEOUT = 3600


def _master_opts(config_dir):
    import salt.config  # pylint: disable=import-outside-toplevel

    return salt.config.master_config(str(pathlib.Path(config_dir) / "master"))


def _follow_jenkins(opts, details):
    """The Jenkins client and job of the run's pipeline: the app's ``jenkins_profile`` and
    ``jenkins_job`` in the master config (``chain:apps:<app>``), else the pipeline stage's own
    (its ``job`` and ``jenkins_profile``), the profile from ``jenkins:profiles``."""
    # pylint: disable=import-outside-toplevel
    from saltext.chain.utils import chain_jenkins_client, chain_profiles

    app = ((opts.get("chain") or {}).get("apps") or {}).get(details.get("app")) or {}
    profile = app.get("jenkins_profile") or details.get("jenkins_profile")
    job = details.get("job") or app.get("jenkins_job")
    conf = chain_jenkins_client.connection(profile, chain_profiles.config_getter(opts))
    return chain_jenkins_client.Client(conf), job


def _follow_build(client, job, ref, since, stop):
    """The run's build of ``job`` (``chain_follow.build_for``), polled until it appears or the
    pipeline stage ends."""
    # pylint: disable=import-outside-toplevel
    from saltext.chain.utils import chain_follow, chain_jenkins_client

    path = chain_jenkins_client.job_path(job) + "api/json"
    tree = "builds[number,building,result,timestamp,actions[parameters[name,value]]]{0,20}"
    while True:
        stopping = stop.is_set()  # the stage ended: one last look
        data = client.get_json_or_none(path, params={"tree": tree})
        build = chain_follow.build_for(chain_follow.builds_of(data), ref, since)
        if build or stopping:
            return build
        stop.wait(0.5)


def _follow_console(opts, details, stop, out):
    """Print the pipeline's build console as it grows (``logText/progressiveText``: from
    ``X-Text-Size``, while ``X-More-Data``), until the build ends (or, once the stage ended,
    what is left)."""
    # pylint: disable=import-outside-toplevel
    from saltext.chain.utils import chain_follow, chain_jenkins_client

    try:
        client, job = _follow_jenkins(opts, details)
        build = _follow_build(client, job, str(details.get("ref") or ""), details["at"], stop)
        if build is None:
            out("    (no build of the pipeline found for this run)")
            return
        if not build["building"] and build["timestamp"] / 1000 < details["at"] - 1:
            out(f"    {job} #{build['number']}: {build['result']} (built before this run)")
            return
        out(f"    {job} #{build['number']}: console")
        path = f"{chain_jenkins_client.job_path(job)}{build['number']}/logText/progressiveText"
        offset, more = 0, True
        while more:
            resp = client.request("GET", path, params={"start": offset})
            for line in chain_follow.console_lines(resp.text):
                out(line)
            offset = int(resp.headers.get("X-Text-Size") or offset)
            more = resp.headers.get("X-More-Data") == "true"
            if more and stop.wait(0.5) and not resp.text:
                more = False  # the stage ended and nothing more came
    except Exception as err:  # noqa: BLE001 - the console is a bonus: say why, keep following
        out(f"    (the build's console is not available: {str(err).splitlines()[0][:200]})")


def follow(args):
    """Follow one run: the next to start, or ``RUN_ID``; exit code 0 when it succeeded."""
    # pylint: disable=import-outside-toplevel
    import salt.utils.event
    from saltext.chain.utils import chain_follow

    opts = _master_opts(args.config_dir)
    run = chain_follow.Run(args.run_id)
    lock = threading.Lock()

    def out(line):
        with lock:
            print(line, flush=True)

    console, stop = None, threading.Event()
    deadline = time.monotonic() + args.timeout
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        out(f"==> waiting for {'run ' + args.run_id if args.run_id else 'the next run'}")
        while not run.finished and time.monotonic() < deadline:
            event = bus.get_event(wait=0.5, tag=chain_follow.PREFIX, full=True) or {}
            now = time.time()
            if console is not None and run.pipeline and run.ends_pipeline(event.get("tag")):
                stop.set()  # the rest of the console first, then the stage's end
                console.join(30)
            for line in run.feed(event.get("tag"), event.get("data"), now):
                out(line)
            if run.pipeline and console is None:
                console = threading.Thread(
                    target=_follow_console, args=(opts, run.pipeline, stop, out), daemon=True
                )
                console.start()
            if run.stages_over and not run.finished and now - run.stages_over > args.grace:
                for line in run.end_without_done(now):
                    out(line)
    stop.set()
    if not run.finished:
        out(f"==> gave up after {args.timeout:g}s")
        return 1
    return run.code


def _follow_parser(sub):
    cmd = sub.add_parser("follow", help="follow a run: its stages and the build's console")
    cmd.set_defaults(func=follow)
    cmd.add_argument("run_id", nargs="?", help="the run to follow (default: the next to start)")
    cmd.add_argument(
        "-c", "--config-dir", default=str(STATE / "etc"), help="the master configuration directory"
    )
    cmd.add_argument("--timeout", type=float, default=FOLLOW_TIMEOUT, help="seconds")
    cmd.add_argument(
        "--grace",
        type=float,
        default=10,
        help="seconds to wait for the run's end after its last stage (an orchestrate by hand)",
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", up), ("deploy", deploy), ("status", status), ("down", down)):
        cmd = sub.add_parser(name)
        cmd.set_defaults(func=func)
        if name in ("up", "deploy"):
            cmd.add_argument(
                "ref", nargs="?", help="commit to deploy (default: the checkout's newest)"
            )
        if name == "up":
            cmd.add_argument(
                "--hosts", type=int, default=0, help="N Docker-in-Docker hosts (docs/hosts.md)"
            )
    _follow_parser(sub)
    args = parser.parse_args()
    code = args.func(args)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
