"""COCO polygons through pycocotools, guarded: checked (:func:`polygon_problem`), drawn
(:func:`rasterize`, :func:`rasterize_many`, one ``frPyObjects`` call per image) and traced
back from a mask (:func:`polygons`). The RLE side and the image-size check are
:mod:`segtool.cocomask`'s; ``segtool.masks`` re-exports both modules' names.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from . import kernels
from .cocomask import RLE, check_size, size_ok

# Polygons. pycocotools rasterises one by walking every edge at 5 points per pixel: ~100
# bytes and 0.15 µs per pixel of edge length (measured: 1e6 pixels, 99 MB, 0.16 s), so the
# length, not the JSON's size, sets its cost. An annotation's polygons may reach one image
# size beyond each side of the image (a point outside it is already a warning in validate)
# and never beyond ±2^27 (5x that still fits pycocotools' int). Their edges, measured as
# pycocotools walks them (the larger of |dx| and |dy| per edge), may add up to 64 image
# perimeters, and at most 2^20 pixels (~100 MB): a traced mask of any real object is far
# shorter, and segtool writes a mask whose tracing is longer as RLE.
POLYGON_PERIMETERS = 64
POLYGON_MAX_LENGTH = 2**20
POLYGON_MAX_COORD = 2**27
_TREE_MERGE = 8  # more polygons than this are merged pairwise: pycocotools' merge is quadratic
_NUMBER_TYPES = {float, int}  # a coordinate's type exactly (not bool, not a numpy scalar)


def polygon_problem(polys: list[Any], height: int, width: int) -> str | None:
    """Why pycocotools must not rasterise one annotation's polygons in a ``height`` x
    ``width`` image, or None: not lists of at least 3 (x, y) numbers, not finite, points
    more than one image size beyond the image, or edges too long (see the module's limits);
    or an image size :func:`check_size` refuses."""
    try:
        check_size(height, width)
    except ValueError as exc:
        return str(exc)
    n = 0
    for p in polys:
        if type(p) is not list or len(p) < 6 or len(p) % 2:
            size = len(p) if type(p) is list else "no list of"
            return f"a polygon with {size} coordinates (needs an even number, at least 6)"
        n += len(p)
    if not set(map(type, chain.from_iterable(polys))) <= _NUMBER_TYPES:
        return "polygon coordinates must be numbers"
    try:
        xy = np.fromiter(chain.from_iterable(polys), np.float64, n)
    except OverflowError:
        xy = np.array([np.inf])
    if not np.isfinite(xy).all():
        return "polygon coordinates must be finite numbers (not NaN, infinity or beyond 1e308)"
    x, y = xy[0::2], xy[1::2]
    if (
        x.min() < -width
        or x.max() > 2 * width
        or y.min() < -height
        or y.max() > 2 * height
        or np.abs(xy).max() > POLYGON_MAX_COORD
    ):
        return (
            f"polygon points reach x {x.min():g}..{x.max():g}, y {y.min():g}..{y.max():g}: more than"
            f" one image size beyond the {width}x{height} image"
        )
    points = np.array([len(p) // 2 for p in polys])
    ends = np.cumsum(points)
    nxt = np.arange(1, len(x) + 1)
    nxt[ends - 1] = ends - points  # each polygon closes on its first point
    length = float(np.maximum(np.abs(x[nxt] - x), np.abs(y[nxt] - y)).sum())
    most = min(POLYGON_PERIMETERS * 2 * (height + width), POLYGON_MAX_LENGTH)
    if length > most:
        return f"polygon edges {length:,.0f} pixels long, more than the {most:,} allowed in a {width}x{height} image"
    return None


def rasterize(polys: list[list[float]], height: int, width: int) -> RLE:
    """pycocotools' ``merge(frPyObjects(polys, h, w))`` (bytes counts), after the checks.

    Many polygons are merged pairwise: the union is the same mask, and pycocotools writes one
    mask one way, so the same bytes (tested); its merge of n at once costs n times the runs.
    """
    return rasterize_many([polys], height, width)[0]


def rasterize_many(groups: list[list[list[float]]], height: int, width: int) -> list[RLE]:
    """``[rasterize(g, height, width) for g in groups]``, the same bytes and first error: one
    image's annotations checked in one pass (:func:`_all_fit`; :func:`polygon_problem` only
    where it doubts, to say why) and drawn by one ``frPyObjects`` call."""
    if not groups:
        return []
    if not _all_fit(groups, height, width):
        for g in groups:
            why = polygon_problem(g, height, width)
            if why is not None:
                raise ValueError(why)
    drawn: list[RLE] = mask_utils.frPyObjects([p for g in groups for p in g], height, width)
    out, k = [], 0
    for g in groups:
        out.append(_merged(drawn[k : k + len(g)]))
        k += len(g)
    return out


def drawn_areas(rles: list[RLE]) -> npt.NDArray[np.int64]:
    """pycocotools' ``area`` of :func:`rasterize_many`'s RLEs as it returned them (counts
    pycocotools wrote itself: not decoded strictly again); 255 at a time, as its ``area``
    sizes a uint8 array by their number (OverflowError beyond, under numpy 2)."""
    parts = [np.asarray(mask_utils.area(rles[i : i + 255]), np.int64) for i in range(0, len(rles), 255)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _merged(rles: list[RLE]) -> RLE:
    """pycocotools' ``merge`` of one annotation's polygons (pairwise beyond a few; one: copied)."""
    if len(rles) == 1:
        return rles[0]
    if len(rles) <= _TREE_MERGE:
        merged: RLE = mask_utils.merge(rles)
        return merged
    while len(rles) > 1:
        rles = [mask_utils.merge(rles[i : i + 2]) if i + 1 < len(rles) else rles[i] for i in range(0, len(rles), 2)]
    return rles[0]


def _all_fit(groups: list[list[list[float]]], height: int, width: int) -> bool:
    """True only when :func:`polygon_problem` accepts every group (False may be wrong: then
    it decides). Plain Python over all the groups' points at once (numpy's cost per call
    exceeds a 30-point polygon's checks): the point limits are the image's, and a group's
    edges are at most its points times the points' extent long; a group that bound does
    not clear is measured by :func:`polygon_problem`."""
    polys = [p for g in groups for p in g]
    if not polys or not all(groups) or not size_ok(height, width):
        return False
    if any(type(p) is not list or len(p) < 6 or len(p) % 2 for p in polys):
        return False
    flat = polys[0] if len(polys) == 1 else list(chain.from_iterable(polys))
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        return False
    try:
        if not math.isfinite(sum(flat)):  # NaN or infinity among them (or a sum beyond floats)
            return False
    except OverflowError:  # an integer beyond floats
        return False
    xs, ys = flat[0::2], flat[1::2]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x0 < -width or x1 > 2 * width or y0 < -height or y1 > 2 * height:
        return False
    if max(-x0, x1, -y0, y1) > POLYGON_MAX_COORD:
        return False
    step = max(x1 - x0, y1 - y0)  # no edge is longer, as pycocotools measures edges
    most = min(POLYGON_PERIMETERS * 2 * (height + width), POLYGON_MAX_LENGTH) * (1 - 1e-6)  # (sums' rounding)
    return all(sum(map(len, g)) // 2 * step <= most or polygon_problem(g, height, width) is None for g in groups)


def polygons(mask: npt.NDArray[np.uint8]) -> list[list[float]] | None:
    """COCO polygons that pycocotools rasterises back to exactly ``mask``, or ``None``.

    pycocotools treats pixel ``i`` as the interval ``[i, i + 1)``, so a polygon must run
    along pixel *corners*. OpenCV traces pixel centres; tracing the mask upsampled 2× and
    mapping each vertex ``v`` to ``ceil(v / 2)`` puts every vertex on the right corner
    (left/top edges land on even ``v``, right/bottom edges on odd ``v``).
    ``None`` when the mask has a hole (COCO polygons are a union, they cannot subtract), or
    when the tracing is longer than :func:`polygon_problem` allows (it would not be read back).
    """
    import cv2

    up = np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or np.any(hierarchy[0][:, 3] >= 0):  # a contour with a parent is a hole
        return None
    out = []
    for c in contours:
        pts = (c.reshape(-1, 2) + 1) // 2
        pts = pts[np.any(pts != np.roll(pts, 1, axis=0), axis=1)]
        if len(pts) < 3:
            return None
        out.append(pts.ravel().astype(float).tolist())
    return None if polygon_problem(out, *mask.shape[:2]) else out


# Areas and RLEs without pycocotools' drawing. segtool.kernels.poly_areas counts the area
# of each instance's polygons (pycocotools': the drawn pixels) and the box toBbox gives, with
# rleFrPoly's arithmetic but no mask, and poly_rles also writes the RLE string pycocotools
# writes; ~4x cheaper than frPyObjects + merge, the same numbers and bytes (tested).


def polygon_areas(
    groups: list[list[list[float]]], height: int, width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """pycocotools' ``area`` and ``toBbox`` of each of :func:`rasterize_many`'s RLEs (boxes
    as ``(len(groups), 4)``): the same numbers and the same first error, nothing drawn."""
    areas, boxes = np.zeros(len(groups), np.int64), np.zeros((len(groups), 4), np.float64)
    packed = _packed(groups, height, width)
    if packed is None:
        drawn = rasterize_many(groups, height, width)
        return drawn_areas(drawn), np.asarray(mask_utils.toBbox(drawn), np.float64).reshape(-1, 4)
    if kernels.poly_areas(*packed, height, width, areas, boxes.reshape(-1)) >= 0:
        for k in np.flatnonzero(areas < 0).tolist():  # what the limits doubt: decided as drawn
            rle = rasterize(groups[k], height, width)  # (raises polygon_problem's reason)
            areas[k] = int(drawn_areas([rle])[0])
            boxes[k] = mask_utils.toBbox(rle)
    return areas, boxes


def polygon_rles(
    groups: list[list[list[float]]],
    height: int,
    width: int,
    packed: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None,
) -> tuple[list[RLE], npt.NDArray[np.int64]]:
    """:func:`rasterize_many`'s RLEs (``str`` counts) and their :func:`drawn_areas`: the same
    bytes, numbers and first error, written by :func:`segtool.kernels.poly_rles`. ``packed``:
    the groups' coordinates and polygon ends as the kernel takes them, when every group is
    one polygon (the caller has them: not gathered again)."""
    areas, boxes = np.zeros(len(groups), np.int64), np.zeros(4 * len(groups), np.float64)
    packed3: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None
    if packed is not None and size_ok(height, width) and len(packed[1]) == len(groups):
        packed3 = (*packed, np.arange(1, len(groups) + 1, dtype=np.int64))
    else:
        packed3 = _packed(groups, height, width)
    if packed3 is None:
        drawn = rasterize_many(groups, height, width)
        strings: list[str | None] = [_text(r["counts"]) for r in drawn]
        areas = drawn_areas(drawn)
    else:
        first, strings = kernels.poly_rles(*packed3, height, width, areas, boxes)
        for k in np.flatnonzero(areas < 0).tolist() if first >= 0 else []:  # decided as drawn
            rle = rasterize(groups[k], height, width)  # (raises polygon_problem's reason)
            areas[k], strings[k] = int(drawn_areas([rle])[0]), _text(rle["counts"])
    return [{"size": [height, width], "counts": t} for t in strings], areas


def _packed(
    groups: list[list[list[float]]], height: int, width: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The kernels' arguments for ``groups`` (coordinates, polygon ends, group ends), or None
    for what they cannot take (not lists of at least 3 (x, y) numbers, an instance without
    polygons, an image size :func:`check_size` refuses): pycocotools' path says why."""
    polys = [p for g in groups for p in g]
    if not groups or not size_ok(height, width) or not all(groups):
        return None
    if any(type(p) is not list or len(p) < 6 or len(p) % 2 for p in polys):
        return None
    flat = list(chain.from_iterable(polys))
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        return None
    try:
        xy = np.fromiter(flat, np.float64, len(flat))
    except OverflowError:  # an integer beyond floats
        return None
    ends = np.cumsum(np.fromiter(map(len, polys), np.int64, len(polys))) // 2
    return xy, ends, np.cumsum(np.fromiter(map(len, groups), np.int64, len(groups)))


def _text(counts: Any) -> str:
    return counts.decode("ascii") if isinstance(counts, bytes) else str(counts)
