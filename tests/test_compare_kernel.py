"""compare's AP bootstrap kernel, ``coco_bootstrap`` (segtool/_kernels.c and its twin
segtool/_purekernels/bootstrap.py): C and twin equal to the bit on generated categories
(ties in score, zero-weight images, samples without ground truth, crowd/ignored
detections), both equal to pycocotools' accumulate run on each sample's expanded
detection list, one case by hand, every argument wrong once.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segtool import _purekernels as twin
from tests.test_kernels_twin import SETTINGS, both, needs_c

REC = np.linspace(0.0, 1.00, 101)


def _expanded_sums(weights, image, tp, ignored, npig, rec):
    """The reference for coco_bootstrap: per sample, every detection repeated as often as its
    image is drawn (copies adjacent, in the given order), then pycocotools' accumulate on the
    plain list (cumulative TP / FP, precision made non-increasing, searchsorted 'left' per
    recall threshold, 0 past the end), summed over the recall thresholds."""
    n_t = tp.shape[0]
    out = np.zeros((weights.shape[1], n_t))
    for b in range(weights.shape[1]):
        reps = weights[image, b].astype(np.int64)
        for t in range(n_t):
            keep = np.repeat(~ignored[t].astype(bool), reps)
            hit = np.repeat(tp[t].astype(bool), reps)[keep]
            tps, fps = np.cumsum(hit).astype(float), np.cumsum(~hit).astype(float)
            if npig[b] <= 0:
                continue
            rc, pr = tps / npig[b], tps / (fps + tps + np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1] if pr.size else pr
            at = np.searchsorted(rc, rec, side="left")
            out[b, t] = np.where(at < pr.size, pr[np.minimum(at, max(pr.size - 1, 0))] if pr.size else 0.0, 0.0).sum()
    return out


def _bootstrap_case(rng, n_img, n_s, n_t, n_d):
    weights = rng.choice(np.array([0, 0, 1, 1, 2, 3], np.uint32), (n_img, n_s))  # a third of the images not drawn
    image = rng.integers(0, max(n_img, 1), n_d).astype(np.int64) if n_img else np.zeros(0, np.int64)
    tp = (rng.random((n_t, n_d)) < 0.6).astype(np.uint8)
    tp[1:] &= tp[:-1]  # a TP at a strict threshold is one at every looser one, as COCOeval's
    ignored = np.repeat((rng.random(n_d) < 0.15)[None, :], n_t, axis=0).astype(np.uint8)  # crowd / out of range
    npig = rng.integers(-1, 6, n_s).astype(np.int64)  # samples without ground truth of the category
    return weights, image, tp, ignored, npig


@needs_c
@SETTINGS
@given(st.integers(0, 6), st.integers(0, 19), st.integers(1, 4), st.integers(0, 25), st.data())
def test_coco_bootstrap_equals_c_and_expanded_accumulate(n_img, n_s, n_t, n_d, data):
    """Generated categories: images drawn 0 to 3 times (zero weights), ignored detections
    (crowd), samples without ground truth (npig <= 0: their rows untouched, NaN included),
    detections of one image adjacent or not; the C kernel and the twin agree to the bit,
    and both equal pycocotools' accumulate run on each sample's expanded detection list to
    1e-12 (another summation order). More TPs than ground truth: rec_thrs past 1 reached."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weights, image, tp, ignored, npig = _bootstrap_case(rng, n_img, n_s, n_t, n_d if n_img else 0)
    rec = data.draw(st.sampled_from([REC, np.array([0.0, 0.0, 0.5, 2.0]), np.zeros(0), np.array([-np.inf, np.inf])]))
    start = rng.choice(np.array([0.0, -0.0, 1.5, np.nan]), (n_s, n_t))
    both("coco_bootstrap", weights, image, tp, ignored, npig, rec, start.copy())
    got = start.copy()
    twin.coco_bootstrap(weights, image, tp, ignored, npig, rec, got)
    want = _expanded_sums(weights, image, tp, ignored, npig, rec)
    has = npig > 0
    assert np.array_equal(got[~has], start[~has], equal_nan=True)
    assert got[has] == pytest.approx(start[has] + want[has], abs=1e-12, nan_ok=True)


@needs_c
def test_coco_bootstrap_by_hand_and_errors_equal_c():
    """Image 0 drawn twice, image 2 once, image 1 not: detections TP (0), FP (2), TP (0), FP
    (1, not drawn) over 4 ground truth are, expanded, TP TP FP TP TP; by hand: precision 1 up
    to recall .5 (51 recall thresholds), then 3/4 at .75 and 4/5 at 1, made 4/5 from the
    right (50 thresholds): 51 + 50 * 0.8. Then each argument wrong once."""
    weights = np.array([[2], [0], [1]], np.uint32)  # images 0, 1, 2; one sample
    image = np.array([0, 2, 0, 1], np.int64)
    tp = np.array([[1, 0, 1, 0]], np.uint8)
    ignored = np.zeros((1, 4), np.uint8)
    sums = np.zeros((1, 1))
    both("coco_bootstrap", weights, image, tp, ignored, np.array([4], np.int64), REC, sums)
    twin.coco_bootstrap(weights, image, tp, ignored, np.array([4], np.int64), REC, sums)
    assert sums[0, 0] == pytest.approx(51 + 50 * 0.8, abs=1e-12)
    good = [weights, image, tp, ignored, np.array([4], np.int64), REC, np.zeros((1, 1))]
    for i, wrong in [
        (0, np.zeros(4, np.uint32)),
        (1, np.array([0, 1, 3, 0], np.int64)),  # an image past the weights
        (1, np.array([0, -1, 0, 2], np.int64)),
        (2, np.zeros((1, 3), np.uint8)),
        (3, np.zeros((2, 4), np.uint8)),
        (5, np.array([0.0, 0.5, 0.25])),  # not ascending
        (5, np.array([0.0, np.nan])),
        (6, np.zeros((1, 2))),
        (4, np.array([4, 4], np.int64)),
    ]:
        both("coco_bootstrap", *good[:i], wrong, *good[i + 1 :])
    both("coco_bootstrap", *[np.zeros(0, a.dtype) for a in good])
    no_samples = [np.zeros(0, np.uint32), image, np.zeros((2, 4), np.uint8), np.zeros((2, 4), np.uint8)]
    both("coco_bootstrap", *no_samples, np.zeros(0, np.int64), REC, np.zeros(0))  # nothing read, nothing written
    both(
        "coco_bootstrap",
        *no_samples[:2],
        np.zeros(7, np.uint8),
        np.zeros(7, np.uint8),
        np.zeros(0, np.int64),
        REC,
        np.zeros(0),
    )


@needs_c
def test_coco_bootstrap_huge_weights_equal_c():
    """Weights near 2^32: sums past 2^31 (the twin's int64 path) and, over 2^20 detections of
    one image, past 2^52 (the C loop's cast path instead of the exact bit trick): still the
    twin's doubles to the bit, and a sum of precisions within [0, 101]."""
    big = np.uint32(2**32 - 1)
    weights = np.array([[big, 7], [1, big]], np.uint32)
    image = np.array([0, 1, 0, 1, 1, 0], np.int64)
    tp = np.array([[1, 0, 1, 1, 0, 1], [1, 0, 0, 1, 0, 0]], np.uint8)
    ignored = np.array([[0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0]], np.uint8)
    npig = np.array([2**33, 3], np.int64)
    sums = np.zeros((2, 2))
    both("coco_bootstrap", weights, image, tp, ignored, npig, REC, sums)
    n_d = 2**20 + 2
    image = np.zeros(n_d, np.int64)
    tp = np.zeros((1, n_d), np.uint8)
    tp[0, [0, 5, n_d // 2, n_d - 1]] = 1
    got = both(
        "coco_bootstrap",
        np.array([[big]], np.uint32),
        image,
        tp,
        np.zeros((1, n_d), np.uint8),
        np.array([4], np.int64),
        REC,
        np.zeros((1, 1)),
    )
    assert got is None
    sums = np.zeros((1, 1))
    twin.coco_bootstrap(
        np.array([[big]], np.uint32), image, tp, np.zeros((1, n_d), np.uint8), np.array([4], np.int64), REC, sums
    )
    assert 0.0 < sums[0, 0] <= 101.0
