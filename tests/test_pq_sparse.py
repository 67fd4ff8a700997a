"""PQ's workers send each image's statistic back sparse (``SparseStat``): ``dense()`` must
give the very arrays back, so sums stay bit-identical."""

from __future__ import annotations

import numpy as np

from segtool.metrics.panoptic_result import PQStat, SparseStat


def test_sparse_round_trip_is_exact() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        k = int(rng.integers(0, 140))
        stat = PQStat.zeros(k)
        hit = rng.random(k) < 0.1
        stat.tp[hit] = rng.integers(0, 5, int(hit.sum()))
        stat.fp[rng.random(k) < 0.05] = 2
        stat.fn[rng.random(k) < 0.05] = 1
        stat.iou[hit] = rng.random(int(hit.sum())) * stat.tp[hit]
        sparse = SparseStat.of(stat)
        assert sparse.rows.size == np.count_nonzero((stat.tp != 0) | (stat.fp != 0) | (stat.fn != 0) | (stat.iou != 0))
        back = sparse.dense()
        for name in ("tp", "fp", "fn", "iou"):
            a, b = getattr(stat, name), getattr(back, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_summed_sparse_equals_summed_dense() -> None:
    rng = np.random.default_rng(12)
    dense_total, sparse_total = PQStat.zeros(9), PQStat.zeros(9)
    for _ in range(40):
        stat = PQStat.zeros(9)
        stat.tp[:] = rng.integers(0, 2, 9)
        stat.iou[:] = stat.tp * (0.5 + rng.random(9) / 2)
        dense_total += stat
        sparse_total += SparseStat.of(stat).dense()
    assert dense_total.iou.tobytes() == sparse_total.iou.tobytes()
    assert dense_total.tp.tobytes() == sparse_total.tp.tobytes()
