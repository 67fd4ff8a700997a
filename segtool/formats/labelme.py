"""LabelMe JSON (wkentaro/labelme, versions 3 to 5): a folder of one JSON per image.

Polygon, rectangle, circle, oriented_rectangle and mask shapes are areas, rasterised exactly
as labelme does (:mod:`.labelme_rules`); line, linestrip and point shapes are not areas and
are dropped (validate reports each as ``shape-dropped``). Shapes of one label with one
``group_id`` are one instance; ``__ignore__`` and ``_background_`` are not categories.

Two readings, one per labelme exporter (see docs/formats/labelme.md):

* default: ``instance``: each instance is the union of its shapes, overlapping others as it
  may, and ``__ignore__`` shapes take nothing away: labelme2coco's masks, pixel for pixel;
* ``flatten=True``: ``panoptic``: the shapes painted in file order, later on top,
  ``__ignore__`` and ``_background_`` painting void: labelme2voc's SegmentationClass and
  SegmentationObject, pixel for pixel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT, Policy
from .common import Detection, file_name, load_json
from .jsonstream import NOT_JSON, json_sketch, layout
from .labelme_rules import LABELS as LABELS
from .labelme_rules import NOT_CATEGORIES, LabelFile, category_names, drawn, parse, read_label_names
from .labelme_write import targets as targets
from .labelme_write import write as write

NAME = "labelme"
CHECKS = "labelme_checks"  # its checks (validate); findings need a person's decision: no --fix
OVERLAPS = True  # one shape (or group) per instance: instances may overlap
PAINT_ORDER = "LabelMe's order: later shapes on top"  # what flatten=True paints (convert --overlap order)
ORDER_DECIDED = "pixels where LabelMe's order decided an overlap (later shape on top)"


def not_an_area(kind: str) -> str:
    """The summary's reason for a dropped line, linestrip or point shape."""
    return f"LabelMe {kind} shape: not an area"


def label_files(path: Path) -> list[Path]:
    """The JSONs of a LabelMe folder (sorted by name), or the one file given."""
    return [path] if path.is_file() else sorted(p for p in path.glob("*.json") if p.is_file())


def detect(path: Path) -> Detection:
    """Strong for a folder of JSONs (or one JSON) whose first is an object with ``shapes`` and
    ``imagePath``, as labelme writes them."""
    if path.is_file():
        if path.suffix.lower() != ".json":
            return Detection("no", "not a .json file")
        files = [path]
    elif path.is_dir():
        files = label_files(path)
        if not files:
            return Detection("no", "no .json files in the folder")
    else:
        return Detection("no", "no such file or folder")
    data, why = json_sketch(files[0])  # the shared first look (one pass, remembered): no extra open
    if data is NOT_JSON:
        return Detection("no", f"{files[0].name}: {why}")
    keys = layout(files[0]).keys
    if keys.get("shapes") != b"[" or "imagePath" not in keys:
        return Detection("no", f"{files[0].name} has no 'shapes' list and 'imagePath'")
    return Detection("strong", f"LabelMe JSON ({files[0].name} has 'shapes' and 'imagePath')")


@dataclass(frozen=True, slots=True)
class LabelmeShapes:
    """Pixels of one image: its LabelMe JSON, read and rasterised when loaded."""

    path: str
    categories: tuple[tuple[str, int], ...]  # label → category id
    flatten: bool

    def load(self, image: ImageInfo) -> Annotation:
        """The image's instances (see the module's doc for the two readings)."""
        found = parse(load_json(Path(self.path)), self.path, STRICT, image.id)
        if found is None:  # (the strict policy raised)
            raise SegtoolError("not a LabelMe JSON", self.path)
        if (found.height, found.width) != (image.height, image.width):
            raise SegtoolError(f"image {image.id}: the file changed while it was read", self.path)
        ids = dict(self.categories)
        unknown = next((s for s in found.shapes if s.label not in ids and s.label not in NOT_CATEGORIES), None)
        if unknown is not None:
            raise SegtoolError(f"image {image.id}: label {unknown.label!r} is not a category", self.path)
        dropped = Counter({not_an_area(kind): n for kind, n in found.dropped.items()})
        if self.flatten:
            return _flattened(found, ids, image, self.path, dropped)
        return _instances(found, ids, image, self.path, dropped)


def _order(found: LabelFile) -> dict[tuple[str, Any], int]:
    """Instances numbered 1.. in the order of their first shape (labelme's order)."""
    out: dict[tuple[str, Any], int] = {}
    for s in found.shapes:
        out.setdefault(s.instance(), len(out) + 1)
    return out


def _instances(found: LabelFile, ids: dict[str, int], image: ImageInfo, path: str, dropped: Counter[str]) -> Annotation:
    """labelme2coco's reading: each instance the union of its shapes; ``__ignore__`` and
    ``_background_`` shapes left out. An instance is a crowd region when one of its shapes
    carries the ``iscrowd`` flag (segtool's writer puts it there)."""
    h, w = image.height, image.width
    parts: dict[tuple[str, Any], list[Window]] = {}
    crowd: dict[tuple[str, Any], bool] = {}
    for s in found.shapes:
        if s.label in NOT_CATEGORIES:
            continue
        key = s.instance()
        parts.setdefault(key, []).append(drawn(s, h, w))
        crowd[key] = crowd.get(key, False) or s.crowd
    rles, areas, boxes = [], [], []
    for windows in parts.values():
        rle, area, box = window_rle(union(windows), h, w)
        rles.append(rle)
        areas.append(area)
        boxes.append(box)
    keys = list(parts)
    segs = Segments.build(
        id=np.arange(1, len(keys) + 1),
        category_id=[ids[k[0]] for k in keys],
        iscrowd=[int(crowd[k]) for k in keys],
        area=np.asarray(areas, np.float64),
        bbox=np.asarray(boxes, np.float64).reshape(-1, 4),
    )
    return Annotation(image, segs, rles=tuple(rles), origin=path, dropped=+dropped or None)


Window = tuple[int, int, npt.NDArray[np.bool_]]  # (y0, x0, pixels of a box of the image from there)


def union(windows: list[Window]) -> Window:
    """The union of an instance's shapes, in the window that holds them all."""
    if len(windows) == 1:
        return windows[0]
    top, left = min(w[0] for w in windows), min(w[1] for w in windows)
    bottom = max(w[0] + w[2].shape[0] for w in windows)
    right = max(w[1] + w[2].shape[1] for w in windows)
    out = np.zeros((bottom - top, right - left), dtype=bool)
    for y0, x0, window in windows:
        out[y0 - top : y0 - top + window.shape[0], x0 - left : x0 - left + window.shape[1]] |= window
    return top, left, out


def window_rle(part: Window, height: int, width: int) -> tuple[dict[str, Any], int, list[float]]:
    """The COCO RLE (pycocotools' ``encode``, byte for byte), pixel count and box of a mask
    of the image that is empty outside the window: measured over the window alone, where a
    pass over the image per instance would cost the image's size 30 times."""
    y0, x0, window = part
    edges = np.zeros((window.shape[1], window.shape[0] + 2), dtype=np.int8)  # columns, padded
    edges[:, 1:-1] = window.T
    step = np.diff(edges, axis=1)
    sx, sy = np.nonzero(step == 1)  # row-major over (x, y): the image's column-major order
    ex, ey = np.nonzero(step == -1)
    starts, ends = (sx + x0) * height + sy + y0, (ex + x0) * height + ey + y0
    if len(starts):
        joined = ends[:-1] == starts[1:]  # a run through a column's foot into the next one's head
        starts, ends = starts[np.r_[True, ~joined]], ends[np.r_[~joined, True]]
    bounds = np.stack([starts, ends], axis=1).ravel()
    counts = np.diff(np.concatenate([[0], bounds, [height * width]])).astype(np.int64)
    if len(counts) > 1 and counts[-1] == 0:  # pycocotools drops a final zero run
        counts = counts[:-1]
    text, _ = masks.compress_counts(counts, np.array([0, len(counts)], dtype=np.int64))
    rows, cols = np.flatnonzero(window.any(axis=1)), np.flatnonzero(window.any(axis=0))
    box = [0.0, 0.0, 0.0, 0.0]
    if len(rows):
        box = [float(x0 + cols[0]), float(y0 + rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]
    return {"size": [height, width], "counts": text}, int(np.count_nonzero(window)), box


def _flattened(found: LabelFile, ids: dict[str, int], image: ImageInfo, path: str, dropped: Counter[str]) -> Annotation:
    """labelme2voc's reading: shapes painted in file order, later on top; ``__ignore__`` and
    ``_background_`` paint void. Segments are the instances left with pixels. The pixels
    that two or more instances cover (``__ignore__`` shapes count as instances of their
    own) are the ones LabelMe's order decided: counted in ``changed``. The runs measured
    here go with the annotation, so a writer does not measure them again."""
    order = _order(found)
    keys = [k for k in order if k[0] not in NOT_CATEGORIES]
    value = {k: i for i, k in enumerate(keys, start=1)}  # __ignore__, _background_: 0 (void)
    index = np.zeros((image.height, image.width), dtype=np.int32)
    crowd = np.zeros(len(keys) + 1, dtype=bool)
    painted: dict[tuple[str, Any], list[tuple[int, int, npt.NDArray[np.bool_]]]] = {}
    for s in found.shapes:
        key = s.instance()
        y0, x0, window = drawn(s, image.height, image.width)
        np.copyto(index[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]], value.get(key, 0), where=window)
        crowd[value.get(key, 0)] |= s.crowd
        painted.setdefault(key, []).append((y0, x0, window))
    present = np.zeros(len(keys) + 1, dtype=bool)  # looked for in each shape's window only
    for key, windows in painted.items():
        v = value.get(key, 0)
        for y0, x0, window in windows if v else ():
            present[v] = present[v] or bool(
                np.any(index[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]][window] == v)
            )
    segs = Segments.build(id=np.arange(1, len(keys) + 1), category_id=[ids[k[0]] for k in keys], iscrowd=crowd[1:])
    if not present[1:].all():  # an instance painted over entirely: renumbered away
        res = views.keep(index, segs, present[1:])
        index, segs = res.index, res.segments
    runs = masks.Runs(index, len(segs))
    segs = segs.replace(area=runs.areas().astype(np.float64), bbox=runs.bboxes())
    decided = _shared(painted.values(), index.shape)
    changed = Counter({ORDER_DECIDED: decided}) if decided else None
    return Annotation(image, segs, id_map=index, runs=runs, origin=path, dropped=+dropped or None, changed=changed)


def _shared(instances: Any, shape: tuple[int, ...]) -> int:
    """Pixels covered by two or more instances, each instance the union of its shapes'
    windows: a count per pixel, added window by window (no pass over the whole image but
    the last)."""
    cover = np.zeros(shape, dtype=np.int32)
    for windows in instances:
        y0, x0, window = union(windows)
        cover[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] += window
    return int(np.count_nonzero(cover > 1))


@dataclass(frozen=True, slots=True)
class Scanned:
    """What the first pass keeps of a file: its size and imagePath, not its shapes
    (thousands of files' points held at once would make memory grow with the dataset)."""

    path: Path
    height: int
    width: int
    image_path: str


def scan(
    files: list[Path], report: Policy, known: frozenset[str] | None = None
) -> tuple[list[Scanned], set[str], Counter[str]]:
    """Every file's size and labels (masks not decoded), the labels found, shapes dropped.
    ``known``: the labels file's labels; a label it does not list is an error."""
    out: list[Scanned] = []
    labels: set[str] = set()
    dropped: Counter[str] = Counter()
    for i, p in enumerate(files, start=1):
        found = parse(load_json(p), str(p), report, i, pixels=False)
        if found is None:
            continue
        mine = {s.label for s in found.shapes}
        stray = sorted(mine - known - set(NOT_CATEGORIES)) if known is not None else []
        if stray:
            raise FormatError(f"label {stray[0]!r} is not in the labels file", str(p))
        out.append(Scanned(p, found.height, found.width, found.image_path))
        labels.update(mine)
        dropped.update(found.dropped)
    return out, labels, dropped


def read(path: Path, *, categories: Path | None = None, flatten: bool = False, **_: Any) -> Dataset:
    """Read a folder of LabelMe JSONs (or one); every JSON is parsed once here for its size
    and labels, and again when its sample is loaded. Labels that ``categories`` does not list
    are an error (validate: ``label-unknown``)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    files = label_files(path)
    if not files:
        raise FormatError("no .json files in the folder", str(path))
    given = categories or (path / LABELS if path.is_dir() and (path / LABELS).is_file() else None)
    listed = read_label_names(given) if given is not None else None
    known = frozenset(category_names(listed, set())) if listed is not None else None
    parsed, labels, _ = scan(files, STRICT, known)
    cats = tuple(Category(i, n, True) for i, n in enumerate(category_names(listed, labels), start=1))
    names = tuple((c.name, c.id) for c in cats)
    samples = []
    for i, f in enumerate(parsed, start=1):
        name = file_name(f.image_path or f"{f.path.stem}.jpg", f"image {i}", f.path)
        samples.append(Sample(ImageInfo(i, name, f.height, f.width), LabelmeShapes(str(f.path), names, flatten)))
    return Dataset(cats, tuple(samples), "panoptic" if flatten else "instance", {}, str(path))
