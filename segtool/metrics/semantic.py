"""Semantic segmentation metrics from one confusion matrix: IoU, mIoU, fwIoU, accuracies.

Per image the confusion matrix is one ``bincount(gt * (K + 1) + pred)`` over dense class
indices (``K`` classes = the ground truth's categories). Ground-truth pixels with the
ignore value are left out. A prediction may leave pixels unlabelled (the ignore value):
they count in the extra last column, as misses of their ground-truth class.

* IoU_c = TP_c / (GT_c + P_c - TP_c); classes absent from both ground truth and
  prediction have no IoU and are left out of mIoU (as mmsegmentation's ``nanmean``).
* pixel accuracy = Σ TP / number of labelled ground-truth pixels.
* class accuracy_c = TP_c / GT_c; mean accuracy over classes present in the ground truth.
* fwIoU = Σ_c (GT_c / Σ GT) · IoU_c over classes present in the ground truth.
* with ``boundary`` (a dilation ratio): Boundary IoU_c = Σ |G_c,d ∩ P_c,d| / Σ |G_c,d ∪ P_c,d|
  over images (the boundary regions of class c's pixels, :mod:`.boundary_maps`), and its
  mean over the classes with a boundary on either side (docs/metrics/boundary.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kernels as _kernels
from .. import tables, views
from ..masks import DENSE_VALUES
from ..model import Category, ImageInfo, Sample, has_label_pixels
from ..parallel import imap, jobs_for
from .boundary_maps import semantic_counts
from .per_image import Tally, semantic_row
from .slices import Slices, extras


@dataclass(frozen=True)
class Classes:
    """Label value → row of the confusion matrix (``k``, the last, for ignored values and
    values no category has), found by search in the sorted category ids: ids are 64-bit,
    so no table is indexed by them (a category id of 10^12 would ask for 8 TB)."""

    ids: npt.NDArray[np.int64]  # sorted
    rows: npt.NDArray[np.int64]  # row of ids[i]
    k: int
    table8: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))  # rows of 0..255

    @classmethod
    def of(cls, categories: tuple[Category, ...]) -> Classes:
        """Rows in category order."""
        ids = np.array([c.id for c in categories], dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        classes = cls(ids[order], order.astype(np.int64), len(ids))
        return cls(classes.ids, classes.rows, classes.k, classes.table(256))

    def rows_of(self, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The row of each value."""
        if not self.ids.size:
            return np.full(values.shape, self.k, np.int64)
        pos = np.minimum(np.searchsorted(self.ids, values), self.ids.size - 1)
        return np.where(self.ids[pos] == values, self.rows[pos], self.k)

    def table(self, n: int) -> npt.NDArray[np.int64]:
        """Rows of the values ``0 .. n-1``, as a look-up table."""
        return self.rows_of(np.arange(n, dtype=np.int64))


def rows_of(sample: Sample, classes: Classes, ignore_value: int, overlap: str = "error") -> npt.NDArray[np.int64]:
    """A sample's ``(H, W)`` map of confusion-matrix rows (``classes.k``: ignored), any format."""
    src = sample.source
    if has_label_pixels(src) and src.ignore_value == ignore_value:
        labels, present = src.labels(sample.image)
        top = int(present[-1]) if present.size else 0
        if top < 256:
            return classes.table8[labels]
        return classes.table(top + 1)[labels] if top < DENSE_VALUES else classes.rows_of(labels)
    res = views.resolve(sample.load(), overlap)
    lut = np.concatenate([classes.rows_of(np.array([ignore_value])), classes.rows_of(res.segments.category_id)])
    return views.paint(res, lut)


@dataclass(frozen=True)
class _Pair:
    gt: Sample
    pred: Sample | None
    classes: Classes
    ignore_value: int
    boundary: float | None = None  # the dilation ratio of the Boundary IoU


def _confusion8(pair: _Pair) -> npt.NDArray[np.int64] | None:
    """The confusion matrix of two 8-bit label PNGs from their joint histogram (one C pass,
    no int64 copies of the maps); None when either side is something else."""
    gsrc, psrc = pair.gt.source, pair.pred.source if pair.pred is not None else None
    if not (has_label_pixels(gsrc) and has_label_pixels(psrc) and pair.pred is not None):
        return None
    if gsrc.ignore_value != pair.ignore_value or psrc.ignore_value != pair.ignore_value:
        return None
    a = gsrc.pixels8(pair.gt.image)
    b = psrc.pixels8(pair.pred.image) if a is not None else None
    if a is None or b is None or a.shape != b.shape:
        return None
    flat = np.zeros(65536, np.int64)
    _kernels.joint_hist8(np.ascontiguousarray(a), np.ascontiguousarray(b), flat)
    hist = flat.reshape(256, 256)
    g_count, p_count = hist.sum(axis=1), hist.sum(axis=0)
    gsrc.check_values(pair.gt.image, g_count)
    psrc.check_values(pair.pred.image, p_count)
    gv, pv = np.flatnonzero(g_count), np.flatnonzero(p_count)
    lut = pair.classes.table8
    k = pair.classes.k  # the ignore row and column
    cm = np.zeros((k + 1, k + 1), np.int64)
    np.add.at(cm, (lut[gv][:, None], lut[pv][None, :]), hist[np.ix_(gv, pv)])
    return cm[:k]  # ground truth on the ignore value is not counted


@dataclass(frozen=True)
class Cells:
    """One image's confusion matrix, its non-zero cells only: what a worker sends back. The
    dense ``k x (k + 1)`` matrix is 142 kB for COCO's 133 classes, where an image has tens
    of non-zero cells (measured: pickling the dense matrices was most of the parent's time)."""

    shape: tuple[int, int]
    at: npt.NDArray[np.int64]  # flat indices into the matrix, increasing
    count: npt.NDArray[np.int64]

    @classmethod
    def of(cls, cm: npt.NDArray[np.int64]) -> Cells:
        at = np.flatnonzero(cm)
        return cls((cm.shape[0], cm.shape[1]), at, cm.ravel()[at])

    def add_to(self, total: npt.NDArray[np.int64]) -> None:
        """Add these cells to ``total`` (a C-contiguous matrix of this shape)."""
        flat = total.reshape(-1)  # a view: the indices are unique, so += adds each once
        flat[self.at] += self.count

    def dense(self) -> npt.NDArray[np.int64]:
        cm = np.zeros(self.shape, np.int64)
        self.add_to(cm)
        return cm


def _confusion(pair: _Pair) -> tuple[Cells, npt.NDArray[np.int64] | None]:
    """The image's confusion matrix (its cells) and, with ``boundary``, its per-class
    boundary counts."""
    cm, edges = _matrix(pair)
    return Cells.of(cm), edges


def _matrix(pair: _Pair) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
    """The image's dense confusion matrix and, with ``boundary``, its boundary counts."""
    fast = _confusion8(pair) if pair.boundary is None else None
    if fast is not None:
        return fast, None
    k = pair.classes.k  # the ignore column
    gt = rows_of(pair.gt, pair.classes, pair.ignore_value)
    if pair.pred is None:  # --allow-missing: every pixel unlabelled
        pred = np.full_like(gt, k)
    else:
        pred = rows_of(pair.pred, pair.classes, pair.ignore_value)
    valid = gt != k
    counts = np.bincount(gt[valid] * (k + 1) + pred[valid], minlength=k * (k + 1))
    edges = None if pair.boundary is None else semantic_counts(gt, pred, k, pair.boundary)
    return counts.reshape(k, k + 1), edges


@dataclass
class SemanticResult:
    """A ``(K, K + 1)`` confusion matrix (rows: ground truth; last column: unlabelled)."""

    categories: tuple[Category, ...]
    confusion: npt.NDArray[np.int64]
    images: int
    missing: int = 0
    boundary: npt.NDArray[np.int64] | None = None  # (K, 2): boundary pixels in both, in either
    dilation_ratio: float | None = None
    per_image: list[dict[str, Any]] | None = None  # rows of --per-image (metrics/per_image.py)
    slices: dict[str, SemanticResult] | None = None  # each slice's images alone (metrics/slices.py)

    def per_class(self) -> dict[int, dict[str, Any]]:
        """IoU, accuracy and pixel counts per category (``None`` where undefined)."""
        cm = self.confusion
        tp = np.diag(cm[:, :-1])
        gt = cm.sum(axis=1)
        pred = cm[:, :-1].sum(axis=0)
        out = {}
        for k, c in enumerate(self.categories):
            union = gt[k] + pred[k] - tp[k]
            out[c.id] = {
                "name": c.name,
                "iou": float(tp[k] / union) if union else None,
                "accuracy": float(tp[k] / gt[k]) if gt[k] else None,
                "gt_pixels": int(gt[k]),
                "pred_pixels": int(pred[k]),
                "tp_pixels": int(tp[k]),
            }
            if self.boundary is not None:
                inter, union = (int(v) for v in self.boundary[k])
                out[c.id]["boundary_iou"] = inter / union if union else None
        return out

    def __repr__(self) -> str:
        d = self.to_dict()
        return (
            f"SemanticResult(mIoU={d['mIoU']:.4f} fwIoU={d['fwIoU']:.4f} pixel_accuracy={d['pixel_accuracy']:.4f}, "
            f"{len(self.categories)} classes, {self.images} images)"
        )

    def summary(self) -> str:
        """The four averages, then IoU and accuracy per class, as text."""
        d = self.to_dict()
        head = "  ".join(f"{k} {d[k]:.4f}" for k in ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy"))
        rows = [
            (r["name"], _or_dash(r["iou"]), _or_dash(r["accuracy"]), r["gt_pixels"]) for r in d["per_class"].values()
        ]
        return head + "\n" + tables.text(("class", "IoU", "accuracy", "gt pixels"), rows)

    def to_dataframe(self) -> Any:
        """One row per class: id, name, iou, accuracy and pixel counts (``pandas`` needed)."""
        rows = [{"category_id": c, **v} for c, v in self.per_class().items()]
        columns = ("category_id", "name", "iou", "accuracy", "gt_pixels", "pred_pixels", "tp_pixels")
        return tables.dataframe(rows, columns)

    def to_dict(self) -> dict[str, Any]:
        """mIoU, fwIoU, pixel and mean accuracy, per class, and the confusion matrix."""
        per = self.per_class()
        cm = self.confusion
        total = int(cm.sum())
        ious = [r["iou"] for r in per.values() if r["iou"] is not None]
        accs = [r["accuracy"] for r in per.values() if r["accuracy"] is not None]
        fw = sum(r["gt_pixels"] / total * r["iou"] for r in per.values() if r["gt_pixels"] and total)
        return {
            "mIoU": float(np.mean(ious)) if ious else 0.0,
            "fwIoU": float(fw),
            "pixel_accuracy": float(np.trace(cm[:, :-1]) / total) if total else 0.0,
            "mean_accuracy": float(np.mean(accs)) if accs else 0.0,
            "classes_averaged": len(ious),
            "per_class": per,
            "confusion_matrix": {
                "rows": [c.id for c in self.categories],
                "columns": [*[c.id for c in self.categories], "unlabelled"],
                "counts": cm.tolist(),
            },
            "images": self.images,
            "missing_predictions": self.missing,
            **self._boundary_dict(per),
            **extras(self.per_image, self.slices),
        }

    def _boundary_dict(self, per: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """The mean Boundary IoU over the classes that have one, when it was computed."""
        if self.boundary is None:
            return {}
        values = [r["boundary_iou"] for r in per.values() if r["boundary_iou"] is not None]
        return {
            "boundary_mIoU": float(np.mean(values)) if values else 0.0,
            "boundary_classes_averaged": len(values),
            "boundary_dilation_ratio": self.dilation_ratio,
        }


def evaluate(
    pairs: list[tuple[Sample, Sample | None]],
    categories: tuple[Category, ...],
    ignore_value: int,
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    boundary: float | None = None,
    per_image: bool = False,
    slices: Slices | None = None,
) -> SemanticResult:
    """Sum the confusion matrices of (ground truth, prediction) pairs; with ``boundary`` (a
    dilation ratio), the boundary counts of the Boundary IoU too. ``per_image``: a row per
    image; ``slices``: each slice's images alone too (:mod:`.per_image`), from the same
    matrices."""
    classes = Classes.of(categories)
    total = np.zeros((classes.k, classes.k + 1), dtype=np.int64)
    edges = None if boundary is None else np.zeros((classes.k, 2), np.int64)
    items = [_Pair(g, p, classes, ignore_value, boundary) for g, p in pairs]
    tally: Tally[_Counts] = Tally(per_image, slices, lambda: _Counts.zeros(classes.k, edges is not None), _row)
    for pair in items:
        tally.expect(pair.gt.image, pair.pred is None)
    for cm, counted in imap(_confusion, items, jobs=jobs_for(len(items), jobs), count=len(items)):
        cm.add_to(total)
        if edges is not None and counted is not None:
            edges += counted
        tally.add((cm, counted), _Counts.add)
        if progress is not None:
            progress(1)
    missing = sum(p is None for _, p in pairs)
    sliced = tally.results(lambda c, n, absent: SemanticResult(categories, c.confusion, n, absent, c.edges, boundary))
    return SemanticResult(categories, total, len(pairs), missing, edges, boundary, tally.image_rows(), sliced)


@dataclass
class _Counts:
    """A slice's confusion matrix and boundary counts."""

    confusion: npt.NDArray[np.int64]
    edges: npt.NDArray[np.int64] | None

    @classmethod
    def zeros(cls, k: int, boundary: bool) -> _Counts:
        return cls(np.zeros((k, k + 1), np.int64), np.zeros((k, 2), np.int64) if boundary else None)

    def add(self, image: tuple[Cells, npt.NDArray[np.int64] | None]) -> None:
        image[0].add_to(self.confusion)
        if self.edges is not None and image[1] is not None:
            self.edges += image[1]


def _row(image: ImageInfo, counts: tuple[Cells, Any]) -> dict[str, Any]:
    return semantic_row(image, counts[0].dense())


def _or_dash(value: float | None) -> float | str:
    return "-" if value is None else value
