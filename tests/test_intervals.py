"""Mask IoU from RLE intervals equals pycocotools' ``iou`` to the bit; the decode flags bad RLEs."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from segtool import intervals
from segtool.masks import bad_compressed


def random_masks(rng, k, h, w):
    out = np.zeros((h, w, k), np.uint8, order="F")
    for i in range(k):
        if rng.random() < 0.85:  # some masks stay empty
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            y1, x1 = rng.integers(y0, h + 1), rng.integers(x0, w + 1)
            out[y0:y1, x0:x1, i] = rng.random((y1 - y0, x1 - x0)) < 0.8
    return mask_utils.encode(out) if k else []


def test_iou_equals_pycocotools_bit_for_bit():
    rng = np.random.default_rng(7)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        d, g = (int(v) for v in rng.integers(0, 7, 2))
        dts, gts = random_masks(rng, d, h, w), random_masks(rng, g, h, w)
        crowd = rng.random(g) < 0.3
        ours = intervals.iou(intervals.decode(dts)[1], intervals.decode(gts)[1], crowd)
        ref = np.zeros((d, g))
        if d and g:
            ref = np.asarray(mask_utils.iou(dts, gts, [int(c) for c in crowd])).reshape(d, g)
        assert np.array_equal(ours, ref)


def test_decode_flags_bad_rles_and_keeps_the_good():
    good = random_masks(np.random.default_rng(1), 2, 6, 5)
    short = {"size": [6, 5], "counts": b"3"}  # counts add up to 3, not 30
    empty = {"size": [6, 5], "counts": b""}  # no counts at all, last in the batch
    bad, runs = intervals.decode([good[0], short, good[1], empty])
    assert bad.tolist() == [False, True, False, True]
    assert bad_compressed([good[0], short, good[1], empty]).tolist() == [False, True, False, True]
    assert runs.areas().tolist() == [int(mask_utils.area(good[0])), 0, int(mask_utils.area(good[1])), 0]
