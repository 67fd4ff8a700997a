"""``eval panoptic --confusion``: the segment-level confusion matrix, counted by hand on
one-row images (docs/metrics/pq-errors.md, "The segment-level confusion matrix")."""

from __future__ import annotations

import json

import numpy as np

from segtool import evaluate_panoptic
from segtool.metrics.pq_confusion import csv_text
from segtool.metrics.pq_errors import PQAnalyses
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import invoke

PERSON, CAR, DOG, ROAD, SKY = 1, 2, 7, 100, 200  # rows/columns 0..4, background 5


def strip(*runs: tuple[int, int]) -> np.ndarray:
    return np.array([[i for i, n in runs for _ in range(n)]], np.uint32)


def two_images(tmp_path):
    """Image 1: GT person [0,10), car [10,20), dog [20,24), person crowd [24,30), void [30,34).
    Pred: car [0,8) (IoU 0.8 with the person: person -> car), car [10,20) (match), nothing on
    the dog (dog -> background), person [24,29) (on its crowd: ignored), sky [30,34) (on
    void: ignored).
    Image 2: GT road [0,10), sky [10,20). Pred: road [0,10) (match), dog [10,14) (IoU 0.4
    with the sky: dog on background; sky -> background)."""
    g1 = strip((1, 10), (2, 10), (3, 4), (4, 6), (0, 4))
    p1 = strip((5, 8), (0, 2), (6, 10), (0, 4), (7, 5), (0, 1), (8, 4))
    g2 = strip((1, 10), (2, 10))
    p2 = strip((5, 10), (6, 4), (0, 6))
    gts = [(g1, {1: PERSON, 2: CAR, 3: DOG, 4: PERSON}, {4}), (g2, {1: ROAD, 2: SKY}, set())]
    preds = [(p1, {5: CAR, 6: CAR, 7: PERSON, 8: SKY}), (p2, {5: ROAD, 6: DOG})]
    gt_segs = [panoptic_segments(m, c, crowd) for m, c, crowd in gts]
    gt = write_panoptic(tmp_path / "gt.json", [m for m, _, _ in gts], gt_segs)
    pred = write_panoptic(tmp_path / "pred.json", [m for m, _ in preds], [panoptic_segments(m, c) for m, c in preds])
    return gt, pred


EXPECTED = [
    # person car dog road sky background
    [0, 1, 0, 0, 0, 0],  # person: taken for a car
    [0, 1, 0, 0, 0, 0],  # car: matched
    [0, 0, 0, 0, 0, 1],  # dog: missed
    [0, 0, 0, 1, 0, 0],  # road: matched
    [0, 0, 0, 0, 0, 1],  # sky: missed
    [0, 0, 1, 0, 0, 0],  # background: the dog prediction
]


def test_matrix_by_hand(tmp_path):
    gt, pred = two_images(tmp_path)
    a = PQAnalyses(confusion=True)
    result = evaluate_panoptic(gt, pred, analyses=a)
    out = a.to_dict(result)
    assert "pq_errors" not in out
    c = out["confusion"]
    assert c["ids"] == [PERSON, CAR, DOG, ROAD, SKY, None]
    assert c["names"][-1] == "background" and c["iou_threshold"] == 0.5
    assert c["matrix"] == EXPECTED
    stat = result.stat  # the diagonal is PQ's TP, the background row its FPs but the cls one
    assert sum(c["matrix"][i][i] for i in range(5)) == stat.tp.sum()
    assert sum(c["matrix"][5]) + 1 == stat.fp.sum()


def test_csv_and_jobs(tmp_path, runner):
    """--confusion-csv writes the same matrix; --jobs 2 (records from the workers) gives
    the same matrix and the same error analysis as --jobs 1."""
    gt, pred = two_images(tmp_path)
    out_csv = tmp_path / "m.csv"
    r = invoke(runner, "eval", "panoptic", gt, pred, "--confusion-csv", out_csv, "--errors", "--json", "-")
    assert r.exit_code == 0, r.output
    one = json.loads(r.stdout)
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "ground truth \\ prediction,person,car,dog,road,sky,background"
    assert [list(map(int, line.split(",")[1:])) for line in lines[1:]] == EXPECTED
    assert out_csv.read_text() == csv_text(one["confusion"])
    r2 = invoke(runner, "eval", "panoptic", gt, pred, "--confusion", "--errors", "--json", "-", "--jobs", "2")
    two = json.loads(r2.stdout)
    assert two["confusion"] == one["confusion"] and two["pq_errors"] == one["pq_errors"]
    table = invoke(runner, "eval", "panoptic", gt, pred, "--confusion")
    assert "2 matched, 1 of another class, 1 on background, 2 missed" in " ".join(table.output.split())


def test_missing_prediction(tmp_path):
    """--allow-missing: an image without prediction puts its non-crowd segments in the
    background column (and they are missed errors)."""
    g = strip((1, 5), (2, 5))
    gt = write_panoptic(tmp_path / "gt.json", [g, g], [panoptic_segments(g, {1: PERSON, 2: CAR})] * 2)
    pred = write_panoptic(tmp_path / "pred.json", [g], [panoptic_segments(g, {1: PERSON, 2: CAR})])
    a = PQAnalyses(errors=True, confusion=True)
    result = evaluate_panoptic(gt, pred, analyses=a, allow_missing=True)
    out = a.to_dict(result)
    m = out["confusion"]["matrix"]
    assert m[0][0] == 1 and m[0][5] == 1 and m[1][1] == 1 and m[1][5] == 1
    assert out["pq_errors"]["false_negatives"]["missed"] == 2
    # person and car: TP 1 (IoU 1), FN 1 -> 1 / 1.5 each; the FNs removed -> 1: gain 1/3
    assert abs(out["pq_errors"]["gain"]["All"]["missed"] - 1 / 3) < 1e-12


def test_refused_when_sharded(tmp_path, runner):
    """Not merged by eval merge: refused with --shard/--partial, one line, exit 2."""
    gt, pred = two_images(tmp_path)
    r = invoke(runner, "eval", "panoptic", gt, pred, "--confusion", "--shard", "1/2")
    assert r.exit_code == 2 and "not sharded" in r.output
