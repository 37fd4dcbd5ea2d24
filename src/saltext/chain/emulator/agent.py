#!/usr/bin/env python3
"""Emulated Jenkins inbound agent (stand-alone: Python 3.11 + aiohttp >= 3.8, nothing else).

It honours the ``jenkins/inbound-agent`` contract (``jenkins-agent`` entrypoint of
jenkinsci/docker-agents): ``JENKINS_URL``, ``JENKINS_SECRET``, ``JENKINS_AGENT_NAME`` (or
``JENKINS_NAME``), ``JENKINS_AGENT_WORKDIR``, ``JENKINS_WEB_SOCKET`` and the positional
``<secret> <agent name>`` form (plus agent.jar-style ``-url -secret -name -workDir -webSocket
-noReconnect -noReconnectAfter``; refused connections are retried like agent.jar).

It connects where agent.jar connects in WebSocket mode — ``GET $JENKINS_URL/wsagents/`` with the
``Node-Name``, ``Secret-Key`` and ``X-Remoting-Capability`` headers
(``jenkins/agents/WebSocketAgents.java``) — but the protocol after the upgrade is the emulator's own
JSON messages, not Jenkins remoting.  It runs freestyle ``hudson.tasks.Shell`` steps with
``/bin/sh -xe`` in ``WORKDIR/workspace/JOB`` and archives artifacts back to the controller.

Run it as ``python3 agent.py`` or ``jenkins-emulator agent``.
"""

import argparse
import asyncio
import base64
import contextlib
import os
import re
import shlex
import signal
import sys
import tempfile
import time

import aiohttp

CAPABILITY = (
    "<===[JENKINS REMOTING CAPACITY]===>"
    "rO0ABXNyABpodWRzb24ucmVtb3RpbmcuQ2FwYWJpbGl0eQAAAAAAAAABAgABSgAEbWFza3hwAAAAAAAAAf4="
)
CHUNK = 512 * 1024
DEFAULT_EXCLUDES = [
    "**/*~",
    "**/#*#",
    "**/.#*",
    "**/%*%",
    "**/._*",
    "**/CVS",
    "**/CVS/**",
    "**/.cvsignore",
    "**/.svn",
    "**/.svn/**",
    "**/.git",
    "**/.git/**",
    "**/.gitignore",
    "**/.gitmodules",
    "**/.hg",
    "**/.hg/**",
    "**/.DS_Store",
]


def log(msg):
    print(f"INFO: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ Ant-style patterns


def _segment(seg):
    out = []
    for ch in seg:
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def ant_regex(pattern):
    pattern = pattern.strip().replace("\\", "/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.endswith("/"):
        pattern += "**"
    segments = [s for s in pattern.split("/") if s != ""]
    out = ""
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            out += ".*" if last else "(?:.*/)?"
        else:
            out += _segment(seg) + ("" if last else "/")
    return re.compile("^" + out + "$")


def split_patterns(text):
    return [p.strip() for p in re.split(r"[,\s]+", text or "") if p.strip()]


def find_files(base, includes, excludes, default_excludes=True):
    inc = [ant_regex(p) for p in split_patterns(includes)]
    exc = [ant_regex(p) for p in split_patterns(excludes)]
    if default_excludes:
        exc += [ant_regex(p) for p in DEFAULT_EXCLUDES]
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, base).replace(os.sep, "/")
            if any(r.match(rel) for r in inc) and not any(r.match(rel) for r in exc):
                if os.path.isfile(full):
                    found.append(rel)
    return found


# ------------------------------------------------------------------ build execution


class BuildRun:
    """Runs one build spec; ``emit`` is an async callable receiving JSON-able messages."""

    def __init__(self, spec, workdir, emit, base_env=None):
        self.spec = spec
        self.workdir = workdir
        self.emit = emit
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.proc = None
        self.aborted = False

    async def log(self, text):
        await self.emit({"type": "log", "build": self.spec["id"], "text": text})

    def abort(self):
        self.aborted = True
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass

    async def run(self):
        spec = self.spec
        workspace = os.path.join(self.workdir, "workspace", *spec["job"].split("/"))
        os.makedirs(workspace, exist_ok=True)
        await self.log(f"{spec.get('header', 'Building')} in workspace {workspace}\n")
        env = {k: v for k, v in self.base_env.items() if k != "JENKINS_SECRET"}
        env.update(spec.get("env") or {})
        env["WORKSPACE"] = workspace
        env["WORKSPACE_TMP"] = workspace + "@tmp"
        result = "SUCCESS"
        for step in spec.get("steps") or []:
            if self.aborted:
                break
            if step["type"] == "shell":
                code = await self.shell(step["command"], workspace, env)
                if self.aborted:
                    break
                if code != 0:
                    unstable = step.get("unstableReturn")
                    if unstable is not None and unstable == code:
                        await self.log("Build step 'Execute shell' marked build as unstable\n")
                        result = "UNSTABLE"
                        continue
                    await self.log("Build step 'Execute shell' marked build as failure\n")
                    result = "FAILURE"
                    break
            else:
                await self.log(
                    f"WARNING: build step {step.get('class')} is not supported by the Jenkins "
                    "emulator; skipped\n"
                )
        if self.aborted:
            return "ABORTED"
        for archiver in spec.get("archivers") or []:
            if archiver.get("onlyIfSuccessful") and result not in ("SUCCESS", "UNSTABLE"):
                await self.log("Skipped archiving because build is not successful\n")
                continue
            await self.log("Archiving artifacts\n")
            files = find_files(
                workspace,
                archiver.get("artifacts"),
                archiver.get("excludes"),
                archiver.get("defaultExcludes", True),
            )
            if not files:
                message = (
                    "No artifacts found that match the file pattern "
                    f'"{archiver.get("artifacts")}". Configuration error?'
                )
                if archiver.get("allowEmptyArchive"):
                    await self.log(message + "\n")
                    continue
                await self.log(f"ERROR: Step ‘Archive the artifacts’ failed: {message}\n")
                result = "FAILURE"
                continue
            for rel in files:
                await self.upload(workspace, rel)
        return result

    async def upload(self, workspace, rel):
        path = os.path.join(workspace, rel)
        offset = 0
        with open(path, "rb") as handle:
            while True:
                data = handle.read(CHUNK)
                last = len(data) < CHUNK
                await self.emit(
                    {
                        "type": "artifact",
                        "build": self.spec["id"],
                        "path": rel,
                        "offset": offset,
                        "data": base64.b64encode(data).decode("ascii"),
                        "last": last,
                    }
                )
                offset += len(data)
                if last:
                    break

    async def shell(self, command, workspace, env):
        """Run a shell step as Jenkins 2.568.2 does (core/src/main/java/hudson/tasks/
        CommandInterpreter.java ``perform``): the script in the agent's temporary directory
        (``createScriptFile``: ``createTextTempFile("jenkins", ".sh", ..., false)``, i.e.
        java.io.tmpdir), deleted in a ``finally`` however the step ends (an abort included)."""
        command = command.replace("\r\n", "\n")
        fd, script = tempfile.mkstemp(prefix="jenkins", suffix=".sh")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(command)
            os.chmod(script, 0o700)
            return await self._run_script(command, script, workspace, env)
        except asyncio.CancelledError:
            self.abort()  # the agent is stopping: the step's processes go with it
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(script)

    async def _run_script(self, command, script, workspace, env):
        if command.startswith("#!"):
            first = command.splitlines()[0][2:].strip()
            args = shlex.split(first) + [script]
        else:
            args = ["/bin/sh", "-xe", script]
        await self.log(f"[{os.path.basename(workspace)}] $ {' '.join(args)}\n")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=workspace,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            await self.log(f'java.io.IOException: Cannot run program "{args[0]}": {exc}\n')
            return 1
        pending = b""
        while True:
            chunk = await self.proc.stdout.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                await self.log(line.decode("utf-8", "replace") + "\n")
        if pending:
            await self.log(pending.decode("utf-8", "replace") + "\n")
        return await self.proc.wait()


# ------------------------------------------------------------------ connection


class Agent:
    def __init__(
        self,
        url,
        secret,
        name,
        workdir=None,
        websocket=True,
        no_reconnect=False,
        no_reconnect_after=None,
    ):
        self.url = url if url.endswith("/") else url + "/"
        self.no_reconnect = no_reconnect
        self.no_reconnect_after = no_reconnect_after
        self.secret = secret
        self.name = name
        self.workdir = workdir
        self.websocket = websocket
        self.runs = {}
        self.send_lock = asyncio.Lock()
        self.ws = None
        self.cookie = None

    def headers(self):
        headers = {
            "Node-Name": self.name,
            "Secret-Key": self.secret,
            "X-Remoting-Capability": CAPABILITY,
        }
        if self.cookie:
            # like remoting's Engine in WebSocket mode: present the Connection-Cookie of the last
            # handshake, so that the controller replaces a channel it still believes alive
            # (DefaultJnlpSlaveReceiver.afterProperties) instead of refusing the reconnect
            headers["Connection-Cookie"] = self.cookie
        return headers

    async def run_forever(self):
        """remoting's ``Engine.runWebSocket``: every failed connection, a refused handshake
        (unknown or deleted node, wrong secret) included, is retried with ``ExponentialRetry``
        (``succeedsWithRetries``) until ``-noReconnectAfter`` has passed, then the agent bails
        out; a closed channel reconnects at once unless ``-noReconnect``."""
        ws_url = self.url + "wsagents/"
        async with aiohttp.ClientSession() as session:
            while True:
                retry = ExponentialRetry(self.no_reconnect_after)
                while True:
                    try:
                        log(f"Connecting to {ws_url} as {self.name}")
                        async with session.ws_connect(
                            ws_url,
                            headers=self.headers(),
                            heartbeat=10,
                            max_msg_size=64 * 1024 * 1024,
                        ) as ws:
                            handshake = getattr(ws, "_response", None)  # aiohttp 3.8 .. 3.12
                            if handshake is not None and handshake.headers.get("Connection-Cookie"):
                                self.cookie = handshake.headers["Connection-Cookie"]
                            await self.serve(ws)
                        break
                    except aiohttp.WSServerHandshakeError as exc:
                        detail = await self.refusal_detail(session, ws_url)
                        log(
                            "Failed to connect: The server rejected the connection: "
                            f"HTTP {exc.status} {detail}"
                        )
                    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                        log(f"Failed to connect to {self.url}: {exc!r}")
                    delay = retry.next_delay()
                    if delay is None:
                        log(f"Bailing out after {self.no_reconnect_after:g} s")
                        return 1
                    log(f"Waiting {delay:g} seconds before retry")
                    await asyncio.sleep(delay)
                log("Terminated")
                if self.no_reconnect:
                    return 0
                log("Connection closed; reconnecting")

    async def refusal_detail(self, session, url):
        try:
            async with session.get(url, headers=self.headers()) as resp:
                text = (await resp.text()).strip()
                return text[:300] or resp.reason or ""
        except (aiohttp.ClientError, OSError):
            return ""

    async def send(self, msg):
        async with self.send_lock:
            if self.ws is not None and not self.ws.closed:
                await self.ws.send_json(msg)

    async def serve(self, ws):
        self.ws = ws
        log("Connected")
        workdir = self.workdir
        executors = asyncio.Semaphore(1)
        tasks = set()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = msg.json()
                kind = data.get("type")
                if kind == "hello":
                    workdir = self.workdir or data.get("remoteFS") or os.getcwd()
                    os.makedirs(workdir, exist_ok=True)
                    executors = asyncio.Semaphore(max(1, int(data.get("numExecutors", 1))))
                    await self.send({"type": "hello", "workdir": os.path.abspath(workdir)})
                elif kind == "build":
                    task = asyncio.ensure_future(self.run_build(data, workdir, executors))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif kind == "abort":
                    run = self.runs.get(data.get("build"))
                    if run is not None:
                        run.abort()
        finally:
            for run in list(self.runs.values()):
                run.abort()
            for task in list(tasks):
                task.cancel()
            self.ws = None

    async def run_build(self, spec, workdir, executors):
        async with executors:
            run = BuildRun(spec, workdir, self.send)
            self.runs[spec["id"]] = run
            try:
                result = await run.run()
            except Exception as exc:  # report, never kill the connection
                await run.log(f"FATAL: {exc!r}\n")
                result = "FAILURE"
            finally:
                self.runs.pop(spec["id"], None)
            await self.send({"type": "result", "build": spec["id"], "result": result})


def _truthy(value):
    return str(value or "").strip().lower() in ("true", "1", "yes", "on")


def build_parser():
    parser = argparse.ArgumentParser(prog="agent.py", description="Emulated Jenkins inbound agent")
    parser.add_argument("-url", "--url", dest="url")
    parser.add_argument("-secret", "--secret", dest="secret")
    parser.add_argument("-name", "--name", dest="name")
    parser.add_argument("-workDir", "--workdir", dest="workdir")
    parser.add_argument("-webSocket", "--websocket", dest="websocket", action="store_true")
    parser.add_argument("-noReconnect", "-noreconnect", dest="no_reconnect", action="store_true")
    parser.add_argument("-noReconnectAfter", dest="no_reconnect_after", type=parse_duration)
    parser.add_argument("positional", nargs="*", help="<secret> <agent name>")
    return parser


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 0.001}


def parse_duration(text):
    """remoting's ``DurationOptionHandler`` (``DurationStyle.SIMPLE``): ``<n><unit>`` with unit
    ms, s, m, h or d; no unit means milliseconds. Returns seconds."""
    match = re.fullmatch(r"\+?(\d+)([a-zA-Z]{0,2})", str(text).strip())
    if not match or match.group(2).lower() not in _DURATION_UNITS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a valid simple duration")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]


class ExponentialRetry:
    """remoting's ``Engine.ExponentialRetry``: the first attempt at once, then waits of
    ``min(10 s, previous * 2 + 1 s)`` (1, 3, 7, 10, 10, ... s) until ``timeout`` (seconds since
    the first attempt; None = forever) is exceeded."""

    def __init__(self, timeout=None):
        self.beginning = time.monotonic()
        self.timeout = timeout
        self.delay = 0.0

    def next_delay(self):
        """The wait before the next attempt, or None to bail out."""
        self.delay = min(10.0, self.delay * 2 + 1.0)
        if self.timeout is not None and time.monotonic() - self.beginning > self.timeout:
            return None
        return self.delay


def expand_at_files(argv):
    """agent.jar parses its options with args4j, whose "@ syntax" replaces an argument ``@FILE``
    by the lines of FILE (one argument per line): ``-secret @secret-file`` is how Jenkins'
    agent page shows a secret kept out of the command line. A file that cannot be read stops
    the agent (args4j: ``CmdLineException``)."""
    out = []
    for arg in argv:
        if arg.startswith("@") and len(arg) > 1:
            path = arg[1:]
            try:
                with open(path, encoding="utf-8") as handle:
                    out.extend(handle.read().splitlines())
            except OSError as exc:
                raise SystemExit(f"cannot read the argument file {path}: {exc.strerror}") from None
        else:
            out.append(arg)
    return out


def resolve_settings(argv=None, environ=None):
    env = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    # the official image's entrypoint passes JENKINS_SECRET on as "-secret $JENKINS_SECRET", so
    # JENKINS_SECRET=@FILE is read from FILE as well
    env_secret = env.get("JENKINS_SECRET")
    if env_secret and env_secret.startswith("@") and len(env_secret) > 1:
        env_secret = (expand_at_files([env_secret]) or [""])[0]
        env = dict(env, JENKINS_SECRET=env_secret)
    args = build_parser().parse_args(expand_at_files(argv))
    if args.no_reconnect and args.no_reconnect_after is not None:
        raise SystemExit(
            'option "-noReconnectAfter" cannot be used with the option(s) [-noReconnect]'
        )
    secret, name = args.secret, args.name
    if args.positional:
        if len(args.positional) != 2:
            raise SystemExit("usage: agent.py [options] <secret> <agent name>")
        if secret or env.get("JENKINS_SECRET"):
            log("WARNING: secret is defined twice, in the command line and in the environment")
        secret, name = args.positional
    url = args.url or env.get("JENKINS_URL")
    secret = secret or env.get("JENKINS_SECRET")
    name = name or env.get("JENKINS_AGENT_NAME") or env.get("JENKINS_NAME")
    workdir = args.workdir or env.get("JENKINS_AGENT_WORKDIR")
    websocket = args.websocket or _truthy(env.get("JENKINS_WEB_SOCKET"))
    missing = [
        k
        for k, v in (("JENKINS_URL", url), ("JENKINS_SECRET", secret), ("JENKINS_AGENT_NAME", name))
        if not v
    ]
    if missing:
        raise SystemExit("missing " + ", ".join(missing))
    if not websocket:
        log(
            "WARNING: the emulated agent only connects over WebSocket "
            "(as with JENKINS_WEB_SOCKET=true)"
        )
    for unsupported in (
        "JENKINS_TUNNEL",
        "JENKINS_DIRECT_CONNECTION",
        "JENKINS_INSTANCE_IDENTITY",
        "JENKINS_PROTOCOLS",
    ):
        if env.get(unsupported):
            log(f"WARNING: {unsupported} is ignored by the emulated agent")
    return url, secret, name, workdir, websocket, args.no_reconnect, args.no_reconnect_after


def main(argv=None):
    agent = Agent(*resolve_settings(argv))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(agent.run_forever())
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return loop.run_until_complete(task) or 0
    except asyncio.CancelledError:
        log("Stopped")
        return 0
    finally:
        # the steps still running end as cancelled, their finally blocks run (a step's script
        # is deleted, as Jenkins' CommandInterpreter does in its finally); bounded, so a step
        # whose clean-up hangs cannot keep a stopped agent alive
        pending = asyncio.all_tasks(loop)
        for left in pending:
            left.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=3))
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
