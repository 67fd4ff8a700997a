"""CamVid in the SegNet layout: ``<split>/`` photos, ``<split>annot/`` label PNGs,
``<split>.txt`` lists, optional ``label_colors.txt``. See :mod:`.camvid_rules` for the two
label tables (SegNet's 11 classes for index PNGs, the 32-class colour map for RGB ones) and
how list lines are resolved.

Reads as a ``semantic`` dataset: one segment per class present, void pixels (the Void /
Unlabelled class) none; category ids are the table's class indices. Image ids are
``<split>/<stem>``; ``file_name`` the photo's name. Writes the SegNet layout's label side:
``<split>annot/<stem>.png`` (8-bit class indices), ``<split>.txt`` and ``label_colors.txt``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..policy import STRICT
from .camvid_rules import (
    ANNOT,
    CAMVID32,
    LABEL_COLORS,
    SEGNET,
    Color,
    Entry,
    Table,
    find,
    read_classes,
    table_for,
)
from .common import Detection, ImageResult, noted, save_png, write_utf8
from .options import Job, WriteContext, WriteOptions
from .voc_rules import COLORMAP, photo_size, png_size

NAME = "camvid"
CHECKS = "camvid_checks"  # its checks (validate); findings need a person's decision: no --fix
DEFAULT_SPLIT = "default"


def _annot_folders(path: Path) -> list[str]:
    return [p.name for p in path.iterdir() if p.name.endswith(ANNOT) and len(p.name) > len(ANNOT) and p.is_dir()]


def detect(path: Path) -> Detection:
    """Strong for a folder with a ``<split>annot/`` folder and ``<split>.txt`` or
    ``label_colors.txt`` beside it; weak for ``<split>annot/`` and ``<split>/`` alone."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    try:
        annots = _annot_folders(path)
    except OSError as exc:
        return Detection("no", f"unreadable folder ({exc.strerror})")
    if not annots:
        return Detection("no", "no <split>annot/ folder")
    named = [a for a in annots if (path / f"{a[: -len(ANNOT)]}.txt").is_file()]
    if named or (path / LABEL_COLORS).is_file():
        return Detection("strong", f"CamVid SegNet layout ({(named or annots)[0]}/)")
    if any((path / a[: -len(ANNOT)]).is_dir() for a in annots):
        return Detection("weak", f"{annots[0]}/ beside its photo folder, but no list file")
    return Detection("no", f"{annots[0]}/ but no photo folder nor list file")


@dataclass(frozen=True, slots=True)
class CamvidPng:
    """Pixels of one image: its label PNG read through the tree's table."""

    labels: str | None
    table: Table

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per class present (ids 1..k in class order); void pixels none. An
        image listed without a label PNG has no segments."""
        shape = (image.height, image.width)
        if self.labels is None:
            return Annotation(image, Segments.empty(), id_map=np.zeros(shape, np.int32))
        classes = read_classes(self.labels, (image.width, image.height), self.table, STRICT, image.id)
        assert classes is not None  # the strict policy raises instead
        lut = np.zeros(len(self.table.names), np.int32)
        present = np.unique(classes)
        present = present[~np.isin(present, self.table.void)]
        lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
        index = lut[classes]
        segs = Segments.build(id=np.arange(1, len(present) + 1), category_id=present)
        return Annotation(image, views.measure(index, segs), id_map=index, origin=self.labels)


def _image(entry: Entry) -> ImageInfo:
    """The image's size from its photo and label PNG, which must agree (exit 2 otherwise)."""
    photo = Path(entry.photo)
    size = photo_size(entry.photo) if photo.is_file() else None
    if entry.labels is not None:
        label_size = png_size(entry.labels)
        if size is not None and size != label_size:
            msg = f"image {entry.id}: the label PNG is {label_size[0]}x{label_size[1]} but its photo is {size[0]}x{size[1]}"
            raise SegtoolError(msg, entry.labels)
        size = label_size
    assert size is not None  # find() keeps no entry with neither
    return ImageInfo(entry.id, photo.name, size[1], size[0], photo=entry.photo if photo.is_file() else "")


def read(path: Path, **_: Any) -> Dataset:
    """Read a CamVid tree; pixels are decoded when a sample is loaded."""
    if not path.is_dir():
        raise FormatError("a camvid dataset is a folder (the SegNet layout: train/, trainannot/, train.txt)", str(path))
    found = find(path, STRICT)
    if not found.entries:
        absent = sum(found.absent.values())
        why = f"its lists name {absent} images, none of them here" if absent else "no list lines and no *annot/*.png"
        raise FormatError(f"no images: {why}", str(path))
    first = next((e.labels for e in found.entries if e.labels is not None), None)
    table = table_for(path, first, STRICT)
    void = set(table.void)
    cats = tuple(
        Category(i, name, False, color)
        for i, (name, color) in enumerate(zip(table.names, table.colors, strict=True))
        if i not in void
    )
    samples = tuple(Sample(_image(e), CamvidPng(e.labels, table)) for e in found.entries)
    splits = {e.id: e.split for e in found.entries}
    info = {"camvid": {"splits": splits, "table": table.origin, "absent": found.absent}}
    return Dataset(cats, samples, "semantic", info, str(path))


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    res = views.resolve(ann, ctx.opts.overlap)
    void = int(ctx.folder.split("\0")[2])
    folder, name = ctx.folder.split("\0")[:2]
    save_png(views.label_map(res, void).astype(np.uint8), Path(folder) / name)
    return noted(ImageResult([], len(res.segments), Counter(res.dropped)), ann)


def split_of(ds: Dataset, image_id: Any) -> str:
    """An image's split as a reader recorded it (``info[fmt]["splits"]``: camvid's, ade20k's
    or voc's, the first of its lists), else ``default``; a split that is no folder name is
    ``default`` too."""
    for meta in ds.info.values():
        splits = meta.get("splits") if isinstance(meta, dict) else None
        found = splits.get(str(image_id), splits.get(image_id)) if isinstance(splits, dict) else None
        if isinstance(found, list):
            found = found[0] if found else None
        if isinstance(found, str) and found and "/" not in found and "\\" not in found and found not in (".", ".."):
            return found
    return DEFAULT_SPLIT


def void_value(ids: list[int]) -> int:
    """Where void goes in the written PNGs: 0 when no category has id 0 (CamVid's Void),
    else one above the largest id (SegNet's 11 after its classes 0..10)."""
    return 0 if 0 not in ids else max(ids) + 1


def label_lines(ds: Dataset, void: int) -> list[str]:
    """``label_colors.txt``: ``r g b Name`` for every index 0..max (void ``0 0 0 Void``, a
    gap ``_unused_N``). Colours: the category's, else CamVid's colour of that name, when no
    other class has it yet; else the first VOC colour map entry not taken, so that every
    colour is its own (the file then reads back through its colours too)."""
    by_id = {c.id: c for c in ds.categories}
    known: dict[str, Color] = {n: c for n, c in CAMVID32 + SEGNET[:-1]}
    n = max([*by_id, void]) + 1
    names = ["Void" if i == void else by_id[i].name if i in by_id else f"_unused_{i}" for i in range(n)]
    colors: list[Color | None] = [None] * n
    colors[void] = (0, 0, 0)
    taken: set[Color] = {(0, 0, 0)}
    for i, name in enumerate(names):
        own = by_id[i].color if i in by_id and i != void else None
        wish = (int(own[0]), int(own[1]), int(own[2])) if own is not None else known.get(name)
        if i != void and wish is not None and wish not in taken:
            colors[i] = wish
            taken.add(wish)
    spare = (c for c in ((int(r), int(g), int(b)) for r, g, b in COLORMAP.tolist()) if c not in taken)
    lines = []
    for i, name in enumerate(names):
        color = colors[i] or next(spare)
        taken.add(color)
        lines.append(f"{color[0]} {color[1]} {color[2]} {' '.join(name.split()) or f'_unnamed_{i}'}")
    return lines


def _stem(file_name: str) -> str:
    """A label's name: the stem of the ``file_name``'s stem (``a.b.jpg`` -> ``a``)."""
    return Path(Path(file_name).stem).stem


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write the SegNet layout's label side (photos are not copied): ``<split>annot/<stem>.png``
    8-bit class indices (void: :func:`void_value`), ``<split>.txt`` lines
    ``/<split>/<stem>.png /<split>annot/<stem>.png`` as datumaro writes them, and
    ``label_colors.txt``. Category ids must lie in 0..254."""
    ids = [c.id for c in ds.categories]
    if ids and (min(ids) < 0 or max(ids) > 254):
        raise SegtoolError("camvid class ids must lie in 0..254 (8-bit PNGs with a void value); remap", str(dst))
    void = void_value(ids)
    root = tmp[0]
    splits = [split_of(ds, s.image.id) for s in ds.samples]
    files = [image_path(s.image) for s in ds.samples]
    names = output_names(files, str(dst), flat=True, stem=_stem, groups=splits, suffix=".png")
    for split in sorted(set(splits)):
        (root / f"{split}{ANNOT}").mkdir(parents=True)
    ctx = WriteContext.of(ds, str(root), opts)
    work = (
        (s, replace(ctx, folder=f"{root / (split + ANNOT)}\0{name}\0{void}"))
        for s, split, name in zip(ds.samples, splits, names, strict=True)
    )
    results = list(run(_write_image, work))
    listed: dict[str, list[str]] = {}
    for split, name in zip(splits, names, strict=True):
        listed.setdefault(split, []).append(f"/{split}/{name} /{split}{ANNOT}/{name}\n")
    for split, rows in listed.items():
        write_utf8(root / f"{split}.txt", "".join(rows), "an image list", dst)
    write_utf8(root / LABEL_COLORS, "\n".join(label_lines(ds, void)) + "\n", "a label name", dst)
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the CamVid root)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a camvid destination is a folder, not a .json path", str(dst))
    return [dst]
