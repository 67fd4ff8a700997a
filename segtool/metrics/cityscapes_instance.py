"""Cityscapes instance-level AP: cityscapesScripts' ``evalInstanceLevelSemanticLabeling``.

The benchmark's own rules, not COCOeval's (docs/metrics/cityscapes-instance.md):

* 8 classes, the labels with instances that are evaluated (person … bicycle), each scored
  at 10 overlaps ``np.arange(0.5, 1.0, 0.05)`` (the reference's array, its ``0.6`` is
  ``0.6000000000000001``); a match needs IoU strictly above the overlap.
* Ground truth is every object of the instanceIds map; a plain label id of a thing label is
  a group (crowd). Only objects of at least 100 pixels (``minRegionSizes[0]``: the one used
  without distances) count as ground truth; groups and smaller objects are matched, never
  counted.
* A ground-truth object takes the best score among the predictions that match it; the
  other matches are false positives. A prediction that matches nothing is a false
  positive unless the share of its pixels on void (an ``ignoreInEval`` region), groups and
  small objects of its class is above the overlap (a small group counted twice, as there).
* AP: the reference's precision/recall curve over unique scores (ties one step) with its
  artificial first point, integrated by its ``[-0.5, 0, 0.5]`` convolution; a class with
  ground truth but no prediction is 0, one with no ground truth is NaN (left out of the
  means). AP = mean over classes and overlaps, AP50 = mean over classes at 0.5.

Ground truth comes through the model: segments whose ``id`` is never read (classes and
groups come from ``category_id`` and ``iscrowd``), the index map's void, and segments of
the void labels' categories (present when the tree is read with every label). Predictions
are masks with scores (a results list, the reference's txt + PNG layout). Per image only
pixel counts are kept: each prediction's area, its void pixels and its overlaps, found from
pycocotools' IoU of the RLEs (no mask decoded; the reference compares whole images per
prediction and object).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, tables, views
from ..errors import SegtoolError
from ..model import Annotation, Category, Sample
from ..parallel import imap, jobs_for

OVERLAPS = np.arange(0.5, 1.0, 0.05)
MIN_REGION_SIZE = 100
# cityscapesScripts' instLabels (hasInstances and not ignoreInEval), in labels.py's order
CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
# its ignoreInEval labels: their regions are void (a caravan or trailer object, id * 1000 + k, is not)
VOID = (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static", "dynamic", "ground",
    "parking", "rail track", "guard rail", "bridge", "tunnel", "polegroup", "caravan", "trailer", "license plate",
)  # fmt: skip

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Spec:
    """The ground truth's categories as the protocol sees them: the class of each scored
    category, the void ones, those with instances."""

    classes: tuple[Category, ...]  # CLASSES found among the categories, in CLASSES' order
    index: dict[int, int]  # category id -> position in classes
    void: frozenset[int]
    things: frozenset[int]

    @classmethod
    def of(cls, categories: tuple[Category, ...]) -> Spec:
        """Classes and void found by name; none of the 8 classes is an error (no Cityscapes
        ground truth)."""
        by_name = {c.name: c for c in categories}
        found = tuple(by_name[n] for n in CLASSES if n in by_name)
        if not found:
            raise SegtoolError(
                f"--protocol cityscapes: the ground truth has none of Cityscapes' classes {', '.join(CLASSES)}"
            )
        void = frozenset(c.id for c in categories if c.name in VOID)
        return cls(
            found, {c.id: k for k, c in enumerate(found)}, void, frozenset(c.id for c in categories if c.isthing)
        )

    def class_of(self, category_ids: Array) -> npt.NDArray[np.int64]:
        """Position in ``classes`` of each category id, -1 for one not scored."""
        return np.array([self.index.get(int(c), -1) for c in category_ids], np.int64)


@dataclass
class Matches:
    """One image's pixel counts: ground-truth objects of the classes (class, area, group),
    predictions (class, area, void pixels, score), and each overlapping pair of one class."""

    gt_class: npt.NDArray[np.int64]
    gt_area: npt.NDArray[np.int64]
    gt_group: npt.NDArray[np.bool_]
    dt_class: npt.NDArray[np.int64]
    dt_area: npt.NDArray[np.int64]
    dt_void: npt.NDArray[np.int64]
    dt_score: npt.NDArray[np.float64]
    pair_gt: npt.NDArray[np.int64]
    pair_dt: npt.NDArray[np.int64]
    pair_inter: npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Job:
    gt: Sample
    dt: Sample | None
    spec: Spec


@dataclass
class _Truth:
    """One image's objects of the scored classes (class, area, group flag, RLE) and the RLE
    of its void: no segment, or a region of a void label that is not an object of its own."""

    cls: npt.NDArray[np.int64]
    area: npt.NDArray[np.int64]
    group: npt.NDArray[np.bool_]
    rles: list[Any]
    void: Any


def _ground_truth(ann: Annotation, spec: Spec) -> _Truth:
    """The scored objects and the void of a loaded ground-truth image, as RLEs (from the
    runs the Cityscapes reader measured, when it did)."""
    res = views.resolve(ann)
    segs, runs = res.segments, res.runs()
    cls = spec.class_of(segs.category_id)
    area = runs.areas().astype(np.int64)
    kept = np.flatnonzero((cls >= 0) & (area > 0))
    void_cat = np.isin(segs.category_id, list(spec.void))
    thing = np.isin(segs.category_id, list(spec.things))
    void_seg = np.concatenate([[True], void_cat & (segs.iscrowd | ~thing)]).astype(np.int32)
    void = masks.Runs(void_seg[res.index], 1).rles()[0]
    rles = runs.rles() if len(kept) else []
    return _Truth(cls[kept], area[kept], segs.iscrowd[kept].astype(bool), [rles[k] for k in kept], void)


def _predictions(ann: Annotation) -> tuple[list[Any], Array, Array]:
    """Masks (compressed RLEs), category ids and scores of a loaded prediction."""
    segs = ann.segments
    if segs.score is None and len(segs):
        raise SegtoolError(f"image {ann.image.id}: detections need a 'score' on every segment", ann.origin or None)
    score = segs.score if segs.score is not None else np.zeros(0)
    if ann.rles is not None:
        return list(ann.rles), segs.category_id, score
    res = views.Resolved(ann.index_map(), segs)
    return res.runs().rles(), segs.category_id, score


def _intersections(dt: list[Any], dt_area: Array, gt: _Truth) -> tuple[Array, Array]:
    """Pixels each prediction shares with each object, and with the void, from pycocotools'
    IoU of the RLEs (no mask decoded): I = IoU (A + B) / (1 + IoU) for an object, IoU x A
    for the void (a crowd region: IoU over the prediction's area). IoU is the double nearest
    I / U with I, U < 2^31, so the products are within 1e-6 of the integers they round to."""
    ious = masks.iou(dt, [*gt.rles, gt.void], [False] * len(gt.rles) + [True])
    objects = ious[:, :-1]
    inter = objects * (dt_area[:, None] + gt.area[None, :]) / (1.0 + objects)
    return np.rint(inter).astype(np.int64), np.rint(ious[:, -1] * dt_area).astype(np.int64)


def image_matches(job: _Job) -> Matches:
    """What evalInstanceLevelSemanticLabeling's assignGt2Preds finds in one image."""
    gt = _ground_truth(job.gt.load(), job.spec)
    dt_cls, dt_area, dt_score = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    void, inter = np.zeros(0, np.int64), np.zeros((0, len(gt.cls)), np.int64)
    if job.dt is not None:
        rles, cats, scores = _predictions(job.dt.load())
        cls = job.spec.class_of(cats)
        areas = masks.rle_areas(rles) if rles else np.zeros(0, np.int64)
        chosen = np.flatnonzero((cls >= 0) & (areas > 0))  # an empty mask: the reference skips it
        dt_cls, dt_area, dt_score = cls[chosen], areas[chosen].astype(np.int64), np.asarray(scores, np.float64)[chosen]
        if len(chosen):
            inter, void = _intersections([rles[i] for i in chosen], dt_area, gt)
    same = (inter > 0) & (dt_cls[:, None] == gt.cls[None, :])  # overlaps of one class
    pair_dt, pair_gt = np.nonzero(same)
    return Matches(
        gt.cls, gt.area, gt.group, dt_cls, dt_area, void, dt_score, pair_gt, pair_dt, inter[pair_dt, pair_gt]
    )


def _joined(found: list[Matches]) -> Matches:
    """All images' counts in one table, pairs pointing into the joined rows."""
    if not found:
        return image_matches_empty()
    g_off = np.cumsum([0] + [len(m.gt_class) for m in found])[:-1]
    d_off = np.cumsum([0] + [len(m.dt_class) for m in found])[:-1]

    def cat(name: str, offsets: Any = None) -> Array:
        parts = [getattr(m, name) if offsets is None else getattr(m, name) + offsets[j] for j, m in enumerate(found)]
        return np.concatenate(parts)

    return Matches(
        cat("gt_class"), cat("gt_area"), cat("gt_group"), cat("dt_class"), cat("dt_area"), cat("dt_void"),
        cat("dt_score"), cat("pair_gt", g_off), cat("pair_dt", d_off), cat("pair_inter"),
    )  # fmt: skip


def image_matches_empty() -> Matches:
    """No image."""
    i, b, f = np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0)
    return Matches(i, i, b, i, i, i, f, i, i, i)


def class_ap(m: Matches, k: int, overlap: float) -> float:
    """evaluateMatches for class ``k`` at one overlap threshold, over all images."""
    g_in, d_in = m.gt_class == k, m.dt_class == k
    counted = g_in & ~m.gt_group & (m.gt_area >= MIN_REGION_SIZE)
    if not counted.any():
        return math.nan
    if not d_in.any():
        return 0.0
    pg, pd, inter = m.pair_gt, m.pair_dt, m.pair_inter
    on = m.dt_class[pd] == k
    pg, pd, inter = pg[on], pd[on], inter[on]
    iou = inter.astype(np.float64) / (m.gt_area[pg] + m.dt_area[pd] - inter)
    hit = iou > overlap
    # ground-truth side: each counted object's best matching score; its other matches are false positives
    good = hit & counted[pg]
    order = np.lexsort((-m.dt_score[pd[good]], pg[good]))
    gts, scores = pg[good][order], m.dt_score[pd[good]][order]
    first = np.concatenate([[True], gts[1:] != gts[:-1]]) if len(gts) else np.zeros(0, bool)
    hard_fns = int(counted.sum()) - int(first.sum())
    # prediction side: unmatched, and not mostly on void, groups or small objects
    found = np.bincount(pd[hit], minlength=len(m.dt_class)) > 0
    small = m.gt_area[pg] < MIN_REGION_SIZE
    ignored = np.bincount(pd, weights=inter * (m.gt_group[pg].astype(np.int64) + small), minlength=len(m.dt_class))
    share = (m.dt_void + ignored) / np.maximum(m.dt_area, 1)
    fp = d_in & ~found & (share <= overlap)
    y_true = np.concatenate([first.astype(np.float64), np.zeros(int(fp.sum()))])
    y_score = np.concatenate([scores, m.dt_score[fp]])
    return average_precision(y_true, y_score, hard_fns)


def average_precision(y_true: Array, y_score: Array, hard_fns: int) -> float:
    """The reference's AP of one class at one overlap: precision and recall at each unique
    score (everything at or above it predicted), an artificial (recall 0, precision 1)
    point, steps integrated by its convolution. Only counts below each threshold enter,
    so the order of tied scores never matters. No example at all (every ground truth
    missed, every prediction ignored), where the reference fails on an empty array: 0."""
    if not len(y_score):
        return 0.0
    order = np.argsort(y_score)
    sorted_score, cumsum = y_score[order], np.cumsum(y_true[order])
    _, unique = np.unique(sorted_score, return_index=True)
    total, examples = cumsum[-1], len(sorted_score)
    below = np.append(cumsum, 0)[unique - 1]
    tp = total - below
    fp = examples - unique - tp
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + below + hard_fns), 0.0)
    steps = np.convolve(np.append(np.append(recall[0], recall), 0.0), [-0.5, 0, 0.5], "valid")
    return float(np.dot(precision, steps))


def evaluate(
    pairs: Iterable[tuple[Sample, Sample | None]],
    categories: tuple[Category, ...],
    *,
    count: int,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> CityscapesInstanceResult:
    """AP per class and overlap of (ground truth, prediction) pairs (a missing prediction has
    none), as evalInstanceLevelSemanticLabeling's evaluateMatches."""
    spec = Spec.of(categories)
    found = []
    for m in imap(image_matches, (_Job(g, d, spec) for g, d in pairs), jobs=jobs_for(count, jobs)):
        found.append(m)
        if progress is not None:
            progress(1)
    joined = _joined(found)
    ap = np.array([[class_ap(joined, k, float(t)) for t in OVERLAPS] for k in range(len(spec.classes))])
    return CityscapesInstanceResult(spec.classes, ap.reshape(len(spec.classes), len(OVERLAPS)), len(found))


def _value(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


@dataclass
class CityscapesInstanceResult:
    """AP per class (rows, the protocol's order) and overlap (columns, :data:`OVERLAPS`)."""

    classes: tuple[Category, ...]
    ap: npt.NDArray[np.float64]
    images: int

    def _mean(self, values: Array) -> float | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every class undefined: nan, as numpy says
            return _value(float(np.nanmean(values))) if values.size else None

    @property
    def AP(self) -> float | None:
        """Mean over classes with ground truth and the 10 overlaps (``allAp``)."""
        return self._mean(self.ap)

    @property
    def AP50(self) -> float | None:
        """Mean over classes at overlap 0.5 (``allAp50%``)."""
        return self._mean(self.ap[:, 0])

    def per_class(self) -> dict[int, dict[str, Any]]:
        """AP and AP50 of each class by category id (None: no ground truth of it)."""
        return {
            c.id: {"name": c.name, "AP": _value(float(np.mean(row))), "AP50": _value(float(row[0]))}
            for c, row in zip(self.classes, self.ap, strict=True)
        }

    def to_dict(self) -> dict[str, Any]:
        """AP, AP50, per class, the AP matrix (classes x overlaps) and the protocol's parameters."""
        return {
            "protocol": "cityscapes",
            "AP": self.AP,
            "AP50": self.AP50,
            "per_class": self.per_class(),
            "overlaps": OVERLAPS.tolist(),
            "min_region_size": MIN_REGION_SIZE,
            "ap_matrix": [[_value(float(v)) for v in row] for row in self.ap],
            "images": self.images,
        }

    def to_cityscapes(self) -> dict[str, Any]:
        """evaluateImgLists' ``averages``: ``allAp``, ``allAp50%`` and ``classes`` by name
        (``ap``, ``ap50%``), NaN where the reference has NaN."""
        nan = math.nan
        return {
            "allAp": nan if self.AP is None else self.AP,
            "allAp50%": nan if self.AP50 is None else self.AP50,
            "classes": {
                c.name: {"ap": float(np.mean(row)), "ap50%": float(row[0])}
                for c, row in zip(self.classes, self.ap, strict=True)
            },
        }

    def summary(self) -> str:
        """Text for people: AP and AP50 per class, then the averages."""
        rows = [(r["name"], r["AP"], r["AP50"]) for r in self.per_class().values()]
        rows.append(("average", self.AP, self.AP50))
        return "\n".join(f"{n:<12} AP {_shown(a)}  AP50 {_shown(b)}" for n, a, b in rows)

    def __repr__(self) -> str:
        return f"CityscapesInstanceResult(AP={_shown(self.AP)} AP50={_shown(self.AP50)}, {len(self.classes)} classes, {self.images} images)"

    def to_dataframe(self) -> Any:
        """One row per class: category id, name, AP, AP50 (``pandas`` needed)."""
        rows = [{"category_id": c, **v} for c, v in self.per_class().items()]
        return tables.dataframe(rows, ("category_id", "name", "AP", "AP50"))


def _shown(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"
