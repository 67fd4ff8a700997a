"""COCO AP/AR against pycocotools' COCOeval: the 12 numbers and the full precision/recall arrays."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segtool import evaluate_instance
from tests.conftest import DETECTION_EXAMPLES, write_json

CATS = [{"id": c, "name": f"c{c}"} for c in (1, 2, 7, 100, 200)]  # 100 and 200: never in GT


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": r["size"], "counts": r["counts"].decode("ascii")}


def shape(rng, h, w):
    m = np.zeros((h, w), bool)
    y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
    size = int(rng.choice([3, 12, 40, 110]))  # small, medium, large
    m[y : y + size, x : x + int(rng.integers(2, size + 2))] = True
    return m


def make_case(tmp_path: Path, seed: int, with_bbox: bool) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    for iid in range(1, int(rng.integers(2, 6)) + 1):
        h, w = int(rng.integers(60, 140)), int(rng.integers(60, 140))
        images.append({"id": iid * 3, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for _ in range(0 if iid == 2 else int(rng.integers(1, 9))):
            m = shape(rng, h, w)
            crowd = rng.random() < 0.12
            cat = int(rng.choice([1, 2, 7]))
            if crowd:
                r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                segm = {"size": [h, w], "counts": [int(v) for v in _counts(m)]}
            elif rng.random() < 0.5:
                ys, xs = np.nonzero(m)
                x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
                segm = [[float(x0), float(y0), float(x1), float(y0), float(x1), float(y1), float(x0), float(y1)]]
            else:
                segm = rle(m)
            r = (
                mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
                if isinstance(segm, list)
                else (
                    mask_utils.frPyObjects(segm, h, w)
                    if isinstance(segm["counts"], list)
                    else {**segm, "counts": segm["counts"].encode()}
                )
            )
            area = float(mask_utils.area(r)) * float(rng.choice([1.0, 1.0, 0.5]))  # JSON area may differ from the mask
            gts.append(
                {
                    "id": len(gts) + (0 if seed % 3 == 0 else 1),
                    "image_id": iid * 3,
                    "category_id": cat,
                    "segmentation": segm,
                    "area": area,
                    "bbox": [float(v) for v in mask_utils.toBbox(r)],
                    "iscrowd": int(crowd),
                }
            )
            if not crowd and rng.random() < 0.8:  # a detection of it, shifted
                dm = np.roll(m, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
                dcat = cat if rng.random() < 0.85 else int(rng.choice([1, 2, 7, 100]))
                dets.append(_det(iid * 3, dcat, dm, rng, with_bbox))
        for _ in range(130 if iid == 3 else int(rng.integers(0, 4))):  # false positives; >100 in one image
            dets.append(_det(iid * 3, int(rng.choice([1, 2, 7, 200])), shape(rng, h, w), rng, with_bbox))
    gt_path = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    return gt_path, write_json(tmp_path / "dt.json", dets)


def _counts(m: np.ndarray) -> list[int]:
    flat = m.T.ravel().astype(np.int8)
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return (
        np.diff(np.concatenate([[0], change])).tolist()
        if flat[0] == 0
        else [0, *np.diff(np.concatenate([[0], change])).tolist()]
    )


def _det(iid, cat, m, rng, with_bbox):
    r = rle(m)
    d = {"image_id": iid, "category_id": cat, "segmentation": r, "score": float(rng.choice([0.1, 0.5, 0.5, 0.9, 0.9]))}
    if with_bbox:
        d["bbox"] = [float(v) for v in mask_utils.toBbox({**r, "counts": r["counts"].encode()})]
    return d


def reference(gt: Path, dt: Path, iou_type: str) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        d = g.loadRes(str(dt))
        e = COCOeval(g, d, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def assert_same(ours, theirs: COCOeval) -> None:
    assert np.allclose(ours.stats, theirs.stats, atol=1e-9, rtol=0), (ours.stats, list(theirs.stats))
    assert np.array_equal(ours.precision == -1, theirs.eval["precision"] == -1)
    assert np.allclose(ours.precision, theirs.eval["precision"], atol=1e-12, rtol=0)
    assert np.allclose(ours.recall, theirs.eval["recall"], atol=1e-12, rtol=0)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("with_bbox", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_generated_detections_match_cocoeval(tmp_path, seed, with_bbox, iou_type):
    gt, dt = make_case(tmp_path, seed, with_bbox)
    assert_same(evaluate_instance(gt, dt, iou_type=iou_type), reference(gt, dt, iou_type))


def test_real_detection_file_with_a_zero_ground_truth_id(tmp_path):
    """panopticapi's real detection JSON numbers its annotations from 0: pycocotools then
    loses the match of the annotation with id 0, and segtool must too."""
    data = json.loads(DETECTION_EXAMPLES.read_text())
    rng = np.random.default_rng(0)
    dets = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": a["segmentation"],
            "score": float(rng.choice([0.3, 0.6])),
        }
        for a in data["annotations"]
        if not a["iscrowd"]
    ]
    dt = write_json(tmp_path / "dt.json", dets)
    theirs = reference(DETECTION_EXAMPLES, dt, "segm")
    assert theirs.stats[0] < 1.0
    assert_same(evaluate_instance(DETECTION_EXAMPLES, dt), theirs)


def count_pools(monkeypatch) -> list[int]:
    """Patch segtool.parallel so every worker pool it starts is counted (a list of sizes)."""
    from segtool import parallel

    started: list[int] = []

    class Counted(parallel.ProcessPoolExecutor):
        def __init__(self, jobs, *args, **kwargs):
            started.append(jobs)
            super().__init__(jobs, *args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Counted)
    monkeypatch.setattr(parallel, "SMALL", 0)
    return started


def test_a_results_list_runs_in_one_process_whatever_jobs_says(tmp_path, monkeypatch):
    """By design (docs/eval.md: workers measured no faster), so --jobs 2 starts no pool and
    gives the numbers of --jobs 1; the worker path is tested with panoptic predictions below."""
    started = count_pools(monkeypatch)
    gt, dt = make_case(tmp_path, 5, True)
    one = evaluate_instance(gt, dt, jobs=1)
    two = evaluate_instance(gt, dt, jobs=2)
    assert started == []
    assert np.array_equal(one.stats, two.stats) and np.array_equal(one.precision, two.precision)


def make_large_case(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    """60 images, ~8 instances each: hundreds of ground truths per category, so recall
    values k/npig land next to the 101 recall thresholds many times."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    for iid in range(1, 61):
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": 64, "width": 64})
        for _ in range(int(rng.integers(4, 12))):
            m = np.zeros((64, 64), bool)
            y, x, s = int(rng.integers(0, 50)), int(rng.integers(0, 50)), int(rng.integers(3, 14))
            m[y : y + s, x : x + s] = True
            cat = int(rng.choice([1, 2]))
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": [x, y, s, s],
                    "iscrowd": 0,
                }
            )
            if rng.random() < 0.85:
                dm = np.roll(m, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
                dets.append(_det(iid, cat, dm, rng, False))
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    return gt, write_json(tmp_path / "dt.json", dets)


@pytest.mark.parametrize("seed", range(4))
def test_many_ground_truths_per_category_match_cocoeval(tmp_path, seed):
    gt, dt = make_large_case(tmp_path, seed)
    assert_same(evaluate_instance(gt, dt), reference(gt, dt, "segm"))


def test_recall_exactly_on_the_thresholds(tmp_path):
    """100 ground truths, each found by an exact copy, so recall steps through k/100 — next
    to the 101 thresholds, some of which linspace puts a rounding error above k/100 (0.29 vs
    29/100). False positives interleaved in score make precision differ at every index."""
    images, gts, dets = [], [], []
    score = 1.0
    for iid in range(1, 51):
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": 40, "width": 40})
        for k in range(2):
            m = np.zeros((40, 40), bool)
            m[2 + 18 * k : 12 + 18 * k, 2:12] = True
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": 1,
                    "segmentation": rle(m),
                    "area": 100.0,
                    "bbox": [2, 2 + 18 * k, 10, 10],
                    "iscrowd": 0,
                }
            )
            score -= 0.004
            dets.append({"image_id": iid, "category_id": 1, "segmentation": rle(m), "score": score})
            if (iid + k) % 3 == 0:  # a false positive just below it
                fp = np.zeros((40, 40), bool)
                fp[25:35, 25:35] = True
                score -= 0.001
                dets.append({"image_id": iid, "category_id": 1, "segmentation": rle(fp), "score": score})
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    dt = write_json(tmp_path / "dt.json", dets)
    assert_same(evaluate_instance(gt, dt), reference(gt, dt, "segm"))


def test_custom_max_dets_and_area_ranges_match_cocoeval(tmp_path, runner):
    """--max-dets 1,5,20 --area-ranges 0,100,1600,1e10 equal COCOeval with those params."""
    from segtool.cli import main

    gt, dt = make_case(tmp_path, 3, True)
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), "segm")
        e.params.maxDets = [1, 5, 20]
        e.params.areaRng = [[0, 1e10], [0, 100], [100, 1600], [1600, 1e10]]
        e.evaluate()
        e.accumulate()
        e.summarize()
    r = runner.invoke(
        main,
        ["eval", "instance", str(gt), str(dt), "--max-dets", "1,5,20", "--area-ranges", "0,100,1600,1e10", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert np.allclose(json.loads(r.stdout)["stats"], e.stats, atol=1e-9, rtol=0)
    assert runner.invoke(main, ["eval", "instance", str(gt), str(dt), "--max-dets", "10,1"]).exit_code == 2


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_real_coco_val2017_subset(tmp_path, iou_type):
    """Real COCO val2017 ground truth (airo-mono's subset: polygons, a crowd RLE whose area is
    1.43x its mask) against detections made from it: shifted, some relabelled, tied scores."""
    from tests.conftest import DATA

    gt = DATA / "airo-mono/instances_val2017_small.json"
    data = json.loads(gt.read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    rng = np.random.default_rng(11)
    dets = []
    cats = sorted({a["category_id"] for a in data["annotations"]})
    for a in data["annotations"]:
        h, w = sizes[a["image_id"]]
        r = mask_utils.frPyObjects(a["segmentation"], h, w)
        m = mask_utils.decode(mask_utils.merge(r) if isinstance(r, list) else r)
        m = np.roll(m, (int(rng.integers(-6, 7)), int(rng.integers(-6, 7))), axis=(0, 1))
        cat = a["category_id"] if rng.random() < 0.85 else int(rng.choice(cats))
        det = {
            "image_id": a["image_id"],
            "category_id": cat,
            "segmentation": rle(m.astype(bool)),
            "score": float(rng.choice([0.4, 0.7, 0.7])),
        }
        det["bbox"] = [
            float(v)
            for v in mask_utils.toBbox({**det["segmentation"], "counts": det["segmentation"]["counts"].encode()})
        ]
        dets.append(det)
    dt = write_json(tmp_path / "dt.json", dets)
    theirs = reference(gt, dt, iou_type)
    assert 0 < theirs.stats[0] < 1
    assert_same(evaluate_instance(gt, dt, iou_type=iou_type), theirs)


def test_panoptic_predictions_with_scores_equal_the_same_results_list(tmp_path, monkeypatch):
    """A panoptic prediction (segments_info with scores) scores exactly like its segments
    written as a COCO results list, which pycocotools then evaluates."""
    from tests.conftest import PANOPTIC_EXAMPLES

    data = json.loads(PANOPTIC_EXAMPLES.read_text())
    rng = np.random.default_rng(4)
    for ann in data["annotations"]:
        for s in ann["segments_info"]:
            s["score"] = float(rng.choice([0.3, 0.8]))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(data))
    import shutil

    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), tmp_path / "pred")
    # the same segments as a results list, made by hand from the PNGs
    from tests.conftest import ids_of

    dets = []
    for ann in data["annotations"]:
        ids = ids_of(tmp_path / "pred" / ann["file_name"])
        for s in ann["segments_info"]:
            dets.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": s["category_id"],
                    "segmentation": rle(ids == s["id"]),
                    "score": s["score"],
                }
            )
    results = write_json(tmp_path / "dets.json", dets)
    gt = DETECTION_EXAMPLES  # the same 50 segments as COCO instance ground truth
    theirs = reference(gt, results, "segm")
    assert_same(evaluate_instance(gt, pred), theirs)
    # panoptic predictions decode PNGs: the one instance case that runs in workers
    started = count_pools(monkeypatch)
    two = evaluate_instance(gt, pred, jobs=2)
    assert started == [2]
    one = evaluate_instance(gt, pred, jobs=1)
    assert np.array_equal(one.stats, two.stats) and np.array_equal(one.precision, two.precision)
