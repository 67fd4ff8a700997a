"""The rules of a LabelMe JSON (wkentaro/labelme, versions 3 to 5), written once for the
reader and ``validate``, and its shapes rasterised exactly as labelme does.

A file's shapes are parsed by :func:`parse`, which hands every problem to the caller's error
policy (:mod:`segtool.policy`) under validate's check code: the reader stops at the first,
validate collects them all. :func:`rasterise` draws one shape as
``labelme.utils.shape_to_mask`` does (Pillow's ImageDraw on an 8-bit image of the file's
size, the same coordinates, ``outline=1, fill=1``), and a ``mask`` shape as
``shapes_to_label`` places it (its PNG at the integer-truncated top-left corner of its box).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio
from ..errors import SegtoolError
from ..policy import Policy
from .common import SIDE, limit

LABELS = "labels.txt"  # a folder's categories, one label a line (labelme2voc's --labels)
CROWD = "iscrowd"  # a shape flag segtool writes on a crowd region's shapes (LabelMe has no crowd)
IGNORE = "__ignore__"  # labelme2voc's -1: void
BACKGROUND = "_background_"  # labelme2voc's 0: background, not a category here (void)
NOT_CATEGORIES = (IGNORE, BACKGROUND)
NOT_AREAS = ("line", "linestrip", "point")  # drawn as strokes by labelme2voc; not areas: dropped
POINTS = {"polygon": 3, "rectangle": 2, "circle": 2, "mask": 2, "oriented_rectangle": 4}  # exact, polygon: at least
_NUMBER = (int, float)  # JSON numbers (a bool is not one)
MAX_POINTS = 1 << 20  # points of one shape (a drawing's cost grows with them)


@dataclass(frozen=True, slots=True)
class Shape:
    """One area shape of a file: its place in the file (later ones are drawn on top), label,
    type, points, ``group_id`` and, for a ``mask`` shape, its decoded pixels."""

    index: int
    label: str
    kind: str
    points: tuple[tuple[float, float], ...]
    group: int | str | None
    mask: npt.NDArray[np.bool_] | None = None
    crowd: bool = False  # flags {"iscrowd": true}: how segtool's writer marks a crowd region

    def instance(self) -> tuple[str, Any]:
        """The instance the shape belongs to: shapes of one label and one ``group_id`` join;
        a shape without ``group_id`` is an instance of its own (labelme gives it a uuid)."""
        return (self.label, ("group", self.group) if self.group is not None else ("shape", self.index))


@dataclass
class LabelFile:
    """What a LabelMe JSON holds: image size and path, area shapes, dropped shapes by type."""

    height: int
    width: int
    image_path: str
    embedded: bool
    shapes: list[Shape] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


def is_labelme(data: Any) -> bool:
    """A LabelMe JSON: an object with a ``shapes`` list and an ``imagePath``."""
    return isinstance(data, dict) and isinstance(data.get("shapes"), list) and "imagePath" in data


def parse(data: Any, path: str, report: Policy, image_id: Any = None, *, pixels: bool = True) -> LabelFile | None:
    """The file's size and shapes, each problem reported under its check code; None when the
    file itself cannot be read as LabelMe. ``pixels``: decode ``mask`` shapes (and check
    them); the reader's first pass, which wants only labels and sizes, does not."""
    if not is_labelme(data):
        report("malformed-record", "not a LabelMe JSON (an object with 'shapes' and 'imagePath')", path, image_id)
        return None
    size = _size(data, path, report, image_id)
    if size is None:
        return None
    raw_path = data.get("imagePath")
    image_path = PureWindowsPath(raw_path).as_posix() if isinstance(raw_path, str) and raw_path else ""
    out = LabelFile(size[0], size[1], image_path, bool(data.get("imageData")))
    for k, rec in enumerate(data["shapes"]):
        shape = _shape(k, rec, out, path, report, image_id, pixels)
        if shape is not None:
            out.shapes.append(shape)
    return out


def _size(data: dict[str, Any], path: str, report: Policy, image_id: Any) -> tuple[int, int] | None:
    """(height, width): ``imageHeight``/``imageWidth``, or (labelme 3 wrote none) the header of
    the embedded image or of the file ``imagePath`` names."""
    h, w = data.get("imageHeight"), data.get("imageWidth")
    if h is None and w is None:
        found = _image_size(data, path)
        if found is None:
            report("malformed-record", "no imageHeight/imageWidth, and no image to read the size from", path, image_id)
            return None
        h, w = found
    if not (type(h) is int and type(w) is int and SIDE[0] <= min(h, w) and max(h, w) <= SIDE[1]):
        msg = f"imageHeight/imageWidth must be positive integers, got {h!r:.20}/{w!r:.20}"
        report("malformed-record", msg, path, image_id)
        return None
    if h * w > limit("pixels"):
        msg = f"a {w}x{h} image is over the pixels limit of {limit('pixels'):,} (raise it with --limit pixels=N)"
        report("malformed-record", msg, path, image_id)
        return None
    return h, w


def _image_size(data: dict[str, Any], path: str) -> tuple[int, int] | None:
    try:
        if isinstance(data.get("imageData"), str) and data["imageData"]:
            with imageio.open_bytes(base64.b64decode(data["imageData"], validate=True), path) as img:
                return img.height, img.width
        if isinstance(data.get("imagePath"), str) and data["imagePath"]:
            photo = Path(path).parent / PureWindowsPath(data["imagePath"]).as_posix()
            with imageio.open_image(photo) as img:
                return img.height, img.width
    except (OSError, SegtoolError, ValueError):
        return None
    return None


def _shape(k: int, rec: Any, out: LabelFile, path: str, report: Policy, image_id: Any, pixels: bool) -> Shape | None:
    where = f"shape {k}"
    if not isinstance(rec, dict) or not isinstance(rec.get("label"), str) or not isinstance(rec.get("points"), list):
        report("malformed-record", f"{where}: a shape needs a 'label' string and a 'points' list", path, image_id)
        return None
    kind = rec.get("shape_type") or "polygon"  # labelme 3 wrote none: a polygon
    group = rec.get("group_id")
    if not (group is None or type(group) is int or type(group) is str) or not isinstance(kind, str):
        report("malformed-record", f"{where}: group_id {group!r:.20} / shape_type {kind!r:.20}", path, image_id)
        return None
    where = f"shape {k} ({kind} {rec['label']!r:.40})"
    if kind in NOT_AREAS:
        out.dropped[kind] += 1
        report("shape-dropped", f"{where}: a {kind} is not an area; dropped", path, image_id, usable=True)
        return None
    if kind not in POINTS:
        report("shape-degenerate", f"{where}: unknown shape_type", path, image_id)
        return None
    points = _points(rec["points"], kind, out, where, path, report, image_id)
    if points is None:
        return None
    mask = None
    if kind == "mask" and pixels:
        mask = _mask(rec.get("mask"), points, out, where, path, report, image_id)
        if mask is None:
            return None
    flags = rec.get("flags")
    crowd = isinstance(flags, dict) and flags.get(CROWD) is True
    return Shape(k, rec["label"], kind, points, group, mask, crowd)


def _points(
    raw: list[Any], kind: str, out: LabelFile, where: str, path: str, report: Policy, image_id: Any
) -> tuple[tuple[float, float], ...] | None:
    """The points as (x, y) pairs, checked: their number for the type, finite, and within
    one image size of the image (what a drawing may cost stays bounded)."""
    need = POINTS[kind]
    fits = len(raw) >= need if kind == "polygon" else len(raw) == need
    if not fits or len(raw) > MAX_POINTS:
        many = f"at least {need}" if kind == "polygon" else f"{need}"
        report("shape-degenerate", f"{where}: {len(raw)} points, a {kind} needs {many}", path, image_id)
        return None
    pts = []
    for p in raw:  # written out, not all(...) over a generator: this runs for every point, twice
        if type(p) is list and len(p) == 2:
            x, y = p
            if type(x) in _NUMBER and type(y) in _NUMBER and math.isfinite(x) and math.isfinite(y):
                pts.append((x, y))
                continue
        report("shape-degenerate", f"{where}: a point is not two finite numbers ({p!r:.40})", path, image_id)
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if kind == "circle":
        r = math.dist(pts[0], pts[1])
        xs, ys = [pts[0][0] - r, pts[0][0] + r], [pts[0][1] - r, pts[0][1] + r]
    h, w = out.height, out.width
    if min(xs) < -w or max(xs) > 2 * w or min(ys) < -h or max(ys) > 2 * h:
        report(
            "shape-degenerate", f"{where}: reaches more than one image size beyond the {w}x{h} image", path, image_id
        )
        return None
    if min(xs) < 0 or max(xs) > w or min(ys) < 0 or max(ys) > h:
        report("shape-outside", f"{where}: points outside the {w}x{h} image", path, image_id, usable=True)
    return tuple(pts)


def mask_box(points: tuple[tuple[float, float], ...]) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of a ``mask`` shape's box, truncated to integers as labelme does
    (``np.asarray(points).astype(int)``); the PNG covers x1..x2, y1..y2 inclusive."""
    (x1, y1), (x2, y2) = points
    return int(x1), int(y1), int(x2), int(y2)


def _mask(
    text: Any,
    points: tuple[tuple[float, float], ...],
    out: LabelFile,
    where: str,
    path: str,
    report: Policy,
    image_id: Any,
) -> npt.NDArray[np.bool_] | None:
    """A ``mask`` shape's PNG (base64) as booleans, checked to fill its box inside the image."""
    if not isinstance(text, str) or not text:
        report("shape-degenerate", f"{where}: a mask shape without its base64 PNG", path, image_id)
        return None
    try:
        data = base64.b64decode(text, validate=True)
        with imageio.open_bytes(data, path) as img:
            arr = np.asarray(img)
    except (binascii.Error, ValueError):
        report("shape-degenerate", f"{where}: the mask is not base64 (truncated?)", path, image_id)
        return None
    except (OSError, SegtoolError) as exc:
        why = exc.message if isinstance(exc, SegtoolError) else str(exc) or type(exc).__name__
        report("shape-degenerate", f"{where}: the mask is not a readable PNG ({why})", path, image_id)
        return None
    x1, y1, x2, y2 = mask_box(points)
    box = (y2 - y1 + 1, x2 - x1 + 1)
    if arr.ndim != 2 or arr.shape != box:
        got = "x".join(map(str, arr.shape[1::-1])) + ("" if arr.ndim == 2 else f"x{arr.shape[2]}")
        msg = f"{where}: the mask PNG is {got}, its box {box[1]}x{box[0]}"
        report("shape-degenerate", msg + (" (one channel needed)" if arr.ndim != 2 else ""), path, image_id)
        return None
    if x1 < 0 or y1 < 0 or x2 >= out.width or y2 >= out.height:
        msg = f"{where}: the mask's box {x1},{y1}..{x2},{y2} is not inside the {out.width}x{out.height} image"
        report("shape-degenerate", msg, path, image_id)
        return None
    mask: npt.NDArray[np.bool_] = arr.astype(bool)
    return mask


def rasterise(shape: Shape, height: int, width: int) -> npt.NDArray[np.bool_]:
    """The shape's pixels, exactly as labelme draws them (see the module's doc)."""
    y0, x0, window = drawn(shape, height, width)
    if window.shape == (height, width):
        return window
    out = np.zeros((height, width), dtype=bool)
    out[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] = window
    return out


def drawn(shape: Shape, height: int, width: int) -> tuple[int, int, npt.NDArray[np.bool_]]:
    """``(y0, x0, pixels)``: the shape's pixels in a window of the image whose top-left
    pixel is ``(y0, x0)``; outside it the shape has none.

    Why a window: drawing on a canvas of the image's size costs the image's size per shape
    (30 shapes of a 1280x720 image: 30 full canvases). Pillow truncates coordinates to
    integers, which an integer shift leaves alone for non-negative ones, so a shape that
    lies inside the image is drawn on a canvas around it, shifted, to the same pixels
    (checked against the full canvas on 60,000 random shapes); a shape that reaches past
    the image's edge is drawn on the full canvas, clipped there as labelme clips it."""
    if shape.kind == "mask":
        x1, y1, _, _ = mask_box(shape.points)
        if shape.mask is None:
            return 0, 0, np.zeros((height, width), dtype=bool)
        return y1, x1, shape.mask
    xs, ys = _extent(shape)
    if min(xs) < 0 or min(ys) < 0 or max(xs) > width - 1 or max(ys) > height - 1:
        return 0, 0, _draw(shape, height, width, 0, 0)
    x0, y0 = max(0, math.floor(min(xs)) - 2), max(0, math.floor(min(ys)) - 2)
    x1, y1 = min(width, math.ceil(max(xs)) + 3), min(height, math.ceil(max(ys)) + 3)
    return y0, x0, _draw(shape, y1 - y0, x1 - x0, x0, y0)


def _extent(shape: Shape) -> tuple[list[float], list[float]]:
    """The x and y coordinates bounding the shape (a circle's: its centre ± its radius)."""
    if shape.kind == "circle":
        (cx, cy), (px, py) = shape.points
        r = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
        return [cx - r, cx + r], [cy - r, cy + r]
    return [p[0] for p in shape.points], [p[1] for p in shape.points]


def _draw(shape: Shape, height: int, width: int, x0: int, y0: int) -> npt.NDArray[np.bool_]:
    """labelme's ``shape_to_mask`` on a ``height`` x ``width`` canvas whose top-left pixel
    is the image's ``(y0, x0)``."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height))
    draw = ImageDraw.Draw(canvas)
    xy = [(x - x0, y - y0) for x, y in shape.points]
    if shape.kind == "circle":
        (cx, cy), (px, py) = xy
        r = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
        draw.ellipse([(cx - r, cy - r), (cx + r, cy + r)], outline=1, fill=1)
    elif shape.kind == "rectangle":
        (a, b), (c, d) = xy
        draw.rectangle([(min(a, c), min(b, d)), (max(a, c), max(b, d))], outline=1, fill=1)
    else:  # polygon, oriented_rectangle
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def read_label_names(path: Path) -> list[str]:
    """The lines of a labels.txt (labelme2voc's ``--labels``): one label a line, blank lines
    skipped, surrounding spaces stripped."""
    try:
        text = imageio.read_bytes(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"cannot read the labels file ({exc})", str(path)) from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    seen = Counter(names)
    twice = [n for n, c in seen.items() if c > 1]
    if twice:
        raise SegtoolError(f"label {twice[0]!r} is listed twice", str(path))
    return names


def category_names(given: list[str] | None, found: set[str]) -> list[str]:
    """The categories, in id order (ids 1..n): the labels file's lines without ``__ignore__``
    and ``_background_`` (so a labels.txt that starts with them, as labelme's do, gives
    labelme2voc's class ids), or else every label found, sorted."""
    names = given if given is not None else sorted(found)
    return [n for n in names if n not in NOT_CATEGORIES]
