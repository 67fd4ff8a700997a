"""Read a COCO JSON one record at a time, so memory does not grow with the dataset.

``json.load`` builds the whole file as Python objects: ~10x the file's size, for a file
that can be gigabytes. ijson's C backend (yajl) yields the records of one top-level list as
they are parsed, at about the speed of ``json``; each pass skips the other sections in C.

A command opens an input JSON twice: once for its layout (:mod:`.jsonfile`: the guard's
scan, detection's sketch and the small sections, remembered per file version), once for
the annotation stream (:func:`items`, or :class:`Passes` for a reader that goes over the
file twice through that one open: a light pass, then the full one).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ..errors import FormatError, SegtoolError
from . import jsonguard
from .jsonfile import SMALL, invalid, layout, open_file, parsing, reading

__all__ = [
    "Passes",
    "coco_lists",
    "coco_sections",
    "invalid",
    "items",
    "layout",
    "list_items",
    "parses_outside",
    "section",
    "sketch",
]


def items(path: Path, prefix: str) -> Iterator[Any]:
    """Values at ``prefix`` (``"annotations.item"``: each annotation), one at a time, from
    one open of the file. The whole file is parsed, so an error anywhere in it is seen.

    Errors name the file: missing, a folder, unreadable, or not valid JSON.
    """
    with _reading(path) as f:
        yield from ijson.items(f, prefix, use_float=True)


@contextmanager
def _reading(path: Path) -> Iterator[BinaryIO]:
    """The file open for ijson, its errors turned into one-line SegtoolErrors.

    Every version of a file is scanned once before ijson sees a byte of it
    (:func:`jsonguard.check_file`; reading the layout scans it): yajl crashes on a
    4,301-digit integer and ijson's memory grows with the square of the nesting depth, and a
    repeated top-level key would make a stream read another file than the json module does.
    """
    with reading(path) as f:
        jsonguard.check_file(f, path)
        yield f


class Passes:
    """Several passes over one open of a JSON file, for a reader that needs a light first
    pass (image ids, annotations per image) before the full one. The file is closed after
    the pass marked ``last`` (a later pass opens it again), or when this object goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def items(self, prefix: str, *, last: bool = False) -> Iterator[Any]:
        """Values at ``prefix``, as :func:`items`."""
        try:
            with parsing(self.path):
                f = self._open()
                f.seek(0)
                yield from ijson.items(f, prefix, use_float=True)
        finally:
            if last:
                self.close()

    def _open(self) -> BinaryIO:
        if self._file is None:
            f = open_file(self.path)
            try:
                jsonguard.check_file(f, self.path)
            except BaseException:
                f.close()
                raise
            self._file = f
            weakref.finalize(self, f.close)
        return self._file

    def close(self) -> None:
        """Close the file now."""
        if self._file is not None:
            self._file.close()
            self._file = None


def list_items(path: Path, key: str) -> Iterator[Any]:
    """The items of the top-level list ``key``, one at a time, reading no further than its
    end (``items(path, key + ".item")`` would parse the rest of the file looking for more).

    Built from ijson's events, so the list is never held whole. Errors as :func:`items`.
    (Readers take small sections from the file's layout instead: no further open.)
    """
    from ijson.common import ObjectBuilder

    item = key + ".item"
    builder: ObjectBuilder | None = None
    depth = 0
    for prefix, event, value in _events(path):
        if builder is None:
            if prefix == key and event == "end_array":
                return
            if prefix != item:
                continue
            if event not in ("start_map", "start_array"):
                yield value
                continue
            builder = ObjectBuilder()
        builder.event(event, value)
        depth += event in ("start_map", "start_array")
        depth -= event in ("end_map", "end_array")
        if depth == 0:
            yield builder.value
            builder = None


def _events(path: Path) -> Iterator[tuple[str, str, Any]]:
    with _reading(path) as f:
        yield from ijson.parse(f, use_float=True)


def section(path: Path, key: str) -> Any:
    """The whole top-level value ``key``, or None when the file has none: a small section
    from the file's layout (no further open), another parsed from the file."""
    found = layout(path).checked()
    if key not in found.keys:
        return None
    if key in SMALL:
        return found.section(key)
    return next(items(path, key), None)


def coco_sections(path: Path, keys: tuple[str, ...] = ("images", "categories")) -> list[list[Any]]:
    """The small top-level lists of a COCO file (images, categories) from its layout; the
    annotations are left for :func:`items` to stream.

    A file without them is not a COCO dataset: a ``FormatError`` naming the keys.
    """
    out = [section(path, k) for k in keys]
    missing = [k for k, v in zip(keys, out, strict=True) if not isinstance(v, list)]
    if missing:
        raise FormatError(f"not a COCO dataset: expected a JSON object with lists {', '.join(keys)}", str(path))
    return out


def coco_lists(path: Path, keys: tuple[str, ...] = ("images", "categories")) -> list[Iterator[Any]]:
    """:func:`coco_sections` one record at a time: what holds a record per image (validate's
    image table) then does not also hold every record parsed (~500 bytes an image)."""
    found = layout(path).checked()
    if any(found.keys.get(k) != b"[" or k not in found.texts for k in keys):
        coco_sections(path, keys)  # raises: some section is missing or no list
    return [found.section_items(k) for k in keys]


def sketch(path: Path) -> Any:
    """Enough of a JSON file to tell its format, without parsing all of it: a list becomes
    ``[its first item]``; an object ``{"images": [first], "annotations": [first]}`` (each key
    only when present; an empty or non-list value as it is).

    It comes from the file's layout (one pass, remembered per version), so detecting a
    multi-gigabyte COCO file costs one scan and holds nothing.
    """
    return layout(path).checked().sketch


NOT_JSON = object()  # what json_sketch returns with the reason a path is no JSON dataset file


def json_sketch(path: Path) -> tuple[Any, str]:
    """A JSON format's first look at ``path`` for ``detect``: (its :func:`sketch`, "") or
    (``NOT_JSON``, why not: not a .json file, or unreadable as JSON)."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return NOT_JSON, "not a .json file"
    try:
        return sketch(path), ""
    except SegtoolError as exc:
        return NOT_JSON, exc.message


def parses_outside(f: BinaryIO, start: int, end: int) -> bool:
    """Whether the file with its list ``[start, end)`` taken for ``[]`` parses (ijson's
    events, nothing built): for a C scan that read only that list, so that a file the
    parser refuses anywhere is still refused."""
    try:
        for _ in ijson.basic_parse(_Outside(f, start, end), use_float=True):
            pass
    except (ijson.JSONError, ValueError):
        return False
    return True


class _Outside:
    """The file's bytes with ``[start, end)`` read as ``[]``, for ijson."""

    def __init__(self, f: BinaryIO, start: int, end: int) -> None:
        self._file, self._parts = f, [(0, start), (-1, 2), (end, -1)]
        f.seek(0)

    def read(self, size: int = -1) -> bytes:
        while self._parts and size != 0:  # ijson reads 0 bytes to learn the type
            at, left = self._parts[0]
            if at == -1:
                self._parts.pop(0)
                return b"[]"
            want = size if left < 0 else min(size, left) if size >= 0 else left
            self._file.seek(at)
            data = self._file.read(want) if want != 0 else b""
            if not data:
                self._parts.pop(0)
                continue
            self._parts[0] = (at + len(data), -1 if left < 0 else left - len(data))
            return data
        return b""
