"""PNG row filters undone (``unfilter``), as the C file's loop does them, in whole-array
steps: rows filtered with None and Sub do not depend on the row above (Sub is a cumulative
sum per channel); runs of Up rows are a cumulative sum down the columns; the rows of Average
and Paeth, sequential along a row and down the image, are undone by a wavefront: pixel
(y, x) needs (y, x - 1), (y - 1, x) and (y - 1, x - 1) only, so every pixel of one
anti-diagonal is computed in one step, h + w steps for the block.
"""

from __future__ import annotations

from typing import Any as _Any

import numpy as np
import numpy.typing as _npt

from ._args import _CINT, _SSIZE, _U8, _int, _take


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
