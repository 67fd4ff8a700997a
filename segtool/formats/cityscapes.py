"""Cityscapes: the gtFine / gtCoarse tree ``<split>/<city>/<stem>_gtFine_*``.

An image is read from its ``labelIds.png`` and ``instanceIds.png`` (instance values
``id * 1000 + k`` for objects of labels with instances, the plain label id elsewhere: stuff,
and crowds of a thing label), or from its ``polygons.json`` alone, rasterised exactly as
cityscapesScripts' json2instanceImg / json2labelImg do (see :mod:`.cityscapes_rules`).
Categories come from the built-in label table (:mod:`.cityscapes_labels`): by default the
19 labels evaluated, ``ignoreInEval`` labels void, as createPanopticImgs and the
benchmarks read them; ``train_ids`` names them by trainId; ``all_labels`` keeps every label
(only ``unlabeled`` void), which a Cityscapes → Cityscapes round trip needs. Image ids are
the stems (``frankfurt_000000_000294``), as cityscapesScripts' panoptic JSONs name them;
``file_name`` is the photo's path under ``leftImg8bit/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..pairing import Predictions, Stream, of_sources
from ..policy import STRICT
from .cityscapes_labels import BY_NAME, INSTANCE_BASE, LABELS, MAX_ID
from .cityscapes_predictions import named_pngs, read_label_folder
from .cityscapes_rules import (
    HAS_INSTANCES,
    PATTERN,
    Entry,
    check_maps,
    find,
    json_size,
    png_size,
    rasterise,
    read_pngs,
    source_of,
)
from .cityscapes_write import PHOTO as PHOTO
from .cityscapes_write import targets as targets
from .cityscapes_write import write as write
from .common import Detection, load_json
from .tree_rules import subfolders

NAME = "cityscapes"
CHECKS = "cityscapes_checks"  # its checks (validate); its findings need a person: no --fix
SCORED_BY = ("panoptic", "semantic")  # a tree scores both; a folder of label-id PNGs, semantic
SOURCES = ("auto", "png", "polygons")


def detect(path: Path) -> Detection:
    """Strong for a folder with ``*_gtFine_*`` / ``*_gtCoarse_*`` files up to three folders
    down (``gtFine/<split>/<city>/``)."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    deepest = 4 if subfolders(path) else 1  # a flat folder of label maps: no tree to glob
    for depth in range(deepest):
        for gt in ("gtFine", "gtCoarse"):
            for hit in path.glob("*/" * depth + f"*_{gt}_*"):
                if PATTERN.match(hit.name):
                    return Detection("strong", f"Cityscapes annotations ({hit.relative_to(path).as_posix()})")
    named = None if (path / "categories.json").is_file() else named_pngs(path)
    if named is not None:  # a results folder, as cityscapesScripts' evaluators take it
        return Detection("strong", f"Cityscapes-named PNGs ({named}): predictions")
    return Detection("no", "no <stem>_gtFine_/_gtCoarse_ labelIds, instanceIds or polygons files in <split>/<city>/")


def categories(*, train_ids: bool = False, all_labels: bool = False) -> tuple[Category, ...]:
    """The dataset's categories: the evaluated labels (by id or trainId), or every label but
    ``unlabeled``."""
    if train_ids and all_labels:
        raise SegtoolError("train_ids and all_labels exclude each other: void labels share trainId 255")
    chosen = [lab for lab in LABELS if lab.id > 0 and (all_labels or not lab.ignore_in_eval)]
    return tuple(
        Category(lab.train_id if train_ids else lab.id, lab.name, lab.has_instances, lab.color, lab.category)
        for lab in chosen
    )


def category_lut(cats: tuple[Category, ...]) -> npt.NDArray[np.int64]:
    """Category id of each label id 0..33 (-1: void)."""
    lut = np.full(MAX_ID + 1, -1, np.int64)
    for c in cats:
        lut[BY_NAME[c.name].id] = c.id
    return lut


@dataclass(frozen=True, slots=True)
class CityscapesImage:
    """Pixels of one image: its PNG pair or its polygons JSON, and the label id → category
    table (-1 void)."""

    files: tuple[tuple[str, str], ...]
    stem: str
    source: str  # "png" or "polygons"
    lut: tuple[int, ...]

    def maps(self, image: ImageInfo) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The instanceIds map, its values present and the label id of each, checked."""
        entry = Entry(self.stem, "", "", dict(self.files))
        if self.source == "polygons":
            labels, instances = None, rasterise(entry.files["polygons"], STRICT, image.id)
            origin = entry.files["polygons"]
        else:
            pair = read_pngs(entry, (image.width, image.height), STRICT)
            assert pair is not None  # the strict policy raises instead
            labels, instances = pair
            origin = entry.files["instances"]
        assert instances is not None
        found = check_maps(labels, instances, origin, STRICT, image.id)
        assert found is not None
        return instances, found[0], found[1]

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per instance value (its id), crowd for a plain id of a thing label;
        void labels left out."""
        instances, present, cls = self.maps(image)
        cat = np.asarray(self.lut, np.int64)[cls]
        keep = cat >= 0
        runs, _ = masks.Runs.of_ids(instances, present[keep])  # other values: void labels
        segs = Segments.build(
            id=present[keep],
            category_id=cat[keep],
            iscrowd=(present[keep] < INSTANCE_BASE) & HAS_INSTANCES[cls[keep]],
            area=runs.areas().astype(np.float64),
            bbox=runs.bboxes(),
        )
        origin = dict(self.files).get("instances" if self.source == "png" else "polygons", "")
        return Annotation(image, segs, runs=runs, origin=origin)  # runs: PQ pairs segments through them


def photo_of(label_file: str, stem: str) -> Path | None:
    """The photo of a label file: the same folders under ``leftImg8bit/`` instead of
    ``gtFine/`` (or ``gtCoarse/``), as the dataset ships; None outside such a tree."""
    parts = Path(label_file).parent.parts
    for k in range(len(parts) - 1, -1, -1):
        if parts[k] in ("gtFine", "gtCoarse"):
            return Path(*parts[:k], "leftImg8bit", *parts[k + 1 :], f"{stem}{PHOTO}")
    return None


def _checked_size(path: str, stem: str) -> tuple[int, int]:
    """A label PNG's (width, height), which its photo, where the tree has one, must share."""
    width, height = png_size(path)
    photo = photo_of(path, stem)
    if photo is not None and photo.is_file():
        try:
            with imageio.open_image(str(photo)) as img:
                size = img.size
        except OSError as exc:
            raise FormatError(f"image {stem}: unreadable photo {photo.name} ({exc})", str(photo)) from None
        if size != (width, height):
            msg = f"image {stem}: the label PNG is {width}x{height} but its photo {photo.name} is {size[0]}x{size[1]}"
            raise FormatError(msg, path)
    return width, height


def _image(entry: Entry, source: str) -> ImageInfo:
    if source == "png":
        width, height = _checked_size(entry.files.get("labels", entry.files["instances"]), entry.stem)
    else:
        path = entry.files["polygons"]
        size = json_size(load_json(Path(path)), path, STRICT, entry.stem)
        assert size is not None
        width, height = size
    folder = f"{entry.folder}/" if entry.folder else ""
    label = entry.files.get("labels") or entry.files.get("instances") or entry.files.get("polygons", "")
    photo = photo_of(label, entry.stem) if label else None
    shot = str(photo) if photo is not None and photo.is_file() else ""
    return ImageInfo(entry.stem, f"{folder}{entry.stem}{PHOTO}", height, width, photo=shot)


def read(path: Path, *, train_ids: bool = False, all_labels: bool = False, source: str = "auto", **_: Any) -> Dataset:
    """Read a Cityscapes tree (``gtFine/``, one split or one city); pixels are decoded when a
    sample is loaded. ``source``: ``auto`` (PNGs where both are there, else the polygons),
    ``png`` or ``polygons``."""
    if not path.is_dir():
        raise FormatError("a cityscapes dataset is a folder (gtFine/<split>/<city>/)", str(path))
    if source not in SOURCES:
        raise SegtoolError(f"unknown cityscapes source {source!r}; choose one of {', '.join(SOURCES)}")
    cats = categories(train_ids=train_ids, all_labels=all_labels)
    lut = tuple(category_lut(cats).tolist())
    samples = []
    for entry in find(path, STRICT):
        chosen = source_of(entry, source, STRICT)
        assert chosen is not None
        files = tuple(sorted(entry.files.items()))
        samples.append(Sample(_image(entry, chosen), CityscapesImage(files, entry.stem, chosen, lut)))
    if not samples:
        if named_pngs(path) is not None:
            msg = "Cityscapes-named PNGs but no <stem>_gtFine_* annotations: predictions, which eval takes beside the ground truth"
            raise FormatError(msg, str(path))
        raise FormatError("no Cityscapes annotations (<stem>_gtFine_labelIds.png …) in the folder", str(path))
    info = {"cityscapes": {"train_ids": train_ids, "all_labels": all_labels}}
    return Dataset(cats, tuple(samples), "panoptic", info, str(path))


def _is_tree(path: Path) -> bool:
    return path.is_dir() and bool(find(path, STRICT))


def read_predictions(path: Path, gt: Dataset, **opts: Any) -> Predictions:
    """Predictions for ``gt``: a Cityscapes tree (by stem, read with the ground truth's
    choice of categories), or a folder of label-id PNGs found and read as cityscapesScripts'
    evalPixelLevelSemanticLabeling does (:mod:`.cityscapes_predictions`). For ground truth
    whose categories are not Cityscapes labels, the folder is read as plain label maps."""
    if _is_tree(path):
        flavour = gt.info.get("cityscapes", {}) if isinstance(gt.info, dict) else {}
        return Predictions.of(read(path, **flavour))
    found = read_label_folder(path, gt)
    if found is not None:
        return found
    from .semantic import read_predictions as label_maps

    return label_maps(path, gt, **opts)


def stream_predictions(path: Path, **_: Any) -> Stream:
    """A Cityscapes tree as panoptic predictions (its 19 evaluated labels, as
    createPanopticImgs makes the ground truth); a folder of label-id PNGs is refused."""
    if not _is_tree(path):
        msg = "label-id PNGs are semantic predictions (eval semantic); eval panoptic takes a Cityscapes tree with instanceIds or COCO panoptic"
        raise FormatError(msg, str(path))
    ds = read(path)
    return of_sources({s.image.id: s.source for s in ds.samples}, str(path))
