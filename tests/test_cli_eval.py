"""``segtool eval panoptic``: exit codes, outputs, the quality gate, bad predictions."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from segtool.cli import main
from tests.conftest import panoptic_segments, write_json, write_panoptic
from tests.helpers import assert_bad_input, invoke

GT = np.array([[1, 1, 0, 2], [1, 1, 0, 2], [3, 3, 3, 3]])
PRED = np.array([[8, 8, 0, 9], [8, 0, 0, 9], [7, 7, 7, 7]])


@pytest.fixture
def pair(tmp_path):
    """By hand: person 1 vs 8: inter 3, union 4 → IoU .75 (TP); car 2 vs 9: IoU 1 (TP);
    road 3 vs 7: IoU 1 (TP). PQ per class .75, 1, 1 → PQ 11/12, SQ 11/12, RQ 1."""
    gt = write_panoptic(tmp_path / "gt.json", [GT, GT], [panoptic_segments(GT, {1: 1, 2: 2, 3: 100})] * 2)
    pred = write_panoptic(tmp_path / "pred.json", [PRED, PRED], [panoptic_segments(PRED, {8: 1, 9: 2, 7: 100})] * 2)
    return gt, pred


def test_table_json_and_csv(runner, pair, tmp_path):
    gt, pred = pair
    r = invoke(
        runner, "eval", "panoptic", gt, pred, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", "--per-class"
    )
    assert r.exit_code == 0, r.output
    assert "0.9167" in r.stdout and "person" in r.stdout  # PQ 11/12 as a fraction, as in --json
    data = json.loads((tmp_path / "r.json").read_text())
    assert abs(data["All"]["pq"] - 11 / 12) < 1e-12 and data["All"]["n"] == 3
    assert abs(data["Things"]["pq"] - (0.75 + 1) / 2) < 1e-12 and data["Stuff"]["pq"] == 1.0
    assert data["per_class"]["1"]["tp"] == 2 and data["per_class"]["1"]["fp"] == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert {row["category_id"] for row in rows} >= {"1", "2", "100"}


def test_json_on_stdout_is_clean(runner, pair):
    gt, pred = pair
    r = invoke(runner, "eval", "panoptic", gt, pred, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["images"] == 2


def test_quality_gate(runner, pair):
    gt, pred = pair
    assert invoke(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=0.9").exit_code == 0
    r = invoke(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=0.95", "--fail-under", "rq_st=0.5")
    assert r.exit_code == 1 and "quality gate failed: PQ = 0.916667 < 0.95" in r.stderr
    assert invoke(runner, "eval", "panoptic", gt, pred, "--fail-under", "XQ=1").exit_code == 2


def test_missing_prediction_is_an_error_unless_allowed(runner, pair, tmp_path):
    gt, pred = pair
    data = json.loads(pred.read_text())
    data["annotations"] = data["annotations"][:1]
    pred.write_text(json.dumps(data))
    r = invoke(runner, "eval", "panoptic", gt, pred)
    assert_bad_input(r, "pred.json", "no prediction for 1 ground-truth image(s), e.g. image id 2", "--allow-missing")
    r = invoke(runner, "eval", "panoptic", gt, pred, "--allow-missing", "--json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    # image 2's three segments are all false negatives: person 1 TP + 1 FN
    assert out["missing_predictions"] == 1 and out["per_class"]["1"]["fn"] == 1
    assert abs(out["All"]["pq"] - (0.75 / 1.5 + 1 / 1.5 + 1 / 1.5) / 3) < 1e-12


def test_prediction_for_an_unknown_image(runner, pair):
    gt, pred = pair
    data = json.loads(pred.read_text())
    data["annotations"][1]["image_id"] = 77
    pred.write_text(json.dumps(data))
    assert_bad_input(
        invoke(runner, "eval", "panoptic", gt, pred), "pred.json", "image id 77", "ground truth does not have"
    )


def test_prediction_of_an_unknown_category(runner, pair):
    gt, pred = pair
    data = json.loads(pred.read_text())
    data["annotations"][0]["segments_info"][0]["category_id"] = 555
    pred.write_text(json.dumps(data))
    assert_bad_input(invoke(runner, "eval", "panoptic", gt, pred), "pred.json", "unknown category id 555")


def test_prediction_png_of_the_wrong_size(runner, pair):
    gt, pred = pair
    small = PRED[:2]
    write_panoptic(pred, [small, small], [panoptic_segments(small, {8: 1, 9: 2})] * 2)
    gt_data = json.loads(gt.read_text())
    pred_data = json.loads(pred.read_text())
    pred_data["images"] = gt_data["images"]
    pred.write_text(json.dumps(pred_data))
    assert_bad_input(invoke(runner, "eval", "panoptic", gt, pred), "img1.png", "PNG is 4x2 but image 1 is 4x3")


def test_predictions_json_with_annotations_only(runner, pair):
    gt, pred = pair
    data = json.loads(pred.read_text())
    write_json(pred, {"annotations": data["annotations"]})
    assert invoke(runner, "eval", "panoptic", gt, pred).exit_code == 0


def test_eval_help_has_an_example(runner):
    r = runner.invoke(main, ["eval", "panoptic", "--help"])
    assert r.exit_code == 0 and "Example:" in r.output


def _results(tmp_path, **change):
    from tests.conftest import DETECTION_EXAMPLES

    data = json.loads(DETECTION_EXAMPLES.read_text())
    dets = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"], "score": 0.9}
        for a in data["annotations"]
    ]
    dets[0].update(change)
    return DETECTION_EXAMPLES, write_json(tmp_path / "dets.json", dets)


def test_instance_json_stats_and_gate(runner, tmp_path):
    gt, dets = _results(tmp_path)
    r = invoke(runner, "eval", "instance", gt, dets, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["stats"]) == 12 and data["stats"][0] == data["AP"] and data["stats"][8] == data["AR100"]
    assert data["per_class"]["1"]["name"] == "person"
    r = invoke(runner, "eval", "instance", gt, dets, "--fail-under", "AP=0.999", "--per-class")
    assert r.exit_code == 1 and "quality gate failed: AP" in r.stderr and "AP per category" in r.stdout


def test_instance_detection_of_unknown_image_or_category(runner, tmp_path):
    gt, dets = _results(tmp_path, image_id=4242)
    assert_bad_input(invoke(runner, "eval", "instance", gt, dets), "dets.json", "detection #0", "image id 4242")
    gt, dets = _results(tmp_path, category_id=999)
    assert_bad_input(invoke(runner, "eval", "instance", gt, dets), "dets.json", "unknown category id 999")


def test_instance_detection_with_a_malformed_rle_is_bad_input_not_a_hang(runner, tmp_path):
    gt, dets = _results(tmp_path, segmentation={"size": [427, 640], "counts": "\x7f\x7f\x7f\x7f"})
    assert_bad_input(
        invoke(runner, "eval", "instance", gt, dets), "dets.json", "detection #0", "undecodable compressed RLE"
    )


def test_predictions_of_another_evaluation_are_named_as_such(runner, tmp_path):
    """A results list (or a COCO instance file) given to eval panoptic: the message names the
    formats eval panoptic takes and what scores the one given, not every streaming format."""
    from tests.conftest import DETECTION_EXAMPLES, PANOPTIC_EXAMPLES

    dets = write_json(tmp_path / "dets.json", [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])
    r = invoke(runner, "eval", "panoptic", PANOPTIC_EXAMPLES, dets)
    assert_bad_input(
        r,
        "dets.json",
        "these predictions are coco-results (scored by eval instance); eval panoptic takes coco-panoptic",
    )
    r = invoke(runner, "eval", "panoptic", PANOPTIC_EXAMPLES, DETECTION_EXAMPLES)
    assert_bad_input(
        r, DETECTION_EXAMPLES.name, "these predictions are coco-instance; eval panoptic takes coco-panoptic"
    )
