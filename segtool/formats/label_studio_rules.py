"""The rules of a Label Studio JSON export, written once for the reader
(:mod:`.label_studio`) and for ``validate`` (:mod:`.label_studio_checks`), each with its own
error policy (:mod:`segtool.policy`); and Label Studio's brush RLE.

**The brush RLE** (Label Studio's front end, thi.ng's rle-pack; decoded by
label-studio-converter's ``brush.decode_rle``): a list of bytes read as one bit stream, most
significant bit first: the number of values (32 bits), the word size minus one (5 bits),
four run-length field sizes, each minus one (4 bits each); then, until that many values are
read, a flag bit, a 2-bit index into the four sizes and a run length minus one of that many
bits: flag 1 is a run of one value (one word), flag 0 that many literal words. The values are
the RGBA bytes of the image, row by row; the mask is the alpha channel above 0 (the
converter's ``ls_rle_to_coco_rle``).

A task is ``{"id", "data": {...}, "annotations": [{"result": [...]}]}``; a region (a
result) of type ``polygonlabels`` has ``value.points`` in percent of ``original_width`` and
``original_height``, ``brushlabels`` has ``value.rle``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import numpy.typing as npt

from .. import masks
from ..policy import Policy, place

AREAS = ("polygonlabels", "brushlabels")
DEFAULT_RUN_SIZES = (3, 4, 8, 16)


class BrushError(ValueError):
    """A brush RLE that cannot be decoded (its message says why)."""


def _bits(data: Sequence[int]) -> npt.NDArray[np.uint8]:
    # not forced to int64: a string, null, float, nested list or 4,301-digit integer among
    # the bytes is refused as such, not left to numpy's conversion errors
    try:
        raw = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raw = np.asarray([None], dtype=object)
    if raw.size and raw.dtype.kind not in "iu":
        raise BrushError("the brush RLE must be a list of bytes (0..255)")
    if raw.ndim != 1 or (raw.size and (raw.min() < 0 or raw.max() > 255)):
        raise BrushError("the brush RLE must be a list of bytes (0..255)")
    return np.unpackbits(raw.astype(np.uint8))


def decode_brush(data: Sequence[int], count: int | None = None) -> npt.NDArray[np.int64]:
    """The values of a brush RLE (``count``: how many the caller expects; checked against
    the header before anything is decoded)."""
    bits = _bits(data)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > bits.size:
            raise BrushError("the brush RLE ends early")
        value = 0
        for b in bits[pos : pos + n].tolist():
            value = value << 1 | b
        pos += n
        return value

    num = read(32)
    if count is not None and num != count:
        raise BrushError(f"the brush RLE holds {num} values, not {count} (height x width x 4)")
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.int64)
    i = 0
    while i < num:
        run = read(1)
        j = min(i + 1 + read(sizes[read(2)]), num)  # the converter's slice stops at the end too
        if run:
            out[i:j] = read(word)
        else:
            for k in range(i, j):
                out[k] = read(word)
        i = j
    return out


def encode_brush(values: Sequence[int] | npt.NDArray[Any], word: int = 8) -> list[int]:
    """A brush RLE of ``values`` (each below 2**``word``) as Label Studio writes one: runs of
    more than one value as runs (length fields of 3, 4, 8 or 16 bits; longer runs split),
    single values as literals of one; padded with zero bits to whole bytes."""
    arr = np.asarray(values, dtype=np.int64).ravel()
    out = [f"{arr.size:032b}", f"{word - 1:05b}", "".join(f"{s - 1:04b}" for s in DEFAULT_RUN_SIZES)]
    if arr.size:
        cut = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        starts = np.concatenate(([0], cut))
        ends = np.concatenate((cut, [arr.size]))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            value, length = f"{int(arr[s]):0{word}b}", e - s
            if length == 1:
                out.append("0" + "00" + "000" + value)
                continue
            while length > 0:
                piece = min(length, 2**16)
                index = next(k for k, bits in enumerate(DEFAULT_RUN_SIZES) if piece <= 2**bits)
                out.append("1" + f"{index:02b}" + f"{piece - 1:0{DEFAULT_RUN_SIZES[index]}b}" + value)
                length -= piece
    text = "".join(out)
    text += "0" * (-len(text) % 8)
    return [int(text[k : k + 8], 2) for k in range(0, len(text), 8)]


def brush_mask(data: Any, height: int, width: int) -> npt.NDArray[np.bool_]:
    """The mask of a brush region: the alpha channel of its RGBA values, above 0."""
    if not isinstance(data, list):
        raise BrushError(f"'rle' must be a list of bytes, got {type(data).__name__}")
    values = decode_brush(data, height * width * 4)
    mask: npt.NDArray[np.bool_] = values.reshape(height, width, 4)[:, :, 3] > 0
    return mask


def mask_brush(mask: npt.NDArray[np.bool_]) -> list[int]:
    """A brush RLE of a mask as Label Studio's ``mask2rle`` makes one (255 on, in all four
    channels)."""
    return encode_brush(np.repeat(mask.astype(np.int64).ravel() * 255, 4))


@dataclass(frozen=True, slots=True)
class Region:
    """One area region of a task: its place in the result list, label, kind and data."""

    index: int
    id: str
    label: str
    kind: str  # polygonlabels or brushlabels
    points: tuple[tuple[float, float], ...] = ()  # in pixels
    rle: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    """One task: its id, image name and size, and its area regions (of its first annotation
    that was not cancelled)."""

    id: int | str
    file_name: str
    height: int
    width: int
    regions: tuple[Region, ...]
    dropped: dict[str, int] = field(default_factory=dict)  # result types that are no areas


def _image_name(data: Any, task: Any) -> str:
    """The image's name: the last part of ``data.image`` (or of the first string value)."""
    values = data if isinstance(data, dict) else {}
    url = values.get("image")
    if not isinstance(url, str):
        url = next((v for v in values.values() if isinstance(v, str)), f"task_{task}.jpg")
    name = PurePosixPath(unquote(urlparse(url).path)).name
    return name or f"task_{task}.jpg"


def parse_task(t: Any, k: int, path: str, report: Policy) -> Task | None:
    """Task #``k`` of the export, every problem handed to ``report``; None when it cannot be
    read (or has no region to give it a size)."""
    if not isinstance(t, dict):
        report("malformed-record", f"task #{k} is not an object", path, k)
        return None
    tid = t.get("id", k)
    if type(tid) is not int and type(tid) is not str:
        report("malformed-record", f"task #{k}: 'id' must be an integer or a string, got {tid!r:.40}", path, k)
        return None
    anns = t.get("annotations", [])
    if not isinstance(anns, list) or not all(isinstance(a, dict) for a in anns):
        report("malformed-record", f"image {tid}: 'annotations' must be a list of objects", path, tid)
        return None
    kept = next((a for a in anns if not a.get("was_cancelled")), None)
    results = [] if kept is None else kept.get("result", [])
    if not isinstance(results, list):
        report("malformed-record", f"image {tid}: 'result' must be a list", path, tid)
        return None
    size: tuple[int, int] | None = None
    regions: list[Region] = []
    dropped: dict[str, int] = {}
    for i, r in enumerate(results):
        kind = r.get("type") if isinstance(r, dict) else None
        if kind not in AREAS:
            dropped[str(kind)] = dropped.get(str(kind), 0) + 1
            continue
        assert isinstance(r, dict)
        rid = str(r.get("id", i))
        h, w = r.get("original_height"), r.get("original_width")
        if not (type(h) is int and type(w) is int and h > 0 and w > 0):
            report("malformed-record", f"{place(tid, rid)}: no positive original_width/height", path, tid, rid)
            continue
        try:
            masks.check_size(h, w)
        except ValueError as exc:
            report("malformed-record", f"{place(tid, rid)}: {exc}", path, tid, rid)
            continue
        if size is None:
            size = (h, w)
        elif size != (h, w):
            msg = f"{place(tid, rid)}: the region is on a {w}x{h} image, the task's first on {size[1]}x{size[0]}"
            report("image-size", msg, path, tid, rid)
            continue
        region = _region(r, i, rid, str(kind), tid, h, w, path, report)
        if region is not None:
            regions.append(region)
    if size is None:
        if any(isinstance(r, dict) and r.get("type") in AREAS for r in results):
            return None
        size = (0, 0)  # no region: the task has no image size (left out by the reader)
    return Task(tid, _image_name(t.get("data"), tid), size[0], size[1], tuple(regions), dropped)


def _region(
    r: dict[str, Any], i: int, rid: str, kind: str, tid: Any, h: int, w: int, path: str, report: Policy
) -> Region | None:
    value = r.get("value")
    labels = value.get(kind) if isinstance(value, dict) else None
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        report("malformed-record", f"{place(tid, rid)}: 'value.{kind}' must name a label", path, tid, rid)
        return None
    assert isinstance(value, dict)
    if kind == "polygonlabels":
        got = value.get("points")
        pts: list[Any] = got if isinstance(got, list) else []
        ok = isinstance(got, list) and all(
            isinstance(p, list)
            and len(p) == 2
            and all(type(v) in (int, float) and math.isfinite(v) and abs(v) <= 200 for v in p)
            for p in pts
        )
        if not ok or len(pts) < 3:
            msg = f"{place(tid, rid)}: a polygon needs 3 or more [x, y] points in percent (-200..200)"
            report("shape-degenerate", msg, path, tid, rid)
            return None
        scaled = tuple((float(x) * w / 100.0, float(y) * h / 100.0) for x, y in pts)
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in scaled):
            report("shape-outside", f"{place(tid, rid)}: points outside the {w}x{h} image", path, tid, rid)
        return Region(i, rid, labels[0], kind, scaled)
    rle = value.get("rle")
    try:
        brush_mask(rle, h, w)
    except BrushError as exc:
        report("rle-undecodable", f"{place(tid, rid)}: {exc}", path, tid, rid)
        return None
    assert isinstance(rle, list)
    return Region(i, rid, labels[0], kind, rle=tuple(rle))


def region_mask(region: Region, height: int, width: int) -> dict[str, Any]:
    """A region's compressed RLE: a polygon rasterised by pycocotools (as the converter's
    COCO export is read), a brush decoded."""
    if region.kind == "polygonlabels":
        flat = [v for p in region.points for v in p]
        return masks.to_compressed([flat], height, width)
    mask = brush_mask(list(region.rle), height, width)
    return masks.Runs(mask.view(np.uint8).astype(np.int32), 1).rles()[0]
