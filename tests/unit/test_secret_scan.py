"""tests/support/secret_scan.py, its positive controls: a secret planted in each form a leak
takes (raw, JSON-escaped, URL-encoded, base64 inside a longer blob at every alignment, msgpack as
in the job cache), in each kind of place the collectors read (a file tree, a process's command
line, a loose file mode), is found; the report never holds the value; nothing is found where
there is nothing."""

import base64
import json
import os
import subprocess
import time
import urllib.parse

import pytest
import salt.payload

from tests.support import secret_scan

SECRET = 'tok/en+with "quotes" & ü=%'  # changes under every encoding
PLAIN = "0123456789abcdef0123"  # the tests' fixtures: hex and url-safe tokens


def _scanner(*values):
    return secret_scan.Scanner({f"s{i}": v for i, v in enumerate(values)})


@pytest.mark.parametrize(
    "leak, form",
    [
        (lambda s: f"log line: password={s} end", "raw"),
        (lambda s: json.dumps({"comment": f"x {s} y"}), "json"),
        (lambda s: json.dumps(json.dumps({"k": s})), "json-json"),  # JSON in a JSON string
        (lambda s: json.dumps({"k": s}, ensure_ascii=False), "json-utf8"),
        (lambda s: "GET /job?token=" + urllib.parse.quote(s, safe=""), "url"),
        (lambda s: "GET /job?token=" + urllib.parse.quote_plus(s), "url-plus"),
        (lambda s: "GET /x/" + urllib.parse.quote(s, safe="").lower(), "url-lower"),
        (lambda s: "Authorization: Basic " + base64.b64encode(f"u:{s}".encode()).decode(), None),
        (lambda s: base64.b64encode(f"ab:{s}:zz".encode()).decode(), None),
        (lambda s: base64.b64encode(f"abc{s}".encode()).decode(), None),
        (lambda s: base64.urlsafe_b64encode(f"x{s}".encode()).decode(), None),
    ],
)
def test_each_form_of_a_planted_secret_is_found(leak, form):
    scanner = _scanner(SECRET)
    hits = scanner.scan("planted", leak(SECRET))
    assert hits, f"not found: {leak(SECRET)!r}"
    if form:
        assert form in {h.form for h in hits}, hits
    assert SECRET not in scanner.report() and "planted: s0" in scanner.report()


def test_msgpack_as_in_the_job_cache_is_found():
    scanner = _scanner(SECRET, PLAIN)
    data = salt.payload.dumps({"return": {"state": {"comment": f"a {SECRET} b", "x": PLAIN}}})
    assert {h.secret for h in scanner.scan("jobs", data)} == {"s0", "s1"}


def test_nothing_where_there_is_nothing():
    scanner = _scanner(SECRET, PLAIN)
    other = 'tok/en+with "quotes" & u=%'  # one character off
    blob = json.dumps({"a": other, "b": base64.b64encode(other.encode()).decode()})
    assert scanner.scan("clean", blob + PLAIN[:-1]) == []
    assert scanner.hits == []


def test_short_secrets_are_refused():
    with pytest.raises(ValueError, match="at least"):
        _scanner("short")


def test_files_walks_a_tree_and_skips_what_it_is_told(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "return.p").write_bytes(salt.payload.dumps({"r": PLAIN}))
    (tmp_path / "a" / "pillar.p").write_text(PLAIN)
    (tmp_path / "clean.log").write_text("nothing")
    scanner = _scanner(PLAIN)
    scanner.scan_all(secret_scan.files(tmp_path, skip={"pillar.p"}), "files")
    assert [h.where for h in scanner.hits] == [f"file:{tmp_path}/a/b/return.p"]
    assert scanner.scanned["files"] > 0


def test_a_secret_on_a_command_line_is_found():
    # a process anyone can list with ps; its $0 is the secret
    proc = subprocess.Popen(["sh", "-c", "sleep 30", PLAIN])
    try:
        for _ in range(200):  # until it has exec'd
            with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:
                if b"sleep 30" in fh.read():
                    break
            time.sleep(0.01)
        scanner = _scanner(PLAIN)
        scanner.scan_all(secret_scan.process_cmdlines(), "ps")
        assert f"ps:{proc.pid}" in {h.where for h in scanner.hits}
    finally:
        proc.kill()
        proc.wait()


def test_loose_file_modes_are_named(tmp_path):
    good, loose, group = (tmp_path / n for n in ("good", "loose", "group"))
    for path, mode in ((good, 0o600), (loose, 0o644), (group, 0o640)):
        path.write_text("x")
        os.chmod(path, mode)
    problems = secret_scan.loose_modes([good, loose, group], owners=(os.geteuid(),))
    uid = os.geteuid()
    assert problems == [f"{loose}: mode 0644 uid {uid}", f"{group}: mode 0640 uid {uid}"]
    assert secret_scan.loose_modes([good], owners=(12345,)) != []


def test_a_container_log_keeps_its_head_and_its_tail(monkeypatch):
    monkeypatch.setattr(secret_scan, "LOG_KEEP", 100)
    log = secret_scan._Log()  # pylint: disable=protected-access
    log.add(b"H" * 30 + PLAIN.encode())
    for _ in range(50):
        log.add(b"." * 10)
    log.add(b"T" * 10 + PLAIN.encode())
    data = log.data()
    assert data.startswith(b"H" * 30) and data.endswith(PLAIN.encode())
    assert len(data) <= 100 + 30
    assert data.count(PLAIN.encode()) == 2  # the first lines and the last are both kept


def test_each_hit_is_pinned_to_its_place_across_batches(monkeypatch):
    monkeypatch.setattr(secret_scan.Scanner, "BATCH", 64)  # a grep per few items
    scanner = _scanner(SECRET, PLAIN)
    items = [(f"p{i}", "x" * 50) for i in range(6)]
    items[1] = ("p1", f"head {PLAIN}")
    items[4] = ("p4", json.dumps([SECRET]) + PLAIN)
    items.append(("p6", urllib.parse.quote(SECRET, safe="").lower()))
    scanner.scan_all(items, "k")
    assert sorted((h.where, h.secret) for h in scanner.hits) == [
        ("p1", "s1"), ("p4", "s0"), ("p4", "s1"), ("p6", "s0"),
    ]  # fmt: skip
    assert scanner.scanned["k"] == sum(len(d.encode()) for _, d in items)
