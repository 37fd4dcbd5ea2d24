"""
``chain.status`` as one self-contained HTML page (``out_format=html``): per app the last deploy,
every server with its image digest and replicas (health, frontend slot, serving or not), the
Jenkins controller (agents, queue, the pipeline's last builds) and the registry's tags. No
scripts, no external assets: a file to open in a browser or to serve as it is. Pure: the data
of ``chain.status out_format=data`` in, text out; no Salt dunders.
"""

import html
import time

try:
    from saltext.chain.utils import chain_swarm_rollout
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_swarm_rollout

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.3em 0 1em}td,th{border:1px solid #ccc;padding:.2em .6em;
text-align:left}th{background:#f3f3f3}code{font-size:.9em}
.ok{background:#e3f6e3}.bad{background:#fbe3e3}.wait{background:#fff5d6}.muted{color:#777}
"""

GOOD = {"healthy", "serving", "SUCCESS", "ok", "online", "idle"}
BAD = {"unhealthy", "FAILURE", "FAILED", "offline", "ABORTED", "out"}


def _e(value):
    return html.escape("" if value is None else str(value))


def _cell(value, css=None):
    text = "" if value is None else str(value)
    if css is None:
        css = "ok" if text in GOOD else "bad" if text in BAD else "wait" if text else ""
    return f'<td class="{css}">{_e(text)}</td>' if css else f"<td>{_e(text)}</td>"


def _table(head, rows):
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(row) + "</tr>" for row in rows]
    return out + ["</table>"]


def _swarm(target, st):
    """An app in Swarm mode: its service's tasks per node."""
    out = [f"<h3>{_e(target)}: {_e(chain_swarm_rollout.headline(st))}</h3>"]
    rows = [
        [
            _cell(r["node"], ""),
            f"<td><code>{_e(r['task'])}</code></td>",
            _cell(r["state"]),
            _cell(r["health"] or "-"),
            f"<td><code>{_e(r['digest'] or '-')}</code></td>",
            _cell(r["serving"], "" if r["serving"] == "-" else None),
        ]
        for r in chain_swarm_rollout.task_rows(st)
    ]
    return out + _table(["node", "task", "state", "health", "image digest", "frontend"], rows)


def _servers(servers):
    out = []
    for target, st in servers.items():
        if "error" in st:
            out.append(f'<h3>{_e(target)}</h3><p class="bad">{_e(st["error"])}</p>')
            continue
        if st.get("mode") == chain_swarm_rollout.SWARM:
            out += _swarm(target, st)
            continue
        out.append(f"<h3>{_e(target)}: <code>{_e(st.get('current'))}</code></h3>")
        rows = []
        for name, rep in (st.get("replicas") or {}).items():
            rows.append(
                [
                    f"<td><code>{_e(name)}</code></td>",
                    _cell(rep.get("status")),
                    _cell(rep.get("health") or "-"),
                    _cell(f"s{rep['slot']}" if rep.get("slot") else "-", ""),
                    _cell("serving" if rep.get("serving") else "out"),
                ]
            )
        out += _table(["replica", "state", "health", "slot", "frontend"], rows)
    return out


def _jenkins(found):
    if "error" in found:
        return [f'<h3>Jenkins {_e(found["url"])}</h3><p class="bad">{_e(found["error"])}</p>']
    out = [f"<h3>Jenkins {_e(found['url'])}</h3>"]
    rows = []
    for name, agent in sorted(found["agents"].items()):
        state = "offline" if agent["offline"] else ("idle" if agent["idle"] else "busy")
        rows.append([f"<td>{_e(name)}</td>", _cell(state), _cell(" ".join(agent["labels"]), "")])
    out += _table(["agent", "state", "labels"], rows)
    queue = found.get("queue") or []
    out.append(f"<p>queue: {len(queue)} item(s)</p>")
    if queue:
        out += _table(
            ["job", "why"], [[_cell(i["job"], ""), _cell(i.get("why"), "")] for i in queue]
        )
    if found.get("builds"):
        rows = [
            [
                _cell(f"#{b['number']}", ""),
                _cell(b["result"]),
                _cell(f"{b['duration']:.1f} s", ""),
                f"<td><code>{_e(b['ref'] or '-')}</code></td>",
                _cell(b.get("agent") or "-", ""),
            ]
            for b in found["builds"]
        ]
        out += _table(["build", "result", "duration", "REF", "agent"], rows)
    return out


def _registry(reg):
    out = [f"<h3>registry {_e(reg['repository'])}</h3>"]
    if reg.get("error"):
        return out + [f'<p class="bad">{_e(reg["error"])}</p>']
    rows = [
        [f"<td><code>{_e(tag)}</code></td>", f"<td><code>{_e(digest or '-')}</code></td>"]
        for tag, digest in (reg.get("tags") or {}).items()
    ]
    return out + _table(["tag", "digest"], rows)


def render(data, now=None):
    """The page for ``chain.status``'s data (``{app: {servers, last_deploy, jenkins,
    registry}}``)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now or time.time()))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>chain status</title>',
        f"<style>{STYLE}</style></head><body>",
        f'<h1>chain status</h1><p class="muted">{_e(stamp)}</p>',
    ]
    for app, info in data.items():
        last = info.get("last_deploy") or {}
        verdict = "ok" if last.get("result") else "FAILED" if last else "none"
        out.append(f"<h2>app {_e(app)}</h2>")
        out += _table(
            ["last", "result", "image", "ref"],
            [
                [
                    _cell(last.get("kind", "deploy"), ""),
                    _cell(verdict),
                    f"<td><code>{_e(last.get('image'))}</code></td>",
                    f"<td><code>{_e(last.get('ref'))}</code></td>",
                ]
            ],
        )
        out += _servers(info.get("servers") or {})
        if info.get("jenkins"):
            out += _jenkins(info["jenkins"])
        if info.get("registry"):
            out += _registry(info["registry"])
    out.append("</body></html>")
    return "\n".join(out) + "\n"
