"""TIDE's error decomposition, by hand: tiny cases whose dAP follow from tidecv's rules
(docs/metrics/tide.md) with a pencil. tests/parity/test_tide.py compares with tidecv."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from segtool import evaluate_instance
from segtool.errors import SegtoolError
from segtool.metrics import tide
from segtool.metrics.analyses import Analyses
from segtool.metrics.instance_result import Params
from tests.conftest import write_json
from tests.helpers import invoke

HALF = 51 / 101 * 100  # precision 1 up to recall 0.5 and 0 beyond: 51 of tidecv's 101 points


def _boxes(
    tmp_path: Path, gts: list[tuple[int, list[float], int]], dets: list[tuple[int, list[float], float]]
) -> tuple[Path, Path]:
    """One 100x100 image: ground truth (class, box, iscrowd) and detections (class, box, score)."""
    anns = [
        {
            "id": i + 1,
            "image_id": 1,
            "category_id": c,
            "bbox": b,
            "area": b[2] * b[3],
            "iscrowd": crowd,
            "segmentation": [],
        }
        for i, (c, b, crowd) in enumerate(gts)
    ]
    gt = write_json(
        tmp_path / "gt.json",
        {
            "images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
            "annotations": anns,
            "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2)],
        },
    )
    dt = write_json(
        tmp_path / "dt.json", [{"image_id": 1, "category_id": c, "bbox": b, "score": s} for c, b, s in dets]
    )
    return gt, dt


def test_loc_error_fixed_is_a_true_positive(tmp_path: Path, runner) -> None:
    # g1 found exactly; g2 by a box shifted half its width: IoU 50 / 150 = 1/3, a Loc error
    gt, dt = _boxes(
        tmp_path,
        [(1, [0, 0, 10, 10], 0), (1, [20, 0, 10, 10], 0)],
        [(1, [0, 0, 10, 10], 0.9), (1, [25, 0, 10, 10], 0.8)],
    )
    out = tmp_path / "out.json"
    r = invoke(runner, "eval", "instance", gt, dt, "--iou-type", "bbox", "--tide", "--json", out)
    assert r.exit_code == 0, r.output
    t = json.loads(out.read_text())["tide"]
    assert t["mode"] == "bbox"
    assert t["ap"] == pytest.approx(HALF)  # TP then FP, 2 ground truth
    assert t["main"]["Loc"] == pytest.approx(100 - HALF)  # the shifted box a true positive: AP 100
    assert {k: v for k, v in t["main"].items() if k != "Loc"} == {"Cls": 0, "Both": 0, "Dupe": 0, "Bkg": 0, "Miss": 0}
    assert t["counts"] == {"Cls": 0, "Loc": 1, "Both": 0, "Dupe": 0, "Bkg": 0, "Miss": 0}  # g2 is fixable: no Miss
    assert t["special"]["FalsePos"] == pytest.approx(0)  # the FP already ranks after the TP
    assert t["special"]["FalseNeg"] == pytest.approx(100 - HALF)  # 1 ground truth left: recall 1
    assert "TIDE errors" in r.output


def _match(gt_cls, dt_cls, scores, iou, crowd=None):
    gt_cls, dt_cls = np.array(gt_cls), np.array(dt_cls)
    crowd = np.zeros(len(gt_cls), bool) if crowd is None else np.array(crowd)
    m, _ = tide.match_image(dt_cls, np.array(scores), np.arange(len(dt_cls)), gt_cls, crowd, np.array(iou, float), 100)
    return m


def test_dupe_cls_bkg_and_miss_by_hand() -> None:
    m = _match(
        [1, 2, 1],
        [1, 1, 2, 1],
        [0.9, 0.8, 0.7, 0.6],
        [[0.9, 0, 0], [0.7, 0, 0], [0.6, 0, 0], [0, 0, 0.05]],
    )
    img = tide.tide_image(m)
    got = tide.classify([img])
    # d0 matches g0; d1 overlaps g0 (taken): Dupe; d2 (class 2) overlaps g0 of class 1: Cls,
    # but g0 is matched, so its fix removes it; d3 overlaps nothing above 0.1: Bkg
    assert img.tp.tolist() == [True, False, False, False]
    assert got["error"].tolist() == [0, 4, 1, 5]
    assert not got["fix_tp"].any()
    out = tide.decompose([img])
    assert out["counts"] == {"Cls": 1, "Loc": 0, "Both": 0, "Dupe": 1, "Bkg": 1, "Miss": 2}
    # class 1: TP .9, FP .8, FP .6 of 2 ground truth -> HALF; class 2: FP of 1 -> 0
    assert out["ap"] == pytest.approx(HALF / 2)
    # Miss fixed: class 1 has 1 ground truth (AP 100), class 2 none but a point (AP 0)
    assert out["main"]["Miss"] == pytest.approx(50 - HALF / 2)
    assert out["main"]["Dupe"] == out["main"]["Bkg"] == out["main"]["Cls"] == 0


def test_cls_and_loc_compete_for_one_ground_truth() -> None:
    # g0 (class 1) unmatched: d0 (class 2, IoU .8) is a Cls error on it, d1 (class 1, IoU .3)
    # a Loc error on it; the higher score (d0) is the one fixed, d1's fix removes it
    m = _match([1], [2, 1], [0.7, 0.6], [[0.8], [0.3]])
    img = tide.tide_image(m)
    got = tide.classify([img])
    assert got["error"].tolist() == [1, 2]
    assert got["fix_tp"].tolist() == [True, False]
    assert got["fix_cls"].tolist() == [1, 1]  # d0 fixed into g0's class
    assert got["gt_usable"].tolist() == [True]
    out = tide.decompose([img])
    # base: class 1 FP .6 of 1 -> 0; class 2 FP .7, no ground truth -> 0
    assert out["ap"] == 0
    # Cls fixed: class 1 gets TP .7 (and keeps FP .6): AP 100; class 2 has nothing left: out of the mean
    assert out["main"]["Cls"] == pytest.approx(100)
    # Loc fixed: d1 removed (not the best), class 1 no point (AP 0), class 2 FP (AP 0)
    assert out["main"]["Loc"] == 0
    assert out["counts"]["Miss"] == 0


def test_crowd_region_ignores_the_detections_inside() -> None:
    # a detection of class 1 inside a crowd region of class 1 (crowd IoU .9): not a data point
    m = _match([1, 1], [1, 1, 2], [0.9, 0.8, 0.7], [[0.9, 0], [0, 0.9], [0, 0.9]], crowd=[False, True])
    assert m.ignored.tolist() == [False, True, False]  # d2 is of class 2: not ignored
    out = tide.decompose([tide.tide_image(m)])
    assert out["ap"] == pytest.approx(50)  # class 1: AP 100; class 2: a lone FP, 0
    assert out["counts"]["Bkg"] == 2  # the ignored detection still has its error


def test_max_dets_per_image_and_ties_in_file_order() -> None:
    # 3 detections of equal score, max 2 kept: the first two in file order
    m, kept = tide.match_image(
        np.array([1, 1, 1]),
        np.array([0.5, 0.5, 0.5]),
        np.array([2, 0, 1]),
        np.array([1]),
        np.array([False]),
        np.array([[0.2], [0.9], [0.6]]),
        2,
    )
    assert kept.tolist() == [1, 2]  # file places 0 and 1
    assert m.gt_of.tolist() == [0, -1]


def test_records_do_not_travel_to_workers() -> None:
    a = Analyses(tide=True)
    a.add(0, object())  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(a)).records == []
    assert a.records


def test_refused_for_boundary_and_lvis(tmp_path: Path) -> None:
    gt, dt = _boxes(tmp_path, [(1, [0, 0, 10, 10], 0)], [(1, [0, 0, 10, 10], 0.9)])
    with pytest.raises(SegtoolError, match="masks or boxes"):
        Analyses(tide=True).bind(Params(iou_type="boundary"), ())
    with pytest.raises(SegtoolError, match="not LVIS"):
        evaluate_instance(gt, dt, iou_type="bbox", lvis=True, analyses=Analyses(tide=True))


def test_refused_when_sharded(tmp_path: Path) -> None:
    gt, dt = _boxes(tmp_path, [(1, [0, 0, 10, 10], 0)], [(1, [0, 0, 10, 10], 0.9)])
    with pytest.raises(SegtoolError, match="not sharded"):
        evaluate_instance(gt, dt, iou_type="bbox", shard="1/2", analyses=Analyses(tide=True))
