"""The twin's ``coco_image``: COCOeval of one image's masks, as the composition of the
twin's own kernels (``rle_areas``' decoding, ``rle_iou``, ``coco_match``) with numpy's
stable ``lexsort`` for the ranking, the C kernel's arguments and errors checked as it
checks them.
"""

from __future__ import annotations

import numpy as np

from ._args import _F64, _I64, _SSIZE, _U8, _int, _take
from .coco import coco_match
from .rle import _decode, _rle_size_ok, rle_iou

_ELEMS = (_I64, _I64, _U8, _F64, _I64, _F64, _F64, _F64, _I64, _I64, _U8, _I64)
_NAMES = ("gt_cat", "gt_ids", "crowd", "gt_area", "dt_cat", "dt_score", "bounds", "thrs", "rows", "rank", "flags")


def _text(obj: object, name: str) -> str:
    if not isinstance(obj, str):
        raise ValueError(f"{name}: expected a str")
    obj.encode("utf-8")  # PyUnicode_AsUTF8AndSize: a lone surrogate raises
    return obj


def _lines(text: str, n: int) -> list[str] | None:
    """The C kernel's ``split_lines``: the n lines of ``text``, or None."""
    if n == 0:
        return [] if text == "" else None
    lines = text.split("\n")
    return lines if len(lines) == n else None


def coco_image(gt_text: object, dt_text: object, h: object, w: object, *args: object) -> tuple[int, bool]:
    """COCOeval of one image's masks (see segtool/_kernels.pyi)."""
    if len(args) != 13:
        raise TypeError(f"coco_image expected 17 arguments, got {len(args) + 4}")
    hh, ww = _int(h, _SSIZE), _int(w, _SSIZE)
    max_det = _int(args[8], _SSIZE)
    gtext, dtext = _text(gt_text, "gt"), _text(dt_text, "dt")
    objs = (*args[:8], *args[9:])
    b = [_take(o, e, i >= 8, (*_NAMES, "npig")[i]) for i, (o, e) in enumerate(zip(objs, _ELEMS, strict=True))]
    _rle_size_ok(hh, ww)
    if max_det < 0:
        raise ValueError("max_det must not be negative")
    gcat, gid, crowd, garea, dcat, dscore, bounds, thr, rows, rank, flags, npig = b
    ng, nd, na, nt = gcat.size, dcat.size, bounds.size // 2, thr.size
    lanes = na * nt
    sizes = (gid.size, crowd.size, garea.size, dscore.size, bounds.size, rows.size, rank.size, flags.size)
    if sizes != (ng, ng, ng, nd, 2 * na, nd, nd, 2 * lanes * nd) or npig.size != ng * na:
        raise ValueError("array sizes do not agree")
    if not np.isfinite(dscore).all():
        raise ValueError("scores must be finite")
    glines, dlines = _lines(gtext, ng), _lines(dtext, nd)
    if glines is None or dlines is None:
        return -1, False
    gb, db = [s.encode() for s in glines], [s.encode() for s in dlines]
    gok, _, gcounts = _decode(gb, hh * ww)
    dok, darea, _ = _decode(db, hh * ww)
    if not gok.all() or not dok.all():
        return -1, False
    order = np.lexsort((-dscore, dcat))
    new = np.ones(nd, bool)
    new[1:] = dcat[order][1:] != dcat[order][:-1]
    places = np.arange(nd)
    place = places - np.maximum.accumulate(np.where(new, places, 0)) if nd else places
    keep = place < max_det
    d, kept = order[keep], int(keep.sum())
    rows[:kept], rank[:kept] = d, place[keep]
    lo, hi = bounds[:na, None], bounds[na:, None]
    ignore = ((crowd != 0)[None, :] | (garea[None, :] < lo) | (garea[None, :] > hi)).astype(np.uint8)  # (A, G)
    for c in set(gcat.tolist()):
        mine = gcat == c
        npig.reshape(ng, na)[mine] = (ignore[:, mine] == 0).sum(axis=1)
    masks = ng == 0 or any(len(c) != 1 for c in gcounts)
    out = flags.reshape(nd, 2 * lanes)[:kept]
    out[:] = 0
    if kept == 0:
        return 0, masks
    match, match_ig = np.zeros((na, nt, kept), np.int64), np.zeros((na, nt, kept), np.uint8)
    if ng:
        kcat = np.ascontiguousarray(dcat[d])
        ious = np.empty((kept, ng))
        rle_iou([db[i] for i in d.tolist()], gb, hh, ww, kcat, gcat, crowd, ious)
        coco_match(ious, kcat, gcat, gid, crowd, ignore, thr, match, match_ig)
    hit = match != 0
    outside = (darea[d][None, :] < lo) | (darea[d][None, :] > hi)  # (A, kept)
    ignored = (match_ig != 0) | (~hit & outside[:, None, :])
    out[:, :lanes] = hit.reshape(lanes, kept).T
    out[:, lanes:] = ignored.reshape(lanes, kept).T
    return kept, masks
