"""The twin's ``poly_areas``: pycocotools itself (``frPyObjects``, ``merge``, ``area``,
``toBbox``) for each group of polygons the limits accept, after the C kernel's own argument
checks and its limits, computed in the same order (the edge lengths summed one by one, as
the C loop sums them), so both doubt the same groups; and ``parse_points``, CVAT's points
attributes read by a regular expression and ``float``.
"""

from __future__ import annotations

import math
import re

import numpy as np
from pycocotools import mask as mask_utils

from ._args import _F64, _I64, _SSIZE, _U8, _int, _take

_MAX_COORD = 2.0**27


def poly_areas(xy: object, ends: object, groups: object, h: object, w: object, areas: object, boxes: object, /) -> int:
    """pycocotools' area and toBbox of each group's merged polygons (see
    segtool/_kernels.pyi)."""
    return _measure(xy, ends, groups, h, w, areas, boxes, None)


def poly_rles(
    xy: object, ends: object, groups: object, h: object, w: object, areas: object, boxes: object, /
) -> tuple[int, list[str | None]]:
    """``poly_areas`` and each group's RLE string as pycocotools writes it (see
    segtool/_kernels.pyi)."""
    strings: list[str | None] = []
    return _measure(xy, ends, groups, h, w, areas, boxes, strings), strings


def _measure(
    xy: object,
    ends: object,
    groups: object,
    h: object,
    w: object,
    areas: object,
    boxes: object,
    strings: list[str | None] | None,
) -> int:
    hh, ww = _int(h, _SSIZE), _int(w, _SSIZE)
    c = _take(xy, _F64, False, "xy")
    e = _take(ends, _I64, False, "ends")
    g = _take(groups, _I64, False, "groups")
    a = _take(areas, _I64, True, "areas")
    b = _take(boxes, _F64, True, "boxes")
    if not (hh >= 1 and ww >= 1 and hh * ww <= 2**31 - 1):
        raise ValueError("image size: two positive integers, fewer than 2^31 pixels")
    ng, npoly = g.size, e.size
    if (
        a.size != ng
        or b.size != 4 * ng
        or c.size % 2
        or (int(e[-1]) if npoly else 0) != c.size // 2
        or (int(g[-1]) if ng else 0) != npoly
    ):
        raise ValueError("array sizes do not agree")
    if (npoly and np.diff(e, prepend=0).min() < 3) or (ng and np.diff(g, prepend=0).min() < 1):
        raise ValueError("each polygon needs at least 3 points, each group a polygon")
    starts = [0, *e.tolist()]
    first = -1
    for k in range(ng):
        p0, p1 = int(g[k - 1]) if k else 0, int(g[k])
        polys = [c[2 * starts[p] : 2 * starts[p + 1]].tolist() for p in range(p0, p1)]
        b[4 * k : 4 * k + 4] = 0
        if _doubted(polys, hh, ww):
            a[k] = -1
            first = k if first < 0 else first
            if strings is not None:
                strings.append(None)
            continue
        drawn = mask_utils.frPyObjects(polys, hh, ww)
        rle = drawn[0] if len(drawn) == 1 else mask_utils.merge(drawn)
        a[k] = int(mask_utils.area(rle))
        if a[k] > 0:
            b[4 * k : 4 * k + 4] = mask_utils.toBbox(rle)
        if strings is not None:
            strings.append(rle["counts"].decode("ascii"))
    return first


def _doubted(polys: list[list[float]], h: int, w: int) -> bool:
    """The C kernel's ``group_doubted``, step for step."""
    most = float(min(128 * (h + w), 1 << 20))
    length = 0.0
    for p in polys:
        n = len(p) // 2
        for i in range(n):
            x, y = p[2 * i], p[2 * i + 1]
            if not (
                -w <= x <= 2 * w
                and -h <= y <= 2 * h
                and -_MAX_COORD <= x <= _MAX_COORD
                and -_MAX_COORD <= y <= _MAX_COORD
            ):
                return True
            j = i + 1 if i + 1 < n else 0
            ddx, ddy = math.fabs(p[2 * j] - x), math.fabs(p[2 * j + 1] - y)
            length += ddx if ddx > ddy else ddy
    return not length <= most * (1 - 1e-6)


_NUMBER = rb"-?[0-9]+(?:\.[0-9]+)?"
_SHAPE = re.compile(rb"(?:%s,%s)(?:;%s,%s)*" % ((_NUMBER,) * 4))


def parse_points(text: object, xy: object, ends: object, boxes: object, /) -> int:
    """CVAT points attributes joined by ``|`` into doubles, while plain (see
    segtool/_kernels.pyi): a regular expression per shape, then ``float``."""
    t = _take(text, _U8, False, "text")
    x = _take(xy, _F64, True, "xy")
    e = _take(ends, _I64, True, "ends")
    b = _take(boxes, _F64, True, "boxes")
    if x.size < t.size // 2 + 1 or b.size != 4 * e.size:
        raise ValueError("xy must hold len(text) // 2 + 1 values, boxes 4 per shape")
    data = t.tobytes()
    parts = data.split(b"|") if data else []
    values = 0
    for k, part in enumerate(parts if len(parts) == e.size else [b"|"]):
        tokens = part.replace(b";", b",").split(b",")
        if _SHAPE.fullmatch(part) is None or not 3 <= len(tokens) // 2 <= 1 << 20:
            break
        nums = [float(v) for v in tokens]
        if any(
            len(v) - v.startswith(b"-") >= 64 or (n == 0 and v.startswith(b"-"))
            for v, n in zip(tokens, nums, strict=True)
        ):
            break  # (the C loop's limits: a number of 64 digits or more, -0)
        x[values : values + len(nums)] = nums
        values += len(nums)
        e[k] = values // 2
        b[4 * k : 4 * k + 4] = min(nums[0::2]), min(nums[1::2]), max(nums[0::2]), max(nums[1::2])
    else:
        return values
    x[:], e[:], b[:] = 0, 0, 0
    return -1
