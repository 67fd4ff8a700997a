"""TIDE, the confusion matrix and calibration, computed in COCOeval's own pass over the
images: TIDE's matching is made on COCOeval's IoUs of the image (:func:`.tide.match_image`),
the IoUs with ground truth of other classes computed for the unmatched detections only
(what TIDE's Cls, Bkg and Both tests read), and each analysis keeps only a
small per-image record, sent back from the worker; the records are combined at the end
in ascending image id order (COCOeval's), whatever order the images finished in.

Usage: ``a = Analyses(tide=True, confusion=0.5, calibration=10)``,
``evaluate_instance(gt, dets, analyses=a)``, then ``a.to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError
from ..model import Category
from . import calibration as _calibration
from . import confusion as _confusion
from . import tide as _tide
from .instance_result import Params


@dataclass
class ImageAnalysis:
    """One image's records (None: that analysis was not asked)."""

    tide: _tide.TideImage | None
    cells: npt.NDArray[np.int64] | None
    calibration: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None


class Analyses:
    """Which analyses to make (``confusion``: its score threshold, ``calibration``: its
    number of bins; None: not made) and, in the main process, the images' records. Pickled
    to a worker it travels without its records."""

    def __init__(self, tide: bool = False, confusion: float | None = None, calibration: int | None = None) -> None:
        if calibration is not None and calibration < 1:
            raise SegtoolError(f"calibration bins must be a positive integer, got {calibration}")
        self.tide, self.confusion, self.calibration = tide, confusion, calibration
        self.records: list[tuple[int, ImageAnalysis]] = []
        self.categories: tuple[Category, ...] = ()
        self.iou_type = "segm"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "records": []}

    def __bool__(self) -> bool:
        return self.tide or self.confusion is not None or self.calibration is not None

    def bind(self, params: Params, categories: tuple[Category, ...]) -> Params:
        """``params`` that carry these analyses into COCOeval's pass (masks or boxes only)."""
        if params.iou_type not in ("segm", "bbox"):
            raise SegtoolError(
                f"TIDE, confusion and calibration score masks or boxes, not --iou-type {params.iou_type}"
            )
        self.records, self.categories, self.iou_type = [], categories, params.iou_type
        return AnalysisParams(**{k: getattr(params, k) for k in Params.__dataclass_fields__}, analyses=self)

    def image(self, rows: Any, crowd: Any, gt_cls: Any, iou: Any, max_dets: int, full: Any) -> ImageAnalysis:
        """One image's records: ``rows`` the detections' (category, score, place in the
        file) columns, ``iou`` COCOeval's (detections, ground truth) matrix (crowd columns
        as crowd IoU; -1 for pairs of different classes), ``full(rows)`` the complete rows
        of some detections."""
        m, _ = _tide.match_image(
            rows[0], rows[1], rows[2], gt_cls, crowd, iou, max_dets, full, self.confusion is not None
        )
        return ImageAnalysis(
            _tide.tide_image(m) if self.tide else None,
            _confusion.confusion_image(m, self.confusion) if self.confusion is not None else None,
            _calibration.calibration_image(m) if self.calibration is not None else None,
        )

    def add(self, rank: int, record: ImageAnalysis) -> None:
        """An image's records; ``rank``: its place among the sorted image ids."""
        self.records.append((rank, record))

    def to_dict(self) -> dict[str, Any]:
        """``tide`` (tidecv's units: AP points), ``confusion`` and ``calibration``, as asked."""
        records = [r for _, r in sorted(self.records, key=lambda x: x[0])]
        out: dict[str, Any] = {}
        if self.tide:
            mode = "mask" if self.iou_type == "segm" else "bbox"
            numbers = _tide.decompose([r.tide for r in records if r.tide is not None])
            out["tide"] = {"mode": mode, "pos_threshold": _tide.POS, "background_threshold": _tide.BG, **numbers}
        if self.confusion is not None:
            cells = [r.cells for r in records if r.cells is not None]
            out["confusion"] = {
                "iou_threshold": _tide.POS,
                "score_threshold": self.confusion,
                **_confusion.matrix(cells, self.categories),
            }
        if self.calibration is not None:
            parts = [r.calibration for r in records if r.calibration is not None]
            out["calibration"] = {"iou_threshold": _tide.POS, **_calibration.bins(parts, self.calibration)}
        return out


@dataclass(frozen=True)
class AnalysisParams(Params):
    """COCOeval's parameters with the analyses to make in the same pass."""

    analyses: Analyses | None = None
