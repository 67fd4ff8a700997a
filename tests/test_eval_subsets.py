"""eval instance on a subset: --img-ids, --cat-ids and --class-agnostic equal pycocotools'
COCOeval with params.imgIds, params.catIds and params.useCats = 0; and mask AP of data
without masks refused (exit 2, with the hint to score boxes) instead of scored 0."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segtool import evaluate_instance
from segtool.errors import SegtoolError
from tests.conftest import write_json
from tests.helpers import assert_bad_input, invoke

CATS = [{"id": c, "name": f"c{c}"} for c in (1, 2, 5, 9)]


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def make_case(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    """Several images with overlapping objects of several categories, some crowd, and
    detections: shifted copies (some in another category, which only class-agnostic
    evaluation can match), false positives, ties of score, and > 100 on one image."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    for n in range(1, int(rng.integers(3, 7)) + 1):
        iid, h, w = n * 5, int(rng.integers(50, 120)), int(rng.integers(50, 120))
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for _ in range(int(rng.integers(1, 9))):
            m = np.zeros((h, w), bool)
            y, x, s = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4)), int(rng.choice([4, 20, 45]))
            m[y : y + s, x : x + int(rng.integers(3, s + 3))] = True
            cat, crowd = int(rng.choice([1, 2, 5, 9])), int(rng.random() < 0.1)
            enc = {**rle(m), "counts": rle(m)["counts"].encode()}
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": [float(v) for v in mask_utils.toBbox(enc)],
                    "iscrowd": crowd,
                }
            )
            if rng.random() < 0.85:
                dm = np.roll(m, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
                dcat = cat if rng.random() < 0.6 else int(rng.choice([1, 2, 5, 9]))
                dets.append(_det(iid, dcat, dm, rng))
        for _ in range(120 if n == 2 else int(rng.integers(0, 5))):
            m = np.zeros((h, w), bool)
            y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
            m[y : y + int(rng.integers(2, 10)), x : x + int(rng.integers(2, 10))] = True
            dets.append(_det(iid, int(rng.choice([1, 2, 5, 9])), m, rng))
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    return gt, write_json(tmp_path / "dt.json", dets)


def _det(iid: int, cat: int, m: np.ndarray, rng: np.random.Generator) -> dict:
    r = rle(m)
    box = [float(v) for v in mask_utils.toBbox({**r, "counts": r["counts"].encode()})]
    return {"image_id": iid, "category_id": cat, "segmentation": r, "bbox": box, "score": float(rng.choice([0.2, 0.7]))}


def reference(gt: Path, dt: Path, iou_type: str, **params: Any) -> COCOeval:
    """pycocotools' COCOeval with ``params`` (imgIds, catIds, useCats) set as a user sets them."""
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), iou_type)
        for k, v in params.items():
            setattr(e.params, k, v)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def assert_same(ours: Any, theirs: COCOeval) -> None:
    assert np.allclose(ours.stats, theirs.stats, atol=1e-9, rtol=0), (ours.stats, list(theirs.stats))
    assert ours.precision.shape == theirs.eval["precision"].shape
    assert np.array_equal(ours.precision == -1, theirs.eval["precision"] == -1)
    assert np.allclose(ours.precision, theirs.eval["precision"], atol=1e-12, rtol=0)
    assert np.allclose(ours.recall, theirs.eval["recall"], atol=1e-12, rtol=0)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", range(6))
def test_img_ids_match_cocoeval(tmp_path, seed, iou_type):
    gt, dt = make_case(tmp_path, seed)
    ids = [im["id"] for im in json.loads(gt.read_text())["images"]]
    img_ids = ids[1::2]
    theirs = reference(gt, dt, iou_type, imgIds=img_ids)
    ours = evaluate_instance(gt, dt, iou_type=iou_type, img_ids=img_ids)
    assert_same(ours, theirs)
    assert ours.images == len(img_ids)
    assert not np.allclose(ours.stats, reference(gt, dt, iou_type).stats)  # the subset is not the whole


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", range(6))
def test_cat_ids_match_cocoeval(tmp_path, seed, iou_type):
    gt, dt = make_case(tmp_path, seed)
    theirs = reference(gt, dt, iou_type, catIds=[9, 2])
    ours = evaluate_instance(gt, dt, iou_type=iou_type, cat_ids=[9, 2])
    assert_same(ours, theirs)
    assert [c.id for c in ours.categories] == [2, 9]  # COCOeval's K: the listed ids, sorted


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", range(8))
def test_class_agnostic_matches_cocoeval(tmp_path, seed, iou_type):
    gt, dt = make_case(tmp_path, seed)
    theirs = reference(gt, dt, iou_type, useCats=0)
    ours = evaluate_instance(gt, dt, iou_type=iou_type, class_agnostic=True)
    assert_same(ours, theirs)
    assert ours.precision.shape[2] == 1  # one "category", as COCOeval's catIds = [-1]
    # detections in the wrong category match only here: the numbers are not per-category ones
    assert not np.allclose(ours.stats, evaluate_instance(gt, dt, iou_type=iou_type).stats)


@pytest.mark.parametrize("seed", range(4))
def test_all_three_together_match_cocoeval(tmp_path, seed):
    gt, dt = make_case(tmp_path, seed)
    ids = [im["id"] for im in json.loads(gt.read_text())["images"]]
    theirs = reference(gt, dt, "segm", imgIds=ids[:-1], catIds=[1, 5, 9], useCats=0)
    assert_same(evaluate_instance(gt, dt, img_ids=ids[:-1], cat_ids=[1, 5, 9], class_agnostic=True), theirs)


def test_cli_options_reach_the_evaluation(tmp_path):
    gt, dt = make_case(tmp_path, 1)
    ids = [im["id"] for im in json.loads(gt.read_text())["images"]]
    out = tmp_path / "r.json"
    args = ("--img-ids", f"{ids[0]},{ids[2]}", "--cat-ids", "1,2,5", "--class-agnostic", "--json", out)
    result = invoke(CliRunner(), "eval", "instance", gt, dt, *args)
    assert result.exit_code == 0, result.output
    theirs = reference(gt, dt, "segm", imgIds=[ids[0], ids[2]], catIds=[1, 2, 5], useCats=0)
    data = json.loads(out.read_text())
    assert np.allclose(data["stats"], theirs.stats, atol=1e-9, rtol=0)
    assert list(data["per_class"]) == ["-1"] and data["images"] == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--img-ids", "5,999"), "no image 999"),
        (("--cat-ids", "1,3"), "no category 3"),
    ],
)
def test_unknown_ids_exit_2(tmp_path, args, needle):
    gt, dt = make_case(tmp_path, 0)
    assert_bad_input(invoke(CliRunner(), "eval", "instance", gt, dt, *args), needle)


def test_a_malformed_id_is_a_usage_error(tmp_path):
    gt, dt = make_case(tmp_path, 0)
    result = invoke(CliRunner(), "eval", "instance", gt, dt, "--cat-ids", "1,x")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for --cat-ids: 'x' is not an id" in result.stderr


def box_only(tmp_path: Path) -> tuple[Path, Path, Path]:
    """sahi's box-only ground truth in miniature (segmentation: [] or none), detections
    with masks, and detections with boxes only."""
    images = [{"id": 1, "file_name": "a.jpg", "height": 40, "width": 40}]
    anns = [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [2, 2, 10, 10],
            "area": 100,
            "iscrowd": 0,
            "segmentation": [],
        },
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 8, 8], "area": 64, "iscrowd": 0},
    ]
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": anns, "categories": CATS[:1]})
    m = np.zeros((40, 40), bool)
    m[2:12, 2:12] = True
    masks = write_json(tmp_path / "masks.json", [{"image_id": 1, "category_id": 1, "segmentation": rle(m), "score": 1}])
    boxes = write_json(tmp_path / "boxes.json", [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 1}])
    return gt, masks, boxes


def test_box_only_ground_truth_under_segm_exits_2_with_the_hint(tmp_path):
    gt, masks, boxes = box_only(tmp_path)
    result = invoke(CliRunner(), "eval", "instance", gt, masks)
    assert_bad_input(result, "gt.json", "no masks", "--iou-type bbox")
    ok = invoke(CliRunner(), "eval", "instance", gt, boxes, "--iou-type", "bbox", "--json", "-")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["AP50"] == pytest.approx(reference(gt, boxes, "bbox").stats[1], abs=1e-9)
    # one of two boxes found exactly: precision 1 at the 51 recall points 0 .. 0.5, 0 beyond
    assert json.loads(ok.stdout)["AP50"] == pytest.approx(51 / 101, abs=1e-12)


def test_box_only_detections_under_segm_exit_2_with_the_hint(tmp_path):
    gt, _masks, boxes = box_only(tmp_path)
    real = write_json(tmp_path / "real_gt.json", {**json.loads(gt.read_text()), "annotations": []})
    assert_bad_input(invoke(CliRunner(), "eval", "instance", real, boxes), "boxes.json", "no masks", "--iou-type bbox")
    with pytest.raises(SegtoolError, match="--iou-type bbox"):  # the library, a list in memory
        evaluate_instance(real, json.loads(boxes.read_text()))


def test_ground_truth_with_some_masks_is_scored(tmp_path):
    """Only a ground truth without a single mask is refused: one box-only object among
    masks is scored as an empty mask (pycocotools fails on ``segmentation: []``, so its
    numbers are those of the same file with an empty RLE there)."""
    gt, dt = make_case(tmp_path, 2)
    data = json.loads(gt.read_text())
    im = next(i for i in data["images"] if i["id"] == data["annotations"][0]["image_id"])
    data["annotations"][0]["segmentation"] = []
    some = write_json(tmp_path / "some.json", data)
    data["annotations"][0]["segmentation"] = rle(np.zeros((im["height"], im["width"]), bool))
    empty = write_json(tmp_path / "empty.json", data)
    assert_same(evaluate_instance(some, dt), reference(empty, dt, "segm"))


def test_subsets_reach_worker_processes(tmp_path, monkeypatch):
    """Boundary AP runs images in worker processes: the per-image subset travels with each
    image, and --jobs 2 gives the numbers of --jobs 1."""
    from segtool import parallel

    started: list[int] = []

    class Counted(parallel.ProcessPoolExecutor):
        def __init__(self, jobs, *args, **kwargs):
            started.append(jobs)
            super().__init__(jobs, *args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Counted)
    monkeypatch.setattr(parallel, "SMALL", 0)  # a pool even for these few images
    gt, dt = make_case(tmp_path, 3)
    one = evaluate_instance(gt, dt, iou_type="boundary", cat_ids=[1, 2, 9], class_agnostic=True, jobs=1)
    two = evaluate_instance(gt, dt, iou_type="boundary", cat_ids=[1, 2, 9], class_agnostic=True, jobs=2)
    assert np.array_equal(one.precision, two.precision) and one.precision.shape[2] == 1
    assert started == [2]


def test_cocoapi_box_results_under_segm_exit_2(tmp_path):
    """cocoapi's real fake-bbox results (read from ../shared; BSD): box-only detections, so
    mask AP is refused with the hint, before the ground truth is read."""
    real = (
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "cocoapi" / "coco_results" / "results"
    )
    boxes = real / "instances_val2014_fakebbox100_results.json"
    if not boxes.is_file():
        pytest.skip("../shared/data/real/cocoapi is not here")
    gt, _masks, _boxes = box_only(tmp_path)
    assert_bad_input(invoke(CliRunner(), "eval", "instance", gt, boxes), boxes.name, "no masks", "--iou-type bbox")
