"""Boundary IoU on index maps: Boundary PQ's pairs and the semantic Boundary IoU's counts.

Both follow the paper's definitions (docs/metrics/boundary.md): a segment's (or a class
region's) boundary region is the segment minus its erosion by a ``(2d + 1)`` square, the
outside of the image counted as background; ``d`` is rounded as boundary-iou-api rounds
it (Python's ``round``), the reference implementation of Boundary PQ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .boundary import Crop, boundary, dilation, intersection


@dataclass(frozen=True)
class PanopticBoundaries:
    """The boundary regions of one image's ground-truth and predicted segments, computed
    for the pairs asked about (each segment once).

    ``gt``/``pred`` are index maps (0: void, ``k + 1``: segment ``k``), ``*_boxes`` the
    segments' COCO boxes ``[x, y, w, h]`` from their pixels.
    """

    gt: npt.NDArray[np.integer]
    pred: npt.NDArray[np.integer]
    gt_boxes: npt.NDArray[np.float64]
    pred_boxes: npt.NDArray[np.float64]
    d: int

    @classmethod
    def of(
        cls,
        gt: npt.NDArray[np.integer],
        pred: npt.NDArray[np.integer],
        gt_boxes: npt.NDArray[np.float64],
        pred_boxes: npt.NDArray[np.float64],
        ratio: float,
    ) -> PanopticBoundaries:
        """Index maps of one image (the same size) and the ratio of its diagonal."""
        h, w = gt.shape
        return cls(gt, pred, gt_boxes, pred_boxes, dilation(h, w, ratio))

    def _crop(self, index: npt.NDArray[np.integer], boxes: npt.NDArray[np.float64], k: int) -> Crop:
        x, y, bw, bh = (int(v) for v in boxes[k])
        return Crop.of(y, x, index[y : y + bh, x : x + bw] == k + 1, self.d)

    def ious(self, gi: npt.NDArray[np.int64], pi: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Boundary IoU of each (ground-truth segment, predicted segment) pair, 0-based.

        As boundary-iou-api's ``pq_compute``: the union leaves out the predicted boundary's
        pixels on ground-truth void, as PQ's mask IoU leaves out the prediction's.
        """
        out = np.zeros(len(gi))
        gt_crops: dict[int, Crop] = {}
        pred_crops: dict[int, Crop] = {}
        for n, (g, p) in enumerate(zip(gi.tolist(), pi.tolist(), strict=True)):
            a = gt_crops.get(g)
            if a is None:
                a = gt_crops[g] = self._crop(self.gt, self.gt_boxes, g)
            b = pred_crops.get(p)
            if b is None:
                b = pred_crops[p] = self._crop(self.pred, self.pred_boxes, p)
            inter = intersection(a, b)
            under = self.gt[b.y0 : b.y0 + b.pixels.shape[0], b.x0 : b.x0 + b.pixels.shape[1]]
            on_void = int(np.count_nonzero(b.pixels & (under == 0)))
            union = a.count + b.count - inter - on_void
            out[n] = inter / union if union else 0.0
        return out


def semantic_counts(
    gt: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], k: int, ratio: float
) -> npt.NDArray[np.int64]:
    """``(k, 2)``: per class, the boundary pixels in both regions and in either, on one
    image. ``gt`` and ``pred`` are maps of class rows (``k``: ignored in the ground truth,
    unlabelled in the prediction). A class's region is its pixels in the map; its boundary
    is computed on the whole map, then pixels the ground truth ignores are left out of
    both counts (as mIoU leaves them out)."""
    out = np.zeros((k, 2), np.int64)
    if gt.size == 0:
        return out
    d = dilation(gt.shape[0], gt.shape[1], ratio)
    valid = gt != k
    present, boxes = _boxes(gt, pred, k)
    for c, (y0, y1, x0, x1) in zip(present.tolist(), boxes.tolist(), strict=True):
        if c >= k:  # ignored or unlabelled: no class
            continue
        window = slice(y0, y1), slice(x0, x1)  # outside it, c is on neither side
        g, p, v = boundary(gt[window] == c, d), boundary(pred[window] == c, d), valid[window]
        out[c, 0] = np.count_nonzero(g & p & v)
        out[c, 1] = np.count_nonzero((g | p) & v)
    return out


def _boxes(
    gt: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The values on either map (0 .. ``k``), and each one's box on both: ``[y0, y1, x0,
    x1]`` (ends exclusive). Outside its box a value is on neither map, so a region's
    erosion within the box, the box's edge counted as background, is its erosion in the
    whole map. Found from the maps' runs along rows (one comparison per pixel), not a
    pass per value."""
    h, w = gt.shape
    top, left = np.full(k + 1, h), np.full(k + 1, w)
    bottom, right = np.zeros(k + 1, np.int64), np.zeros(k + 1, np.int64)  # last row / column + 1
    for m in (gt, pred):
        change = np.ones((h, w), np.bool_)
        change[:, 1:] = m[:, 1:] != m[:, :-1]
        starts = np.flatnonzero(change)  # runs never cross a row: each row starts one
        ends = np.append(starts[1:], h * w)
        value, row, col = m.ravel()[starts], starts // w, starts % w
        np.minimum.at(top, value, row)
        np.minimum.at(left, value, col)
        np.maximum.at(bottom, value, row + 1)
        np.maximum.at(right, value, (ends - 1) % w + 1)
    present = np.flatnonzero(bottom > 0)
    return present, np.stack([top[present], bottom[present], left[present], right[present]], axis=1)
