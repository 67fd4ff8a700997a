"""The pure-Python twin of ``segtool._kernels`` (segtool/_kernels.c): numpy, and pycocotools
for mask IoU.

Used where the C extension was not built (no compiler at install time) or when
``SEGTOOL_PURE_PYTHON=1`` asks for it; :mod:`segtool.kernels` chooses. Every function takes
the same arguments as its C twin, checks them in the same order with the same exceptions
(element type, layout, writability, sizes: ``ValueError``; a non-buffer: ``TypeError``),
writes the same values into the same output buffers and returns the same result; the tests
(tests/test_kernels_twin.py) compare the two on generated inputs, exactly.

How the sequential loops of the C file become whole-array work:

- ``unfilter``: rows filtered with None and Sub do not depend on the row above (Sub is a
  cumulative sum per channel); runs of Up rows are a cumulative sum down the columns; the
  rows of Average and Paeth, sequential along a row and down the image, are undone by a
  wavefront: pixel (y, x) needs (y, x - 1), (y - 1, x) and (y - 1, x - 1) only, so every
  pixel of one anti-diagonal is computed in one step, h + w steps for the block.
- ``pair_counts`` and ``joint_hist8``: a lookup of every pixel's ids, then ``np.bincount``.
- ``rle_areas``: every string of a call decoded at once (characters, values, the deltas as
  cumulative sums per string and parity), with the C file's strict rules.
- ``rle_iou``: the strings are checked as ``rle_areas`` checks them, then pycocotools' own
  ``iou`` gives the doubles (the C kernel reproduces it bit for bit); images of 2^31 pixels
  or more, which pycocotools' 32-bit counts cannot hold and segtool never passes, take a
  step-for-step Python copy of the C loops instead.
- ``coco_match``: the greedy matching is sequential over detections only; every (area
  range, threshold) lane and every ground truth of a detection is one array operation.
- ``coco_accumulate``: cumulative sums, a running maximum from the right and
  ``searchsorted``, per lane.
"""

from __future__ import annotations

import operator as _operator
import sys as _sys
from typing import Any as _Any

import numpy as np
import numpy.typing as _npt
from pycocotools import mask as _mask_utils

_U8, _U32, _I64, _F64 = "uint8", "uint32", "int64", "float64"
_DTYPES = {_U8: np.uint8, _U32: np.uint32, _I64: np.int64, _F64: np.float64}
_NATIVE = "<" if _sys.byteorder == "little" else ">"
_SSIZE = (-(2**63), 2**63 - 1)  # PyArg 'n' and 'L': a C Py_ssize_t / long long (64-bit builds)
_CINT = (-(2**31), 2**31 - 1)  # PyArg 'i'

# ------------------------------------------------------------------ argument checks


def _format_is(fmt: str | None, itemsize: int, elem: str) -> bool:
    """The C file's ``format_is``: one element of ``elem`` in native byte order."""
    f = fmt if fmt is not None else "B"
    if f[:1] in ("@", "=", _NATIVE):
        f = f[1:]
    if len(f) != 1:
        return False
    if elem == _U8:
        return f == "B" and itemsize == 1
    if elem == _U32:
        return f in ("I", "L") and itemsize == 4
    if elem == _I64:
        return f in ("q", "l") and itemsize == 8
    return f == "d" and itemsize == 8


def _take(obj: object, elem: str, writable: bool, name: str) -> _npt.NDArray[_Any]:
    """The C file's ``take``: ``obj``'s buffer, C-contiguous, of element type ``elem``
    (writable if asked), as a flat numpy view; the same exceptions as
    ``PyObject_GetBuffer(PyBUF_C_CONTIGUOUS | PyBUF_FORMAT [| PyBUF_WRITABLE])`` gives the C
    code (numpy's own ValueErrors pass through; a BufferError becomes ValueError)."""
    if isinstance(obj, np.ndarray):  # numpy's getbuffer: contiguity first, then writability
        if not obj.flags.c_contiguous:
            raise ValueError("ndarray is not C-contiguous")
        if writable and not obj.flags.writeable:
            raise ValueError("buffer source array is read-only")
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(obj).__name__}'") from None
    if not view.c_contiguous or (writable and view.readonly):
        raise ValueError(f"{name}: not a contiguous{' writable' if writable else ''} buffer")
    if not _format_is(view.format, view.itemsize, elem):
        raise ValueError(f"{name}: expected {elem} elements, got format '{view.format}' of {view.itemsize} bytes")
    return np.frombuffer(view, dtype=_DTYPES[elem])


def _int(value: object, bounds: tuple[int, int]) -> int:
    """A size argument as PyArg_ParseTuple reads it, its OverflowError made ValueError."""
    v = _operator.index(value)  # type: ignore[arg-type]
    if not bounds[0] <= v <= bounds[1]:
        raise ValueError("a size argument is out of range")
    return v


# ------------------------------------------------------------------ PNG row filters


def unfilter(src: object, dst: object, height: object, rowbytes: object, bpp: object, /) -> None:
    """Undo PNG row filters (see segtool/_kernels.pyi)."""
    h, rb, n = _int(height, _SSIZE), _int(rowbytes, _SSIZE), _int(bpp, _CINT)
    s = _take(src, _U8, False, "src")
    d = _take(dst, _U8, True, "dst")
    if h < 0 or rb < 1 or n < 1 or n > 8 or rb % n:
        raise ValueError("bad image geometry")
    if h > 0 and (rb >= s.size or h > s.size // (rb + 1)):
        raise ValueError("image data is truncated")
    if h > 0 and h > d.size // rb:
        raise ValueError("output buffer is too small")
    if h == 0:
        return
    rows = s[: h * (rb + 1)].reshape(h, rb + 1)
    filters = rows[:, 0]
    bad = np.flatnonzero(filters > 4)
    good = int(bad[0]) if bad.size else h  # the C loop writes the rows before a bad one
    if good:
        _unfilter_rows(rows[:good, 1:], filters[:good], d[: good * rb].reshape(good, rb), n)
    if bad.size:
        raise ValueError(f"invalid filter type in row {good}")


def _unfilter_rows(
    src: _npt.NDArray[np.uint8], f: _npt.NDArray[np.uint8], out: _npt.NDArray[np.uint8], bpp: int
) -> None:
    """Rows of filters 0..4 undone into ``out``: None and Sub rows at once; the rows from the
    first to the last Average or Paeth row by one wavefront; runs of Up rows elsewhere as
    cumulative sums from the row above them."""
    h, rb = src.shape
    none, sub = f == 0, f == 1
    out[none] = src[none]
    if sub.any():
        out[sub] = np.cumsum(src[sub].reshape(-1, rb // bpp, bpp), axis=1, dtype=np.uint8).reshape(-1, rb)
    seq = np.flatnonzero(f > 2)
    if not seq.size:
        _up_runs(src, f, out, 0, h)
        return
    first, last = int(seq[0]), int(seq[-1]) + 1
    _up_runs(src, f, out, 0, first)
    top = out[first - 1] if first > 0 else np.zeros(rb, np.uint8)
    _wavefront(src[first:last], f[first:last], top, out[first:last], bpp)
    _up_runs(src, f, out, last, h)


def _up_runs(
    src: _npt.NDArray[np.uint8], f: _npt.NDArray[np.uint8], out: _npt.NDArray[np.uint8], y0: int, y1: int
) -> None:
    """Each run of Up rows in rows y0..y1 (the rows above them done): a cumulative sum down
    the columns (mod 256) from the row above the run."""
    up = np.r_[False, f[y0:y1] == 2, False].view(np.int8)
    edges = np.diff(up)
    for r0, r1 in zip(
        (np.flatnonzero(edges == 1) + y0).tolist(), (np.flatnonzero(edges == -1) + y0).tolist(), strict=True
    ):
        top = out[r0 - 1] if r0 > 0 else np.zeros(src.shape[1], np.uint8)
        out[r0:r1] = np.cumsum(src[r0:r1], axis=0, dtype=np.uint8) + top


_BAND_BYTES = 1 << 26  # the wavefront's working arrays for one band of rows: 64 MB at most
_SPAN = 511  # differences of two bytes: -255..255
_PREDICTORS: list[_npt.NDArray[np.int32]] = []


def _predictors() -> _npt.NDArray[np.int32]:
    """Sub, Up, Average and Paeth as offsets from the upper-left byte c, by filter and by the
    differences p = b - c (up) and q = a - c (left), flat: ``[(f - 1) * 511² + (p + 255) *
    511 + q + 255]``. Sub is a = c + q, Up b = c + p, Average (a + b) >> 1 = c + ((p + q) >>
    1), Paeth a, b or c as the C file chooses (a if |p| <= min(|q|, |p + q|), else b if |q|
    <= |p + q|)."""
    if not _PREDICTORS:
        d = np.arange(-255, 256)
        p, q = d[:, None], d[None, :]
        pa, pb, pc = np.abs(p), np.abs(q), np.abs(p + q)
        paeth = np.where(pa <= np.minimum(pb, pc), q, np.where(pb <= pc, p, 0))
        tables = (np.broadcast_to(q, paeth.shape), np.broadcast_to(p, paeth.shape), (p + q) >> 1, paeth)
        _PREDICTORS.append(np.stack(tables).astype(np.int32).ravel())
    return _PREDICTORS[0]


def _wavefront(
    src: _npt.NDArray[np.uint8],
    f: _npt.NDArray[np.uint8],
    top: _npt.NDArray[np.uint8],
    out: _npt.NDArray[np.uint8],
    bpp: int,
) -> None:
    """Rows of any filters undone, anti-diagonal by anti-diagonal, in bands of rows (each
    band's arrays within ``_BAND_BYTES``): h + w steps for h rows of w pixels."""
    h, rb = src.shape
    band = h
    while band > 8 and (band + rb // bpp + 2) * (band + 1) * bpp * 8 > _BAND_BYTES:
        band //= 2
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        _wavefront_band(src[y0:y1], f[y0:y1], out[y0 - 1] if y0 else top, out[y0:y1], bpp)


def _skewed(a: _npt.NDArray[_Any], n: int, w: int, bpp: int) -> _npt.NDArray[_Any]:
    """The ``(n, w, bpp)`` pixels of a skewed ``(n + w + 2, n + 1, bpp)`` array, as a view:
    pixel (y, x) is ``a[x + y + 2, y + 1]``, an affine map of (y, x), so a strided view."""
    item = a.itemsize
    col, row = (n + 1) * bpp * item, bpp * item  # strides of a's first two axes
    view: _npt.NDArray[_Any] = np.lib.stride_tricks.as_strided(
        a[2:, 1:], shape=(n, w, bpp), strides=(col + row, col, item), writeable=True
    )
    return view


def _wavefront_band(
    src: _npt.NDArray[np.uint8],
    f: _npt.NDArray[np.uint8],
    top: _npt.NDArray[np.uint8],
    out: _npt.NDArray[np.uint8],
    bpp: int,
) -> None:
    """Pixel (y, x) lives at ``[x + y + 2, y + 1]`` of a skewed array: row 0 holds the row
    above, the cells of x = -1 stay 0 (the PNG edge), and one anti-diagonal is one slice.
    Left is ``[k - 1, Y]``, up ``[k - 1, Y - 1]``, upper-left ``[k - 2, Y - 1]``. Rows
    filtered with None hold their bytes from the start and are never written."""
    n, rb = src.shape
    w = rb // bpp
    table = _predictors()
    skew = np.zeros((n + w + 2, n + 1, bpp), np.int32)
    done = np.zeros_like(skew)
    _skewed(skew, n, w, bpp)[...] = src.reshape(n, w, bpp)
    done[1 : w + 1, 0] = top.reshape(w, bpp)  # the row above: y = -1
    base = np.zeros((n + 1, bpp), np.int32)  # each row's table, centred on p = q = 0
    base[1:] = ((np.maximum(f, 1).astype(np.int32) - 1) * _SPAN * _SPAN + 255 * _SPAN + 255)[:, None]
    keep = np.r_[False, f != 0][:, None]  # rows to write
    fixed = not keep[1:].all()
    if fixed:
        done[:, 1:][:, ~keep[1:, 0]] = skew[:, 1:][:, ~keep[1:, 0]]  # None rows: their bytes
    for k in range(2, n + w + 1):
        lo, hi = max(0, k - 1 - w) + 1, min(n - 1, k - 2) + 2  # rows Y of this diagonal
        a = done[k - 1, lo:hi]
        b = done[k - 1, lo - 1 : hi - 1]
        c = done[k - 2, lo - 1 : hi - 1]
        at = b * _SPAN  # (b - c) * 511 + (a - c) + base, in place
        at += a
        at -= c * (_SPAN + 1)
        at += base[lo:hi]
        pred = table.take(at)
        pred += c
        pred += skew[k, lo:hi]
        if fixed:
            np.copyto(done[k, lo:hi], pred & 255, where=keep[lo:hi])
        else:
            np.bitwise_and(pred, 255, out=done[k, lo:hi])
    out.reshape(n, w, bpp)[...] = _skewed(done, n, w, bpp)


# ------------------------------------------------------------------ pixels


def _pack(rgb: _npt.NDArray[np.uint8]) -> _npt.NDArray[np.uint32]:
    """R + 256 G + 65536 B of each RGB pixel."""
    px = rgb.reshape(-1, 3)
    packed = px[:, 2].astype(np.uint32)
    packed <<= 8
    packed |= px[:, 1]
    packed <<= 8
    packed |= px[:, 0]
    return packed


def _ranks_ok(rank: _npt.NDArray[np.int64]) -> bool:
    return bool(((rank >= 1) & (rank <= rank.size)).all())


def _id_index(
    values: _npt.NDArray[np.uint32], ids: _npt.NDArray[np.uint32], rank: _npt.NDArray[np.int64]
) -> _npt.NDArray[np.int64]:
    """Each value's rank (0 for id 0, -1 for an id not listed), as the C file's hash map:
    id 0 is never stored, and a repeated id keeps its last rank."""
    keep = ids != 0
    rev_ids, rev_rank = ids[keep][::-1], rank[keep][::-1]
    keys, first = np.unique(rev_ids, return_index=True)  # first in reverse: last as listed
    vals = rev_rank[first]
    result = np.full(values.shape, -1, np.int64)
    if keys.size:
        pos = np.minimum(np.searchsorted(keys, values), keys.size - 1)
        found = keys[pos] == values
        result[found] = vals[pos[found]]
    result[values == 0] = 0
    return result


def pair_counts(
    gt_rgb: object,
    pred_rgb: object,
    gt_ids: object,
    gt_rank: object,
    pred_ids: object,
    pred_rank: object,
    table: object,
    /,
) -> tuple[int, int] | None:
    """Add (ground truth, prediction) pixel counts into ``table`` (see segtool/_kernels.pyi)."""
    gt = _take(gt_rgb, _U8, False, "gt_rgb")
    pr = _take(pred_rgb, _U8, False, "pred_rgb")
    gids = _take(gt_ids, _U32, False, "gt_ids")
    grank = _take(gt_rank, _I64, False, "gt_rank")
    pids = _take(pred_ids, _U32, False, "pred_ids")
    prank = _take(pred_rank, _I64, False, "pred_rank")
    t = _take(table, _I64, True, "table")
    if gt.size != pr.size or gt.size % 3:
        raise ValueError("the two RGB buffers differ in size")
    if grank.size != gids.size or prank.size != pids.size:
        raise ValueError("ids and ranks differ in length")
    if t.size != (gids.size + 1) * (pids.size + 1):
        raise ValueError("table has the wrong size")
    if not _ranks_ok(grank) or not _ranks_ok(prank):
        raise ValueError("a rank lies outside 1..len(ids)")
    if max(gids.size, pids.size) > 2**28:  # the C hash map's size limit
        raise MemoryError
    g, p = _pack(gt), _pack(pr)
    # runs of one (ground truth, prediction) pair: ids looked up once a run, as the C loop does
    starts = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (p[1:] != p[:-1])]) if g.size else np.zeros(0, np.intp)
    lengths = np.diff(np.r_[starts, g.size])
    row, col = _id_index(g[starts], gids, grank), _id_index(p[starts], pids, prank)
    missing = np.flatnonzero((row < 0) | (col < 0))
    runs = int(missing[0]) if missing.size else starts.size  # the C loop counts the pixels before it
    width = pids.size + 1
    t += np.bincount(row[:runs] * width + col[:runs], weights=lengths[:runs], minlength=t.size).astype(np.int64)
    if not missing.size:
        return None
    side = 1 if row[runs] < 0 else 2
    at = starts[runs]
    return side, int(g[at] if side == 1 else p[at])


def joint_hist8(a: object, b: object, out: object, /) -> None:
    """Add the joint histogram of two 8-bit label maps into ``out`` (see segtool/_kernels.pyi)."""
    ga = _take(a, _U8, False, "a")
    pa = _take(b, _U8, False, "b")
    h = _take(out, _I64, True, "out")
    if ga.size != pa.size:
        raise ValueError("the two label maps differ in size")
    if h.size != 65536:
        raise ValueError("out must hold 65536 int64 counts")
    h += np.bincount(ga.astype(np.intp) * 256 + pa, minlength=65536)


def pack_rgb(rgb: object, out: object, /) -> None:
    """RGB bytes -> uint32 R + 256 G + 65536 B (see segtool/_kernels.pyi)."""
    s = _take(rgb, _U8, False, "rgb")
    d = _take(out, _U32, True, "out")
    if s.size % 3 or d.size != s.size // 3:
        raise ValueError("output must hold one uint32 per RGB pixel")
    d[:] = _pack(s)


# ------------------------------------------------------------------ COCO RLE


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


# ------------------------------------------------------------------ COCOeval


def coco_match(
    ious: object,
    dt_cat: object,
    gt_cat: object,
    gt_ids: object,
    crowd: object,
    ignore: object,
    thrs: object,
    match: object,
    match_ig: object,
    /,
) -> None:
    """COCOeval's greedy matching for every (area range, IoU threshold) lane of one image
    (see segtool/_kernels.pyi)."""
    iou = _take(ious, _F64, False, "ious")
    dc = _take(dt_cat, _I64, False, "dt_cat")
    gc = _take(gt_cat, _I64, False, "gt_cat")
    gid = _take(gt_ids, _I64, False, "gt_ids")
    cr = _take(crowd, _U8, False, "crowd")
    ig = _take(ignore, _U8, False, "ignore")
    thr = _take(thrs, _F64, False, "thrs")
    mt = _take(match, _I64, True, "match")
    mi = _take(match_ig, _U8, True, "match_ig")
    nd, ng, nt = dc.size, gc.size, thr.size
    na = ig.size // ng if ng > 0 else 0
    if not (
        iou.size == nd * ng
        and gid.size == ng
        and cr.size == ng
        and ig.size == na * ng
        and mt.size == na * nt * nd
        and mi.size == na * nt * nd
    ):
        raise ValueError("array sizes do not agree")
    if not na * nt * nd:
        return
    iou2, mt3, mi3 = iou.reshape(nd, ng), mt.reshape(na, nt, nd), mi.reshape(na, nt, nd)
    iga = ig.reshape(na, 1, ng)
    if np.isnan(iou2).any() or np.isnan(thr).any():
        _match_lanes(iou2, dc, gc, gid, cr, iga[:, 0], thr, mt3, mi3)
        return
    reusable = (cr != 0)[None, None, :]
    taken = np.zeros((na, nt, ng), bool)
    passes = (iga == 0, iga == 1)  # an ignore flag other than 0 or 1 matches in neither pass
    lane = np.ogrid[:na, :nt]
    for d in range(nd):
        row = iou2[d]
        base = (gc == dc[d])[None, None, :] & (row[None, None, :] >= thr[None, :, None]) & ~(taken & ~reusable)
        best = np.full((na, nt), -1, np.intp)
        for flags in passes:
            open_ = (best < 0)[..., None] & base & flags
            if not open_.any():
                continue
            top = np.where(open_, row, -np.inf).max(axis=2, keepdims=True)
            hit = open_ & (row == top)  # the last of equal best IoUs wins (C: `>=`)
            last = ng - 1 - np.argmax(hit[..., ::-1], axis=2)
            best = np.where(hit.any(axis=2), last, best)
        found = best >= 0
        pick = np.where(found, best, 0)
        mt3[..., d] = np.where(found, gid[pick], 0)
        mi3[..., d] = np.where(found, iga[lane[0], 0, pick], 0)
        taken[lane[0], lane[1], pick] |= found


def _match_lanes(
    iou: _npt.NDArray[np.float64],
    dc: _npt.NDArray[np.int64],
    gc: _npt.NDArray[np.int64],
    gid: _npt.NDArray[np.int64],
    cr: _npt.NDArray[np.uint8],
    ig: _npt.NDArray[np.uint8],
    thr: _npt.NDArray[np.float64],
    mt: _npt.NDArray[np.int64],
    mi: _npt.NDArray[np.uint8],
) -> None:
    """The C loop, element by element (NaN IoUs or thresholds: comparisons with NaN are
    false, so the C loop's choices depend on the order it meets them)."""
    na, nt, nd = mt.shape
    ng = gc.size
    for a in range(na):
        for t in range(nt):
            taken = [False] * ng
            for d in range(nd):
                best = -1
                for pass_ in range(2):
                    if best >= 0:
                        break
                    bar = thr[t]
                    for g in range(ng):
                        if gc[g] != dc[d] or ig[a, g] != pass_ or (taken[g] and not cr[g]) or iou[d, g] < bar:
                            continue
                        bar = iou[d, g]
                        best = g
                mt[a, t, d] = gid[best] if best >= 0 else 0
                mi[a, t, d] = ig[a, best] if best >= 0 else 0
                if best >= 0:
                    taken[best] = True


def coco_accumulate(
    matched: object, ignored: object, npig: object, rec_thrs: object, precision: object, recall: object, /
) -> None:
    """COCOeval.accumulate for one category and maxDets (see segtool/_kernels.pyi)."""
    dtm = _take(matched, _U8, False, "matched")
    dtig = _take(ignored, _U8, False, "ignored")
    np_ = _take(npig, _I64, False, "npig")
    thr = _take(rec_thrs, _F64, False, "rec_thrs")
    prec = _take(precision, _F64, True, "precision")
    reca = _take(recall, _F64, True, "recall")
    na, nr = np_.size, thr.size
    nt = reca.size // na if na > 0 else 0
    lanes = na * nt
    n = dtm.size // lanes if lanes > 0 else 0
    if not (dtm.size == lanes * n and dtig.size == lanes * n and prec.size == lanes * nr and reca.size == lanes):
        raise ValueError("array sizes do not agree")
    if not lanes:
        return
    m3, ig3 = dtm.reshape(na, nt, n) != 0, dtig.reshape(na, nt, n) != 0
    p3, r2 = prec.reshape(na, nt, nr), reca.reshape(na, nt)
    counted = ~ig3
    tps = np.cumsum(counted & m3, axis=2, dtype=np.float64)
    fps = np.cumsum(counted & ~m3, axis=2, dtype=np.float64)
    # searchsorted(rc, thr, 'left') with the C loop's pointer, which never moves back: a
    # running maximum over the thresholds (a NaN threshold leaves the pointer where it was)
    nan_thr = np.isnan(thr)
    for a in np.flatnonzero(np_ > 0).tolist():
        total = float(np_[a])
        for t in range(nt):
            if not n:
                r2[a, t] = 0.0
                p3[a, t] = 0.0
                continue
            tp, fp = tps[a, t], fps[a, t]
            rc = tp / total
            pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]
            r2[a, t] = rc[-1]
            at = np.searchsorted(rc, thr, side="left")
            at[nan_thr] = 0
            at = np.maximum.accumulate(at)
            p3[a, t] = np.where(at < n, pr[np.minimum(at, n - 1)], 0.0)
