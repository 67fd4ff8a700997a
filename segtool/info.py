"""Dataset statistics for ``segtool info``: counts and areas, read from metadata where it has them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import Dataset, Sample, listed_segments
from .parallel import imap, jobs_for


@dataclass
class DatasetInfo:
    """Counts and area statistics of a dataset."""

    format: str
    path: str
    images: int
    categories: int
    things: int
    stuff: int
    segments: int
    crowd: int
    segments_per_image: dict[str, float] = field(default_factory=dict)
    area: dict[str, float] = field(default_factory=dict)
    per_category: dict[int, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _table(sample: Sample) -> tuple[Any, Any, Any]:
    """Category ids, crowd flags and areas of one image (pixels are read only if needed)."""
    segs = listed_segments(sample.source)
    if segs is None or (len(segs) and not np.any(segs.area)):
        segs = sample.load().segments
    return segs.category_id, segs.iscrowd, segs.area


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"min": 0, "mean": 0, "median": 0, "max": 0}
    return {
        "min": float(values.min()),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "max": float(values.max()),
    }


def describe(ds: Dataset, fmt: str, *, jobs: int = 1, progress: Callable[[int], None] | None = None) -> DatasetInfo:
    """Count images, segments and areas; semantic label maps are decoded to find their segments."""
    per_image, cats, crowd, areas = [], [], [], []
    for cid, isc, area in imap(_table, ds.samples, jobs=jobs_for(len(ds.samples), jobs)):
        per_image.append(len(cid))
        cats.append(cid)
        crowd.append(isc)
        areas.append(area)
        if progress:
            progress(1)
    cat = np.concatenate(cats) if cats else np.zeros(0, np.int64)
    area = np.concatenate(areas) if areas else np.zeros(0)
    per_cat: dict[int, dict[str, Any]] = {}
    for c in ds.categories:
        sel = cat == c.id
        per_cat[c.id] = {
            "name": c.name,
            "isthing": c.isthing,
            "segments": int(sel.sum()),
            "area": float(area[sel].sum()),
        }
    things = sum(c.isthing for c in ds.categories)
    return DatasetInfo(
        fmt,
        ds.path,
        len(ds.samples),
        len(ds.categories),
        things,
        len(ds.categories) - things,
        int(cat.size),
        int(np.concatenate(crowd).sum()) if crowd else 0,
        _stats(np.asarray(per_image, dtype=np.float64)),
        _stats(area),
        per_cat,
    )
