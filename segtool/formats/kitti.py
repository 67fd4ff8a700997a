"""KITTI semantic/instance segmentation (2015 benchmark) and KITTI-STEP panoptic maps (read).

KITTI: ``training/instance/<id>.png`` (16-bit: Cityscapes label id * 256 + instance, 0 "no
instance ground truth") and/or ``training/semantic/<id>.png`` (8-bit label ids), photos in
``training/image_2/``. Classes are Cityscapes' (:mod:`.cityscapes_labels`): by default the
19 evaluated labels by label id, ``ignoreInEval`` ones void (``all_labels``: every label but
``unlabeled``). A label with instances (car, person …) and an instance > 0 is one instance;
its pixels with instance 0 are one crowd region, as Cityscapes' plain label id of a thing
label is; a label without instances (road, wall …) is one stuff segment per image, whatever
instance numbers the devkit gave it (merged, counted in convert's summary). A semantic PNG
alone gives stuff segments and a crowd per thing label. A ``label_colors.txt`` beside
``training/`` (datumaro's and CVAT's KITTI export: ``r g b name`` lines, class = line number
from 0) replaces the table: a Cityscapes name keeps that label's facts, another is a thing.

KITTI-STEP: ``panoptic_maps/<split>/<seq>/<frame>.png``, R = trainId (0..18, 255 void),
G * 256 + B = track id; photos in ``images/``; person and car are things (the two classes it
tracks), the other 17 stuff.

Every dataset is ``panoptic``. Image ids are the map's path under its folder without suffix
(``000030_10``, ``train/0000/000000``); ``file_name`` the photo's path under its folder. Rules
in :mod:`.kitti_rules`; a photo of another size than its map is refused (exit 2).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import views
from ..errors import FormatError
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT
from .common import Detection, read_only
from .kitti_rules import (
    INSTANCE,
    SEMANTIC,
    SPLIT,
    STEP_MAPS,
    Entry,
    categories,
    check_photo,
    check_semantic,
    class_table,
    find,
    layout,
    partition,
    png_size,
    read_label_colors,
    read_map,
)

NAME = "kitti"
targets = read_only(NAME)  # not written: convert --to refuses in one line
CHECKS = "kitti_checks"  # its checks (validate); findings need a person's decision: no --fix
MERGED = "KITTI instance numbers of a class without instances (merged into its one segment)"


def detect(path: Path) -> Detection:
    """Strong for ``training/`` with ``instance/`` or ``semantic/`` (or its parent), and for a
    KITTI-STEP root with ``panoptic_maps/``; weak without photos beside."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    lay = layout(path)
    if lay is None:
        return Detection("no", f"no {SPLIT}/{INSTANCE}/, {SPLIT}/{SEMANTIC}/ or {STEP_MAPS}/ folder")
    where = lay.maps.relative_to(path).as_posix()
    if not lay.photos.is_dir():
        return Detection("weak", f"KITTI {lay.kind} maps ({where}/) but no {lay.photos.name}/ beside")
    return Detection("strong", f"KITTI {lay.kind} layout ({where}/)")


@dataclass(frozen=True, slots=True)
class KittiImage:
    """Pixels of one image: its map (and semantic PNG), decoded on load."""

    entry: Entry
    kind: str
    table: tuple[tuple[int, ...], tuple[bool, ...]]

    def load(self, image: ImageInfo) -> Annotation:
        """See the module's doc."""
        size = (image.width, image.height)
        values = read_map(self.entry, self.kind, size, STRICT)
        assert values is not None  # the strict policy raises instead
        check_semantic(values, self.entry, size, STRICT)
        parts = partition(values, self.kind, self.table, self.entry.labels, STRICT, image.id)
        assert parts is not None
        segs = Segments.build(id=parts.ids, category_id=parts.classes, iscrowd=parts.crowd)
        changed = Counter({MERGED: parts.merged}) if parts.merged else None
        return Annotation(
            image, views.measure(parts.index, segs), id_map=parts.index, origin=self.entry.labels, changed=changed
        )


def _image(entry: Entry, photos: Path) -> ImageInfo:
    width, height = png_size(entry.labels)
    check_photo(entry.photo, (width, height), STRICT, entry.id)
    name = Path(entry.photo).relative_to(photos).as_posix() if entry.photo else f"{entry.id}.png"
    return ImageInfo(entry.id, name, height, width, photo=entry.photo or "")


def read(path: Path, *, all_labels: bool = False, **_: Any) -> Dataset:
    """Read a KITTI (or KITTI-STEP) tree; pixels are decoded when a sample is loaded, sizes
    come from the PNG headers."""
    if not path.is_dir():
        raise FormatError("a kitti dataset is a folder (training/ with instance/ or semantic/)", str(path))
    lay = layout(path)
    if lay is None:
        raise FormatError(f"no {SPLIT}/{INSTANCE}/, {SPLIT}/{SEMANTIC}/ or {STEP_MAPS}/ folder", str(path))
    entries = find(lay)
    if not entries:
        raise FormatError(f"no PNG in {lay.maps}", str(path))
    lines = read_label_colors(lay.labels, STRICT) if lay.kind != "step" else None
    cats = categories(lay.kind, all_labels=all_labels, lines=lines)
    table = class_table(lay.kind, cats, None if lines is None else len(lines))
    samples = tuple(Sample(_image(e, lay.photos), KittiImage(e, lay.kind, table)) for e in entries)
    info = {"kitti": {"layout": lay.kind, "all_labels": all_labels, "labels": str(lay.labels or "cityscapes")}}
    return Dataset(cats, samples, "panoptic", info, str(path))


def count_images(path: Path) -> int | None:
    """How many maps validate steps through."""
    lay = layout(path) if path.is_dir() else None
    return None if lay is None else len(find(lay))
