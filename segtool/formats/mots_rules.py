"""The rules of a MOTS dataset, written once for the reader and ``validate``.

Two variants (the MOTS page, mots_tools' ``mots_common/io.py``, datumaro's ``mots_format``).
PNG: ``instances/<id>.png``, 16-bit, each pixel ``class_id * 1000 + track`` (0 background),
optionally ``instances/labels.txt`` (class k = line k, 1-based, as datumaro writes it) and
photos in ``images/`` beside; datumaro puts one such folder per subset. txt: ``<seq>.txt``,
one object a line ``frame id class_id height width rle`` (``id = class_id * 1000 + track``,
``rle`` a COCO compressed RLE string). Without a labels.txt the classes are KITTI MOTS': 1
car, 2 pedestrian; class 10 (id 10000) is an ignore region. Masks may not overlap and an id
appears once per frame (mots_tools asserts both).

Which files make an image, which classes there are, how a line is parsed and what one
image's objects must hold. Each problem goes to the caller's error policy
(:mod:`segtool.policy`): the reader stops at the first, validate collects them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, limits, masks
from ..errors import SegtoolError
from ..model import Category
from ..policy import Policy, place
from .common import png_size as png_size
from .semantic_rules import histogram, read_labels
from .tree_rules import check_photo as check_photo  # KITTI's and MOTS' one rule
from .tree_rules import pngs_under, subfolders  # one header read for every format

INSTANCES, PHOTOS, LABELS_FILE, TXT_FOLDER = "instances", "images", "labels.txt", "instances_txt"
DIVISOR = 1000  # a value (or id) is class_id * 1000 + track
IGNORE = 10  # the ignore class (id 10000)
DEFAULT = {1: "car", 2: "pedestrian"}  # KITTI MOTS' classes
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
LINE = re.compile(rb"^\d+ \d+ \d+ \d+ \d+ \S+\s*$")
DEPTH = 3  # folders walked below instances/ (instances/<seq>/<frame>.png)


@dataclass(frozen=True)
class Classes:
    """The classes of a dataset: id → name, whether class 10 is the ignore region, and the
    labels file they came from ("" for KITTI MOTS' two)."""

    names: tuple[tuple[int, str], ...]
    ignore: bool
    origin: str

    def categories(self) -> tuple[Category, ...]:
        """Every class a thing (MOTS annotates objects only; the background is void)."""
        return tuple(Category(i, name, True) for i, name in self.names)


def read_classes(folder: Path | None) -> Classes:
    """``folder/labels.txt`` (a name a line, empty lines skipped: class k = line k) when it
    is there, else car and pedestrian; class 10 is the ignore region unless labels.txt has
    10 lines or more (datumaro's rule)."""
    path = folder / LABELS_FILE if folder is not None else None
    if path is None or not path.is_file():
        return Classes(tuple(DEFAULT.items()), True, "")
    try:
        text = imageio.read_bytes(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"unreadable labels file ({exc})", str(path)) from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) > 65535 // DIVISOR:
        raise SegtoolError(f"{len(names)} labels; a 16-bit MOTS PNG holds classes 1..65", str(path))
    return Classes(tuple(enumerate(names, 1)), len(names) < IGNORE, str(path))


@dataclass(frozen=True)
class Entry:
    """One image: its id, its instance PNG (PNG variant) or its objects' lines (txt variant:
    (id, class, counts) each, with the frame's size and the lines' numbers), the photo."""

    id: str
    file_name: str
    labels: str
    photo: str | None = None
    size: tuple[int, int] | None = None  # (width, height), txt variant
    objects: tuple[tuple[int, int, str], ...] = ()
    lines: tuple[int, ...] = ()


def png_roots(root: Path) -> list[tuple[str, Path]]:
    """The folders holding ``instances/``: ``root`` itself, or its subsets (one folder down)."""
    if (root / INSTANCES).is_dir():
        return [("", root)]
    return [(d.name, d) for d in subfolders(root) if (d / INSTANCES).is_dir()]


def find_pngs(root: Path) -> tuple[list[Entry], list[Path]]:
    """Every instance PNG (image id ``<subset>/<path under instances/>`` without suffix) and
    the folders that may hold a labels.txt."""
    entries = []
    folders = []
    for subset, base in png_roots(root):
        folders.append(base / INSTANCES)
        for path in pngs_under(base / INSTANCES, DEPTH):
            rel = path.relative_to(base / INSTANCES).with_suffix("").as_posix()
            image_id = f"{subset}/{rel}" if subset else rel
            photo = next(
                (base / PHOTOS / f"{rel}{s}" for s in PHOTO_SUFFIXES if (base / PHOTOS / f"{rel}{s}").is_file()), None
            )
            name = photo.relative_to(root).as_posix() if photo is not None else f"{image_id}.png"
            entries.append(Entry(image_id, name, str(path), None if photo is None else str(photo)))
    return entries, folders


def is_txt(path: Path) -> bool:
    """Whether a file's first line reads as a MOTS txt line."""
    if not path.is_file():  # a FIFO or a device is never read
        return False
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
    except OSError:
        return False
    return bool(LINE.match(first))


def txt_files(root: Path) -> list[Path]:
    """The sequence files: ``root`` itself, ``root/instances_txt/*.txt`` or ``root/*.txt``."""
    if root.is_file():
        return [root]
    folder = root / TXT_FOLDER if (root / TXT_FOLDER).is_dir() else root
    return sorted(p for p in folder.glob("*.txt") if p.is_file() and p.name != LABELS_FILE)


@dataclass
class _Frame:
    size: tuple[int, int]
    objects: list[tuple[int, int, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _fields(line: str) -> tuple[int, int, int, int, int, str] | str:
    """A line's fields, or why it is none."""
    parts = line.split()
    # ASCII digits only ("²" is a digit to isdigit, not to int) and at most 18 (int64; a
    # 4,301-digit number is over CPython's conversion limit)
    if len(parts) != 6 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts[:5]):
        return "is not 'frame id class_id height width rle'"
    frame, obj, cls, height, width = (int(p) for p in parts[:5])
    if obj // DIVISOR != cls:
        return f"id {obj} is not class_id {cls} * 1000 + a track"
    if not (0 < height < 2**31 and 0 < width < 2**31):
        return f"size {height}x{width} is no image size"
    return frame, obj, cls, height, width, parts[5]


def parse_txt(path: Path, report: Policy) -> list[Entry]:
    """A sequence file's frames, in frame order: image id ``<seq>/<frame:06d>``. A line that
    cannot be read, of another size than its frame's, or repeating an id in its frame is
    reported and left out."""
    try:
        text = imageio.read_bytes(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"unreadable MOTS txt file ({exc})", str(path)) from None
    seq = path.stem
    frames: dict[int, _Frame] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        got = _fields(line)
        if isinstance(got, str):
            report("mots-line-invalid", f"line {n} {line[:40]!r}: {got}", str(path))
            continue
        frame, obj, cls, height, width, counts = got
        limits.check("pixels", height * width, f"frame {frame} of {width}x{height}", str(path))
        here = frames.setdefault(frame, _Frame((width, height)))
        image_id = f"{seq}/{frame:06d}"
        if here.size != (width, height):
            msg = f"{place(image_id)}: line {n}: size {height}x{width}, the frame's lines say {here.size[1]}x{here.size[0]}"
            report("mots-line-invalid", msg, str(path), image_id)
            continue
        if any(o == obj for o, _, _ in here.objects):
            report(
                "mots-line-invalid", f"{place(image_id)}: line {n}: id {obj} twice in the frame", str(path), image_id
            )
            continue
        limits.check("segments", len(here.objects) + 1, f"objects of frame {frame}", str(path))
        here.objects.append((obj, cls, counts))
        here.lines.append(n)
    return [
        Entry(f"{seq}/{f:06d}", f"{seq}/{f:06d}.png", str(path), None, fr.size, tuple(fr.objects), tuple(fr.lines))
        for f, fr in sorted(frames.items())
    ]


def check_classes(
    ids: npt.NDArray[np.int64], classes: Classes, path: str, report: Policy, image_id: Any
) -> npt.NDArray[np.bool_] | None:
    """Which objects are ignore regions; an object of no class is reported (None)."""
    cls = ids // DIVISOR
    known = np.asarray([i for i, _ in classes.names], np.int64)
    ignore: npt.NDArray[np.bool_] = (cls == IGNORE) & classes.ignore
    bad = ~np.isin(cls, known) & ~ignore
    if bad.any():
        shown = ", ".join(f"{v} (class {c})" for v, c in zip(ids[bad][:6].tolist(), cls[bad][:6].tolist(), strict=True))
        have = f"classes 1..{len(classes.names)} of {classes.origin}" if classes.origin else "classes 1, 2 and 10"
        report("mots-unknown-class", f"{place(image_id)}: objects {shown} are of no class ({have})", path, image_id)
        return None
    return ignore


@dataclass
class Parts:
    """One image's objects: index map (k → segment k-1, 0 void), ids, classes, ignored px."""

    index: npt.NDArray[np.int32]
    ids: npt.NDArray[np.int64]
    classes: npt.NDArray[np.int64]
    ignored: int


def read_png(entry: Entry, size: tuple[int, int] | None, report: Policy) -> npt.NDArray[np.int64] | None:
    """An instance PNG's values, its size checked when ``size`` is given; a MOTS PNG is
    16-bit (an 8-bit one cannot hold class_id * 1000). None after a report."""
    what = f"image {entry.id}"
    values = read_labels(entry.labels, size, what, report, entry.id)
    if values is None:
        return None
    if values.dtype.itemsize == 1:
        msg = f"{what}: a MOTS PNG is 16-bit (class_id * 1000 + track); this one is 8-bit"
        report("label-mode", msg, entry.labels, entry.id)
        return None
    out = np.asarray(values).astype(np.int64, copy=False)
    if out.min(initial=0) < 0:
        report("mots-unknown-class", f"{what}: negative values", entry.labels, entry.id)
        return None
    return out


def png_parts(
    values: npt.NDArray[np.int64], classes: Classes, path: str, report: Policy, image_id: Any
) -> Parts | None:
    """A PNG's objects: one per value > 0 (id: the value), ignore regions void."""
    present, counts = histogram(values)
    objects = present[present > 0]
    ignore = check_classes(objects, classes, path, report, image_id)
    if ignore is None:
        return None
    kept = objects[~ignore]
    seg_of = np.zeros(len(present), np.int32)
    seg_of[present > 0] = np.where(ignore, 0, np.cumsum(~ignore))
    index = seg_of[np.searchsorted(present, values)].astype(np.int32, copy=False)
    ignored = int(counts[present > 0][ignore].sum())
    return Parts(index, kept, kept // DIVISOR, ignored)


def txt_parts(entry: Entry, classes: Classes, report: Policy) -> Parts | None:
    """A frame's objects decoded (segtool.cocomask: each RLE checked first): they may not
    overlap; ignore regions void."""
    assert entry.size is not None
    width, height = entry.size
    ids = np.asarray([o for o, _, _ in entry.objects], np.int64)
    ignore = check_classes(ids, classes, entry.labels, report, entry.id)
    if ignore is None:
        return None
    rles = [{"size": [height, width], "counts": counts} for _, _, counts in entry.objects]
    try:
        stack = masks.decode(rles, height, width)
    except ValueError as exc:
        bad = masks.check_compressed(rles)
        line = f"line {entry.lines[bad]}: " if bad is not None else ""
        report("mots-line-invalid", f"{place(entry.id)}: {line}{exc}", entry.labels, entry.id)
        return None
    cover = stack.sum(axis=2, dtype=np.int64)
    if (cover > 1).any():
        y, x = np.argwhere(cover > 1)[0]
        a, b = ids[np.flatnonzero(stack[y, x])[:2]].tolist()
        msg = f"{place(entry.id)}: objects {a} and {b} overlap ({int((cover > 1).sum())} px covered twice)"
        report("mots-overlap", msg, entry.labels, entry.id)
        return None
    order = np.flatnonzero(~ignore)
    index = np.zeros((height, width), np.int32)
    for k, i in enumerate(order, 1):
        index[stack[..., i].astype(bool)] = k
    ignored = int(stack[..., np.flatnonzero(ignore)].sum()) if ignore.any() else 0
    return Parts(index, ids[order], ids[order] // DIVISOR, ignored)
