"""Issue 16, installs anywhere: segtool._purekernels (numpy) is the twin of segtool._kernels
(C). Every kernel is called on both with the same generated arguments, and everything must
be equal: the return value, every byte of every output buffer, and the exception (type and
message). Then the selector (segtool.kernels, SEGTOOL_PURE_PYTHON), ``segtool --version``,
and the three evals on sample_data run with each, with the same JSON numbers.

The comparisons need the C extension and skip without it; they run the same under
``make test-pure`` (they call both modules directly, whatever the selector chose).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from fuzz.target_rle import rle_to_string as _encode  # pycocotools' rleToString, any count size
from segtool import __version__, png
from segtool import _purekernels as twin
from segtool import kernels as selector

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension: nothing to compare with
    native = None  # type: ignore[assignment]

_built = pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")


def needs_c(test: Any) -> Any:
    """A test that compares the C kernels with the twin: skipped where C is not built, and
    marked ``both_kernels`` (it runs alike under SEGTOOL_PURE_PYTHON=1; make test-pure skips it)."""
    return pytest.mark.both_kernels(_built(test))


ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
KERNELS = (
    "unfilter",
    "pair_counts",
    "pack_rgb",
    "joint_hist8",
    "rle_areas",
    "rle_iou",
    "coco_match",
    "coco_accumulate",
    "poly_areas",  # compared with pycocotools and the twin in tests/test_poly_area.py
    "poly_rles",  # likewise
    "parse_points",  # compared with float() and the twin in tests/test_poly_area_points.py
    "scan_results",  # compared on texts in tests/test_kernels_scan.py
    "coco_bootstrap",  # compared with the twin and with accumulate on expanded samples in test_compare_kernel.py
    "cvat_polygons",  # compared on generated XML in tests/test_cvat_kernel.py
    "scan_annotations",  # compared on texts in tests/test_kernels_scan_annotations.py
    "scan_panoptic",  # compared on texts in tests/test_kernels_scan_panoptic.py
    "coco_image",  # compared with the usual path on generated images in tests/test_instance_fast.py
)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Fresh:
    """An argument made anew for each call (a generator is used up by the first)."""

    def __init__(self, make: Any) -> None:
        self.make = make


def _clone(x: Any) -> Any:
    """A copy of what a kernel may write into (a C-contiguous writable array or a bytearray);
    anything else (inputs, strided or read-only arrays, which no kernel accepts as output)
    is passed as it is, layout and flags untouched."""
    if isinstance(x, Fresh):
        return x.make()
    if isinstance(x, np.ndarray) and x.flags.c_contiguous and x.flags.writeable:
        return x.copy()
    if isinstance(x, bytearray):
        return bytearray(x)
    return x


def _run(module: Any, name: str, args: list[Any]) -> tuple[Any, list[Any]]:
    """(the result or the exception's (type, message), the arguments as they are after)."""
    args = [_clone(x) for x in args]
    try:
        result: Any = getattr(module, name)(*args)
    except Exception as exc:
        result = (type(exc), str(exc))
    return result, args


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return bool(a == b)


def both(name: str, *args: Any) -> Any:
    """Call kernel ``name`` of the C module and of the twin on copies of ``args``; assert equal
    results, equal exceptions and byte-equal arguments after the call. Returns the result."""
    c_result, c_args = _run(native, name, list(args))
    py_result, py_args = _run(twin, name, list(args))
    assert c_result == py_result, (name, c_result, py_result)
    for i, (x, y) in enumerate(zip(c_args, py_args, strict=True)):
        if isinstance(x, np.ndarray | bytearray):
            assert _same(x, y), (name, f"argument {i} differs after the call", x, y)
    return c_result


def test_every_kernel_has_a_twin_and_the_selector_exposes_them():
    public = {n for n in dir(twin) if callable(getattr(twin, n)) and not n.startswith("_")}
    assert public == set(KERNELS)
    assert {n for n in dir(selector) if callable(getattr(selector, n)) and not n.startswith("_")} == set(KERNELS)
    if native is not None:
        assert {n for n in dir(native) if callable(getattr(native, n)) and not n.startswith("_")} == set(KERNELS)
    assert selector.IMPLEMENTATION in ("C", "python")
    chosen = twin if selector.IMPLEMENTATION == "python" else native
    assert all(getattr(selector, n) is getattr(chosen, n) for n in KERNELS)
    assert (selector.REASON == "") == (selector.IMPLEMENTATION == "C")


# --- unfilter ------------------------------------------------------------------------------


def _filtered(rows: np.ndarray, filters: np.ndarray) -> bytes:
    return np.concatenate([filters[:, None].astype(np.uint8), rows], axis=1).tobytes()


@needs_c
@SETTINGS
@given(
    st.integers(0, 10),
    st.integers(1, 14),
    st.integers(1, 8),
    st.data(),
)
def test_unfilter_equals_c(h, w, bpp, data):
    """Random rows and row filters (every filter, runs of Up, Average and Paeth, and now and
    then a bad filter byte), bytes from a few values (ties in Paeth) or any."""
    rb = w * bpp
    top = data.draw(st.sampled_from([5, 5, 5, 256]))
    filters = np.array(data.draw(st.lists(st.integers(0, 4), min_size=h, max_size=h)), np.uint8)
    if h and data.draw(st.integers(0, 9)) == 0:
        filters[data.draw(st.integers(0, h - 1))] = data.draw(st.integers(5, 255))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows = rng.integers(0, top, (h, rb), dtype=np.uint16).astype(np.uint8)
    spare = data.draw(st.integers(0, 3))
    both("unfilter", _filtered(rows, filters) + bytes(spare), np.full(h * rb + spare, 7, np.uint8), h, rb, bpp)


@needs_c
def test_unfilter_edges_and_every_filter():
    rng = np.random.default_rng(3)
    for bpp in range(1, 9):
        for f in range(5):
            for h, w in ((1, 1), (1, 9), (9, 1), (4, 5)):
                rows = rng.integers(0, 256, (h, w * bpp), dtype=np.uint8)
                both("unfilter", _filtered(rows, np.full(h, f)), np.zeros(h * w * bpp, np.uint8), h, w * bpp, bpp)
                mixed = np.arange(h) % 5
                both("unfilter", _filtered(rows, mixed), np.zeros(h * w * bpp, np.uint8), h, w * bpp, bpp)
    # no rows, bad geometry, truncated data, a small output, a bad filter after good rows
    both("unfilter", b"", np.zeros(0, np.uint8), 0, 3, 3)
    both("unfilter", b"", np.zeros(0, np.uint8), 0, 2**40, 1)
    for h, rb, bpp in ((1, 0, 1), (-1, 3, 3), (1, 4, 3), (1, 3, 0), (1, 9, 9), (2, 3, 3), (3, 3, 3)):
        both("unfilter", bytes(8), np.zeros(6, np.uint8), h, rb, bpp)
    both("unfilter", bytes(8), np.zeros(5, np.uint8), 2, 3, 3)
    rows = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    both("unfilter", _filtered(rows, np.array([4, 3, 9, 1])), np.zeros(24, np.uint8), 4, 6, 3)
    # a wide image whose wavefront runs in bands
    rows = rng.integers(0, 256, (40, 3 * 300), dtype=np.uint8)
    filters = np.array([2, 4, 3, 4] * 10)
    band = twin.png._BAND_BYTES
    twin.png._BAND_BYTES = 1 << 16
    try:
        both("unfilter", _filtered(rows, filters), np.zeros(rows.size, np.uint8), 40, 900, 3)
    finally:
        twin.png._BAND_BYTES = band


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _forward(rows: np.ndarray, filters: np.ndarray, bpp: int) -> bytes:
    """The PNG specification's row filters applied (what an encoder writes)."""
    h, rb = rows.shape
    out = np.zeros((h, rb), np.uint8)
    for y in range(h):
        for i in range(rb):
            a = int(rows[y, i - bpp]) if i >= bpp else 0
            b = int(rows[y - 1, i]) if y else 0
            c = int(rows[y - 1, i - bpp]) if y and i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[int(filters[y])]
            out[y, i] = (int(rows[y, i]) - pred) & 255
    return _filtered(out, filters)


@needs_c
@SETTINGS
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 8), st.data())
def test_unfilter_runs_equals_c(h, w, bpp, data):
    """Segment-map-like rows (runs of a few colours, rows often repeating the one above)
    filtered as an encoder would: long stretches of zero residuals, where the C kernel
    copies the pixel to the left 8 pixels at a time (Sub and Paeth)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    colours = rng.integers(0, 256, (3, bpp), dtype=np.uint8)
    rows = np.zeros((h, w, bpp), np.uint8)
    for y in range(h):
        if y and rng.random() < 0.5:
            rows[y] = rows[y - 1]
            if rng.random() < 0.5:  # a run starting part-way through
                x = int(rng.integers(0, w))
                rows[y, x : x + int(rng.integers(1, 12))] = colours[int(rng.integers(0, 3))]
            continue
        x = 0
        while x < w:
            n = int(rng.integers(1, 20))
            rows[y, x : x + n] = colours[int(rng.integers(0, 3))]
            x += n
    rows = rows.reshape(h, w * bpp)
    filters = np.array(data.draw(st.lists(st.sampled_from([1, 4, 4, 2, 3, 0]), min_size=h, max_size=h)), np.uint8)
    raw = _forward(rows, filters, bpp)
    both("unfilter", raw, np.zeros(h * w * bpp, np.uint8), h, w * bpp, bpp)
    out = np.zeros(h * w * bpp, np.uint8)
    native.unfilter(raw, out, h, w * bpp, bpp)
    assert out.tobytes() == rows.tobytes()  # the filters undone: the rows the encoder had


@needs_c
@pytest.mark.parametrize("name", sorted(p.name for p in (SAMPLE / "panoptic_examples").glob("*.png")))
def test_unfilter_sample_pngs_and_their_decoding(name):
    """Pillow's adaptive filters (Sub, Up and Paeth rows) on the sample panoptic PNGs."""
    data = (SAMPLE / "panoptic_examples" / name).read_bytes()
    info = png._parse(data)
    rb = info.width * 3
    raw = zlib.decompress(info.data)
    out = both("unfilter", raw, np.zeros(info.height * rb, np.uint8), info.height, rb, 3)
    assert out is None


# --- pixels --------------------------------------------------------------------------------


def _rgb(ids: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.stack([ids & 255, ids >> 8 & 255, ids >> 16 & 255], -1).astype(np.uint8)).ravel()


@needs_c
@SETTINGS
@given(st.integers(0, 60), st.integers(1, 5), st.integers(1, 5), st.booleans(), st.data())
def test_pair_counts_equals_c(npix, n_g, n_p, stray, data):
    """Runs of ids on both sides, id 0 (void), ids listed twice or listed as 0, an id one side
    does not list (the first one is reported, the pixels before it counted)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    gids = rng.choice(np.arange(1, 2**24), n_g, replace=False).astype(np.uint32)
    pids = rng.choice(np.arange(1, 2**24), n_p, replace=False).astype(np.uint32)
    pool_g, pool_p = np.r_[0, gids], np.r_[0, pids]
    if stray:
        pool_g = np.r_[pool_g, 2**24 - 1]
        pool_p = np.r_[pool_p, 2**24 - 2]
    lengths = rng.integers(1, 12, npix + 1)
    g = np.repeat(rng.choice(pool_g, npix + 1), lengths)[:npix]
    p = np.repeat(rng.choice(pool_p, npix + 1), rng.permutation(lengths))[:npix]
    listed_g, listed_p = gids.copy(), pids.copy()
    if data.draw(st.booleans()):
        listed_g[0] = 0  # id 0 in the list: never stored
    if data.draw(st.booleans()) and n_p > 1:
        listed_p[1] = listed_p[0]  # an id listed twice: the last rank wins
    grank = (rng.permutation(n_g) + 1).astype(np.int64)
    prank = (rng.permutation(n_p) + 1).astype(np.int64)
    table = np.zeros((n_g + 1) * (n_p + 1), np.int64)
    both("pair_counts", _rgb(g), _rgb(p), listed_g, grank, listed_p, prank, table)


@needs_c
def test_pair_counts_errors_equal_c():
    good = [np.zeros(12, np.uint8), np.zeros(12, np.uint8), np.array([7], np.uint32), np.ones(1, np.int64)]
    good += [np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(2, np.int64)]
    both("pair_counts", *good)
    for i, wrong in [
        (1, np.zeros(9, np.uint8)),
        (0, np.zeros(13, np.uint8)),
        (2, np.zeros(2, np.uint32)),
        (6, np.zeros(3, np.int64)),
        (3, np.zeros(1, np.int64)),
        (3, np.full(1, 2, np.int64)),
        (2, np.zeros(1, np.int32)),
        (6, np.zeros(2, np.uint64)),
    ]:
        both("pair_counts", *good[:i], wrong, *good[i + 1 :])
    rgb = np.array([7, 0, 0] * 3 + [9, 0, 0], np.uint8)  # three pixels of id 7, then an unlisted 9
    table = np.zeros(2, np.int64)
    assert both("pair_counts", rgb, np.zeros(12, np.uint8), *good[2:6], table) == (1, 9)


@needs_c
@SETTINGS
@given(st.integers(0, 300), st.integers(1, 256), st.data())
def test_pack_rgb_and_joint_hist8_equal_c(n, top, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rgb = rng.integers(0, top, 3 * n, dtype=np.uint16).astype(np.uint8)
    both("pack_rgb", rgb, np.zeros(n, np.uint32))
    a = np.repeat(rng.integers(0, top, n, dtype=np.uint16).astype(np.uint8), 2)
    b = np.repeat(rng.integers(0, top, n, dtype=np.uint16).astype(np.uint8), 2)
    both("joint_hist8", a, b, np.arange(65536, dtype=np.int64))
    both("joint_hist8", a, b[:-1] if b.size else np.zeros(1, np.uint8), np.zeros(65536, np.int64))
    both("pack_rgb", rgb, np.zeros(n + 1, np.uint32))
    both("joint_hist8", a, b, np.zeros(65535, np.int64))


@needs_c
@SETTINGS
@given(st.integers(0, 60), st.integers(1, 4), st.integers(0, 7), st.data())
def test_joint_hist8_runs_equal_c_and_bincount(n, top, skip, data):
    """Runs of 1 to 40 pairs, starting at any byte: the C kernel steps eight pairs at a time
    through a run and must stop at the exact pair that differs, in either map, also in the
    last seven bytes."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    lengths = rng.integers(1, 41, n)
    a = np.repeat(rng.integers(0, top, n, dtype=np.uint16).astype(np.uint8), lengths)[skip:]
    b = np.repeat(rng.integers(0, top, n, dtype=np.uint16).astype(np.uint8), lengths)[skip:]
    b[rng.integers(0, 2, b.size).astype(bool) & (rng.random(b.size) < 0.02)] ^= 1  # lone breaks in one map
    expected = np.bincount(a.astype(np.intp) * 256 + b, minlength=65536)
    got = np.zeros(65536, np.int64)
    native.joint_hist8(a, b, got)
    assert np.array_equal(got, expected)
    both("joint_hist8", a, b, np.zeros(65536, np.int64))


# --- COCO RLE ------------------------------------------------------------------------------


def _masks(rng: np.random.Generator, h: int, w: int, n: int, run: int) -> np.ndarray:
    m = np.repeat(rng.integers(0, 2, (n, h * w // run + 1)), run, axis=1)[:, : h * w]
    return np.asfortranarray(m.reshape(n, w, h).transpose(2, 1, 0).astype(np.uint8))


def _mutations(rng: np.random.Generator, texts: list[str]) -> list[Any]:
    """Strings pycocotools wrote, mutated: a character replaced (in or out of the alphabet),
    cut short, one appended; 7- and 8-character values; empty; bytes and bytearray."""
    out: list[Any] = []
    for t in texts:
        s = list(t)
        if s:
            s[int(rng.integers(0, len(s)))] = chr(int(rng.integers(40, 120)))
        out += ["".join(s), t[: max(0, len(t) - 1)], t + "1", t.encode(), bytearray(t.encode())]
    out += ["", "0", "1", "o", "p", "/", "2X12" + _encode([0])[:0] + "oooooo1", "2X12" + "o" * 7 + "0", "\u00e91"]
    return out


@needs_c
@SETTINGS
@given(st.integers(0, 30), st.integers(0, 30), st.integers(1, 6), st.data())
def test_rle_areas_equals_c(h, w, run, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    texts: list[Any] = []
    if h and w:
        texts = [r["counts"].decode() for r in mask_utils.encode(_masks(rng, h, w, 4, run))]
    texts += [_encode(data.draw(st.lists(st.integers(0, h * w), max_size=6))) for _ in range(3)]
    strings = texts + _mutations(rng, texts)
    order = rng.permutation(len(strings))
    strings = [strings[i] for i in order]
    both("rle_areas", strings, h, w, np.zeros(len(strings), np.int64))
    both("rle_areas", strings[:1], h, w, np.zeros(1, np.int64))


@needs_c
def test_rle_areas_edges_and_errors_equal_c():
    one = np.zeros(1, np.int64)
    for h, w in ((0, 0), (0, 5), (1, 1), (2**31, 1), (2**31, 2**31), (2**31 + 1, 1), (-1, 1), (2**63, 1), (1.0, 1)):
        both("rle_areas", [""], h, w, one)
        both("rle_areas", ["1"], h, w, one)
    big = _encode([2**30, 2**30, 2**30, 2**30])  # counts past 2^31 through deltas: 2^32 pixels
    both("rle_areas", [big, big[:-1]], 2**16, 2**16, np.zeros(2, np.int64))
    both("rle_areas", [], 1, 1, np.zeros(0, np.int64))
    both("rle_areas", ["1"], 1, 1, np.zeros(2, np.int64))
    both("rle_areas", {"1": 1}, 1, 1, one)
    both("rle_areas", 5, 1, 1, one)
    both("rle_areas", ["1", 5], 1, 1, np.zeros(2, np.int64))
    both("rle_areas", ["\udc80"], 1, 1, one)
    both("rle_areas", [np.zeros(4, np.uint8)[::2]], 1, 1, one)
    both("rle_areas", [memoryview(b"0101")[::2]], 1, 1, one)
    both("rle_areas", ("11",), 1, 1, one)
    both("rle_areas", ["1"], 1, 1, np.zeros(1, np.int32))


def _zero_runs(rng: np.random.Generator, total: int) -> list[int]:
    cuts = sorted(rng.integers(0, total + 1, int(rng.integers(0, 10))).tolist())
    counts = np.diff([0, *cuts, total]).tolist()
    for _ in range(int(rng.integers(0, 3))):
        at = int(rng.integers(0, len(counts) + 1))
        counts[at:at] = [0, 0] if rng.integers(0, 2) else [0]
    return counts


@needs_c
@SETTINGS
@given(st.integers(1, 24), st.integers(1, 24), st.integers(1, 6), st.data())
def test_rle_iou_equals_c(h, w, run, data):
    """Masks that touch or not, empty and full, crowd or not, several categories, and RLEs
    with zero-length runs (where pycocotools' loop can stop early)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    m = _masks(rng, h, w, 5, run)
    m[..., 0] = 0
    m[..., 1] = 1
    texts = [r["counts"].decode() for r in mask_utils.encode(m)]
    zero = [mask_utils.frPyObjects({"size": [h, w], "counts": _zero_runs(rng, h * w)}, h, w) for _ in range(3)]
    texts += [r["counts"].decode() for r in zero]
    nd, ng = int(rng.integers(0, len(texts) + 1)), int(rng.integers(0, len(texts) + 1))
    dt = [texts[i] for i in rng.integers(0, len(texts), nd)]
    gt = [texts[i] for i in rng.integers(0, len(texts), ng)]
    dcat = rng.integers(1, 3, nd).astype(np.int64)
    gcat = rng.integers(1, 3, ng).astype(np.int64)
    crowd = rng.integers(0, 3, ng).astype(np.uint8)
    both("rle_iou", dt, gt, h, w, dcat, gcat, crowd, np.full(nd * ng, 9.0))


@needs_c
def test_rle_iou_after_rle_areas_equals_c():
    """rle_areas keeps what it decodes for rle_iou to reuse (segtool/_kernels.c): strings read
    again at another size of the same pixel count (other columns), a bytearray changed after
    it was read, more strings than the C module keeps: as decoding afresh (the twin)."""
    rng = np.random.default_rng(5)
    h, w = 12, 9
    texts = [r["counts"].decode() for r in mask_utils.encode(_masks(rng, h, w, 6, 2))]
    n = len(texts)
    cats, crowd = np.ones(n, np.int64), np.zeros(n, np.uint8)
    both("rle_areas", texts, h, w, np.zeros(n, np.int64))
    both("rle_iou", texts, texts, h, w, cats, cats, crowd, np.zeros(n * n))
    both("rle_iou", texts, texts, w, h, cats, cats, crowd, np.zeros(n * n))
    changed = bytearray(texts[0].encode())
    native.rle_areas([changed], h, w, np.zeros(1, np.int64))
    changed[:] = texts[1].encode()
    both("rle_iou", [changed], texts, h, w, cats[:1], cats, crowd, np.zeros(n))
    many = ["".join(texts[i % n]) + "" for i in range(6000)]  # distinct objects
    many = [t if t is not texts[i % n] else t[:1] + t[1:] for i, t in enumerate(many)]
    both("rle_areas", many, h, w, np.zeros(len(many), np.int64))
    ones = np.ones(len(many), np.int64)
    both("rle_iou", many, texts, h, w, ones, cats, crowd, np.zeros(len(many) * n))


@needs_c
def test_rle_iou_past_pycocotools_counts_and_errors_equal_c():
    """2^32 pixels: the twin's step-for-step path (pycocotools' counts are 32-bit)."""
    q = 2**30
    masks = [[q, q, q, q], [0, q, q, 2 * q], [2 * q, 0, q, 0, q], [4 * q], [q, 0, 0, 3 * q], [3 * q, q]]
    texts = [_encode(c) for c in masks]
    n = len(texts)
    cats = np.ones(n, np.int64)
    for crowd in (np.zeros(n, np.uint8), np.ones(n, np.uint8)):
        both("rle_iou", texts, texts, 2**16, 2**16, cats, cats, crowd, np.zeros(n * n))
    # the twin's Python path equals pycocotools where pycocotools can count: small images
    rng = np.random.default_rng(9)
    for _ in range(30):
        counts = [_zero_runs(rng, 35) for _ in range(4)]
        ours = [
            [twin._pair_iou(np.array(a), np.array(b), 5, crowd) for b in counts] for a in counts for crowd in (0, 1)
        ]
        rles = [mask_utils.frPyObjects({"size": [5, 7], "counts": c}, 5, 7) for c in counts]
        for crowd in (0, 1):
            expected = np.asarray(mask_utils.iou(rles, rles, [crowd] * 4))
            assert np.array(ours[crowd::2]).tobytes() == expected.tobytes()
    one, flag, out = np.ones(1, np.int64), np.zeros(1, np.uint8), np.zeros(1)
    both("rle_iou", ["1"], ["x"], 1, 1, one, one, flag, out)
    both("rle_iou", ["x"], ["x"], 1, 1, one, one, flag, out)
    both("rle_iou", ["01"], ["01"], 1, 1, one, one, flag, np.zeros(2))
    both("rle_iou", ["01"], ["01"], 1, 1, one, one, np.zeros(2, np.uint8), out)
    both("rle_iou", ["01"], ["01"], 1, 1, one, np.zeros(1, np.int32), flag, out)
    both("rle_iou", ["01"], 5, 1, 1, one, one, flag, out)
    both("rle_iou", Fresh(lambda: (s for s in ["01"])), ["01"], 1, 1, one, one, flag, out)
    both("rle_iou", [], [], 3, 3, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0))
    two, flags = np.ones(2, np.int64), np.array([0, 1], np.uint8)
    for h, w in ((0, 5), (5, 0), (0, 0)):  # images without pixels: empty strings, empty masks
        both("rle_iou", ["", ""], ["", ""], h, w, two, two, flags, np.full(4, 9.0))


# --- COCOeval ------------------------------------------------------------------------------


@needs_c
@SETTINGS
@given(st.integers(0, 8), st.integers(0, 8), st.integers(1, 4), st.integers(1, 4), st.data())
def test_coco_match_equals_c(nd, ng, na, nt, data):
    """IoUs from a few values (ties, IoU equal to a threshold), categories from two, crowd
    ground truth (matched again and again), ignored ground truth (matched only when nothing
    else is), ignore flags other than 0 and 1, -1 across categories."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    values = np.array([0.0, 0.25, 0.5, 0.5, 0.75, 1.0])
    ious = values[rng.integers(0, values.size, (nd, ng))]
    dcat = rng.integers(1, 3, nd).astype(np.int64)
    gcat = rng.integers(1, 3, ng).astype(np.int64)
    ious[dcat[:, None] != gcat[None, :]] = -1.0
    gids = rng.permutation(np.arange(1, ng + 1)).astype(np.int64)
    crowd = (rng.random(ng) < 0.3).astype(np.uint8)
    ignore = (rng.random((na, ng)) < 0.3).astype(np.uint8)
    if data.draw(st.booleans()) and ignore.size:
        ignore.flat[0] = 2
    thrs = np.sort(rng.choice(np.array([0.0, 0.25, 0.5, 0.6, 0.75, 1.0]), nt))
    both(
        "coco_match",
        ious,
        dcat,
        gcat,
        gids,
        crowd,
        ignore,
        thrs,
        np.full((na, nt, nd), 5, np.int64),
        np.full((na, nt, nd), 5, np.uint8),
    )


@needs_c
def test_coco_match_ties_crowd_nan_and_sizes_equal_c():
    args = {
        "ious": np.array([[0.5, 0.5, 0.7, 0.7], [0.7, 0.5, 0.7, 0.9], [np.nan, 0.6, 0.6, 0.6]]),
        "dt_cat": np.ones(3, np.int64),
        "gt_cat": np.ones(4, np.int64),
        "gt_ids": np.array([10, 20, 30, 40], np.int64),
        "crowd": np.array([0, 1, 0, 0], np.uint8),
        "ignore": np.array([[0, 0, 1, 0], [1, 1, 1, 1]], np.uint8),
        "thrs": np.array([0.5, 0.7, np.nan]),
        "match": np.zeros((2, 3, 3), np.int64),
        "match_ig": np.zeros((2, 3, 3), np.uint8),
    }
    both("coco_match", *args.values())
    args["ious"] = np.array([[0.5, 0.5, 0.7, 0.7], [0.7, 0.5, 0.7, 0.9], [0.6, 0.6, 0.6, 0.6]])
    args["thrs"] = np.array([0.5, 0.7, -np.inf])
    both("coco_match", *args.values())
    for key, wrong in [
        ("ious", np.zeros(11)),
        ("gt_ids", np.zeros(3, np.int64)),
        ("ignore", np.zeros(7, np.uint8)),
        ("match", np.zeros(17, np.int64)),
        ("match_ig", np.zeros((2, 3, 3), np.int64)),
        ("thrs", np.zeros(3, np.float32)),
    ]:
        both("coco_match", *{**args, key: wrong}.values())
    none = {**args, "gt_cat": np.zeros(0, np.int64), "ious": np.zeros(0), "gt_ids": np.zeros(0, np.int64)}
    none |= {"crowd": np.zeros(0, np.uint8), "ignore": np.zeros(0, np.uint8)}
    both("coco_match", *{**none, "match": np.zeros(0, np.int64), "match_ig": np.zeros(0, np.uint8)}.values())
    both("coco_match", *none.values())


@needs_c
@SETTINGS
@given(st.integers(0, 30), st.integers(1, 4), st.integers(1, 4), st.data())
def test_coco_accumulate_equals_c(n, na, nt, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    matched = (rng.random((na, nt, n)) < 0.5).astype(np.uint8)
    ignored = (rng.random((na, nt, n)) < 0.2).astype(np.uint8)
    npig = rng.integers(-1, 12, na).astype(np.int64)
    rec = data.draw(
        st.sampled_from(
            [
                np.linspace(0.0, 1.00, 101),
                np.array([0.0, 0.5, 0.2, 1.0, 0.3]),
                np.array([np.nan, 0.1, np.nan, 0.9]),
                np.zeros(0),
                np.array([-np.inf, np.inf]),
            ]
        )
    )
    both(
        "coco_accumulate",
        matched,
        ignored,
        npig,
        rec,
        -np.ones((na, nt, rec.size)),
        -np.ones((na, nt)),
    )


@needs_c
def test_coco_accumulate_sizes_equal_c():
    good = [np.zeros((2, 3, 4), np.uint8), np.zeros((2, 3, 4), np.uint8), np.ones(2, np.int64)]
    good += [np.linspace(0, 1, 5), -np.ones((2, 3, 5)), -np.ones((2, 3))]
    both("coco_accumulate", *good)
    for i, wrong in [(0, np.zeros(23, np.uint8)), (4, np.zeros(29)), (5, np.zeros(5)), (2, np.ones(2, np.int32))]:
        both("coco_accumulate", *good[:i], wrong, *good[i + 1 :])
    both("coco_accumulate", *[np.zeros(0, a.dtype) for a in good])


# --- hostile arguments: the same exception from both ---------------------------------------


@needs_c
def test_hostile_arguments_raise_the_same_exceptions():
    """tests/test_hostile_native.py's hostile table (wrong element types of the right byte
    length or count, byte-swapped, read-only, strided, sizes near 2^31, 2^63 and beyond),
    every call compared; plus non-buffers, wrong argument counts and keywords."""
    from tests.test_hostile_native import GOOD, _hostile_calls

    calls = 0
    for name, _case, args in _hostile_calls():
        both(name, *args)
        calls += 1
    assert calls > 250
    for name, make in GOOD.items():
        good = make()
        for i in range(len(good)):
            both(name, *good[:i], object(), *good[i + 1 :])
        for kernel in (native, twin):
            with pytest.raises(TypeError):
                getattr(kernel, name)(*good[:-1])
            with pytest.raises(TypeError):
                getattr(kernel, name)(*good, None)
            with pytest.raises(TypeError):
                getattr(kernel, name)(*good[:-1], out=good[-1])


# --- the selector and --version ------------------------------------------------------------


def _env(pure: bool | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != selector.ENV}
    if pure is not None:
        env[selector.ENV] = "1" if pure else "0"
    return env


def _python(code: str, pure: bool | None) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(pure), capture_output=True, text=True, timeout=120, check=True, cwd=ROOT
    )
    return proc.stdout.strip()


def test_version_names_the_kernels_in_use():
    def version(pure: bool | None) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "segtool", "--version"], env=_env(pure), capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return proc.stdout.strip()

    assert version(True) == f"segtool {__version__} (pure-Python kernels: SEGTOOL_PURE_PYTHON=1)"
    expected = f"segtool {__version__} (C kernels)"
    if native is None:
        expected = f"segtool {__version__} (pure-Python kernels: the C extension segtool._kernels is not built)"
    assert version(None).startswith(expected) and version(False).startswith(expected)


def test_selector_falls_back_when_the_extension_cannot_be_imported():
    """An install without the C extension: ``import segtool._kernels`` fails, the twin runs,
    and --version says why."""
    block = "import sys; sys.modules['segtool._kernels'] = None; "
    got = _python(block + "from segtool import kernels; print(kernels.IMPLEMENTATION, '|', kernels.REASON)", None)
    assert got == "python | the C extension segtool._kernels is not built"
    got = _python(block + "from segtool.cli import main; main(['--version'])", None)
    assert got == f"segtool {__version__} (pure-Python kernels: the C extension segtool._kernels is not built)"
    finder = (
        "import sys\n"
        "class F:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'segtool._kernels':\n"
        "            raise ImportError('undefined symbol: PyFoo')\n"
        "sys.meta_path.insert(0, F())\n"
    )
    got = _python(finder + "from segtool import kernels; print(kernels.IMPLEMENTATION, '|', kernels.REASON)", None)
    assert got == "python | the C extension segtool._kernels does not load (undefined symbol: PyFoo)"
    broken = "import sys, types; sys.modules['segtool._kernels'] = types.ModuleType('segtool._kernels'); "
    got = _python(broken + "from segtool import kernels; print(kernels.IMPLEMENTATION, '|', kernels.REASON)", None)
    assert got.startswith("python | the C extension segtool._kernels is out of date (no unfilter, pair_counts, ")
    assert _python("from segtool import kernels; print(kernels.IMPLEMENTATION)", True) == "python"
    if native is not None:
        assert _python("from segtool import kernels; print(kernels.IMPLEMENTATION)", False) == "C"


# --- the evals on sample_data, C against the twin ------------------------------------------


def _segtool(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "segtool", *args, "-q"], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr


def _area_edge_instances(tmp_path: Path) -> tuple[Path, Path]:
    """Ground-truth squares whose areas sit on COCO's area-range edges (32² and 96² pixels,
    and one pixel either side), a crowd region, and detections with tied scores."""
    h, w = 300, 420
    sides = [(32, 32), (31, 33), (32, 33), (96, 96), (95, 97), (96, 97), (10, 10)]
    gts, dets, x = [], [], 2
    for k, (a, b) in enumerate(sides, start=1):
        m = np.zeros((h, w), np.uint8)
        m[3 : 3 + a, x : x + b] = 1
        d = np.zeros((h, w), np.uint8)
        d[3 + k % 3 : 3 + a + k % 3, x + 1 : x + b] = 1
        x += b + 4
        gts.append((m, k % 2 + 1, int(k == 7)))
        dets.append((d, k % 2 + 1, 0.5 if k % 2 else 0.9))
    anns, results = [], []
    for k, (m, cat, crowd) in enumerate(gts, start=1):
        r = mask_utils.encode(np.asfortranarray(m))
        bbox = [float(v) for v in mask_utils.toBbox(r)]
        seg = {"size": r["size"], "counts": r["counts"].decode()}
        anns.append({"id": k, "image_id": 1, "category_id": cat, "segmentation": seg})
        anns[-1] |= {"area": int(m.sum()), "bbox": bbox, "iscrowd": crowd}
    for m, cat, score in dets:
        r = mask_utils.encode(np.asfortranarray(m))
        seg = {"size": r["size"], "counts": r["counts"].decode()}
        results.append({"image_id": 1, "category_id": cat, "segmentation": seg, "score": score})
    cats = [{"id": 1, "name": "a", "supercategory": "s"}, {"id": 2, "name": "b", "supercategory": "s"}]
    gt = tmp_path / "edges.json"
    gt.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "x.jpg", "height": h, "width": w}],
                "annotations": anns,
                "categories": cats,
            }
        )
    )
    dt = tmp_path / "edges_det.json"
    dt.write_text(json.dumps(results))
    return gt, dt


@needs_c
def test_evals_on_sample_data_equal_between_c_and_the_twin(tmp_path):
    """segtool eval panoptic / instance / semantic, run with the C kernels and with the twin
    (SEGTOOL_PURE_PYTHON=1), each in its own process: the same JSON, number for number."""
    c_env, py_env = _env(None), _env(True)
    gt = str(SAMPLE / "panoptic_examples.json")
    inst, sem, pan = tmp_path / "instances.json", tmp_path / "semantic", tmp_path / "from_semantic.json"
    _segtool(c_env, "convert", gt, str(inst), "--to", "coco-instance")
    _segtool(c_env, "convert", gt, str(sem), "--to", "semantic")
    _segtool(c_env, "convert", str(sem), str(pan), "--to", "coco-panoptic", "--split-things")
    anns = json.loads(inst.read_text())["annotations"]
    det = tmp_path / "detections.json"
    det.write_text(json.dumps([dict(a, score=round(0.3 + 0.05 * (i % 7), 2)) for i, a in enumerate(anns)]))
    edges_gt, edges_dt = _area_edge_instances(tmp_path)
    runs = {
        "panoptic": ["eval", "panoptic", gt, str(pan), "--per-class"],
        "instance": ["eval", "instance", str(inst), str(det)],
        "edges": ["eval", "instance", str(edges_gt), str(edges_dt)],
        "semantic": ["eval", "semantic", gt, str(sem)],
    }
    for name, args in runs.items():
        results = []
        for tag, env in (("c", c_env), ("py", py_env)):
            out = tmp_path / f"{name}_{tag}.json"
            _segtool(env, *args, "--json", str(out))
            results.append(json.loads(out.read_text()))
        assert results[0] == results[1], name
        assert json.dumps(results[0]) == json.dumps(results[1]), name  # floats written alike
