"""The CVAT file's streaming pass (:func:`.cvat_xml.scan`) with the shapes of each plain
image left out of expat: what the pass keeps of an image is its attributes, where its bytes
lie and whether it has children, so an ``<image>`` whose children
:func:`segtool.kernels.cvat_polygons` reads whole (polygons spelled as CVAT writes them:
well-formed, nothing else inside) is given to expat as its start tag and ``</image>``
alone, its children counted by the kernel, and expat's byte index corrected by what was
left out. Expat parsed ~60 us of the benchmark's ~85 us an image in the pass, most of it
building each polygon's attribute dict for a handler that only counted it.

The result is the full pass's (tested on generated files: comments, CDATA, nested and
self-closed images, other encodings). Anything that goes otherwise than plainly (a
problem expat or the pass finds, an encoding other than UTF-8, an image too large to hold)
returns None, the problems reported were only held, and the caller runs the full pass,
which reports and names them as it always did (positions in the file included).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .. import kernels
from ..policy import Policy
from .cvat_xml import CHUNK, WIDE, CvatFile, _meta, _Pass, parser

_START = re.compile(
    rb"<image(?:[ \t\r\n]+[A-Za-z_][A-Za-z0-9_.\-]*[ \t\r\n]*=[ \t\r\n]*(?:\"[^\"<]*\"|'[^'<]*'))*[ \t\r\n]*>"
)
_END = b"</image>"
_HOLD = 1 << 22  # bytes of one image held to skip it (a larger one is read by expat)
_SHAPE_BYTES = 24  # (as cvat_fast: fewer than any polygon takes)


class _Reader:
    """The file's bytes not yet given to expat: ``buf[pos:]``, ``pos`` at file offset ``at``."""

    def __init__(self, f: Any) -> None:
        self.f, self.buf, self.pos, self.at, self.eof = f, b"", 0, 0, False

    def more(self) -> bool:
        """Read a chunk more (the bytes given to expat dropped); False at the end of the file."""
        chunk = self.f.read(CHUNK) if not self.eof else b""
        self.eof = not chunk
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        return not self.eof

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes, now given to expat."""
        out = self.buf[self.pos : self.pos + n]
        self.pos, self.at = self.pos + n, self.at + n
        return out


class _Feed:
    """Expat and the count of bytes given to it."""

    def __init__(self, p: Any) -> None:
        self.p, self.fed = p, 0

    def __call__(self, data: bytes) -> None:
        self.p.Parse(data, False)
        self.fed += len(data)


def skipping_scan(path: Path, report: Policy) -> CvatFile | None:
    """The pass with plain images' shapes skipped (see the module's doc), or None."""
    held: list[tuple[Any, ...]] = []
    found = CvatFile(path)
    p = parser()
    state = _Pass(found, p, lambda *a, **k: held.append((a, k)))  # type: ignore[arg-type]
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = state.start, state.end, state.chars
    p.XmlDeclHandler = lambda _v, enc, _s: setattr(found, "encoding", (enc or "utf-8").lower())
    try:
        with open(path, "rb") as f:
            if f.read(2) in WIDE:
                return None
            f.seek(0)
            _run(_Reader(f), _Feed(p), state, found)
        p.Parse(b"", True)
    except Exception:  # (any problem: the full pass says what it is)
        return None
    if state.meta_tree is None:
        return None
    for args, kwargs in held:
        report(*args, **kwargs)
    _meta(found, state.meta_tree, report)
    return found


def _run(r: _Reader, feed: _Feed, state: _Pass, found: CvatFile) -> None:
    """Give the file to expat, each plain image as its start and end tags (in one call with
    the bytes between them: expat's calls cost more than its bytes)."""
    names: tuple[bytes, Any] | None = None
    while True:
        if len(r.buf) - r.pos < CHUNK and not r.eof:
            r.more()
        if r.pos == len(r.buf):
            return
        i = r.buf.find(b"<image", r.pos)
        if i < 0:  # (all but a candidate's possible beginning)
            feed(r.take(len(r.buf) - r.pos if r.eof else max(0, len(r.buf) - r.pos - 5)))
            continue
        before = r.take(i - r.pos)
        m = _START.match(r.buf, r.pos)
        while m is None and len(r.buf) - r.pos < _HOLD and r.more():
            m = _START.match(r.buf, r.pos)
        if m is None:  # (not a start tag the pass could skip after: expat reads on)
            feed(before + r.take(6))
            continue
        tag = r.take(m.end() - r.pos)
        feed(before + tag)
        if state.image is not None and state.image_start == r.at - len(tag) and found.encoding == "utf-8":
            if names is None and state.meta_tree is not None:
                names = _names(state.meta_tree)
            if names is not None:
                _skip(r, feed, state, names, tag)


def _skip(r: _Reader, feed: _Feed, state: _Pass, names: tuple[bytes, Any], tag: bytes) -> None:
    """Leave the children of the image whose start tag (``tag``) expat just read out of
    expat, when they are plain (the kernel reads the element from its start tag); its end
    tag is given to expat with what follows it."""
    j = r.buf.find(_END, r.pos)
    while j < 0 and len(r.buf) - r.pos < _HOLD and r.more():
        j = r.buf.find(_END, r.pos)
    if j < 0:
        return
    data = tag + r.buf[r.pos : j]
    most = len(data) // _SHAPE_BYTES + 1
    xy = np.empty(len(data) // 2 + 1)
    labels, ends, extents = np.empty(most, np.int64), np.empty(most, np.int64), np.empty(4 * most)
    if kernels.cvat_polygons(data, names[0], names[1], labels, xy, ends, extents) < 1:
        return
    state.children = 1  # (one or more: the pass keeps whether there are any)
    r.take(j - r.pos)  # (left out)
    state.offset = r.at - feed.fed  # (the end tag is the next byte expat reads: its index is the file's)


def _names(meta: Any) -> tuple[bytes, Any]:
    """Every ``<name>`` of ``<meta>`` (the labels among them; the kernel only needs to know
    a label when it sees one), as :func:`segtool.kernels.cvat_polygons` takes names."""
    order = sorted({(el.text or "").encode("utf-8", "surrogatepass") for el in meta.iter("name")})
    return b"".join(order), np.cumsum([0, *map(len, order)], dtype=np.int64)
