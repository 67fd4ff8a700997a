"""The rules of a Mapillary Vistas tree, written once for the reader and ``validate``.

Where a tree's pieces are (``config_v<version>.json`` at the root, ``<split>/images/``,
``<split>/<version>/labels|instances|polygons/``), what a label table must hold, and what
one image's PNGs must hold: label values and the class byte of instance values in the
table, an instances PNG 16-bit (label * 256 + instance), a labels PNG 8-bit, both of one
size. Each problem goes to the caller's error policy (:mod:`segtool.policy`): the reader
stops at the first, validate collects them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, png
from ..errors import SegtoolError
from ..policy import Policy, place
from .common import load_json
from .semantic_rules import histogram, read_labels

VERSIONS = ("v1.2", "v2.0")
IMAGES, LABELS, INSTANCES, PANOPTIC, POLYGONS = "images", "labels", "instances", "panoptic", "polygons"
PANOPTIC_JSON = {"v1.2": "panoptic_2018.json", "v2.0": "panoptic_2020.json"}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_LABELS = 256  # labels are 8-bit; the class byte of an instance value is its high byte
READINGS = ("instances", "panoptic", "labels", "polygons")  # the default reading: the first held


def config_name(version: str) -> str:
    return f"config_{version}.json"


@dataclass(frozen=True)
class Label:
    """One entry of the config's ``labels`` list; its id is its index in the list."""

    name: str
    readable: str
    color: tuple[int, int, int]
    instances: bool  # a thing: its instance values are instances
    evaluate: bool  # False: void in evaluation (segtool reads its pixels as void)


@dataclass(frozen=True)
class Config:
    """The label table of ``config_v*.json``."""

    labels: tuple[Label, ...]
    path: str

    def index(self) -> dict[str, int]:
        """Label name -> id (its index)."""
        return {label.name: i for i, label in enumerate(self.labels)}

    def void(self) -> npt.NDArray[np.int64]:
        """Ids of the labels with ``evaluate: false`` (void)."""
        return np.array([i for i, label in enumerate(self.labels) if not label.evaluate], np.int64)


def _label(i: int, rec: Any) -> Label | str:
    """Label ``i`` of the list, or why it is not one."""
    if not isinstance(rec, dict):
        return f"label {i} is a {type(rec).__name__}, not an object"
    name, color = rec.get("name"), rec.get("color")
    if type(name) is not str or not name:
        return f"label {i} has no 'name' string"
    if not isinstance(color, list) or len(color) != 3 or not all(type(v) is int and 0 <= v <= 255 for v in color):
        return f"label {i} ({name!r:.60}): 'color' must be [r, g, b] integers 0..255"
    flags = {k: rec.get(k, d) for k, d in (("instances", False), ("evaluate", True))}
    bad = [k for k, v in flags.items() if type(v) is not bool]
    if bad:
        return f"label {i} ({name!r:.60}): {bad[0]!r} must be true or false"
    readable = rec.get("readable", name)
    r, g, b = color
    return Label(name, str(readable), (r, g, b), flags["instances"], flags["evaluate"])


def read_config(path: Path, report: Policy) -> Config | None:
    """The label table at ``path``; None after a report (a missing or unparsable file, no
    ``labels`` list, a bad or repeated label, more than 256 labels)."""
    if not path.is_file():
        report("mapillary-config-invalid", f"no label table: {path.name} is missing", str(path))
        return None
    try:
        data = load_json(path)
    except SegtoolError as exc:
        report("mapillary-config-invalid", exc.message, str(path))
        return None
    recs = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(recs, list) or not recs:
        report("mapillary-config-invalid", "the config has no 'labels' list (or an empty one)", str(path))
        return None
    if len(recs) > MAX_LABELS:
        report("mapillary-config-invalid", f"{len(recs)} labels; 8-bit labels hold at most {MAX_LABELS}", str(path))
        return None
    labels: list[Label] = []
    for i, rec in enumerate(recs):
        found = _label(i, rec)
        if isinstance(found, str) or found.name in {lb.name for lb in labels}:
            why = found if isinstance(found, str) else f"label {i}: the name {found.name!r:.60} is repeated"
            report("mapillary-config-invalid", why, str(path))
            return None
        labels.append(found)
    return Config(tuple(labels), str(path))


@dataclass(frozen=True)
class Layout:
    """Where a tree's pieces are: its root (the config's folder), the version read and the
    split folders (name, path) holding that version or photos."""

    root: Path
    version: str
    splits: tuple[tuple[str, Path], ...]
    reading: str | None = None  # the path was one reading's folder (``train/v2.0/labels``)

    @property
    def config(self) -> Path:
        return self.root / config_name(self.version)


def _is_split(folder: Path, photos: bool = True) -> bool:
    return folder.is_dir() and any((folder / d).is_dir() for d in (*VERSIONS, *((IMAGES,) if photos else ())))


def layout(path: Path, version: str | None = None) -> Layout | None:
    """The layout of ``path``: a root with ``config_v*.json`` and split folders; one split
    folder (the config in its parent); or one version folder of a split (``train/v1.2``:
    that version), or one reading's folder of a version (``train/v1.2/labels``: that
    reading). ``version``: v1.2 or v2.0; by default the newest the splits hold. None when
    ``path`` is none of these."""
    if path.name in READINGS and path.is_dir() and path.parent.name in VERSIONS and _is_split(path.parent.parent):
        split = path.parent.parent
        return Layout(split.parent, version or path.parent.name, ((split.name, split),), path.name)
    if path.name in VERSIONS and _is_split(path.parent):
        splits: tuple[tuple[str, Path], ...] = ((path.parent.name, path.parent),)
        return Layout(path.parent.parent, version or path.name, splits)
    if any((path / config_name(v)).is_file() for v in VERSIONS):
        splits = tuple((d.name, d) for d in sorted(path.iterdir()) if _is_split(d))
        root = path
    elif _is_split(path, photos=False):
        splits, root = ((path.name, path),), path.parent
    else:
        return None
    if version is None:
        held = [v for v in VERSIONS if any((d / v).is_dir() for _, d in splits)]
        held = held or [v for v in VERSIONS if (root / config_name(v)).is_file()]
        version = held[-1]
    return Layout(root, version, splits)


@dataclass
class Entry:
    """One image: its stem, split and files (None: absent)."""

    stem: str
    split: str
    photo: str | None = None
    labels: str | None = None
    instances: str | None = None
    polygons: str | None = None


def _files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes and p.is_file()}


def find(lay: Layout, reading: str, report: Policy) -> list[Entry]:
    """Every image of the layout's splits, split by split: the photos and the files of the
    version folder. In a split whose version folder has the ``reading``'s folder, a photo
    without its file is reported (``mapillary-missing``) and left out; a split without it
    (``testing/``) gives images without annotations."""
    out: list[Entry] = []
    for split, folder in lay.splits:
        ver = folder / lay.version
        found = {
            "photo": _files(folder / IMAGES, PHOTO_SUFFIXES),
            "labels": _files(ver / LABELS, (".png",)),
            "instances": _files(ver / INSTANCES, (".png",)),
            "polygons": _files(ver / POLYGONS, (".json",)),
        }
        annotated = reading in found and (ver / reading).is_dir()
        others = [r for r in (LABELS, INSTANCES, POLYGONS) if r != reading and (ver / r).is_dir()]
        if reading in found and not annotated and others:
            msg = f"split {split} has {lay.version}/{others[0]}/ but no {lay.version}/{reading}/ (read another reading)"
            report("mapillary-missing", msg, str(ver))
            continue
        for stem in sorted(set().union(*found.values())):
            entry = Entry(stem, split, **{k: str(v[stem]) if stem in v else None for k, v in found.items()})
            if annotated and getattr(entry, reading) is None:
                where = next(str(v[stem]) for v in found.values() if stem in v)
                msg = f"{place(stem)}: {split}/ has its {Path(where).parent.name}/ file but no {lay.version}/{reading}/ file"
                report("mapillary-missing", msg, where, stem)
                continue
            out.append(entry)
    return out


def read_colors(
    path: str, size: tuple[int, int] | None, config: Config, what: str, report: Policy, image_id: Any
) -> npt.NDArray[np.uint8] | None:
    """An RGB labels PNG decoded through the config's colours (the first label of a colour);
    None after a report (a colour that is no label's: ``mapillary-unknown-class``)."""
    try:
        with imageio.open_image(path) as img:
            found = img.size
            rgb = np.asarray(img.convert("RGB")) if size is None or found == size else None
    except SegtoolError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc.message})", path, image_id)
        return None
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
    if rgb is None:
        assert size is not None
        report("png-size", f"PNG is {found[0]}x{found[1]} but {what} is {size[0]}x{size[1]}", path, image_id)
        return None
    table: dict[int, int] = {}
    for i, label in enumerate(config.labels):
        table.setdefault(label.color[0] | label.color[1] << 8 | label.color[2] << 16, i)
    keys = np.array(sorted(table), np.int64)
    code = png.rgb_to_u32(np.ascontiguousarray(rgb)).astype(np.int64)
    pos = np.minimum(np.searchsorted(keys, code), len(keys) - 1)
    hit = keys[pos] == code
    if not hit.all():
        bad = np.unique(code[~hit])[:4].tolist()
        shown = ", ".join(f"({c & 255},{(c >> 8) & 255},{c >> 16})" for c in bad)
        msg = f"{place(image_id)}: {what}: colours {shown} are no label's colour ({int((~hit).sum())} px)"
        report("mapillary-unknown-class", msg, path, image_id)
        return None
    values = np.array([table[k] for k in keys.tolist()], np.uint8)
    out: npt.NDArray[np.uint8] = values[pos]
    return out


def read_map(
    path: str, bits: int, size: tuple[int, int] | None, what: str, report: Policy, image_id: Any, config: Config
) -> Any:
    """A labels (``bits`` 8: L or P as stored, RGB through the config's colours) or
    instances (16) PNG, of ``size`` when given; None after a report (unreadable, another
    size, another depth: ``mapillary-png-mode``)."""
    try:
        mode = png.header(imageio.read_bytes(path)[:33])[2]
    except (OSError, ValueError):
        mode = ""
    if bits == 8 and mode in ("RGB", "RGBA"):
        return read_colors(path, size, config, what, report, image_id)
    found = read_labels(path, size, what, report, image_id)
    if found is None:
        return None
    arr = np.asarray(found)
    if arr.dtype.itemsize * 8 != bits:
        kind = "labels PNG is 8-bit (label id)" if bits == 8 else "instances PNG is 16-bit (label * 256 + instance)"
        msg = f"{place(image_id)}: a {kind}; this one holds {arr.dtype.itemsize * 8}-bit values"
        report("mapillary-png-mode", msg, path, image_id)
        return None
    return arr


def check_classes(
    classes: npt.NDArray[np.int64], n_labels: int, path: str, what: str, report: Policy, image_id: Any
) -> bool:
    """Every class value with pixels is a label of the table (``mapillary-unknown-class``)."""
    present, counts = histogram(classes)
    unknown = present >= n_labels
    if not unknown.any():
        return True
    shown = ", ".join(map(str, present[unknown][:8].tolist()))
    msg = (
        f"{place(image_id)}: {what} {shown} not in the label table (0..{n_labels - 1})"
        f" ({int(counts[unknown].sum())} px)"
    )
    report("mapillary-unknown-class", msg, path, image_id)
    return False


@dataclass
class Parts:
    """One image's pixels as segments: ``index`` (k -> segment k-1, 0 void), and per
    segment its id and label id."""

    index: npt.NDArray[np.int32]
    ids: list[int]
    classes: list[int]


def partition(values: npt.NDArray[Any], config: Config, instances: bool) -> Parts:
    """The segments of a checked labels (``instances`` False) or instances PNG. Labels with
    ``evaluate: false`` are void. Labels PNG: one segment per label (id = label + 1).
    Instances PNG: each value of a thing label (``instances: true``) one instance (id =
    value + 1), all values of a stuff label one segment (id = label * 256 + 1)."""
    present, _ = histogram(values)
    void = set(config.void().tolist())
    lut = np.zeros(int(present.max(initial=0)) + 1, np.int32)
    ids: list[int] = []
    classes: list[int] = []
    where: dict[int, int] = {}
    for v in present.tolist():
        label = v >> 8 if instances else v
        if label in void:
            continue
        key = v if instances and config.labels[label].instances else label * 256 if instances else label
        if key not in where:
            ids.append(key + 1)
            classes.append(label)
            where[key] = len(ids)
        lut[v] = where[key]
    return Parts(lut[values], ids, classes)


@dataclass
class Polygons:
    """A v2.0 polygons JSON: the image size it states (``heigth``, as Vistas spells it, or
    ``height``) and each object's label id and flat ``[x0, y0, x1, y1, ...]`` points."""

    width: int
    height: int
    objects: list[tuple[int, list[float]]]


def _flat(points: Any) -> list[Any] | None:
    """``[[x, y], ...]`` (Vistas) or ``[[x0, y0, x1, y1, ...]]`` (datumaro's fixture) as one
    flat list, as datumaro flattens them; None when neither."""
    if not isinstance(points, list) or not all(isinstance(p, list) for p in points):
        return None
    flat = [v for p in points for v in p]
    ok = all(type(v) in (int, float) for v in flat)
    return flat if ok else None


def parse_polygons(path: str, config: Config, report: Policy, image_id: Any) -> Polygons | None:
    """The polygons JSON at ``path``; None after a report (``mapillary-polygons-invalid``:
    not JSON, no size or ``objects`` list, an object without label or points;
    ``mapillary-unknown-class``: a label that is not in the table)."""
    where = place(image_id)
    try:
        data = load_json(Path(path))
    except SegtoolError as exc:
        report("mapillary-polygons-invalid", exc.message, path, image_id)
        return None
    if not isinstance(data, dict):
        report("mapillary-polygons-invalid", f"{where}: expected a JSON object", path, image_id)
        return None
    height, width, objects = data.get("heigth", data.get("height")), data.get("width"), data.get("objects")
    if not all(type(v) is int and 0 < v < 2**31 for v in (height, width)) or not isinstance(objects, list):
        msg = f"{where}: a polygons file has 'width', 'heigth' (positive integers) and an 'objects' list"
        report("mapillary-polygons-invalid", msg, path, image_id)
        return None
    index = config.index()
    out: list[tuple[int, list[float]]] = []
    for k, obj in enumerate(objects):
        label = obj.get("label") if isinstance(obj, dict) else None
        flat = _flat(obj.get("polygon")) if isinstance(obj, dict) else None
        if type(label) is not str or flat is None or len(flat) % 2:
            msg = f"{where}: object {k} has no 'label' string and 'polygon' list of [x, y] points"
            report("mapillary-polygons-invalid", msg, path, image_id, k)
            return None
        if label not in index:
            msg = f"{where}: object {k}'s label {label!r:.60} is not in the label table"
            report("mapillary-unknown-class", msg, path, image_id, k)
            return None
        out.append((index[label], flat))
    assert type(width) is int and type(height) is int
    return Polygons(width, height, out)
