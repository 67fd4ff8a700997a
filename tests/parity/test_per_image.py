"""Per-image rows and slices against the reference tools run on one image, or one slice, alone.

* panoptic: panopticapi's ``pq_compute_single_core`` + ``pq_average`` (what ``pq_compute``
  returns under ``All``) on a one-image JSON per image, and on a JSON of each slice's images;
* instance: pycocotools' COCOeval with ``params.imgIds = [id]``: TP/FP/FN at IoU 0.5 counted
  from its ``evalImgs`` (area ``all``, maxDets 100), AP = ``stats[0]`` (IoU .50:.95, area
  all, maxDets 100; -1 there is ``None`` here); slices: COCOeval with ``imgIds`` = the slice.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from segtool import evaluate_instance, evaluate_panoptic
from tests.conftest import CATEGORIES, panoptic_segments, rle, write_json, write_panoptic

THINGS, STUFF = [1, 2, 7], [100, 200]


def random_image(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, dict[int, int], set[int]]:
    """Stuff bands, thing rectangles (some crowd), scattered void."""
    ids = np.zeros((h, w), np.int64)
    cats: dict[int, int] = {}
    top = int(rng.integers(0, h))
    ids[top:] = 1
    cats[1] = int(rng.choice(STUFF))
    for nid in range(2, 2 + int(rng.integers(1, 6))):
        y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        ids[y : y + int(rng.integers(2, h // 2)), x : x + int(rng.integers(2, w // 2))] = nid
        cats[nid] = int(rng.choice(THINGS))
    ids[rng.random((h, w)) < 0.04] = 0
    present = set(np.unique(ids).tolist()) - {0}
    crowd = {i for i in present if cats[i] in THINGS and rng.random() < 0.25}
    return ids, {i: cats[i] for i in present}, crowd


def predicted(rng: np.random.Generator, gt: np.ndarray, cats: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """Shifted ground truth, some segments relabelled or erased, an extra blob."""
    pred = np.roll(gt, (int(rng.integers(0, 3)), int(rng.integers(0, 3))), axis=(0, 1)) * 5 + 3
    pred[pred == 3] = 0
    pcats = {sid * 5 + 3: c for sid, c in cats.items()}
    for sid in list(pcats):
        r = rng.random()
        if r < 0.2:
            pcats[sid] = int(rng.choice(THINGS + STUFF))
        elif r < 0.3:
            pred[pred == sid] = 0
    y, x = int(rng.integers(0, gt.shape[0] - 3)), int(rng.integers(0, gt.shape[1] - 3))
    pred[y : y + 3, x : x + 3] = 999
    pcats[999] = int(rng.choice(THINGS))
    present = set(np.unique(pred).tolist()) - {0}
    return pred, {i: pcats[i] for i in present}


def panoptic_case(tmp_path: Path, seed: int) -> tuple[Path, Path, int]:
    """Five to eight images; image 2's prediction has no segment at all."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    n = int(rng.integers(5, 9))
    for k in range(1, n + 1):
        gt, cats, crowd = random_image(rng, int(rng.integers(10, 30)), int(rng.integers(10, 30)))
        pred, pcats = (np.zeros_like(gt), {}) if k == 2 else predicted(rng, gt, cats)
        gts.append((gt, panoptic_segments(gt, cats, crowd)))
        preds.append((pred, panoptic_segments(pred, pcats)))
    cats_all = [*CATEGORIES, {"id": 300, "name": "never", "isthing": 0, "color": [1, 2, 3]}]
    g = write_panoptic(tmp_path / "gt.json", [a for a, _ in gts], [s for _, s in gts], cats_all)
    p = write_panoptic(tmp_path / "pred.json", [a for a, _ in preds], [s for _, s in preds], cats_all)
    return g, p, n


def panopticapi_all(gt: Path, pred: Path, image_ids: list[int]) -> dict:
    """panopticapi on the images ``image_ids`` alone: ``All``'s pq/sq/rq/n (None where it
    divides by zero) and TP/FP/FN summed over categories."""
    from panopticapi.evaluation import pq_compute_single_core

    gt_json, pred_json = json.loads(gt.read_text()), json.loads(pred.read_text())
    preds = {a["image_id"]: a for a in pred_json["annotations"]}
    pairs = [(a, preds[a["image_id"]]) for a in gt_json["annotations"] if a["image_id"] in image_ids]
    cats = {c["id"]: c for c in gt_json["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        stat = pq_compute_single_core(0, pairs, str(gt.with_suffix("")), str(pred.with_suffix("")), cats)
        try:
            avg, _ = stat.pq_average(cats, isthing=None)
        except ZeroDivisionError:
            avg = {"pq": None, "sq": None, "rq": None, "n": 0}
    counts = [sum(getattr(s, k) for s in stat.pq_per_cat.values()) for k in ("tp", "fp", "fn")]
    return {**avg, **dict(zip(("tp", "fp", "fn"), counts, strict=True))}


@pytest.mark.parametrize("seed", range(12))
def test_panoptic_rows_equal_panopticapi_on_each_image_alone(tmp_path, seed):
    gt, pred, n = panoptic_case(tmp_path, seed)
    rows = evaluate_panoptic(gt, pred, per_image=True).per_image
    assert rows is not None and [r["image_id"] for r in rows] == list(range(1, n + 1))
    for row in rows:
        ref = panopticapi_all(gt, pred, [row["image_id"]])
        assert (row["tp"], row["fp"], row["fn"]) == (ref["tp"], ref["fp"], ref["fn"]), row
        for key in ("pq", "sq", "rq"):
            assert row[key] == ref[key], (row, ref)  # the same sums in the same order: equal doubles
    empty = rows[1]  # no predicted segment: every non-crowd segment missed, PQ 0
    assert empty["tp"] == empty["fp"] == 0 and empty["fn"] > 0 and empty["pq"] == 0.0


def test_panoptic_crowd_and_void_on_one_image_by_hand(tmp_path):
    """Road (5) with a crowd person (6) and a void pixel; the prediction finds the road and
    a person on the crowd region (ignored, not a false positive) and a stray car (FP)."""
    gt = np.array([[5, 5, 5, 5], [5, 5, 6, 6], [5, 0, 6, 6]])
    pred = np.array([[8, 8, 8, 8], [8, 8, 9, 9], [8, 8, 9, 7]])
    g = write_panoptic(tmp_path / "gt.json", [gt], [panoptic_segments(gt, {5: 100, 6: 1}, crowd={6})])
    p = write_panoptic(tmp_path / "pred.json", [pred], [panoptic_segments(pred, {8: 100, 9: 1, 7: 2})])
    (row,) = evaluate_panoptic(g, p, per_image=True).per_image or []
    # road: gt 7 px (area 7), pred 8 px of which 1 on void: IoU 7 / (8 + 7 - 7 - 1) = 1; car FP
    assert (row["tp"], row["fp"], row["fn"]) == (1, 1, 0)
    assert row["pq"] == pytest.approx((1.0 + 0.0) / 2) and row["rq"] == pytest.approx((1 + 0) / 2)
    assert row == {**row, **{k: v for k, v in panopticapi_all(g, p, [1]).items() if k != "n"}}


@pytest.mark.parametrize("seed", range(6))
def test_panoptic_slices_equal_panopticapi_on_the_slice_alone(tmp_path, seed):
    gt, pred, n = panoptic_case(tmp_path, seed)
    slices = {"odd": list(range(1, n + 1, 2)), "with_empty": [2, 3], "one": [n]}
    result = evaluate_panoptic(gt, pred, slices=slices)
    assert result.slices is not None and list(result.slices) == list(slices)
    for name, ids in slices.items():
        part = result.slices[name]
        ref = panopticapi_all(gt, pred, ids)
        ours = part.average(None)[0]
        assert part.images == len(ids)
        assert ours["n"] == ref["n"]
        assert [ours[k] for k in ("pq", "sq", "rq")] == pytest.approx([ref[k] for k in ("pq", "sq", "rq")], abs=1e-12)
        assert (int(part.stat.tp.sum()), int(part.stat.fp.sum()), int(part.stat.fn.sum())) == (
            ref["tp"],
            ref["fp"],
            ref["fn"],
        )


# ---------------------------------------------------------------- instance, against COCOeval


def instance_case(tmp_path: Path, seed: int) -> tuple[Path, Path, list[int]]:
    """Images 3, 6, 9, ...: crowd, three sizes, one image (6) with no detection, one (9 when
    there) without ground truth; detections jittered, relabelled, or false."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    n = int(rng.integers(4, 7))
    for k in range(1, n + 1):
        iid, h, w = 3 * k, int(rng.integers(40, 120)), int(rng.integers(40, 120))
        images.append({"id": iid, "file_name": f"{k}.jpg", "height": h, "width": w})
        for _ in range(0 if k == 3 else int(rng.integers(1, 8))):
            m = np.zeros((h, w), bool)
            y, x, s = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4)), int(rng.choice([4, 14, 40]))
            m[y : y + s, x : x + s + 1] = True
            cat = int(rng.choice([1, 2, 7]))
            crowd = int(k != 2 and rng.random() < 0.15)  # image 6: every object counts
            gts.append(
                {"id": len(gts) + 1, "image_id": iid, "category_id": cat, "segmentation": rle(m), "iscrowd": crowd}
            )
            gts[-1].update(area=int(m.sum()), bbox=[x, y, int(m[y].sum()), int(m[:, x].sum())])
            if k == 2 or rng.random() < 0.15:
                continue  # missed (image 2 has no detection at all)
            d = np.roll(m, (int(rng.integers(0, 3)), int(rng.integers(0, 3))), axis=(0, 1))
            c = cat if rng.random() < 0.85 else int(rng.choice([1, 2, 7]))
            dets.append({"image_id": iid, "category_id": c, "segmentation": rle(d), "score": float(rng.random())})
        if k != 2 and rng.random() < 0.7:
            m = np.zeros((h, w), bool)
            m[:5, :6] = True
            dets.append({"image_id": iid, "category_id": 2, "segmentation": rle(m), "score": float(rng.random())})
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 7, 100)]
    g = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": cats})
    return g, write_json(tmp_path / "dt.json", dets), [im["id"] for im in images]


def cocoeval_on(gt: Path, dt: Path, img_ids: list[int]) -> object:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), "segm")
        e.params.imgIds = img_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def coco_counts(e: object) -> tuple[int, int, int]:
    """TP/FP/FN at IoU 0.5, area all, maxDets 100, from COCOeval's evalImgs."""
    tp = fp = fn = 0
    for ev in e.evalImgs:  # type: ignore[attr-defined]
        if ev is None or ev["aRng"] != [0, 1e10]:
            continue
        matched, ignored = np.asarray(ev["dtMatches"])[0] > 0, np.asarray(ev["dtIgnore"])[0].astype(bool)
        tp += int((matched & ~ignored).sum())
        fp += int((~matched & ~ignored).sum())
        fn += int((~np.asarray(ev["gtIgnore"]).astype(bool)).sum()) - int((matched & ~ignored).sum())
    return tp, fp, fn


@pytest.mark.parametrize("seed", range(10))
def test_instance_rows_equal_cocoeval_on_each_image_alone(tmp_path, seed):
    gt, dt, ids = instance_case(tmp_path, seed)
    rows = evaluate_instance(gt, dt, per_image=True).per_image
    assert rows is not None and [r["image_id"] for r in rows] == ids  # image 6, without detections, too
    for row in rows:
        e = cocoeval_on(gt, dt, [row["image_id"]])
        assert (row["tp"], row["fp"], row["fn"]) == coco_counts(e), row
        ap = float(e.stats[0])  # type: ignore[attr-defined]
        assert row["AP"] == (None if ap == -1 else pytest.approx(ap, abs=1e-12)), row
    assert rows[1]["tp"] == rows[1]["fp"] == 0 and rows[1]["fn"] > 0 and rows[1]["AP"] == 0.0
    assert rows[2]["AP"] is None and rows[2]["fn"] == 0  # no ground truth: COCOeval's -1


@pytest.mark.parametrize("seed", range(6))
def test_instance_slices_equal_cocoeval_with_the_slices_img_ids(tmp_path, seed):
    gt, dt, ids = instance_case(tmp_path, seed)
    slices = {"first": ids[:2], "rest": ids[2:], "mixed": [ids[-1], ids[1]]}
    result = evaluate_instance(gt, dt, slices=slices)
    assert result.slices is not None
    for name, sub in slices.items():
        e = cocoeval_on(gt, dt, sub)
        assert result.slices[name].images == len(sub)
        assert result.slices[name].stats == pytest.approx(e.stats, abs=1e-12), name  # type: ignore[attr-defined]
    assert result.stats == pytest.approx(cocoeval_on(gt, dt, ids).stats, abs=1e-12)  # type: ignore[attr-defined]


def cocoeval_subset(gt: Path, dt: Path, img_ids: list[int], cat_ids: list[int] | None, use_cats: bool) -> object:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), "segm")
        e.params.imgIds = img_ids
        if cat_ids is not None:
            e.params.catIds = cat_ids
        e.params.useCats = int(use_cats)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


@pytest.mark.parametrize(("cat_ids", "agnostic"), [([1, 7], False), (None, True)])
@pytest.mark.parametrize("seed", range(4))
def test_instance_rows_of_a_subset_equal_cocoeval_with_cat_ids_or_use_cats_0(tmp_path, seed, cat_ids, agnostic):
    gt, dt, ids = instance_case(tmp_path, seed)
    rows = evaluate_instance(gt, dt, per_image=True, cat_ids=cat_ids, class_agnostic=agnostic).per_image or []
    assert [r["image_id"] for r in rows] == ids
    for row in rows:
        e = cocoeval_subset(gt, dt, [row["image_id"]], cat_ids, not agnostic)
        assert (row["tp"], row["fp"], row["fn"]) == coco_counts(e), row
        ap = float(e.stats[0])  # type: ignore[attr-defined]
        assert row["AP"] == (None if ap == -1 else pytest.approx(ap, abs=1e-12)), row


def test_rows_add_up_to_the_totals_and_do_not_depend_on_jobs(tmp_path, monkeypatch):
    """TP/FP/FN summed over the rows are the dataset's (each image counted once, in its
    own row), and --jobs 2 gives the rows of --jobs 1, image for image."""
    from segtool import parallel

    monkeypatch.setattr(parallel, "SMALL", 0)
    gt, pred, _ = panoptic_case(tmp_path, 5)
    one = evaluate_panoptic(gt, pred, per_image=True, jobs=1)
    two = evaluate_panoptic(gt, pred, per_image=True, jobs=2, slices={"all": list(range(1, 9))[: one.images]})
    assert one.per_image == two.per_image
    for key, total in (("tp", one.stat.tp), ("fp", one.stat.fp), ("fn", one.stat.fn)):
        assert sum(r[key] for r in one.per_image or []) == int(total.sum())
    assert two.slices is not None and two.slices["all"].to_panopticapi() == one.to_panopticapi()
    g, d, _ = instance_case(tmp_path / "inst", 2)
    rows = evaluate_instance(g, d, per_image=True).per_image or []
    e = cocoeval_on(g, d, sorted(r["image_id"] for r in rows))
    assert (sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)) == coco_counts(e)
