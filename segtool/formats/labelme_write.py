"""LabelMe JSON written: one file per image, as labelme 5 saves it, and a ``labels.txt``.

Each instance becomes polygons (one shape per outline, joined by a ``group_id`` when it has
several) when those polygons, drawn as the LabelMe reader draws them (labelme's own
``shape_to_mask``: Pillow's ``ImageDraw.polygon`` with outline and fill), give back exactly
its mask; otherwise (a hole, or a shape Pillow's drawing would not give back) one ``mask``
shape, as labelme 5's AI-mask tool writes it: the box's corners ``[[x1, y1], [x2, y2]]``
(both inclusive: imgviz's ``masks_to_bboxes``) and a base64 PNG of the mask cropped to them
(``mask[y1:y2 + 1, x1:x2 + 1]``). So reading the folder back gives every mask pixel for pixel.
LabelMe has no crowd: a crowd region's shapes carry the flag ``{"iscrowd": true}``, which
segtool's reader takes back (labelme2coco reads an ordinary object); the summary counts them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, png
from ..errors import SegtoolError
from ..model import Annotation, Dataset, Sample
from ..naming import image_path, output_names
from .common import ImageResult, noted
from .labelme_rules import CROWD, IGNORE, LABELS, NOT_CATEGORIES, Shape, drawn
from .options import WriteContext, WriteOptions

VERSION = "5.4.1"  # a labelme release that writes mask shapes (its "ai_mask" mode, PR #1358, 2023-11)
MASKED = "mask written as a LabelMe mask shape (a hole, or pixels a polygon cannot carry)"
CROWDED = "crowd region: LabelMe has no crowd; written with the shape flag iscrowd (labelme2coco ignores it)"
EMPTY = "empty mask: LabelMe has no shape for it"
RENUMBERED = "category ids are not 1..n: labels.txt numbers them 1..n in category order"

Window = tuple[int, int, npt.NDArray[np.bool_]]  # (y0, x0, pixels of the box from there)


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates."""
    if dst.suffix.lower() in (".json", ".txt"):
        raise SegtoolError("a labelme destination is a folder", str(dst))
    return [dst]


def labels_text(names: list[str], where: str) -> str:
    """labels.txt as labelme's examples have it: ``__ignore__``, ``_background_``, then one
    label a line in category order (the reader numbers them 1..n). A name the file cannot
    hold as a line of its own is refused, so the reading back keeps every name."""
    twice = [n for n in names if names.count(n) > 1]
    if twice:
        raise SegtoolError(f"category {twice[0]!r:.60} cannot be a LabelMe label (two categories have it)", where)
    for name in names:
        if name.splitlines() != [name] or name != name.strip() or name in NOT_CATEGORIES or not _utf8(name):
            raise SegtoolError(f"category {name!r:.60} cannot be a LabelMe label (not a labels.txt line)", where)
    return "".join(f"{n}\n" for n in [IGNORE, "_background_", *names])


def _utf8(text: str) -> bool:
    """Whether ``text`` is valid Unicode (JSON can hold a lone surrogate; a file cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``<image stem>.json`` (:func:`.common.output_names`, flat) for every image and
    ``labels.txt`` into the folder ``tmp[0]``. ``imagePath`` is the image's ``file_name``
    (under its subset's folder when stems repeat: :func:`.common.image_path`), which labelme
    reads relative to the JSON: put the photos there. The photos are not copied
    (``imageData`` is null)."""
    paths = [image_path(s.image) for s in ds.samples]
    names = output_names(paths, str(dst), flat=True, suffix=".json")
    if names == output_names([s.image.file_name for s in ds.samples], suffix=".json"):
        paths = [s.image.file_name for s in ds.samples]  # stems apart: imagePath as it always was
    text = labels_text([c.name for c in ds.categories], str(dst))
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    work = ((s, ctx, n, p) for s, n, p in zip(ds.samples, names, paths, strict=True))
    results = list(run(_write_image, work))
    (tmp[0] / LABELS).write_text(text, encoding="utf-8")
    if [c.id for c in ds.categories] != list(range(1, len(ds.categories) + 1)) and results:
        results[0].changed[RENUMBERED] += len(ds.categories)
    return results


def _write_image(job: tuple[Sample, WriteContext, str, str]) -> ImageResult:
    sample, ctx, name, photo = job
    ann = sample.load()
    h, w = ann.image.height, ann.image.width
    out = ImageResult()
    shapes: list[dict[str, Any]] = []
    groups = 0
    for k, window in _windows(ann):
        if window is None:
            out.dropped[EMPTY] += 1
            continue
        crowd = bool(ann.segments.iscrowd[k])
        label = ctx.names[int(ann.segments.category_id[k])]
        polygons = _polygons(window, h, w)
        if polygons is None:
            out.changed[MASKED] += 1
            found = [_mask_shape(label, window)]
        else:
            group = None
            if len(polygons) > 1:
                groups += 1
                group = groups
            found = [_shape(label, p.tolist(), "polygon", group) for p in polygons]
        if crowd:
            out.changed[CROWDED] += 1
            for s in found:
                s["flags"] = {CROWD: True}
        shapes += found
        out.segments += 1
    data: dict[str, Any] = {
        "version": VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": photo,
        "imageData": None,
        "imageHeight": h,
        "imageWidth": w,
    }
    target = Path(ctx.folder) / name
    try:
        text = _json_text(data)
        target.write_bytes(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise SegtoolError(f"image {ann.image.id}: a label or file name is not valid Unicode", ann.origin) from None
    return noted(out, ann)


def _json_text(data: dict[str, Any]) -> str:
    """The file's JSON: a top-level key a line and a shape a line. labelme saves with
    ``indent=2`` (a line per coordinate), which only Python's pure encoder writes, ten times
    slower than its C encoder on a polygon's points; the keys and values are the same."""
    lines = []
    for key, value in data.items():
        if key == "shapes" and value:
            shapes = ",\n    ".join(json.dumps(s, ensure_ascii=False) for s in value)
            lines.append(f'  "shapes": [\n    {shapes}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _windows(ann: Annotation) -> list[tuple[int, Window | None]]:
    """Each segment's mask cropped to its box (None: no pixels), from its RLE or the index map."""
    h, w = ann.image.height, ann.image.width
    out: list[tuple[int, Window | None]] = []
    if ann.rles is not None:
        for k, rle in enumerate(ann.rles):
            out.append((k, _crop(masks.decode([rle], h, w)[:, :, 0].astype(bool))))
        return out
    index = ann.index_map()
    boxes = masks.Runs(index, len(ann.segments)).bboxes()
    for k in range(len(ann.segments)):
        x, y, bw, bh = (int(v) for v in boxes[k])
        if bw == 0 or bh == 0:
            out.append((k, None))
        else:
            out.append((k, (y, x, index[y : y + bh, x : x + bw] == k + 1)))
    return out


def _crop(mask: npt.NDArray[np.bool_]) -> Window | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(rows[0]), int(cols[0]), mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _polygons(window: Window, height: int, width: int) -> list[npt.NDArray[np.float64]] | None:
    """The mask's outlines through its boundary pixels' centres (Pillow's coordinates: pixel
    ``i`` is at ``i``), when drawing them back as labelme does gives exactly the mask; None
    when the mask has a hole (a polygon cannot subtract) or the drawing differs."""
    import cv2

    y0, x0, crop = window
    padded = np.pad(crop, 1).astype(np.uint8)  # a margin: no outline runs along the edge
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or np.any(hierarchy[0][:, 3] >= 0):  # a contour with a parent is a hole
        return None
    polygons = []
    for c in contours:
        pts = c.reshape(-1, 2).astype(np.float64) + np.array([x0 - 1, y0 - 1], dtype=np.float64)
        while len(pts) < 3:  # one or two pixels: the points repeated (labelme needs three)
            pts = np.concatenate([pts, pts[-1:]])
        polygons.append(pts)
    got = np.zeros((height, width), dtype=bool)
    for p in polygons:
        shape = Shape(0, "", "polygon", tuple(map(tuple, p.tolist())), None)
        sy, sx, pixels = drawn(shape, height, width)
        got[sy : sy + pixels.shape[0], sx : sx + pixels.shape[1]] |= pixels
    box = got[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]]
    if not np.array_equal(box, crop) or int(np.count_nonzero(got)) != int(np.count_nonzero(crop)):
        return None
    return polygons


def _shape(label: str, points: list[list[float]], kind: str, group: int | None) -> dict[str, Any]:
    """A shape record with labelme 5's keys, in its order."""
    return {
        "label": label,
        "points": points,
        "group_id": group,
        "description": "",
        "shape_type": kind,
        "flags": {},
        "mask": None,
    }


def _mask_shape(label: str, window: Window) -> dict[str, Any]:
    """A ``mask`` shape: the box's inclusive corners and the cropped mask as a base64 PNG."""
    y0, x0, crop = window
    corners = [[float(x0), float(y0)], [float(x0 + crop.shape[1] - 1), float(y0 + crop.shape[0] - 1)]]
    shape = _shape(label, corners, "mask", None)
    shape["mask"] = base64.b64encode(png.encode(crop.astype(np.uint8) * np.uint8(255))).decode("ascii")
    return shape
