"""Semantic + instance → panoptic, with the heuristic of the Panoptic Segmentation paper.

Exactly panopticapi's ``combine_semantic_and_instance_predictions``: instances (score at
least ``confidence``) in descending score order; one whose area overlaps the instances
already placed by more than ``overlap_threshold`` is dropped, otherwise it takes its
still-free pixels. Then each stuff class of the semantic map takes its still-free pixels
unless fewer than ``stuff_area_limit`` remain. Thing classes of the semantic map are unused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, rleowner
from ..errors import SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..views import measure
from . import coco_instance, semantic
from .coco_records import parse_categories
from .common import load_json


@dataclass(frozen=True, slots=True)
class Combined:
    """Pixels of one image: a label PNG and the instance masks of the same image."""

    labels: semantic.LabelPng
    instances: coco_instance.CocoMasks
    thing_ids: tuple[int, ...]
    confidence: float
    overlap_threshold: float
    stuff_area_limit: int

    def load(self, image: ImageInfo) -> Annotation:
        """Place instances, then stuff, as the module docstring says. Each instance is read
        as its runs of pixels, never as a whole-image mask, and the stuff classes in one
        pass: the work grows with the pixels the masks cover, not instances x image."""
        sem = self.labels.load(image)
        inst = self.instances.load(image)
        segs = inst.segments
        h, w = image.height, image.width
        score = segs.score if segs.score is not None else np.zeros(len(segs))
        order = [k for k in np.argsort(-score, kind="stable") if segs.score is None or score[k] >= self.confidence]
        pixels = _pixels_by_instance(inst.rles or (), h, w)
        flat = np.zeros(h * w, np.int32)  # column-major, as RLE counts run
        index = flat.reshape(w, h).T  # a view: (H, W)
        cats: list[int] = []
        for k in order:
            mine = pixels[k]
            area = mine.size
            if area == 0:
                continue
            free = flat[mine] == 0
            if (area - int(np.count_nonzero(free))) / area > self.overlap_threshold:
                continue
            cats.append(int(segs.category_id[k]))
            flat[mine[free]] = len(cats)
        sem_index = sem.index_map()
        free_mask = index == 0
        left = np.bincount(sem_index[free_mask], minlength=len(sem.segments) + 1)  # free pixels per class
        lut = np.zeros(len(sem.segments) + 1, np.int32)
        for k, cid in enumerate(sem.segments.category_id.tolist()):
            if cid in self.thing_ids or int(left[k + 1]) < self.stuff_area_limit:
                continue
            cats.append(cid)
            lut[k + 1] = len(cats)
        index[free_mask] = lut[sem_index[free_mask]]
        out = Segments.build(id=np.arange(1, len(cats) + 1), category_id=cats)
        index = np.ascontiguousarray(index)
        return Annotation(image, measure(index, out), id_map=index, origin=sem.origin)


def _pixels_by_instance(rles: tuple[Any, ...], height: int, width: int) -> list[npt.NDArray[np.int64]]:
    """The column-major pixel positions of each mask (checked RLEs of one image)."""
    runs = rleowner.Runs.of(rles)
    if runs is None:  # not decodable here: the checked decoder words the error
        masks.decode(rles, height, width)
        raise SegtoolError("an instance mask cannot be decoded")
    width_ = runs.end - runs.start
    flat = np.repeat(runs.end - np.cumsum(width_), width_) + np.arange(int(width_.sum()))
    bounds = np.concatenate(
        [[0], np.cumsum(np.bincount(runs.owner, weights=width_, minlength=len(rles)).astype(np.int64))]
    )
    return [flat[bounds[i] : bounds[i + 1]] for i in range(len(rles))]


def _categories(sem_cats: tuple[Category, ...], inst_data: Any, path: Path) -> tuple[Category, ...]:
    by_id = {c.id: c for c in sem_cats}
    if isinstance(inst_data, dict) and "categories" in inst_data:
        for c in parse_categories(inst_data["categories"], path, default_isthing=True):
            by_id[c.id] = c
    return tuple(by_id[k] for k in sorted(by_id))


def read(
    semantic_dir: Path,
    instances: Path,
    *,
    categories: Path | None = None,
    ignore_value: int = 255,
    confidence: float = 0.5,
    overlap_threshold: float = 0.5,
    stuff_area_limit: int = 64 * 64,
) -> Dataset:
    """A panoptic dataset combining a semantic folder with a COCO instance JSON or results list."""
    sem = semantic.read(semantic_dir, categories=categories, ignore_value=ignore_value)
    data = load_json(instances)
    if isinstance(data, list):  # a COCO results list: images come from the semantic folder
        data = {
            "images": [s.image.to_dict() for s in sem.samples],
            "annotations": data,
            "categories": [c.to_dict() for c in sem.categories],
        }
        for i, a in enumerate(data["annotations"]):
            if isinstance(a, dict):
                a.setdefault("id", i + 1)
    cats = _categories(sem.categories, data, instances)
    data = {**data, "categories": [c.to_dict() for c in cats]}
    inst = coco_instance.read_data(data, instances)
    labels = {Path(s.image.file_name).stem: s for s in sem.samples}
    things = tuple(c.id for c in cats if c.isthing)
    samples = []
    for s in inst.samples:
        lab = labels.get(Path(s.image.file_name).stem)
        if lab is None:
            raise SegtoolError(f"image {s.image.id} ({s.image.file_name}) has no label map", str(semantic_dir))
        assert isinstance(lab.source, semantic.LabelPng) and isinstance(s.source, coco_instance.CocoMasks)
        src = Combined(lab.source, s.source, things, confidence, overlap_threshold, stuff_area_limit)
        samples.append(Sample(s.image, src))
    return Dataset(cats, tuple(samples), "panoptic", inst.info, str(instances))
