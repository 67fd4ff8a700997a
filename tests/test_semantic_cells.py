"""mIoU's workers send each image's confusion matrix back as its non-zero cells
(``semantic.Cells``): the sums must be the dense matrices' sums, exactly."""

from __future__ import annotations

import numpy as np

from segtool.metrics.semantic import Cells


def test_cells_add_up_to_the_dense_sum() -> None:
    rng = np.random.default_rng(5)
    total = np.zeros((7, 8), np.int64)
    dense_total = np.zeros((7, 8), np.int64)
    for _ in range(50):
        cm = rng.integers(0, 3, (7, 8)) * rng.integers(0, 2**40, (7, 8)) * (rng.random((7, 8)) < 0.2)
        cells = Cells.of(cm.astype(np.int64))
        assert cells.at.size == np.count_nonzero(cm)
        assert np.array_equal(cells.dense(), cm)
        cells.add_to(total)
        dense_total += cm
    assert np.array_equal(total, dense_total)


def test_empty_matrix() -> None:
    cells = Cells.of(np.zeros((0, 1), np.int64))
    assert cells.dense().shape == (0, 1)
    zero = Cells.of(np.zeros((3, 4), np.int64))
    total = np.ones((3, 4), np.int64)
    zero.add_to(total)
    assert (total == 1).all()
