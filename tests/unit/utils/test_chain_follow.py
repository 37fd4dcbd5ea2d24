"""Following a run from its events without a master: which events are the run's, the lines a
person reads, when the run ends and with which exit code, and which build is the run's."""

from saltext.chain.utils import chain_follow

RID = "20261206T120000-3f2a1c"
SHA = "3f2a1c9d0e" + "0" * 30


def stage(name, event):
    return f"chain/run/{RID}/stage/{name}/{event}"


def test_parse():
    assert chain_follow.parse(f"chain/run/{RID}/start") == (RID, None, "start")
    assert chain_follow.parse(stage("image", "done")) == (RID, "image", "done")
    for tag in (f"chain/run/{RID}/stage/image", "chain/rollout/app/done", None, "salt/job/1"):
        assert chain_follow.parse(tag) is None


def feed_all(run, events):
    lines = []
    for now, (tag, data) in enumerate(events):
        lines += run.feed(tag, data, 100.0 + now)
    return lines


def test_a_deploy_run_from_the_queue_line_by_line():
    run = chain_follow.Run()
    events = [
        ("chain/run/other/stage/smoke/done", {"result": True}),  # before the run: ignored
        (
            f"chain/run/{RID}/start",
            {"app": "app", "branch": "main", "commit": SHA, "pusher": "alice", "deploy": True},
        ),
        (stage("infrastructure", "start"), {"at": 1, "deploy": True}),
        ("chain/run/other/stage/pipeline/start", {}),  # another run: ignored
        (stage("infrastructure", "done"), {"result": True, "duration": 0.9, "comment": "ok"}),
        (stage("pipeline", "start"), {"job": "app-pipeline", "ref": SHA}),
    ]
    lines = feed_all(run, events)
    assert run.run_id == RID and run.pipeline == {"job": "app-pipeline", "ref": SHA}
    assert lines == [
        f"run {RID}: app main 3f2a1c9d0e00 pushed by alice (build and deploy)",
        "[   1.0s] infrastructure ...",
        "[   3.0s] infrastructure ok (0.9s): ok",
        "[   4.0s] pipeline ...",
    ]
    assert run.ends_pipeline(stage("pipeline", "done"))
    assert not run.ends_pipeline(stage("image", "done"))
    lines = run.feed(stage("pipeline", "done"), {"result": True, "duration": 12.25}, 115.0)
    assert lines == ["[  14.0s] pipeline ok (12.2s)"] and run.pipeline is None
    for name in ("image", "rollout", "smoke"):
        run.feed(stage(name, "start"), {}, 120.0)
        run.feed(stage(name, "done"), {"result": True, "duration": 1}, 121.0)
    assert run.stages_over == 121.0 and not run.finished
    lines = run.feed(f"chain/run/{RID}/done", {"result": "deployed", "duration": 21.5}, 122)
    assert lines == [f"run {RID}: deployed in 21.5s"]
    assert run.finished and run.code == 0
    assert run.feed(f"chain/run/{RID}/done", {"result": "failed"}, 123) == []  # over


def test_a_failed_stage_ends_the_stages_and_the_run_fails():
    run = chain_follow.Run(RID)
    events = [
        (stage("infrastructure", "start"), {"deploy": False}),
        (stage("infrastructure", "done"), {"result": True}),
        (stage("pipeline", "start"), {}),
        (stage("pipeline", "done"), {"result": False, "duration": 3, "comment": "tests failed"}),
    ]
    lines = feed_all(run, events)
    assert lines[-1] == "[   3.0s] pipeline FAILED (3.0s): tests failed"
    assert run.stages_over == 103.0 and run.last_stage == "pipeline"
    lines = run.feed(f"chain/run/{RID}/done", {"result": "failed"}, 104.0)
    assert lines == [f"run {RID}: failed in 4.0s (pipeline: tests failed)"] and run.code == 1


def test_a_run_without_the_queue_ends_with_its_stages():
    run = chain_follow.Run(RID)
    feed_all(
        run,
        [
            (stage("infrastructure", "start"), {"deploy": False}),
            (stage("infrastructure", "done"), {"result": True}),
            (stage("pipeline", "start"), {}),
            (stage("pipeline", "done"), {"result": True}),
        ],
    )
    assert run.stages_over == 103.0  # pipeline is the last stage of a build-only run
    assert run.end_without_done(110.0) == [f"run {RID}: stages done in 10.0s"]
    assert run.code == 0
    run = chain_follow.Run(RID)
    feed_all(run, [(stage("image", "start"), {}), (stage("image", "done"), {"result": False})])
    assert run.end_without_done(105.0) == [f"run {RID}: failed in 5.0s (image: )"]
    assert run.code == 1


def test_the_runs_build():
    job = {
        "builds": [
            {"number": 7, "building": True, "timestamp": 50_000, "actions": [{}]},
            {
                "number": 6,
                "result": "SUCCESS",
                "timestamp": 10_000,
                "actions": [{"parameters": [{"name": "REF", "value": SHA}]}, None],
            },
        ]
    }
    builds = chain_follow.builds_of(job)
    assert builds[1] == {
        "number": 6,
        "building": False,
        "result": "SUCCESS",
        "timestamp": 10_000,
        "parameters": {"REF": SHA},
    }
    assert chain_follow.build_for(builds, SHA, 40)["number"] == 6
    assert chain_follow.build_for(builds, "f" * 40, 40) is None  # a commit is never guessed
    assert chain_follow.build_for(builds, "main", 40)["number"] == 7  # started since
    assert chain_follow.build_for(builds, "main", 60) is None
    assert chain_follow.builds_of(None) == []


def test_console_lines():
    assert chain_follow.console_lines("a\n\nb\n") == ["    | a", "    | ", "    | b"]
    assert chain_follow.console_lines("") == []
