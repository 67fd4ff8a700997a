"""The rules of a Pascal VOC segmentation tree, written once for the reader and ``validate``.

Which images a tree holds (``ImageSets/Segmentation/*.txt``, else the PNGs of
``SegmentationClass/``), its label table (the 21 VOC classes, or datumaro's
``labelmap.txt``, or labelme's ``class_names.txt``), how a class or object PNG is decoded
(palette or grayscale: the index; RGB: through the colour map, as datumaro writes them) and
what the two PNGs of one image must hold. Each problem goes to the caller's error policy
(:mod:`segtool.policy`): the reader stops at the first, validate collects them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, png
from ..errors import SegtoolError
from ..policy import Policy, place
from .common import png_size as png_size  # one header read for every format
from .semantic_rules import histogram, read_labels

VOID = 255  # boundary and "difficult" pixels, in both PNGs
NAMES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
VOID_NAMES = ("ignored", "__ignore__", "void")  # a label of these names is the void value
LABELMAP = "labelmap.txt"
CLASS_NAMES = "class_names.txt"
CLASS, OBJECT, SETS, PHOTOS = "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation", "JPEGImages"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def colormap(n: int = 256) -> npt.NDArray[np.uint8]:
    """The VOC colour map (VOCdevkit's ``labelcolormap``): index ``i``'s colour from its bits."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


COLORMAP = colormap()


@dataclass(frozen=True)
class Table:
    """The label table: class id (the index) → name and colour; where it came from."""

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    origin: str  # "voc", or the path of the labelmap / class_names file

    def color_index(self) -> dict[tuple[int, int, int], int]:
        """Colour → class id (void: 255), for RGB class PNGs."""
        out = {c: i for i, c in enumerate(self.colors) if self.names[i] not in VOID_NAMES}
        out.setdefault(tuple(int(v) for v in COLORMAP[VOID]), VOID)  # type: ignore[arg-type]
        return out


def default_table() -> Table:
    colors = tuple((int(r), int(g), int(b)) for r, g, b in COLORMAP[: len(NAMES)])
    return Table(NAMES, colors, "voc")


def _lines(path: Path) -> list[str]:
    try:
        text = imageio.read_bytes(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"unreadable text file ({exc})", str(path)) from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def read_table(root: Path, report: Policy) -> Table:
    """The label table of the tree at ``root``: ``labelmap.txt`` (datumaro's
    ``name:r,g,b:parts:actions`` lines, class id = line number), else ``class_names.txt``
    (labelme's: one name a line), else the 21 VOC classes. A bad line is reported and the
    VOC table used."""
    path = root / LABELMAP
    if path.is_file():
        names: list[str] = []
        colors: list[tuple[int, int, int]] = []
        for n, line in enumerate(_lines(path)):
            name, _, rest = line.partition(":")
            color = rest.partition(":")[0]
            try:
                rgb = tuple(int(v) for v in color.split(",")) if color else tuple(COLORMAP[len(names)].tolist())
            except ValueError:
                rgb = ()
            if not name or len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb) or name in names:
                msg = f"line {n + 1} {line!r:.60} is not 'name:r,g,b:parts:actions' with a new name"
                report("voc-labelmap-invalid", msg, str(path))
                return default_table()
            names.append(name)
            colors.append((int(rgb[0]), int(rgb[1]), int(rgb[2])))
        if not 0 < len(names) <= VOID + 1:
            report("voc-labelmap-invalid", f"{len(names)} labels; a VOC label map has 1..256", str(path))
            return default_table()
        if len(names) > VOID and names[VOID] not in VOID_NAMES:
            report("voc-labelmap-invalid", "label 255 is the void value; name it 'ignored'", str(path))
            return default_table()
        return Table(tuple(names), tuple(colors), str(path))
    path = root / CLASS_NAMES
    if path.is_file():
        names = _lines(path)
        if not 0 < len(names) < VOID or len(set(names)) != len(names):
            report("voc-labelmap-invalid", "class_names.txt must hold 1..255 distinct names", str(path))
            return default_table()
        colors = [(int(r), int(g), int(b)) for r, g, b in COLORMAP[: len(names)]]
        return Table(tuple(names), tuple(colors), str(path))
    return default_table()


@dataclass
class Entry:
    """One image of the tree: its stem, the lists naming it and its files (None: absent)."""

    stem: str
    splits: list[str] = field(default_factory=list)
    labels: str | None = None
    objects: str | None = None
    photo: str | None = None


def find(root: Path, report: Policy) -> list[Entry]:
    """Every image of the tree: the stems of ``ImageSets/Segmentation/*.txt`` (first token of
    each line; ``#`` comments skipped), in list then line order, else every PNG of
    ``SegmentationClass/``. A listed stem with neither a class PNG nor a photo is reported
    and left out; one with a photo only is an image without annotations (a test split)."""
    entries: dict[str, Entry] = {}
    sets = root / SETS
    lists = sorted(p for p in sets.glob("*.txt") if p.is_file()) if sets.is_dir() else []
    for lst in lists:
        for line in _lines(lst):
            stem = line.split()[0]
            entries.setdefault(stem, Entry(stem)).splits.append(lst.stem)
    if not lists:
        for p in sorted((root / CLASS).glob("*.png")):
            entries[p.stem] = Entry(p.stem)
    out = []
    for stem, entry in entries.items():
        if "/" in stem or "\\" in stem or stem in (".", ".."):
            report("voc-missing", f"{place(stem)}: a list names {stem!r:.60}, not an image stem", str(sets), stem)
            continue
        for kind, folder in (("labels", CLASS), ("objects", OBJECT)):
            path = root / folder / f"{stem}.png"
            if path.is_file():
                setattr(entry, kind, str(path))
        for suffix in PHOTO_SUFFIXES:
            if (root / PHOTOS / f"{stem}{suffix}").is_file():
                entry.photo = str(root / PHOTOS / f"{stem}{suffix}")
                break
        if entry.labels is None and entry.photo is None:
            where = os.path.join(str(sets), f"{entry.splits[0]}.txt") if entry.splits else str(root / CLASS)
            msg = f"{place(stem)}: listed in {', '.join(entry.splits)} but has no {CLASS} PNG and no photo"
            report("voc-missing", msg, where, stem)
            continue
        out.append(entry)
    return out


def photo_size(path: str) -> tuple[int, int]:
    """(width, height) of a photo (an image listed without annotations)."""
    try:
        with imageio.open_image(path) as img:
            width, height = img.size
    except OSError as exc:
        raise SegtoolError(f"unreadable image ({exc})", path) from None
    return int(width), int(height)


def read_index(
    path: str,
    size: tuple[int, int] | None,
    colors: dict[tuple[int, int, int], int],
    what: str,
    report: Policy,
    image_id: Any,
) -> npt.NDArray[np.int64] | None:
    """A class or object PNG as indices: palette or grayscale as stored, RGB(A) through
    ``colors`` (a colour missing from it is reported). None after a report."""
    try:
        mode = png.header(imageio.read_bytes(path)[:33])[2]
    except (OSError, ValueError):
        mode = ""
    if mode not in ("RGB", "RGBA"):
        found = read_labels(path, size, what, report, image_id)
        return None if found is None else np.asarray(found).astype(np.int64, copy=False)
    try:
        with imageio.open_image(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
    height, width = rgb.shape[:2]
    if size is not None and (width, height) != size:
        report("png-size", f"PNG is {width}x{height} but {what} is {size[0]}x{size[1]}", path, image_id)
        return None
    code = png.rgb_to_u32(np.ascontiguousarray(rgb)).astype(np.int64)
    keys = np.array(sorted((r << 0) | (g << 8) | (b << 16) for r, g, b in colors), np.int64)
    values = np.array([colors[(int(k) & 255, (int(k) >> 8) & 255, int(k) >> 16)] for k in keys], np.int64)
    pos = np.minimum(np.searchsorted(keys, code), max(len(keys) - 1, 0))
    hit = keys[pos] == code if keys.size else np.zeros(code.shape, bool)
    if not hit.all():
        bad = np.unique(code[~hit])[:4]
        shown = ", ".join(f"({int(c) & 255},{(int(c) >> 8) & 255},{int(c) >> 16})" for c in bad)
        msg = f"{place(image_id)}: {what}: colours {shown} are in no class's colour ({int((~hit).sum())} px)"
        report("voc-unknown-class", msg, path, image_id)
        return None
    return values[pos]


@dataclass
class Parts:
    """One image's pixels as segments: ``index`` (k → segment k-1, 0 void) and per segment
    its id, class and crowd flag."""

    index: npt.NDArray[np.int32]
    ids: list[int]
    classes: list[int]
    crowd: list[bool]


def partition(
    labels: npt.NDArray[np.int64],
    objects: npt.NDArray[np.int64] | None,
    n_classes: int,
    paths: tuple[str, str],
    report: Policy,
    image_id: Any,
) -> Parts | None:
    """The segments of one image once its PNGs pass the rules: class ids in the table (or
    255), the object PNG of the class PNG's size, each object of one class. Without an
    object PNG, one segment per class (id = class id + 1). With one, each object value
    1..254 an instance (id = the value) of the class under its pixels, and the class pixels
    outside every object one segment per class (id 256 + class; a crowd for a class other
    than 0). None after a report."""
    where = place(image_id)
    present, _ = histogram(np.maximum(labels, 0))
    unknown = present[(present >= n_classes) & (present != VOID)]
    if unknown.size or labels.min(initial=0) < 0:
        shown = ", ".join(map(str, unknown[:8].tolist()))
        msg = f"{where}: class values {shown} are no class of the label table (0..{n_classes - 1}) nor void 255"
        report("voc-unknown-class", msg, paths[0], image_id)
        return None
    index = np.zeros(labels.shape, np.int32)
    ids: list[int] = []
    classes: list[int] = []
    crowd: list[bool] = []
    rest = labels != VOID
    if objects is not None:
        if objects.shape != labels.shape:
            h, w = labels.shape
            msg = f"{where}: the object PNG is {objects.shape[1]}x{objects.shape[0]} but the class PNG is {w}x{h}"
            report("voc-size-mismatch", msg, paths[1], image_id)
            return None
        inst, _ = histogram(np.maximum(objects, 0))
        for value in inst[(inst > 0) & (inst < VOID)].tolist():
            mask = objects == value
            under = labels[mask]
            kinds, n = np.unique(under[under != VOID], return_counts=True)
            if kinds.size != 1:
                what = ", ".join(map(str, kinds.tolist())) or "void only"
                msg = f"{where}, object {value}: its pixels are of classes {what}"
                report("voc-instance-class", msg, paths[1], image_id, value)
                if kinds.size == 0:
                    continue  # (validate goes on: the object is left out)
                return None
            ids.append(int(value))
            classes.append(int(kinds[np.argmax(n)]))
            crowd.append(False)
            index[mask] = len(ids)
            rest &= ~mask
    for c in np.unique(labels[rest]).tolist():
        ids.append(int(c) + (VOID + 1 if objects is not None else 1))
        classes.append(int(c))
        crowd.append(objects is not None and c != 0)
        index[rest & (labels == c)] = len(ids)
    return Parts(index, ids, classes, crowd)
