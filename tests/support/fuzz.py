"""Bounded HTTP fuzzing of the chain's own surfaces on 127.0.0.1 (hypothesis strategies and a raw
sender). A request is a method, a path of known and random segments, a query, headers (the
``Authorization`` among them) and a body; ``send`` writes it with ``http.client`` without any
check of its own (what a careless or hostile client sends) and returns the status, or the
error when the server closed or reset the connection (its own refusal of what it could not
parse: no crash as long as the server answers the next request).

Bounds: ``settings(max_examples=...)``; under ``CI=true`` hypothesis loads its ``ci`` profile
(derandomized: the same examples every run, no example database)."""

import base64
import http.client
import socket
import urllib.parse

from hypothesis import strategies as st

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"])
_JUNK = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=24,
)
# Segments that are not names: traversal, percent junk, very long, encoded separators.
_ODD = st.sampled_from(
    ["..", ".", "%2e%2e", "%2F", "%zz", "%", "%00", ";", "~", "a" * 2000, "api", "json", "xml"]
)


def segment(known):
    """One path segment: a known word of the surface, a random text (percent-encoded) or an
    odd one (sent raw)."""
    return st.one_of(
        st.sampled_from(known),
        _JUNK.map(lambda s: urllib.parse.quote(s, safe="")),
        _ODD,
    )


def path(known, max_segments=6):
    return st.lists(segment(known), min_size=0, max_size=max_segments).map(
        lambda segs: "/" + "/".join(segs)
    )


def query(keys):
    pairs = st.lists(
        st.tuples(st.one_of(st.sampled_from(keys), _JUNK), st.one_of(_JUNK, _ODD)), max_size=4
    )
    return pairs.map(lambda kv: urllib.parse.urlencode(kv) if kv else "")


BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=512),
    _JUNK.map(str.encode),
    st.sampled_from(
        [
            b"<?xml version='1.0'?><project><builders>",
            b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
            b'{"json": ',
            b"\xff\xfe\x00<",
            b"a=" + b"%" * 300,
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/xml",
        "text/xml",
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "text/plain; charset=bogus",
    ]
)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bad_authorizations(user):
    """``Authorization`` values that are no valid credentials (``None``: no header)."""
    return st.one_of(
        st.none(),
        _JUNK.map(lambda p: basic(user, "x" + p)),
        _JUNK.map(lambda u: basic("x" + u, "token")),
        st.sampled_from(["Basic", "Basic !!!", "Basic Og==", "Bearer x", "Negotiate x", "basic "]),
        st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    )


@st.composite
def requests(draw, known, keys, authorization):
    """``{method, path, headers, body}`` with ``authorization`` a strategy of header values."""
    q = draw(query(keys))
    headers = {}
    auth = draw(authorization)
    if auth is not None:
        headers["Authorization"] = auth
    ctype = draw(CONTENT_TYPES)
    if ctype:
        headers["Content-Type"] = ctype
    extra = draw(
        st.dictionaries(
            st.sampled_from(["X-Forwarded-For", "Host", "Cookie", "Jenkins-Crumb", "Range"]),
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
            max_size=2,
        )
    )
    headers.update(extra)
    return {
        "method": draw(METHODS),
        "path": draw(path(known)) + (f"?{q}" if q else ""),
        "headers": headers,
        "body": draw(BODIES),
    }


def send(port, req, timeout=10):
    """``(status, body)``, or ``(None, error)`` when the server dropped the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(req["method"], req["path"], skip_host="Host" in req["headers"])
        for key, value in req["headers"].items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(len(req["body"])))
        conn.endheaders(req["body"])
        resp = conn.getresponse()
        try:
            return resp.status, resp.read()
        except http.client.IncompleteRead as err:  # the status was sent, the body cut short
            return resp.status, b"(incomplete) " + err.partial
    except (ConnectionError, http.client.BadStatusLine, http.client.RemoteDisconnected) as err:
        return None, repr(err)
    finally:
        conn.close()


def raw(port, data, timeout=10):
    """Send raw bytes; the status line's code (int) or ``None`` if the server closed silently."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    head = b"".join(chunks).split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) >= 2 and head[1].isdigit() else None


RAW_REQUESTS = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.sampled_from(
        [
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
            b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n" + b"H: v\r\n" * 500 + b"\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        ]
    ),
)


# ------------------------------------------------------------- the chain's own HTTP surfaces

SOURCE_KNOWN = [
    "git",
    "hg",
    "app.git",
    "app-hg",
    "info",
    "refs",
    "git-upload-pack",
    "git-receive-pack",
    "HEAD",
    "objects",
    "pack",
    "cgi-bin",
    "server-status",
    ".htpasswd",
    ".git",
    "hooks",
    "",
]
SOURCE_KEYS = ["service", "cmd", "key", "keys", "namespace", "node", "style"]
FRONTEND_KNOWN = ["version", "health", "", "stats", "haproxy", "admin", "metrics"]


def source_state(port, repos=("app",)):
    """The source server's repositories as a client sees them: git refs, hg heads."""
    out = {}
    for repo in repos:
        for path in (
            f"/git/{repo}.git/info/refs?service=git-upload-pack",
            f"/hg/{repo}-hg?cmd=heads",
        ):
            out[path] = send(port, {"method": "GET", "path": path, "headers": {}, "body": b""})
    return out


def frontend_state(port):
    """What the frontend serves: the version body and the health status, twice each."""
    return [
        send(port, {"method": "GET", "path": p, "headers": {}, "body": b""})
        for p in ("/version", "/health", "/version", "/health")
    ]
