"""
Jenkins/Maven-style version ordering (``hudson.util.VersionNumber``): ``2.10`` > ``2.9``,
``1.2.3-beta`` < ``1.2.3``, ``1.0-SNAPSHOT`` < ``1.0``, trailing zeros ignored.

Pure; shared code (``saltext.chain.utils``).
"""

import re

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

_QUALIFIERS = {
    "alpha": 0,
    "a": 0,
    "beta": 1,
    "b": 1,
    "milestone": 2,
    "m": 2,
    "rc": 3,
    "cr": 3,
    "snapshot": 4,
    "": 5,
    "ga": 5,
    "final": 5,
    "release": 5,
    "sp": 6,
}


def items(version):
    """A version as ``[(1, number) | (0, qualifier), ...]`` without trailing zeros.

    A float is refused: Salt's command line reads ``2.10`` as the number 2.1, and which digits
    were typed can no longer be told (``2.10`` and ``2.1`` are the same float)."""
    if isinstance(version, float):
        raise chain_errors.BadInput(
            f"version {version!r} arrived as a number (Salt's command line reads 2.10 as 2.1): "
            f"quote it as a string, e.g. '\"{version}\"'"
        )
    text = str(version).strip().lower()
    if not text:
        raise chain_errors.BadInput("empty version")
    out = []
    for part in re.split(r"[.\-_+~]", text):
        for token in re.findall(r"\d+|[a-z]+", part):
            out.append((1, int(token)) if token.isdigit() else (0, token))
    while out and out[-1] in ((1, 0), (0, "")):
        out.pop()
    return out


def _qual_rank(token):
    return (_QUALIFIERS[token], "") if token in _QUALIFIERS else (7, token)


def _sign(a, b):
    return (a > b) - (a < b)


def _item_cmp(a, b):
    """Compare two items; None stands for 'nothing here' (a release, i.e. 0)."""
    if a is None and b is None:
        return 0
    if a is None:
        return -_item_cmp(b, None)
    if b is None:
        if a[0] == 1:
            return _sign(a[1], 0)
        return _sign(_qual_rank(a[1]), _qual_rank(""))
    if a[0] != b[0]:
        return 1 if a[0] == 1 else -1  # a number outranks a qualifier
    if a[0] == 1:
        return _sign(a[1], b[1])
    return _sign(_qual_rank(a[1]), _qual_rank(b[1]))


def compare(left, right):
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``."""
    a, b = items(left), items(right)
    for i in range(max(len(a), len(b))):
        res = _item_cmp(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
        if res:
            return res
    return 0
