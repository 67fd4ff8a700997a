"""Calibration (ECE, MCE, the bins), by hand (docs/metrics/calibration.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segtool.errors import SegtoolError
from segtool.metrics import calibration, tide
from tests.conftest import write_json
from tests.helpers import invoke


def test_ece_and_mce_by_hand() -> None:
    scores = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    correct = np.array([False, True, False, True, True])
    out = calibration.bins([(scores[:2], correct[:2]), (scores[2:], correct[2:])], 10)
    # bin 0: one at .05, wrong (gap -.05); bin 1: two at .15, one right (gap .35);
    # bin 9: .95 and 1.0 (the last bin holds 1), both right (gap .025)
    b = out["bins"]
    assert [x["count"] for x in b] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert b[1]["confidence"] == pytest.approx(0.15) and b[1]["accuracy"] == 0.5
    assert b[9]["confidence"] == pytest.approx(0.975) and b[9]["accuracy"] == 1.0
    assert b[4]["confidence"] is None and b[4]["gap"] is None
    assert (b[3]["lo"], b[3]["hi"]) == (0.3, 0.4)
    assert out["ECE"] == pytest.approx((0.05 + 2 * 0.35 + 2 * 0.025) / 5)
    assert out["MCE"] == pytest.approx(0.35)
    assert out["detections"] == 5


def test_bins_count() -> None:
    out = calibration.bins([(np.array([0.1, 0.6]), np.array([True, True]))], 2)
    assert [x["count"] for x in out["bins"]] == [1, 1]
    assert out["ECE"] == pytest.approx((0.9 + 0.4) / 2)


def test_scores_outside_unit_interval_refused() -> None:
    with pytest.raises(SegtoolError, match=r"scores in \[0, 1\]"):
        calibration.bins([(np.array([0.5, 1.5]), np.array([True, False]))])


def test_correct_means_matched_in_class_and_crowd_covered_left_out() -> None:
    # d0 matches g0 (class 1); d1 of class 2 over g0: wrong; d2 inside crowd g1: left out
    m, _ = tide.match_image(
        np.array([1, 2, 1]),
        np.array([0.9, 0.8, 0.7]),
        np.arange(3),
        np.array([1, 1]),
        np.array([False, True]),
        np.array([[0.9, 0], [0.9, 0], [0, 0.9]]),
        100,
    )
    score, correct = calibration.calibration_image(m)
    assert score.tolist() == [0.9, 0.8] and correct.tolist() == [True, False]


def test_cli(tmp_path: Path, runner) -> None:
    gt = write_json(
        tmp_path / "gt.json",
        {
            "images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 1,
                    "category_id": 1,
                    "bbox": [0, 0, 10, 10],
                    "area": 100,
                    "iscrowd": 0,
                    "segmentation": [],
                }
            ],
            "categories": [{"id": 1, "name": "cat"}],
        },
    )
    dets = [([0, 0, 10, 10], 0.85), ([50, 50, 10, 10], 0.2)]
    dt = write_json(tmp_path / "dt.json", [{"image_id": 1, "category_id": 1, "bbox": b, "score": s} for b, s in dets])
    out = tmp_path / "out.json"
    r = invoke(
        runner,
        "eval",
        "instance",
        gt,
        dt,
        "--iou-type",
        "bbox",
        "--calibration",
        "--calibration-bins",
        "4",
        "--json",
        out,
    )
    assert r.exit_code == 0, r.output
    c = json.loads(out.read_text())["calibration"]
    assert [b["count"] for b in c["bins"]] == [1, 0, 0, 1]
    assert c["ECE"] == pytest.approx((0.2 + 0.15) / 2)
    assert c["MCE"] == pytest.approx(0.2)
    bad = write_json(tmp_path / "bad.json", [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 3.0}])
    r = invoke(runner, "eval", "instance", gt, bad, "--iou-type", "bbox", "--calibration")
    assert r.exit_code == 2 and "scores in [0, 1]" in r.output
