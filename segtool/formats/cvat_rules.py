"""The rules of one CVAT for images 1.1 ``<image>``'s shapes, written once for the reader
and ``validate``; CVAT's mask RLE; the shapes rasterised.

Every problem goes to the caller's error policy (:mod:`segtool.policy`) under a check code
other formats use already: ``shape-degenerate`` (a polygon with fewer than 3 points, a box
with no area, coordinates that are not finite numbers or reach more than one image size
beyond the image, a ``<mask>`` whose rle does not fill its box or whose box is not inside
the image), ``shape-outside`` (points outside the image: read, pycocotools clips them),
``empty-mask`` (a ``<mask>`` without a pixel), ``label-unknown`` (a label ``<meta>`` does not
declare; an empty ``label=""`` is read past, the shape dropped), ``shape-dropped``
(polylines, points and CVAT's other non-area shapes) and ``malformed-record``.

Areas are drawn as coco-instance draws polygons (pycocotools, pixel ``i`` is ``[i, i+1)``),
so a CVAT polygon converted to coco-instance stays the same polygon with the same pixels:

* ``<polygon points="x1,y1;x2,y2;...">``: that polygon;
* ``<box xtl ytl xbr ybr [rotation]>``: the polygon of its four corners (turned by
  ``rotation`` degrees, clockwise, about its centre): ``(xbr - xtl) * (ybr - ytl)`` pixels
  for integer corners, the ``area`` CVAT's own COCO export gives a box;
* ``<mask rle left top width height>``: ``rle`` is run lengths over the ``width`` x
  ``height`` box, row by row, starting with a run of 0s (background).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kernels, masks
from ..policy import Policy

AREAS = ("polygon", "box", "mask")
NOT_AREAS = {
    "polyline": "CVAT polyline (not an area)",
    "points": "CVAT points (not an area)",
    "ellipse": "CVAT ellipse (not read)",
    "cuboid": "CVAT cuboid (not read)",
    "skeleton": "CVAT skeleton (not read)",
    "tag": "CVAT tag (an image label, not a shape)",
}
UNLABELED = 'CVAT shape without a label (label="")'
MAX_POINTS = 1 << 20
POINTS = re.compile(r"[^,;]+,[^,;]+(?:;[^,;]+,[^,;]+)*")  # "x1,y1;x2,y2;...": one comma a point
CROWD = "iscrowd"  # the attribute segtool writes on a crowd region's <mask> (CVAT has no crowd)


@dataclass(slots=True)
class Shape:
    """One area shape: its place in the image (later ones are drawn on top at equal
    ``z_order``), kind, label, ``z_order``, ``group_id`` (0: none), its own extent (COCO's
    ``[x, y, w, h]``), and its geometry: a polygon's flat ``x, y`` list (a box's four
    corners), or a mask's ``(left, top, width, height)`` and run lengths. Not changed once
    made, but not frozen: a frozen dataclass's ``__init__`` costs ~4x (2.7 us a shape, 30
    shapes an image: a tenth of reading one)."""

    index: int
    kind: str
    label: str
    z_order: int
    group: int
    box: tuple[float, float, float, float]
    polygon: tuple[float, ...] = ()
    mask: tuple[int, int, int, int] = (0, 0, 0, 0)
    counts: npt.NDArray[np.int64] | None = None
    crowd: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class ImageShapes:
    """An image's area shapes, and what was dropped (reason -> count)."""

    shapes: list[Shape] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    # when every shape is a polygon read by parse_points: their coordinates and ends, as the
    # polygon kernels take them (segtool.cocopoly.polygon_rles)
    packed: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None


def parse_image(
    el: ET.Element,
    height: int,
    width: int,
    labels: frozenset[str],
    path: str,
    report: Policy,
    image_id: Any,
    *,
    drawn: bool = False,
) -> ImageShapes:
    """The shapes of one ``<image>`` element, each problem reported under its check code.
    ``drawn``: the caller rasterises every polygon, and :func:`segtool.masks.rasterize`
    checks it then (so it is not measured twice: half the reader's time): its coordinates'
    limits and the points outside the image are left to it."""
    out = ImageShapes()
    plain, packed = _plain_points(el)
    for k, child in enumerate(el):
        kind = child.tag
        if kind not in AREAS:
            reason = NOT_AREAS.get(kind, f"CVAT <{kind:.20}> (not read)")
            out.dropped[reason] += 1
            msg = f"image {image_id}: shape {k} ({kind:.20}): {reason}; dropped"
            report("shape-dropped", msg, path, image_id, usable=True)
            continue
        label = child.get("label")
        where = (image_id, k, kind, label)  # (formatted only for a problem: _at)
        if not label:
            out.dropped[UNLABELED] += 1
            report("label-unknown", f"{_at(where)}: a shape without a label; dropped", path, image_id, usable=True)
            continue
        if label not in labels:
            report(
                "label-unknown", f"{_at(where)}: label {label!r:.40} is not declared in <meta><labels>", path, image_id
            )
            continue
        shape = _shape(k, kind, label, child, (height, width, drawn), where, path, report, image_id, plain.get(k))
        if shape is not None:
            out.shapes.append(shape)
    if packed is not None and len(out.shapes) == len(plain) and all(s.index in plain for s in out.shapes):
        out.packed = packed
    return out


Where = tuple[Any, int, str, str | None]  # the image's id, the shape's index, kind and label


def _at(where: Where) -> str:
    image_id, k, kind, label = where
    return f"image {image_id}: shape {k} ({kind} {label!r:.40})"


Points = tuple[tuple[float, ...], tuple[float, ...]]  # a polygon's points, its min x, min y, max x, max y


def _plain_points(
    el: ET.Element,
) -> tuple[dict[int, Points], tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None]:
    """Every ``<polygon>``'s points read at once (:func:`segtool.kernels.parse_points`: the
    same doubles as :func:`_polygon`'s ``float``), by the child's index, and all of them as
    the kernel wrote them (coordinates, ends); empty when one is not plain (then each is read
    by :func:`_polygon`, which says what is wrong)."""
    found = [(k, child.get("points", "")) for k, child in enumerate(el) if child.tag == "polygon"]
    if not found:
        return {}, None
    text = "|".join(t for _, t in found).encode("utf-8", "surrogatepass")
    xy, ends = np.empty(len(text) // 2 + 1), np.empty(len(found), np.int64)
    boxes = np.empty(4 * len(found))
    n = kernels.parse_points(text, xy, ends, boxes)
    if n < 0:
        return {}, None
    flat, stops = xy[:n].tolist(), (2 * ends).tolist()
    polygons = map(tuple, map(flat.__getitem__, map(slice, [0, *stops], stops)))
    extents = zip(*[iter(boxes.tolist())] * 4, strict=True)  # (min x, min y, max x, max y) each
    return dict(zip([k for k, _ in found], zip(polygons, extents, strict=True), strict=True)), (xy[:n], ends)


@dataclass(frozen=True, slots=True)
class _Common:
    """What every area shape has, before its geometry."""

    index: int
    kind: str
    label: str
    z_order: int
    group: int
    crowd: bool
    extra: dict[str, Any]

    def shape(self, box: tuple[float, float, float, float], **geometry: Any) -> Shape:
        return Shape(
            self.index,
            self.kind,
            self.label,
            self.z_order,
            self.group,
            box,
            crowd=self.crowd,
            extra=self.extra,
            **geometry,
        )


_SMALL = {str(i): i for i in range(-8, 64)}  # z_order and group_id as CVAT writes most of them


def _int(text: str | None, default: int | None = None) -> int | None:
    if text is None:
        return default
    if text in _SMALL:
        return _SMALL[text]
    t = text.strip()
    if t[:1] == "-":
        return -int(t[1:]) if t[1:].isdigit() and len(t) < 12 else None
    return int(t) if t.isdigit() and len(t) < 12 else None


def _shape(
    k: int,
    kind: str,
    label: str,
    el: ET.Element,
    size: tuple[int, int, bool],
    where: Where,
    path: str,
    report: Policy,
    iid: Any,
    plain: Points | None = None,
) -> Shape | None:
    h, w, drawn = size
    z_order, group = _int(el.get("z_order"), 0), _int(el.get("group_id"), 0)
    if z_order is None or group is None:
        report("shape-degenerate", f"{_at(where)}: z_order and group_id must be integers", path, iid)
        return None
    attributes = {a.get("name") or "": a.text or "" for a in el if a.tag == "attribute"} if len(el) else {}
    extra = {
        "kind": kind,
        "occluded": el.get("occluded", "0"),
        "source": el.get("source", "manual"),
        "z_order": z_order,
        "attributes": attributes,
    }
    crowd = bool(attributes) and attributes.get(CROWD, "").strip().lower() in ("1", "true")
    if kind == "mask":
        return _mask(el, h, w, where, path, report, iid, _Common(k, kind, label, z_order, group, crowd, extra))
    flat = _polygon(el, kind, where, path, report, iid, drawn) if plain is None else plain[0]
    if flat is None:
        return None
    why = None if drawn else masks.polygon_problem([list(flat)], h, w)
    if why is not None:
        report("shape-degenerate", f"{_at(where)}: {why}", path, iid)
        return None
    if plain is None:
        xs, ys = flat[0::2], flat[1::2]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    else:
        x0, y0, x1, y1 = plain[1]
    if not drawn and (x0 < 0 or y0 < 0 or x1 > w or y1 > h):
        report("shape-outside", f"{_at(where)}: points outside the {w}x{h} image", path, iid, usable=True)
    return Shape(k, kind, label, z_order, group, (x0, y0, x1 - x0, y1 - y0), polygon=flat, crowd=crowd, extra=extra)


def _polygon(
    el: ET.Element, kind: str, where: Where, path: str, report: Policy, iid: Any, drawn: bool
) -> tuple[float, ...] | None:
    """A polygon's points, or a box's four corners (turned by its rotation), as a flat list."""
    try:
        if kind == "box":
            xtl, ytl, xbr, ybr = (float(el.get(a, "")) for a in ("xtl", "ytl", "xbr", "ybr"))
            if not (xbr > xtl and ybr > ytl):  # (False for NaN too)
                report("shape-degenerate", f"{_at(where)}: a box with no area (xbr <= xtl or ybr <= ytl)", path, iid)
                return None
            flat = _corners(xtl, ytl, xbr, ybr, float(el.get("rotation", "0")))
        else:
            text = el.get("points", "")
            pairs = text.split(";") if text.strip() else []
            if len(pairs) > MAX_POINTS or (pairs and POINTS.fullmatch(text) is None):
                raise ValueError
            flat = tuple(map(float, text.replace(";", ",").split(","))) if pairs else ()  # (as numpy reads text)
    except ValueError:
        report("shape-degenerate", f"{_at(where)}: coordinates that are not numbers", path, iid)
        return None
    if not drawn and not all(math.isfinite(v) for v in flat):
        report("shape-degenerate", f"{_at(where)}: coordinates that are not finite numbers", path, iid)
        return None
    if len(flat) < 6:
        report("shape-degenerate", f"{_at(where)}: {len(flat) // 2} points, a polygon needs at least 3", path, iid)
        return None
    return flat


def _corners(xtl: float, ytl: float, xbr: float, ybr: float, turn: float) -> tuple[float, ...]:
    pts = [(xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)]
    if turn % 360:
        cx, cy = (xtl + xbr) / 2, (ytl + ybr) / 2
        c, s = math.cos(math.radians(turn)), math.sin(math.radians(turn))
        pts = [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in pts]
    return tuple(v for p in pts for v in p)


def _mask(
    el: ET.Element,
    h: int,
    w: int,
    where: Where,
    path: str,
    report: Policy,
    iid: Any,
    common: _Common,
) -> Shape | None:
    left, top, mw, mh = (_int(el.get(a)) for a in ("left", "top", "width", "height"))
    if left is None or top is None or mw is None or mh is None or mw < 1 or mh < 1:
        msg = f"{_at(where)}: left, top, width and height must be integers (width and height at least 1)"
        report("shape-degenerate", msg, path, iid)
        return None
    if left < 0 or top < 0 or left + mw > w or top + mh > h:
        msg = f"{_at(where)}: the mask's box {left},{top} {mw}x{mh} is not inside the {w}x{h} image"
        report("shape-degenerate", msg, path, iid)
        return None
    counts = parse_rle(el.get("rle", ""), mw * mh)
    if isinstance(counts, str):
        report("shape-degenerate", f"{_at(where)}: {counts}", path, iid)
        return None
    ones = counts[1::2]
    if not ones.any():
        report("empty-mask", f"{_at(where)}: the mask has no pixel", path, iid, usable=True)
        box = (float(left), float(top), 0.0, 0.0)
    else:
        box = _pixel_box(decode_rle(counts, mw, mh), left, top)
    return common.shape(box, mask=(left, top, mw, mh), counts=counts)


def parse_rle(text: str, pixels: int) -> npt.NDArray[np.int64] | str:
    """A ``<mask>``'s run lengths, checked to fill its box exactly; or why not."""
    parts = text.split(",")
    if len(parts) > pixels + 1:
        return f"its rle has {len(parts)} runs, more than its box has pixels ({pixels})"
    values = [p.strip() for p in parts]
    if not all(v.isdigit() and len(v) < 12 for v in values):
        return "its rle is not comma-separated non-negative integers"
    counts = np.asarray([int(v) for v in values], dtype=np.int64)
    total = int(counts.sum())
    if total != pixels:
        return f"its rle covers {total} pixels, its box {pixels}: the rle's length disagrees with the box"
    return counts


def decode_rle(counts: npt.NDArray[np.int64], width: int, height: int) -> npt.NDArray[np.bool_]:
    """The ``height`` x ``width`` box of a CVAT mask (runs row by row, 0s first)."""
    values = (np.arange(len(counts)) % 2).astype(bool)
    box: npt.NDArray[np.bool_] = np.repeat(values, counts).reshape(height, width)
    return box


def encode_rle(box: npt.NDArray[np.bool_]) -> list[int]:
    """CVAT's run lengths of a 2-D boolean box: row by row, starting with a run of 0s."""
    flat = box.ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def _pixel_box(box: npt.NDArray[np.bool_], left: int, top: int) -> tuple[float, float, float, float]:
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    return (float(left + cols[0]), float(top + rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


def rasterise(shape: Shape, height: int, width: int) -> dict[str, Any]:
    """The shape's pixels as a compressed RLE (str counts), drawn as the module's doc says."""
    if shape.kind != "mask":
        rle = masks.rasterize([list(shape.polygon)], height, width)
        counts = rle["counts"]
        return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    full = np.zeros((height, width), dtype=np.int32)
    left, top, mw, mh = shape.mask
    if shape.counts is not None:
        full[top : top + mh, left : left + mw] = decode_rle(shape.counts, mw, mh)
    rles: list[dict[str, Any]] = masks.Runs(full, 1).rles()
    return rles[0]
