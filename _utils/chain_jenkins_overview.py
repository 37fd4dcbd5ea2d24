"""
The Jenkins part of ``chain.status``: the controller, its agents, the queue and the last builds
of the app's pipeline, in three GETs (``computer/api/json``, ``queue/api/json`` and the job's
``api/json`` with a ``tree``), and its lines in the status table.

Connection settings come from ``chain_jenkins_client.connection``; no Salt dunders.
"""

try:
    from saltext.chain.utils import chain_agents_read, chain_errors, chain_jenkins_client
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_agents_read
    import chain_errors
    import chain_jenkins_client

BUILDS_TREE = (
    "builds[number,result,building,duration,timestamp,"
    "actions[parameters[name,value]],builtOn]{{0,{limit}}}"
)


def _params(build):
    out = {}
    for action in build.get("actions") or []:
        for param in (action or {}).get("parameters") or []:
            out[param.get("name")] = param.get("value")
    return out


def builds(data):
    """``[{number, result, duration, timestamp, ref, agent}]`` of a job's API object, newest
    first (``result`` is ``BUILDING`` while it runs; ``ref`` the ``REF`` parameter)."""
    out = []
    for bld in data.get("builds") or []:
        out.append(
            {
                "number": bld.get("number"),
                "result": "BUILDING" if bld.get("building") else bld.get("result"),
                "duration": round((bld.get("duration") or 0) / 1000, 1),
                "timestamp": (bld.get("timestamp") or 0) // 1000,
                "ref": _params(bld).get("REF"),
                "agent": bld.get("builtOn") or None,
            }
        )
    return out


def overview(conf, job=None, limit=5):
    """``{url, agents, queue, builds}`` of the controller of connection ``conf`` (``builds``
    of ``job``, the last ``limit``; None without a job, or when the job does not exist), or
    ``{url, error}`` when the controller cannot be read."""
    found = {"url": conf["url"]}
    try:
        found["agents"] = chain_agents_read.computers(conf)
        found["queue"] = chain_agents_read.queue(conf)
        found["builds"] = None
        if job:
            path = chain_jenkins_client.job_path(job) + "api/json"
            try:
                data = chain_agents_read.get_json(conf, path, BUILDS_TREE.format(limit=limit))
            except chain_errors.BackendError as err:
                if err.status != 404:
                    raise
                data = None
            found["builds"] = None if data is None else builds(data)
    except chain_errors.BackendError as err:
        return {"url": conf["url"], "error": str(err)}
    return found


def lines(found, job=None):
    """The status table's lines for an :func:`overview`."""
    if "error" in found:
        return [f"  jenkins {found['url']}: {found['error']}"]
    agents = found["agents"]
    online = sum(1 for a in agents.values() if not a["offline"])
    out = [f"  jenkins {found['url']}: {online} of {len(agents)} agent(s) online"]
    for name, agent in sorted(agents.items()):
        state = "offline" if agent["offline"] else ("idle" if agent["idle"] else "busy")
        out.append(f"    agent {name:<32} {state:<8} {' '.join(agent['labels'])}".rstrip())
    queue = found["queue"]
    out.append(f"    queue: {len(queue)} item(s)")
    for item in queue:
        out.append(f"      {item['job']}: {item.get('why') or ''}".rstrip())
    if job:
        if found.get("builds") is None:
            out.append(f"    job {job}: not on the controller")
        else:
            out.append(
                f"    job {job}: the last {len(found['builds'])} build(s) (builds=N shows more)"
            )
        for bld in found.get("builds") or []:
            out.append(
                f"      #{bld['number']:<5} {bld['result'] or '-':<9} {bld['duration']:>6.1f}s "
                f"REF={bld['ref'] or '-'}"
            )
    return out
