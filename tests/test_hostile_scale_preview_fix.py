"""preview's panoptic error view from sparse pairs, and validate --fix on polygons pycocotools
must not rasterise.

Class "hangs": ``preview --pred`` matched panoptic segments through a dense (n + 1) x (m + 1)
overlap table (20,000 segments a side: 3.2 GB; 10^5: 75 GiB); now through the sparse pairs
``eval panoptic`` uses: linear, and (class "parity") the same outcome as the dense table on
random maps, whose matching the copy below keeps as the reference.

Class "guards": ``--fix`` measured RLEs with pycocotools directly; now through the guarded
``segtool.masks`` functions, and it drops the polygons validate refuses as degenerate
(points far outside the image, edges too long), so the fixed file has none left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segtool import limits, masks, rlepairs
from segtool.errors import SegtoolError
from segtool.formats import coco_instance_fix as fix_module
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_instance_fix import fix_instance
from segtool.metrics.panoptic import match
from segtool.model import Segments
from segtool.render import errors
from segtool.render.errors import Outcome, instance_outcome, panoptic_outcome
from tests.conftest import write_json


def reference_outcome(gt_index, gseg, pred_index, pseg):  # type: ignore[no-untyped-def]
    """segtool's former ``panoptic_outcome``: the dense overlap table."""
    table = masks.Runs(gt_index, len(gseg), "C").overlap(masks.Runs(pred_index, len(pseg), "C"))
    m = match(gseg, pseg, table)
    matched = np.zeros(len(pseg), bool)
    matched[m.pi] = True
    cats = np.unique(np.concatenate([gseg.category_id, pseg.category_id]))
    pos = {int(c): i for i, c in enumerate(cats.tolist())}
    tp, fp, fn, iou = (np.zeros(len(cats)) for _ in range(4))
    np.add.at(tp, [pos[int(c)] for c in gseg.category_id[m.gi]], 1)
    np.add.at(iou, [pos[int(c)] for c in gseg.category_id[m.gi]], m.iou)
    np.add.at(fp, [pos[int(c)] for c in pseg.category_id[m.pred_false]], 1)
    np.add.at(fn, [pos[int(c)] for c in gseg.category_id[m.gt_missed]], 1)
    seen = (tp + fp + fn) > 0
    pq = float(np.mean(iou[seen] / (tp[seen] + 0.5 * fp[seen] + 0.5 * fn[seen]))) if seen.any() else None
    return Outcome(m.gt_missed, matched, m.pred_false, pq)


def listed(index: np.ndarray, cats: np.ndarray, gt: bool, rng: np.random.Generator) -> tuple[np.ndarray, Segments]:
    """The segments of an index map that have pixels (a PNG's reader refuses the others),
    numbered 1.. in order: some ground truth crowd, areas from the pixels or (as a JSON
    may) not given."""
    present = np.unique(index[index > 0])
    lut = np.zeros(int(index.max()) + 1, np.int32)
    lut[present] = np.arange(1, present.size + 1)
    n = present.size
    area = np.bincount(index.ravel(), minlength=int(index.max()) + 1)[present].astype(float)
    area[rng.random(n) < 0.2] = 0  # not given: the pixels count
    crowd = rng.random(n) < (0.15 if gt else 0)
    return lut[index], Segments.build(id=np.arange(1, n + 1), category_id=cats[present - 1], iscrowd=crowd, area=area)


def random_map(rng: np.random.Generator, h: int, w: int, n: int) -> np.ndarray:
    """Up to ``n`` segments: 3 x 3 blocks, 10% noise, void."""
    index = np.kron(rng.integers(0, n + 1, size=(h // 3 + 1, w // 3 + 1)), np.ones((3, 3), np.int64))[:h, :w]
    noise = rng.random((h, w)) < 0.1
    index[noise] = rng.integers(0, n + 1, size=int(noise.sum()))
    return index


@pytest.mark.parametrize("seed", range(3))
def test_panoptic_outcome_equals_the_dense_table(seed):
    """Random maps, and predictions near the ground truth (20% of pixels changed, some
    categories too), so that segments match; three categories, crowd, void."""
    rng = np.random.default_rng(seed)
    total = np.zeros(3, np.int64)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        n = int(rng.integers(1, 12))
        cats = rng.choice([1, 2, 9], size=n)
        gt = random_map(rng, h, w, n)
        pred = gt.copy() if rng.random() < 0.6 else random_map(rng, h, w, n)
        flip = rng.random((h, w)) < 0.2
        pred[flip] = rng.integers(0, n + 1, size=int(flip.sum()))
        (gt_index, gseg), (pred_index, pseg) = listed(gt, cats, True, rng), listed(pred, cats, False, rng)
        pseg.category_id[rng.random(len(pseg)) < 0.2] = 9
        got = panoptic_outcome(gt_index, gseg, pred_index, pseg)
        want = reference_outcome(gt_index, gseg, pred_index, pseg)
        for field in ("gt_missed", "pred_matched", "pred_false"):
            assert getattr(got, field).tolist() == getattr(want, field).tolist(), field
        assert got.pq == want.pq
        total += got.counts()
    assert (total > 20).all(), total  # true positives, false positives and misses


def shifted_grid(side: int, shift: int) -> tuple[np.ndarray, Segments]:
    """side x side segments of 2 x 2 pixels (two categories); ``shift`` moves the cut."""
    k = np.arange(side * side, dtype=np.int32).reshape(side, side) + 1
    index = np.roll(np.kron(k, np.ones((2, 2), np.int32)), shift, axis=(0, 1))
    n = side * side
    return index, Segments.build(id=np.arange(1, n + 1), category_id=1 + np.arange(n) % 2, area=np.full(n, 4.0))


def test_panoptic_outcome_is_linear():
    """5,000 and 20,000 segments a side (a dense table of the larger: 3.2 GB). Each
    prediction meets 4 ground-truth segments, 1 pixel of its own (IoU 1/7): all missed."""
    times = []
    for side in (71, 142):
        (g, gseg), (p, pseg) = shifted_grid(side, 0), shifted_grid(side, 1)
        start = time.process_time()
        out = panoptic_outcome(g, gseg, p, pseg)
        times.append(time.process_time() - start)
        assert out.counts() == (0, side * side, side * side) and out.pq == 0.0
    assert times[1] < 5 and times[1] < 8 * times[0] + 0.5, times


def reference_instance_outcome(gt_rles, gseg, pred_rles, pseg, threshold=0.5):  # type: ignore[no-untyped-def]
    """segtool's former ``instance_outcome``: the (m, n) IoU matrix of every pair."""
    n, m = len(gseg), len(pseg)
    matched_gt = np.zeros(n, bool)
    pred_matched = np.zeros(m, bool)
    ignored = np.zeros(m, bool)
    if n and m:
        ious = masks.iou(pred_rles, gt_rles, gseg.iscrowd)
        score = pseg.score if pseg.score is not None else np.zeros(m)
        for p in np.argsort(-score, kind="stable").tolist():
            same = gseg.category_id == pseg.category_id[p]
            free = same & ~gseg.iscrowd & ~matched_gt & (ious[p] >= threshold)
            if free.any():
                g = int(np.argmax(np.where(free, ious[p], -1)))
                matched_gt[g] = pred_matched[p] = True
            elif (same & gseg.iscrowd & (ious[p] >= threshold)).any():
                ignored[p] = True
    return Outcome(~matched_gt & ~gseg.iscrowd, pred_matched, ~pred_matched & ~ignored)


def rectangles(rng: np.random.Generator, h: int, w: int, k: int) -> list[dict]:
    """``k`` RLEs of random rectangles (some sparse, some repeated: IoU ties)."""
    out: list[dict] = []
    for _ in range(k):
        if out and rng.random() < 0.2:
            out.append(out[int(rng.integers(len(out)))])
            continue
        m = np.zeros((h, w), np.uint8)
        y, x = rng.integers(0, h), rng.integers(0, w)
        m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = 1
        if rng.random() < 0.3:
            m &= (rng.random((h, w)) < 0.7).astype(np.uint8)
        out.append(mask_utils.encode(np.asfortranarray(m)))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_instance_outcome_equals_the_iou_matrix(seed):
    """Random rectangles, two categories, crowd ground truth, scores with ties, no scores."""
    rng = np.random.default_rng(seed)
    total = np.zeros(4, np.int64)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 16, 2))
        n, m = (int(v) for v in rng.integers(0, 10, 2))
        gt, pred = rectangles(rng, h, w, n), rectangles(rng, h, w, m)
        pred = [gt[int(rng.integers(n))] if n and rng.random() < 0.4 else r for r in pred]  # matches
        gseg = Segments.build(id=np.arange(n), category_id=rng.integers(1, 3, n), iscrowd=rng.random(n) < 0.3)
        score = None if rng.random() < 0.2 else rng.integers(0, 4, m) / 4
        pseg = Segments.build(id=np.arange(m), category_id=rng.integers(1, 3, m), score=score)
        got, want = instance_outcome(gt, gseg, pred, pseg), reference_instance_outcome(gt, gseg, pred, pseg)
        for field in ("gt_missed", "pred_matched", "pred_false"):
            assert getattr(got, field).tolist() == getattr(want, field).tolist(), field
        total += [*got.counts(), int((~got.pred_matched & ~got.pred_false).sum())]
    assert (total > 10).all(), total  # TP, FP, FN, and predictions ignored on crowd


def test_masks_shared_across_two_lists_are_the_decoded_masks():
    rng = np.random.default_rng(3)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 16, 2))
        a, b = rectangles(rng, h, w, int(rng.integers(1, 8))), rectangles(rng, h, w, int(rng.integers(1, 8)))
        da = mask_utils.decode(a).reshape(h * w, -1).astype(np.int64)
        db = mask_utils.decode(b).reshape(h * w, -1).astype(np.int64)
        inter = da.T @ db
        i, j = np.nonzero(inter)
        got = rlepairs.shared_across(a, b)
        assert got is not None and got.i.tolist() == i.tolist() and got.j.tolist() == j.tolist()
        assert got.pixels.tolist() == inter[i, j].tolist()
        assert got.area_a.tolist() == da.sum(axis=0).tolist() and got.area_b.tolist() == db.sum(axis=0).tolist()


def test_instance_outcome_with_zero_length_runs_is_pycocotools():
    """Masks with zero-length runs inside (pycocotools' IoU stops early on them): the
    outcome is the IoU matrix's, whose doubles are pycocotools'."""
    rng = np.random.default_rng(4)
    differ = 0
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(2, 10, 2))
        rles = []
        for _ in range(int(rng.integers(2, 8))):
            cuts = np.sort(rng.integers(0, h * w + 1, size=int(rng.integers(1, 8))))
            counts = np.diff(np.concatenate([[0], cuts, [h * w]])).tolist()  # zeros where cuts repeat
            rles.append(mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w))
        n = len(rles) // 2
        gt, pred = rles[:n], rles[n:]
        gseg = Segments.build(id=np.arange(n), category_id=np.ones(n), iscrowd=rng.random(n) < 0.3)
        pseg = Segments.build(id=np.arange(len(pred)), category_id=np.ones(len(pred)), score=rng.random(len(pred)))
        got, want = instance_outcome(gt, gseg, pred, pseg, 0.3), reference_instance_outcome(gt, gseg, pred, pseg, 0.3)
        for field in ("gt_missed", "pred_matched", "pred_false"):
            assert getattr(got, field).tolist() == getattr(want, field).tolist(), field
        matrix = masks.iou(pred, gt, gseg.iscrowd)
        candidates = errors._candidates(gt, gseg, pred, pseg)
        assert set(candidates) >= set(np.flatnonzero((matrix > 0).any(axis=1)).tolist())
        for p, (gts, ious) in candidates.items():
            assert ious.tolist() == matrix[p, gts].tolist()
            assert set(gts.tolist()) >= set(np.flatnonzero(matrix[p] > 0).tolist())
            differ += int((ious != np.asarray([pairwise_true(pred[p], gt[g]) for g in gts.tolist()])).sum())
    assert differ > 3  # pairs where pycocotools' IoU is not the masks' (and the outcome followed it)


def pairwise_true(a: dict, b: dict) -> float:
    """The IoU of two decoded masks (not crowd)."""
    da, db = mask_utils.decode([a, b]).reshape(-1, 2).astype(np.int64).T
    inter = int((da & db).sum())
    return inter / (int(da.sum()) + int(db.sum()) - inter) if inter else 0.0


def grid_rles(side: int, shift: int) -> list[dict]:
    """side x side squares of 2 x 2 pixels, 3 apart; ``shift`` moves them down by one."""
    h = w = 3 * side + 1
    counts = []
    for i in range(side * side):
        y, x = divmod(i, side)
        start = 3 * x * h + 3 * y + shift
        counts.append({"size": [h, w], "counts": [start, 2, h - 2, 2, h * w - start - h - 2]})
    return mask_utils.frPyObjects(counts, h, w)


def test_instance_outcome_is_linear():
    """5,000 and 20,000 predictions and ground truths (an IoU matrix of the larger: 3.2 GB).
    Each prediction meets one ground truth in 2 of 6 pixels (IoU 1/3): none matched."""
    times = []
    for side in (71, 142):
        gt, pred = grid_rles(side, 0), grid_rles(side, 1)
        n = side * side
        gseg = Segments.build(id=np.arange(n), category_id=np.ones(n))
        pseg = Segments.build(id=np.arange(n), category_id=np.ones(n), score=np.linspace(0, 1, n))
        start = time.process_time()
        out = instance_outcome(gt, gseg, pred, pseg)
        times.append(time.process_time() - start)
        assert out.counts() == (0, n, n)
    assert times[1] < 10 and times[1] < 8 * times[0] + 0.5, times


def test_instance_outcome_refuses_a_deep_pile(monkeypatch):
    """Past the work bound, one line (SegtoolError, exit 2), not 80 GB."""
    monkeypatch.setattr(rlepairs, "PAIR_WORK", 10)
    full = [mask_utils.encode(np.ones((4, 4), np.uint8, order="F"))] * 5
    segs = Segments.build(id=np.arange(5), category_id=np.ones(5))
    with pytest.raises(SegtoolError, match="pile up: more than 10 pairs"):
        instance_outcome(full, segs, full, segs)


# --- validate --fix: polygons validate refuses are dropped --------------------------------------

IMAGE = {"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}
SQUARE = [1, 1, 5, 1, 5, 5, 1, 5]  # shoelace area 16, extent [1, 1, 4, 4]


def zigzag(teeth: int) -> list[float]:
    """A polygon inside the 10 x 10 image whose edges run 20 px per tooth (x 0 <-> 10)."""
    pts = [v for t in range(teeth) for v in (0.0, t * 9 / teeth, 10.0, (t + 0.5) * 9 / teeth)]
    return [*pts, 0.0, 9.5]


def fixed(tmp_path: Path, segms: list[list[list[float]]], image: dict = IMAGE) -> tuple[dict, list]:
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": 1, "segmentation": s, "iscrowd": 0} for i, s in enumerate(segms)
    ]
    src = write_json(
        tmp_path / "i.json", {"images": [image], "annotations": anns, "categories": [{"id": 1, "name": "a"}]}
    )
    summary = fix_instance(src, tmp_path / "fixed.json", overwrite=True)
    out = {a["id"]: a for a in json.loads((tmp_path / "fixed.json").read_text())["annotations"]}
    return out, [(c.code, c.segment_id, c.action, c.detail) for c in summary.changes if c.code == "degenerate-polygon"]


def test_fix_drops_polygons_validate_refuses(tmp_path):
    """A polygon reaching x = 25 in a 10-wide image (validate: more than one image size
    beyond it); edges of 3,000 px (64 perimeters of a 10 x 10 image: 2,560); two of 1,500
    px, fine alone, too long together. Each well-formed square next to them is kept."""
    far = [1, 1, 25, 1, 25, 5, 1, 5]
    assert masks.polygon_problem([zigzag(150)], 10, 10) and not masks.polygon_problem([zigzag(75)], 10, 10)
    out, changes = fixed(tmp_path, [[SQUARE, far], [zigzag(150), SQUARE], [zigzag(75), zigzag(75)]])
    assert out[1]["segmentation"] == [SQUARE] and out[1]["area"] == 16.0 and out[1]["bbox"] == [1.0, 1.0, 4.0, 4.0]
    assert out[2]["segmentation"] == [SQUARE]
    assert 3 not in out
    assert changes == [
        ("degenerate-polygon", 1, "dropped degenerate polygons", "1 of 2"),
        ("degenerate-polygon", 2, "dropped degenerate polygons", "1 of 2"),
        ("degenerate-polygon", 3, "dropped degenerate polygons", "2 of 2"),
        ("degenerate-polygon", 3, "removed the annotation (no usable polygon)", ""),
    ]
    found = {f.code for f in validate_instance(tmp_path / "fixed.json").findings}
    assert not found & {"degenerate-polygon", "mask-outside"}, found
    before = {(f.code, f.segment_id) for f in validate_instance(tmp_path / "i.json").findings}
    assert {("degenerate-polygon", k) for k in (1, 2, 3)} <= before  # what validate refused


def test_fix_leaves_polygons_of_an_image_over_the_pixels_limit(tmp_path):
    """The polygons are not at fault; their area and box need no rasterising."""
    with limits.raised(pixels=50):
        out, changes = fixed(tmp_path, [[SQUARE]])
    assert changes == [] and out[1]["area"] == 16.0 and out[1]["bbox"] == [1.0, 1.0, 4.0, 4.0]


def test_fix_reaches_pycocotools_only_through_masks():
    assert (
        "import pycocotools" not in (text := Path(fix_module.__file__).read_text()) and "from pycocotools" not in text
    )
