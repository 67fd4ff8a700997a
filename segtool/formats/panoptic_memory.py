"""COCO panoptic predictions held in memory: a training loop scores its id maps and
``segments_info`` without writing PNGs (panopticapi #48). Each becomes a source with the
same checks and the same fast PQ path as a PNG."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, png
from ..errors import SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Segments
from ..pairing import Predictions
from .coco_panoptic import _check_ids, _segments

MEMORY = "<in-memory predictions>"


def from_memory(predictions: Mapping[Any, Any], gt: Dataset | tuple[Category, ...], **_: Any) -> Predictions:
    """In-memory predictions (image id → (id map, segments_info)) as sources, checked as a
    JSON's would be: the id map is ``(H, W)`` integer ids or ``(H, W, 3)`` RGB ids."""
    known = {c.id for c in (gt.categories if isinstance(gt, Dataset) else gt)}
    out: dict[int, Any] = {}
    for iid, value in predictions.items():
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise SegtoolError(f"prediction for image {iid!r:.40}: expected (id map, segments_info)", MEMORY)
        id_map, info = value
        segs = _segments({"image_id": iid, "segments_info": info}, known, Path(MEMORY))
        out[iid] = PanopticArray(_as_rgb(np.asarray(id_map), iid), segs)
    return Predictions(out, "id", MEMORY)


def _as_rgb(ids: npt.NDArray[Any], iid: Any) -> npt.NDArray[np.uint8]:
    """An in-memory id map as RGB ids (what panoptic PNGs hold)."""
    if ids.ndim == 3 and ids.shape[2] == 3 and ids.dtype == np.uint8:
        return np.ascontiguousarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise SegtoolError(
            f"prediction for image {iid!r:.40}: the id map must be (H, W) integers or (H, W, 3) uint8 RGB, "
            f"got {ids.dtype} of shape {ids.shape}",
            MEMORY,
        )
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= 2**24):
        raise SegtoolError(f"prediction for image {iid!r:.40}: ids must lie in 0..2**24-1", MEMORY)
    return masks.id2rgb(ids.astype(np.int64))


@dataclass(frozen=True, slots=True)
class PanopticArray:
    """Pixels of one image held in memory: RGB panoptic ids and their segment table (a
    training loop's predictions, scored without writing PNGs)."""

    ids: npt.NDArray[np.uint8]
    segments: Segments

    def rgb(self, image: ImageInfo) -> npt.NDArray[np.uint8]:
        """The RGB ids, checked against the image's size."""
        if self.ids.shape[:2] != (image.height, image.width):
            raise SegtoolError(
                f"image {image.id}: the id map is {self.ids.shape[1]}x{self.ids.shape[0]} but the image is "
                f"{image.width}x{image.height}",
                MEMORY,
            )
        return self.ids

    def check_ids(self, image: ImageInfo, unknown: npt.NDArray[np.int64], area: npt.NDArray[np.int64]) -> None:
        """As :meth:`PanopticPng.check_ids`."""
        _check_ids(self.segments, image, unknown, area, MEMORY)

    def load(self, image: ImageInfo) -> Annotation:
        """Runs of segment indices, as :meth:`PanopticPng.load`."""
        runs, unknown = masks.Runs.of_ids(png.rgb_to_u32(self.rgb(image)), self.segments.id)
        self.check_ids(image, unknown, runs.areas())
        return Annotation(image, self.segments, origin=MEMORY, runs=runs)
