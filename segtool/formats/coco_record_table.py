"""A COCO file's image records as columns, for validate (issue 15).

validate looks an annotation's image record up by id, and lists the images no annotation
names; a dict of dicts (one per image, ~300 bytes) was the second largest thing it kept for
a large dataset. :class:`ImageRecords` keeps the ids, heights and widths in int64 arrays (the
ids also sorted, for a binary search), and each record's file name and extra keys pickled
into one byte buffer: ~40 bytes an image. It is a read-only ``Mapping`` id -> record dict,
with a dict's semantics (``True`` and ``1.0`` find id 1, a string never finds an integer),
iterated in the file's order. String ids (rare: COCO's are integers) are found through a
dict of their rows.

:class:`Seen` is the set of image ids met in annotations: a byte per listed image, and a
set for the ids 'images' does not list (malformed annotations' ids, counted but not looked
up).
"""

from __future__ import annotations

import pickle
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..model import ImageInfo

INT64 = (-(2**63), 2**63 - 1)


def _as_int(key: Any) -> int | None:
    """The int a dict would take ``key`` for (a bool, an integral float), else None."""
    if type(key) is int or type(key) is bool:
        key = int(key)
    elif type(key) is float and key.is_integer():
        key = int(key)
    else:
        return None
    return key if INT64[0] <= key <= INT64[1] else None


class ImageRecords(Mapping[Any, dict[str, Any]]):
    """Image records by id, as columns (see the module's docstring)."""

    def __init__(self, images: Iterable[ImageInfo]) -> None:
        ids = array("q")
        others: list[Any] | None = None  # every id, once one is not an int
        self._height, self._width, self._ends = array("q"), array("q"), array("q")
        self._blob = bytearray()
        for im in images:
            iid = im.id
            if others is None and type(iid) is not int:
                others = list(ids)
            if others is not None:
                others.append(iid)
            elif isinstance(iid, int):
                ids.append(iid)
            self._height.append(im.height)
            self._width.append(im.width)
            self._blob += pickle.dumps((im.file_name, im.extra or None), protocol=pickle.HIGHEST_PROTOCOL)
            self._ends.append(len(self._blob))
        self._ids = ids
        self._objs = others
        self._where: dict[Any, int] | None = None
        if others is not None:
            self._where = {iid: k for k, iid in enumerate(others)}
            self._ids = array("q")
            self._sorted = self._order = np.zeros(0, np.int64)
        else:
            flat = np.frombuffer(ids, np.int64) if len(ids) else np.zeros(0, np.int64)
            self._order = np.argsort(flat, kind="stable")
            self._sorted = flat[self._order]

    def row(self, key: Any) -> int | None:
        """The row of image ``key`` (its place in the file), or None when not listed."""
        if self._where is not None:
            try:
                return self._where.get(key)
            except TypeError:  # unhashable: no dict holds it
                return None
        k = _as_int(key)
        if k is None or not len(self._sorted):
            return None
        i = int(np.searchsorted(self._sorted, k))
        return int(self._order[i]) if i < len(self._sorted) and int(self._sorted[i]) == k else None

    def record(self, row: int) -> dict[str, Any]:
        """The record of ``row``: what ``ImageInfo.to_dict`` gave (extra keys first)."""
        start = self._ends[row - 1] if row else 0
        file_name, extra = pickle.loads(self._blob[start : self._ends[row]])
        iid = self._ids[row] if self._objs is None else self._objs[row]
        return {
            **(extra or {}),
            "id": iid,
            "file_name": file_name,
            "height": self._height[row],
            "width": self._width[row],
        }

    def file_names(self) -> Iterator[str]:
        """Each record's file name, in the file's order."""
        start = 0
        for end in self._ends:
            yield pickle.loads(self._blob[start:end])[0]
            start = end

    def repeated_names(self) -> Counter[str]:
        """The file names used by several records, with their counts, in the order of their
        first use; found through the names' hashes (an int64 each), not a count of all."""
        hashes = np.fromiter((hash(str(n)) for n in self.file_names()), np.int64, len(self))
        ordered = np.sort(hashes)
        twice = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
        named = Counter(str(n) for n in self.file_names() if hash(str(n)) in twice) if twice else Counter[str]()
        return Counter({n: c for n, c in named.items() if c > 1})

    def __getitem__(self, key: Any) -> dict[str, Any]:
        row = self.row(key)
        if row is None:
            raise KeyError(key)
        return self.record(row)

    def __contains__(self, key: object) -> bool:
        return self.row(key) is not None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._where) if self._where is not None else iter(self._ids)

    def __len__(self) -> int:
        return len(self._height)


class Seen:
    """The image ids met so far (see the module's docstring): ``add``, ``in``, ``len``."""

    def __init__(self, images: ImageRecords) -> None:
        self._images = images
        self._rows = bytearray(len(images))
        self._listed = 0
        self._others: set[Any] = set()

    def add(self, key: Any) -> None:
        row = self._images.row(key)
        if row is None:
            self._others.add(key)
        elif not self._rows[row]:
            self._rows[row] = 1
            self._listed += 1

    def __contains__(self, key: object) -> bool:
        row = self._images.row(key)
        return bool(self._rows[row]) if row is not None else key in self._others

    def __len__(self) -> int:
        return self._listed + len(self._others)
