"""
One error hierarchy and one secret mask for every module, state, runner and grain of the chain.

Execution modules raise these; Salt reports ``SaltInvocationError`` (bad input, raised before any
I/O) and ``CommandExecutionError`` (the backend refused or did not answer) as one-line errors,
and states turn them into ``result: False`` with the message as the comment.

* :class:`BadInput` -- the caller's arguments are wrong (a ``SaltInvocationError``).
* :class:`BackendError` -- the engine or controller answered with an error (``status`` when it
  is an HTTP one); :class:`NotFound`, :class:`Conflict`, :class:`Unreachable` are its typed
  kinds, so callers turn "absent" into ``None``/``False`` without matching message text.

Nothing here imports Salt's dunders; it is shared code (``saltext.chain.utils``).
"""

import re

from salt.exceptions import CommandExecutionError, SaltInvocationError

#: What a secret is replaced with in ``comment``, ``changes``, logs and events.
MASK = "<hidden>"

#: Names (environment variables, XML elements, parameter names) whose values are secrets.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)


class BadInput(SaltInvocationError):
    """An argument is malformed; raised before any request reaches a backend."""


class BackendError(CommandExecutionError):
    """A backend (Docker engine, Jenkins controller, registry) answered with an error."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class NotFound(BackendError):
    """The object does not exist (HTTP 404)."""


class Conflict(BackendError):
    """The object exists in a state that refuses the request (HTTP 409, a name in use)."""


class Unreachable(BackendError):
    """The backend did not answer (connection refused, timeout, TLS failure)."""


def is_secret_name(name):
    """True when a key or element name says its value is a secret."""
    return bool(SECRET_NAME.search(str(name)))


def mask_mapping(mapping):
    """A copy of ``mapping`` with the values of secret-named keys replaced by :data:`MASK`."""
    return {k: (MASK if is_secret_name(k) else v) for k, v in mapping.items()}


def scrub(text, secrets):
    """``text`` with every occurrence of each non-empty secret replaced by :data:`MASK`."""
    text = str(text)
    for secret in sorted({str(s) for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def check_type(value, types, field, expected):
    """Return ``value`` when it is an instance of ``types`` (bool never counts as a number)."""
    if isinstance(value, bool) and bool not in _as_tuple(types):
        raise BadInput(f"{field}: expected {expected}, got {value!r}")
    if not isinstance(value, types):
        raise BadInput(f"{field}: expected {expected}, got {value!r}")
    return value


def as_int(value, field, minimum=None, maximum=None):
    """An integer argument (``"5"`` is accepted, ``"x"``, ``True`` and ``1.5`` are not)."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise BadInput(f"{field}: expected an integer, got {value!r}")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise BadInput(f"{field}: expected an integer, got {value!r}") from None
    _check_range(number, field, minimum, maximum)
    return number


def as_number(value, field, minimum=None, maximum=None):
    """A number argument (int, float or a numeric string; not a bool, NaN or infinity)."""
    if isinstance(value, bool):
        raise BadInput(f"{field}: expected a number, got {value!r}")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{field}: expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadInput(f"{field}: expected a finite number, got {value!r}")
    _check_range(number, field, minimum, maximum)
    return number


def as_bool(value, field):
    """A boolean argument.

    ``"true"``/``"false"``/``"yes"``/``"no"``/``1``/``0`` as Salt's CLI gives them.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise BadInput(f"{field}: expected true or false, got {value!r}")


_BOOL_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def _check_range(number, field, minimum, maximum):
    if minimum is not None and number < minimum:
        raise BadInput(f"{field}: must be at least {minimum}, got {number:g}")
    if maximum is not None and number > maximum:
        raise BadInput(f"{field}: must be at most {maximum}, got {number:g}")


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)
