"""The push checks: every refusal has one reason, and the accepted shapes give the record."""

import json
import shutil
import subprocess

import pytest
from saltext.chain.utils import chain_push_verify as verify

KEY = "s3cret-key"
SHA_A = "a" * 40
SHA_B = "b" * 40
CONF = verify.settings(
    {
        "source_minion": "build1",
        "deploy_branch": "main",
        "branches": ["main", "feature/*", "weird*"],
        "repos": {"app": {"app": "app", "vcs": "git"}, "app-hg": {"app": "app", "vcs": "hg"}},
        "webhook": {"max_body": 4096},
    }
)


def record(**over):
    rec = {
        "delivery": "0123456789abcdef0123456789abcdef",
        "vcs": "git",
        "repo": "app",
        "branch": "main",
        "ref": "refs/heads/main",
        "before": SHA_A,
        "after": SHA_B,
        "pusher": "alice",
        "via": "http",
        "message": "fix it",
        "author": "Alice",
        "pushed_at": 1733480000.5,
    }
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not ...}


def minion_event(rec=None, minion="build1"):
    return {"id": minion, "tag": verify.SOURCE_TAG, "cmd": "_minion_event", "data": rec}


def payload(**over):
    body = {
        "ref": "refs/heads/main",
        "before": SHA_A,
        "after": SHA_B,
        "repository": {"name": "app", "full_name": "team/app"},
        "pusher": {"name": "alice"},
        "head_commit": {"message": "fix it\n\nlong text", "author": {"name": "Alice"}},
    }
    body.update(over)
    return json.dumps(body)


def hook(body, style="github", key=KEY, delivery="d-1", event="push", signature=None, **hdrs):
    names = {
        "github": ("X-GitHub-Delivery", "X-GitHub-Event"),
        "gitea": ("X-Gitea-Delivery", "X-Gitea-Event"),
    }[style]
    headers = {"Content-Type": "application/json", names[0]: delivery, names[1]: event}
    if key is not None:
        headers.update(verify.sign(body, key, style))
    if signature is not None:
        headers.update(signature)
    headers.update(hdrs)
    return {"body": body, "post": {}, "headers": headers}


MINION_REFUSALS = [
    ("another minion", minion_event(record(), "web1"), "not the source"),
    ("no id", {"data": record()}, "not the source"),
    ("data not a mapping", "x", "malformed"),
    ("record not a mapping", minion_event(["x"]), "malformed"),
    ("repo not allowed", minion_event(record(repo="other")), "not allowed"),
    ("branch not allowed", minion_event(record(ref="refs/heads/dev", branch="dev")), "not allowed"),
    ("a tag", minion_event(record(ref="refs/tags/v1", branch=...)), "malformed"),
    ("a short sha", minion_event(record(after="abc")), "malformed"),
    ("an upper-case sha", minion_event(record(after="B" * 40)), "malformed"),
    ("a delete", minion_event(record(after="0" * 40)), "malformed"),
    ("bad before", minion_event(record(before="zz")), "malformed"),
    ("no delivery", minion_event(record(delivery=...)), "malformed"),
    ("delivery with a newline", minion_event(record(delivery="a\nb")), "malformed"),
    ("branch and ref differ", minion_event(record(branch="feature/x")), "malformed"),
    ("vcs not the repo's", minion_event(record(vcs="hg")), "not allowed"),
    (
        "branch with a newline and YAML",
        minion_event(record(ref="refs/heads/weird\n  local.cmd.run:\n    - tgt: '*'", branch=...)),
        "malformed",
    ),
]


@pytest.mark.parametrize("case,data,reason", MINION_REFUSALS, ids=[c[0] for c in MINION_REFUSALS])
def test_minion_refusals(case, data, reason):
    with pytest.raises(verify.Refused) as err:
        verify.verify_minion_event(data, CONF)
    assert err.value.reason == reason, case
    assert "\n" not in str(err.value)


def test_minion_acceptance():
    got = verify.verify_minion_event(minion_event(record(message="one\ntwo")), CONF)
    assert got == {
        "delivery": "0123456789abcdef0123456789abcdef",
        "source": "build1",
        "vcs": "git",
        "repo": "app",
        "app": "app",
        "branch": "main",
        "ref": "refs/heads/main",
        "before": SHA_A,
        "after": SHA_B,
        "deploy": True,
        "pusher": "alice",
        "via": "http",
        "message": "one two",
        "author": "Alice",
        "pushed_at": 1733480000.5,
    }
    other = verify.verify_minion_event(
        minion_event(record(ref="refs/heads/feature/x", branch=..., before=...)), CONF
    )
    assert (other["deploy"], other["before"]) == (False, "0" * 40)
    hg = verify.verify_minion_event(
        minion_event(record(repo="app-hg", vcs="hg", ref="refs/heads/default", branch=...)),
        verify.settings(dict(CONF, branches=["*"])),
    )
    assert hg["deploy"] is True  # hg's deploy branch is "default"
    # regression: the hg hook (txnclose) names the branch itself in ref; it was refused as
    # malformed and the push came only through the poll check
    hook = verify.verify_minion_event(
        minion_event(record(repo="app-hg", vcs="hg", ref="default", branch="default")),
        verify.settings(dict(CONF, branches=["*"])),
    )
    assert (hook["ref"], hook["branch"], hook["deploy"]) == ("refs/heads/default", "default", True)
    with pytest.raises(verify.Refused, match="malformed"):  # a git record still needs refs/heads
        verify.verify_minion_event(minion_event(record(ref="main", branch="main")), CONF)


def test_no_source_minion_configured_refuses_every_minion():
    with pytest.raises(verify.Refused, match="not the source"):
        verify.verify_minion_event(minion_event(record()), verify.settings({"repos": {"app": {}}}))


@pytest.mark.parametrize(
    "name,ok",
    [
        ("main", True),
        ("feature/x-1.2", True),
        ("weird{'}", True),
        ("inject-'\"}{{7+7}}", True),
        ("a#b$c!", True),
        ("", False),
        ("-x", False),
        ("a..b", False),
        ("a b", False),
        ("a~b", False),
        ("a^b", False),
        ("a:b", False),
        ("a?b", False),
        ("a*b", False),
        ("a[b", False),
        ("a\\b", False),
        ("a\nb", False),
        ("a\x7fb", False),
        ("a.lock", False),
        ("a/.b", False),
        ("a/", False),
        ("/a", False),
        ("a//b", False),
        ("a.", False),
        ("a@{b", False),
        ("@", False),
        ("x" * 201, False),
    ],
)
def test_branch_names_follow_check_ref_format(name, ok):
    assert verify.valid_branch(name) is ok
    if len(name) <= 200 and "\n" not in name and name != "@" and shutil.which("git"):
        # the same answer as git itself (not for a newline: no such argument; nor "@": git
        # reads it as HEAD, and `git branch @` refuses it)
        res = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True)
        assert (res.returncode == 0) is ok


WEBHOOK_REFUSALS = [
    ("unsigned", hook(payload(), key=None), None, "unsigned"),
    ("no key on the master", hook(payload()), "", "unsigned"),
    ("wrong key", hook(payload(), key="other"), None, "bad signature"),
    (
        "github without sha256=",
        hook(
            payload(),
            key=None,
            signature={
                "X-Hub-Signature-256": verify.sign(payload(), KEY, "gitea")["X-Gitea-Signature"]
            },
        ),
        None,
        "bad signature",
    ),
    (
        "body changed after signing",
        dict(hook(payload()), body=payload(after=SHA_A)),
        None,
        "bad signature",
    ),
    ("gitea wrong key", hook(payload(), style="gitea", key="x"), None, "bad signature"),
    ("oversized", hook(payload(pad="x" * 5000)), None, "malformed"),
    ("not json", hook("{not json"), None, "malformed"),
    ("json not an object", hook("[1, 2]"), None, "malformed"),
    ("a tag", hook(payload(ref="refs/tags/v1")), None, "malformed"),
    ("a delete", hook(payload(after="0" * 40)), None, "malformed"),
    ("short sha", hook(payload(after="abc123")), None, "malformed"),
    ("repo not allowed", hook(payload(repository={"name": "evil"})), None, "not allowed"),
    ("branch not allowed", hook(payload(ref="refs/heads/dev")), None, "not allowed"),
    ("bad branch name", hook(payload(ref="refs/heads/weird..x")), None, "malformed"),
    (
        "branch with newline and YAML",
        hook(payload(ref="refs/heads/weird\n  local.cmd.run:\n    - tgt: '*'")),
        None,
        "malformed",
    ),
    ("not a push event", hook(payload(), event="ping"), None, "malformed"),
    ("no delivery header", hook(payload(), delivery=""), None, "malformed"),
    ("repository not an object", hook(payload(repository="app")), None, "malformed"),
    ("no body", {"headers": {}, "post": {}}, None, "malformed"),
    ("data not a mapping", None, None, "malformed"),
]


@pytest.mark.parametrize(
    "case,data,key,reason", WEBHOOK_REFUSALS, ids=[c[0] for c in WEBHOOK_REFUSALS]
)
def test_webhook_refusals(case, data, key, reason):
    with pytest.raises(verify.Refused) as err:
        verify.verify_webhook(data, CONF, KEY if key is None else key)
    assert err.value.reason == reason, case
    assert KEY not in str(err.value)


@pytest.mark.parametrize("style", ["github", "gitea"])
def test_webhook_acceptance(style):
    body = payload()
    data = hook(body, style=style, delivery="72d3162e-cc78-11e3")
    # header names are case-insensitive
    data["headers"] = {
        k.lower() if style == "gitea" else k.upper(): v for k, v in data["headers"].items()
    }
    got = verify.verify_webhook(data, CONF, KEY)
    assert got["delivery"] == f"{style}-72d3162e-cc78-11e3"
    assert (got["repo"], got["branch"], got["after"], got["before"]) == (
        "app",
        "main",
        SHA_B,
        SHA_A,
    )
    assert (got["pusher"], got["message"], got["author"]) == ("alice", "fix it", "Alice")
    assert (got["source"], got["via"], got["deploy"], got["vcs"]) == ("webhook", style, True, "git")


def test_webhook_form_encoded_payload_is_signed_as_sent():
    from urllib.parse import quote

    body = "payload=" + quote(payload())
    data = hook(body)
    data["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    assert verify.verify_webhook(data, CONF, KEY)["after"] == SHA_B


def test_a_crafted_commit_message_is_one_line_of_text():
    msg = "x\n  local.cmd.run:\n    - tgt: '*'\n{{ salt['cmd.run']('id') }}"
    body = payload(head_commit={"message": "ok " + msg, "author": {"name": "A\nB"}})
    got = verify.verify_webhook(hook(body), CONF, KEY)
    assert got["message"] == "ok x" and got["author"] == "A B"


def test_the_signature_is_compared_in_constant_time(monkeypatch):
    calls = []
    real = verify.hmac.compare_digest
    monkeypatch.setattr(verify.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    verify.verify_webhook(hook(payload()), CONF, KEY)
    assert calls == [1]


def test_settings_defaults():
    conf = verify.settings({"repos": {"app": None, "app-hg": {"vcs": "hg", "orchestrate": "t"}}})
    assert conf["repos"]["app"] == {
        "app": "app",
        "vcs": "git",
        "deploy_branch": "main",
        "orchestrate": "chain",
    }
    assert conf["repos"]["app-hg"]["deploy_branch"] == "default"
    assert conf["repos"]["app-hg"]["orchestrate"] == "t"
    assert conf["webhook"] == {"max_body": 1048576, "key_pillar": "chain:push:webhook_key"}
    assert conf["source_key_pillar"] == "chain:push:source_key"
    assert verify.settings({"branches": "main"})["branches"] == ["main"]


def test_with_a_source_key_a_record_must_carry_its_signature():
    """Salt fires a minion's batched events with data the minion wrote, ``id`` included: with
    a source key, a record from "build1" counts only with the right ``sig``."""
    rec = record()
    signed = dict(rec, sig=verify.record_signature(rec, KEY))
    got = verify.verify_minion_event(minion_event(signed), CONF, KEY)
    assert "sig" not in got and got["after"] == SHA_B
    for bad in (rec, dict(rec, sig="0" * 64), dict(signed, after=SHA_A), dict(rec, sig=None)):
        with pytest.raises(verify.Refused) as err:
            verify.verify_minion_event(minion_event(bad), CONF, KEY)
        assert err.value.reason == "bad signature"
    wrong_key = dict(rec, sig=verify.record_signature(rec, "other"))
    with pytest.raises(verify.Refused, match="bad signature"):
        verify.verify_minion_event(minion_event(wrong_key), CONF, KEY)
    # the id is checked first: another minion's signed record is still not the source's
    with pytest.raises(verify.Refused, match="not the source"):
        verify.verify_minion_event(minion_event(signed, "web1"), CONF, KEY)
    # no key on the master: records are not signed (the id alone decides)
    assert verify.verify_minion_event(minion_event(rec), CONF, None)["after"] == SHA_B
    assert verify.record_signature(rec, KEY) == verify.record_signature(dict(rec, sig="x"), KEY)
