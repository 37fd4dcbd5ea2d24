#!/usr/bin/env python3
"""Write the sample outputs of README.md and docs/*.md from real runs on the embedded default.

    make chain                                          # the embedded default, running
    .venv/bin/python scripts/gen_samples.py             # run every sample, rewrite its block
    .venv/bin/python scripts/gen_samples.py --only status,history
    .venv/bin/python scripts/gen_samples.py --list      # the samples and their commands
    .venv/bin/python scripts/gen_samples.py --commands  # run every read-only block as printed
    .venv/bin/python scripts/gen_samples.py --up-log up.log   # README's `make chain` output

A sample is a fenced block between ``<!-- BEGIN sample: KEY -->`` and ``<!-- END sample: KEY
-->``. Its lines that start with ``$ `` are the commands; everything else in the block is their
output and is rewritten. The commands of one sample run in one ``bash``, from the checkout,
after ``. .state/chain/env.sh`` (what the README tells a reader to do), so a variable set by
one command (``ref=$(...)``) is there for the next; each command's standard output follows its
line (standard error goes to the terminal: Salt's own warnings are not part of a sample). A
key used in several places is run once and written to each. The checkout's absolute path in
an output becomes relative (the reader's checkout is elsewhere).

The sample ``make-chain`` is the output of ``make chain`` itself: ``--up-log FILE`` (a ``make
chain 2>&1 | tee FILE``) writes its lines from the orchestrate on.

A block after a ``<!-- read-only -->`` or ``<!-- read-only: make chain -->`` line only reads;
``--commands`` runs all of them as printed and reports each exit code (exit 1 if one failed).
tests/integration/test_docs_examples.py runs the ``<!-- read-only -->`` ones against the
integration tier's master and minions; tests/unit/test_docs_samples.py checks that the samples
still have the shape the code produces (keys, value types, the lines' fixed text).
"""

import argparse
import re
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV_SH = REPO / ".state" / "chain" / "env.sh"
BEGIN = re.compile(r"^<!-- BEGIN sample: (?P<key>[\w-]+) -->$")
READ_ONLY = re.compile(r"^<!-- read-only(?P<tier>: make chain)? -->$")
FENCE = re.compile(r"^```(?P<info>\S*)\s*$")


def doc_files():
    """README.md and docs/*.md (the fault pages are written by their own generator)."""
    docs = sorted(p for p in (REPO / "docs").glob("*.md") if not p.name.startswith("faults"))
    return [REPO / "README.md", *docs]


def samples(text):
    """``[(key, start, end, commands)]``: the lines ``start:end`` are the block's fenced body."""
    lines, found = text.split("\n"), []
    for i, line in enumerate(lines):
        match = BEGIN.match(line)
        if not match:
            continue
        key = match["key"]
        end_marker = lines.index(f"<!-- END sample: {key} -->", i)
        fence = next(j for j in range(i + 1, end_marker) if FENCE.match(lines[j]))
        close = next(j for j in range(end_marker - 1, fence, -1) if lines[j].startswith("```"))
        body = lines[fence + 1 : close]
        found.append((key, fence + 1, close, [ln[2:] for ln in body if ln.startswith("$ ")]))
    return found


def read_only_blocks(text):
    """``[(tier, commands)]`` of every block after a read-only marker; ``tier`` is ``"any"``
    (the integration tier runs it too) or ``"make chain"`` (it needs the embedded default's
    app, agents or registry). ``console`` blocks: the ``$ `` lines; ``sh``/``bash`` blocks:
    every line that is not a comment, a ``\\`` continuation joined to its line."""
    lines, found = text.split("\n"), []
    for i, line in enumerate(lines):
        match = READ_ONLY.match(line)
        if not match:
            continue
        fence = next(j for j in range(i + 1, len(lines)) if FENCE.match(lines[j]))
        info = FENCE.match(lines[fence])["info"]
        close = next(j for j in range(fence + 1, len(lines)) if lines[j].startswith("```"))
        body = lines[fence + 1 : close]
        if info == "console":
            commands = [ln[2:] for ln in body if ln.startswith("$ ")]
        else:
            commands, joined = [], ""
            for ln in body:
                piece = ln.strip() if joined else ln
                joined += piece[:-1].rstrip() + " " if ln.endswith("\\") else piece
                if not ln.endswith("\\"):
                    if joined.strip() and not joined.lstrip().startswith("#"):
                        commands.append(joined.strip())
                    joined = ""
        found.append(("make chain" if match["tier"] else "any", commands))
    return found


def run(commands, env_sh=ENV_SH):
    """Run the commands in one bash after sourcing ``env_sh``: ``[(command, stdout, code)]``."""
    mark = f"--sample-{uuid.uuid4().hex}--"
    script = [f". {env_sh}", f"cd {REPO}"]
    for command in commands:
        script += [command, f'echo "{mark}$?"']
    out = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        timeout=900,
    ).stdout
    parts = out.split(mark)
    results = []
    for i, command in enumerate(commands):
        text = parts[i] if i < len(parts) else ""
        if i:  # the exit code left of this part belongs to the command before
            text = text.split("\n", 1)[1] if "\n" in text else ""
        code = parts[i + 1].split("\n", 1)[0] if i + 1 < len(parts) else "?"
        results.append((command, relative(text), int(code) if code.isdigit() else -1))
    return results


def relative(text):
    return text.replace(f"{REPO}/", "").replace(str(REPO), ".")


def body(results):
    lines = []
    for command, out, _ in results:
        lines.append(f"$ {command}")
        lines.extend(out.rstrip("\n").split("\n") if out.strip() else [])
    return lines


def up_log(path):
    """``make chain``'s lines from the orchestrate on (bootstrap's lines before it are the
    machine's, not the chain's)."""
    lines = relative(Path(path).read_text()).rstrip("\n").split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("==> salt-run state.orchestrate"))
    return lines[start:]


def write(outputs):
    """Replace each sample's body with ``outputs[key]`` (a list of lines), in every file."""
    for path in doc_files():
        text = path.read_text()
        lines = text.split("\n")
        for key, start, end, _ in reversed(samples(text)):
            if key in outputs:
                lines[start:end] = outputs[key]
        new = "\n".join(lines)
        if new != text:
            path.write_text(new)
            print(f"wrote {path.relative_to(REPO)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", help="comma-separated sample keys")
    parser.add_argument("--list", action="store_true", help="list the samples, run nothing")
    parser.add_argument("--commands", action="store_true", help="run the read-only blocks")
    parser.add_argument("--up-log", help="the output of `make chain`, for the sample make-chain")
    args = parser.parse_args()
    if not args.list and not ENV_SH.exists():
        sys.exit(f"{ENV_SH} is missing: run `make chain` first")
    if args.commands:
        failed = 0
        for path in doc_files():
            for tier, commands in read_only_blocks(path.read_text()):
                for command, _, code in run(commands):
                    failed += code != 0
                    print(f"{code:>3}  {path.relative_to(REPO)} [{tier}] {command}")
        sys.exit(1 if failed else 0)
    wanted = set(args.only.split(",")) if args.only else None
    todo = {}
    for path in doc_files():
        for key, _, _, commands in samples(path.read_text()):
            if key == "make-chain" or (wanted and key not in wanted):
                continue
            if args.list:
                print(f"{key:<20} {path.relative_to(REPO)}: {' && '.join(commands)}")
            todo.setdefault(key, commands)
    if args.list:
        return
    outputs = {}
    for key, commands in todo.items():
        results = run(commands)
        for command, _, code in results:
            print(f"{key}: exit {code}: {command}")
        outputs[key] = body(results)
    if args.up_log:
        outputs["make-chain"] = up_log(args.up_log)
    write(outputs)


if __name__ == "__main__":
    main()
