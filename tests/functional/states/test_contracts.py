"""The contract every state function keeps, checked on every state function the loader finds.

Each entry of ``CONTRACTS`` declares one state function against the real backend (Docker engine 1,
the Jenkins emulator) and the suite runs it through:

- apply, then a zero-change second apply that sends nothing (engine event stream, controller
  request log);
- one declared change giving exactly that change (where the state has a declared field), and
  converging again;
- ``test=True`` pure: the would-be changes, and not one mutating engine event, controller write
  or client-config file change; on a converged object: result True, no changes;
- bad input: result False, a one-line comment (no traceback), no changes, nothing sent — live
  and in test mode, on an existing object (a state that validated late would act on it).

``test_every_state_function_has_a_contract`` compares the state functions discovered from the
loader (every public function of every module in ``_states``, ``mod_watch`` included) with the
entries: a new state function without an entry fails the suite.
"""

import contextlib
import dataclasses
import pathlib
import re
import sys
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import REPO
from tests.functional.states.test_container_swarm import CONTRACTS as SWARM_CONTRACTS
from tests.support import controller, engines
from tests.support.agents import emulated_agent
from tests.support.engines import BUSYBOX, DEBIAN, LABELS, REGISTRY, EventRecorder

ENGINE = "engine1"  # the contract is the same on both engines; the other tier tests run on both

JOB_XML = """<?xml version='1.0' encoding='UTF-8'?>
<project>
  <description>{desc}</description>
  <assignedNode>{label}</assignedNode>
  <canRoam>false</canRoam>
  <builders>
    <hudson.tasks.Shell>
      <command>true</command>
    </hudson.tasks.Shell>
  </builders>
</project>
"""
AGENT_LABEL = f"contract-{engines.RUN}"
RAW_ERROR = re.compile(r"^[\w.]*(Error|Exception)\b")


@dataclasses.dataclass
class Ctx:
    """What an entry needs: the loaders, a unique name, scratch space, the emulator."""

    modules: object
    states: object
    tmp: pathlib.Path
    emulator: dict
    uid: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:6])

    @property
    def name(self):
        return engines.name(f"k{self.uid}")

    @property
    def image(self):
        return f"saltext-chain/{self.name}:1"

    @property
    def config_path(self):
        return str(self.tmp / "docker-config.json")

    def apply(self, fun, kwargs, test=False):
        mod, func = fun.split(".")
        kwargs = dict(kwargs)
        name = kwargs.pop("name")
        return getattr(getattr(self.states, mod), func)(name, test=test, **kwargs)


@dataclasses.dataclass
class Contract:
    backend: str  # "docker" | "jenkins"
    args: Callable  # ctx -> the declared kwargs (with name)
    setup: Callable = None  # ctx -> None: what must exist before the first apply
    first_changes: bool = True  # the first apply (after setup) reports changes
    second: str = None  # why a zero-change second apply does not apply (None: it does)
    change: object = None  # (ctx -> kwargs override, {expected change keys}) or a reason (str)
    bad: tuple = ()  # (id, ctx -> kwargs override) cases of bad input
    files: Callable = None  # ctx -> paths that test mode must not touch
    teardown: Callable = None
    # bad-input cases that find a production bug, until it is fixed: {case: reason}
    known_bugs: dict = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------ setups


def _ctr(ctx, **extra):
    spec = {
        "image": BUSYBOX,
        "command": engines.stoppable("sleep 600"),
        "labels": dict(LABELS),
        "environment": {"A": "1"},
        "memory": "64m",
        "stop_timeout": 1,
        "profile": ENGINE,
    }
    return {"name": ctx.name, **spec, **extra}


def _make_container(ctx):
    ret = ctx.apply("container.running", _ctr(ctx))
    assert ret.result is True, ret.comment


def _make_image(ctx):
    assert ctx.modules.container.image_tag(BUSYBOX, ctx.image, profile=ENGINE)


def _drop_image(ctx):
    with contextlib.suppress(Exception):
        ctx.modules.container.image_remove(ctx.image, force=True, profile=ENGINE)


def _make_network(ctx):
    ctx.modules.container.network_create(ctx.name, labels=dict(LABELS), profile=ENGINE)


def _make_volume(ctx):
    ctx.modules.container.volume_create(ctx.name, labels=dict(LABELS), profile=ENGINE)


def _login(ctx):
    ret = ctx.apply(
        "container_registry.logged_in", {"name": REGISTRY, "config_path": ctx.config_path}
    )
    assert ret.result is True, ret.comment


def _make_node(ctx):
    ctx.modules.jenkins.node_create(ctx.name)


def _make_disabled_node(ctx):
    ctx.modules.jenkins.node_create(ctx.name)
    ctx.modules.jenkins.node_disable(ctx.name, message="maintenance")


def _make_job(ctx, label="nowhere"):
    ctx.modules.jenkins.job_create(ctx.name, config_xml=JOB_XML.format(desc="one", label=label))


def _make_buildable_job(ctx):
    _make_job(ctx, label=AGENT_LABEL)


def _bad_profile(ctx):
    return {"profile": 5}


def _unknown_profile(ctx):
    return {"profile": engines.name("no-such-profile")}


def _agent(ctx, **extra):
    """jenkins_agent.present/pool arguments: the agent image, host network, this run's label."""
    from tests.support import agents  # noqa: PLC0415 - only the agent entries need it

    return {
        "name": ctx.name,
        "image": agents.agent_image_tag(),
        "connect_timeout": 60,
        "container_options": {"network_mode": "host", "labels": dict(LABELS)},
        **extra,
    }


def _agent_image(ctx):
    from tests.support import agents  # noqa: PLC0415

    agents.build_agent_image()


def _make_agent(ctx):
    _agent_image(ctx)
    args = _agent(ctx)
    ctx.modules.jenkins_agent.present(args.pop("name"), args.pop("image"), **args)


def _drop_agents(ctx):
    for node in ctx.modules.jenkins.nodes():
        if node == ctx.name or node.startswith(ctx.name + "-"):
            ctx.modules.jenkins.node_delete(node)


def _jjb_dirs(ctx):
    """Two JJB directories declaring job ctx.name, differing in its description."""
    for folder, desc in (("jobs", "one"), ("jobs2", "two")):
        (ctx.tmp / folder).mkdir()
        (ctx.tmp / folder / "jobs.yaml").write_text(
            f"- job:\n    name: {ctx.name}\n    description: {desc}\n"
        )


# A list as `name` never reaches a state: Salt's state compiler refuses it ("ID ... is not formed
# as a string"), so names are not among the bad-input cases below.
PROFILE_CASES = (("profile", _bad_profile), ("profile-unknown", _unknown_profile))


def _svc(ctx, **extra):
    """container_service.running: one replica of busybox with a health check, no frontend."""
    return {
        "name": ctx.name,
        "image": BUSYBOX,
        "command": engines.stoppable("sleep 600"),
        "replicas": 1,
        "healthcheck": {"test": "true", "interval": "1s", "timeout": "1s", "retries": 1},
        "update": {"monitor": 2},
        "environment": {"A": "1"},
        "labels": dict(LABELS),
        "stop_timeout": 1,
        "profile": ENGINE,
        **extra,
    }


# ------------------------------------------------------------------------------ the entries

CONTRACTS = {
    "container.running": Contract(
        "docker",
        _ctr,
        # memory changes in place: exactly that change (a recreating field adds "container")
        change=(lambda c: {"memory": "48m"}, {"memory"}),
        bad=(
            ("cpus", lambda c: {"cpus": "lots"}),
            ("healthcheck-retries", lambda c: {"healthcheck": {"test": "true", "retries": "many"}}),
            ("healthcheck-test", lambda c: {"healthcheck": {"test": 5}}),
            ("cap_add", lambda c: {"cap_add": 5}),
            ("log_config", lambda c: {"log_config": {"driver": "json-file", "options": ["a"]}}),
            ("restart_policy", lambda c: {"restart_policy": "on-failure:x"}),
            ("unknown-option", lambda c: {"volumez": ["/x"]}),
            ("pull", lambda c: {"pull": "sometimes"}),
            *PROFILE_CASES,
        ),
    ),
    "container.mod_watch": Contract(
        "docker",
        lambda c: _ctr(c, sfun="running", watch_action="restart"),
        setup=_make_container,
        second="a watch reacts each time it fires: there is no converged state to re-apply",
        change="mod_watch declares no field of its own (it reacts to another state's change)",
        bad=(
            ("watch_action", lambda c: {"watch_action": "sometimes"}),
            ("cpus", lambda c: {"cpus": "lots"}),
            ("stop_timeout", lambda c: {"stop_timeout": "x"}),
        ),
    ),
    "container.stopped": Contract(
        "docker",
        lambda c: {"name": c.name, "stop_timeout": 1, "profile": ENGINE},
        setup=_make_container,
        change="the state declares no field (only stopped or not)",
        bad=(
            ("stop_timeout", lambda c: {"stop_timeout": "x"}),
            ("stop_timeout-negative", lambda c: {"stop_timeout": -1}),
            *PROFILE_CASES,
        ),
    ),
    "container.absent": Contract(
        "docker",
        lambda c: {"name": c.name, "stop_timeout": 1, "profile": ENGINE},
        setup=_make_container,
        change="the state declares no field (only absent)",
        bad=(
            ("force", lambda c: {"force": "maybe"}),
            ("stop_timeout", lambda c: {"stop_timeout": "x"}),
            ("volumes", lambda c: {"volumes": [1]}),
            *PROFILE_CASES,
        ),
    ),
    "container_service.running": Contract(
        "docker",
        _svc,
        change=(lambda c: {"environment": {"A": "2"}}, {"generation"}),
        bad=(
            ("replicas", lambda c: {"replicas": "many"}),
            ("monitor-shorter-than-health-window", lambda c: {"update": {"monitor": 1}}),
            ("failure_action", lambda c: {"update": {"monitor": 2, "failure_action": "retry"}}),
            ("no-healthcheck", lambda c: {"healthcheck": None}),
            ("networks-reserved", lambda c: {"networks": ["x"]}),
            ("frontend-without-network", lambda c: {"frontend": "fe"}),
            ("unknown-option", lambda c: {"volumez": ["/x"]}),
            *PROFILE_CASES,
        ),
    ),
    "container_image.present": Contract(
        "docker",
        lambda c: {"name": c.image, "source": BUSYBOX, "profile": ENGINE},
        teardown=_drop_image,
        change=(lambda c: {"source": DEBIAN}, {"image_id"}),
        bad=(
            ("pull", lambda c: {"pull": "sometimes"}),
            ("push", lambda c: {"push": "maybe"}),
            ("name", lambda c: {"name": "Not A/Valid Name!"}),
            ("buildargs", lambda c: {"source": None, "build": str(c.tmp), "buildargs": 5}),
            *PROFILE_CASES,
        ),
    ),
    "container_image.absent": Contract(
        "docker",
        lambda c: {"name": c.image, "profile": ENGINE},
        setup=_make_image,
        teardown=_drop_image,
        change="the state declares no field (only absent)",
        bad=(
            ("force", lambda c: {"force": "maybe"}),
            ("name", lambda c: {"name": "Not A/Valid Name!"}),
            *PROFILE_CASES,
        ),
    ),
    "container_network.present": Contract(
        "docker",
        lambda c: {"name": c.name, "labels": dict(LABELS), "profile": ENGINE},
        change=(lambda c: {"labels": {**LABELS, "tier": "back"}}, {"labels"}),
        bad=(
            ("internal", lambda c: {"internal": "maybe"}),
            ("labels", lambda c: {"labels": 5}),
            ("subnet", lambda c: {"subnet": "not-a-cidr"}),
            ("options", lambda c: {"options": ["a"]}),
            *PROFILE_CASES,
        ),
    ),
    "container_network.absent": Contract(
        "docker",
        lambda c: {"name": c.name, "profile": ENGINE},
        setup=_make_network,
        change="the state declares no field (only absent)",
        bad=(("force", lambda c: {"force": "maybe"}), *PROFILE_CASES),
    ),
    "container_volume.present": Contract(
        "docker",
        lambda c: {"name": c.name, "labels": dict(LABELS), "profile": ENGINE},
        change=(
            lambda c: {"labels": {**LABELS, "tier": "back"}, "recreate": "options-changed"},
            {"labels"},
        ),
        bad=(
            ("recreate", lambda c: {"recreate": "sometimes"}),
            ("labels", lambda c: {"labels": 5}),
            ("driver_opts", lambda c: {"driver_opts": "x"}),
            *PROFILE_CASES,
        ),
    ),
    "container_volume.absent": Contract(
        "docker",
        lambda c: {"name": c.name, "profile": ENGINE},
        setup=_make_volume,
        change="the state declares no field (only absent)",
        bad=(("force", lambda c: {"force": "maybe"}), *PROFILE_CASES),
    ),
    "container_registry.logged_in": Contract(
        "docker",
        lambda c: {"name": REGISTRY, "config_path": c.config_path},
        files=lambda c: [c.config_path],
        change="the declared credentials come from the profile; another password is a failed login",
        bad=(
            ("config_path", lambda c: {"config_path": 5}),
            ("name", lambda c: {"name": "not a registry/"}),
            ("username", lambda c: {"username": ["chain"]}),
            *PROFILE_CASES,
        ),
    ),
    "container_registry.logged_out": Contract(
        "docker",
        lambda c: {"name": REGISTRY, "config_path": c.config_path},
        setup=_login,
        files=lambda c: [c.config_path],
        change="the state declares no field (only logged out)",
        bad=(
            ("config_path", lambda c: {"config_path": 5}),
            ("name", lambda c: {"name": "not a registry/"}),
        ),
    ),
    "jenkins_node.present": Contract(
        "jenkins",
        lambda c: {"name": c.name, "num_executors": 1, "remote_fs": "/home/jenkins/agent"},
        change=(lambda c: {"num_executors": 2}, {"num_executors"}),
        bad=(
            ("num_executors", lambda c: {"num_executors": "x"}),
            ("mode", lambda c: {"mode": "SOMETIMES"}),
            ("labels", lambda c: {"labels": 5}),
            ("web_socket", lambda c: {"web_socket": "maybe"}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_node.absent": Contract(
        "jenkins",
        lambda c: {"name": c.name},
        setup=_make_node,
        change="the state declares no field (only absent)",
        bad=PROFILE_CASES,
    ),
    "jenkins_node.enabled": Contract(
        "jenkins",
        lambda c: {"name": c.name},
        setup=_make_disabled_node,
        change="the state declares no field (only enabled)",
        bad=PROFILE_CASES,
    ),
    "jenkins_node.disabled": Contract(
        "jenkins",
        lambda c: {"name": c.name, "message": "maintenance"},
        setup=_make_node,
        change=(lambda c: {"message": "disk replacement"}, {"message"}),
        bad=(("message", lambda c: {"message": ["x"]}), *PROFILE_CASES),
    ),
    "jenkins_job.present": Contract(
        "jenkins",
        lambda c: {"name": c.name, "config": JOB_XML.format(desc="one", label="nowhere")},
        change=(lambda c: {"enabled": False}, {"enabled"}),
        bad=(
            ("enabled", lambda c: {"enabled": "maybe"}),
            ("config", lambda c: {"config": "<project><unclosed></project>"}),
            ("ignore", lambda c: {"ignore": 5}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_job.absent": Contract(
        "jenkins",
        lambda c: {"name": c.name},
        setup=_make_job,
        change="the state declares no field (only absent)",
        bad=PROFILE_CASES,
    ),
    "jenkins_build.succeeded": Contract(
        "jenkins",
        lambda c: {"name": c.name, "timeout": 60, "poll_interval": 0.2},
        setup=_make_buildable_job,
        change="a build has no declared field that a new apply changes in place",
        bad=(
            ("parameters", lambda c: {"parameters": "x"}),
            ("timeout", lambda c: {"timeout": "x"}),
            ("poll_interval", lambda c: {"poll_interval": -1}),
            ("tail_lines", lambda c: {"tail_lines": "x"}),
            ("accept_unstable", lambda c: {"accept_unstable": "maybe"}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_plugin.installed": Contract(
        "jenkins",
        lambda c: {"name": "git", "version": "5.0"},
        first_changes=False,  # verifies only: never a change
        change="verify-only: it never changes anything",
        bad=(
            ("version", lambda c: {"version": 2.1}),
            ("active", lambda c: {"active": "maybe"}),
            ("plugins", lambda c: {"plugins": 5}),
            *PROFILE_CASES,
        ),
    ),
    # jenkins_agent: the agent image is built from this checkout (tests/support/agents.py); agents
    # reach the package's emulator on 127.0.0.1 through the host network.
    "jenkins_agent.present": Contract(
        "docker",
        lambda c: _agent(c, labels=[AGENT_LABEL + "-a"]),
        setup=_agent_image,
        teardown=_drop_agents,
        change=(lambda c: {"executors": 2}, {"node"}),
        bad=(
            ("executors", lambda c: {"executors": "x"}),
            ("labels", lambda c: {"labels": "a&&b"}),
            ("connect_timeout", lambda c: {"connect_timeout": "soon"}),
            ("container_options-command", lambda c: {"container_options": {"command": "sh"}}),
            (
                "container_options-secret",
                lambda c: {"container_options": {"environment": {"JENKINS_SECRET": "x"}}},
            ),
            ("unknown-option", lambda c: {"volumez": 1}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_agent.absent": Contract(
        "docker",
        lambda c: {"name": c.name, "drain_timeout": 10},
        setup=_make_agent,
        teardown=_drop_agents,
        change="the state declares no field (only absent)",
        bad=(
            ("drain_timeout", lambda c: {"drain_timeout": "x"}),
            ("force", lambda c: {"force": "maybe"}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_agent.pool": Contract(
        "docker",
        lambda c: _agent(c, label=AGENT_LABEL + "-pool", min=1, max=3),
        setup=_agent_image,
        teardown=_drop_agents,
        # one more agent for min: 2 is exactly one launch
        change=(lambda c: {"min": 2}, {"launched"}),
        bad=(
            ("min", lambda c: {"min": "x"}),
            ("min-over-max", lambda c: {"min": 4}),
            ("max_uses", lambda c: {"max_uses": -1}),
            ("label", lambda c: {"label": "a&&b"}),
            ("canary_job", lambda c: {"canary_job": 3}),
            ("wait", lambda c: {"wait": "maybe"}),
            *PROFILE_CASES,
        ),
    ),
    "jenkins_jobs.applied": Contract(
        "jenkins",
        lambda c: {"name": c.name, "source": str(c.tmp / "jobs"), "prune": True},
        setup=_jjb_dirs,
        teardown=lambda c: c.modules.jenkins.job_delete(c.name),
        change=(lambda c: {"source": str(c.tmp / "jobs2")}, {"updated"}),
        bad=(
            ("prune", lambda c: {"prune": "maybe"}),
            ("source", lambda c: {"source": "relative/jobs"}),
            *PROFILE_CASES,
        ),
    ),
}


# ------------------------------------------------------------------------------ discovery


def discover(loaders):
    """Every state function the loader exposes from a module in ``_states``."""
    states = loaders.states
    keys = list(states.keys())  # noqa: SIM118 - a LazyLoader: keys() loads every module
    prefix = f"{states.loaded_base_name}.ext.states."
    ours = {}
    for modname, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if modname.startswith(prefix) and pathlib.Path(path).parent == REPO / "_states":
            ours[getattr(module, "__virtualname__", modname.rsplit(".", 1)[-1])] = module
    found = set()
    for key in keys:
        mod, _func = key.split(".", 1)
        if mod in ours:
            found.add(key)
    return ours, found


#: State modules that run only on the master (orchestrate): they refuse to load on a minion, so
#: this suite cannot run them; their contracts are tested against a real master in the named
#: integration test (idempotent re-run, test mode, bad input, the runner's own changes).
MASTER_SIDE = {
    "chain": "tests/integration/test_chain_rollout.py",
}


def test_every_state_function_has_a_contract(loaders):
    modules, found = discover(loaders)
    files = {p.stem for p in (REPO / "_states").glob("*.py") if p.stem != "__init__"}
    loaded = {pathlib.Path(m.__file__).stem for m in modules.values()}
    assert files - set(MASTER_SIDE) == loaded - set(MASTER_SIDE), (
        f"state modules that did not load: {sorted(files - set(MASTER_SIDE) - loaded)}"
    )
    for stem, test in MASTER_SIDE.items():
        assert (REPO / test).is_file(), f"{stem}: its contract test {test} is missing"
        # its file is imported, but its __virtual__ refuses a minion: no function is exposed
        assert not [f for f in found if f.startswith(f"{stem}.")], f"{stem} loaded on a minion"
    assert {"container.mod_watch", "container.running"} <= found
    # container_swarm's states: held to the contract on a private Swarm engine (engine 1 stays
    # out of any swarm), by the tests test_container_swarm.py names
    swarm_tests = sys.modules["tests.functional.states.test_container_swarm"]
    for fun, test in SWARM_CONTRACTS.items():
        assert callable(getattr(swarm_tests, test, None)), f"{fun}: no test {test}"
    covered = set(CONTRACTS) | set(SWARM_CONTRACTS)
    missing, stale = sorted(found - covered), sorted(covered - found)
    assert not missing, f"state functions without a contract entry: {missing}"
    assert not stale, f"contract entries for functions the loader does not have: {stale}"


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def contract_agent(loaders, emulator, tmp_path_factory):
    """An emulated inbound agent for the builds jenkins_build.succeeded triggers."""
    work = tmp_path_factory.mktemp("contract-agent")
    name = engines.name("contract-agent")
    with emulated_agent(loaders.modules, emulator["url"], name, [AGENT_LABEL], work):
        yield name


@pytest.fixture
def ctx(request, modules, states, emulator, tmp_path):
    fun = request.node.callspec.params["fun"]
    contract = CONTRACTS[fun]
    if contract.backend == "docker":
        request.getfixturevalue("docker_engines")
        request.getfixturevalue("registry_credentials")
    if fun == "jenkins_build.succeeded":
        request.getfixturevalue("contract_agent")
    c = Ctx(modules, states, tmp_path, emulator)
    yield c
    if contract.teardown:
        contract.teardown(c)
    if contract.backend == "docker":
        engines.cleanup(ENGINE)


class Guard:
    """Engine 1's mutating events, the controller's writes and client files inside the block."""

    def __init__(self, emulator, files=(), engine=True):
        self.home = emulator["home"]
        self.files = list(files)
        self.engine = engine

    def __enter__(self):
        self._rec = EventRecorder(ENGINE).__enter__() if self.engine else None
        self._log = controller.RequestLog(self.home).__enter__()
        self._before = {f: _read(f) for f in self.files}
        return self

    def __exit__(self, *exc):
        self._log.__exit__(*exc)
        if self._rec:
            self._rec.__exit__(*exc)
        # Only this run's objects: other sessions and benchmarks share the engines (all objects
        # the entries declare carry the run's name or label).
        self.mutations = self._rec.mutations(owned_only=True) if self._rec else []
        self.writes = self._log.writes()
        self.touched = [f for f in self.files if _read(f) != self._before[f]]
        return False

    def assert_nothing_happened(self):
        assert self.mutations == [], f"engine events: {self.mutations}"
        assert self.writes == [], f"controller writes: {self.writes}"
        assert self.touched == [], f"files written: {self.touched}"


def _read(path):
    try:
        return pathlib.Path(path).read_bytes()
    except FileNotFoundError:
        return None


def clean_failure(ret):
    assert ret.result is False, f"accepted: {ret.result} {ret.comment!r} {ret.changes}"
    assert isinstance(ret.comment, str) and ret.comment.strip(), ret.comment
    assert "\n" not in ret.comment.strip(), f"not one line: {ret.comment!r}"
    assert "Traceback" not in ret.comment, ret.comment
    assert not RAW_ERROR.match(ret.comment), f"a raw exception, not a message: {ret.comment!r}"
    assert ret.changes == {}, ret.changes


def _params(predicate=lambda c: True):
    return [pytest.param(fun, id=fun) for fun, c in sorted(CONTRACTS.items()) if predicate(c)]


# ------------------------------------------------------------------------------ the contract


@pytest.mark.parametrize("fun", _params())
def test_apply_then_zero_change_second_apply(fun, ctx, emulator):
    contract = CONTRACTS[fun]
    if contract.setup:
        contract.setup(ctx)
    args = contract.args(ctx)
    ret = ctx.apply(fun, args)
    assert ret.result is True, ret.comment
    assert bool(ret.changes) is contract.first_changes, ret.changes
    if contract.second:
        return
    with Guard(
        emulator,
        engine=contract.backend == "docker",
        files=contract.files(ctx) if contract.files else (),
    ) as guard:
        again = ctx.apply(fun, args)
    assert again.result is True and again.changes == {}, (again.comment, again.changes)
    guard.assert_nothing_happened()


@pytest.mark.parametrize("fun", _params(lambda c: not isinstance(c.change, str)))
def test_one_declared_change_is_exactly_that_change(fun, ctx):
    contract = CONTRACTS[fun]
    override, keys = contract.change
    if contract.setup:
        contract.setup(ctx)
    args = contract.args(ctx)
    assert ctx.apply(fun, args).result is True
    changed = dict(args, **override(ctx))
    ret = ctx.apply(fun, changed)
    assert ret.result is True, ret.comment
    assert set(ret.changes) == keys, ret.changes
    assert ctx.apply(fun, changed).changes == {}


def test_entries_without_a_declared_change_say_why():
    for fun, contract in CONTRACTS.items():
        assert isinstance(contract.change, tuple) or (
            isinstance(contract.change, str) and contract.change
        ), fun


@pytest.mark.parametrize("fun", _params())
def test_test_mode_is_pure(fun, ctx, emulator):
    contract = CONTRACTS[fun]
    if contract.setup:
        contract.setup(ctx)
    args = contract.args(ctx)
    files = contract.files(ctx) if contract.files else ()
    with Guard(emulator, engine=contract.backend == "docker", files=files) as guard:
        dry = ctx.apply(fun, args, test=True)
    guard.assert_nothing_happened()
    if contract.first_changes:
        assert dry.result is None and dry.changes, (dry.comment, dry.changes)
    else:
        assert dry.result is True and dry.changes == {}, (dry.comment, dry.changes)
    assert ctx.apply(fun, args).result is True  # and now converged:
    with Guard(emulator, engine=contract.backend == "docker", files=files) as guard:
        dry = ctx.apply(fun, args, test=True)
    guard.assert_nothing_happened()
    if not contract.second:
        assert dry.result is True and dry.changes == {}, (dry.comment, dry.changes)


@pytest.mark.parametrize(
    "fun,case",
    [
        pytest.param(
            fun,
            case,
            id=f"{fun}-{case}",
            marks=[pytest.mark.xfail(strict=True, reason=c.known_bugs[case])]
            if case in c.known_bugs
            else [],
        )
        for fun, c in sorted(CONTRACTS.items())
        for case, _ in c.bad
    ],
)
def test_bad_input_fails_cleanly_and_sends_nothing(fun, case, ctx, emulator):
    contract = CONTRACTS[fun]
    if contract.setup:
        contract.setup(ctx)
    bad = dict(contract.bad)[case](ctx)
    args = dict(contract.args(ctx), **bad)
    files = contract.files(ctx) if contract.files else ()
    with Guard(emulator, engine=contract.backend == "docker", files=files) as guard:
        rets = [ctx.apply(fun, args, test=test) for test in (True, False)]
    for ret in rets:
        clean_failure(ret)
    guard.assert_nothing_happened()


def test_every_state_function_has_bad_input_cases():
    assert [fun for fun, c in CONTRACTS.items() if not c.bad] == []
