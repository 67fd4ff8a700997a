"""Boundary IoU (Cheng et al., "Boundary IoU: Improving Object-Centric Image Segmentation
Evaluation", CVPR 2021): the IoU of two masks' boundary regions, the pixels of each mask
within ``d`` pixels of its contour, ``d = ratio x the image diagonal`` (docs/metrics/boundary.md).

A mask's boundary region is the mask minus its erosion by a ``(2d + 1) x (2d + 1)`` square,
with everything outside the image counted as background (so a mask cut by the image border
has a boundary there): boundary-iou-api's ``mask_to_boundary`` (``d`` 3x3 erosions of the
mask padded by one background pixel) and faster-coco-eval's C++ ``toBoundary`` compute the
same set. segtool erodes only a mask's bounding box (outside it the mask is background, so
the result is the same), as a row and a column erosion of width ``2d + 1`` (the square is
separable), never decoding a full-image mask per object.

This module holds the pieces the three evaluations share and Boundary AP's (``narrow``);
:mod:`.boundary_maps` has Boundary PQ's and the semantic Boundary IoU's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import numpy as np
import numpy.typing as npt

from ..masks import RLE
from ..rleowner import counts as rle_counts
from .instance_result import Params

DEFAULT_RATIO = 0.02  # the paper's (and both reference tools') dilation ratio


@dataclass(frozen=True)
class BoundaryParams(Params):
    """COCOeval's parameters for ``iou_type="boundary"``, with the dilation ratio."""

    dilation_ratio: float = DEFAULT_RATIO


def params_with_ratio(params: Params, ratio: float) -> BoundaryParams:
    """``params`` as :class:`BoundaryParams` with ``ratio``: every other field kept."""
    kept = {f.name: getattr(params, f.name) for f in fields(params) if f.name != "dilation_ratio"}
    return BoundaryParams(**kept, dilation_ratio=ratio)


def check_ratio(ratio: float) -> None:
    """A dilation ratio is a fraction of the diagonal: 0 < ratio <= 1 (a NaN is refused)."""
    if not (isinstance(ratio, int | float) and 0 < ratio <= 1):
        raise ValueError(f"the dilation ratio must be in (0, 1], got {ratio!r}")


def dilation(height: int, width: int, ratio: float, *, half_down: bool = False) -> int:
    """The boundary width ``d`` in pixels for an image of this size, at least 1.

    ``ratio x sqrt(h² + w²)`` rounded: boundary-iou-api rounds with Python's ``round``
    (halves to even); faster-coco-eval with C++'s ``std::round(x - 1e-10)`` (halves down),
    which Boundary AP follows (``half_down``). They differ only when the product is a half
    exactly (0.02 x 75 = 1.5 for a 45 x 60 image: 2 pixels, against 1 for faster-coco-eval).
    """
    value = ratio * math.sqrt(height * height + width * width)
    if half_down:
        value -= 1e-10
        whole = math.floor(value)
        d = whole + (1 if value - whole >= 0.5 else 0)
    else:
        d = round(value)
    return max(int(d), 1)


def boundary(mask: npt.NDArray[np.bool_], d: int) -> npt.NDArray[np.bool_]:
    """The boundary region of a 2-D mask: its pixels whose ``(2d + 1)``-square window
    reaches a background pixel or leaves the array (the array's edge is the image's, or a
    box whose outside the mask does not reach)."""
    k = 2 * d + 1
    if mask.shape[0] < k or mask.shape[1] < k:  # no window fits: every pixel is boundary
        return mask.copy()
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8)
    eroded = cv2.erode(m, np.ones((1, k), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    eroded = cv2.erode(eroded, np.ones((k, 1), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    out: npt.NDArray[np.bool_] = mask & (eroded == 0)
    return out


@dataclass(frozen=True)
class Crop:
    """A boundary region within its mask's bounding box (the box's top-left ``y0, x0``)."""

    y0: int
    x0: int
    pixels: npt.NDArray[np.bool_]
    count: int

    @classmethod
    def of(cls, y0: int, x0: int, mask: npt.NDArray[np.bool_], d: int) -> Crop:
        """The boundary of ``mask``, the crop of a mask at ``(y0, x0)`` covering its box."""
        pixels = boundary(mask, d)
        return cls(y0, x0, pixels, int(np.count_nonzero(pixels)))


EMPTY = Crop(0, 0, np.zeros((0, 0), bool), 0)


def intersection(a: Crop, b: Crop) -> int:
    """Pixels in both boundary regions, counted where their boxes meet."""
    y0, x0 = max(a.y0, b.y0), max(a.x0, b.x0)
    y1 = min(a.y0 + a.pixels.shape[0], b.y0 + b.pixels.shape[0])
    x1 = min(a.x0 + a.pixels.shape[1], b.x0 + b.pixels.shape[1])
    if y1 <= y0 or x1 <= x0:
        return 0
    pa = a.pixels[y0 - a.y0 : y1 - a.y0, x0 - a.x0 : x1 - a.x0]
    pb = b.pixels[y0 - b.y0 : y1 - b.y0, x0 - b.x0 : x1 - b.x0]
    return int(np.count_nonzero(pa & pb))


def rle_crop(rle: RLE, d: int) -> Crop:
    """The boundary region of a compressed COCO RLE (column-major runs), decoded within
    the mask's box only. The strings were checked when read; one that does not decode
    here (it cannot) is an error rather than a silent empty mask."""
    cnt = rle_counts(rle)
    if cnt is None:
        raise ValueError(f"undecodable RLE of size {rle['size']}")
    h = int(rle["size"][0])
    edges = np.cumsum(cnt)
    starts, ends = edges[0::2][: len(edges) // 2], edges[1::2]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if not starts.size:
        return EMPTY
    first, last = int(starts[0]), int(ends[-1])
    x0, x1 = first // h, (last - 1) // h
    if np.any((ends - 1) // h > starts // h):  # a run across a column end covers rows h-1 and 0
        y0, y1 = 0, h
    else:
        y0, y1 = int((starts % h).min()), int(((ends - 1) % h).max()) + 1
    # the box's columns, full height: runs and the gaps between them as 1s and 0s
    lengths = np.empty(2 * starts.size - 1, np.int64)
    lengths[0::2] = ends - starts
    lengths[1::2] = starts[1:] - ends[:-1]
    flat = np.zeros((x1 - x0 + 1) * h, np.bool_)
    flat[first - x0 * h : last - x0 * h] = np.repeat(np.arange(lengths.size) % 2 == 0, lengths)
    columns = flat.reshape(x1 - x0 + 1, h)[:, y0:y1]
    return Crop.of(y0, x0, np.ascontiguousarray(columns.T), d)


def pair_iou(a: Crop, b: Crop) -> float:
    """Boundary IoU of two regions, as pycocotools' ``iou`` divides (0 when they do not meet)."""
    inter = intersection(a, b)
    return 0.0 if inter == 0 else float(inter) / float(a.count + b.count - inter)


def narrow(
    ious: npt.NDArray[np.float64],
    dt: list[RLE],
    gt: list[RLE],
    crowd: npt.NDArray[np.bool_],
    ratio: float,
) -> None:
    """Boundary AP's IoU, in place: ``min(mask IoU, boundary IoU)`` for every (detection,
    ground truth) pair, as faster-coco-eval's ``iouType="boundary"``. Crowd ground truth
    keeps its mask IoU (intersection over the detection's area); pairs whose mask IoU is
    0 (or -1: another category) keep it, since the minimum cannot change them. Each
    object's boundary is computed once, and only for objects of such a pair."""
    if not len(dt) or not len(gt):
        return
    h, w = (int(v) for v in gt[0]["size"])
    d = dilation(h, w, ratio, half_down=True)
    rows, cols = np.nonzero((ious > 0) & ~crowd[None, :])
    dt_crops: dict[int, Crop] = {}
    gt_crops: dict[int, Crop] = {}
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        a = dt_crops.get(i)
        if a is None:
            a = dt_crops[i] = rle_crop(dt[i], d)
        b = gt_crops.get(j)
        if b is None:
            b = gt_crops[j] = rle_crop(gt[j], d)
        ious[i, j] = min(float(ious[i, j]), pair_iou(a, b))
