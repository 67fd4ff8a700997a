"""COCO masks through pycocotools, guarded: the one place a polygon or an RLE reaches it.

pycocotools' C code trusts its input. On a polygon with coordinates of 1e9 it allocates
memory in proportion to the edges' length (11.7 GB for a 250-byte JSON) or overflows an int;
on NaN it crashes; on RLE counts that do not add up to h·w its ``iou`` loops forever and its
``decode`` writes past its buffer; its counts are 32-bit, so an image of 2^31 pixels or more
wraps them. Every function here checks first, and raises ``ValueError`` with a reason
(callers add the file and ids), so nothing reaches pycocotools that it cannot take:

- the image: two positive integers, h·w within the ``pixels`` limit (:mod:`segtool.limits`)
  and below 2^31 (:func:`check_size`);
- polygons: :func:`segtool.cocopoly.polygon_problem` (finite numbers near the image, edges of
  bounded length), in :mod:`segtool.cocopoly`, which draws them;
- compressed RLEs: decoded strictly by ``segtool._kernels`` first (:func:`guarded_areas`);
- uncompressed RLEs: non-negative integers adding up to h·w.

``segtool.masks`` re-exports these names (and cocopoly's); callers use them from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeGuard, cast

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from . import kernels as _kernels
from . import limits

if TYPE_CHECKING:
    # numpy's stubs make an ndarray a Buffer only for Python >= 3.12: the casts to it below
    # say what the kernels get (a C-contiguous array of the element type they check).
    from typing_extensions import Buffer

RLE = dict[str, Any]

# pycocotools keeps counts and pixel offsets in 32 bits (uint counts, int x*h + y while
# rasterising a polygon): an image must have fewer than 2^31 pixels.
PYCOCO_MAX_PIXELS = 2**31 - 1


class MalformedRLE(ValueError):
    """An RLE whose size or counts have the wrong type: it cannot be decoded at all."""


def _pixel_limit() -> int:
    """The ``pixels`` limit (checked per annotation: one cached look-up)."""
    return limits.get("pixels")


def _is_int(v: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def check_size(height: Any, width: Any) -> None:
    """Raise ``ValueError`` unless an image of ``height`` x ``width`` may reach pycocotools:
    positive integers, within the ``pixels`` limit, fewer than 2^31 pixels."""
    plain = type(height) is int and type(width) is int  # the usual case, without isinstance
    if not (plain or (_is_int(height) and _is_int(width))) or height < 1 or width < 1:
        raise ValueError(f"image size {width!r:.20}x{height!r:.20} is not two positive integers")
    pixels = int(height) * int(width)
    if pixels > _pixel_limit():
        try:
            limits.check("pixels", pixels, f"a {width}x{height} image")
        except limits.LimitError as exc:
            raise ValueError(exc.message) from None
    if pixels > PYCOCO_MAX_PIXELS:
        raise ValueError(f"a {width}x{height} image: pycocotools counts pixels in 32 bits, 2^31 - 1 at most")


def size_ok(height: Any, width: Any) -> bool:
    try:
        check_size(height, width)
    except ValueError:
        return False
    return True


def to_pyco(rle: RLE) -> RLE:
    """A compressed RLE with ``bytes`` counts, as pycocotools' C functions want it."""
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def _one_size(rles: list[RLE] | tuple[RLE, ...], height: int, width: int) -> None:
    """Every RLE is of the image's size and decodable (else ``ValueError``)."""
    check_size(height, width)
    if any(list(r["size"]) != [height, width] for r in rles):
        raise ValueError(f"an RLE's size differs from the image size [{height}, {width}]")
    bad = check_compressed(list(rles))
    if bad is not None:
        raise ValueError(f"RLE #{bad} cannot be decoded")


def decode(rles: list[RLE] | tuple[RLE, ...], height: int, width: int) -> npt.NDArray[np.uint8]:
    """``(H, W, n)`` uint8 masks (Fortran order) of compressed RLEs."""
    _one_size(rles, height, width)
    if not rles:
        return np.zeros((height, width, 0), dtype=np.uint8, order="F")
    decoded: npt.NDArray[np.uint8] = mask_utils.decode([to_pyco(r) for r in rles])
    return decoded


def iou(dt: list[RLE], gt: list[RLE], crowd: Any) -> npt.NDArray[np.float64]:
    """pycocotools' ``iou(dt, gt, iscrowd)`` of compressed RLEs of one image, ``(D, G)``:
    computed by ``segtool._kernels.rle_iou``, the same doubles bit for bit (tested)."""
    if not dt or not gt:
        return np.zeros((len(dt), len(gt)))
    h, w = gt[0]["size"]
    _one_size([*dt, *gt], h, w)
    out = np.empty((len(dt), len(gt)))
    zeros_d, zeros_g = np.zeros(len(dt), np.int64), np.zeros(len(gt), np.int64)
    flags = np.ascontiguousarray(np.asarray(crowd, dtype=bool), dtype=np.uint8)
    dt_counts, gt_counts = [r["counts"] for r in dt], [r["counts"] for r in gt]
    _kernels.rle_iou(
        dt_counts,
        gt_counts,
        int(h),
        int(w),
        cast("Buffer", zeros_d),
        cast("Buffer", zeros_g),
        cast("Buffer", flags),
        cast("Buffer", out),
    )
    return out


def rle_boxes(rles: list[RLE]) -> npt.NDArray[np.float64]:
    """pycocotools' ``toBbox`` of compressed RLEs, ``(n, 4)``, after the decode check."""
    if not rles:
        return np.zeros((0, 4))
    bad = check_compressed(rles)
    if bad is not None:
        raise ValueError(f"RLE #{bad} cannot be decoded")
    return np.asarray(mask_utils.toBbox([to_pyco(r) for r in rles]), dtype=np.float64).reshape(-1, 4)


def to_compressed(segm: Any, height: int, width: int) -> RLE:
    """Polygons, uncompressed RLE or compressed RLE → one compressed RLE (str counts).

    Raises ``ValueError`` with a reason on malformed input; callers add file and ids. A
    compressed RLE is only checked for its size here: callers check its counts in batches
    (:func:`check_compressed`) before it goes anywhere else.
    """
    from .cocopoly import rasterize  # (cocopoly takes check_size from here)

    check_size(height, width)
    if type(segm) is dict and type(segm.get("counts")) is str and segm.get("size") == [height, width]:
        return {"size": [height, width], "counts": segm["counts"]}  # the common case, already compressed
    if isinstance(segm, list):
        if not all(isinstance(p, list) for p in segm):
            raise ValueError("polygon segmentation must be a list of coordinate lists")
        rle = rasterize(segm, height, width) if segm else encode_empty(height, width)
    elif isinstance(segm, dict) and "counts" in segm and "size" in segm:
        size, counts = segm["size"], segm["counts"]
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
            raise MalformedRLE(f"RLE size must be [height, width], got {size!r:.40}")
        if isinstance(counts, list):
            if not all(type(v) is int and v >= 0 for v in counts):
                raise MalformedRLE("uncompressed RLE counts must be non-negative integers")
        elif not isinstance(counts, str | bytes):
            raise MalformedRLE(f"RLE counts must be a string or a list of integers, got {type(counts).__name__}")
        if size != [height, width]:
            raise ValueError(f"RLE size {size} differs from the image size [{height}, {width}]")
        if isinstance(counts, list):
            if sum(counts) != height * width:  # so each count < 2^31: pycocotools' uint32 holds it
                raise ValueError(f"uncompressed RLE counts sum to {sum(counts)}, not {height * width}")
            rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        else:
            rle = to_pyco(segm)  # checked in batches by check_compressed
    else:
        raise ValueError("segmentation is neither polygons nor an RLE")
    counts = rle["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def rle_areas(rles: list[RLE]) -> npt.NDArray[np.int64]:
    """pycocotools' ``area`` of many compressed RLEs (``ValueError`` if one cannot be decoded)."""
    bad, areas = guarded_areas(rles)
    if bad is not None:
        raise ValueError(f"RLE #{bad} cannot be decoded")
    return areas


def check_compressed(rles: list[RLE]) -> int | None:
    """Index of the first RLE that cannot be decoded, or None (see :func:`guarded_areas`)."""
    return guarded_areas(rles)[0]


def bad_compressed(rles: list[RLE]) -> npt.NDArray[np.bool_]:
    """Which RLEs cannot be decoded (see :func:`guarded_areas`)."""
    return guarded_areas(rles)[1] < 0


def guarded_areas(rles: list[RLE]) -> tuple[int | None, npt.NDArray[np.int64]]:
    """The first RLE that cannot be decoded (or None), and every RLE's area (-1 for those).

    The guard before any pycocotools C function sees an RLE: its ``iou`` loops forever and
    its ``decode`` writes past its buffer when the counts do not add up to h·w. Decoded by
    ``segtool._kernels.rle_areas``, strictly: a character outside '0'..'o', a string that
    ends inside a value, a value pycocotools would read differently (see ``rle_decode`` in
    _kernels.c), a negative count, or counts that do not add up to h·w. An RLE whose size
    :func:`check_size` refuses is undecodable too. The areas equal pycocotools' ``area``.
    """
    areas = np.full(len(rles), -1, np.int64)
    for (h, w), idx in _by_size(rles).items():  # one image size: one call (the usual case: one image)
        if not size_ok(h, w):
            continue
        if len(idx) == len(rles):  # every RLE: written in place
            _kernels.rle_areas([r["counts"] for r in rles], int(h), int(w), cast("Buffer", areas))
            continue
        out = np.zeros(len(idx), np.int64)
        _kernels.rle_areas([rles[i]["counts"] for i in idx], int(h), int(w), cast("Buffer", out))
        areas[idx] = out
    if not len(areas) or areas.min() >= 0:
        return None, areas
    return int(np.flatnonzero(areas < 0)[0]), areas


def counts_areas(counts: list[str], height: int, width: int) -> tuple[int | None, npt.NDArray[np.int64]]:
    """:func:`guarded_areas` of RLEs of one size, ``height`` x ``width``, given by their
    counts strings (what a reader that knows the size holds: no dict, no size compared)."""
    areas = np.full(len(counts), -1, np.int64)
    if counts and size_ok(height, width):
        _kernels.rle_areas(counts, int(height), int(width), cast("Buffer", areas))
    if not len(areas) or areas.min() >= 0:
        return None, areas
    return int(np.flatnonzero(areas < 0)[0]), areas


def _by_size(rles: list[RLE]) -> dict[tuple[Any, Any], list[int]]:
    """RLE indices by their (height, width); (None, None) for a size that is not two integers.
    The RLEs of one image share one size: that is checked with one list comparison each
    (list.count: a C loop, that compares as ``==`` does)."""
    if not rles:
        return {}
    first = rles[0]["size"]
    sizes = [r["size"] for r in rles]
    if sizes.count(first) == len(sizes) and len(first) == 2 and _is_int(first[0]) and _is_int(first[1]):
        return {(int(first[0]), int(first[1])): list(range(len(rles)))}
    by_size: dict[tuple[Any, Any], list[int]] = {}
    for i, r in enumerate(rles):
        h, w = r["size"] if len(r["size"]) == 2 else (None, None)
        by_size.setdefault((int(h), int(w)) if _is_int(h) and _is_int(w) else (None, None), []).append(i)
    return by_size


def encode_empty(height: int, width: int) -> RLE:
    """The RLE of an empty mask (pycocotools' encoding: one count, h·w; never a pixel buffer)."""
    from .masks import compress_counts

    check_size(height, width)
    text, _ = compress_counts(np.array([height * width], np.int64), np.array([0, 1]))
    return {"size": [height, width], "counts": text}
