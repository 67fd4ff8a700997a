"""What a JSON file holds at its top level, from one pass over it, remembered per version.

Detecting a format and reading a COCO file's small sections (``images``, ``categories``,
``info``, ``licenses``) used to open the file once per question: a sketch per format
asked, a section per key, ~10-16 opens per command, each of them a parser pass. Here one
pass does it all: every byte goes through :class:`~.jsonguard.Scanner` (the guard a parser
must never be fed around), which also finds where each top-level key's value lies; the small
sections are then read from those spots (their JSON text is kept, ~1/10 of their parsed
size), and the first item of ``annotations`` (or of a top-level list) is parsed for the
sketch. The result is remembered per version of the file (:func:`jsonguard.stat_key`,
found by ``stat`` without opening the file), so detect + read + the annotation stream open
a file twice: here, and for the stream.

Only UTF-8 (without a byte-order mark) is read this way, as the streaming parser reads
it; other encodings are marked (``Layout.encoding``) for the readers that parse them whole.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ..errors import SegtoolError
from . import jsonguard

SMALL = ("images", "categories", "info", "licenses")  # sections whose JSON text is kept
HEADS = ("images", "annotations")  # lists whose first item the sketch shows
_WS = b" \t\r\n"
_PEEK = 1 << 20  # a non-list value up to this size is parsed for the sketch
_CACHE = 8  # file versions remembered


@dataclass(frozen=True)
class Layout:
    """A JSON file's top level: ``kind`` is ``object``, ``array`` or ``value`` (a scalar);
    ``texts`` the JSON text of the small sections present; ``sketch`` what
    :func:`~.jsonstream.sketch` returns; ``keys`` the top-level keys in file order with the
    first byte of each value (``[``, ``{``, ``"`` …). ``encoding`` other than ``utf-8``:
    nothing else was read (``error`` says why a stream cannot)."""

    path: str
    kind: str
    keys: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, bytes] = field(default_factory=dict)
    sketch: Any = None
    encoding: str = "utf-8"
    error: SegtoolError | None = None
    starts: dict[str, int] = field(default_factory=dict)  # where each key's value begins (-1: twice)

    def section(self, key: str) -> Any:
        """The parsed value of a small top-level section, or None when the file has none."""
        text = self.texts.get(key)
        return None if text is None else parse_text(text, self.path)

    def section_items(self, key: str) -> Iterator[Any]:
        """The items of the small top-level list ``key``, one at a time (none when absent)."""
        text = self.texts.get(key)
        if text is None:
            return
        with parsing(self.path):
            yield from ijson.items(io.BytesIO(text), "item", use_float=True)

    def checked(self) -> Layout:
        """This layout, or the error a stream of the file meets: an empty file, or text
        that is not UTF-8 (worded by the json module when it is not JSON at all)."""
        if self.encoding != "utf-8":
            from .common import load_json

            load_json(Path(self.path))
            raise SegtoolError(f"invalid JSON for a stream ({self.encoding} text; a stream reads UTF-8)", self.path)
        if self.error is not None:
            raise self.error
        return self


_cache: OrderedDict[tuple[Any, ...], Layout] = OrderedDict()


def layout(path: Path) -> Layout:
    """The layout of the JSON file at ``path``: remembered when this version of it was read
    before (found by ``stat``: no open), else read in one pass (errors name the file)."""
    try:
        st = os.stat(path)
    except OSError:
        st = None  # the open below words the error
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise SegtoolError("is a folder, expected a JSON file", str(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise SegtoolError("not a regular file", str(path))  # never opened: a FIFO would block
    if st is not None:
        known = _cache.get(jsonguard.stat_key(st))
        if known is not None:
            _cache.move_to_end(jsonguard.stat_key(st))
            return known
    with reading(path) as f:
        version = jsonguard.file_key(f)
        found = _read(f, path)
    _cache[version] = found
    while len(_cache) > _CACHE:
        _cache.popitem(last=False)
    return found


@contextmanager
def reading(path: Path) -> Iterator[BinaryIO]:
    """``path`` open for reading, its errors (and the parser's) one-line SegtoolErrors."""
    with parsing(path):
        f = open_file(path)
        with f:
            yield f


def open_file(path: Path) -> BinaryIO:
    """``path`` opened for reading; its errors one-line SegtoolErrors naming it."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SegtoolError("no such file", str(path)) from None
    except IsADirectoryError:
        raise SegtoolError("is a folder, expected a JSON file", str(path)) from None
    except OSError as exc:
        raise SegtoolError(f"cannot read: {exc.strerror}", str(path)) from None


@contextmanager
def parsing(path: Path | str) -> Iterator[None]:
    """Parser and read errors as one-line SegtoolErrors naming ``path``."""
    try:
        yield
    except ijson.JSONError as exc:
        raise invalid(Path(path), exc) from None
    except UnicodeDecodeError:
        raise SegtoolError("invalid JSON (not UTF-8 text)", str(path)) from None
    except OSError as exc:
        raise SegtoolError(f"cannot read: {exc.strerror}", str(path)) from None


def parse_text(text: bytes, path: str) -> Any:
    """One JSON value held as text, parsed as the stream parses (ijson's yajl: 64-bit
    integers, doubles), so a section reads the same whichever way it is reached."""
    with parsing(path):
        return next(ijson.items(io.BytesIO(text), "", use_float=True))


_YAJL_REFUSES = {
    "integer overflow": "an integer past 64 bits, which a stream cannot read (ids and counts are 64-bit)",
    "floating point) overflow": "a number past the range of a double (such as 1e999)",
    "invalid char in json text": "a character JSON does not allow there (NaN and Infinity are not JSON)",
}


def invalid(path: Path, exc: Exception) -> SegtoolError:
    """The error of a file that is not valid JSON, worded by the json module (line and column).

    yajl's own message spans several lines; on this rare path, parsing once more is cheap.
    What the json module takes but yajl does not (NaN, 10^30, 1e999) is said in words.
    """
    from .common import load_json

    try:
        load_json(path)
    except SegtoolError as err:
        return err
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    why = next((text for key, text in _YAJL_REFUSES.items() if key in first), first)
    return SegtoolError(f"invalid JSON for a stream ({why})", str(path))


def _read(f: BinaryIO, path: Path) -> Layout:
    """Scan every byte (the guard), then read what the layout holds from the spots found."""
    encoding = json.detect_encoding(f.read(4))
    f.seek(0)
    if encoding != "utf-8":  # the whole-file readers scan their text as they load it
        return Layout(str(path), "value", encoding=encoding)
    scan = _scan(f, path)
    if scan.top == b"":
        return Layout(str(path), "value", error=SegtoolError("invalid JSON (empty file)", str(path)))
    if scan.top == b"[":
        f.seek(0)
        head = next(ijson.items(f, "item", use_float=True), _NONE)
        return Layout(str(path), "array", sketch=[] if head is _NONE else [head])
    if scan.top != b"{":
        f.seek(0)
        return Layout(str(path), "value", sketch=next(ijson.items(f, "", use_float=True), None))
    return _object(f, path, scan)


_NONE = object()


def _scan(f: BinaryIO, path: Path) -> jsonguard.Scanner:
    """The guard's scan of the whole file, which also finds the top-level keys and where
    the top-level value closes; the file version is remembered as scanned."""
    version = jsonguard.file_key(f)
    scan = jsonguard.Scanner(path)
    while chunk := f.read(jsonguard.CHUNK):
        scan.feed(chunk)

    def text(a: int, z: int) -> bytes:
        f.seek(a)
        return f.read(z - a + 1)

    scan.finish(text, names=True)
    jsonguard.remember(version)
    if len(scan.names) != len(scan.keys) or (scan.top in (b"{", b"[") and not _closed(f, scan.close)):
        f.seek(0)  # a key that cannot be decoded, a list or object left open, text after it
        for _ in ijson.items(f, "\x00", use_float=True):  # yajl words the error
            pass
        raise SegtoolError("invalid JSON", str(path))
    return scan


def _closed(f: BinaryIO, close: int) -> bool:
    """Whether the top-level value closes (at ``close``) with nothing but blanks after it."""
    if close < 0:
        return False
    f.seek(close + 1)
    while chunk := f.read(jsonguard.CHUNK):
        if chunk.strip(_WS):
            return False
    return True


def _object(f: BinaryIO, path: Path, scan: jsonguard.Scanner) -> Layout:
    """The layout of a top-level object: each key's value lies between its key's closing
    quote and the next key's opening quote (or the closing brace)."""
    ends = [a for a, _ in scan.keys[1:]] + [scan.close] if scan.keys else []
    keys: dict[str, bytes] = {}
    texts: dict[str, bytes] = {}
    sketch: dict[str, Any] = {}
    starts: dict[str, int] = {}
    for name, (_, z), region_end in zip(scan.names, scan.keys, ends, strict=True):
        start = _value_start(f, z + 1, region_end)
        end = _value_end(f, start, region_end)
        f.seek(start)
        keys[name], starts[name] = f.read(1), -1 if name in starts else start  # -1: the key twice
        if name in SMALL:
            f.seek(start)
            texts[name] = f.read(end - start)
        if name in HEADS:
            sketch[name] = _head(f, path, start, end, keys[name], texts.get(name))
    return Layout(str(path), "object", keys, texts, sketch, starts=starts)


def _value_start(f: BinaryIO, start: int, end: int) -> int:
    """The offset of the first byte of a value, past the blanks and the colon before it."""
    f.seek(start)
    pos, colon = start, False
    while pos < end:
        chunk = f.read(min(4096, end - pos))
        if not chunk:
            break
        for k, b in enumerate(chunk):
            if b in _WS:
                continue
            if b == 0x3A and not colon:
                colon = True
                continue
            return pos + k
        pos += len(chunk)
    return end


def _value_end(f: BinaryIO, start: int, end: int) -> int:
    """The offset just past a value whose region ends at ``end``: before the blanks and
    the comma that separate it from the next key."""
    comma = False
    while end > start:
        lo = max(start, end - 4096)
        f.seek(lo)
        chunk = f.read(end - lo)
        for k in range(len(chunk) - 1, -1, -1):
            b = chunk[k]
            if b in _WS:
                continue
            if b == 0x2C and not comma:
                comma = True
                continue
            return lo + k + 1
        end = lo
    return end


def _head(f: BinaryIO, path: Path, start: int, end: int, first: bytes, text: bytes | None) -> Any:
    """What the sketch shows of a top-level value: ``[first item]`` of a list (``[]`` when
    empty), another value as it is (a large one as an empty value of its kind)."""
    source: Any = io.BytesIO(text) if text is not None else _Window(f, start, end)
    if first == b"[":
        head = next(ijson.items(source, "item", use_float=True), _NONE)
        return [] if head is _NONE else [head]
    if text is None and end - start > _PEEK:
        return {} if first == b"{" else None
    return next(ijson.items(source, "", use_float=True), None)


class _Window:
    """The bytes ``[start, end)`` of an open file, as a file to a parser (one value of it)."""

    def __init__(self, f: BinaryIO, start: int, end: int) -> None:
        self.f, self.pos, self.end = f, start, end

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the window from where the last read stopped."""
        n = self.end - self.pos if n < 0 else min(n, self.end - self.pos)
        if n <= 0:
            return b""
        self.f.seek(self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data
