"""Seed inputs, generated in code (no stored corpus): small valid PNGs of every colour type,
COCO RLE strings, and small COCO panoptic / instance / results / semantic files.

Everything is built with Pillow, pycocotools, zlib and the json module, never with
segtool's writers, so a seed is what other tools write. Deterministic: fixed RNG seeds.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from functools import cache
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(tag: bytes, body: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _pillow_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered_png(pixels: np.ndarray, color: int) -> bytes:
    """An 8-bit PNG whose row ``y`` uses filter ``y % 5`` (all five kinds), from the PNG
    specification per byte: Pillow picks filters itself, and the C unfilter must see each."""
    h, w = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = pixels.reshape(h, w * bpp).astype(int)
    raw, up = bytearray(), [0] * (w * bpp)
    for y in range(h):
        kind, row = y % 5, rows[y].tolist()
        raw.append(kind)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            c = up[i - bpp] if i >= bpp else 0
            raw.append((x - [0, a, up[i], (a + up[i]) // 2, _paeth(a, up[i], c)][kind]) % 256)
        up = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


@cache
def pngs() -> tuple[bytes, ...]:
    """Valid PNGs: Pillow-written of each mode (1, L, P, RGB, RGBA, LA, I;16), and
    hand-filtered 8-bit ones of each colour type with every row filter."""
    r = _rng(17)
    out = []
    for h, w in ((5, 7), (1, 1), (3, 16)):
        gray = r.integers(0, 256, (h, w), dtype=np.uint8)
        rgb = r.integers(0, 4, (h, w, 3), dtype=np.uint8) * 60
        out += [
            _pillow_png(Image.fromarray(gray, "L")),
            _pillow_png(Image.fromarray(rgb, "RGB")),
        ]
    gray = r.integers(0, 256, (6, 9), dtype=np.uint8)
    pal = Image.fromarray(gray % 4, "L").convert("P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    out += [
        _pillow_png(pal),
        _pillow_png(Image.fromarray(r.integers(0, 256, (4, 5, 4), dtype=np.uint8), "RGBA")),
        _pillow_png(Image.fromarray(gray, "L").convert("LA")),
        _pillow_png(Image.fromarray(gray > 127)),
        _pillow_png(Image.fromarray(r.integers(0, 65535, (4, 6), dtype=np.uint16))),
    ]
    for color, shape in ((0, (7, 6)), (2, (6, 5, 3)), (3, (5, 4)), (4, (6, 3, 2)), (6, (5, 6, 4))):
        out.append(filtered_png(r.integers(0, 256, shape, dtype=np.uint8), color))
    return tuple(out)


@cache
def rle_strings() -> tuple[tuple[int, int, str], ...]:
    """(height, width, counts) of pycocotools-encoded masks: empty, full, random, one pixel."""
    r = _rng(5)
    out = []
    for h, w, kind in ((4, 5, "random"), (6, 3, "empty"), (3, 3, "full"), (5, 4, "one"), (40, 60, "random")):
        m = np.zeros((h, w), np.uint8)
        if kind == "random":
            m = (r.random((h, w)) < 0.4).astype(np.uint8)
        elif kind == "full":
            m[:] = 1
        elif kind == "one":
            m[h // 2, w // 2] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        out.append((h, w, rle["counts"].decode("ascii")))
    return tuple(out)


CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60], "supercategory": "person"},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142], "supercategory": "vehicle"},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128], "supercategory": "ground"},
]


def _images(n: int, h: int, w: int) -> list[dict[str, Any]]:
    return [{"id": i, "file_name": f"img{i}.jpg", "height": h, "width": w} for i in range(1, n + 1)]


@cache
def panoptic_ids() -> tuple[np.ndarray, ...]:
    """Two 4x5 panoptic id maps (ids 1, 2, 3 and 0 = void)."""
    a = np.array([[1, 1, 2, 2, 0], [1, 1, 2, 2, 0], [3, 3, 3, 3, 3], [3, 3, 3, 3, 3]], np.uint32)
    b = np.array([[1, 1, 1, 2, 2], [1, 1, 0, 2, 2], [3, 3, 3, 3, 3], [0, 3, 3, 3, 3]], np.uint32)
    return a, b


def panoptic_png(ids: np.ndarray) -> bytes:
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    return _pillow_png(Image.fromarray(rgb, "RGB"))


def panoptic_json() -> dict[str, Any]:
    """A COCO panoptic dataset over :func:`panoptic_ids` (areas and boxes counted here)."""
    anns = []
    for i, ids in enumerate(panoptic_ids(), start=1):
        segs = []
        for sid, cat in ((1, 1), (2, 2), (3, 100)):
            ys, xs = np.nonzero(ids == sid)
            box = [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
            seg = {"id": sid, "category_id": cat, "iscrowd": 0, "area": len(ys), "bbox": box, "score": 0.5}
            segs.append(seg)  # a score: the file also serves as a panoptic prediction for mask AP
        anns.append({"image_id": i, "file_name": f"img{i}.png", "segments_info": segs})
    return {"images": _images(2, 4, 5), "annotations": anns, "categories": CATEGORIES}


def instance_json() -> dict[str, Any]:
    """A COCO instance dataset: a polygon, an uncompressed RLE (crowd) and a compressed RLE;
    with scores, so it also serves as a results file."""
    m = np.zeros((4, 5), np.uint8, order="F")
    m[1:3, 1:4] = 1
    compressed = mask_utils.encode(m)["counts"].decode("ascii")
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0.0, 0.0, 3.0, 0.0, 3.0, 2.0, 0.0, 2.0]],
         "area": 6.0, "bbox": [0.0, 0.0, 3.0, 2.0], "iscrowd": 0, "score": 0.7},
        {"id": 2, "image_id": 1, "category_id": 2, "segmentation": {"size": [4, 5], "counts": [3, 4, 13]},
         "area": 4.0, "bbox": [0.0, 3.0, 2.0, 2.0], "iscrowd": 1, "score": 0.6},
        {"id": 3, "image_id": 2, "category_id": 1, "segmentation": {"size": [4, 5], "counts": compressed},
         "area": 6.0, "bbox": [1.0, 1.0, 3.0, 2.0], "iscrowd": 0, "score": 0.9},
    ]  # fmt: skip
    return {"images": _images(2, 4, 5), "annotations": anns, "categories": CATEGORIES}


def results_json() -> list[dict[str, Any]]:
    """A COCO results list for :func:`instance_json`: RLE and polygon detections with scores."""
    m = np.zeros((4, 5), np.uint8, order="F")
    m[1:3, 1:3] = 1
    compressed = mask_utils.encode(m)["counts"].decode("ascii")
    return [
        {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {"size": [4, 5], "counts": compressed}},
        {"image_id": 2, "category_id": 1, "score": 0.8, "segmentation": [[1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]]},
        {"image_id": 1, "category_id": 2, "score": 0.3, "bbox": [0.0, 2.0, 2.0, 2.0]},
    ]


def semantic_categories() -> list[dict[str, Any]]:
    return [{"id": 1, "name": "road"}, {"id": 2, "name": "sky", "color": [70, 130, 180]}, {"id": 7, "name": "car"}]


@cache
def semantic_labels() -> tuple[bytes, ...]:
    """Two 4x5 label PNGs (L) with values 1, 2, 7 and 255 (ignore)."""
    a = np.array([[1, 1, 2, 2, 255], [1, 1, 2, 2, 7], [7, 7, 7, 7, 7], [1, 2, 7, 255, 255]], np.uint8)
    return _pillow_png(Image.fromarray(a, "L")), _pillow_png(Image.fromarray(a[::-1].copy(), "L"))


def json_bytes(data: Any) -> bytes:
    return json.dumps(data).encode()
