"""What the evaluation entry points share (:mod:`segtool.evaluate`): datasets and
predictions read through the registry and a label map, slices and boundary options checked,
the box-only refusal, and progress that a second try does not count twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import formats, labelmap, pairing, relabel
from .errors import SegtoolError
from .labelmap import LabelMap
from .metrics.boundary import DEFAULT_RATIO, BoundaryParams, check_ratio, params_with_ratio
from .metrics.instance_result import Params
from .metrics.slices import Slices, SlicesLike, slices_of
from .model import Dataset

PathLike = Path | str


def dataset(source: PathLike | Dataset, fmt: str | None = None, **opts: Any) -> Dataset:
    if not isinstance(source, Dataset):
        return formats.read(Path(source), fmt, **opts)
    labels = opts.get("labels")
    return source if labels is None else relabel.apply(source, labels)


def predictions_for(
    pred: Any, gt: Dataset, fmt: str | None = None, labels: LabelMap | None = None, **opts: Any
) -> pairing.Predictions:
    """Predictions of any kind (see the module doc) for the ground truth ``gt``; with
    ``labels`` (the ground truth's label map), their categories mapped as the ground truth's."""
    if isinstance(pred, str | Path):
        return formats.read_predictions(Path(pred), gt, fmt, labels=labels, **opts)
    preds = pairing.Predictions.of(pred) if isinstance(pred, Dataset) else formats.from_memory(pred, gt, **opts)
    return preds if labels is None else relabel.predictions(preds, labels, gt.categories)


def label_map(read_options: dict[str, Any] | None) -> LabelMap | None:
    """The label map among a ground truth's read options, parsed once for both sides."""
    labels = (read_options or {}).get("labels")
    return labelmap.load(labels) if labels is not None and not isinstance(labels, LabelMap) else labels


def checked_slices(slices: SlicesLike | None, known: list[Any]) -> Slices | None:
    """The slices asked for, read and checked against the ground truth's image ids."""
    parts = slices_of(slices)
    if parts is not None:
        parts.check(known)
    return parts


def boundary_params(params: Params, ratio: float | None) -> Params:
    """``params`` checked, with the dilation ratio of Boundary AP (refused for another IoU)."""
    if params.iou_type not in ("segm", "bbox", "boundary"):
        raise SegtoolError(f"--iou-type must be segm, bbox or boundary, got {params.iou_type!r}")
    if params.iou_type != "boundary":
        if ratio is not None:
            raise SegtoolError("--dilation-ratio applies to --iou-type boundary only")
        return params
    if ratio is None:
        return params if isinstance(params, BoundaryParams) else params_with_ratio(params, DEFAULT_RATIO)
    checked_ratio(ratio)
    return params_with_ratio(params, ratio)


def boundary_ratio(boundary: bool, ratio: float | None) -> float | None:
    """The dilation ratio of a boundary metric (None: the plain one)."""
    if not boundary:
        if ratio is not None:
            raise SegtoolError("--dilation-ratio applies with --boundary only")
        return None
    return DEFAULT_RATIO if ratio is None else checked_ratio(ratio)


def checked_ratio(ratio: float) -> float:
    """A dilation ratio checked (0 < ratio <= 1), as a one-line error."""
    try:
        check_ratio(ratio)
    except ValueError as exc:
        raise SegtoolError(str(exc)) from None
    return ratio


def check_pred_masks(pred: Any, iou_type: str) -> None:
    """Mask AP of detections without masks is refused (exit 2) with the way out: a results
    list whose first detection has a ``bbox`` and no ``segmentation`` (pycocotools would
    score each box as a rectangle mask, lvis-api likewise: rarely what was meant)."""
    if iou_type == "bbox":
        return
    first: Any = None
    where = None
    if isinstance(pred, list | tuple):
        first = pred[0] if pred else None
    elif isinstance(pred, str | Path) and Path(pred).suffix.lower() == ".json" and Path(pred).is_file():
        where, first = str(pred), first_listed(Path(pred))
    if isinstance(first, dict) and not first.get("segmentation") and first.get("bbox") is not None:
        msg = "the detections have no masks (a 'bbox', no 'segmentation'): score boxes with --iou-type bbox"
        raise SegtoolError(msg, where)


def first_listed(path: Path) -> Any:
    """The first item of a JSON file that is a list (a results file); None for anything
    else, or a file that does not parse (its reader says why, later). Through the registry's
    sketch: every byte is scanned by the JSON guard before a parser sees it (yajl crashes on
    a 4,301-digit integer)."""
    try:
        found = formats.sketch(path)
    except SegtoolError:
        return None
    return found[0] if isinstance(found, list) and found else None


class Steps:
    """``progress`` counting its steps, so that a second try (predictions read whole after a
    stream that could not pair them) reports only the images past the first try's."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress, self.done, self.skip = progress, 0, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None and self.done > self.skip:
            self.progress(min(n, self.done - self.skip))

    def again(self) -> Steps:
        """The same, from the start again, quiet for the steps already reported."""
        self.skip, self.done = self.done, 0
        return self
