"""Semantic metrics against a confusion matrix worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segtool import evaluate_semantic
from segtool.cli import main

CATS = [{"id": i, "name": f"c{i}"} for i in range(5)]  # 3 never appears; 4 is only predicted


def folder(path, maps, with_categories=True):
    path.mkdir()
    for name, arr in maps.items():
        Image.fromarray(np.array(arr, np.uint8)).save(path / f"{name}.png")
    if with_categories:
        (path / "categories.json").write_text(json.dumps(CATS))
    return path


@pytest.fixture
def dataset(tmp_path):
    gt = folder(tmp_path / "gt", {"a": [[0, 0, 1, 1], [1, 2, 255, 2]], "b": [[2, 2, 0, 255, 0]]})
    pred = folder(
        tmp_path / "pred", {"a": [[0, 1, 1, 1], [2, 2, 0, 255]], "b": [[2, 0, 0, 1, 4]]}, with_categories=False
    )
    return gt, pred


# By hand, over ground-truth pixels that are not 255 (rows: gt 0..4; columns: pred 0..4, unlabelled):
CONFUSION = [
    [2, 1, 0, 0, 1, 0],
    [0, 2, 1, 0, 0, 0],
    [1, 0, 2, 0, 0, 1],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
]
# TP 2, 2, 2; GT pixels 4, 3, 4, 0, 0 (11); predicted pixels 3, 3, 3, 0, 1
IOU = {0: 2 / 5, 1: 2 / 4, 2: 2 / 5, 3: None, 4: 0.0}
EXPECTED = {
    "mIoU": (0.4 + 0.5 + 0.4 + 0.0) / 4,  # class 3 (absent from both) is left out
    "pixel_accuracy": 6 / 11,
    "mean_accuracy": (2 / 4 + 2 / 3 + 2 / 4) / 3,  # over classes present in the ground truth
    "fwIoU": (4 / 11) * 0.4 + (3 / 11) * 0.5 + (4 / 11) * 0.4,
}


def test_metrics_equal_the_hand_computed_confusion_matrix(dataset):
    gt, pred = dataset
    data = evaluate_semantic(gt, pred).to_dict()
    assert data["confusion_matrix"]["counts"] == CONFUSION
    for key, value in EXPECTED.items():
        assert abs(data[key] - value) < 1e-12, key
    assert {c: r["iou"] for c, r in data["per_class"].items()} == pytest.approx(IOU)
    assert data["classes_averaged"] == 4


def test_cli_json_and_gate(runner, dataset, tmp_path):
    gt, pred = dataset
    r = runner.invoke(main, ["eval", "semantic", str(gt), str(pred), "--json", "--fail-under", "mIoU=0.3"])
    assert r.exit_code == 0, r.output
    assert abs(json.loads(r.stdout)["mIoU"] - EXPECTED["mIoU"]) < 1e-12
    r = runner.invoke(main, ["eval", "semantic", str(gt), str(pred), "--fail-under", "mIoU=0.5"])
    assert r.exit_code == 1 and "mIoU = 0.325000 < 0.5" in r.stderr


def test_panoptic_ground_truth_seen_as_labels(tmp_path):
    """GT in another format goes through the label-map view: a dataset scored against its
    own semantic conversion is perfect."""
    from segtool import WriteOptions, convert
    from tests.conftest import PANOPTIC_EXAMPLES

    convert(PANOPTIC_EXAMPLES, tmp_path / "sem", WriteOptions("semantic"))
    data = evaluate_semantic(PANOPTIC_EXAMPLES, tmp_path / "sem").to_dict()
    assert data["mIoU"] == 1.0 and data["pixel_accuracy"] == 1.0


def test_unknown_predicted_label_is_bad_input(runner, dataset):
    gt, pred = dataset
    Image.fromarray(np.array([[9, 0, 0, 1, 4]], np.uint8)).save(pred / "b.png")
    r = runner.invoke(main, ["eval", "semantic", str(gt), str(pred)])
    assert r.exit_code == 2 and "label values 9 are not categories" in r.stderr


def test_missing_prediction(runner, dataset):
    gt, pred = dataset
    (pred / "b.png").unlink()
    r = runner.invoke(main, ["eval", "semantic", str(gt), str(pred)])
    assert r.exit_code == 2 and "--allow-missing" in r.stderr
    data = evaluate_semantic(gt, pred, allow_missing=True).to_dict()
    # image b's 4 labelled pixels become unlabelled misses: 11 pixels still count, and only
    # image a's true positives remain: (0,0), (1,1) twice, (2,2) = 4
    assert data["pixel_accuracy"] == pytest.approx(4 / 11) and data["missing_predictions"] == 1


def test_sixteen_bit_and_palette_maps_give_the_same_matrix(dataset, tmp_path):
    """8-bit maps go through the joint histogram in C, 16-bit ones through the general path,
    palette ones by index: all give the hand-computed matrix."""
    gt, pred = dataset
    for mode in ("I;16", "P"):
        out = tmp_path / f"pred_{mode.replace(';', '')}"
        out.mkdir()
        for p in pred.glob("*.png"):
            arr = np.asarray(Image.open(p))
            img = Image.fromarray(arr.astype(np.uint16)) if mode == "I;16" else Image.fromarray(arr)
            if mode == "P":  # gray palette: each index is its label
                img.putpalette([v for i in range(256) for v in (i, i, i)])
            assert img.mode == mode
            img.save(out / p.name)
        assert evaluate_semantic(gt, out).to_dict()["confusion_matrix"]["counts"] == CONFUSION, mode
