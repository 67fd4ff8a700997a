"""LVIS through the CLI and the library: detection, the federated rules on a case worked
out by hand, --lvis/--no-lvis, the table, gates, bad input. (Parity with lvis-api's
LVISEval on generated and real data: tests/parity/test_lvis.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from segtool import evaluate_instance
from segtool.metrics.lvis import STAT_NAMES, LVISResult
from tests.conftest import write_json
from tests.helpers import assert_bad_input, invoke

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "AR@300", "ARs@300", "ARm@300", "ARl@300"]
CATS = [
    {"id": 1, "name": "aardvark", "frequency": "r"},
    {"id": 2, "name": "bagel", "frequency": "c"},
    {"id": 3, "name": "cat", "frequency": "f"},
    {"id": 4, "name": "dog", "frequency": "f"},
]


def square(x: int, y: int, s: int = 10) -> dict:
    m = np.zeros((100, 100), np.uint8)
    m[y : y + s, x : x + s] = 1
    r = mask_utils.encode(np.asfortranarray(m))
    return {"size": [100, 100], "counts": r["counts"].decode("ascii")}


def hand_case(tmp_path: Path, neg=(3,), not_exhaustive=(2,), lists: bool = True) -> tuple[Path, Path]:
    """One image: an aardvark A and a bagel B (10x10 squares, area 100: small). Bagels are
    not exhaustively annotated there, cats verified absent, dogs unknown. Detections:
    A exactly (0.9); a bagel where there is none (0.8); B exactly (0.5); a cat (0.7); a
    dog (0.95)."""
    image = {"id": 7, "file_name": "a.jpg", "height": 100, "width": 100}
    if lists:
        image |= {"neg_category_ids": list(neg), "not_exhaustive_category_ids": list(not_exhaustive)}
    anns = [
        {"id": 1, "image_id": 7, "category_id": 1, "segmentation": square(0, 0), "area": 100.0, "bbox": [0, 0, 10, 10]},
        {
            "id": 2,
            "image_id": 7,
            "category_id": 2,
            "segmentation": square(50, 50),
            "area": 100.0,
            "bbox": [50, 50, 10, 10],
        },
    ]
    gt = write_json(tmp_path / "lvis.json", {"images": [image], "annotations": anns, "categories": CATS})
    dets = [
        {"image_id": 7, "category_id": 1, "segmentation": square(0, 0), "score": 0.9},
        {"image_id": 7, "category_id": 2, "segmentation": square(80, 0), "score": 0.8},
        {"image_id": 7, "category_id": 2, "segmentation": square(50, 50), "score": 0.5},
        {"image_id": 7, "category_id": 3, "segmentation": square(20, 20), "score": 0.7},
        {"image_id": 7, "category_id": 4, "segmentation": square(30, 30), "score": 0.95},
    ]
    return gt, write_json(tmp_path / "dets.json", dets)


def test_the_federated_rules_by_hand(tmp_path):
    """LVIS: the unmatched bagel is ignored (not exhaustive), so bagel AP is 1; the cat is a
    false positive of a category without ground truth (AP undefined, -1, left out), the dog
    is dropped. AP = mean(1, 1); APr = aardvark's, APc = bagel's, APf undefined."""
    gt, dt = hand_case(tmp_path)
    r = evaluate_instance(gt, dt)
    assert isinstance(r, LVISResult)
    d = r.to_dict()
    expected = {"AP": 1.0, "AP50": 1.0, "AP75": 1.0, "APs": 1.0, "APm": -1.0, "APl": -1.0, "APr": 1.0}
    expected |= {"APc": 1.0, "APf": -1.0, "AR@300": 1.0, "ARs@300": 1.0, "ARm@300": -1.0, "ARl@300": -1.0}
    assert {k: d[k] for k in KEYS} == pytest.approx(expected, abs=1e-12)
    assert d["per_class"][2] == {"name": "bagel", "frequency": "c", "AP": pytest.approx(1.0, abs=1e-12)}
    assert d["per_class"][3]["AP"] is None and d["stats"] == [d[k] for k in KEYS]


def test_no_lvis_scores_the_same_files_as_cocoeval(tmp_path):
    """COCO's rules: the stray bagel (0.8) is a false positive before B (0.5): bagel
    precision 1/2 at recall 1, so bagel AP 0.5 and AP = (1 + 0.5) / 2."""
    gt, dt = hand_case(tmp_path)
    r = evaluate_instance(gt, dt, lvis=False)
    assert not isinstance(r, LVISResult)
    assert r.to_dict()["AP"] == pytest.approx(0.75, abs=1e-12)


def test_lvis_forced_on_a_file_without_lists(tmp_path):
    """--lvis on a COCO file: no category is verified absent or unexhaustive, so only
    detections of categories present in the image count: the stray bagel is a false
    positive again (bagel AP 0.5), the cat and dog are dropped."""
    gt, dt = hand_case(tmp_path, lists=False)
    assert not isinstance(evaluate_instance(gt, dt), LVISResult)  # not detected as LVIS
    r = evaluate_instance(gt, dt, lvis=True)
    assert isinstance(r, LVISResult)
    assert r.to_dict()["AP"] == pytest.approx(0.75, abs=1e-12) and r.to_dict()["APc"] == pytest.approx(0.5)


def test_cli_table_says_lvis_and_json_has_lvis_api_keys(tmp_path):
    gt, dt = hand_case(tmp_path)
    runner = CliRunner()
    shown = invoke(runner, "eval", "instance", gt, dt, "--per-class")
    assert shown.exit_code == 0, shown.output
    assert "LVIS segm evaluation · 1 images" in shown.stdout
    for name in ("APr", "APc", "APf", "AR@300", "frequency", "aardvark"):
        assert name in shown.stdout
    out = invoke(runner, "eval", "instance", gt, dt, "--json", "-")
    data = json.loads(out.stdout)
    assert [k for k in data if k in KEYS] == KEYS and list(STAT_NAMES) == KEYS
    assert data["lvis"] is True and data["max_dets"] == 300
    coco = json.loads(invoke(runner, "eval", "instance", gt, dt, "--no-lvis", "--json", "-").stdout)
    assert "APr" not in coco and coco["AP"] == pytest.approx(0.75)
    github = invoke(runner, "eval", "instance", gt, dt, "--format", "github")
    assert "APr 1.0000" in github.stdout and "AR@300 1.0000" in github.stdout


def test_gates_take_lvis_names(tmp_path):
    gt, dt = hand_case(tmp_path)
    runner = CliRunner()
    assert invoke(runner, "eval", "instance", gt, dt, "--fail-under", "APr=0.9", "-q").exit_code == 0
    failed = invoke(runner, "eval", "instance", gt, dt, "--fail-under", "APm=0.1", "-q")
    assert failed.exit_code == 1 and "APm = -1.000000 < 0.1" in failed.stderr
    wrong = invoke(runner, "eval", "instance", gt, dt, "--no-lvis", "--fail-under", "APr=0.1")
    assert wrong.exit_code == 2 and "APr is not a metric of a COCO evaluation" in wrong.stderr
    wrong = invoke(runner, "eval", "instance", gt, dt, "--fail-under", "AR100=0.1")
    assert wrong.exit_code == 2 and "AR100 is not a metric of an LVIS evaluation" in wrong.stderr


def test_max_dets_does_not_apply_and_says_so(tmp_path):
    gt, dt = hand_case(tmp_path)
    result = invoke(CliRunner(), "eval", "instance", gt, dt, "--max-dets", "1,2,3")
    assert result.exit_code == 0 and "--max-dets does not apply to LVIS" in result.stderr
    assert "LVIS segm evaluation" in result.stdout


@pytest.mark.parametrize(
    ("neg", "not_exhaustive", "needle"),
    [
        ((99,), (2,), "neg_category_ids lists 99, which is not a category id"),
        ((3,), ("x",), "not_exhaustive_category_ids lists 'x'"),
    ],
)
def test_lists_naming_no_category_exit_2(tmp_path, neg, not_exhaustive, needle):
    gt, dt = hand_case(tmp_path, neg=neg, not_exhaustive=not_exhaustive)
    assert_bad_input(invoke(CliRunner(), "eval", "instance", gt, dt), "lvis.json", "image 7", needle)


def test_a_list_that_is_no_list_exits_2(tmp_path):
    gt, dt = hand_case(tmp_path)
    data = json.loads(gt.read_text())
    data["images"][0]["neg_category_ids"] = 3
    gt = write_json(tmp_path / "lvis.json", data)
    assert_bad_input(invoke(CliRunner(), "eval", "instance", gt, dt), "neg_category_ids must be a list")


def test_class_agnostic_is_refused_for_lvis(tmp_path):
    gt, dt = hand_case(tmp_path)
    result = invoke(CliRunner(), "eval", "instance", gt, dt, "--class-agnostic")
    assert_bad_input(result, "lvis-api has no class-agnostic evaluation")


def test_a_category_without_frequency_is_in_no_group(tmp_path):
    """lvis-api fails on it; segtool leaves it out of APr/APc/APf (and in AP)."""
    gt, dt = hand_case(tmp_path)
    data = json.loads(gt.read_text())
    del data["categories"][1]["frequency"]  # bagel
    gt = write_json(tmp_path / "lvis.json", data)
    d = evaluate_instance(gt, dt).to_dict()
    assert d["APc"] == -1.0 and d["AP"] == pytest.approx(1.0) and d["per_class"][2]["frequency"] is None


def test_summarize_prints_lvis_api_lines(tmp_path):
    gt, dt = hand_case(tmp_path)
    lines = evaluate_instance(gt, dt).summarize().splitlines()
    assert len(lines) == 13
    assert lines[0] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=all] = 1.000"
    assert lines[7] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=  c] = 1.000"
    assert lines[10] == " Average Recall     (AR) @[ IoU=0.50:0.95 | area=     s | maxDets=300 catIds=all] = 1.000"


def test_lvis_v1_records_without_file_name(tmp_path):
    """LVIS v1's image records have coco_url and no file_name, its categories synset,
    synonyms, image_count ...: read and scored all the same."""
    gt, dt = hand_case(tmp_path)
    data = json.loads(gt.read_text())
    for im in data["images"]:
        del im["file_name"]
        im["coco_url"] = "http://images.cocodataset.org/val2017/000000000007.jpg"
    for c in data["categories"]:
        c |= {"synset": f"{c['name']}.n.01", "synonyms": [c["name"]], "image_count": 3, "instance_count": 4}
    gt = write_json(tmp_path / "lvis_v1.json", data)
    assert evaluate_instance(gt, dt).to_dict()["APc"] == pytest.approx(1.0, abs=1e-12)
