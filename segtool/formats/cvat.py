"""CVAT for images 1.1 XML: task, job and project exports (``annotations.xml``, or any one
``.xml`` file), read and written.

Polygons, boxes and ``<mask>`` elements are areas, drawn as :mod:`.cvat_rules` says (as
coco-instance draws polygons, so a polygon stays one); polylines, points and CVAT's other
shapes are dropped and counted. Shapes of one label with one ``group_id`` are one instance.
Labels are ``<meta>``'s, ids 1..n in its order. A project's ``subset`` of each image is kept
as the image's ``subset`` (its ``extra``); per object, ``occluded``, ``source``,
``z_order`` and the attributes are kept by the source (:meth:`CvatShapes.extras`) and
written back when a CVAT dataset is written as CVAT.

Two readings:

* default: ``instance``: each instance the union of its shapes, overlapping others as it
  may (what coco-instance holds);
* ``flatten=True``: ``panoptic``: the shapes painted in :data:`PAINT_ORDER`, and the pixels
  that two or more instances claimed counted in ``Annotation.changed``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import cocopoly, masks, views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT
from . import cvat_fast
from .common import Detection
from .cvat_rules import ImageShapes, Shape, parse_image, rasterise
from .cvat_write import targets as targets  # the writer, beside the reader
from .cvat_write import write as write
from .cvat_xml import ImageEntry, fragment, scan, xml_file

NAME = "cvat"
OVERLAPS = True  # shapes may overlap: written as they are, each on its own
CHECKS = "cvat_checks"  # its checks (validate); findings need a person's decision: no --fix
PAINT_ORDER = "CVAT's order: higher z_order on top, then later in the file"
PAINTED = f"pixels two or more shapes overlapped, given to the one on top ({PAINT_ORDER})"
HIDDEN = f"instance hidden by shapes on top of it ({PAINT_ORDER})"
_HEAD = 1 << 14


def detect(path: Path) -> Detection:
    """Strong for an XML file (or a folder's ``annotations.xml``) whose root element is
    ``<annotations>`` with a ``<version>`` or ``<meta>`` near its start, as CVAT writes."""
    if path.is_dir():
        try:
            path = xml_file(path)
        except FormatError:
            return Detection("no", "no annotations.xml in the folder")
    elif not path.is_file():
        return Detection("no", "no such file or folder")
    elif path.suffix.lower() != ".xml":
        return Detection("no", "not a .xml file")
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError as exc:
        return Detection("no", f"cannot read ({exc.strerror})")
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", head, flags=re.S)
    root = re.search(rb"<([A-Za-z_][\w:.-]*)", body)
    if root is None or root.group(1) != b"annotations":
        return Detection("no", f"{path.name}: the root element is not <annotations>")
    if b"<version>" in body or b"<meta>" in body:
        return Detection("strong", f"CVAT XML ({path.name}: <annotations> with <version>/<meta>)")
    return Detection("weak", f"{path.name}: an <annotations> root element")


@dataclass(frozen=True, slots=True)
class CvatShapes:
    """Pixels of one image: its ``<image>`` element, parsed again from its bytes in the file
    and rasterised when loaded."""

    path: str
    entry: ImageEntry
    encoding: str
    categories: tuple[tuple[str, int], ...]  # label -> category id
    flatten: bool

    def parse(self, image: ImageInfo) -> ImageShapes:
        """The image's shapes, checked strictly (the first problem is a one-line error)."""
        el = fragment(self.path, self.entry, self.encoding)
        labels = frozenset(name for name, _ in self.categories)
        return parse_image(el, image.height, image.width, labels, self.path, STRICT, image.id, drawn=True)

    def load(self, image: ImageInfo) -> Annotation:
        """The image's instances (see the module's doc for the two readings); an image of
        plain polygons read by :mod:`.cvat_fast` (the same Annotation, fewer objects)."""
        ids = dict(self.categories)
        if not self.flatten:
            fast = cvat_fast.instances(self.path, self.entry, self.encoding, ids, image)
            if fast is not None:
                return fast
        found = self.parse(image)
        groups = instances(found.shapes)
        if self.flatten:
            return _flattened(groups, found, ids, image, self.path)
        return _instances(groups, found, ids, image, self.path)

    def extras(self, image: ImageInfo) -> dict[int, dict[str, Any]]:
        """Per instance (by segment id): what CVAT says of its first shape (``kind``,
        ``occluded``, ``source``, ``z_order``, ``attributes``); the model has no column."""
        groups = instances(self.parse(image).shapes)
        return {k: g[0].extra for k, g in enumerate(groups, start=1)}


def instances(shapes: list[Shape]) -> list[list[Shape]]:
    """Shapes grouped into instances, in the order of their first shape: one label and one
    ``group_id`` (not 0) join; any other shape is an instance of its own."""
    if not any(s.group for s in shapes):  # (the usual case: each shape alone, in order)
        return [[s] for s in shapes]
    out: dict[tuple[str, int], list[Shape]] = {}
    for s in shapes:
        out.setdefault((s.label, s.group if s.group else -1 - s.index), []).append(s)
    return list(out.values())


def _union(group: list[Shape], h: int, w: int) -> dict[str, Any]:
    """One instance's mask: its polygons rasterised together (pycocotools' merge), or, with
    a ``<mask>`` among them, the shapes' pixels joined."""
    if all(s.kind != "mask" for s in group):
        if len(group) == 1:
            return rasterise(group[0], h, w)
        rle = masks.rasterize([list(s.polygon) for s in group], h, w)
        counts = rle["counts"]
        return {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    dense = np.zeros((h, w), dtype=np.int32)
    for s in group:
        dense |= _pixels(s, h, w)
    rles: list[dict[str, Any]] = masks.Runs(dense, 1).rles()
    return rles[0]


def _drawn(group: list[Shape], image: ImageInfo, path: str) -> dict[str, Any]:
    """:func:`_union`, a polygon :func:`segtool.masks.rasterize` refuses named as a shape."""
    try:
        return _union(group, image.height, image.width)
    except ValueError:
        for s in group:  # which one: each alone
            try:
                rasterise(s, image.height, image.width)
            except ValueError as exc:
                raise SegtoolError(
                    f"image {image.id}: shape {s.index} ({s.kind} {s.label!r:.40}): {exc}", path
                ) from None
        raise


def _all_drawn(
    groups: list[list[Shape]], polys: list[list[list[float]]], image: ImageInfo, path: str
) -> tuple[tuple[dict[str, Any], ...], npt.NDArray[np.int64]]:
    """Every instance's :func:`_drawn` and its area (``polys``: each group's polygons as
    lists). The polygons of all of them are checked and drawn at once
    (:func:`segtool.cocopoly.rasterize_many`: the same bytes, their areas counted as drawn),
    ``<mask>`` instances one by one (their areas decoded strictly)."""
    h, w = image.height, image.width
    polygonal = [k for k, g in enumerate(groups) if all(s.kind != "mask" for s in g)]
    try:
        drawn = cocopoly.rasterize_many([polys[k] for k in polygonal], h, w)
    except ValueError:
        rles = tuple(_drawn(g, image, path) for g in groups)  # (the shape to name, in order)
        return rles, _areas(rles, image, path)
    out: list[dict[str, Any]] = [{}] * len(groups)
    for k, rle in zip(polygonal, drawn, strict=True):
        counts = rle["counts"]
        out[k] = {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    if len(polygonal) == len(groups):
        return tuple(out), cocopoly.drawn_areas(drawn)
    for k, g in enumerate(groups):
        if not out[k]:
            out[k] = _drawn(g, image, path)
    return tuple(out), _areas(out, image, path)


def _measured(
    groups: list[list[Shape]],
    polys: list[list[list[float]]],
    image: ImageInfo,
    path: str,
    packed: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None,
) -> tuple[tuple[dict[str, Any], ...], npt.NDArray[np.int64]]:
    """:func:`_all_drawn`'s RLEs and areas; when every shape is a polygon (or a box), written
    by :func:`segtool.cocopoly.polygon_rles` (the same bytes and numbers, ~4x cheaper;
    ``packed``: the polygons as parse_points read them, when each instance is one)."""
    if all(s.kind != "mask" for g in groups for s in g):
        try:
            rles, areas = cocopoly.polygon_rles(polys, image.height, image.width, packed)
        except ValueError:  # (the shape to name: as drawn)
            return _all_drawn(groups, polys, image, path)
        return tuple(rles), areas
    return _all_drawn(groups, polys, image, path)


def _areas(rles: Sequence[dict[str, Any]], image: ImageInfo, path: str) -> npt.NDArray[np.int64]:
    try:
        return masks.rle_areas(list(rles)) if rles else np.zeros(0, np.int64)
    except ValueError as exc:  # (rasterised here: cannot happen)
        raise SegtoolError(f"image {image.id}: {exc}", path) from None


def _pixels(shape: Shape, h: int, w: int) -> npt.NDArray[np.int32]:
    decoded: npt.NDArray[np.int32] = masks.decode([rasterise(shape, h, w)], h, w)[:, :, 0].astype(np.int32)
    return decoded


def _extent(group: list[Shape]) -> list[float]:
    """The instance's box as CVAT's COCO export gives it: the union of its shapes' own boxes
    (a polygon's points, a mask's pixels)."""
    if len(group) == 1:  # (the same sums as below)
        x0, y0, bw, bh = group[0].box
        return [x0, y0, x0 + bw - x0, y0 + bh - y0]
    x0 = min(s.box[0] for s in group)
    y0 = min(s.box[1] for s in group)
    x1 = max(s.box[0] + s.box[2] for s in group)
    y1 = max(s.box[1] + s.box[3] for s in group)
    return [x0, y0, x1 - x0, y1 - y0]


def _instances(
    groups: list[list[Shape]], found: ImageShapes, ids: dict[str, int], image: ImageInfo, path: str
) -> Annotation:
    """Each instance the union of its shapes; ``raw`` keeps polygons (a box's corners) so a
    coco-instance writer writes them as they are."""
    polys = [[list(s.polygon) for s in g] for g in groups]  # (pycocotools does not change them)
    if len(groups) == len(found.shapes):  # one shape each (the usual case): the columns per shape
        shapes = found.shapes
        rles, areas = _measured(groups, polys, image, path, found.packed)
        crowd = [s.crowd for s in shapes]
        raw = tuple(None if s.kind == "mask" or s.crowd else p for s, p in zip(shapes, polys, strict=True))
        category = [ids[s.label] for s in shapes]
        boxes = [[x0, y0, x0 + bw - x0, y0 + bh - y0] for x0, y0, bw, bh in (s.box for s in shapes)]  # (_extent's)
    else:
        rles, areas = _measured(groups, polys, image, path)
        crowd = [any(s.crowd for s in g) for g in groups]
        raw = tuple(
            None if any(s.kind == "mask" or s.crowd for s in g) else p for g, p in zip(groups, polys, strict=True)
        )
        category = [ids[g[0].label] for g in groups]
        boxes = [_extent(g) for g in groups]
    segs = Segments.build(
        id=np.arange(1, len(groups) + 1),
        category_id=category,
        iscrowd=crowd,
        area=np.asarray(areas, np.float64),
        bbox=np.asarray(boxes, np.float64).reshape(-1, 4),
    )
    return Annotation(image, segs, rles=rles, raw=raw, origin=path, dropped=+found.dropped or None)


def _flattened(
    groups: list[list[Shape]], found: ImageShapes, ids: dict[str, int], image: ImageInfo, path: str
) -> Annotation:
    """The shapes painted in CVAT's order into one disjoint map; pixels two or more
    instances claimed are counted as decided by that order."""
    h, w = image.height, image.width
    index = np.zeros((h, w), dtype=np.int32)
    cover = np.zeros((h, w), dtype=np.int32)
    number = {s.index: k for k, g in enumerate(groups, start=1) for s in g}
    own = []
    for g in groups:
        union = masks.decode([_drawn(g, image, path)], h, w)[:, :, 0]
        own.append(int(np.count_nonzero(union)))
        cover += union
    for s in sorted((s for g in groups for s in g), key=lambda s: (s.z_order, s.index)):
        index[_pixels(s, h, w).astype(bool)] = number[s.index]
    segs = Segments.build(
        id=np.arange(1, len(groups) + 1),
        category_id=[ids[g[0].label] for g in groups],
        iscrowd=[any(s.crowd for s in g) for g in groups],
    )
    area = masks.areas(index, len(groups))
    res = views.keep(index, segs, area > 0)
    dropped = Counter(found.dropped)
    dropped["empty mask"] += sum(1 for n in own if n == 0)
    dropped[HIDDEN] += sum(1 for n, a in zip(own, area.tolist(), strict=True) if n > 0 and a == 0)
    contested = int(np.count_nonzero(cover > 1))
    changed = Counter({PAINTED: contested}) if contested else None
    return Annotation(image, res.measured(), id_map=res.index, origin=path, dropped=+dropped or None, changed=changed)


def read(path: Path, *, flatten: bool = False, **_: Any) -> Dataset:
    """Read a CVAT for images XML (or a folder's ``annotations.xml``): the file is streamed
    once for its labels, images and where each image's shapes lie; the shapes are read
    when a sample is loaded."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    xml = xml_file(path)
    found = scan(xml, STRICT)
    cats = tuple(Category(i, lab.name, True) for i, lab in enumerate(found.labels, start=1))
    names = tuple((c.name, c.id) for c in cats)
    unique = len({e.id for e in found.images}) == len(found.images)
    samples = []
    for e in found.images:
        extra = {"subset": e.subset} if e.subset else {}
        image = ImageInfo(e.id if unique else e.index, e.name, e.height, e.width, extra)
        samples.append(Sample(image, CvatShapes(str(xml), e, found.encoding, names, flatten)))
    labels = [
        {"name": lab.name, "attributes": [vars_of(a) for a in lab.attributes]} for lab in found.labels if lab.attributes
    ]
    info = {"cvat": {"kind": found.kind, "subsets": found.subsets, "labels": labels}}
    return Dataset(cats, tuple(samples), "panoptic" if flatten else "instance", info, str(path))


def vars_of(spec: Any) -> dict[str, str]:
    """An attribute's declaration as a plain dict (JSON-safe, for ``Dataset.info``)."""
    return {k: getattr(spec, k) for k in spec.__slots__}


def count_images(path: Path) -> int:
    """How many images validate steps through (one streaming pass)."""
    try:
        return len(scan(xml_file(path), STRICT).images)
    except SegtoolError:
        return 0
