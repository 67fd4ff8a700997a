"""COCOeval's ``accumulate``, over the per-detection results of every image packed as they
come (:class:`Collected`): put in the order COCOeval has them (sorted image ids, so that
ties of score across images fall as they do there), then precision and recall per
category, area range and threshold with whole-array operations.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kernels as _kernels
from ..model import Category
from .instance_result import IOU_THRS, InstanceResult, Params
from .threaded import thread_map

REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


@dataclass
class ImageEval:
    """One image's detections (sorted by category, then score) and what accumulate needs.

    ``matched``/``ignored`` are ``(A, T, D)``; ``rank`` is a detection's place within its
    category by score; ``npig`` maps category → non-ignored ground-truth count per area range;
    ``objects``: the ground truth's count, ``masks``: whether any has a mask (or boxes are
    scored), so that mask AP of boxes only is refused rather than scored 0.
    """

    category_id: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    rank: npt.NDArray[np.int64]
    matched: npt.NDArray[np.bool_]
    ignored: npt.NDArray[np.bool_]
    npig: dict[int, npt.NDArray[np.int64]]
    objects: int = 0
    masks: bool = True
    lanes: npt.NDArray[np.bool_] | None = None  # (D, 2AT): matched, then ignored lanes, when made so


def accumulate_category(
    score: Any, matched: Any, ignored: Any, rank: Any, npig: Any, max_dets: tuple[int, ...]
) -> tuple[Any, Any]:
    """Precision (T, R, A, M) and recall (T, A, M) of one category, as COCOeval.accumulate.

    The score order depends only on maxDets, so each maxDets sorts once (mergesort: ties
    keep image order, as pycocotools); ``segtool._kernels.coco_accumulate`` then cumulates,
    interpolates and samples every (area range, threshold) lane. Lanes whose area range has
    no non-ignored ground truth stay -1, as in pycocotools.
    """
    n_a, t = matched.shape[:2]
    precision = -np.ones((len(max_dets), n_a, t, len(REC_THRS)))
    recall = -np.ones((len(max_dets), n_a, t))
    if not np.any(npig > 0):
        return precision.transpose(2, 3, 1, 0), recall.transpose(2, 1, 0)
    for m, max_det in enumerate(max_dets):
        keep = np.flatnonzero(rank < max_det)
        order = keep[np.argsort(-score[keep], kind="mergesort")]
        _kernels.coco_accumulate(
            np.ascontiguousarray(matched[:, :, order], dtype=np.uint8),
            np.ascontiguousarray(ignored[:, :, order], dtype=np.uint8),
            np.ascontiguousarray(npig, dtype=np.int64),
            REC_THRS,
            precision[m],
            recall[m],
        )
    return precision.transpose(2, 3, 1, 0), recall.transpose(2, 1, 0)


class Collected:
    """Every image's per-detection results, appended as images finish (in any order), packed
    in flat columns: category, score and rank, and the matched/ignored flags of the (area
    range x threshold) lanes as bits (~30 bytes a detection, where a list of ImageEval held
    7.7 kB an image); per image with detections its rank among the sorted image ids and its
    count; the non-ignored ground-truth counts summed per category. What accumulate needs,
    and only that, so memory grows with the detections, not with objects per image."""

    def __init__(self, lanes: tuple[int, int]) -> None:
        self.lanes = lanes  # (area ranges, thresholds)
        self.images = 0
        self.category, self.score, self.rank = _Chunks(), _Chunks(), _Chunks()  # per detection: int64, double, int32
        self.image_rank, self.image_count = array("q"), array("q")  # per image with detections
        self.flags = _Chunks()  # per detection: matched bits, then ignored bits
        self.npig: dict[int, npt.NDArray[np.int64]] = {}
        self.objects, self.masks = 0, False  # ground truth scored, and whether any had a mask
        # while :func:`keeping`: each image's rank and its own ``npig`` too (compare's
        # bootstrap resamples images: it needs them apart, not summed)
        self.image_npig: list[tuple[int, dict[int, npt.NDArray[np.int64]]]] | None = (
            [] if _KEPT.get() is not None else None
        )

    def add(self, rank: int, e: ImageEval) -> None:
        """One image's results; ``rank``: the image's place among the sorted image ids."""
        self.images += 1
        self.objects += e.objects
        self.masks = self.masks or (e.masks and e.objects > 0)
        if len(e.score):
            self.image_rank.append(rank)
            self.image_count.append(len(e.score))
            self.category.add(np.ascontiguousarray(e.category_id, np.int64))
            self.score.add(np.ascontiguousarray(e.score, np.float64))
            self.rank.add(e.rank.astype(np.int32))  # a place among one image's detections
            both = (
                e.lanes if e.lanes is not None else np.concatenate([_lanes_last(e.matched), _lanes_last(e.ignored)], 1)
            )
            self.flags.add(np.packbits(both, axis=1))
        if self.image_npig is not None and e.npig:
            self.image_npig.append((rank, e.npig))
        npig = self.npig
        for c, counts in e.npig.items():
            total = npig.get(c)
            if total is None:
                npig[c] = counts.astype(np.int64)  # a copy, this object's own: added to in place
            else:
                total += counts

    def columns(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int32]]:
        """Category, score and rank of every detection, in the order they were added."""
        return self.category.array(np.int64), self.score.array(np.float64), self.rank.array(np.int32)

    def order(self) -> npt.NDArray[np.int64] | None:
        """The detections' rows in ascending image rank, as pycocotools lists its evalImgs
        (sorted image ids), each image's rows together in their order; None when they were
        added so already."""
        ranks, counts = _column(self.image_rank, np.int64), _column(self.image_count, np.int64)
        if np.all(ranks[1:] > ranks[:-1]):
            return None
        by_rank = np.argsort(ranks, kind="stable")
        first = np.cumsum(counts) - counts  # each image's first row, as added
        sizes = counts[by_rank]
        # row j of the result: its image's first row + its place within the image
        return np.repeat(first[by_rank] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))

    def flags_of(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """The (A, T, len(rows)) matched and ignored flags of some detections, unpacked."""
        n_a, t = self.lanes
        width = -(-2 * n_a * t // 8)
        packed = self.flags.array(np.uint8).reshape(-1, width)[rows]
        bits = np.unpackbits(packed, axis=1, count=2 * n_a * t).astype(bool)
        matched, ignored = bits[:, : n_a * t], bits[:, n_a * t :]
        return matched.T.reshape(n_a, t, -1), ignored.T.reshape(n_a, t, -1)

    def export(self) -> dict[str, npt.NDArray[Any]]:
        """Every column as an array (a shard's partial, :mod:`.partial`); counts apart."""
        n_a, t = self.lanes
        ids = np.array(sorted(self.npig), np.int64)
        npig = np.array([self.npig[c] for c in ids.tolist()], np.int64).reshape(len(ids), n_a)
        category, score, rank = self.columns()
        flags = self.flags.array(np.uint8).reshape(-1, -(-2 * n_a * t // 8))
        image_rank, image_count = _column(self.image_rank, np.int64), _column(self.image_count, np.int64)
        columns: dict[str, npt.NDArray[Any]] = {"category": category, "score": score, "rank": rank, "flags": flags}
        return {**columns, "image_rank": image_rank, "image_count": image_count, "npig_ids": ids, "npig": npig}

    @classmethod
    def joined(
        cls, lanes: tuple[int, int], parts: Sequence[dict[str, npt.NDArray[Any]]], counts: tuple[int, int, bool]
    ) -> Collected:
        """The shards' columns one after the other, their non-ignored ground truth summed
        per category; ``counts``: images, objects and whether any had a mask. Shards' image
        ranks are the ground truth's, so :meth:`order` puts their detections as one run would."""
        out = cls(lanes)
        out.images, out.objects, out.masks = counts
        for name, dtype in (("category", np.int64), ("score", np.float64), ("rank", np.int32), ("flags", np.uint8)):
            getattr(out, name).whole = np.concatenate([np.zeros(0, dtype), *(p[name].ravel() for p in parts)]).tobytes()
        for name in ("image_rank", "image_count"):
            getattr(out, name).frombytes(np.concatenate([np.zeros(0, np.int64), *(p[name] for p in parts)]).tobytes())
        for p in parts:
            for c, row in zip(p["npig_ids"].tolist(), p["npig"], strict=True):
                out.npig[c] = out.npig[c] + row if c in out.npig else row.astype(np.int64)
        return out


class _Chunks:
    """Bytes appended in chunks of up to :data:`CHUNK` (never one block reallocated as it
    grows: that would climb the heap past the ground truth freed meanwhile), joined once."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.current = bytearray()
        self.whole: bytes | None = None

    def add(self, values: npt.NDArray[Any]) -> None:
        """Append an array's bytes."""
        self.current += values.tobytes()
        if len(self.current) >= CHUNK:
            self.chunks.append(bytes(self.current))
            self.current = bytearray()

    def array(self, dtype: type) -> npt.NDArray[Any]:
        """Everything appended, as one array (joined the first time it is asked for)."""
        if self.whole is None:
            self.chunks.append(bytes(self.current))
            self.whole, self.chunks, self.current = b"".join(self.chunks), [], bytearray()
        return np.frombuffer(self.whole, dtype)


CHUNK = 1 << 14


def _column(values: array[Any], dtype: type) -> npt.NDArray[Any]:
    """An ``array`` as numpy, sharing its memory."""
    return np.frombuffer(values, dtype) if len(values) else np.zeros(0, dtype)


def _lanes_last(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(A, T, D) flags as (D, A * T): one row per detection."""
    n_a, t, d = flags.shape
    return flags.reshape(n_a * t, d).T


def _places(ids: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """Each value's place in ``ids`` (ascending), ``len(ids)`` for one it lacks; a slice at a
    time, so that the temporaries stay small beside the collected columns."""
    out = np.full(len(values), len(ids), np.int32)
    step = 1 << 16
    for lo in range(0, len(values) if len(ids) else 0, step):
        part = values[lo : lo + step]
        at = np.minimum(np.searchsorted(ids, part), len(ids) - 1)
        out[lo : lo + step] = np.where(ids[at] == part, at, len(ids))
    return out


Kept = list[tuple[Collected, tuple[Category, ...], Params]]
_KEPT: ContextVar[tuple[Kept, bool] | None] = ContextVar("segtool_kept_collected", default=None)


@contextmanager
def keeping(every: bool = False) -> Iterator[Kept]:
    """While inside, the first :func:`accumulate` also hands what it accumulated (the
    per-image results, the categories and parameters) to the list yielded: how a shard's partial
    (:mod:`.partial`) gets COCOeval's per-image evaluations from every caller (COCO, LVIS,
    subsets) without each one passing them up. ``every``: each accumulate's, the evaluation's
    first and then each slice's (a partial with slices). Outside, nothing is kept (memory)."""
    kept: Kept = []
    token = _KEPT.set((kept, every))
    try:
        yield kept
    finally:
        _KEPT.reset(token)


def accumulate(found: Collected, categories: tuple[Category, ...], params: Params, threads: int = 1) -> InstanceResult:
    """COCOeval.accumulate over the collected per-image results, put in ascending image id
    order first: pycocotools' order, on which ties of score across images depend.
    ``threads``: categories accumulated at once (each writes its own slice of the result;
    coco_accumulate and numpy's sorts run without the GIL)."""
    keep = _KEPT.get()
    if keep is not None and (keep[1] or not keep[0]):  # the evaluation's own first; slices' after it
        keep[0].append((found, categories, params))
    t, r, k_n, a_n, m_n = len(IOU_THRS), len(REC_THRS), len(categories), len(params.area_rng), len(params.max_dets)
    precision = -np.ones((t, r, k_n, a_n, m_n))
    recall = -np.ones((t, k_n, a_n, m_n))
    cat_id, score, rank = found.columns()
    ids = np.array([c.id for c in categories], np.int64)  # ascending
    cat = _places(ids, cat_id)
    del cat_id
    rows = found.order()
    # each category's rows (as added) in image order, then score order within an image:
    # a stable sort of the categories in image order
    by_cat = np.argsort(cat if rows is None else cat[rows], kind="stable")
    if rows is not None:
        by_cat = rows[by_cat]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cat, minlength=len(ids) + 1))])
    found.flags.array(np.uint8)  # joined here, once: the threads only read it

    def one(k: int) -> None:
        sel = by_cat[bounds[k] : bounds[k + 1]]
        matched, ignored = found.flags_of(sel)
        precision[:, :, k], recall[:, k] = accumulate_category(
            score[sel], matched, ignored, rank[sel], found.npig[categories[k].id], params.max_dets
        )

    scored = [k for k, c in enumerate(categories) if c.id in found.npig]
    for _ in thread_map(one, scored, threads if len(scored) > 1 else 1):
        pass
    return InstanceResult(categories, params, precision, recall, found.images)
