"""The aiohttp application: request dispatch, security filter, root pages and ``scriptText``.

Every response carries ``X-Jenkins``, ``X-Hudson`` and ``X-Jenkins-Session``
(``hudson/Functions.java`` ``advertiseHeaders``, ``hudson/model/Api.java``).  Error conventions:
``hudson.model.Failure`` -> 400 + ``X-Error`` (``hudson/model/Failure.java``,
``AbstractModelObject/error.jelly``); ``HttpResponses.errorWithoutStack`` -> plain status +
message.  Header values are sent the way Jetty writes them: characters outside ISO-8859-1 (such
as Jenkins' ‘ ’ quotes) become a space (Jetty ``HttpGenerator.putSanitisedValue``); the HTML body
keeps the exact text.
"""

import asyncio
import contextvars
import html
import json
import os
import re
import secrets
import time
from urllib.parse import quote, quote_plus, unquote

from aiohttp import web
from multidict import CIMultiDict

from . import agents, builds, jobs, nodes, plugins, queue, security, store, views
from .api import json_response

JENKINS_VERSION = "2.568.2"
HUDSON_VERSION = "1.395"

_root_url = contextvars.ContextVar("root_url", default=None)


def sanitize_header(value):
    """Jetty ``HttpGenerator.putSanitisedValue``: CR, LF and chars above 0xFF become a space."""
    return "".join(" " if (ord(c) > 0xFF or c in "\r\n") else c for c in value)


class Controller:
    def __init__(
        self,
        home,
        host="127.0.0.1",
        port=8080,
        root_url=None,
        admin_user="admin",
        admin_token=None,
        admin_password=None,
        plugin_specs=(),
        builtin_executors=0,
        builtin_labels="",
        quiet_period=0.0,
        version=JENKINS_VERSION,
    ):
        self.home = os.path.abspath(home)
        os.makedirs(self.home, exist_ok=True)
        self.host = host
        self.port = port
        self.configured_root_url = (root_url.rstrip("/") + "/") if root_url else None
        self.version = version
        self.session_id = secrets.token_hex(4)
        self.builtin_executors = builtin_executors
        self.builtin_labels = builtin_labels
        self.builtin_offline = None
        self.quieting_down = False
        self.quiet_period = quiet_period
        instance_key = store.secret_key(self.home, "emulator.key")
        cookie = "JSESSIONID." + instance_key.hex()[:8]
        self.security = security.Security(
            admin_user, admin_token, admin_password, instance_key, cookie
        )
        self.plugins = plugins.Plugins(plugin_specs, version)
        self.nodes = nodes.Nodes(self)
        self.agents = agents.Agents(self)
        self.jobs = jobs.Jobs(self)
        self.builds = builds.Builds(self)
        self.queue = queue.Queue(self)
        self.views = views.Views(self)
        self._event = None
        self._task = None
        os.makedirs(os.path.join(self.home, "logs"), exist_ok=True)
        self.request_log_path = os.path.join(self.home, "logs", "requests.log")

    # ------------------------------------------------------------ URLs
    @property
    def default_root_url(self):
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def current_root_url(self):
        return self.configured_root_url or _root_url.get() or self.default_root_url

    def root_url_for(self, request):
        if self.configured_root_url:
            return self.configured_root_url
        return f"{request.scheme}://{request.host}/"

    def agent_url(self, request):
        return self.current_root_url

    def computer_url(self, name):
        return "computer/" + (quote(name, safe="") if name else "(built-in)") + "/"

    # ------------------------------------------------------------ scheduler
    def wake(self):
        if self._event is not None:
            self._event.set()

    async def _scheduler(self):
        while True:
            try:
                await asyncio.wait_for(self._event.wait(), timeout=0.1)
            except TimeoutError:
                pass
            self._event.clear()
            try:
                self.queue.maintain()
            except Exception as exc:  # keep scheduling whatever happens
                print(f"scheduler error: {exc!r}", flush=True)

    def log_request(self, entry):
        with open(self.request_log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    async def on_startup(self, app):
        self._event = asyncio.Event()
        self._task = asyncio.ensure_future(self._scheduler())

    async def on_shutdown(self, app):
        for conn in list(self.agents.connections.values()):
            await conn.ws.close()
        if self._task is not None:
            self._task.cancel()

    # ------------------------------------------------------------ responses
    def headers(self):
        return {
            "X-Jenkins": self.version,
            "X-Hudson": HUDSON_VERSION,
            "X-Jenkins-Session": self.session_id,
            "X-Content-Type-Options": "nosniff",
        }

    def html_page(self, request, title, status=200):
        body = (
            "<!DOCTYPE html><html><head><title>"
            + html.escape(f"{title} [Jenkins]")
            + "</title></head><body><h1>"
            + html.escape(title)
            + "</h1></body></html>"
        )
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")

    def failure(self, request, message, status=400):
        body = (
            "<!DOCTYPE html><html><head><title>Jenkins</title></head><body><h1>Error</h1><p>"
            + html.escape(message)
            + "</p></body></html>"
        )
        return web.Response(
            status=status,
            text=body,
            content_type="text/html",
            charset="utf-8",
            headers={"X-Error": sanitize_header(message)},
        )

    def error_text(self, request, status, message):
        body = (
            f"<html><head><title>Error {status} {html.escape(message)}</title></head>"
            f"<body><h2>HTTP ERROR {status} {html.escape(message)}</h2></body></html>"
        )
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")

    def nothing_submitted(self, request):
        return self.error_text(request, 400, "Nothing is submitted")

    def not_found(self, request):
        return self.html_page(request, "Not Found", status=404)

    def redirect(self, request, path, status=302):
        """Stapler ``ResponseImpl.sendRedirect(int, url)`` makes a path absolute from the request
        (``req.getScheme()://req.getServerName():port`` + the context path), and Jetty does the
        same for 302s: the ``Location`` is **not** the configured root URL."""
        location = f"{request.scheme}://{request.host}/" + path.lstrip("/")
        return web.Response(status=status, headers={"Location": location})

    async def form(self, request):
        ctype = request.content_type or ""
        if ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith("multipart/"):
            return await request.post()
        return {}

    # ------------------------------------------------------------ security filter
    def anonymous_denied(self, request):
        """``hudson/security/HudsonAuthenticationEntryPoint.java`` ``commence`` (2.568.2): a bare
        403 for ``X-Requested-With: XMLHttpRequest``; else 403, the advertised headers, the
        ``AccessDeniedException3.reportAsHeaders`` headers (one ``X-Permission-Implied-By`` per
        link of ``Hudson.Read`` -> ``GenericRead`` -> ``Administer``) and a body written by
        ``Util.printRedirect`` + ``AccessDeniedException3.report``."""
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":
            return web.Response(status=403)
        uri_from = request.raw_path.split("?", 1)[0]
        if request.query_string:
            uri_from += "?" + request.query_string
        login = html.escape("/login?from=" + quote_plus(uri_from, safe="*"), quote=True)
        body = (
            f"<html><head><meta http-equiv='refresh' content='1;url={login}'/>"
            f"<script id='redirect' data-redirect-url='{login}' "
            f"src='/static/{self.session_id}/scripts/redirect.js'></script></head>"
            "<body style='background-color:white; color:white;'>\n"
            "Authentication required\n<!--\n"
            "You are authenticated as: anonymous\nGroups that you are in:\n  anonymous\n"
            "Permission you need to have (but didn't): hudson.model.Hudson.Read\n"
            " ... which is implied by: hudson.security.Permission.GenericRead\n"
            " ... which is implied by: hudson.model.Hudson.Administer\n"
            "-->\n\n</body></html>" + " " * 300
        )
        headers = CIMultiDict(
            [
                ("X-You-Are-Authenticated-As", "anonymous"),
                (
                    "X-You-Are-In-Group-Disabled",
                    "JENKINS-39402: use "
                    "-Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true "
                    "or use /whoAmI to diagnose",
                ),
                ("X-Required-Permission", "hudson.model.Hudson.Read"),
                ("X-Permission-Implied-By", "hudson.security.Permission.GenericRead"),
                ("X-Permission-Implied-By", "hudson.model.Hudson.Administer"),
            ]
        )
        return web.Response(
            status=403, text=body, content_type="text/html", charset="utf-8", headers=headers
        )

    def unauthorized(self, request, message):
        """``jenkins/security/BasicHeaderProcessor.java`` ``fail`` -> Spring's
        ``BasicAuthenticationEntryPoint``: 401, ``WWW-Authenticate``, the exception message."""
        body = (
            "<html><head><title>Error 401 Unauthorized</title></head><body><h2>HTTP ERROR 401 "
            f"{html.escape(message)}</h2></body></html>"
        )
        # ISO-8859-1, as the error page is written; what it cannot encode (a user name in
        # another script) becomes "?", as Java's encoder writes it (never an error)
        resp = web.Response(
            status=401,
            body=body.encode("iso-8859-1", "replace"),
            content_type="text/html",
            charset="iso-8859-1",
            headers={"WWW-Authenticate": 'Basic realm="Jenkins"'},
        )
        resp["no_advertise"] = True
        return resp

    async def authenticate(self, request):
        """Returns ``(user, via, response_or_None)``."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            user, via = self.security.check_basic(header)
            if via == "bad":
                decoded = security.decode_basic(header)
                if ":" in decoded:
                    message = "Invalid password/token for user: " + decoded.split(":", 1)[0]
                else:
                    message = "Malformed HTTP basic Authorization header"
                return None, "bad", self.unauthorized(request, message)
            return user, via, None
        sid = request.cookies.get(self.security.cookie_name)
        user = self.security.session_user(sid)
        if user:
            return user, "session", None
        return None, None, None

    async def check_crumb(self, request, user):
        """``CrumbFilter.doFilter``/``extractCrumbFromRequest`` (2.568.2): the ``Jenkins-Crumb``
        header, else a request parameter of that name (query string or form).  The ``.crumb``
        fallback's result is discarded there, so ``.crumb`` never validates a request."""
        sid = request.cookies.get(self.security.cookie_name)
        value = request.headers.get(security.CRUMB_FIELD)
        if value is None:
            value = request.query.get(security.CRUMB_FIELD)
        if value is None:
            form = await self.form(request)
            value = form.get(security.CRUMB_FIELD)
        return self.security.valid_crumb(user, sid, value)

    # ------------------------------------------------------------ dispatch
    async def dispatch(self, request):
        _root_url.set(self.root_url_for(request))
        raw = request.raw_path.split("?", 1)[0]
        segments = [unquote(s) for s in raw.split("/")[1:]]
        head = segments[0] if segments else ""
        if head == "wsagents":
            return await self.agents.handle(request)
        if head == "whoAmI":
            # hudson/security/WhoAmI.java implements UnprotectedRootAction: anonymous may read it
            user, via, response = await self.authenticate(request)
            if response is not None:
                return response
            if segments[1:3] == ["api", "json"]:
                return json_response(request, lambda depth: self.whoami_json(user))
            return self.html_page(request, "Who Am I")
        if head in ("login", "jnlpJars", "static", "adjuncts", "favicon.ico", "robots.txt"):
            if head == "jnlpJars":
                return self.not_found(request)
            return self.html_page(request, "Sign in")
        user, via, response = await self.authenticate(request)
        if response is not None:
            return response
        if user is None:
            return self.anonymous_denied(request)
        request["user"] = user
        request["via"] = via
        if request.method == "POST" and via != "token":
            if not await self.check_crumb(request, user):
                return self.error_text(request, 403, "No valid crumb was included in the request")
        return await self.route(request, segments)

    async def route(self, request, segments):
        while len(segments) > 1 and segments[-1] == "":
            segments = segments[:-1]
        head = segments[0] if segments else ""
        rest = segments[1:]
        if head == "":
            return self.html_page(request, "Dashboard [Jenkins]")
        if head == "api" and rest[:1] == ["json"]:
            return json_response(request, self.root_json)
        if head == "me" and rest[:2] == ["api", "json"]:
            return json_response(request, lambda depth: self.user_json(request["user"]))
        if (
            head == "user"
            and len(rest) >= 3
            and rest[0] == request["user"]
            and rest[1:3] == ["api", "json"]
        ):
            return json_response(request, lambda depth: self.user_json(request["user"]))
        if head == "crumbIssuer":
            return self.crumb_issuer(request, rest)
        if head == "computer":
            return await nodes.handle(self, request, rest)
        if head == "queue":
            return await self.queue.handle(request, rest)
        if head == "pluginManager" and rest[:2] == ["api", "json"]:
            return json_response(request, self.plugins.manager_json)
        if head == "scriptText":
            return await self.script_text(request)
        if head == "createItem":
            return await jobs.create_item(self, request, None)
        if head in ("quietDown", "cancelQuietDown"):
            if request.method != "POST":
                return web.Response(status=405, text="This URL requires POST")
            self.quieting_down = head == "quietDown"
            self.wake()
            return self.redirect(request, "", status=302)
        if head == "view":
            return await views.handle(self, request, rest)
        if head == "createView":
            return await views.create_view(self, request)
        if head in ("checkViewName", "viewExistsCheck"):
            return await views.check_view_name(self, request, deprecated=head == "viewExistsCheck")
        if head == "job":
            return await self.route_job(request, segments)
        return self.not_found(request)

    async def route_job(self, request, segments):
        job = None
        while len(segments) >= 2 and segments[0] == "job":
            name = segments[1]
            container = job.children if job is not None else self.jobs.top
            found = container.get(name)
            if found is None:
                # the last segment may be an action on a folder (createItem) rather than a job
                return self.not_found(request)
            job = found
            segments = segments[2:]
        if job is None:
            return self.not_found(request)
        return await jobs.handle(self, request, job, segments)

    # ------------------------------------------------------------ JSON bodies
    def root_json(self, depth=0):
        root = self.current_root_url
        all_jobs = list(self.jobs.top.values())

        def view_json(view):
            return view.json(depth - 1) if depth > 0 else view.summary()

        return {
            "_class": "hudson.model.Hudson",
            "assignedLabels": [{"name": n} for n in sorted(self.nodes.label_set(""))],
            "mode": "NORMAL",
            "nodeDescription": nodes.BUILTIN_DESCRIPTION,
            "nodeName": "",
            "numExecutors": self.builtin_executors,
            "description": None,
            "jobs": [
                jobs.job_json(self, j, depth - 1) if depth > 0 else jobs.job_summary(j)
                for j in all_jobs
            ],
            "overallLoad": {},
            # Jenkins.getPrimaryView / getViews (@Exported): nested views show their
            # visibility-2 properties (name, url) at depth 0, the whole view below depth 1
            "primaryView": view_json(self.views.primary()),
            "quietDownReason": None,
            "quietingDown": self.quieting_down,
            "slaveAgentPort": -1,
            "unlabeledLoad": {"_class": "jenkins.model.UnlabeledLoadStatistics"},
            "url": root,
            "useCrumbs": True,
            "useSecurity": True,
            "views": [view_json(v) for v in self.views.all()],
        }

    def user_json(self, user):
        return {
            "_class": "hudson.model.User",
            "absoluteUrl": f"{self.current_root_url}user/{quote(user, safe='')}",
            "description": None,
            "fullName": user,
            "id": user,
            "property": [
                {"_class": "jenkins.security.ApiTokenProperty"},
                {"_class": "hudson.model.MyViewsProperty"},
                {"_class": "hudson.security.HudsonPrivateSecurityRealm$Details"},
            ],
        }

    def whoami_json(self, user):
        """``hudson/security/WhoAmI.java``: ``name``, ``authenticated``, ``anonymous``,
        ``authorities`` are exported; ``details``/``toString`` are not (their ``@Exported`` was
        removed).  Anonymous is Spring's ``AnonymousAuthenticationToken``: authenticated, with
        the authority ``anonymous``."""
        if user is None:
            return {
                "_class": "hudson.security.WhoAmI",
                "anonymous": True,
                "authenticated": True,
                "authorities": ["anonymous"],
                "name": "anonymous",
            }
        return {
            "_class": "hudson.security.WhoAmI",
            "anonymous": False,
            "authenticated": True,
            "authorities": ["authenticated"],
            "name": user,
        }

    def crumb_issuer(self, request, rest):
        sid = request.cookies.get(self.security.cookie_name)
        user = request["user"]
        new_sid = None
        if self.security.session_user(sid) != user:
            new_sid = sid = self.security.new_session(user)
        crumb = self.security.crumb(user, sid)
        if rest[:2] == ["api", "json"]:
            resp = json_response(
                request,
                lambda depth: {
                    "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                    "crumb": crumb,
                    "crumbRequestField": security.CRUMB_FIELD,
                },
            )
        elif rest[:2] == ["api", "xml"]:
            xpath = request.query.get("xpath", "")
            if re.fullmatch(
                r'concat\(//crumbRequestField,\s*"?:"?,\s*//crumb\)', xpath.replace("'", '"')
            ):
                resp = web.Response(
                    text=f"{security.CRUMB_FIELD}:{crumb}", content_type="text/plain"
                )
            else:
                resp = web.Response(
                    text=(
                        '<defaultCrumbIssuer _class="hudson.security.csrf.DefaultCrumbIssuer">'
                        f"<crumb>{crumb}</crumb>"
                        f"<crumbRequestField>{security.CRUMB_FIELD}</crumbRequestField>"
                        "</defaultCrumbIssuer>"
                    ),
                    content_type="application/xml",
                )
        else:
            return self.not_found(request)
        if new_sid:
            resp.set_cookie(self.security.cookie_name, new_sid, path="/", httponly=True)
        return resp

    # ------------------------------------------------------------ scriptText
    async def script_text(self, request, node=None):
        if request.method != "POST":
            return web.Response(status=405, text="HTTP ERROR 405 Method Not Allowed")
        if node is not None and self.nodes.is_offline(node) and node != "":
            return self.error_text(request, 404, "Node is offline")
        form = await self.form(request)
        script = form.get("script") or request.query.get("script") or ""
        return web.Response(
            text=run_script(self, script), content_type="text/plain", charset="utf-8"
        )


# ---------------------------------------------------------------- Groovy subset

_STRING = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_JENKINS = (
    r"(?:jenkins\.model\.)?Jenkins\.(?:instance|getInstance\(\)|get\(\)|getInstanceOrNull\(\))"
)
_MAC = re.compile(
    rf"^(?:{_JENKINS}\.getComputer\(\s*{_STRING}\s*\)\s*\.\s*(?:jnlpMac|getJnlpMac\(\))"
    rf"|(?:jenkins\.slaves\.)?JnlpAgentReceiver\.SLAVE_SECRET\.mac\(\s*{_STRING}\s*\))$"
)
_VERSION = re.compile(
    rf"^(?:{_JENKINS}\.(?:version|getVersion\(\))(?:\.toString\(\))?|(?:jenkins\.model\.)?Jenkins\.VERSION)$"
)
_PRINT = re.compile(r"^(println|print)\s*(?:\((.*)\)|\s(.*))\s*;?$")


class ScriptError(Exception):
    pass


def _unescape(text):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _evaluate(ctl, expr):
    expr = expr.strip()
    match = re.fullmatch(_STRING, expr)
    if match:
        if match.group(1) is not None and "${" in match.group(1):
            raise ScriptError("GString interpolation is not supported")
        return _unescape(match.group(1) if match.group(1) is not None else match.group(2))
    match = _MAC.match(expr)
    if match:
        name = next(g for g in match.groups() if g is not None)
        return ctl.nodes.secret(_unescape(name))
    if _VERSION.match(expr):
        return ctl.version
    raise ScriptError(f"unsupported expression: {expr}")


def run_script(ctl, script):
    """A tiny subset of what ``hudson/util/RemotingDiagnostics.java`` would print for ``script``."""
    out = []
    for lineno, line in enumerate(script.splitlines(), 1):
        stmt = line.strip()
        if not stmt or stmt.startswith("//"):
            continue
        match = _PRINT.match(stmt)
        try:
            if not match:
                raise ScriptError(f"unsupported statement: {stmt}")
            arg = match.group(2) if match.group(2) is not None else match.group(3)
            value = _evaluate(ctl, arg) if arg and arg.strip() else ""
        except ScriptError as exc:
            out.append(
                "org.codehaus.groovy.control.MultipleCompilationErrorsException: startup failed:\n"
                f"Script1.groovy: {lineno}: the Jenkins emulator does not run Groovy ({exc})\n"
                "1 error\n"
            )
            return "".join(out)
        out.append(value + ("\n" if match.group(1) == "println" else ""))
    return "".join(out)


# ---------------------------------------------------------------- application


@web.middleware
async def advertise(request, handler):
    ctl = request.app["ctl"]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        for key, value in ctl.headers().items():
            exc.headers.setdefault(key, value)
        raise
    if isinstance(response, web.StreamResponse) and not response.prepared:
        if not response.get("no_advertise"):
            for key, value in ctl.headers().items():
                response.headers.setdefault(key, value)
        response.headers["Server"] = "Jetty(12.0.16)"
    return response


_SECRET_PARAM = re.compile(r"token|secret|password", re.IGNORECASE)


def _loggable_query(query):
    return {k: ("***" if _SECRET_PARAM.search(k) else v) for k, v in query.items()}


@web.middleware
async def request_log(request, handler):
    """One JSON line per request in HOME/logs/requests.log: method, path, query (secret
    parameters masked), status and user, never bodies or credentials. Tests read it to prove
    that a test-mode run sent no POST."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ctl = request.app["ctl"]
        entry = {
            "t": round(time.time(), 3),
            "method": request.method,
            "path": request.path,
            "query": _loggable_query(request.query),
            "status": status,
            "user": request.get("user"),
        }
        ctl.log_request(entry)


def create_app(ctl):
    app = web.Application(middlewares=[request_log, advertise], client_max_size=256 * 1024 * 1024)
    app["ctl"] = ctl
    app.on_startup.append(ctl.on_startup)
    app.on_shutdown.append(ctl.on_shutdown)
    app.router.add_route("*", "/{tail:.*}", ctl.dispatch)
    return app
