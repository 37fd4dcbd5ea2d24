"""chain_jenkins_builds: matching a build by its parameters, and triggering, on the answers of
real controllers (the fake transport reproduces 2.479.3 and 2.568.2; see jenkins_transport)."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_jenkins_builds as B
from saltext.chain.utils import chain_jenkins_client as C

from tests.unit.utils import jenkins_transport as T

JOB = {
    "_class": "hudson.model.FreeStyleProject",
    "property": [
        {
            "_class": "hudson.model.ParametersDefinitionProperty",
            "parameterDefinitions": [
                {
                    "_class": "hudson.model.StringParameterDefinition",
                    "name": "REVISION",
                    "type": "StringParameterDefinition",
                },
                {
                    "_class": "hudson.model.PasswordParameterDefinition",
                    "name": "DEPLOY_PW",
                    "type": "PasswordParameterDefinition",
                },
            ],
        }
    ],
    "builds": [
        {
            "number": 3,
            "url": "u/3/",
            "building": True,
            "result": None,
            "actions": [
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {
                            "_class": "hudson.model.StringParameterValue",
                            "name": "REVISION",
                            "value": "def",
                        },
                        # real Jenkins does not export a password parameter's value
                        {"_class": "hudson.model.PasswordParameterValue", "name": "DEPLOY_PW"},
                    ],
                }
            ],
        },
        {
            "number": 2,
            "url": "u/2/",
            "building": False,
            "result": "SUCCESS",
            "actions": [
                {"_class": "hudson.model.CauseAction"},
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {
                            "_class": "hudson.model.StringParameterValue",
                            "name": "REVISION",
                            "value": "abc",
                        },
                        {"_class": "hudson.model.PasswordParameterValue", "name": "DEPLOY_PW"},
                    ],
                },
            ],
        },
    ],
}
# An unparameterised freestyle job as api/json exports it (other job properties have no
# parameterDefinitions).
PLAIN = {
    "_class": "hudson.model.FreeStyleProject",
    "buildable": True,
    "property": [{"_class": "jenkins.model.BuildDiscarderProperty"}],
}


def test_password_parameters_are_left_out_of_matching():
    got = B.match_build("app", JOB, [("REVISION", "abc"), ("DEPLOY_PW", "hunter2")])
    assert got == {"number": 2, "result": "SUCCESS", "url": "u/2/", "building": False}


def test_the_newest_matching_build_is_returned_even_while_running():
    got = B.match_build("app", JOB, [("REVISION", "def")])
    assert got == {"number": 3, "result": None, "url": "u/3/", "building": True}
    assert B.match_build("app", JOB, [])["number"] == 3
    assert B.match_build("app", JOB, [("REVISION", "zzz")]) is None


def test_undefined_parameters_are_refused_before_any_write():
    transport = T.Transport({("GET", "job/app/api/json"): T.answer(json=JOB)})
    client = T.client(transport)
    with pytest.raises(SaltInvocationError, match="REVISON"):
        B.last_with(client, "app", [("REVISON", "abc")], 50)
    with pytest.raises(SaltInvocationError, match="REVISON.*defines: DEPLOY_PW, REVISION"):
        B.trigger(client, "app", [("REVISON", "abc")])
    assert transport.writes() == []


def test_bad_build_parameters_never_echo_values():
    for bad in (
        [["PASSWORD", "hunter2", "extra"]],
        [{"PASSWORD": "hunter2", "B": "x"}],
        {"PASSWORD": ["hunter2"]},
    ):
        with pytest.raises(SaltInvocationError) as err:
            B.build_params(bad)
        assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    "value,arg",
    [
        (("x", 1), "timeout"),
        ((5, "soon"), "poll_interval"),
        ((-1, 1), "timeout"),
    ],
)
def test_timing_names_the_argument(value, arg):
    with pytest.raises(SaltInvocationError, match=f"^{arg}: "):
        B.timing(*value)


def test_tail_lines_and_build_refs():
    assert B.tail_lines(None) is None and B.tail_lines("3") == 3
    with pytest.raises(SaltInvocationError, match="^tail: "):
        B.tail_lines("x")
    assert B.tail("a\nb\nc\n", 2) == "b\nc" and B.tail("a\n", 0) == ""
    assert B.build_ref("lastBuild") == "lastBuild" and B.build_ref(7) == "7"
    for bad in (0, "-1", "latest", True):
        with pytest.raises(SaltInvocationError, match="^number: "):
            B.build_ref(bad)


# ---- the paths a real controller takes -------------------------------------------------------


def test_an_unparameterised_job_is_built_with_build_never_build_with_parameters():
    """buildWithParameters on it is a 500 IllegalStateException in 2.479.3
    (ParameterizedJobMixIn.doBuildWithParameters) and a 400 in 2.568.2: never sent."""
    transport = T.Transport(
        {
            ("GET", "job/plain/api/json"): T.answer(json=PLAIN),
            # ParameterizedJobMixIn.doBuild (both tags): 201 + Location of the queue item
            ("POST", "job/plain/build"): T.answer(
                201, headers={"Location": T.URL + "queue/item/12/"}
            ),
            ("POST", "job/plain/buildWithParameters"): T.answer(500, *reversed(T.oops())),
        }
    )
    client = T.client(transport)
    assert B.trigger(client, "plain", None) == 12
    assert transport.writes() == [("POST", "job/plain/build")]
    with pytest.raises(SaltInvocationError, match="has no parameters"):
        B.trigger(client, "plain", [("REVISION", "abc")])
    assert transport.writes() == [("POST", "job/plain/build")]


def test_an_identical_queued_item_is_followed_303():
    """ParametersDefinitionProperty.buildWithParameters: 303 to the existing item when
    ScheduleResult is not created (both tags)."""
    transport = T.Transport(
        {
            ("GET", "job/app/api/json"): T.answer(json=JOB),
            ("POST", "job/app/buildWithParameters"): T.answer(
                303, headers={"Location": T.URL + "queue/item/41/"}
            ),
        }
    )
    assert B.trigger(T.client(transport), "app", [("REVISION", "abc")]) == 41


def test_a_build_the_queue_refuses_is_an_error_not_a_success():
    """doBuild answers rsp.sendRedirect(".") (302 to the job) when schedule2 gives no item."""
    transport = T.Transport(
        {
            ("GET", "job/plain/api/json"): T.answer(json=PLAIN),
            ("POST", "job/plain/build"): T.answer(302, headers={"Location": T.URL + "job/plain/"}),
        }
    )
    with pytest.raises(CommandExecutionError, match="did not queue the build .HTTP 302"):
        B.trigger(T.client(transport), "plain", None)


@pytest.mark.parametrize(
    "release,reply",
    [
        # 2.479.3 ParameterizedJobMixIn.doBuild:
        # HttpResponses.error(SC_CONFLICT, new IOException(...)), a printed stack trace
        ("2.479.3", T.stack_trace("java.io.IOException", "plain is not buildable")),
        # 2.568.2: HttpResponses.errorWithoutStack(SC_CONFLICT, "... is not buildable")
        ("2.568.2", T.jetty_error(409, "plain is not buildable")),
    ],
)
def test_a_disabled_job_is_a_conflict_with_jenkins_words_on_both_releases(release, reply):
    headers, body = reply
    transport = T.Transport(
        {
            ("GET", "job/plain/api/json"): T.answer(json=PLAIN),
            ("POST", "job/plain/build"): T.answer(409, body, headers),
        }
    )
    with pytest.raises(C.JenkinsConflict) as err:
        B.trigger(T.client(transport), "plain", None)
    assert str(err.value) == "Jenkins answered 409 to POST job/plain/build: plain is not buildable"
    assert "\tat " not in str(err.value)


@pytest.mark.parametrize(
    "release,status,reply,words",
    [
        ("2.479.3", 500, T.oops(), "A problem occurred while processing the request (Logging ID="),
        (
            "2.568.2",
            400,
            T.jetty_error(400, "plain is not parameterized"),
            "plain is not parameterized",
        ),
    ],
)
def test_build_with_parameters_refusals_read_on_both_releases(release, status, reply, words):
    headers, body = reply
    transport = T.Transport(
        {("POST", "job/plain/buildWithParameters"): T.answer(status, body, headers)}
    )
    with pytest.raises(C.JenkinsError, match=f"^Jenkins answered {status} to POST") as err:
        T.client(transport).request("POST", "job/plain/buildWithParameters")
    assert words in str(err.value) and "Oops" not in str(err.value)


class _Restarting:
    """A client whose controller refuses ``refusals`` connections (it restarts), then answers
    with a build ``ABORTED`` (as Jenkins loads a build that ran when it stopped)."""

    def __init__(self, refusals, refused=True):
        self.refusals, self.refused, self.asked = refusals, refused, 0

    def get_json_or_none(self, path, params=None):
        self.asked += 1
        if self.asked <= self.refusals:
            err = C.JenkinsUnreachable("cannot reach Jenkins at x")
            err.refused = self.refused
            raise err
        return {"number": 7, "building": False, "result": "ABORTED", "duration": 5}

    def get_text_or_none(self, path):
        return "Started\n"


def test_a_build_waited_for_through_a_controller_restart_reads_its_result():
    client = _Restarting(3)
    out = B.wait_build(client, "j", B.new_result("j", number=7), B.Clock(30, 0.01), None)
    assert out["result"] == "ABORTED" and client.asked == 4


def test_a_frozen_controller_or_the_deadline_ends_the_wait_at_once():
    client = _Restarting(3, refused=False)  # accepted, no answer in time: frozen
    with pytest.raises(C.JenkinsUnreachable):
        B.wait_build(client, "j", B.new_result("j", number=7), B.Clock(30, 0.01), None)
    assert client.asked == 1
    client = _Restarting(1000)
    with pytest.raises(C.JenkinsUnreachable):
        B.wait_build(client, "j", B.new_result("j", number=7), B.Clock(0.2, 0.01), None)


def test_a_wait_that_begins_while_the_controller_restarts_rides_it_out():
    """``jenkins.build_wait`` asked while the controller is down (a restart in its container:
    docker-proxy drops the connection) waits for it instead of failing at its first read."""
    client = _Restarting(3)
    out = B.wait_existing(client, "j", 7, B.Clock(30, 0.01), None)
    assert out["result"] == "ABORTED" and client.asked == 5
    client = _Restarting(3, refused=False)  # frozen: ends at once
    with pytest.raises(C.JenkinsUnreachable):
        B.wait_existing(client, "j", 7, B.Clock(30, 0.01), None)
    assert client.asked == 1
