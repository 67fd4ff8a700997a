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
                    f"image id {s.image.id} has several prediction records; which one counts is ambiguous", ds.path
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
        raise SegtoolError(f"prediction for image id {stray}, which the ground truth does not have", preds.path)
    missing = [s.image.id for s, k in zip(gt, keys, strict=True) if k not in preds.sources]
    if missing and not allow_missing:
        raise _missing(len(missing), missing[0], preds.path)
    return [
        (s, Sample(s.image, preds.sources[k]) if k in preds.sources else None) for s, k in zip(gt, keys, strict=True)
    ]


def _missing(count: int, first: Any, path: str) -> SegtoolError:
    return SegtoolError(
        f"no prediction for {count} ground-truth image(s), e.g. image id {first}; "
        "pass --allow-missing to count them as all false negatives",
        path,
    )


@dataclass
class Stream:
    """One side read one image at a time.

    ``ids``: the image ids of its records, in file order, from a light first pass;
    ``items()``: a fresh iterator of (image id, Sample) for ground truth, of (image id,
    Source) for predictions, in the same order; ``known``: every image id the side lists
    (ground truth: its ``images``, which may have no record); ``path``: for errors."""

    ids: npt.NDArray[np.int64]
    items: Callable[[], Iterator[tuple[int, Any]]]
    path: str
    categories: tuple[Category, ...] = ()
    known: npt.NDArray[np.int64] | None = None


@dataclass
class PairStream:
    """Ground truth and predictions paired image by image, streamed from both sides."""

    categories: tuple[Category, ...]
    count: int  # pairs (ground-truth images with a record)
    missing: int  # of which without a prediction
    pairs: Iterator[tuple[Sample, Sample | None]]


def ids_of(values: Iterable[int], path: str, what: str) -> npt.NDArray[np.int64]:
    """Image ids as one int64 array (8 bytes each: the first pass holds nothing else)."""
    out = array("q")
    try:
        for v in values:
            out.append(v)
    except OverflowError:
        raise SegtoolError(f"{what}: an image id does not fit in 64 bits", path) from None
    except TypeError:
        raise SegtoolError(f"{what}: image ids must be integers", path) from None
    return np.frombuffer(out, np.int64).copy() if len(out) else np.zeros(0, np.int64)


def _check_ids(ids: npt.NDArray[np.int64], known: npt.NDArray[np.int64], what: str, path: str) -> None:
    """Every id listed by the ground truth, none twice."""
    stray = ids[~np.isin(ids, known)]
    if stray.size:
        owner = "'images' does not list" if what == "annotation" else "the ground truth does not have"
        raise SegtoolError(f"{what} for image id {int(stray[0])}, which {owner}", path)
    ordered = np.sort(ids)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if twice.size:
        first = int(ids[np.isin(ids, twice)][0])
        raise SegtoolError(f"image id {first} has several {what} records; which one counts is ambiguous", path)


def stream(gt: Stream, pred: Stream, *, allow_missing: bool = False) -> PairStream:
    """Pair two streamed sides by image id without holding either.

    When both list images in the same order (the usual case) nothing is held; otherwise the
    predictions read ahead wait in a dict until their image comes.
    """
    known = gt.known if gt.known is not None else gt.ids
    _check_ids(gt.ids, known, "annotation", gt.path)
    _check_ids(pred.ids, known, "prediction", pred.path)
    pred_ids = np.sort(pred.ids)
    missing = gt.ids[~np.isin(gt.ids, pred_ids)]
    if missing.size and not allow_missing:
        raise _missing(int(missing.size), int(missing[0]), pred.path)

    def pairs() -> Iterator[tuple[Sample, Sample | None]]:
        pending: dict[int, Any] = {}
        ahead = pred.items()
        for iid, sample in gt.items():
            k = int(np.searchsorted(pred_ids, iid))
            if k == len(pred_ids) or pred_ids[k] != iid:
                yield sample, None
                continue
            while iid not in pending:
                pid, source = next(ahead)
                pending[pid] = source
            yield sample, Sample(sample.image, pending.pop(iid))

    return PairStream(gt.categories, len(gt.ids), int(missing.size), pairs())


def of_samples(samples: Sequence[Sample], path: str, categories: tuple[Category, ...] = ()) -> Stream:
    """A held side (a Dataset's samples, in-memory predictions) as a stream."""
    ids = ids_of((int(s.image.id) for s in samples), path, "an image")
    return Stream(ids, lambda: ((int(s.image.id), s) for s in samples), path, categories)


def of_sources(sources: Mapping[int, Source], path: str) -> Stream:
    """Predicted sources by image id (in-memory predictions) as a stream."""
    ids = ids_of(sources, path, "a prediction")
    return Stream(ids, lambda: iter(sources.items()), path)
