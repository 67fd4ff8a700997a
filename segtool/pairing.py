"""Ground truth paired with predictions, image by image, for any pair of formats.

Every command that compares two datasets (eval, preview, and what comes later) pairs them
here and nowhere else: by image id when the predictions carry the ground truth's ids, by
file stem when they only have file names (a folder of label maps). A prediction for an
image the ground truth lacks, two predictions for one image, or (unless allowed) a
ground-truth image without one is an error naming the prediction file: never a silently
different number.

Two ways in: :func:`pair` for predictions held as a table of sources (small per image),
and :func:`stream` for two datasets streamed from their files, where neither is held: a
light first pass of image ids, then a walk that reads predictions as the ground truth needs
them.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .errors import SegtoolError
from .model import Category, Dataset, Sample, Source

By = Literal["id", "stem"]


def stem(file_name: str) -> str:
    """An image's file stem: what a prediction named after its image is matched by."""
    return Path(file_name).stem


@dataclass(frozen=True)
class Predictions:
    """Predicted sources keyed by image id (``by="id"``) or by file stem (``by="stem"``),
    each loaded with its ground-truth image's record. ``path`` names them in errors."""

    sources: Mapping[Any, Source]
    by: By = "id"
    path: str = ""

    @classmethod
    def of(cls, ds: Dataset) -> Predictions:
        """A whole dataset as predictions, by image id (its ids must be unique)."""
        sources: dict[Any, Source] = {}
        for s in ds.samples:
            if s.image.id in sources:
                raise SegtoolError(
                    f"image id {shown(s.image.id)} has several prediction records; which one counts is ambiguous",
                    ds.path,
                )
            sources[s.image.id] = s.source
        return cls(sources, "id", ds.path)

    def key(self, sample: Sample) -> Any:
        """The key of a ground-truth sample in this table."""
        return sample.image.id if self.by == "id" else stem(sample.image.file_name)


def pair(
    gt: Sequence[Sample], preds: Predictions, *, allow_missing: bool = False
) -> list[tuple[Sample, Sample | None]]:
    """(ground truth, prediction) in ground-truth order; the prediction takes the ground
    truth's image record. See the module doc for what is an error."""
    keys = [preds.key(s) for s in gt]
    if preds.by == "stem" and len(set(keys)) < len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise SegtoolError(f"several ground-truth images have the file stem {twice!r}; pair them by id", preds.path)
    known = set(keys)
    stray = next((k for k in preds.sources if k not in known), None)
    if stray is not None:
        if preds.by == "stem":
            raise SegtoolError(f"prediction {stray!r} matches no ground-truth image (by file stem)", preds.path)
        raise SegtoolError(f"prediction for image id {shown(stray)}, which the ground truth does not have", preds.path)
    missing = [s.image.id for s, k in zip(gt, keys, strict=True) if k not in preds.sources]
    if missing and not allow_missing:
        raise _missing(len(missing), missing[0], preds.path)
    return [
        (s, Sample(s.image, preds.sources[k]) if k in preds.sources else None) for s, k in zip(gt, keys, strict=True)
    ]


def _missing(count: int, first: Any, path: str) -> SegtoolError:
    return SegtoolError(
        f"no prediction for {count} ground-truth image(s), e.g. image id {shown(first)}; "
        "pass --allow-missing to count them as all false negatives",
        path,
    )


ImageId = int | str
Ids = npt.NDArray[Any]  # int64 when every id is an integer (8 bytes each), else objects


def shown(image_id: Any) -> str:
    """An image id as a message shows it: a string quoted, so that "2299" and 2299 differ."""
    return repr(image_id) if isinstance(image_id, str) else str(image_id)


@dataclass
class Stream:
    """One side read one image at a time.

    ``ids``: the image ids of its records, in file order, from a light first pass;
    ``items()``: a fresh iterator of (image id, Sample) for ground truth, of (image id,
    Source) for predictions, in the same order; ``known``: every image id the side lists
    (ground truth: its ``images``, which may have no record); ``path``: for errors.
    ``listed`` False: a one-pass stream of predictions (a results list, an image's
    detections grouped as they come), whose ``ids`` are not known ahead (empty): only
    :func:`ranked` pairs it."""

    ids: Ids
    items: Callable[[], Iterator[tuple[ImageId, Any]]]
    path: str
    categories: tuple[Category, ...] = ()
    known: Ids | None = None
    listed: bool = True


@dataclass
class PairStream:
    """Ground truth and predictions paired image by image, streamed from both sides."""

    categories: tuple[Category, ...]
    count: int  # pairs (ground-truth images with a record)
    missing: int  # of which without a prediction
    pairs: Iterator[tuple[Sample, Sample | None]]


def ids_of(values: Iterable[ImageId], path: str, what: str) -> Ids:
    """Image ids as one array: int64 while they are all integers (the first pass of a
    large file holds nothing else), objects once a string id appears (COCO files from
    Cityscapes and other tools name images by strings)."""
    ints = array("q")
    other: list[ImageId] | None = None
    for v in values:
        if other is not None:
            other.append(v)
        elif type(v) is int and -(2**63) <= v < 2**63:
            ints.append(v)
        elif type(v) is int:
            raise SegtoolError(f"{what}: an image id does not fit in 64 bits", path)
        elif type(v) is str:
            other = [*ints.tolist(), v]
        else:
            raise SegtoolError(f"{what}: image ids must be integers or strings, got {v!r:.40}", path)
    if other is not None:
        bad = next((v for v in other if type(v) not in (int, str)), None)
        if bad is not None:
            raise SegtoolError(f"{what}: image ids must be integers or strings, got {bad!r:.40}", path)
        out = np.empty(len(other), dtype=object)
        out[:] = other
        return out
    return np.frombuffer(ints, np.int64).copy() if len(ints) else np.zeros(0, np.int64)


def _member(ids: Ids, known: Ids) -> npt.NDArray[np.bool_]:
    """Which of ``ids`` are in ``known``: a sorted search for integers, a set for the rest
    (a string and an integer are different ids, as in pycocotools' dictionaries)."""
    if ids.dtype != object and known.dtype != object:
        return np.isin(ids, known)
    table = set(known.tolist())
    return np.fromiter((v in table for v in ids.tolist()), bool, len(ids))


def _check_ids(ids: Ids, known: Ids, what: str, path: str) -> None:
    """Every id listed by the ground truth, none twice."""
    stray = ids[~_member(ids, known)].tolist()
    if stray:
        owner = "'images' does not list" if what == "annotation" else "the ground truth does not have"
        raise SegtoolError(f"{what} for image id {shown(stray[0])}, which {owner}", path)
    twice = _first_repeated(ids)
    if twice is not None:
        raise SegtoolError(f"image id {shown(twice)} has several {what} records; which one counts is ambiguous", path)


def _first_repeated(ids: Ids) -> ImageId | None:
    """The first id (in file order) that appears more than once, or None."""
    if ids.dtype != object:
        ordered = np.sort(ids)
        twice = ordered[1:][ordered[1:] == ordered[:-1]]
        return int(ids[np.isin(ids, twice)][0]) if twice.size else None
    counts = Counter(ids.tolist())
    return next((v for v in ids.tolist() if counts[v] > 1), None)


def stream(gt: Stream, pred: Stream, *, allow_missing: bool = False) -> PairStream:
    """Pair two streamed sides by image id without holding either.

    When both list images in the same order (the usual case) nothing is held; otherwise the
    predictions read ahead wait in a dict until their image comes.
    """
    known = gt.known if gt.known is not None else gt.ids
    _check_ids(gt.ids, known, "annotation", gt.path)
    _check_ids(pred.ids, known, "prediction", pred.path)
    missing = gt.ids[~_member(gt.ids, pred.ids)]
    if missing.size and not allow_missing:
        raise _missing(int(missing.size), missing.tolist()[0], pred.path)
    predicted = _member_test(pred.ids)

    def pairs() -> Iterator[tuple[Sample, Sample | None]]:
        pending: dict[ImageId, Any] = {}
        ahead = pred.items()
        for iid, sample in gt.items():
            if not predicted(iid):
                yield sample, None
                continue
            while iid not in pending:
                pid, source = next(ahead)
                pending[pid] = source
            yield sample, Sample(sample.image, pending.pop(iid))

    return PairStream(gt.categories, len(gt.ids), int(missing.size), pairs())


def _member_test(ids: Ids) -> Callable[[ImageId], bool]:
    """A test of one id against ``ids``: a search in the sorted int64 array (8 bytes an
    image), or a set when ids are strings."""
    if ids.dtype == object:
        table = set(ids.tolist())
        return lambda iid: iid in table
    ordered = np.sort(ids)

    def has(iid: ImageId) -> bool:
        if type(iid) is not int:
            return False
        k = int(np.searchsorted(ordered, iid))
        return k < len(ordered) and int(ordered[k]) == iid

    return has


def of_samples(samples: Sequence[Sample], path: str, categories: tuple[Category, ...] = ()) -> Stream:
    """A held side (a Dataset's samples, in-memory predictions) as a stream."""
    ids = ids_of((s.image.id for s in samples), path, "an image")
    return Stream(ids, lambda: ((s.image.id, s) for s in samples), path, categories)


def of_sources(sources: Mapping[ImageId, Source], path: str) -> Stream:
    """Predicted sources by image id (in-memory predictions) as a stream."""
    ids = ids_of(sources, path, "a prediction")
    return Stream(ids, lambda: iter(sources.items()), path)


class Unstreamable(SegtoolError):
    """Predictions that :func:`ranked` cannot pair in one pass: an image's records listed
    apart, after that image was scored. The caller reads them whole instead (and says why
    only when that fails too)."""


def id_order(image_id: ImageId) -> tuple[bool, ImageId]:
    """pycocotools' ``sorted(imgIds)``: numbers in numeric order, strings in text order
    (integers first where a file mixes both, where pycocotools itself would fail)."""
    return isinstance(image_id, str), image_id


@dataclass
class Ranked:
    """Ground truth paired with predictions, each pair with its image's rank: its place
    among the ground truth's image ids sorted as pycocotools sorts them (:func:`id_order`).
    ``count``: the pairs (every ground-truth image), ``pairs``: (rank, ground truth,
    prediction or None) in any order."""

    count: int
    pairs: Iterator[tuple[int, Sample, Sample | None]]


def ranked(gt: Sequence[Sample], pred: Stream) -> Ranked:
    """Every ground-truth sample paired with its predictions, driven by the predictions: as
    the stream lists them (nothing read ahead is held, whatever the two orders), then the
    images without any. Each ground-truth sample is let go once paired: when the caller
    holds nothing else of ``gt`` (not the Dataset), it is freed as the scoring goes.

    A prediction for an image the ground truth lacks is an error; an image whose
    predictions come again after it was paired (records not grouped by image), or ground
    truth whose ids repeat or are not integers and strings, raise :class:`Unstreamable`.
    """
    by_id = sorted(gt, key=lambda s: id_order(s.image.id))
    try:
        ids = ids_of((s.image.id for s in by_id), pred.path, "an image")
    except SegtoolError:
        raise Unstreamable("ground-truth image ids other than integers and strings", pred.path) from None
    ordered: list[Sample | None] = [*by_id]
    del by_id
    if _first_repeated(ids) is not None:
        raise Unstreamable("ground-truth image ids repeat", pred.path)
    index = _rank_of(ids)

    def pairs() -> Iterator[tuple[int, Sample, Sample | None]]:
        out: list[tuple[int, Sample, Sample | None]] = []  # what is yielded, not kept here meanwhile
        for iid, source in pred.items():
            k = index(iid)
            if k < 0:
                raise SegtoolError(
                    f"prediction for image id {shown(iid)}, which the ground truth does not have", pred.path
                )
            g = ordered[k]
            if g is None:
                raise Unstreamable(f"the predictions of image id {shown(iid)} are not listed together", pred.path)
            ordered[k] = None
            out.append((k, g, Sample(g.image, source)))
            del g, source
            yield out.pop()
        for k in range(len(ordered)):  # not enumerate: it keeps its last item
            g = ordered[k]
            if g is not None:
                ordered[k] = None
                out.append((k, g, None))
                del g
                yield out.pop()

    return Ranked(len(ordered), pairs())


def ranked_pairs(pairs: Iterable[tuple[Sample, Sample | None]]) -> Ranked:
    """Held pairs (from :func:`pair`) in ascending image id order, each with its rank."""
    ordered = sorted(pairs, key=lambda p: id_order(p[0].image.id))
    return Ranked(len(ordered), ((k, g, d) for k, (g, d) in enumerate(ordered)))


def _rank_of(ids: Ids) -> Callable[[ImageId], int]:
    """The place of an id in ``ids`` (sorted by :func:`id_order`), or -1: a search in the
    int64 array, or a dict when ids are strings."""
    if ids.dtype == object:
        table = {v: k for k, v in enumerate(ids.tolist())}
        return lambda iid: table.get(iid, -1) if type(iid) is int or type(iid) is str else -1
    n = len(ids)

    def rank(iid: ImageId) -> int:
        if type(iid) is not int or not -(2**63) <= iid < 2**63:
            return -1
        k = int(np.searchsorted(ids, iid))
        return k if k < n and int(ids[k]) == iid else -1

    return rank
