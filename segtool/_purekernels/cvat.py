"""The twin of ``cvat_polygons`` (segtool/_kernels.c, section "CVAT image, fused"): one CVAT
``<image>`` element's bytes to polygon columns while the element is plain.

The C loop walks the bytes once; here each start tag is matched by a regular expression of
the same grammar (see segtool/_kernels.pyi), its attributes checked as the C code checks
them, the points read by the twin of ``parse_points`` (the same numbers, the same limits)
and the label found by :func:`bisect.bisect_left` over the names as given, as the C code's
binary search finds it (even among names that are not sorted).
"""

from __future__ import annotations

import bisect
import itertools
import re

import numpy as np

from ._args import _F64, _I64, _U8, _take
from .poly import parse_points

_WS = rb"[ \t\r\n]"
# one attribute, whitespace before it: its name, its value (either quote); a value's bytes
# are checked for UTF-8 apart (a byte below 0x20, '<', '&' and the quote excluded here)
_ATTR = re.compile(
    rb"%s+([A-Za-z_][A-Za-z0-9_.\-]*)%s*=%s*(?:\"([^\"<&\x00-\x1f]*)\"|'([^'<&\x00-\x1f]*)')" % (_WS, _WS, _WS)
)
_TAG_END = re.compile(rb"%s*(/?>)" % _WS)
_CLOSE = re.compile(rb"%s*</polygon%s*>" % (_WS, _WS))
_BLANK = re.compile(rb"%s*" % _WS)
_MOST = 16  # attributes an element
_SMALL_Z = frozenset(str(i).encode() for i in range(-8, 64))
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


class _NotPlain(Exception):
    """The element is not plain (the C code's -1)."""


def _tag(data: bytes, p: int) -> tuple[dict[bytes, bytes], bool, int]:
    """A start tag's attributes from ``data[p:]`` (just after its name): (name -> value,
    closed by "/>", the position after it)."""
    attrs: dict[bytes, bytes] = {}
    while True:
        m = _ATTR.match(data, p)
        if m is None:
            end = _TAG_END.match(data, p)
            if end is None:
                raise _NotPlain
            return attrs, end.group(1) == b"/>", end.end()
        name = m.group(1)
        value = m.group(2) if m.group(2) is not None else m.group(3)
        if len(attrs) == _MOST or name[:3].lower() == b"xml" or name in attrs:
            raise _NotPlain
        try:
            if value.isascii() is False and _NOT_XML.search(value.decode("utf-8")) is not None:
                raise _NotPlain
        except UnicodeDecodeError:
            raise _NotPlain from None
        attrs[name] = value
        p = m.end()


def _polygons(data: bytes, names: list[bytes]) -> tuple[list[int], list[bytes]]:
    """Each polygon's label index and points value (see the C section's grammar)."""
    if not data.startswith(b"<image"):
        raise _NotPlain
    _, closed, p = _tag(data, 6)
    if closed:
        raise _NotPlain
    labels, points = [], []
    while True:
        p = _BLANK.match(data, p).end()  # type: ignore[union-attr]
        if p == len(data):
            break
        if not data.startswith(b"<polygon", p) or data[p + 8 : p + 9] not in (b" ", b"\t", b"\r", b"\n", b">", b"/"):
            raise _NotPlain
        attrs, closed, p = _tag(data, p + 8)
        if not closed:
            m = _CLOSE.match(data, p)
            if m is None:
                raise _NotPlain
            p = m.end()
        z, group = attrs.get(b"z_order"), attrs.get(b"group_id")
        if (z is not None and z not in _SMALL_Z) or group not in (None, b"0"):
            raise _NotPlain
        if b"label" not in attrs or b"points" not in attrs:
            raise _NotPlain
        k = bisect.bisect_left(names, attrs[b"label"])
        if k == len(names) or names[k] != attrs[b"label"]:
            raise _NotPlain
        labels.append(k)
        points.append(attrs[b"points"])
    if not labels:
        raise _NotPlain
    return labels, points


def cvat_polygons(
    data: object, names: object, starts: object, labels: object, xy: object, ends: object, boxes: object, /
) -> int:
    """A CVAT ``<image>`` element's plain polygons into columns (see segtool/_kernels.pyi)."""
    d = _take(data, _U8, False, "data")
    nm = _take(names, _U8, False, "names")
    st = _take(starts, _I64, False, "starts")
    lab = _take(labels, _I64, True, "labels")
    x = _take(xy, _F64, True, "xy")
    e = _take(ends, _I64, True, "ends")
    b = _take(boxes, _F64, True, "boxes")
    offs = st.tolist()
    if not offs or offs[0] != 0 or offs[-1] > nm.size or any(a > c for a, c in itertools.pairwise(offs)):
        raise ValueError("starts: offsets into names, from 0, never decreasing")
    if x.size < d.size // 2 + 1 or e.size != lab.size or b.size != 4 * lab.size:
        raise ValueError("xy must hold len(data) // 2 + 1 values, ends as many as labels, boxes 4 each")
    blob = nm.tobytes()
    try:
        found, points = _polygons(d.tobytes(), [blob[a:c] for a, c in itertools.pairwise(offs)])
        if len(found) > lab.size or any(b"|" in t for t in points):
            raise _NotPlain
        n = len(found)
        text = np.frombuffer(b"|".join(points), np.uint8)
        values = parse_points(text, x[: text.size // 2 + 1], e[:n], b[: 4 * n])
        if values < 0:
            raise _NotPlain
    except _NotPlain:
        lab[:], x[:], e[:], b[:] = 0, 0, 0, 0
        return -1
    lab[:n] = found
    return n
