"""--per-image and --slices: semantic rows and slices by hand, the CLI's JSON, CSV and table,
bad slices files (one line, exit 2), and preview's TP/FP/FN of an image without prediction.
Panoptic and instance rows against panopticapi and COCOeval: tests/parity/test_per_image.py."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from segtool import evaluate_instance, evaluate_panoptic, evaluate_semantic
from segtool.errors import SegtoolError
from segtool.metrics.slices import Slices
from segtool.preview import preview
from tests.conftest import CATEGORIES, panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import assert_bad_input, invoke

CATS = [{"id": i, "name": f"c{i}"} for i in range(5)]  # 3 never appears; 4 is only predicted


def folder(path, maps, with_categories=True):
    path.mkdir()
    for name, arr in maps.items():
        Image.fromarray(np.array(arr, np.uint8)).save(path / f"{name}.png")
    if with_categories:
        (path / "categories.json").write_text(json.dumps(CATS))
    return path


@pytest.fixture
def semantic(tmp_path):
    """Image a (id 1) and b (id 2); 255 is void in the ground truth, unlabelled in predictions."""
    gt = folder(tmp_path / "gt", {"a": [[0, 0, 1, 1], [1, 2, 255, 2]], "b": [[2, 2, 0, 255, 0]]})
    pred = folder(tmp_path / "pred", {"a": [[0, 1, 1, 1], [2, 2, 0, 255]], "b": [[2, 0, 0, 1, 4]]}, False)
    return gt, pred


# By hand. a: 7 labelled pixels, TP 4; IoU c0 1/(2+1-1), c1 2/(3+3-2), c2 1/(2+2-1)
A = {"image_id": 1, "file_name": "a.png", "mIoU": (1 / 2 + 2 / 4 + 1 / 3) / 3, "pixel_accuracy": 4 / 7}
# b: 4 labelled pixels, TP 2; IoU c0 1/(2+2-1), c2 1/(2+1-1), c4 0/(0+1-0); c1 only under void: absent
B = {"image_id": 2, "file_name": "b.png", "mIoU": (1 / 3 + 1 / 2 + 0.0) / 3, "pixel_accuracy": 2 / 4}


def test_semantic_rows_by_hand(semantic):
    rows = evaluate_semantic(*semantic, per_image=True).per_image
    assert rows == [pytest.approx(A), pytest.approx(B)]


def test_semantic_slices_by_hand(semantic):
    result = evaluate_semantic(*semantic, slices={"just_a": [1], "both": [2, 1]})
    assert result.slices is not None and result.per_image is None
    a = result.slices["just_a"].to_dict()
    assert (a["mIoU"], a["pixel_accuracy"], a["images"]) == (pytest.approx(A["mIoU"]), pytest.approx(4 / 7), 1)
    both = result.slices["both"].to_dict()
    # the two images together (tests/parity/test_miou.py's matrix): IoU .4, .5, .4, 0; 6 of 11 pixels
    assert both["mIoU"] == pytest.approx((0.4 + 0.5 + 0.4 + 0.0) / 4) and both["pixel_accuracy"] == pytest.approx(
        6 / 11
    )
    assert both["confusion_matrix"] == result.to_dict()["confusion_matrix"]


def test_semantic_row_of_an_image_without_prediction(semantic, tmp_path):
    gt, pred = semantic
    (pred / "b.png").unlink()
    rows = evaluate_semantic(gt, pred, allow_missing=True, per_image=True).per_image or []
    # b: every pixel unlabelled: nothing right; IoU 0 for c0 and c2 (in the ground truth)
    assert rows[1] == {"image_id": 2, "file_name": "b.png", "mIoU": 0.0, "pixel_accuracy": 0.0}


def panoptic_pair(tmp_path):
    """Two images: the first predicted exactly, the second not at all (an empty prediction)."""
    ids = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]])
    segs = panoptic_segments(ids, {1: 1, 2: 2, 3: 100})
    gt = write_panoptic(tmp_path / "gt.json", [ids, ids], [segs, segs], CATEGORIES)
    pred = write_panoptic(tmp_path / "pred.json", [ids, np.zeros_like(ids)], [segs, []], CATEGORIES)
    return gt, pred


def test_cli_json_csv_and_table(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    slices = write_json(tmp_path / "slices.json", {"good": [1], "bad": [2]})
    out = tmp_path / "rows.csv"
    r = invoke(runner, "eval", "panoptic", gt, pred, "--per-image", "--slices", slices, "--json", "-", "--csv", out)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [(p["image_id"], p["pq"], p["tp"], p["fp"], p["fn"]) for p in data["per_image"]] == [
        (1, 1.0, 3, 0, 0),
        (2, 0.0, 0, 0, 3),
    ]
    assert data["slices"]["good"]["All"]["pq"] == 1.0 and data["slices"]["bad"]["All"]["pq"] == 0.0
    assert data["slices"]["bad"]["images"] == 1
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["row"] for r in rows] == ["category"] * 5 * 3 + ["image"] * 2  # overall, good, bad; two images
    assert {r["slice"] for r in rows[:5]} == {""} and {r["slice"] for r in rows[5:10]} == {"good"}
    assert (rows[-1]["image_id"], rows[-1]["fn"], rows[-1]["pq"]) == ("2", "3", "0.0")
    table = invoke(runner, "eval", "panoptic", gt, pred, "--slices", slices)
    assert "slice good: PQ 1.0000" in table.stdout and "slice bad: PQ 0.0000" in table.stdout


def test_csv_without_the_options_is_unchanged(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    out = tmp_path / "c.csv"
    assert invoke(runner, "eval", "panoptic", gt, pred, "--csv", out).exit_code == 0
    assert out.read_text().splitlines()[0] == "category_id,pq,sq,rq,name,isthing,tp,fp,fn"


def test_cli_semantic_and_instance_take_the_same_options(runner, semantic, tmp_path):
    r = invoke(runner, "eval", "semantic", *semantic, "--per-image", "--json", "-")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["per_image"][0]["pixel_accuracy"] == pytest.approx(4 / 7)
    m = np.zeros((10, 10), bool)
    m[2:6, 2:6] = True
    ann = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle(m), "area": 16, "bbox": [2, 2, 4, 4]}
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 10, "width": 10} for i in (1, 2)]
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": [ann], "categories": CATEGORIES})
    dt = write_json(tmp_path / "dt.json", [{"image_id": 1, "category_id": 1, "segmentation": rle(m), "score": 0.9}])
    r = invoke(runner, "eval", "instance", gt, dt, "--per-image", "--json", "-")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["per_image"] == [
        {"image_id": 1, "file_name": "1.jpg", "tp": 1, "fp": 0, "fn": 0, "AP": pytest.approx(1.0)},  # 1 / (1 + eps)
        {"image_id": 2, "file_name": "2.jpg", "tp": 0, "fp": 0, "fn": 0, "AP": None},  # no ground truth
    ]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ({"night": [1, 7]}, "slice 'night' names image id 7, which the ground truth does not have"),
        ({"night": ["1"]}, "image id '1'"),  # a string is not the integer id
        ({"a": [9], "b": [8]}, "(and 1 more)"),
        ({"night": 1}, "slice 'night': expected a list of image ids"),
        ({"night": [1.5]}, "image ids are integers or strings"),
        ([[1]], "expected a JSON object of slice name -> list of image ids"),
        ("{not json", "the slices file is not JSON"),
    ],
)
def test_bad_slices_file_is_one_line_exit_2(runner, tmp_path, content, needle):
    gt, pred = panoptic_pair(tmp_path)
    slices = tmp_path / "slices.json"
    slices.write_text(content if isinstance(content, str) else json.dumps(content))
    r = invoke(runner, "eval", "panoptic", gt, pred, "--slices", slices)
    assert_bad_input(r, str(slices), needle)


def test_missing_slices_file_and_library_errors(runner, tmp_path, semantic):
    gt, pred = panoptic_pair(tmp_path)
    assert_bad_input(invoke(runner, "eval", "panoptic", gt, pred, "--slices", tmp_path / "nope.json"), "nope.json")
    with pytest.raises(SegtoolError, match="image id 5"):
        evaluate_semantic(*semantic, slices={"x": [5]})
    with pytest.raises(SegtoolError, match="expected a JSON object"):
        Slices.of({})


def test_slices_overlap_and_an_image_in_none(tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    result = evaluate_panoptic(gt, pred, slices={"x": [1, 2], "y": [2]}, per_image=True)
    assert result.slices is not None and result.per_image is not None
    assert [result.slices[k].images for k in ("x", "y")] == [2, 1]
    assert result.slices["x"].stat.fn.sum() == 3 and result.slices["y"].stat.fn.sum() == 3


def lvis_case(tmp_path):
    """One 20x20 LVIS image: a (category 1) and b (2) in the ground truth, 3 verified absent,
    2 not exhaustively annotated. Detections: a found (1, TP), a stray 1 (FP: 1 is
    exhaustive), a stray 2 (unmatched, 2 not exhaustive: ignored), a 3 (verified absent:
    FP), a 4 (neither present nor verified: dropped, scored by nothing); b missed (FN)."""

    def box(y, x, h, w):
        m = np.zeros((20, 20), bool)
        m[y : y + h, x : x + w] = True
        return m

    a, b = box(2, 2, 4, 4), box(10, 10, 6, 6)
    image = {"id": 1, "file_name": "1.jpg", "height": 20, "width": 20}
    image.update(neg_category_ids=[3], not_exhaustive_category_ids=[2])
    anns = [
        {"id": k, "image_id": 1, "category_id": c, "segmentation": rle(m), "area": int(m.sum()), "bbox": bb}
        for k, c, m, bb in ((1, 1, a, [2, 2, 4, 4]), (2, 2, b, [10, 10, 6, 6]))
    ]
    cats = [{"id": c, "name": f"c{c}", "frequency": "f"} for c in (1, 2, 3, 4)]
    gt = write_json(tmp_path / "lvis.json", {"images": [image], "annotations": anns, "categories": cats})
    found = [(1, a, 0.9), (1, box(14, 0, 4, 4), 0.8), (2, box(0, 12, 4, 4), 0.7), (3, a, 0.6), (4, a, 0.95)]
    dt = [{"image_id": 1, "category_id": c, "segmentation": rle(m), "score": s} for c, m, s in found]
    return gt, dt


def test_lvis_rows_follow_the_federated_rules_by_hand(tmp_path):
    gt, dt = lvis_case(tmp_path)
    result = evaluate_instance(gt, dt, per_image=True, slices={"all": [1]})
    # AP: category 1 finds a first (precision 1 - eps at every recall), category 2 nothing
    # counted (its one detection ignored): AP 0; the mean over the two
    row = {"image_id": 1, "file_name": "1.jpg", "tp": 1, "fp": 2, "fn": 1, "AP": pytest.approx(0.5, abs=1e-12)}
    assert result.per_image == [row]
    assert result.slices is not None and result.slices["all"].to_dict()["AP"] == result.to_dict()["AP"]
    # COCOeval's rules on the same files: the stray 2 and the 4 are false positives too
    coco = evaluate_instance(gt, dt, lvis=False, per_image=True).per_image
    assert coco == [{**row, "fp": 4}]


def test_cli_lvis_per_image_and_slices(runner, tmp_path):
    gt, dt = lvis_case(tmp_path)
    dets = write_json(tmp_path / "dt.json", dt)
    slices = write_json(tmp_path / "slices.json", {"only": [1]})
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    args = ["eval", "instance", str(gt), str(dets), "--per-image", "--slices", str(slices)]
    res = invoke(runner, *args, "--json", out, "--csv", table)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["lvis"] and [(r["tp"], r["fp"], r["fn"]) for r in data["per_image"]] == [(1, 2, 1)]
    assert data["slices"]["only"]["APf"] == data["APf"] and "slice only: " in res.output
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["fp"] for r in rows if r["row"] == "image"] == ["2"]


def test_preview_counts_an_image_without_prediction(tmp_path):
    """Found on real files: a results list without a detection for an image gave that image
    no TP/FP/FN. Every image is judged when predictions are given: none predicted, all missed."""
    m = np.zeros((10, 10), bool)
    m[2:6, 2:6] = True
    anns = [
        {
            "id": k,
            "image_id": i,
            "category_id": 1,
            "segmentation": rle(m),
            "area": 16,
            "bbox": [2, 2, 4, 4],
            "iscrowd": c,
        }
        for k, (i, c) in enumerate([(1, 0), (2, 0), (2, 0), (2, 1)], start=1)
    ]
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 10, "width": 10} for i in (1, 2)]
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": anns, "categories": CATEGORIES})
    dt = write_json(tmp_path / "dt.json", [{"image_id": 1, "category_id": 1, "segmentation": rle(m), "score": 0.9}])
    lines = preview(gt, tmp_path / "out", pred=dt).to_dict()["images"]
    by_id = {line["image_id"]: line for line in lines}
    assert by_id[1]["tp_fp_fn"] == (1, 0, 0)
    assert by_id[2]["tp_fp_fn"] == (0, 0, 2) and by_id[2]["pred_segments"] == 0  # the crowd one is not missed
    assert "tp_fp_fn" not in preview(gt, tmp_path / "alone").to_dict()["images"][0]


def test_preview_of_panopticapis_real_detection_file_with_one_image_undetected(tmp_path):
    """panopticapi's real COCO instance example (2 images, 50 segments, 3 crowd): a results
    list holding image 142238's non-crowd objects exactly and nothing for 439180. The
    undetected image still gets its TP/FP/FN: every non-crowd object missed."""
    from tests.conftest import DETECTION_EXAMPLES

    gt = json.loads(DETECTION_EXAMPLES.read_text())
    first, second = (im["id"] for im in gt["images"])
    mine = [a for a in gt["annotations"] if a["image_id"] == first and not a["iscrowd"]]
    missed = [a for a in gt["annotations"] if a["image_id"] == second and not a["iscrowd"]]
    dets = [{**{k: a[k] for k in ("image_id", "category_id", "segmentation")}, "score": 1.0} for a in mine]
    dt = write_json(tmp_path / "dt.json", dets)
    lines = {
        line["image_id"]: line for line in preview(DETECTION_EXAMPLES, tmp_path / "out", pred=dt).to_dict()["images"]
    }
    assert lines[first]["tp_fp_fn"] == (len(mine), 0, 0)
    assert lines[second]["tp_fp_fn"] == (0, 0, len(missed)) and lines[second]["pred_segments"] == 0
    assert len(mine) + len(missed) == 50 - 3  # the fixture's documented counts


def test_slice_lines_are_quiet_with_q_and_names_are_shown_as_text(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    slices = write_json(tmp_path / "s.json", {"[bold]x\nError: y": [1]})
    r = invoke(runner, "eval", "panoptic", gt, pred, "--slices", slices)
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("slice "))
    assert line.startswith("slice [bold]x\\nError: y: PQ 1.0000") and "Error:" not in r.stdout.splitlines()[-1][:6]
    assert "slice" not in invoke(runner, "eval", "panoptic", gt, pred, "--slices", slices, "-q").stdout


def test_panoptic_row_of_an_image_without_prediction_record(tmp_path):
    """--allow-missing: image 2 has no prediction record at all; its row is there, every
    segment a false negative, PQ 0 (as an empty prediction scores); its slice counts it missing."""
    gt, pred = panoptic_pair(tmp_path)
    data = json.loads(pred.read_text())
    data["annotations"] = data["annotations"][:1]
    pred.write_text(json.dumps(data))
    result = evaluate_panoptic(gt, pred, allow_missing=True, per_image=True, slices={"second": [2]})
    assert [(r["image_id"], r["tp"], r["fp"], r["fn"], r["pq"]) for r in result.per_image or []] == [
        (1, 3, 0, 0, 1.0),
        (2, 0, 0, 3, 0.0),
    ]
    assert result.slices is not None and result.slices["second"].to_dict()["missing_predictions"] == 1
