"""Read a COCO JSON one record at a time, so memory does not grow with the dataset.

``json.load`` builds the whole file as Python objects: ~10x the file's size, for a file
that can be gigabytes. ijson's C backend (yajl) yields the records of one top-level list as
they are parsed, at about the speed of ``json``; each pass skips the other sections in C.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ..errors import FormatError, SegtoolError
from . import jsonguard
from .common import load_json


def items(path: Path, prefix: str) -> Iterator[Any]:
    """Values at ``prefix`` (``"annotations.item"``: each annotation), one at a time.

    Errors name the file: missing, a folder, unreadable, or not valid JSON.
    """
    with _reading(path) as f:
        yield from ijson.items(f, prefix, use_float=True)


@contextmanager
def _reading(path: Path) -> Iterator[BinaryIO]:
    """The file open for ijson, its errors turned into one-line SegtoolErrors.

    Every version of a file is scanned once before ijson sees a byte of it
    (:func:`jsonguard.check_file`): yajl crashes on a 4,301-digit integer and ijson's memory
    grows with the square of the nesting depth, and a repeated top-level key would make a
    stream read another file than the json module does.
    """
    try:
        with open(path, "rb") as f:
            jsonguard.check_file(f, path)
            yield f
    except FileNotFoundError:
        raise SegtoolError("no such file", str(path)) from None
    except IsADirectoryError:
        raise SegtoolError("is a folder, expected a JSON file", str(path)) from None
    except ijson.JSONError as exc:
        raise _invalid(path, exc) from None
    except UnicodeDecodeError:
        raise SegtoolError("invalid JSON (not UTF-8 text)", str(path)) from None
    except OSError as exc:
        raise SegtoolError(f"cannot read: {exc.strerror}", str(path)) from None


def list_items(path: Path, key: str) -> Iterator[Any]:
    """The items of the top-level list ``key``, one at a time, reading no further than its
    end (``items(path, key + ".item")`` would parse the rest of the file looking for more).

    Built from ijson's events, so the list is never held whole. Errors as :func:`items`.
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


_YAJL_REFUSES = {
    "integer overflow": "an integer past 64 bits, which a stream cannot read (ids and counts are 64-bit)",
    "floating point) overflow": "a number past the range of a double (such as 1e999)",
    "invalid char in json text": "a character JSON does not allow there (NaN and Infinity are not JSON)",
}


def _invalid(path: Path, exc: Exception) -> SegtoolError:
    """The error of a file that is not valid JSON, worded by the json module (line and column).

    yajl's own message spans several lines; on this rare path, parsing once more is cheap.
    What the json module takes but yajl does not (NaN, 10^30, 1e999) is said in words.
    """
    try:
        load_json(path)
    except SegtoolError as err:
        return err
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    why = next((text for key, text in _YAJL_REFUSES.items() if key in first), first)
    return SegtoolError(f"invalid JSON for a stream ({why})", str(path))


def section(path: Path, key: str) -> Any:
    """The whole top-level value ``key``, or None when the file has none.

    A key whose quoted name appears nowhere in the file is absent: one ``find`` over the
    bytes (read in chunks, C speed) saves a full parse pass for ``info``/``licenses``-less files.
    """
    if not _mentions(path, key):
        return None
    return next(items(path, key), None)


_CHUNK = 1 << 20


def _mentions(path: Path, key: str) -> bool:
    """Whether the quoted key occurs anywhere in the file: a ``find`` over 1 MB reads (not a
    memory map, whose file pages would count in the process's peak memory, growing with the
    file)."""
    needle = json.dumps(key).encode()
    try:
        with open(path, "rb") as f:
            tail = b""
            while chunk := f.read(_CHUNK):
                if (tail + chunk).find(needle) >= 0:
                    return True
                tail = chunk[-(len(needle) - 1) :]
            return False
    except OSError:  # unreadable: let the parser word the error
        return True


def coco_sections(path: Path, keys: tuple[str, ...] = ("images", "categories")) -> list[list[Any]]:
    """The small top-level lists of a COCO file (images, categories), each in one pass;
    the annotations are left for :func:`items` to stream.

    A file without them is not a COCO dataset: a ``FormatError`` naming the keys.
    """
    out = [section(path, k) for k in keys]
    missing = [k for k, v in zip(keys, out, strict=True) if not isinstance(v, list)]
    if missing:
        raise FormatError(f"not a COCO dataset: expected a JSON object with lists {', '.join(keys)}", str(path))
    return out


def _first(path: Path, key: str) -> Any:
    """``[first item]`` of the top-level list ``key``; the whole value when it has no item."""
    head = next(items(path, f"{key}.item"), None)
    return [head] if head is not None else section(path, key)


def sketch(path: Path) -> Any:
    """Enough of a JSON file to tell its format, without parsing all of it: a list becomes
    ``[its first item]``; an object ``{"images": [first], "annotations": [first]}`` (each key
    only when present; an empty or non-list value as it is).

    Each look stops at what it needs, in C, so detecting a multi-gigabyte COCO file costs
    milliseconds and holds nothing.
    """
    with _reading(path) as f:
        first = next(iter(ijson.parse(f)), None)
    if first is None:
        raise SegtoolError("invalid JSON (empty file)", str(path))
    event = first[1]
    if event == "start_array":
        head = next(items(path, "item"), None)
        return [] if head is None else [head]
    if event != "start_map":
        return next(items(path, ""), None)
    out = {}
    for key in ("images", "annotations"):
        value = _first(path, key)
        if value is not None:
            out[key] = value
    return out
