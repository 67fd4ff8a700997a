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
from ..model import Sample
from ..naming import image_path, output_names
from .cityscapes_labels import BY_NAME, INSTANCE_BASE, LABELS, MAX_ID, UNLABELED, Label
from .common import ImageResult, noted, save_png
from .options import WriteContext, WriteOptions, resolve_for_write

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
    """One object of the polygons JSON: an outline, its label and the segment it draws (0: void)."""

    points: npt.NDArray[np.int32]
    label: str
    segment: int


def _outlines(mask: npt.NDArray[np.uint8], x0: int, y0: int) -> list[npt.NDArray[np.int32]]:
    """Outer outlines of a mask's pieces (largest first) in image coordinates."""
    import cv2

    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    at = np.array([x0, y0], np.int32)
    parents = hierarchy[0][:, 3]
    outer = [(c.reshape(-1, 2) + at).astype(np.int32) for c, p in zip(contours, parents, strict=True) if p < 0]
    outer = [np.vstack([c, c]) if len(c) == 1 else c for c in outer]  # one pixel: two points, as Pillow needs
    outer.sort(key=lambda c: -int(cv2.contourArea(c)) - len(c))  # stable: file order among equals
    return outer


def _covered(owner: npt.NDArray[np.int32], piece: _Piece, count: int) -> set[int]:
    """The pieces (``owner``: 1-based piece of each pixel) with pixels under a piece's fill."""
    x0, y0 = piece.points.min(axis=0).tolist()
    x1, y1 = piece.points.max(axis=0).tolist()
    image = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1), 0)
    ImageDraw.Draw(image).polygon((piece.points - np.array([x0, y0], np.int32)).ravel().tolist(), fill=1)
    under = owner[y0 : y1 + 1, x0 : x1 + 1][np.asarray(image, dtype=bool)]
    return set(np.flatnonzero(np.bincount(under, minlength=count + 1)).tolist()) - {0}


def _order(after: list[set[int]]) -> list[int]:
    """Pieces in an order where each comes before those its fill covers (``after``, 0-based),
    piece order among free ones; a cycle is cut at its lowest piece (what is then lost is
    counted when the JSON is drawn back)."""
    import heapq

    count = len(after)
    incoming = [0] * count
    for targets in after:
        for t in targets:
            incoming[t] += 1
    ready = [k for k in range(count) if incoming[k] == 0]
    out: list[int] = []
    done = [False] * count
    while len(out) < count:
        if not ready:  # a cycle: take the lowest piece left
            ready = [next(k for k in range(count) if not done[k])]
        k = heapq.heappop(ready)
        if done[k]:
            continue
        done[k] = True
        out.append(k)
        for t in after[k]:
            incoming[t] -= 1
            if incoming[t] == 0 and not done[t]:
                heapq.heappush(ready, t)
    return out


def _segment_pieces(
    mask: npt.NDArray[np.bool_], x0: int, y0: int, label: str, segment: int, joined: bool | None
) -> tuple[list[_Piece], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """A segment's pieces (an instance's: one hull around them all when ``joined``, else its
    largest; None: each its own object), the 8-connected
    component of each pixel of ``mask`` and the piece (0-based) of each component."""
    import cv2

    count, found = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    comp = np.asarray(found, np.int32)
    outer = _outlines(mask.astype(np.uint8), x0, y0)
    which = np.zeros(count, np.int32)
    if joined is not None and len(outer) > 1:
        if not joined:  # its largest piece alone
            return [_Piece(outer[0], label, segment)], comp, which
        hull = cv2.convexHull(np.concatenate(outer)).reshape(-1, 2).astype(np.int32)
        return [_Piece(hull, label, segment)], comp, which
    for n, points in enumerate(outer):
        x, y = points[0]
        which[comp[y - y0, x - x0]] = n
    return [_Piece(points, label, segment) for points in outer], comp, which


def _pieces(
    index: npt.NDArray[np.int32], boxes: npt.NDArray[Any], names: list[str], things: list[bool], join: bool
) -> list[_Piece]:
    """Every object to write, in drawing order (see the module doc); ``boxes``: each
    segment's [x, y, w, h]. An instance in several pieces is one polygon: around them all
    (their convex hull, drawn before what it covers) with ``join``, else its largest piece."""
    pieces: list[_Piece] = []
    owner = np.zeros(index.shape, np.int32)  # 1-based piece of each pixel
    height, width = index.shape
    spans = [(0, 0, width, height)] + [tuple(int(v) for v in b) for b in boxes]
    for k in [*range(1, len(names) + 1), 0]:  # void last: drawn last among equals
        x0, y0, w, h = spans[k]
        if w <= 0 or h <= 0:
            continue
        mask = index[y0 : y0 + h, x0 : x0 + w] == k
        label = names[k - 1] if k else UNLABELED.name
        found, comp, which = _segment_pieces(mask, x0, y0, label, k, join if k and things[k - 1] else None)
        owner[y0 : y0 + h, x0 : x0 + w][mask] = which[comp[mask]] + len(pieces) + 1
        pieces += found
    after = [_covered(owner, p, len(pieces)) for p in pieces]
    after = [
        {t - 1 for t in targets if pieces[t - 1].segment != p.segment} for p, targets in zip(pieces, after, strict=True)
    ]
    needed = set().union(*after)  # a void piece nothing covers needs no object (the canvas is void)
    return [pieces[k] for k in _order(after) if pieces[k].segment or k in needed]


def _draw(pieces: list[_Piece], values: dict[int, int], shape: tuple[int, int]) -> npt.NDArray[np.int32]:
    """The instanceIds map json2instanceImg draws from the pieces."""
    image = Image.new("I", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(image)
    for p in pieces:
        draw.polygon(p.points.ravel().tolist(), fill=values.get(p.segment, 0))
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
    best = _attempt(index, boxes, labels, names, things, True)
    if best[2]:  # pieces joined did not draw back: the largest pieces alone may do better
        alone = _attempt(index, boxes, labels, names, things, False)
        best = alone if alone[2] < best[2] else best
    return best


def _attempt(
    index: npt.NDArray[np.int32],
    boxes: npt.NDArray[Any],
    labels: list[Label],
    names: list[str],
    things: list[bool],
    join: bool,
) -> tuple[dict[str, Any], npt.NDArray[np.int64], int]:
    """:func:`polygons` with instances in pieces joined or not."""
    pieces = _pieces(index, boxes, names, things, join)
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


def _write_image(job: tuple[Sample, WriteContext, str]) -> ImageResult:
    sample, ctx, stem = job
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
    out = Path(ctx.folder) / place(ann.image.file_name)[0]
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
    else the stem's city; ``<stem>``: :func:`_stem`); void and ``unlabeled`` are 0."""
    stems = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, stem=_stem)
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    labels_for(ctx, str(dst))  # an unknown category is refused before any image is written
    return list(run(_write_image, ((s, ctx, n) for s, n in zip(ds.samples, stems, strict=True))))


def _stem(file_name: str) -> str:
    """The stem of an image's outputs (:func:`place`); the reader takes it for the image id,
    so it must be unique across folders: :func:`.common.output_names` joins the folders into
    it (``seq1__000001``) when two images share one."""
    return place(file_name)[1]


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the gtFine root: ``<split>/<city>/`` below it)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a cityscapes destination is a folder, not a .json path", str(dst))
    return [dst]
