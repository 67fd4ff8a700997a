"""MOTS (Multi-Object Tracking and Segmentation): PNG instance maps and the txt variant (read).

PNG: ``[<subset>/]instances/<id>.png`` (16-bit: ``class_id * 1000 + track``, 0 background;
KITTI MOTS puts them in ``instances/<seq>/<frame>.png``), ``instances/labels.txt`` (class k =
line k, as datumaro writes it) and photos in ``images/`` beside. txt: ``<seq>.txt`` files
(``instances_txt/`` in KITTI MOTS, or one file), a line per object ``frame id class_id height
width rle``. Without labels.txt the classes are 1 car and 2 pedestrian; class 10 (id 10000)
is an ignore region: void, counted in convert's summary.

Every dataset is ``panoptic``: objects are disjoint (MOTS forbids overlap), every class a
thing, the background void. A segment's id is the MOTS id (``class_id * 1000 + track``; the
track is ``id % 1000``). Image ids: PNG ``<subset>/<path under instances/>`` (``train/1``,
``0002/000010``), ``file_name`` the photo's path under the root (else ``<id>.png``); txt
``<seq>/<frame:06d>``, ``file_name`` ``<seq>/<frame:06d>.png`` (as KITTI MOTS' photos in
``image_02/`` lie). Rules in :mod:`.mots_rules`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import views
from ..errors import FormatError
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT, Policy
from .common import Detection, read_only
from .mots_rules import (
    INSTANCES,
    LABELS_FILE,
    TXT_FOLDER,
    Classes,
    Entry,
    check_photo,
    find_pngs,
    is_txt,
    parse_txt,
    png_parts,
    png_roots,
    png_size,
    read_classes,
    read_png,
    txt_files,
    txt_parts,
)

NAME = "mots"
targets = read_only(NAME)  # not written: convert --to refuses in one line
CHECKS = "mots_checks"  # its checks (validate); findings need a person's decision: no --fix
IGNORED = "MOTS ignore region pixels (class 10: void)"


def detect(path: Path) -> Detection:
    """Strong for a folder with ``instances/`` (or subsets with one), and for a MOTS txt file
    or a folder of them (``instances_txt/``)."""
    if path.is_file():
        if path.suffix.lower() == ".txt" and is_txt(path):
            return Detection("strong", "MOTS txt lines (frame id class_id height width rle)")
        return Detection("no", "not a MOTS txt file")
    if not path.is_dir():
        return Detection("no", "not a file or folder")
    roots = png_roots(path)
    if roots:
        # Mapillary Vistas keeps 16-bit instances/ beside labels/: that layout is only a weak MOTS match
        vistas = any((base / "labels").is_dir() for _, base in roots)
        level: Literal["weak", "strong"] = "weak" if vistas else "strong"
        return Detection(level, f"MOTS PNG layout ({INSTANCES}/{' beside labels/: Vistas-like' if vistas else ''})")
    files = txt_files(path)
    if files and (is_txt(files[0]) or (path / TXT_FOLDER).is_dir()):
        return Detection("strong", f"MOTS txt files ({files[0].name})")
    return Detection("no", f"no {INSTANCES}/ folder and no MOTS txt files ({TXT_FOLDER}/*.txt)")


def classes_of(folders: list[Path]) -> Classes:
    """The labels.txt of the subsets (one table: they must agree), else KITTI MOTS' classes."""
    found = [read_classes(f) for f in folders]
    given = [c for c in found if c.origin]
    if not given:
        return found[0] if found else read_classes(None)
    for other in given[1:]:
        if other.names != given[0].names:
            raise FormatError(f"its classes differ from those of {given[0].origin}", other.origin)
    return given[0]


@dataclass(frozen=True, slots=True)
class MotsImage:
    """Pixels of one image: its PNG or its frame's RLE lines, decoded on load."""

    entry: Entry
    classes: Classes

    def load(self, image: ImageInfo) -> Annotation:
        """See the module's doc."""
        if self.entry.size is None:
            values = read_png(self.entry, (image.width, image.height), STRICT)
            assert values is not None  # the strict policy raises instead
            parts = png_parts(values, self.classes, self.entry.labels, STRICT, image.id)
        else:
            parts = txt_parts(self.entry, self.classes, STRICT)
        assert parts is not None
        segs = Segments.build(id=parts.ids, category_id=parts.classes)
        dropped = Counter({IGNORED: parts.ignored}) if parts.ignored else None
        return Annotation(
            image, views.measure(parts.index, segs), id_map=parts.index, origin=self.entry.labels, dropped=dropped
        )


def _image(entry: Entry, check_photos: bool) -> ImageInfo:
    size = png_size(entry.labels) if entry.size is None else entry.size
    if check_photos:
        check_photo(entry.photo, size, STRICT, entry.id, "annotation")
    return ImageInfo(entry.id, entry.file_name, size[1], size[0], photo=(entry.photo or "") if check_photos else "")


def entries(path: Path, report: Policy = STRICT) -> tuple[list[Entry], Classes, str]:
    """The images of a MOTS dataset, its classes and its variant (``png`` or ``txt``); a txt
    line that cannot be read goes to ``report``."""
    if path.is_dir() and png_roots(path):
        found, folders = find_pngs(path)
        return found, classes_of(folders), "png"
    files = txt_files(path)
    if not files:
        raise FormatError(f"no {INSTANCES}/ folder and no MOTS txt files", str(path))
    found = [e for f in files for e in parse_txt(f, report)]
    labels = path / LABELS_FILE if path.is_dir() else path.parent / LABELS_FILE
    return found, classes_of([labels.parent] if labels.is_file() else []), "txt"


def read(path: Path, *, check_photos: bool = True, **_: Any) -> Dataset:
    """Read a MOTS dataset; pixels are decoded when a sample is loaded (PNG sizes from their
    headers, txt sizes from the lines). ``check_photos=False`` does not open the photos (a
    photo of another size than its map is otherwise refused)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    found, classes, variant = entries(path)
    if not found:
        raise FormatError("no images: no instance PNG and no txt line", str(path))
    samples = tuple(Sample(_image(e, check_photos), MotsImage(e, classes)) for e in found)
    info = {"mots": {"variant": variant, "labels": classes.origin}}
    return Dataset(classes.categories(), samples, "panoptic", info, str(path))


def count_images(path: Path) -> int | None:
    """How many images validate steps through (the PNGs; None for txt, read whole)."""
    if path.is_dir() and png_roots(path):
        return len(find_pngs(path)[0])
    return None
