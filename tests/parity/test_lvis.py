"""LVIS federated AP/AR against lvis-api's ``LVISEval`` (lvis 0.5.3), in process: every
key of ``LVISEval.results`` and the full precision/recall arrays, to 1e-9.

lvis-api is installed by ``make test-venv`` (``pip install --no-deps lvis``); its import
needs matplotlib (the ``test`` extra). Under numpy >= 1.24 its ``accumulate`` calls
``np.float``, an alias of the builtin ``float`` that numpy removed: the test gives that
name back (``float`` itself, so lvis-api computes what it always did) for the call.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segtool import evaluate_instance
from segtool.metrics.lvis import LVISResult
from tests.conftest import write_json

lvis_eval = pytest.importorskip("lvis.eval", reason="lvis-api (pip install --no-deps lvis) is the LVIS reference")

FREQ = {1: "r", 2: "c", 3: "f", 4: "f", 5: "r", 6: "c", 7: "c"}  # 7: never annotated
CATS = [{"id": c, "name": f"c{c}", "frequency": f, "synset": f"c{c}.n.01"} for c, f in FREQ.items()]


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
    size = int(rng.choice([4, 14, 40, 105]))  # small, medium, large
    m[y : y + size, x : x + int(rng.integers(2, size + 2))] = True
    return m


def make_lvis(tmp_path: Path, seed: int, with_bbox: bool = False) -> tuple[Path, Path]:
    """An LVIS-style ground truth (frequencies r/c/f, per-image neg and not-exhaustive
    lists, no crowd, a ground truth of area 0) and a results file: detections of present,
    verified-absent and unverified categories, ties of score, an empty mask, and over 300
    detections on one image."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    for n in range(1, int(rng.integers(4, 8)) + 1):
        iid = n * 7 + 1
        h, w = int(rng.integers(60, 140)), int(rng.integers(60, 140))
        present: set[int] = set()
        for _ in range(0 if n == 2 else int(rng.integers(1, 10))):
            m, cat = blob(rng, h, w), int(rng.choice([1, 2, 3, 4, 5, 6]))
            present.add(cat)
            segm: Any = rle(m)
            if rng.random() < 0.4:  # polygons, as LVIS has them
                ys, xs = np.nonzero(m)
                x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
                segm = [[x0, y0, x1, y0, x1, y1, x0, y1]]
            r = mask_utils.merge(mask_utils.frPyObjects(segm, h, w)) if isinstance(segm, list) else segm
            area = float(mask_utils.area(r if isinstance(segm, list) else {**r, "counts": r["counts"].encode()}))
            if rng.random() < 0.05:
                area = 0.0  # left out by lvis-api's get_ann_ids (area strictly above 0)
            box = mask_utils.toBbox(r if isinstance(segm, list) else {**r, "counts": r["counts"].encode()})
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": segm,
                    "area": area,
                    "bbox": [float(v) for v in box],
                }
            )
            if rng.random() < 0.1:  # LVIS has no crowd: lvis-api ignores the flag, so must segtool
                gts[-1]["iscrowd"] = 1
            if rng.random() < 0.8:
                dm = np.roll(m, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
                dets.append(_det(iid, cat if rng.random() < 0.85 else int(rng.integers(1, 8)), dm, rng, with_bbox))
        absent = [c for c in FREQ if c not in present]
        neg = sorted(int(c) for c in rng.choice(absent, size=min(len(absent), 2), replace=False))
        not_exhaustive = sorted({int(c) for c in present if rng.random() < 0.3})
        images.append(
            {
                "id": iid,
                "file_name": f"{iid}.jpg",
                "height": h,
                "width": w,
                "neg_category_ids": neg,
                "not_exhaustive_category_ids": not_exhaustive,
            }
        )
        extra = 340 if n == 3 else int(rng.integers(0, 12))  # > 300 on one image: the cut has ties
        for _ in range(extra):
            dets.append(_det(iid, int(rng.integers(1, 8)), blob(rng, h, w), rng, with_bbox))
        if n == 1 and not with_bbox:
            dets.append({**_det(iid, neg[0] if neg else 1, np.zeros((h, w), bool), rng, False)})  # area 0
    gt = write_json(tmp_path / "lvis_gt.json", {"images": images, "annotations": gts, "categories": CATS})
    return gt, write_json(tmp_path / "lvis_dt.json", dets)


def _det(iid: int, cat: int, m: np.ndarray, rng: np.random.Generator, with_bbox: bool) -> dict:
    r = rle(m)
    d = {"image_id": iid, "category_id": cat, "segmentation": r, "score": float(rng.choice([0.1, 0.5, 0.5, 0.9]))}
    if with_bbox:
        d["bbox"] = [float(v) for v in mask_utils.toBbox({**r, "counts": r["counts"].encode()})]
    return d


def reference(gt: Path, dt: Path, iou_type: str, monkeypatch, **params: Any) -> Any:
    """lvis-api's LVISEval, run, with ``params`` (img_ids, cat_ids) set as a user sets them."""
    monkeypatch.setattr(np, "float", float, raising=False)
    with contextlib.redirect_stdout(io.StringIO()):
        e = lvis_eval.LVISEval(str(gt), str(dt), iou_type)
        for k, v in params.items():
            setattr(e.params, k, v)
        e.run()
    return e


def assert_same(ours: LVISResult, theirs: Any) -> None:
    assert isinstance(ours, LVISResult)
    data = ours.to_dict()
    assert list(theirs.results) == [k for k in ours.results]
    for key, value in theirs.results.items():
        assert data[key] == pytest.approx(float(value), abs=1e-9, rel=0), (key, data[key], value)
    p, r = theirs.eval["precision"], theirs.eval["recall"]
    assert ours.precision.shape == p.shape and ours.recall.shape == r.shape
    assert np.array_equal(ours.precision == -1, p == -1) and np.array_equal(ours.recall == -1, r == -1)
    assert np.allclose(ours.precision, p, atol=1e-12, rtol=0) and np.allclose(ours.recall, r, atol=1e-12, rtol=0)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("with_bbox", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_generated_lvis_matches_lvis_api(tmp_path, monkeypatch, seed, with_bbox, iou_type):
    gt, dt = make_lvis(tmp_path, seed, with_bbox)
    theirs = reference(gt, dt, iou_type, monkeypatch)
    assert theirs.results["AP"] > 0  # something was matched: the comparison means something
    assert_same(evaluate_instance(gt, dt, iou_type=iou_type), theirs)


@pytest.mark.parametrize("seed", range(3))
def test_detections_in_any_order_match_lvis_api(tmp_path, monkeypatch, seed):
    """Results not grouped by image (read again whole after the stream finds out): the
    300-per-image cut and the ties still follow the file's order, as in lvis-api."""
    gt, dt = make_lvis(tmp_path, seed)
    dets = json.loads(dt.read_text())
    order = np.random.default_rng(seed).permutation(len(dets))
    dt = write_json(tmp_path / "shuffled.json", [dets[i] for i in order])
    assert_same(evaluate_instance(gt, dt), reference(gt, dt, "segm", monkeypatch))


def test_detections_in_memory_match_lvis_api(tmp_path, monkeypatch):
    """A results list held in memory (a training loop's), as LVISEval takes one too."""
    gt, dt = make_lvis(tmp_path, 5)
    theirs = reference(gt, dt, "bbox", monkeypatch)
    assert_same(evaluate_instance(gt, json.loads(dt.read_text()), iou_type="bbox"), theirs)


def test_the_federated_rules_change_the_numbers(tmp_path, monkeypatch):
    """The same files scored by COCOeval's rules give other numbers: the LVIS rules are
    what the parity above checks, not something both would do anyway."""
    gt, dt = make_lvis(tmp_path, 3)
    lvis = evaluate_instance(gt, dt)
    coco = evaluate_instance(gt, dt, lvis=False)
    assert isinstance(lvis, LVISResult) and not isinstance(coco, LVISResult)
    assert lvis.to_dict()["AP"] != pytest.approx(coco.to_dict()["AP"], abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_image_and_category_subsets_match_lvis_api(tmp_path, monkeypatch, seed):
    gt, dt = make_lvis(tmp_path, seed)
    ids = [im["id"] for im in json.loads(gt.read_text())["images"]]
    img_ids, cat_ids = sorted(ids[::2]), [1, 3, 4, 6]
    theirs = reference(gt, dt, "segm", monkeypatch, img_ids=img_ids, cat_ids=cat_ids)
    assert_same(evaluate_instance(gt, dt, img_ids=img_ids, cat_ids=cat_ids), theirs)


def test_airo_mono_coco_subset_as_lvis(tmp_path, monkeypatch):
    """A real COCO file (airo-mono's, MIT) made LVIS-style: frequencies by category id,
    each image's absent categories verified, its first category not exhaustive; detections
    are the ground truth shifted, with scores, plus a copy of each in another category."""
    src = Path(__file__).parents[1] / "data" / "airo-mono"
    found = sorted(p for p in src.rglob("*.json") if "annotations" in json.loads(p.read_text()))
    if not found:
        pytest.skip("airo-mono's COCO fixture is not in tests/data")
    data = json.loads(found[0].read_text())
    cats = [c["id"] for c in data["categories"]]
    for c in data["categories"]:
        c["frequency"] = FREQUENCY_OF[c["id"] % 3]
    rng = np.random.default_rng(0)
    dets = []
    for im in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        present = sorted({a["category_id"] for a in anns})
        im["neg_category_ids"] = [c for c in cats if c not in present]
        im["not_exhaustive_category_ids"] = present[:1]
        for a in anns:
            a.pop("iscrowd", None)
            r = mask_utils.frPyObjects(a["segmentation"], im["height"], im["width"])
            m = mask_utils.decode(mask_utils.merge(r) if isinstance(r, list) else r).astype(bool)
            m = np.roll(m, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1))
            dets.append({"image_id": im["id"], "category_id": a["category_id"], "segmentation": rle(m)})
            dets[-1]["score"] = float(rng.random())
            other = cats[(cats.index(a["category_id"]) + 1) % len(cats)]
            dets.append({**dets[-1], "category_id": other, "score": float(rng.random())})
    gt = write_json(tmp_path / "airo_lvis.json", data)
    dt = write_json(tmp_path / "airo_dt.json", dets)
    theirs = reference(gt, dt, "segm", monkeypatch)
    assert 0 < theirs.results["AP"] < 1
    assert_same(evaluate_instance(gt, dt), theirs)


FREQUENCY_OF = ("r", "c", "f")
