"""The push queue's part of the integration master: reactor, ``chain:push``, salt-api (the
webhook), the drain schedule; and helpers to post signed deliveries."""

import json
import secrets
import urllib.error
import urllib.request

from saltext.chain.utils import chain_push_verify as verify

from tests.support import local

REPO_NAME = "pushq"
MAX_BODY = 16384


def master_overrides(e2e=None, page=None):
    """Master config: the reactor files, ``chain:push`` for the tests' repository (its
    orchestrate is ``pushq.orch``, in tests/integration/files), salt-api on a free port.
    ``e2e``: ``{app, pillar}`` of the end-to-end tests (test_push_to_production.py): the source
    server's ``app`` (git) and ``app-hg`` (hg) run the whole chain with that pillar. ``page``:
    the team page's directory (``<master cachedir>/saltext-chain/page``), which salt-api serves
    at ``/page``."""
    repos = {REPO_NAME: {"app": REPO_NAME, "vcs": "git", "orchestrate": "pushq.orch"}}
    if e2e:
        repos["app"] = {"app": e2e["app"], "vcs": "git", "pillar": e2e["pillar"]}
        repos["app-hg"] = {"app": e2e["app"], "vcs": "hg", "pillar": e2e["pillar"]}
    api = {
        "port": local.free_port(),
        "host": "127.0.0.1",
        "disable_ssl": True,
        "webhook_disable_auth": True,
    }
    if page:  # static only: with `app` set, salt-api answers a webhook POST with the page
        api.update(static=str(page), static_path="/page")
    return {
        "reactor": [
            {"chain/push/source": ["salt://chain/reactor/push.sls"]},
            {"salt/netapi/hook/chain/push": ["salt://chain/reactor/webhook.sls"]},
        ],
        # build1's forwarder reads the queue's receipts of its records
        "peer_run": {r"^build1$": [r"^chain_push\.receipts$"]},
        "chain": {
            "push": {
                "source_minion": "build1",
                "deploy_branch": "main",
                "branches": ["main", "default", "feature/*", "inject*"],
                "repos": repos,
                "webhook": {"max_body": MAX_BODY},
            },
        },
        "rest_cherrypy": api,
        "schedule": {
            "chain_push_drain": {
                "function": "chain_push.drain",
                "kwargs": {"spawn": True},
                "seconds": 60,
                "run_on_start": True,
                "maxrunning": 1,
            }
        },
    }


def keys():
    """``{webhook_key, source_key}``: fresh per run, written to the master's pillar only."""
    return {"webhook_key": secrets.token_hex(16), "source_key": secrets.token_hex(16)}


def payload(after, branch="main", message="a change", before="0" * 40, repo=REPO_NAME):
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": after,
            "repository": {"name": repo, "full_name": f"team/{repo}"},
            "pusher": {"name": "alice"},
            "head_commit": {"message": message, "author": {"name": "Alice"}},
        }
    )


def post(
    port, body, key=None, delivery=None, style="github", content_type="application/json", extra=None
):
    """POST ``body`` to salt-api's ``/hook/chain/push``; signed with ``key`` unless None.
    Returns the HTTP status."""
    names = verify.STYLES[style]
    headers = {
        "Content-Type": content_type,
        names[1]: delivery or secrets.token_hex(16),
        names[2]: "push",
    }
    if key is not None:
        headers.update(verify.sign(body, key, style))
    headers.update(extra or {})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/hook/chain/push", data=body.encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
