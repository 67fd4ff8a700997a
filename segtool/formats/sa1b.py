"""SA-1B (Segment Anything 1-Billion): a folder of one JSON per image, beside its JPG.

Each JSON holds the image record (``image_id``, ``width``, ``height``, ``file_name``) and its
class-agnostic masks as COCO compressed RLEs. Read only: every mask is an instance of one
category (``object``, or ``category=NAME``); masks overlap (SA-1B keeps whole, part and
subpart masks of one thing), so the dataset is an instance dataset. The stored ``area`` and
``bbox`` make the segment table (pycocotools' ``area``/``toBbox`` of the RLE when absent);
``predicted_iou``, ``stability_score``, ``crop_box``, ``point_coords`` and any other key of
an annotation are kept per object (:meth:`Sa1bMasks.extras`): the canonical model has no
per-segment column for them, so a conversion drops them (docs/formats/sa1b.md).

The rules of a file are :mod:`.sa1b_rules`, shared with validate (:mod:`.sa1b_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT, Policy
from .common import Detection, load_json, read_only
from .jsonstream import NOT_JSON, json_sketch, layout
from .sa1b_rules import Sa1bFile, parse, unique_image

NAME = "sa1b"
targets = read_only(NAME)  # not written: convert --to refuses in one line
CHECKS = "sa1b_checks"  # its checks (validate); no --fix: SA-1B is read only
CATEGORY = "object"


def json_files(path: Path) -> list[Path]:
    """The JSONs of an SA-1B folder (sorted by name), or the one file given."""
    return [path] if path.is_file() else sorted(p for p in path.glob("*.json") if p.is_file())


def detect(path: Path) -> Detection:
    """Strong for a folder of JSONs (or one JSON) whose first is an object with an ``image``
    object and an ``annotations`` list, as SA-1B writes them (COCO has ``images``)."""
    if path.is_file():
        if path.suffix.lower() != ".json":
            return Detection("no", "not a .json file")
        files = [path]
    elif path.is_dir():
        files = json_files(path)
        if not files:
            return Detection("no", "no .json files in the folder")
    else:
        return Detection("no", "no such file or folder")
    data, why = json_sketch(files[0])  # the shared first look (one pass, remembered)
    if data is NOT_JSON:
        return Detection("no", f"{files[0].name}: {why}")
    keys = layout(files[0]).keys
    if keys.get("image") != b"{" or keys.get("annotations") != b"[":
        return Detection("no", f"{files[0].name} has no 'image' object and 'annotations' list")
    return Detection("strong", f"SA-1B JSON ({files[0].name} has an 'image' object and an 'annotations' list)")


def parse_file(path: Path, report: Policy, number: int) -> Sa1bFile | None:
    """One JSON read and parsed under ``report``; None when it is no SA-1B JSON."""
    try:
        data = load_json(path)
    except SegtoolError as exc:
        report("malformed-record", exc.message, str(path), number)
        return None
    return parse(data, str(path), report, number)


@dataclass(frozen=True, slots=True)
class Sa1bMasks:
    """Masks of one image: its SA-1B JSON, read again when loaded (RLE strings: no pixel is
    decoded to load them)."""

    path: str
    number: int  # the file's place in the folder (1..)
    category_id: int = 1
    decodes_pixels = False

    def _file(self, image: ImageInfo) -> Sa1bFile:
        found = parse_file(Path(self.path), STRICT, self.number)
        if found is None:  # (the strict policy raised)
            raise SegtoolError("not an SA-1B JSON", self.path)
        if (found.image_id, found.height, found.width) != (image.id, image.height, image.width):
            raise SegtoolError(f"image {image.id}: the file changed while it was read", self.path)
        return found

    def load(self, image: ImageInfo) -> Annotation:
        """The image's masks, in file order, as overlapping instances of the one category."""
        found = self._file(image)
        rles = [o.rle for o in found.objects]
        measured_area = masks.rle_areas(rles).astype(np.float64) if rles else np.zeros(0)
        measured_box = masks.rle_boxes(rles) if rles else np.zeros((0, 4))
        area = [m if o.area is None else o.area for o, m in zip(found.objects, measured_area.tolist(), strict=True)]
        box = [m if o.bbox is None else o.bbox for o, m in zip(found.objects, measured_box.tolist(), strict=True)]
        segs = Segments.build(
            id=[o.id for o in found.objects],
            category_id=np.full(len(rles), self.category_id),
            area=np.asarray(area, np.float64),
            bbox=np.asarray(box, np.float64).reshape(-1, 4),
        )
        return Annotation(image, segs, rles=tuple(rles), origin=self.path)

    def extras(self, image: ImageInfo) -> tuple[dict[str, Any], ...]:
        """Each object's other keys (``predicted_iou``, ``stability_score``, ``crop_box``,
        ``point_coords`` …), in the order of :meth:`load`'s segments."""
        return tuple(o.extra for o in self._file(image).objects)


def read(path: Path, *, category: str = CATEGORY, **_: Any) -> Dataset:
    """Read a folder of SA-1B JSONs (or one): each is parsed here for its image record and
    again when its sample is loaded. Every mask is an instance of ``category``."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    files = json_files(path)
    if not files:
        raise FormatError("no .json files in the folder", str(path))
    if not isinstance(category, str) or not category.strip():
        raise FormatError(f"the category must be a name, got {category!r:.40}", str(path))
    samples = []
    seen: dict[Any, str] = {}
    for i, p in enumerate(files, start=1):
        found = parse_file(p, STRICT, i)
        if found is None or not unique_image(seen, found.image_id, str(p), STRICT):  # (STRICT raised)
            raise SegtoolError("not an SA-1B JSON", str(p))
        image = ImageInfo(found.image_id, found.file_name, found.height, found.width, dict(found.image_extra))
        samples.append(Sample(image, Sa1bMasks(str(p), i)))
    return Dataset((Category(1, category, True),), tuple(samples), "instance", {}, str(path))
