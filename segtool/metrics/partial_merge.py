"""``segtool eval merge``'s library side: the result of an unsharded evaluation from its
shards' partials (:mod:`.partial`), after checking that they are the shards of one
evaluation: same kind, segtool version, ground truth and parameters, one split, each shard
once and none missing (docs/metrics/partials.md).

PQ statistics and confusion matrices are added in shard order; COCOeval's per-image
evaluations are joined and accumulated once, their detections put back in ascending image
id order first (each shard kept the ground truth's image ranks), so that ties of score
across images fall as in the unsharded run: the same precision and recall, bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, SegtoolError
from . import lvis as _lvis
from . import partial_slices as _ps
from .boundary import params_with_ratio
from .instance_accumulate import Collected, accumulate
from .instance_result import IOU_THRS, InstanceResult, Params
from .panoptic_result import PanopticResult, PQStat
from .partial import Partial, read
from .semantic import SemanticResult
from .slices import Sliced

Result = PanopticResult | SemanticResult | InstanceResult | _lvis.LVISResult


def merge(parts: Sequence[Partial | str | Path]) -> Result:
    """The result of the unsharded evaluation from its shards' partials (files or
    :class:`Partial`). Refused, one line naming the file: partials of another kind,
    segtool version, ground truth or parameters than the first, another shard count, a
    shard given twice, or a shard missing."""
    if not parts:
        raise SegtoolError("merge: no partials given")
    got = [p if isinstance(p, Partial) else read(p) for p in parts]
    _check_same(got)
    got.sort(key=lambda p: p.shard.index)
    first = got[0]
    if first.kind == "panoptic":
        stat = PQStat.zeros(len(first.categories))
        for p in got:
            stat += PQStat(p.arrays["tp"], p.arrays["fp"], p.arrays["fn"], p.arrays["iou"])
        images, missing, ratio = _summed(got, "images"), _summed(got, "missing"), _ratio(first)
        sliced = _ps.merged_panoptic(got, first.categories, ratio)
        return PanopticResult(first.categories, stat, images, missing, ratio, _ps.merged_rows(got), sliced)
    if first.kind == "semantic":
        confusion = sum((p.arrays["confusion"] for p in got), np.zeros_like(first.arrays["confusion"]))
        edges = None
        if "boundary" in first.arrays:
            edges = sum((p.arrays["boundary"] for p in got), np.zeros_like(first.arrays["boundary"]))
        images, missing, ratio = _summed(got, "images"), _summed(got, "missing"), _ratio(first)
        sliced = _ps.merged_semantic(got, first.categories, ratio)
        rows = _ps.merged_rows(got)
        return SemanticResult(first.categories, confusion, images, missing, edges, ratio, rows, sliced)
    return _merge_instance(got)


def _summed(parts: Sequence[Partial], key: str) -> int:
    return sum(int(p.counts.get(key, 0)) for p in parts)


def _ratio(p: Partial) -> float | None:
    ratio = p.params.get("boundary")
    if ratio is not None and not (isinstance(ratio, float | int) and 0 < ratio <= 1):
        raise FormatError(f"parameter 'boundary' must be a dilation ratio, got {ratio!r:.40}", p.path)
    return None if ratio is None else float(ratio)


def _check_same(parts: Sequence[Partial]) -> None:
    """Every partial of the same evaluation as the first, each shard once, none missing."""
    first = parts[0]
    by_index: dict[int, Partial] = {}
    for p in parts:
        theirs = f"{first.path or 'the first partial'}'s"
        if p.kind != first.kind:
            raise SegtoolError(f"a {p.kind} partial; {theirs} is {first.kind}", p.path)
        if p.segtool != first.segtool:
            raise SegtoolError(f"written by segtool {p.segtool}; {theirs} by {first.segtool}", p.path)
        if p.ground_truth != first.ground_truth or _cats(p) != _cats(first):
            raise SegtoolError(f"another ground truth than {theirs} (images, categories or file differ)", p.path)
        if p.params != first.params:
            key = next(k for k in sorted({*p.params, *first.params}) if p.params.get(k) != first.params.get(k))
            mine, other = json.dumps(p.params.get(key)), json.dumps(first.params.get(key))
            raise SegtoolError(f"parameter {key!r} is {mine:.60}; {theirs} is {other:.60}", p.path)
        if p.shard.count != first.shard.count:
            raise SegtoolError(f"shard {p.shard} of another split than {theirs} ({first.shard})", p.path)
        if p.shard.index in by_index:
            raise SegtoolError(f"shard {p.shard} is given twice (also {by_index[p.shard.index].path})", p.path)
        by_index[p.shard.index] = p
    absent = [i for i in range(1, first.shard.count + 1) if i not in by_index]
    if absent:
        shown = ", ".join(f"{i}/{first.shard.count}" for i in absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise SegtoolError(f"merge: shard {shown} missing ({len(parts)} of {first.shard.count} given)")


def _cats(p: Partial) -> list[dict[str, Any]]:
    return [c.to_dict() for c in p.categories]


def _merge_instance(parts: Sequence[Partial]) -> InstanceResult | _lvis.LVISResult:
    """COCOeval's (or LVISEval's) accumulate over every shard's per-image evaluations."""
    first = parts[0]
    params, frequency = _instance_params(first)
    lanes = (len(params.area_rng), len(IOU_THRS))
    width = -(-2 * lanes[0] * lanes[1] // 8)
    for p in parts:
        if p.arrays["flags"].shape[1] != width or p.arrays["npig"].shape[1] != lanes[0]:
            raise FormatError(f"flags or npig do not fit {lanes[0]} area ranges", p.path)
    counts = (
        _summed(parts, "images"),
        _summed(parts, "objects"),
        any(bool(p.counts.get("masks")) for p in parts),
    )
    found = Collected.joined(lanes, [p.arrays for p in parts], counts)
    result = accumulate(found, first.categories, params)
    result.per_image = _ps.merged_rows(parts)
    slices = _ps.merged_instance(parts, lanes)
    if slices is not None:
        made = ((name, accumulate(c, first.categories, params)) for name, c in slices)
        result.slices = Sliced(first.params["slices"], made)
    if frequency is None:
        return result
    lvis = _lvis.of_coco(result, frequency)
    lvis.per_image = result.per_image
    if isinstance(result.slices, Sliced):
        lvis.slices = result.slices.map(lambda r: _lvis.of_coco(r, frequency))
    return lvis


def _instance_params(p: Partial) -> tuple[Params, dict[int, str] | None]:
    """COCOeval's parameters as the shard's accumulate used them; LVIS' frequency groups
    when it was scored as LVIS (None otherwise)."""
    q = p.params
    try:
        params = Params(
            iou_type=str(q["iou_type"]),
            max_dets=tuple(int(v) for v in q["max_dets"]),
            area_rng=tuple((float(a), float(b)) for a, b in q["area_rng"]),
            area_lbl=tuple(str(v) for v in q["area_lbl"]),
        )
        if "dilation_ratio" in q:
            params = params_with_ratio(params, float(q["dilation_ratio"]))
        frequency = None
        if q.get("lvis"):
            frequency = {int(k): str(v) for k, v in dict(q["frequency"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"bad instance parameters in the header ({type(exc).__name__}: {exc})", p.path) from None
    if len(params.area_lbl) != len(params.area_rng) or not params.max_dets:
        raise FormatError("area_rng, area_lbl and max_dets do not fit each other", p.path)
    return params, frequency
