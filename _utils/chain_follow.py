"""
Following one run of the chain from its events (``scripts/chain.py follow``), apart from the
I/O: which events belong to the run, the lines a person reads (each stage as it starts and
ends, with the time since the run began), when the run is over and its exit code, and which
build of the pipeline's job is the run's (for its console).

The events (docs/chain.md): ``chain/run/<id>/start`` (the queue: app, branch, commit, deploy),
``chain/run/<id>/stage/<stage>/start`` ``{at, app, ref, deploy, ...}`` and ``.../done`` ``{at,
duration, result, comment}`` (the orchestrate's ``chain.stage`` markers), ``chain/run/<id>/done``
``{result: deployed | built | failed | nothing to do, duration, failure?}`` (the queue). Pure;
no Salt dunders.
"""

import re

PREFIX = "chain/run/"
SHA = re.compile(r"^[0-9a-f]{40}$")
#: A run's results that end it well (``chain/run/<id>/done``).
GOOD = ("deployed", "built", "nothing to do")
DEPLOY_STAGES = ("infrastructure", "pipeline", "image", "rollout", "smoke")
BUILD_STAGES = ("infrastructure", "pipeline")


def parse(tag):
    """``(run_id, stage, event)`` of a run's event tag (``stage`` ``None`` for the run's own
    ``start``/``done``), or ``None`` for any other tag."""
    if not isinstance(tag, str) or not tag.startswith(PREFIX):
        return None
    parts = tag[len(PREFIX) :].split("/")
    if len(parts) == 2 and parts[1] in ("start", "done"):
        return parts[0], None, parts[1]
    if len(parts) == 4 and parts[1] == "stage" and parts[3] in ("start", "done"):
        return parts[0], parts[2], parts[3]
    return None


class Run:
    """One run as its events arrive: :meth:`feed` each event (with the time it was received),
    print the lines it returns. ``run_id`` ``None``: the next run that starts (its
    ``chain/run/<id>/start``, or the first stage of a run seen)."""

    def __init__(self, run_id=None):
        self.run_id = run_id
        self.began = None  # when the run began (the first event's time)
        self.last_stage = None  # the run's last stage (smoke, or pipeline when not deploying)
        self.failed = None  # "<stage>: <comment>" of the first failed stage
        self.stages = []  # [(stage, result, duration)] in order
        self.stages_over = None  # when the last stage ended or a stage failed
        self.finished = False
        self.code = None
        self.pipeline = None  # the pipeline stage's start data while it runs

    def _stamp(self, now):
        return f"[{now - self.began:6.1f}s]"

    def _lines_start(self, data, now):
        deploy = data.get("deploy", True)
        self.last_stage = (DEPLOY_STAGES if deploy is not False else BUILD_STAGES)[-1]
        commit = str(data.get("commit") or "")[:12]
        who = f" pushed by {data['pusher']}" if data.get("pusher") else ""
        branch = f" {data['branch']}" if data.get("branch") else ""
        what = "build and deploy" if deploy is not False else "build and test only"
        return [f"run {self.run_id}: {data.get('app', '?')}{branch} {commit}{who} ({what})"]

    def _lines_stage(self, stage, event, data, now):
        if event == "start":
            if self.last_stage is None:
                deploy = data.get("deploy", True)
                self.last_stage = (DEPLOY_STAGES if deploy is not False else BUILD_STAGES)[-1]
            if stage == "pipeline":
                self.pipeline = dict(data)
            return [f"{self._stamp(now)} {stage} ..."]
        result = data.get("result") is not False
        duration = data.get("duration")
        self.stages.append((stage, result, duration))
        if stage == "pipeline":
            self.pipeline = None
        took = f" ({duration:.1f}s)" if isinstance(duration, (int, float)) else ""
        comment = data.get("comment") or ""
        if not result and self.failed is None:
            self.failed = f"{stage}: {comment}"
        if not result or stage == self.last_stage:
            self.stages_over = now
        word = "ok" if result else "FAILED"
        return [f"{self._stamp(now)} {stage} {word}{took}" + (f": {comment}" if comment else "")]

    def _lines_done(self, data, now):
        result = data.get("result")
        self.finished = True
        self.code = 0 if result in GOOD else 1
        duration = data.get("duration")
        took = duration if isinstance(duration, (int, float)) else now - self.began
        line = f"run {self.run_id}: {result or 'unknown'} in {took:.1f}s"
        why = data.get("failure") or (self.failed if self.code else None)
        return [line + (f" ({str(why).splitlines()[0][:300]})" if why else "")]

    def feed(self, tag, data, now):
        """The lines an event adds (``[]``: not this run's)."""
        parsed = parse(tag)
        if parsed is None or self.finished:
            return []
        run_id, stage, event = parsed
        if self.run_id is None and event == "start":
            self.run_id = run_id
        if run_id != self.run_id:
            return []
        data = data if isinstance(data, dict) else {}
        if self.began is None:
            self.began = now
        if stage is not None:
            return self._lines_stage(stage, event, data, now)
        if event == "start":
            return self._lines_start(data, now)
        return self._lines_done(data, now)

    def ends_pipeline(self, tag):
        """Whether ``tag`` ends this run's pipeline stage."""
        return parse(tag) == (self.run_id, "pipeline", "done")

    def end_without_done(self, now):
        """The run's stages are over and no ``chain/run/<id>/done`` came (an orchestrate run
        by hand): end with the stages' result."""
        self.finished = True
        self.code = 1 if self.failed or not self.stages else 0
        result = "failed" if self.code else "stages done"
        why = f" ({self.failed})" if self.failed else ""
        return [f"run {self.run_id}: {result} in {now - self.began:.1f}s{why}"]


def build_for(builds, ref, since):
    """The run's build among a job's builds (``[{number, building, result, timestamp (ms),
    parameters: {name: value}}]``, any order): the newest whose ``REF`` parameter is ``ref``;
    when ``ref`` is not a full commit id (a branch given by hand: the pipeline resolved it),
    the newest build started since ``since`` (unix time). ``None`` when there is none yet."""
    newest = sorted(builds, key=lambda b: b.get("number") or 0, reverse=True)
    for build in newest:
        if (build.get("parameters") or {}).get("REF") == ref:
            return build
    if ref and SHA.match(ref):
        return None
    for build in newest:
        if (build.get("timestamp") or 0) / 1000 >= since - 1:
            return build
    return None


def builds_of(job_data):
    """``[{number, building, result, timestamp, parameters}]`` of a job's API answer (tree
    ``builds[number,building,result,timestamp,actions[parameters[name,value]]]``)."""
    out = []
    for build in (job_data or {}).get("builds") or []:
        params = {}
        for action in build.get("actions") or []:
            for param in (action or {}).get("parameters") or []:
                params[param.get("name")] = param.get("value")
        out.append(
            {
                "number": build.get("number"),
                "building": bool(build.get("building")),
                "result": build.get("result"),
                "timestamp": build.get("timestamp") or 0,
                "parameters": params,
            }
        )
    return out


def console_lines(text, prefix="    | "):
    """A chunk of a build's console, each line prefixed (blank lines kept, the last newline
    dropped)."""
    if not text:
        return []
    return [prefix + line for line in text.rstrip("\n").split("\n")]
