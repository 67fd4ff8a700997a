"""The segment-level confusion matrix of panoptic predictions (``eval panoptic
--confusion``), made in PQ's pass from the matching PQ makes (docs/metrics/pq-errors.md).

Each counted segment of an image lands in one cell, rows ground-truth categories and
columns predicted ones, background last in both:

* a PQ match (same category, IoU > 0.5) -> the diagonal;
* an unmatched ground-truth segment and an unmatched prediction of another category with
  IoU > 0.5 (the ``cls`` error of :mod:`.pq_errors`, one-to-one) -> (its category, the
  prediction's category);
* any other false negative -> (its category, background); any other false positive ->
  (background, its category).

Crowd ground truth and the predictions PQ ignores (mostly on void or same-category crowd)
are in no cell; the background/background cell is 0. The layout, JSON and CSV are
``eval instance --confusion``'s (:mod:`.confusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..model import Category
from . import confusion as _confusion

BACKGROUND = -1  # the background in an image's cells (category rows are never negative)
csv_text = _confusion.csv_text


def image_cells(
    gcat: npt.NDArray[np.int64],
    pcat: npt.NDArray[np.int64],
    matched_g: npt.NDArray[np.int64],
    matched_p: npt.NDArray[np.int64],
    fn: npt.NDArray[np.bool_],
    fp: npt.NDArray[np.bool_],
    partner: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """One image's cells as (ground-truth, predicted) rows of ``gcat``/``pcat`` (the
    segments' categories, any coding), :data:`BACKGROUND` for none: ``matched_g``/``matched_p``
    PQ's matched pairs, ``fn``/``fp`` its false negatives and positives, ``partner[g]`` the
    prediction of another class paired with false negative ``g`` (-1: none)."""
    paired = partner >= 0
    lone_fp = fp.copy()
    lone_fp[partner[paired]] = False
    lone_fn = fn & ~paired
    parts = [
        np.stack([gcat[matched_g], pcat[matched_p]], axis=1),
        np.stack([gcat[paired], pcat[partner[paired]]], axis=1),
        np.stack([gcat[lone_fn], np.full(int(lone_fn.sum()), BACKGROUND)], axis=1),
        np.stack([np.full(int(lone_fp.sum()), BACKGROUND), pcat[lone_fp]], axis=1),
    ]
    return np.concatenate(parts).astype(np.int64).reshape(-1, 2)


def matrix(counts: npt.NDArray[np.int64], categories: Sequence[Category]) -> dict[str, Any]:
    """The ``(k + 1, k + 1)`` counts of category rows (background last) laid out as
    :func:`.confusion.matrix` lays them: ``ids`` and ``names`` by category id, then
    background (id null), ``matrix`` rows = ground truth."""
    order = np.argsort(np.array([c.id for c in categories], np.int64), kind="stable")
    index = np.append(order, len(categories))
    return {
        "ids": [*(categories[i].id for i in order), None],
        "names": [*(categories[i].name for i in order), "background"],
        "matrix": counts[np.ix_(index, index)].tolist(),
    }
