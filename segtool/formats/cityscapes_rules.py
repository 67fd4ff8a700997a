"""The rules of a Cityscapes tree, written once for the reader and ``validate``.

Which files make an image (``<stem>_gtFine_{labelIds.png,instanceIds.png,polygons.json}``),
how a polygons JSON is rasterised (exactly as cityscapesScripts' json2instanceImg and
json2labelImg do: objects in file order, later ones on top, ``deleted`` ones skipped,
``<label>group`` a crowd of plain ids, drawn with Pillow's ``ImageDraw.polygon``), and what
a labelIds/instanceIds pair must hold. Each problem goes to the caller's error policy
(:mod:`segtool.policy`): the reader stops at the first, validate collects them all.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .. import imageio, limits, png
from ..errors import SegtoolError
from ..policy import Policy, place
from .cityscapes_labels import INSTANCE_BASE, MAX_ID, label_of, table
from .common import SIDE, load_json
from .semantic_rules import read_labels

PATTERN = re.compile(
    r"^(?P<stem>.+)_(?P<gt>gtFine|gtCoarse)_(?P<part>labelIds\.png|instanceIds\.png|color\.png|polygons\.json)$"
)
PARTS = {"labelIds.png": "labels", "instanceIds.png": "instances", "color.png": "color", "polygons.json": "polygons"}
DEPTH = 4  # folders walked below the root: <gtFine>/<split>/<city>/ and one more
COORDINATE = 2**27  # a polygon point beyond it is refused (Pillow's fill would cost its length)
HAS_INSTANCES = table("has_instances").astype(bool)


@dataclass
class Entry:
    """One image of the tree: its stem, its folder relative to the root and its files."""

    stem: str
    folder: str
    gt: str
    files: dict[str, str] = field(default_factory=dict)  # labels/instances/color/polygons -> path


def find(root: Path, report: Policy) -> list[Entry]:
    """Every image of the tree under ``root``, by folder then stem; a stem found twice
    (gtFine and gtCoarse under one root, or two cities) is reported and its first kept."""
    entries: dict[tuple[str, str], Entry] = {}
    base = len(root.parts)
    for folder, dirs, names in os.walk(root):
        depth = len(Path(folder).parts) - base
        dirs[:] = sorted(dirs) if depth < DEPTH else []
        rel = Path(folder).relative_to(root).as_posix()
        for name in sorted(names):
            m = PATTERN.match(name)
            if m is None:
                continue
            entry = entries.setdefault((rel, m["stem"]), Entry(m["stem"], "" if rel == "." else rel, m["gt"]))
            entry.files[PARTS[m["part"]]] = os.path.join(folder, name)
    out: list[Entry] = []
    seen: dict[str, Entry] = {}
    for key in sorted(entries):
        entry = entries[key]
        if entry.stem in seen:
            first = seen[entry.stem]
            msg = f"image {entry.stem} is in {first.folder or '.'} and in {entry.folder or '.'}; the first is read"
            report("cityscapes-duplicate-stem", msg, next(iter(entry.files.values())), entry.stem)
            continue
        seen[entry.stem] = entry
        out.append(entry)
    return out


def source_of(entry: Entry, prefer: str, report: Policy) -> str | None:
    """Which files an image is read from: ``png`` (labelIds + instanceIds) or ``polygons``;
    ``prefer`` (``auto``, ``png``, ``polygons``) chooses when both are there. None after a
    report when neither is complete."""
    pngs = "instances" in entry.files  # labelIds follow from instanceIds: datumaro writes these alone
    if prefer != "polygons" and pngs:
        return "png"
    if prefer != "png" and "polygons" in entry.files:
        return "polygons"
    have = ", ".join(sorted(Path(p).name for p in entry.files.values()))
    want = {"png": "an instanceIds PNG", "polygons": "a polygons JSON"}.get(
        prefer, "an instanceIds PNG, or a polygons JSON"
    )
    report("cityscapes-incomplete", f"{place(entry.stem)}: has {have} but needs {want}", _any(entry), entry.stem)
    return None


def _any(entry: Entry) -> str:
    return next(iter(sorted(entry.files.values())), entry.folder)


def png_size(path: str) -> tuple[int, int]:
    """(width, height) from a PNG's header; SegtoolError naming the file otherwise."""
    try:
        head = imageio.read_bytes(path)[:33]  # a regular file only: a FIFO never blocks
    except OSError as exc:
        raise SegtoolError(f"unreadable PNG ({exc.strerror or exc})", path) from None
    try:
        width, height, _ = png.header(head)
    except ValueError as exc:
        raise SegtoolError(f"unreadable PNG ({exc})", path) from None
    if width * height > limits.get("pixels"):
        limits.check("pixels", width * height, f"label map of {width}x{height}", path)
    return width, height


def json_size(data: Any, path: str, report: Policy, image_id: Any) -> tuple[int, int] | None:
    """(width, height) of a polygons JSON: integer ``imgWidth`` and ``imgHeight``."""
    if not isinstance(data, dict):
        report("cityscapes-json-invalid", f"{place(image_id)}: the polygons JSON is not an object", path, image_id)
        return None
    sides = []
    for key in ("imgWidth", "imgHeight"):
        value = data.get(key)
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int or not SIDE[0] <= value <= SIDE[1]:
            msg = f"{place(image_id)}: {key!r} must be a positive integer, got {value!r:.40}"
            report("cityscapes-json-invalid", msg, path, image_id)
            return None
        sides.append(value)
    if sides[0] * sides[1] > limits.get("pixels"):
        limits.check("pixels", sides[0] * sides[1], f"image of {sides[0]}x{sides[1]}", path)
    return sides[0], sides[1]


def _points(polygon: Any) -> list[tuple[Any, Any]] | None:
    """The points of an object's ``polygon`` as Pillow takes them, or None when it is not a
    list of at least two [x, y] pairs of finite numbers within ±2^27."""
    if not isinstance(polygon, list) or len(polygon) < 2:
        return None
    out = []
    for p in polygon:
        if not isinstance(p, list) or len(p) != 2:
            return None
        for v in p:
            if type(v) not in (int, float) or not math.isfinite(v) or abs(v) > COORDINATE:
                return None
        out.append((p[0], p[1]))
    return out


def rasterise(path: str, report: Policy, image_id: Any) -> npt.NDArray[np.int32] | None:
    """The instanceIds map json2instanceImg draws from a polygons JSON (labelIds follow: an
    id >= 1000 is of label id // 1000), or None after a report."""
    try:
        data = load_json(Path(path))
    except SegtoolError as exc:
        report("cityscapes-json-invalid", f"{place(image_id)}: {exc.message}", path, image_id)
        return None
    size = json_size(data, path, report, image_id)
    if size is None:
        return None
    objects = data.get("objects")
    if not isinstance(objects, list) or len(objects) > limits.get("segments"):
        why = "is not a list" if not isinstance(objects, list) else f"holds more than {limits.get('segments')}"
        report("cityscapes-json-invalid", f"{place(image_id)}: 'objects' {why}", path, image_id)
        return None
    image = Image.new("I", size, 0)
    draw = ImageDraw.Draw(image)
    counts: dict[str, int] = {}
    for k, obj in enumerate(objects):
        where = f"{place(image_id)}, object {k}"
        if not isinstance(obj, dict) or not isinstance(obj.get("label"), str):
            report("cityscapes-json-invalid", f"{where}: not an object with a 'label' string", path, image_id)
            continue
        if obj.get("deleted"):
            continue
        found = label_of(obj["label"])
        if found is None:
            report(
                "cityscapes-unknown-label",
                f"{where}: label {obj['label']!r:.60} is not a Cityscapes label",
                path,
                image_id,
            )
            continue
        label, group = found
        value = label.id
        if label.has_instances and not group:
            value = label.id * INSTANCE_BASE + counts.get(label.name, 0)
            counts[label.name] = counts.get(label.name, 0) + 1
            if counts[label.name] > INSTANCE_BASE:
                msg = f"{where}: more than {INSTANCE_BASE} instances of {label.name}: ids would reach the next label"
                report("cityscapes-instance-class", msg, path, image_id)
                return None
        if value < 0:  # license plate: never drawn
            continue
        points = _points(obj.get("polygon"))
        if points is None:
            msg = f"{where}: 'polygon' must be at least two [x, y] points, finite and within ±2^27"
            report("cityscapes-json-invalid", msg, path, image_id)
            continue
        draw.polygon(points, fill=value)
    return np.asarray(image, dtype=np.int32)


def read_pngs(entry: Entry, size: tuple[int, int] | None, report: Policy) -> tuple[Any, Any] | None:
    """The labelIds and instanceIds maps of an image, each read as a label map is (present,
    decodable, single-channel, of ``size`` or of each other's), or None after a report.
    Without a labelIds PNG (datumaro writes instanceIds alone) the labels are None."""
    what = f"image {entry.stem}"
    if "labels" not in entry.files:  # instanceIds alone: the labels are its values' (check_maps)
        alone = read_labels(entry.files["instances"], size, what, report, entry.stem)
        return None if alone is None else (None, alone)
    labels = read_labels(entry.files["labels"], size, what, report, entry.stem)
    if labels is None:
        return None
    height, width = labels.shape
    instances = read_labels(entry.files["instances"], (width, height), what, report, entry.stem)
    return None if instances is None else (labels, instances)


def _shown(values: npt.NDArray[np.int64]) -> str:
    return ", ".join(map(str, values[:8].tolist())) + (" …" if values.size > 8 else "")


def check_maps(
    labels: npt.NDArray[Any] | None, instances: npt.NDArray[Any], path: str, report: Policy, image_id: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The instance values present in ``instances`` and the label id of each, once the pair
    passes the rules: every value a label id, or ``id * 1000 + k`` of a label with
    instances; ``labels`` (when read from a PNG) the label of each pixel's instance value.
    None after a report."""
    inst = np.asarray(instances)
    where = place(image_id)
    if inst.dtype.kind == "i" and int(inst.min(initial=0)) < 0:
        report("cityscapes-unknown-label", f"{where}: negative instanceIds values", path, image_id)
        return None
    flat = inst.ravel()  # runs of equal values: every later step costs runs, not pixels
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1]) if flat.size else np.zeros(0, np.int64)
    values = flat[starts].astype(np.int64)
    present, at = np.unique(values, return_inverse=True)
    cls = np.where(present >= INSTANCE_BASE, present // INSTANCE_BASE, present)
    unknown = present[cls > MAX_ID]
    if unknown.size:
        msg = f"{where}: instanceIds values {_shown(unknown)} are of no Cityscapes label id (0..{MAX_ID})"
        report("cityscapes-unknown-label", msg, path, image_id)
        return None
    lonely = present[(present >= INSTANCE_BASE) & ~HAS_INSTANCES[cls]]
    if lonely.size:
        msg = f"{where}: instanceIds values {_shown(lonely)} are instances of labels without instances"
        report("cityscapes-instance-class", msg, path, image_id)
        return None
    if labels is not None:
        lab = np.asarray(labels)
        top = int(lab.max(initial=0))
        if top > MAX_ID:
            strange = np.unique(lab[lab > MAX_ID])
            msg = f"{where}: labelIds values {_shown(strange)} are no Cityscapes label id (0..{MAX_ID})"
            report("cityscapes-unknown-label", msg, path, image_id)
            return None
        lengths = np.diff(np.append(starts, flat.size))
        expected = np.repeat(cls[at].astype(np.uint8), lengths)  # each pixel's label, from its instance's run
        differ = int(np.count_nonzero(expected != lab.ravel()))
        if differ:
            msg = f"{where}: {differ} pixels of labelIds disagree with the label of their instanceIds value"
            report("cityscapes-label-mismatch", msg, path, image_id)
            return None
    return present, cls
