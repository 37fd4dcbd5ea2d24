"""The browser test's pushes and runs, written into the master's push queue: through the queue's
own functions (``enqueue``, ``claim``, ``record_stage``, ``finish``) once
``saltext.chain.utils.chain_push_queue`` is installed, else into the stand-in
(``queue_stub/chain_push_queue.py``) that the test master then loads."""

import importlib
import importlib.util
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
STAGES = ["infrastructure", "pipeline", "image", "rollout", "smoke"]
REAL = importlib.util.find_spec("saltext.chain.utils.chain_push_queue") is not None


def _record(delivery, pusher, commit, message, at):
    return {
        "delivery": f"{delivery:032x}",
        "vcs": "git",
        "repo": "app",
        "app": "app",
        "branch": "main",
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": commit * 40,
        "deploy": True,
        "pusher": pusher,
        "via": "http",
        "message": message,
        "author": pusher,
        "pushed_at": at,
    }


class RealQueue:
    """Runs made the way the push queue's worker makes them."""

    def __init__(self, path):
        self.path = path
        self.queue = importlib.import_module("saltext.chain.utils.chain_push_queue")

    def run(self, pushes, at, stages, end=None, **finish):
        """Enqueue ``pushes`` (``[(delivery, pusher, commit, message)]``), claim the run, record
        ``stages`` (``[(name, seconds, result)]``; ``result`` None: still running) and, with
        ``end``, finish it. Returns the run's id."""
        for i, (delivery, pusher, commit, message) in enumerate(pushes):
            self.queue.enqueue(self.path, _record(delivery, pusher, commit, message, at + i), at)
        run = self.queue.claim(self.path, "app", now=at)
        clock = at
        for name, took, result in stages:
            self.queue.record_stage(self.path, run["run_id"], name, "start", clock)
            clock += took
            if result is not None:
                self.queue.record_stage(self.path, run["run_id"], name, "done", clock, result)
        if end:
            self.queue.finish(self.path, run["run_id"], end, **finish)
        return run["run_id"]


class StubQueue:
    """The same runs, written as the stand-in's documents."""

    def __init__(self, path):
        self.path = path
        sys.path.insert(0, str(HERE / "queue_stub"))
        try:
            self.stub = importlib.import_module("chain_push_queue")
        finally:
            sys.path.remove(str(HERE / "queue_stub"))
        self.ids = 0

    def run(self, pushes, at, stages, end=None, **finish):
        rid = time.strftime("%Y%m%dT%H%M%S", time.gmtime(at)) + f"-{self.ids:06x}"
        ids = []
        for i, (delivery, pusher, commit, message) in enumerate(pushes):
            self.ids += 1
            ids.append(self.ids)
            newest = i == len(pushes) - 1
            self.stub.put(
                self.path,
                "push",
                {
                    "id": self.ids,
                    "delivery": f"{delivery:032x}",
                    "repo": "app",
                    "vcs": "git",
                    "app": "app",
                    "branch": "main",
                    "commit": commit * 40,
                    "pusher": pusher,
                    "via": "http",
                    "message": message,
                    "received_at": at + i,
                    "state": (end or "running") if newest else "superseded",
                    "run_id": rid if newest else None,
                    "superseded_by": None if newest else self.ids + len(pushes) - 1 - i,
                },
            )
        clock, done = at, []
        for name, took, result in stages:
            done.append(
                {
                    "name": name,
                    "started": clock,
                    "ended": clock + took if result is not None else None,
                    "result": result,
                    "comment": None,
                }
            )
            clock += took
        self.stub.put(
            self.path,
            "run",
            {
                "run_id": rid,
                "app": "app",
                "repo": "app",
                "branch": "main",
                "commit": pushes[-1][2] * 40,
                "deploy": True,
                "state": end or "running",
                "started": at,
                "ended": clock if end else None,
                "stages": done,
                "failure": finish.get("failure"),
                "console_tail": finish.get("console_tail"),
                "tests": finish.get("tests"),
                "coverage": finish.get("coverage"),
                "pushes": ids[-1:],
                "superseded": ids[:-1],
            },
        )
        return rid


def writer(path):
    return RealQueue(path) if REAL else StubQueue(path)
