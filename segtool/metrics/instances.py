"""COCO instance AP/AR (segm and bbox), identical to pycocotools' ``COCOeval``.

The same semantics, step by step: ground truth ignored when crowd or outside the area range
(using the JSON ``area``); detections sorted by score (mergesort: ties keep file order),
at most ``maxDets[-1]`` per image and category; IoU from pycocotools' own ``iou`` (crowd:
intersection over the detection's area); greedy matching per IoU threshold that prefers
non-ignored ground truth and, among equal IoUs, the later one; unmatched detections outside
the area range ignored; 101-point interpolated precision; ``summarize()``'s 12 numbers.

Where pycocotools loops in Python per detection, threshold and ground truth, segtool loops
once per detection and decides all (area range × threshold) lanes at once (the common case:
one kernel call an image, :mod:`.instance_fast`), and accumulates with whole-array
operations. Per-image work is independent, so it runs in parallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from .. import kernels as _kernels
from .. import views
from ..errors import SegtoolError
from ..model import Annotation, Category, ImageInfo, Sample, decodes_pixels, is_deferred
from ..parallel import imap, jobs_for
from . import boundary as _boundary
from . import instance_fast as _fast
from .instance_accumulate import REC_THRS as REC_THRS
from .instance_accumulate import Collected, ImageEval, accumulate
from .instance_result import IOU_BARS, IOU_THRS, InstanceResult, Params
from .instance_result import STAT_NAMES as STAT_NAMES
from .per_image import InstanceRows, Tally
from .slices import Slices
from .threaded import thread_map

LIGHT_THREADS = 1  # threads scoring light images: two were slower than one, +15-45% CPU (docs/scale.md)


@dataclass
class Objects:
    """Ground truth or detections of one image, as parallel arrays plus their shapes."""

    ids: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    area: npt.NDArray[np.float64]
    iscrowd: npt.NDArray[np.bool_]
    shapes: list[Any]  # compressed RLEs (segm) or [x, y, w, h] boxes (bbox)
    score: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def _ious(
    dt: Objects, d: npt.NDArray[np.int64], gt: Objects, params: Params, every_pair: bool = False
) -> npt.NDArray[np.float64]:
    """IoU of every detection with every ground truth of the image; pairs of different
    categories are -1 so they never match (``every_pair``: their IoU too, for TIDE).

    Masks: ``segtool._kernels.rle_iou``, pycocotools' ``iou`` without its per-call Python
    conversions (the same doubles, tested; also on RLEs with zero-length runs, where the
    kernel follows pycocotools' loop step for step), decoding strictly again.
    Boxes: pycocotools' ``iou``, one call per image (plain arithmetic on doubles).
    Boundary: the mask IoU narrowed by :func:`segtool.metrics.boundary.narrow`.
    """
    if len(d) == 0 or len(gt.ids) == 0:
        return np.zeros((len(d), len(gt.ids)))
    if params.iou_type != "bbox":
        h, w = gt.shapes[0]["size"]
        out = np.empty((len(d), len(gt.ids)))
        _kernels.rle_iou(
            [dt.shapes[i]["counts"] for i in d.tolist()],
            [g["counts"] for g in gt.shapes],
            int(h),
            int(w),
            np.zeros(len(d), np.int64) if every_pair else np.ascontiguousarray(dt.category_id[d], dtype=np.int64),
            np.zeros(len(gt.ids), np.int64) if every_pair else np.ascontiguousarray(gt.category_id, dtype=np.int64),
            np.ascontiguousarray(gt.iscrowd, dtype=np.uint8),
            out,
        )
        if params.iou_type == "boundary":
            ratio = getattr(params, "dilation_ratio", _boundary.DEFAULT_RATIO)
            _boundary.narrow(out, [dt.shapes[i] for i in d], gt.shapes, gt.iscrowd, ratio)
        return out
    crowd = [int(c) for c in gt.iscrowd]
    ds = np.asarray([dt.shapes[i] for i in d], dtype=np.float64)
    gs = np.asarray(gt.shapes, dtype=np.float64)
    ious = np.asarray(mask_utils.iou(ds, gs, crowd), dtype=np.float64).reshape(len(d), len(gt.ids))
    if not every_pair:
        ious[dt.category_id[d][:, None] != gt.category_id[None, :]] = -1.0
    return ious


def _every_pair(dt: Objects, d: npt.NDArray[np.int64], gt: Objects, params: Params, rows: Any) -> Any:
    """The IoUs of detections ``d[rows]`` with every ground truth, whatever its class."""
    return _ious(dt, d[rows], gt, params, every_pair=True)


def _match(
    ious: npt.NDArray[np.float64],
    d_cat: npt.NDArray[np.int64],
    gt: Objects,
    ignore: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """COCOeval.evaluateImg's greedy matching for every category and (area range, IoU
    threshold) lane of one image, in ``segtool._kernels.coco_match``.

    ``ignore`` is ``(A, G)``. Detections come sorted by category, then score. Returns the
    matched ground-truth id per (A, T, D) (0: none; an id of 0 also reads as none, as in
    pycocotools) and whether that ground truth is ignored.
    """
    n_a, t, n_d = ignore.shape[0], len(IOU_THRS), len(d_cat)
    match = np.zeros((n_a, t, n_d), np.int64)
    match_ig = np.zeros((n_a, t, n_d), np.uint8)
    if len(gt.ids) and n_d:
        _kernels.coco_match(
            np.ascontiguousarray(ious),
            np.ascontiguousarray(d_cat, dtype=np.int64),
            np.ascontiguousarray(gt.category_id, dtype=np.int64),
            np.ascontiguousarray(gt.ids, dtype=np.int64),
            np.ascontiguousarray(gt.iscrowd, dtype=np.uint8),
            np.ascontiguousarray(ignore, dtype=np.uint8),
            IOU_BARS,
            match,
            match_ig,
        )
    return match, match_ig.view(bool)


def evaluate_image(
    gt: Objects, dt: Objects, params: Params, unmatched_ignored: npt.NDArray[np.bool_] | None = None
) -> ImageEval:
    """COCOeval.computeIoU + evaluateImg for every category and area range of one image.
    ``unmatched_ignored`` (one flag per detection): detections ignored when unmatched in
    every area range, as LVISEval ignores those of a category not exhaustively annotated."""
    max_det = params.max_dets[-1]
    a_lo, a_hi = _area_bounds(params.area_rng)
    d, rank = _ranked(dt.category_id, dt.score, max_det)
    ious = _ious(dt, d, gt, params)
    analyses = getattr(params, "analyses", None)  # TIDE & co. (metrics.analyses), on these IoUs
    if analyses is not None:
        rows, full = (dt.category_id[d], dt.score[d], d), partial(_every_pair, dt, d, gt, params)
        record = analyses.image(rows, gt.iscrowd, gt.category_id, ious, max_det, full)
    g_ignore = gt.iscrowd | (gt.area < a_lo) | (gt.area > a_hi)  # (A, G)
    d_cat = dt.category_id[d]
    match, match_ig = _match(ious, d_cat, gt, g_ignore)
    d_area = dt.area[d]
    d_out = (d_area < a_lo) | (d_area > a_hi)  # (A, D)
    if unmatched_ignored is not None:
        d_out |= unmatched_ignored[d]
    matched = match != 0
    ignored = match_ig | (~matched & d_out[:, None, :])
    npig = _not_ignored(gt.category_id, g_ignore)
    masks = params.iou_type == "bbox" or not len(gt.ids) or any(not _empty(r) for r in gt.shapes)
    out = ImageEval(d_cat, dt.score[d], rank, matched, ignored, npig, len(gt.ids), masks)
    if analyses is not None:
        out.analysis = record  # type: ignore[attr-defined]  # rides back from the worker with the image
    return out


_BOUNDS: dict[tuple[tuple[float, float], ...], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}


def _area_bounds(area_rng: tuple[tuple[float, float], ...]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The area ranges' bounds as (A, 1) columns, made once per set (read-only, shared)."""
    key = tuple((r[0], r[1]) for r in area_rng)
    found = _BOUNDS.get(key)
    if found is None:
        lo, hi = np.array([r[0] for r in key])[:, None], np.array([r[1] for r in key])[:, None]
        lo.flags.writeable = hi.flags.writeable = False
        found = _BOUNDS[key] = (lo, hi)
    return found


def _ranked(
    category_id: npt.NDArray[np.int64], score: npt.NDArray[np.float64], max_det: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The detections COCOeval scores, by category, then score (ties keep file order), at
    most ``max_det`` per category, and each one's place within its category."""
    order = np.lexsort((-score, category_id))  # lexsort is stable: ties keep file order
    n = len(order)
    if n == 0:
        return order, np.zeros(0, np.int64)
    cats = category_id[order]
    new = np.empty(n, np.bool_)
    new[0] = True
    np.not_equal(cats[1:], cats[:-1], out=new[1:])
    places = np.arange(n)
    rank = places - np.maximum.accumulate(np.where(new, places, 0))  # minus its category's first place
    if n <= max_det:  # no category can have more
        return order, rank
    keep = rank < max_det
    return order[keep], rank[keep]


def _not_ignored(
    category_id: npt.NDArray[np.int64], g_ignore: npt.NDArray[np.bool_]
) -> dict[int, npt.NDArray[np.int64]]:
    """Non-ignored ground truth per category and area range (``g_ignore``: (A, G)), of
    the categories the image's ground truth has: category -> (A,) counts."""
    if not len(category_id):
        return {}
    cats = sorted(set(category_id.tolist()))
    one_hot = (category_id[:, None] == np.array(cats, np.int64)).astype(np.int64)  # (G, K)
    counts = (~g_ignore).astype(np.int64) @ one_hot  # (A, K)
    return {c: counts[:, j] for j, c in enumerate(cats)}


def _empty(rle: Any) -> bool:
    """A compressed RLE of no pixel: one count only (a ground truth without a mask)."""
    counts = rle["counts"]
    for i, ch in enumerate(counts.encode() if isinstance(counts, str) else counts):
        if not (ch - 48) & 0x20:  # the last character of a count
            return bool(i == len(counts) - 1)
    return True


@dataclass(frozen=True)
class _Job:
    rank: int  # the image's place among the sorted image ids
    gt: Any  # a Sample, or Objects already built
    dt: Any  # a Sample of predictions, or Objects (none for the image)
    params: Params
    categories: frozenset[int]  # what a raw (Deferred) prediction record is checked against
    adjust: Adjust | None = None


# What an evaluation other than COCOeval's changes per image before the matching (LVIS'
# federated rules, a subset of categories, class-agnostic): ground truth and detections of
# one image and its record in, the objects scored and the detections ignored when unmatched
# out. A module-level object, so that it travels to worker processes.
Adjust = Callable[[Objects, Objects, ImageInfo], tuple[Objects, Objects, npt.NDArray[np.bool_] | None]]


def _image_job(job: _Job) -> tuple[int, ImageEval]:
    if _fast.applies(job.params, job.adjust):  # one kernel call, when the image's objects allow
        dt = _fast.resolved(job.dt, job.categories)
        e = _fast.fast_image(job.gt, dt, job.params, dt is EMPTY)
        if e is not None:
            return job.rank, e
        job = replace(job, dt=dt)
    gt = job.gt if isinstance(job.gt, Objects) else gt_objects(job.gt.load(), job.params.iou_type)
    if isinstance(job.dt, Objects):
        dt = job.dt
    else:
        source = job.dt.source.resolve(job.categories) if is_deferred(job.dt.source) else job.dt.source
        dt = det_objects(source.load(job.dt.image), job.params.iou_type)
    if job.adjust is None:
        return job.rank, evaluate_image(gt, dt, job.params)
    gt, dt, unmatched_ignored = job.adjust(gt, dt, job.gt.image)
    return job.rank, evaluate_image(gt, dt, job.params, unmatched_ignored)


def gt_objects(ann: Annotation, iou_type: str) -> Objects:
    """Ground truth of a loaded annotation: RLEs (or boxes), JSON areas, crowd flags, ids."""
    segs = ann.segments
    if ann.rles is not None:
        rles = list(ann.rles)
    else:  # a panoptic or semantic source: its segments' masks, areas from the pixels
        res = views.resolve(ann)
        rles, segs = res.runs().rles(), res.measured()
    shapes = rles if iou_type != "bbox" else [list(b) for b in segs.bbox]
    return Objects(segs.id, segs.category_id, segs.area, segs.iscrowd, shapes)


def det_objects(ann: Annotation, iou_type: str) -> Objects:
    """Detections of a loaded prediction. Masks (a results list): as loaded, which is as
    loadRes makes them. An index map (a panoptic prediction): every segment a detection
    with its ``score``, judged as the same segments written as a results list would be
    (areas from the masks, ids 1..n in segment order)."""
    segs = ann.segments
    if segs.score is None and len(segs):
        what = "panoptic predictions need" if ann.rles is None else "detections need"
        raise SegtoolError(f"image {ann.image.id}: {what} a 'score' on every segment", ann.origin or None)
    score = segs.score if segs.score is not None else np.zeros(0)
    if ann.rles is not None:
        shapes = list(ann.rles) if iou_type != "bbox" else segs.bbox.tolist()
        return Objects(segs.id, segs.category_id, segs.area, np.zeros(len(segs), bool), shapes, score)
    if iou_type == "bbox":
        raise SegtoolError("bbox evaluation of panoptic predictions is not supported; use --iou-type segm", ann.origin)
    runs = ann.runs if ann.runs is not None else views.Resolved(ann.index_map(), segs).runs()
    return Objects(
        ids=np.arange(1, len(segs) + 1, dtype=np.int64),
        category_id=segs.category_id,
        area=runs.areas().astype(np.float64),
        iscrowd=np.zeros(len(segs), dtype=bool),
        shapes=runs.rles(),
        score=score,
    )


EMPTY = Objects(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool), [], np.zeros(0))


def evaluate(
    pairs: Iterable[tuple[int, Sample, Sample | None]],
    categories: tuple[Category, ...],
    params: Params,
    *,
    count: int,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    adjust: Adjust | None = None,
    scored: tuple[Category, ...] | None = None,
    per_image: bool = False,
    slices: Slices | None = None,
) -> InstanceResult:
    """COCOeval (evaluate + accumulate) over (rank, ground truth, prediction) triples, in any
    order: ``rank`` is the image's place among the sorted image ids (see
    :class:`segtool.pairing.Ranked`), a missing prediction has no detections. ``pairs`` may
    be a stream (``count`` says how many): only the packed results are kept.

    ``adjust`` changes each image's objects first (see :data:`Adjust`); ``scored``: the
    categories of the result when they are not ``categories`` (a subset, or one for all).
    Mask AP of a ground truth without a single mask raises :class:`NoMasks`.

    ``per_image``: a row per image; ``slices``: each slice's images alone too
    (:mod:`.per_image`), from the same per-image results."""
    known = frozenset(c.id for c in categories)
    ordered = tuple(sorted(categories if scored is None else scored, key=lambda c: c.id))
    lanes = (len(params.area_rng), len(IOU_THRS))
    tally = _tally(per_image, slices, lanes, frozenset(c.id for c in ordered))
    items = (_Job(k, g, EMPTY if d is None else d, params, known, adjust) for k, g, d in tally.expecting(pairs))
    # RLE strings and polygons: ~0.5 ms per image, what shipping it to a worker process and
    # back costs, so scored here (LIGHT_THREADS); workers are for sources that decode pixels.
    head: list[_Job] = []
    for job in items:
        head.append(job)
        if not isinstance(job.dt, Objects):
            break
    first = head[-1] if head and not isinstance(head[-1].dt, Objects) else None
    heavy = first is not None and (decodes_pixels(first.gt.source) or decodes_pixels(first.dt.source))
    heavy = heavy or params.iou_type == "boundary"  # boundaries are pixel work: workers pay
    found = Collected(lanes)
    work, n = chain(head, items), jobs_for(count, jobs)
    light = _fast.chunked(thread_map, _image_job, work, n if _fast.applies(params, adjust) else LIGHT_THREADS)
    for rank, e in imap(_image_job, work, jobs=n) if heavy else light:
        found.add(rank, e)
        if hasattr(e, "analysis"):
            params.analyses.add(rank, e.analysis)  # type: ignore[attr-defined]
        tally.add((rank, e), _collect)
        if progress is not None:
            progress(1)
    if found.objects and not found.masks:
        raise NoMasks(f"the ground truth has no masks ({found.objects} objects, none with a segmentation)")
    result = accumulate(found, ordered, params, n)
    result.per_image = tally.image_rows()
    result.slices = tally.results(lambda c, n, absent: accumulate(c, ordered, params))
    return result


class _InstanceTally(Tally[Collected]):
    """A :class:`Tally` that notes each image (and its rank) as its pair goes by: pairs
    come in any order, the rows go out in ascending image id (COCOeval's ``imgIds``),
    made together at the end (:class:`.per_image.InstanceRows`)."""

    ranks: list[int]
    made: InstanceRows

    def take_row(self, image: ImageInfo, stat: Any) -> None:
        self.made.add(image, stat[1])

    def image_rows(self) -> list[dict[str, Any]] | None:
        if not self.per_image:
            return None
        rows = self.made.rows()
        return [rows[i] for i in sorted(range(len(rows)), key=self.ranks.__getitem__)]

    def expecting(
        self, pairs: Iterable[tuple[int, Sample, Sample | None]]
    ) -> Iterator[tuple[int, Sample, Sample | None]]:
        """``pairs`` as they are, each image expected as it passes."""
        if not self.wanted:
            yield from pairs
            return
        self.ranks = []
        for k, g, d in pairs:
            self.expect(g.image, d is None)
            self.ranks.append(k)
            yield k, g, d


def _tally(per_image: bool, slices: Slices | None, lanes: tuple[int, int], scored: frozenset[int]) -> _InstanceTally:
    tally = _InstanceTally(per_image, slices, lambda: Collected(lanes), lambda image, stat: {})
    tally.made = InstanceRows(scored)
    return tally


def _collect(found: Collected, result: tuple[int, ImageEval]) -> None:
    found.add(*result)


class NoMasks(SegtoolError):
    """Mask AP asked of a ground truth without masks (boxes only): every detection would
    score 0. The caller names the file and the way out (``--iou-type bbox``)."""
