"""chain_jenkins_overview: the builds of a job's API object and the status lines (pure)."""

from saltext.chain.utils import chain_jenkins_overview as overview

JOB = {
    "builds": [
        {
            "number": 7,
            "building": True,
            "result": None,
            "duration": 0,
            "timestamp": 1_700_000_000_123,
            "actions": [{}, {"parameters": [{"name": "REF", "value": "abc"}]}],
            "builtOn": "linux-1",
        },
        {
            "number": 6,
            "building": False,
            "result": "FAILURE",
            "duration": 2345,
            "timestamp": 1_699_999_000_000,
            "actions": [{"parameters": [{"name": "GIT_URL", "value": "git://x"}]}],
        },
    ]
}


def test_builds_newest_first_with_ref_and_agent():
    assert overview.builds(JOB) == [
        {
            "number": 7,
            "result": "BUILDING",
            "duration": 0.0,
            "timestamp": 1_700_000_000,
            "ref": "abc",
            "agent": "linux-1",
        },
        {
            "number": 6,
            "result": "FAILURE",
            "duration": 2.3,
            "timestamp": 1_699_999_000,
            "ref": None,
            "agent": None,
        },
    ]


def test_lines_name_agents_queue_and_builds():
    found = {
        "url": "http://127.0.0.1:8090/",
        "agents": {
            "linux-b": {"offline": True, "idle": True, "labels": ["linux"]},
            "linux-a": {"offline": False, "idle": False, "labels": ["docker", "linux"]},
        },
        "queue": [{"job": "app-pipeline", "why": "Waiting for next available executor"}],
        "builds": overview.builds(JOB),
    }
    out = overview.lines(found, job="app-pipeline")
    assert out[0] == "  jenkins http://127.0.0.1:8090/: 1 of 2 agent(s) online"
    assert out[1].split() == ["agent", "linux-a", "busy", "docker", "linux"]
    assert out[2].split() == ["agent", "linux-b", "offline", "linux"]
    assert out[3] == "    queue: 1 item(s)"
    assert "app-pipeline: Waiting for next available executor" in out[4]
    assert out[5] == "    job app-pipeline: the last 2 build(s) (builds=N shows more)"
    assert out[6].split() == ["#7", "BUILDING", "0.0s", "REF=abc"]
    assert out[7].split() == ["#6", "FAILURE", "2.3s", "REF=-"]


def test_lines_of_an_unreadable_controller_or_missing_job():
    assert overview.lines({"url": "u", "error": "cannot reach"}) == ["  jenkins u: cannot reach"]
    found = {"url": "u", "agents": {}, "queue": [], "builds": None}
    assert overview.lines(found, job="j")[-1] == "    job j: not on the controller"
