"""formulas/chain/init.sls with the registry's TLS (chain:registry:tls:enabled): the orchestrate's
infrastructure stage makes the CA first, on its minion, and has the build server and every app
server trust it (chain.registry_trust) beside their infrastructure; without TLS neither is in
it. The orchestrate is rendered with Salt's own Jinja renderer and file client (the formula's
defaults.yaml and map.jinja), pillar chain:validate and the defaults module stubbed."""

import copy
import pathlib

import pytest
import salt.config
import salt.utils.templates
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
FORMULAS = REPO / "formulas"


def _merge(dest, upd):
    for key, value in upd.items():
        if isinstance(value, dict) and isinstance(dest.get(key), dict):
            _merge(dest[key], value)
        else:
            dest[key] = value
    return dest


def render(tls, run_id="", ca_server=""):
    opts = salt.config.minion_config(None)
    opts.update(file_client="local", file_roots={"base": [str(FORMULAS)]}, id="chain-master")
    chain = yaml.safe_load((FORMULAS / "chain" / "defaults.yaml").read_text())["chain"]
    chain.update(ref="abc", targets=["host2", "host1"], run_id=run_id)
    chain["registry"]["tls"].update(enabled=tls, ca_server=ca_server)
    funcs = {
        "pillar.get": lambda *a, **k: chain,
        "chain_pillar.validate": lambda *a: None,
        "defaults.deepcopy": copy.deepcopy,
        "defaults.merge": _merge,
    }
    context = {
        "salt": funcs,
        "opts": opts,
        "grains": {},
        "pillar": {"chain": chain},
        "saltenv": "base",
        "sls": "chain",
        "tpldir": "chain",
        "tplfile": "chain/init.sls",
    }
    text = (FORMULAS / "chain" / "init.sls").read_text()
    return yaml.safe_load(salt.utils.templates.render_jinja_tmpl(text, context))


def args(states, sid):
    ((_, items),) = states[sid].items()
    return {k: v for item in items for k, v in item.items() if k != "pillar"}


@pytest.mark.parametrize("run_id", ["", "run1"])
def test_with_tls_the_ca_comes_first_and_every_engine_host_trusts_it(run_id):
    states = render(True, run_id)
    assert args(states, "chain-ca")["tgt"] == "build1"  # tls:ca_server empty: the build server
    assert args(states, "chain-ca")["sls"] == ["chain.ca"]
    apps = args(states, "chain-infrastructure")
    build = args(states, "chain-build-infrastructure")
    assert apps["sls"] == ["chain.registry_trust", "chain.frontend"]
    assert build["sls"][0] == "chain.registry_trust" and "chain.registry" in build["sls"]
    for both in (apps, build):
        assert {"salt": "chain-ca"} in both["require"]
    if run_id:
        done = args(states, "chain-stage-infrastructure-done")["require"]
        assert {"salt": "chain-ca"} in done
    assert args(render(True, ca_server="host1"), "chain-ca")["tgt"] == "host1"


def test_without_tls_no_ca_and_no_trust_in_the_orchestrate():
    states = render(False)
    assert "chain-ca" not in states
    assert args(states, "chain-infrastructure")["sls"] == ["chain.frontend"]
    assert "require" not in args(states, "chain-build-infrastructure")
    assert "chain.registry_trust" not in str(states)


@pytest.mark.parametrize("tls", [False, True])
def test_every_salt_state_stage_waits_the_stage_timeout(tls):
    """Each stage that applies states on minions passes ``chain:stage_timeout`` as Salt's
    ``timeout``: the master asks a busy minion whether it still runs the stage only after it."""
    states = render(tls, run_id="run1")
    stages = {sid: args(states, sid) for sid, body in states.items() if "salt.state" in body}
    assert {"chain-pipeline", "chain-image", "chain-build-infrastructure"} <= set(stages)
    assert {sid: a.get("timeout") for sid, a in stages.items()} == dict.fromkeys(stages, 300)
