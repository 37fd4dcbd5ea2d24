"""
The pillar of the ``chain`` and ``jenkins`` formulas, checked before anything is applied.

.. versionadded:: 0.4.0

Both formulas call :py:func:`validate` from their ``map.jinja`` with the pillar merged onto
``defaults.yaml``: a mistake (an unknown or misspelt key, a wrong type, a list where a mapping
goes, a missing pool image, an unknown pool option) fails the render of every sls of the formula,
so no state runs, with one line per mistake naming the key's full path and what it takes::

    Rendering SLS 'base:chain.deploy' failed: Problem running salt function in Jinja template:
    pillar chain: 2 mistakes, nothing was applied:
      chain:service:replicas: expected an integer, got 'two'
      chain:servers:web2:frontend:prot: unknown key (did you mean port? ...)

The checks live in ``saltext.chain.utils.chain_pillar_schema`` (see docs/configuration.md,
"Pillar validation").
"""

import salt.utils.yaml
from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_pillar_schema
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_pillar_schema

__virtualname__ = "chain_pillar"


def __virtual__():
    return __virtualname__


def _defaults(formula, saltenv):
    text = __salt__["cp.get_file_str"](f"salt://{formula}/defaults.yaml", saltenv=saltenv)
    if not text:
        raise SaltInvocationError(f"salt://{formula}/defaults.yaml: not found in {saltenv}")
    return (salt.utils.yaml.safe_load(text) or {}).get(formula) or {}


def validate(formula, data=None, defaults=None, saltenv="base"):
    """
    Check pillar ``formula`` (``chain`` or ``jenkins``): ``True``, or ``SaltInvocationError``
    listing every mistake, each as ``<full:key:path>: <what it takes>``.

    formula
        ``chain`` or ``jenkins``.
    data
        The pillar to check (the formula's ``map.jinja`` passes it merged onto its defaults);
        default: this minion's pillar ``formula``.
    defaults
        The formula's ``defaults.yaml`` mapping (its keys and their types are the schema);
        default: read from ``salt://<formula>/defaults.yaml``.

    CLI Example:

    .. code-block:: bash

        salt-call chain_pillar.validate chain
        salt '*' chain_pillar.validate jenkins
    """
    if defaults is None:
        defaults = _defaults(formula, saltenv)
    if data is None:
        data = __salt__["pillar.get"](formula, default=defaults, merge=True)
    chain_pillar_schema.check(formula, data, defaults)
    return True
