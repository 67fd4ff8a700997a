"""The instance confusion matrix, by hand (docs/metrics/confusion.md): tiny images whose
cells follow from the rules with a pencil, then through the command line (JSON and CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segtool.metrics import confusion, tide
from segtool.model import Category
from tests.conftest import write_json
from tests.helpers import invoke

BG = confusion.BACKGROUND


def _match(gt_cls, dt_cls, scores, iou, crowd=None):
    crowd = np.zeros(len(gt_cls), bool) if crowd is None else np.array(crowd)
    m, _ = tide.match_image(
        np.array(dt_cls), np.array(scores), np.arange(len(dt_cls)), np.array(gt_cls), crowd, np.array(iou, float), 100
    )
    return m


def _cells(m, threshold=0.0):
    return sorted(map(tuple, confusion.confusion_image(m, threshold).tolist()))


def test_cells_by_hand() -> None:
    # gt classes 1, 2, 3. d0 (1) on g0: right. d1 (3, .8) on g1 (class 2) at .7, but d2 (2, .6)
    # matches g1 within its class first: d1 is on background. d3 (1, .3) overlaps nothing.
    # g2 (3) is missed.
    m = _match([1, 2, 3], [1, 3, 2, 1], [0.9, 0.8, 0.6, 0.3], [[0.8, 0, 0], [0, 0.7, 0], [0, 0.6, 0], [0.05, 0, 0]])
    assert _cells(m) == sorted([(1, 1), (2, 2), (BG, 3), (BG, 1), (3, BG)])
    # score >= 0.5: d3 is left out
    assert _cells(m, 0.5) == sorted([(1, 1), (2, 2), (BG, 3), (3, BG)])


def test_a_detection_of_another_class_is_a_confusion() -> None:
    # d0 (class 2) covers g0 (class 1) at .7 and nothing of its class: cell (1, 2); g1 (2) missed
    m = _match([1, 2], [2], [0.9], [[0.7, 0.1]])
    assert _cells(m) == [(1, 2), (2, BG)]
    # below IoU 0.5 it is background, and g0 missed too
    m = _match([1, 2], [2], [0.9], [[0.49, 0.1]])
    assert _cells(m) == sorted([(BG, 2), (1, BG), (2, BG)])


def test_crowd_neither_missed_nor_counted() -> None:
    # g1 is a crowd region of class 1: d1 inside it (class 1) is not counted, g1 never missed
    m = _match([1, 1], [1, 1], [0.9, 0.8], [[0.9, 0], [0, 0.95]], crowd=[False, True])
    assert _cells(m) == [(1, 1)]


def test_matrix_rows_are_ground_truth_with_background_last() -> None:
    cats = (Category(2, "b"), Category(1, "a"))
    out = confusion.matrix([np.array([[1, 1], [2, 1], [BG, 2], [1, BG]]), np.array([[1, 1]])], cats)
    assert out["ids"] == [1, 2, None]
    assert out["names"] == ["a", "b", "background"]
    assert out["matrix"] == [[2, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert confusion.csv_text(out).splitlines() == [
        "ground truth \\ prediction,a,b,background",
        "a,2,0,1",
        "b,1,0,0",
        "background,0,1,0",
    ]


def test_cli_json_and_csv(tmp_path: Path, runner) -> None:
    box = lambda x: [x, 0, 10, 10]  # noqa: E731
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": c, "bbox": box(x), "area": 100, "iscrowd": 0, "segmentation": []}
        for i, (c, x) in enumerate([(1, 0), (2, 20), (2, 40)])
    ]
    gt = write_json(
        tmp_path / "gt.json",
        {
            "images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        },
    )
    dets = [(1, 0, 0.9), (1, 20, 0.8), (2, 70, 0.7), (2, 40, 0.2)]  # right, confused, background, below 0.5
    dt = write_json(
        tmp_path / "dt.json", [{"image_id": 1, "category_id": c, "bbox": box(x), "score": s} for c, x, s in dets]
    )
    out, csv = tmp_path / "out.json", tmp_path / "confusion.csv"
    r = invoke(runner, "eval", "instance", gt, dt, "--iou-type", "bbox", "--confusion-csv", csv, "--json", out)
    assert r.exit_code == 0, r.output
    c = json.loads(out.read_text())["confusion"]
    assert c["score_threshold"] == 0.5
    assert c["matrix"] == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]  # dog at 40 missed: its detection scored 0.2
    assert csv.read_text().splitlines()[2] == "dog,1,0,1"
    r = invoke(
        runner,
        "eval",
        "instance",
        gt,
        dt,
        "--iou-type",
        "bbox",
        "--confusion",
        "--confusion-score",
        "0.1",
        "--json",
        "-",
    )
    assert json.loads(r.stdout)["confusion"]["matrix"] == [[1, 0, 0], [1, 1, 0], [0, 1, 0]]


def test_class_agnostic_is_one_class_not_background(tmp_path: Path, runner) -> None:
    # --class-agnostic scores every object as one class of id -1: a row and a column of
    # its own, apart from background
    box = lambda x: [x, 0, 10, 10]  # noqa: E731
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": c, "bbox": box(x), "area": 100, "iscrowd": 0, "segmentation": []}
        for i, (c, x) in enumerate([(1, 0), (2, 20)])
    ]
    gt = write_json(
        tmp_path / "gt.json",
        {
            "images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        },
    )
    dt = write_json(tmp_path / "dt.json", [{"image_id": 1, "category_id": 2, "bbox": box(0), "score": 0.9}])
    r = invoke(
        runner, "eval", "instance", gt, dt, "--iou-type", "bbox", "--confusion", "--class-agnostic", "--json", "-"
    )
    c = json.loads(r.stdout)["confusion"]
    k = c["ids"].index(-1)
    assert c["matrix"][k][k] == 1 and c["matrix"][k][-1] == 1 and c["matrix"][-1][-1] == 0
