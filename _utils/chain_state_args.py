"""
The arguments of every state function, checked in one place before the state runs.

Salt matches a state's arguments against the function's signature itself
(``salt.utils.args.format_call``, called by ``salt.state.State.call``): an argument the function
does not take raises ``SaltInvocationError`` there, outside any state, and the whole
``state.apply`` aborts with "Passed invalid arguments" and no state results. A missing required
argument does the same. :func:`checked` gives the state function the signature Salt reads (its
own parameters, every one with a default, and ``**kwargs``), so Salt hands it whatever the
formula wrote; the wrapper then answers a typo, an old option, a missing argument or a value of
the wrong type with a failed state result of that state alone, in one line::

    unknown argument 'drivr': did you mean 'driver'? (container_network.present takes: ...)

Salt's own keywords never reach the check: ``format_call`` keeps ``STATE_INTERNAL_KEYWORDS``
(requisites, ``__env__``, ``__pub_*``, ``saltenv``...) for itself unless the function declares
them, and names starting with ``_`` are Salt's too.

How Salt sees the wrapper: ``get_function_argspec`` follows ``__wrapped__``, so the wrapper has
none and carries ``__signature__`` instead; and Salt injects ``__low__``/``__running__``/
``__env__`` into the globals of the function it calls, so the wrapper is rebuilt with the state
module's globals (``types.FunctionType``) and those land where the state reads them.

The wrong-type check is derived from each parameter's default: a boolean default takes what
``chain_errors.as_bool`` takes, a number default a number, a string default a string (``None``
passes: the state decides). Anything finer stays in the state, before its first I/O.
"""

import difflib
import functools
import inspect
import types

try:
    from saltext.chain.utils import chain_errors, chain_states
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_states

try:
    from salt.state import STATE_INTERNAL_KEYWORDS
except ImportError:  # pragma: no cover - Salt always has it
    STATE_INTERNAL_KEYWORDS = frozenset()

#: Keywords Salt's state system uses beside STATE_INTERNAL_KEYWORDS; never an unknown argument.
SALT_KEYWORDS = frozenset(STATE_INTERNAL_KEYWORDS) | {"test", "provider", "names", "pillar"}

_OLD_CONTAINER = "Salt's old docker_container.running option"

#: The arguments of Salt's old ``docker_*`` states that are gone, per state: what to write
#: instead (the migration table of docs/container.md).
REMOVED = {
    "container.running": {
        "force": "declared differences recreate; comparisons chooses strict, ignore or "
        "allow_more_present per field",
        "start": "use container.stopped for start: false",
        "shutdown_timeout": "use stop_timeout (seconds of grace)",
        "client_timeout": "use the engine profile's timeout",
        "skip_translate": "input is always validated and normalised",
        "ignore_collisions": "input is always validated and normalised",
        "validate_ip_addrs": "input is always validated and normalised",
        "cpu_group": "Windows only (not in Engine API 1.41 for Linux)",
        "isolation": "Windows only",
        "lxc_conf": "removed from the Docker Engine API",
        "detach": "containers are always created detached",
        "host_config": "give the options themselves; the body is derived from them",
    },
    "container_image.present": {
        "force": "use pull: always",
        "tag": "give one reference as name (repo:tag)",
        "load": "not supported: build from a Dockerfile",
        "sls": "not supported: build from a Dockerfile",
        "base": "not supported: build from a Dockerfile",
        "insecure_registry": "loopback registries need no flag",
        "client_timeout": "use the engine profile's timeout",
    },
    "container_network.present": {
        "driver_opts": "use options",
        "ipam_pools": "use subnet and gateway (one pool)",
        "containers": "containers declare networks; a recreated network reconnects them",
        "reconnect": "containers declare networks; a recreated network reconnects them",
    },
    "container_volume.present": {
        "force": "use recreate: options-changed (the volume's data is lost)",
    },
}
REMOVED["container_service.running"] = REMOVED["container.running"]


class _Required:
    """The default the exposed signature gives a required parameter (Salt then passes the
    state a value for every parameter, and the wrapper reports the missing one)."""

    def __repr__(self):
        return "<required>"


REQUIRED = _Required()


class Rules:
    """What one state function takes: its own parameters (with defaults), the names its
    ``**kwargs`` accept, the removed old names; checks a call against them."""

    def __init__(self, func, accepts=(), removed=None):
        params = inspect.signature(func).parameters.values()
        self.func = func
        self.params = {
            p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        self.more = any(p.kind is p.VAR_KEYWORD for p in params)
        if accepts and not self.more:
            raise TypeError(f"{func.__name__}: accepts= needs a function with **kwargs")
        self.accepts = frozenset(accepts)
        self.removed = removed

    @property
    def full(self):
        """``<virtualname>.<function>`` as a formula writes it."""
        module = self.func.__globals__.get("__virtualname__") or self.func.__module__
        return f"{module.rsplit('.', 1)[-1]}.{self.func.__name__}"

    def names(self):
        """Every name the state takes (its parameters, then the options of its ``**kwargs``)."""
        return [n for n in self.params if n != "name"] + sorted(self.accepts - set(self.params))

    def signature(self):
        """The signature Salt reads: every parameter with a default, and ``**kwargs``."""
        params = []
        for param in self.params.values():
            if param.name != "name" and param.default is param.empty:
                param = param.replace(default=REQUIRED)
            params.append(param.replace(kind=param.POSITIONAL_OR_KEYWORD))
        params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
        return inspect.Signature(params)

    def problem(self, kwargs):
        """The one-line answer to a bad call, or None when the arguments are good."""
        missing = [
            k
            for k, p in self.params.items()
            if k != "name" and p.default is p.empty and kwargs.get(k, REQUIRED) is REQUIRED
        ]
        if missing:
            return f"missing argument {_quoted(missing)}: {self.full} needs it"
        removed = self.removed if self.removed is not None else REMOVED.get(self.full, {})
        unknown = [k for k in kwargs if not self._known(k)]
        old = [k for k in unknown if k in removed]
        if old:
            return "; ".join(f"argument '{k}' is no longer taken: {removed[k]}" for k in old)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, self.names(), n=1, cutoff=0.76)
                hints.append(
                    f"unknown argument '{key}'" + (f": did you mean '{close[0]}'?" if close else "")
                )
            return f"{'; '.join(hints)} ({self.full} takes: {', '.join(self.names())})"
        for key, value in kwargs.items():
            param = self.params.get(key)
            if param is not None and value is not None:
                wrong = wrong_type(key, value, param.default)
                if wrong:
                    return wrong
        return None

    def _known(self, key):
        return (
            key in self.params or key in self.accepts or key.startswith("_") or key in SALT_KEYWORDS
        )

    def call(self, args, kwargs):
        """Run the state, or return its failed result when the arguments are bad."""
        name = args[0] if args else kwargs.pop("name", None)
        kwargs = dict(
            zip([k for k in self.params if k != "name"], args[1:], strict=False), **kwargs
        )
        problem = self.problem(kwargs)
        if problem is not None:
            return chain_states.fail(chain_states.new_ret(name), problem, changes={})
        if not self.more:
            kwargs = {k: v for k, v in kwargs.items() if k in self.params}
        else:
            kwargs = {
                k: v
                for k, v in kwargs.items()
                if k in self.params or k in self.accepts or k not in SALT_KEYWORDS
            }
        return self.func(name, **kwargs)


def wrong_type(key, value, default):
    """``"<key>: expected ..."`` when ``value`` is not of the kind of ``default`` (a bool, a
    number or a string default; any other default checks nothing), else None."""
    try:
        if isinstance(default, bool):
            chain_errors.as_bool(value, key)
        elif isinstance(default, (int, float)):
            chain_errors.as_number(value, key)
        elif isinstance(default, str) and not isinstance(value, str):
            return f"{key}: expected a string, got {value!r}"
    except chain_errors.BadInput as err:
        return str(err)
    return None


def _quoted(names):
    return ", ".join(f"'{n}'" for n in names)


def checked(accepts=(), removed=None):
    """Decorate a state function so Salt passes it any argument and a bad one fails only
    this state (see the module docstring). ``accepts``: the option names its ``**kwargs``
    take; ``removed``: ``{old name: what to write instead}`` (default: :data:`REMOVED` for
    the state)."""

    def decorate(func):
        rules = Rules(func, accepts, removed)

        def template(*args, **kwargs):
            return rules.call(args, kwargs)

        # The state module's globals: Salt injects __low__/__running__ into the called
        # function's globals, which must be the ones the state reads.
        wrapper = types.FunctionType(
            template.__code__, func.__globals__, func.__name__, None, template.__closure__
        )
        functools.update_wrapper(wrapper, func)
        del wrapper.__wrapped__  # Salt's get_function_argspec would follow it
        wrapper.__signature__ = rules.signature()
        wrapper.rules = rules
        return wrapper

    return decorate


def is_checked(func):
    """True when ``func`` went through :func:`checked`."""
    return isinstance(getattr(func, "rules", None), Rules)
