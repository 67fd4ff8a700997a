"""The twin's COCO RLE kernels: ``rle_areas`` decodes every string of a call at once
(characters, values, the deltas as cumulative sums per string and parity), with the C
file's strict rules; ``rle_iou`` checks the strings as ``rle_areas`` does, then
pycocotools' own ``iou`` gives the doubles (the C kernel reproduces it bit for bit); images
of 2^31 pixels or more, which pycocotools' 32-bit counts cannot hold and segtool never
passes, take a step-for-step Python copy of the C loops instead (``_pair_iou``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as _npt
from pycocotools import mask as _mask_utils

from ._args import _F64, _I64, _SSIZE, _U8, _int, _take


def _seq_len(seq: object) -> int:
    """PySequence_Size: a mapping is no sequence."""
    if isinstance(seq, dict):
        raise TypeError(f"{type(seq).__name__} is not a sequence")
    return len(seq)  # type: ignore[arg-type]


def _texts(seq: object) -> list[bytes]:
    """Each item of a sequence as bytes (PySequence_Fast, then str as UTF-8 or a buffer),
    with the C file's exceptions."""
    if isinstance(seq, list | tuple):
        items = list(seq)
    else:
        try:
            items = list(seq)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError("expected a sequence of RLE strings") from None
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item.encode("utf-8"))
            continue
        if isinstance(item, np.ndarray) and not item.flags.c_contiguous:
            raise ValueError("ndarray is not C-contiguous")
        try:
            view = memoryview(item)
        except TypeError:
            raise TypeError(f"a bytes-like object is required, not '{type(item).__name__}'") from None
        if not view.contiguous:
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
        texts.append(view.tobytes("A"))
    return texts


def _rle_size_ok(h: int, w: int) -> None:
    if h < 0 or w < 0 or h > 2**31 or w > 2**31:
        raise ValueError("bad image size")


def _decode(
    texts: list[bytes], total: int
) -> tuple[_npt.NDArray[np.bool_], _npt.NDArray[np.int64], list[_npt.NDArray[np.int64]]]:
    """The C file's ``rle_decode`` for every string at once: whether each decodes (strictly)
    to counts adding up to ``total``, each area, and each string's counts (the areas and
    counts of a bad string mean nothing)."""
    n = len(texts)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    if not lengths.sum():
        return np.full(n, total == 0), np.zeros(n, np.int64), [np.zeros(0, np.int64)] * n
    c = np.frombuffer(b"".join(texts), np.uint8).astype(np.int64) - 48
    owner = np.repeat(np.arange(n), lengths)  # the string of each character
    size = c.size
    more = (c & 0x20) != 0
    string_end = np.zeros(size, bool)
    string_end[np.cumsum(lengths)[lengths > 0] - 1] = True
    value_end = ~more | string_end  # a string's last character ends its last value
    start = np.empty(size, bool)
    start[0] = True
    start[1:] = value_end[:-1]
    vstarts = np.flatnonzero(start)
    k = np.arange(size) - vstarts[np.cumsum(start) - 1]  # the character's 5-bit group in its value
    group = c & 0x1F
    bad_char = (
        (c < 0)
        | (c > 63)
        | (more & string_end)  # the string ends inside a value
        | (k >= 8)  # more than 8 characters in a value
        | ((k == 6) & (group > 1))  # a 7th group that pycocotools reads differently
        | ((k == 7) & (c != 0))  # an 8th group other than '0'
    )
    bits = np.add.reduceat(group << (5 * np.minimum(k, 7)), vstarts)
    vends = np.r_[vstarts[1:] - 1, size - 1]
    sign = (c[vends] & 0x30) == 0x10  # no continuation, the sign bit set: sign-extend
    x = bits - np.where(sign, np.left_shift(1, 5 * np.minimum(k[vends] + 1, 8)), 0)
    vowner = owner[vstarts]
    first = np.searchsorted(vowner, np.arange(n))  # each string's first value
    nvals = np.diff(np.r_[first, x.size])
    j = np.arange(x.size) - first[vowner]  # each value's index in its string
    counts = x.copy()
    for chain in (j % 2 == 1, (j % 2 == 0) & (j >= 2)):  # from the 4th value on, deltas
        idx = np.flatnonzero(chain)
        if idx.size:
            xs = x[idx]
            sums = np.cumsum(xs)
            seg = vowner[idx]
            head = np.r_[True, seg[1:] != seg[:-1]]
            counts[idx] = sums - (sums - xs)[head][np.cumsum(head) - 1]
    ok = np.bincount(owner, weights=bad_char, minlength=n) == 0
    ok &= np.bincount(vowner, weights=(counts < 0) | (counts > total), minlength=n) == 0
    has = nvals > 0
    sums, areas = np.zeros(n, np.int64), np.zeros(n, np.int64)
    sums[has] = np.add.reduceat(counts, first[has])
    areas[has] = np.add.reduceat(np.where(j % 2 == 1, counts, 0), first[has])
    per_string = np.split(counts, first[1:])
    risky = ok & (nvals.astype(np.float64) * total >= 2.0**62)  # a sum that could wrap int64
    for i in np.flatnonzero(risky).tolist():
        sums[i] = total if int(per_string[i].sum(dtype=object)) == total else -1
    ok &= sums == total
    return ok, areas, per_string


def rle_areas(strings: object, h: object, w: object, areas: object, /) -> int:
    """Decode compressed COCO RLE strings strictly, writing each area (see segtool/_kernels.pyi)."""
    hh, ww = _int(h, _SSIZE), _int(w, _SSIZE)
    items = _seq_len(strings)
    a = _take(areas, _I64, True, "areas")
    _rle_size_ok(hh, ww)
    if a.size != items:
        raise ValueError("areas must hold one int64 per RLE")
    texts = _texts(strings)
    if a.size != len(texts):
        raise ValueError("areas must hold one int64 per RLE")
    ok, area, _ = _decode(texts, hh * ww)
    a[:] = np.where(ok, area, -1)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else -1


def rle_iou(
    dt: object, gt: object, h: object, w: object, dt_cat: object, gt_cat: object, crowd: object, out: object, /
) -> None:
    """pycocotools' mask IoU of every (dt, gt) pair (see segtool/_kernels.pyi)."""
    hh, ww = _int(h, _SSIZE), _int(w, _SSIZE)
    dc = _take(dt_cat, _I64, False, "dt_cat")
    gc = _take(gt_cat, _I64, False, "gt_cat")
    cr = _take(crowd, _U8, False, "crowd")
    res = _take(out, _F64, True, "out")
    _rle_size_ok(hh, ww)
    dtexts = _texts(dt)
    gtexts = _texts(gt)
    total = hh * ww
    dok, _, dcounts = _decode(dtexts, total)
    gok, _, gcounts = _decode(gtexts, total)
    if not dok.all():
        raise ValueError(f"undecodable RLE: detection #{int(np.flatnonzero(~dok)[0])}")
    if not gok.all():
        raise ValueError(f"undecodable RLE: ground truth #{int(np.flatnonzero(~gok)[0])}")
    nd, ng = len(dtexts), len(gtexts)
    if dc.size != nd or gc.size != ng or cr.size != ng or res.size != nd * ng:
        raise ValueError("array sizes do not match the RLE lists")
    if not nd or not ng:
        return
    if total < 2**31:  # pycocotools' 32-bit counts hold every count: its own doubles
        size = [hh, ww]
        ious = _mask_utils.iou(
            [{"size": size, "counts": t} for t in dtexts], [{"size": size, "counts": t} for t in gtexts], cr
        )
        grid = np.asarray(ious, np.float64).reshape(nd, ng)
    else:
        grid = np.array([[_pair_iou(a, b, hh, bool(cr[g])) for g, b in enumerate(gcounts)] for a in dcounts])
    grid[dc[:, None] != gc[None, :]] = -1.0
    res[:] = grid.ravel()


def _pair_iou(a: _npt.NDArray[np.int64], b: _npt.NDArray[np.int64], h: int, crowd: bool) -> float:
    """The C file's ``rle_pair_iou``, step for step, on Python integers."""
    ca, cb = a.tolist(), b.tolist()
    if not ca or not cb:
        return 0.0
    (ax0, ax1, aarea), (bx0, bx1, barea) = _extent(ca, h), _extent(cb, h)
    if ax0 > bx1 or bx0 > ax1:
        return 0.0
    (ay0, ay1), (by0, by1) = _rows(ca, h), _rows(cb, h)
    if ay0 > by1 or by0 > ay1:  # no common row (C tests it with one category only: the same 0.0)
        return 0.0
    if 0 in ca[1:] or 0 in cb[1:]:
        i, u = _iou_as_pycocotools(ca, cb)
    else:
        i = _intersection(ca, cb)
        u = aarea + barea - i
    if i == 0:
        u = 1
    elif crowd:
        u = aarea
    return float(i) / float(u)


def _extent(cnts: list[int], h: int) -> tuple[int, int, int]:
    """First and last column of the mask (x0 > x1 when empty), and its area."""
    pos, first, last, area = 0, -1, -1, 0
    for j, c in enumerate(cnts):
        if j & 1 and c > 0:
            if first < 0:
                first = pos
            last = pos + c - 1
            area += c
        pos += c
    return (1, 0, area) if first < 0 else (first // h, last // h, area)


def _rows(cnts: list[int], h: int) -> tuple[int, int]:
    """The C file's ``rle_rows``: top and bottom row of the mask (top > bottom when empty);
    a run that goes on into the next column covers every row."""
    pos, top, bottom = 0, h, -1
    for j, c in enumerate(cnts):
        if j & 1 and c > 0:
            y = pos % h
            if y + c - 1 >= h:
                return 0, h - 1
            top, bottom = min(top, y), max(bottom, y + c - 1)
        pos += c
    return top, bottom


def _intersection(a: list[int], b: list[int]) -> int:
    ia, ib, ea, eb, pos, inter = 0, 0, a[0], b[0], 0, 0
    while ia < len(a) and ib < len(b):
        end = min(ea, eb)
        if ia & 1 and ib & 1:
            inter += end - pos
        pos = end
        if ea == end:
            ia += 1
            if ia < len(a):
                ea += a[ia]
        if eb == end:
            ib += 1
            if ib < len(b):
                eb += b[ib]
    return inter


def _iou_as_pycocotools(a: list[int], b: list[int]) -> tuple[int, int]:
    ca, cb, i, u, ct, ia, ib, va, vb = a[0], b[0], 0, 0, 1, 1, 1, False, False
    while ct > 0:
        c = min(ca, cb)
        if va or vb:
            u += c
            if va and vb:
                i += c
        ct = 0
        ca -= c
        if not ca and ia < len(a):
            ca, ia, va = a[ia], ia + 1, not va
        ct += ca
        cb -= c
        if not cb and ib < len(b):
            cb, ib, vb = b[ib], ib + 1, not vb
        ct += cb
    return i, u
