"""rle_iou's box test (segtool/_kernels.c rle_pair_iou, issue 14): with one category for every
mask (TIDE asks for every pair so) a pair whose masks share columns but no row is 0 without
merging their runs, as pycocotools' box test makes it 0; and the merge stops at the end of the
column where the first of two masks ends. The IoUs must stay pycocotools' doubles to the bit,
in the C kernel and in its pure twin (whose Python path, for images past 2^31 pixels, tests
the rows too). Expected values: pycocotools' ``mask.iou`` and hand calculation."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from fuzz.target_rle import rle_to_string as _encode  # pycocotools' rleToString, any count size
from segtool import _purekernels as twin

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension: the twin alone is checked
    native = None  # type: ignore[assignment]

KERNELS = [k for k in (native, twin) if k is not None]


def _rect(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> npt.NDArray[np.uint8]:
    m = np.zeros((h, w), np.uint8, order="F")
    m[y0:y1, x0:x1] = 1
    return m


def _text(m: npt.NDArray[np.uint8]) -> str:
    return str(mask_utils.encode(np.asfortranarray(m))["counts"].decode())


def _ious(
    kernel: Any, dt: list[str], gt: list[str], h: int, w: int, cats: tuple[list[int], list[int]], crowd: list[int]
) -> npt.NDArray[np.float64]:
    out = np.full(len(dt) * len(gt), 9.0)
    dc, gc = (np.asarray(c, np.int64) for c in cats)
    kernel.rle_iou(dt, gt, h, w, dc, gc, np.asarray(crowd, np.uint8), out)
    return out.reshape(len(dt), len(gt))


def _expected(dt: list[str], gt: list[str], h: int, w: int, crowd: list[int]) -> npt.NDArray[np.float64]:
    size = [h, w]
    ious = mask_utils.iou([{"size": size, "counts": t} for t in dt], [{"size": size, "counts": t} for t in gt], crowd)
    return np.asarray(ious, np.float64).reshape(len(dt), len(gt))


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_masks_in_the_same_columns_and_other_rows_are_zero(kernel: Any) -> None:
    h, w = 40, 30
    top, bottom = _rect(h, w, 2, 10, 5, 25), _rect(h, w, 20, 38, 0, 30)  # columns shared, rows not
    touching = _rect(h, w, 10, 20, 5, 25)  # row 10 of top's box is not top's (it ends at row 9)
    overlap = _rect(h, w, 8, 12, 10, 12)  # rows 8-9, columns 10-11 in top: 4 of its 8 pixels
    dt, gt = [_text(top)], [_text(bottom), _text(touching), _text(overlap)]
    for cats in (([1], [1, 1, 1]), ([1], [1, 2, 1])):
        got = _ious(kernel, dt, gt, h, w, cats, [0, 0, 0])
        want = [0.0, 0.0 if cats[1][1] == 1 else -1.0, 4 / (160 + 8 - 4)]  # by hand: areas 160 and 8
        assert got.ravel().tolist() == want
    crowd = _ious(kernel, dt, gt, h, w, ([1], [1, 1, 1]), [1, 1, 1])
    assert crowd.ravel().tolist() == [0.0, 0.0, 4 / 160]  # crowd: over the detection's area


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_a_run_from_one_column_into_the_next_spans_every_row(kernel: Any) -> None:
    """Column 0 rows 5..9 and column 1 rows 0..2 are one run of 1s (column-major): its box
    is every row, so a pixel at row 1 of column 1 is found in it (a box made of the run's
    first and last rows, 5 and 2, would miss it)."""
    h, w = 10, 4
    wrap = np.zeros((h, w), np.uint8, order="F")
    wrap[5:, 0] = 1
    wrap[:3, 1] = 1
    dot = np.zeros((h, w), np.uint8, order="F")
    dot[1, 1] = 1
    got = _ious(kernel, [_text(wrap)], [_text(dot)], h, w, ([1], [1]), [0])
    assert got.ravel().tolist() == [1 / 8]  # 1 pixel shared, union 8
    assert got.tobytes() == _expected([_text(wrap)], [_text(dot)], h, w, [0]).tobytes()


def _shapes(rng: np.random.Generator, h: int, w: int, n: int) -> list[npt.NDArray[np.uint8]]:
    """Rectangles (their boxes often share columns and not rows), runs wrapping between
    columns, empty and full masks."""
    out = []
    for _ in range(n):
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        out.append(_rect(h, w, y0, int(rng.integers(y0, h + 1)), x0, int(rng.integers(x0, w + 1))))
    flat = np.zeros(h * w, np.uint8)
    start = int(rng.integers(0, h * w))
    flat[start : start + int(rng.integers(1, h + 2))] = 1
    out += [flat.reshape(w, h).T.copy(order="F"), np.zeros((h, w), np.uint8), np.ones((h, w), np.uint8)]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 20), st.integers(1, 20), st.data())
def test_every_pair_equals_pycocotools_to_the_bit(h: int, w: int, data: Any) -> None:
    """One category (the rows tested) and two (not), crowd or not, and RLEs with zero-length
    runs (pycocotools' loop, which can stop early): pycocotools' doubles, -1 across categories."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    texts = [_text(m) for m in _shapes(rng, h, w, 6)]
    for _ in range(2):
        cuts = sorted(rng.integers(0, h * w + 1, int(rng.integers(0, 8))).tolist())
        counts = np.diff([0, *cuts, h * w]).tolist()
        counts[1:1] = [0, 0]  # a zero-length run after the first count
        texts.append(mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"].decode())
    crowd = rng.integers(0, 2, len(texts)).tolist()
    want = _expected(texts, texts, h, w, crowd)
    two = rng.integers(1, 3, len(texts)).tolist()
    for kernel in KERNELS:
        assert _ious(kernel, texts, texts, h, w, ([1] * len(texts),) * 2, crowd).tobytes() == want.tobytes()
        got = _ious(kernel, texts, texts, h, w, (two, two), crowd)
        apart = np.not_equal.outer(two, two)
        assert (got[apart] == -1.0).all()
        assert got[~apart].tobytes() == want[~apart].tobytes()


def test_the_twin_tests_rows_past_pycocotools_counts() -> None:
    """2^32 pixels (the twin's step-for-step Python path, pycocotools cannot count them): two
    masks in the same columns (0 and 16384), rows 0-10 and 100-110, are 0; each with itself
    1; the C kernel gives the same. (Counts past 2^31 are written through the deltas.)"""
    h = w = 2**16
    q = 2**30
    a, b = [0, 10, q, 1, 3 * q - 11], [100, 10, q, 1, 3 * q - 111]
    assert sum(a) == sum(b) == h * w
    texts = [_encode(c) for c in (a, b)]
    for kernel in KERNELS:
        got = _ious(kernel, texts, texts, h, w, ([1, 1], [1, 1]), [0, 0])
        assert got.ravel().tolist() == [1.0, 0.0, 0.0, 1.0]
