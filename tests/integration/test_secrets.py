"""Every secret of the run accounted for: none is readable where a user or another local account
could read it.

The secrets are the integration session's own (tests/integration/conftest.py): the chain
registry's and the CI registry's passwords, the admin tokens of the formula's controller and of
the Jenkins emulator, the push webhook's and the source records' HMAC keys, the source server's
push password, and the inbound agent secret of every node the emulator had. The session before
this module ran the whole chain with them (test_chain_orchestrate: deploys, a failed build, a
commit unhealthy in production; test_chain_rollout: rollbacks; test_agents: pool scale-ups;
test_push_to_production: pushes through hooks, reactor and queue to a deploy). This module adds
an agent scale-up from queue demand and a failed build on that agent, then scans:

- state returns and the master's job cache; the master's, the minions' and salt-api's logs
  (salt-factories runs them at debug level); every event of the master's and the minions' buses
  (the session's capture, tests/support/secret_scan.py ``RECORDER``);
- ``docker inspect`` and ``docker logs`` of every container of the run, each image's inspect
  (labels, config) and history (kept by the recorder from their start: most are gone by now),
  and what exists now;
- the emulator's request log and its builds' consoles; ``state.show_sls`` of every chain and
  jenkins sls; the team page (``chain_page.write`` and its files) and the status page
  (``chain.status out_format=html``); the command line of every process.

Zero hits, in any form (raw, JSON-escaped, URL-encoded, base64). The positive control: a canary
planted in each kind of place (a container's environment and log, an image's label, an event,
a job's arguments and return, a rendered sls, a console, a request path) is found there.
Secret files are 0600/0400 and owned by root (the agent's secret: by the agent's user)."""

import contextlib
import hashlib
import hmac
import json
import os
import pathlib
import secrets
import stat
import time
import urllib.parse
import urllib.request

import pytest

from saltext.chain.emulator import testing
from tests.support import agents, engines, secret_scan

pytestmark = [pytest.mark.integration, pytest.mark.docker]

AGENT_KEY = "jenkins.slaves.JnlpSlaveAgentProtocol.secret"
CHAIN_SLS = ["registry", "source", "jobs", "jenkins", "pipeline", "image", "frontend", "deploy"]
JENKINS_SLS = ["jenkins", "jenkins.controller", "jenkins.pools", "jenkins.clean"]


def _until(func, timeout=90, what="the condition"):
    deadline = time.monotonic() + timeout
    while not (value := func()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)
    return value


def _agent_secrets(home):
    """The inbound agent secret of every node the emulator knew (its request log names them):
    HMAC-SHA256 of the node name with the controller's key, as the emulator makes it."""
    home = pathlib.Path(home)
    key = (home / "secrets" / AGENT_KEY).read_bytes()
    names = {p.name for p in (home / "nodes").glob("*")}
    for entry in testing.request_log(home):
        parts = entry["path"].split("/")
        if len(parts) > 2 and parts[1] == "computer":
            names.add(urllib.parse.unquote(parts[2]))
    names -= {"", "api", "doCreateItem", "createItem", "(built-in)", "(master)"}
    return {n: hmac.new(key, n.encode(), hashlib.sha256).hexdigest() for n in sorted(names)}


@pytest.fixture(scope="module")
def known(
    registry_credentials, chain_registry, controller_settings, jenkins_emulator, push_keys,
    push_user,
):  # fmt: skip
    return {
        "chain registry password": chain_registry["password"],
        "CI registry password": registry_credentials["password"],
        "controller admin token": controller_settings["token"],
        "emulator admin token": jenkins_emulator["token"],
        "webhook key": push_keys["webhook_key"],
        "source record key": push_keys["source_key"],
        "push user password": push_user["password"],
    }


def _job_xml(label, command):
    return (
        f"<project><assignedNode>{label}</assignedNode><canRoam>false</canRoam>"
        "<quietPeriod>0</quietPeriod><builders><hudson.tasks.Shell><command>"
        f"{command}</command></hudson.tasks.Shell></builders></project>"
    )


@pytest.fixture(scope="module")
def scaled(salt_cli, synced, jenkins_emulator):
    """An agent scale-up from queue demand (a pool at min 0 on build1, the emulator's default
    profile) and a failed build on that agent that prints its environment and a canary."""
    image = agents.build_agent_image()
    pool, job = engines.name("sec-pool"), engines.name("sec-job")
    canary = "console-" + secrets.token_hex(12)
    pool_args = [
        f"name={pool}", f"image={image}", f"label={pool}-l", "connect_timeout=60",
        "container_options=" + json.dumps({"network_mode": "host", "labels": engines.owned()}),
    ]  # fmt: skip
    command = f"env | sort; ls -ln /run/jenkins-agent; echo {canary}; exit 1"
    assert salt_cli.run(
        "jenkins.job_create", job, f"config_xml={_job_xml(f'{pool}-l', command)}",
        minion_tgt="build1",
    ).data is True  # fmt: skip
    try:
        salt_cli.run("jenkins.build", job, "wait=False", minion_tgt="build1")
        ret = salt_cli.run(
            "state.single", "jenkins_agent.pool", *pool_args, "min=0", "max=1",
            minion_tgt="build1", _timeout=300,
        )  # fmt: skip
        (state,) = ret.data.values()
        assert state["result"] is True, state["comment"]
        (node,) = state["changes"]["launched"]

        def ended():
            info = salt_cli.run("jenkins.build_info", job, minion_tgt="build1").data
            return isinstance(info, dict) and not info.get("building") and info.get("result")

        assert _until(ended, what="the build on the new agent") == "FAILURE"
        console = salt_cli.run("jenkins.console", job, minion_tgt="build1").data
        assert f"Building remotely on {node}" in console and canary in console, console
        with contextlib.closing(engines.client("engine1")) as client:
            ctr = client.containers.get(node)
            code, out = ctr.exec_run(["stat", "-c", "%a %U", "/run/jenkins-agent/secret"])
            user = ctr.exec_run(["id", "-un"]).output.decode().strip()
        yield {"node": node, "canary": canary, "secret_file": (code, out.decode().strip(), user)}
    finally:
        salt_cli.run("jenkins.job_delete", job, minion_tgt="build1")
        salt_cli.run(
            "state.single", "jenkins_agent.pool", *pool_args, "min=0", "max=0", "idle_minutes=0",
            minion_tgt="build1", _timeout=300,
        )  # fmt: skip


def _plant(salt_cli, master, canaries):
    """A canary in each kind of place the scan reads (the positive control)."""
    with contextlib.closing(engines.client("engine1")) as client:
        ctr = client.containers.run(
            engines.BUSYBOX,
            ["sh", "-c", f"echo {canaries['logs']} | base64; sleep 1"],
            name=engines.name("sec-canary"),
            environment={"PLANTED": canaries["inspect"]},
            labels=engines.LABELS,
            detach=True,
        )
        ctr.wait(timeout=30)
        tag = f"saltext-chain/{engines.name('sec-canary')}:1"
        image = ctr.commit(changes=[f"LABEL planted={urllib.parse.quote(canaries['image'])}"])
        image.tag(*tag.rsplit(":", 1))
        time.sleep(1)  # the recorder inspects on the engine's event
        ctr.remove(force=True, v=True)
        client.images.remove(tag, force=True)
    data = json.dumps({"k": canaries["event"]})
    salt_cli.run("event.send", "saltext-chain/planted", f"data={data}", minion_tgt="build1")
    salt_cli.run("test.echo", canaries["jobs"], minion_tgt="build1")
    sls = master.state_tree.base.temp_file(
        "sec_canary.sls", "planted:\n  test.nop:\n    - value: {{ pillar['planted'] }}\n"
    )
    with sls:
        shown = salt_cli.run(
            "state.show_sls", "sec_canary",
            f"pillar={json.dumps({'planted': canaries['show_sls']})}", minion_tgt="build1",
        )  # fmt: skip
    return shown.stdout


def _show_sls(salt_cli, e2e_chain):
    """``state.show_sls`` of every chain and jenkins sls on build1, with the chain's pillar."""
    pillar = json.loads(json.dumps(e2e_chain["pillar"]))
    pillar["chain"]["ref"] = "0" * 40
    out = {}
    for group in ([f"chain.{s}" for s in CHAIN_SLS], JENKINS_SLS):
        ret = salt_cli.run("state.show_sls", ",".join(group), f"pillar={json.dumps(pillar)}",
                           minion_tgt="build1", _timeout=120)  # fmt: skip
        if not isinstance(ret.data, dict):  # one sls did not render: each on its own
            for sls in group:
                one = salt_cli.run("state.show_sls", sls, f"pillar={json.dumps(pillar)}",
                                   minion_tgt="build1", _timeout=120)  # fmt: skip
                out[sls] = one.stdout + one.stderr
            continue
        out[",".join(group)] = ret.stdout + ret.stderr
    return out


def _places(master, minions, jenkins_emulator):
    """Files a scan reads: ``{kind: [paths]}`` (a daemon's log directory: salt-api's log too)."""
    cache = pathlib.Path(master.config["cachedir"])
    return {
        "jobs": [cache / "jobs"],
        "chain-cache": [cache / "saltext-chain"],
        "master-log": [pathlib.Path(master.config["log_file"]).parent],
        "minion-log": [pathlib.Path(m.config["log_file"]).parent for m in minions],
        "emulator": [jenkins_emulator["home"]],  # its log, request log, consoles, config
    }


def _engines_now():
    """inspect, logs, image inspect and history of this run's objects that exist now."""
    for engine in engines.ENGINES:
        with contextlib.closing(engines.client(engine)) as client:
            api = client.api
            for ctr in api.containers(all=True):
                if engines.RUN in json.dumps(ctr.get("Labels") or {}) + str(ctr.get("Names")):
                    yield from secret_scan.container_texts(api, ctr["Id"])
            for img in api.images():
                if engines.RUN in json.dumps(img.get("RepoTags") or []):
                    yield from secret_scan.image_texts(api, img["Id"])


def _kind(hit):
    """The kind of place of a hit: a recorded or live Docker object or event by its name
    (``engine1:inspect:<name>``, ``event:<tag>``, ``show_sls:<sls>``)."""
    if hit.kind not in ("recorded", "engines-now", "returns"):
        return hit.kind
    where = hit.where
    for engine in engines.ENGINES:
        where = where.removeprefix(f"{engine}:")
    return where.split(":", 1)[0]


def _scan(scanner, master, minions, jenkins_emulator, extra):
    """Scan every place; returns the bytes scanned per kind."""
    for kind, paths in _places(master, minions, jenkins_emulator).items():
        # the emulator's own keys (JENKINS_HOME/secrets, root's 0700 test directory) are no leak
        scanner.scan_all(secret_scan.files(*paths, skip={"secrets"}), kind)
    scanner.scan_all(secret_scan.RECORDER.texts(), "recorded")
    scanner.scan_all(_engines_now(), "engines-now")
    scanner.scan_all(secret_scan.process_cmdlines(), "ps")
    scanner.scan_all(extra.items(), "returns")
    return dict(scanner.scanned)


def test_no_secret_anywhere_a_local_account_reads(
    salt_cli, salt_run_cli, master, build1, web1, salt_api, known, scaled, e2e_chain,
    jenkins_emulator,
):  # fmt: skip
    started = time.monotonic()
    canaries = {k: f"planted-{k}-{secrets.token_hex(10)}" for k in (
        "inspect", "logs", "image", "event", "jobs", "show_sls", "request")}  # fmt: skip
    extra = {"show_sls:planted": _plant(salt_cli, master, canaries)}
    with contextlib.suppress(OSError):  # a request path the controller logs (404 is fine)
        urllib.request.urlopen(
            f"{jenkins_emulator['url']}job/{canaries['request']}/api/json", timeout=10
        )
    for sls, text in _show_sls(salt_cli, e2e_chain).items():
        extra[f"show_sls:{sls}"] = text
    page = salt_run_cli.run("chain_page.write", "refresh=True", _timeout=300)
    status = salt_run_cli.run("chain.status", "out_format=html", _timeout=300)
    extra["page:chain_page.write"] = page.stdout + page.stderr
    extra["status:chain.status"] = status.stdout + status.stderr
    # the control of the sls: the registry's, rendered, names the function that reads pillar
    assert "chain_secrets.registry_htpasswd" in json.dumps(extra), extra.keys()
    minions = [build1, web1]
    agent_secrets = _agent_secrets(jenkins_emulator["home"])
    assert scaled["node"] in agent_secrets, sorted(agent_secrets)

    # one pass over every place: the run's secrets and the planted canaries
    planted = {**{f"canary {k}": v for k, v in canaries.items()}, "console": scaled["canary"]}
    run_secrets = {**known, **{f"agent secret of {n}": s for n, s in agent_secrets.items()}}
    scanner = secret_scan.Scanner({**run_secrets, **planted})
    scanned = _scan(scanner, master, minions, jenkins_emulator, extra)
    print(f"\nscanned (bytes per place): {json.dumps(scanned)}")
    print(f"{len(scanner.patterns)} patterns of {len(run_secrets)} secrets "
          f"and {len(planted)} canaries, {time.monotonic() - started:.1f} s")  # fmt: skip

    # the positive control: each planted canary is found where it was planted
    seen = {}
    for hit in scanner.hits:
        seen.setdefault(hit.secret, set()).add(_kind(hit))
    where = {
        "canary inspect": "inspect", "canary logs": "logs", "canary image": "image",
        "canary event": "event", "canary jobs": "jobs", "canary show_sls": "show_sls",
        "canary request": "emulator", "console": "emulator",
    }  # fmt: skip
    missing = {k: v for k, v in where.items() if v not in seen.get(k, set())}
    logs = {"master-log", "minion-log"} - set().union(*seen.values())
    assert not missing and not logs, (missing, logs, seen)

    # the run's secrets: nowhere
    found = [h for h in scanner.hits if h.secret in run_secrets]
    assert found == [], "secrets found:\n" + "\n".join(
        f"{h.where}: {h.secret} ({h.form})" for h in found
    )

    # secret files: 0600/0400, root's; the agent's secret file its own user's, 0400
    code, mode_user, agent_user = scaled["secret_file"]
    assert code == 0 and mode_user == f"400 {agent_user}", (code, mode_user, agent_user)
    auth = pathlib.Path(build1.config["cachedir"]) / "saltext-chain"
    htpasswd = sorted(auth.glob("*-registry-auth/htpasswd"))
    print(f"secret files: {len(htpasswd)} registry htpasswd file(s) and the agent's")
    others = [p for p in (pathlib.Path(os.path.expanduser("~/.docker/config.json")),) if p.exists()]
    assert secret_scan.loose_modes(htpasswd + others) == []
    for path in htpasswd:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path
    sources = sorted(auth.glob("*-source-auth/htpasswd"))  # documented: the web server's group
    assert secret_scan.loose_modes(sources, modes=(0o640,)) == []
    assert all(p.stat().st_gid == 33 for p in sources), sources


def test_the_report_names_the_place_never_the_value(known):
    scanner = secret_scan.Scanner(known)
    scanner.scan("planted:report", json.dumps({"password": known["chain registry password"]}))
    assert scanner.report() == "planted:report: chain registry password (raw)"
    assert all(v not in scanner.report() for v in known.values())
