"""Bounded fuzzing of salt-api's push webhook (``/hook/chain/push``, 127.0.0.1): random methods,
paths under ``/hook``, headers (a signature header missing, empty, wrong, of either style) and
bodies (valid-looking pushes, random JSON, bytes, forms). Never a 5xx but salt-api's own (Salt's
rest_cherrypy answers 500, not 400, to a body not UTF-8, and to some OPTIONS; listed); never a
crash (salt-api answers the next request); salt-api answers 200 to what it fires (the runner
refuses it and says so: one ``chain/push/refused`` event each), 4xx to what it cannot parse; and
nothing is stored: the push queue is the same afterwards (no push, no run)."""

import json
import secrets
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from saltext.chain.utils import chain_push_queue as queue
from saltext.chain.utils import chain_push_verify as verify

from tests.support import fuzz, push

pytestmark = [pytest.mark.integration]

KNOWN = ["hook", "chain", "push", "", "..", "hook/chain/push"]
KEYS = ["delivery", "event", "json", "tag"]
SIGNATURES = st.sampled_from(
    [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc", "md5=x", "sha256=zz"]
)


@st.composite
def deliveries(draw):
    """A request at the hook: the method and path mostly right, the rest random."""
    style = draw(st.sampled_from(sorted(verify.STYLES)))
    sig_header, delivery_header, event_header = verify.STYLES[style]
    body = draw(
        st.one_of(
            st.builds(
                lambda c, b, r, m: push.payload(c, branch=b, repo=r, message=m).encode(),
                st.text(alphabet="0123456789abcdef", min_size=0, max_size=40),
                st.sampled_from(["main", "dev", "feature/x", "inject'\"{{7*7}}"]),
                st.sampled_from([push.REPO_NAME, "other", ""]),
                st.text(max_size=40),
            ),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3)
                ),
                max_leaves=8,
            ).map(lambda v: json.dumps(v).encode()),
            fuzz.BODIES,
        )
    )
    headers = {"Content-Type": draw(st.sampled_from(["application/json", None, "text/plain"]))}
    signature = draw(SIGNATURES)
    if signature is not None:
        headers[sig_header] = signature
    headers[delivery_header] = draw(st.sampled_from([secrets.token_hex(16), "", "x" * 300]))
    headers[event_header] = draw(st.sampled_from(["push", "ping", ""]))
    path = draw(st.one_of(st.just("/hook/chain/push"), fuzz.path(KNOWN, max_segments=4)))
    method = draw(st.one_of(st.just("POST"), fuzz.METHODS))
    return {
        "method": method,
        "path": path,
        "headers": {k: v for k, v in headers.items() if v is not None},
        "body": body,
    }


@pytest.fixture(scope="module")
def hook(master, salt_api, synced):
    return {
        "port": master.config["rest_cherrypy"]["port"],
        "db": queue.path_in(master.config["cachedir"]),
    }


def _stored(hook):
    snap = queue.snapshot(hook["db"], limit=1000)
    return sorted(p["delivery"] for p in snap["pushes"]), sorted(r["run_id"] for r in snap["runs"])


def test_fuzzed_deliveries_are_refused_and_store_nothing(master, hook):
    before, started, fired, upstream_500 = _stored(hook), time.time(), [], []

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(req=deliveries())
    def one(req):
        status, body = fuzz.send(hook["port"], req, timeout=30)
        assert status is not None, (req, body)
        if status >= 500:
            # salt-api's own (Salt 3008 rest_cherrypy, not this project's code): its body
            # processors decode before their try (a body not UTF-8), an OPTIONS with a JSON
            # type... A 500 page of CherryPy's; nothing is fired, salt-api answers the next
            # request and the queue is unchanged (checked below). Listed in the output.
            assert status == 500 and b"CherryPy" in body, (req, status, body)
            upstream_500.append(
                (req["method"], req["headers"].get("Content-Type"), req["body"][:20])
            )
        elif status == 200 and req["method"] == "POST" and req["path"].startswith("/hook"):
            fired.append(req)  # salt-api fired it: the runner must refuse it
        elif status == 200:
            assert req["method"] in ("GET", "HEAD", "OPTIONS"), (req, body)  # salt-api's index
        else:
            assert 400 <= status < 500 or status in (301, 302, 303), (req, status, body)

    one()
    index = {"method": "GET", "path": "/", "headers": {}, "body": b""}
    assert fuzz.send(hook["port"], index)[0] == 200  # salt-api still answers
    print(f"fuzz: {len(fired)} fired; salt-api's own 500s: {upstream_500}")
    exact = [r for r in fired if r["path"].split("?")[0] == "/hook/chain/push"]
    # every delivery fired at the push hook's tag is refused by the runner (unsigned, bad
    # signature, malformed...), one event each; a delivery at another tag has no reaction
    # (a path that salt-api maps to the same tag, e.g. with a trailing slash, is refused too)
    deadline = time.monotonic() + 60
    refused = []
    while time.monotonic() < deadline:
        refused = master.event_listener.get_events(
            [(master.id, "chain/push/refused")], after_time=started
        )
        if len(refused) >= len(exact):
            break
        time.sleep(0.5)
    assert len(exact) <= len(refused) <= len(fired), (len(exact), len(refused), len(fired))
    time.sleep(1)  # a push stored late, or a run, would show by now
    assert _stored(hook) == before
