"""LVIS' federated AP and AR, identical to lvis-api's ``LVISEval`` (lvis 0.5.3).

LVIS is exhaustively annotated per image only for some categories, so lvis-api scores a
detection only where the ground truth says something about its category (``eval.py``'s
``_prepare`` and ``evaluate_img``; ``results.py``'s ``limit_dets_per_image``):

- an image keeps its 300 highest-scoring detections, whatever their categories (a stable
  sort: equal scores keep file order); the per-category cap of COCOeval does not apply;
- ground truth and detections whose ``area`` is not strictly between 0 and infinity are
  left out (``get_ann_ids``' area filter), before anything else looks at them;
- a detection counts only when its category is present in the image (it has ground truth
  there) or listed in the image's ``neg_category_ids`` (verified absent): any other is
  dropped, neither true nor false positive;
- an unmatched detection of a category in the image's ``not_exhaustive_category_ids`` is
  ignored (a missing annotation, not a mistake);
- nothing is crowd (``iscrowd`` plays no part), and matching, accumulation and 101-point
  interpolation are COCOeval's, which segtool already computes (:mod:`.instances`);
- AP is also averaged over the categories of each ``frequency`` group: APr, APc, APf
  (rare, common, frequent); AR is at 300 detections (``AR@300``, ``ARs@300`` ...).

The rules run per image as an :data:`~.instances.Adjust` on segtool's COCOeval machinery,
so LVIS gets its speed (C IoU and matching, one sort per category) and its streaming.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import tables
from ..errors import SegtoolError
from ..model import Category, Dataset, ImageInfo, Sample
from .instance_result import IOU_THRS, InstanceResult, Params
from .instance_subsets import take
from .instances import Objects
from .instances import evaluate as _evaluate
from .slices import Sliced, Slices, extras

MAX_DETS = 300  # lvis-api's LVISResults(max_dets=300), the official limit per image
FREQUENCIES = ("r", "c", "f")  # rare (< 10 training images), common (< 100), frequent
NEG, NOT_EXHAUSTIVE = "neg_category_ids", "not_exhaustive_category_ids"
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "APr",
    "APc",
    "APf",
    f"AR@{MAX_DETS}",
    f"ARs@{MAX_DETS}",
    f"ARm@{MAX_DETS}",
    f"ARl@{MAX_DETS}",
)


def is_lvis(dataset: Dataset) -> bool:
    """An LVIS ground truth: its image records list verified-absent or not exhaustively
    annotated categories (``neg_category_ids`` / ``not_exhaustive_category_ids``)."""
    return any(NEG in s.image.extra or NOT_EXHAUSTIVE in s.image.extra for s in dataset.samples)


def check(dataset: Dataset, samples: Iterable[Sample] | None = None) -> None:
    """Each image's ``neg_category_ids`` and ``not_exhaustive_category_ids`` are lists of
    the dataset's category ids (absent: empty); anything else is bad input, one line naming
    the file, the image and the id (lvis-api would score such a file without a word)."""
    known = {c.id for c in dataset.categories}
    for s in dataset.samples if samples is None else samples:
        for key in (NEG, NOT_EXHAUSTIVE):
            ids = s.image.extra.get(key, [])
            if not isinstance(ids, list):
                raise SegtoolError(f"image {s.image.id!r:.40}: {key} must be a list of category ids", dataset.path)
            bad = [c for c in ids if type(c) is not int or c not in known]
            if bad:
                raise SegtoolError(
                    f"image {s.image.id!r:.40}: {key} lists {bad[0]!r:.40}, which is not a category id", dataset.path
                )


def frequencies(categories: Iterable[Category]) -> dict[int, str]:
    """Each category's ``frequency`` (r, c or f); a category without one is in no group
    (lvis-api would fail on it)."""
    return {c.id: c.frequency for c in categories if c.frequency in FREQUENCIES and c.frequency is not None}


@dataclass(frozen=True)
class Federated:
    """lvis-api's per-image rules (see the module) as an :data:`~.instances.Adjust`;
    ``cat_ids``: LVISEval's ``params.cat_ids`` when a subset is asked."""

    cat_ids: frozenset[int] | None = None

    def __call__(self, gt: Objects, dt: Objects, image: ImageInfo) -> tuple[Objects, Objects, npt.NDArray[np.bool_]]:
        if len(dt.ids) > MAX_DETS:  # sorted(..., key=score, reverse=True)[:300]: ties keep file order
            at = np.sort(np.argsort(-dt.score, kind="stable")[:MAX_DETS])
        else:
            at = np.arange(len(dt.ids))
        g_keep = self._kept(gt.area, gt.category_id)
        gt = take(gt, g_keep)
        gt.iscrowd = np.zeros(len(gt.ids), bool)
        told = np.concatenate([gt.category_id, np.asarray(image.extra.get(NEG, []), np.int64)])
        d_cat = dt.category_id[at]
        dt = take(dt, at[self._kept(dt.area[at], d_cat) & _among(d_cat, told)])
        return gt, dt, _among(dt.category_id, np.asarray(image.extra.get(NOT_EXHAUSTIVE, []), np.int64))

    def _kept(self, area: npt.NDArray[np.float64], category: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """get_ann_ids' filter: area in (0, inf), a category of the subset."""
        keep: npt.NDArray[np.bool_] = (area > 0) & (area < np.inf)
        if self.cat_ids is not None:
            keep &= _among(category, np.fromiter(self.cat_ids, np.int64, len(self.cat_ids)))
        return keep


def _among(values: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """``np.isin`` for the few values and ids of one image, without its set-up cost."""
    found: npt.NDArray[np.bool_] = (values[:, None] == ids[None, :]).any(axis=1)
    return found


@dataclass
class LVISResult:
    """``precision`` (T, R, K, A) and ``recall`` (T, K, A), as ``LVISEval.eval``, categories
    in ascending id order, and their frequency groups."""

    categories: tuple[Category, ...]
    params: Params
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    images: int
    frequency: dict[int, str]
    per_image: list[dict[str, Any]] | None = None  # rows of --per-image (metrics/per_image.py)
    slices: dict[str, LVISResult] | None = None  # LVISEval with img_ids = each slice's images

    def _group(self, g: str) -> list[int]:
        return [k for k, c in enumerate(self.categories) if self.frequency.get(c.id) == g]

    def _summarize(self, ap: bool, iou_thr: float | None = None, area: str = "all", group: str | None = None) -> float:
        """LVISEval._summarize: the mean of the defined entries, -1 when none is."""
        a = self.params.area_lbl.index(area)
        s = self.precision if ap else self.recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRS)[0]]
        if ap:
            s = s[:, :, self._group(group), a] if group is not None else s[:, :, :, a]
        else:
            s = s[:, :, a]
        return -1.0 if not np.any(s > -1) else float(np.mean(s[s > -1]))

    def _rows(self) -> list[tuple[str, bool, float | None, str, str | None]]:
        """LVISEval.summarize's keys, in its order: (name, AP or AR, IoU, area, frequency group)."""
        rows: list[tuple[str, bool, float | None, str, str | None]] = [
            ("AP", True, None, "all", None),
            ("AP50", True, 0.5, "all", None),
            ("AP75", True, 0.75, "all", None),
        ]
        rows += [(f"AP{a[0]}", True, None, a, None) for a in ("small", "medium", "large")]
        rows += [(f"AP{g}", True, None, "all", g) for g in FREQUENCIES]
        rows += [(f"AR@{MAX_DETS}", False, None, "all", None)]
        rows += [(f"AR{a[0]}@{MAX_DETS}", False, None, a, None) for a in ("small", "medium", "large")]
        return rows

    @property
    def results(self) -> dict[str, float]:
        """``LVISEval.results``: AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300,
        ARm@300, ARl@300."""
        return {name: self._summarize(ap, thr, area, g) for name, ap, thr, area, g in self._rows()}

    @property
    def stats(self) -> npt.NDArray[np.float64]:
        """The 13 numbers of :attr:`results`, in their order."""
        return np.array(list(self.results.values()))

    @property
    def eval(self) -> dict[str, Any]:
        """``LVISEval.eval``'s arrays: ``precision`` (T, R, K, A) and ``recall`` (T, K, A)."""
        return {"params": self.params, "counts": list(self.precision.shape), **self._arrays()}

    def _arrays(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall}

    def per_category_ap(self) -> dict[int, float | None]:
        """AP per category (IoU .50:.95, all areas), None for one without ground truth."""
        out: dict[int, float | None] = {}
        for k, c in enumerate(self.categories):
            p = self.precision[:, :, k, 0]
            out[c.id] = float(np.mean(p[p > -1])) if np.any(p > -1) else None
        return out

    def to_dict(self) -> dict[str, Any]:
        """The results under lvis-api's names, ``stats`` in that order, AP per category."""
        results = self.results
        return {
            "iou_type": self.params.iou_type,
            "lvis": True,
            "max_dets": MAX_DETS,
            "stats": list(results.values()),
            **results,
            "per_class": {
                c.id: {"name": c.name, "frequency": self.frequency.get(c.id), "AP": ap}
                for c, ap in zip(self.categories, self.per_category_ap().values(), strict=True)
            },
            "images": self.images,
            **extras(self.per_image, self.slices),
        }

    def summarize(self) -> str:
        """``LVISEval.print_results()``' lines, returned rather than printed."""
        template = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} catIds={:>3s}] = {:0.3f}"
        out = []
        for (_, ap, thr, area, group), value in zip(self._rows(), self.results.values(), strict=True):
            title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
            iou = f"{IOU_THRS[0]:0.2f}:{IOU_THRS[-1]:0.2f}" if thr is None else f"{thr:0.2f}"
            shown = area[0] if area != "all" else "all"
            out.append(template.format(title, kind, iou, shown, MAX_DETS, group or "all", value))
        return "\n".join(out)

    def summary(self) -> str:
        """Text for people: the lines of :meth:`summarize`."""
        return self.summarize()

    def __repr__(self) -> str:
        r = self.results
        return (
            f"LVISResult({self.params.iou_type} AP={r['AP']:.4f} APr={r['APr']:.4f} APc={r['APc']:.4f}"
            f" APf={r['APf']:.4f}, {len(self.categories)} categories, {self.images} images)"
        )

    def to_dataframe(self) -> Any:
        """One row per category: id, name, frequency, AP (``pandas`` needed)."""
        rows = [{"category_id": c, **v} for c, v in self.to_dict()["per_class"].items()]
        return tables.dataframe(rows, ("category_id", "name", "frequency", "AP"))


def evaluate(
    pairs: Iterable[tuple[int, Sample, Sample | None]],
    categories: tuple[Category, ...],
    params: Params,
    *,
    count: int,
    frequency: dict[int, str],
    cat_ids: frozenset[int] | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    per_image: bool = False,
    slices: Slices | None = None,
) -> LVISResult:
    """LVISEval (evaluate + accumulate) over (rank, ground truth, prediction) triples, as
    :func:`.instances.evaluate` takes them; ``frequency``: each category's group.
    ``per_image``, ``slices``: rows and slices from the same per-image evaluations, under
    the federated rules (docs/metrics/per-image.md)."""
    scored = tuple(c for c in categories if cat_ids is None or c.id in cat_ids)
    lvis_params = replace(params, max_dets=(MAX_DETS,))
    found = _evaluate(
        pairs,
        categories,
        lvis_params,
        count=count,
        jobs=jobs,
        progress=progress,
        adjust=Federated(cat_ids),
        scored=scored,
        per_image=per_image,
        slices=slices,
    )
    sliced = None if not isinstance(found.slices, Sliced) else found.slices.map(lambda r: of_coco(r, frequency))
    return replace(of_coco(found, frequency), per_image=found.per_image, slices=sliced)


def of_coco(found: InstanceResult, frequency: dict[int, str]) -> LVISResult:
    """COCOeval's accumulated arrays (one maxDets, 300) as LVISEval's result."""
    p, r = found.precision[..., 0], found.recall[..., 0]
    return LVISResult(found.categories, found.params, p, r, found.images, frequency)
