"""What ``--report FILE.html`` adds to ``segtool eval`` (the issue's budget: +50%).

Usage: python benchmarks/bench_report.py [--data bench_out/data1000] [--jobs 2] [--rounds 3]

Runs the CLI as a user would (a fresh process each time: matplotlib's import is part of the
cost), ``eval panoptic`` and ``eval instance`` on bench_eval.py's 1,000-image set, plain and
with ``--report``, in interleaved rounds; prints the best wall time of each and the added
share. The data must exist: ``python benchmarks/bench_eval.py --only pq`` makes it (and
``--only map`` its detections).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEGTOOL = [sys.executable, "-m", "segtool"]


def run(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([*SEGTOOL, *argv], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("bench_out/data1000"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    d = args.data
    commands = {
        "eval panoptic": ["eval", "panoptic", str(d / "panoptic.json"), str(d / "pred.json")],
        "eval instance": ["eval", "instance", str(d / "instances_gt.json"), str(d / "detections.json")],
    }
    with tempfile.TemporaryDirectory() as tmp:
        report = ["--report", str(Path(tmp) / "report.html"), "--overwrite"]
        best = {(c, r): float("inf") for c in commands for r in (False, True)}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                for with_report in (False, True):
                    extra = report if with_report else []
                    t = run([*argv, "-q", "-j", str(args.jobs), *extra])
                    best[name, with_report] = min(best[name, with_report], t)
    for name in commands:
        plain, full = best[name, False], best[name, True]
        print(f"{name}: plain {plain:.2f} s, --report {full:.2f} s ({100 * (full / plain - 1):+.0f}%)")


if __name__ == "__main__":
    main()
