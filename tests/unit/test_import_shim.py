"""The util import idiom of every loader module: the synced flat module is the fallback only
when the package is missing; an import error inside a util surfaces as it is (issue 15: the old
``except ImportError`` turned a util's missing dependency into "No module named chain_x")."""

import importlib.abc
import importlib.util
import pathlib
import re
import sys

import pytest
import saltext.chain.utils as utils_pkg

REPO = pathlib.Path(__file__).resolve().parents[2]
DIRS = ["_modules", "_states", "_runners", "_grains", "_beacons", "_utils"]
FIRST_UTIL = re.compile(r"from saltext\.chain\.utils import \(?\s*(chain_\w+)")


def loader_modules():
    for top in DIRS:
        for path in sorted((REPO / top).glob("*.py")):
            match = FIRST_UTIL.search(path.read_text())
            if match:
                yield path, match.group(1)


class _Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``saltext.chain.utils.<util>`` fail the way a util with a missing third-party
    dependency fails."""

    def __init__(self, fullname):
        self.fullname = fullname

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.fullname:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ModuleNotFoundError(
            "No module named 'dependency_of_the_util'", name="dependency_of_the_util"
        )


def _load(path):
    spec = importlib.util.spec_from_file_location(
        f"shim_check_{path.parent.name}_{path.stem}", path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "path, util",
    sorted(loader_modules()),
    ids=lambda v: v.name if isinstance(v, pathlib.Path) else v,
)
def test_an_import_error_inside_a_util_surfaces(monkeypatch, path, util):
    fullname = f"saltext.chain.utils.{util}"
    monkeypatch.delitem(sys.modules, fullname, raising=False)
    monkeypatch.delattr(utils_pkg, util, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_Broken(fullname), *sys.meta_path])
    with pytest.raises(ImportError) as caught:
        _load(path)
    assert caught.value.name == "dependency_of_the_util", (
        f"{path.relative_to(REPO)} hid the util's own import error: {caught.value!r}"
    )


def test_the_synced_module_is_still_the_fallback_when_the_package_is_missing(monkeypatch, tmp_path):
    """The file_roots deployment: no ``saltext.chain`` package, the utils synced as flat modules."""
    for name in list(sys.modules):
        if name == "saltext" or name.startswith("saltext."):
            monkeypatch.delitem(sys.modules, name)

    class NoPackage(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == "saltext" or fullname.startswith("saltext."):
                raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
            return None

    monkeypatch.setattr(sys, "meta_path", [NoPackage(), *sys.meta_path])
    monkeypatch.syspath_prepend(str(REPO / "_utils"))
    module = _load(REPO / "_modules" / "container.py")
    assert module.chain_docker_spec.__file__ == str(REPO / "_utils" / "chain_docker_spec.py")
