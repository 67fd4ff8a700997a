"""COCOeval's results: ``precision`` and ``recall`` arrays, the 12 numbers of
``summarize()``, and the shape users of pycocotools know (``.stats``, ``.eval``,
``.summarize()``), plus a short repr, text, ``to_dict`` and ``to_dataframe``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import tables
from ..model import Category
from .slices import extras

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
IOU_BARS = np.minimum(IOU_THRS, 1 - 1e-10)  # evaluateImg's starting bar per threshold
AREA_RNG = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LBL = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass(frozen=True)
class Params:
    """COCOeval's parameters (``iouType`` segm or bbox)."""

    iou_type: str = "segm"
    max_dets: tuple[int, ...] = MAX_DETS
    area_rng: tuple[tuple[float, float], ...] = AREA_RNG
    area_lbl: tuple[str, ...] = AREA_LBL


@dataclass
class InstanceResult:
    """``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M), as COCOeval.eval."""

    categories: tuple[Category, ...]
    params: Params
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    images: int
    per_image: list[dict[str, Any]] | None = None  # rows of --per-image (metrics/per_image.py)
    slices: dict[str, InstanceResult] | None = None  # each slice's images alone (metrics/slices.py)

    def _summarize(self, ap: bool, iou_thr: float | None = None, area: str = "all", max_dets: int = 100) -> float:
        aind = [i for i, lbl in enumerate(self.params.area_lbl) if lbl == area]
        mind = [i for i, m in enumerate(self.params.max_dets) if m == max_dets]
        s = self.precision if ap else self.recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    def _lines(self) -> list[tuple[bool, float | None, str, int]]:
        """``summarize()``'s 12 rows: (AP or AR, IoU threshold, area, maxDets)."""
        m = self.params.max_dets
        return [
            (True, None, "all", 100),  # pycocotools' literal default, whatever maxDets are
            (True, 0.5, "all", m[2]),
            (True, 0.75, "all", m[2]),
            (True, None, "small", m[2]),
            (True, None, "medium", m[2]),
            (True, None, "large", m[2]),
            (False, None, "all", m[0]),
            (False, None, "all", m[1]),
            (False, None, "all", m[2]),
            (False, None, "small", m[2]),
            (False, None, "medium", m[2]),
            (False, None, "large", m[2]),
        ]

    @property
    def stats(self) -> npt.NDArray[np.float64]:
        """The 12 numbers of ``COCOeval.summarize()``, in its order (``COCOeval.stats``)."""
        return np.array([self._summarize(ap, thr, area, md) for ap, thr, area, md in self._lines()])

    @property
    def eval(self) -> dict[str, Any]:
        """``COCOeval.eval``'s arrays: ``precision`` (T, R, K, A, M), ``recall`` (T, K, A, M)
        and their ``counts``; categories in ascending id order."""
        return {
            "params": self.params,
            "counts": list(self.precision.shape),
            "precision": self.precision,
            "recall": self.recall,
        }

    def summarize(self) -> str:
        """``COCOeval.summarize()``'s 12 lines, character for character; returned, not
        printed (the library never prints): ``print(result.summarize())``."""
        out = []
        for ap, thr, area, md in self._lines():
            title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
            iou = f"{IOU_THRS[0]:0.2f}:{IOU_THRS[-1]:0.2f}" if thr is None else f"{thr:0.2f}"
            value = self._summarize(ap, thr, area, md)
            out.append(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={md:>3d} ] = {value:0.3f}")
        return "\n".join(out)

    def summary(self) -> str:
        """Text for people: the 12 lines of :meth:`summarize`."""
        return self.summarize()

    def __repr__(self) -> str:
        s = self.stats
        return f"InstanceResult({self.params.iou_type} AP={s[0]:.4f} AP50={s[1]:.4f} AR100={s[8]:.4f}, {len(self.categories)} categories, {self.images} images)"

    def to_dataframe(self) -> Any:
        """One row per category: id, name, AP (``pandas`` needed)."""
        rows = [{"category_id": c, **v} for c, v in self.to_dict()["per_class"].items()]
        return tables.dataframe(rows, ("category_id", "name", "AP"))

    def per_category_ap(self) -> dict[int, float | None]:
        """AP per category (IoU .50:.95, all areas, the largest maxDets), as detectron2 reports it."""
        out: dict[int, float | None] = {}
        for k, c in enumerate(self.categories):
            p = self.precision[:, :, k, 0, -1]
            out[c.id] = float(np.mean(p[p > -1])) if np.any(p > -1) else None
        return out

    def to_dict(self) -> dict[str, Any]:
        """``stats`` in summarize() order, the same under names, and AP per category."""
        stats = self.stats.tolist()
        return {
            "iou_type": self.params.iou_type,
            "stats": stats,
            **dict(zip(STAT_NAMES, stats, strict=True)),
            "per_class": {
                c.id: {"name": c.name, "AP": ap}
                for c, ap in zip(self.categories, self.per_category_ap().values(), strict=True)
            },
            "images": self.images,
            **extras(self.per_image, self.slices),
        }
