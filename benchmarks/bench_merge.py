"""Merging the partials of a sharded evaluation: 8 shards of 5,000 images (issue 13).

Generates (once) a COCO instance ground truth of 5,000 images (80 categories, 7 objects
each) and a results list of 100 detections per image (jittered copies of the objects and
random boxes, scores from 20 values, so ties cross images), scores it whole and as 8 shards
with ``--partial`` (box AP: the per-detection records a merge handles are the same for masks),
then times ``segtool.metrics.partial_merge.merge`` of the 8 files: reading them and
COCOeval's accumulate over the joined per-image evaluations. Goal: under a second. The
merged numbers are checked against the unsharded run's (max difference printed).
PQ and confusion-matrix partials (133 categories) are timed too: they are sums.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from segtool import evaluate_instance
from segtool.metrics.partial import Partial, write
from segtool.metrics.partial_merge import merge
from segtool.metrics.shard import Shard
from segtool.model import Category


def make_instances(folder: Path, images: int, seed: int = 5) -> tuple[Path, Path]:
    """GT and detections (box AP); written once, reused."""
    gt_path, dt_path = folder / "gt.json", folder / "dets.json"
    if gt_path.exists() and dt_path.exists():
        return gt_path, dt_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    imgs, anns, dets = [], [], []
    for i in range(1, images + 1):
        imgs.append({"id": i, "file_name": f"{i:06d}.jpg", "height": 480, "width": 640})
        for _ in range(7):
            w, h = (float(v) for v in rng.integers(8, 200, 2))
            x, y = float(rng.integers(0, 640 - w)), float(rng.integers(0, 480 - h))
            cat = int(rng.integers(1, 81))
            poly = [[x, y, x + w, y, x + w, y + h, x, y + h]]
            anns.append(
                {"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h]}
                | {"area": w * h, "iscrowd": int(rng.random() < 0.02), "segmentation": poly}
            )
            for _ in range(int(rng.integers(1, 4))):
                jx, jy = rng.normal(0, 0.1 * w), rng.normal(0, 0.1 * h)
                box = [x + jx, y + jy, w * rng.uniform(0.8, 1.2), h * rng.uniform(0.8, 1.2)]
                c = cat if rng.random() < 0.8 else int(rng.integers(1, 81))
                dets.append({"image_id": i, "category_id": c, "bbox": box, "score": float(rng.integers(1, 21)) / 20})
        while len(dets) < 100 * i:
            w, h = (float(v) for v in rng.integers(4, 150, 2))
            box = [float(rng.integers(0, 600)), float(rng.integers(0, 440)), w, h]
            dets.append({"image_id": i, "category_id": int(rng.integers(1, 81)), "bbox": box, "score": 0.05})
    cats = [{"id": c, "name": f"c{c}", "supercategory": ""} for c in range(1, 81)]
    gt_path.write_text(json.dumps({"images": imgs, "annotations": anns, "categories": cats}))
    dt_path.write_text(json.dumps(dets))
    return gt_path, dt_path


def timed(fn, rounds: int) -> tuple[float, float, object]:
    """(best, median) seconds of ``rounds`` calls, and the last result."""
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def bench_instance(folder: Path, images: int, shards: int, rounds: int) -> None:
    gt, dt = make_instances(folder, images)
    t0 = time.perf_counter()
    full = evaluate_instance(gt, dt, iou_type="bbox")
    whole = time.perf_counter() - t0
    parts, t0 = [], time.perf_counter()
    for i in range(1, shards + 1):
        parts.append(folder / f"part{i}of{shards}.npz")
        evaluate_instance(gt, dt, iou_type="bbox", shard=f"{i}/{shards}", partial=parts[-1])
    sharded = time.perf_counter() - t0
    best, median, merged = timed(lambda: merge(parts), rounds)
    size = sum(p.stat().st_size for p in parts) / 1e6
    diff = max(float(np.abs(merged.precision - full.precision).max()), float(np.abs(merged.recall - full.recall).max()))
    dets = sum(1 for _ in json.loads(dt.read_text()))
    print(f"instance (box AP): {images} images, {dets:,} detections, 80 categories, {shards} shards")
    print(f"  unsharded evaluation {whole:.2f} s; the {shards} shards one after another {sharded:.2f} s")
    print(f"  partials: {size:.1f} MB in all ({size / shards:.1f} MB each)")
    print(f"  merge (read {shards} partials + accumulate): best {best:.3f} s, median {median:.3f} s of {rounds}")
    print(
        f"  merged vs unsharded precision/recall: max difference {diff:g}; AP {merged.stats[0]:.6f} = {full.stats[0]:.6f}"
    )


def bench_sums(folder: Path, shards: int, rounds: int) -> None:
    """PQ statistics and confusion matrices over 133 categories: the sums alone."""
    rng = np.random.default_rng(0)
    cats = tuple(Category(c, f"c{c}", c <= 80) for c in range(1, 134))
    k = len(cats)
    for kind, arrays in (
        ("panoptic", lambda: {n: rng.integers(0, 500, k) for n in ("tp", "fp", "fn")} | {"iou": rng.random(k) * 400}),
        ("semantic", lambda: {"confusion": rng.integers(0, 10**7, (k, k + 1))}),
    ):
        paths = []
        for i in range(1, shards + 1):
            paths.append(folder / f"{kind}{i}.npz")
            counts = {"images": 625, "missing": 0}
            write(Partial(kind, Shard(i, shards), "0" * 32, {"boundary": None}, cats, counts, arrays()), paths[-1])
        best, median, _ = timed(lambda paths=paths: merge(paths), rounds)
        print(
            f"{kind}: merge of {shards} partials ({k} categories): best {best * 1e3:.1f} ms, median {median * 1e3:.1f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", type=Path, default=Path("bench_out/merge"))
    args = ap.parse_args()
    bench_instance(args.data, args.images, args.shards, args.rounds)
    bench_sums(args.data, args.shards, args.rounds)


if __name__ == "__main__":
    main()
