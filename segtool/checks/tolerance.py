"""How far a stored ``area`` or ``bbox`` may be from what the checks measure before it is an
error (docs/validate.md, "Tolerances").

What a checker measures is exact: a polygon's shoelace area and its points' extent, a mask's
pixel count and pixel box. What real files store is not always that number: LVIS and COCO
round to 2 decimals, old COCO tools and datumaro write a box one pixel wider or narrower
(``w = x2 - x1 + 1`` or ``x2 - x1`` over pixel indices), and labelme or pycococreator store a
polygon's *pixel* count and pixel box. A difference these explain is ``TOLERATED`` (an info
finding, ``area-tolerated``/``bbox-tolerated``); a larger one is a ``MISMATCH`` (the error).

:class:`Tolerance` ``(pixels, fraction)``, default ``(0.01, 0.001)``:

- every area and bbox value may be ``pixels`` off (numbers rounded to 2 decimals: 0.005 each,
  0.01 for a width computed from two rounded ends);
- a polygon's area may also be ``fraction`` of itself off (LVIS: 0.1%);
- unless the tolerance is 0 (strict): a mask's box may be one pixel wider or taller, or
  narrower or shorter (``w``, ``h`` within ``1 + pixels``, ``x``, ``y`` within ``pixels``);
  a polygon's box may be the box of its pixels (whole numbers, each edge within
  ``1 + pixels`` of the points' extent) and its area their count (a whole number, within
  ``pixels`` + :func:`pixel_slack`: only pixels the outline crosses can be counted in or
  out by a rasteriser, at most √2/2 px of them per unit of outline, plus one);
- ``Tolerance(0, 0)`` is the strict comparison: equal to :data:`EXACT` (1e-6, relative for
  areas), nothing else accepted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from .findings import Check, Finding
from .registry import INF, finding, register

EXACT = 1e-6  # the strict comparison: areas relative (to at least 1), box values absolute

register(
    Check(
        "area-tolerated",
        INF,
        "a segment's area differs from its mask within the tolerance (rounding; a polygon's pixel count;"
        " a box-only area up to (w + 1) × (h + 1)); --tolerance 0 makes it an error",
    ),
    Check(
        "bbox-tolerated",
        INF,
        "a segment's bbox differs from its mask's extent within the tolerance (rounding; w and h one pixel off;"
        " a polygon's pixel box); --tolerance 0 makes it an error",
    ),
)


class Verdict(Enum):
    """How a stored value compares with the measured one."""

    EXACT = "exact"
    TOLERATED = "tolerated"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class Tolerance:
    """``pixels``: how far any area or bbox value may be off (absolute); ``fraction``: how far
    a polygon's area may be off, relative to it. ``Tolerance(0, 0)`` is strict (also no
    one-pixel box conventions and no pixel counts for polygons)."""

    pixels: float = 0.01
    fraction: float = 0.001

    def __post_init__(self) -> None:
        for name in ("pixels", "fraction"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and not isinstance(value, bool)) or not 0 <= value < math.inf:
                raise ValueError(f"tolerance {name} must be a number ≥ 0, got {value!r:.40}")

    @property
    def strict(self) -> bool:
        """Nothing tolerated: today's exact comparison."""
        return self.pixels == 0 and self.fraction == 0

    @classmethod
    def of(cls, value: Any) -> Tolerance:
        """A tolerance from what a caller may give: a Tolerance, a number (``pixels``, with
        ``fraction = pixels / 10``: 0 is strict, 0.01 the default), a pair, or the text
        ``"PX"`` / ``"PX,FRACTION"`` of ``--tolerance``."""
        if isinstance(value, Tolerance):
            return value
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
            if not 1 <= len(parts) <= 2:
                raise ValueError(f"expected PX or PX,FRACTION, got {value!r:.40}")
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                raise ValueError(f"expected PX or PX,FRACTION (numbers), got {value!r:.40}") from None
            return cls.of(tuple(numbers))
        if isinstance(value, tuple | list) and len(value) == 2:
            return cls(value[0], value[1])
        if isinstance(value, tuple | list) and len(value) == 1:
            value = value[0]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(value, value / 10)
        raise ValueError(f"a tolerance is PX or (PX, FRACTION), got {value!r:.40}")

    def __str__(self) -> str:
        return "0" if self.strict else f"{self.pixels:g},{self.fraction:g}"


def _whole(value: float, tol: Tolerance) -> bool:
    """A pixel count or a pixel box's corner: a whole number (give or take the rounding)."""
    return abs(float(value) - round(float(value))) <= tol.pixels + _fuzz(value)


def _fuzz(reference: float) -> float:
    """Room for floating-point noise in a bound (0.01 off a 2-decimal value is 0.0100000001)."""
    return EXACT * max(1.0, abs(reference))


def area_verdict(
    given: float, measured: float, tol: Tolerance, *, outline: float | None = None, exact: float = EXACT
) -> tuple[Verdict, str]:
    """``given`` (the stored area) against ``measured``: a pixel count, or a polygon's own area
    when ``outline`` (its perimeter, summed over its polygons) is given. ``exact`` is the
    strict comparison's slack, relative (coco-panoptic passes 0: its areas are integers).
    Returns the verdict and, when tolerated, why."""
    diff = abs(given - measured)
    if diff <= exact * max(1.0, abs(measured)):
        return Verdict.EXACT, ""
    if tol.strict:
        return Verdict.MISMATCH, ""
    rounding = tol.pixels + (tol.fraction * abs(measured) if outline is not None else 0.0)
    if diff <= rounding + _fuzz(measured):
        share = f", {100 * diff / abs(measured):.2g}%" if measured else ""
        return Verdict.TOLERATED, f"rounding: {diff:.4g} off{share}"
    if outline is not None and _whole(given, tol) and diff <= tol.pixels + pixel_slack(outline) + _fuzz(measured):
        return Verdict.TOLERATED, f"a pixel count of the polygon: {diff:.4g} px off, {pixel_slack(outline):.4g} allowed"
    return Verdict.MISMATCH, ""


def pixel_slack(outline: float) -> float:
    """How far the pixel count of a polygon may be from its area, for a polygon of perimeter
    ``outline``: a rasteriser decides only the pixels the outline crosses, and those lie in
    the band of pixels within half a pixel of it, whose area is at most √2/2 per unit of
    outline (a diagonal edge; 1/2 for an axis-parallel one) plus 1 (Steiner's formula for a
    convex polygon grown by a pixel). A 4×4 square through pixel centres: 16, its touched
    pixels 25 = 16 + 8 + 1."""
    return math.sqrt(0.5) * outline + 1.0


def box_verdict(
    given: Sequence[float], measured: Sequence[float], tol: Tolerance, *, polygon: bool, exact: float = EXACT
) -> tuple[Verdict, str]:
    """A stored ``[x, y, w, h]`` against the measured box: a mask's pixel box, or a polygon's
    points' extent (``polygon``). ``exact``: the strict comparison's slack, absolute."""
    diff = [float(a) - float(b) for a, b in zip(given, measured, strict=True)]
    if max(map(abs, diff)) <= exact:
        return Verdict.EXACT, ""
    if tol.strict:
        return Verdict.MISMATCH, ""
    near = tol.pixels + max(_fuzz(v) for v in measured)
    dx, dy, dw, dh = diff
    if max(map(abs, diff)) <= near:
        return Verdict.TOLERATED, f"rounding: {max(map(abs, diff)):.4g} off"
    if abs(dx) <= near and abs(dy) <= near and abs(dw) <= 1 + near and abs(dh) <= 1 + near:
        sides = ", ".join(f"{n} {d:+.4g}" for n, d in (("w", dw), ("h", dh)) if abs(d) > near)
        return Verdict.TOLERATED, f"{sides}: a one-pixel width convention, w = x2 - x1 + 1 or x2 - x1"
    edges = (dx, dy, dx + dw, dy + dh)
    if polygon and all(_whole(v, tol) for v in given) and max(map(abs, edges)) <= 1 + near:
        return Verdict.TOLERATED, "the box of the polygon's pixels: every edge within 1 px"
    return Verdict.MISMATCH, ""


def box_area_verdict(area: float, box: Sequence[float], tol: Tolerance, *, exact: float = EXACT) -> Verdict:
    """A box-only annotation's area (no mask to measure) against its box: at most ``w × h``
    (strict), or ``(w + 1) × (h + 1)`` (the one-pixel width conventions) plus ``pixels``.
    Boxes with a negative side are not judged (``EXACT``)."""
    w, h = float(box[2]), float(box[3])
    if w < 0 or h < 0:
        return Verdict.EXACT
    inside = w * h
    if area <= inside + exact * max(1.0, inside):
        return Verdict.EXACT
    if tol.strict:
        return Verdict.MISMATCH
    if area <= (w + 1) * (h + 1) + tol.pixels + _fuzz(inside):
        return Verdict.TOLERATED
    return Verdict.MISMATCH


def outline(polygons: Sequence[Sequence[float]]) -> float:
    """The summed perimeter of flat ``[x0, y0, x1, y1, ...]`` polygons (closed)."""
    total = 0.0
    for p in polygons:
        xy = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        total += float(np.hypot(*(xy - np.roll(xy, 1, axis=0)).T).sum())
    return total


def verdict_finding(
    kind: str, verdict: Verdict, why: str, stored: Any, measured: str, path: str, image_id: Any, segment_id: Any
) -> Finding:
    """The finding of a stored ``kind`` ("area" or "bbox") that is not exactly what its mask
    measures (``measured``: "the PNG has 12 pixels"): ``KIND-tolerated`` (info) within the
    tolerance (``why``: the rule that absorbed it), ``KIND-mismatch`` beyond it."""
    if verdict is Verdict.TOLERATED:
        msg = f"{kind} is {stored} and {measured}: within the tolerance ({why})"
        return finding(f"{kind}-tolerated", msg, path, image_id, segment_id)
    return finding(f"{kind}-mismatch", f"{kind} is {stored} but {measured}", path, image_id, segment_id)
