"""Cityscapes predictions, found and read as cityscapesScripts' evaluators find and read them.

evalPixelLevelSemanticLabeling takes, for each ground-truth image ``<city>_<seq>_<frame>``,
the one PNG anywhere below the results folder whose name matches
``<city>_<seq>_<frame>*.png`` (``getPrediction``: ``fnmatch`` over an ``os.walk``), and
reads its pixels as label ids (0..33); an ``ignoreInEval`` id counts as a miss of the
ground-truth class, never as a class of its own. A Cityscapes tree (``*_gtFine_labelIds.png``
and ``instanceIds``, as segtool writes it) is read through its own reader instead: by
stem, as panoptic or semantic predictions. A folder of ``<city>_<seq>_<frame>*.txt`` lists
(evalInstanceLevelSemanticLabeling's layout) is read by :mod:`.cityscapes_instances`.

Unlike getPrediction, a PNG that matches no ground-truth image is an error here (as every
prediction of segtool's pairing), not passed over.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Segments
from ..pairing import Predictions
from ..policy import STRICT
from .cityscapes_instances import has_lists, read_folder
from .cityscapes_labels import BY_NAME, MAX_ID
from .semantic_rules import histogram, read_labels

NAMED = re.compile(r"^[^_/\\]+_\d{6}_\d{6}.*\.(png|txt)$")  # <city>_<seq>_<frame>…: a PNG, or an instance list
DEPTH = 4  # folders walked below a predictions folder when detecting it
VOID = 255  # the category map's void value (no Cityscapes category id reaches it)


def named_pngs(path: Path) -> str | None:
    """The first Cityscapes-named PNG (relative path) up to DEPTH folders below ``path``, or None."""
    base = len(path.parts)
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(dirs) if len(Path(folder).parts) - base < DEPTH else []
        for name in sorted(names):
            if NAMED.match(name):
                return Path(folder, name).relative_to(path).as_posix()
    return None


def key_of(image_id: Any) -> str:
    """``<city>_<seq>_<frame>`` of a ground-truth image: the first three ``_`` parts of its
    id (the stem), as getCsFileInfo splits a file name."""
    return "_".join(str(image_id).split("_")[:3])


def category_map(categories: tuple[Category, ...]) -> tuple[int, ...] | None:
    """Category id of each label id 0..33 (VOID: not evaluated), matched by name, so the
    ground truth's ids may be label ids, trainIds or all labels; None when a category is
    no Cityscapes label (the ground truth is not Cityscapes)."""
    lut = [VOID] * (MAX_ID + 1)
    for c in categories:
        label = BY_NAME.get(c.name)
        if label is None or label.id < 0 or not 0 <= c.id < VOID:
            return None
        lut[label.id] = c.id
    return tuple(lut)


@dataclass(frozen=True, slots=True)
class LabelIdsPng:
    """A predicted label-id PNG (0..33) seen as the ground truth's categories."""

    png: str
    lut: tuple[int, ...]
    ignore_value: int = VOID

    def labels(self, image: ImageInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The category map (VOID where the label is not evaluated) and its values present.
        Errors name the file: unreadable, not the image's size, several channels, a value
        that is no label id (the reference would index past its 34 x 34 matrix)."""
        found = read_labels(self.png, (image.width, image.height), f"prediction for image {image.id}", STRICT)
        raw = np.asarray(found).astype(np.int64, copy=False)
        present, _ = histogram(raw)
        bad = present[(present < 0) | (present > MAX_ID)]
        if bad.size:
            shown = ", ".join(map(str, bad[:8].tolist()))
            raise SegtoolError(
                f"image {image.id}: predicted values {shown} are no Cityscapes label id (0..{MAX_ID})", self.png
            )
        lut = np.asarray(self.lut, np.int64)
        return lut[raw], np.unique(lut[present])

    def pixels8(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """None: the values are label ids, not category ids (mIoU maps them through :meth:`labels`)."""
        return None

    def check_values(self, image: ImageInfo, counts: npt.NDArray[np.int64]) -> None:
        """Nothing to check beyond :meth:`labels` (never reached: :meth:`pixels8` is None)."""

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per category present (ids 1..k); not evaluated labels void."""
        labels, present = self.labels(image)
        present = present[present != VOID]
        lut = np.zeros(VOID + 1, np.int32)
        lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
        index = lut[labels]
        segs = Segments.build(id=np.arange(1, len(present) + 1), category_id=present)
        return Annotation(image, views.measure(index, segs), id_map=index, origin=self.png)


def match(path: Path, gt: Dataset) -> dict[Any, str]:
    """The PNG of each ground-truth image id, found as getPrediction finds it: below ``path``
    (every folder), named ``<city>_<seq>_<frame>*.png``; two for one image, or one for
    none, is an error naming the file."""
    by_key: dict[str, Any] = {}
    for s in gt.samples:
        key = key_of(s.image.id)
        if key in by_key:
            raise SegtoolError(
                f"ground-truth images {by_key[key]} and {s.image.id} share {key}; pair them by id", str(path)
            )
        by_key[key] = s.image.id
    lengths = sorted({len(k) for k in by_key})
    found: dict[Any, str] = {}
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith(".png"):
                continue
            file = os.path.join(folder, name)
            hits = [by_key[name[:n]] for n in lengths if name[:n] in by_key]
            if not hits:
                raise SegtoolError(f"prediction {name} matches no ground-truth image (<city>_<seq>_<frame>*.png)", file)
            for image_id in hits:
                if image_id in found:
                    first = Path(found[image_id]).name
                    raise SegtoolError(f"several predictions for image {image_id}: {first} and {name}", file)
                found[image_id] = file
    return found


def read_label_folder(path: Path, gt: Dataset) -> Predictions | None:
    """A folder of label-id PNGs keyed by the ground truth's image ids, or None when the
    ground truth's categories are not Cityscapes labels."""
    lut = category_map(gt.categories)
    if lut is None:
        return None
    if has_lists(path):  # instance predictions: <city>_<seq>_<frame>*.txt lists of mask PNGs
        return read_folder(path, gt)
    if not path.is_dir():
        raise FormatError("Cityscapes predictions are a folder of <city>_<seq>_<frame>*.png label-id PNGs", str(path))
    sources = {image_id: LabelIdsPng(png, lut) for image_id, png in match(path, gt).items()}
    return Predictions(sources, "id", str(path))
