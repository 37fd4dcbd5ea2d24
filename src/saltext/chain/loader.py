"""Salt loader entry point.

The extension keeps Salt's classic top-level ``_modules/``, ``_states/``, ``_runners/``,
``_grains/`` and ``_beacons/`` directories. A wheel installs them as ``saltext.chain.<type>``
subpackages; an editable install maps the same names back onto the repository. Asking importlib
where each subpackage really lives works in both cases, which a package-style entry point does not.
"""

import importlib.util

_LOADER_DIRS = {
    "modules": "saltext.chain.modules",
    "states": "saltext.chain.states",
    "runners": "saltext.chain.runners",
    "grains": "saltext.chain.grains",
    "beacons": "saltext.chain.beacons",
}


def get_loader_dirs():
    """Return ``{loader type: [directories]}`` for Salt's extension discovery."""
    dirs = {}
    for ext_type, package in _LOADER_DIRS.items():
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            spec = None
        if spec is not None and spec.submodule_search_locations:
            dirs[ext_type] = [str(path) for path in spec.submodule_search_locations]
    return dirs
