"""Boundary IoU, Boundary PQ and the semantic Boundary IoU (docs/metrics/boundary.md).

Expected values are worked out by hand on tiny maps (a 6x6 square in a 12x12 image, where
0.02 of the diagonal rounds to the minimum, 1 pixel), and, on larger random maps, come
from a straightforward numpy implementation of the paper's definitions written here
(erosion as ``d`` 3x3 steps of the zero-padded mask, as boundary-iou-api's
``mask_to_boundary``; boundary-iou-api's ``pq_compute`` logic pixel by pixel).
Boundary AP against faster-coco-eval: tests/parity/test_boundary.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segtool import evaluate_panoptic, evaluate_semantic
from segtool.cli import main
from segtool.metrics.boundary import boundary, dilation, rle_crop
from tests.conftest import panoptic_segments, rle, write_instances, write_panoptic

THING, STUFF = 1, 200


def ref_boundary(mask: np.ndarray, d: int) -> np.ndarray:
    """The paper's boundary region: the mask minus its erosion, the outside of the image
    background; the erosion as d steps of a 3x3 minimum over the zero-padded mask."""
    m = np.pad(mask.astype(bool), 1)
    for _ in range(d):
        e = np.ones_like(m)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                e &= np.roll(m, (dy, dx), axis=(0, 1))
        e[0, :] = e[-1, :] = e[:, 0] = e[:, -1] = False  # the pad stays background
        m = e
    return mask.astype(bool) & ~m[1:-1, 1:-1]


def square(h: int, w: int, y0: int, x0: int, size_y: int, size_x: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0 : y0 + size_y, x0 : x0 + size_x] = True
    return m


# --- the boundary region --------------------------------------------------------------


def test_dilation_rounding():
    assert dilation(480, 640, 0.02) == 16  # 0.02 x 800
    assert dilation(12, 12, 0.02) == 1  # 0.34 rounds to 0: at least one pixel
    # 0.02 x 75 = 1.5: boundary-iou-api's round() gives 2, faster-coco-eval's C++ 1
    assert dilation(45, 60, 0.02) == 2
    assert dilation(45, 60, 0.02, half_down=True) == 1
    assert dilation(45, 60, 0.03, half_down=True) == dilation(45, 60, 0.03) == 2  # 2.25


def test_boundary_of_a_6x6_square_by_hand():
    inner = square(12, 12, 3, 3, 6, 6)
    b = boundary(inner, 1)
    assert b.sum() == 36 - 16  # the 4x4 core is eroded away
    assert not b[4:8, 4:8].any() and b[3, 3:9].all() and b[3:9, 8].all()
    corner = square(12, 12, 0, 0, 6, 6)  # cut by the image border: a boundary there too
    assert boundary(corner, 1).sum() == 20
    assert boundary(inner, 2).sum() == 36 - 4  # a 2x2 core left
    assert boundary(inner, 3).sum() == 36  # no core: all boundary
    line = square(12, 12, 5, 1, 1, 10)  # one pixel wide: all boundary
    assert (boundary(line, 1) == line).all()


@settings(max_examples=80, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 30), st.integers(1, 30))), st.integers(1, 6))
def test_boundary_equals_the_iterated_3x3_erosion(mask, d):
    assert (boundary(mask, d) == ref_boundary(mask, d)).all()


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 25), st.integers(1, 25))), st.integers(1, 4))
def test_boundary_of_an_rle_within_its_box(mask, d):
    crop = rle_crop(rle(mask), d)
    full = np.zeros(mask.shape, bool)
    full[crop.y0 : crop.y0 + crop.pixels.shape[0], crop.x0 : crop.x0 + crop.pixels.shape[1]] = crop.pixels
    assert (full == ref_boundary(mask, d)).all()
    assert crop.count == ref_boundary(mask, d).sum()


# --- Boundary PQ by hand ----------------------------------------------------------------
# A 12x12 image, d = 1. Ground truth: a 6x6 thing (rows 3-8, cols 3-8) in stuff. Each
# square's boundary is its 20-pixel ring; the stuff's is the image's outer ring (44) plus
# the 28 pixels around the hole.


def panoptic_pair(tmp_path: Path, gt_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[Path, Path]:
    cats = {1: THING, 2: STUFF, 11: THING, 12: STUFF}
    gt = write_panoptic(tmp_path / "gt.json", [gt_ids], [panoptic_segments(gt_ids, cats)])
    pred = write_panoptic(tmp_path / "pred.json", [pred_ids], [panoptic_segments(pred_ids, cats)])
    return gt, pred


def scene(thing: np.ndarray, stuff: bool = True, offset: int = 0) -> np.ndarray:
    ids = np.where(thing, 1 + offset, 2 + offset if stuff else 0)
    return ids.astype(np.int64)


def test_boundary_pq_shifted_square_by_hand(tmp_path):
    """The prediction's square is shifted one column right. Thing: mask IoU 30/42, but the
    rings share 10 pixels of 30: boundary IoU 1/3 < 0.5, no match. Stuff: mask IoU
    102/114; boundaries 72 each sharing the outer ring (44) and the hole's top and bottom
    rows (2 x 7): 58/86, matched with that IoU."""
    gt_ids = scene(square(12, 12, 3, 3, 6, 6))
    pred_ids = scene(square(12, 12, 3, 4, 6, 6), offset=10)
    gt, pred = panoptic_pair(tmp_path, gt_ids, pred_ids)
    plain = evaluate_panoptic(gt, pred).to_dict()
    assert plain["per_class"][THING]["sq"] == pytest.approx(30 / 42, abs=1e-12)
    data = evaluate_panoptic(gt, pred, boundary=True).to_dict()
    th, st_ = data["per_class"][THING], data["per_class"][STUFF]
    assert (th["tp"], th["fp"], th["fn"], th["pq"]) == (0, 1, 1, 0.0)
    assert (st_["tp"], st_["fp"], st_["fn"]) == (1, 0, 0)
    assert st_["sq"] == pytest.approx(58 / 86, abs=1e-12)
    assert data["All"]["pq"] == pytest.approx((0 + 58 / 86) / 2, abs=1e-12)
    assert data["boundary_dilation_ratio"] == 0.02


def test_boundary_pq_leaves_void_out_of_the_union(tmp_path):
    """No stuff: the ground truth is the 6x6 square on void; the prediction is 6x7 (one
    more column, on void). Mask IoU 36 / (42 + 36 - 36 - 6) = 1. Rings of 20 and 22
    share 16; the predicted ring's 6 pixels on void leave the union: 16/20 (16/26 if
    they stayed)."""
    gt_ids = scene(square(12, 12, 3, 3, 6, 6), stuff=False)
    pred_ids = scene(square(12, 12, 3, 3, 6, 7), stuff=False, offset=10)
    gt, pred = panoptic_pair(tmp_path, gt_ids, pred_ids)
    data = evaluate_panoptic(gt, pred, boundary=True).to_dict()
    assert data["per_class"][THING]["sq"] == pytest.approx(16 / 20, abs=1e-12)
    assert data["All"]["pq"] == pytest.approx(0.8, abs=1e-12)
    assert evaluate_panoptic(gt, pred).to_dict()["All"]["pq"] == 1.0


def test_boundary_pq_wider_dilation_by_hand(tmp_path):
    """The same pair with d = 3 (0.18 x 16.97 = 3.05): every pixel of a 6x6 or 6x7
    segment is boundary, so boundary IoU = mask IoU: PQ 1."""
    gt_ids = scene(square(12, 12, 3, 3, 6, 6), stuff=False)
    pred_ids = scene(square(12, 12, 3, 3, 6, 7), stuff=False, offset=10)
    gt, pred = panoptic_pair(tmp_path, gt_ids, pred_ids)
    assert evaluate_panoptic(gt, pred, boundary=True, dilation_ratio=0.18).to_dict()["All"]["pq"] == 1.0


# --- Boundary PQ against the paper's definition, written out ------------------------------


def ref_boundary_pq(gt_ids, gt_segs, pred_ids, pred_segs, ratio):
    """Per category (tp, fp, fn, iou sum): boundary-iou-api's pq_compute_single_core for one
    image, with masks and boundaries per segment (no BOUNDARY_ID painting)."""
    h, w = gt_ids.shape
    d = max(round(ratio * math.sqrt(h * h + w * w)), 1)
    stat: dict[int, list[float]] = {}
    pred_area = {s["id"]: int((pred_ids == s["id"]).sum()) for s in pred_segs}
    gb = {s["id"]: ref_boundary(gt_ids == s["id"], d) for s in gt_segs}
    pb = {s["id"]: ref_boundary(pred_ids == s["id"], d) for s in pred_segs}
    void = gt_ids == 0
    matched_g, matched_p = set(), set()
    for g in gt_segs:
        for p in pred_segs:
            if g["iscrowd"] or g["category_id"] != p["category_id"]:
                continue
            inter = int(((gt_ids == g["id"]) & (pred_ids == p["id"])).sum())
            if inter == 0:
                continue
            iou = inter / (pred_area[p["id"]] + g["area"] - inter - int(((pred_ids == p["id"]) & void).sum()))
            b_inter = int((gb[g["id"]] & pb[p["id"]]).sum())
            b_union = int(gb[g["id"]].sum() + pb[p["id"]].sum()) - b_inter - int((pb[p["id"]] & void).sum())
            iou = min(iou, b_inter / b_union)
            if iou > 0.5:
                s = stat.setdefault(g["category_id"], [0, 0, 0, 0.0])
                s[0] += 1
                s[3] += iou
                matched_g.add(g["id"])
                matched_p.add(p["id"])
    crowd = {g["category_id"]: g["id"] for g in gt_segs if g["iscrowd"]}
    for g in gt_segs:
        if g["id"] not in matched_g and not g["iscrowd"]:
            stat.setdefault(g["category_id"], [0, 0, 0, 0.0])[2] += 1
    for p in pred_segs:
        if p["id"] in matched_p:
            continue
        ignored = int(((pred_ids == p["id"]) & void).sum())
        if p["category_id"] in crowd:
            ignored += int(((pred_ids == p["id"]) & (gt_ids == crowd[p["category_id"]])).sum())
        if ignored / pred_area[p["id"]] <= 0.5:
            stat.setdefault(p["category_id"], [0, 0, 0, 0.0])[1] += 1
    return stat


def random_panoptic(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, dict, set]:
    """Stuff bands, things painted over them (rectangles and ellipses, some thin, some cut
    by the border, one crowd), a void strip; the prediction shifted and perturbed."""
    gt = np.zeros((h, w), np.int64)
    cats, crowd = {}, set()
    cuts = np.sort(rng.choice(np.arange(1, h), 2, replace=False))
    for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, h], strict=True)):
        gt[a:b] = 50 + k
        cats[50 + k] = [100, 200][k % 2]
    yy, xx = np.mgrid[:h, :w]
    for t in range(int(rng.integers(3, 9))):
        cy, cx, ry, rx = rng.integers(0, h), rng.integers(0, w), rng.integers(1, h // 3), rng.integers(1, w // 3)
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1 if t % 2 else (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        gt[m] = 10 + t
        cats[10 + t] = [1, 2, 7][t % 3]
    if rng.random() < 0.7:
        crowd.add(10)
    gt[:, int(rng.integers(0, w)) : None : 17] = 0  # void columns
    pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    noise = rng.random((h, w)) < 0.03
    pred[noise] = np.roll(pred, 1, axis=1)[noise]
    pred = np.where(pred > 0, pred + 1000, 0)
    for sid in list(cats):
        cats[sid + 1000] = cats[sid] if rng.random() < 0.9 else [1, 2, 7][int(rng.integers(0, 3))]
        if cats[sid] in (100, 200):
            cats[sid + 1000] = cats[sid]
    return gt, pred, cats, crowd


@pytest.mark.parametrize("seed", range(4))
def test_boundary_pq_equals_the_definition_on_random_maps(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts, preds, gsegs, psegs = [], [], [], []
    for _ in range(3):
        h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        g, p, cats, crowd = random_panoptic(rng, h, w)
        gts.append(g)
        preds.append(p)
        gsegs.append(panoptic_segments(g, cats, crowd))
        psegs.append(panoptic_segments(p, cats))
    gt = write_panoptic(tmp_path / "gt.json", gts, gsegs)
    pred = write_panoptic(tmp_path / "pred.json", preds, psegs)
    ratio = [0.02, 0.05, 0.1, 0.03][seed]
    expected: dict[int, list[float]] = {}
    for g, gs, p, ps in zip(gts, gsegs, preds, psegs, strict=True):
        for c, s in ref_boundary_pq(g, gs, p, ps, ratio).items():
            e = expected.setdefault(c, [0, 0, 0, 0.0])
            for i in range(4):
                e[i] += s[i]
    result = evaluate_panoptic(gt, pred, boundary=True, dilation_ratio=ratio, jobs=1 + seed % 2)
    per = result.to_dict()["per_class"]
    for c, (tp, fp, fn, iou) in expected.items():
        assert (per[c]["tp"], per[c]["fp"], per[c]["fn"]) == (tp, fp, fn), c
        if tp + fp + fn:
            assert per[c]["pq"] == pytest.approx(iou / (tp + 0.5 * fp + 0.5 * fn), abs=1e-9)
    assert sum(e[0] for e in expected.values()) > 0  # something was matched
    plain = evaluate_panoptic(gt, pred).to_dict()
    assert result.to_dict()["All"]["pq"] <= plain["All"]["pq"] + 1e-12


# --- semantic Boundary IoU ------------------------------------------------------------------


def semantic_folders(tmp_path: Path, gt_maps: dict, pred_maps: dict, more: int = 0) -> tuple[Path, Path]:
    cats = [{"id": 0, "name": "background"}, {"id": 1, "name": "square"}, {"id": 2, "name": "absent"}]
    cats += [{"id": 3 + i, "name": f"c{3 + i}"} for i in range(more)]
    out = []
    for name, maps in (("gt", gt_maps), ("pred", pred_maps)):
        folder = tmp_path / name
        folder.mkdir()
        for stem, arr in maps.items():
            Image.fromarray(np.asarray(arr, np.uint8)).save(folder / f"{stem}.png")
        (folder / "categories.json").write_text(json.dumps(cats))
        out.append(folder)
    return out[0], out[1]


def test_semantic_boundary_iou_by_hand(tmp_path):
    """Class 1: the 6x6 square and the prediction's, one column right: rings of 20
    sharing 10, 10/30. Class 0, the rest: 72 boundary pixels each sharing 58 (as the
    stuff above): 58/86. With the last column ignored in the ground truth, class 0's
    region ends at column 10 there: its boundary 42 + 28 = 70, the prediction's 60 in
    the valid pixels; they share 32 of the outer ring, 14 around the holes and 8 of
    column 10: 54/76. Class 2 appears on neither side: no value, not averaged."""
    gt = square(12, 12, 3, 3, 6, 6).astype(np.uint8)
    pred = square(12, 12, 3, 4, 6, 6).astype(np.uint8)
    ignored = gt.copy()
    ignored[:, 11] = 255
    g, p = semantic_folders(tmp_path, {"a": gt, "b": ignored}, {"a": pred, "b": pred})
    data = evaluate_semantic(g, p, boundary=True).to_dict()
    per = data["per_class"]
    assert per[1]["boundary_iou"] == pytest.approx(20 / 60, abs=1e-12)  # (10 + 10) / (30 + 30)
    assert per[0]["boundary_iou"] == pytest.approx((58 + 54) / (86 + 76), abs=1e-12)
    assert per[2]["boundary_iou"] is None
    assert data["boundary_mIoU"] == pytest.approx((20 / 60 + 112 / 162) / 2, abs=1e-12)
    assert data["boundary_classes_averaged"] == 2
    one = evaluate_semantic(g, p, boundary=True).to_dict()
    assert one == data
    assert "boundary_mIoU" not in evaluate_semantic(g, p).to_dict()


def ref_semantic(gts, preds, k, ratio):
    inter, union = np.zeros(k), np.zeros(k)
    for g, p in zip(gts, preds, strict=True):
        d = max(round(ratio * math.sqrt(g.shape[0] ** 2 + g.shape[1] ** 2)), 1)
        valid = g != 255
        for c in range(k):
            gb, pb = ref_boundary(g == c, d), ref_boundary(p == c, d)
            inter[c] += (gb & pb & valid).sum()
            union[c] += ((gb | pb) & valid).sum()
    return inter, union


@pytest.mark.parametrize("seed", range(3))
def test_semantic_boundary_iou_equals_the_definition_on_random_maps(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts, preds = {}, {}
    for i in range(3):
        h, w = int(rng.integers(30, 80)), int(rng.integers(30, 80))
        g, p, cats, _ = random_panoptic(rng, h, w)
        classes = {1: 1, 2: 3, 7: 4, 100: 0, 200: 5}  # 2 stays absent
        lut = {0: 255, **{sid: classes[c] for sid, c in cats.items()}}
        gts[f"m{i}"] = np.vectorize(lut.get)(g).astype(np.uint8)
        preds[f"m{i}"] = np.vectorize(lambda v: 0 if v == 255 else v)(np.vectorize(lut.get)(p)).astype(np.uint8)
    gdir, pdir = semantic_folders(tmp_path, gts, preds, more=3)
    ratio = 0.04
    per = evaluate_semantic(gdir, pdir, boundary=True, dilation_ratio=ratio, jobs=2).to_dict()["per_class"]
    inter, union = ref_semantic(list(gts.values()), list(preds.values()), 6, ratio)
    for c in (0, 1, 3, 4, 5):
        assert per[c]["boundary_iou"] == pytest.approx(inter[c] / union[c], abs=1e-12)
    assert per[2]["boundary_iou"] is None


# --- the command line -------------------------------------------------------------------------


def test_cli_boundary_options(tmp_path, runner):
    gt_ids = scene(square(12, 12, 3, 3, 6, 6))
    gt, pred = panoptic_pair(tmp_path, gt_ids, scene(square(12, 12, 3, 4, 6, 6), offset=10))
    out = tmp_path / "out.json"
    r = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), "--boundary", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["All"]["pq"] == pytest.approx(29 / 86, abs=1e-12)
    for args in (
        ["--dilation-ratio", "0.1"],
        ["--boundary", "--dilation-ratio", "0"],
        ["--boundary", "--dilation-ratio", "nan"],
    ):
        r = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), *args])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert "dilation" in r.output


def test_cli_semantic_gate_and_instance_choice(tmp_path, runner):
    gt = square(12, 12, 3, 3, 6, 6).astype(np.uint8)
    g, p = semantic_folders(tmp_path, {"a": gt}, {"a": square(12, 12, 3, 4, 6, 6).astype(np.uint8)})
    r = runner.invoke(main, ["eval", "semantic", str(g), str(p), "--boundary", "--fail-under", "boundary_mIoU=0.6"])
    assert r.exit_code == 1 and "boundary_mIoU" in r.output  # (1/3 + 58/86) / 2 = 0.504
    r = runner.invoke(main, ["eval", "semantic", str(g), str(p), "--fail-under", "boundary_mIoU=0.1"])
    assert r.exit_code == 1 and "undefined" in r.output  # not computed without --boundary
    r = runner.invoke(main, ["eval", "instance", "--help"])
    assert "boundary" in r.output and "--dilation-ratio" in r.output


def test_cli_instance_boundary(tmp_path, runner):
    """Boundary AP through the command line: a detection equal to its ground truth scores
    1 on every threshold; a bad ratio, or a ratio without boundaries, is one line, exit 2."""
    mask = square(40, 50, 5, 5, 20, 30)
    gt = write_instances(tmp_path / "gt.json", (40, 50), [(1, mask)])
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 1, "category_id": 1, "segmentation": rle(mask), "score": 0.9}]))
    out = tmp_path / "r.json"
    r = runner.invoke(main, ["eval", "instance", str(gt), str(dets), "--iou-type", "boundary", "--json", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["iou_type"] == "boundary" and data["AP"] == pytest.approx(1.0, abs=1e-12)  # tp / (tp + eps)
    for args in (["--dilation-ratio", "0.1"], ["--iou-type", "boundary", "--dilation-ratio", "2"]):
        r = runner.invoke(main, ["eval", "instance", str(gt), str(dets), *args])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "dilation" in r.output, r.output


def test_github_headline_names_the_boundary_metric(tmp_path, runner):
    gt_ids = scene(square(12, 12, 3, 3, 6, 6))
    gt, pred = panoptic_pair(tmp_path, gt_ids, scene(square(12, 12, 3, 4, 6, 6), offset=10))
    r = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), "--boundary", "--format", "github"])
    assert r.exit_code == 0 and "Boundary PQ 0.3372" in r.output, r.output  # 29/86
    r = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), "--format", "github"])
    assert "::PQ 0.8045" in r.output, r.output  # (5/7 + 17/19) / 2
