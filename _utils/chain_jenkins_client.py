"""
The Jenkins HTTP client: python-jenkins' ``Jenkins`` with the session behaviour the chain needs,
typed errors, and the names/paths of jobs and nodes.

``jenkins_request`` is python-jenkins' single choke point, so every inherited method gets:
Basic auth from the first request (``get_version`` included, never an anonymous probe), a
timeout on every request, a crumb only on POSTs and refreshed once on "No valid crumb", no
redirect following on writes (a redirect away from the controller means the write was not
applied), and errors typed by status carrying Jenkins' ``X-Error`` text.

Errors are part of :mod:`chain_errors`: :class:`JenkinsError` is a ``BackendError``,
:class:`JenkinsNotFound` a ``NotFound`` (and python-jenkins' ``NotFoundException``), and so on;
they exist even without python-jenkins, so callers can always catch them.

Nothing here uses Salt's dunders: callers pass a resolved connection (``chain_profiles``) and
the cache to keep clients in.
"""

import logging
import re
import urllib.parse

try:
    from saltext.chain.utils import chain_errors, chain_profiles
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_profiles

try:
    import jenkins as pyjenkins
    import requests

    # the unrelated PyPI package "jenkins" has no Jenkins class
    HAS_LIBS = hasattr(pyjenkins, "Jenkins") and hasattr(pyjenkins, "NotFoundException")
except ImportError:  # pragma: no cover - exercised only without python-jenkins
    HAS_LIBS = False

log = logging.getLogger(__name__)

if HAS_LIBS:
    _PyJenkinsNotFound = pyjenkins.NotFoundException
else:  # pragma: no cover

    class _PyJenkinsNotFound(Exception):
        """Stands for python-jenkins' NotFoundException when it is not installed."""


class JenkinsError(chain_errors.BackendError):
    """A request Jenkins answered with an error (``status`` when it is an HTTP one)."""


class JenkinsNotFound(JenkinsError, chain_errors.NotFound, _PyJenkinsNotFound):
    """404: typed, so callers turn it into ``None``/``False`` without matching text."""


class JenkinsConflict(JenkinsError, chain_errors.Conflict):
    """409: the object exists in a state that refuses the request (e.g. not buildable)."""


class JenkinsUnreachable(JenkinsError, chain_errors.Unreachable):
    """No answer: connection refused, timeout, TLS failure. ``refused``: nothing listened (the
    controller is down or restarting), as opposed to a controller that accepted the connection
    and did not answer in time (frozen, overloaded)."""

    refused = False


BUILTIN_NAMES = {"", "(built-in)", "(master)", "built-in", "master", "Built-In Node"}
_BAD_NAME_CHARS = set("?*/\\%!@#$^&|<>[]:;")
# First path segments (under the controller's url) of a login page: Jenkins' own, and those of
# common authenticating proxies (oauth2-proxy, SSO/SAML gateways).
LOGIN_PATHS = {"login", "loginError", "securityRealm", "oauth2", "sso", "saml"}


# ---------------------------------------------------------------------------------------------
# Names and paths
# ---------------------------------------------------------------------------------------------


def check_name(name, what):
    """A job (``folder/job`` allowed) or node name; :class:`BadInput` otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise chain_errors.BadInput(f"{what} name must be a non-empty string")
    if name in (".", ".."):
        raise chain_errors.BadInput(f"{what} name {name!r} is reserved")
    bad = sorted(set(name) & _BAD_NAME_CHARS - ({"/"} if what == "job" else set()))
    if bad:
        raise chain_errors.BadInput(
            f"{what} name {name!r} contains unsafe character(s): {''.join(bad)}"
        )
    return name


def job_path(name):
    """``job/a/job/b/`` for job ``a/b`` (each part quoted)."""
    check_name(name, "job")
    parts = name.strip("/").split("/")
    if any(not p.strip() or p in (".", "..") for p in parts):
        raise chain_errors.BadInput(f"invalid job name {name!r}")
    return "".join(f"job/{urllib.parse.quote(p, safe='')}/" for p in parts)


def job_parent_and_short(name):
    """``(parent path, short name)``: where ``createItem`` of job ``name`` is posted."""
    job_path(name)
    parts = name.strip("/").split("/")
    parent = "".join(f"job/{urllib.parse.quote(p, safe='')}/" for p in parts[:-1])
    return parent, parts[-1]


def computer_path(name):
    """``computer/NAME/`` (the built-in node under any of its names is ``(built-in)``)."""
    if name in BUILTIN_NAMES:
        return "computer/(built-in)/"
    check_name(name, "node")
    return f"computer/{urllib.parse.quote(name, safe='')}/"


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


def strip_html(text):
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def scrub(err):
    """An exception's text without query strings (requests/urllib3 quote the URL they failed
    on, and a query string may carry an offline message or a token)."""
    return re.sub(r"(url: [^\s?]*)\?\S*", r"\1?...", str(err))


# The first line of a Java stack trace: "java.io.IOException: job is not buildable".
_THROWABLE_RE = re.compile(r"^\s*(?:[\w$]+\.)+[\w$]+(?:Exception|Error)(?::\s*(.*))?$", re.M)


def _throwable(text):
    """The message of the first Java throwable in ``text`` (its class when it has none)."""
    match = _THROWABLE_RE.search(text)
    if not match or "\tat " not in text[match.end() : match.end() + 400] and "<pre" not in text:
        return None
    return (match.group(1) or match.group(0)).strip()


def message(resp):
    """Jenkins' own words for an error answer, at most 300 characters.

    ``X-Error`` (a ``hudson.model.Failure``: ``AbstractModelObject/error.jelly``); Jetty's
    ``HTTP ERROR nnn msg`` line (``HttpResponses.errorWithoutStack``); the exception message of
    a stack trace (``HttpResponses.error(code, throwable)`` prints one as text/plain, e.g. 409
    "is not buildable" in 2.479.x); the "Oops" page of an uncaught exception
    (``Jenkins/oops.jelly``, 500) with its logging id; else the page's text.
    """
    header = resp.headers.get("X-Error")
    if header:
        return header
    text = resp.text or ""
    html = "html" in (resp.headers.get("Content-Type") or "").lower() or text.lstrip().startswith(
        "<"
    )
    jetty = re.search(r"HTTP ERROR \d+\s*([^<]+)<", text) if html else None
    thrown = _throwable(text)
    if jetty:
        text = jetty.group(1)
    elif 'id="error-description"' in text:
        logging_id = re.search(r"Logging ID=([\w-]+)", text)
        text = f"{thrown or 'A problem occurred while processing the request'}" + (
            f" (Logging ID={logging_id.group(1)})" if logging_id else ""
        )
    elif thrown:
        text = thrown
    elif html:
        text = strip_html(text)
    text = text.strip()
    return (text[:300] + "...") if len(text) > 300 else (text or resp.reason or "")


def _origin(parts):
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


def write_redirect_problem(code, location, request_url, server):
    """Why a redirect answering a write means it was not applied, or None when it is Jenkins'
    own (a 302 to ``computer/`` or the job, a 303 to an identical queued build's item).

    A 301/307/308 (http -> https, a moved controller) or a 302/303 to another host, outside
    the profile url's path or to a login page (a proxy or SSO in front of the controller)
    never reached Jenkins. Returns ``(shown target, reason)``.
    """
    target = urllib.parse.urlsplit(urllib.parse.urljoin(request_url or server, location or ""))
    base = urllib.parse.urlsplit(server)
    same = _origin(target) == _origin(base)
    inside = target.path.startswith(base.path or "/")
    rel = target.path[len(base.path or "/") :] if inside else ""
    login = inside and rel.split("/", 1)[0] in LOGIN_PATHS
    if code in (302, 303) and same and inside and not login:
        return None
    host = target.hostname or ""
    if target.port:
        host = f"{host}:{target.port}"
    shown = urllib.parse.urlunsplit((target.scheme, host, target.path, "", ""))
    why = (
        "a login page (a proxy or single sign-on in front of Jenkins?)"
        if login
        else "a permanent redirect"
        if code in (301, 308)
        else "another address"
        if not same
        else "a page outside the controller's path"
        if not inside
        else "a redirect"
    )
    return shown, why


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

if HAS_LIBS:

    class Client(pyjenkins.Jenkins):
        """python-jenkins with auth from the first request, timeouts, crumbs, redirect checks
        and typed errors (see the module docstring). ``conf`` is a
        ``chain_profiles.jenkins_connection`` mapping."""

        def __init__(self, conf):
            super().__init__(conf["url"], conf["user"], conf["token"], timeout=conf["timeout"])
            self.profile_name = conf["name"]
            self.user = conf["user"]
            if conf["user"] is not None:
                self._session.auth = requests.auth.HTTPBasicAuth(
                    conf["user"].encode("utf-8"), conf["token"].encode("utf-8")
                )
            else:
                self._session.auth = None
            self._auths = [("basic" if conf["user"] else "anonymous", self._session.auth)]
            self._auth_resolved = True  # never probe; get_version() included
            self.auth = self._session.auth
            self._session.verify = conf["verify"]
            self.crumb = None

        def _crumb_header(self):
            if self.crumb is None:
                try:
                    resp = self._send(
                        requests.Request("GET", self.server + "crumbIssuer/api/json"), False, True
                    )
                    self._check(resp, "GET", "crumbIssuer/api/json")
                    data = resp.json() if resp.content else None
                    self.crumb = data if data and data.get("crumb") else False
                except (JenkinsNotFound, ValueError):
                    self.crumb = False  # no crumb issuer (CSRF protection off or API token)
            if self.crumb:
                return {self.crumb["crumbRequestField"]: self.crumb["crumb"]}
            return {}

        def _send(self, req, stream, allow_redirects):
            prepared = self._session.prepare_request(req)
            settings = self._session.merge_environment_settings(
                prepared.url, {}, stream, self._session.verify, None
            )
            settings["timeout"] = self.timeout
            settings["allow_redirects"] = allow_redirects
            where = f"Jenkins at {self.server}"
            try:
                return self._session.send(prepared, **settings)
            except requests.exceptions.Timeout as err:
                raise JenkinsUnreachable(
                    f"{where} did not answer within {self.timeout:g}s "
                    f"({req.method} {self._rel(prepared.url).split('?', 1)[0]})"
                ) from err
            except requests.exceptions.SSLError as err:
                raise JenkinsUnreachable(f"TLS error talking to {where}: {scrub(err)}") from err
            except requests.exceptions.ConnectionError as err:
                reason = err.args[0] if err.args else err
                reason = getattr(reason, "reason", reason)
                unreachable = JenkinsUnreachable(f"cannot reach {where}: {scrub(reason)}")
                unreachable.refused = True
                raise unreachable from err
            except requests.exceptions.RequestException as err:
                raise JenkinsError(f"request to {where} failed: {scrub(err)}") from err

        def _rel(self, url):
            return url[len(self.server) :] if url.startswith(self.server) else url

        def _check(self, resp, method, path):
            code = resp.status_code
            if code < 400:
                return resp
            msg = message(resp)
            who = (
                f"user '{self.user}'"
                if self.user
                else "anonymous access (no user/token in the profile)"
            )
            if code == 401:
                raise JenkinsError(
                    f"Jenkins at {self.server} rejected the credentials of {who} (401 {msg}); "
                    f"check the user and API token of profile '{self.profile_name}'",
                    status=code,
                )
            if code == 403:
                raise JenkinsError(
                    f"Jenkins at {self.server} denied {method} {path} to {who} (403): {msg}",
                    status=code,
                )
            if code == 404:
                raise JenkinsNotFound(f"{method} {path}: not found (404)", status=code)
            kind = JenkinsConflict if code == 409 else JenkinsError
            raise kind(f"Jenkins answered {code} to {method} {path}: {msg}", status=code)

        def _check_write_redirect(self, resp, method, path):
            code = resp.status_code
            if code not in (301, 302, 303, 307, 308):
                return
            problem = write_redirect_problem(
                code, resp.headers.get("Location"), resp.url, self.server
            )
            if problem is None:
                return
            shown, why = problem
            raise JenkinsError(
                f"{method} {path} was redirected ({code}) to {shown}, {why}: the request was "
                f"not applied; fix the url of jenkins profile '{self.profile_name}' (currently "
                f"{self.server}) to the controller's own address, with its scheme (https://) "
                "and path prefix",
                status=code,
            )

        @staticmethod
        def _is_crumb_error(resp):
            if resp.status_code != 403:
                return False
            return "crumb" in (resp.headers.get("X-Error") or "").lower() or "No valid crumb" in (
                resp.text or ""
            )

        def jenkins_request(
            self, req, add_crumb=True, resolve_auth=True, stream=None, allow_redirects=None
        ):
            method = req.method.upper()
            if allow_redirects is None:
                allow_redirects = method in ("GET", "HEAD")
            path = self._rel(req.url).split("?", 1)[0]
            for attempt in (1, 2):
                if add_crumb and method not in ("GET", "HEAD"):
                    req.headers.update(self._crumb_header())
                resp = self._send(req, stream, allow_redirects)
                if attempt == 1 and add_crumb and self._is_crumb_error(resp):
                    log.debug("Jenkins %s: stale crumb, fetching a new one", self.server)
                    if self.crumb:
                        req.headers.pop(self.crumb["crumbRequestField"], None)
                    self.crumb = None
                    continue
                break
            if not allow_redirects and method not in ("GET", "HEAD"):
                self._check_write_redirect(resp, method, path)
            return self._check(resp, method, path)

        def request(
            self,
            method,
            path,
            params=None,
            data=None,
            headers=None,
            allow_redirects=None,
            stream=False,
        ):
            url = path if path.startswith(("http://", "https://")) else self.server + path
            req = requests.Request(method, url, params=params, data=data, headers=headers or {})
            return self.jenkins_request(req, stream=stream, allow_redirects=allow_redirects)

        def post_xml(self, path, text, params=None):
            data = text.encode("utf-8") if isinstance(text, str) else text
            return self.request(
                "POST",
                path,
                params=params,
                data=data,
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )

        def jenkins_version(self):
            """The ``X-Jenkins`` header, from an authenticated request."""
            resp = self.request("GET", "api/json", params={"tree": "mode"})
            ver = resp.headers.get("X-Jenkins") or self.request("GET", "").headers.get("X-Jenkins")
            if not ver:
                raise JenkinsError(f"{self.server} sent no X-Jenkins header: is it Jenkins?")
            return ver

        def get_json(self, path, params=None):
            resp = self.request("GET", path, params=params)
            try:
                return resp.json()
            except ValueError as err:
                raise JenkinsError(f"GET {path}: Jenkins did not answer JSON") from err

        def get_json_or_none(self, path, params=None):
            try:
                return self.get_json(path, params=params)
            except JenkinsNotFound:
                return None

        def get_text_or_none(self, path):
            try:
                return self.request("GET", path).text
            except JenkinsNotFound:
                return None

else:  # pragma: no cover
    Client = None


def get(conf, cache):
    """The client for a ``jenkins_connection`` mapping, kept in ``cache`` (``__context__``):
    one HTTP session and one crumb per profile and call chain."""
    key = chain_profiles.cache_key("jenkins", conf)
    client = cache.get(key)
    if client is None:
        client = Client(conf)
        cache[key] = client
    return client


def legacy_profile(config_get):
    """The removed core module's flat keys (``jenkins.url``, ``jenkins.user``,
    ``jenkins.password``), used only when no profile is configured at all."""
    out = {}
    for key, dest in (("url", "url"), ("user", "user"), ("password", "token"), ("token", "token")):
        value = config_get(f"jenkins.{key}", None) or config_get(f"jenkins:{key}", None)
        if value and isinstance(value, str):
            out.setdefault(dest, value)
    return out


def connection(profile, config_get):
    """The validated connection settings (``chain_profiles.jenkins_connection``) of a profile
    name or mapping, the old flat keys as the fallback; no I/O."""
    conf = chain_profiles.resolve(
        "jenkins", profile, config_get, legacy=lambda: legacy_profile(config_get)
    )
    return chain_profiles.jenkins_connection(conf)
