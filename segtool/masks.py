"""Pixel arithmetic: RGB⇄id, dense index maps, area/bbox by bincount, RLE and polygon I/O.

Everything here is whole-array numpy; nothing loops over pixels in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

RLE = dict[str, Any]


def rgb2id(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
    """``(H, W, 3)`` uint8 → ``(H, W)`` int32 ids, id = R + 256·G + 256²·B (COCO panoptic)."""
    h, w = rgb.shape[:2]
    padded = np.zeros((h, w, 4), dtype=np.uint8)
    padded[..., :3] = rgb
    return padded.view("<u4")[..., 0].astype(np.int32)


def id2rgb(ids: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.uint8]:
    """``(H, W)`` ids < 2**24 → ``(H, W, 3)`` uint8 RGB, the inverse of :func:`rgb2id`."""
    as_u4 = np.ascontiguousarray(ids, dtype="<u4")
    return np.ascontiguousarray(as_u4.view(np.uint8).reshape(*ids.shape, 4)[..., :3])


def index_by_ids(
    id_map: npt.NDArray[np.integer[Any]], ids: npt.NDArray[np.integer[Any]]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Map raw segment ids to a dense index map (``k`` = ``ids[k-1]``, 0 = raw id 0).

    Uses ``searchsorted`` over the sorted ids (O(HW log n)), not ``np.unique`` over the
    image. Returns the index map and the raw ids present in the image but absent from
    ``ids`` (excluding 0), so callers can report them.
    """
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    flat = id_map.ravel()
    pos = np.searchsorted(sorted_ids, flat)
    pos_clipped = np.minimum(pos, max(len(ids) - 1, 0))
    found = (sorted_ids[pos_clipped] == flat) if len(ids) else np.zeros(flat.shape, bool)
    lut = np.concatenate([[0], order + 1]).astype(np.int32)
    index = np.where(found, lut[pos_clipped + 1] if len(ids) else 0, 0).astype(np.int32)
    unknown = flat[~found & (flat != 0)]
    extra = np.unique(unknown) if unknown.size else np.empty(0, np.int64)
    return index.reshape(id_map.shape), extra.astype(np.int64)


def areas(index: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.int64]:
    """Pixel count of segments 1..n of an index map (length ``n``)."""
    return np.bincount(index.ravel(), minlength=n + 1)[1 : n + 1].astype(np.int64)


def _extent(index: npt.NDArray[np.int32], n: int, axis: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """First and last row (axis 0) or column (axis 1) holding each segment."""
    size = index.shape[axis]
    coord = np.arange(size, dtype=np.int64)
    coord = coord[:, None] if axis == 0 else coord[None, :]
    keys = index.astype(np.int64) * size + coord
    present = np.bincount(keys.ravel(), minlength=(n + 1) * size).reshape(n + 1, size)[1:] > 0
    first = np.argmax(present, axis=1)
    last = size - 1 - np.argmax(present[:, ::-1], axis=1)
    return first, last


def bboxes(index: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.float64]:
    """COCO ``[x, y, w, h]`` boxes of segments 1..n (w = xmax - xmin + 1; zeros if empty)."""
    if n == 0:
        return np.zeros((0, 4))
    y0, y1 = _extent(index, n, 0)
    x0, x1 = _extent(index, n, 1)
    box = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.float64)
    box[areas(index, n) == 0] = 0
    return box


def encode_index(index: npt.NDArray[np.int32], n: int) -> list[RLE]:
    """Compressed RLEs (counts as ``str``) of segments 1..n of an index map, in one call.

    pycocotools wants a Fortran-ordered ``(H, W, n)`` stack; building it as a C-ordered
    ``(n, W, H)`` array and transposing gives exactly that layout without a copy.
    """
    if n == 0:
        return []
    t = index.T
    stack = np.empty((n, *t.shape), dtype=np.uint8)
    for k in range(n):  # one whole-array comparison per segment
        np.equal(t, k + 1, out=stack[k].view(bool))
    rles = mask_utils.encode(stack.transpose(2, 1, 0))
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return list(rles)


def to_pyco(rle: RLE) -> RLE:
    """A compressed RLE with ``bytes`` counts, as pycocotools' C functions want it."""
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def decode(rles: list[RLE] | tuple[RLE, ...], height: int, width: int) -> npt.NDArray[np.uint8]:
    """``(H, W, n)`` uint8 masks (Fortran order) of compressed RLEs."""
    if not rles:
        return np.zeros((height, width, 0), dtype=np.uint8, order="F")
    return mask_utils.decode([to_pyco(r) for r in rles])


def rle_area(rles: list[RLE] | tuple[RLE, ...]) -> npt.NDArray[np.int64]:
    """Pixel counts of compressed RLEs."""
    if not rles:
        return np.zeros(0, np.int64)
    return np.asarray(mask_utils.area([to_pyco(r) for r in rles]), dtype=np.int64)


def rle_bbox(rles: list[RLE] | tuple[RLE, ...]) -> npt.NDArray[np.float64]:
    """COCO boxes of compressed RLEs, ``(n, 4)``."""
    if not rles:
        return np.zeros((0, 4))
    return np.asarray(mask_utils.toBbox([to_pyco(r) for r in rles]), dtype=np.float64).reshape(-1, 4)


def to_compressed(segm: Any, height: int, width: int) -> RLE:
    """Polygons, uncompressed RLE or compressed RLE → one compressed RLE (str counts).

    Raises ``ValueError`` with a reason on malformed input; callers add file and ids.
    """
    if isinstance(segm, list):
        polys = [p for p in segm if isinstance(p, list)]
        if len(polys) != len(segm):
            raise ValueError("polygon segmentation must be a list of coordinate lists")
        if not polys:
            return encode_empty(height, width)
        for p in polys:
            if len(p) < 6 or len(p) % 2:
                raise ValueError(f"polygon with {len(p)} coordinates (needs an even number, at least 6)")
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(segm, dict) and "counts" in segm and "size" in segm:
        size = [int(v) for v in segm["size"]]
        if size != [height, width]:
            raise ValueError(f"RLE size {size} differs from the image size [{height}, {width}]")
        if isinstance(segm["counts"], list):
            if sum(segm["counts"]) != height * width:
                raise ValueError(f"uncompressed RLE counts sum to {sum(segm['counts'])}, not {height * width}")
            rle = mask_utils.frPyObjects(segm, height, width)
        else:
            rle = to_pyco(segm)
            try:
                total = int(mask_utils.area(rle))
            except Exception as exc:  # pycocotools raises bare errors on garbage counts
                raise ValueError(f"undecodable compressed RLE ({exc})") from None
            if total > height * width:
                raise ValueError("compressed RLE covers more pixels than the image")
    else:
        raise ValueError("segmentation is neither polygons nor an RLE")
    counts = rle["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def encode_empty(height: int, width: int) -> RLE:
    """The RLE of an empty mask."""
    return {"size": [height, width], "counts": mask_utils.encode(np.zeros((height, width, 1), np.uint8, order="F"))[0]["counts"].decode("ascii")}


def polygons(mask: npt.NDArray[np.uint8]) -> list[list[float]] | None:
    """COCO polygons that pycocotools rasterises back to exactly ``mask``, or ``None``.

    pycocotools treats pixel ``i`` as the interval ``[i, i + 1)``, so a polygon must run
    along pixel *corners*. OpenCV traces pixel centres; tracing the mask upsampled 2× and
    mapping each vertex ``v`` to ``ceil(v / 2)`` puts every vertex on the right corner
    (left/top edges land on even ``v``, right/bottom edges on odd ``v``).
    ``None`` when the mask has a hole: COCO polygons are a union, they cannot subtract.
    """
    import cv2

    up = np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or np.any(hierarchy[0][:, 3] >= 0):  # a contour with a parent is a hole
        return None
    out = []
    for c in contours:
        pts = (c.reshape(-1, 2) + 1) // 2
        pts = pts[np.any(pts != np.roll(pts, 1, axis=0), axis=1)]
        if len(pts) < 3:
            return None
        out.append(pts.ravel().astype(float).tolist())
    return out
