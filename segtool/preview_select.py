"""Which images ``preview`` renders, and in what order: the class filter (``--class``), the
score floor of instance predictions (``--min-score``), and the order by a per-image metric
(``--sort``, worst first by default when predictions are given).

The metrics are not computed here: the evaluation that matches the predictions (``eval
panoptic``, ``eval instance`` or ``eval semantic``) runs on the chosen images with its
per-image rows (:mod:`segtool.metrics.per_image`), and the order is read off those rows. So
the gallery's order is exactly what ``eval ... --per-image`` reports for the same images.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SegtoolError
from .model import Annotation, Dataset, ImageInfo, Sample, Source, decodes_pixels, listed_segments
from .parallel import imap, jobs_for
from .progress import announce

# per kind of matching: the name given to --sort -> (its key in the per-image row, whether a
# high value is the bad one). pq/sq/rq, AP, mIoU, accuracy and TP are bad when low; FP and FN
# when high.
METRICS: dict[str, dict[str, tuple[str, bool]]] = {
    "panoptic": {
        "pq": ("pq", False),
        "sq": ("sq", False),
        "rq": ("rq", False),
        "tp": ("tp", False),
        "fp": ("fp", True),
        "fn": ("fn", True),
    },
    "instance": {"ap": ("AP", False), "tp": ("tp", False), "fp": ("fp", True), "fn": ("fn", True)},
    "semantic": {"miou": ("mIoU", False), "accuracy": ("pixel_accuracy", False)},
}
DEFAULT = {"panoptic": "pq", "instance": "ap", "semantic": "miou"}
FILE_ORDER = "file"  # --sort file: the dataset's own order, no evaluation


def select(ds: Dataset, ids: list[Any] | None, sample: int | None, seed: int) -> list[Sample]:
    """The images to render: by id (all must exist), a seeded random sample, or all."""
    if ids:
        by_id = {s.image.id: s for s in ds.samples}
        # an id typed on a command line has no type: 139 is the image 139, or "139" when
        # the dataset names its images by strings
        found = [i if i in by_id else str(i) for i in ids]
        missing = [i for i, f in zip(ids, found, strict=True) if f not in by_id]
        if missing:
            raise SegtoolError(f"--ids: image id {missing[0]} is not in the dataset", ds.path)
        return [by_id[i] for i in found]
    if sample is not None and sample < len(ds.samples):
        chosen = sorted(random.Random(seed).sample(range(len(ds.samples)), sample))
        return [ds.samples[k] for k in chosen]
    return list(ds.samples)


@dataclass(frozen=True)
class AboveScore:
    """A prediction source whose detections scoring below ``floor`` are dropped on load, so
    the render, the error panel and the evaluation all see the same, fewer detections."""

    source: Source
    floor: float

    @property
    def decodes_pixels(self) -> bool:
        """As the wrapped source (a results list's RLE strings decode no pixels to load)."""
        return decodes_pixels(self.source)

    def load(self, image: ImageInfo) -> Annotation:
        """The wrapped source's annotation without its detections scoring below ``floor``."""
        ann = self.source.load(image)
        if ann.rles is None or ann.segments.score is None:
            raise SegtoolError(
                "--min-score applies to instance predictions (a results list of scored detections)",
                ann.origin or None,
            )
        keep = ann.segments.score >= self.floor
        if keep.all():
            return ann
        raw = None if ann.raw is None else tuple(r for r, k in zip(ann.raw, keep.tolist(), strict=True) if k)
        rles = tuple(r for r, k in zip(ann.rles, keep.tolist(), strict=True) if k)
        return dataclasses.replace(ann, segments=ann.segments[keep], rles=rles, raw=raw)


def above(preds: dict[Any, Sample | None], floor: float | None) -> dict[Any, Sample | None]:
    """Each prediction with its detections below ``floor`` dropped (None: as they are)."""
    if floor is None:
        return preds
    return {k: None if p is None else Sample(p.image, AboveScore(p.source, floor)) for k, p in preds.items()}


def class_ids(ds: Dataset, names: Sequence[str]) -> frozenset[int]:
    """The category ids named (``--class person,car``); an unknown name is an error that
    lists a few known ones. Exact names first, then case-insensitive."""
    by_name = {c.name: c.id for c in ds.categories}
    folded = {c.name.casefold(): c.id for c in ds.categories}
    out = set()
    for name in names:
        cid = by_name.get(name, folded.get(name.casefold()))
        if cid is None:
            known = ", ".join(sorted(by_name)[:8]) + (", …" if len(by_name) > 8 else "")
            raise SegtoolError(f"--class: no category named {name!r} (known: {known})", ds.path)
        out.add(cid)
    return frozenset(out)


def _categories(sample: Sample | None) -> frozenset[int]:
    if sample is None:
        return frozenset()
    segs = listed_segments(sample.source)  # the table a JSON lists: no pixel read
    if segs is None or isinstance(sample.source, AboveScore):
        segs = sample.load().segments
    return frozenset(int(c) for c in segs.category_id.tolist())


def _shows(job: tuple[Sample, Sample | None, frozenset[int]]) -> bool:
    gt, pred, wanted = job
    return bool(_categories(gt) & wanted) or bool(_categories(pred) & wanted)


def with_classes(
    chosen: list[Sample], preds: dict[Any, Sample | None], wanted: frozenset[int], jobs: int
) -> list[Sample]:
    """The images whose ground truth or prediction has a segment of a ``wanted`` category
    (a prediction below ``--min-score`` does not count), in their order."""
    work = ((s, preds.get(s.image.id), wanted) for s in chosen)
    keep = list(imap(_shows, work, jobs=jobs_for(len(chosen), jobs), chunksize=8))
    return [s for s, k in zip(chosen, keep, strict=True) if k]


def matching(preds: dict[Any, Sample | None], gt: Dataset) -> str:
    """How predictions are judged: ``instance`` for detections (masks that may overlap, as
    the render's error panel decides from the first prediction), ``panoptic`` for a
    partition against a panoptic ground truth, ``semantic`` otherwise (a semantic ground
    truth, or an instance one, which ``eval panoptic`` refuses: seen as a label map)."""
    first = next((p for p in preds.values() if p is not None), None)
    if first is not None:
        source = first.source.source if isinstance(first.source, AboveScore) else first.source
        if source.load(first.image).rles is not None:
            return "instance"
    elif gt.kind == "instance":
        return "instance"
    return "panoptic" if gt.kind == "panoptic" else "semantic"


def metric_of(kind: str, sort: str | None) -> tuple[str, bool]:
    """The per-image row key of ``--sort`` (the kind's default when None) and whether high
    is bad; an unknown name is an error listing the kind's metrics."""
    name = DEFAULT[kind] if sort is None else sort.casefold()
    if name not in METRICS[kind]:
        known = ", ".join([*METRICS[kind], FILE_ORDER])
        raise SegtoolError(f"--sort {sort}: {kind} predictions have the per-image metrics {known}")
    return METRICS[kind][name]


def per_image(
    ds: Dataset,
    chosen: list[Sample],
    preds: dict[Any, Sample | None],
    kind: str,
    jobs: int,
    ignore_value: int,
    progress: Callable[[int], None] | None = None,
) -> dict[Any, dict[str, Any]]:
    """The evaluation's per-image rows of the chosen images, by image id. ``progress`` is
    told of each image scored, not of their number (the caller announces the total)."""
    from . import evaluate  # the evaluation stack only when sorting by a metric

    tell = None if progress is None else (lambda n: progress(n))  # no set_total: the total is the caller's

    gt = dataclasses.replace(ds, samples=tuple(chosen))
    got = tuple(p for p in (preds.get(s.image.id) for s in chosen) if p is not None)
    pred = dataclasses.replace(ds, samples=got, kind="instance" if kind == "instance" else ds.kind)
    result: Any
    if kind == "instance":
        result = evaluate.evaluate_instance(gt, pred, jobs=jobs, per_image=True, progress=tell)
    elif kind == "semantic":
        result = evaluate.evaluate_semantic(
            gt, pred, allow_missing=True, jobs=jobs, per_image=True, ignore_value=ignore_value, progress=tell
        )
    else:
        result = evaluate.evaluate_panoptic(gt, pred, allow_missing=True, jobs=jobs, per_image=True, progress=tell)
    return {row["image_id"]: row for row in result.per_image or ()}


def ordered(
    chosen: list[Sample], rows: dict[Any, dict[str, Any]], key: str, high_is_bad: bool, descending: bool | None
) -> list[Sample]:
    """The images by ``rows[id][key]``: worst first unless ``descending`` says the order
    (True: highest first). Ties keep file order; images without a value (no category to
    average, no ground truth) come last either way."""
    if descending is None:
        descending = high_is_bad

    def value(s: Sample) -> tuple[bool, float]:
        v = rows.get(s.image.id, {}).get(key)
        if v is None:
            return True, 0.0
        return False, -float(v) if descending else float(v)

    return sorted(chosen, key=value)


@dataclass(frozen=True)
class Choice:
    """How the images to render are filtered and ordered (see the module doc).

    ``sort``: a per-image metric name, ``"file"`` for the dataset's order (the default, which
    runs no evaluation), or None: the matching's default metric (pq, ap, miou) with
    predictions, file order without (the CLI's default).
    ``descending``: None for worst first; ``classes``: category names an image must show
    (ground truth or prediction); ``min_score``: the score floor of instance predictions."""

    sort: str | None = "file"
    descending: bool | None = None
    classes: tuple[str, ...] = ()
    min_score: float | None = None


@dataclass
class Arranged:
    """The images in render order, their per-image rows (by id) and the order's description."""

    samples: list[Sample]
    rows: dict[Any, dict[str, Any]]
    sort: dict[str, Any] | None
    note: str = ""  # why the default order could not be made (the images then keep file order)
    announced: bool = False  # the progress was told the total (scoring and rendering) already


def arrange(
    ds: Dataset,
    chosen: list[Sample],
    preds: dict[Any, Sample | None] | None,
    choice: Choice,
    jobs: int,
    ignore_value: int = 255,
    progress: Callable[[int], None] | None = None,
) -> Arranged:
    """Filter and order ``chosen`` as ``choice`` says (``preds``: None without predictions;
    they are expected already past :func:`above`)."""
    by_file = choice.sort is not None and choice.sort.casefold() == FILE_ORDER
    if preds is None:
        if choice.sort is not None and not by_file:
            raise SegtoolError(f"--sort {choice.sort}: per-image metrics need predictions (--pred)")
        if choice.min_score is not None:
            raise SegtoolError("--min-score drops predictions: it needs --pred")
    if choice.classes:
        chosen = with_classes(chosen, preds or {}, class_ids(ds, choice.classes), jobs)
    if preds is None or by_file:
        return Arranged(chosen, {}, None)
    kind = matching(preds, ds)
    key, high_is_bad = metric_of(kind, choice.sort)
    announce(progress, 2 * len(chosen))  # each image scored, then rendered
    steps = [0]

    def step(n: int) -> None:
        steps[0] += n
        if progress is not None:
            progress(n)

    try:
        rows = per_image(ds, chosen, preds, kind, jobs, ignore_value, step) if chosen else {}
    except SegtoolError as exc:
        if choice.sort is not None:  # asked for: the evaluation's refusal is the answer
            raise
        # the default order only: the renders' own matching is laxer (unscored detections)
        announce(progress, steps[0] + len(chosen))
        return Arranged(chosen, {}, None, f"in file order: eval {kind} would not score these ({exc})", True)
    descending = high_is_bad if choice.descending is None else choice.descending
    chosen = ordered(chosen, rows, key, high_is_bad, descending)
    worst = "worst first" if descending == high_is_bad else "best first"
    sort = {"metric": key, "matching": kind, "descending": descending, "order": worst}
    return Arranged(chosen, rows, sort, announced=True)
