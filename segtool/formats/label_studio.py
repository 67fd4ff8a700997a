"""Label Studio JSON export (a list of tasks): ``polygonlabels`` regions (points in percent
of the image) and ``brushlabels`` regions (Label Studio's brush RLE, :mod:`.label_studio_rules`).
Read only.

Each task is an image (its id the task's ``id``; its name the last part of ``data.image``;
its size the regions' ``original_width``/``original_height``); of its annotations the first
that was not cancelled is read; each area region is one instance of its first label, in
result order, masks overlapping as drawn (an instance dataset). Other result types
(rectangles, key points, choices …) are not areas and are left out. Categories are the
labels found, sorted, ids 1..n.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT, Policy
from .common import Detection, file_name, load_json, read_only
from .jsonstream import NOT_JSON, json_sketch
from .label_studio_rules import AREAS, Task, parse_task, region_mask

NAME = "label-studio"
targets = read_only(NAME)  # not written: convert --to refuses in one line
CHECKS = "label_studio_checks"  # its checks (validate); read only: no --fix


def detect(path: Path) -> Detection:
    """Strong for a JSON list whose first item is a task: an object with ``data`` and
    ``annotations`` (a list)."""
    data, why = json_sketch(path)
    if data is NOT_JSON:
        return Detection("no", why)
    if not isinstance(data, list) or not data:
        return Detection("no", "not a non-empty JSON list of tasks")
    first = data[0]
    if not (isinstance(first, dict) and "data" in first and isinstance(first.get("annotations"), list)):
        return Detection("no", "its first item has no 'data' and 'annotations' list (not a Label Studio task)")
    return Detection("strong", "Label Studio JSON export (tasks with 'data' and 'annotations')")


def tasks(path: Path, report: Policy) -> list[Task]:
    """Every task of the export that has a size, parsed under ``report``."""
    data = load_json(path)
    if not isinstance(data, list):
        report("malformed-record", f"a Label Studio export is a JSON list, not a {type(data).__name__}", str(path))
        return []
    out = []
    for k, t in enumerate(data):
        found = parse_task(t, k, str(path), report)
        if found is not None:
            out.append(found)
    return out


@dataclass(frozen=True, slots=True)
class LabelStudioRegions:
    """Masks of one task: its regions, rasterised (polygons) or decoded (brushes) when loaded."""

    task: Task
    categories: tuple[tuple[str, int], ...]
    path: str

    def load(self, image: ImageInfo) -> Annotation:
        """The task's regions as overlapping instances, in result order."""
        ids = dict(self.categories)
        h, w = image.height, image.width
        try:
            rles = [region_mask(r, h, w) for r in self.task.regions]
        except ValueError as exc:
            raise SegtoolError(f"image {image.id}: {exc}", self.path) from None
        areas = masks.rle_areas(rles).astype(np.float64) if rles else np.zeros(0)
        boxes = masks.rle_boxes(rles) if rles else np.zeros((0, 4))
        segs = Segments.build(
            id=np.arange(1, len(rles) + 1),
            category_id=[ids[r.label] for r in self.task.regions],
            area=areas,
            bbox=boxes.reshape(-1, 4),
        )
        return Annotation(image, segs, rles=tuple(rles), origin=self.path)


def read(path: Path, **_: Any) -> Dataset:
    """Read a Label Studio JSON export; tasks without any area region (no image size) are
    left out."""
    if not path.is_file():
        raise FormatError("no such file", str(path))
    found = [t for t in tasks(path, STRICT) if t.regions]
    labels = sorted({r.label for t in found for r in t.regions})
    cats = tuple(Category(i, n, True) for i, n in enumerate(labels, start=1))
    names = tuple((c.name, c.id) for c in cats)
    samples = []
    seen: set[Any] = set()
    for t in found:
        if t.id in seen:
            raise FormatError(f"task id {t.id!r} is listed twice", str(path))
        seen.add(t.id)
        image = ImageInfo(t.id, file_name(t.file_name, f"task {t.id}", path), t.height, t.width)
        samples.append(Sample(image, LabelStudioRegions(t, names, str(path))))
    return Dataset(cats, tuple(samples), "instance", {}, str(path))


__all__ = ["AREAS", "NAME", "detect", "read"]
