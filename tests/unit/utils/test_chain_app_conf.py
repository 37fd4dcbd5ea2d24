"""An app's configuration for the chain runner: defaults, overrides, every setting checked
before any I/O, and what follows per server."""

import pytest
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_app_conf as conf_of

APPS = {"app": {"targets": ["web1", "web2"], "frontend": "fe-{minion}", "pillar": {"x": 1}}}


def test_defaults_and_overrides():
    conf = conf_of.resolve(APPS, "app", {"max_failures": "1", "sls": None, "unknown": 5})
    assert conf == {
        "targets": ["web1", "web2"],
        "frontend": "fe-{minion}",
        "pillar": {"x": 1},
        "sls": "chain.deploy",
        "service": "app",
        "backend": "app",
        "max_failures": 1,
        "canary": 1,
        "timeout": 900,
        "mode": "containers",
        "manager": None,
    }
    assert conf_of.resolve(None, "api", {"targets": "a,,b"})["targets"] == ["a", "b"]
    assert APPS["app"] == {
        "targets": ["web1", "web2"],
        "frontend": "fe-{minion}",
        "pillar": {"x": 1},
    }


@pytest.mark.parametrize(
    "app, overrides, field",
    [
        ("bad name", {}, "app"),
        (None, {}, "app"),
        ("new", {}, "targets"),
        ("app", {"targets": ""}, "targets"),
        ("app", {"targets": ["a", 3]}, "targets"),
        ("app", {"service": "no spaces"}, "service"),
        ("app", {"max_failures": -1}, "max_failures"),
        ("app", {"canary": -1}, "canary"),
        ("app", {"canary": "some"}, "canary"),
        ("app", {"canary": True}, "canary"),
        ("app", {"canary": 1.5}, "canary"),
        ("app", {"timeout": "soon"}, "timeout"),
        ("app", {"pillar": "x=1"}, "pillar"),
        ("app", {"sls": ""}, "sls"),
    ],
)
def test_bad_settings_name_the_setting(app, overrides, field):
    with pytest.raises(SaltInvocationError, match=f"^{field}: "):
        conf_of.resolve(APPS, app, overrides)


@pytest.mark.parametrize(
    "value, canary", [(1, 1), ("2", 2), (0, 0), ("serial", 0), (" Serial ", 0), (9, 9)]
)
def test_canary_is_a_count_or_serial(value, canary):
    assert conf_of.resolve(APPS, "app", {"canary": value})["canary"] == canary
    assert conf_of.resolve({"app": dict(APPS["app"], canary=value)}, "app", {})["canary"] == canary


def test_per_server_names_status_call_and_pillar():
    conf = conf_of.resolve(APPS, "app", {"service": "app-{minion}", "network": "net"})
    assert conf_of.names(conf, "web2") == {
        "service": "app-web2",
        "frontend": "fe-web2",
        "network": "net",
    }
    assert conf_of.status_call(conf, "web1") == (
        ["app-web1"],
        {"frontend": "fe-web1", "backend": "app", "network": "net"},
    )
    conf["pillar"] = {"chain": {"per_minion": True}, "other": 1}
    assert conf_of.deploy_pillar(conf, "app:2", "app") == {
        "chain": {"per_minion": True, "image": "app:2", "app": "app"},
        "other": 1,
    }
    wave = conf_of.deploy_pillar(conf, "app:2", "app", "rest")["chain"]
    assert wave == {"per_minion": True, "image": "app:2", "app": "app", "wave": "rest"}
    assert conf["pillar"] == {"chain": {"per_minion": True}, "other": 1}


SWARM = {"chain": {"service": {"mode": "swarm", "manager": "mgr1"}}}


def test_swarm_mode_targets_the_manager_and_reads_swarm_status():
    conf = conf_of.resolve(None, "app", {"pillar": SWARM, "frontend": "fe-{minion}"})
    assert (conf["mode"], conf["manager"], conf["targets"]) == ("swarm", "mgr1", ["mgr1"])
    assert conf_of.resolve(None, "app", {"pillar": SWARM, "targets": "mgr1"})["targets"] == ["mgr1"]
    assert conf_of.status_fun(conf) == "container_service.swarm_status"
    assert conf_of.status_call(conf, "mgr1") == (
        ["app"],
        {"network": None, "frontend": "fe-mgr1", "backend": "app", "profile": None},
    )
    plain = conf_of.resolve(APPS, "app", {})
    assert conf_of.status_fun(plain) == "container_service.status"


@pytest.mark.parametrize(
    "pillar, targets, says",
    [
        ({"chain": {"service": {"mode": "swarm"}}}, None, "chain:service:manager"),
        ({"chain": {"service": {"mode": "swarm", "manager": ""}}}, None, "chain:service:manager"),
        (SWARM, ["mgr1", "web2"], "deployed on its manager only (mgr1)"),
        ({"chain": {"service": {"mode": "kubernetes"}}}, ["web1"], "chain:service:mode"),
    ],
)
def test_swarm_mode_refused_before_any_io(pillar, targets, says):
    with pytest.raises(SaltInvocationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        conf_of.resolve(None, "app", {"pillar": pillar, "targets": targets})
