"""
The return every state module builds, and the step they all take once they know what to
change: under ``test=True`` say what would happen (``result: None``), else do it and say what
was done, in the same words. The action is passed in (a ``__salt__`` function bound to its
arguments), so nothing here touches Salt's dunders.
"""


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
