"""A COCO polygon as COCO stores it: its own (shoelace) area, its points' extent, and what
makes one degenerate. validate compares a polygon annotation's ``area`` and ``bbox`` with
these, and ``--fix`` recomputes them from them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import masks


def outline_problem(p: Any) -> str | None:
    """Why one polygon of a segmentation is degenerate, or None when it is usable."""
    if not isinstance(p, list) or len(p) < 6 or len(p) % 2:
        return f"a polygon with {len(p) if isinstance(p, list) else '?'} coordinates"
    if not all(type(v) is int or type(v) is float for v in p):
        return "a polygon with non-numeric coordinates"
    try:
        xy = np.asarray(p, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        xy = np.array([np.inf])
    if not np.isfinite(xy).all():
        return "a polygon with non-finite coordinates (NaN, infinity or beyond 1e308)"
    if np.abs(xy).max() > masks.POLYGON_MAX_COORD:  # no image is that large; its area would overflow
        return f"a polygon with coordinates beyond ±{masks.POLYGON_MAX_COORD:,} (2^27)"
    if shoelace(p) == 0:
        return "the polygon has no area"
    return None


def shoelace(p: list[float]) -> float:
    """A polygon's own area: what COCO stores as a polygon annotation's ``area``."""
    x, y = np.asarray(p[0::2], float), np.asarray(p[1::2], float)
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def polygon_geometry(polys: list[list[float]]) -> tuple[float, list[float]]:
    """Summed shoelace area and the points' extent [x, y, w, h] of usable polygons."""
    xs = [v for p in polys for v in p[0::2]]
    ys = [v for p in polys for v in p[1::2]]
    box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return sum(shoelace(p) for p in polys), [float(v) for v in box]
