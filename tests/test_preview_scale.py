"""preview's ``Style(scale=N)`` (the report's thumbnails, issue 14): panels drawn at 1/N of the
image's size from every N-th pixel of the index maps (nearest neighbour: a pixel shows one
segment's color, never a blend), while matching and the counts stay those of the full-size
maps. Expected colors and positions by hand from the scene's rectangles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from segtool import formats, views
from segtool.preview import GAP, Style, preview
from segtool.render.palette import FN, FP, TP
from tests.conftest import panoptic_segments, write_instances, write_panoptic
from tests.test_preview import CATS, RED, ROAD, H, W, dataset, read, scene

FLAT = Style(alpha=1.0, outline=False, labels=False)  # pure segment colors


def _prediction(tmp_path: Path) -> Path:
    pred_ids = scene()
    pred_ids[5:25, 35:55] = 10  # the person missed (predicted as road)
    pred_ids[28:34, 2:12] = 30  # a person hallucinated on the road
    pred_ids[2, 2] = 31  # and a one-pixel one that no sampled pixel shows
    segs = panoptic_segments(pred_ids, {10: 100, 30: 1, 31: 1})
    return write_panoptic(tmp_path / "pred.json", [pred_ids], [segs], CATS)


def test_scaled_panels_sample_the_middle_of_each_block(tmp_path: Path) -> None:
    gt, pred = dataset(tmp_path), _prediction(tmp_path)
    full = preview(gt, tmp_path / "full", pred=pred, style=FLAT)
    small = preview(gt, tmp_path / "small", pred=pred, style=dataclasses.replace(FLAT, scale=4))
    img = read(tmp_path / "small/img1.png")
    h, w = H // 4, W // 4  # 10 x 15: rows and columns 1, 5, 9, ... of the 40 x 60 image
    assert img.shape[1] == 3 * w + 2 * GAP
    gt_panel, errors = img[:h, :w], img[:h, 2 * (w + GAP) : 3 * w + 2 * GAP]
    # the person is rows 5-24, columns 35-54: sampled rows 5..21 (r 1..5), columns 37..53 (c 9..13)
    assert tuple(gt_panel[1, 9]) == RED and tuple(gt_panel[5, 13]) == RED
    assert tuple(gt_panel[0, 9]) == ROAD and tuple(gt_panel[6, 13]) == ROAD  # rows 1 and 25: road
    assert tuple(gt_panel[2, 8]) == ROAD  # column 33: road
    assert tuple(errors[3, 11]) == tuple(FN)  # the missed person
    assert tuple(errors[7, 1]) == tuple(FP) and tuple(errors[7, 2]) == tuple(FP)  # rows 28-33: row 29
    assert tuple(errors[0, 3]) == tuple(TP)  # road matched
    # the one-pixel hallucination (row 2, column 2) is in no sampled pixel, yet counted as at full size
    assert tuple(errors[0, 0]) == tuple(TP)
    assert small.to_dict()["images"][0]["tp_fp_fn"] == full.to_dict()["images"][0]["tp_fp_fn"] == (1, 2, 1)
    assert small.to_dict()["images"][0]["pq"] == full.to_dict()["images"][0]["pq"]


def test_scale_one_is_the_full_render(tmp_path: Path) -> None:
    gt = dataset(tmp_path)
    preview(gt, tmp_path / "a", style=Style(labels=False))
    preview(gt, tmp_path / "b", style=Style(labels=False, scale=1))
    assert (read(tmp_path / "a/img1.png") == read(tmp_path / "b/img1.png")).all()
    assert np.asarray(read(tmp_path / "a/img1.png")).shape[1] == W


def test_resolve_from_runs_equals_the_dense_stack(tmp_path: Path) -> None:
    """preview resolves instances from their runs (``views.resolve(runs=True)``, ~6x faster
    at preview's sizes): the same index map and segments as the dense stack, for every
    overlap policy, on overlapping, nested, hidden and empty masks."""
    rng = np.random.default_rng(3)
    h, w = 30, 45
    masks = []
    for k in range(12):
        m = np.zeros((h, w), bool)
        y, x = rng.integers(0, h), rng.integers(0, w)
        m[y : y + rng.integers(1, 15), x : x + rng.integers(1, 20)] = True
        masks.append((1 + k % 2, m))
    masks.append((1, masks[0][1].copy()))  # a copy of the first: hidden under some policies
    masks.append((2, np.zeros((h, w), bool)))  # empty
    scores = rng.random(len(masks)).tolist()
    ann = formats.read(write_instances(tmp_path / "i.json", (h, w), masks, scores)).samples[0].load()
    for overlap in ("first", "largest", "smallest"):
        dense, runs = views.resolve(ann, overlap), views.resolve(ann, overlap, runs=True)
        assert (np.asarray(dense.index) == np.asarray(runs.index)).all(), overlap
        assert dense.segments.id.tolist() == runs.segments.id.tolist() and dense.dropped == runs.dropped


def test_an_image_narrower_than_the_scale_keeps_a_pixel(tmp_path: Path) -> None:
    """A 1 x 3 image at scale 4: one pixel a panel (row 0, column 1: the middle of a 4 x 4
    block, within the image), not an empty panel."""
    ids = np.array([[10, 20, 10]], np.int64)
    gt = write_panoptic(tmp_path / "gt.json", [ids], [panoptic_segments(ids, {10: 100, 20: 1})], CATS)
    preview(gt, tmp_path / "o", pred=gt, style=dataclasses.replace(FLAT, scale=4))
    img = read(tmp_path / "o/img1.png")
    assert img.shape[1] == 3 + 2 * GAP and tuple(img[0, 0]) == RED  # the person's pixel (0, 1)
    assert tuple(img[0, 1 + GAP]) == RED and tuple(img[0, 2 + 2 * GAP]) == tuple(TP)
