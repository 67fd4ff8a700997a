"""Time ``segtool compare`` against the two plain evaluations it replaces (issue 14).

Usage: python benchmarks/bench_compare.py [--images 1000] [--data bench_out/data1000] [--jobs 2]
       [--samples 1000] [--only pq|map|miou]

The data are bench_eval's (made once, the same generators): the synthetic panoptic set of
1,000 images at 640x480, its perturbed predictions (A), the COCO instance ground truth and
detections, the semantic label folders. B is a second prediction: the ground truth itself
for PQ and mIoU, A's detections with new random scores for AP. Prints, best of ``--rounds``
interleaved rounds: the two evaluations (``evaluate_*(gt, A)`` + ``evaluate_*(gt, B)``),
``compare(..., samples=0)`` (the per-image statistics alone) and ``compare(..., samples=N)``,
and what compare adds to the plain evaluations (the goal: at most 50% with 1,000 samples), in wall
and in CPU seconds (this process and the worker processes it reaped: a pool's live workers are
not counted, so CPU is whole at ``--jobs 1``), and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_eval import make_detections, make_predictions, make_semantic
from common import make_panoptic

from segtool import evaluate_instance, evaluate_panoptic, evaluate_semantic
from segtool.compare import compare
from segtool.parallel import tune_allocator, warm_up


def rescored(dets: Path, seed: int = 5) -> Path:
    """A's detections with new random scores (B), written once."""
    out = dets.with_name("detections_b.json")
    if not out.exists():
        rng = np.random.default_rng(seed)
        data = json.loads(dets.read_text())
        for d in data:
            d["score"] = float(rng.choice(np.linspace(0.05, 1.0, 40)))
        out.write_text(json.dumps(data))
    return out


def clock() -> tuple[float, float]:
    """Wall seconds and CPU seconds of this process and its workers (reaped ones)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """The least wall and the least CPU seconds of ``rounds`` calls."""
    t_best, c_best = float("inf"), float("inf")
    for _ in range(rounds):
        w, c = clock()
        fn()
        w2, c2 = clock()
        t_best, c_best = min(t_best, w2 - w), min(c_best, c2 - c)
    return t_best, c_best


def bench(task: str, gt: Path, a: Path, b: Path, plain: Callable[..., Any], args: argparse.Namespace) -> None:
    runs: dict[str, Callable[[], Any]] = {
        "plain": lambda: (plain(gt, a, jobs=args.jobs), plain(gt, b, jobs=args.jobs)),
        "stats": lambda: compare(task, gt, a, b, samples=0, jobs=args.jobs),
        "bootstrap": lambda: compare(task, gt, a, b, samples=args.samples, jobs=args.jobs),
    }
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(args.rounds):  # interleaved rounds, best of each: this machine is noisy
        for name, fn in runs.items():
            w, c = best(fn, 1)
            wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
    for label, t in (("wall", wall), ("CPU", cpu)):
        p = t["plain"]
        print(
            f"{task} ({label}): two plain evaluations {p:.2f} s; compare without bootstrap {t['stats']:.2f} s "
            f"({t['stats'] / p - 1:+.0%}); compare with {args.samples} samples {t['bootstrap']:.2f} s "
            f"({t['bootstrap'] / p - 1:+.0%}; the bootstrap itself {t['bootstrap'] - t['stats']:.2f} s)"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--data", type=Path, default=Path("bench_out/data1000"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=["pq", "map", "miou"])
    args = ap.parse_args()
    tune_allocator()
    gt = make_panoptic(args.data, args.images)
    pred = make_predictions(gt)
    warm_up(args.jobs)
    print(f"{args.images} images, --jobs {args.jobs}, best of {args.rounds} interleaved rounds")
    if args.only in (None, "pq"):
        bench("panoptic", gt, pred, gt, evaluate_panoptic, args)
    if args.only in (None, "map"):
        gt_inst, dets = make_detections(gt, pred)
        bench("instance", gt_inst, dets, rescored(dets), evaluate_instance, args)
    if args.only in (None, "miou"):
        gt_sem, pred_sem = make_semantic(gt)
        bench("semantic", gt_sem, pred_sem, gt_sem, evaluate_semantic, args)


if __name__ == "__main__":
    main()
