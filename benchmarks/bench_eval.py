"""Time segtool's PQ against panopticapi's pq_compute, same number of worker processes.

Usage: python benchmarks/bench_eval.py [--images 1000] [--data bench_out/data1000] [--jobs 2]

Ground truth is the synthetic panoptic set of bench_convert (640x480, 20-40 things and
3-5 stuff bands per image); predictions perturb it (shifted by a few pixels, 10% of the
segments dropped to void, 10% given another category, new raw ids). Prints both times,
the ratio, the PNG-decoding floor (2,000 PNGs with Pillow, one process), checks that the
two agree to 1e-9, and compares peak memory for 1,000 vs 4,000 images (the 4,000-image
set reuses the 1,000 PNG pairs under new image ids).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from common import PEAK_KB, decode_floor, make_panoptic

from segtool import WriteOptions, convert, evaluate_instance, evaluate_panoptic
from segtool.parallel import tune_allocator, warm_up


def make_predictions(gt_json: Path, seed: int = 1) -> Path:
    """``pred.json`` + ``pred/`` beside the ground truth (made once)."""
    pred_json = gt_json.with_name("pred.json")
    gt = json.loads(gt_json.read_text())
    if pred_json.exists() and len(json.loads(pred_json.read_text())["annotations"]) == len(gt["annotations"]):
        return pred_json
    rng = np.random.default_rng(seed)
    folder = pred_json.with_suffix("")
    folder.mkdir(exist_ok=True)
    things = [c["id"] for c in gt["categories"] if c["isthing"]]
    anns = []
    for ann in gt["annotations"]:
        rgb = np.asarray(Image.open(gt_json.with_suffix("") / ann["file_name"]), dtype=np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        pred = np.roll(ids, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        segs = []
        for s in ann["segments_info"]:
            r = rng.random()
            if r < 0.1:
                pred[pred == s["id"]] = 0
                continue
            cat = int(rng.choice(things)) if r < 0.2 and s["category_id"] in things else s["category_id"]
            segs.append({"id": s["id"] ^ 0x5A5A5A, "category_id": cat, "iscrowd": 0})
        present = np.unique(pred)
        new = np.where(pred != 0, pred ^ 0x5A5A5A, 0)
        keep = {s["id"] for s in segs} & set((present[present != 0] ^ 0x5A5A5A).tolist())
        new[~np.isin(new, list(keep))] = 0
        out = np.stack([new % 256, new // 256 % 256, new // 65536], axis=-1).astype(np.uint8)
        Image.fromarray(out).save(folder / ann["file_name"])
        anns.append(
            {
                "image_id": ann["image_id"],
                "file_name": ann["file_name"],
                "segments_info": [s for s in segs if s["id"] in keep],
            }
        )
    pred_json.write_text(json.dumps({"annotations": anns}))
    return pred_json


def run_panopticapi(gt: Path, pred: Path) -> dict:
    from panopticapi.evaluation import pq_compute

    with contextlib.redirect_stdout(io.StringIO()):
        return pq_compute(str(gt), str(pred), str(gt.with_suffix("")), str(pred.with_suffix("")))


_CHILD = (
    PEAK_KB
    + """
import sys
from segtool import WriteOptions, convert, evaluate_instance, evaluate_panoptic
from segtool.parallel import tune_allocator
tune_allocator()
evaluate_panoptic(sys.argv[1], sys.argv[2], gt_masks=sys.argv[3], pred_masks=sys.argv[4])
print(peak_kb())
"""
)


def memory(gt: Path, pred: Path, copies: int = 4) -> None:
    g, p = json.loads(gt.read_text()), json.loads(pred.read_text())
    big_gt, big_pred = gt.with_name("gt_x4.json"), gt.with_name("pred_x4.json")
    n = len(g["images"])
    images, gt_anns, pred_anns = [], [], []
    for k in range(copies):
        images += [{**im, "id": im["id"] + k * n} for im in g["images"]]
        gt_anns += [{**a, "image_id": a["image_id"] + k * n} for a in g["annotations"]]
        pred_anns += [{**a, "image_id": a["image_id"] + k * n} for a in p["annotations"]]
    big_gt.write_text(json.dumps({**g, "images": images, "annotations": gt_anns}))
    big_pred.write_text(json.dumps({"annotations": pred_anns}))
    rss = []
    for a, b in ((gt, pred), (big_gt, big_pred)):
        cmd = [sys.executable, "-c", _CHILD, str(a), str(b), str(gt.with_suffix("")), str(pred.with_suffix(""))]
        rss.append(int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[-1]) / 1024)
    print(
        f"peak memory of segtool PQ, one process: {n} images {rss[0]:.0f} MB, {copies * n} images {rss[1]:.0f} MB (ratio {rss[1] / rss[0]:.2f})"
    )


def convert_predictions(gt_pan: Path, pred_pan: Path, dst: Path, options: WriteOptions) -> None:
    """Convert the panoptic predictions (a JSON with annotations only) to another format:
    the ground truth's images and categories are added first, as ``pred_full.json``."""
    pred_json, gt_json = json.loads(pred_pan.read_text()), json.loads(gt_pan.read_text())
    full = gt_pan.with_name("pred_full.json")
    full.write_text(json.dumps({**pred_json, "images": gt_json["images"], "categories": gt_json["categories"]}))
    convert(full, dst, options, jobs=2, overwrite=True, read_options={"masks": pred_pan.with_suffix("")})


def make_detections(gt_pan: Path, pred_pan: Path, seed: int = 2) -> tuple[Path, Path]:
    """COCO instance GT (things) and a results list (every predicted segment, random scores
    with ties) from the panoptic pair, made once with segtool's converter."""
    gt_inst, dets = gt_pan.with_name("instances_gt.json"), gt_pan.with_name("detections.json")
    if gt_inst.exists() and dets.exists():
        return gt_inst, dets
    convert(gt_pan, gt_inst, WriteOptions("coco-instance", things_only=True), jobs=2, overwrite=True)
    tmp = gt_pan.with_name("pred_instances.json")
    convert_predictions(gt_pan, pred_pan, tmp, WriteOptions("coco-instance"))
    rng = np.random.default_rng(seed)
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": a["segmentation"],
            "score": float(rng.choice(np.linspace(0.05, 1.0, 40))),
        }
        for a in json.loads(tmp.read_text())["annotations"]
    ]
    dets.write_text(json.dumps(results))
    return gt_inst, dets


def run_cocoeval(gt: Path, dets: Path, module: str = "pycocotools") -> tuple[float, list[float]]:
    """Seconds for load + evaluate + accumulate + summarize, and the 12 numbers."""
    (wall, _), stats = clocked(lambda: _cocoeval(gt, dets, module))
    return wall, stats


def _cocoeval(gt: Path, dets: Path, module: str) -> list[float]:
    if module == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    elif module == "hotcoco":
        from hotcoco import COCO, COCOeval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        d = g.loadRes(str(dets))
        e = COCOeval(g, d, "segm")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return list(e.stats)


def clocked(run: Any) -> tuple[tuple[float, float], Any]:
    """((wall-clock seconds, CPU seconds of this process: user + system, all its threads),
    what ``run()`` returns). On a shared machine the CPU time is the steadier figure."""
    t, c = time.perf_counter(), time.process_time()
    out = run()
    return (time.perf_counter() - t, time.process_time() - c), out


def _best(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), min(a[1], b[1])


def _hotcoco_installed() -> bool:
    try:
        import hotcoco  # noqa: F401
    except ImportError:
        return False
    return True


def bench_map(gt_pan: Path, pred_pan: Path, jobs: int, rounds: int) -> None:
    """Mask AP: pycocotools, segtool (--jobs 1 and --jobs N) and hotcoco (when installed)
    in interleaved rounds, wall-clock and CPU time (best of the rounds), then
    faster_coco_eval; hotcoco's threads count in its CPU time."""
    gt, dets = make_detections(gt_pan, pred_pan)
    n = len(json.loads(dets.read_text()))
    warm_up(jobs)
    inf = (float("inf"), float("inf"))
    t_ref, t_hot = inf, inf
    times = {j: inf for j in sorted({1, jobs})}
    results, hot = {}, _hotcoco_installed()
    for _ in range(rounds):  # interleaved rounds, best of each: this machine is noisy
        t, ref = clocked(lambda: _cocoeval(gt, dets, "pycocotools"))
        t_ref = _best(t_ref, t)
        for j in times:
            t, results[j] = clocked(lambda j=j: evaluate_instance(gt, dets, jobs=j).stats.tolist())
            times[j] = _best(times[j], t)
        if hot:
            t, hot_stats = clocked(lambda: _cocoeval(gt, dets, "hotcoco"))
            t_hot = _best(t_hot, t)
    print(
        f"mask AP, {n} detections, best of {rounds} interleaved rounds: pycocotools {t_ref[0]:.2f} s "
        f"({t_ref[1]:.2f} s CPU)"
    )
    for j, t_ours in times.items():
        diff = max(abs(a - b) for a, b in zip(results[j], ref, strict=True))
        print(
            f"  segtool --jobs {j}: {t_ours[0]:.2f} s ({t_ours[1]:.2f} s CPU in this process) -> "
            f"{t_ref[0] / t_ours[0]:.1f}x faster (AP {results[j][0]:.4f}, max difference to pycocotools {diff:.1e})"
        )
    if hot:
        diff = max(abs(a - b) for a, b in zip(hot_stats, ref, strict=True))
        ratios = "; ".join(
            f"--jobs {j} takes {t[0] / t_hot[0]:.2f}x its time, {t[1] / t_hot[1]:.2f}x its CPU time"
            for j, t in times.items()
        )
        print(
            f"hotcoco: {t_hot[0]:.2f} s ({t_hot[1]:.2f} s CPU; {t_ref[0] / t_hot[0]:.1f}x pycocotools); segtool "
            f"{ratios} (its max difference to pycocotools {diff:.1e})"
        )
    else:
        print("hotcoco: not installed - no ratio printed")
    try:
        runs = [run_cocoeval(gt, dets, "faster_coco_eval") for _ in range(rounds)]
    except ImportError:
        print("faster_coco_eval: not installed - no ratio printed")
        return
    t_other, stats = min(runs, key=lambda r: r[0])
    diff = max(abs(a - b) for a, b in zip(stats, ref, strict=True))
    print(
        f"faster_coco_eval: {t_other:.2f} s ({t_ref[0] / t_other:.1f}x pycocotools; segtool --jobs 1 takes "
        f"{times[1][0] / t_other:.2f}x its time; its max difference to pycocotools {diff:.1e})"
    )


def run_boundary_reference(gt: Path, dets: Path, jobs: int) -> tuple[float, list[float]]:
    """Seconds for faster-coco-eval's Boundary AP (load + evaluate + accumulate + summarize,
    its boundaries computed on ``jobs`` threads), and the 12 numbers."""
    from faster_coco_eval import COCO, COCOeval_faster

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval_faster(g, g.loadRes(str(dets)), "boundary", boundary_cpu_count=jobs)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return time.perf_counter() - t, list(e.stats)


def bench_boundary(gt_pan: Path, pred_pan: Path, jobs: int, rounds: int) -> None:
    """Boundary AP (dilation ratio 0.02): segtool against faster-coco-eval's
    iouType="boundary" with the same cores (its boundary threads = segtool's processes),
    side by side in one run, and their largest difference."""
    gt, dets = make_detections(gt_pan, pred_pan)
    n = len(json.loads(dets.read_text()))
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        print("Boundary AP: faster-coco-eval is not installed - no ratio printed")
        return
    warm_up(jobs)
    t_ref = float("inf")
    times = {j: float("inf") for j in sorted({1, jobs})}
    results = {}
    for _ in range(rounds):  # interleaved rounds, best of each: this machine is noisy
        t, ref = run_boundary_reference(gt, dets, jobs)
        t_ref = min(t_ref, t)
        for j in times:
            t = time.perf_counter()
            results[j] = evaluate_instance(gt, dets, iou_type="boundary", jobs=j).stats.tolist()
            times[j] = min(times[j], time.perf_counter() - t)
    print(
        f"Boundary AP, {n} detections, best of {rounds} interleaved rounds: faster-coco-eval ({jobs} threads) {t_ref:.2f} s"
    )
    for j, t_ours in times.items():
        diff = max(abs(a - b) for a, b in zip(results[j], ref, strict=True))
        print(
            f"  segtool --jobs {j}: {t_ours:.2f} s -> {t_ref / t_ours:.1f}x faster "
            f"(AP {results[j][0]:.4f}, max difference to faster-coco-eval {diff:.1e})"
        )


def bench_pq(gt: Path, pred: Path, args: argparse.Namespace) -> None:
    floor = decode_floor(gt.with_suffix("")) + decode_floor(pred.with_suffix(""))
    ours_floor = decode_floor(gt.with_suffix(""), "segtool") + decode_floor(pred.with_suffix(""), "segtool")
    warm_up(args.jobs)  # the worker server, started once per process (a CLI run pays it once)
    inf = (float("inf"), float("inf"))
    t_ref, t_one, t_ours, t_hot = inf, inf, inf, inf
    try:
        from hotcoco.panoptic import pq_compute as hot_pq
    except ImportError:
        hot_pq = None
    for _ in range(args.rounds):  # interleaved rounds, best of each: this machine is noisy
        t, theirs = clocked(lambda: run_panopticapi(gt, pred))
        t_ref = _best(t_ref, t)
        t, _ = clocked(lambda: evaluate_panoptic(gt, pred, jobs=1))
        t_one = _best(t_one, t)
        t, ours = clocked(lambda: evaluate_panoptic(gt, pred, jobs=args.jobs).to_panopticapi())
        t_ours = _best(t_ours, t)
        if hot_pq is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                t, _ = clocked(lambda: hot_pq(str(gt), str(pred), str(gt.with_suffix("")), str(pred.with_suffix(""))))
            t_hot = _best(t_hot, t)
    diff = max(abs(ours[g][k] - theirs[g][k]) for g in ("All", "Things", "Stuff") for k in ("pq", "sq", "rq"))
    print(f"{args.images} image pairs 640x480; PQ = {ours['All']['pq']:.6f} (max difference to panopticapi {diff:.1e})")
    print(
        f"PNG-decoding floor (1 process, 2 PNGs per image): Pillow {floor:.2f} s, segtool's decoder {ours_floor:.2f} s"
    )
    print(f"best of {args.rounds} interleaved rounds (segtool's worker server started before them)")
    print(f"panopticapi pq_compute ({args.jobs} processes): {t_ref[0]:.2f} s")
    print(
        f"segtool evaluate_panoptic (--jobs {args.jobs}):   {t_ours[0]:.2f} s   -> {t_ref[0] / t_ours[0]:.1f}x faster than panopticapi"
    )
    print(
        f"segtool evaluate_panoptic (--jobs 1):   {t_one[0]:.2f} s, {t_one[1]:.2f} s CPU   (--jobs {args.jobs} is "
        f"{t_one[0] / t_ours[0]:.2f}x faster)"
    )
    if hot_pq is None:
        print("hotcoco: not installed (pip install hotcoco) - no ratio printed")
        return
    # per core: segtool --jobs 1 does all its work in this process; hotcoco's CPU time counts all its threads
    print(
        f"hotcoco pq_compute: {t_hot[0]:.2f} s (segtool takes {t_ours[0] / t_hot[0]:.2f}x its time; "
        f"{t_hot[1]:.2f} s CPU, segtool --jobs 1 takes {t_one[1] / t_hot[1]:.2f}x its CPU time)"
    )


def make_semantic(gt_pan: Path) -> tuple[Path, Path]:
    """Semantic label folders of the ground truth and of the predictions (made once, with
    segtool's converter: category ids as labels, 255 for void)."""
    gt_sem, pred_sem = gt_pan.with_name("semantic_gt"), gt_pan.with_name("semantic_pred")
    if not gt_sem.is_dir():
        convert(gt_pan, gt_sem, WriteOptions("semantic"), jobs=2, overwrite=True)
    if not pred_sem.is_dir():
        convert_predictions(gt_pan, gt_pan.with_name("pred.json"), pred_sem, WriteOptions("semantic"))
    return gt_sem, pred_sem


def bench_miou(gt_pan: Path, jobs: int, rounds: int) -> None:
    """segtool's eval semantic against hotcoco's SemanticEval (mmsegmentation's protocol),
    wall-clock time and, per core, CPU time (segtool --jobs 1: all its work in this process;
    hotcoco: all its threads)."""
    from segtool import evaluate_semantic

    gt_sem, pred_sem = make_semantic(gt_pan)
    warm_up(jobs)
    try:
        from hotcoco.semantic import SemanticEval
    except ImportError:
        SemanticEval = None
    inf = (float("inf"), float("inf"))
    times, t_hot = {j: inf for j in sorted({1, jobs})}, inf
    per_class: dict = {}
    for _ in range(rounds):
        for j in times:
            t, ours = clocked(lambda j=j: evaluate_semantic(gt_sem, pred_sem, jobs=j).to_dict())
            times[j] = _best(times[j], t)
        if SemanticEval is not None:
            t, per_class = clocked(lambda: _hotcoco_semantic(SemanticEval, gt_sem, pred_sem))
            t_hot = _best(t_hot, t)
    print(f"mIoU of {len(list(gt_sem.glob('*.png')))} label maps: {ours['mIoU']:.6f}, best of {rounds}")
    for j, t in times.items():
        print(f"  segtool eval semantic --jobs {j}: {t[0]:.2f} s ({t[1]:.2f} s CPU in this process)")
    if SemanticEval is None:
        print("hotcoco: not installed - no ratio printed")
        return
    # hotcoco rejects prediction labels >= classes, and our predictions mark void 255: with
    # 256 classes, 255 becomes a prediction-only class in its mean. The per-category IoUs
    # are the same quantity on both sides, so the check averages hotcoco's over our categories.
    cat_ids = [c["id"] for c in json.loads((gt_sem / "categories.json").read_text())]
    ious = [per_class[c]["IoU"] for c in cat_ids if per_class[c]["IoU"] >= 0]
    print(
        f"hotcoco SemanticEval: {t_hot[0]:.2f} s (segtool --jobs {jobs} takes {times[jobs][0] / t_hot[0]:.2f}x its time; "
        f"{t_hot[1]:.2f} s CPU, segtool --jobs 1 takes {times[1][1] / t_hot[1]:.2f}x its CPU time; "
        f"mIoU over the categories differs by {abs(sum(ious) / len(ious) - ours['mIoU']):.1e})"
    )


def _hotcoco_semantic(semantic_eval: Any, gt_sem: Path, pred_sem: Path) -> dict:
    ev = semantic_eval(256, ignore_index=255)
    ev.update_folders(str(gt_sem), str(pred_sem))
    return ev.results()["per_class"]


def make_lvis(gt_inst: Path, dets: Path, seed: int = 3) -> tuple[Path, Path]:
    """An LVIS-style pair from the instance pair: categories in frequency groups (id mod 3),
    each image's absent categories half verified (neg_category_ids), one present category
    in four not exhaustive, no crowd; detections: the results list plus a copy of each in
    another category (some verified absent, some unknown to the image), and 350 more on
    every 25th image, so the 300-per-image cut applies; grouped by image."""
    gt_lvis, dt_lvis = gt_inst.with_name("lvis_gt.json"), gt_inst.with_name("lvis_detections.json")
    if gt_lvis.exists() and dt_lvis.exists():
        return gt_lvis, dt_lvis
    rng = np.random.default_rng(seed)
    data = json.loads(gt_inst.read_text())
    cats = [c["id"] for c in data["categories"]]
    for c in data["categories"]:
        c["frequency"] = "rcf"[c["id"] % 3]
    present: dict[int, set[int]] = {im["id"]: set() for im in data["images"]}
    for a in data["annotations"]:
        a.pop("iscrowd", None)
        present[a["image_id"]].add(a["category_id"])
    for im in data["images"]:
        absent = [c for c in cats if c not in present[im["id"]]]
        im["neg_category_ids"] = sorted(int(c) for c in rng.choice(absent, len(absent) // 2, replace=False))
        im["not_exhaustive_category_ids"] = sorted(c for c in present[im["id"]] if rng.random() < 0.25)
    gt_lvis.write_text(json.dumps(data))
    results = json.loads(dets.read_text())
    extra = [{**d, "category_id": int(rng.choice(cats)), "score": d["score"] * 0.9} for d in results]
    by_image: dict[int, list[dict]] = {}
    for d in results:
        by_image.setdefault(d["image_id"], []).append(d)
    for iid in sorted(by_image)[::25]:
        mine = by_image[iid]
        extra += [
            {**mine[k % len(mine)], "category_id": int(rng.choice(cats)), "score": 0.01 * (k % 7)} for k in range(350)
        ]
    order = {im["id"]: k for k, im in enumerate(data["images"])}  # grouped by image, as detectron2 writes them
    dt_lvis.write_text(json.dumps(sorted(results + extra, key=lambda d: order[d["image_id"]])))
    return gt_lvis, dt_lvis


def _lvis_api(gt: Path, dets: Path) -> dict:
    """lvis-api's LVISEval (load + run). Its accumulate calls np.float, which numpy >= 1.24
    removed: the builtin float it named is given back."""
    from lvis import LVISEval

    np.float = float  # type: ignore[attr-defined]  # noqa: NPY001
    with contextlib.redirect_stdout(io.StringIO()):
        e = LVISEval(str(gt), str(dets), "segm")
        e.run()
    return {k: float(v) for k, v in e.results.items()}


def _hotcoco_lvis(gt: Path, dets: Path) -> float:
    """hotcoco's LVISEval (load, load_res, run): its AP."""
    from hotcoco import LVIS, LVISEval, LVISResults

    with contextlib.redirect_stdout(io.StringIO()):
        truth = LVIS(str(gt))
        e = LVISEval(truth, LVISResults(truth, str(dets)), "segm")
        e.run()
    return float(e.get_results()["AP"])


def bench_lvis(gt_pan: Path, pred_pan: Path, rounds: int, jobs: int = 1) -> None:
    """LVIS federated mask AP: segtool (--jobs 1 and --jobs N) against lvis-api and hotcoco's
    LVISEval (when installed), in interleaved rounds, wall-clock and CPU time, and their
    largest differences."""
    gt, dets = make_lvis(*make_detections(gt_pan, pred_pan))
    n = len(json.loads(dets.read_text()))
    try:
        import lvis  # noqa: F401
    except ImportError:
        print("LVIS: lvis-api is not installed (pip install --no-deps lvis) - no ratio printed")
        return
    inf = (float("inf"), float("inf"))
    t_ref, t_hot = inf, inf
    times = {j: inf for j in sorted({1, jobs})}
    hot, hot_ap = _hotcoco_installed(), float("nan")
    for _ in range(rounds):
        t, ref = clocked(lambda: _lvis_api(gt, dets))
        t_ref = _best(t_ref, t)
        for j in times:
            t, ours = clocked(lambda j=j: evaluate_instance(gt, dets, jobs=j).to_dict())
            times[j] = _best(times[j], t)
        if hot:
            t, hot_ap = clocked(lambda: _hotcoco_lvis(gt, dets))
            t_hot = _best(t_hot, t)
    diff = max(abs(ours[k] - v) for k, v in ref.items())
    print(
        f"LVIS mask AP, {n} detections, best of {rounds} interleaved rounds: lvis-api {t_ref[0]:.2f} s "
        f"({t_ref[1]:.2f} s CPU); AP {ours['AP']:.4f}, APr {ours['APr']:.4f}, segtool's max difference to "
        f"lvis-api over its {len(ref)} numbers {diff:.1e}"
    )
    for j, t_ours in times.items():
        print(
            f"  segtool --jobs {j}: {t_ours[0]:.2f} s ({t_ours[1]:.2f} s CPU) -> {t_ref[0] / t_ours[0]:.1f}x faster, "
            f"{t_ref[1] / t_ours[1]:.1f}x in CPU time"
        )
    if not hot:
        print("hotcoco: not installed (pip install hotcoco) - no LVIS ratio to it")
        return
    t_ours = times[max(times)]
    print(
        f"hotcoco LVISEval: {t_hot[0]:.2f} s ({t_hot[1]:.2f} s CPU); segtool --jobs {max(times)} takes "
        f"{t_ours[0] / t_hot[0]:.2f}x its time, {t_ours[1] / t_hot[1]:.2f}x its CPU time (its AP {hot_ap:.4f}, "
        f"differs from lvis-api's by {abs(hot_ap - ref['AP']):.1e})"
    )


def bench_per_image(gt_pan: Path, pred_pan: Path, jobs: int, rounds: int) -> None:
    """Each eval plain, with per-image rows, and with rows and two slices (half the images
    each), in interleaved rounds, best of each: what --per-image costs (issue 13: <= 10%).
    Wall time, and the CPU time of this process: with --jobs 1 all of the work, and far
    steadier than wall time on a shared machine."""
    from segtool import evaluate_semantic

    gt_inst, dets = make_detections(gt_pan, pred_pan)
    gt_sem, pred_sem = make_semantic(gt_pan)
    ids = [im["id"] for im in json.loads(gt_pan.read_text())["images"]]
    sem_ids = list(range(1, len(ids) + 1))  # a semantic folder numbers its images 1..n
    cases = {
        "panoptic": (lambda **kw: evaluate_panoptic(gt_pan, pred_pan, jobs=jobs, **kw), ids),
        "instance": (lambda **kw: evaluate_instance(gt_inst, dets, jobs=jobs, **kw), ids),
        "semantic": (lambda **kw: evaluate_semantic(gt_sem, pred_sem, jobs=jobs, **kw), sem_ids),
    }
    warm_up(jobs)
    print(
        f"--per-image and --slices (2 of half the images) vs plain, {len(ids)} images, --jobs {jobs}, best of {rounds}:"
    )
    for name, (run, image_ids) in cases.items():
        options = {
            "plain": {},
            "--per-image": {"per_image": True},
            "--per-image --slices": {"per_image": True, "slices": {"even": image_ids[::2], "odd": image_ids[1::2]}},
        }
        best = {k: [float("inf"), float("inf")] for k in options}  # wall, CPU
        for _ in range(rounds):
            for label, kw in options.items():
                t, cpu = time.perf_counter(), time.process_time()
                rows = run(**kw).per_image
                best[label][0] = min(best[label][0], time.perf_counter() - t)
                best[label][1] = min(best[label][1], time.process_time() - cpu)
                assert rows is None or len(rows) == len(image_ids)
        for i, what in enumerate(("wall", "CPU")):
            plain = best["plain"][i]
            shown = ", ".join(
                f"{k} {v[i]:.2f} s ({100 * (v[i] / plain - 1):+.1f}%)" for k, v in best.items() if k != "plain"
            )
            print(f"  eval {name} ({what}): plain {plain:.2f} s, {shown}")


def run_tidecv(gt: Path, dets: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds for tidecv's load + evaluate + its main and special errors (mask mode)."""
    from tidecv import TIDE, datasets

    t, c = time.perf_counter(), time.process_time()
    tide = TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(datasets.COCO(str(gt)), datasets.COCOResult(str(dets)), mode=TIDE.MASK, name="run")
        errors = tide.get_all_errors()
    return (
        time.perf_counter() - t,
        time.process_time() - c,
        {"ap": run.ap, **errors["main"]["run"], **errors["special"]["run"]},
    )


def run_hotcoco_tide(gt: Path, dets: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds for hotcoco's load + evaluate + tide_errors (segm), and its
    numbers under tidecv's names (its FP and FN are tidecv's FalsePos and FalseNeg)."""
    from hotcoco import COCO, COCOeval

    t, c = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dets)), "segm")
        e.evaluate()
        out = e.tide_errors(pos_thr=0.5, bg_thr=0.1)
    names = {"FP": "FalsePos", "FN": "FalseNeg"}
    numbers = {"ap": out["ap_base"], **{names.get(k, k): v for k, v in out["delta_ap"].items()}}
    return time.perf_counter() - t, time.process_time() - c, numbers


def bench_tide(gt_pan: Path, pred_pan: Path, rounds: int) -> None:
    """eval instance plain, with --tide, and with --tide --confusion --calibration (one
    process, interleaved rounds, best of each; issue 14: --tide adds <= 50%), and tidecv's
    mask-mode TIDE on the same files, with the largest difference of its 9 numbers; then
    hotcoco's COCOeval.tide_errors (its evaluate included), timed beside them, and each of
    its numbers less tidecv's (hotcoco matches as COCOeval does: its base AP is COCO's AP50,
    not tidecv's own)."""
    from segtool.metrics.analyses import Analyses

    gt, dets = make_detections(gt_pan, pred_pan)
    n = len(json.loads(dets.read_text()))
    a, every = Analyses(tide=True), Analyses(tide=True, confusion=0.5, calibration=10)
    runs = {  # each with its numbers made (to_dict), as the command does
        "plain": lambda: evaluate_instance(gt, dets).to_dict(),
        "--tide": lambda: (evaluate_instance(gt, dets, analyses=a), a.to_dict()),
        "--tide --confusion --calibration": lambda: (evaluate_instance(gt, dets, analyses=every), every.to_dict()),
    }
    wall, cpu = dict.fromkeys(runs, float("inf")), dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):  # one process: CPU time is steadier than wall time on a shared machine
        for name, run in runs.items():
            t, c = time.perf_counter(), time.process_time()
            run()
            wall[name] = min(wall[name], time.perf_counter() - t)
            cpu[name] = min(cpu[name], time.process_time() - c)
    ours = a.to_dict()["tide"]
    print(f"TIDE, mask, {n} detections, best of {rounds}, wall (CPU) seconds:")
    for name in runs:
        print(
            f"  eval instance {name}: {wall[name]:.2f} s ({cpu[name]:.2f} s CPU), "
            f"{100 * (wall[name] / wall['plain'] - 1):+.1f}% ({100 * (cpu[name] / cpu['plain'] - 1):+.1f}% CPU)"
        )
    tide, tide_cpu = wall["--tide"], cpu["--tide"]
    try:
        t_ref, c_ref, ref = run_tidecv(gt, dets)
    except ImportError:
        print("  tidecv: not installed (pip install --no-deps tidecv seaborn appdirs) - no ratio printed")
        return
    got = {"ap": ours["ap"], **ours["main"], **ours["special"]}
    diff = max(abs(got[k] - v) for k, v in ref.items())
    print(
        f"  tidecv (one run): {t_ref:.2f} s ({c_ref:.2f} s CPU) -> segtool's --tide run {t_ref / tide:.1f}x "
        f"faster ({c_ref / tide_cpu:.1f}x in CPU time) "
        f"(AP50 {ours['ap']:.2f}, max difference to tidecv over its {len(ref)} numbers {diff:.1e})"
    )
    try:
        hot = [run_hotcoco_tide(gt, dets) for _ in range(rounds)]
    except ImportError:
        print("  hotcoco: not installed (pip install hotcoco) - no TIDE ratio to it")
        return
    t_hot, c_hot = min(h[0] for h in hot), min(h[1] for h in hot)
    theirs = hot[0][2]
    scale = 100 if theirs["ap"] <= 1 else 1  # hotcoco may give fractions, tidecv AP points
    shown = ", ".join(f"{k} {scale * theirs[k] - v:+.2e}" for k, v in ref.items() if k in theirs)
    print(
        f"  hotcoco tide_errors (evaluate included, best of {rounds}): {t_hot:.2f} s ({c_hot:.2f} s CPU); "
        f"segtool's --tide run takes {tide / t_hot:.2f}x its time ({tide_cpu / c_hot:.2f}x CPU)"
    )
    print(f"  hotcoco - tidecv, each number (AP points): {shown}")


def bench_pq_errors(gt: Path, pred: Path, jobs: int, rounds: int) -> None:
    """eval panoptic plain, with --errors, and with --errors --confusion (issue 14: --errors
    adds <= 50%), each with its numbers made as the command makes them; interleaved rounds,
    best of each, with --jobs 1 (wall and CPU: all the work in this process) and --jobs N."""
    from segtool.metrics.pq_errors import PQAnalyses

    def run(jobs: int, **what: bool) -> None:
        a = PQAnalyses(**what)
        result = evaluate_panoptic(gt, pred, jobs=jobs, analyses=a or None)
        result.to_dict(), a.to_dict(result)

    options: dict[str, dict[str, bool]] = {"plain": {}, "--errors": {"errors": True}}
    options["--errors --confusion"] = {"errors": True, "confusion": True}
    warm_up(jobs)
    for j in sorted({1, jobs}):
        best = {k: [float("inf"), float("inf")] for k in options}  # wall, CPU
        for _ in range(rounds):
            for label, kw in options.items():
                t, cpu = time.perf_counter(), time.process_time()
                run(j, **kw)
                best[label][0] = min(best[label][0], time.perf_counter() - t)
                best[label][1] = min(best[label][1], time.process_time() - cpu)
        plain = best["plain"]
        shown = ", ".join(
            f"{k} {v[0]:.2f} s ({100 * (v[0] / plain[0] - 1):+.1f}%; CPU {100 * (v[1] / plain[1] - 1):+.1f}%)"
            for k, v in best.items()
            if k != "plain"
        )
        print(f"PQ errors, --jobs {j}, best of {rounds}: plain {plain[0]:.2f} s (CPU {plain[1]:.2f} s), {shown}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--data", type=Path, default=Path("bench_out/data1000"))
    ap.add_argument("--jobs", type=int, default=2, help="processes for both (panopticapi uses all cores)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument(
        "--only",
        choices=["pq", "map", "miou", "lvis", "boundary", "per-image", "tide", "pq-errors"],
        help="run one part",
    )
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each timing (best is kept)")
    args = ap.parse_args()
    tune_allocator()
    gt = make_panoptic(args.data, args.images)
    pred = make_predictions(gt)
    if args.only in (None, "pq"):
        bench_pq(gt, pred, args)
    if args.only in (None, "map"):
        bench_map(gt, pred, args.jobs, args.rounds)
    if args.only in (None, "miou"):
        bench_miou(gt, args.jobs, args.rounds)
    if args.only in (None, "lvis"):
        bench_lvis(gt, pred, args.rounds, args.jobs)
    if args.only in (None, "boundary"):
        bench_boundary(gt, pred, args.jobs, args.rounds)
    if args.only in (None, "per-image"):
        bench_per_image(gt, pred, args.jobs, args.rounds)
    if args.only in (None, "tide"):
        bench_tide(gt, pred, args.rounds)
    if args.only in (None, "pq-errors"):
        bench_pq_errors(gt, pred, args.jobs, args.rounds)
    if not args.no_memory and args.only in (None, "pq"):
        memory(gt, pred)


if __name__ == "__main__":
    main()
