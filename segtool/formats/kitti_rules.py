"""The rules of a KITTI segmentation tree, written once for the reader and ``validate``.

Two layouts. KITTI's semantic/instance benchmark (2015): ``training/instance/*.png``, 16-bit,
each pixel ``label id * 256 + instance`` (the low 8 bits the instance, 0: "no instance ground
truth"), and/or ``training/semantic/*.png``, 8-bit label ids; the label ids are Cityscapes'
(the devkit's README points at cityscapesScripts' ``labels.py``), photos in
``training/image_2/``. KITTI-STEP: ``panoptic_maps/<split>/<seq>/<frame>.png``, RGB with
R = Cityscapes trainId (0..18, 255 void) and G * 256 + B = the instance (track) id, photos in
``images/<split>/<seq>/<frame>.png`` (deeplab2's ``g3doc/setup/kitti_step.md``).

Which files make an image, how its map is decoded, which values are classes, and what the
photo and a semantic PNG beside an instance PNG must agree with. Each problem goes to the
caller's error policy (:mod:`segtool.policy`): the reader stops at the first, validate
collects them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, png
from ..model import Category
from ..policy import Policy, place
from .cityscapes_labels import LABELS, MAX_ID
from .common import png_size as png_size
from .semantic_rules import histogram, read_labels
from .tree_rules import check_photo as check_photo  # KITTI's and MOTS' one rule
from .tree_rules import pngs_under  # one header read for every format

SPLIT, PHOTOS, INSTANCE, SEMANTIC = "training", "image_2", "instance", "semantic"
LABEL_COLORS = "label_colors.txt"  # datumaro's (CVAT's KITTI export's) label map: "r g b name" lines
STEP_MAPS, STEP_PHOTOS = "panoptic_maps", "images"
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
STEP_VOID = 255  # KITTI-STEP's void trainId
STEP_CLASSES = 19  # trainIds 0..18
STEP_THINGS = (11, 13)  # person, car: the classes KITTI-STEP tracks (deeplab2's thing list)
# bits of the class in a value, per layout: label * 256 + instance; trainId << 16 | G << 8 | B
SHIFT = {"instance": 8, "semantic": 0, "step": 16}
DEPTH = 4  # folders walked below an annotation folder (panoptic_maps/<split>/<seq>/)


@dataclass(frozen=True)
class Layout:
    """Where a tree's maps and photos lie: ``kind`` is ``instance``, ``semantic`` or ``step``."""

    kind: str
    maps: Path
    photos: Path
    semantic: Path | None = None  # semantic/ beside instance/
    labels: Path | None = None  # label_colors.txt (beside training/, or in it)


def layout(root: Path) -> Layout | None:
    """The layout of the tree at ``root`` (``training/``, its parent, or a KITTI-STEP root),
    or None."""
    if (root / STEP_MAPS).is_dir():
        return Layout("step", root / STEP_MAPS, root / STEP_PHOTOS)
    split = root if any((root / d).is_dir() for d in (INSTANCE, SEMANTIC)) else root / SPLIT
    labels = next((p for p in (split.parent / LABEL_COLORS, split / LABEL_COLORS) if p.is_file()), None)
    if (split / INSTANCE).is_dir():
        sem = split / SEMANTIC
        return Layout("instance", split / INSTANCE, split / PHOTOS, sem if sem.is_dir() else None, labels)
    if (split / SEMANTIC).is_dir():
        return Layout("semantic", split / SEMANTIC, split / PHOTOS, None, labels)
    return None


Lines = tuple[tuple[str, "tuple[int, int, int] | None"], ...]


def read_label_colors(path: Path | None, report: Policy) -> Lines | None:
    """``label_colors.txt`` as datumaro writes it (``r g b name`` or ``name`` a line, ``#``
    comments; class id = line number from 0), or None (no file, or one the report was told
    is broken: the Cityscapes table is used)."""
    if path is None:
        return None
    try:
        text = imageio.read_bytes(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        report("kitti-labels-invalid", f"unreadable label map ({exc})", str(path))
        return None
    out: list[tuple[str, tuple[int, int, int] | None]] = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        rgb = words[:3] if len(words) > 3 and all(w.isdigit() and int(w) < 256 for w in words[:3]) else None
        name = " ".join(words[3:] if rgb else words)
        if (len(words) > 3 and rgb is None) or any(name == known for known, _ in out) or len(out) == 256:
            report(
                "kitti-labels-invalid",
                f"line {n} {line[:40]!r}: not 'r g b name' with a new name (256 at most)",
                str(path),
            )
            return None
        out.append((name, None if rgb is None else (int(rgb[0]), int(rgb[1]), int(rgb[2]))))
    if not out:
        report("kitti-labels-invalid", "no label", str(path))
        return None
    return tuple(out)


@dataclass(frozen=True)
class Entry:
    """One image: its id (the map's path under its folder, no suffix), its map, the semantic
    PNG beside an instance PNG and the photo (None: absent)."""

    id: str
    labels: str
    semantic: str | None
    photo: str | None


def find(lay: Layout) -> list[Entry]:
    """Every image of the tree, by path; the photo is ``<id>`` with a photo suffix in the
    photos folder."""
    out = []
    for path in pngs_under(lay.maps, DEPTH):
        rel = path.relative_to(lay.maps).with_suffix("").as_posix()
        sem = lay.semantic / f"{rel}.png" if lay.semantic is not None else None
        photo = next((lay.photos / f"{rel}{s}" for s in PHOTO_SUFFIXES if (lay.photos / f"{rel}{s}").is_file()), None)
        semantic = str(sem) if sem is not None and sem.is_file() else None
        out.append(Entry(rel, str(path), semantic, None if photo is None else str(photo)))
    return out


VOID_NAMES = ("unlabeled", "background", "ignored", "void")  # label_colors.txt names read as void
_BY_KEY = {lab.name.replace(" ", ""): lab for lab in LABELS}  # datumaro spells "egovehicle"


def categories(kind: str, *, all_labels: bool = False, lines: Lines | None = None) -> tuple[Category, ...]:
    """KITTI's classes: Cityscapes' evaluated labels by label id (``all_labels``: every label
    but ``unlabeled``), things those with instances; a label_colors.txt's lines instead when
    there is one (a Cityscapes name takes that label's facts, another name is a thing;
    ``unlabeled``, ``background``, ``ignored``, ``void`` are void);
    KITTI-STEP's 19 trainIds, things the two it tracks."""
    if kind == "step":
        return tuple(
            Category(lab.train_id, lab.name, lab.train_id in STEP_THINGS, lab.color, lab.category)
            for lab in LABELS
            if 0 <= lab.train_id < STEP_CLASSES
        )
    if lines is not None:
        out = []
        for i, (name, color) in enumerate(lines):
            lab = _BY_KEY.get(name.replace(" ", "").lower())
            if name.lower() in VOID_NAMES or (lab is not None and lab.ignore_in_eval and not all_labels):
                continue  # void
            thing = True if lab is None else lab.has_instances
            out.append(Category(i, name, thing, color or (lab.color if lab else None), lab.category if lab else ""))
        return tuple(out)
    return tuple(
        Category(lab.id, lab.name, lab.has_instances, lab.color, lab.category)
        for lab in LABELS
        if lab.id > 0 and (all_labels or not lab.ignore_in_eval)
    )


def class_table(
    kind: str, cats: Sequence[Category], size: int | None = None
) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Per class value (label id 0..33, a label_colors.txt line 0..``size`` - 1, or trainId
    0..255): its category id (-1 void, -2 no class at all) and whether it has instances."""
    size = size if size is not None else 256 if kind == "step" else MAX_ID + 1
    lut = [-2 if kind == "step" else -1] * size  # a trainId beyond 18 is no class; a label id is void
    things = [False] * size
    if kind == "step":
        lut[STEP_VOID] = -1
    for c in cats:
        lut[c.id], things[c.id] = c.id, c.isthing
    return tuple(lut), tuple(things)


def read_map(entry: Entry, kind: str, size: tuple[int, int] | None, report: Policy) -> npt.NDArray[np.int64] | None:
    """An image's map as values ``class << SHIFT[kind] | instance``, its size checked when
    ``size`` is given; None after a report."""
    what = f"image {entry.id}"
    if kind == "step":
        if size is None:
            size = png_size(entry.labels)
        rgb = png.read_rgb(entry.labels, size[0], size[1], what, report, entry.id)
        if rgb is None:
            return None
        return png.rgb_to_u32(np.ascontiguousarray(rgb[..., ::-1])).astype(np.int64)  # R << 16 | G << 8 | B
    values = read_labels(entry.labels, size, what, report, entry.id)
    if values is None:
        return None
    if kind == "instance" and values.dtype == np.uint8:
        msg = f"{what}: an instance PNG is 16-bit (label id * 256 + instance); this one is 8-bit"
        report("label-mode", msg, entry.labels, entry.id)
        return None
    out = np.asarray(values).astype(np.int64, copy=False)
    if out.min(initial=0) < 0:
        report("kitti-unknown-class", f"{what}: negative values", entry.labels, entry.id)
        return None
    return out


def check_semantic(values: npt.NDArray[np.int64], entry: Entry, size: tuple[int, int], report: Policy) -> bool:
    """The semantic PNG beside an instance PNG must be of its size and hold its label ids."""
    if entry.semantic is None:
        return True
    sem = read_labels(entry.semantic, size, f"image {entry.id}", report, entry.id)
    if sem is None:
        return False
    differ = int(np.count_nonzero(np.asarray(sem).astype(np.int64) != values >> SHIFT["instance"]))
    if differ:
        msg = f"image {entry.id}: {differ} px of the semantic PNG differ from the instance PNG's label ids"
        report("kitti-label-mismatch", msg, entry.semantic, entry.id)
        return False
    return True


@dataclass
class Parts:
    """One image's pixels as segments: ``index`` (k → segment k-1, 0 void), each segment's
    id, category and crowd flag, and how many stuff instance numbers were merged."""

    index: npt.NDArray[np.int32]
    ids: npt.NDArray[np.int64]
    classes: npt.NDArray[np.int64]
    crowd: npt.NDArray[np.bool_]
    merged: int


def partition(
    values: npt.NDArray[np.int64],
    kind: str,
    table: tuple[tuple[int, ...], tuple[bool, ...]],
    path: str,
    report: Policy,
    image_id: Any,
) -> Parts | None:
    """The segments of one map: a value of a class with instances and an instance > 0 is
    one instance (id: the value); the class's pixels with instance 0 one crowd region (id:
    the class's bits alone); a class without instances one segment (id: the same), its
    instance numbers merged; void classes left out. A class value that is no class of the
    table is reported (None)."""
    lut, things = np.asarray(table[0], np.int64), np.asarray(table[1], bool)
    shift = SHIFT[kind]
    present, counts = histogram(values)
    cls = present >> shift
    inst = present & ((1 << shift) - 1)
    unknown = (cls >= len(lut)) | (lut[np.minimum(cls, len(lut) - 1)] == -2)
    if unknown.any():
        shown = ", ".join(
            f"{v} (class {c})" for v, c in zip(present[unknown][:6].tolist(), cls[unknown][:6].tolist(), strict=True)
        )
        what = "trainIds 0..18 or 255" if kind == "step" else f"label ids 0..{len(lut) - 1}"
        msg = f"{place(image_id)}: values {shown} are of no class ({what}; {int(counts[unknown].sum())} px)"
        report("kitti-unknown-class", msg, path, image_id)
        return None
    cat = lut[cls]
    thing = things[cls] & (cat >= 0)
    key = np.where(thing & (inst > 0), present, cls << shift)
    kept = cat >= 0
    ids = np.unique(key[kept])
    seg_of = np.zeros(len(present), np.int32)
    seg_of[kept] = np.searchsorted(ids, key[kept]).astype(np.int32) + 1
    index = seg_of[np.searchsorted(present, values)]
    classes = lut[ids >> shift]
    crowd = things[ids >> shift] & ((ids & ((1 << shift) - 1)) == 0)
    merged = int(np.count_nonzero(kept & ~thing & (inst > 0)))
    return Parts(index.astype(np.int32, copy=False), ids, classes, crowd, merged)
