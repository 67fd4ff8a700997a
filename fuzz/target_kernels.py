"""Target ``kernels``: every entry point of ``segtool._kernels`` with fuzzed sizes and buffers.

Checks: each call returns or raises ValueError (the kernels' documented error for a bad
size, dtype, layout or value); never a crash (run under ``make sanitize``'s ASan/UBSan
build too, where a read or write out of bounds aborts). Where the arguments are
consistent, the result is compared with a reference: unfilter with the PNG specification,
pack_rgb, joint_hist8 and pair_counts with numpy, poly_areas and poly_rles with pycocotools,
parse_points with float(), cvat_polygons with the XML's own attributes and float().

Inputs: the first byte picks the entry point; then each size argument is either the one
that fits the buffers or a fuzzed integer (huge, negative, off by a few), and each buffer
either the dtype and length the kernel reads or another (wrong dtype, byte order, length,
read-only, non-contiguous, bytes, memoryview). Buffer contents are the input's bytes.
"""

from __future__ import annotations

import json
import re
import struct
from array import array
from typing import Any

import numpy as np

from segtool import _kernels

from .contract import call
from .provider import Provider, mutate_bytes
from .seeds import rle_strings
from .target_rle import fuzzed_counts, rle_to_string

WRONG_DTYPES = ("u1", "i1", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "?", ">u4", ">i8", ">f8")


def _fill(p: Provider, dtype: Any, n: int) -> np.ndarray:
    """``n`` elements of ``dtype`` whose bytes come from the input (zeros once it ends)."""
    dt = np.dtype(dtype)
    raw = p.take(n * dt.itemsize).ljust(n * dt.itemsize, b"\0")
    out = np.frombuffer(raw, dt).copy()
    if dt.kind == "b":
        out = out.view(np.uint8).astype(bool)
    return out


class KernelProvider(Provider):
    """A provider that knows whether this call's arguments are all to fit (``clean``): half
    the calls, so the kernels' loops run as often as their argument checks."""

    clean = False


def buffer(p: Provider, dtype: str, n: int, fill: np.ndarray | None = None) -> Any:
    """A buffer for an argument the kernel reads as ``n`` elements of ``dtype``: most often
    exactly that (contents ``fill`` or from the input), otherwise something it must refuse
    or read safely."""
    kind = 0 if getattr(p, "clean", False) else p.below(16)
    good = fill if fill is not None and fill.size == n else _fill(p, dtype, n)
    good = np.ascontiguousarray(good, dtype=dtype)
    if kind < 10:
        return good
    if kind == 10:
        return _fill(p, p.choice(WRONG_DTYPES), n)
    if kind == 11:  # a length off by a little, or far
        return _fill(p, dtype, max(0, n + p.choice((-1, 1, -n, 2, 7, 64))))
    if kind == 12:
        ro = good.copy()
        ro.flags.writeable = False
        return ro
    if kind == 13:  # not contiguous
        return np.repeat(good, 2)[::2] if n else good[::-1]
    if kind == 14:
        return p.choice((bytes, bytearray))(good.tobytes())
    if p.flag():
        return memoryview(good.tobytes()).cast("B")
    return array("q", _fill(p, "i8", n).tolist()) if dtype == "i8" else memoryview(good)


def size(p: Provider, fits: int) -> int:
    """A size argument: the one that fits (most often), near it, or an edge value."""
    kind = 0 if getattr(p, "clean", False) else p.below(8)
    if kind < 5:
        return fits
    if kind == 5:
        return fits + p.choice((-1, 1, -fits, 2))
    return p.integer() * (-1 if p.flag() else 1)


def unfilter_reference(src: bytes, height: int, rb: int, bpp: int) -> np.ndarray | None:
    """Undo PNG row filters per byte, as the PNG specification defines them (None on a bad
    filter byte)."""
    out, up = np.zeros((height, rb), np.uint8), [0] * rb
    for y in range(height):
        row = src[y * (rb + 1) : (y + 1) * (rb + 1)]
        f, s, cur = row[0], row[1:], [0] * rb
        if f > 4:
            return None
        for i in range(rb):
            a = cur[i - bpp] if i >= bpp else 0
            c = up[i - bpp] if i >= bpp else 0
            b = up[i]
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            paeth = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (s[i] + (0, a, b, (a + b) // 2, paeth)[f]) % 256
        out[y], up = cur, cur
    return out


def view(buf: Any, dtype: str) -> np.ndarray | None:
    """The elements a kernel read from ``buf`` (a contiguous buffer), or None."""
    try:
        return np.frombuffer(buf, dtype)
    except (ValueError, TypeError, BufferError):
        return None


def unfilter(p: Provider) -> None:
    bpp = p.choice((1, 3, 4, 2, 5, 8, 6, 7))
    width, height = 1 + p.small(9), p.small(6)
    rb = width * bpp
    src = _fill(p, "u1", height * (rb + 1))
    if p.below(4):
        src[:: rb + 1] %= 5  # mostly valid filter bytes
    args = (buffer(p, "u1", src.size, src), buffer(p, "u1", height * rb), size(p, height), size(p, rb))
    args += (bpp if p.below(4) else size(p, bpp),)
    try:
        _kernels.unfilter(*args)
    except ValueError:
        return
    h, r, b = args[2:]
    if h == 0:
        return
    src_seen, dst_seen = view(args[0], "u1"), view(args[1], "u1")
    assert src_seen is not None and dst_seen is not None, "unfilter took buffers numpy cannot read"
    ref = unfilter_reference(src_seen.tobytes(), h, r, b)
    assert ref is not None, "unfilter accepted a filter byte above 4"
    assert np.array_equal(dst_seen[: h * r].reshape(h, r), ref), "unfilter disagrees with the PNG specification"


def pack_rgb(p: Provider) -> None:
    npix = p.small(40)
    rgb = _fill(p, "u1", 3 * npix)
    a, out = buffer(p, "u1", rgb.size, rgb), buffer(p, "u4", npix)
    try:
        _kernels.pack_rgb(a, out)
    except ValueError:
        return
    seen, got = view(a, "u1"), view(out, "u4")
    assert seen is not None and got is not None, "pack_rgb took buffers numpy cannot read"
    r = seen.reshape(-1, 3).astype(np.uint32)
    assert np.array_equal(got, r[:, 0] + 256 * r[:, 1] + 65536 * r[:, 2]), "pack_rgb disagrees with R+256G+65536B"


def joint_hist8(p: Provider) -> None:
    n = p.small(64)
    a, b = _fill(p, "u1", n), _fill(p, "u1", n) if p.flag() else _fill(p, "u1", n) % 3
    out = buffer(p, "i8", 65536, np.zeros(65536, np.int64))
    args = (buffer(p, "u1", n, a), buffer(p, "u1", n, b), out)
    before = view(out, "i8")
    before = None if before is None else before.copy()
    try:
        _kernels.joint_hist8(*args)
    except ValueError:
        return
    ga, gb, got = view(args[0], "u1"), view(args[1], "u1"), view(out, "i8")
    assert ga is not None and gb is not None and got is not None and before is not None
    ref = before + np.bincount(256 * ga.astype(np.int64) + gb, minlength=65536)
    assert np.array_equal(got, ref), "joint_hist8 disagrees with numpy's bincount"


def pair_counts(p: Provider) -> None:
    npix = p.small(48)
    gi = _fill(p, "u1", npix) % (2 + p.small(6))  # pixel ids, mostly small (ids 0..7)
    pi = _fill(p, "u1", npix) % (2 + p.small(6))
    g_ids = np.unique(gi[gi != 0]).astype(np.uint32) if p.below(4) else _fill(p, "u4", p.small(6))
    p_ids = np.unique(pi[pi != 0]).astype(np.uint32) if p.below(4) else _fill(p, "u4", p.small(6))
    g_rank = np.arange(len(g_ids), 0, -1, dtype=np.int64) if p.below(4) else _fill(p, "i8", len(g_ids))
    p_rank = np.arange(1, len(p_ids) + 1, dtype=np.int64) if p.below(4) else _fill(p, "i8", len(p_ids))
    cells = (len(g_ids) + 1) * (len(p_ids) + 1)
    args = [
        buffer(p, "u1", 3 * npix, _to_rgb(gi)),
        buffer(p, "u1", 3 * npix, _to_rgb(pi)),
        buffer(p, "u4", len(g_ids), g_ids),
        buffer(p, "i8", len(g_ids), g_rank),
        buffer(p, "u4", len(p_ids), p_ids),
        buffer(p, "i8", len(p_ids), p_rank),
        buffer(p, "i8", cells, np.zeros(cells, np.int64)),
    ]
    before = view(args[6], "i8")
    before = None if before is None else before.copy()
    try:
        bad = _kernels.pair_counts(*args)
    except ValueError:
        return
    seen = [view(x, d) for x, d in zip(args, ("u1", "u1", "u4", "i8", "u4", "i8", "i8"), strict=True)]
    assert before is not None and all(x is not None for x in seen), "pair_counts took buffers numpy cannot read"
    g_rgb, p_rgb, g_id, g_rk, p_id, p_rk, table = seen
    if bad is not None:
        side, missing = bad
        listed = (g_id if side == 1 else p_id).tolist()
        assert side in (1, 2) and missing != 0 and missing not in listed, f"pair_counts flagged {bad}"
        return
    if len(set(g_id.tolist())) != len(g_id) or len(set(p_id.tolist())) != len(p_id):
        return  # a repeated id: which of its ranks counts is unspecified
    g = g_rgb.reshape(-1, 3).astype(np.int64) @ np.array([1, 256, 65536])
    q = p_rgb.reshape(-1, 3).astype(np.int64) @ np.array([1, 256, 65536])
    g_lut = dict(zip(g_id.tolist(), g_rk.tolist(), strict=True)) | {0: 0}
    p_lut = dict(zip(p_id.tolist(), p_rk.tolist(), strict=True)) | {0: 0}
    ref = before.reshape(len(g_id) + 1, len(p_id) + 1).copy()
    np.add.at(ref, ([g_lut[v] for v in g.tolist()], [p_lut[v] for v in q.tolist()]), 1)
    assert np.array_equal(table.reshape(ref.shape), ref), "pair_counts disagrees with numpy"


def _to_rgb(ids: np.ndarray) -> np.ndarray:
    """Ids below 256 as RGB bytes (R = id)."""
    return np.stack([ids, ids * 0, ids * 0], axis=-1).astype(np.uint8).ravel()


def rle_list(p: Provider, n: int, h: int, w: int) -> list[Any]:
    """``n`` RLE strings of an ``h`` x ``w`` image (written from fuzzed counts, so zero runs
    and long counts occur) or of a seed's size, maybe mutated; as str, bytes or bytearray."""
    out: list[Any] = []
    for _ in range(n):
        if p.below(4):
            text = rle_to_string(fuzzed_counts(p, h * w)).encode()
        else:  # the seed of this size, or another seed (a string of the wrong size)
            sized = [s for hh, ww, s in rle_strings() if (hh, ww) == (h, w)]
            text = (sized[0] if sized and p.below(4) else p.choice(rle_strings())[2]).encode()
        if not getattr(p, "clean", False) and p.flag():
            text = mutate_bytes(p, text)
        kind = p.below(4)
        out.append(text.decode("latin-1") if kind < 2 else bytes(text) if kind == 2 else bytearray(text))
    return out


def rle_kernels(p: Provider) -> None:
    h, w, _ = p.choice(rle_strings())
    hh, ww = size(p, h), size(p, w)
    if p.flag():
        seq = rle_list(p, p.small(5), h, w)
        call(_kernels.rle_areas, seq, hh, ww, buffer(p, "i8", len(seq)))
        return
    dt, gt = rle_list(p, p.small(4), h, w), rle_list(p, p.small(4), h, w)
    nd, ng = len(dt), len(gt)
    call(
        _kernels.rle_iou,
        dt,
        gt,
        hh,
        ww,
        buffer(p, "i8", nd, np.ones(nd, np.int64)),
        buffer(p, "i8", ng, np.ones(ng, np.int64)),
        buffer(p, "u1", ng),
        buffer(p, "f8", nd * ng),
    )


def coco_match(p: Provider) -> None:
    nd, ng, nt, na = p.small(6), p.small(6), p.small(4), p.small(4)
    call(
        _kernels.coco_match,
        buffer(p, "f8", nd * ng, _fill(p, "u1", nd * ng) / 255.0),
        buffer(p, "i8", nd, _fill(p, "u1", nd) % 3),
        buffer(p, "i8", ng, _fill(p, "u1", ng) % 3),
        buffer(p, "i8", ng),
        buffer(p, "u1", ng),
        buffer(p, "u1", na * ng, _fill(p, "u1", na * ng) % 2),
        buffer(p, "f8", nt, np.linspace(0.5, 0.95, nt)),
        buffer(p, "i8", na * nt * nd),
        buffer(p, "u1", na * nt * nd),
    )


def coco_accumulate(p: Provider) -> None:
    na, nt, nr, n = p.small(4), p.small(4), p.small(6), p.small(8)
    call(
        _kernels.coco_accumulate,
        buffer(p, "u1", na * nt * n, _fill(p, "u1", na * nt * n) % 2),
        buffer(p, "u1", na * nt * n, _fill(p, "u1", na * nt * n) % 2),
        buffer(p, "i8", na, _fill(p, "u1", na).astype(np.int64) - 3),
        buffer(p, "f8", nr, np.linspace(0, 1, nr)),
        buffer(p, "f8", na * nt * nr, np.full(na * nt * nr, -1.0)),
        buffer(p, "f8", na * nt, np.full(na * nt, -1.0)),
    )


def coco_bootstrap(p: Provider) -> None:
    """Weighted accumulation over fuzzed samples: weights of any uint32 (sums past 2^52 take
    the cast path), image indices in range or not, flags of any byte, counts of any sign."""
    n_img, n_s, n_t, n_d = p.small(4), p.small(10), p.small(3), p.small(12)
    cap = p.choice((4, 2**32 - 1))
    weights = (_fill(p, "u4", n_img * n_s) % cap).astype(np.uint32)
    image = _fill(p, "u1", n_d).astype(np.int64) % max(n_img, 1) - (1 if p.below(16) == 0 else 0)
    call(
        _kernels.coco_bootstrap,
        buffer(p, "u4", n_img * n_s, weights),
        buffer(p, "i8", n_d, image),
        buffer(p, "u1", n_t * n_d),
        buffer(p, "u1", n_t * n_d, _fill(p, "u1", n_t * n_d) % 3),
        buffer(p, "i8", n_s, _fill(p, "u1", n_s).astype(np.int64) - 3),
        buffer(p, "f8", 101, np.linspace(0, 1, 101)),
        buffer(p, "f8", n_s * n_t, np.zeros(n_s * n_t)),
    )


def _coordinate(p: Provider, side: int) -> float:
    """A polygon coordinate on an image side of ``side`` pixels: mostly within half a side of
    the image, on an eighth-pixel grid (.5 edges included); sometimes far or not finite."""
    if p.below(64):  # one polygon in ~10 has an odd coordinate somewhere
        return p.below(16 * side + 1) / 8 - side / 2
    return float(p.choice((0.5, -0.5, 2.0**27, -(2.0**40), 1e308, float("inf"), float("nan"), -0.0)))


def poly_kernels(p: Provider) -> None:
    """poly_areas / poly_rles on fuzzed polygons (3-8 points, 1-3 polygons a group); a clean
    call's accepted groups have pycocotools' area, box and RLE string."""
    from pycocotools import mask as pyco

    h, w = p.small(12) + 1, p.small(12) + 1
    polys = [[_coordinate(p, (w, h)[k % 2]) for k in range(2 * (3 + p.small(5)))] for _ in range(1 + p.small(3))]
    cut = sorted({p.small(len(polys)) + 1, len(polys)})
    xy = np.array([v for poly in polys for v in poly])
    ends = np.cumsum([len(poly) // 2 for poly in polys]).astype(np.int64)
    groups = np.array(cut, np.int64)
    areas, boxes = buffer(p, "i8", len(groups)), buffer(p, "f8", 4 * len(groups))
    args = (buffer(p, "f8", xy.size, xy), buffer(p, "i8", ends.size, ends), buffer(p, "i8", groups.size, groups))
    kernel = p.choice((_kernels.poly_areas, _kernels.poly_rles))
    got = call(kernel, *args, size(p, h), size(p, w), areas, boxes)
    if got is None or not getattr(p, "clean", False):
        return
    start = 0
    for g, end in enumerate(cut):
        area = int(np.frombuffer(areas, np.int64)[g])
        if area >= 0:
            rle = pyco.merge(pyco.frPyObjects(polys[start:end], h, w))
            assert area == int(pyco.area(rle)), (polys[start:end], h, w)
            assert np.frombuffer(boxes, np.float64)[4 * g : 4 * g + 4].tolist() == pyco.toBbox(rle).tolist()
            if kernel is _kernels.poly_rles:
                assert got[1][g] == rle["counts"].decode(), (polys[start:end], h, w)
        start = end


def _number(p: Provider) -> str:
    """A CVAT coordinate: plain most of the time (digits, an optional fraction, a sign), else
    one the kernel hands back to Python (exponent, lone dot, -0, space, leading zeros...)."""
    if p.below(32):
        whole, frac = str(p.below(2000)), p.choice(("", "", ".5", ".25", "." + str(p.below(10**6))))
        return ("-" if p.below(4) == 0 and (whole, frac) != ("0", "") else "") + whole + frac
    return p.choice(("-0", "1e3", "7.", ".5", "00", "x", "", " 2", "1_0", "nan", "+1", "9" * 400))


def parse_points(p: Provider) -> None:
    """CVAT points text, plain or not; a text read (n >= 0) gives float()'s doubles."""
    shapes = []
    for _ in range(1 + p.small(3)):
        nums = [_number(p) for _ in range(6)]
        shapes.append(";".join(f"{nums[i]},{nums[i + 1]}" for i in range(0, 6, 2)))
    text = "|".join(shapes).encode()
    if not getattr(p, "clean", False) and p.flag():
        text = mutate_bytes(p, text)
    xy = buffer(p, "f8", len(text) // 2 + 1)
    n = call(
        _kernels.parse_points,
        buffer(p, "u1", len(text), np.frombuffer(text, np.uint8)),
        xy,
        buffer(p, "i8", len(shapes)),
        buffer(p, "f8", 4 * len(shapes)),
    )
    if isinstance(n, int) and n >= 0 and getattr(p, "clean", False):
        want = [float(v) for part in text.decode().split("|") for pt in part.split(";") for v in pt.split(",")]
        assert np.frombuffer(xy, np.float64)[:n].tolist() == want, text


def scan_results(p: Provider) -> None:
    """A COCO results list's bytes, plain or mutated: the scan reads or stops, never crashes."""
    rec = '{"image_id": %d, "category_id": %d, "score": %s, "segmentation": {"size": [4, 4], "counts": "%s"}}'
    items = [
        rec % (p.small(5), p.small(3), p.choice(("0.5", "1", "1e-3", "-0.0")), p.choice(("04", "0`0", "\\")))
        for _ in range(p.small(4))
    ]
    text = ("[" + ", ".join(items) + "]").encode()
    if p.flag():
        text = mutate_bytes(p, text)
    data = buffer(p, "u1", len(text), np.frombuffer(text, np.uint8))
    call(_kernels.scan_results, data, size(p, 1), p.flag(), p.flag(), size(p, 8))


_CVAT_NAMES = (b"cat", b"d\xc3\xb6g", b"dog")  # sorted, as segtool.formats.cvat_fast passes them


def cvat_polygons(p: Provider) -> None:
    """A CVAT <image> element's bytes, plain or mutated: read (n >= 0: the polygons' labels
    and float()'s doubles, as expat would read them) or left (-1), never a crash."""
    parts = [b'<image id="0" name="a.jpg">']
    for _ in range(1 + p.small(3)):
        nums = [_number(p).encode() for _ in range(6)]
        pts = b";".join(nums[i] + b"," + nums[i + 1] for i in range(0, 6, 2))
        label = p.choice((*_CVAT_NAMES, b"c&amp;t", b"cow"))
        z = p.choice((b"", b' z_order="1"', b' z_order="64"', b' group_id="2"'))
        parts.append(b'\n<polygon label="%s" points="%s"%s%s' % (label, pts, z, p.choice((b"/>", b"></polygon>"))))
    data = b"".join(parts)
    if not getattr(p, "clean", False) and p.flag():
        data = mutate_bytes(p, data)
    most = len(data) // 24 + 1
    labels, xy = buffer(p, "i8", most), buffer(p, "f8", len(data) // 2 + 1)
    names = np.frombuffer(b"".join(_CVAT_NAMES), np.uint8)
    starts = np.cumsum([0, *map(len, _CVAT_NAMES)], dtype=np.int64)
    n = call(
        _kernels.cvat_polygons,
        buffer(p, "u1", len(data), np.frombuffer(data, np.uint8)),
        buffer(p, "u1", names.size, names),
        buffer(p, "i8", starts.size, starts),
        labels,
        xy,
        buffer(p, "i8", most),
        buffer(p, "f8", 4 * most),
    )
    if isinstance(n, int) and n >= 0 and getattr(p, "clean", False):
        found = re.findall(rb'label="([^"]*)" points="([^"]*)"', data)
        assert len(found) == n, data
        assert [_CVAT_NAMES[k] for k in np.frombuffer(labels, np.int64)[:n]] == [f[0] for f in found], data
        want = [float(v) for f in found for pt in f[1].split(b";") for v in pt.split(b",")]
        assert np.frombuffer(xy, np.float64)[: len(want)].tolist() == want, data


def scan_annotations(p: Provider) -> None:
    """A COCO instance file's annotations list, plain or mutated: the scan reads or stops, never crashes."""
    rec = '{"id": %d, "image_id": %d, "category_id": %d, "bbox": [0, %s, 2, 3], "iscrowd": %d, "segmentation": %s}'
    segm = ('{"size": [4, 4], "counts": "04"}', '{"size": [4, 4], "counts": "\\\\"}', "[[1, 2, 3, 4, 5, 6]]", "null")
    items = [
        rec % (p.small(9), p.small(5), p.small(3), p.choice(("0.5", "1", "1e-3")), p.small(2), p.choice(segm))
        for _ in range(p.small(4))
    ]
    text = ("[" + ", ".join(items) + "]").encode()
    if p.flag():
        text = mutate_bytes(p, text)
    data = buffer(p, "u1", len(text), np.frombuffer(text, np.uint8))
    call(_kernels.scan_annotations, data, size(p, 1), p.flag(), p.flag(), size(p, 8))


def scan_panoptic(p: Provider) -> None:
    """A COCO panoptic annotations list, plain or mutated: the scan reads or stops, never
    crashes; a clean, unmutated list's records read as ``json.loads`` reads them."""
    rec = '{"image_id": %s, "file_name": %s, "segments_info": [%s]%s}'
    segment = '{"id": %d, "category_id": %d, "area": %s, "bbox": [0, 1, 2, 3], "iscrowd": %d}'
    names = ('"a.png"', '""', '"a\\\\b.png"', '"caf\u00e9.png"', "7")
    extra = ("", ', "x": null', ', "x": [[{"y": "\\n"}]], "x": -0.0', ', "x": 1e999', ', "image_id": 1')
    odd = p.flag()  # else every record plain: ids, names and extras from the plain choices only
    items = []
    for _ in range(p.small(4)):
        segs = ", ".join(
            segment % (p.small(9), p.small(3), p.choice(("4", "0.5", "-0")), p.small(2)) for _ in range(p.small(3))
        )
        iid = p.choice(("1", "-0", "123456789012345", "1234567890123456", "1.0", '"1"')[: 6 if odd else 3])
        items.append(rec % (iid, p.choice(names[: 5 if odd else 2]), segs, p.choice(extra[: 5 if odd else 3])))
    text = ("[" + ", ".join(items) + "]").encode()
    mutated = p.flag()
    if mutated:
        text = mutate_bytes(p, text)
    data = buffer(p, "u1", len(text), np.frombuffer(text, np.uint8))
    got = call(_kernels.scan_panoptic, data, size(p, 1), p.flag(), p.flag(), size(p, 8))
    if getattr(p, "clean", False) and not mutated and isinstance(got, tuple):
        records = json.loads(text)
        ints = struct.unpack(f"={4 * got[2]}q", got[3])
        for k, name in enumerate(got[4]):
            iid, count, end, start = ints[4 * k : 4 * k + 4]
            assert json.loads(text[start:end]) == records[k], text
            assert (iid, count, name) == (
                records[k]["image_id"],
                len(records[k]["segments_info"]),
                records[k]["file_name"],
            )


def coco_image(p: Provider) -> None:
    """One image's fused mask AP: fuzzed RLE strings joined by newlines (now and then one
    line too many or too few), categories of a few values, scores finite or not, area
    ranges and thresholds of any order."""
    h, w, _ = p.choice(rle_strings())
    ng, nd, na, nt = p.small(4), p.small(6), p.small(4), p.small(4)

    def text(n: int) -> str:
        lines = [bytes(s, "latin-1") if isinstance(s, str) else bytes(s) for s in rle_list(p, n, h, w)]
        if not getattr(p, "clean", False) and p.below(8) == 0:
            lines = lines[1:] if p.flag() else [*lines, b"4"]
        return b"\n".join(lines).decode("latin-1")

    score = _fill(p, "u1", nd) / 255.0
    if not getattr(p, "clean", False) and nd and p.below(8) == 0:
        score[0] = np.nan
    bounds = np.concatenate([_fill(p, "u1", na) * 1.0, _fill(p, "u1", na) * 4.0])
    call(
        _kernels.coco_image,
        text(ng),
        text(nd),
        size(p, h),
        size(p, w),
        buffer(p, "i8", ng, _fill(p, "u1", ng) % 3),
        buffer(p, "i8", ng, np.arange(1, ng + 1, dtype=np.int64)),
        buffer(p, "u1", ng, _fill(p, "u1", ng) % 2),
        buffer(p, "f8", ng, _fill(p, "u1", ng) * 1.0),
        buffer(p, "i8", nd, _fill(p, "u1", nd) % 3),
        buffer(p, "f8", nd, score),
        buffer(p, "f8", 2 * na, bounds),
        buffer(p, "f8", nt, np.linspace(0.5, 0.95, nt)),
        size(p, p.small(4)),
        buffer(p, "i8", nd),
        buffer(p, "i8", nd),
        buffer(p, "u1", nd * 2 * na * nt),
        buffer(p, "i8", ng * na),
    )


ENTRY_POINTS = (unfilter, pair_counts, pack_rgb, joint_hist8, rle_kernels, coco_match, coco_accumulate)
ENTRY_POINTS += (poly_kernels, parse_points, scan_results, coco_bootstrap, cvat_polygons, scan_annotations)
ENTRY_POINTS += (coco_image, scan_panoptic)


def target(data: bytes) -> None:
    p = KernelProvider(data)
    entry = p.choice(ENTRY_POINTS)
    p.clean = p.flag()
    entry(p)


def corpus() -> list[bytes]:
    return [bytes([i]) for i in range(len(ENTRY_POINTS))]
