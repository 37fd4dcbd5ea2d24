"""The browser test's pushes and runs, written into the master's push queue through the queue's
own functions (``enqueue``, ``claim``, ``record_stage``, ``finish``)."""

import importlib
import importlib.util
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
STAGES = ["infrastructure", "pipeline", "image", "rollout", "smoke"]


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


def writer(path):
    return RealQueue(path)
