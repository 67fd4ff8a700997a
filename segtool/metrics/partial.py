"""Partial statistics of a sharded evaluation: the format, writing, reading and merging.

A shard (``--shard I/N``, :mod:`.shard`) writes what its images add to the evaluation,
before anything is averaged: PQ's tp/fp/fn/IoU sums per category, the confusion matrix,
or COCOeval's per-image evaluations (per detection: category, score, rank within its image
and category, matched/ignored bits per area range and threshold; per image with detections
its rank among the sorted image ids; non-ignored ground truth per category). Merging adds
the sums, or puts the detections back in image-id order and accumulates them: every number
the unsharded run gives, to the last bit for instances and semantic, within the rounding of
a float sum's order for PQ's IoU sums (docs/metrics/partials.md).

The file is an uncompressed ``.npz`` (a zip ``numpy.load`` opens) with a ``header.json``
member: JSON for the identity and counts, ``.npy`` for the arrays, which at 5,000 images of
COCO detections are ~15 MB that JSON would take seconds to write and parse as numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..atomic import atomic_outputs
from ..errors import FormatError, SegtoolError
from ..labelmap import LabelMap
from ..labelmap import load as load_labels
from ..model import Category
from ..pairing import id_order
from . import lvis as _lvis
from . import partial_slices as _ps
from .instance_accumulate import Kept, keeping
from .panoptic_result import PanopticResult
from .semantic import SemanticResult
from .shard import Shard, ground_truth_digest

FORMAT, VERSION = "segtool-partial", 2  # 2: per-image rows and slices (:mod:`.partial_slices`)


def segtool_version() -> str:
    """segtool's version (read when asked: ``segtool/__init__`` imports this module)."""
    from .. import __version__

    return __version__


KINDS = ("panoptic", "semantic", "instance")
HEADER = "header.json"
MAX_HEADER = 64 << 20  # a header lists categories and parameters: far less than this
# the arrays each kind holds: name -> (dtype, rank); their lengths are checked against each other
ARRAYS: dict[str, dict[str, tuple[str, int]]] = {
    "panoptic": {"tp": ("<i8", 1), "fp": ("<i8", 1), "fn": ("<i8", 1), "iou": ("<f8", 1)},
    "semantic": {"confusion": ("<i8", 2), "boundary": ("<i8", 2)},
    "instance": _ps.INSTANCE_COLUMNS,  # COCOeval's per-image evaluations, as columns
}


@dataclass
class Partial:
    """One shard's statistics. ``ground_truth``: :func:`.shard.ground_truth_digest`;
    ``params``: everything else that changes the numbers (JSON values); ``counts``: images,
    missing predictions (and for instances objects, masks)."""

    kind: str
    shard: Shard
    ground_truth: str
    params: dict[str, Any]
    categories: tuple[Category, ...]
    counts: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    segtool: str = field(default_factory=segtool_version)
    path: str | None = field(default=None, compare=False)
    rows: list[dict[str, Any]] | None = None  # --per-image's, and each one's place (:mod:`.partial_slices`)
    order: list[int] | None = None

    def header(self) -> dict[str, Any]:
        """The ``header.json`` member."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "segtool": self.segtool,
            "kind": self.kind,
            "shard": [self.shard.index, self.shard.count],
            "ground_truth": self.ground_truth,
            "params": self.params,
            "categories": [c.to_dict() for c in self.categories],
            "counts": self.counts,
            "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in self.arrays.items()},
            **({} if self.rows is None else {"per_image": {"rows": self.rows, "order": self.order}}),
        }


def of_panoptic(result: PanopticResult, shard: Shard, digest: str, params: dict[str, Any]) -> Partial:
    """A panoptic shard's partial: its PQ statistics per category."""
    s = result.stat
    arrays = {"tp": s.tp, "fp": s.fp, "fn": s.fn, "iou": s.iou, **_ps.panoptic_arrays(result.slices)}
    counts = {"images": result.images, "missing": result.missing}
    params = {**params, "boundary": result.boundary, **_ps.params_of(result.per_image, result.slices)}
    out = Partial("panoptic", shard, digest, params, result.categories, counts, arrays)
    out.rows = result.per_image
    return out


def of_semantic(result: SemanticResult, shard: Shard, digest: str, params: dict[str, Any]) -> Partial:
    """A semantic shard's partial: its confusion matrix (and boundary counts)."""
    arrays = {"confusion": result.confusion}
    if result.boundary is not None:
        arrays["boundary"] = result.boundary
    arrays.update(_ps.semantic_arrays(result.slices))
    counts = {"images": result.images, "missing": result.missing}
    params = {**params, "boundary": result.dilation_ratio, **_ps.params_of(result.per_image, result.slices)}
    out = Partial("semantic", shard, digest, params, result.categories, counts, arrays)
    out.rows = result.per_image
    return out


def of_instance(
    kept: Kept, shard: Shard, digest: str, params: dict[str, Any], gt: Sequence[Category], result: Any = None
) -> Partial:
    """An instance shard's partial: the per-image evaluations :func:`accumulate` was given
    (``kept``, :func:`.instance_accumulate.keeping` with ``every``: the evaluation's, then each slice's),
    with the parameters it used; ``gt``: the ground truth's categories (LVIS' frequency
    groups are read from them); ``result``: the shard's, whose per-image rows it keeps."""
    if len(kept) == 0:  # pragma: no cover - every evaluation that returns accumulated
        raise AssertionError("nothing accumulated")
    found, categories, used = kept[0]
    accumulated = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(used).items()}
    if params.get("lvis"):
        accumulated["frequency"] = {str(k): v for k, v in sorted(_lvis.frequencies(gt).items())}
    counts = {"images": found.images, "objects": found.objects, "masks": found.masks}
    rows, sliced = getattr(result, "per_image", None), getattr(result, "slices", None)
    arrays = {**found.export(), **_ps.instance_arrays([c for c, _, _ in kept[1:]] if sliced else [])}
    params = {**params, **accumulated, **_ps.params_of(rows, sliced)}
    out = Partial("instance", shard, digest, params, categories, counts, arrays)
    out.rows = rows
    return out


def write(partial: Partial, path: str | Path) -> None:
    """Write ``partial`` to ``path`` atomically (an existing file is replaced)."""
    with atomic_outputs(Path(path)) as (tmp,), zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        z.writestr(HEADER, json.dumps(partial.header(), indent=1, ensure_ascii=False))
        for name, arr in partial.arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            z.writestr(f"{name}.npy", buf.getvalue())


def read(path: str | Path) -> Partial:
    """A partial written by :func:`write`; anything else is a one-line :class:`FormatError`
    naming the file (not a zip, no header, another format or version, arrays that do not
    match the header)."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as z:
            head = _header(z, where)
            arrays = {name: _array(z, name, spec, where) for name, spec in head["arrays"].items()}
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise FormatError(f"not a segtool partial ({exc})", where) from None
    except OSError as exc:
        raise SegtoolError(exc.strerror or str(exc), where) from None
    return _partial(head, arrays, where)


def _header(z: zipfile.ZipFile, where: str) -> dict[str, Any]:
    try:
        info = z.getinfo(HEADER)
    except KeyError:
        raise FormatError(f"not a segtool partial (no {HEADER})", where) from None
    if info.file_size > MAX_HEADER:
        raise FormatError(f"{HEADER} of {info.file_size} bytes: not a segtool partial", where)
    try:
        head = json.loads(z.read(info))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{HEADER} is not JSON ({exc})", where) from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise FormatError(f"not a segtool partial ({HEADER} has no 'format': {FORMAT!r})", where)
    if head.get("version") != VERSION:
        raise FormatError(
            f"partial format version {head.get('version')!r:.20}; this segtool ({segtool_version()}) reads version {VERSION}",
            where,
        )
    kind = head.get("kind")
    if kind not in KINDS:
        raise FormatError(f"unknown kind {kind!r:.40}: one of {', '.join(KINDS)}", where)
    arrays = head.get("arrays")
    known = {**ARRAYS[kind], **_ps.SLICE_ARRAYS[kind]}
    if not isinstance(arrays, dict) or not set(arrays) <= set(known):
        raise FormatError(f"'arrays' must name some of {', '.join(known)}", where)
    for name, (dtype, rank) in known.items():
        spec = arrays.get(name)
        if spec is None:
            continue
        ok = isinstance(spec, dict) and spec.get("dtype") == dtype and isinstance(spec.get("shape"), list)
        if not ok or len(spec["shape"]) != rank or not all(type(n) is int and n >= 0 for n in spec["shape"]):
            raise FormatError(f"array {name}: expected dtype {dtype} and {rank} dimension(s), got {spec!r:.80}", where)
    return head


def _array(z: zipfile.ZipFile, name: str, spec: dict[str, Any], where: str) -> npt.NDArray[Any]:
    """One ``.npy`` member, its own header checked against ``header.json``'s dtype and shape
    before any data is read: stored (not compressed, so no member unpacks to more than the
    archive holds), of the size the shape says, C or Fortran order, no pickles."""
    member = f"{name}.npy"
    try:
        info = z.getinfo(member)
    except KeyError:
        raise FormatError(f"the header lists {name!r} but there is no {member}", where) from None
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    want = dtype.itemsize * math.prod(shape)
    if info.compress_type != zipfile.ZIP_STORED:
        raise FormatError(f"{member} is compressed; a partial's members are stored", where)
    if not want <= info.file_size <= want + 4096:
        raise FormatError(f"{member}: {info.file_size} bytes for {list(shape)} {spec['dtype']}", where)
    with z.open(info) as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        got_shape, fortran, got_dtype = read_header(f)
        if got_dtype != dtype or tuple(got_shape) != shape:
            raise FormatError(f"{member} holds {got_dtype.str} {list(got_shape)}, the header says {spec!r:.80}", where)
        data = f.read(want)
    if len(data) != want:
        raise FormatError(f"{member} ends early ({len(data)} of {want} bytes)", where)
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


COUNTS = {"images": int, "missing": int, "objects": int, "masks": bool}


def _partial(head: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], where: str) -> Partial:
    """The header's fields checked and typed."""
    shard = head.get("shard")
    if not (isinstance(shard, list) and len(shard) == 2 and all(type(v) is int for v in shard)):
        raise FormatError(f"'shard' must be [I, N], got {shard!r:.40}", where)
    try:
        spec = Shard.check(shard[0], shard[1])
        categories = tuple(_category(c) for c in head.get("categories", []))
    except (SegtoolError, TypeError, KeyError, ValueError) as exc:
        raise FormatError(f"bad header: {exc}", where) from None
    for key, kind in (("ground_truth", str), ("params", dict), ("counts", dict), ("segtool", str)):
        if not isinstance(head.get(key), kind):
            raise FormatError(f"'{key}' must be a {kind.__name__}", where)
    counts = head["counts"]
    bad = [k for k, t in COUNTS.items() if k in counts and (type(counts[k]) is not t or counts[k] < 0)]
    if "images" not in counts or bad:
        raise FormatError(f"'counts' must give 'images' (and {', '.join(COUNTS)}) as counts, got {counts!r:.80}", where)
    _check_lengths(head["kind"], arrays, len(categories), where)
    _ps.check(head["kind"], head, arrays, len(categories), where)
    out = Partial(
        head["kind"], spec, head["ground_truth"], head["params"], categories, counts, arrays, head["segtool"], where
    )
    if "per_image" in head:
        out.rows, out.order = head["per_image"]["rows"], head["per_image"]["order"]
    return out


def _category(rec: dict[str, Any]) -> Category:
    color = rec.get("color")
    return Category(
        int(rec["id"]),
        str(rec["name"]),
        bool(rec.get("isthing", 1)),
        tuple(int(v) for v in color) if isinstance(color, list) and len(color) == 3 else None,  # type: ignore[arg-type]
        str(rec.get("supercategory", "")),
        rec.get("frequency") if rec.get("frequency") in ("r", "c", "f") else None,
    )


def _check_lengths(kind: str, arrays: dict[str, npt.NDArray[Any]], k: int, where: str) -> None:
    """The arrays agree with each other and with the categories, so that a merge cannot
    index out of them."""
    need = {"panoptic": ("tp", "fp", "fn", "iou"), "semantic": ("confusion",), "instance": tuple(ARRAYS["instance"])}
    missing = [n for n in need[kind] if n not in arrays]
    if missing:
        raise FormatError(f"a {kind} partial needs the array {missing[0]!r}", where)
    if kind == "panoptic":
        bad = [n for n in need[kind] if arrays[n].shape != (k,)]
    elif kind == "semantic":
        bad = [] if arrays["confusion"].shape == (k, k + 1) else ["confusion"]
        bad += [] if "boundary" not in arrays or arrays["boundary"].shape == (k, 2) else ["boundary"]
    else:
        d = len(arrays["category"])
        bad = [n for n in ("score", "rank", "flags") if arrays[n].shape[0] != d]
        bad += [] if arrays["image_rank"].shape == arrays["image_count"].shape else ["image_count"]
        bad += [] if int(arrays["image_count"].sum()) == d and (arrays["image_count"] > 0).all() else ["image_count"]
        bad += [] if arrays["npig"].shape[0] == len(arrays["npig_ids"]) else ["npig"]
    if bad:
        raise FormatError(f"array {bad[0]} does not fit the others ({k} categories)", where)


def _reading_value(value: Any) -> Any:
    """A read option as a partial records it: a label map (a path or parsed) by a digest of
    its entries, so that two shards read through different maps do not merge."""
    if isinstance(value, bool | int | float | str) and not isinstance(value, Path):
        return value
    labels = value if isinstance(value, LabelMap) else load_labels(value)
    text = repr((labels.labels, labels.output, labels.unlisted, labels.offset))
    return "labels:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class Plan:
    """What an evaluation does about shards: the images it scores (``shard``) and where its
    partial goes (``out``; None: nowhere, the shard's own result only)."""

    shard: Shard
    out: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the caller's, beside the metric's own

    @classmethod
    def of(
        cls, shard: str | Shard | None, out: str | Path | None, reading: dict[str, Any] | None = None, **params: Any
    ) -> Plan | None:
        """The plan of ``shard`` (``"I/N"``) and ``partial`` (a path), None for neither;
        ``reading``: the ground truth's read options, recorded (a label map by its content)."""
        if shard is None and out is None:
            return None
        if reading:
            params["reading"] = {k: _reading_value(v) for k, v in sorted(reading.items()) if v is not None}
        return cls(Shard(1, 1) if shard is None else Shard.parse(shard), None if out is None else Path(out), params)

    def save(
        self, make: Callable[[Shard, str], Partial], ids: Iterable[Any], categories: Sequence[Category], gt: Any
    ) -> None:
        """Write the partial ``make(shard, ground-truth digest)`` when one was asked for;
        ``ids``: every ground-truth image id (the shard's and the others'), in the order
        the unsharded run gives its rows; ``gt``: the ground truth as given (its bytes are
        hashed when it is a file)."""
        if self.out is None:
            return
        path = gt if isinstance(gt, str | Path) else None
        ids = list(ids)
        partial = make(self.shard, ground_truth_digest(ids, categories, path))
        if partial.rows is not None:
            partial.order = _ps.places(partial.rows, ids)
        write(partial, self.out)

    def instance(
        self,
        score: Callable[..., Any],
        pairs: Iterable[Any],
        categories: tuple[Category, ...],
        *rest: Any,
        path: str | None,
    ) -> Any:
        """``score(pairs, categories, *rest)`` (an instance scorer) on this shard's images,
        its per-image evaluations kept and written as the partial; ``pairs`` are (rank,
        ground truth, prediction) triples of every ground-truth image."""
        seen: list[Any] = []

        def image(triple: Any) -> Any:
            seen.append(triple[1].image.id)
            return triple[1].image.id

        progress = rest[-1] if rest else None
        with keeping(every=True) as kept:
            result = score(self.shard.pairs(pairs, image, progress), categories, *rest)
        rows_order = sorted(seen, key=id_order)  # instance rows come in ascending image id
        self.save(lambda s, d: of_instance(kept, s, d, self.params, categories, result), rows_order, categories, path)
        return result
