"""Pillar mistakes in the shapes of pillar.example/*.sls, through real ``state.sls`` and
``state.show_sls`` of the chain and jenkins formulas on the functional minion: the render fails
with a line per mistake naming the key's full path, and nothing reaches the engine (its event
stream, tests/support/engines.py EventRecorder) or the controller (the emulator's request log).

The control: the same sls with the mistakes taken out does reach both (a network created on the
engine, a job posted to the controller), under the same guards.
"""

import copy

import pytest

from tests.support import controller, engines
from tests.support.engines import RUN, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker

ENGINE = "engine1"


@pytest.fixture(scope="module")
def good():
    """A chain pillar that chain.frontend (its network) and chain.jobs (its job on the
    functional emulator, profile emu) apply; run-unique names and labels."""
    return {
        "chain": {
            "labels": {TEST_LABEL: RUN},
            "network": {"name": engines.name("pv-net")},
            "frontend": {"name": engines.name("pv-fe"), "image": engines.name("pv-missing:1")},
            "jobs": {"name": engines.name("pv-job"), "jenkins_profile": "emu"},
        },
    }


def _with(pillar, formula, mistakes):
    out = copy.deepcopy(pillar)
    for path, value in mistakes.items():
        node = out.setdefault(formula, {})
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


CHAIN_MISTAKES = {
    # wrong types
    ("service", "replicas"): "two",
    ("frontend", "port"): "eighty",
    ("per_minion",): "yes",
    # a list where a mapping goes (and a string where a list goes)
    ("service", "environment"): ["APP_ENV=production"],
    ("servers", "web2"): ["frontend"],
    ("targets",): "web1",
    # unknown / misspelt keys
    ("frontend", "prot"): 8081,
    ("service", "update", "monitr"): 5,
    ("servcie",): {"replicas": 2},
    # a missing key
    ("apps",): {"web": {"replicas": 2}},
}
CHAIN_LINES = [
    "chain:service:replicas: expected an integer",
    "chain:frontend:port: expected an integer",
    "chain:per_minion: expected true or false",
    "chain:service:environment: expected a mapping",
    "chain:servers:web2: expected a mapping",
    "chain:targets: expected a list of names",
    "chain:frontend:prot: unknown key (did you mean port?",
    "chain:service:update:monitr: unknown key (did you mean monitor?",
    "chain:servcie: unknown key (did you mean service?",
    "chain:apps:web:replicas: unknown key",
    "chain:apps:web:targets: missing",
]
JENKINS_MISTAKES = {
    ("controller", "enabled"): False,
    ("reconcile", "schedule"): False,
    ("pools",): {
        "linux": {"label": "linux", "max": "many", "colour": "red", "max_use": 1},
        "nolabel": {"image": "x"},
        "listed": ["image", "label"],
    },
    ("controller", "plugins"): ["git"],
    ("profiles",): {"emu2": {"tokn": "x"}},
}
JENKINS_LINES = [
    "jenkins:pools:linux:image: missing",
    "jenkins:pools:linux:max: expected an integer",
    "jenkins:pools:linux:colour: unknown key",
    "jenkins:pools:linux:max_use: unknown key (did you mean max_uses?",
    "jenkins:pools:nolabel:label: a pool needs at least one label",
    "jenkins:pools:listed: expected a mapping of pool options",
    "jenkins:controller:plugins: expected a mapping of plugin names",
    "jenkins:profiles:emu2:tokn: unknown key (did you mean token?",
    "jenkins:profiles:emu2:url: missing",
]


def _render_error(ret, lines):
    """``ret`` is a render failure (Salt's list of error strings) naming every line."""
    ret = getattr(ret, "raw", ret)  # saltfactories wraps state returns
    assert isinstance(ret, list), ret
    text = "\n".join(ret)
    assert "nothing was applied" in text, text
    missing = [line for line in lines if line not in text]
    assert not missing, (missing, text)
    assert "Traceback" not in text, text
    return text


def _untouched(emulator, run):
    # owned_only: everything these pillars name (network, frontend, service, image) is this
    # run's; benchmarks and other sessions act on objects of their own meanwhile
    with EventRecorder(ENGINE) as rec, controller.RequestLog(emulator["home"]) as log:
        out = run()
    assert rec.mutations(owned_only=True) == [], rec.mutations(owned_only=True)
    assert log.writes() == [], log.writes()
    return out


@pytest.fixture
def cleanup(docker_engines, modules, good):
    yield
    engines.cleanup(ENGINE)
    name = good["chain"]["jobs"]["name"]
    if modules.jenkins.job_exists(name, profile="emu"):
        modules.jenkins.delete_job(name, profile="emu")


def test_pillar_mistakes_fail_the_render_and_touch_nothing(modules, emulator, good, cleanup):
    chain_bad = _with(good, "chain", CHAIN_MISTAKES)
    for sls in ("chain.frontend", "chain.jobs", "chain.deploy"):
        ret = _untouched(emulator, lambda sls=sls: modules.state.sls(sls, pillar=chain_bad))
        text = _render_error(ret, CHAIN_LINES)
        assert f"pillar chain: {len(CHAIN_LINES)} mistakes" in text
    shown = _untouched(emulator, lambda: modules.state.show_sls("chain.frontend", pillar=chain_bad))
    _render_error(shown, CHAIN_LINES)

    jenkins_bad = _with(good, "jenkins", JENKINS_MISTAKES)
    for call in (modules.state.sls, modules.state.show_sls):
        ret = _untouched(emulator, lambda call=call: call("jenkins", pillar=jenkins_bad))
        _render_error(ret, JENKINS_LINES)
    # the chain formula's jenkins stage includes the jenkins formula: its pillar is checked too
    both = _with(jenkins_bad, "chain", {("jenkins", "enabled"): True})
    ret = _untouched(emulator, lambda: modules.state.sls("chain.jobs", pillar=both))
    _render_error(ret, JENKINS_LINES)

    # control: the same sls without the mistakes reaches the engine and the controller, and the
    # guards see it (the frontend's image does not exist: only its network is made)
    with EventRecorder(ENGINE) as rec, controller.RequestLog(emulator["home"]) as log:
        net = modules.state.sls(
            "chain.frontend",
            pillar=good,
            exclude=[{"id": "chain-frontend-container-running"}],
        )
        jobs = modules.state.sls("chain.jobs", pillar=good)
    net, jobs = net.raw, jobs.raw
    assert isinstance(net, dict) and all(r["result"] for r in net.values()), net
    assert isinstance(jobs, dict) and all(r["result"] for r in jobs.values()), jobs
    assert ("network", "create", good["chain"]["network"]["name"]) in rec.mutations(owned_only=True)
    assert any(w.startswith("POST") for w in log.writes()), log.writes()
