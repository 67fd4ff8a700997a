"""A dataset seen through a label map: categories renamed, remapped, merged or made void,
image by image as samples are loaded (nothing is decoded up front)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import views
from .labelmap import VOID, LabelMap
from .model import Annotation, Category, Dataset, ImageInfo, Sample, Segments, Source, decodes_pixels
from .pairing import Predictions, Stream


@dataclass(frozen=True)
class Relabelled:
    """``source`` with category ids mapped through ``table`` (:data:`VOID`: void). Segments of a stuff
    category that several source categories merged into become one segment, as a panoptic
    or semantic picture has one region per stuff class."""

    source: Source
    table: tuple[tuple[int, int], ...]  # source id -> output id
    stuff: frozenset[int]  # output ids of stuff categories

    @property
    def decodes_pixels(self) -> bool:
        """As the wrapped source: relabelling decodes nothing of its own."""
        return decodes_pixels(self.source)

    def load(self, image: ImageInfo) -> Annotation:
        ann = self.source.load(image)
        segs = ann.segments
        lut = dict(self.table)
        out = np.asarray([lut.get(int(c), int(c)) for c in segs.category_id], dtype=np.int64)
        if ann.rles is not None:
            kept = np.flatnonzero(out != VOID)
            return Annotation(
                ann.image,
                segs[kept].replace(category_id=out[kept]),
                rles=tuple(ann.rles[int(k)] for k in kept),
                raw=None if ann.raw is None else tuple(ann.raw[int(k)] for k in kept),
                origin=ann.origin,
                dropped=ann.dropped,
                changed=ann.changed,
            )
        index, merged = _merge(ann.index_map(), segs, out, self.stuff)
        res = views.Resolved(index, merged)  # its runs too: PQ's generic path reads runs
        return Annotation(
            ann.image,
            res.measured(),
            id_map=index,
            runs=res.runs(),
            origin=ann.origin,
            dropped=ann.dropped,
            changed=ann.changed,
        )


def _merge(
    index: npt.NDArray[np.int32], segs: Segments, out: npt.NDArray[np.int64], stuff: frozenset[int]
) -> tuple[npt.NDArray[np.int32], Segments]:
    """The index map and segments after relabelling: void segments' pixels become void, and
    the segments of one stuff category become one (the first one's id)."""
    lut = np.zeros(len(segs) + 1, dtype=np.int32)
    keys: dict[tuple[int, int], int] = {}
    rows: list[int] = []
    for k, new in enumerate(out.tolist()):
        if new == VOID:
            continue
        key = (new, -1) if new in stuff else (new, k)
        if key not in keys:
            keys[key] = len(rows) + 1
            rows.append(k)
        lut[k + 1] = keys[key]
    picked = np.asarray(rows, dtype=np.int64)
    crowd = segs.iscrowd[picked] if len(picked) else np.zeros(0, bool)
    merged = segs[picked].replace(category_id=out[picked], iscrowd=crowd)
    return lut[index], merged


def apply(ds: Dataset, labels: LabelMap, *, by_value: bool = False) -> Dataset:
    """``ds`` through ``labels`` (see :mod:`segtool.labelmap`); ``by_value``: the dataset's
    category ids are pixel values of the label map (a reader of label PNGs given it)."""
    table = labels.table(ds.categories, by_value=by_value)
    cats = labels.output_categories(ds.categories, by_value=by_value)
    if all(k == v for k, v in table.items()) and cats == ds.categories:
        return ds
    stuff = frozenset(c.id for c in cats if not c.isthing or ds.kind == "semantic")  # one region a class
    pairs = tuple(sorted(table.items()))
    samples = tuple(Sample(s.image, Relabelled(s.source, pairs, stuff)) for s in ds.samples)
    info: dict[str, Any] = dict(ds.info)
    return Dataset(cats, samples, ds.kind, info, ds.path)


def _prediction_table(
    labels: LabelMap, categories: tuple[Category, ...]
) -> tuple[tuple[tuple[int, int], ...], frozenset[int]]:
    """What predictions are relabelled with: every listed id (unlisted ids kept, as a
    prediction of a category the ground truth lacks is the metric's to count), and the
    output stuff categories (``categories``: the relabelled ground truth's)."""
    return tuple(sorted(labels.id_table().items())), frozenset(c.id for c in categories if not c.isthing)


def predictions(preds: Predictions, labels: LabelMap, categories: tuple[Category, ...]) -> Predictions:
    """``preds`` (in the ground truth's source categories) through ``labels``."""
    table, stuff = _prediction_table(labels, categories)
    sources = {k: Relabelled(s, table, stuff) for k, s in preds.sources.items()}
    return Predictions(sources, preds.by, preds.path)


def stream(side: Stream, labels: LabelMap, categories: tuple[Category, ...]) -> Stream:
    """A prediction stream through ``labels``, one image at a time as it comes."""
    table, stuff = _prediction_table(labels, categories)
    inner = side.items

    def items() -> Any:
        return ((i, Relabelled(src, table, stuff)) for i, src in inner())

    return Stream(side.ids, items, side.path, side.categories, side.known, side.listed)
