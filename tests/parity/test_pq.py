"""PQ against panopticapi's own pq_compute: metrics at 1e-9, TP/FP/FN counts exactly."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from segtool import WriteOptions, convert, evaluate_panoptic, pq_compute
from segtool.errors import SegtoolError
from tests.conftest import CATEGORIES, PANOPTIC_EXAMPLES, panoptic_segments, write_panoptic

THINGS, STUFF = [1, 2, 7], [100, 200]


def reference(gt: Path, pred: Path) -> tuple[dict, dict]:
    """panopticapi's results and its raw per-category counts.

    Averages come from panopticapi's own ``pq_average`` on its own single-core statistics.
    Where a group has no category to average, panopticapi divides by zero; segtool's
    documented answer there is 0.0 with n = 0, which is what this substitutes.
    """
    from panopticapi.evaluation import pq_compute_single_core

    with contextlib.redirect_stdout(io.StringIO()):
        gt_json, pred_json = json.loads(gt.read_text()), json.loads(pred.read_text())
        preds = {a["image_id"]: a for a in pred_json["annotations"]}
        pairs = [(a, preds[a["image_id"]]) for a in gt_json["annotations"]]
        cats = {c["id"]: c for c in gt_json["categories"]}
        stat = pq_compute_single_core(0, pairs, str(gt.with_suffix("")), str(pred.with_suffix("")), cats)
    results: dict = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        try:
            results[name], per_class = stat.pq_average(cats, isthing=isthing)
        except ZeroDivisionError:
            results[name], per_class = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, None
        if name == "All":
            results["per_class"] = per_class or {c: {"pq": 0.0, "sq": 0.0, "rq": 0.0} for c in cats}
    counts = {c: (s.tp, s.fp, s.fn) for c, s in stat.pq_per_cat.items() if s.tp or s.fp or s.fn}
    return results, counts


def reference_pq_compute(gt: Path, pred: Path) -> dict:
    """panopticapi's public pq_compute (multi-process), for data where it does not divide by zero."""
    from panopticapi.evaluation import pq_compute as ref_compute

    with contextlib.redirect_stdout(io.StringIO()):
        return ref_compute(str(gt), str(pred), str(gt.with_suffix("")), str(pred.with_suffix("")))


def assert_counts(result, counts: dict) -> None:
    """segtool's TP/FP/FN per category equal panopticapi's, exactly."""
    ours = {
        c.id: (int(result.stat.tp[k]), int(result.stat.fp[k]), int(result.stat.fn[k]))
        for k, c in enumerate(result.categories)
    }
    assert {c: v for c, v in ours.items() if any(v)} == counts


def assert_same(ours: dict, theirs: dict) -> None:
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == theirs[group]["n"], group
        for key in ("pq", "sq", "rq"):
            assert abs(ours[group][key] - theirs[group][key]) <= 1e-9, (group, key)
    assert ours["per_class"].keys() == theirs["per_class"].keys()
    for cat, values in theirs["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert abs(ours["per_class"][cat][key] - values[key]) <= 1e-9, (cat, key)


def random_gt(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, dict[int, int], set[int]]:
    """Stuff bands, overlapping thing rectangles, some crowd, some void; may be empty."""
    ids = np.zeros((h, w), np.int64)
    cats: dict[int, int] = {}
    if rng.random() < 0.1:
        return ids, cats, set()
    nid = 1
    for top in sorted(rng.integers(0, h, 2)):
        ids[top:] = nid
        cats[nid] = int(rng.choice(STUFF))
        nid += 1
    for _ in range(rng.integers(0, 7)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        ids[y : y + rng.integers(2, h // 2), x : x + rng.integers(2, w // 2)] = nid
        cats[nid] = int(rng.choice(THINGS))
        nid += 1
    ids[rng.random((h, w)) < 0.03] = 0
    ids[: rng.integers(0, 3), :] = 0
    present = set(np.unique(ids).tolist()) - {0}
    crowd = {i for i in present if cats[i] in THINGS and rng.random() < 0.2}
    return ids, {i: cats[i] for i in present}, crowd


def perturb(rng: np.random.Generator, gt: np.ndarray, cats: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """A prediction: shifted ground truth, some segments relabelled or erased, extra blobs."""
    h, w = gt.shape
    if rng.random() < 0.1:
        return np.zeros_like(gt), {}  # an image with no predictions
    pred = np.roll(gt, (rng.integers(0, 3), rng.integers(0, 3)), axis=(0, 1)) * 7 + 3  # new raw ids
    pcats = {sid * 7 + 3: c for sid, c in cats.items()}
    pred[np.isin(pred, [3])] = 0  # gt void stays void
    for sid in list(pcats):
        r = rng.random()
        if r < 0.15:
            pcats[sid] = int(rng.choice(THINGS + STUFF))  # wrong or absent category
        elif r < 0.25:
            pred[pred == sid] = 0
    for _ in range(rng.integers(0, 3)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        blob = 90000 + len(pcats)
        pred[y : y + rng.integers(1, 6), x : x + rng.integers(1, 6)] = blob
        pcats[blob] = int(rng.choice(THINGS + STUFF))
    present = set(np.unique(pred).tolist()) - {0}
    return pred, {i: pcats[i] for i in present}


def generated(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(rng.integers(1, 6)):
        h, w = int(rng.integers(8, 30)), int(rng.integers(8, 30))
        gt, cats, crowd = random_gt(rng, h, w)
        pred, pcats = perturb(rng, gt, cats)
        gts.append((gt, panoptic_segments(gt, cats, crowd)))
        preds.append((pred, panoptic_segments(pred, pcats)))
    categories = [*CATEGORIES, {"id": 300, "name": "never", "isthing": 0, "color": [1, 2, 3]}]  # no ground truth
    gt_path = write_panoptic(tmp_path / "gt.json", [g for g, _ in gts], [s for _, s in gts], categories)
    pred_path = write_panoptic(tmp_path / "pred.json", [p for p, _ in preds], [s for _, s in preds], categories)
    return gt_path, pred_path


@pytest.mark.parametrize("seed", range(40))
def test_generated_predictions_match_panopticapi(tmp_path, seed):
    gt, pred = generated(tmp_path, seed)
    theirs, counts = reference(gt, pred)
    result = evaluate_panoptic(gt, pred)
    assert_same(result.to_panopticapi(), theirs)
    assert_counts(result, counts)


def test_real_examples_against_a_converted_prediction(tmp_path):
    """The real panopticapi examples vs. a lossy prediction (things re-derived from a semantic map)."""
    convert(PANOPTIC_EXAMPLES, tmp_path / "sem", WriteOptions("semantic"))
    pred = tmp_path / "pred.json"
    convert(tmp_path / "sem", pred, WriteOptions("coco-panoptic", split_things=True))
    theirs, counts = reference(PANOPTIC_EXAMPLES, pred)
    assert theirs["All"]["pq"] < 1.0  # a real difference to measure
    result = evaluate_panoptic(PANOPTIC_EXAMPLES, pred)
    assert_same(result.to_panopticapi(), theirs)
    public = reference_pq_compute(PANOPTIC_EXAMPLES, pred)
    assert_same(pq_compute(str(PANOPTIC_EXAMPLES), str(pred)), public)
    assert_counts(result, counts)


def test_iou_of_exactly_one_half_is_not_a_match(tmp_path):
    gt = np.array([[5, 5, 0, 0]])
    pred = np.array([[9, 0, 0, 0]])  # inter 1, union 2: IoU 0.5, not > 0.5
    g = write_panoptic(tmp_path / "gt.json", [gt], [panoptic_segments(gt, {5: 1})])
    p = write_panoptic(tmp_path / "pred.json", [pred], [panoptic_segments(pred, {9: 1})])
    result = evaluate_panoptic(g, p)
    assert (result.stat.tp.sum(), result.stat.fp.sum(), result.stat.fn.sum()) == (0, 1, 1)
    _, counts = reference(g, p)
    assert counts == {1: (0, 1, 1)}


def test_jobs_1_and_2_are_bit_identical(tmp_path, monkeypatch):
    from segtool import parallel

    monkeypatch.setattr(parallel, "SMALL", 0)
    gt, pred = generated(tmp_path, 7)
    one = evaluate_panoptic(gt, pred, jobs=1).to_dict()
    two = evaluate_panoptic(gt, pred, jobs=2).to_dict()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_predictions_in_another_order_stream_to_the_same_numbers(tmp_path):
    """Both JSONs are streamed; predictions listed in another order than the ground truth
    (read ahead and held until their image comes) give panopticapi's numbers all the same."""
    seed = next(
        s for s in range(100) if len(json.loads(generated(tmp_path / f"s{s}", s)[0].read_text())["images"]) >= 4
    )
    gt, pred = generated(tmp_path / f"s{seed}", seed)
    data = json.loads(pred.read_text())
    data["annotations"] = data["annotations"][::-1]
    pred.write_text(json.dumps(data))
    theirs, _ = reference(gt, pred)
    assert_same(evaluate_panoptic(gt, pred).to_panopticapi(), theirs)
    data["annotations"].append(data["annotations"][0])
    pred.write_text(json.dumps(data))
    with pytest.raises(SegtoolError, match="several prediction records"):
        evaluate_panoptic(gt, pred)


@pytest.mark.parametrize("seed", [3, 11])
def test_ground_truth_area_is_the_jsons_as_in_panopticapi(tmp_path, seed):
    """panopticapi's union uses the ground truth's JSON ``area``, not its pixel count: with
    areas off by a few pixels (as real datasets have), the IoUs and so the metrics move."""
    gt, pred = generated(tmp_path, seed)
    data = json.loads(gt.read_text())
    rng = np.random.default_rng(seed)
    for ann in data["annotations"]:
        for s in ann["segments_info"]:
            s["area"] = max(1, int(s["area"] + rng.integers(-3, 12)))
    gt.write_text(json.dumps(data))
    theirs, counts = reference(gt, pred)
    result = evaluate_panoptic(gt, pred)
    assert_same(result.to_panopticapi(), theirs)
    assert_counts(result, counts)
