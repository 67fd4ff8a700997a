"""What a shard's partial (:mod:`.partial`) carries of ``--per-image`` and ``--slices``, and
how ``eval merge`` (:mod:`.partial_merge`) puts it together (docs/metrics/partials.md):

- **rows**: the shard's per-image rows, as JSON in the header (``per_image.rows``), each
  with its image's place in the unsharded run's order (``per_image.order``: its position
  among the ground truth's images as that run lists its rows: the file's order for panoptic
  and semantic, ascending image ids for instance). The merge sorts every shard's rows by it.
- **slices**: their names and a digest of their contents in the parameters
  (``params.slices``, :meth:`.slices.Slices.identity`), so that shards of other slices are
  refused as other parameters are; and per slice, what its result is made of, as the
  overall result: PQ sums (``slice_tp`` ...), the confusion matrix (``slice_confusion``), or
  COCOeval's per-image evaluations of the slice's images (``slice_category`` ..., one after
  the other, ``slice_sizes`` saying where each slice's end). The merge adds or joins them
  per slice exactly as it does the overall ones, so each slice's numbers are the unsharded
  run's (bit for bit but for PQ's IoU sums, a few ulps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import FormatError
from ..model import Category
from .instance_accumulate import Collected
from .panoptic_result import PanopticResult, PQStat
from .semantic import SemanticResult
from .slices import Sliced

INSTANCE_COLUMNS = {  # an instance partial's arrays (partial.ARRAYS), each slice's as well
    "category": ("<i8", 1),
    "score": ("<f8", 1),
    "rank": ("<i4", 1),
    "flags": ("|u1", 2),
    "image_rank": ("<i8", 1),
    "image_count": ("<i8", 1),
    "npig_ids": ("<i8", 1),
    "npig": ("<i8", 2),
}
_SIZED = (("category", "score", "rank", "flags"), ("image_rank", "image_count"), ("npig_ids", "npig"))
SLICE_ARRAYS: dict[str, dict[str, tuple[str, int]]] = {
    "panoptic": {f"slice_{n}": ("<f8" if n == "iou" else "<i8", 2) for n in ("tp", "fp", "fn", "iou", "counts")},
    "semantic": {"slice_confusion": ("<i8", 3), "slice_boundary": ("<i8", 3), "slice_counts": ("<i8", 2)},
    "instance": {
        **{f"slice_{n}": spec for n, spec in INSTANCE_COLUMNS.items()},
        "slice_sizes": ("<i8", 2),  # per slice: its detections, images with detections, npig categories
        "slice_counts": ("<i8", 2),  # per slice: images, objects, masks
    },
}


def params_of(per_image: list[dict[str, Any]] | None, sliced: Any) -> dict[str, Any]:
    """The parameters a partial adds for rows and slices (partials that differ do not merge)."""
    out: dict[str, Any] = {}
    if per_image is not None:
        out["per_image"] = True
    if isinstance(sliced, Sliced):
        out["slices"] = sliced.identity
    return out


def panoptic_arrays(sliced: Any) -> dict[str, npt.NDArray[Any]]:
    """Each slice's PQ sums, (S, K), and (images, missing), (S, 2)."""
    if not sliced:
        return {}
    parts: list[PanopticResult] = list(sliced.values())
    out = {f"slice_{n}": np.stack([getattr(r.stat, n) for r in parts]) for n in ("tp", "fp", "fn", "iou")}
    return {**out, "slice_counts": np.array([[r.images, r.missing] for r in parts], np.int64)}


def semantic_arrays(sliced: Any) -> dict[str, npt.NDArray[Any]]:
    """Each slice's confusion matrix (and boundary counts), and (images, missing)."""
    if not sliced:
        return {}
    parts: list[SemanticResult] = list(sliced.values())
    out = {"slice_confusion": np.stack([r.confusion for r in parts])}
    out["slice_counts"] = np.array([[r.images, r.missing] for r in parts], np.int64)
    if parts[0].boundary is not None:
        out["slice_boundary"] = np.stack([r.boundary for r in parts if r.boundary is not None])
    return out


def instance_arrays(found: Sequence[Collected]) -> dict[str, npt.NDArray[Any]]:
    """The slices' per-image evaluations (what each slice's accumulate was given), one
    slice's after the other's."""
    if not found:
        return {}
    exports = [c.export() for c in found]
    out = {f"slice_{n}": np.concatenate([e[n] for e in exports]) for n in INSTANCE_COLUMNS}
    sizes = [[len(e[group[0]]) for group in _SIZED] for e in exports]
    out["slice_sizes"] = np.array(sizes, np.int64).reshape(len(found), 3)
    out["slice_counts"] = np.array([[c.images, c.objects, c.masks] for c in found], np.int64)
    return out


def places(rows: list[dict[str, Any]], ids: Sequence[Any]) -> list[int]:
    """Each row's image's position in ``ids`` (the unsharded run's order of its rows)."""
    at = {iid: k for k, iid in enumerate(ids)}
    return [at[r["image_id"]] for r in rows]


def check(kind: str, head: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], k: int, where: str) -> None:
    """The rows and slice arrays agree with the parameters and the overall arrays, so that
    a merge cannot index out of them; else a one-line :class:`FormatError`."""
    params = head["params"]
    rows = head.get("per_image")
    if (rows is not None) != (params.get("per_image") is True):
        raise FormatError("'per_image' rows and the parameter 'per_image' must go together", where)
    if rows is not None:
        ok = isinstance(rows, dict) and isinstance(rows.get("rows"), list) and isinstance(rows.get("order"), list)
        ok = ok and all(isinstance(r, dict) for r in rows["rows"]) and len(rows["rows"]) == len(rows["order"])
        if not ok or not all(type(v) is int and v >= 0 for v in rows["order"]):
            raise FormatError("'per_image' must be {rows: [objects], order: [positions]} of one length", where)
    spec = params.get("slices")
    given = [n for n in arrays if n.startswith("slice_")]
    if spec is None:
        if given:
            raise FormatError(f"array {given[0]} without the parameter 'slices'", where)
        return
    names = spec.get("names") if isinstance(spec, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise FormatError("parameter 'slices' must name the slices ({names: [...], digest})", where)
    need = [n for n in SLICE_ARRAYS[kind] if n != "slice_boundary" or "boundary" in arrays]
    missing = [n for n in need if n not in arrays]
    if missing or len(given) != len(need):
        raise FormatError(f"the slices' arrays must be {', '.join(need)}", where)
    shapes = _shapes(kind, len(names), k, arrays)
    bad = [n for n, shape in shapes.items() if arrays[n].shape != shape]
    bad += [n for n in ("slice_counts", "slice_sizes") if n in arrays and (arrays[n] < 0).any()]
    if kind == "instance" and not bad:
        bad = _instance_bad(arrays)
    if bad:
        raise FormatError(f"array {bad[0]} does not fit the slices or the other arrays", where)


def _shapes(kind: str, s: int, k: int, arrays: dict[str, npt.NDArray[Any]]) -> dict[str, tuple[int, ...]]:
    """The shapes the slice arrays must have (an instance's columns: checked by sizes)."""
    if kind == "panoptic":
        return {**{f"slice_{n}": (s, k) for n in ("tp", "fp", "fn", "iou")}, "slice_counts": (s, 2)}
    if kind == "semantic":
        return {"slice_confusion": (s, k, k + 1), "slice_counts": (s, 2)} | (
            {"slice_boundary": (s, k, 2)} if "boundary" in arrays else {}
        )
    flags, npig = arrays["flags"].shape[1], arrays["npig"].shape[1]
    sizes = arrays["slice_sizes"].sum(axis=0).tolist() if arrays["slice_sizes"].shape == (s, 3) else [-1] * 3
    out: dict[str, tuple[int, ...]] = {f"slice_{n}": (sizes[g],) for g, group in enumerate(_SIZED) for n in group}
    out["slice_flags"] = (sizes[0], flags)
    out["slice_npig"] = (sizes[2], npig)
    return {**out, "slice_sizes": (s, 3), "slice_counts": (s, 3)}


def _instance_bad(arrays: dict[str, npt.NDArray[Any]]) -> list[str]:
    """Each slice's images account for its detections, as the overall ones must."""
    for part in split(arrays):
        if int(part["image_count"].sum()) != len(part["category"]) or not (part["image_count"] > 0).all():
            return ["slice_image_count"]
    return []


def split(arrays: dict[str, npt.NDArray[Any]]) -> list[dict[str, npt.NDArray[Any]]]:
    """An instance partial's slice columns, one dict (as :meth:`Collected.export`) per slice."""
    sizes = arrays["slice_sizes"]
    ends = np.cumsum(sizes, axis=0)
    out = []
    for s in range(len(sizes)):
        part = {}
        for g, group in enumerate(_SIZED):
            lo, hi = int(ends[s, g] - sizes[s, g]), int(ends[s, g])
            part.update({n: arrays[f"slice_{n}"][lo:hi] for n in group})
        out.append(part)
    return out


def merged_rows(parts: Sequence[Any]) -> list[dict[str, Any]] | None:
    """Every shard's rows in the unsharded run's order (None when they were not asked for)."""
    if parts[0].rows is None:
        return None
    placed = sorted((at, k, j) for k, p in enumerate(parts) for j, at in enumerate(p.order))
    return [parts[k].rows[j] for _, k, j in placed]


def merged_panoptic(parts: Sequence[Any], categories: tuple[Category, ...], ratio: float | None) -> Sliced | None:
    """Each slice's PQ statistics added in shard order, as the overall ones."""
    spec = parts[0].params.get("slices")
    if spec is None:
        return None
    out = []
    for s, name in enumerate(spec["names"]):
        stat = PQStat.zeros(len(categories))
        for p in parts:
            a = p.arrays
            stat += PQStat(a["slice_tp"][s], a["slice_fp"][s], a["slice_fn"][s], a["slice_iou"][s])
        images, missing = (sum(int(p.arrays["slice_counts"][s, j]) for p in parts) for j in (0, 1))
        out.append((name, PanopticResult(categories, stat, images, missing, ratio)))
    return Sliced(spec, out)


def merged_semantic(parts: Sequence[Any], categories: tuple[Category, ...], ratio: float | None) -> Sliced | None:
    """Each slice's confusion matrix (and boundary counts) added up."""
    spec = parts[0].params.get("slices")
    if spec is None:
        return None
    out = []
    for s, name in enumerate(spec["names"]):
        confusion = sum((p.arrays["slice_confusion"][s] for p in parts), np.zeros_like(parts[0].arrays["confusion"]))
        edges = None
        if "slice_boundary" in parts[0].arrays:
            edges = sum((p.arrays["slice_boundary"][s] for p in parts), np.zeros_like(parts[0].arrays["boundary"]))
        images, missing = (sum(int(p.arrays["slice_counts"][s, j]) for p in parts) for j in (0, 1))
        out.append((name, SemanticResult(categories, confusion, images, missing, edges, ratio)))
    return Sliced(spec, out)


def merged_instance(parts: Sequence[Any], lanes: tuple[int, int]) -> list[tuple[str, Collected]] | None:
    """Each slice's per-image evaluations joined across shards (accumulated by the caller)."""
    spec = parts[0].params.get("slices")
    if spec is None:
        return None
    pieces = [split(p.arrays) for p in parts]
    out = []
    for s, name in enumerate(spec["names"]):
        counts = [p.arrays["slice_counts"][s] for p in parts]
        totals = (sum(int(c[0]) for c in counts), sum(int(c[1]) for c in counts), any(bool(c[2]) for c in counts))
        out.append((name, Collected.joined(lanes, [piece[s] for piece in pieces], totals)))
    return out
