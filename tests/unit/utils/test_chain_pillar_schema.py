"""The chain and jenkins formulas' pillar, checked at render: one case per shape of mistake, each
named by its full key path with what the key takes."""

import copy
import pathlib

import pytest
import yaml
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_pillar_schema as schema

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULTS = {
    f: yaml.safe_load((ROOT / "formulas" / f / "defaults.yaml").read_text())[f]
    for f in schema.FORMULAS
}
EXAMPLE = {
    f: yaml.safe_load((ROOT / "pillar.example" / f"{f}.sls").read_text())[f]
    for f in schema.FORMULAS
}


def merged(formula, change):
    """pillar.example's ``formula`` with ``change`` (path tuple -> value; ``None`` deletes)."""
    data = copy.deepcopy(EXAMPLE[formula])
    for path, value in change.items():
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return data


@pytest.mark.parametrize("formula", schema.FORMULAS)
def test_defaults_and_the_example_pass(formula):
    assert schema.errors(formula, DEFAULTS[formula], DEFAULTS[formula]) == []
    assert schema.errors(formula, EXAMPLE[formula], DEFAULTS[formula]) == []
    assert schema.check(formula, EXAMPLE[formula], DEFAULTS[formula]) is EXAMPLE[formula]


CASES = [
    # (formula, change, the one expected line's start, a part of what it says it takes)
    ("chain", {("service", "replicas"): "two"}, "chain:service:replicas:", "integer"),
    ("chain", {("frontend", "port"): 70000}, "chain:frontend:port:", "65535"),
    ("chain", {("per_minion",): "yes"}, "chain:per_minion:", "true or false"),
    ("chain", {("targets",): "web1"}, "chain:targets:", "a list of names"),
    ("chain", {("service", "environment"): ["APP_ENV=x"]}, "chain:service:environment:", "mapping"),
    ("chain", {("network",): ["chain"]}, "chain:network:", "a mapping of name, subnet"),
    ("chain", {("service",): None, ("servcie",): {"replicas": 2}}, "chain:servcie:", "service?"),
    ("chain", {("service", "update", "monitr"): 3}, "chain:service:update:monitr:", "monitor?"),
    (
        "chain",
        {("service", "update", "order"): "first"},
        "chain:service:update:order:",
        "stop-first",
    ),
    (
        "chain",
        {("service", "healthcheck"): {"interval": "1s"}},
        "chain:service:healthcheck:test:",
        "missing",
    ),
    (
        "chain",
        {("service", "healthcheck"): {"test": "true", "interval": "often"}},
        "chain:service:healthcheck:interval:",
        "duration",
    ),
    (
        "chain",
        {("servers", "web2", "frontend", "prot"): 1},
        "chain:servers:web2:frontend:prot:",
        "port?",
    ),
    ("chain", {("servers", "web3"): [1]}, "chain:servers:web3:", "a mapping of"),
    (
        "chain",
        {("apps",): {"web": {"targets": ["w"], "replicas": 3}}},
        "chain:apps:web:replicas:",
        "targets",
    ),
    ("chain", {("apps",): {"web": {"sls": "chain.deploy"}}}, "chain:apps:web:targets:", "missing"),
    ("chain", {("source", "users"): ["alice"]}, "chain:source:users:", "mapping of user names"),
    ("chain", {("service", "mode"): "kubernetes"}, "chain:service:mode:", "containers, swarm"),
    ("chain", {("service", "placement"): {"role": [1]}}, "chain:service:placement:role:", "plain"),
    ("jenkins", {("pools", "linux", "image"): None}, "jenkins:pools:linux:image:", "missing"),
    ("jenkins", {("pools", "linux", "max"): "many"}, "jenkins:pools:linux:max:", "integer"),
    ("jenkins", {("pools", "linux", "min"): 9}, "jenkins:pools:linux:", "must not exceed max"),
    ("jenkins", {("pools", "linux", "colour"): "red"}, "jenkins:pools:linux:colour:", "max_uses"),
    ("jenkins", {("pools", "linux", "max_use"): 1}, "jenkins:pools:linux:max_use:", "max_uses?"),
    (
        "jenkins",
        {("pools", "clean-room", "label"): None},
        "jenkins:pools:clean-room:label:",
        "label",
    ),
    ("jenkins", {("pools",): [{"linux": {}}]}, "jenkins:pools:", "a mapping of pool names"),
    (
        "jenkins",
        {("controller", "plugins"): ["git"]},
        "jenkins:controller:plugins:",
        "plugin names",
    ),
    ("jenkins", {("controller", "port"): "http"}, "jenkins:controller:port:", "integer"),
    ("jenkins", {("reconcile", "schedule"): "on"}, "jenkins:reconcile:schedule:", "true or false"),
    ("jenkins", {("profiles", "ci", "url"): None}, "jenkins:profiles:ci:url:", "missing"),
    ("jenkins", {("profiles", "ci", "tokn"): "x"}, "jenkins:profiles:ci:tokn:", "token?"),
    ("jenkins", {("profile",): "cii"}, "jenkins:profile:", "(ci)"),
]


@pytest.mark.parametrize(("formula", "change", "line", "takes"), CASES, ids=lambda v: str(v)[:40])
def test_each_mistake_is_named_by_its_full_path(formula, change, line, takes):
    errs = schema.errors(formula, merged(formula, change), DEFAULTS[formula])
    assert len(errs) == 1, errs
    assert errs[0].startswith(line), errs
    assert takes in errs[0], errs


def test_every_mistake_at_once_and_the_message():
    data = merged(
        "chain",
        {("service", "replicas"): "two", ("targets",): "web1", ("frontend", "prot"): 1},
    )
    with pytest.raises(SaltInvocationError) as exc:
        schema.check("chain", data, DEFAULTS["chain"])
    text = str(exc.value)
    assert text.startswith("pillar chain: 3 mistakes, nothing was applied:\n")
    for path in ("chain:service:replicas:", "chain:targets:", "chain:frontend:prot:"):
        assert f"\n  {path}" in text


def test_a_secret_is_never_echoed():
    errs = schema.errors(
        "chain",
        merged("chain", {("registry", "server", "password"): ["s3cr3t-value"]}),
        DEFAULTS["chain"],
    )
    assert errs == ["chain:registry:server:password: expected a string, got a list"]
    errs = schema.errors(
        "jenkins", merged("jenkins", {("controller", "admin_token"): 12345678}), DEFAULTS["jenkins"]
    )
    assert errs and "12345678" not in errs[0]


def test_a_key_added_to_defaults_is_known_and_typed_by_its_default():
    defaults = copy.deepcopy(DEFAULTS["chain"])
    defaults["frontend"]["maxconn"] = 100
    assert schema.errors("chain", merged("chain", {("frontend", "maxconn"): 50}), defaults) == []
    errs = schema.errors("chain", merged("chain", {("frontend", "maxconn"): "x"}), defaults)
    assert errs == ["chain:frontend:maxconn: expected an integer, got 'x'"]


def test_master_side_keys_and_run_keys_pass():
    data = merged(
        "chain",
        {
            ("ref",): "main",
            ("commit",): "0" * 40,
            ("image",): "127.0.0.1:5050/chain/app:main",
            ("wave",): "rest",
            ("run_id",): "r-1",
            ("deploy",): False,
            ("push",): {"webhook_key": "k", "repos": {"app": {}}},
            ("page",): {"events": 500, "status_interval": 30},
            ("apps",): {"app": {"targets": "web1,web2", "canary": "serial"}},
            ("servers", "web1"): None,
        },
    )
    assert schema.errors("chain", data, DEFAULTS["chain"]) == []


def test_swarm_mode_keys_pass_and_an_app_in_swarm_mode_needs_no_targets():
    swarm = {"chain": {"service": {"mode": "swarm", "manager": "mgr1"}}}
    data = merged(
        "chain",
        {
            ("service", "mode"): "swarm",
            ("service", "manager"): "mgr1",
            ("service", "placement"): {"role": "app"},
            ("service", "publish"): {"port": 8080, "mode": "host"},
            ("apps",): {"app": {"pillar": swarm}},
        },
    )
    assert schema.errors("chain", data, DEFAULTS["chain"]) == []
    # the control: the same app in the container mode needs its targets
    data["apps"]["app"]["pillar"] = {"chain": {"service": {"mode": "containers"}}}
    assert schema.errors("chain", data, DEFAULTS["chain"]) == [
        "chain:apps:app:targets: missing (the app servers' minion ids, in rollout order)"
    ]


def test_unknown_formula_is_refused():
    with pytest.raises(SaltInvocationError, match="formula: expected one of chain, jenkins"):
        schema.errors("demo", {}, {})
