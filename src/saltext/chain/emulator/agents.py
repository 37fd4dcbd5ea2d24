"""Inbound agents over WebSocket: ``GET /wsagents/`` and build dispatch.

The handshake follows ``jenkins/agents/WebSocketAgents.java``: headers ``Node-Name``,
``Secret-Key`` and ``X-Remoting-Capability`` are required (else 400 "This endpoint is only for
use from agent.jar in WebSocket mode"), an unknown agent -> 400 "no such agent", a wrong secret ->
403, a refused connection (already connected, not an inbound agent) -> 400 with the reason
(``jenkins/slaves/DefaultJnlpSlaveReceiver.java``); the answer carries ``X-Remoting-Capability``,
``X-Remoting-Minimum-Version`` and ``Connection-Cookie``.  After the upgrade the emulator speaks
its own JSON messages (not Jenkins remoting).
"""

import asyncio
import base64
import hmac
import json
import secrets
import time

from aiohttp import WSMsgType, web

from . import configxml
from .agent import BuildRun

CAPABILITY = (
    "<===[JENKINS REMOTING CAPACITY]===>"
    "rO0ABXNyABpodWRzb24ucmVtb3RpbmcuQ2FwYWJpbGl0eQAAAAAAAAABAgABSgAEbWFza3hwAAAAAAAAAf4="
)
MINIMUM_REMOTING = "3107.v665000b_51092"


class Connection:
    def __init__(self, name, ws, cookie=None):
        self.name = name
        self.ws = ws
        self.cookie = cookie
        self.workdir = None
        self.lock = asyncio.Lock()

    async def send(self, msg):
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(msg))


class Agents:
    def __init__(self, ctl):
        self.ctl = ctl
        self.connections = {}
        self.local_runs = {}

    def connected(self, name):
        return name in self.connections

    def remote_path(self, name):
        conn = self.connections.get(name)
        return conn.workdir if conn else None

    def disconnect(self, name):
        conn = self.connections.get(name)
        if conn is not None:
            asyncio.ensure_future(conn.ws.close())

    # ------------------------------------------------------------ dispatch
    def spec(self, build, job):
        ctl = self.ctl
        root = ctl.current_root_url
        steps, archivers = configxml.build_steps(job.root)
        node = build.built_on
        if node == "":
            header = "Building on the built-in node"
        else:
            label = (ctl.nodes.get(node) or {}).get("label") or ""
            header = f"Building remotely on {node}" + (f" ({label})" if label.strip() else "")
        node_labels = " ".join(sorted(ctl.nodes.label_set(node)))
        env = {
            "BUILD_NUMBER": str(build.number),
            "BUILD_ID": str(build.number),
            "BUILD_DISPLAY_NAME": f"#{build.number}",
            "JOB_NAME": build.job,
            "JOB_BASE_NAME": build.job.rsplit("/", 1)[-1],
            "BUILD_TAG": "jenkins-" + build.job.replace("/", "-") + f"-{build.number}",
            "EXECUTOR_NUMBER": str(build.executor),
            "NODE_NAME": node or "built-in",
            "NODE_LABELS": node_labels,
            "JENKINS_URL": root,
            "HUDSON_URL": root,
            "BUILD_URL": build.url(),
            "JOB_URL": job.url(),
            "CI": "true",
        }
        if node == "":
            env["JENKINS_HOME"] = ctl.home
        for pname, value in build.params:
            env[pname] = value
        return {
            "type": "build",
            "id": build.key(),
            "job": build.job,
            "number": build.number,
            "header": header,
            "env": env,
            "steps": steps,
            "archivers": archivers,
        }

    def dispatch(self, build, job):
        spec = self.spec(build, job)
        if build.built_on == "":
            asyncio.ensure_future(self._run_local(build, spec))
            return
        conn = self.connections.get(build.built_on)
        if conn is None:
            self.ctl.builds.finish(build, "FAILURE")
            return
        build.channel = conn  # the build dies with this channel, not with a later one
        asyncio.ensure_future(conn.send(spec))

    async def _run_local(self, build, spec):
        async def emit(msg):
            self.on_message(msg)

        run = BuildRun(spec, self.ctl.home, emit)
        self.local_runs[build.key()] = run
        try:
            result = await run.run()
        except Exception as exc:  # pragma: no cover - defensive
            build.append_log(f"FATAL: {exc!r}\n")
            result = "FAILURE"
        finally:
            self.local_runs.pop(build.key(), None)
        self.ctl.builds.finish(build, result)

    def abort(self, build):
        run = self.local_runs.get(build.key())
        if run is not None:
            run.abort()
            return
        conn = self.connections.get(build.built_on)
        if conn is not None:
            asyncio.ensure_future(conn.send({"type": "abort", "build": build.key()}))

    def _build_of(self, key):
        return self.ctl.builds.running.get(key)

    def on_message(self, msg):
        kind = msg.get("type")
        build = self._build_of(msg.get("build", ""))
        if build is None:
            return
        if kind == "log":
            build.append_log(msg.get("text", ""))
        elif kind == "artifact":
            try:
                self.ctl.builds.add_artifact(
                    build,
                    msg["path"],
                    base64.b64decode(msg.get("data", "")),
                    int(msg.get("offset", 0)),
                    bool(msg.get("last", True)),
                )
            except (ValueError, KeyError, OSError) as exc:
                build.append_log(f"ERROR: failed to archive {msg.get('path')}: {exc}\n")
        elif kind == "result":
            result = msg.get("result")
            if result not in ("SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"):
                result = "FAILURE"
            self.ctl.builds.finish(build, result)

    # ------------------------------------------------------------ endpoint
    async def handle(self, request):
        ctl = self.ctl
        name = request.headers.get("Node-Name")
        secret = request.headers.get("Secret-Key")
        capability = request.headers.get("X-Remoting-Capability")
        if name is None or secret is None or capability is None:
            return ctl.error_text(
                request, 400, "This endpoint is only for use from agent.jar in WebSocket mode"
            )
        node = ctl.nodes.get(name)
        if node is None or node.get("numExecutors", 1) <= 0:
            return ctl.error_text(request, 400, "no such agent")
        if not hmac.compare_digest(
            secret.encode("ascii", "replace"), ctl.nodes.secret(name).encode("ascii")
        ):
            return ctl.error_text(request, 403, "Forbidden")
        unsafe_cookie = request.headers.get("Connection-Cookie")
        if unsafe_cookie is not None:
            # cookie = Util.toHexString(Util.fromHexString(unsafeCookie)): malformed -> exception
            try:
                cookie = bytes.fromhex(unsafe_cookie).hex()
            except ValueError:
                return ctl.error_text(
                    request, 500, "java.lang.NumberFormatException: bad Connection-Cookie"
                )
        else:
            cookie = secrets.token_hex(32)  # JnlpAgentReceiver.generateCookie
        # DefaultJnlpSlaveReceiver.afterProperties; a ConnectionRefusalException becomes
        # HttpResponses.errorWithoutStack(400, message) in WebSocketAgents.doIndex
        if configxml.launcher_info(node)[0] != configxml.JNLP_LAUNCHER:
            return ctl.error_text(request, 400, f"{name} is not an inbound agent")
        current = self.connections.get(name)
        if current is not None:
            if current.cookie is not None and hmac.compare_digest(current.cookie, cookie):
                # "we think we are currently connected, but this request proves that it's from
                # the party we are supposed to be communicating to": the old channel is
                # disconnected (ConnectionFromCurrentPeer) and this connection accepted
                self.connections.pop(name, None)
                await current.ws.close()
            else:
                return ctl.error_text(
                    request,
                    400,
                    f"{name} is already connected to this controller. Rejecting this connection.",
                )
        ws = web.WebSocketResponse(heartbeat=10, max_msg_size=64 * 1024 * 1024)
        ws.headers["X-Remoting-Capability"] = CAPABILITY
        ws.headers["X-Remoting-Minimum-Version"] = MINIMUM_REMOTING
        ws.headers["Connection-Cookie"] = cookie
        await ws.prepare(request)
        conn = Connection(name, ws, cookie)
        self.connections[name] = conn
        ctl.nodes.offline_causes.pop(name, None)
        try:
            await conn.send(
                {
                    "type": "hello",
                    "name": name,
                    "remoteFS": node.get("remoteFS") or "",
                    "numExecutors": node.get("numExecutors", 1),
                }
            )
            ctl.wake()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        continue
                    if data.get("type") == "hello":
                        conn.workdir = data.get("workdir")
                    else:
                        self.on_message(data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if self.connections.get(name) is conn:
                del self.connections[name]
            if name not in self.connections:  # not replaced by a reconnect from the same peer
                ctl.nodes.offline_causes[name] = {
                    "json": {
                        "_class": "hudson.slaves.OfflineCause$ChannelTermination",
                        "timestamp": int(time.time() * 1000),
                    },
                    "reason": "Connection was broken: java.nio.channels.ClosedChannelException",
                }
            for build in list(ctl.builds.running.values()):
                if build.built_on == name and getattr(build, "channel", None) is conn:
                    build.append_log(
                        "Agent went offline during the build\nERROR: Connection was broken\n"
                    )
                    ctl.builds.finish(build, "FAILURE")
            ctl.wake()
        return ws
