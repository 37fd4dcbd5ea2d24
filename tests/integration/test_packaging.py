"""The pip deployment: the salt.loader entry point exposes the top-level _modules/_states/...
dirs as saltext.chain.*, for a wheel in a fresh virtualenv and for the editable install."""

import ast
import email
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO
from tests.support import engines

pytestmark = pytest.mark.integration


def _master_only(tree):
    """The module's ``__virtual__`` refuses a minion (it loads where ``__role`` is master)."""
    return any(
        isinstance(node, ast.FunctionDef)
        and node.name == "__virtual__"
        and "__role" in ast.unparse(node)
        for node in tree.body
    )


def _public_functions(kind, master=False):
    """``{"<virtualname>.<function>"}`` of every module in the tree's ``kind`` directory
    (``_modules``, ``_states``, ``_runners``), read from the source: its ``__virtualname__`` (the
    file's name without one), its public top-level functions, renamed by ``__func_alias__``.
    Derived, not listed: a module added to the tree is expected to load, and a module that fails
    to load in the package (its ``__virtual__`` refusing, an import missing) fails the check."""
    out = set()
    for path in sorted((REPO / kind).glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if kind != "_runners" and _master_only(tree) is not master:
            continue
        consts = {
            t.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        virtual = (
            ast.literal_eval(consts["__virtualname__"])
            if "__virtualname__" in consts
            else path.stem
        )
        alias = ast.literal_eval(consts["__func_alias__"]) if "__func_alias__" in consts else {}
        out |= {
            f"{virtual}.{alias.get(node.name, node.name)}"
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        }
    assert out or master, f"no public function found in {kind}"
    return out


EXPECTED = {
    "sys.list_functions": _public_functions("_modules"),
    "sys.list_state_functions": _public_functions("_states"),
    "sys.list_runner_functions": _public_functions("_runners"),
}
# The master's own states (chain.stage, chain.rolled_out: salt-run state.orchestrate), loaded
# with the master's role.
MASTER_STATES = _public_functions("_states", master=True)
EXPECTED_STATES = {f.split(".")[0] for f in EXPECTED["sys.list_state_functions"]}
EXPECTED_MODULES = {f.split(".")[0] for f in EXPECTED["sys.list_functions"]}
MASTER_LOAD = """
import json, sys, salt.config, salt.loader
opts = salt.config.minion_config(sys.argv[1])
opts["__role"] = "master"
utils = salt.loader.utils(opts)
mods = salt.loader.minion_mods(opts, utils=utils)
print(json.dumps(sorted(salt.loader.states(opts, mods, utils, {}))))
"""


def _check_functions(bindir, conf, python=None, runners=True):
    """Every public function of every module of the tree is loaded (derived from the source).
    ``runners=False``: a minion's ``saltutil.sync_all`` syncs no runners (the master's
    ``salt-run saltutil.sync_runners`` does)."""
    for lister, wanted in EXPECTED.items():
        if lister == "sys.list_runner_functions" and not runners:
            continue
        loaded = set(_salt_call(bindir, conf, lister, python=python))
        assert wanted <= loaded, f"{lister}: not loaded: {sorted(wanted - loaded)}"
    out = subprocess.run(
        [str(python or bindir / "python"), "-c", MASTER_LOAD, str(conf / "minion")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=conf,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert MASTER_STATES <= loaded, f"master states not loaded: {sorted(MASTER_STATES - loaded)}"


def _local_config(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        yaml.safe_dump(
            {
                "id": "pkg-check",
                "root_dir": str(tmp_path / "root"),
                "file_client": "local",
                "file_roots": {"base": [str(tmp_path / "empty")]},
            }
        )
    )
    (tmp_path / "empty").mkdir()
    return conf


def _salt_call(bindir, conf, *args, python=None):
    # `python`: run salt-call's entry point with that interpreter (a venv without console scripts)
    cmd = (
        [
            str(python),
            "-c",
            "import sys; from salt.scripts import salt_call; "
            "sys.argv[0] = 'salt-call'; salt_call()",
        ]
        if python
        else [str(bindir / "salt-call")]
    )
    out = subprocess.run(
        [*cmd, "--local", "-c", str(conf), "--out=json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=conf,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)["local"]


def _check(bindir, conf, python=None):
    states = set(_salt_call(bindir, conf, "sys.list_state_modules", python=python))
    assert EXPECTED_STATES <= states, sorted(states)
    spec = _salt_call(
        bindir,
        conf,
        "container.normalize",
        "image=app/web:1",
        'ports=["127.0.0.1:8080:80"]',
        python=python,
    )
    assert spec == {"image": "app/web:1", "ports": {"80/tcp": [["127.0.0.1", "8080"]]}}
    modules = set(_salt_call(bindir, conf, "sys.list_modules", python=python))
    assert EXPECTED_MODULES <= modules, sorted(modules)
    (conf.parent / "empty" / "pkg.yaml").write_text(
        "- job:\n    name: pkg\n    builders:\n      - shell: 'true'\n"
    )
    xml = _salt_call(bindir, conf, "jenkins.job_render", "salt://pkg.yaml", python=python)
    assert "<hudson.tasks.Shell>" in xml["pkg"]
    _check_grain(bindir, conf, python=python)
    _check_functions(bindir, conf, python=python)


def _check_grain(bindir, conf, python=None):
    # grains.item answers {"container_engine": ""} for a grain that is not there: check its content
    # against the engine itself (the default profile: the local socket, engine 1).
    grain = _salt_call(bindir, conf, "grains.get", "container_engine", python=python)
    assert isinstance(grain, dict) and grain.get("available") is True, grain
    client = engines.client("engine1")
    try:
        version = client.version()["Version"]
    finally:
        client.close()
    assert grain["engine_version"] == version and grain["profile"] == "default", grain


def test_editable_install_needs_no_sync(tmp_path):
    _check(REPO / ".venv" / "bin", _local_config(tmp_path))


def _declared_closure(requirements):
    """The distributions of the project's venv that ``requirements`` (Requires-Dist lines)
    need, transitively: markers evaluated, extras followed. Fails on a requirement that the
    project's venv does not satisfy (then the fast path proves nothing: install it first)."""
    seen, todo = {}, [(r, "") for r in requirements]
    while todo:
        line, extra = todo.pop()
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        key = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req} is not installed in the project's venv")
        assert req.specifier.contains(dist.version, prereleases=True), (str(req), dist.version)
        wanted = {extra for extra in req.extras}
        done = seen.setdefault(key, (dist, set()))[1]
        for extra_name in ({""} | wanted) - done:
            done.add(extra_name)
            todo.extend((r, extra_name) for r in dist.requires or ())
    return [dist for dist, _ in seen.values()]


def _site_of(dists, shadow):
    """A directory of links to the files of ``dists`` (and of no other installed distribution:
    a directory shared with another one, e.g. a namespace package, is made and filled entry by
    entry)."""
    site = pathlib.Path(next(iter(dists)).locate_file(""))
    wanted, others = set(), set()
    names = {canonicalize_name(d.metadata["Name"]) for d in dists}
    for dist in metadata.distributions(path=[str(site)]):
        files = dist.files
        assert files is not None, f"{dist.metadata['Name']} has no RECORD"
        target = wanted if canonicalize_name(dist.metadata["Name"]) in names else others
        for f in files:
            if f.parts and f.parts[0] != ".." and not f.name.endswith(".pth"):
                target.update(pathlib.PurePath(*f.parts[: i + 1]) for i in range(len(f.parts)))

    def place(rel):
        if rel not in others or not (site / rel).is_dir():
            os.symlink(site / rel, shadow / rel)
            return
        (shadow / rel).mkdir()
        for child in sorted((site / rel).iterdir()):
            if rel / child.name in wanted:
                place(rel / child.name)

    shadow.mkdir()
    for top in sorted({p for p in wanted if len(p.parts) == 1}):
        place(top)
    return shadow


def test_wheel_in_a_fresh_virtualenv_needs_no_sync(tmp_path):
    """The wheel, built from a clean copy of the tree, installed by pip into a fresh venv that
    holds nothing but what the wheel declares (Requires-Dist, transitively). The declared
    distributions come as links to the project venv's installed copies: installing salt and
    the rest anew from the index took most of a minute and proved only that the index serves
    them (bootstrap's install of the project proves that). A requirement missing from the
    wheel's metadata is missing from this venv too."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".state",
            ".git",
            "__pycache__",
            "*.egg-info",
            "build",
            "tests",
            "benchmarks",
            "docs",
        ),
    )
    wheels = tmp_path / "wheels"
    pip = str(REPO / ".venv" / "bin" / "pip")
    subprocess.run(
        [pip, "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)], check=True, timeout=300
    )
    (wheel,) = wheels.glob("saltext_chain-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        requires = email.message_from_bytes(zf.read(meta)).get_all("Requires-Dist")
    assert any(r.startswith("salt") for r in requires), requires
    deps = _site_of(_declared_closure(requires), tmp_path / "deps")
    assert (deps / "salt").is_dir() and not list(deps.glob("saltext*")), sorted(deps.iterdir())

    venv = tmp_path / "venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv],
        check=True,
        timeout=120,
    )
    (venv_site,) = (venv / "lib").glob("python3*/site-packages")
    (venv_site / "deps.pth").write_text(f"{deps}\n")
    python = venv / "bin" / "python"
    subprocess.run(
        [pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
        + ["--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=300,
    )
    # pip installed the wheel into the fresh venv (its console script too), and that copy is
    # the one Python imports, not the checkout's editable install.
    assert (venv / "bin" / "jenkins-emulator").exists()
    where = subprocess.run(
        [str(python), "-c", "import saltext.chain as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(str(venv_site)), where
    _check(None, _local_config(tmp_path), python=python)


def _venv_without_the_package(tmp_path):
    """A fresh venv with the dependencies of the project's venv but WITHOUT saltext-chain.

    Installing salt and the other dependencies anew takes minutes; instead the new venv sees a
    directory of links to every entry of the project's site-packages except saltext-chain's
    (its dist-info, which carries the salt.loader entry point, and its editable-install finder).
    """
    site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    shadow = tmp_path / "deps"
    shadow.mkdir()
    for entry in site.iterdir():
        low = entry.name.lower()
        if "saltext_chain" in low or "saltext-chain" in low or low.endswith(".pth"):
            continue
        os.symlink(entry, shadow / entry.name)
    venv = tmp_path / "bare-venv"
    subprocess.run(
        [
            getattr(sys, "_base_executable", sys.executable),
            "-m",
            "venv",
            "--without-pip",
            str(venv),
        ],
        check=True,
        timeout=120,
    )
    (venv_site,) = (venv / "lib").glob("python3*/site-packages")
    (venv_site / "deps.pth").write_text(f"{shadow}\n")
    return venv / "bin" / "python"


def test_file_roots_and_sync_all_without_the_package(tmp_path):
    """The classic deployment: the extension dirs in file_roots, `saltutil.sync_all`, no pip
    package. The synced modules import the shared code as flat `chain_*` modules from the synced
    utils dir (the fallback of the import idiom)."""
    python = _venv_without_the_package(tmp_path)
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, importlib.util as u, salt, docker, jenkins; "
            "print(u.find_spec('saltext.chain') is None if u.find_spec('saltext') else True, "
            "[d.metadata['Name'] for d in m.distributions() "
            "if 'chain' in (d.metadata['Name'] or '').lower()])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert probe.stdout.split(maxsplit=1) == ["True", "[]\n"], (
        probe.stdout
    )  # no saltext.chain at all

    srv = tmp_path / "srv"
    for kind in ("_modules", "_states", "_runners", "_grains", "_beacons", "_utils"):
        if (REPO / kind).is_dir():
            shutil.copytree(
                REPO / kind, srv / kind, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
    (srv / "pkg.yaml").write_text("- job:\n    name: pkg\n    builders:\n      - shell: 'true'\n")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        yaml.safe_dump(
            {
                "id": "sync-check",
                "root_dir": str(tmp_path / "root"),
                "file_client": "local",
                "file_roots": {"base": [str(srv)]},
            }
        )
    )

    synced = _salt_call(None, conf, "saltutil.sync_all", python=python)
    assert "utils.chain_errors" in synced["utils"] and "utils.chain_profiles" in synced["utils"], (
        synced
    )
    assert {"modules.container", "modules.jenkins"} <= set(synced["modules"]), synced
    assert {"states.container", "states.jenkins_job"} <= set(synced["states"]), synced

    modules = set(_salt_call(None, conf, "sys.list_modules", python=python))
    assert EXPECTED_MODULES <= modules, sorted(modules)  # a failed `import chain_errors` drops them
    states = set(_salt_call(None, conf, "sys.list_state_modules", python=python))
    assert EXPECTED_STATES <= states, sorted(states)
    conn = _salt_call(None, conf, "container.connection", python=python)
    # no base_url configured: the docker SDK's default (DOCKER_HOST, else the local socket)
    assert conn["name"] == "default" and conn["base_url"] in (None, engines.ENGINES["engine1"]), (
        conn
    )
    xml = _salt_call(None, conf, "jenkins.job_render", "salt://pkg.yaml", python=python)
    assert "<hudson.tasks.Shell>" in xml["pkg"]
    _check_grain(None, conf, python=python)
    _check_functions(None, conf, python=python, runners=False)
    # A state, with the engine: nothing to remove, in test mode and live, no change.
    name = engines.name("pkg-vol")
    for extra in ("test=True", "test=False"):
        ret = _salt_call(
            None,
            conf,
            "state.single",
            "container_volume.absent",
            f"name={name}",
            extra,
            python=python,
        )
        (state,) = ret.values()
        assert state["result"] is True and state["changes"] == {}, state
