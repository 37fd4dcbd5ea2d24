"""
Read-only controller views the pool reconcile needs in one request each: the queue
(``queue/api/json``) and every computer with its executors (``computer/api/json``).

Writes go through the ``jenkins`` execution module; these two GETs are here because no public
``jenkins`` function returns the whole queue or the executors' current builds. Connection
settings come from ``chain_profiles.jenkins_connection``; a timeout is always set; the token is
never echoed. No Salt dunders.
"""

import urllib.parse

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

try:
    import requests

    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - python-jenkins depends on it
    HAS_REQUESTS = False

QUEUE_TREE = "items[id,buildable,blocked,stuck,why,inQueueSince,task[name,url,labelExpression]]"
COMPUTER_TREE = (
    "computer[displayName,description,offline,temporarilyOffline,idle,"
    "offlineCauseReason,numExecutors,assignedLabels[name],"
    "executors[currentExecutable[url]],oneOffExecutors[currentExecutable[url]]]"
)


def get_json(conf, path, tree):
    """GET ``<url><path>?tree=...`` as JSON with the profile's credentials and timeout."""
    auth = (conf["user"], conf["token"]) if conf.get("user") else None
    try:
        resp = requests.get(
            conf["url"] + path,
            params={"tree": tree},
            auth=auth,
            timeout=conf["timeout"],
            verify=conf.get("verify", True),
            allow_redirects=False,
        )
    except requests.Timeout:
        raise chain_errors.Unreachable(
            f"Jenkins at {conf['url']} did not answer within {conf['timeout']:g}s (GET {path})"
        ) from None
    except requests.RequestException as err:
        raise chain_errors.Unreachable(
            f"cannot reach Jenkins profile '{conf['name']}': {type(err).__name__}"
        ) from None
    if resp.status_code in (401, 403):
        raise chain_errors.BackendError(
            f"Jenkins refused {path} ({resp.status_code}): check the profile's user/token",
            resp.status_code,
        )
    if resp.status_code != 200:
        raise chain_errors.BackendError(
            f"Jenkins answered {resp.status_code} to GET {path}", resp.status_code
        )
    try:
        return resp.json()
    except ValueError:
        raise chain_errors.BackendError(f"Jenkins answered GET {path} with non-JSON") from None


def job_name_from_url(url, base):
    """``<base>job/a/job/b/`` -> ``a/b``."""
    path = urllib.parse.urlsplit(url or "").path
    base_path = urllib.parse.urlsplit(base).path
    if path.startswith(base_path):
        path = path[len(base_path) :]
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    return "/".join(parts[i + 1] for i in range(0, len(parts) - 1, 2) if parts[i] == "job")


def queue(conf):
    """``[{id, buildable, stuck, why, job, label}]`` of the queue's items (``label``: the
    task's label expression when Jenkins exports one, else None)."""
    data = get_json(conf, "queue/api/json", QUEUE_TREE)
    out = []
    for item in data.get("items") or []:
        task = item.get("task") or {}
        out.append(
            {
                "id": item.get("id"),
                "buildable": bool(item.get("buildable")),
                "stuck": bool(item.get("stuck")),
                "why": item.get("why"),
                "job": job_name_from_url(task.get("url"), conf["url"]) or task.get("name"),
                # a freestyle task's assigned label (AbstractProject.getAssignedLabelString,
                # exported as labelExpression): the why names no label while the controller
                # has no agent node at all (Queue.BuildableItem.getCauseOfBlockage)
                "label": task.get("labelExpression"),
            }
        )
    return out


def computers(conf):
    """``{node: {offline, temporarily_offline, idle, executors, labels, builds, description,
    offline_reason}}`` (the built-in node left out)."""
    data = get_json(conf, "computer/api/json", COMPUTER_TREE)
    out = {}
    for comp in data.get("computer") or []:
        name = comp.get("displayName")
        if (comp.get("_class") or "").endswith("MasterComputer"):
            continue
        builds = set()
        for executor in (comp.get("executors") or []) + (comp.get("oneOffExecutors") or []):
            current = (executor or {}).get("currentExecutable") or {}
            if current.get("url"):
                builds.add(current["url"])
        out[name] = {
            "offline": bool(comp.get("offline")),
            "temporarily_offline": bool(comp.get("temporarilyOffline")),
            "idle": bool(comp.get("idle")),
            "executors": comp.get("numExecutors"),
            "labels": sorted(
                {lab.get("name") for lab in comp.get("assignedLabels") or []} - {name}
            ),
            "builds": sorted(builds),
            "description": comp.get("description") or "",
            "offline_reason": comp.get("offlineCauseReason") or "",
        }
    return out
