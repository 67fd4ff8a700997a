"""Time ``segtool compare`` against the two plain evaluations it replaces (issue 14).

Usage: python benchmarks/bench_compare.py [--images 1000] [--data bench_out/data1000] [--jobs 2]
       [--samples 1000] [--only pq|map|miou]

The data are bench_eval's (made once, the same generators): the synthetic panoptic set of
1,000 images at 640x480, its perturbed predictions (A), the COCO instance ground truth and
detections, the semantic label folders. B is a second prediction: the ground truth itself
for PQ and mIoU, A's detections with new random scores for AP. Prints, best of ``--rounds``
interleaved rounds: the two evaluations (``evaluate_*(gt, A)`` + ``evaluate_*(gt, B)``),
``compare(..., samples=0)`` (the per-image statistics alone) and ``compare(..., samples=N)``,
and what compare adds to the plain evaluations (the goal: at most 50% with 1,000 samples).
"""

from __future__ import annotations

import argparse
import json
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


def best(fn: Callable[[], Any], rounds: int) -> float:
    t_best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best


def bench(task: str, gt: Path, a: Path, b: Path, plain: Callable[..., Any], args: argparse.Namespace) -> None:
    times = {"plain": float("inf"), "stats": float("inf"), "bootstrap": float("inf")}
    for _ in range(args.rounds):  # interleaved rounds, best of each: this machine is noisy
        times["plain"] = min(
            times["plain"], best(lambda: (plain(gt, a, jobs=args.jobs), plain(gt, b, jobs=args.jobs)), 1)
        )
        times["stats"] = min(times["stats"], best(lambda: compare(task, gt, a, b, samples=0, jobs=args.jobs), 1))
        times["bootstrap"] = min(
            times["bootstrap"], best(lambda: compare(task, gt, a, b, samples=args.samples, jobs=args.jobs), 1)
        )
    p = times["plain"]
    print(
        f"{task}: two plain evaluations {p:.2f} s; compare without bootstrap {times['stats']:.2f} s "
        f"({times['stats'] / p - 1:+.0%}); compare with {args.samples} samples {times['bootstrap']:.2f} s "
        f"({times['bootstrap'] / p - 1:+.0%}; the bootstrap itself {times['bootstrap'] - times['stats']:.2f} s)"
    )


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
