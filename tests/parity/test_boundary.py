"""Boundary AP against faster-coco-eval's ``COCOeval_faster(iouType="boundary")``: the 12
numbers and the precision/recall arrays to 1e-9, on generated ground truth and detections
(several image sizes, rectangles, ellipses, rings, one-pixel lines, crowd regions, images
without ground truth or without detections, tied scores, wrong categories)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segtool import evaluate_instance

fce = pytest.importorskip("faster_coco_eval", reason="faster-coco-eval (the Boundary AP reference) is not installed")

CATS = [{"id": c, "name": f"c{c}"} for c in (1, 2, 5)]
# 45 x 60: 0.02 x 75 = 1.5 exactly, where faster-coco-eval rounds down (1 px) and Python's
# round to even (2 px): Boundary AP follows faster-coco-eval
SIZES = [(45, 60), (64, 64), (97, 130), (150, 40), (200, 260)]


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def shape(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One object: a rectangle, an ellipse, a ring or a one-pixel line, anywhere (also cut
    by the image border)."""
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.integers(-5, h + 5), rng.integers(-5, w + 5)
    ry, rx = rng.integers(2, max(3, h // 2)), rng.integers(2, max(3, w // 2))
    kind = rng.integers(0, 4)
    if kind == 0:
        m = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
    elif kind == 1:
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    elif kind == 2:
        r = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        m = (r <= 1) & (r >= 0.4)
    else:  # thin: one pixel wide, horizontal, vertical or diagonal
        m = np.zeros((h, w), bool)
        length = int(rng.integers(3, max(4, min(h, w))))
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        dy, dx = [(0, 1), (1, 0), (1, 1)][int(rng.integers(0, 3))]
        for t in range(length):
            if 0 <= y0 + dy * t < h and 0 <= x0 + dx * t < w:
                m[y0 + dy * t, x0 + dx * t] = True
    if not m.any():
        m[int(rng.integers(0, h)), int(rng.integers(0, w))] = True
    return m


def predict(rng: np.random.Generator, m: np.ndarray) -> np.ndarray:
    """A detection of ``m``: shifted, grown, shrunk or ragged, sometimes exact."""
    p = np.roll(m, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
    r = rng.random()
    if r < 0.2:
        p = m.copy()
    elif r < 0.4:
        p = p | np.roll(p, 1, axis=0) | np.roll(p, 1, axis=1)
    elif r < 0.6:
        p = p & np.roll(p, 1, axis=0) & np.roll(p, -1, axis=1)
    elif r < 0.8:
        p = p & (rng.random(p.shape) < 0.85)
    return p


def make_case(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    scores = [0.1, 0.35, 0.5, 0.5, 0.8, 0.95]  # few values: ties across and within images
    for iid, (h, w) in enumerate(SIZES + SIZES[: int(rng.integers(0, 3))], start=1):
        images.append({"id": iid, "file_name": f"{iid}.png", "height": h, "width": w})
        n_gt = 0 if iid == 2 else int(rng.integers(1, 8))  # image 2: no ground truth
        for _ in range(n_gt):
            m = shape(rng, h, w)
            cat = int(rng.choice([1, 2, 5]))
            crowd = int(rng.random() < 0.12)
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": [
                        float(v) for v in mask_utils.toBbox(mask_utils.encode(np.asfortranarray(m.astype(np.uint8))))
                    ],
                    "iscrowd": crowd,
                }
            )
            if iid == 3:  # image 3: no detections
                continue
            for _ in range(int(rng.integers(0, 3))):
                p = predict(rng, m)
                if not p.any():
                    continue
                c = cat if rng.random() < 0.85 else int(rng.choice([1, 2, 5]))
                dets.append(
                    {"image_id": iid, "category_id": c, "segmentation": rle(p), "score": float(rng.choice(scores))}
                )
        if iid == 2:  # detections where nothing is annotated
            dets.append({"image_id": 2, "category_id": 1, "segmentation": rle(shape(rng, h, w)), "score": 0.5})
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": gts, "categories": CATS}))
    dt_path.write_text(json.dumps(dets))
    return gt_path, dt_path


def reference(gt: Path, dt: Path, ratio: float = 0.02) -> object:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = fce.COCO(str(gt))
        e = fce.COCOeval_faster(coco, coco.loadRes(str(dt)), "boundary", boundary_dilation_ratio=ratio)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


@pytest.mark.parametrize("seed", range(6))
def test_boundary_ap_equals_faster_coco_eval(tmp_path: Path, seed: int) -> None:
    gt, dt = make_case(tmp_path, seed)
    ref = reference(gt, dt)
    ours = evaluate_instance(gt, dt, iou_type="boundary")
    assert np.abs(ours.stats - np.asarray(ref.stats)).max() <= 1e-9
    assert ours.precision.shape == ref.eval["precision"].shape
    assert np.abs(ours.precision - ref.eval["precision"]).max() <= 1e-9
    assert np.abs(ours.recall - ref.eval["recall"]).max() <= 1e-9


@pytest.mark.parametrize("ratio", [0.005, 0.05])
def test_other_dilation_ratios(tmp_path: Path, ratio: float) -> None:
    gt, dt = make_case(tmp_path, 11)
    ours = evaluate_instance(gt, dt, iou_type="boundary", dilation_ratio=ratio, jobs=2)
    assert np.abs(ours.stats - np.asarray(reference(gt, dt, ratio).stats)).max() <= 1e-9


def test_boundary_is_stricter_than_mask_ap(tmp_path: Path) -> None:
    """The same detections score no higher with boundaries (min of two IoUs), and lower
    here, where ragged and shifted masks keep a good mask IoU."""
    gt, dt = make_case(tmp_path, 3)
    segm = evaluate_instance(gt, dt).stats
    edge = evaluate_instance(gt, dt, iou_type="boundary").stats
    assert edge[0] < segm[0]
    assert np.all(edge[[0, 1, 2, 6, 7, 8]] <= segm[[0, 1, 2, 6, 7, 8]] + 1e-12)
