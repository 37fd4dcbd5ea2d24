"""
Builds through the queue, pure logic plus the request sequences run on a client the caller
passes: parameter validation, trigger (queue id from ``Location``), waiting, matching a build by
its parameters, console tails.

Jenkins drops parameters a job does not define (SECURITY-170) and answers
``buildWithParameters`` on an unparameterised job with an error (a 500
``IllegalStateException`` up to 2.516.x, a 400 "X is not parameterized" from 2.528.1): both are
refused here before any request, so the module behaves the same on every release.

Nothing here uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import hashlib
import logging
import os
import re
import time
import urllib.parse

try:
    from saltext.chain.utils import chain_errors, chain_jenkins_client
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_client

BadInput = chain_errors.BadInput
log = logging.getLogger(__name__)

PARAM_DEFS_TREE = "property[parameterDefinitions[name,type]]"
BUILD_REFS = (
    "lastBuild",
    "lastCompletedBuild",
    "lastSuccessfulBuild",
    "lastFailedBuild",
    "lastStableBuild",
    "lastUnstableBuild",
    "lastUnsuccessfulBuild",
)
PASSWORD_TYPE = "PasswordParameterDefinition"


def build_params(parameters):
    """``[(name, value)]`` from a mapping or a list of one-key mappings / pairs; values never
    echoed in errors (they may be secrets)."""
    if parameters is None:
        return None
    if isinstance(parameters, dict):
        items = list(parameters.items())
    elif isinstance(parameters, (list, tuple)):
        items = []
        for entry in parameters:
            if isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                items.append(tuple(entry))
            else:
                size = f" of {len(entry)} items" if isinstance(entry, (dict, list, tuple)) else ""
                raise BadInput(
                    "parameters: each list entry must be a one-key mapping or a (name, value) "
                    f"pair, got a {type(entry).__name__}{size}"
                )
    else:
        raise BadInput("parameters must be a mapping of name: value")
    out = []
    for key, value in items:
        if not isinstance(key, str) or not key:
            raise BadInput(f"parameters: invalid name {key!r}")
        if isinstance(value, (dict, list, tuple)):
            raise BadInput(f"parameters: {key} must be a scalar")
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, "" if value is None else str(value)))
    return out


def build_ref(number):
    """A build number or a permalink name (``lastBuild`` ...), as a path segment."""
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return str(number)
    text = str(number)
    if (text.isdigit() and int(text) > 0) or text in BUILD_REFS:
        return text
    raise BadInput(f"number: expected a positive build number or lastBuild etc., got {number!r}")


def timing(timeout, interval, interval_name="poll_interval"):
    """Validated ``(timeout, interval)`` seconds."""
    return (
        chain_errors.as_number(timeout, "timeout", minimum=0),
        chain_errors.as_number(interval, interval_name, minimum=0),
    )


def tail_lines(tail):
    """``tail`` validated: None (everything) or a count of lines."""
    return None if tail is None else chain_errors.as_int(tail, "tail", minimum=0)


def waiting(timeout, poll_interval, tail_count):
    """Validated wait arguments: ``(Clock, tail lines)``; the clock starts now."""
    return Clock(*timing(timeout, poll_interval)), tail_lines(tail_count)


def tail(text, lines):
    if lines is None:
        return text
    if lines <= 0:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def queue_id(location):
    match = re.search(r"/queue/item/(\d+)/?$", location or "")
    return int(match.group(1)) if match else None


def param_defs(data):
    """``{name: type}`` of a job's parameter definitions (``type`` as Jenkins exports it)."""
    defs = {}
    for prop in (data or {}).get("property") or []:
        for pdef in (prop or {}).get("parameterDefinitions") or []:
            if pdef and pdef.get("name"):
                kind = str(pdef.get("type") or pdef.get("_class") or "")
                defs[pdef["name"]] = kind.rsplit(".", 1)[-1]
    return defs


def check_param_names(name, params, defs):
    """Refuse parameters the job does not define: Jenkins drops them silently."""
    unknown = sorted({key for key, _ in params or ()} - set(defs))
    if not unknown:
        return
    if defs:
        raise BadInput(
            f"job {name} does not define parameter(s) {', '.join(unknown)} (it defines: "
            f"{', '.join(sorted(defs))}); Jenkins would silently drop them"
        )
    raise BadInput(
        f"job {name} has no parameters, so Jenkins would silently drop {', '.join(unknown)}"
    )


def trigger(client, name, params):
    """Queue a build; return the queue id (following Jenkins' 303 to an identical queued item).

    ``build`` for a job without parameters, ``buildWithParameters`` otherwise (never on an
    unparameterised job: a 500 up to 2.516.x, a 400 from 2.528.1).
    """
    path = chain_jenkins_client.job_path(name)
    data = client.get_json_or_none(
        path + "api/json", params={"tree": f"buildable,{PARAM_DEFS_TREE}"}
    )
    if data is None:
        raise chain_jenkins_client.JenkinsNotFound(f"job {name} does not exist", status=404)
    defs = param_defs(data)
    check_param_names(name, params, defs)
    if defs:
        resp = client.request(
            "POST", path + "buildWithParameters", data=params or {}, allow_redirects=False
        )
    else:
        resp = client.request("POST", path + "build", allow_redirects=False)
    location = resp.headers.get("Location")
    qid = queue_id(location)
    if resp.status_code in (201, 303) and qid is not None:
        if resp.status_code == 303:
            log.debug("job %s: an identical item is already queued (#%s); following it", name, qid)
        return qid
    raise chain_jenkins_client.JenkinsError(
        f"job {name}: Jenkins did not queue the build (HTTP {resp.status_code}, Location "
        f"{location!r}); is the job disabled or the controller quieting down?",
        status=resp.status_code,
    )


class Clock:
    """A deadline and a pause that never sleeps past it."""

    def __init__(self, timeout, interval):
        self.start = time.monotonic()
        self.timeout = timeout
        self.deadline = self.start + timeout
        self.interval = interval

    def expired(self):
        return time.monotonic() >= self.deadline

    def waited(self):
        return round(time.monotonic() - self.start, 1)

    def pause(self):
        time.sleep(max(0.05, min(self.interval, self.deadline - time.monotonic())))


def new_result(name, qid=None, number=None):
    return {
        "name": name,
        "queue_id": qid,
        "number": number,
        "url": None,
        "result": None,
        "duration": None,
        "building": None,
        "console_tail": "",
    }


def wait_queue(client, name, out, clock):
    """Poll the queue item until it has a build number; False when the deadline came first
    (``out["why"]`` says why it waits)."""
    qid = out["queue_id"]
    while True:
        item = client.get_json_or_none(f"queue/item/{qid}/api/json")
        if item is None:
            raise chain_jenkins_client.JenkinsError(
                f"job {name}: queue item {qid} vanished (expired?)"
            )
        if item.get("cancelled"):
            raise chain_jenkins_client.JenkinsError(f"job {name}: queue item {qid} was cancelled")
        executable = item.get("executable")
        if executable and executable.get("number"):
            out["number"] = int(executable["number"])
            out["url"] = executable.get("url")
            return True
        if clock.expired():
            out["why"] = item.get("why")
            return False
        clock.pause()


def wait_build(client, name, out, clock, lines):
    """Poll build ``out["number"]`` until it has a result or the deadline; fill in ``out``."""
    path = f"{chain_jenkins_client.job_path(name)}{out['number']}/"
    while True:
        data = _through_restart(client, path + "api/json", clock)
        if data is not None:
            out["url"] = data.get("url") or out["url"]
            out["building"] = bool(data.get("building"))
            if not data.get("building") and data.get("result"):
                out["result"] = data["result"]
                out["duration"] = data.get("duration")
                break
        if clock.expired():
            break
        clock.pause()
    text = client.get_text_or_none(path + "consoleText")
    out["console_tail"] = tail(text or "", lines)
    return out


def _through_restart(client, path, clock):
    """A running build's API object. While the controller refuses connections (it restarts:
    Jenkins 2.568.2 then loads the build that was running as ``ABORTED``, core
    ``hudson/model/Run.java`` ``reload``), it is asked again until the wait's deadline; a
    controller that accepts and does not answer (frozen) ends the wait at once."""
    while True:
        try:
            return client.get_json_or_none(
                path, params={"tree": "number,url,result,building,duration"}
            )
        except chain_jenkins_client.JenkinsUnreachable as err:
            if not err.refused or clock.expired():
                raise
            log.warning("jenkins: %s; asking again until the wait's deadline", err)
            clock.pause()


def builds_tree(limit):
    return (
        f"{PARAM_DEFS_TREE},"
        f"builds[number,url,result,building,actions[parameters[name,value]]]{{0,{limit}}}"
    )


def match_build(name, data, params):
    """The newest build of job ``data`` (finished or running) whose parameters include
    ``params``; password parameters are left out (Jenkins does not export their values)."""
    defs = param_defs(data)
    check_param_names(name, params, defs)
    wanted = {k: v for k, v in params or () if defs.get(k) != PASSWORD_TYPE}
    for bld in data.get("builds") or []:
        if not bld.get("building") and not bld.get("result"):
            continue
        have = {}
        for action in bld.get("actions") or []:
            for param in (action or {}).get("parameters") or []:
                value = param.get("value")
                if isinstance(value, bool):
                    value = "true" if value else "false"
                have[param.get("name")] = "" if value is None else str(value)
        if all(have.get(k) == v for k, v in wanted.items()):
            building = bool(bld.get("building"))
            return {
                "number": bld.get("number"),
                "url": bld.get("url"),
                "building": building,
                "result": None if building else bld.get("result"),
            }
    return None


def run(client, name, params, wait, clock, lines):
    """Trigger, then (``wait``) wait for the queue to start it and for its result. Without
    ``wait`` the queue item is read once and returned at once: ``number`` is None (with
    ``why``) unless the queue already started the build."""
    out = new_result(name, qid=trigger(client, name, params))
    if not wait:
        if wait_queue(client, name, out, Clock(0, 0)):
            out["building"] = True
        return out
    if not wait_queue(client, name, out, clock):
        return out
    return wait_build(client, name, out, clock, lines)


def wait_existing(client, name, number, clock, lines):
    """Wait for build ``number`` (already started) to finish; a wait that begins while the
    controller restarts (it refuses or drops connections) asks again until its deadline."""
    path = f"{chain_jenkins_client.job_path(name)}{number}/api/json"
    if _through_restart(client, path, clock) is None:
        raise chain_jenkins_client.JenkinsNotFound(f"job {name} has no build {number}", 404)
    return wait_build(client, name, new_result(name, number=int(number)), clock, lines)


def info(client, name, number):
    """A build's API object (``number`` a build number or permalink), or None when absent."""
    path = f"{chain_jenkins_client.job_path(name)}{build_ref(number)}/api/json"
    return client.get_json_or_none(path)


def queue_item(client, qid):
    """A queue item's API object, or None when it is unknown (left items expire)."""
    return client.get_json_or_none(f"queue/item/{qid}/api/json")


def last_with(client, name, params, limit):
    """The newest build of ``name`` matching ``params`` among the last ``limit``, or None."""
    path = chain_jenkins_client.job_path(name) + "api/json"
    data = client.get_json_or_none(path, params={"tree": builds_tree(limit)})
    return None if data is None else match_build(name, data, params)


def console(client, name, number, lines):
    """A build's console log, or its last ``lines`` lines."""
    path = f"{chain_jenkins_client.job_path(name)}{build_ref(number)}/consoleText"
    text = client.get_text_or_none(path)
    if text is None:
        raise chain_jenkins_client.JenkinsNotFound(f"job {name} has no build {number}", 404)
    return tail(text, lines)


def artifact_path(name, path, number):
    """The URL path of an artifact (``path`` relative, without ``..``)."""
    if not isinstance(path, str) or not path.strip("/") or ".." in path.split("/"):
        raise BadInput("path must be a relative artifact path")
    rel = "/".join(urllib.parse.quote(p, safe="") for p in path.strip("/").split("/"))
    return f"{chain_jenkins_client.job_path(name)}{build_ref(number)}/artifact/{rel}"


def artifact(client, name, path, number, dest=None):
    """An artifact as text, or written to ``dest`` (``{path, size, sha256}``)."""
    url = artifact_path(name, path, number)
    if dest is not None and (not isinstance(dest, str) or not dest.strip()):
        raise BadInput("dest must be a file path")
    try:
        resp = client.request("GET", url, stream=dest is not None)
    except chain_jenkins_client.JenkinsNotFound as err:
        raise chain_jenkins_client.JenkinsNotFound(
            f"job {name} build {number}: no artifact {path}", 404
        ) from err
    if dest is None:
        return resp.content.decode("utf-8", "replace")
    digest, size, tmp = hashlib.sha256(), 0, f"{dest}.part"
    with open(tmp, "wb") as fh:
        for chunk in resp.iter_content(65536):
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    os.replace(tmp, dest)
    return {"path": dest, "size": size, "sha256": digest.hexdigest()}
