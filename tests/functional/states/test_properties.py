"""Property-based bad input over every argument of every state function (hypothesis).

For each state function of the contract suite, every argument of its signature (and, for
``container.running`` / ``mod_watch``, every option of the option table
``_utils/chain_docker_spec.py``) gets values of the wrong type or malformed ones: ints, floats,
bools, lists, dicts, lists holding None, garbage strings, each only where it is certainly wrong
for that argument's type (``ARG_TYPES``, owned by this test, not derived from the validators
under test). Each value is applied in test mode AND live, on an existing object; each must give a
clean failure (result False, one line, no traceback, no changes). Around the whole batch of a
function: zero engine events, zero controller writes.

Examples are bounded (``MAX_EXAMPLES`` per argument, derandomized: the same examples each run,
no example database) so the tier stays fast and a failure is reproducible.
"""

import inspect
import string

import pytest
import salt.state
import salt.utils.state
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from saltfactories.utils.functional import StateResult

from tests.functional.states.test_contracts import (  # noqa: F401 - contract_agent is a fixture
    CONTRACTS,
    ENGINE,
    Ctx,
    Guard,
    clean_failure,
    contract_agent,
    discover,
)
from tests.support import engines

try:
    from saltext.chain.utils import chain_agents_plan as agent_table
    from saltext.chain.utils import chain_docker_spec as spec_table
except ImportError:  # pragma: no cover - before the option tables existed
    spec_table = agent_table = None

MAX_EXAMPLES = 10
MAX_OPTION_EXAMPLES = 4  # container.running/mod_watch: ~90 arguments each

# ------------------------------------------------------------------------------ wrong values

_none_in_list = st.lists(
    st.one_of(st.none(), st.text(string.ascii_letters, max_size=3)), min_size=1, max_size=3
).filter(lambda v: None in v)
_ints = st.integers(-(10**6), 10**6)
_floats = st.floats(allow_nan=False, allow_infinity=False, width=32).filter(
    lambda f: not f.is_integer()
)
_bools = st.booleans()
_lists = st.one_of(st.lists(_ints, min_size=1, max_size=3), _none_in_list)
_dicts = st.dictionaries(
    st.text(string.ascii_letters, min_size=1, max_size=3),
    st.one_of(_ints, st.none()),
    min_size=1,
    max_size=2,
)
# Never a word any argument accepts (not a bool word, enum value, size, number, path or URL).
_garbage = st.text(string.ascii_letters + " -_", min_size=1, max_size=8).map(lambda s: "zz" + s)

WRONG = {
    "bool": st.one_of(_floats, _lists, _dicts, _garbage, st.integers(2, 10**6)),
    "int": st.one_of(_floats, _bools, _lists, _dicts, _garbage),
    "number": st.one_of(_bools, _lists, _dicts, _garbage),
    "str": st.one_of(_lists, _dicts),
    "abs_path": st.one_of(_lists, _dicts, _garbage),
    "enum": st.one_of(_ints, _floats, _bools, _lists, _dicts, _garbage),
    "dict": st.one_of(_ints, _floats, _bools, _none_in_list),
    "list": st.one_of(_ints, _floats, _bools, _dicts, _none_in_list),
    "list_or_dict": st.one_of(_ints, _floats, _bools, _none_in_list),
    "list_or_str": st.one_of(_floats, _bools, _dicts, _none_in_list),
    "str_or_dict": st.one_of(_ints, _floats, _bools, _lists),
    "argv": st.one_of(_floats, _bools, _dicts, _none_in_list),
    "profile": st.one_of(_ints, _floats, _bools, _lists),
    "size": st.one_of(_bools, _lists, _dicts, _garbage, st.integers(-(10**6), -2)),
    "healthcheck": st.one_of(
        _ints,
        _floats,
        _bools,
        _lists,
        st.sampled_from(
            [
                {"test": 5},
                {"test": "true", "retries": "many"},
                {"test": "true", "interval": "soon"},
                {"test": ["CMD", None]},
                {"test": "true", "timeout": [1]},
            ]
        ),
    ),
    "log_config": st.one_of(
        _ints,
        _floats,
        _bools,
        _lists,
        st.sampled_from(
            [
                {"driver": "json-file", "options": ["a"]},
                {"driver": 5},
                {"driver": "json-file", "options": 5},
            ]
        ),
    ),
    "networks": st.one_of(
        _ints,
        _floats,
        _bools,
        _none_in_list,
        st.sampled_from([{"net": 5}, {"net": {"aliases": 5}}, {"net": {"ipv4_address": ["x"]}}]),
    ),
    "restart_policy": st.one_of(
        _ints,
        _floats,
        _bools,
        _lists,
        _dicts,
        _garbage,
        st.sampled_from(["on-failure:x", "always:3", "on-failure:-1"]),
    ),
}

# The type of each state argument, by name (per function where the name means another type).
ARG_TYPES = {
    "bool": {
        "force",
        "volumes",
        "wait_healthy",
        "internal",
        "enable_ipv6",
        "attachable",
        "push",
        "web_socket",
        "enabled",
        "accept_unstable",
        "active",
        "prune",
    },
    "int": {"stop_timeout", "num_executors", "tail_lines"},
    "number": {"health_timeout", "timeout", "poll_interval"},
    "str": {
        "image",
        "driver",
        "subnet",
        "gateway",
        "config_path",
        "username",
        "password",
        "remote_fs",
        "description",
        "work_dir",
        "config",
        "jjb",
        "saltenv",
        "version",
        "message",
        "build",
        "dockerfile",
        "target",
        "base_image",
        "source",
        "probe_url",
    },
    "enum": {"pull", "watch_action", "recreate", "mode"},
    "dict": {"labels", "options", "driver_opts", "parameters", "comparisons"},
    "list": {"ignore"},
    "list_or_dict": {"buildargs", "plugins"},
    "profile": {"profile"},
}
PER_FUNCTION = {
    ("jenkins_node.present", "labels"): "list_or_str",
    ("container_service.running", "replicas"): "int",
    ("container_service.running", "port"): "int",
    ("container_service.running", "history"): "int",
    ("container_service.running", "frontend"): "str",
    ("container_service.running", "backend"): "str",
    ("container_service.running", "network"): "str",
    ("container_service.running", "update"): "dict",
    ("container_service.running", "placement"): "dict",
    ("container_service.running", "publish"): "dict",
    ("container_service.running", "endpoint_mode"): "enum",
}
# jenkins_agent.present/pool take their options as keywords (chain_agents_plan's AGENT_DEFAULTS
# and POOL_DEFAULTS name them); their types, owned here like ARG_TYPES:
AGENT_OPTION_TYPES = {
    "int": {
        "executors",
        "connect_timeout",
        "agent_uid",
        "min",
        "max",
        "max_uses",
        "max_starting",
        "engine_cap",
        "orphan_grace",
        "max_failures",
        "backoff",
        "backoff_max",
        "canary_timeout",
        "drain_timeout",
    },
    "number": {"idle_minutes"},
    "bool": {"web_socket", "force", "wait"},
    "list_or_str": {"labels", "label"},
    "enum": {"mode"},
    "abs_path": {"remote_fs"},
    "str": {"agent_url", "image"},
    "dict": {"container_options"},
    "str_or_dict": {"canary_job"},
    "profile": {"profile", "engine"},
}
NOT_ARGUMENTS = {
    "name",
    "sfun",
}  # `name` is the state ID (Salt refuses a non-string); sfun is Salt's


def option_type(option):
    """The type class of a container option, from its row of the option table."""
    t = spec_table.t
    norm = option.norm
    by_norm = {
        t.boolean: "bool",
        t.string: "str",
        t.abs_path: "abs_path",
        t.signal: "str",
        t.mac: "str",
        t.size_bytes: "size",
        t.swap: "size",
        t.cpus: "size",
        t.argv: "argv",
        t.healthcheck: "healthcheck",
        t.log_config: "log_config",
        t.networks: "networks",
        t.restart_policy: "restart_policy",
        t.str_list: "list_or_str",
        t.extra_hosts: "list_or_dict",
        t.links: "list_or_dict",
    }  # {host: ip}, {container: alias}
    if norm in by_norm:
        return by_norm[norm]
    if "integer" in getattr(norm, "__qualname__", ""):
        return "int"
    if option.kind == "dict":
        return "dict"
    # sets and lists of strings: a list or a string; floats, bools, dicts, None are wrong
    return "argv"


def arguments(loaders, fun):
    """{argument: type class} of a state function: its signature, plus the option table."""
    modules, _ = discover(loaders)
    mod, func = fun.split(".")
    sig = inspect.signature(getattr(modules[mod], func))
    if mod == "jenkins_agent":
        return _agent_arguments(sig, func)
    out = {}
    for pname, param in sig.parameters.items():
        if pname in NOT_ARGUMENTS or param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        kind = PER_FUNCTION.get((fun, pname)) or next(
            (k for k, names in ARG_TYPES.items() if pname in names), None
        )
        assert kind, f"{fun}: no type declared for argument {pname!r} in ARG_TYPES"
        out[pname] = kind
    # every state takes **kwargs for Salt (chain_state_args); only these take the option table
    if fun in ("container.running", "container.mod_watch"):
        running = inspect.signature(modules["container"].running).parameters
        for pname in running:
            if (
                pname not in NOT_ARGUMENTS
                and running[pname].kind is not inspect.Parameter.VAR_KEYWORD
            ):
                out.setdefault(pname, next(k for k, names in ARG_TYPES.items() if pname in names))
        for option in spec_table.OPTIONS:
            out[option.name] = option_type(option)
        out["log_driver"], out["log_opt"] = "str", "dict"
    return out


def _agent_arguments(sig, func):
    """{argument: type class} of a jenkins_agent state: its signature plus, for the keyword
    options, every key of the option table it takes."""
    names = [p for p in sig.parameters if p not in NOT_ARGUMENTS]
    names = [p for p in names if sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    if func == "present":
        names += list(agent_table.AGENT_DEFAULTS)
    elif func == "pool":
        names += list(agent_table.POOL_DEFAULTS)
    out = {}
    for pname in names:
        kind = next((k for k, group in AGENT_OPTION_TYPES.items() if pname in group), None)
        assert kind, f"jenkins_agent.{func}: no type declared for {pname!r} in AGENT_OPTION_TYPES"
        out[pname] = kind
    return out


# Values that once slipped through validation (fixed in chain_docker_spec/_types and mod_watch),
# always tried first so the regression check is deterministic: {(fun, arg): (value, what it was)}.
REGRESSIONS = {
    ("container.running", "comparisons"): (
        0,
        "comparisons=0 (a falsy non-mapping) is accepted as 'none'",
    ),
    ("container.running", "log_opt"): (0, "log_opt=0 (a falsy non-mapping) is accepted as 'none'"),
    ("container.running", "log_config"): (
        {"driver": 5},
        "log_config={'driver': 5}: a non-string driver is accepted",
    ),
    ("container.mod_watch", "comparisons"): (0, "comparisons=0 is accepted (as in running)"),
    ("container.mod_watch", "log_opt"): (0, "log_opt=0 is accepted (as in running)"),
    ("container.mod_watch", "log_config"): (
        {"driver": 5},
        "log_config={'driver': 5} is accepted (as in running)",
    ),
    ("container_service.running", "backend"): (
        [0],
        "backend=[0] is accepted when no frontend is set (backend was checked only with one)",
    ),
    ("container.mod_watch", "profile"): (
        0,
        "mod_watch does not check profile in test mode: profile=0 passes",
    ),
}


class BatchCtx(Ctx):
    """A :class:`Ctx` whose ``apply`` takes ``state.single``'s own steps (``verify_data``, then
    ``State.call``: argument binding, dunder injection, exception capture) on a
    ``salt.state.State`` kept for the batch, one built with ``test=True`` and one without (the
    loaders copy ``test`` when they are built). ``state.single`` builds a new ``State`` per call
    (loaders, pillar, file client: ~170 ms here) while a state's input check takes well under a
    millisecond, and the suite makes thousands of calls."""

    def __init__(self, loaders, *args):
        super().__init__(*args)
        self._opts = loaders.opts
        self._states = {}

    def _state(self, test):
        if test not in self._states:
            opts = salt.utils.state.get_sls_opts(self._opts)
            opts["test"] = test
            self._states[test] = salt.state.State(opts)
        return self._states[test]

    def apply(self, fun, kwargs, test=False):
        state = self._state(bool(test))
        mod, func = fun.split(".")
        low = dict(kwargs, state=mod, fun=func, __id__=kwargs["name"])
        errors = state.verify_data(low)
        assert not errors, f"{fun}: state.single would refuse these arguments: {errors}"
        tag = f"{mod}_|-{low['__id__']}_|-{low['name']}_|-{func}"
        return StateResult({tag: state.call(low)})


def _checker(ctx, fun, base, arg, kind):
    many = fun in ("container.running", "container.mod_watch")

    @settings(
        max_examples=MAX_OPTION_EXAMPLES if many else MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(value=WRONG[kind])
    def check(value):
        _check(ctx, fun, base, arg, value)

    if (fun, arg) in REGRESSIONS:
        check = example(value=REGRESSIONS[fun, arg][0])(check)
    return check


def _check(ctx, fun, base, arg, value):
    for test in (True, False):
        ret = ctx.apply(fun, dict(base, **{arg: value}), test=test)
        try:
            clean_failure(ret)
        except AssertionError as err:
            raise AssertionError(f"{arg}={value!r} (test={test}): {err}") from None


@pytest.mark.parametrize("fun", sorted(CONTRACTS))
def test_wrong_types_fail_cleanly_and_send_nothing(
    fun, loaders, modules, states, emulator, tmp_path, request
):
    contract = CONTRACTS[fun]
    if contract.backend == "docker":
        request.getfixturevalue("docker_engines")
    if fun == "jenkins_build.succeeded":
        request.getfixturevalue("contract_agent")
    ctx = BatchCtx(loaders, modules, states, tmp_path, emulator)
    try:
        if contract.setup:
            contract.setup(ctx)
        base = contract.args(ctx)
        failed = {}
        with Guard(
            emulator,
            engine=contract.backend == "docker",
            files=contract.files(ctx) if contract.files else (),
        ) as guard:
            for arg, kind in sorted(arguments(loaders, fun).items()):
                try:
                    _checker(ctx, fun, base, arg, kind)()
                except Exception as err:  # noqa: BLE001 - an error escaping the state is a finding too
                    failed[arg] = (
                        f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                    )
        assert not failed, "wrong values not refused cleanly:\n" + "\n".join(
            f"{arg}: {msg}" for arg, msg in sorted(failed.items())
        )
        guard.assert_nothing_happened()
    finally:
        if contract.teardown:
            contract.teardown(ctx)
        if contract.backend == "docker":
            engines.cleanup(ENGINE)
