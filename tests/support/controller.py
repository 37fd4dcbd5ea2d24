"""The Jenkins emulator as a test controller: what it persisted and which requests reached it."""

import hashlib
import json
import os

from saltext.chain.emulator import testing

# cloudbees-folder: a folder is an item type of that plugin; without it Jenkins (2.568.2, and the
# emulator) refuses to load <com.cloudbees.hudson.plugins.folder.Folder> (500).
PLUGINS = (
    "git:5.7.0",
    "workflow-job:1505.vea_4b_20a_4a_495",
    "credentials:1405.vb_cda_74a_f8974",
    "cloudbees-folder:6.999.v42253c105443",
)


def home_snapshot(home):
    """Digest of every file the emulator persists (its JENKINS_HOME-like state)."""
    out = {}
    for root, _dirs, files in os.walk(home):
        for name in files:
            if name.endswith(".log") or name.startswith(".tmp-"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, home)
            with open(path, "rb") as fh:
                data = fh.read()
            if f"{os.sep}builds{os.sep}" in rel or name == "nextBuildNumber":
                # earlier tests' builds finish in the background; a new one shows in the queue
                continue
            if rel == "queue.json":
                # Items progress and expire in the background (other tests' builds); what a
                # trigger changes is the id counter: one more queue item.
                out[rel] = json.loads(data or b"{}").get("counter")
            else:
                out[rel] = hashlib.sha256(data).hexdigest()
    return out


class RequestLog:
    """Requests the emulator logged (and files it changed) inside a ``with`` block.

    Unlike the ``unchanged_home`` guard it asserts nothing itself: ``writes()`` and ``changed()``
    are for the caller to judge (the contract suite expects writes on a live apply).
    """

    def __init__(self, home):
        self.home = home
        self.requests = []

    def __enter__(self):
        self.before = home_snapshot(self.home)
        self.seen = len(testing.request_log(self.home))
        return self

    def __exit__(self, *exc):
        self.after = home_snapshot(self.home)
        self.requests = testing.request_log(self.home)[self.seen :]
        return False

    def writes(self):
        return [f"{r['method']} {r['path']}" for r in self.requests if r["method"] != "GET"]

    def changed(self):
        keys = set(self.before) | set(self.after)
        return sorted(k for k in keys if self.before.get(k) != self.after.get(k))
