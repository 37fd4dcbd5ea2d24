"""
The return every state module builds, and the step they all take once they know what to
change: under ``test=True`` say what would happen (``result: None``), else do it and say what
was done, in the same words. The action is passed in (a ``__salt__`` function bound to its
arguments), so nothing here touches Salt's dunders.

The convention every state module keeps (``docs/state-conventions.md`` says it for
contributors):

* the return starts as :func:`new_ret`;
* a failure is reported by :func:`fail`: the comment's first line names what failed, in one
  line; the error's further lines (a console tail, a container's last log lines) follow; then
  one line with the steps already done, so a person knows where things stand;
* ``test=True`` goes through :func:`act` (or reports ``result: None`` with the would-be
  ``changes`` itself) and never calls a function that writes;
* only :data:`CAUGHT` is caught: a bad argument or a backend's answer. Anything else is a bug
  and Salt shows it as one.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

#: What a state catches and turns into ``result: False``.
CAUGHT = (CommandExecutionError, SaltInvocationError)


def new_ret(name):
    """A state's return skeleton."""
    return {"name": name, "result": True, "comment": "", "changes": {}}


def act(ret, test, what, verb, action):
    """``"<what> would be <verb>"`` under test, else run ``action()`` and say
    ``"<what> <verb>"``; returns ``ret``."""
    if test:
        ret.update(result=None, comment=f"{what} would be {verb}")
    else:
        action()
        ret["comment"] = f"{what} {verb}"
    return ret


def needs(salt, virtualname, *functions):
    """The ``__virtual__`` answer of a state module that calls these execution module
    functions (``salt``: the loader's ``__salt__``): its name, or why it cannot load."""
    if all(func in salt for func in functions):
        return virtualname
    modules = sorted({func.split(".", 1)[0] for func in functions})
    plural = "s" if len(modules) > 1 else ""
    return (False, f"the {' and '.join(modules)} execution module{plural} did not load")


def fail(ret, err, done=(), changes=None):
    """Report a failure the one way: ``result: False``, the comment's first line names what
    failed (the first line of ``err``), the rest of ``err`` follows, then ``already done: ...``
    with ``done`` (the steps taken before the failure, in order). ``changes`` replaces the
    return's changes when given (what was really changed before the failure; ``{}`` under
    test). Returns ``ret``."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()] or ["failed"]
    if done:
        lines.append("already done: " + "; ".join(done))
    ret.update(result=False, comment="\n".join(lines))
    if changes is not None:
        ret["changes"] = changes
    return ret
