"""chain_state_args: every state's arguments checked in one place, through Salt's own binding
(``salt.utils.args.format_call``, what ``salt.state.State.call`` does), so a typo, an old option,
a missing argument or a wrong type is a failed result of that state, not an aborted run."""

import inspect
import re

import pytest
import salt.state
import salt.utils.args
import salt.utils.context
from salt.exceptions import SaltInvocationError
from saltext.chain.utils import chain_docker_spec, chain_state_args

__virtualname__ = "thing"


def present(name, driver=None, force=False, timeout=10, pull="missing", labels=None):
    """Ensure a thing."""
    return {"name": name, "result": True, "comment": "ran", "changes": {}, "args": locals()}


def running(name, image, wait_healthy=False, **kwargs):
    return {"name": name, "result": True, "comment": "ran", "changes": {}, "kwargs": kwargs}


def reads_low(name):
    low = globals().get("__low__")
    return {"name": name, "result": True, "comment": str(low and low["name"]), "changes": {}}


checked_present = chain_state_args.checked()(present)
checked_running = chain_state_args.checked(accepts=chain_docker_spec.ACCEPTED)(running)
checked_reads_low = chain_state_args.checked()(reads_low)


def salt_call(func, **low):
    """Bind ``low`` the way ``State.call`` does, then call: what a state run does."""
    low.setdefault("name", "n")
    cdata = salt.utils.args.format_call(
        func,
        low,
        initial_ret={"full": "thing.fun"},
        expected_extra_kws=salt.state.STATE_INTERNAL_KEYWORDS,
    )
    return func(*cdata["args"], **cdata["kwargs"])


def test_salt_itself_aborts_on_a_typo_without_the_wrapper():
    # the control: what happens to an unwrapped state (the bug this util fixes)
    with pytest.raises(SaltInvocationError, match="invalid keyword argument"):
        salt_call(present, drivr="bridge")
    with pytest.raises(SaltInvocationError, match="takes at least"):
        salt_call(running)


def test_a_typo_is_a_failed_result_naming_the_closest_argument():
    ret = salt_call(checked_present, drivr="bridge")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("unknown argument 'drivr': did you mean 'driver'?")
    assert "\n" not in ret["comment"]
    assert "thing.present takes: driver, force, timeout, pull, labels" in ret["comment"]


def test_the_list_has_the_states_own_arguments_and_the_aliases():
    ret = salt_call(checked_running, image="busybox", wait_healty=True)
    assert "did you mean 'wait_healthy'?" in ret["comment"]
    takes = set(ret["comment"].split("takes: ", 1)[1].rstrip(")").split(", "))
    assert {"image", "wait_healthy", "port_bindings", "memory", "mem_limit"} <= takes
    ret = salt_call(checked_running, image="busybox", port_binding=["1:1"])
    assert "did you mean 'port_bindings'?" in ret["comment"]


def test_no_close_name_means_no_guess():
    ret = salt_call(checked_present, zzzqqq=1)
    assert ret["comment"].startswith("unknown argument 'zzzqqq' (thing.present takes:")


@pytest.mark.parametrize(
    "old, replacement",
    [
        ("shutdown_timeout", "use stop_timeout"),
        ("force", "comparisons"),
        ("start", "container.stopped"),
        ("skip_translate", "always validated"),
    ],
)
def test_a_removed_option_names_its_replacement(old, replacement):
    func = chain_state_args.checked(accepts=chain_docker_spec.ACCEPTED)(running)
    func.__globals__["__virtualname__"] = "container"
    try:
        ret = salt_call(func, image="busybox", **{old: 1})
    finally:
        func.__globals__["__virtualname__"] = "thing"
    assert ret["result"] is False
    assert ret["comment"].startswith(f"argument '{old}' is no longer taken: ")
    assert replacement in ret["comment"]


def test_removed_names_are_not_accepted_names():
    # an old name that is still accepted would never reach the removed table
    for full, removed in chain_state_args.REMOVED.items():
        if full.startswith("container.") or full.startswith("container_service."):
            assert not set(removed) & chain_docker_spec.ACCEPTED, full


def test_a_missing_required_argument_is_a_failed_result():
    ret = salt_call(checked_running)
    assert ret["result"] is False
    assert ret["comment"] == "missing argument 'image': thing.running needs it"


@pytest.mark.parametrize(
    "arg, value, expected",
    [
        ("force", "maybe", "force: expected true or false, got 'maybe'"),
        ("timeout", [1], "timeout: expected a number, got [1]"),
        ("timeout", True, "timeout: expected a number, got True"),
        ("pull", {"a": 1}, "pull: expected a string, got {'a': 1}"),
    ],
)
def test_a_wrong_type_is_a_failed_result_naming_the_argument(arg, value, expected):
    ret = salt_call(checked_present, **{arg: value})
    assert (ret["result"], ret["comment"]) == (False, expected)


@pytest.mark.parametrize("arg, value", [("force", "yes"), ("timeout", "5"), ("labels", [1])])
def test_values_of_the_right_kind_pass(arg, value):
    ret = salt_call(checked_present, **{arg: value})
    assert ret["comment"] == "ran" and ret["args"][arg] == value


def test_salts_own_keywords_pass_untouched():
    low = {
        "__id__": "x",
        "__sls__": "s",
        "__env__": "base",
        "__pub_jid": "1",
        "require": [{"file": "f"}],
        "watch_in": [{"file": "f"}],
        "order": 10001,
        "saltenv": "base",
        "fun": "present",
        "state": "thing",
        "__reqs__": {},
        "test": True,
    }
    ret = salt_call(checked_present, driver="bridge", **low)
    assert ret["comment"] == "ran"
    assert ret["args"] == {
        "name": "n",
        "driver": "bridge",
        "force": False,
        "timeout": 10,
        "pull": "missing",
        "labels": None,
    }
    ret = salt_call(checked_running, image="i", memory="1g", **low)
    assert ret["kwargs"] == {"memory": "1g", "__reqs__": {}}


def test_a_declared_salt_keyword_still_reaches_the_state():
    def applied(name, saltenv="base"):
        return {"name": name, "result": True, "comment": saltenv, "changes": {}}

    ret = salt_call(chain_state_args.checked()(applied), saltenv="dev")
    assert ret["comment"] == "dev"


def test_salt_sees_the_exposed_signature():
    spec = salt.utils.args.get_function_argspec(checked_running)
    assert spec.args == ["name", "image", "wait_healthy"] and spec.keywords == "kwargs"
    assert spec.defaults == (chain_state_args.REQUIRED, False)
    assert not hasattr(checked_running, "__wrapped__")
    assert checked_running.__doc__ == running.__doc__ and checked_running.__name__ == "running"
    assert chain_state_args.is_checked(checked_running) and not chain_state_args.is_checked(running)


def test_the_wrapper_runs_in_the_state_modules_globals():
    # Salt injects __low__/__running__ into the called function's globals
    # (salt.utils.context.func_globals_inject): they must be the state module's
    assert checked_reads_low.__globals__ is globals()
    with salt.utils.context.func_globals_inject(checked_reads_low, __low__={"name": "low"}):
        assert checked_reads_low("n")["comment"] == "low"


def test_direct_python_calls_still_work():
    assert checked_running("n", "busybox", memory="1g")["kwargs"] == {"memory": "1g"}
    assert checked_present("n", "bridge")["args"]["driver"] == "bridge"


def test_accepts_needs_kwargs():
    with pytest.raises(TypeError, match="needs a function with"):
        chain_state_args.checked(accepts={"x"})(present)


def test_the_signature_keeps_defaults():
    sig = inspect.signature(checked_present)
    assert [p.default for p in sig.parameters.values()][1:3] == [None, False]


def _migration_rows():
    import importlib.util  # pylint: disable=import-outside-toplevel

    from tests.conftest import REPO  # pylint: disable=import-outside-toplevel

    spec = importlib.util.spec_from_file_location(
        "gen_container_docs", REPO / "scripts" / "gen_container_docs.py"
    )
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    rows = [("docker_container.running", old) for old in gen.NOT_TAKEN]
    rows += [(state, old) for state, old, _ours, _note in gen.OLD_STATE_ARGS]
    return rows


OURS = {
    "docker_container.running": ("container", "running"),
    "docker_image.present": ("container_image", "present"),
    "docker_network.present": ("container_network", "present"),
    "docker_volume.present": ("container_volume", "present"),
}


def test_every_old_argument_of_the_migration_table_is_taken_or_names_its_replacement():
    import importlib  # pylint: disable=import-outside-toplevel

    for old_state, cell in _migration_rows():
        module, func = OURS[old_state]
        state = getattr(importlib.import_module(f"saltext.chain.states.{module}"), func)
        rules = state.rules
        removed = chain_state_args.REMOVED.get(f"{module}.{func}", {})
        for word in re.split(r", | / | \+ ", cell):
            word = word.split(":")[0].strip()
            if word in ("-", "name"):
                continue
            assert word in rules.params or word in rules.accepts or word in removed, (
                f"{old_state} {word!r}: neither taken by {module}.{func} nor in REMOVED"
            )


def test_a_far_name_gets_no_guess():
    # "no_such_option" is not a misspelt "dns_option"
    ret = salt_call(checked_running, image="busybox", no_such_option=1)
    assert ret["comment"].startswith("unknown argument 'no_such_option' (thing.running takes:")
