"""The rules of an Ultralytics YOLO segmentation dataset, written once for the reader and
``validate``: its ``data.yaml`` (the YAML subset Ultralytics writes), where a label file
lies, a label file's lines, and a polygon drawn as Ultralytics draws it.

A line is ``class x1 y1 x2 y2 ...``, coordinates normalised by the image's width and
height. :func:`parse_labels` hands every problem to the caller's error policy
(:mod:`segtool.policy`) under validate's check code. :func:`rasterise` is Ultralytics'
``polygon2mask`` (``ultralytics/data/utils.py``) with ``downsample_ratio=1``: the points
scaled to pixels, cast to ``int32`` (truncated toward zero), ``cv2.fillPoly``. The joining
of several polygons of one object into one line is Ultralytics' ``merge_multi_segment``
(``ultralytics/data/converter.py``), rewritten: :func:`join`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml as pyyaml  # Ultralytics reads its data.yaml with PyYAML: the same reading

from .. import imageio
from ..errors import FormatError, SegtoolError
from ..policy import Policy
from .common import limit

YAML_NAMES = ("data.yaml", "data.yml")
MAX_YAML = 1 << 20  # bytes of a data.yaml
MAX_POINTS = 1 << 20  # points of one line
SPLITS = ("train", "val", "test")
# Ultralytics' IMG_FORMATS (ultralytics/data/utils.py)
IMAGE_SUFFIXES = frozenset(".bmp .dng .jpeg .jpg .mpo .png .tif .tiff .webp .pfm .heic".split())


# ---------------------------------------------------------------- data.yaml


def find_yaml(path: Path) -> Path | None:
    """The data.yaml of ``path``: the file itself (.yaml/.yml), or ``data.yaml`` in the
    folder, or the folder's only ``*.yaml``."""
    if path.is_file():
        return path if path.suffix.lower() in (".yaml", ".yml") else None
    if not path.is_dir():
        return None
    for name in YAML_NAMES:
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.glob("*.y*ml") if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))
    return found[0] if len(found) == 1 else None


class _NoAliases(pyyaml.SafeLoader):
    """PyYAML's safe loader refusing aliases (``*a``): Ultralytics writes none, and a few
    nested ones repeat a node 9^9 times (the billion laughs) for whatever walks the result."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(pyyaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise pyyaml.composer.ComposerError(None, None, "aliases (*name) are not read", mark)
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> dict[str, Any]:
    """A data.yaml's top-level map, as Ultralytics reads it (PyYAML's safe loader: the
    same library, so the same reading, less aliases); anything else is a ValueError naming
    the line."""
    try:
        data = pyyaml.load(text, Loader=_NoAliases)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except pyyaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"{where}{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"a map of keys at the top, not {type(data).__name__}")
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """The data.yaml at ``path``, parsed; FormatError naming the file otherwise."""
    try:
        data = imageio.read_bytes(path)
    except OSError as exc:
        raise FormatError(f"cannot read the data file ({exc.strerror or exc})", str(path)) from None
    if len(data) > MAX_YAML:
        raise FormatError(f"a data file over {MAX_YAML:,} bytes", str(path))
    try:
        return parse_yaml(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FormatError("the data file is not UTF-8", str(path)) from None
    except ValueError as exc:
        raise FormatError(f"not the YAML Ultralytics writes ({exc})", str(path)) from None


def class_names(data: dict[str, Any], path: Path) -> dict[int, str]:
    """``names``: a list (classes 0..n-1) or a map of class id to name."""
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise FormatError("the data file has no 'names' (a list, or a map of class id to name)", str(path))
    out: dict[int, str] = {}
    for k, v in names.items():
        if type(k) is not int or not 0 <= k < 2**31 - 1:  # category id k + 1: an int32
            raise FormatError(f"class id {k!r:.20} in 'names' is not a whole number from 0 to {2**31 - 2:,}", str(path))
        if v is None:
            raise FormatError(f"class {k} in 'names' has no name", str(path))
        out[k] = str(v)
    if len(out) > limit("categories"):
        raise FormatError(f"{len(out):,} names: over the categories limit", str(path))
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Layout:
    """A dataset as its data.yaml describes it: the file, its root, class names, and the
    image folders of each split."""

    yaml: Path
    root: Path
    names: dict[int, str]
    splits: tuple[tuple[str, Path], ...]


def layout(path: Path) -> Layout:
    """Read ``path``'s data.yaml. ``path`` (the root) is taken relative to the file's
    folder when it exists there, else the file's folder is the root; split values are
    folders (or lists of folders) below the root."""
    yaml = find_yaml(path)
    if yaml is None:
        raise FormatError("no data.yaml (or one *.yaml) in the folder", str(path))
    data = read_yaml(yaml)
    names = class_names(data, yaml)
    root = yaml.parent
    given = data.get("path")
    if isinstance(given, str) and given and (yaml.parent / given).is_dir():
        root = yaml.parent / given
    splits: list[tuple[str, Path]] = []
    for split in SPLITS:
        value = data.get(split)
        for entry in value if isinstance(value, list) else [value] if value else []:
            if not isinstance(entry, str):
                what = "a nested list" if isinstance(entry, list | dict) else type(entry).__name__
                raise FormatError(f"'{split}' must be a folder (or a list of folders), not {what}", str(yaml))
            folder = root / entry
            if folder.suffix.lower() == ".txt":
                raise FormatError(f"'{split}': image list files are not read; give the image folder", str(yaml))
            if not folder.is_dir():
                raise FormatError(f"'{split}': no folder {entry}", str(yaml))
            splits.append((split, folder))
    if not splits and (root / "images").is_dir():
        splits = [("train", root / "images")]
    return Layout(yaml, root, names, tuple(splits))


def image_files(lay: Layout) -> list[Path]:
    """The images of every split, each split's sorted by path, each file once."""
    seen: set[Path] = set()
    out: list[Path] = []
    for _, folder in lay.splits:
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and p not in seen:
                seen.add(p)
                out.append(p)
    return out


def label_path(image: Path) -> Path:
    """Ultralytics' ``img2label_paths``: the last ``images`` folder of the path becomes
    ``labels``, the suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def label_files(lay: Layout) -> list[Path]:
    """Every ``.txt`` below the ``labels`` folders matching the splits' image folders."""
    out: set[Path] = set()
    for _, folder in lay.splits:
        labels = label_path(folder / "x").parent
        if labels.is_dir() and labels != folder:
            out.update(p for p in labels.rglob("*.txt") if p.is_file())
    return sorted(out)


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the image's header."""
    with imageio.open_image(path) as img:
        w, h = img.size
    return h, w


# ---------------------------------------------------------------- label files


@dataclass(frozen=True, slots=True)
class Line:
    """One object: its line number (1-based), class, and points as normalised (x, y) rows."""

    number: int
    cls: int
    points: npt.NDArray[np.float64]


def parse_labels(text: str, names: dict[int, str], path: str, report: Policy, image_id: Any = None) -> list[Line]:
    """The objects of one label file, each problem reported under its check code; a line
    with a problem is left out."""
    out: list[Line] = []
    lines = [(n, s) for n, s in enumerate(text.splitlines(), start=1) if s.strip()]
    if len(lines) > limit("segments"):
        report("malformed-record", f"{len(lines):,} lines: over the segments limit", path, image_id)
        return out
    for n, s in lines:
        found = _line(n, s.split(), names, path, report, image_id)
        if found is not None:
            out.append(found)
    return out


def _line(n: int, tokens: list[str], names: dict[int, str], path: str, report: Policy, image_id: Any) -> Line | None:
    where = f"line {n}"
    if len(tokens) > 2 * MAX_POINTS + 1:
        report("malformed-record", f"{where}: more than {MAX_POINTS:,} points", path, image_id)
        return None
    try:
        cls_value = float(tokens[0])
        coords = np.array([float(t) for t in tokens[1:]], dtype=np.float64)
    except ValueError:
        report("malformed-record", f"{where}: not numbers ({' '.join(tokens)[:40]!r})", path, image_id)
        return None
    if not (math.isfinite(cls_value) and cls_value.is_integer()) or int(cls_value) not in names:
        report("yolo-class-unknown", f"{where}: class {tokens[0][:20]} is not in names", path, image_id)
        return None
    if len(coords) % 2:
        report("yolo-odd-coordinates", f"{where}: {len(coords)} coordinates, not x y pairs", path, image_id)
        return None
    if len(coords) < 6:
        report("yolo-too-few-points", f"{where}: {len(coords) // 2} points, a polygon needs 3", path, image_id)
        return None
    if not np.all(np.isfinite(coords)) or coords.min() < 0 or coords.max() > 1:
        msg = f"{where}: coordinates outside [0, 1] (Ultralytics refuses the file)"
        report("yolo-coordinate-outside", msg, path, image_id)
        return None
    return Line(n, int(cls_value), coords.reshape(-1, 2))


def read_text(path: Path) -> str:
    """A label file's text (UTF-8); SegtoolError naming it otherwise."""
    try:
        return imageio.read_bytes(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"cannot read the label file ({exc})", str(path)) from None


# ---------------------------------------------------------------- geometry


def pixels(points: npt.NDArray[np.float64], height: int, width: int) -> npt.NDArray[np.float64]:
    """Normalised (x, y) rows in pixel coordinates, as Ultralytics denormalises them."""
    return points * np.array([width, height], dtype=np.float64)


def rasterise(points: npt.NDArray[np.float64], height: int, width: int) -> npt.NDArray[np.uint8]:
    """The mask of one line as Ultralytics' ``polygon2mask``: pixel coordinates cast to int32,
    ``cv2.fillPoly`` (the outline's pixels included)."""
    import cv2

    mask = np.zeros((height, width), dtype=np.uint8)
    poly = np.asarray(pixels(points, height, width), dtype=np.int32)
    cv2.fillPoly(mask, [poly], color=1)
    return mask


def _closest(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[int, int]:
    """The first (in row-major order) pair of indexes of a's and b's closest points."""
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    return int(i), int(j)


def join(polygons: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """Several polygons of one object as one, as Ultralytics' ``merge_multi_segment`` joins
    them: each polygon is linked to the next at their closest pair of points; the walk goes
    forward through each polygon from where it was entered (rotated to start there, closed
    by repeating that point) to where it leaves for the next, and comes back through the
    rest of each middle polygon on the way back, so the links are walked twice (zero-width
    bridges)."""
    if len(polygons) == 1:
        return polygons[0]
    segs = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    links: list[list[int]] = [[] for _ in segs]
    for i in range(1, len(segs)):
        a, b = _closest(segs[i - 1], segs[i])
        links[i - 1].append(a)
        links[i].append(b)
    last = len(segs) - 1
    forward: list[npt.NDArray[np.float64]] = []
    for i, idx in enumerate(links):
        seg = segs[i]
        if len(idx) == 2 and idx[0] > idx[1]:  # a middle polygon walked the other way round
            idx = [len(seg) - 1 - x for x in idx]
            seg = seg[::-1]
        seg = np.roll(seg, -idx[0], axis=0)
        seg = np.concatenate([seg, seg[:1]])
        segs[i] = seg
        forward.append(seg if i in (0, last) else seg[: idx[1] - idx[0] + 1])
    back = [segs[i][abs(links[i][1] - links[i][0]) :] for i in range(last - 1, 0, -1)]
    return np.concatenate(forward + back, axis=0)
