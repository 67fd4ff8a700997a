"""The rules of an ADE20K tree, written once for the reader and ``validate``.

Two layouts. SceneParsing (``ADEChallengeData2016/``): ``images/<split>/<stem>.jpg`` and
``annotations/<split>/<stem>.png``, 8-bit, 0 = other (void), 1..150 the classes of
``objectInfo150.csv`` (built in below as data; the file's names are used when present).
The full dataset (2016 and later): ``<...>/<stem>_seg.png`` beside ``<stem>.jpg``, RGB,
class = R/10*256 + G (0 unlabelled), instances told apart by B, as ADE20K's own
``utils_ade20k.loadAde20K`` reads them; ``<stem>_parts_N.png`` (part levels) are not read.
Each problem goes to the caller's error policy (:mod:`segtool.policy`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio
from ..errors import SegtoolError
from ..policy import Policy, place
from .semantic_rules import histogram, read_labels

VOID = 0  # "other": unlabelled pixels in both layouts
SPLITS = ("training", "validation")
IMAGES, ANNOTATIONS, OBJECT_INFO, SCENES = "images", "annotations", "objectInfo150.csv", "sceneCategories.txt"
SEG = "_seg.png"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_DEPTH = (
    8  # folders below the root searched for *_seg.png (dataset/ADE20K_2021_17_01/images/ADE/training/urban/street)
)

# objectInfo150.csv's classes 1..150, the first name of each row's Name column
NAMES150 = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow",
    "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair",
    "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole",
    "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship",
    "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel",
    "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket",
    "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",
    "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
assert len(NAMES150) == 150


def _text(path: Path) -> str:
    try:
        return imageio.read_bytes(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"unreadable text file ({exc})", str(path)) from None


def read_names(root: Path, report: Policy) -> tuple[tuple[str, ...], str]:
    """The class names 1..n of a SceneParsing tree and where they came from:
    ``objectInfo150.csv`` (``Idx,Ratio,Train,Val,Name``; the first ``;``-separated name),
    else the built-in 150. A file that cannot be parsed is reported; the 150 are used."""
    path = root / OBJECT_INFO
    if not path.is_file():
        return NAMES150, "ade20k"
    rows = list(csv.reader(io.StringIO(_text(path))))
    names: list[str] = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            idx = int(row[0])
        except (ValueError, IndexError):
            idx = -1
        name = row[-1].split(";")[0].strip() if len(row) >= 5 else ""
        if idx != len(names) + 1 or not name or idx > 255:
            msg = f"line {n} is not 'Idx,Ratio,Train,Val,Name' with Idx {len(names) + 1} (1..255)"
            report("ade20k-objectinfo-invalid", msg, str(path))
            return NAMES150, "ade20k"
        names.append(name)
    if not names:
        report("ade20k-objectinfo-invalid", "no classes", str(path))
        return NAMES150, "ade20k"
    return tuple(names), str(path)


def read_scenes(root: Path) -> dict[str, str]:
    """``sceneCategories.txt``: stem → scene (``ADE_train_00000001 airport_terminal``)."""
    path = root / SCENES
    if not path.is_file():
        return {}
    out = {}
    for line in _text(path).splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


@dataclass
class Entry:
    """One image: its id (``<split>/<stem>``, or the path under the root without ``_seg``),
    its split, annotation PNG and photo (None: absent)."""

    id: str
    split: str
    labels: str | None
    photo: str | None


def _photo(base: Path) -> str | None:
    for suffix in PHOTO_SUFFIXES:
        if base.with_name(base.name + suffix).is_file():
            return str(base.with_name(base.name + suffix))
    return None


def find_scene_parsing(root: Path, report: Policy) -> list[Entry]:
    """Every image of a SceneParsing tree, split by split (training, validation, then any
    other folder of ``annotations/``), stems sorted. A photo without its annotation PNG is
    reported (``ade20k-missing``) and left out; an annotation without a photo is read."""
    splits = [s for s in SPLITS if (root / ANNOTATIONS / s).is_dir() or (root / IMAGES / s).is_dir()]
    for folder in (ANNOTATIONS, IMAGES):
        if (root / folder).is_dir():
            extra = sorted(p.name for p in (root / folder).iterdir() if p.is_dir() and p.name not in splits)
            splits += extra
    out = []
    for split in splits:
        pngs = (
            {p.stem: p for p in (root / ANNOTATIONS / split).glob("*.png")}
            if (root / ANNOTATIONS / split).is_dir()
            else {}
        )
        photos: dict[str, Path] = {}
        if (root / IMAGES / split).is_dir():
            for p in (root / IMAGES / split).iterdir():
                if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file():
                    photos.setdefault(p.stem, p)
        for stem in sorted(set(pngs) | set(photos)):
            image_id = f"{split}/{stem}"
            if stem not in pngs:
                msg = f"{place(image_id)}: the photo has no annotation PNG in {ANNOTATIONS}/{split}/"
                report("ade20k-missing", msg, str(photos[stem]), image_id)
                continue
            photo = photos.get(stem)
            out.append(Entry(image_id, split, str(pngs[stem]), None if photo is None else str(photo)))
    return out


def find_full(root: Path) -> list[Entry]:
    """Every ``*_seg.png`` under ``root`` (up to :data:`MAX_DEPTH` folders down), sorted by
    path; the split is the first of ``training``/``validation`` on the path, else ``default``."""
    out = []
    for base, dirs, files in os.walk(root):
        depth = len(Path(base).relative_to(root).parts)
        if depth >= MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            if name.endswith(SEG):
                seg = Path(base) / name
                rel = seg.relative_to(root).as_posix()[: -len(SEG)]
                split = next((p for p in Path(rel).parts if p in SPLITS), "default")
                out.append(Entry(rel, split, str(seg), _photo(Path(base) / name[: -len(SEG)])))
    return out


def has_seg(root: Path) -> str | None:
    """The first ``*_seg.png`` under ``root`` (detection), or None."""
    for base, dirs, files in os.walk(root):
        if len(Path(base).relative_to(root).parts) >= MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in files:
            if name.endswith(SEG):
                return os.path.join(base, name)
    return None


def scene_labels(
    path: str, size: tuple[int, int] | None, n_classes: int, report: Policy, image_id: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """A SceneParsing annotation PNG (8-bit L or P, or 16-bit) and the values present in it,
    every value 0 (other) or a class 1..``n_classes``; None after a report."""
    found = read_labels(path, size, f"image {image_id}", report, image_id)
    if found is None:
        return None
    labels = np.asarray(found).astype(np.int64, copy=False)
    if labels.min(initial=0) < 0:
        msg = f"{place(image_id)}: negative values are no class of the table (0 other, 1..{n_classes})"
        report("ade20k-unknown-class", msg, path, image_id)
        return None
    present, counts = histogram(labels)
    if not class_values(present, counts, n_classes, path, report, image_id):
        return None
    return labels, present


def class_values(
    present: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    n_classes: int,
    path: str,
    report: Policy,
    image_id: Any,
) -> bool:
    """Whether every value of ``present`` (``counts``: pixels of each) is 0 or a class
    1..``n_classes``; reported when not."""
    bad = present > n_classes
    if not bad.any():
        return True
    shown = ", ".join(map(str, present[bad][:8].tolist()))
    px = int(counts[bad].sum())
    msg = f"{place(image_id)}: values {shown} are no class of the table (0 other, 1..{n_classes}) ({px} px)"
    report("ade20k-unknown-class", msg, path, image_id)
    return False


@dataclass
class Full:
    """One full-dataset ``_seg.png`` decoded: ``classes`` (R/10*256 + G), ``instances``
    (the rank of B among the image's B values, as loadAde20K numbers them)."""

    classes: npt.NDArray[np.int64]
    instances: npt.NDArray[np.int64]


def read_seg(path: str, size: tuple[int, int] | None, report: Policy, image_id: Any) -> Full | None:
    """A full-dataset ``_seg.png``: RGB (or RGBA) of ``size``; None after a report."""
    try:
        with imageio.open_image(path) as img:
            mode = img.mode
            rgb = np.asarray(img.convert("RGB")) if mode in ("RGB", "RGBA") else None
    except FileNotFoundError:
        report("png-missing", f"missing PNG for image {image_id}", path, image_id)
        return None
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        report("png-unreadable", f"unreadable PNG for image {image_id} ({exc})", path, image_id)
        return None
    if rgb is None:
        report("label-mode", f"image {image_id}: a _seg.png is RGB, not mode {mode}", path, image_id)
        return None
    height, width = rgb.shape[:2]
    if size is not None and (width, height) != size:
        report("png-size", f"PNG is {width}x{height} but image {image_id} is {size[0]}x{size[1]}", path, image_id)
        return None
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    classes = (r // 10) * 256 + g
    _, inverse = np.unique(b, return_inverse=True)
    return Full(classes, inverse.reshape(b.shape).astype(np.int64))


def object_names(seg: str, full: Full | None) -> dict[int, str]:
    """Class id → name from the files beside a ``_seg.png``: the 2021 ``<stem>.json``
    (``name_ndx`` + its WordNet ``name``, whole objects) or the 2016 ``<stem>_atr.txt`` (instance number
    → name, joined with the class under that instance's pixels). Unparseable files give none."""
    base = seg[: -len(SEG)]
    out: dict[int, str] = {}
    if os.path.isfile(base + ".json"):
        try:
            data = json.loads(_text(Path(base + ".json")))
            for obj in data["annotation"]["object"]:
                parts = obj.get("parts") or {}
                if isinstance(parts, dict) and parts.get("part_level", 0) == 0:
                    out[int(obj["name_ndx"])] = str(obj.get("name") or obj["raw_name"]).strip()
        except (SegtoolError, ValueError, KeyError, TypeError):
            return {}
        return out
    if os.path.isfile(base + "_atr.txt") and full is not None:
        try:
            lines = _text(Path(base + "_atr.txt")).splitlines()
        except SegtoolError:
            return {}
        for line in lines:
            cols = [c.strip() for c in line.split("#")]
            if len(cols) < 5 or cols[1] != "0" or not cols[0].isdigit():
                continue
            under = full.classes[full.instances == int(cols[0])]
            kinds = np.unique(under[under != VOID])
            if kinds.size == 1:
                out.setdefault(int(kinds[0]), cols[4])
    return out
