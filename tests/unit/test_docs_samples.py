"""The sample outputs of README.md and docs/*.md (written by scripts/gen_samples.py from a real
run on the embedded default) still have the shape the code produces.

Compared, without a chain: the JSON samples' keys and value types with the returns of the
runner functions themselves (``chain.rollout`` for real and under ``test=True``,
``chain.history``, ``chain_page.write``), run here with their I/O replaced by this test's
answers; the ``chain.status`` table's lines with the lines ``chain_status_text.table`` makes
(their fixed text, with names, digests and numbers generalized); the inventory's CSV header
with ``INVENTORY_COLUMNS``. Why the shape and not a recorded run: a recording pins what the
machine had (digests, timings, container ids) and goes stale only when someone reruns it; the
shape goes stale exactly when the code's output changes, and this test then fails, naming the
sample to regenerate (``make chain``, then ``.venv/bin/python scripts/gen_samples.py``).
"""

import ast
import importlib.util
import json
import re

import pytest

from _runners import chain, chain_page
from _utils import chain_status_text
from tests.conftest import REPO

_SPEC = importlib.util.spec_from_file_location("gen_samples", REPO / "scripts" / "gen_samples.py")
gen_samples = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gen_samples)

REGENERATE = "regenerate: make chain, then .venv/bin/python scripts/gen_samples.py"


def json_shape(value, depth=2):
    """Keys and value types: ``{key: shape}`` for a mapping (``depth`` levels down, then
    ``"object"``), ``"array"``, ``"string"``, ``"number"``, ``"bool"``; ``None`` for null."""
    if isinstance(value, dict):
        if depth <= 0:
            return "object"
        return {k: json_shape(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return "array"
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else "string"


def shape_problem(got, expected, where="$"):
    """Where two shapes differ (a null matches any type: a field may be empty), or None."""
    if got is None or expected is None:
        return None
    if isinstance(got, dict) and isinstance(expected, dict):
        if set(got) != set(expected):
            return f"{where}: keys {sorted(got)} != the code's {sorted(expected)}"
        for key in got:
            problem = shape_problem(got[key], expected[key], f"{where}.{key}")
            if problem:
                return problem
        return None
    return None if got == expected else f"{where}: {got} != the code's {expected}"


def all_samples():
    """``[(file, key, commands, output lines)]`` of every sample block of the docs."""
    found = []
    for path in gen_samples.doc_files():
        text = path.read_text()
        lines = text.split("\n")
        for key, start, end, commands in gen_samples.samples(text):
            found.append((path.name, key, commands, lines[start:end]))
    return found


def outputs(command):
    """``[(file, output text)]`` of every sample whose last command is ``command`` (a regex)."""
    found = []
    for name, key, commands, body in all_samples():
        if commands and re.fullmatch(command, commands[-1]):
            last = max(i for i, ln in enumerate(body) if ln.startswith("$ "))
            found.append((f"{name} sample {key}", "\n".join(body[last + 1 :])))
    assert found, f"no sample runs {command}"
    return found


# ---------------------------------------------------------------------------------------------
# The samples are there and were generated
# ---------------------------------------------------------------------------------------------


def test_every_sample_has_output_and_one_text_per_key():
    bodies = {}
    for name, key, commands, body in all_samples():
        assert any(not ln.startswith("$ ") for ln in body), f"{name} sample {key}: no output"
        assert key == "make-chain" or commands, f"{name} sample {key}: no command"
        bodies.setdefault(key, {})[name] = body
    for key, by_file in bodies.items():
        assert len({tuple(b) for b in by_file.values()}) == 1, (
            f"sample {key} differs between {sorted(by_file)}: {REGENERATE}"
        )
    assert {"status", "rollout-noop", "rollout-preview", "history", "make-chain"} <= set(bodies)


def test_samples_are_found_between_their_markers():
    """A control for the parser: a block between markers is a sample, its ``$`` lines the
    commands, the rest the output to rewrite."""
    text = "x\n<!-- BEGIN sample: k -->\n```console\n$ a\nout\n$ b\n```\n<!-- END sample: k -->\n"
    ((key, start, end, commands),) = gen_samples.samples(text)
    assert (key, commands) == ("k", ["a", "b"])
    assert text.split("\n")[start:end] == ["$ a", "out", "$ b"]
    ro = "<!-- read-only -->\n```sh\nsalt a \\\n  b   # c\n# only a comment\n```\n"
    assert gen_samples.read_only_blocks(ro) == [("any", ["salt a b   # c"])]


# ---------------------------------------------------------------------------------------------
# JSON samples against the runners' own returns
# ---------------------------------------------------------------------------------------------

IMAGE = "127.0.0.1:5050/chain/app@sha256:" + "e" * 64
REPLICA = {
    "running": True,
    "image": IMAGE,
    "status": "running",
    "health": "healthy",
    "generation": "ee85f20e1234",
    "slot": "1",
    "serving": True,
}


@pytest.fixture
def configure_loader_modules(tmp_path):
    apps = {
        "app": {
            "targets": ["web1", "web2"],
            "service": "app-{minion}",
            "frontend": "chain-frontend-{minion}",
            "network": "chain-{minion}",
            "jenkins_profile": "ci",
            "jenkins_job": "app-pipeline",
        }
    }
    opts = {"cachedir": str(tmp_path), "chain": {"apps": apps}}
    return {
        chain: {"__opts__": opts, "__context__": {}, "__salt__": {}},
        chain_page: {"__opts__": opts, "__context__": {}, "__salt__": {}},
    }


@pytest.fixture
def every_server_runs_it(monkeypatch):
    """The servers' answers to a rollout's first look: no change in test mode, healthy."""

    def gather(calls, timeout, notes=None):
        got = {}
        for key in calls:
            # ("state", target): the test-mode apply; ("pull", target): the pre-pull; the
            # status round keys by target alone (_statuses)
            kind, target = key if isinstance(key, tuple) else ("status", key)
            if kind == "state":
                got[key] = {"container_service_|-app_|-app_|-running": {"result": True}}
            elif kind == "pull":
                got[key] = {"Id": IMAGE}
            else:
                name = f"app-{target}-ee85f20e-1"
                got[key] = {"replicas": {name: REPLICA}, "serving": [name], "current": IMAGE}
        return got

    monkeypatch.setattr(chain, "_gather", gather)
    monkeypatch.setattr(chain, "_pinned", lambda image: IMAGE)
    monkeypatch.setattr(chain, "_fire", lambda app, stage, data: None)


def _check_json(command, expected, depth=2):
    for where, text in outputs(command):
        doc = json.loads(text)
        if isinstance(doc, list):
            assert doc, f"{where}: an empty list shows no shape"
            doc = doc[0]
        problem = shape_problem(json_shape(doc, depth), json_shape(expected, depth))
        assert problem is None, f"{where}: {problem}; {REGENERATE}"


@pytest.mark.usefixtures("every_server_runs_it")
def test_rollout_samples_have_the_runners_shape():
    noop = chain.rollout("app", "127.0.0.1:5050/chain/app:abc", ref="abc")
    assert noop["no_op"] is True and noop["result"] is True
    _check_json(r"salt-run chain\.rollout app \S+ ref=\S+ --out=json", noop, depth=3)
    preview = chain.rollout("app", "127.0.0.1:5050/chain/app:abc", ref="abc", test=True)
    _check_json(r"salt-run chain\.rollout app \S+ ref=\S+ test=True --out=json", preview)
    (entry,) = chain.history("app", limit=1)
    _check_json(r"salt-run chain\.history app limit=1 --out=json", entry, depth=3)


def test_json_shape_catches_a_changed_key():
    """A control: a return with a key more, or another type, is told apart."""
    doc = {"result": True, "servers": {"web1": {"seconds": 1.0}}}
    assert shape_problem(json_shape(doc), json_shape(dict(doc, no_op=True)))
    assert shape_problem(json_shape(doc), json_shape(dict(doc, result="yes")))
    assert shape_problem(json_shape(doc), json_shape({"result": None, **doc})) is None


def test_page_write_sample_has_the_returned_keys():
    tree = ast.parse((REPO / "_runners" / "chain_page.py").read_text())
    write = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "write")
    returned = [n.value for n in ast.walk(write) if isinstance(n, ast.Return)][-1]
    keys = {k.value for k in returned.keys}
    for where, text in outputs(r"salt-run chain_page\.write.*--out=json"):
        assert set(json.loads(text)) == keys, f"{where}: {REGENERATE}"


# ---------------------------------------------------------------------------------------------
# Text samples against the lines the code makes
# ---------------------------------------------------------------------------------------------


def generalize(line):
    """A line's fixed text: words with a digit (names with ids, digests, refs, numbers, times)
    become ``#``, runs of spaces one space."""
    words = [("#" if re.search(r"\d", w) else w) for w in line.split()]
    return " ".join(words)


def _status_lines():
    """``chain.status app``'s table for data shaped like the embedded default's."""
    replicas = {
        f"app-web1-ee85f20e-{i}": {"status": "running", "health": "healthy", "slot": str(i)}
        for i in (1, 2)
    }
    server = {"current": IMAGE, "replicas": {n: dict(r, serving=True) for n, r in replicas.items()}}
    data = {
        "app": {
            "last_deploy": {"kind": "rollout", "result": True, "image": IMAGE, "ref": "d2d3"},
            "servers": {"web1": server, "web2": server},
            "jenkins": {
                "url": "http://127.0.0.1:8090/",
                "agents": {"linux-44d24c4b": {"offline": False, "idle": True, "labels": ["a"]}},
                "queue": [],
                "builds": [{"number": 1, "result": "SUCCESS", "duration": 1.0, "ref": "d2d3"}],
            },
            "registry": {"repository": "127.0.0.1:5050/chain/app", "tags": {"d2d3": "sha256:e"}},
        }
    }
    return chain_status_text.table(data, {"app": "app-pipeline"}, 20).split("\n")


def test_status_sample_has_the_tables_lines():
    known = {generalize(line) for line in _status_lines()}
    for where, text in outputs(r"salt-run chain\.status app"):
        for line in text.split("\n"):
            # labels (docker linux) and states (idle, SUCCESS) are the machine's data
            shape = re.sub(r"(idle|busy|offline)( \w+)*$", r"\1", generalize(line))
            shape = re.sub(r"# (SUCCESS|FAILURE|ABORTED|UNSTABLE|-) #", "# SUCCESS #", shape)
            assert shape in {re.sub(r"(idle) \w+$", r"\1", k) for k in known}, (
                f"{where}: the code makes no line like {line!r}; {REGENERATE}"
            )


def test_generalize_tells_a_changed_line_apart():
    """A control: the old build line of the table is not the table's line now."""
    known = {generalize(line) for line in _status_lines()}
    assert generalize("    job app-pipeline: last 1 build(s)") not in known
    assert generalize("    job app-pipeline: the last 2 build(s) (builds=N shows more)") in known


def test_inventory_sample_has_the_columns():
    header = ",".join(chain_status_text.INVENTORY_COLUMNS)
    for where, text in outputs(r"salt-run chain\.inventory .*out_format=csv.*"):
        lines = text.split("\n")
        assert lines[0] == header, f"{where}: {REGENERATE}"
        assert len(lines) > 1, f"{where}: no container"


def test_make_chain_sample_shows_the_status_and_where_to_push():
    (body,) = {tuple(b) for _, key, _, b in all_samples() if key == "make-chain"}
    text = "\n".join(body)
    assert text.startswith("==> salt-run state.orchestrate chain")
    for needed in ("==> salt-run chain.status app", "==> where to push", ".state/chain/env.sh"):
        assert needed in text, needed
    assert "/work/" not in text, "a path of the machine that ran it"
