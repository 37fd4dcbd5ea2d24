"""
Is a push event one the chain may act on? Pure checks of the two ways a push reaches the master:
a ``chain/push/source`` event sent by the source server's minion (its authenticated ``id``
vouches for it) and a forge's webhook delivery through salt-api (``salt/netapi/hook/chain/push``,
an HMAC-SHA256 over the raw body with a key from the master's pillar). Either gives one push
record (the shape of ``docs/push.md``) or raises :class:`Refused` with one reason.

Forge styles (header names are case-insensitive):

- GitHub: ``X-Hub-Signature-256: sha256=<hex>``, ``X-GitHub-Delivery``, ``X-GitHub-Event: push``;
- Gitea (and Forgejo): ``X-Gitea-Signature: <hex>``, ``X-Gitea-Delivery``, ``X-Gitea-Event``.

The signature is compared in constant time (:func:`hmac.compare_digest`, as
``salt.utils.hashutils.github_signature`` does). Nothing here logs, and no refusal carries the
key, the body or a header value.
"""

import base64
import fnmatch
import hashlib
import hmac
import json
import re
import time
from urllib.parse import parse_qs

SOURCE_TAG = "chain/push/source"
WEBHOOK_TAG = "salt/netapi/hook/chain/push"
ZEROS = "0" * 40
SHA = re.compile(r"^[0-9a-f]{40}$")
DELIVERY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
STYLES = {
    "github": ("x-hub-signature-256", "x-github-delivery", "x-github-event"),
    "gitea": ("x-gitea-signature", "x-gitea-delivery", "x-gitea-event"),
}
SOURCE_KEY_PILLAR = "chain:push:source_key"
DEFAULTS = {
    "source_minion": None,
    "deploy_branch": "main",
    "branches": ["*"],
    "repos": {},
    "orchestrate": "chain",
    "poll_interval": 60,
    "reconnect_grace": 90,
    "source_key_pillar": SOURCE_KEY_PILLAR,
}
WEBHOOK_DEFAULTS = {"max_body": 1048576, "key_pillar": "chain:push:webhook_key"}


class Refused(Exception):
    """A push the chain does not act on: ``reason`` is a short word (``unsigned``, ``bad
    signature``, ``replayed``, ``malformed``, ``not allowed``, ``not the source``), ``detail``
    one line a person can act on."""

    def __init__(self, reason, detail, vouched=False):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        #: the sender is who it says (the source minion, its record's ``sig`` checked): the
        #: refusal is about the record itself, final, and worth a receipt (its sender stops)
        self.vouched = vouched


def settings(push_conf):
    """The master's ``chain:push`` with its defaults (a copy; ``repos`` entries get ``app``,
    ``vcs``, ``deploy_branch`` and ``orchestrate``)."""
    conf = dict(DEFAULTS, **(push_conf or {}))
    conf["webhook"] = dict(WEBHOOK_DEFAULTS, **(conf.get("webhook") or {}))
    repos = {}
    for name, repo in (conf.get("repos") or {}).items():
        repo = dict(repo or {})
        repo.setdefault("app", name)
        repo.setdefault("vcs", "git")
        default_branch = "default" if repo["vcs"] == "hg" else conf["deploy_branch"]
        repo.setdefault("deploy_branch", default_branch)
        repo.setdefault("orchestrate", conf["orchestrate"])
        repos[str(name)] = repo
    conf["repos"] = repos
    if isinstance(conf["branches"], str):
        conf["branches"] = [conf["branches"]]
    return conf


def valid_branch(name):
    """Whether ``refs/heads/<name>`` passes ``git check-ref-format`` (the rules of
    git-check-ref-format(1)), and is at most 200 characters."""
    if not isinstance(name, str) or not name or len(name) > 200:
        return False
    if name.startswith("-") or name == "@" or name.endswith(".") or name.endswith("/"):
        return False
    if ".." in name or "@{" in name or "//" in name or name.startswith("/"):
        return False
    if any(ord(c) < 0o40 or ord(c) == 0o177 or c in " ~^:?*[\\" for c in name):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in name.split("/")
    )


def _text(value, limit):
    """A one-line string of at most ``limit`` characters (newlines and controls as spaces)."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    value = "".join(c if c.isprintable() else " " for c in value)
    return value[:limit]


def check_record(record, conf, source):
    """The record, normalised and checked against the allow-lists: adds ``app``, ``vcs`` (from
    the repository's entry), ``deploy`` and ``source``. Raises :class:`Refused`."""
    if not isinstance(record, dict):
        raise Refused("malformed", "the push record is not a mapping")
    repo = record.get("repo")
    if not isinstance(repo, str) or repo not in conf["repos"]:
        raise Refused("not allowed", f"repository {_text(repo, 80)!r} is not in chain:push:repos")
    entry = conf["repos"][repo]
    ref = record.get("ref")
    if (record.get("vcs") or entry["vcs"]) == "hg" and isinstance(ref, str) and "/" not in ref:
        ref = f"refs/heads/{ref}"  # the hg hook names the branch itself ("default")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        raise Refused("malformed", f"ref {_text(ref, 80)!r} is not refs/heads/<branch>")
    branch = ref[len("refs/heads/") :]
    if not valid_branch(branch):
        raise Refused("malformed", f"branch {_text(branch, 80)!r} is not a valid branch name")
    if record.get("branch") not in (None, branch):
        raise Refused("malformed", "branch and ref name different branches")
    if not any(fnmatch.fnmatchcase(branch, pattern) for pattern in conf["branches"]):
        raise Refused("not allowed", f"branch {branch!r} is not in chain:push:branches")
    after, before = record.get("after"), record.get("before") or ZEROS
    if not isinstance(after, str) or not SHA.match(after) or after == ZEROS:
        raise Refused("malformed", "after is not a 40 hex commit (a delete is not deployed)")
    if not isinstance(before, str) or not SHA.match(before):
        raise Refused("malformed", "before is not a 40 hex commit")
    delivery = record.get("delivery")
    if not isinstance(delivery, str) or not DELIVERY.match(delivery):
        raise Refused("malformed", "the delivery id is missing or not [A-Za-z0-9._-]{1,100}")
    vcs = record.get("vcs") or entry["vcs"]
    if vcs != entry["vcs"]:
        raise Refused("not allowed", f"repository {repo!r} is {entry['vcs']}, not {_text(vcs, 8)}")
    pushed_at = record.get("pushed_at")
    return {
        "delivery": delivery,
        "source": source,
        "vcs": vcs,
        "repo": repo,
        "app": entry["app"],
        "branch": branch,
        "ref": ref,
        "before": before,
        "after": after,
        "deploy": branch == entry["deploy_branch"],
        "pusher": _text(record.get("pusher"), 100),
        "via": _text(record.get("via") or "", 20),
        "message": _text(record.get("message"), 200),
        "author": _text(record.get("author"), 100),
        "pushed_at": float(pushed_at) if isinstance(pushed_at, (int, float)) else time.time(),
    }


def record_signature(record, key):
    """HMAC-SHA256 (hex) of a push record without its ``sig``, as canonical JSON (sorted
    keys, no spaces): what the source minion's forwarder puts in ``sig``."""
    body = {k: v for k, v in record.items() if k != "sig"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def verify_minion_event(data, conf, key=None):
    """A ``chain/push/source`` event's data (``{"id": <minion>, "data": <record>, ...}``, as
    Salt's master fires a minion's event) -> the record. Refused unless ``id`` is the source
    minion and, when the master has a source ``key``, the record's ``sig`` is
    :func:`record_signature` with it: Salt's batched event form (a minion's ``events`` list,
    e.g. ``event.fire_master`` with ``preload``) fires data the minion wrote, ``id`` included,
    so only a secret tells the source minion's records apart."""
    if not isinstance(data, dict):
        raise Refused("malformed", "the event data is not a mapping")
    minion = data.get("id")
    if not conf.get("source_minion") or minion != conf["source_minion"]:
        raise Refused("not the source", f"minion {_text(minion, 80)!r} is not the source minion")
    record = data.get("data")
    if key:
        sig = record.get("sig") if isinstance(record, dict) else None
        wanted = record_signature(record, key) if isinstance(record, dict) else ""
        if not isinstance(sig, str) or not hmac.compare_digest(wanted.encode(), sig.encode()):
            raise Refused("bad signature", "the record's sig does not match the source key")
    try:
        return check_record(record, conf, minion)
    except Refused as err:
        err.vouched = True  # the source minion's own record: refusing it again changes nothing
        raise


def _headers(headers):
    if not isinstance(headers, dict):
        return {}
    return {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}


def style_of(headers):
    """``github``, ``gitea`` or ``None`` from the (lower-cased) headers' signature names."""
    for style, (signature, _delivery, _event) in STYLES.items():
        if signature in headers:
            return style
    return None


def _signature_ok(style, headers, body, key):
    given = headers[STYLES[style][0]].strip()
    if style == "github":
        if not given.startswith("sha256="):
            return False
        given = given[len("sha256=") :]
    wanted = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(wanted.encode(), given.lower().encode())


def _payload(body, headers):
    """The JSON payload: the body, or a form's ``payload`` field (GitHub's form content type)."""
    content_type = headers.get("content-type", "")
    text = body
    if content_type.startswith("application/x-www-form-urlencoded"):
        text = (parse_qs(body).get("payload") or [""])[0]
    try:
        payload = json.loads(text)
    except ValueError:
        raise Refused("malformed", "the body is not a JSON document") from None
    if not isinstance(payload, dict):
        raise Refused("malformed", "the body is not a JSON object")
    return payload


def record_from_payload(payload, style, delivery):
    """A forge's push payload (GitHub and Gitea share these fields) -> a push record."""
    repo = payload.get("repository")
    head = payload.get("head_commit") or {}
    pusher = payload.get("pusher") or {}
    if not isinstance(repo, dict) or not isinstance(head, dict) or not isinstance(pusher, dict):
        raise Refused("malformed", "repository, head_commit or pusher is not an object")
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    message = head.get("message") if isinstance(head.get("message"), str) else ""
    return {
        "delivery": delivery,
        "repo": repo.get("name"),
        "ref": payload.get("ref"),
        "before": payload.get("before"),
        "after": payload.get("after"),
        "pusher": pusher.get("name") or pusher.get("login") or pusher.get("username"),
        "via": style,
        "message": message.split("\n", 1)[0],
        "author": author.get("name"),
    }


def verify_webhook(data, conf, key):
    """A ``salt/netapi/hook/chain/push`` event's data (``{body, post, headers}``) -> the
    record. ``key``: the HMAC key (``None`` when the master's pillar has none: refused)."""
    if not isinstance(data, dict):
        raise Refused("malformed", "the event data is not a mapping")
    headers = _headers(data.get("headers"))
    body = data.get("body")
    if not isinstance(body, str):
        raise Refused("malformed", "the event has no raw body")
    max_body = int(conf["webhook"]["max_body"])
    if len(body.encode()) > max_body:
        raise Refused("malformed", f"the body is over max_body ({max_body} bytes)")
    style = style_of(headers)
    if style is None:
        raise Refused("unsigned", "no X-Hub-Signature-256 or X-Gitea-Signature header")
    if not key:
        raise Refused("unsigned", "the master has no webhook key (chain:push:webhook:key_pillar)")
    if not _signature_ok(style, headers, body, key):
        raise Refused("bad signature", f"the {style} signature does not match the body")
    event = headers.get(STYLES[style][2], "push")
    if event != "push":
        raise Refused("malformed", f"event {_text(event, 40)!r} is not a push")
    delivery = headers.get(STYLES[style][1])
    if not delivery or not DELIVERY.match(delivery):
        raise Refused("malformed", "the delivery id header is missing or not [A-Za-z0-9._-]")
    record = record_from_payload(_payload(body, headers), style, f"{style}-{delivery}")
    return check_record(record, conf, "webhook")


def sign(body, key, style="github"):
    """The signature header a forge sends for ``body`` (tests and benchmarks)."""
    digest = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
    if style == "github":
        return {"X-Hub-Signature-256": f"sha256={digest}"}
    return {"X-Gitea-Signature": digest}


def reaction_event(event):
    """What a reaction hands a runner as ``event``: a mapping, JSON, or base64 of JSON (the
    chain's reactor files pass ``{tag, data} | json | base64_encode``, so that YAML never sees
    the event's text). Anything else is ``{}``."""
    if isinstance(event, str):
        text = event.strip()
        try:
            if not text.startswith("{"):
                text = base64.b64decode(text, validate=True).decode()
            event = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            event = None
    return event if isinstance(event, dict) else {}
