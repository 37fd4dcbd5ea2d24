"""The state convention (docs/state-conventions.md), checked on the source of every
``_states/*.py``: the checker reads the syntax tree, so a new state module is held to it the
day it is added.

- ``__virtual__`` answers with ``chain_states.needs``;
- every public state function's return starts as ``chain_states.new_ret`` (or it hands over to
  a function of the module that does): no hand-made ``{"name", "result", "comment", "changes"}``;
- a failure goes through ``chain_states.fail``: nothing else sets ``result`` to ``False``;
- only ``chain_states.CAUGHT`` (or one of its members) is caught; an ``except`` for anything
  else must translate it (end in ``raise``); never a bare ``except``, ``Exception`` or
  ``BaseException``;
- test mode is read as ``__opts__["test"]`` (one way, never ``__opts__.get("test")``);
- every public state function (``mod_*`` hooks aside) is decorated with
  ``@chain_state_args.checked(...)``, so a typo or a wrong type fails that state alone.

The checker is tested on bad snippets first (each must be caught), so it can fail.
"""

import ast
import pathlib
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
STATES = sorted(p for p in (REPO / "_states").glob("*.py") if p.name != "__init__.py")

#: Modules another part of the work moves to the convention: checked, but a violation is an
#: expected failure (listed) until it is fixed; once they comply the test passes for them too.
#: State modules allowed to break the convention for now, with the reason.
PENDING = {}

CAUGHT_NAMES = {"CommandExecutionError", "SaltInvocationError"}
NEVER_CAUGHT = {"Exception", "BaseException"}
SKELETON = {"name", "result", "comment", "changes"}


def _is_attr_call(node, owner, attr):
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attr
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == owner
    )


def _calls(func, owner, attr):
    return any(_is_attr_call(node, owner, attr) for node in ast.walk(func))


def _handed_over(func):
    """Names of module functions whose call ``func`` returns (``return helper(...)``)."""
    return {
        node.value.func.id
        for node in ast.walk(func)
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    }


def _builds_ret(name, functions, seen=()):
    func = functions.get(name)
    if func is None or name in seen:
        return False
    if _calls(func, "chain_states", "new_ret"):
        return True
    return any(_builds_ret(callee, functions, (*seen, name)) for callee in _handed_over(func))


def _is_checked(func):
    """The function is decorated with ``chain_state_args.checked(...)``."""
    return any(
        isinstance(d, ast.Call) and ast.unparse(d.func) == "chain_state_args.checked"
        for d in func.decorator_list
    )


def _caught_names(handler):
    """The exception names an ``except`` clause catches (``None``: a bare ``except``)."""
    if handler.type is None:
        return None
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [ast.unparse(t) for t in types]


def _check_handlers(tree):
    """The ``except`` clauses of the module's functions (the import idiom at the top is not a
    state's business)."""
    handlers = (
        node for func in tree.body if isinstance(func, ast.FunctionDef) for node in ast.walk(func)
    )
    for node in handlers:
        if not isinstance(node, ast.ExceptHandler):
            continue
        names = _caught_names(node)
        where = f"line {node.lineno}"
        if names is None:
            yield f"{where}: a bare except (catch chain_states.CAUGHT)"
            continue
        if NEVER_CAUGHT & {n.rsplit(".", 1)[-1] for n in names}:
            yield f"{where}: catches {', '.join(names)} (catch chain_states.CAUGHT)"
            continue
        if names == ["chain_states.CAUGHT"] or (len(names) == 1 and names[0] in CAUGHT_NAMES):
            continue
        if set(names) <= CAUGHT_NAMES:
            yield f"{where}: catches ({', '.join(names)}) (write chain_states.CAUGHT)"
            continue
        if not (node.body and isinstance(node.body[-1], ast.Raise)):
            yield f"{where}: catches {', '.join(names)} without translating it (end in raise)"


def _is_false(value):
    return isinstance(value, ast.Constant) and value.value is False


def _sets_result_false(node):
    if isinstance(node, ast.Assign):
        return any(
            isinstance(t, ast.Subscript)
            and isinstance(t.slice, ast.Constant)
            and t.slice.value == "result"
            and _is_false(node.value)
            for t in node.targets
        )
    if isinstance(node, ast.Call):
        return any(k.arg == "result" and _is_false(k.value) for k in node.keywords)
    if isinstance(node, ast.Dict):
        return any(
            isinstance(k, ast.Constant) and k.value == "result" and _is_false(v)
            for k, v in zip(node.keys, node.values, strict=True)
        )
    return False


def violations(source):
    """What a state module's source does against the convention (empty: it keeps it)."""
    tree = ast.parse(source)
    found = []
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    virtual = functions.get("__virtual__")
    if virtual is None or not _calls(virtual, "chain_states", "needs"):
        found.append("__virtual__ does not answer with chain_states.needs")
    for name in functions:
        if not name.startswith("_") and not _builds_ret(name, functions):
            found.append(f"{name}: its return does not start as chain_states.new_ret")
        if not name.startswith(("_", "mod_")) and not _is_checked(functions[name]):
            found.append(f"{name}: not decorated with @chain_state_args.checked()")
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if SKELETON <= keys:
                found.append(f"line {node.lineno}: a hand-made return (use chain_states.new_ret)")
        if _sets_result_false(node):
            found.append(f"line {node.lineno}: result set to False (use chain_states.fail)")
        if (
            _is_attr_call(node, "__opts__", "get")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "test"
        ):
            found.append(f'line {node.lineno}: __opts__.get("test") (read __opts__["test"])')
    found.extend(_check_handlers(tree))
    return found


# ------------------------------------------------------------------------------ the checker

GOOD = """
from salt.exceptions import CommandExecutionError
import chain_state_args
import chain_states

def __virtual__():
    return chain_states.needs(__salt__, "thing", "thing.get")

@chain_state_args.checked()
def present(name):
    ret = chain_states.new_ret(name)
    try:
        if __salt__["thing.get"](name) is None:
            return chain_states.fail(ret, f"Thing {name} does not exist")
        chain_states.act(ret, __opts__["test"], f"Thing {name}", "fixed", lambda: None)
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret

@chain_state_args.checked()
def absent(name):
    return _one(name)

def mod_watch(name, **kwargs):
    return _one(name)

def _one(name):
    ret = chain_states.new_ret(name)
    try:
        with open(name) as handle:
            handle.read()
    except OSError as err:
        raise CommandExecutionError(str(err)) from err
    except CommandExecutionError:
        pass
    return ret
"""

BAD = [
    (
        "a state function Salt binds itself",
        "def present(name):\n    ret = chain_states.new_ret(name)\n    return ret\n",
        "present: not decorated with @chain_state_args.checked()",
    ),
    (
        "another decorator",
        "@functools.wraps(f)\ndef present(name):\n    ret = chain_states.new_ret(name)\n"
        "    return ret\n",
        "present: not decorated with @chain_state_args.checked()",
    ),
    (
        "a hand-made return",
        'def present(name):\n    return {"name": name, "result": True, "comment": "", '
        '"changes": {}}\n',
        "a hand-made return",
    ),
    (
        "a public function without new_ret",
        "def present(name):\n    return dict(name=name)\n",
        "present: its return does not start as chain_states.new_ret",
    ),
    (
        "result set by hand",
        "def present(name):\n    ret = chain_states.new_ret(name)\n"
        '    ret["result"] = False\n    return ret\n',
        "result set to False",
    ),
    (
        "result updated by hand",
        "def present(name):\n    ret = chain_states.new_ret(name)\n"
        "    ret.update(result=False, comment='x')\n    return ret\n",
        "result set to False",
    ),
    (
        "except Exception",
        "def present(name):\n    ret = chain_states.new_ret(name)\n    try:\n        pass\n"
        "    except Exception as err:\n        chain_states.fail(ret, err)\n    return ret\n",
        "catches Exception",
    ),
    (
        "a bare except",
        "def present(name):\n    ret = chain_states.new_ret(name)\n    try:\n        pass\n"
        "    except:\n        chain_states.fail(ret, 'x')\n    return ret\n",
        "a bare except",
    ),
    (
        "CAUGHT spelt out",
        "def present(name):\n    ret = chain_states.new_ret(name)\n    try:\n        pass\n"
        "    except (CommandExecutionError, SaltInvocationError) as err:\n"
        "        chain_states.fail(ret, err)\n    return ret\n",
        "write chain_states.CAUGHT",
    ),
    (
        "another exception swallowed",
        "def present(name):\n    ret = chain_states.new_ret(name)\n    try:\n        pass\n"
        "    except KeyError:\n        pass\n    return ret\n",
        "catches KeyError without translating it",
    ),
    (
        "test mode read another way",
        "def present(name):\n    ret = chain_states.new_ret(name)\n"
        '    test = __opts__.get("test")\n    return ret\n',
        '__opts__.get("test")',
    ),
    (
        "a __virtual__ of its own",
        'def __virtual__():\n    return "thing"\n',
        "__virtual__ does not answer with chain_states.needs",
    ),
]


def test_the_checker_passes_a_state_that_keeps_the_convention():
    assert violations(GOOD) == []


@pytest.mark.parametrize("snippet, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_checker_finds_each_breach(snippet, expected):
    virtual = 'def __virtual__():\n    return chain_states.needs(__salt__, "t", "t.get")\n'
    source = snippet if "__virtual__" in snippet else virtual + snippet
    found = violations(textwrap.dedent(source))
    assert any(expected in line for line in found), found


# ------------------------------------------------------------------------------ the states


def test_every_state_module_is_checked():
    assert len(STATES) >= 12 and {p.name for p in STATES} >= {"container.py", "jenkins_jobs.py"}


@pytest.mark.parametrize("path", STATES, ids=lambda p: p.name)
def test_state_module_keeps_the_convention(path):
    found = violations(path.read_text())
    if found and path.name in PENDING:
        pytest.xfail(f"{PENDING[path.name]}: " + "; ".join(found))
    assert not found, f"_states/{path.name}: " + "; ".join(found)


def test_the_example_state_of_the_contributors_page_keeps_the_convention():
    page = (REPO / "docs" / "state-conventions.md").read_text()
    blocks = [b.split("```", 1)[0] for b in page.split("```python\n")[1:]]
    (example,) = [b for b in blocks if "def __virtual__" in b]
    assert violations(example) == []
    assert "chain_states.fail(" in example and "chain_states.act(" in example
