"""Compare two predictions against one ground truth: every headline metric of A and B, the
delta ``B - A`` with a paired bootstrap confidence interval over images, per-class deltas,
and the images whose metric changed most (docs/compare.md). Never prints.

Each prediction is scored once by the ordinary evaluation (the numbers are ``segtool eval``'s),
which is asked for the per-image statistics it already computes; the bootstrap then only
sums those (:mod:`.metrics.bootstrap`): no image is scored twice.

Example:
    >>> c = compare("panoptic", "gt.json", "baseline.json", "candidate.json", samples=1000, seed=0)
    >>> c.to_dict()["metrics"]["PQ"]     # {"a": .., "b": .., "delta": .., "ci": [lo, hi]}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import formats
from .errors import SegtoolError
from .evaluate import evaluate_instance, evaluate_panoptic, evaluate_semantic
from .metrics import bootstrap as bs
from .metrics.instance_accumulate import keeping
from .metrics.instance_result import IOU_THRS, STAT_NAMES, InstanceResult
from .metrics.panoptic_result import PanopticResult
from .metrics.semantic import SemanticResult
from .metrics.slices import Slices
from .model import Dataset
from .pairing import id_order

TASKS = ("panoptic", "instance", "semantic")
PANOPTIC = tuple(f"{m}{s}" for s in ("", "_th", "_st") for m in ("PQ", "SQ", "RQ"))
SEMANTIC = ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy")
METRICS = {"panoptic": PANOPTIC, "instance": STAT_NAMES, "semantic": SEMANTIC}
PER_IMAGE = {"panoptic": "pq", "instance": "AP", "semantic": "mIoU"}  # the per-image rows' metric


@dataclass
class Scored:
    """One prediction's evaluation: its headline metrics, per-class metric, per-image rows
    (ground-truth order) and bootstrap values per metric (``(B,)`` each)."""

    metrics: dict[str, float | None]
    per_class: dict[Any, tuple[str, float | None]]
    rows: list[dict[str, Any]]
    draws: dict[str, bs.F64] = field(default_factory=dict)


@dataclass
class Comparison:
    """The result of :func:`compare`; :meth:`to_dict` is the ``--json`` shape."""

    task: str
    names: tuple[str, str]
    a: Scored
    b: Scored
    samples: int
    seed: int
    level: float
    top: int
    image_ids: list[Any]  # the order the draws index (see :func:`image_ids`)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per metric: ``a``, ``b``, ``delta`` (b - a) and ``ci`` (the percentile interval of
        the paired bootstrap's deltas; None where the metric has no bootstrap)."""
        out: dict[str, dict[str, Any]] = {}
        for name, va in self.a.metrics.items():
            vb = self.b.metrics[name]
            delta = None if va is None or vb is None else vb - va
            ci = None
            if name in self.a.draws and self.samples:
                ci = bs.interval(self.b.draws[name] - self.a.draws[name], self.level)
            out[name] = {"a": va, "b": vb, "delta": delta, "ci": ci}
        return out

    def per_class(self) -> dict[str, dict[str, Any]]:
        """Per class id (as a string, JSON's keys): name, the class metric of A and B, delta."""
        out: dict[str, dict[str, Any]] = {}
        for cid, (name, va) in self.a.per_class.items():
            vb = self.b.per_class[cid][1]
            out[str(cid)] = {"name": name, "a": va, "b": vb, "delta": None if va is None or vb is None else vb - va}
        return out

    def images(self) -> list[dict[str, Any]]:
        """The ``top`` images with the largest |delta| of the per-image metric (ties in
        ground-truth order); images where it is undefined on either side come last."""
        metric = PER_IMAGE[self.task]
        rows = []
        for ra, rb in zip(self.a.rows, self.b.rows, strict=True):
            va, vb = ra.get(metric), rb.get(metric)
            delta = None if va is None or vb is None else vb - va
            rows.append(
                {"image_id": ra["image_id"], "file_name": ra.get("file_name"), "a": va, "b": vb, "delta": delta}
            )
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["delta"] is None, -abs(rows[i]["delta"] or 0.0), i))
        return [{**rows[i], "metric": metric} for i in order[: self.top]]

    def regressions(self, gates: Sequence[tuple[str, float]]) -> list[str]:
        """The gates (metric, tolerance) that B fails: ``delta < -tolerance`` (B worse than
        A by more than the tolerance); one message each."""
        check_gates(self.task, gates)
        table = self.metrics()
        failed = []
        for name, tol in gates:
            delta = table[name]["delta"]
            if delta is not None and delta < -tol:
                failed.append(
                    f"{name} fell by {-delta:.4f} ({self.names[0]} {table[name]['a']:.4f} -> {self.names[1]} {table[name]['b']:.4f}), tolerance {tol:g}"
                )
        return failed

    def to_dict(self) -> dict[str, Any]:
        """``{"metrics", "per_class", "images"}`` plus what was compared and how."""
        return {
            "task": self.task,
            "names": {"a": self.names[0], "b": self.names[1]},
            "bootstrap": {
                "samples": self.samples,
                "seed": self.seed,
                "level": self.level,
                "percentiles": bs.percentiles(self.level),
            },
            "metrics": self.metrics(),
            "per_class": self.per_class(),
            "images": self.images(),
        }


def check_gates(task: str, gates: Sequence[tuple[str, float]]) -> None:
    """Every gate names a metric of ``task`` (one line naming the first that does not)."""
    for name, _ in gates:
        if name not in METRICS[task]:
            raise SegtoolError(f"--fail-if-worse: unknown metric {name!r} for {task}: {', '.join(METRICS[task])}")


def compare(
    task: str,
    gt: Path | str,
    pred_a: Path | str,
    pred_b: Path | str,
    *,
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    top: int = 10,
    names: tuple[str, str] = ("A", "B"),
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Comparison:
    """Score ``pred_a`` and ``pred_b`` against ``gt`` (``task``: panoptic, instance or
    semantic, with ``segtool eval``'s defaults), then a paired bootstrap of ``samples``
    draws of the images (``seed``), a ``level`` percentile interval of each delta."""
    if task not in TASKS:
        raise SegtoolError(f"unknown task {task!r}: one of {', '.join(TASKS)}")
    if samples < 0 or not 0 < level < 1 or top < 0:
        raise SegtoolError("--bootstrap and --top must be >= 0, the level between 0 and 1 (exclusive)")
    scorers: dict[str, Callable[..., Scored]] = {"panoptic": _panoptic, "semantic": _semantic}
    scorers["instance"] = partial(_instance, memo={})  # A's ground truth sums, for B
    score = scorers[task]
    ids, made = _ids(task, gt)
    draws = bs.counts_of(bs.indices(len(ids), samples, seed), len(ids)) if samples else None
    both = _Twice(progress)
    a = score(made, pred_a, ids, draws, jobs, both)
    b = score(made, pred_b, ids, draws, jobs, both)
    return Comparison(task, names, a, b, samples, seed, level, top, ids)


class _Twice:
    """A progress callback told of both evaluations at once: the first total it is told is
    doubled, the second one ignored."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress, self.told = progress, False

    def __call__(self, n: int) -> None:
        if self.progress is not None:
            self.progress(n)

    def set_total(self, total: int) -> None:
        setter = getattr(self.progress, "set_total", None)
        if setter is not None and not self.told:
            setter(2 * total)
        self.told = True


def _ids(task: str, gt: Path | str) -> tuple[list[Any], Any]:
    """The ground truth's image ids in the order the draws index them (instance:
    pycocotools' sorted ids, the order its per-image evaluations are ranked in; otherwise
    the ground truth's own order, as the per-image rows), and what the evaluations are
    given as ground truth (instance: the dataset, read once for both)."""
    if task == "instance":
        ds = formats.read(Path(gt))
        return sorted((s.image.id for s in ds.samples), key=id_order), ds
    fmt = "coco-panoptic" if task == "panoptic" and Path(gt).suffix.lower() == ".json" else None
    ds = formats.read(Path(gt), fmt)
    return [s.image.id for s in ds.samples], gt


def _each_image(ids: list[Any]) -> Slices:
    """A slice per image: the evaluation's per-slice sums are then its per-image statistics."""
    return Slices(tuple(str(k) for k in range(len(ids))), {iid: (k,) for k, iid in enumerate(ids)})


def _panoptic(gt: Any, pred: Any, ids: list[Any], draws: bs.F64 | None, jobs: int, progress: Any) -> Scored:
    """PQ as ``eval panoptic``; the per-image PQ statistics come from one slice per image
    (the evaluation sums them as it scores), the bootstrap from their weighted sums."""
    r = evaluate_panoptic(gt, pred, jobs=jobs, progress=progress, per_image=True, slices=_each_image(ids))
    if not isinstance(r, PanopticResult) or r.slices is None:  # pragma: no cover - asked for above
        raise AssertionError("no slices")
    d = r.to_panopticapi()
    metrics: dict[str, float | None] = {}
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        for m in ("PQ", "SQ", "RQ"):
            metrics[m + suffix] = float(d[group][m.lower()])
    per_class: dict[Any, tuple[str, float | None]] = {
        c.id: (c.name, float(d["per_class"][c.id]["pq"])) for c in r.categories
    }
    out = Scored(metrics, per_class, r.per_image or [])
    if draws is not None:
        parts = [r.slices[str(k)].stat for k in range(len(ids))]
        stat = {
            k: np.array([getattr(p, k) for p in parts], np.float64).reshape(len(ids), -1)
            for k in ("tp", "fp", "fn", "iou")
        }
        isthing = np.array([c.isthing for c in r.categories], bool)
        out.draws = bs.panoptic(draws, stat, isthing)
    return out


def _semantic(gt: Any, pred: Any, ids: list[Any], draws: bs.F64 | None, jobs: int, progress: Any) -> Scored:
    """mIoU and co. as ``eval semantic``; each image's confusion matrix (its slice),
    reduced to three counts per class, is what the bootstrap sums."""
    r = evaluate_semantic(gt, pred, jobs=jobs, progress=progress, per_image=True, slices=_each_image(ids))
    if not isinstance(r, SemanticResult) or r.slices is None:  # pragma: no cover - asked for above
        raise AssertionError("no slices")
    d = replace(r, slices=None, per_image=None).to_dict()  # not every slice's dict
    metrics: dict[str, float | None] = {m: float(d[m]) for m in SEMANTIC}
    per_class = {cid: (v["name"], v["iou"]) for cid, v in d["per_class"].items()}
    out = Scored(metrics, per_class, r.per_image or [])
    if draws is not None:
        parts = [bs.semantic_stats(r.slices[str(k)].confusion) for k in range(len(ids))]
        k_n = len(r.categories)
        stat = {k: np.array([p[k] for p in parts], np.float64).reshape(len(ids), k_n) for k in ("tp", "gt", "pred")}
        out.draws = bs.semantic(draws, stat)
    return out


def _instance(
    gt: Dataset, pred: Any, ids: list[Any], draws: bs.F64 | None, jobs: int, progress: Any, memo: dict[str, Any]
) -> Scored:
    """COCOeval's 12 numbers as ``eval instance``; its per-image evaluations (kept as a
    shard's partial keeps them) and each image's non-ignored ground truth per category and
    area range (the evaluation's own counts, kept with them) are what the bootstrap
    re-accumulates. LVIS' federated rules are refused: they are not re-accumulated here.
    ``memo``: what A's bootstrap summed of the ground truth, for B's (:func:`.bootstrap.instance`)."""
    with keeping() as kept:
        r = evaluate_instance(gt, pred, jobs=jobs, progress=progress, per_image=True)
    if not isinstance(r, InstanceResult) or not kept:
        raise SegtoolError("compare scores COCOeval's AP; an LVIS ground truth is not supported", gt.path or None)
    stats = r.stats.tolist()
    metrics: dict[str, float | None] = {
        n: (None if v == -1 else float(v)) for n, v in zip(STAT_NAMES, stats, strict=True)
    }
    per_class = {c.id: (c.name, ap) for c, ap in zip(r.categories, r.per_category_ap().values(), strict=True)}
    out = Scored(metrics, per_class, r.per_image or [])
    if draws is not None:
        found, categories, params = kept[0]
        if len(IOU_THRS) != 10:  # pragma: no cover - COCOeval's thresholds
            raise AssertionError("AP50/AP75 are read at thresholds 0 and 5")
        if found.image_npig is None:  # pragma: no cover - made while keeping, as here
            raise AssertionError("the evaluation kept no per-image ground truth counts")
        npig = _npig(found.image_npig, len(ids), categories, len(params.area_rng))
        values = bs.instance(draws, bs.instance_stats(found, categories, params, npig), jobs, memo)
        out.draws = {k: v for k, v in values.items() if k in metrics}
    return out


def _npig(per_image: Sequence[tuple[int, dict[int, Any]]], n: int, categories: tuple[Any, ...], areas: int) -> bs.F64:
    """``(N, K, A)``: each image's non-ignored ground truth per category and area range
    (COCOeval's rule: not crowd, area within the range), images by rank (``ids``' order):
    what the evaluation counted as it scored each image (no second read of the ground truth)."""
    place = {c.id: k for k, c in enumerate(categories)}
    out = np.zeros((n, len(categories), areas))
    for rank, counts in per_image:
        for c, row in counts.items():
            k = place.get(c)
            if k is not None:
                out[rank, k] = row
    return out
