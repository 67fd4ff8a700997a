"""Writing a Cityscapes tree: ``<stem>_gtFine_{labelIds,instanceIds,color}.png`` and the
``polygons.json`` that cityscapesScripts' json2labelImg / json2instanceImg draw back into
the same masks.

Polygons are traced with OpenCV (``findContours``: the outline of each 8-connected piece,
through the centres of its border pixels), which is what Pillow's ``ImageDraw.polygon``
fills back, border included. A polygon cannot subtract, so a piece with a hole is drawn
first and what fills the hole after it (objects in file order, later ones on top): objects
are written by nesting depth (segment order within a depth), void inside a hole as an
``unlabeled`` object. An instance is one object (json2instanceImg numbers objects), so an
instance in several pieces keeps its largest; stuff and crowds write one object per piece.
Every image's JSON is drawn back and compared with its masks: a segment whose pixels differ
is counted in the summary's ``changed``, never silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .. import views
from ..errors import SegtoolError
from .cityscapes_labels import BY_NAME, INSTANCE_BASE, LABELS, MAX_ID, UNLABELED, Label
from .common import ImageResult, check_unique_names, noted, save_png
from .options import Job, WriteContext, WriteOptions, jobs, resolve_for_write

PHOTO = "_leftImg8bit.png"
INEXACT = "segment whose polygons do not draw its mask back (a piece of an instance, a hole)"


def labels_for(ctx: WriteContext, where: str) -> dict[int, Label]:
    """The Cityscapes label of each category, by name (ids may be label ids or trainIds)."""
    out = {}
    for cid, name in ctx.names.items():
        label = BY_NAME.get(name)
        if label is None or label.id < 0:
            raise SegtoolError(f"category {name!r} ({cid}) is not a Cityscapes label; rename it to one", where)
        out[cid] = label
    return out


def place(file_name: str) -> tuple[str, str]:
    """The folder (relative, under the output) and stem of an image's outputs."""
    name = PurePosixPath(file_name.replace("\\", "/"))
    stem = name.name[: -len(PHOTO)] if name.name.endswith(PHOTO) else PurePosixPath(name.name).stem
    parent = name.parent
    if parent.is_absolute() or ".." in parent.parts or str(parent) == ".":
        parent = PurePosixPath(stem.split("_")[0])  # <city>_<seq>_<frame>: its city
    return parent.as_posix(), stem


@dataclass
class _Piece:
    """One object of the polygons JSON: an outline, its label, the segment it draws (0:
    void) and how many holes of other pieces hold it."""

    points: npt.NDArray[np.int32]
    label: str
    segment: int
    depth: int = 0


def _outlines(mask: npt.NDArray[np.uint8], x0: int, y0: int) -> tuple[list[npt.NDArray[np.int32]], bool]:
    """Outer outlines of a mask's pieces (largest first) in image coordinates, and whether
    it has a hole."""
    import cv2

    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return [], False
    parents = hierarchy[0][:, 3]
    at = np.array([x0, y0], np.int32)
    outer = [(c.reshape(-1, 2) + at).astype(np.int32) for c, p in zip(contours, parents, strict=True) if p < 0]
    outer = [np.vstack([c, c]) if len(c) == 1 else c for c in outer]  # one pixel: two points, as Pillow needs
    outer.sort(key=lambda c: -int(cv2.contourArea(c)) - len(c))  # stable: file order among equals
    return outer, bool(np.any(parents >= 0))


def _fill(points: npt.NDArray[np.int32], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """What Pillow's polygon fill covers (json2instanceImg's drawing)."""
    image = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).polygon([(int(x), int(y)) for x, y in points], fill=1)
    return np.asarray(image, dtype=bool)


def _pieces(
    index: npt.NDArray[np.int32], boxes: npt.NDArray[Any], names: list[str], things: list[bool]
) -> list[_Piece]:
    """Every object to write, in drawing order (see the module doc); ``boxes``: each
    segment's [x, y, w, h]."""
    pieces: list[_Piece] = []
    holed: list[tuple[int, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]] = []  # piece, fill, own pixels
    for k in range(1, len(names) + 1):
        x0, y0, w, h = (int(v) for v in boxes[k - 1])
        if w <= 0 or h <= 0:
            continue
        crop = index[y0 : y0 + h, x0 : x0 + w] == k
        outer, hole = _outlines(crop.astype(np.uint8), x0, y0)
        for points in outer[:1] if things[k - 1] else outer:
            pieces.append(_Piece(points, names[k - 1], k))
            if hole:
                holed.append((len(pieces) - 1, _fill(points, index.shape), index == k))
    if not holed:
        return pieces
    void, _ = _outlines((index == 0).astype(np.uint8), 0, 0)
    pieces += [_Piece(points, UNLABELED.name, 0) for points in void]
    for n, filled, own in holed:
        inside = filled & ~own
        for p in pieces:
            x, y = p.points[0]
            if p is not pieces[n] and inside[y, x]:
                p.depth += 1
    return sorted((p for p in pieces if p.segment or p.depth), key=lambda p: p.depth)


def _draw(pieces: list[_Piece], values: dict[int, int], shape: tuple[int, int]) -> npt.NDArray[np.int32]:
    """The instanceIds map json2instanceImg draws from the pieces."""
    image = Image.new("I", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(image)
    for p in pieces:
        draw.polygon([(int(x), int(y)) for x, y in p.points], fill=values.get(p.segment, 0))
    return np.asarray(image, dtype=np.int32)


def polygons(
    index: npt.NDArray[np.int32], boxes: npt.NDArray[Any], labels: list[Label], crowd: npt.NDArray[np.bool_]
) -> tuple[dict[str, Any], npt.NDArray[np.int64], int]:
    """The polygons JSON of an index map whose segment ``k`` has label ``labels[k-1]`` and
    box ``boxes[k-1]`` ([x, y, w, h]); the instanceIds value of each segment (index 0:
    void), numbered as json2instanceImg numbers the objects; and how many segments it does
    not draw back exactly."""
    things = [lab.has_instances and not c for lab, c in zip(labels, crowd.tolist(), strict=True)]
    names = [
        lab.name + ("group" if lab.has_instances and c else "") for lab, c in zip(labels, crowd.tolist(), strict=True)
    ]
    pieces = _pieces(index, boxes, names, things)
    values = np.zeros(len(labels) + 1, np.int64)
    values[1:] = [lab.id for lab in labels]
    counts: dict[int, int] = {}
    for p in pieces:
        label = labels[p.segment - 1] if p.segment else None
        if label is not None and things[p.segment - 1]:
            nth = counts[label.id] = counts.get(label.id, -1) + 1
            if nth >= INSTANCE_BASE:
                raise SegtoolError(f"more than {INSTANCE_BASE} instances of {label.name}")
            values[p.segment] = label.id * INSTANCE_BASE + nth
    drawn = _draw(pieces, {k: int(v) for k, v in enumerate(values.tolist())}, index.shape)
    diff = drawn != values[index]
    lost = set(np.unique(index[diff]).tolist())
    gained = set(np.unique(drawn[diff]).tolist())
    wrong = (lost | {k for k, v in enumerate(values.tolist()) if v in gained}) - {0}
    data = {
        "imgHeight": int(index.shape[0]),
        "imgWidth": int(index.shape[1]),
        "objects": [{"label": p.label, "polygon": p.points.tolist()} for p in pieces],
    }
    return data, values, len(wrong)


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    res = resolve_for_write(ann, ctx)
    by_category = labels_for(ctx, ann.origin or ctx.folder)
    labels = [by_category[int(c)] for c in res.segments.category_id]
    try:
        boxes = res.runs().bboxes()  # measured: a source's stored boxes may be wrong
        data, instance_ids, inexact = polygons(res.index, boxes, labels, np.asarray(res.segments.iscrowd, bool))
    except SegtoolError as exc:
        raise SegtoolError(f"image {ann.image.id}: {exc.message}", ann.origin or None) from None
    label_ids = np.zeros(len(labels) + 1, np.uint8)
    label_ids[1:] = [lab.id for lab in labels]
    folder, stem = place(ann.image.file_name)
    out = Path(ctx.folder) / folder
    out.mkdir(parents=True, exist_ok=True)
    label_map = views.paint(res, label_ids)
    save_png(label_map, out / f"{stem}_gtFine_labelIds.png")
    save_png(views.paint(res, instance_ids.astype(np.uint16)), out / f"{stem}_gtFine_instanceIds.png")
    save_png(COLORS[label_map], out / f"{stem}_gtFine_color.png")
    (out / f"{stem}_gtFine_polygons.json").write_text(json.dumps(data))
    result = ImageResult([], len(labels), res.dropped)
    if inexact:
        result.changed[INEXACT] += inexact
    return noted(result, ann)


def _colors() -> npt.NDArray[np.uint8]:
    colors = np.zeros((MAX_ID + 1, 3), np.uint8)
    for lab in LABELS:
        if lab.id >= 0:
            colors[lab.id] = lab.color
    return colors


COLORS = _colors()


def write(ds: Any, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``<folder>/<stem>_gtFine_{labelIds,instanceIds,color}.png`` and
    ``…_polygons.json`` into ``tmp[0]`` (``<folder>``: the photo's folder in ``file_name``,
    else the stem's city); void and ``unlabeled`` are 0."""
    places = ["/".join(place(s.image.file_name)) for s in ds.samples]
    check_unique_names(places, str(dst))
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    labels_for(ctx, str(dst))  # an unknown category is refused before any image is written
    return list(run(_write_image, jobs(ds, ctx)))


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the gtFine root: ``<split>/<city>/`` below it)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a cityscapes destination is a folder, not a .json path", str(dst))
    return [dst]
