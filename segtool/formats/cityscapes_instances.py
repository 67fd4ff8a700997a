"""Cityscapes instance predictions as evalInstanceLevelSemanticLabeling reads them.

Per ground-truth image ``<city>_<seq>_<frame>``, the one text file anywhere below the
results folder named ``<city>_<seq>_<frame>*.txt`` (getPrediction), each line
``<mask png> <label id> <confidence>``: the PNG's path relative to the text file, which must
stay inside the results folder; the label id a Cityscapes label id (``int(float(…))``, as
there); any non-zero pixel of the PNG (read as Pillow's ``convert("L")``) is the object.
A PNG listed twice in one file is one prediction, the last line's label and confidence
(readPredInfo keeps a dict by path). Predictions of labels the benchmark does not score
(road, caravan …) are kept when the ground truth has their category, and the metric
passes them over, as the reference does.

Stricter than getPrediction, as segtool's pairing is everywhere: a text file that matches
no ground-truth image, or a ground-truth image without one, is an error. More lenient:
blank lines are passed over, and fields may be separated by any whitespace.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import imageio, masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Dataset, ImageInfo, Segments
from ..pairing import Predictions
from .cityscapes_labels import BY_ID

LISTED = re.compile(r"^([^_/\\]+_\d{6}_\d{6}).*\.txt$")  # <city>_<seq>_<frame>*.txt
DEPTH = 4  # folders walked below a predictions folder when looking for text files


def has_lists(path: Path) -> bool:
    """Whether ``path`` is a folder with a Cityscapes-named text file up to DEPTH folders down."""
    if not path.is_dir():
        return False
    base = len(path.parts)
    for folder, dirs, names in os.walk(path):
        dirs[:] = dirs if len(Path(folder).parts) - base < DEPTH else []
        if any(LISTED.match(n) for n in names):
            return True
    return False


def _key(image_id: Any) -> str:
    """``<city>_<seq>_<frame>`` of an image id (the stem), as getCsFileInfo splits it."""
    return "_".join(str(image_id).split("_")[:3])


def match(path: Path, gt: Dataset) -> dict[Any, str]:
    """The text file of each ground-truth image; a stray, a second or a missing one is an
    error naming the file (or the image)."""
    by_key: dict[str, Any] = {}
    for s in gt.samples:
        if _key(s.image.id) in by_key:
            raise SegtoolError(
                f"ground-truth images {by_key[_key(s.image.id)]} and {s.image.id} share {_key(s.image.id)}"
            )
        by_key[_key(s.image.id)] = s.image.id
    found: dict[Any, str] = {}
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(n for n in names if n.endswith(".txt")):
            file = os.path.join(folder, name)
            listed = LISTED.match(name)
            image_id = by_key.get(listed.group(1)) if listed else None
            if image_id is None:
                raise SegtoolError(
                    f"prediction list {name} matches no ground-truth image (<city>_<seq>_<frame>*.txt)", file
                )
            if image_id in found:
                raise SegtoolError(
                    f"several predictions for image {image_id}: {Path(found[image_id]).name} and {name}", file
                )
            found[image_id] = file
    missing = [s.image.id for s in gt.samples if s.image.id not in found]
    if missing:
        msg = (
            f"no prediction list <city>_<seq>_<frame>*.txt for image {missing[0]} ({len(missing)} image(s) without one)"
        )
        raise SegtoolError(msg, str(path))
    return found


def read_lines(txt: str, root: str) -> tuple[dict[str, tuple[int, float]], int]:
    """The masks of one text file (absolute path -> (label id, confidence)), in first-listed
    order, and how many lines named a mask listed before."""
    try:
        with open(txt, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"unreadable prediction list ({exc})", txt) from None
    found: dict[str, tuple[int, float]] = {}
    repeated = 0
    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {n}"
        if len(fields) != 3:
            raise FormatError(f"{where}: expected '<mask png> <label id> <confidence>', got {len(fields)} fields", txt)
        if os.path.isabs(fields[0]):
            raise FormatError(f"{where}: the mask path must be relative to the list, got {fields[0]!r:.80}", txt)
        mask = os.path.abspath(os.path.join(os.path.dirname(txt), fields[0]))
        if os.path.commonpath([mask, root]) != root:
            raise FormatError(f"{where}: mask {fields[0]!r:.80} points outside the predictions folder", txt)
        try:
            label, conf = int(float(fields[1])), float(fields[2])
        except (ValueError, OverflowError):
            raise FormatError(
                f"{where}: label id and confidence must be numbers, got {fields[1]!r:.20} {fields[2]!r:.20}", txt
            ) from None
        if label not in BY_ID:
            raise FormatError(f"{where}: {label} is no Cityscapes label id", txt)
        if not math.isfinite(conf):
            raise FormatError(f"{where}: confidence {fields[2]!r:.20} is not a finite number", txt)
        repeated += mask in found
        found[mask] = (label, conf)
    return found, repeated


def read_mask(png: str, image: ImageInfo, txt: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """A binary mask, transposed (``(W, H)``: column-major, as RLE counts run): the PNG's
    non-zero pixels after Pillow's ``convert("L")`` (as the reference), of the image's size.
    Pillow transposes in C, several times faster than a transposed copy in numpy."""
    try:
        with imageio.open_image(png) as img:
            if img.size != (image.width, image.height):
                raise FormatError(
                    f"image {image.id}: mask {Path(png).name} is {img.size[0]}x{img.size[1]}, the image {image.width}x{image.height}",
                    txt,
                )
            gray = img.convert("L").transpose(Image.Transpose.TRANSPOSE)
            mask: np.ndarray[Any, np.dtype[np.bool_]] = np.asarray(gray) != 0
            return mask
    except FileNotFoundError:
        raise FormatError(f"image {image.id}: mask {Path(png).name} not found", txt) from None
    except OSError as exc:
        raise FormatError(f"image {image.id}: unreadable mask {Path(png).name} ({exc})", txt) from None


def encode(columns: np.ndarray[Any, np.dtype[np.bool_]]) -> masks.RLE:
    """pycocotools' ``encode`` (the same string) of the mask whose transpose is ``columns``,
    from the runs of its booleans: no integer copy of the image."""
    flat = columns.ravel()
    ends = np.concatenate([np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    counts = np.diff(ends, prepend=0)
    if flat.size and flat[0]:
        counts = np.concatenate([[0], counts])
    text, _ = masks.compress_counts(counts.astype(np.int64), np.array([0, len(counts)], np.int64))
    return {"size": [int(columns.shape[1]), int(columns.shape[0])], "counts": text}


@dataclass(frozen=True, slots=True)
class MaskList:
    """One image's predictions: its text file, the results folder, and the ground truth's
    category id of each label id (absent: not among its categories)."""

    txt: str
    root: str
    categories: tuple[tuple[int, int], ...]

    def load(self, image: ImageInfo) -> Annotation:
        """Each listed mask a detection (ids 1..n, RLE masks, label as category, score)."""
        listed, repeated = read_lines(self.txt, self.root)
        table = dict(self.categories)
        dropped: Counter[str] = Counter()
        rles, cats, scores = [], [], []
        for png, (label, conf) in listed.items():
            if label not in table:
                dropped[f"label {BY_ID[label].name}: not a category of the ground truth"] += 1
                continue
            mask = read_mask(png, image, self.txt)
            rles.append(encode(mask))
            cats.append(table[label])
            scores.append(conf)
        n = len(rles)
        segs = Segments.build(
            id=np.arange(1, n + 1),
            category_id=cats,
            area=masks.rle_areas(rles).astype(np.float64) if n else [],
            bbox=masks.rle_boxes(rles) if n else None,
            score=scores,
        )
        changed = Counter({"mask listed twice: the last line counts": repeated}) if repeated else None
        return Annotation(image, segs, rles=tuple(rles), origin=self.txt, dropped=+dropped or None, changed=changed)


def read_folder(path: Path, gt: Dataset) -> Predictions:
    """The text files below ``path`` as predictions for ``gt`` (label ids matched to its
    categories by name)."""
    names = {c.name: c.id for c in gt.categories}
    table = tuple((label.id, names[label.name]) for label in BY_ID.values() if label.name in names and label.id >= 0)
    root = os.path.abspath(path)
    return Predictions({k: MaskList(v, root, table) for k, v in match(path, gt).items()}, "id", str(path))
