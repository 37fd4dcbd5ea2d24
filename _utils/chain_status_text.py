"""
The ``chain`` runner's text: ``chain.status`` as readable lines (``out_format=table``; the HTML
page is :mod:`chain_status_page`), ``chain.inventory``'s rows and CSV, and a rollout's outcome
as one readable comment (on a failure: which server failed and why, what was rolled back,
which server runs which image now). Pure: data in, text out; no Salt dunders.
"""

import csv
import io
import json
import re

try:
    from saltext.chain.utils import chain_health, chain_jenkins_overview, chain_swarm_rollout
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_health
    import chain_jenkins_overview
    import chain_swarm_rollout

INVENTORY_COLUMNS = (
    "engine",
    "minions",
    "name",
    "id",
    "image",
    "image_id",
    "state",
    "health",
    "ports",
    "labels",
)
HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


# ---------------------------------------------------------------------------------------------
# chain.status
# ---------------------------------------------------------------------------------------------


def _last_deploy(name, last):
    verdict = "ok" if last.get("result") else "FAILED" if last else "none"
    ref = f"ref {last['ref']}" if last.get("ref") else ""
    return f"app {name}: last {last.get('kind', 'deploy')} {verdict} {last.get('image', '')} {ref}"


def _server_lines(target, st):
    if "error" in st:
        return [f"  {target}: {st['error']}"]
    if st.get("mode") == chain_swarm_rollout.SWARM:  # the service's tasks per node
        lines = [f"  {target}: {chain_swarm_rollout.headline(st)}"]
        lines += [
            f"    {r['node']:<20} {r['task']:<12} {r['state'] or '':<8} {r['health'] or '-':<9} "
            f"{r['digest'] or '-'} {r['serving']}"
            for r in chain_swarm_rollout.task_rows(st)
        ]
        return lines
    lines = [f"  {target}: {st.get('current')}"]
    for rname, rep in st["replicas"].items():
        lines.append(
            f"    {rname:<40} {rep['status'] or '':<8} "
            f"{rep['health'] or '-':<10} s{rep['slot'] or '-':<3} "
            f"{'serving' if rep.get('serving') else 'out'}"
        )
    return lines


def _registry_lines(reg, tags):
    lines = [f"  registry {reg['repository']}: {reg.get('error', '')}".rstrip()]
    for tag, digest in (reg.get("tags") or {}).items():
        lines.append(f"    {tag:<40} {digest or '-'}")
    if reg.get("truncated"):
        shown = len(reg.get("tags") or {})
        total = reg.get("total", "more")
        lines.append(f"    ({shown} of {total} tags: the deployed ones first; tags=N shows more)")
    return lines


def table(data, jobs, tags):
    """``chain.status``'s data (``{app: {servers, last_deploy, jenkins, registry}}``) as text.
    ``jobs`` maps each app to its ``jenkins_job`` (``None``: none), ``tags`` is how many
    registry tags were asked for."""
    lines = []
    for name, info in data.items():
        lines.append(_last_deploy(name, info["last_deploy"] or {}).rstrip())
        for target, st in info["servers"].items():
            lines.extend(_server_lines(target, st))
        if info["jenkins"]:
            lines.extend(chain_jenkins_overview.lines(info["jenkins"], jobs.get(name)))
        if info["registry"]:
            lines.extend(_registry_lines(info["registry"], tags))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# chain.inventory
# ---------------------------------------------------------------------------------------------


def inventory_rows(ret, engines=None):
    """``container.ps all=True`` answers (``{minion: {name: container}}``, or an error text per
    minion) as one row per container and engine, sorted by engine and name.

    ``engines`` maps a minion to its engine (:func:`engine_of` of its ``container_engine``
    grain): minions that share an engine report its containers once, in one row naming all of
    them (``minions``, ``minion`` the first). A minion whose engine is unknown is an engine of
    its own."""
    engines = engines or {}
    shared = {}  # engine key -> (sorted minions, the first answer that is a mapping)
    for minion in sorted(ret):
        key = engines.get(minion) or f"minion:{minion}"
        minions, found = shared.get(key, ([], None))
        minions.append(minion)
        if found is None and isinstance(ret[minion], dict):
            found = ret[minion]
        shared[key] = (minions, found)
    rows = []
    for key, (minions, found) in sorted(shared.items(), key=lambda kv: kv[1][0]):
        engine = "" if key.startswith("minion:") else key.split("|", 1)[-1]
        head = {"engine": engine, "minions": minions, "minion": minions[0]}
        if found is None:
            rows.append(dict(head, name=None, error=str(ret[minions[0]])[:300]))
            continue
        rows.extend(dict(head, **_container_row(name, found[name])) for name in sorted(found))
    return rows


def engine_of(grain):
    """Which engine a ``container_engine`` grain describes, as ``"<ID>|<name>:<data root>"``,
    or None when it does not say. The engine's ``ID`` alone is not enough: engines that share
    ``/etc/docker`` (engine 1 and 2 of ``scripts/bootstrap``) report the same one; on one host
    their data roots differ. The part after ``|`` is what a row shows."""
    if not isinstance(grain, dict) or not grain.get("available") or not grain.get("id"):
        return None
    return f"{grain['id']}|{grain.get('name') or '?'}:{grain.get('root_dir') or '?'}"


def _container_row(name, ctr):
    health = HEALTH.search(ctr.get("status") or "")
    return {
        "name": name,
        "id": ctr.get("id", "")[:12],
        "image": ctr.get("image"),
        "image_id": ctr.get("image_id"),
        "state": ctr.get("state"),
        "health": health.group(1).replace("health: ", "") if health else None,
        "ports": ctr.get("ports") or [],
        "labels": ctr.get("labels") or {},
    }


def inventory_csv(rows):
    """The rows as CSV text with a header (ports space-separated, labels as JSON)."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=INVENTORY_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(
            dict(
                row,
                minions=" ".join(row.get("minions") or [row.get("minion") or ""]),
                ports=" ".join(row.get("ports") or []),
                labels=json.dumps(row.get("labels") or {}, sort_keys=True),
            )
        )
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# A rollout's outcome
# ---------------------------------------------------------------------------------------------


def health_output(inspect):
    """The output of a container's telling health probe (``docker inspect`` data;
    ``chain_health.telling_probe``: the last that failed with an answer, else the last), on one
    line, or ``None`` without a health check log."""
    log = ((inspect or {}).get("State") or {}).get("Health", {}).get("Log") or []
    probe = chain_health.telling_probe(log) or {}
    text = " ".join(str(probe.get("Output") or "").split())
    return text[:300] or None


def _now_line(now):
    return "now: " + ", ".join(
        f"{target} runs {image or 'nothing'}" for target, image in now.items()
    )


def rollout_comment(entry):
    """A rollout's (or rollback's) outcome for a person: one line when it succeeded or changed
    nothing; on a failure, a first line naming the app, the image and the servers that failed,
    then one line per failed server (why: its failed states or the runner's check), one per
    server rolled back, and where things stand (``entry["now"]``: which server runs which
    image)."""
    what = f"{entry['kind']} of {entry['app']} to {entry['image']}"
    servers = entry["servers"]
    swarm = entry.get("mode") == "swarm" and len(servers) == 1
    if swarm and (entry.get("no_op") or entry["result"]):  # one service, its tasks per node
        ((manager, svc),) = servers.items()
        tasks = sum(len(t) for t in (svc.get("tasks") or {}).values())
        done = "no change, it already runs it" if entry.get("no_op") else "updated"
        return f"{what}: Swarm service {svc.get('service')} on {manager}: {done} ({tasks} task(s))"
    if entry.get("no_op"):
        return f"{what}: no change, {len(servers)} server(s) already run it"
    failed = [t for t, s in servers.items() if not s["result"]]
    if entry["result"]:
        tolerated = f" ({', '.join(failed)} failed, tolerated)" if failed else ""
        return f"{what}: {len(servers) - len(failed)} server(s) updated{tolerated}"
    lines = [f"{what} failed on {', '.join(failed) or 'no server'}"]
    for target in failed:
        # A state's failure comment has detail lines (chain_states.fail): kept, indented.
        first, *more = str(servers[target]["comment"]).splitlines() or [""]
        lines.append(f"  {target}: {first}")
        lines += [f"      {line.strip()}" for line in more if line.strip()]
    for target, back in entry["rolled_back"].items():
        if not back.get("image"):
            lines.append(f"  not rolled back {target}: {back['comment']}")
            continue
        outcome = "ok" if back["result"] else f"FAILED: {back['comment']}"
        lines.append(f"  rolled back {target} to {back['image']}: {outcome}")
    if not entry["rolled_back"] and entry.get("mode") == "swarm":
        lines.append("  rolled back by the deploy state itself, if it says so above")
    elif not entry["rolled_back"]:
        lines.append("  rolled back: none (no other server had been updated)")
    if entry.get("now"):
        lines.append("  " + _now_line(entry["now"]))
    return "\n".join(lines)
