"""container execution module: every argument checked before any request to the engine.

Proven against a profile whose engine does not exist: a bad argument gives a
``SaltInvocationError`` naming it; a good one reaches for the engine and fails to connect."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

pytestmark = pytest.mark.docker

UNREACHABLE = {"base_url": "unix:///nonexistent.sock", "timeout": 2}


@pytest.mark.parametrize(
    "func, args, kwargs, argument",
    [
        ("wait_healthy", ["web"], {"timeout": "x"}, "timeout"),
        ("wait_healthy", ["web"], {"interval": "soon"}, "interval"),
        ("wait_healthy", ["web"], {"probe_url": "ftp://x"}, "probe_url"),
        ("logs", ["web"], {"tail": "x"}, "tail"),
        ("logs", ["web"], {"since": "yesterday"}, "since"),
        ("prune", [], {"containers": "maybe"}, "containers"),
        ("prune", [], {"labels": 5}, "labels"),
        ("exec", ["web", 5], {}, "cmd"),
        ("exec", ["web", ["ls"]], {"environment": "A"}, "environment"),
        ("stop", ["web"], {"timeout": "x"}, "timeout"),
        ("remove", ["web"], {"force": "maybe"}, "force"),
        ("ps", [], {"labels": [1]}, "labels"),
        ("images", [], {"all": "maybe"}, "all"),
        ("image_pull", ["a b"], {}, "name"),
        ("image_build", ["x/y:1", "/tmp"], {"buildargs": "V=1"}, "buildargs"),
        ("network_create", ["n"], {"gateway": "10.0.0.1"}, "gateway needs a subnet"),
        ("volume_create", ["v"], {"labels": 5}, "labels"),
        ("events", [], {"since": "x"}, "since"),
        ("registry_check", ["127.0.0.1:5000"], {"timeout": "x"}, "timeout"),
        ("inspect", [""], {}, "name"),
        ("build_inputs_digest", ["/tmp"], {"saltenv": 5}, "saltenv"),
        ("login_status", ["127.0.0.1:5000"], {"config_path": 5}, "config_path"),
        ("network_connect", ["n", "c"], {"ipv4_address": 5}, "ipv4_address"),
        ("network_connect", ["n", "c"], {"aliases": 5}, "aliases"),
        ("create", ["busybox", "web"], {"keep_volumes": ["/data"]}, "keep_volumes"),
        ("create", ["busybox", "web"], {"keep_volumes": {"data": "v1"}}, "keep_volumes"),
        ("create", ["busybox", "web"], {"keep_volumes": {"/data": ""}}, "keep_volumes"),
        ("create", ["busybox", "web"], {"keep_volumes": {"/data": 5}}, "keep_volumes"),
        ("create", ["busybox", "web"], {"pull": "always"}, "pull"),
    ],
)
def test_bad_argument_named_before_any_request(modules, func, args, kwargs, argument):
    fn = getattr(modules.container, func)
    with pytest.raises(SaltInvocationError, match=argument):
        if func in ("registry_check", "login_status"):  # no engine, so no profile
            fn(*args, **kwargs)
        else:
            fn(*args, profile=UNREACHABLE, **kwargs)


def test_good_arguments_reach_for_the_engine(modules):
    with pytest.raises(CommandExecutionError, match="cannot reach the Docker engine"):
        modules.container.logs("web", tail=5, profile=UNREACHABLE)
    with pytest.raises(CommandExecutionError, match="cannot reach the Docker engine"):
        modules.container.create(
            "busybox", "web", keep_volumes={"/data": "a" * 64}, profile=UNREACHABLE
        )


def test_exec_alias_and_no_dangling_alias(modules):
    assert "container.exec" in modules
    assert "container.list" not in modules


def test_bad_profile_is_bad_input(modules):
    with pytest.raises(SaltInvocationError, match="timeout"):
        modules.container.ping(profile={"base_url": "unix:///x.sock", "timeout": "soon"})
