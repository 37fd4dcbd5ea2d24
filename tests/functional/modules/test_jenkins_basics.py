"""jenkins execution module: controller, profiles, errors (against the emulator)."""

import time

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from saltext.chain.emulator import testing


def test_version_info_whoami(modules, emulator):
    ver = modules.jenkins.version()
    assert ver and ver[0].isdigit()
    assert modules.jenkins.get_version() == ver
    assert modules.jenkins.info()["_class"] == "hudson.model.Hudson"
    assert modules.jenkins.whoami()["id"] == emulator["user"]


def test_inline_profile_dict(modules, profile):
    assert modules.jenkins.whoami(profile=profile)["id"] == profile["user"]
    assert modules.jenkins.whoami(profile={"name": "emu", "timeout": 3})["id"] == profile["user"]


def test_unknown_profile_is_an_invocation_error(modules):
    with pytest.raises(SaltInvocationError, match="unknown jenkins profile 'nope'"):
        modules.jenkins.job_exists("x", profile="nope")


def test_wrong_token_is_a_clear_auth_error_never_absent(modules, profile):
    bad = dict(profile, token="wrong-token-value")
    for call in (
        lambda: modules.jenkins.version(profile=bad),
        lambda: modules.jenkins.job_exists("anything", profile=bad),
        lambda: modules.jenkins.node_exists("anything", profile=bad),
        lambda: modules.jenkins.node_info("anything", profile=bad),
        lambda: modules.jenkins.job_info("anything", profile=bad),
    ):
        with pytest.raises(CommandExecutionError) as err:
            call()
        assert "rejected the credentials" in str(err.value)
        assert "wrong-token-value" not in str(err.value)


def test_anonymous_is_denied_clearly(modules, profile):
    anon = {"url": profile["url"], "timeout": 5}
    with pytest.raises(CommandExecutionError, match="anonymous"):
        modules.jenkins.job_exists("anything", profile=anon)


def test_controller_down_fails_within_the_timeout(modules):
    port = testing.free_port()
    start = time.monotonic()
    with pytest.raises(CommandExecutionError, match="cannot reach Jenkins"):
        modules.jenkins.version(
            profile={"url": f"http://127.0.0.1:{port}/", "user": "a", "token": "b", "timeout": 2}
        )
    assert time.monotonic() - start < 5


def test_silent_controller_times_out(modules):
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(CommandExecutionError, match="did not answer within 1s"):
            modules.jenkins.version(
                profile={
                    "url": f"http://127.0.0.1:{port}/",
                    "user": "a",
                    "token": "b",
                    "timeout": 1,
                }
            )
        assert time.monotonic() - start < 4


def test_script(modules):
    out = modules.jenkins.script('println("hello from groovy")')
    assert "hello from groovy" in out
    assert "hello again" in modules.jenkins.run('println("hello again")')


def test_plugins(modules):
    plugins = modules.jenkins.plugins()
    assert plugins["git"]["version"] == "5.7.0"
    assert plugins["git"]["active"] is True
    assert modules.jenkins.plugin_installed("git") is True
    assert modules.jenkins.plugin_installed("no-such-plugin") is False


@pytest.mark.parametrize(
    "call",
    [
        lambda m, p: m.jenkins.job_create(
            "j", config_xml="<project><description></project>", profile=p
        ),
        lambda m, p: m.jenkins.job_update("j", config_xml="<project", profile=p),
        lambda m, p: m.jenkins.job_create("j", jjb="- job:\n    name: [broken\n", profile=p),
        lambda m, p: m.jenkins.job_compare("j", jjb="- job: {name: x\n", profile=p),
        lambda m, p: m.jenkins.create_job("j", config_xml="<project>", profile=p),
        lambda m, p: m.jenkins.node_create("n", config_xml="<slave><name>x</slave>", profile=p),
        lambda m, p: m.jenkins.node_create("n", num_executors=-1, profile=p),
        lambda m, p: m.jenkins.node_reconfigure("n", labels=["two words"], profile=p),
        lambda m, p: m.jenkins.node_create("bad/name", profile=p),
        lambda m, p: m.jenkins.build("j", parameters=["nope"], profile=p),
    ],
)
def test_bad_input_fails_before_any_request(modules, call):
    """The profile points at a closed port: an attempted request would be 'cannot reach'."""
    dead = {
        "url": f"http://127.0.0.1:{testing.free_port()}/",
        "user": "a",
        "token": "b",
        "timeout": 2,
    }
    with pytest.raises(SaltInvocationError):
        call(modules, dead)
