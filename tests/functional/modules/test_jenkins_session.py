"""Session behaviour: crumbs (password auth), stale-crumb refresh, the test-mode guard itself."""

import pytest

from _modules import jenkins as jm
from saltext.chain.emulator import testing


@pytest.fixture(scope="module")
def password_emulator(tmp_path_factory):
    home = tmp_path_factory.mktemp("jenkins-pw")
    with testing.running_emulator(home, extra_args=["--admin-password", "pw-s3cret"]) as (
        url,
        user,
        _token,
    ):
        yield {"url": url, "user": user, "token": "pw-s3cret", "timeout": 10}


def _client(conf):
    return jm._Client(dict(conf, name="test", verify=True))


def test_password_auth_posts_with_a_crumb_and_refreshes_a_stale_one(password_emulator):
    client = _client(password_emulator)
    client.request(
        "POST",
        "createItem?name=crumbjob",
        data=b"<project/>",
        headers={"Content-Type": "application/xml"},
    )
    assert client.crumb and client.crumb["crumb"]
    # a controller restart invalidates crumbs: the first POST gets 403 "No valid crumb",
    # then one retry
    client.crumb = {"crumbRequestField": client.crumb["crumbRequestField"], "crumb": "stale"}
    client.request("POST", "job/crumbjob/disable")
    assert client.crumb["crumb"] != "stale"
    assert client.get_json("job/crumbjob/api/json")["buildable"] is False


def test_errors_carry_jenkins_message(password_emulator):
    client = _client(password_emulator)
    client.request(
        "POST",
        "createItem?name=dup",
        data=b"<project/>",
        headers={"Content-Type": "application/xml"},
    )
    with pytest.raises(jm.JenkinsError, match="already exists") as err:
        client.request(
            "POST",
            "createItem?name=dup",
            data=b"<project/>",
            headers={"Content-Type": "application/xml"},
        )
    assert err.value.status == 400
    client.request("POST", "job/dup/disable")
    with pytest.raises(jm.JenkinsError, match=r"409.*dup is not buildable$"):
        client.request("POST", "job/dup/build")


def test_home_guard_detects_a_write(modules, uid, unchanged_home):
    """The guard used for test mode is not vacuous: a real write trips it."""
    with pytest.raises(AssertionError, match="state changed"):
        with unchanged_home():
            modules.jenkins.job_create(f"guard-{uid}", config_xml="<project/>")
    modules.jenkins.job_delete(f"guard-{uid}")


def test_home_guard_detects_a_queued_build(modules, uid, unchanged_home):
    name = f"guardq-{uid}"
    modules.jenkins.job_create(
        name, config_xml=f"<project><assignedNode>none-{uid}</assignedNode></project>"
    )
    with pytest.raises(AssertionError, match="queue.json"):
        with unchanged_home():
            modules.jenkins.build_job(name)


def test_request_log_guard_sees_a_post_that_changes_nothing(emulator, unchanged_home):
    """A POST that leaves no trace on disk (cancelQuietDown while not quieting) is still caught."""
    import requests

    with pytest.raises(AssertionError, match="requests that write reached the controller"):
        with unchanged_home():
            resp = requests.post(
                emulator["url"] + "cancelQuietDown",
                auth=(emulator["user"], emulator["token"]),
                timeout=10,
                allow_redirects=False,
            )
            assert resp.status_code < 400
