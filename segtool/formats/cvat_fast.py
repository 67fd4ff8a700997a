"""The CVAT reader's usual image read without the general path's objects: an ``<image>``
whose children are all plain polygons (a declared label, ``z_order`` a small integer, no
``group_id``, no ``<attribute>`` children, points :func:`segtool.kernels.parse_points`
reads, spelled as CVAT writes them: no entity, comment or text) becomes its instances in a
few calls over columns: :func:`segtool.kernels.cvat_polygons` reads the element's bytes
straight into labels, coordinates, ends and extents (no expat, no attribute dicts), and
:func:`segtool.kernels.poly_rles` writes the RLEs; no :class:`~.cvat_rules.Shape` per polygon.

It gives the Annotation :func:`segtool.formats.cvat._instances` gives for such an image,
byte for byte (tested), or None for anything else, any problem included: the general path
then reads the image and names the problem.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import kernels
from ..cocomask import size_ok
from ..model import Annotation, ImageInfo, Segments
from .cvat_xml import ImageEntry

_PLAIN = frozenset(["utf-8"])  # (what CVAT writes; expat reads it itself, as ElementTree does)
_SHAPE_BYTES = 24  # fewer than any polygon the kernel reads takes: room for every one


def _read(path: str, entry: ImageEntry) -> bytes | None:
    """The image's bytes in the file (from ``<image`` to its end tag), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            data = os.pread(fd, entry.end - entry.start, entry.start)
        finally:
            os.close(fd)
    except OSError:
        return None
    return data


@functools.lru_cache(maxsize=64)
def _names(categories: tuple[tuple[str, int], ...]) -> tuple[bytes, Any, Any]:
    """The labels as :func:`segtool.kernels.cvat_polygons` finds them: their UTF-8 sorted and
    joined, where each starts, and the category id of each in that order."""
    order = sorted((name.encode("utf-8", "surrogatepass"), cid) for name, cid in categories)
    starts = np.cumsum([0, *(len(b) for b, _ in order)], dtype=np.int64)
    return b"".join(b for b, _ in order), starts, np.asarray([c for _, c in order], np.int64)


def _polygons(path: str, entry: ImageEntry, encoding: str, ids: dict[str, int]) -> tuple[Any, ...] | None:
    """The image's polygons as columns (category ids, coordinates, ends, extents), read by
    :func:`segtool.kernels.cvat_polygons` from its bytes in the file, or None when it is
    not plain polygons (or cannot be read)."""
    if encoding not in _PLAIN or entry.end <= entry.start or "" in ids:
        return None
    data = _read(path, entry)
    if data is None:
        return None
    names, starts, cats = _names(tuple(ids.items()))
    most = len(data) // _SHAPE_BYTES + 1
    labels, ends, extents = np.empty(most, np.int64), np.empty(most, np.int64), np.empty(4 * most)
    xy = np.empty(len(data) // 2 + 1)
    n = kernels.cvat_polygons(data, names, starts, labels, xy, ends, extents)
    if n < 0:
        return None
    ends = ends[:n]
    return cats[labels[:n]], xy[: 2 * int(ends[-1])], ends, extents[: 4 * n]


def instances(path: str, entry: ImageEntry, encoding: str, ids: dict[str, int], image: ImageInfo) -> Annotation | None:
    """The image's Annotation as the general path reads it (see the module's doc), or None."""
    h, w = image.height, image.width
    if not size_ok(h, w):
        return None
    found = _polygons(path, entry, encoding, ids)
    if found is None:
        return None
    category, xy, ends, extents = found
    n = len(ends)
    areas, boxes = np.zeros(n, np.int64), np.zeros(4 * n)
    first, strings = kernels.poly_rles(xy, ends, np.arange(1, n + 1, dtype=np.int64), h, w, areas, boxes)
    if first >= 0:  # (a polygon its limits doubt: pycocotools decides, in the general path)
        return None
    return Annotation(
        image, _segments(category, areas, extents), rles=_rles(strings, h, w), raw=Raw(xy, ends), origin=path
    )


def _segments(category: Any, areas: Any, extents: Any) -> Segments:
    """The table ``_instances`` builds: each polygon's own extent as ``[x, y, (x + w) - x,
    (y + h) - y]`` (its float sums, elementwise)."""
    n = len(category)
    e = extents.reshape(n, 4)
    lo = e[:, :2]
    bbox = np.concatenate([lo, (lo + (e[:, 2:] - lo)) - lo], axis=1)
    return Segments(
        id=np.arange(1, n + 1, dtype=np.int64),
        category_id=category,
        iscrowd=np.zeros(n, np.bool_),
        area=areas.astype(np.float64),
        bbox=bbox,
    )


def _rles(strings: list[str | None], h: int, w: int) -> tuple[dict[str, Any], ...]:
    return tuple([{"size": [h, w], "counts": t} for t in strings])


def _raw(xy: Any, ends: Any) -> tuple[list[list[float]], ...]:
    """Each polygon as coco-instance writes it: ``[[x1, y1, ...]]``, the same floats."""
    flat, stops = xy.tolist(), (2 * ends).tolist()
    return tuple([[flat[a:b]] for a, b in zip([0, *stops], stops, strict=False)])


class Raw(Sequence[Any]):
    """:func:`_raw`'s polygons, made when first read: a sequence of one item a polygon that
    reads as the tuple of those lists (indexing, iteration, ``len``, ``in``, equality with
    the tuple; pickled, the plain tuple), for an annotation whose writer may never read them
    (coco-instance writes RLEs by default: ~25 us an image of 30 polygons not spent). Not a
    tuple subclass: C code that reads a tuple's items directly (``json.dumps``, ``+``)
    would see none of them, where a Sequence makes it ask (or refuse: ``json.dumps`` raises;
    ``tuple(raw)`` is the plain tuple)."""

    __slots__ = ("_cols", "_made", "_n")

    def __init__(self, xy: Any, ends: Any) -> None:
        self._cols: tuple[Any, Any] | None = (xy, ends)
        self._made: tuple[list[list[float]], ...] | None = None
        self._n = len(ends)

    def made(self) -> tuple[list[list[float]], ...]:
        """The polygons, made once."""
        if self._made is None:
            assert self._cols is not None
            self._made, self._cols = _raw(*self._cols), None
        return self._made

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: Any) -> Any:
        return self.made()[k]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.made())

    def __contains__(self, item: object) -> bool:
        return item in self.made()

    def __eq__(self, other: object) -> bool:
        return self.made() == (other.made() if isinstance(other, Raw) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # lists inside: unhashable, as the tuple of them

    def __reduce__(self) -> tuple[Any, ...]:
        return tuple, (self.made(),)

    def __repr__(self) -> str:
        return repr(self.made())
