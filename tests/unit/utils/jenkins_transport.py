"""A fake transport at the requests level, for the paths a real Jenkins controller takes that
the emulator (one release) cannot: the answers of 2.479.3 and 2.568.2 side by side.

The answers are reproduced from the Jenkins source at the tags named beside each one (status,
headers and body as the cited method writes them), not invented: what a real controller sends.
Unit tests only; functional tests use the emulator, never this.
"""

import io
import json as _json
import urllib.parse

import requests
import requests.adapters
from saltext.chain.utils import chain_jenkins_client

URL = "http://jenkins.test/"


def answer(status=200, body=b"", headers=None, json=None):
    if json is not None:
        body = _json.dumps(json).encode()
        headers = {"Content-Type": "application/json;charset=utf-8", **(headers or {})}
    if isinstance(body, str):
        body = body.encode("utf-8")
    return {"status": status, "body": body, "headers": dict(headers or {})}


def stack_trace(exception, text, where="jenkins.model.ParameterizedJobMixIn.doBuild"):
    """``HttpResponses.error(code, throwable)``: the throwable printed as text/plain."""
    body = (
        f"{exception}: {text}\n\tat {where}(ParameterizedJobMixIn.java:265)\n"
        "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Unknown "
        "Source)\n"
    )
    return {"Content-Type": "text/plain;charset=UTF-8"}, body


def jetty_error(code, text):
    """``HttpResponses.errorWithoutStack(code, message)`` -> ``rsp.sendError``: Jetty's page."""
    body = (
        f'<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;'
        f'charset=ISO-8859-1"/>\n<title>Error {code} {text}</title>\n</head>\n<body>'
        f"<h2>HTTP ERROR {code} {text}</h2>\n<table>\n<tr><th>URI:</th><td>/x</td></tr>\n"
        f"<tr><th>STATUS:</th><td>{code}</td></tr>\n</table>\n</body>\n</html>\n"
    )
    return {"Content-Type": "text/html;charset=iso-8859-1"}, body


def oops(logging_id="5a1c4f3e-0d7e-4f4c-9d53-3a7c1c2f9e01"):
    """An uncaught exception: ``jenkins/model/Jenkins/oops.jelly`` (500, stack trace hidden
    unless ``Jenkins.shouldShowStackTrace``)."""
    body = (
        "<!DOCTYPE html><html><head><title>Jenkins</title></head><body>"
        '<div id="page-header">Jenkins</div><div id="main-panel">'
        '<h1 style="text-align: center"><img src="/images/rage.svg"/>'
        '<span style="font-size:50px">&nbsp;Oops!</span></h1>'
        '<div id="error-description"><h2 style="text-align: center">A problem occurred '
        'while processing the request</h2><p style="text-align: center">'
        f"Logging ID={logging_id}</p></div></div></body></html>"
    )
    return {"Content-Type": "text/html;charset=utf-8"}, body


class Transport(requests.adapters.BaseAdapter):
    """Answers requests from ``routes``: ``{(METHOD, path): answer or callable(request)}``.

    Paths are relative to :data:`URL`, without the query string; job and node names are
    looked up case-insensitively when ``case_insensitive`` (``Jenkins.items`` is a
    ``CopyOnWriteMap.Tree`` on ``String.CASE_INSENSITIVE_ORDER``). Every request is recorded
    as ``(METHOD, path, query, body)``; an unknown route is a 404.
    """

    def __init__(self, routes=None, case_insensitive=True):
        super().__init__()
        self.routes = dict(routes or {})
        self.case_insensitive = case_insensitive
        self.seen = []

    def _route(self, method, path):
        if (method, path) in self.routes:
            return self.routes[(method, path)]
        if self.case_insensitive:
            for (m, p), value in self.routes.items():
                if m == method and p.lower() == path.lower():
                    return value
        return answer(404, "Not Found")

    def writes(self):
        return [(m, p) for m, p, _q, _b in self.seen if m not in ("GET", "HEAD")]

    def send(self, request, **kwargs):
        parts = urllib.parse.urlsplit(request.url)
        path = urllib.parse.unquote(parts.path[len(urllib.parse.urlsplit(URL).path) :])
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        self.seen.append((request.method, path, parts.query, body or b""))
        route = self._route(request.method, path)
        spec = route(request) if callable(route) else route
        resp = requests.Response()
        resp.status_code = spec["status"]
        resp.headers = requests.structures.CaseInsensitiveDict(spec["headers"])
        resp.raw = io.BytesIO(spec["body"])
        resp.url = request.url
        resp.request = request
        resp.reason = {
            200: "OK",
            201: "Created",
            302: "Found",
            400: "Bad Request",
            404: "Not Found",
            409: "Conflict",
            500: "Server Error",
        }.get(spec["status"], "")
        return resp

    def close(self):
        pass


def client(transport, user="salt", token="t0k"):
    """A real ``chain_jenkins_client.Client`` whose HTTP goes to ``transport``."""
    conf = chain_jenkins_client.connection(
        {"url": URL, "user": user, "token": token} if user else {"url": URL},
        lambda key, default=None: default,
    )
    cli = chain_jenkins_client.Client(conf)
    cli._session.mount("http://", transport)
    transport.routes.setdefault(("GET", "crumbIssuer/api/json"), answer(404, "Not Found"))
    return cli
