"""Persistence under ``--home``: atomic writes and a Jenkins-like directory layout.

Layout (mirrors ``$JENKINS_HOME`` where it can)::

    HOME/secrets/jenkins.slaves.JnlpSlaveAgentProtocol.secret   HMAC key for agent secrets
    HOME/secrets/emulator.key                                   crumb salt / instance key
    HOME/nodes/NAME/config.xml                                  agents
    HOME/jobs/NAME/config.xml                                   jobs (folders: jobs/a/jobs/b/)
    HOME/jobs/NAME/nextBuildNumber
    HOME/jobs/NAME/builds/N/build.json, log, archive/           builds
    HOME/queue.json                                             queue items and the id counter
"""

import json
import os
import secrets
import tempfile


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically (temp file + rename)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True))


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def read_text(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return default


def secret_key(home, name, nbytes=32):
    """Return a random key stored in ``HOME/secrets/NAME``, created on first use."""
    path = os.path.join(home, "secrets", name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data:
            return data
    except OSError:
        pass
    data = secrets.token_bytes(nbytes)
    atomic_write(path, data)
    os.chmod(path, 0o600)
    return data


def job_dir(home, full_name):
    """``a/b`` -> ``HOME/jobs/a/jobs/b`` (the Jenkins folder layout)."""
    parts = [p for p in full_name.split("/") if p]
    path = home
    for part in parts:
        path = os.path.join(path, "jobs", part)
    return path


def node_dir(home, name):
    return os.path.join(home, "nodes", name)
