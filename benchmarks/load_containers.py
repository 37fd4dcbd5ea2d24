"""100 ``container.running`` states on one engine (issue 17, "Load held"): the no-op's total state
duration against its goal (<= 150 ms, and <= 2 x the raw-inspect floor of the same run), the
ratio against saltext-dockermod in the same run, and the minion's memory (the peak RSS of each
``salt-call`` process, as ``/usr/bin/time -f %M`` reports it).

Run from the repository root with the project's venv, after scripts/bootstrap (engine 1 and the
busybox image)::

    .venv/bin/python benchmarks/load_containers.py                  # ~6 minutes
    .venv/bin/python benchmarks/load_containers.py --skip-dockermod --rounds 1
    .venv/bin/python benchmarks/load_containers.py --profile        # + one no-op under cProfile

It is ``benchmarks/container_running.py`` with ``--count 100`` (the same specs, sides, rounds,
checks and clean-up; see benchmarks/README.md) plus the memory and the two no-op goals.
Results: ``benchmarks/results/load_containers.json``. A benchmark, not a test: it asserts nothing.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import container_running as cr  # noqa: E402  pylint: disable=wrong-import-position

COUNT = 100
GOAL_NOOP_MS = 150.0
GOAL_FLOOR_RATIO = 2.0
RESULTS = cr.BENCH / "results" / "load_containers.json"
RSS = {}  # (side, first argument) -> [peak RSS kB of each salt-call process]


def _measured(original):
    """``SaltSide.salt_call`` under ``/usr/bin/time``: the process's peak RSS is recorded."""

    def salt_call(self, *args, wrapper=()):
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
            data = original(
                self, *args, wrapper=("/usr/bin/time", "-f", "%M", "-o", out.name, *wrapper)
            )
            text = out.read().strip().splitlines()
        if text and text[-1].isdigit():
            key = f"{self.name} {' '.join(args[:2])}"
            RSS.setdefault(key, []).append(int(text[-1]))
        return data

    return salt_call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--engine", default=cr.ENGINE1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--skip-dockermod", action="store_true")
    parser.add_argument("--reinstall", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    args.count = COUNT
    cr.RESULTS = RESULTS
    cr.SaltSide.salt_call = _measured(cr.SaltSide.salt_call)
    doc = cr.run(args)

    m = doc["medians_ms"]
    noop, floor = m["ours_noop20"], m["raw_inspect20"]
    goals = {
        f"ours no-op {COUNT} <= {GOAL_NOOP_MS:g} ms": noop <= GOAL_NOOP_MS,
        f"ours no-op {COUNT} <= {GOAL_FLOOR_RATIO:g} x raw inspect {COUNT}": noop
        <= GOAL_FLOOR_RATIO * floor,
    }
    rss = {
        k: {"max_kb": max(v), "median_kb": statistics.median(v), "runs": len(v)}
        for k, v in sorted(RSS.items())
    }
    print()
    print(
        f"no-op of {COUNT} (sum of durations): {noop:.1f} ms; raw inspect floor {floor:.1f} ms "
        f"({noop / floor:.2f}x)"
    )
    if "dm_noop20" in m:
        print(
            f"dockermod no-op {COUNT}: {m['dm_noop20']:.1f} ms = {m['dm_noop20'] / noop:.1f}x ours"
        )
    for goal, met in goals.items():
        print(f"  goal {goal}: {'met' if met else 'MISSED'}")
    print("peak RSS of each salt-call process (MiB, max / median over its runs):")
    for key, row in rss.items():
        print(
            f"  {key:<40} {row['max_kb'] / 1024:7.1f} / {row['median_kb'] / 1024:7.1f}  "
            f"({row['runs']} runs)"
        )
    doc.update(goals=goals, rss_kb=rss)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
