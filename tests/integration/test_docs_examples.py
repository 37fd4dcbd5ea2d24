"""The read-only examples of README.md and docs/*.md, run as printed against a chain.

A block after ``<!-- read-only -->`` only reads and names what every chain has (the minions
``build1`` and ``web1``, ``*``, grains, the push queue, an app's history): it runs here against
this tier's master and minions, through an ``env.sh`` of the form ``make chain`` writes
(``SALT_CONFIG_DIR`` and the venv's ``bin`` on ``PATH``) pointing at this tier's master, each
command in ``bash`` from the checkout as a reader types it. A block after ``<!-- read-only: make
chain -->`` needs the embedded default's app, agents or registry (``chain.status app``): those
run as printed on ``make chain`` through ``scripts/gen_samples.py --commands``, and their
samples' shape is checked by tests/unit/test_docs_samples.py.

Each command must exit 0 and answer in the documented shape: a ``salt`` command answers for a
minion of this tier (a runner may print nothing: this tier's push queue is empty), ``--out=json``
is JSON, the inventory's CSV has the documented header, and a command with a sample in the docs
answers with the sample's keys.
"""

import concurrent.futures
import json
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.unit.test_docs_samples import gen_samples, json_shape, shape_problem

pytestmark = pytest.mark.integration

MINIONS = ("build1", "web1")


def _examples():
    """``[(where, command)]`` of every ``<!-- read-only -->`` block, each command once."""
    seen, found = set(), []
    for path in gen_samples.doc_files():
        for tier, commands in gen_samples.read_only_blocks(path.read_text()):
            for command in commands:
                if tier == "any" and command not in seen:
                    seen.add(command)
                    found.append((path.name, command))
    return found


def _samples():
    """``{command: its sample's output}`` of the docs (the commands that have one)."""
    out = {}
    for path in gen_samples.doc_files():
        text = path.read_text()
        lines = text.split("\n")
        for _, start, end, commands in gen_samples.samples(text):
            body = lines[start:end]
            if len(commands) == 1 and len(body) > 1 and body[0] == f"$ {commands[0]}":
                out[commands[0]] = "\n".join(body[1:])
    return out


@pytest.fixture(scope="module")
def env_sh(master, tmp_path_factory):
    """What ``make chain`` writes to ``.state/chain/env.sh``, for this tier's master."""
    source = (REPO / "scripts" / "chain.py").read_text()
    assert 'export SALT_CONFIG_DIR="' in source and 'export PATH="' in source, (
        "scripts/chain.py no longer writes env.sh as this test does"
    )
    path = tmp_path_factory.mktemp("docs-env") / "env.sh"
    path.write_text(
        f'export SALT_CONFIG_DIR="{master.config_dir}"\n'
        f'export PATH="{REPO / ".venv" / "bin"}:$PATH"\n'
    )
    return path


def test_the_examples_are_found():
    """A control: the markers are there (a renamed marker would run nothing and pass)."""
    commands = [c for _, c in _examples()]
    assert len(commands) >= 10, commands
    assert "salt-run chain_push.queue" in " ".join(commands)
    assert any(c.startswith("salt -G") for c in commands)


def test_read_only_examples_run_as_printed(env_sh, synced):
    """Three at a time (each is a Salt command line: its start-up is most of its time)."""
    assert synced
    samples = _samples()

    def one(example):
        where, command = example
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", "-c", f". {env_sh} && {command}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        took = round(time.monotonic() - started, 1)
        problem = _problem(command, proc, samples.get(command))
        if problem:
            problem = f"{where}: {command}\n  {problem}\n  stderr: {proc.stderr[-500:]}"
        return command, took, problem

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, _examples()))
    print(
        f"{len(results)} examples in {time.monotonic() - started:.1f} s: "
        + json.dumps({c: t for c, t, _ in results}, indent=1),
        file=sys.stderr,
    )
    failures = [p for _, _, p in results if p]
    assert not failures, "\n".join(failures)


def _problem(command, proc, sample):
    """Why the answer is not what the docs show, or None."""
    out = proc.stdout
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {out[-500:]}"
    if re.match(r"salt\s+(-G\s+)?['\"]?[\w*:.-]", command) and not any(
        re.search(rf"^{m}:", out, re.M) for m in MINIONS
    ):
        return f"no minion of this tier answered: {out[:300]}"
    if "--out=json" in command:
        try:
            data = json.loads(out)
        except ValueError:
            return f"not JSON: {out[:300]}"
        if sample is not None:
            doc = json.loads(sample)
            if isinstance(doc, list) and isinstance(data, list) and doc and data:
                doc, data = doc[0], data[0]
            problem = shape_problem(json_shape(data, 1), json_shape(doc, 1))
            if problem:
                return f"not the docs' sample's shape: {problem}"
    if "out_format=csv" in command:
        header = out.split("\n", 1)[0]
        if sample is not None and header != sample.split("\n", 1)[0]:
            return f"CSV header {header!r} is not the docs' {sample.split(chr(10), 1)[0]!r}"
    return None
