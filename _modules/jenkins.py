"""
Jenkins controller API through named connection profiles: nodes, jobs, builds, plugins, script.

.. versionadded:: 0.1.0

:depends: python-jenkins >= 1.8.2 (transport, session, URL helpers);
    jenkins-job-builder >= 6 for jobs written as Jenkins Job Builder YAML (optional).

This module succeeds Salt's removed ``jenkins`` module: its function names (``get_version``,
``get_jobs``, ``job_exists``, ``get_job_info``, ``build_job``, ``create_job``, ``update_job``,
``delete_job``, ``enable_job``, ``disable_job``, ``job_status``, ``get_job_config``,
``plugin_installed``, ``run``) keep their signatures; ``job_status`` is fixed (it used to read a
job called ``empty``).

Every request goes through one python-jenkins client per profile and process (cached in
``__context__``, so one HTTP session and one crumb per call chain) with a timeout always set.
python-jenkins' warts are guarded here rather than inherited: authentication is sent from the
first request (``get_version`` included), a 401/403 is never read as "absent", nodes are
enabled/disabled on ``temporarilyOffline`` (never on ``offline``), ``install_plugin`` is not
used, and Jenkins' ``X-Error`` text is carried into every ``CommandExecutionError``.

:configuration: Controllers are described by connection profiles in the minion config, pillar
    or master config (looked up with ``config.get``):

    .. code-block:: yaml

        jenkins:
          default_profile: ci           # used when a call names none
          profiles:
            ci:
              url: https://jenkins.example.com/
              user: salt
              token: 11d1...            # an API token; keep it in pillar or SDB
              timeout: 30               # seconds, for every HTTP request (default 30)
              verify: true              # TLS verification, or a CA bundle path

    A call may name a profile (``profile=ci``) or pass one inline as a dict; keys given inline
    override the named profile's (``profile={"name": "ci", "timeout": 5}``). The old module's
    flat keys (``jenkins.url``, ``jenkins.user``, ``jenkins.password``) are used when no profile
    is configured at all.
"""

import copy
import difflib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import jenkins as pyjenkins
    import requests

    # the unrelated PyPI package "jenkins" has no Jenkins class
    HAS_LIBS = hasattr(pyjenkins, "Jenkins") and hasattr(pyjenkins, "NotFoundException")
except ImportError:  # pragma: no cover - exercised only without python-jenkins
    HAS_LIBS = False

log = logging.getLogger(__name__)

__virtualname__ = "jenkins"

DEFAULT_TIMEOUT = 30
PROFILE_KEYS = {"name", "url", "user", "token", "password", "timeout", "verify"}
NODE_TYPE = "hudson.slaves.DumbSlave$DescriptorImpl"
JNLP_LAUNCHER = "hudson.slaves.JNLPLauncher"
BUILTIN_NAMES = {"", "(built-in)", "(master)", "built-in", "master", "Built-In Node"}
RESULTS = ("SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED")
SECRET_MASK = "{encrypted secret}"
_SECRET_RE = re.compile(r"^\{AQAAAB[A-Za-z0-9+/=]*\}$")
_BAD_NAME_CHARS = set("?*/\\%!@#$^&|<>[]:;")


def __virtual__():
    if not HAS_LIBS:
        return (False, "python-jenkins (and requests) is not installed (not the unrelated 'jenkins' package)")
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class JenkinsError(CommandExecutionError):
    """A request Jenkins answered with an error (or did not answer)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


if HAS_LIBS:

    class JenkinsNotFound(JenkinsError, pyjenkins.NotFoundException):
        """404: typed, so callers turn it into ``None``/``False`` without matching text."""

else:  # pragma: no cover

    class JenkinsNotFound(JenkinsError):
        pass


# ---------------------------------------------------------------------------------------------
# Connection profiles and the client
# ---------------------------------------------------------------------------------------------


def _resolve_profile(profile):
    """Return the effective profile: the named profile from config, then inline overrides."""
    if isinstance(profile, dict):
        inline = dict(profile)
        name = inline.pop("name", None)
    elif profile is None or isinstance(profile, str):
        inline, name = {}, profile
    else:
        raise SaltInvocationError(f"profile must be a name or a dict, not {type(profile).__name__}")
    unknown = set(inline) - PROFILE_KEYS
    if unknown:
        raise SaltInvocationError(f"unknown jenkins profile key(s): {', '.join(sorted(unknown))}")
    explicit = name is not None
    if name is None and inline.get("url"):
        # A complete inline profile for another controller: never merge the default
        # profile's credentials into it.
        name, base = "inline", {}
    else:
        if name is None:
            name = __salt__["config.get"]("jenkins:default_profile", None) or "default"
        base = __salt__["config.get"](f"jenkins:profiles:{name}", None)
    if base is None:
        if explicit and name != "default":
            raise SaltInvocationError(
                f"unknown jenkins profile '{name}': define jenkins:profiles:{name} "
                "in the minion config or pillar"
            )
        base = _legacy_profile()
    if not isinstance(base, dict):
        raise SaltInvocationError(f"jenkins:profiles:{name} must be a mapping")
    merged = {**base, **inline}
    unknown = set(merged) - PROFILE_KEYS
    if unknown:
        raise SaltInvocationError(
            f"jenkins:profiles:{name}: unknown key(s): {', '.join(sorted(unknown))}"
        )
    if "password" in merged:
        merged.setdefault("token", merged.pop("password"))
        merged.pop("password", None)
    url = merged.get("url")
    if not url or not isinstance(url, str):
        raise SaltInvocationError(
            f"no Jenkins URL for profile '{name}': set jenkins:profiles:{name}:url "
            "(or pass profile={'url': ...})"
        )
    netloc = urllib.parse.urlsplit(url).netloc if "://" in url else url.split("/", 1)[0]
    if "@" in netloc:
        # never echo the url: it carries a credential
        raise SaltInvocationError(
            f"jenkins profile '{name}': the url must not contain a user or token "
            f"(user:token@host); put user/token in the profile keys (jenkins:profiles:{name}:user/token)"
        )
    if "?" in url or "#" in url:
        raise SaltInvocationError(
            f"jenkins profile '{name}': the url must be the controller's base url, without a query string "
            "or fragment (credentials go in the user/token keys)"
        )
    if not re.match(r"^https?://[^/?#]+", url):
        shown = url.split("?", 1)[0].split("#", 1)[0]
        raise SaltInvocationError(f"jenkins profile '{name}': url must be http(s)://..., got {shown!r}")
    try:
        timeout = float(DEFAULT_TIMEOUT if merged.get("timeout") is None else merged["timeout"])
    except (TypeError, ValueError) as err:
        raise SaltInvocationError(f"jenkins profile '{name}': timeout must be a number") from err
    if timeout <= 0:
        raise SaltInvocationError(f"jenkins profile '{name}': timeout must be positive")
    verify = merged.get("verify", True)
    if not isinstance(verify, (bool, str)):
        raise SaltInvocationError(f"jenkins profile '{name}': verify must be true/false or a CA path")
    if (merged.get("user") is None) != (merged.get("token") is None):
        raise SaltInvocationError(f"jenkins profile '{name}': set both user and token, or neither")
    return {
        "name": name,
        "url": url if url.endswith("/") else url + "/",
        "user": None if merged.get("user") is None else str(merged["user"]),
        "token": None if merged.get("token") is None else str(merged["token"]),
        "timeout": timeout,
        "verify": verify,
    }


def _legacy_profile():
    """The removed core module's flat keys, used only when no profile is configured."""
    out = {}
    for key, dest in (("url", "url"), ("user", "user"), ("password", "token"), ("token", "token")):
        value = __salt__["config.get"](f"jenkins.{key}", None) or __salt__["config.get"](f"jenkins:{key}", None)
        if value and isinstance(value, str):
            out.setdefault(dest, value)
    return out


def _profile_key(conf):
    """Cache key for a profile; the token only enters through a hash."""
    material = json.dumps(
        {k: conf[k] for k in ("url", "user", "token", "timeout", "verify")}, sort_keys=True
    ).encode()
    return "jenkins.client:" + hashlib.sha256(material).hexdigest()


def _strip_html(text):
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text


# First path segments (under the controller's url) of a login page: Jenkins' own, and those of
# common authenticating proxies (oauth2-proxy, SSO/SAML gateways).
_LOGIN_PATHS = {"login", "loginError", "securityRealm", "oauth2", "sso", "saml"}


def _scrub(err):
    """An exception's text without query strings (requests/urllib3 quote the URL they failed on)."""
    return re.sub(r"(url: [^\s?]*)\?\S*", r"\1?...", str(err))


if HAS_LIBS:

    class _Client(pyjenkins.Jenkins):
        """python-jenkins with the session-level behaviour this module needs.

        ``jenkins_request`` is python-jenkins' single choke point, so every inherited method
        gets: Basic auth from the first request, a timeout, a crumb only on POSTs and refreshed
        once on "No valid crumb", no redirect following on POSTs, and typed errors carrying
        Jenkins' ``X-Error`` text.
        """

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
                    resp = self._send(requests.Request("GET", self.server + "crumbIssuer/api/json"),
                                      False, True)
                    self._check(resp, "GET", "crumbIssuer/api/json")
                    data = resp.json() if resp.content else None
                    self.crumb = data if data and data.get("crumb") else False
                except JenkinsNotFound:
                    self.crumb = False
                except ValueError:
                    self.crumb = False
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
            try:
                return self._session.send(prepared, **settings)
            except requests.exceptions.Timeout as err:
                raise JenkinsError(
                    f"Jenkins at {self.server} did not answer within {self.timeout:g}s "
                    f"({req.method} {self._rel(prepared.url).split('?', 1)[0]})"
                ) from err
            except requests.exceptions.SSLError as err:
                raise JenkinsError(f"TLS error talking to Jenkins at {self.server}: {_scrub(err)}") from err
            except requests.exceptions.ConnectionError as err:
                reason = err.args[0] if err.args else err
                reason = getattr(reason, "reason", reason)
                raise JenkinsError(f"cannot reach Jenkins at {self.server}: {_scrub(reason)}") from err
            except requests.exceptions.RequestException as err:
                raise JenkinsError(f"request to Jenkins at {self.server} failed: {_scrub(err)}") from err

        def _rel(self, url):
            return url[len(self.server):] if url.startswith(self.server) else url

        @staticmethod
        def _message(resp):
            header = resp.headers.get("X-Error")
            if header:
                return header
            text = resp.text or ""
            if "html" in (resp.headers.get("Content-Type") or "").lower() or text.lstrip().startswith("<"):
                # Jetty's error page: <h2>HTTP ERROR 409 X is not buildable</h2>
                jetty = re.search(r"HTTP ERROR \d+\s*([^<]+)<", text)
                text = jetty.group(1) if jetty else _strip_html(text)
            text = text.strip()
            return (text[:300] + "...") if len(text) > 300 else (text or resp.reason or "")

        def _check(self, resp, method, path):
            code = resp.status_code
            if code < 400:
                return resp
            msg = self._message(resp)
            who = f"user '{self.user}'" if self.user else "anonymous access (no user/token in the profile)"
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
            raise JenkinsError(f"Jenkins answered {code} to {method} {path}: {msg}", status=code)

        def _check_write_redirect(self, resp, method, path):
            """A redirect answering a write means it was not applied, unless it is Jenkins' own.

            Jenkins answers many POSTs with a 302 to a page of its own (``computer/``, the job)
            and an identical queued build with a 303 to the queue item; a 301/307/308 (http ->
            https, moved controller) or a 302/303 to another host or to a login page (a proxy or
            SSO in front of the controller) means the write never reached Jenkins.
            """
            code = resp.status_code
            if code not in (301, 302, 303, 307, 308):
                return
            location = resp.headers.get("Location") or ""
            target = urllib.parse.urlsplit(urllib.parse.urljoin(resp.url or self.server, location))
            base = urllib.parse.urlsplit(self.server)

            def origin(parts):
                default = {"http": 80, "https": 443}.get(parts.scheme)
                try:
                    port = parts.port or default
                except ValueError:
                    port = None
                return parts.scheme, (parts.hostname or "").lower(), port

            same = origin(target) == origin(base)
            inside = target.path.startswith(base.path or "/")
            rel = target.path[len(base.path or "/"):] if inside else ""
            login = inside and rel.split("/", 1)[0] in _LOGIN_PATHS
            if code in (302, 303) and same and inside and not login:
                return
            shown = urllib.parse.urlunsplit((target.scheme, target.hostname or "", target.path, "", ""))
            if target.port:
                shown = urllib.parse.urlunsplit(
                    (target.scheme, f"{target.hostname}:{target.port}", target.path, "", ""))
            why = ("a login page (a proxy or single sign-on in front of Jenkins?)" if login
                   else "a permanent redirect" if code in (301, 308)
                   else "another address" if not same
                   else "a page outside the controller's path" if not inside else "a redirect")
            raise JenkinsError(
                f"{method} {path} was redirected ({code}) to {shown}, {why}: the request was not applied; "
                f"fix the url of jenkins profile '{self.profile_name}' (currently {self.server}) to the "
                "controller's own address, with its scheme (https://) and path prefix",
                status=code,
            )

        @staticmethod
        def _is_crumb_error(resp):
            if resp.status_code != 403:
                return False
            return "crumb" in (resp.headers.get("X-Error") or "").lower() or "No valid crumb" in (resp.text or "")

        def jenkins_request(self, req, add_crumb=True, resolve_auth=True, stream=None, allow_redirects=None):
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

        def request(self, method, path, params=None, data=None, headers=None, allow_redirects=None, stream=False):
            url = path if path.startswith(("http://", "https://")) else self.server + path
            req = requests.Request(method, url, params=params, data=data, headers=headers or {})
            return self.jenkins_request(req, stream=stream, allow_redirects=allow_redirects)

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


def _client(profile=None):
    """The python-jenkins client for a profile, cached in ``__context__``."""
    conf = _resolve_profile(profile)
    key = _profile_key(conf)
    client = __context__.get(key)
    if client is None:
        client = _Client(conf)
        __context__[key] = client
    return client


def _wrap(what, func, *args, **kwargs):
    """Run a python-jenkins call; its own exceptions become CommandExecutionError."""
    try:
        return func(*args, **kwargs)
    except JenkinsError:
        raise
    except pyjenkins.JenkinsException as err:
        raise CommandExecutionError(f"{what}: {err}") from err


# ---------------------------------------------------------------------------------------------
# Names and paths
# ---------------------------------------------------------------------------------------------


def _check_name(name, what):
    if not isinstance(name, str) or not name.strip():
        raise SaltInvocationError(f"{what} name must be a non-empty string")
    if name in (".", ".."):
        raise SaltInvocationError(f"{what} name {name!r} is reserved")
    bad = sorted(set(name) & _BAD_NAME_CHARS - ({"/"} if what == "job" else set()))
    if bad:
        raise SaltInvocationError(f"{what} name {name!r} contains unsafe character(s): {''.join(bad)}")
    return name


def _job_path(name):
    _check_name(name, "job")
    parts = [p for p in name.strip("/").split("/")]
    if any(not p.strip() or p in (".", "..") for p in parts):
        raise SaltInvocationError(f"invalid job name {name!r}")
    return "".join(f"job/{urllib.parse.quote(p, safe='')}/" for p in parts)


def _job_parent_and_short(name):
    parts = name.strip("/").split("/")
    parent = "".join(f"job/{urllib.parse.quote(p, safe='')}/" for p in parts[:-1])
    return parent, parts[-1]


def _computer_path(name):
    if name in BUILTIN_NAMES:
        return "computer/(built-in)/"
    _check_name(name, "node")
    return f"computer/{urllib.parse.quote(name, safe='')}/"


# ---------------------------------------------------------------------------------------------
# XML helpers (pure)
# ---------------------------------------------------------------------------------------------


# XML 1.1 (what Jenkins writes) allows character references to C0 controls, e.g. ``&#27;`` for
# the ESC of an ANSI colour code in a shell step; expat only knows XML 1.0 and refuses them. They
# are parsed as private-use placeholders (plane 16) and turned back into references on output.
_CTRL_BASE = 0x10FF00
_CTRL_REF_RE = re.compile(r"(<!\[CDATA\[.*?\]\]>|<!--.*?-->)|&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));", re.S)
_CTRL_CHARS = frozenset(range(1, 32)) - {9, 10, 13}
_CTRL_PLACEHOLDER_RE = re.compile(f"[{chr(_CTRL_BASE + 1)}-{chr(_CTRL_BASE + 31)}]")


def _xml_hide_controls(text):
    """Replace references to C0 controls (not tab/LF/CR) by placeholders; CDATA/comments untouched."""

    def repl(match):
        if match.group(1) is not None:
            return match.group(1)
        code = int(match.group(2), 16) if match.group(2) is not None else int(match.group(3))
        return chr(_CTRL_BASE + code) if code in _CTRL_CHARS else match.group(0)

    return _CTRL_REF_RE.sub(repl, text) if "&#" in text else text


def _xml_unhide_controls(text):
    """Serialised XML with the placeholders back as character references (``&#x1b;``)."""
    return _CTRL_PLACEHOLDER_RE.sub(lambda m: f"&#x{ord(m.group(0)) - _CTRL_BASE:x};", text)


def _xml_parse(text, what="XML"):
    """Parse XML text (declaration allowed, any version); SaltInvocationError when malformed."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str) or not text.strip():
        raise SaltInvocationError(f"{what} is empty")
    stripped = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"), count=1)
    stripped = _xml_hide_controls(stripped)
    try:
        return ET.fromstring(stripped)
    except ET.ParseError as err:
        raise SaltInvocationError(f"{what} is not well-formed XML: {err}") from err


def _xml_canonical(elem):
    """A canonical copy: no whitespace-only text/tails, no ``plugin`` attributes, secrets masked.

    Element order is kept (it is significant for lists); nothing is sorted.
    """
    if isinstance(elem, (str, bytes)):
        elem = _xml_parse(elem)
    new = ET.Element(elem.tag, {k: v for k, v in elem.attrib.items() if k != "plugin"})
    text = elem.text
    if text is not None and not text.strip():
        text = None
    if text is not None and _SECRET_RE.match(text.strip()):
        text = SECRET_MASK
    new.text = text
    for child in elem:
        if isinstance(child.tag, str):
            new.append(_xml_canonical(child))
    return new


def _xml_string(elem):
    return ET.tostring(elem, encoding="unicode")


def _xml_pretty(elem):
    """Pretty-printed canonical XML (no declaration)."""
    if isinstance(elem, (str, bytes)):
        elem = _xml_parse(elem)
    tree = copy.deepcopy(_xml_canonical(elem))
    ET.indent(tree, space="  ")
    return _xml_unhide_controls(ET.tostring(tree, encoding="unicode")) + "\n"


# Children of these elements belong to Jenkins and its plugins (e.g. Declarative Pipeline adds
# DeclarativeJobAction entries to a job's <actions> after a build): never a difference.
JENKINS_OWNED = {"actions"}


def _significant_extra(tag, desired_tags, parent_tag=None):
    """Does an element present only in Jenkins' copy matter?

    Jenkins re-serialises with every field of the Java object filled in (``<configuredLocalRules/>``,
    ``<disabled>false</disabled>`` ...): a *field* the desired XML does not declare is a default and
    is ignored. Entries of lists are different: their tag repeats a declared sibling's, or is a
    class name (``hudson.tasks.Shell``); an extra one is a real difference (a removed step) —
    except under ``<actions>``, which Jenkins and plugins fill in on their own.
    """
    if parent_tag in JENKINS_OWNED:
        return False
    return tag in desired_tags or "." in tag


def _xml_drop(root, paths):
    """Remove the elements at slash-separated ``paths`` (relative to the root) from a tree."""
    for path in paths or ():
        parts = [p for p in str(path).strip("/").split("/") if p]
        if parts and parts[0] == root.tag:
            parts = parts[1:]
        if not parts:
            continue
        parent_path = "/".join(parts[:-1]) or "."
        for parent in root.findall(parent_path):
            for child in parent.findall(parts[-1]):
                parent.remove(child)
    return root


# Elements whose text is a secret in plaintext (Jenkins encrypts most of them when it saves, but
# the declared side, or a plugin that does not, has them in clear): masked in diffs only.
DIFF_MASK = "****"
_SECRET_TAG_RE = re.compile(r"password|passwd|secret|token|apikey", re.I)


def _is_secret_tag(tag, parent_tag=None):
    local = tag.rsplit(".", 1)[-1] if isinstance(tag, str) else ""
    if parent_tag and local == "defaultValue" and str(parent_tag).endswith("PasswordParameterDefinition"):
        return True
    if local.endswith(("Id", "ID", "Ids")):  # credentialsId, tokenCredentialId: references, not secrets
        return False
    return bool(_SECRET_TAG_RE.search(local))


def _mask_text(text):
    return text if text is None or text == SECRET_MASK else DIFF_MASK


def _xml_mask(elem, parent_tag=None):
    """Mask the plaintext secrets of a (copied) tree in place; returns it."""
    if _is_secret_tag(elem.tag, parent_tag):
        elem.text = _mask_text(elem.text)
    for child in elem:
        _xml_mask(child, elem.tag)
    return elem


def _xml_align(desired, current, mask=False, parent_tag=None):
    """Project ``current`` onto ``desired`` (both canonical, same tag).

    Returns ``(desired', current')``: current' keeps, in desired's order, the elements matched
    to declared ones (same tag, k-th occurrence), the declared attributes only, and the
    significant extras; secrets are masked on both sides where either side is encrypted.
    With ``mask`` (for diffs, never for the comparison) plaintext secrets are ``****`` on both
    sides, and ``**** (changed)`` on the desired side when the two values differ.
    """
    d_new = ET.Element(desired.tag, dict(desired.attrib))
    c_new = ET.Element(current.tag, {k: current.attrib[k] for k in desired.attrib if k in current.attrib})
    d_text, c_text = desired.text, current.text
    if SECRET_MASK in (d_text, c_text):
        d_text = c_text = SECRET_MASK
    if mask and _is_secret_tag(desired.tag, parent_tag):
        changed = d_text != c_text
        d_text, c_text = _mask_text(d_text), _mask_text(c_text)
        if changed and d_text == c_text:
            d_text += " (changed)"
    d_new.text, c_new.text = d_text, c_text
    by_tag = {}
    for idx, child in enumerate(current):
        by_tag.setdefault(child.tag, []).append(idx)
    used = set()
    seen = {}
    for dchild in desired:
        k = seen.get(dchild.tag, 0)
        seen[dchild.tag] = k + 1
        candidates = by_tag.get(dchild.tag, [])
        if k < len(candidates):
            cidx = candidates[k]
            used.add(cidx)
            dn, cn = _xml_align(dchild, current[cidx], mask, desired.tag)
            d_new.append(dn)
            c_new.append(cn)
        else:
            extra = copy.deepcopy(dchild)
            d_new.append(_xml_mask(extra, desired.tag) if mask else extra)
    desired_tags = set(seen)
    for idx, cchild in enumerate(current):
        if idx not in used and _significant_extra(cchild.tag, desired_tags, current.tag):
            extra = copy.deepcopy(cchild)
            c_new.append(_xml_mask(extra, current.tag) if mask else extra)
    return d_new, c_new


def _xml_compare(desired, current, ignore=None):
    """Compare desired XML with Jenkins' copy.

    Returns ``{"contained": bool, "diff": str}``: ``contained`` is True when every declared
    element, attribute and text is present in ``current`` with the same value (what Jenkins adds
    on its own is ignored); ``diff`` is a unified diff of the pretty-printed canonical XML,
    Jenkins' side projected onto what is declared. ``current`` may be None (absent).
    ``ignore`` lists element paths (``properties/some.Property``) left out on both sides.
    """
    d = _xml_drop(_xml_canonical(desired if not isinstance(desired, (str, bytes)) else _xml_parse(desired)), ignore)
    if current is None:
        after = _xml_pretty(_xml_mask(copy.deepcopy(d))).splitlines()
        diff = "\n".join(difflib.unified_diff([], after, "current", "desired", lineterm=""))
        return {"contained": False, "diff": diff}
    c = _xml_drop(_xml_canonical(
        current if not isinstance(current, (str, bytes)) else _xml_parse(current, "Jenkins' config.xml")), ignore)
    if d.tag != c.tag:
        d_al, c_al = d, c
    else:
        d_al, c_al = _xml_align(d, c)
    contained = d.tag == c.tag and _xml_string(d_al) == _xml_string(c_al)
    diff = ""
    if not contained:
        # the diff is made from a masked projection: plaintext secrets never reach `changes`
        if d.tag != c.tag:
            d_m, c_m = _xml_mask(copy.deepcopy(d)), _xml_mask(copy.deepcopy(c))
        else:
            d_m, c_m = _xml_align(d, c, mask=True)
        diff = "\n".join(
            difflib.unified_diff(
                _xml_pretty(c_m).splitlines(), _xml_pretty(d_m).splitlines(), "current", "desired", lineterm=""
            )
        )
    return {"contained": contained, "diff": diff}


def _xml_diff(old, new):
    """Unified diff of the pretty-printed canonical forms of two XML documents (secrets masked)."""

    def masked(doc):
        return _xml_mask(copy.deepcopy(_xml_canonical(doc)))

    before = _xml_pretty(masked(old)).splitlines() if old is not None else []
    after = _xml_pretty(masked(new)).splitlines() if new is not None else []
    return "\n".join(difflib.unified_diff(before, after, "old", "new", lineterm=""))


# ---------------------------------------------------------------------------------------------
# Versions (pure): Jenkins/Maven-style ordering, 2.10 > 2.9, 1.2.3-beta < 1.2.3
# ---------------------------------------------------------------------------------------------

_QUALIFIERS = {"alpha": 0, "a": 0, "beta": 1, "b": 1, "milestone": 2, "m": 2, "rc": 3, "cr": 3,
               "snapshot": 4, "": 5, "ga": 5, "final": 5, "release": 5, "sp": 6}


def _version_items(version):
    text = str(version).strip().lower()
    if not text:
        raise SaltInvocationError("empty version")
    items = []
    for part in re.split(r"[.\-_+~]", text):
        for token in re.findall(r"\d+|[a-z]+", part):
            items.append((1, int(token)) if token.isdigit() else (0, token))
    while items and items[-1] in ((1, 0), (0, "")):
        items.pop()
    return items


def _qual_rank(token):
    return (_QUALIFIERS[token], "") if token in _QUALIFIERS else (7, token)


def _item_cmp(a, b):
    """Compare two items; None stands for 'nothing here' (a release, i.e. 0)."""
    if a is None and b is None:
        return 0
    if a is None:
        return -_item_cmp(b, None)
    if b is None:
        if a[0] == 1:
            return (a[1] > 0) - (a[1] < 0)
        return -1 if _qual_rank(a[1]) < _qual_rank("") else (1 if _qual_rank(a[1]) > _qual_rank("") else 0)
    if a[0] != b[0]:
        return 1 if a[0] == 1 else -1  # a number outranks a qualifier
    if a[0] == 1:
        return (a[1] > b[1]) - (a[1] < b[1])
    ra, rb = _qual_rank(a[1]), _qual_rank(b[1])
    return (ra > rb) - (ra < rb)


def _version_cmp(left, right):
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``."""
    a, b = _version_items(left), _version_items(right)
    for i in range(max(len(a), len(b))):
        res = _item_cmp(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
        if res:
            return res
    return 0


def version_compare(left, right):
    """
    Compare two plugin/Jenkins versions the way Jenkins orders them: returns -1, 0 or 1.

    ``2.10`` is newer than ``2.9``; ``1.2.3-beta`` is older than ``1.2.3``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.version_compare 2.10 2.9
    """
    return _version_cmp(left, right)


# ---------------------------------------------------------------------------------------------
# Sources: literal text or a fileserver path
# ---------------------------------------------------------------------------------------------


def _fetch(source, saltenv, what):
    path = __salt__["cp.cache_file"](source, saltenv)
    if not path:
        raise SaltInvocationError(f"{what}: cannot fetch {source} from the fileserver (saltenv {saltenv})")
    with open(path, encoding="utf-8") as fh:
        return fh.read(), path


def _xml_source(config, saltenv="base", what="config"):
    """XML text (starts with '<') or a path for cp.cache_file -> (text, parsed root)."""
    if not isinstance(config, str) or not config.strip():
        raise SaltInvocationError(f"{what}: expected XML text or a salt:// path")
    text = config
    if not config.lstrip().startswith("<"):
        text, _ = _fetch(config.strip(), saltenv, what)
    return text, _xml_parse(text, what)


# ---------------------------------------------------------------------------------------------
# Jenkins Job Builder (in-process; no CLI, no network)
# ---------------------------------------------------------------------------------------------


def _import_jjb():
    """Import jenkins-job-builder with PyYAML's pure-Python ``Loader``.

    Salt (``salt.utils.yamlloader_old``) rebinds ``yaml.Loader`` to ``yaml.CLoader``; JJB's
    ``LocLoader`` subclasses ``yaml.Loader`` at import time and needs the pure-Python composer
    (anchors, node positions). Import it with the real class in place, and re-import it when an
    earlier import got the C loader.
    """
    import sys  # pylint: disable=import-outside-toplevel

    import yaml  # pylint: disable=import-outside-toplevel
    import yaml.composer  # pylint: disable=import-outside-toplevel
    import yaml.loader  # pylint: disable=import-outside-toplevel

    loc = sys.modules.get("jenkins_jobs.loc_loader")
    if loc is not None and not issubclass(loc.LocLoader, yaml.composer.Composer):
        for mod in [m for m in sys.modules if m == "jenkins_jobs" or m.startswith("jenkins_jobs.")]:
            del sys.modules[mod]
    saved = yaml.Loader
    yaml.Loader = yaml.loader.Loader
    try:
        import jenkins_jobs.config  # pylint: disable=import-outside-toplevel
        import jenkins_jobs.errors  # pylint: disable=import-outside-toplevel
        import jenkins_jobs.loader  # pylint: disable=import-outside-toplevel
        import jenkins_jobs.registry  # pylint: disable=import-outside-toplevel
        import jenkins_jobs.roots  # pylint: disable=import-outside-toplevel
        import jenkins_jobs.xml_config  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise CommandExecutionError(f"jenkins-job-builder is not installed: {err}") from err
    finally:
        yaml.Loader = saved
    return jenkins_jobs


def _jjb_config():
    JJBConfig = _import_jjb().config.JJBConfig  # pylint: disable=invalid-name

    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as fh:
        fh.write("[job_builder]\nignore_cache=True\n[jenkins]\nquery_plugins_info=False\n")
        ini = fh.name
    try:
        cfg = JJBConfig(config_filename=ini)
        cfg.builder["plugins_info"] = []
        cfg.validate()
    finally:
        os.unlink(ini)
    return cfg


def _jjb_render_text(text, source_path=None):
    """Render JJB YAML to ``{job_name: config_xml}``; SaltInvocationError on any YAML/JJB error."""
    jjb = _import_jjb()
    JenkinsJobsException = jjb.errors.JenkinsJobsException  # pylint: disable=invalid-name
    load_files = jjb.loader.load_files
    ModuleRegistry = jjb.registry.ModuleRegistry  # pylint: disable=invalid-name
    Roots = jjb.roots.Roots  # pylint: disable=invalid-name
    XmlJobGenerator = jjb.xml_config.XmlJobGenerator  # pylint: disable=invalid-name
    import pathlib  # pylint: disable=import-outside-toplevel

    import yaml  # pylint: disable=import-outside-toplevel

    if not isinstance(text, str) or not text.strip():
        raise SaltInvocationError("jjb: the Jenkins Job Builder YAML is empty")
    try:
        cfg = _jjb_config()
        roots = Roots(cfg)
        if source_path:
            load_files(cfg, roots, [pathlib.Path(source_path)])
        else:
            load_files(cfg, roots, [io.StringIO(text)])
        registry = ModuleRegistry(cfg, [])
        registry.set_macros(roots.macros)
        jobs = roots.generate_jobs()
        registry.amend_job_dicts(jobs)
        xml_jobs = XmlJobGenerator(registry).generateXML(jobs)
    except (yaml.YAMLError, JenkinsJobsException) as err:
        raise SaltInvocationError(f"jjb: invalid Jenkins Job Builder YAML: {err}") from err
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SaltInvocationError(f"jjb: cannot render the Jenkins Job Builder YAML: {type(err).__name__}: {err}") from err
    out = {}
    for job in xml_jobs:
        data = job.output()
        out[job.name] = data.decode("utf-8") if isinstance(data, bytes) else data
    if not out:
        raise SaltInvocationError("jjb: the YAML defines no job")
    return out


def _jjb_source(jjb, saltenv="base"):
    if not isinstance(jjb, str) or not jjb.strip():
        raise SaltInvocationError("jjb: expected YAML text or a salt:// path")
    if jjb.strip().startswith("salt://") and "\n" not in jjb.strip():
        text, path = _fetch(jjb.strip(), saltenv, "jjb")
        return _jjb_render_text(text, source_path=path)
    return _jjb_render_text(jjb)


def job_render(jjb, saltenv="base"):
    """
    Render Jenkins Job Builder YAML to job XML, in-process (no ``jenkins-jobs`` CLI, no network).

    jjb
        JJB YAML text, or a ``salt://`` path to it. Templates and projects are expanded.

    Returns ``{job_name: config_xml}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_render salt://jobs/app.yaml
    """
    return _jjb_source(jjb, saltenv)


def _desired_job_xml(name, config=None, jjb=None, saltenv="base"):
    """The desired config.xml text of job ``name`` from exactly one of ``config``/``jjb``."""
    if (config is None) == (jjb is None):
        raise SaltInvocationError("give exactly one of config (XML) or jjb (Jenkins Job Builder YAML)")
    if config is not None:
        text, _ = _xml_source(config, saltenv, "config")
        return text
    rendered = _jjb_source(jjb, saltenv)
    if name not in rendered:
        raise SaltInvocationError(
            f"jjb: the YAML renders {', '.join(sorted(rendered))}, not job '{name}'"
        )
    return rendered[name]


# ---------------------------------------------------------------------------------------------
# Controller
# ---------------------------------------------------------------------------------------------


def version(profile=None):
    """
    Return the Jenkins version (the ``X-Jenkins`` header), authenticated from the first request.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.version
        salt '*' jenkins.version profile=ci
    """
    client = _client(profile)
    resp = client.request("GET", "api/json", params={"tree": "mode"})
    ver = resp.headers.get("X-Jenkins")
    if not ver:
        resp = client.request("GET", "")
        ver = resp.headers.get("X-Jenkins")
    if not ver:
        raise CommandExecutionError(f"{client.server} did not send an X-Jenkins header: is it Jenkins?")
    return ver


def info(profile=None):
    """
    Return the controller's top-level API object (``/api/json``): mode, jobs, views, executors.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.info
    """
    return _client(profile).get_json("api/json")


def whoami(profile=None):
    """
    Return the authenticated user (``/me/api/json``); fails clearly on a wrong token.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.whoami profile=ci
    """
    return _client(profile).get_json("me/api/json")


def script(script, node=None, profile=None):  # pylint: disable=redefined-outer-name
    """
    Run a Groovy script in the script console (``scriptText``; needs Overall/Administer) and
    return its output.

    script
        Groovy source.
    node
        Run it on this agent instead of the controller.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.script 'println(Jenkins.instance.numExecutors)'
    """
    if not isinstance(script, str) or not script.strip():
        raise SaltInvocationError("script must be non-empty Groovy source")
    path = (_computer_path(node) if node else "") + "scriptText"
    return _client(profile).request("POST", path, data={"script": script}).text


# ---------------------------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------------------------


def _labels(value):
    """list/set/tuple of labels, or a whitespace-separated string -> sorted list of atoms."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = []
        for item in value:
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise SaltInvocationError(f"labels: invalid label {item!r}")
            if not str(item).strip() or len(str(item).split()) != 1:
                raise SaltInvocationError(f"labels: {item!r} must be one word (labels are space-separated)")
            items.append(str(item).strip())
    else:
        raise SaltInvocationError("labels must be a list of words or a space-separated string")
    return sorted(set(items))


def _node_spec(num_executors=None, remote_fs=None, labels=None, mode=None, description=None,
               web_socket=None, work_dir=None):
    """Validate the declared node fields (None = not declared)."""
    spec = {}
    if num_executors is not None:
        if isinstance(num_executors, bool) or not str(num_executors).strip().isdigit() or int(num_executors) < 1:
            raise SaltInvocationError(f"num_executors must be a positive integer, got {num_executors!r}")
        spec["num_executors"] = int(num_executors)
    if remote_fs is not None:
        if not isinstance(remote_fs, str) or not remote_fs.strip():
            raise SaltInvocationError("remote_fs must be a non-empty path")
        spec["remote_fs"] = remote_fs
    if labels is not None:
        spec["labels"] = _labels(labels)
    if mode is not None:
        if str(mode).upper() not in ("NORMAL", "EXCLUSIVE"):
            raise SaltInvocationError(f"mode must be NORMAL or EXCLUSIVE, got {mode!r}")
        spec["mode"] = str(mode).upper()
    if description is not None:
        spec["description"] = str(description)
    if web_socket is not None:
        if not isinstance(web_socket, bool):
            raise SaltInvocationError("web_socket must be true or false")
        spec["web_socket"] = web_socket
    if work_dir is not None:
        if not isinstance(work_dir, str):
            raise SaltInvocationError("work_dir must be a path (or empty for the default)")
        spec["work_dir"] = work_dir or None
    return spec


def _node_fields(root):
    """Declarable fields of a node config.xml (``<slave>``)."""
    launcher = root.find("launcher")
    launcher_class = launcher.get("class") if launcher is not None else None
    ws = work_dir = None
    if launcher is not None:
        ws = (launcher.findtext("webSocket") or "false").strip() == "true"
        work_dir = (launcher.findtext("workDirSettings/workDirPath") or "").strip() or None
    try:
        executors = int((root.findtext("numExecutors") or "1").strip())
    except ValueError:
        executors = root.findtext("numExecutors")
    return {
        "num_executors": executors,
        "remote_fs": root.findtext("remoteFS") or "",
        "labels": sorted(set((root.findtext("label") or "").split())),
        "mode": (root.findtext("mode") or "NORMAL").strip(),
        "description": root.findtext("description") or "",
        "web_socket": ws if launcher_class == JNLP_LAUNCHER else None,
        "work_dir": work_dir if launcher_class == JNLP_LAUNCHER else None,
        "launcher": launcher_class,
    }


def _set_child(parent, tag, text, before=None):
    elem = parent.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        anchor = None
        if before:
            for idx, child in enumerate(parent):
                if child.tag in before:
                    anchor = idx
                    break
        if anchor is None:
            parent.append(elem)
        else:
            parent.insert(anchor, elem)
    elem.text = text
    return elem


def _jnlp_launcher(web_socket=False, work_dir=None):
    launcher = ET.Element("launcher", {"class": JNLP_LAUNCHER})
    wds = ET.SubElement(launcher, "workDirSettings")
    ET.SubElement(wds, "disabled").text = "false"
    if work_dir:
        ET.SubElement(wds, "workDirPath").text = work_dir
    ET.SubElement(wds, "internalDir").text = "remoting"
    ET.SubElement(wds, "failIfWorkDirIsMissing").text = "false"
    ET.SubElement(launcher, "webSocket").text = "true" if web_socket else "false"
    return launcher


def _apply_node_spec(root, spec):
    """Write the declared fields into a ``<slave>`` tree, keeping everything else."""
    order = ["name", "description", "remoteFS", "numExecutors", "mode", "retentionStrategy",
             "launcher", "label", "nodeProperties"]

    def after(tag):
        return set(order[order.index(tag) + 1:])

    if "description" in spec:
        _set_child(root, "description", spec["description"], after("description"))
    if "remote_fs" in spec:
        _set_child(root, "remoteFS", spec["remote_fs"], after("remoteFS"))
    if "num_executors" in spec:
        _set_child(root, "numExecutors", str(spec["num_executors"]), after("numExecutors"))
    if "mode" in spec:
        _set_child(root, "mode", spec["mode"], after("mode"))
    if "labels" in spec:
        _set_child(root, "label", " ".join(spec["labels"]), after("label"))
    if "web_socket" in spec or "work_dir" in spec:
        launcher = root.find("launcher")
        if launcher is None or launcher.get("class") != JNLP_LAUNCHER:
            new = _jnlp_launcher(spec.get("web_socket", False), spec.get("work_dir"))
            if launcher is not None:
                root.insert(list(root).index(launcher), new)
                root.remove(launcher)
            else:
                _set_child(root, "launcher", None, after("launcher"))
                idx = [c.tag for c in root].index("launcher")
                root.remove(root[idx])
                root.insert(idx, new)
        else:
            if "web_socket" in spec:
                _set_child(launcher, "webSocket", "true" if spec["web_socket"] else "false")
            if "work_dir" in spec:
                wds = launcher.find("workDirSettings")
                if wds is None:
                    wds = _jnlp_launcher(False, None).find("workDirSettings")
                    launcher.insert(0, wds)
                path = wds.find("workDirPath")
                if spec["work_dir"]:
                    _set_child(wds, "workDirPath", spec["work_dir"], {"internalDir", "failIfWorkDirIsMissing"})
                elif path is not None:
                    wds.remove(path)
    return root


def _node_xml(name, spec):
    """A complete ``<slave>`` config.xml for an inbound (JNLP) permanent agent."""
    root = ET.Element("slave")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "description").text = spec.get("description", "")
    ET.SubElement(root, "remoteFS").text = spec.get("remote_fs", "/home/jenkins/agent")
    ET.SubElement(root, "numExecutors").text = str(spec.get("num_executors", 1))
    ET.SubElement(root, "mode").text = spec.get("mode", "NORMAL")
    ET.SubElement(root, "retentionStrategy", {"class": "hudson.slaves.RetentionStrategy$Always"})
    root.append(_jnlp_launcher(spec.get("web_socket", False), spec.get("work_dir")))
    ET.SubElement(root, "label").text = " ".join(spec.get("labels") or [])
    ET.SubElement(root, "nodeProperties")
    return root


def _xml_bytes(root):
    body = _xml_unhide_controls(ET.tostring(root, encoding="unicode"))
    return b"<?xml version='1.1' encoding='UTF-8'?>\n" + body.encode("utf-8")


def node_info(name, profile=None):
    """
    Return a node's API object (``computer/NAME/api/json``), or None when it does not exist.

    A 401/403 raises: an authentication problem is never reported as "absent".

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_info agent1
    """
    return _client(profile).get_json_or_none(_computer_path(name) + "api/json")


def node_exists(name, profile=None):
    """
    Return True when the node exists (auth failures raise instead of answering False).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_exists agent1
    """
    return node_info(name, profile=profile) is not None


def node_config(name, profile=None):
    """
    Return a node's ``config.xml`` text, or None when the node does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_config agent1
    """
    if name in BUILTIN_NAMES:
        raise SaltInvocationError("the built-in node has no config.xml")
    try:
        return _client(profile).request("GET", _computer_path(name) + "config.xml").text
    except JenkinsNotFound:
        return None


def nodes(profile=None):
    """
    Return every node: ``{name: {offline, temporarily_offline, executors, labels, idle, ...}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.nodes
    """
    tree = ("computer[displayName,offline,temporarilyOffline,offlineCauseReason,numExecutors,"
            "idle,jnlpAgent,assignedLabels[name]]")
    data = _client(profile).get_json("computer/api/json", params={"tree": tree})
    out = {}
    for comp in data.get("computer") or []:
        name = comp.get("displayName")
        out[name] = {
            "offline": comp.get("offline"),
            "temporarily_offline": comp.get("temporarilyOffline"),
            "offline_reason": comp.get("offlineCauseReason") or "",
            "executors": comp.get("numExecutors"),
            "idle": comp.get("idle"),
            "inbound": comp.get("jnlpAgent"),
            "labels": sorted({lab.get("name") for lab in comp.get("assignedLabels") or []} - {name}),
        }
    return out


def node_create(name, num_executors=1, remote_fs="/home/jenkins/agent", labels=None, mode="NORMAL",
                description="", web_socket=False, work_dir=None, config_xml=None, saltenv="base",
                profile=None):
    """
    Create a permanent inbound (JNLP) agent, from parameters or from a ``config.xml``.

    name
        Node name.
    num_executors, remote_fs, labels (list, set or space-separated), mode (NORMAL/EXCLUSIVE), description
        The node's settings.
    web_socket
        Inbound agent connects over WebSocket (no TCP agent port needed).
    work_dir
        Remoting work directory (default: the remote FS).
    config_xml
        A complete ``<slave>`` config.xml (text or ``salt://`` path) instead of the parameters.

    Jenkins creates nodes through ``computer/doCreateItem`` (a form); the node's complete
    config.xml is then posted to ``computer/NAME/config.xml``, so what Jenkins keeps is exactly
    the declared XML. If that second step fails the half-created node is removed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_create agent1 num_executors=2 labels='[docker, linux]' web_socket=True
    """
    _check_name(name, "node")
    if name in BUILTIN_NAMES:
        raise SaltInvocationError("the built-in node cannot be created")
    if config_xml is not None:
        _, root = _xml_source(config_xml, saltenv, "config_xml")
        if root.tag != "slave":
            raise SaltInvocationError(f"config_xml: expected a <slave> document, got <{root.tag}>")
        _set_child(root, "name", name, {"description", "remoteFS", "numExecutors"})
        fields = _node_fields(root)
    else:
        spec = _node_spec(num_executors, remote_fs, labels, mode, description, web_socket, work_dir)
        root = _node_xml(name, spec)
        fields = _node_fields(root)
    client = _client(profile)
    form_json = {
        "name": name,
        "nodeDescription": fields["description"],
        "numExecutors": fields["num_executors"] if isinstance(fields["num_executors"], int) else 1,
        "remoteFS": fields["remote_fs"] or "/home/jenkins/agent",
        "labelString": " ".join(fields["labels"]),
        "mode": fields["mode"] if fields["mode"] in ("NORMAL", "EXCLUSIVE") else "NORMAL",
        "retentionStrategy": {"stapler-class": "hudson.slaves.RetentionStrategy$Always"},
        "nodeProperties": {"stapler-class-bag": "true"},
        "launcher": {"stapler-class": JNLP_LAUNCHER, "webSocket": bool(fields["web_socket"])},
    }
    client.request("POST", "computer/doCreateItem",
                   data={"name": name, "type": NODE_TYPE, "json": json.dumps(form_json)})
    try:
        client.request("POST", _computer_path(name) + "config.xml", data=_xml_bytes(root),
                       headers={"Content-Type": "application/xml; charset=utf-8"})
    except CommandExecutionError as err:
        try:
            client.request("POST", _computer_path(name) + "doDelete")
        except CommandExecutionError:
            log.warning("could not remove the half-created node %s", name)
        raise CommandExecutionError(f"node {name}: Jenkins rejected its config.xml: {err}") from err
    return True


def node_compare(name, num_executors=None, remote_fs=None, labels=None, mode=None, description=None,
                 web_socket=None, work_dir=None, profile=None):
    """
    Compare the declared node fields with the node's config.xml (declared fields only).

    Returns None when the node does not exist, else ``{field: {"old", "new"}}`` (labels as
    ``{"added", "removed"}``); an empty dict means "as declared".

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_compare agent1 num_executors=2 labels='[docker]'
    """
    spec = _node_spec(num_executors, remote_fs, labels, mode, description, web_socket, work_dir)
    text = node_config(name, profile=profile)
    if text is None:
        return None
    return _node_changes(_node_fields(_xml_parse(text, "node config.xml")), spec)


def _node_changes(current, spec):
    changes = {}
    for field, want in spec.items():
        have = current.get(field)
        if field == "labels":
            added = sorted(set(want) - set(have))
            removed = sorted(set(have) - set(want))
            if added or removed:
                changes["labels"] = {"added": added, "removed": removed}
        elif field in ("web_socket", "work_dir") and current.get("launcher") != JNLP_LAUNCHER:
            changes[field] = {"old": f"(launcher {current.get('launcher')})", "new": want}
        elif have != want:
            changes[field] = {"old": have, "new": want}
    return changes


def node_reconfigure(name, config_xml=None, saltenv="base", profile=None, **fields):
    """
    Reconfigure a node: either the declared fields (``num_executors``, ``remote_fs``,
    ``labels``, ``mode``, ``description``, ``web_socket``, ``work_dir``) written into its current
    config.xml, or a whole new ``config_xml``. Returns the changes (``{}`` when none).

    The node's ``temporaryOfflineCause`` is preserved: a config.xml posted without it would
    bring a disabled node back online.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_reconfigure agent1 num_executors=4 labels='[docker, linux]'
    """
    fields = {k: v for k, v in fields.items() if not k.startswith("__")}
    unknown = set(fields) - {"num_executors", "remote_fs", "labels", "mode", "description", "web_socket", "work_dir"}
    if unknown:
        raise SaltInvocationError(f"node_reconfigure: unknown field(s) {', '.join(sorted(unknown))}")
    if config_xml is not None and fields:
        raise SaltInvocationError("give either config_xml or fields, not both")
    spec = _node_spec(**fields) if config_xml is None else None
    if config_xml is not None:
        _, new_root = _xml_source(config_xml, saltenv, "config_xml")
        if new_root.tag != "slave":
            raise SaltInvocationError(f"config_xml: expected a <slave> document, got <{new_root.tag}>")
    text = node_config(name, profile=profile)
    if text is None:
        raise CommandExecutionError(f"node {name} does not exist")
    current = _xml_parse(text, "node config.xml")
    if config_xml is None:
        changes = _node_changes(_node_fields(current), spec)
        if not changes:
            return {}
        new_root = _apply_node_spec(copy.deepcopy(current), spec)
    else:
        _set_child(new_root, "name", name, {"description", "remoteFS"})
        cause = current.find("temporaryOfflineCause")
        if cause is not None and new_root.find("temporaryOfflineCause") is None:
            new_root.append(copy.deepcopy(cause))
        cmp = _xml_compare(new_root, current)
        if cmp["contained"]:
            return {}
        changes = {"config": {"diff": cmp["diff"]}}
    _client(profile).request("POST", _computer_path(name) + "config.xml", data=_xml_bytes(new_root),
                             headers={"Content-Type": "application/xml; charset=utf-8"})
    return changes


def node_delete(name, profile=None):
    """
    Delete a node. Returns True when deleted, False when it did not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_delete agent1
    """
    if name in BUILTIN_NAMES:
        raise SaltInvocationError("the built-in node cannot be deleted")
    try:
        _client(profile).request("POST", _computer_path(name) + "doDelete")
    except JenkinsNotFound:
        return False
    return True


def _offline_state(name, profile):
    data = node_info(name, profile=profile)
    if data is None:
        raise CommandExecutionError(f"node {name} does not exist")
    return bool(data.get("temporarilyOffline")), data.get("offlineCauseReason") or ""


def node_enable(name, profile=None):
    """
    Bring a node back online (clear its temporary-offline mark). Keyed on
    ``temporarilyOffline``, never on ``offline``: a disconnected agent is not "disabled".
    Returns True when something changed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_enable agent1
    """
    temp, _ = _offline_state(name, profile)
    if not temp:
        return False
    _client(profile).request("POST", _computer_path(name) + "toggleOffline", params={"offlineMessage": ""})
    return True


def node_disable(name, message="", profile=None):
    """
    Mark a node temporarily offline with a message; when it already is and the message
    differs, re-word it (``changeOfflineCause``). Returns True when something changed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_disable agent1 message='maintenance'
    """
    message = "" if message is None else str(message)
    temp, reason = _offline_state(name, profile)
    path = _computer_path(name)
    if not temp:
        _client(profile).request("POST", path + "toggleOffline", params={"offlineMessage": message})
        return True
    if message and message.strip() != reason.strip():
        _client(profile).request("POST", path + "changeOfflineCause", params={"offlineMessage": message})
        return True
    return False


def agent_secret(name, profile=None):
    """
    Return the inbound agent secret of a node (the first ``<argument>`` of
    ``computer/NAME/jenkins-agent.jnlp``; needs Agent/Connect). It is never logged.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.agent_secret agent1
    """
    if name in BUILTIN_NAMES:
        raise SaltInvocationError("the built-in node has no agent secret")
    try:
        resp = _client(profile).request("GET", _computer_path(name) + "jenkins-agent.jnlp")
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"node {name} does not exist (or is not an inbound agent)") from err
    try:
        root = ET.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", resp.text, count=1))
    except ET.ParseError as err:
        raise CommandExecutionError(f"node {name}: jenkins-agent.jnlp is not XML") from err
    arg = root.find(".//application-desc/argument")
    if arg is None:
        arg = root.find(".//argument")
    if arg is None or not (arg.text or "").strip():
        raise CommandExecutionError(f"node {name}: no secret in jenkins-agent.jnlp")
    return arg.text.strip()


def wait_online(name, timeout=120, interval=2, profile=None):
    """
    Wait until a node is online (``offline: false``); raise with its state on timeout.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.wait_online agent1 timeout=60
    """
    try:
        timeout, interval = float(timeout), float(interval)
    except (TypeError, ValueError) as err:
        raise SaltInvocationError("timeout and interval must be numbers") from err
    start = time.monotonic()
    deadline = start + timeout
    while True:
        data = node_info(name, profile=profile)
        if data is None:
            raise CommandExecutionError(f"node {name} does not exist")
        if not data.get("offline"):
            return {"name": name, "online": True, "waited": round(time.monotonic() - start, 1)}
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"node {name} still offline after {timeout:g}s: temporarilyOffline="
                f"{data.get('temporarilyOffline')}, offlineCauseReason={data.get('offlineCauseReason')!r}, "
                f"connecting={data.get('connecting')}, inbound={data.get('jnlpAgent')}"
            )
        time.sleep(max(0.05, min(interval, deadline - time.monotonic())))


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


def job_info(name, profile=None):
    """
    Return a job's API object, or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_info app-build
    """
    return _client(profile).get_json_or_none(_job_path(name) + "api/json")


def job_exists(name=None, profile=None):
    """
    Return True when the job exists (auth failures raise, never answer False).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_exists app-build
    """
    if not name:
        raise SaltInvocationError("Required parameter 'name' is missing")
    data = _client(profile).get_json_or_none(_job_path(name) + "api/json", params={"tree": "name"})
    return data is not None


def job_config(name, profile=None):
    """
    Return a job's ``config.xml`` text, or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_config app-build
    """
    try:
        return _client(profile).request("GET", _job_path(name) + "config.xml").text
    except JenkinsNotFound:
        return None


def _walk_jobs(items, prefix=""):
    out = []
    for item in items or []:
        full = f"{prefix}{item.get('name')}"
        out.append({"name": item.get("name"), "fullname": full, "url": item.get("url"),
                    "color": item.get("color"), "_class": item.get("_class")})
        if item.get("jobs"):
            out.extend(_walk_jobs(item["jobs"], full + "/"))
    return out


def jobs(profile=None):
    """
    Return every job (folders walked): a list of ``{name, fullname, url, color, _class}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.jobs
    """
    inner = "name,url,color"
    tree = f"jobs[{inner}]"
    for _ in range(4):
        tree = f"jobs[{inner},{tree}]"
    return _walk_jobs(_client(profile).get_json("api/json", params={"tree": tree}).get("jobs"))


def _ignore_list(ignore):
    if ignore is None:
        return None
    if isinstance(ignore, str):
        ignore = [ignore]
    if not isinstance(ignore, (list, tuple)) or not all(isinstance(p, str) and p.strip("/") for p in ignore):
        raise SaltInvocationError("ignore must be a list of element paths such as 'properties/x.y.Property'")
    return list(ignore)


def job_compare(name, config=None, jjb=None, saltenv="base", ignore=None, profile=None):
    """
    Compare a desired job config (XML or JJB YAML) with the job's config.xml.

    The comparison is canonical (declaration, whitespace, ``plugin="x@v"`` ignored, encrypted
    secrets never compared) and declared-only: what Jenkins fills in on its own never counts.
    ``ignore`` lists element paths left out of the comparison on both sides (e.g. job properties
    a Jenkinsfile's ``properties`` step owns). Returns ``{"exists", "changed", "diff", "xml",
    "disabled"}`` (``xml`` is the desired document, ``disabled`` its ``<disabled>`` value or None).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_compare app-build config=salt://jobs/app-build.xml
    """
    ignore = _ignore_list(ignore)
    desired = _desired_job_xml(name, config, jjb, saltenv)
    flag = (_xml_parse(desired, "config").findtext("disabled") or "").strip().lower()
    current = job_config(name, profile=profile)
    cmp = _xml_compare(desired, current, ignore=ignore)
    return {"exists": current is not None, "changed": not cmp["contained"], "diff": cmp["diff"], "xml": desired,
            "disabled": {"true": True, "false": False}.get(flag)}


def _post_job_xml(client, path, text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.request("POST", path, data=data, headers={"Content-Type": "application/xml; charset=utf-8"})


def job_create(name, config_xml=None, jjb=None, saltenv="base", profile=None):
    """
    Create a job from XML (text or ``salt://`` path) or from Jenkins Job Builder YAML.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_create app-build config_xml=salt://jobs/app-build.xml
        salt '*' jenkins.job_create app-build jjb=salt://jobs/app.yaml
    """
    text = _desired_job_xml(name, config_xml, jjb, saltenv)
    parent, short = _job_parent_and_short(_check_name(name, "job"))
    _job_path(name)
    client = _client(profile)
    _post_job_xml(client, f"{parent}createItem?name={urllib.parse.quote(short, safe='')}", text)
    return True


def job_update(name, config_xml=None, jjb=None, saltenv="base", profile=None):
    """
    Replace a job's config.xml with XML (text or ``salt://`` path) or Jenkins Job Builder YAML.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_update app-build config_xml=salt://jobs/app-build.xml
    """
    text = _desired_job_xml(name, config_xml, jjb, saltenv)
    client = _client(profile)
    try:
        _post_job_xml(client, _job_path(name) + "config.xml", text)
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"job {name} does not exist") from err
    return True


def job_delete(name, profile=None):
    """
    Delete a job. Returns True when deleted, False when it did not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_delete app-build
    """
    try:
        _client(profile).request("POST", _job_path(name) + "doDelete")
    except JenkinsNotFound:
        return False
    return True


def _job_action(name, action, profile):
    """POST a job action (enable, disable); a missing job is an error, not a silent no-op."""
    try:
        _client(profile).request("POST", _job_path(name) + action)
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"job {name} does not exist") from err
    return True


def job_enable(name, profile=None):
    """
    Enable a job.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_enable app-build
    """
    return _job_action(name, "enable", profile)


def job_disable(name, profile=None):
    """
    Disable a job.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_disable app-build
    """
    return _job_action(name, "disable", profile)


def job_enabled(name, profile=None):
    """
    Return True/False as the job is enabled/disabled, None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_enabled app-build
    """
    data = _client(profile).get_json_or_none(_job_path(name) + "api/json", params={"tree": "buildable,color,disabled"})
    if data is None:
        return None
    if "disabled" in data and data["disabled"] is not None:
        return not data["disabled"]
    return data.get("color") != "disabled"


# ---------------------------------------------------------------------------------------------
# Builds
# ---------------------------------------------------------------------------------------------


def _build_params(parameters):
    if parameters is None:
        return None
    if isinstance(parameters, dict):
        items = list(parameters.items())
    elif isinstance(parameters, (list, tuple)):
        items = []
        for entry in parameters:
            if isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                items.append(tuple(entry))
            else:
                # never echo the entry: it may hold a secret value
                raise SaltInvocationError(
                    "parameters: each list entry must be a one-key mapping or a (name, value) pair, "
                    f"got a {type(entry).__name__}"
                    + (f" of {len(entry)} items" if isinstance(entry, (dict, list, tuple)) else "")
                )
    else:
        raise SaltInvocationError("parameters must be a mapping of name: value")
    out = []
    for key, value in items:
        if not isinstance(key, str) or not key:
            raise SaltInvocationError(f"parameters: invalid name {key!r}")
        if isinstance(value, (dict, list, tuple)):
            raise SaltInvocationError(f"parameters: {key} must be a scalar")
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, "" if value is None else str(value)))
    return out


def _queue_id(location):
    match = re.search(r"/queue/item/(\d+)/?$", location or "")
    return int(match.group(1)) if match else None


def _is_parameterized(data):
    for prop in (data or {}).get("property") or []:
        if prop.get("parameterDefinitions"):
            return True
    return False


_PARAM_DEFS_TREE = "property[parameterDefinitions[name,type]]"


def _param_defs(data):
    """``{name: type}`` of a job's parameter definitions (``type`` as Jenkins exports it)."""
    defs = {}
    for prop in (data or {}).get("property") or []:
        for pdef in (prop or {}).get("parameterDefinitions") or []:
            if pdef and pdef.get("name"):
                defs[pdef["name"]] = str(pdef.get("type") or pdef.get("_class") or "").rsplit(".", 1)[-1]
    return defs


def _check_param_names(name, params, defs):
    """Refuse parameters the job does not define: Jenkins drops them silently (SECURITY-170)."""
    unknown = sorted({key for key, _ in params or ()} - set(defs))
    if not unknown:
        return
    if defs:
        raise SaltInvocationError(
            f"job {name} does not define parameter(s) {', '.join(unknown)} (it defines: {', '.join(sorted(defs))}); "
            "Jenkins would silently drop them"
        )
    raise SaltInvocationError(
        f"job {name} has no parameters, so Jenkins would silently drop {', '.join(unknown)}"
    )


def _trigger(client, name, params):
    """Queue a build; return the queue id (following Jenkins' 303 to an identical queued item)."""
    path = _job_path(name)
    data = client.get_json_or_none(path + "api/json", params={"tree": f"buildable,{_PARAM_DEFS_TREE}"})
    if data is None:
        raise CommandExecutionError(f"job {name} does not exist")
    _check_param_names(name, params, _param_defs(data))
    if params or _is_parameterized(data):
        resp = client.request("POST", path + "buildWithParameters", data=params or {}, allow_redirects=False)
    else:
        resp = client.request("POST", path + "build", allow_redirects=False)
    location = resp.headers.get("Location")
    qid = _queue_id(location)
    if resp.status_code in (201, 303) and qid is not None:
        if resp.status_code == 303:
            log.debug("job %s: an identical item is already queued (#%s); following it", name, qid)
        return qid
    raise CommandExecutionError(
        f"job {name}: Jenkins did not queue the build (HTTP {resp.status_code}, Location {location!r}); "
        "is the job disabled or the controller quieting down?"
    )


def queue_item(queue_id, profile=None):
    """
    Return a queue item's API object, or None when it is unknown (left items expire).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.queue_item 42
    """
    try:
        qid = int(queue_id)
    except (TypeError, ValueError) as err:
        raise SaltInvocationError("queue_id must be an integer") from err
    return _client(profile).get_json_or_none(f"queue/item/{qid}/api/json")


def _build_ref(number):
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return str(number)
    text = str(number)
    if text.isdigit() and int(text) > 0:
        return text
    if text in ("lastBuild", "lastCompletedBuild", "lastSuccessfulBuild", "lastFailedBuild",
                "lastStableBuild", "lastUnstableBuild", "lastUnsuccessfulBuild"):
        return text
    raise SaltInvocationError(f"build number must be a positive integer or lastBuild etc., got {number!r}")


def build_info(name, number="lastBuild", profile=None):
    """
    Return a build's API object (result, building, duration, ...), or None when absent.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_info app-build 12
    """
    return _client(profile).get_json_or_none(f"{_job_path(name)}{_build_ref(number)}/api/json")


def _tail(text, lines):
    if lines is None:
        return text
    lines = int(lines)
    if lines <= 0:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def console(name, number="lastBuild", tail=None, profile=None):
    """
    Return a build's console log (``consoleText``), or its last ``tail`` lines.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.console app-build 12 tail=40
    """
    try:
        text = _client(profile).request("GET", f"{_job_path(name)}{_build_ref(number)}/consoleText").text
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"job {name} has no build {number}") from err
    return _tail(text, tail)


def artifact(name, path, number="lastSuccessfulBuild", dest=None, profile=None):
    """
    Fetch a build artifact: written to ``dest`` (returns ``{path, size, sha256}``) or returned
    as text.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.artifact app-build dist/app.tar.gz number=12 dest=/tmp/app.tar.gz
    """
    if not isinstance(path, str) or not path.strip("/") or ".." in path.split("/"):
        raise SaltInvocationError("path must be a relative artifact path")
    rel = "/".join(urllib.parse.quote(p, safe="") for p in path.strip("/").split("/"))
    url = f"{_job_path(name)}{_build_ref(number)}/artifact/{rel}"
    try:
        resp = _client(profile).request("GET", url, stream=dest is not None)
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"job {name} build {number}: no artifact {path}") from err
    if dest is None:
        return resp.content.decode("utf-8", "replace")
    digest = hashlib.sha256()
    size = 0
    tmp = f"{dest}.part"
    with open(tmp, "wb") as fh:
        for chunk in resp.iter_content(65536):
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    os.replace(tmp, dest)
    return {"path": dest, "size": size, "sha256": digest.hexdigest()}


def build(name, parameters=None, wait=True, timeout=600, poll_interval=1, tail=50, profile=None):
    """
    Trigger a build through the queue and (by default) wait for its result.

    The queue id comes from the ``Location`` Jenkins answers (201; a 303 for an identical
    parameterised item already queued is followed to that item); the queue item is polled until
    it has an ``executable`` build number (or is cancelled), then the build until it has a
    result, all within ``timeout`` seconds.

    Returns ``{number, queue_id, url, result, duration, building, console_tail}``; ``result`` is
    None when the build did not finish in time (``number`` None when it never left the queue,
    with ``why`` from Jenkins).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build app-build parameters='{REVISION: abc123}' timeout=300
    """
    params = _build_params(parameters)
    try:
        timeout, poll_interval = float(timeout), float(poll_interval)
    except (TypeError, ValueError) as err:
        raise SaltInvocationError("timeout and poll_interval must be numbers") from err
    client = _client(profile)
    start = time.monotonic()
    deadline = start + timeout
    qid = _trigger(client, name, params)
    out = {"name": name, "queue_id": qid, "number": None, "url": None, "result": None,
           "duration": None, "building": None, "console_tail": ""}

    def pause():
        time.sleep(max(0.05, min(poll_interval, deadline - time.monotonic())))

    item = None
    while True:
        item = client.get_json_or_none(f"queue/item/{qid}/api/json")
        if item is None:
            raise CommandExecutionError(f"job {name}: queue item {qid} vanished (expired?)")
        if item.get("cancelled"):
            raise CommandExecutionError(f"job {name}: queue item {qid} was cancelled")
        executable = item.get("executable")
        if executable and executable.get("number"):
            out["number"] = int(executable["number"])
            out["url"] = executable.get("url")
            break
        if time.monotonic() >= deadline:
            out["why"] = item.get("why")
            return out
        pause()
    if not wait:
        out["building"] = True
        return out
    return _wait_build(client, name, out, deadline, pause, tail)


def _wait_build(client, name, out, deadline, pause, tail):
    """Poll build ``out["number"]`` until it has a result or ``deadline``; fill in ``out``."""
    path = f"{_job_path(name)}{out['number']}/"
    while True:
        data = client.get_json_or_none(path + "api/json", params={"tree": "number,url,result,building,duration"})
        if data is not None:
            out["url"] = data.get("url") or out["url"]
            out["building"] = bool(data.get("building"))
            if not data.get("building") and data.get("result"):
                out["result"] = data["result"]
                out["duration"] = data.get("duration")
                break
        if time.monotonic() >= deadline:
            break
        pause()
    try:
        out["console_tail"] = _tail(client.request("GET", path + "consoleText").text, tail)
    except JenkinsNotFound:
        out["console_tail"] = ""
    return out


def build_wait(name, number, timeout=600, poll_interval=1, tail=50, profile=None):
    """
    Wait for an already started build (e.g. one an earlier run left running) to finish.

    Returns the same mapping as ``jenkins.build`` (``queue_id`` None); ``result`` is None when
    the build did not finish within ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_wait app-build 12 timeout=300
    """
    ref = _build_ref(number)
    if not ref.isdigit():
        raise SaltInvocationError("build_wait needs a build number")
    try:
        timeout, poll_interval = float(timeout), float(poll_interval)
    except (TypeError, ValueError) as err:
        raise SaltInvocationError("timeout and poll_interval must be numbers") from err
    client = _client(profile)
    deadline = time.monotonic() + timeout

    def pause():
        time.sleep(max(0.05, min(poll_interval, deadline - time.monotonic())))

    if client.get_json_or_none(f"{_job_path(name)}{ref}/api/json", params={"tree": "number"}) is None:
        raise CommandExecutionError(f"job {name} has no build {ref}")
    out = {"name": name, "queue_id": None, "number": int(ref), "url": None, "result": None,
           "duration": None, "building": None, "console_tail": ""}
    return _wait_build(client, name, out, deadline, pause, tail)


def last_build_with(name, parameters=None, limit=50, profile=None):
    """
    Return the newest build (finished or still running) whose parameters include
    ``parameters`` (all builds when None), as ``{number, result, url, building}``, or None.
    ``result`` is None while the build runs.

    Parameters the job does not define are refused (``SaltInvocationError``): Jenkins drops
    them silently, so no build would ever match. Password parameters are left out of the
    match: Jenkins does not export their values.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.last_build_with app-build parameters='{REVISION: abc123}'
    """
    params = _build_params(parameters) or []
    tree = (f"{_PARAM_DEFS_TREE},"
            f"builds[number,url,result,building,actions[parameters[name,value]]]{{0,{int(limit)}}}")
    data = _client(profile).get_json_or_none(_job_path(name) + "api/json", params={"tree": tree})
    if data is None:
        return None
    defs = _param_defs(data)
    _check_param_names(name, params, defs)
    params = {k: v for k, v in params if defs.get(k) != "PasswordParameterDefinition"}
    for bld in data.get("builds") or []:
        if not bld.get("building") and not bld.get("result"):
            continue
        have = {}
        for action in bld.get("actions") or []:
            for param in (action or {}).get("parameters") or []:
                value = param.get("value")
                have[param.get("name")] = ("true" if value else "false") if isinstance(value, bool) else (
                    "" if value is None else str(value))
        if all(have.get(k) == v for k, v in params.items()):
            return {"number": bld.get("number"), "result": None if bld.get("building") else bld.get("result"),
                    "url": bld.get("url"), "building": bool(bld.get("building"))}
    return None


# ---------------------------------------------------------------------------------------------
# Plugins
# ---------------------------------------------------------------------------------------------


def plugins(profile=None):
    """
    Return the installed plugins: ``{shortName: {version, active, enabled, long_name}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.plugins
    """
    data = _client(profile).get_json(
        "pluginManager/api/json", params={"tree": "plugins[shortName,longName,version,active,enabled]"}
    )
    return {
        p["shortName"]: {"version": p.get("version"), "active": p.get("active"), "enabled": p.get("enabled"),
                         "long_name": p.get("longName")}
        for p in data.get("plugins") or [] if p.get("shortName")
    }


def plugin_installed(name, profile=None):
    """
    Return True when a plugin (short or long name) is installed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.plugin_installed git
    """
    if not name:
        raise SaltInvocationError("Required parameter 'name' is missing")
    for short, data in plugins(profile=profile).items():
        if name in (short, data.get("long_name")):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# The removed core module's functions (same names and semantics; job_status fixed)
# ---------------------------------------------------------------------------------------------


def get_version(profile=None):
    """
    Return the Jenkins version (old ``jenkins.get_version``; authenticated).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_version
    """
    return version(profile=profile)


def get_jobs(profile=None):
    """
    Return the jobs (old ``jenkins.get_jobs``); an empty dict when there are none.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_jobs
    """
    return jobs(profile=profile) or {}


def _require(name):
    if not name:
        raise SaltInvocationError("Required parameter 'name' is missing")


def _require_job(name, profile):
    _require(name)
    if not job_exists(name, profile=profile):
        raise CommandExecutionError(f"Job '{name}' does not exist")


def get_job_info(name=None, profile=None):
    """
    Return a job's information (old ``jenkins.get_job_info``); raises when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_job_info jobname
    """
    _require(name)
    data = job_info(name, profile=profile)
    if data is None:
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return data


def build_job(name=None, parameters=None, profile=None):
    """
    Queue a build (old ``jenkins.build_job``); returns True. See ``jenkins.build`` to wait.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_job jobname
    """
    _require(name)
    params = _build_params(parameters)
    client = _client(profile)
    try:
        _trigger(client, name, params)
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"Job '{name}' does not exist") from err
    return True


def create_job(name=None, config_xml=None, saltenv="base", profile=None):
    """
    Create a job from a config file (old ``jenkins.create_job``): ``config_xml`` is fetched with
    ``cp.cache_file`` (a ``salt://`` path) or given as XML text. There is no fallback to an
    empty config. Returns the XML posted.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.create_job jobname config_xml=salt://jenkins/config.xml
    """
    _require(name)
    if not config_xml:
        raise SaltInvocationError("config_xml is required (a salt:// path or XML text)")
    text, _ = _xml_source(config_xml, saltenv, "config_xml")
    if job_exists(name, profile=profile):
        raise CommandExecutionError(f"Job '{name}' already exists")
    job_create(name, config_xml=text, profile=profile)
    return text


def update_job(name=None, config_xml=None, saltenv="base", profile=None):
    """
    Replace a job's config (old ``jenkins.update_job``); no fallback to an empty config.
    Returns the XML posted, as the old module did.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.update_job jobname config_xml=salt://jenkins/config.xml
    """
    _require(name)
    if not config_xml:
        raise SaltInvocationError("config_xml is required (a salt:// path or XML text)")
    text, _ = _xml_source(config_xml, saltenv, "config_xml")
    job_update(name, config_xml=text, profile=profile)
    return text


def delete_job(name=None, profile=None):
    """
    Delete a job (old ``jenkins.delete_job``); raises when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.delete_job jobname
    """
    _require(name)
    if not job_delete(name, profile=profile):
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return True


def enable_job(name=None, profile=None):
    """
    Enable a job (old ``jenkins.enable_job``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.enable_job jobname
    """
    _require(name)
    return job_enable(name, profile=profile)


def disable_job(name=None, profile=None):
    """
    Disable a job (old ``jenkins.disable_job``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.disable_job jobname
    """
    _require(name)
    return job_disable(name, profile=profile)


def job_status(name=None, profile=None):
    """
    Return the job's status (old ``jenkins.job_status``, fixed: it used to read a job called
    ``empty``): ``{buildable, color, in_queue, last_build: {number, result, building} or None}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_status jobname
    """
    _require(name)
    tree = "buildable,color,inQueue,lastBuild[number,result,building,url]"
    data = _client(profile).get_json_or_none(_job_path(name) + "api/json", params={"tree": tree})
    if data is None:
        raise CommandExecutionError(f"Job '{name}' does not exist")
    last = data.get("lastBuild")
    return {
        "buildable": data.get("buildable"),
        "color": data.get("color"),
        "in_queue": data.get("inQueue"),
        "last_build": None if not last else {
            "number": last.get("number"), "result": last.get("result"), "building": last.get("building"),
            "url": last.get("url")},
    }


def get_job_config(name=None, profile=None):
    """
    Return a job's config.xml (old ``jenkins.get_job_config``); raises when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_job_config jobname
    """
    _require(name)
    text = job_config(name, profile=profile)
    if text is None:
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return text


def run(script, profile=None):  # pylint: disable=redefined-outer-name
    """
    Run a Groovy script on the controller (old ``jenkins.run``); returns its output.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.run 'Jenkins.instance.doSafeRestart()'
    """
    return globals()["script"](script, profile=profile)

