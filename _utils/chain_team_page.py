"""
The team's page (``chain_page`` runner): the data model and its HTML, pure.

The runner gathers the parts (the push queue's snapshot, the rollout history, ``chain.status``'s
data, the builds' test counts and coverage, the ``container_events`` beacon's events) and this
module merges them into one mapping (:func:`merge`), renders every section of the page as an
HTML fragment (:func:`fragments`), the whole document (:func:`document`: inline CSS and a few
lines of inline JS that fetch the data file every 2 s and swap the sections in; no external
asset) and the data file (:func:`payload`: the data and the fragments). Every value shown is
escaped here, once (``html.escape``): the browser never builds markup from data.

Also pure helpers the runner needs: the JUnit/coverage reports read (:func:`junit_counts`,
:func:`coverage_percent`), a beacon event checked and trimmed (:func:`supervision_event`), the
bounded event store (:func:`add_events`), rollout windows and the supervision summary (a replica
that dies outside a rollout is flagged), agents grouped by pool, and when the expensive part is
due again (:func:`status_due`). No Salt dunders, no I/O.
"""

import html
import json
import re
import time
import xml.etree.ElementTree as ET

VERSION = 1
REFRESH_MS = 2000
#: (element id, title) of every section, in page order.
SECTIONS = (
    ("runs", "Runs"),
    ("pushes", "Pushes"),
    ("where", "What runs where"),
    ("agents", "Agents and pools"),
    ("rollbacks", "Rollbacks"),
    ("failures", "Failures"),
    ("tests", "Tests and coverage"),
    ("supervision", "Container supervision"),
)
#: Container events the page keeps (the beacon's actions).
ACTIONS = ("die", "oom", "health_status")
EVENT_TAG = re.compile(r"^salt/beacon/([^/]+)/container_events/(die|oom|health_status)/(.+)$")
#: The label that marks a ``container_service`` replica (chain_service_plan.LABEL_SERVICE).
LABEL_SERVICE = "org.saltext-chain.service"
LABEL_PREFIX = "org.saltext-chain."
POOL_MARK = re.compile(r"\bpool=(\S+)\s+owner=(\S+)")
DIGEST = re.compile(r"sha256:[0-9a-f]{12,64}")
#: Seconds around a rollout in which a replica's death counts as part of it.
SLACK = 10
GOOD = {"healthy", "serving", "SUCCESS", "success", "ok", "online", "idle", "deployed", "built"}
BAD = {"unhealthy", "FAILURE", "failed", "offline", "ABORTED", "out", "die", "oom"}
MUTED = {"superseded", "nothing to do", "-"}


# ---------------------------------------------------------------------------------------------
# Reading the build's reports and the beacon's events
# ---------------------------------------------------------------------------------------------


def junit_counts(text):
    """``{total, failed, skipped}`` of a JUnit XML report (``<testsuites>`` or one
    ``<testsuite>``; failures and errors both count as failed), or ``None`` when it cannot be
    read."""
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, TypeError, ValueError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        return None
    total = failed = skipped = 0
    try:
        for suite in suites:
            total += int(suite.get("tests") or 0)
            failed += int(suite.get("failures") or 0) + int(suite.get("errors") or 0)
            skipped += int(suite.get("skipped") or 0)
    except ValueError:
        return None
    return {"total": total, "failed": failed, "skipped": skipped}


def coverage_percent(text):
    """``totals.percent_covered`` of a coverage.py JSON report, rounded to 0.1, or ``None``."""
    try:
        value = json.loads(text)["totals"]["percent_covered"]
    except (TypeError, ValueError, KeyError):
        return None
    return round(float(value), 1) if isinstance(value, (int, float)) else None


def supervision_event(event):
    """One ``container_events`` beacon event (``{tag, data}`` as the reactor hands it over),
    checked and trimmed to what the page shows: ``{server, action, name, status, exit_code,
    image, service, container_id, time}``. Raises ``ValueError`` for anything else (the tag
    must be the beacon's and its minion id the event's ``id``)."""
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise ValueError("expected {tag, data} of a container_events beacon event")
    match = EVENT_TAG.match(str(event.get("tag") or ""))
    data = event["data"]
    if not match:
        raise ValueError("not a container_events beacon event tag")
    server, action, name = match.groups()
    if data.get("id") not in (None, server) or data.get("action") not in (None, action):
        raise ValueError("the event's data does not match its tag")
    labels = data.get("labels") if isinstance(data.get("labels"), dict) else {}
    try:
        when = float(data.get("time"))
    except (TypeError, ValueError):
        raise ValueError("the event has no time") from None
    code = data.get("exit_code")
    return {
        "server": server,
        "action": action,
        "name": str(data.get("name") or name)[:200],
        "status": str(data["status"])[:40] if data.get("status") else None,
        "exit_code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "image": str(data.get("image") or "")[:300] or None,
        "service": str(labels.get(LABEL_SERVICE) or "")[:100] or None,
        "container_id": str(data.get("container_id") or "")[:64] or None,
        "time": when,
    }


def add_events(events, new, limit):
    """The store after adding ``new``: oldest first, at most ``limit`` events (the oldest go)."""
    out = sorted(list(events) + list(new), key=lambda e: e.get("time") or 0)
    return out[-limit:] if limit > 0 else []


# ---------------------------------------------------------------------------------------------
# Deriving what the page shows
# ---------------------------------------------------------------------------------------------


def rollout_windows(history, runs, now, locks=()):
    """``[(start, end)]`` when a rollout (or rollback) ran: the history's entries (``started``
    + ``duration``), the runs' ``rollout`` stages (an open stage ends ``now``) and the rollouts
    holding a lock now (``locks``: their ``started``)."""
    windows = []
    for entries in (history or {}).values():
        for entry in entries or []:
            if isinstance(entry.get("started"), (int, float)):
                windows.append(
                    (entry["started"], entry["started"] + float(entry.get("duration") or 0))
                )
    for run in runs or []:
        for stage in run.get("stages") or []:
            if stage.get("name") == "rollout" and stage.get("started"):
                windows.append((stage["started"], stage.get("ended") or now))
    windows += [(started, now) for started in locks if isinstance(started, (int, float))]
    return windows


def _inside(when, windows):
    return any(start - SLACK <= when <= end + SLACK for start, end in windows)


def supervision(events, windows):
    """Per server: ``deaths`` (die and oom), ``restarts`` (a container seen again after it
    died), ``health`` changes; and every event newest first with ``flag`` set on a replica
    (a container of a ``container_service``) that died outside every rollout window (and not
    while a rollout held its lock: ``during_rollout``, set when it was recorded)."""
    servers, seen_after, out = {}, set(), []
    for evt in sorted(events, key=lambda e: e["time"], reverse=True):
        srv = servers.setdefault(evt["server"], {"deaths": 0, "restarts": 0, "health": 0})
        key = (evt["server"], evt.get("container_id") or evt["name"])
        died = evt["action"] in ("die", "oom")
        if died:
            srv["deaths"] += 1
            if key in seen_after:
                srv["restarts"] += 1
        else:
            srv["health"] += 1
        seen_after.add(key)
        during = evt.get("during_rollout") or _inside(evt["time"], windows)
        flag = died and bool(evt.get("service")) and not during
        out.append(dict(evt, flag=flag))
    flagged = sum(1 for e in out if e["flag"])
    return {"servers": servers, "events": out, "flagged": flagged}


def pools(agents):
    """Agents grouped by pool (``jenkins_agent.pool`` marks its nodes' description with
    ``pool=P owner=MINION``): ``{pool or "": [{name, owner, state, labels, builds}]}``."""
    out = {}
    for name, agent in sorted((agents or {}).items()):
        mark = POOL_MARK.search(agent.get("description") or "")
        state = "offline" if agent.get("offline") else ("idle" if agent.get("idle") else "busy")
        out.setdefault(mark.group(1) if mark else "", []).append(
            {
                "name": name,
                "owner": mark.group(2) if mark else None,
                "state": state,
                "labels": agent.get("labels") or [],
                "builds": len(agent.get("builds") or []),
            }
        )
    return out


def digest(image):
    """The ``sha256:...`` an image reference or id names (12 hex shown), else the reference."""
    found = DIGEST.search(image or "")
    return found.group(0)[:19] if found else image


def finished_builds(builds, cached):
    """The numbers of the finished builds whose reports are not in ``cached`` yet."""
    return [
        b["number"]
        for b in builds or []
        if b.get("result") not in (None, "BUILDING") and str(b["number"]) not in cached
    ]


def status_due(status_at, runs, now, interval):
    """Whether the expensive part (``chain.status`` over the minions) is due: never gathered,
    older than ``interval`` seconds, or a run ended since it was gathered."""
    if not status_at or now - status_at >= interval:
        return True
    return any((r.get("ended") or 0) > status_at for r in runs or [])


def merge(cheap, expensive, events, windows, now):
    """The page's data: ``cheap`` (``queue``: the snapshot or ``{error}``, ``history``:
    ``{app: entries}``) as read now, ``expensive`` as last gathered (``{at, status, builds}``;
    ``builds``: ``{app: [build with tests and coverage]}``), the supervision events and the
    rollout windows they are judged against."""
    expensive = expensive or {}
    return {
        "version": VERSION,
        "generated": now,
        "status_at": expensive.get("at"),
        "queue": cheap.get("queue") or {"pushes": [], "runs": []},
        "history": cheap.get("history") or {},
        "status": expensive.get("status") or {},
        "builds": expensive.get("builds") or {},
        "supervision": supervision(events or [], windows or []),
    }


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _e(value):
    return html.escape("" if value is None else str(value))


def _when(stamp):
    if not isinstance(stamp, (int, float)) or not stamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def _secs(value):
    return "-" if not isinstance(value, (int, float)) else f"{value:.1f} s"


def _short(commit):
    return (commit or "")[:10]


def _css(text):
    text = "" if text is None else str(text)
    if text in GOOD or text == "True":
        return "ok"
    if text in BAD or text == "False":
        return "bad"
    if text in MUTED:
        return "muted"
    return "wait" if text else ""


def _td(value, css=None, code=False):
    text = _e(value)
    text = f"<code>{text}</code>" if code else text
    css = _css(value) if css is None else css
    return f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>"


def _table(head, rows, css="grid"):
    if not rows:
        return '<p class="muted">none</p>'
    out = [f'<table class="{css}"><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def _result(value):
    """A stage's result (a bool, or its text as the queue may store it)."""
    if value is True or value == "True":
        return "ok"
    if value is False or value == "False":
        return "failed"
    return "running" if value is None else str(value)


def _stage_bar(run, scale, now):
    start = run.get("started") or now
    parts = []
    for stage in run.get("stages") or []:
        begin = stage.get("started") or start
        end = stage.get("ended") or now
        left = max(0.0, (begin - start) / scale * 100)
        width = max(0.8, (end - begin) / scale * 100)
        result = _result(stage.get("result") if stage.get("ended") else None)
        tip = f"{stage.get('name')}: {_secs(end - begin)} {result} {stage.get('comment') or ''}"
        parts.append(
            f'<div class="seg {_css(result) or "wait"}" style="left:{left:.2f}%;'
            f'width:{min(width, 100 - left):.2f}%" title="{_e(tip.strip())}">'
            f"{_e(stage.get('name'))}</div>"
        )
    return '<div class="track">' + "".join(parts) + "</div>"


def _superseded(run):
    ids = run.get("superseded") or []
    return f" · superseded {_e(', '.join(f'#{i}' for i in ids))}" if ids else ""


def _runs(data):
    runs = data["queue"].get("runs") or []
    now = data["generated"]
    if not runs:
        return '<p class="muted">no run yet</p>'
    durations = [((r.get("ended") or now) - (r.get("started") or now)) for r in runs]
    scale = max([d for d in durations if d > 0] or [1.0])
    pushers = {p.get("id"): p.get("pusher") for p in data["queue"].get("pushes") or []}
    out = ['<p class="muted">bars to scale: the longest run shown spans the width</p>']
    for run, took in zip(runs, durations, strict=True):
        who = sorted({str(pushers.get(i)) for i in run.get("pushes") or [] if pushers.get(i)})
        stages = " · ".join(
            f"{_e(s.get('name'))} {_e(_secs((s.get('ended') or now) - (s.get('started') or now)))}"
            for s in run.get("stages") or []
        )
        out.append(
            f'<div class="run" data-run="{_e(run.get("run_id"))}">'
            f'<div class="head"><span class="tag {_css(run.get("state"))}">'
            f"{_e(run.get('state'))}</span> <code>{_e(run.get('run_id'))}</code> "
            f"{_e(run.get('app'))} {_e(run.get('repo'))}/{_e(run.get('branch'))} "
            f"<code>{_e(_short(run.get('commit')))}</code> "
            f"{'deploy' if run.get('deploy') else 'build only'} · by {_e(', '.join(who) or '-')}"
            f"{_superseded(run)}"
            f" · {_e(_when(run.get('started')))} UTC · {_e(_secs(took))}</div>"
            f"{_stage_bar(run, scale, now)}<div class='stages muted'>{stages}</div></div>"
        )
    return "".join(out)


def _pushes(data):
    rows = []
    for push in data["queue"].get("pushes") or []:
        state = push.get("state")
        note = f"by push {push['superseded_by']}" if push.get("superseded_by") else ""
        rows.append(
            [
                _td(push.get("id"), ""),
                _td(_when(push.get("received_at")), ""),
                _td(push.get("pusher"), ""),
                _td(f"{push.get('vcs') or ''} {push.get('repo') or ''}/{push.get('branch')}", ""),
                _td(_short(push.get("commit")), "", code=True),
                _td(push.get("message"), "msg"),
                _td(state),
                _td(" ".join(x for x in (push.get("run_id") or "", note) if x), ""),
            ]
        )
    head = ["#", "received (UTC)", "pusher", "repo/branch", "commit", "message", "state", "run"]
    return _table(head, rows)


def _where(data):
    out = []
    for app, info in sorted(data["status"].items()):
        out.append(f"<h3>app {_e(app)}</h3>")
        if "error" in info:
            out.append(f'<p class="bad">{_e(info["error"])}</p>')
            continue
        for target, st in sorted((info.get("servers") or {}).items()):
            if "error" in st:
                out.append(f'<h4>{_e(target)}</h4><p class="bad">{_e(st["error"])}</p>')
                continue
            out.append(f"<h4>{_e(target)}: <code>{_e(digest(st.get('current')))}</code></h4>")
            rows = [
                [
                    _td(name, "", code=True),
                    _td(rep.get("generation"), ""),
                    _td(digest(rep.get("image")) or digest(rep.get("image_id")), "", code=True),
                    _td(rep.get("status"), "ok" if rep.get("status") == "running" else "bad"),
                    _td(rep.get("health") or "-"),
                    _td("serving" if rep.get("serving") else "out"),
                    _td(rep.get("restarts") or 0, ""),
                ]
                for name, rep in sorted((st.get("replicas") or {}).items())
            ]
            head = ["replica", "generation", "digest", "state", "health", "frontend", "restarts"]
            out.append(_table(head, rows))
    if not out:
        return '<p class="muted">not gathered yet</p>'
    return _stamp(data) + "".join(out)


def _stamp(data):
    return f'<p class="muted">gathered {_e(_when(data.get("status_at")))} UTC</p>'


def _agents(data):
    out = []
    for app, info in sorted(data["status"].items()):
        found = info.get("jenkins") if isinstance(info, dict) else None
        if not found:
            continue
        if "error" in found:
            out.append(f'<h3>{_e(app)}: Jenkins</h3><p class="bad">{_e(found["error"])}</p>')
            continue
        queue = found.get("queue") or []
        out.append(f"<h3>{_e(app)}: Jenkins, {len(queue)} item(s) in the queue</h3>")
        for pool, agents in sorted(pools(found.get("agents")).items()):
            rows = [
                [
                    _td(a["name"], "", code=True),
                    _td(a["owner"] or "-", ""),
                    _td(a["state"]),
                    _td(" ".join(a["labels"]), ""),
                    _td(a["builds"], ""),
                ]
                for a in agents
            ]
            out.append(f"<h4>pool {_e(pool)}</h4>" if pool else "<h4>not in a pool</h4>")
            out.append(_table(["agent", "server", "state", "labels", "building"], rows))
    return _stamp(data) + "".join(out) if out else '<p class="muted">no Jenkins profile</p>'


def _history(data):
    entries = []
    for app, items in (data.get("history") or {}).items():
        entries += [dict(e, app=app) for e in items or []]
    return sorted(entries, key=lambda e: e.get("started") or 0, reverse=True)


def _rollbacks(data):
    rows = []
    for entry in _history(data):
        if entry.get("kind") != "rollback" and not entry.get("rolled_back"):
            continue
        back = entry.get("rolled_back") or {}
        servers = ", ".join(f"{t} -> {digest(r.get('image')) or '-'}" for t, r in back.items())
        rows.append(
            [
                _td(_when(entry.get("started")), ""),
                _td(entry.get("app"), ""),
                _td(entry.get("kind"), ""),
                _td(digest(entry.get("image")), "", code=True),
                _td(servers or "-", ""),
                _td("ok" if entry.get("result") else "failed"),
                _td(entry.get("comment"), "msg"),
            ]
        )
    head = ["when (UTC)", "app", "kind", "image", "rolled back", "result", "comment"]
    return _table(head, rows)


def _failures(data):
    out = []
    for run in data["queue"].get("runs") or []:
        if run.get("state") != "failed":
            continue
        out.append(
            f'<div class="fail"><div class="head"><code>{_e(run.get("run_id"))}</code> '
            f"{_e(run.get('branch'))} <code>{_e(_short(run.get('commit')))}</code> "
            f"{_e(_when(run.get('ended')))} UTC</div><p>{_e(run.get('failure'))}</p>"
            + (f"<pre>{_e(run['console_tail'])}</pre>" if run.get("console_tail") else "")
            + "</div>"
        )
    for entry in _history(data):
        if entry.get("result") is False:
            out.append(
                f'<div class="fail"><div class="head">{_e(entry.get("kind"))} of '
                f"{_e(entry.get('app'))} {_e(_when(entry.get('started')))} UTC</div>"
                f"<p>{_e(entry.get('comment'))}</p></div>"
            )
    return "".join(out) or '<p class="muted">none</p>'


def _tests(data):
    rows, seen = [], set()
    for app, builds in sorted((data.get("builds") or {}).items()):
        for bld in builds or []:
            seen.add(bld.get("ref"))
            rows.append(_test_row(app, f"#{bld.get('number')}", bld))
    for run in data["queue"].get("runs") or []:
        if run.get("commit") not in seen and (run.get("tests") or run.get("coverage") is not None):
            rows.append(_test_row(run.get("app"), run.get("run_id"), dict(run, ref=run["commit"])))
    head = ["app", "build", "result", "commit", "tests", "failed", "skipped", "coverage"]
    return _table(head, rows)


def _test_row(app, label, bld):
    tests = bld.get("tests") or {}
    cov = bld.get("coverage")
    return [
        _td(app, ""),
        _td(label, ""),
        _td(bld.get("result") or bld.get("state")),
        _td(_short(bld.get("ref")), "", code=True),
        _td(tests.get("total", "-"), ""),
        _td(tests.get("failed", "-"), "bad" if tests.get("failed") else ""),
        _td(tests.get("skipped", "-"), ""),
        _td("-" if cov is None else f"{cov:.1f} %", ""),
    ]


def _supervision(data):
    sup = data["supervision"]
    rows = [
        [_td(srv, ""), _td(s["deaths"], ""), _td(s["restarts"], ""), _td(s["health"], "")]
        for srv, s in sorted(sup["servers"].items())
    ]
    out = [_table(["server", "deaths", "restarts", "health changes"], rows)]
    if sup["flagged"]:
        out.append(f'<p class="bad flag">{sup["flagged"]} replica death(s) outside a rollout</p>')
    events = [
        [
            _td(_when(e["time"]), ""),
            _td(e["server"], ""),
            _td(e["name"], "", code=True),
            _td(e["action"]),
            _td(e["status"] or ("-" if e["exit_code"] is None else f"exit {e['exit_code']}")),
            _td("outside a rollout" if e["flag"] else "", "bad flag" if e["flag"] else ""),
        ]
        for e in sup["events"][:50]
    ]
    out.append(_table(["when (UTC)", "server", "container", "event", "status", ""], events))
    return "".join(out)


RENDER = {
    "runs": _runs,
    "pushes": _pushes,
    "where": _where,
    "agents": _agents,
    "rollbacks": _rollbacks,
    "failures": _failures,
    "tests": _tests,
    "supervision": _supervision,
}


def _summary(data):
    runs = data["queue"].get("runs") or []
    last = runs[0] if runs else {}
    text = f"updated {_when(data['generated'])} UTC"
    if last:
        text += f" · last run {last.get('run_id')} {last.get('state')}"
    if data["queue"].get("error"):
        text += f" · queue: {data['queue']['error']}"
    return _e(text)


def fragments(data):
    """``{element id: HTML}``: every section's body and the page's summary line."""
    out = {f"s-{key}": RENDER[key](data) for key, _ in SECTIONS}
    out["summary"] = _summary(data)
    return out


def payload(data):
    """The data file the page fetches: the data and its fragments."""
    return {
        "version": VERSION,
        "generated": data["generated"],
        "data": data,
        "html": fragments(data),
    }


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:.8em 0 .3em}h4{font-size:.95em;margin:.6em 0 .2em;font-weight:600}
table.grid{border-collapse:collapse;margin:.2em 0 .8em}
.grid td,.grid th{border:1px solid #ccc;padding:.15em .5em;text-align:left;vertical-align:top}
.grid th{background:#eee}code{font-size:.9em}td.msg{max-width:32em;white-space:pre-wrap}
.ok{background:#dff3df}.bad{background:#f9dede}.wait{background:#fff3cc}.muted{color:#777}
.run{margin:.4em 0 .8em}.tag{padding:0 .4em;border-radius:3px}
.track{position:relative;height:1.4em;background:#eee;border-radius:3px;margin:.2em 0}
.seg{position:absolute;top:0;bottom:0;overflow:hidden;font-size:.75em;line-height:1.9em;
padding-left:2px;border-right:1px solid #fff;white-space:nowrap}
.seg.ok{background:#8fd18f}.seg.bad{background:#e88}.seg.wait{background:#f3d36b}
.fail{border-left:4px solid #d55;padding:.2em .6em;margin:.4em 0;background:#fff}
pre{background:#222;color:#eee;padding:.5em;overflow:auto;max-height:20em;font-size:.85em}
#live{float:right;padding:0 .5em;border-radius:3px}
"""

SCRIPT = """
(function () {
  "use strict";
  var url = document.querySelector('meta[name="chain-data"]').content;
  var live = document.getElementById("live");
  var stamp = document.body.getAttribute("data-generated");
  function show(text, css) { live.textContent = text; live.className = css; }
  function apply(doc) {
    if (String(doc.generated) === stamp) { return; }
    Object.keys(doc.html).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.innerHTML = doc.html[id]; }
    });
    stamp = String(doc.generated);
    document.body.setAttribute("data-generated", stamp);
  }
  function tick() {
    fetch(url, {cache: "no-store"})
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (doc) { apply(doc); show("live", "ok"); })
      .catch(function (err) { show("not updated: " + err.message, "bad"); })
      .then(function () { window.setTimeout(tick, REFRESH); });
  }
  window.setTimeout(tick, REFRESH);
})();
"""


def document(data, data_url, refresh_ms=REFRESH_MS):
    """The page: every section rendered for ``data``, inline CSS, and an inline script that
    fetches ``data_url`` (the :func:`payload` file) every ``refresh_ms`` and swaps in the
    sections when its ``generated`` changed."""
    parts = fragments(data)
    body = [
        f'<body data-generated="{_e(data["generated"])}">',
        '<span id="live" class="wait">loading</span><h1>chain: the team\'s page</h1>',
        f'<p id="summary" class="muted">{parts["summary"]}</p>',
    ]
    for key, title in SECTIONS:
        body.append(
            f'<section id="{key}"><h2>{_e(title)}</h2><div id="s-{key}">{parts["s-" + key]}'
            "</div></section>"
        )
    script = SCRIPT.replace("REFRESH", str(int(refresh_ms)))
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                '<link rel="icon" href="data:,">',
                f'<meta name="chain-data" content="{_e(data_url)}">',
                "<title>chain: the team's page</title>",
                f"<style>{STYLE}</style></head>",
                *body,
                f"<script>{script}</script>",
                "</body></html>",
            ]
        )
        + "\n"
    )
