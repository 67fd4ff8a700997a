"""LVIS per-image rows and slices against lvis-api's ``LVISEval`` (lvis 0.5.3) run on one
image, or one slice, alone (``params.img_ids``):

* a row's ``tp``/``fp``/``fn``: counted from ``LVISEval.eval_imgs`` with ``img_ids = [id]``
  at IoU 0.5, area ``all`` (``area_rng[0]``): ``tp`` detections whose ``dt_matches`` is a
  ground-truth id and ``dt_ignore`` is false, ``fp`` neither matched nor ignored, ``fn``
  ground truth whose ``gt_ignore`` is false less ``tp``; its ``AP``: ``results["AP"]``
  (-1 there is ``None`` here);
* a slice: every key of ``results`` and the precision/recall arrays with ``img_ids`` = the
  slice's ids.

The ground truth and results are tests/parity/test_lvis.py's: verified-absent and
unverified categories, not-exhaustive lists, an image with 340 detections (the 300 cut),
ties of score, an image without ground truth.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from segtool import evaluate_instance
from segtool.metrics.lvis import LVISResult
from tests.parity.test_lvis import assert_same, make_lvis, reference

pytest.importorskip("lvis.eval", reason="lvis-api (pip install --no-deps lvis) is the LVIS reference")


def lvis_counts(e: Any) -> tuple[int, int, int]:
    """TP/FP/FN at IoU 0.5, area all, from ``LVISEval.eval_imgs``."""
    tp = fp = fn = 0
    for ev in e.eval_imgs:
        if ev is None or list(ev["area_rng"]) != list(e.params.area_rng[0]):
            continue
        matched = np.asarray(ev["dt_matches"])[0] > 0 if len(ev["dt_ids"]) else np.zeros(0, bool)
        ignored = np.asarray(ev["dt_ignore"])[0].astype(bool) if len(ev["dt_ids"]) else np.zeros(0, bool)
        tp += int((matched & ~ignored).sum())
        fp += int((~matched & ~ignored).sum())
        fn += int((~np.asarray(ev["gt_ignore"]).astype(bool)).sum()) - int((matched & ~ignored).sum())
    return tp, fp, fn


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", range(5))
def test_lvis_rows_equal_lvis_api_on_each_image_alone(tmp_path, monkeypatch, seed, iou_type):
    gt, dt = make_lvis(tmp_path, seed, with_bbox=iou_type == "bbox")
    ids = sorted(im["id"] for im in json.loads(gt.read_text())["images"])
    result = evaluate_instance(gt, dt, iou_type=iou_type, per_image=True)
    assert isinstance(result, LVISResult) and result.per_image is not None
    rows = result.per_image
    assert [r["image_id"] for r in rows] == ids  # every image, image 15 (no ground truth) too
    for row in rows:
        e = reference(gt, dt, iou_type, monkeypatch, img_ids=[row["image_id"]])
        assert (row["tp"], row["fp"], row["fn"]) == lvis_counts(e), row
        ap = float(e.results["AP"])
        assert row["AP"] == (None if ap == -1 else pytest.approx(ap, abs=1e-12)), (row, ap)
    assert rows[1]["AP"] is None and rows[1]["tp"] == rows[1]["fn"] == 0  # image 15: no ground truth
    assert any(r["fp"] for r in rows) and any(r["tp"] for r in rows)  # the comparison means something
    assert result.to_dict()["per_image"] == rows


@pytest.mark.parametrize("seed", range(5))
def test_lvis_slices_equal_lvis_api_with_the_slices_img_ids(tmp_path, monkeypatch, seed):
    gt, dt = make_lvis(tmp_path, seed)
    ids = sorted(im["id"] for im in json.loads(gt.read_text())["images"])
    slices = {"odd": ids[::2], "with_cut": [22, ids[-1]], "one": [ids[0]], "empty_gt": [15]}
    result = evaluate_instance(gt, dt, slices=slices)
    assert isinstance(result, LVISResult) and result.slices is not None and list(result.slices) == list(slices)
    for name, sub in slices.items():
        part = result.slices[name]
        assert part.images == len(sub)
        assert_same(part, reference(gt, dt, "segm", monkeypatch, img_ids=sorted(sub)))
    assert_same(result, reference(gt, dt, "segm", monkeypatch))  # the overall numbers unchanged
    data = result.to_dict()
    assert list(data["slices"]) == list(slices) and data["slices"]["odd"]["lvis"] is True


def test_lvis_rows_with_a_category_subset(tmp_path, monkeypatch):
    """``cat_ids``: rows count the listed categories only, as LVISEval with both lists."""
    gt, dt = make_lvis(tmp_path, 2)
    result = evaluate_instance(gt, dt, cat_ids=[1, 3, 4], per_image=True)
    assert isinstance(result, LVISResult) and result.per_image is not None
    for row in result.per_image:
        e = reference(gt, dt, "segm", monkeypatch, img_ids=[row["image_id"]], cat_ids=[1, 3, 4])
        assert (row["tp"], row["fp"], row["fn"]) == lvis_counts(e), row
        ap = float(e.results["AP"])
        assert row["AP"] == (None if ap == -1 else pytest.approx(ap, abs=1e-12)), (row, ap)
