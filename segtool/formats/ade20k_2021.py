"""ADE20K 2021 (``ADE20K_2021_17_01``): the per-image ``<stem>.json`` and its instance masks,
written once for the reader and ``validate``.

``annotation.object[]`` lists every annotated object of the image: ``id``, ``name_ndx``
(the class, the same number the ``_seg.png`` gives as R/10*256 + G), ``name`` (the
WordNet name of that class), ``parts.part_level`` (0 a whole object, 1.. a part of one)
and ``instance_mask``, a grayscale PNG in the image's folder: 255 where the object is
visible, 128 where it is hidden behind other objects (its occluded, amodal extent), 0
elsewhere. Datumaro's ADE20K 2020 fixture writes 0/1 masks: 1 is read as visible too.

Whole objects (part level 0) are the instances, from their visible pixels, plus the
pixels their mask marks 128 where one of their own parts is visible (a part drawn over its
whole: the ``_seg.png`` gives those pixels to the whole object). So read, they are the
image's ``_seg.png`` split by instance, pixel for pixel on the real 2021 images. Parts (as
segments of their own) and occluded extents are not read; each is counted in
:attr:`segtool.model.Annotation.dropped`. JSON field types vary in the
release (``occluded`` ``"no"`` or ``[]``, ``crop`` ``"0"``): only the fields read are checked,
and an integer written as a string (``"3"``) is taken.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits, views
from ..errors import SegtoolError
from ..model import Annotation, ImageInfo, Segments
from ..policy import STRICT, Policy, place
from .common import load_json
from .semantic_rules import histogram, read_labels

VISIBLE, OCCLUDED = (255, 1), 128
MASK_VALUES = (0, 1, 128, 255)
MAX_CLASS = 25 * 256 + 255  # the largest R/10*256 + G an 8-bit _seg.png can hold
PART = "ade20k: part (parts.part_level >= 1), not read"
HIDDEN = "ade20k: occluded extent (128) of an instance mask, not read"


@dataclass(frozen=True, slots=True)
class Obj:
    """One object of the JSON: its id, class, WordNet name, part level and mask path."""

    id: int
    name_ndx: int
    name: str
    part_level: int
    mask: str
    part_of: int | None = None  # a part's parent object id (parts.ispartof)


def _int(value: Any) -> int | None:
    """An int, or an integral float or digit string as the release writes some; else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.strip().isdigit():
        return int(value.strip())
    return None


def _mask_path(json_path: Path, value: Any) -> str | None:
    """The instance mask's path: relative, inside the JSON's folder (no ``..``)."""
    if type(value) is not str or not value or "\0" in value:
        return None
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        return None
    return os.path.join(json_path.parent, *parts)


def _object(json_path: Path, n: int, obj: Any, report: Policy, image_id: Any) -> Obj | None:
    where = f"{place(image_id)}, object {n}"
    if not isinstance(obj, dict):
        report("ade20k-json-invalid", f"{where}: not a JSON object", str(json_path), image_id)
        return None
    parts = obj.get("parts", {})
    level = _int(parts.get("part_level", 0)) if isinstance(parts, dict) else None
    fields = {"id": _int(obj.get("id")), "name_ndx": _int(obj.get("name_ndx")), "parts.part_level": level}
    bad = [k for k, v in fields.items() if v is None or v < 0]
    if fields["name_ndx"] is not None and fields["name_ndx"] > MAX_CLASS:
        bad.append("name_ndx")
    mask = _mask_path(json_path, obj.get("instance_mask"))
    if mask is None:
        bad.append("instance_mask")
    if bad:
        shown = ", ".join(f"{k} {obj.get(k.split('.')[0])!r:.40}" for k in bad)
        msg = f"{where}: {shown}: not a non-negative integer (class 0..{MAX_CLASS}) or a relative mask path"
        report("ade20k-json-invalid", msg, str(json_path), image_id)
        return None
    name = obj.get("name", obj.get("raw_name", ""))
    name = name if isinstance(name, str) and name.strip() else f"class {fields['name_ndx']}"
    assert mask is not None and fields["id"] is not None and fields["name_ndx"] is not None and level is not None
    part_of = _int(parts.get("ispartof")) if isinstance(parts, dict) and level else None
    return Obj(fields["id"], fields["name_ndx"], name.strip(), level, mask, part_of)


def read_objects(json_path: Path, report: Policy, image_id: Any) -> list[Obj] | None:
    """The objects of a 2021 JSON; None after a report (not JSON, no ``annotation.object``
    list, a bad object, two objects with one id)."""
    try:
        data = load_json(json_path)
    except SegtoolError as exc:
        report("ade20k-json-invalid", exc.message, str(json_path), image_id)
        return None
    ann = data.get("annotation") if isinstance(data, dict) else None
    objects = ann.get("object") if isinstance(ann, dict) else None
    if not isinstance(objects, list):
        report("ade20k-json-invalid", f"{place(image_id)}: no annotation.object list", str(json_path), image_id)
        return None
    if len(objects) > limits.get("segments"):
        limits.check("segments", len(objects), f"{place(image_id)}: objects", str(json_path))
    out = []
    for n, obj in enumerate(objects):
        parsed = _object(json_path, n, obj, report, image_id)
        if parsed is None:
            return None
        out.append(parsed)
    ids = Counter(o.id for o in out)
    twice = [i for i, c in ids.items() if c > 1]
    if twice:
        report(
            "ade20k-json-invalid", f"{place(image_id)}: object id {twice[0]} is used twice", str(json_path), image_id
        )
        return None
    return out


def is_2021(json_path: Path) -> bool:
    """Whether a JSON beside a ``_seg.png`` is a 2021 per-image annotation (a cheap look:
    its first bytes name ``annotation``), so that the instance masks are read."""
    try:
        with open(json_path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"annotation"' in head


@dataclass
class Instances:
    """An image's whole objects as an index map (k → segment k-1, 0 void), each segment's
    object id and class, and what was not read."""

    index: npt.NDArray[np.int32]
    ids: list[int]
    classes: list[int]
    dropped: Counter[str]


def _mask(obj: Obj, size: tuple[int, int], report: Policy, image_id: Any) -> npt.NDArray[Any] | None:
    """An instance mask of ``size`` whose values are ADE20K's; None after a report."""
    found = read_labels(obj.mask, size, f"image {image_id}, object {obj.id}", report, image_id)
    if found is None:
        return None
    mask = np.asarray(found)
    present, _ = histogram(mask.astype(np.int64, copy=False))
    if not np.isin(present, MASK_VALUES).all():
        shown = ", ".join(map(str, present[~np.isin(present, MASK_VALUES)][:6].tolist()))
        msg = f"{place(image_id, obj.id)}: instance mask values {shown}; ADE20K's are 0, 128 (occluded), 255"
        report("ade20k-instance-mask", msg, obj.mask, image_id, obj.id)
        return None
    return mask


def whole_of(objs: list[Obj]) -> dict[int, int]:
    """Each part's whole object: its ``ispartof`` chain followed to part level 0."""
    by_id = {o.id: o for o in objs}
    out = {}
    for obj in objs:
        node, steps = obj, 0
        while node.part_level > 0 and node.part_of in by_id and steps < len(objs):
            node, steps = by_id[node.part_of], steps + 1
        if obj.part_level > 0 and node.part_level == 0:
            out[obj.id] = node.id
    return out


def read_instances(objs: list[Obj], size: tuple[int, int], report: Policy, image_id: Any) -> Instances | None:
    """The visible pixels of every whole object, from its mask (``size``: the image's), and
    where its mask says 128 under one of its own parts, that part's visible pixels (the
    ``_seg.png`` gives those to the whole object: a part drawn over it is no occluder).
    Masks of other values than 0/1/128/255, or whole objects that share a visible pixel,
    are reported. None after a report."""
    width, height = size
    index = np.zeros((height, width), np.int32)
    ids: list[int] = []
    classes: list[int] = []
    dropped: Counter[str] = Counter()
    hidden: dict[int, npt.NDArray[np.bool_]] = {}  # whole object id -> its 128 pixels, when it has parts
    parents = whole_of(objs)
    for obj in objs:
        if obj.part_level > 0:
            dropped[PART] += 1
            continue
        mask = _mask(obj, size, report, image_id)
        if mask is None:
            return None
        visible = np.isin(mask, VISIBLE)
        taken = index[visible]
        if taken.any():
            other = ids[int(taken[taken > 0][0]) - 1]
            msg = f"{place(image_id, obj.id)}: visible pixels shared with object {other} ({int((taken > 0).sum())} px)"
            report("ade20k-instance-overlap", msg, obj.mask, image_id, obj.id)
            return None
        if (mask == OCCLUDED).any():
            dropped[HIDDEN] += 1
            if obj.id in parents.values():
                hidden[obj.id] = mask == OCCLUDED
        ids.append(obj.id)
        classes.append(obj.name_ndx)
        index[visible] = len(ids)
    for obj in objs:
        whole = parents.get(obj.id)
        if whole not in hidden:
            continue
        mask = _mask(obj, size, report, image_id)
        if mask is None:
            return None
        under = np.isin(mask, VISIBLE) & hidden[whole] & (index == 0)
        index[under] = ids.index(whole) + 1
    return Instances(index, ids, classes, dropped)


@dataclass(frozen=True, slots=True)
class Json2021:
    """Pixels of one 2021 image: its JSON's whole objects from their instance masks."""

    json: str
    png: str  # the _seg.png beside it (origin of the size; not decoded)

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per whole object with visible pixels, in JSON order; segment id =
        object id + 1 (the JSON counts from 0, and 0 is void)."""
        objs = read_objects(Path(self.json), STRICT, image.id)
        assert objs is not None  # the strict policy raises instead
        found = read_instances(objs, (image.width, image.height), STRICT, image.id)
        assert found is not None
        keep = np.bincount(found.index.ravel(), minlength=len(found.ids) + 1)[1:] > 0
        empty = int((~keep).sum())
        lut = np.zeros(len(found.ids) + 1, np.int32)
        lut[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        index = lut[found.index]
        ids = np.asarray(found.ids, np.int64)[keep] + 1
        segs = Segments.build(id=ids, category_id=np.asarray(found.classes, np.int64)[keep])
        dropped = found.dropped
        if empty:
            dropped["ade20k: whole object with no visible pixel"] += empty
        measured = views.measure(index, segs)
        return Annotation(image, measured, id_map=index, origin=self.json, dropped=+dropped or None)


def object_classes(json_path: Path) -> dict[int, str]:
    """Class id → WordNet name of the whole objects of a 2021 JSON (the reader's
    categories, without decoding a PNG); SegtoolError naming the file when it is bad."""
    objs = read_objects(json_path, STRICT, None)
    assert objs is not None
    out: dict[int, str] = {}
    for obj in objs:
        if obj.part_level == 0:
            out.setdefault(obj.name_ndx, obj.name)
    return out
