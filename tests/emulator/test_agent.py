"""The emulated inbound agent against the emulator: connection rules, builds, artifacts, labels."""

import subprocess
import sys
import time

import pytest
import requests

from saltext.chain.emulator import testing

from .helpers import (
    create_inbound_node,
    freestyle,
    node_secret,
    run_to_completion,
    wait_for,
    wait_online,
)

pytestmark = pytest.mark.emulator_only

CAPABILITY = "<===[JENKINS REMOTING CAPACITY]===>AAAA"


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/agents/WebSocketAgents.java doIndex")
def test_wsagents_handshake_rules(target, server, name, cleanup):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    url = target.url + "wsagents/"
    # WebSocketAgents is an UnprotectedRootAction: no user auth needed, the secret is the auth
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 400
    assert "only for use from agent.jar in WebSocket mode" in resp.text
    headers = {"Node-Name": "no-such-node", "Secret-Key": "x", "X-Remoting-Capability": CAPABILITY}
    resp = requests.get(url, headers=headers, timeout=10)
    assert resp.status_code == 400 and "no such agent" in resp.text
    headers["Node-Name"] = name
    assert requests.get(url, headers=headers, timeout=10).status_code == 403


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/slaves/SlaveComputer.java; hudson/model/AbstractBuild.java",
)
def test_agent_online_offline_and_build(target, server, name, cleanup, agent_factory, tmp_path):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="linux", executors=1)
    workdir = tmp_path / "wd"
    proc = agent_factory(name, workdir=workdir)
    wait_online(server, name)
    info = server.get_node_info(name)
    assert info["offline"] is False and info["temporarilyOffline"] is False
    server.create_job(
        name,
        freestyle(
            'echo "hello from $NODE_NAME build $BUILD_NUMBER of $JOB_NAME in $WORKSPACE"\n'
            'echo "tag=$BUILD_TAG url=$BUILD_URL exec=$EXECUTOR_NUMBER '
            'jenkins=$JENKINS_URL id=$BUILD_ID"\n'
            "mkdir -p out/sub && echo payload > out/sub/result.txt && echo other > out/b.log",
            label="linux",
            artifacts="out/**/*.txt, out/*.log",
        ),
    )
    build = run_to_completion(server, name)
    assert build["result"] == "SUCCESS"
    assert build["builtOn"] == name
    assert build["number"] == 1
    assert build["url"] == f"{target.url}job/{name}/1/"
    console = server.get_build_console_output(name, 1)
    workspace = str(workdir / "workspace" / name)
    assert f"hello from {name} build 1 of {name} in {workspace}" in console
    assert (
        f"tag=jenkins-{name}-1 url={target.url}job/{name}/1/ exec=0 jenkins={target.url} id=1"
        in console
    )
    assert f"Building remotely on {name} (linux) in workspace {workspace}" in console
    assert "+ echo" in console  # sh -x trace
    assert console.rstrip().endswith("Finished: SUCCESS")
    assert sorted(a["relativePath"] for a in build["artifacts"]) == [
        "out/b.log",
        "out/sub/result.txt",
    ]
    resp = target.session().get(f"{target.url}job/{name}/1/artifact/out/sub/result.txt", timeout=10)
    assert resp.status_code == 200 and resp.text == "payload\n"
    resp = target.session().get(f"{target.url}job/{name}/lastSuccessfulBuild/api/json", timeout=10)
    assert resp.json()["number"] == 1
    job = server.get_job_info(name)
    assert job["color"] == "blue" and job["nextBuildNumber"] == 2
    assert job["lastBuild"]["number"] == 1 and job["lastSuccessfulBuild"]["number"] == 1
    # the agent goes away: the node goes offline
    proc.terminate()
    proc.wait(timeout=10)
    wait_online(server, name, online=False)
    info = server.get_node_info(name)
    assert info["temporarilyOffline"] is False
    assert info["offlineCause"] is not None


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/tasks/ArtifactArchiver.java perform")
def test_failing_step_and_empty_archive(target, server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="fail-" + name)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("echo before\nfalse\necho never", label="fail-" + name))
    build = run_to_completion(server, name)
    assert build["result"] == "FAILURE"
    console = server.get_build_console_output(name, build["number"])
    assert "before" in console and "echo never" not in console
    assert "Build step 'Execute shell' marked build as failure" in console
    assert console.rstrip().endswith("Finished: FAILURE")
    info = server.get_job_info(name)
    assert info["color"] == "red" and info["lastFailedBuild"]["number"] == build["number"]
    server.reconfig_job(name, freestyle("true", label="fail-" + name, artifacts="nothing/*.bin"))
    build = run_to_completion(server, name)
    assert build["result"] == "FAILURE"
    assert (
        'No artifacts found that match the file pattern "nothing/*.bin"'
        in server.get_build_console_output(name, build["number"])
    )
    server.reconfig_job(
        name, freestyle("true", label="fail-" + name, artifacts="nothing/*.bin", allow_empty=True)
    )
    assert run_to_completion(server, name)["result"] == "SUCCESS"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/ParametersAction.java buildEnvironment"
)
def test_parameters_reach_the_shell(server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="param-" + name)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(
        name,
        freestyle(
            'echo "greeting=$GREETING target=$TARGET"',
            label="param-" + name,
            params=[("GREETING", "hello"), ("TARGET", "prod")],
        ),
    )
    build = run_to_completion(server, name, {"GREETING": "salut"})
    assert "greeting=salut target=prod" in server.get_build_console_output(name, build["number"])


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/labels/LabelExpression.java")
def test_label_expressions_route_builds(server, name, cleanup, agent_factory):
    a, b = name + "-a", name + "-b"
    cleanup[1].extend([a, b])
    tag = name[-6:]
    create_inbound_node(server, a, labels=f"linux-{tag} docker-{tag}")
    create_inbound_node(server, b, labels=f"linux-{tag}")
    agent_factory(a)
    agent_factory(b)
    wait_online(server, a)
    wait_online(server, b)
    cases = {
        f"docker-{tag}": a,
        f"linux-{tag} && !docker-{tag}": b,
        f"(linux-{tag} || nothing) && docker-{tag}": a,
        b: b,
    }
    for i, (expr, expected) in enumerate(cases.items()):
        job = f"{name}-{i}"
        cleanup[0].append(job)
        server.create_job(job, freestyle('echo "on $NODE_NAME"', label=expr))
        build = run_to_completion(server, job)
        assert build["builtOn"] == expected, expr


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Queue.java maintain")
def test_executors_bound_concurrency(target, server, name, cleanup, agent_factory, tmp_path):
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="conc-" + name, executors=1)
    agent_factory(name)
    wait_online(server, name)
    jobs = [f"{name}-{i}" for i in range(2)]
    marker = tmp_path / "running"
    for job in jobs:
        cleanup[0].append(job)
        server.create_job(
            job,
            freestyle(
                f"if [ -e {marker} ]; then echo OVERLAP; fi; "
                f"touch {marker}; sleep 0.4; rm -f {marker}",
                label="conc-" + name,
            ),
        )
    qids = [server.build_job(job) for job in jobs]
    time.sleep(0.2)
    waiting = [server.get_queue_item(q) for q in qids]
    assert any(w.get("why") == f"Waiting for next available executor on ‘{name}’" for w in waiting)
    for job, q in zip(jobs, qids, strict=True):
        number = wait_for(lambda q=q: server.get_queue_item(q).get("executable"), what="start")[
            "number"
        ]
        wait_for(
            lambda job=job, n=number: not server.get_build_info(job, n)["building"], what="finish"
        )
        assert "OVERLAP" not in server.get_build_console_output(job, number)


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/console/AnnotatedLargeText.java doProgressiveText "
    "(Stapler LargeText.doProgressText)",
)
def test_progressive_log_while_building(target, server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="prog-" + name)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("echo first; sleep 1; echo second", label="prog-" + name))
    qid = server.build_job(name)
    number = wait_for(lambda: server.get_queue_item(qid).get("executable"), what="start")["number"]
    http = target.session()
    url = f"{target.url}job/{name}/{number}/logText/progressiveText"
    # the echo's output line, not the shell's trace of it ("+ echo first"), which comes first
    # (ci56: the read fell between them, and the rest of the log still held "first")
    resp = wait_for(
        lambda: (lambda r: r if "first" in r.text.splitlines() else None)(
            http.get(url + "?start=0", timeout=10)
        ),
        what="first line",
    )
    assert resp.headers["X-More-Data"] == "true"
    info = server.get_build_info(name, number)
    assert info["building"] is True and info["result"] is None and info["inProgress"] is True
    assert server.get_job_info(name)["color"].endswith("_anime")
    size = int(resp.headers["X-Text-Size"])
    final = wait_for(
        lambda: (lambda r: r if "X-More-Data" not in r.headers else None)(
            http.get(f"{url}?start={size}", timeout=10)
        ),
        what="end of log",
    )
    assert "second" in final.text and "first" not in final.text


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/agents/WebSocketAgents.java doIndex")
def test_wrong_secret_is_refused(target, server, name, cleanup, tmp_path):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    # agent.jar retries a refused handshake until -noReconnectAfter (test below)
    with testing.running_agent(
        target.url,
        "0" * 64,
        name,
        tmp_path / "wd",
        log_path=str(tmp_path / "bad.log"),
        args=["-noReconnectAfter", "1s"],
    ) as proc:
        assert proc.wait(timeout=10) == 1
    log = (tmp_path / "bad.log").read_text()
    assert "HTTP 403" in log
    assert server.get_node_info(name)["offline"] is True


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/slaves/DefaultJnlpSlaveReceiver.java afterProperties"
)
def test_second_connection_for_same_node_is_refused(
    target, server, name, cleanup, agent_factory, tmp_path
):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    agent_factory(name)
    wait_online(server, name)
    with testing.running_agent(
        target.url,
        node_secret(target, name),
        name,
        tmp_path / "wd2",
        log_path=str(tmp_path / "dup.log"),
        args=["-noReconnectAfter", "1s"],
    ) as proc:
        assert proc.wait(timeout=10) == 1
    assert "is already connected to this controller" in (tmp_path / "dup.log").read_text()


def test_positional_arguments_like_the_official_entrypoint(target, server, name, cleanup, tmp_path):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    env = dict(
        testing._env(),
        JENKINS_URL=target.url,
        JENKINS_WEB_SOCKET="true",
        JENKINS_AGENT_WORKDIR=str(tmp_path),
    )
    proc = subprocess.Popen(
        [sys.executable, testing.AGENT_SCRIPT, node_secret(target, name), name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_online(server, name)
    finally:
        testing.stop_process(proc)


def test_secret_from_an_argument_file(target, server, name, cleanup, tmp_path):
    """agent.jar's args4j "@ syntax": ``-secret @FILE`` (and ``JENKINS_SECRET=@FILE``, which the
    official entrypoint hands on as ``-secret``) read the secret from FILE."""
    cleanup[1].append(name)
    create_inbound_node(server, name)
    secret_file = tmp_path / "secret"
    secret_file.write_text(node_secret(target, name) + "\n")
    env = dict(testing._env(), JENKINS_WEB_SOCKET="true")
    args = [
        sys.executable,
        testing.AGENT_SCRIPT,
        "-url",
        target.url,
        "-secret",
        f"@{secret_file}",
        "-name",
        name,
        "-workDir",
        str(tmp_path / "wd"),
        "-webSocket",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_online(server, name)
    finally:
        testing.stop_process(proc)
    wait_online(server, name, online=False)
    env.update(JENKINS_URL=target.url, JENKINS_SECRET=f"@{secret_file}", JENKINS_AGENT_NAME=name)
    proc = subprocess.Popen(
        [sys.executable, testing.AGENT_SCRIPT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_online(server, name)
    finally:
        testing.stop_process(proc)
    missing = subprocess.run(
        args[:4] + ["-secret", f"@{tmp_path / 'nope'}", "-name", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode != 0 and "cannot read the argument file" in missing.stderr


def test_agent_reconnects_after_controller_restart(tmp_path):
    import jenkins

    home = tmp_path / "home"
    port = testing.free_port()
    with testing.running_emulator(home, port=port) as (url, user, token):
        server = jenkins.Jenkins(url, user, token, timeout=10)
        create_inbound_node(server, "rc")
        secret = node_secret(
            type("T", (), {"url": url, "session": lambda self: _sess(user, token)})(), "rc"
        )
        agent_ctx = testing.running_agent(
            url, secret, "rc", tmp_path / "wd", log_path=str(tmp_path / "rc.log")
        )
        agent_ctx.__enter__()
        try:
            wait_online(server, "rc")
        except Exception:
            agent_ctx.__exit__(None, None, None)
            raise
    try:
        with testing.running_emulator(home, port=port, token=token) as (url, user, token):
            server = jenkins.Jenkins(url, user, token, timeout=10)
            wait_online(server, "rc", timeout=15)
            server.create_job("after", freestyle("echo reconnected", label="rc"))
            assert run_to_completion(server, "after")["result"] == "SUCCESS"
    finally:
        agent_ctx.__exit__(None, None, None)


def _sess(user, token):
    sess = requests.Session()
    sess.auth = (user, token)
    return sess


@pytest.mark.jenkins("2.568.2", "core/src/main/java/jenkins/model/Jenkins.java doQuietDown")
def test_running_builds_and_quiet_down(target, server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="run-" + name)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("sleep 0.6", label="run-" + name))
    qid = server.build_job(name)
    number = wait_for(lambda: server.get_queue_item(qid).get("executable"), what="start")["number"]
    running = server.get_running_builds()
    assert {"name": name, "number": number, "node": name} == {
        k: v
        for k, v in next(r for r in running if r["name"] == name).items()
        if k in ("name", "number", "node")
    }
    wait_for(lambda: not server.get_build_info(name, number)["building"], what="finish")
    server.quiet_down()
    try:
        assert server.get_info()["quietingDown"] is True
        qid = server.build_job(name)
        item = wait_for(
            lambda: (lambda i: i if i.get("why") == "Jenkins is about to shut down" else None)(
                server.get_queue_item(qid)
            ),
            what="quiet-down why",
        )
        assert item["_class"] == "hudson.model.Queue$BuildableItem"
    finally:
        target.session().post(target.url + "cancelQuietDown", timeout=10)
    wait_for(
        lambda: server.get_queue_item(qid).get("executable"), what="start after cancelQuietDown"
    )


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/model/Job.java getEstimatedDuration")
def test_fetch_all_builds(server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="all-" + name, executors=2)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("true", label="all-" + name))
    for _ in range(2):
        run_to_completion(server, name)
    info = server.get_job_info(name, fetch_all_builds=True)
    assert [b["number"] for b in info["builds"]] == [2, 1]
    assert info["lastCompletedBuild"]["number"] == 2
    assert server.get_build_info(name, 2)["estimatedDuration"] >= 0


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/Queue.java; "
    "jenkins/model/Messages.properties BlockedBecauseOfBuildInProgress",
)
def test_blocked_while_building_and_concurrent_builds(server, name, cleanup, agent_factory):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="blk-" + name, executors=2)
    agent_factory(name)
    wait_online(server, name)
    server.create_job(name, freestyle("sleep 0.5", label="blk-" + name))
    first = server.build_job(name)
    number = wait_for(lambda: server.get_queue_item(first).get("executable"), what="start")[
        "number"
    ]
    second = server.build_job(name)
    item = wait_for(
        lambda: (lambda i: i if i["_class"].endswith("BlockedItem") else None)(
            server.get_queue_item(second)
        ),
        what="blocked",
    )
    assert item["why"].startswith(f"Build #{number} is already in progress")
    assert item["blocked"] is True
    wait_for(lambda: server.get_queue_item(second).get("executable"), what="second start")
    # concurrentBuild lets both executors work at once
    server.reconfig_job(name, freestyle("sleep 1", label="blk-" + name, concurrent=True))
    wait_for(lambda: not server.get_running_builds(), what="idle")
    numbers = []
    for _ in range(2):
        qid = server.build_job(name)
        numbers.append(
            wait_for(lambda q=qid: server.get_queue_item(q).get("executable"), what="start")[
                "number"
            ]
        )
    assert all(server.get_build_info(name, n)["building"] for n in numbers)
    executors = {server.get_build_info(name, n)["builtOn"] for n in numbers}
    assert executors == {name}


def test_cli_agent_subcommand(target, server, name, cleanup, tmp_path):
    cleanup[1].append(name)
    create_inbound_node(server, name)
    env = dict(
        testing._env(),
        JENKINS_URL=target.url,
        JENKINS_SECRET=node_secret(target, name),
        JENKINS_AGENT_NAME=name,
        JENKINS_AGENT_WORKDIR=str(tmp_path),
        JENKINS_WEB_SOCKET="true",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "saltext.chain.emulator", "agent"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_online(server, name)
    finally:
        testing.stop_process(proc)
    assert proc.returncode == 0
    wait_online(server, name, online=False)


REMOTING = (
    "remoting 3355.3357 (bundled: pom.xml remoting.version), "
    "src/main/java/hudson/remoting/Engine.java runWebSocket, succeedsWithRetries, ExponentialRetry"
)


@pytest.mark.jenkins("2.568.2", REMOTING)
def test_refused_agent_retries_with_backoff_until_its_node_exists(server, target, name, cleanup):
    node = name + "-late"
    cleanup[1].append(node)
    create_inbound_node(server, node)
    secret = node_secret(target, node)
    server.delete_node(node)  # refused from now on (unknown node): agent.jar keeps retrying
    proc = subprocess.Popen(
        [sys.executable, testing.AGENT_SCRIPT, "-url", target.url, "-name", node, "-webSocket"]
        + ["-secret", secret],
        env=testing._env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.5)  # refused at 0 s, 1 s (waits of 1 s, then 3 s)
        assert proc.poll() is None, "the agent exited on a refused handshake"
        create_inbound_node(server, node)  # same name, same secret (HMAC of the name)
        wait_online(server, node, timeout=15)
    finally:
        testing.stop_process(proc)
    err = proc.stderr.read()
    assert "The server rejected the connection" in err and "Waiting 1 seconds before retry" in err


@pytest.mark.jenkins(
    "2.568.2", REMOTING + "; src/main/java/hudson/remoting/Launcher.java -noReconnectAfter"
)
def test_no_reconnect_after_bails_out(target, name):
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, testing.AGENT_SCRIPT, "-url", target.url, "-name", name + "-none"]
        + ["-secret", "0" * 64, "-webSocket", "-noReconnectAfter", "2s"],
        env=testing._env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0 and "Bailing out after 2 s" in out.stderr
    assert 2 <= time.monotonic() - started < 15
    both = subprocess.run(
        [sys.executable, testing.AGENT_SCRIPT, "-url", target.url, "-name", "x", "-secret", "y"]
        + ["-noReconnect", "-noReconnectAfter", "1s"],
        env=testing._env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert both.returncode != 0 and "cannot be used with" in both.stderr


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/tasks/CommandInterpreter.java perform (script.delete() in finally)"
    ', createScriptFile (createTextTempFile("jenkins", ...) in java.io.tmpdir)',
)
def test_an_agent_stopped_mid_step_deletes_the_steps_script_and_stops_its_process(
    target, server, name, cleanup, tmp_path
):
    cleanup[0].append(name)
    cleanup[1].append(name)
    create_inbound_node(server, name, labels="stop-" + name)
    tmp = tmp_path / "tmp"  # the agent's temporary directory (TMPDIR, Python's and Java's)
    tmp.mkdir()
    marker = tmp_path / "still-running"
    ctx = testing.running_agent(
        target.url, node_secret(target, name), name, tmp_path / "wd",
        extra_env={"TMPDIR": str(tmp)},
    )  # fmt: skip
    proc = ctx.__enter__()
    try:
        wait_online(server, name)
        step = f"echo started; sleep 3; touch {marker}"
        server.create_job(name, freestyle(step, label="stop-" + name))
        server.build_job(name)
        wait_for(lambda: list(tmp.glob("jenkins*.sh")), 60, what="the step's script")
        wait_for(
            lambda: "started" in (server.get_build_console_output(name, 1) or "").splitlines(),
            60,
            what="the step running",
        )
    finally:
        ctx.__exit__(None, None, None)
    assert proc.returncode == 0
    assert list(tmp.glob("jenkins*.sh")) == []
    time.sleep(3.5)  # past the step's own end: stopped with the agent, it wrote nothing
    assert not marker.exists()
