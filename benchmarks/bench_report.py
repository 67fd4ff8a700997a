"""What ``--report FILE.html`` adds to ``segtool eval`` (the issue's budget: +50%).

Usage: python benchmarks/bench_report.py [--data bench_out/data1000] [--jobs 2] [--rounds 3]

Runs the CLI as a user would (a fresh process each time: start-up and imports are part of the
cost), ``eval panoptic`` and ``eval instance`` on bench_eval.py's 1,000-image set, plain and
with ``--report``, in interleaved rounds; prints the best wall time and the best CPU time
of each and the added share. The CPU time is the command's own: worker processes that exit
unreaped are not counted, so use ``--jobs 1`` (all of the work, the thumbnails too, in that
one process) for the steadier measure on a shared machine. The data must exist:
``python benchmarks/bench_eval.py --only pq`` makes it (and ``--only map`` its detections).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEGTOOL = [sys.executable, "-m", "segtool"]


def run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command (steadier than wall time on a shared
    machine: what it waits for the CPU is not counted; see the module's docstring)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([*SEGTOOL, *argv], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
        cpu = dict(best)
        for _ in range(args.rounds):
            for name, argv in commands.items():
                for with_report in (False, True):
                    extra = report if with_report else []
                    t, c = run([*argv, "-q", "-j", str(args.jobs), *extra])
                    best[name, with_report] = min(best[name, with_report], t)
                    cpu[name, with_report] = min(cpu[name, with_report], c)
    for name in commands:
        plain, full = best[name, False], best[name, True]
        c_plain, c_full = cpu[name, False], cpu[name, True]
        print(
            f"{name}: plain {plain:.2f} s, --report {full:.2f} s ({100 * (full / plain - 1):+.0f}%); "
            f"CPU {c_plain:.2f} s, {c_full:.2f} s ({100 * (c_full / c_plain - 1):+.0f}%)"
        )


if __name__ == "__main__":
    main()
