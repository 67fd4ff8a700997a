"""ADE20K: the SceneParsing benchmark (``ADEChallengeData2016/``) and the full dataset's
``*_seg.png`` (2016 and later). See :mod:`.ade20k_rules` for both layouts.

SceneParsing reads as a ``semantic`` dataset: category ids 1..150 (the names of
``objectInfo150.csv``, built in), 0 void, one segment per class present; image ids
``<split>/<stem>``. The full dataset reads as ``panoptic``: one segment per (instance,
class) of the ``_seg.png`` (class = R/10*256 + G, instance from B; 0 void), categories the
classes found (names from the 2021 ``<stem>.json`` or 2016 ``<stem>_atr.txt``, else
``class N``); a 2021 image (``<stem>.json``) reads its whole objects from their instance
masks instead (:mod:`.ade20k_2021`). Parts (``*_parts_N.png``, part-level objects) are not
read. Writes SceneParsing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..policy import STRICT
from .ade20k_2021 import Json2021, is_2021, object_classes
from .ade20k_rules import (
    ANNOTATIONS,
    IMAGES,
    OBJECT_INFO,
    SEG,
    VOID,
    Entry,
    class_values,
    find_full,
    find_scene_parsing,
    has_seg,
    object_names,
    read_names,
    read_scenes,
    read_seg,
    scene_labels,
)
from .common import Detection, ImageResult, noted, save_png
from .options import Job, WriteContext, WriteOptions
from .semantic_rules import read_labels
from .voc_rules import png_size

NAME = "ade20k"
CHECKS = "ade20k_checks"  # its checks (validate); findings need a person's decision: no --fix


def detect(path: Path) -> Detection:
    """Strong for a folder with ``annotations/training`` or ``annotations/validation`` (the
    SceneParsing layout), or with a ``*_seg.png`` a few folders down (the full dataset)."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    if any((path / ANNOTATIONS / s).is_dir() for s in ("training", "validation")):
        return Detection("strong", "ADE20K SceneParsing layout (annotations/training|validation)")
    if (path / OBJECT_INFO).is_file():
        return Detection("weak", f"{OBJECT_INFO} but no annotations/training or annotations/validation")
    if has_seg(path):
        return Detection("strong", f"ADE20K full dataset (*{SEG})")
    return Detection("no", f"no annotations/training|validation folders and no *{SEG}")


@dataclass(frozen=True, slots=True)
class ScenePng:
    """Pixels of one SceneParsing image: an 8-bit PNG of class ids, 0 void."""

    png: str
    n_classes: int
    ignore_value: int = VOID

    def labels(self, image: ImageInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The checked label map and the values present in it."""
        found = scene_labels(self.png, (image.width, image.height), self.n_classes, STRICT, image.id)
        assert found is not None  # the strict policy raises instead
        return found

    def pixels8(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """The raw 8-bit map, size checked, when segtool's decoder takes the file; None
        otherwise. Values are not checked: see :meth:`check_values`."""
        return read_labels(self.png, (image.width, image.height), f"image {image.id}", STRICT, fast_only=True)

    def check_values(self, image: ImageInfo, counts: npt.NDArray[np.int64]) -> None:
        """Every value with pixels (``counts[v]`` > 0) must be 0 or a class."""
        class_values(np.flatnonzero(counts), counts[np.flatnonzero(counts)], self.n_classes, self.png, STRICT, image.id)

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per class present (ids 1..k in class order); 0 → void."""
        labels, present = self.labels(image)
        present = present[present != VOID]
        lut = np.zeros(int(labels.max(initial=0)) + 1, np.int32)
        lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
        index = lut[labels]
        segs = Segments.build(id=np.arange(1, len(present) + 1), category_id=present)
        return Annotation(image, views.measure(index, segs), id_map=index, origin=self.png)


def full_segments(classes: npt.NDArray[np.int64], instances: npt.NDArray[np.int64]) -> tuple[Any, ...]:
    """The index map (k → segment k-1, 0 void) and per segment its class: one segment per
    (instance, class) pair of labelled pixels, in instance then class order."""
    key = instances * 65536 + classes
    labelled = classes != VOID
    keys, inverse = np.unique(key[labelled], return_inverse=True)
    index = np.zeros(classes.shape, np.int32)
    index[labelled] = inverse.reshape(-1) + 1
    return index, keys % 65536


@dataclass(frozen=True, slots=True)
class SegPng:
    """Pixels of one full-dataset image: its ``_seg.png``."""

    png: str

    def load(self, image: ImageInfo) -> Annotation:
        """See :func:`full_segments`."""
        full = read_seg(self.png, (image.width, image.height), STRICT, image.id)
        assert full is not None
        index, classes = full_segments(full.classes, full.instances)
        segs = Segments.build(id=np.arange(1, len(classes) + 1), category_id=classes)
        return Annotation(image, views.measure(index, segs), id_map=index, origin=self.png)


def _image(entry: Entry) -> ImageInfo:
    assert entry.labels is not None
    width, height = png_size(entry.labels)
    labels = Path(entry.labels)
    fallback = labels.name.replace(SEG, ".jpg") if labels.name.endswith(SEG) else f"{labels.stem}.jpg"
    name = Path(entry.photo).name if entry.photo else fallback
    return ImageInfo(entry.id, name, height, width, photo=entry.photo or "")


def read(path: Path, *, instance_masks: bool = True, **_: Any) -> Dataset:
    """Read an ADE20K tree (either layout); pixels are decoded when a sample is loaded,
    except that the full dataset's classes are gathered from every ``_seg.png`` here (a
    2021 image's from its JSON). ``instance_masks=False`` reads a 2021 image by its
    ``_seg.png`` too."""
    if not path.is_dir():
        raise FormatError("an ade20k dataset is a folder (ADEChallengeData2016/ or the full dataset)", str(path))
    splits: dict[str, str]
    if any((path / ANNOTATIONS / s).is_dir() for s in ("training", "validation")):
        names, origin = read_names(path, STRICT)
        entries = find_scene_parsing(path, STRICT)
        if not entries:
            raise FormatError(f"no images: no {ANNOTATIONS}/<split>/*.png", str(path))
        samples = tuple(Sample(_image(e), ScenePng(str(e.labels), len(names))) for e in entries)
        cats = tuple(Category(i, n, False) for i, n in enumerate(names, start=1))
        splits = {e.id: e.split for e in entries}
        info = {"ade20k": {"layout": "scene-parsing", "splits": splits, "names": origin, "scenes": read_scenes(path)}}
        return Dataset(cats, samples, "semantic", info, str(path))
    return _read_full(path, instance_masks)


def _read_full(path: Path, instance_masks: bool) -> Dataset:
    """The full dataset: a 2021 image (a ``<stem>.json`` with ``annotation``) by its whole
    objects' instance masks, unless ``instance_masks`` is False; others by the ``_seg.png``,
    whose classes are gathered here."""
    entries = find_full(path)
    if not entries:
        raise FormatError(f"no images: no {IMAGES}/ layout and no *{SEG}", str(path))
    found: dict[int, str] = {}
    samples_list = []
    layouts = set()
    for e in entries:
        image = _image(e)
        seg = str(e.labels)
        json_path = Path(seg[: -len(SEG)] + ".json")
        if instance_masks and is_2021(json_path):
            for c, name in object_classes(json_path).items():
                found.setdefault(c, name)
            samples_list.append(Sample(image, Json2021(str(json_path), seg)))
            layouts.add("2021")
            continue
        full = read_seg(seg, (image.width, image.height), STRICT, e.id)
        assert full is not None
        named = object_names(seg, full)
        for c in np.unique(full.classes).tolist():
            if c != VOID:
                found.setdefault(int(c), named.get(int(c), f"class {c}"))
        samples_list.append(Sample(image, SegPng(seg)))
        layouts.add("seg")
    cats = tuple(Category(c, found[c], True) for c in sorted(found))
    splits = {e.id: e.split for e in entries}
    info = {"ade20k": {"layout": "full", "read": sorted(layouts), "splits": splits}}
    return Dataset(cats, tuple(samples_list), "panoptic", info, str(path))


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    res = views.resolve(ann, ctx.opts.overlap)
    split, name = ctx.folder.split("\0")
    save_png(views.label_map(res, VOID).astype(np.uint8), Path(split) / name)
    return noted(ImageResult([], len(res.segments), res.dropped), ann)


def _split(ds: Dataset, image_id: Any) -> str:
    meta = ds.info.get("ade20k")
    splits = meta.get("splits", {}) if isinstance(meta, dict) else {}
    split = splits.get(str(image_id), "training") if isinstance(splits, dict) else "training"
    return str(split) if str(split) and "/" not in str(split) and str(split) not in (".", "..") else "training"


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write SceneParsing: ``annotations/<split>/<stem>.png`` (8-bit, 0 void; the split read
    from ADE20K, else ``training``) and ``objectInfo150.csv`` naming the dataset's classes
    (category ids must lie in 1..255)."""
    ids = [c.id for c in ds.categories]
    if ids and (min(ids) < 1 or max(ids) > 255):
        raise SegtoolError("ade20k class ids must lie in 1..255 (0 is other/void); remap the categories", str(dst))
    root = tmp[0]
    splits = [_split(ds, s.image.id) for s in ds.samples]
    names = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, groups=splits, suffix=".png")
    for split in sorted(set(splits)):
        (root / ANNOTATIONS / split).mkdir(parents=True)
    ctx = WriteContext.of(ds, str(root), opts)
    work = (
        (s, replace(ctx, folder=f"{root / ANNOTATIONS / split}\0{name}"))
        for s, split, name in zip(ds.samples, splits, names, strict=True)
    )
    results = list(run(_write_image, work))
    by_id = {c.id: c.name for c in ds.categories}
    rows = ["Idx,Ratio,Train,Val,Name"]
    for i in range(1, max(ids, default=0) + 1):
        name = by_id.get(i, f"_unused_{i}").replace('"', "'")
        rows.append(f'{i},0,0,0,"{name}"')
    (root / OBJECT_INFO).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the SceneParsing root)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("an ade20k destination is a folder, not a .json path", str(dst))
    return [dst]
