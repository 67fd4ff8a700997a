"""Target ``rle``: segtool.masks' RLE functions on fuzzed COCO RLEs, and their agreement with
pycocotools wherever segtool's guard lets an RLE through.

Checks: ``to_compressed`` (compressed strings, uncompressed count lists),
``guarded_areas`` / ``check_compressed`` / ``bad_compressed`` and the guarded pycocotools
calls ``decode`` / ``iou`` / ``rle_boxes`` return or raise ValueError (SegtoolError
allowed); the guard is consistent with itself; and for every RLE the guard accepts (and
only then: pycocotools loops forever or writes out of bounds on others), its area equals
pycocotools' ``area`` and the pixel count of pycocotools' ``decode``, the IoU of two
accepted RLEs (``segtool._kernels.rle_iou``, what mask AP uses, and ``masks.iou``) equals
pycocotools' ``iou`` exactly, crowd or not, and ``masks.rle_boxes`` its ``toBbox``.

Inputs: an image size (a seed's, a small one, or an edge value) and a handful of RLEs, each
a seed string mutated, a string written from fuzzed counts (pycocotools' own encoding,
so zero-length runs, huge counts and sums off by one get through the alphabet), raw
bytes, an uncompressed count list, or polygons.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from segtool import _kernels, limits, masks

from .contract import call
from .provider import Provider, mutate_bytes
from .seeds import rle_strings

COORDS = (0.0, 1.0, 2.5, -1.0, 3.0, 1e8, -1e9, 2.0**31, 1e300, float("nan"), float("inf"), 7)


def rle_to_string(counts: list[int]) -> str:
    """pycocotools' ``rleToString``, from its definition: from the third count on, each is
    stored minus the count two before; 5-bit groups, 0x20 = more follows, plus 48."""
    out = []
    for i, cnt in enumerate(counts):
        x = cnt - counts[i - 2] if i > 2 else cnt
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(48 + (c | (0x20 if more else 0))))
    return "".join(out)


def fuzzed_counts(p: Provider, total: int) -> list[int]:
    """Run lengths that add up to ``total`` (cut points from the input, zero runs allowed),
    sometimes nudged so they do not."""
    cuts = sorted(p.below(total + 1) if total < 65536 else p.integer() % (total + 1) for _ in range(p.small(8)))
    edges = [0, *cuts, total]
    counts = [b - a for a, b in pairwise(edges)]
    if p.below(6) == 0:
        i = p.below(len(counts))
        counts[i] += p.choice((1, -1, total, -total, 2**32, -(2**31)))
    return counts


EDGE_SIDES = (1, 2, 3, 255, 256, 65535, 65536, 2**20, 2**22)


def image_size(p: Provider) -> tuple[int, int]:
    """An image size as a reader hands it on: positive, at most ``limits.pixels`` pixels
    (fuzz runs lower that limit to 4 MP, see contract.fuzz_limits): a seed's, a small one,
    or a long thin one."""
    kind = p.below(4)
    if kind < 2:
        h, w, _ = p.choice(rle_strings())
        return h, w
    if kind == 2:
        return 1 + p.small(8), 1 + p.small(8)
    most = limits.current().pixels
    h = min(p.choice(EDGE_SIDES), most)
    return h, max(1, min(p.choice(EDGE_SIDES), most // h))


def one_rle(p: Provider, h: int, w: int) -> Any:
    """One segmentation value, as a COCO file could hold it."""
    total = h * w
    kind = p.below(5)
    size: Any = [h, w] if p.below(8) else [p.integer(), w]
    if kind == 0:
        return {"size": size, "counts": rle_to_string(fuzzed_counts(p, total))}
    if kind == 1:
        _, _, seed = p.choice(rle_strings())
        return {"size": size, "counts": mutate_bytes(p, seed.encode()).decode("latin-1")}
    if kind == 2:  # characters of the RLE alphabet, any order
        return {"size": size, "counts": "".join(chr(48 + p.below(64)) for _ in range(p.small(12)))}
    if kind == 3:
        return {"size": size, "counts": p.take(p.small(12))}
    return {"size": size, "counts": fuzzed_counts(p, total)}


def target(data: bytes) -> None:
    p = Provider(data)
    h, w = image_size(p)
    segms = [one_rle(p, h, w) for _ in range(1 + p.small(4))]
    rles = [r for r in (call(masks.to_compressed, s, h, w) for s in segms) if r is not None]
    for r in rles:
        assert r["size"] == [h, w] and isinstance(r["counts"], str), f"to_compressed gave {r!r:.80}"
    if not rles:
        return
    result = call(masks.guarded_areas, rles)
    bad_first = call(masks.check_compressed, rles)
    bad_mask = call(masks.bad_compressed, rles)
    if result is None:
        return
    first, areas = result
    assert first == bad_first and np.array_equal(bad_mask, areas < 0), "the guard's three views disagree"
    ok = [r for r, a in zip(rles, areas, strict=True) if a >= 0]
    for r, a in zip(rles, areas, strict=True):
        if a >= 0:
            _agrees_with_pycocotools(r, int(a))
    if len(ok) >= 2:
        _iou_agrees(ok[0], ok[1], p.flag())
    _guarded_wrappers(p, rles, ok, h, w)


def _guarded_wrappers(p: Provider, rles: list[dict[str, Any]], ok: list[dict[str, Any]], h: int, w: int) -> None:
    """masks' guarded pycocotools calls on every RLE (a bad one must be a ValueError, not a
    hang or a write out of bounds), and on the accepted ones the same numbers as pycocotools."""
    crowd = [p.flag() for _ in rles]
    if h * w <= 1_000_000:
        call(masks.decode, rles, h, w)
    call(masks.iou, rles, rles, crowd)
    call(masks.rle_boxes, rles)
    same = [r for r in ok if r["size"] == [h, w]]
    if not same:
        return
    pyco = [masks.to_pyco(r) for r in same]
    flags = crowd[: len(same)]
    ours, ref = masks.iou(same, same, flags), mask_utils.iou(pyco, pyco, [int(c) for c in flags])
    assert np.array_equal(ours, np.asarray(ref).reshape(ours.shape)), "masks.iou differs from pycocotools' iou"
    boxes = np.asarray(mask_utils.toBbox(pyco)).reshape(-1, 4)
    assert np.array_equal(masks.rle_boxes(same), boxes), "masks.rle_boxes differs from pycocotools' toBbox"


def _agrees_with_pycocotools(rle: dict[str, Any], area: int) -> None:
    pyco = masks.to_pyco(rle)
    assert int(mask_utils.area(pyco)) == area, "guarded area differs from pycocotools' area"
    assert int(masks.rle_areas([pyco])[0]) == area
    h, w = rle["size"]
    if h * w <= 1_000_000:
        m = mask_utils.decode(pyco)
        assert m.shape == (h, w) and int(m.sum()) == area, "pycocotools' decode of a guarded RLE differs in area"


def _iou_agrees(a: dict[str, Any], b: dict[str, Any], crowd: bool) -> None:
    """segtool's mask IoU kernel against pycocotools' ``iou`` for two guard-passing RLEs."""
    h, w = b["size"]
    if a["size"] != b["size"]:
        return
    out = np.empty(1)
    one = np.ones(1, np.int64)
    _kernels.rle_iou([a["counts"]], [b["counts"]], h, w, one, one, np.array([crowd], np.uint8), out)
    ref = np.asarray(mask_utils.iou([masks.to_pyco(a)], [masks.to_pyco(b)], [int(crowd)])).reshape(-1)
    assert out[0] == ref[0], f"IoU {out[0]!r} differs from pycocotools' {ref[0]!r} (crowd={crowd})"


def corpus() -> list[bytes]:
    return [bytes([i, k]) for i in range(len(rle_strings())) for k in range(4)]


def _coord(p: Provider, side: int) -> float:
    """One polygon coordinate: inside the image, near or past its edges (where segtool's
    guard draws its line), or an edge value (huge, NaN, infinite)."""
    kind = p.below(8)
    if kind < 4:
        return float(p.small(9))
    if kind < 7:
        return p.choice((-1, 0, 1, 2, 3, -2)) * side + p.choice((0.0, 0.5, -0.5, 1.0, -1.0, 0.25))
    return p.choice(COORDS)


def polygon_target(data: bytes) -> None:
    """Target ``polygon``: ``masks.to_compressed`` of fuzzed polygons (coordinates small,
    at and past the image's edges, huge, NaN, infinite; odd counts; images of any size
    within the pixel limit), then the guard and pycocotools' area of the result."""
    p = Provider(data)
    h, w = image_size(p)
    polys = []
    for _ in range(1 + p.below(3)):
        n = p.choice((0, 2, 4, 5, 7)) if p.below(8) == 7 else 2 * (3 + p.small(20))
        xy = [(_coord(p, w), _coord(p, h)) for _ in range(n // 2)]
        polys.append([v for pt in xy for v in pt] + ([1.0] if n % 2 else []))
    rle = call(masks.to_compressed, polys, h, w)
    if rle is not None:
        result = call(masks.guarded_areas, [rle])
        assert result is not None and result[0] is None, "a polygon's own RLE fails the guard"
        _agrees_with_pycocotools(rle, int(result[1][0]))


def polygon_corpus() -> list[bytes]:
    return [b"", b"\x01\x02\x00\x03"]
