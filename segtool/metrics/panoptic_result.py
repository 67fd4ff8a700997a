"""PQ's results: statistics per category summed over images, panopticapi's averages, and
the views a user reads (repr, text, ``to_dict``, ``to_dataframe``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import tables
from ..model import Category
from .slices import extras


@dataclass
class PQStat:
    """True/false positives, false negatives and summed IoU per category (arrays of K)."""

    tp: npt.NDArray[np.int64]
    fp: npt.NDArray[np.int64]
    fn: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64]

    @classmethod
    def zeros(cls, k: int) -> PQStat:
        """An empty statistic over ``k`` categories."""
        return cls(np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k))

    def __iadd__(self, other: PQStat) -> PQStat:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        return self


@dataclass(frozen=True)
class SparseStat:
    """One image's :class:`PQStat`, its categories with a count only: what a worker sends
    back. Four arrays over every category are 4 kB an image, 136 kB a chunk of 32 (COCO's
    133 categories): more than a pipe holds, so a worker waited on the parent, busy reading
    JSON, to take each chunk's results. :meth:`dense` gives the same arrays back."""

    k: int
    rows: npt.NDArray[np.int64]
    tp: npt.NDArray[np.int64]
    fp: npt.NDArray[np.int64]
    fn: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64]

    @classmethod
    def of(cls, stat: PQStat) -> SparseStat:
        rows = np.flatnonzero((stat.tp != 0) | (stat.fp != 0) | (stat.fn != 0) | (stat.iou != 0))
        return cls(len(stat.tp), rows, stat.tp[rows], stat.fp[rows], stat.fn[rows], stat.iou[rows])

    def dense(self) -> PQStat:
        out = PQStat.zeros(self.k)
        out.tp[self.rows], out.fp[self.rows], out.fn[self.rows] = self.tp, self.fp, self.fn
        out.iou[self.rows] = self.iou
        return out


@dataclass
class PanopticResult:
    """PQ statistics summed over images, with panopticapi's averages."""

    categories: tuple[Category, ...]
    stat: PQStat
    images: int
    missing: int = 0
    boundary: float | None = None  # Boundary PQ: its dilation ratio (the IoU is min(mask, boundary))
    per_image: list[dict[str, Any]] | None = None  # rows of --per-image (metrics/per_image.py)
    slices: dict[str, PanopticResult] | None = None  # each slice's images alone (metrics/slices.py)

    def average(self, isthing: bool | None) -> tuple[dict[str, Any], dict[int, dict[str, float]]]:
        """panopticapi's ``pq_average``: (``{pq, sq, rq, n}``, per-category ``{pq, sq, rq}``).

        With no category to average, panopticapi divides by zero; segtool reports 0.0, n = 0.
        """
        pq = sq = rq = 0.0
        n = 0
        per_class: dict[int, dict[str, float]] = {}
        for k, c in enumerate(self.categories):
            if isthing is not None and c.isthing != isthing:
                continue
            tp, fp, fn, iou = int(self.stat.tp[k]), int(self.stat.fp[k]), int(self.stat.fn[k]), float(self.stat.iou[k])
            if tp + fp + fn == 0:
                per_class[c.id] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                continue
            n += 1
            pq_c = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_c = iou / tp if tp != 0 else 0
            rq_c = tp / (tp + 0.5 * fp + 0.5 * fn)
            per_class[c.id] = {"pq": pq_c, "sq": sq_c, "rq": rq_c}
            pq, sq, rq = pq + pq_c, sq + sq_c, rq + rq_c
        if n == 0:
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
        return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class

    def to_panopticapi(self) -> dict[str, Any]:
        """The structure panopticapi's ``pq_compute`` returns."""
        out: dict[str, Any] = {}
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            out[name], per_class = self.average(isthing)
            if name == "All":
                out["per_class"] = per_class
        return out

    def __repr__(self) -> str:
        a = self.average(None)[0]
        if self.boundary is not None:
            return f"PanopticResult(Boundary PQ={a['pq']:.4f} SQ={a['sq']:.4f} RQ={a['rq']:.4f}, dilation ratio {self.boundary:g}, {self.images} images)"
        return f"PanopticResult(PQ={a['pq']:.4f} SQ={a['sq']:.4f} RQ={a['rq']:.4f}, {len(self.categories)} categories, {self.images} images)"

    def summary(self) -> str:
        """panopticapi's printed table (PQ, SQ, RQ in percent, N categories averaged)."""
        lines = ["{:10s}| {:>5s}  {:>5s}  {:>5s} {:>5s}".format("", "PQ", "SQ", "RQ", "N"), "-" * (10 + 7 * 4)]
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            a = self.average(isthing)[0]
            lines.append(f"{name:10s}| {100 * a['pq']:5.1f}  {100 * a['sq']:5.1f}  {100 * a['rq']:5.1f} {a['n']:5d}")
        return "\n".join(lines)

    def to_dataframe(self) -> Any:
        """One row per category: id, name, isthing, pq, sq, rq, tp, fp, fn (``pandas`` needed)."""
        rows = [{"category_id": c, **v} for c, v in self.to_dict()["per_class"].items()]
        return tables.dataframe(rows, ("category_id", "name", "isthing", "pq", "sq", "rq", "tp", "fp", "fn"))

    def to_dict(self) -> dict[str, Any]:
        """panopticapi's structure plus counts per category and the number of images."""
        out = self.to_panopticapi()
        for k, c in enumerate(self.categories):
            out["per_class"][c.id].update(
                name=c.name,
                isthing=c.isthing,
                tp=int(self.stat.tp[k]),
                fp=int(self.stat.fp[k]),
                fn=int(self.stat.fn[k]),
            )
        out["images"] = self.images
        out["missing_predictions"] = self.missing
        if self.boundary is not None:
            out["boundary_dilation_ratio"] = self.boundary
        return {**out, **extras(self.per_image, self.slices)}
