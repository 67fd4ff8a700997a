"""Mask AP of one image in one kernel call (``segtool._kernels.coco_image``), the common
case only: COCOeval's masks of a COCO instance JSON's ground truth and a results file's
detections, both held as compressed RLE counts strings one a line. The kernel decodes,
ranks, measures the IoUs, matches and flags without the GIL, so two threads score two
images at once; what :func:`.instances.evaluate_image` builds from the loaded objects, it
builds from the strings, bit for bit (tests/test_instance_fast.py). Anything else (boxes,
polygons, boundaries, analyses, ``adjust``, an undecodable mask, whose error the usual
path words) goes the usual way: :func:`fast_image` then returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .. import kernels as _kernels
from ..cocomask import size_ok
from ..model import Sample, is_deferred
from .instance_accumulate import ImageEval
from .instance_result import IOU_BARS, IOU_THRS, Params

JSON = "\x01"  # formats.coco_tables.JSON: a line of packed text that holds JSON, not counts
_NONE = np.zeros(0, np.int64)
T = TypeVar("T")
R = TypeVar("R")
_BOUNDS: dict[tuple[tuple[float, float], ...], npt.NDArray[np.float64]] = {}  # by params.area_rng


CHUNK = 8  # images a thread takes at once: a task handed over costs ~20 us of the GIL


def chunked(mapper: Any, fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``mapper(fn, items, threads)`` (:func:`.threaded.thread_map`), ``CHUNK`` items a task
    on more than one thread; results in input order, what raises first in input order
    raises (after the chunks before its own)."""
    if threads <= 1:
        yield from mapper(fn, items, threads)
        return
    it = iter(items)
    chunks = iter(lambda: list(islice(it, CHUNK)), [])
    for done in mapper(partial(_each, fn), chunks, threads):
        yield from done


def _each(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


def applies(params: Params, adjust: Any) -> bool:
    """Whether an evaluation may take the fast path at all (then per image: see
    :func:`fast_image`): COCOeval's masks, no ``adjust``, no analyses."""
    return params.iou_type == "segm" and adjust is None and getattr(params, "analyses", None) is None


def _bounds(params: Params) -> npt.NDArray[np.float64]:
    """The area ranges' lower bounds, then their upper bounds (made once per set)."""
    found = _BOUNDS.get(params.area_rng)
    if found is None:
        lo, hi = [float(r[0]) for r in params.area_rng], [float(r[1]) for r in params.area_rng]
        found = _BOUNDS[params.area_rng] = np.array(lo + hi, np.float64)
    return found


def _gt_columns(gt: Any) -> tuple[str, Any] | None:
    """The ground truth's counts lines and segment table, when its source holds them so
    (a COCO instance JSON's ``CocoMasks``); None otherwise."""
    if not isinstance(gt, Sample):
        return None
    text, segs = getattr(gt.source, "text", None), getattr(gt.source, "segments", None)
    if type(text) is not str or segs is None or JSON in text or getattr(segs, "score", None) is not None:
        return None
    return text, segs


def _dt_columns(source: Any) -> tuple[str, Any, Any] | None:
    """A results file's detections of one image (``Detections``) as counts lines,
    categories and scores; None when they are anything else (boxes give the areas,
    polygons, in-memory masks)."""
    text = getattr(source, "masks", None)
    if type(text) is not str or JSON in text or getattr(source, "by_box", True) or source.iou_type != "segm":
        return None
    return text, source.category_id, source.score


def resolved(job_dt: Any, categories: frozenset[int]) -> Any:
    """A prediction sample whose raw record is parsed (once: the usual path gets it so)."""
    if isinstance(job_dt, Sample) and is_deferred(job_dt.source):
        return Sample(job_dt.image, job_dt.source.resolve(categories))
    return job_dt


def fast_image(gt_sample: Any, dt: Any, params: Params, empty: bool) -> ImageEval | None:
    """COCOeval of one image, as :func:`.instances.evaluate_image` of its loaded objects,
    or None when the fast path does not apply to it (``empty``: the image has no prediction;
    ``dt``: else a resolved prediction sample)."""
    gt = _gt_columns(gt_sample)
    if gt is None:
        return None
    text, segs = gt
    if empty:
        dtext, dcat, dscore = "", _NONE, np.zeros(0)
    else:
        found = _dt_columns(dt.source) if isinstance(dt, Sample) else None
        if found is None:
            return None
        dtext, dcat, dscore = found
    image = gt_sample.image
    h, w = image.height, image.width
    if not size_ok(h, w):
        return None
    n_a, t, n_d, n_g = len(params.area_rng), len(IOU_THRS), len(dcat), len(segs)
    rows, rank = np.empty(n_d, np.int64), np.empty(n_d, np.int64)
    flags = np.empty((n_d, 2 * n_a * t), np.uint8)
    npig = np.empty((n_g, n_a), np.int64)
    gcat = np.ascontiguousarray(segs.category_id, np.int64)
    kept, has_masks = _kernels.coco_image(
        text,
        dtext,
        h,
        w,
        gcat,
        np.ascontiguousarray(segs.id, np.int64),
        np.ascontiguousarray(segs.iscrowd, np.uint8),
        np.ascontiguousarray(segs.area, np.float64),
        np.ascontiguousarray(dcat, np.int64),
        np.ascontiguousarray(dscore, np.float64),
        _bounds(params),
        IOU_BARS,
        params.max_dets[-1],
        rows,
        rank,
        flags,
        npig,
    )
    if kept < 0:  # an undecodable mask: the usual path says which
        return None
    d = rows[:kept]
    both = flags[:kept].view(np.bool_)
    lanes = n_a * t
    matched = both[:, :lanes].T.reshape(n_a, t, kept)
    ignored = both[:, lanes:].T.reshape(n_a, t, kept)
    by_cat = dict(zip(gcat.tolist(), npig, strict=True))  # a category's rows are equal: any one
    order = sorted(by_cat)
    npigs = {c: by_cat[c] for c in order}
    return ImageEval(dcat[d], dscore[d], rank[:kept], matched, ignored, npigs, n_g, has_masks, lanes=both)
