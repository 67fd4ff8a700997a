"""Pascal VOC segmentation: the VOCdevkit tree ``JPEGImages/``, ``SegmentationClass/``,
``SegmentationObject/``, ``ImageSets/Segmentation/<split>.txt``.

``SegmentationClass/<stem>.png`` holds each pixel's class id (0 background, 1..20 the VOC
classes, 255 void: boundaries and "difficult" regions), ``SegmentationObject/<stem>.png``
each pixel's object number in the image (0 none, 255 void); both palette PNGs with the VOC
colour map as VOC ships them, or RGB PNGs decoded through the colour map (datumaro writes
those). Classes: the 21 VOC classes, or ``labelmap.txt`` (datumaro) or ``class_names.txt``
(labelme) when present (:mod:`.voc_rules`). With object PNGs the dataset is ``panoptic``
(objects are instances of the class under them; background stuff; class pixels outside every
object a crowd), without them ``semantic`` (one segment per class). Image ids are the stems;
``file_name`` the photo's name in ``JPEGImages/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..policy import STRICT
from .common import Detection, ImageResult, noted, save_png, write_utf8
from .options import WriteContext, WriteOptions
from .voc_rules import (
    CLASS,
    COLORMAP,
    LABELMAP,
    OBJECT,
    PHOTOS,
    SETS,
    VOID,
    VOID_NAMES,
    Entry,
    Table,
    find,
    partition,
    photo_size,
    png_size,
    read_index,
    read_table,
)

NAME = "voc"
CHECKS = "voc_checks"  # its checks (validate); findings need a person's decision: no --fix
OBJECT_COLORS = {(int(r), int(g), int(b)): i for i, (r, g, b) in enumerate(COLORMAP.tolist())}


def detect(path: Path) -> Detection:
    """Strong for a folder with ``SegmentationClass/`` (or ``ImageSets/Segmentation/``) and
    ``JPEGImages/`` or ``Annotations/`` beside it, as VOCdevkit lays them out."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    seg = [name for name in (CLASS, SETS) if (path / name).is_dir()]
    if not seg:
        return Detection("no", f"no {CLASS}/ or {SETS}/ folder")
    if not any((path / name).is_dir() for name in (PHOTOS, "Annotations", OBJECT)):
        return Detection("weak", f"{seg[0]}/ but no {PHOTOS}/ or Annotations/ beside it")
    return Detection("strong", f"Pascal VOC layout ({seg[0]}/)")


def categories(table: Table) -> tuple[Category, ...]:
    """The label table's classes (void names left out): class 0 stuff, the others things."""
    return tuple(
        Category(i, name, i != 0, color)
        for i, (name, color) in enumerate(zip(table.names, table.colors, strict=True))
        if name not in VOID_NAMES and i != VOID
    )


@dataclass(frozen=True, slots=True)
class VocImage:
    """Pixels of one image: its class PNG (and object PNG), decoded through the table."""

    labels: str | None
    objects: str | None
    colors: tuple[tuple[tuple[int, int, int], int], ...]
    n_classes: int
    void: tuple[int, ...]  # class ids of void names (a labelmap's "ignored")

    def load(self, image: ImageInfo) -> Annotation:
        """See the module's doc; an image without a class PNG has no segments (all void)."""
        shape = (image.height, image.width)
        if self.labels is None:
            return Annotation(image, Segments.empty(), id_map=np.zeros(shape, np.int32))
        size = (image.width, image.height)
        what = f"image {image.id}"
        labels = read_index(self.labels, size, dict(self.colors), what, STRICT, image.id)
        assert labels is not None  # the strict policy raises instead
        if self.void:
            labels = np.where(np.isin(labels, self.void), VOID, labels)
        objects = None
        if self.objects is not None:
            objects = read_index(self.objects, None, OBJECT_COLORS, what, STRICT, image.id)
        parts = partition(labels, objects, self.n_classes, (self.labels, self.objects or ""), STRICT, image.id)
        assert parts is not None
        segs = Segments.build(id=parts.ids, category_id=parts.classes, iscrowd=parts.crowd)
        return Annotation(image, views.measure(parts.index, segs), id_map=parts.index, origin=self.labels)


def _image(entry: Entry) -> ImageInfo:
    if entry.labels is not None:
        width, height = png_size(entry.labels)
    else:
        assert entry.photo is not None
        width, height = photo_size(entry.photo)
    name = Path(entry.photo).name if entry.photo else f"{entry.stem}.jpg"
    return ImageInfo(entry.stem, name, height, width, photo=entry.photo or "")


def read(path: Path, *, objects: bool = True, **_: Any) -> Dataset:
    """Read a VOC tree; pixels are decoded when a sample is loaded. ``objects=False`` reads the
    class PNGs only (``semantic``) even where object PNGs are there."""
    if not path.is_dir():
        raise FormatError("a voc dataset is a folder (VOCdevkit/VOC2012/)", str(path))
    table = read_table(path, STRICT)
    entries = find(path, STRICT)
    if not entries:
        raise FormatError(f"no images: no {SETS}/*.txt lists and no {CLASS}/*.png", str(path))
    with_objects = objects and any(e.objects for e in entries)
    colors = tuple(table.color_index().items())
    void = tuple(i for i, n in enumerate(table.names) if n in VOID_NAMES and i != VOID)
    samples = []
    for entry in entries:
        if with_objects and entry.labels is not None and entry.objects is None:
            raise SegtoolError(f"image {entry.stem}: no {OBJECT} PNG beside its {CLASS} PNG", entry.labels)
        obj = entry.objects if with_objects else None
        samples.append(Sample(_image(entry), VocImage(entry.labels, obj, colors, len(table.names), void)))
    splits = {e.stem: e.splits for e in entries if e.splits}
    info = {"voc": {"splits": splits, "labels": table.origin}}
    return Dataset(categories(table), tuple(samples), "panoptic" if with_objects else "semantic", info, str(path))


def _palette() -> list[int]:
    return [int(v) for v in COLORMAP.ravel()]


def _write_image(job: tuple[Sample, WriteContext, str]) -> ImageResult:
    sample, ctx, name = job
    ann = sample.load()
    res = views.resolve(ann, ctx.opts.overlap)
    folder = Path(ctx.folder)
    save_png(views.label_map(res, VOID), folder / CLASS / name, palette=_palette())
    if ctx.kind != "semantic":
        segs = res.segments
        things = np.isin(segs.category_id, ctx.thing_ids) & ~segs.iscrowd.astype(bool)
        if int(things.sum()) >= VOID:
            raise SegtoolError(f"image {ann.image.id}: more than 254 objects", ann.origin or None)
        lut = np.zeros(len(segs) + 1, np.uint8)
        lut[1:][things] = np.arange(1, int(things.sum()) + 1)
        lut[0] = VOID
        save_png(views.paint(res, lut), folder / OBJECT / name, palette=_palette())
    return noted(ImageResult([], len(res.segments), res.dropped), ann)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``SegmentationClass/`` (and ``SegmentationObject/`` unless the dataset is
    semantic) palette PNGs with the VOC colour map, ``ImageSets/Segmentation/<split>.txt``
    (the splits read from VOC, else ``default``) and ``labelmap.txt`` (class id = line)."""
    ids = [c.id for c in ds.categories]
    if ids and (min(ids) < 0 or max(ids) >= VOID):
        raise SegtoolError("voc class ids must lie in 0..254 (255 is void); remap the categories", str(dst))
    names = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, suffix=".png")
    root = tmp[0]
    for folder in (CLASS, SETS) + (() if ds.kind == "semantic" else (OBJECT,)):
        (root / folder).mkdir(parents=True)
    ctx = WriteContext.of(ds, str(root), opts)
    results = list(run(_write_image, ((s, ctx, n) for s, n in zip(ds.samples, names, strict=True))))
    by_id = {c.id: c.name for c in ds.categories}
    lines = ["# label:color_rgb:parts:actions"]
    for i in range(max(ids, default=0) + 1):
        label = by_id.get(i, "background" if i == 0 else f"_unused_{i}")
        r, g, b = COLORMAP[i].tolist()
        lines.append(f"{label}:{r},{g},{b}::")
    (root / LABELMAP).write_text("\n".join(lines) + "\n", encoding="utf-8")
    known = ds.info.get("voc", {}).get("splits", {}) if isinstance(ds.info.get("voc"), dict) else {}
    lists: dict[str, list[str]] = {}
    for s, name in zip(ds.samples, names, strict=True):
        stem = Path(name).stem
        for split in known.get(str(s.image.id), ["default"]) if isinstance(known, dict) else ["default"]:
            lists.setdefault(str(split), []).append(stem)
    for split, stems in sorted(lists.items()):
        write_utf8(root / SETS / f"{split}.txt", "".join(f"{s}\n" for s in stems), "an image list", dst)
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the VOC root)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a voc destination is a folder, not a .json path", str(dst))
    return [dst]
