"""A folder of binary mask PNGs, one per object (pycococreator's input, and many tools'
export): ``<image>_<class>_<n>.png`` (layout 1), or one folder per image holding
``<class>_<n>.png`` (layout 2); ``_crowd`` before ``<n>`` marks a crowd region.

A mask's foreground is every pixel that is not black, whatever its mode (1, L, LA, P, RGB,
RGBA, 16-bit): colours are read, never palette indices, since pycococreator's own masks put
their object at index 0 in one file and index 1 in the next (:mod:`.mask_folder_rules`).
Masks may overlap: the dataset is ``instance``. Categories come from ``--categories`` (a
COCO categories JSON or a labels file), else segtool's ``masks.json``, else the class fields
of the names (ids 1..n in sorted order). Image ids are the stems unless ``masks.json`` keeps
the source's records; photos are looked for in a sibling ``images/`` folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import cocomask, masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..policy import QUIET, STRICT
from .coco_records import parse_images
from .common import Detection, ImageResult, dump_json, noted, save_png
from .mask_folder_rules import (
    CROWD,
    META,
    PHOTO_SUFFIXES,
    PHOTOS,
    Entry,
    class_of,
    classes,
    find,
    layout,
    parse_name,
    png_size,
    read_categories,
    read_mask,
    read_meta,
    token,
)
from .options import WriteContext, WriteOptions

NAME = "masks"
CHECKS = "mask_folder_checks"  # its checks (validate); findings need a person's decision: no --fix
OVERLAPS = True  # one PNG per object: overlapping instances are kept as they are


def _names(root: Path, kind: int) -> list[tuple[str, str | None]]:
    """(file stem, image folder name or None) of every mask PNG, no file opened."""
    if kind == 2:
        return [(p.stem, d.name) for d in root.iterdir() if d.is_dir() for p in d.glob("*.png")]
    return [(p.stem, None) for p in root.glob("*.png")]


def detect(path: Path) -> Detection:
    """Strong for a folder whose PNG names all follow the pattern, with a class field or a
    crowd marker, no zero-padded object number (``ADE_train_00000001.png`` is a label map)
    and no class field that is a number (``annotations/1000_square_0.png`` seen from the
    folder above, ``instance/000030_10.png``), or with segtool's ``masks.json``; no
    otherwise (``img_1.png`` alone is too common a label-map name: pass ``--from masks``)."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    if (path / META).is_file():
        return Detection("strong", f"mask PNGs with {META}")
    kind = layout(path)
    if kind == 0:
        return Detection("no", "no .png files in the folder or its sub-folders")
    named = _names(path, kind)
    parsed = [parse_name(stem, image) for stem, image in named]
    bad = next((stem for (stem, _), n in zip(named, parsed, strict=True) if n is None), None)
    if bad is not None:
        return Detection("no", f"{bad}.png is not named <image>_<class>_<n>.png")
    if any(stem.rsplit("_", 1)[-1] != str(n.n) for (stem, _), n in zip(named, parsed, strict=True) if n):
        return Detection("no", "zero-padded object numbers (label maps named by index)")
    if any(n and n.cls and any(part.isdigit() for part in n.cls.split("_")) for n in parsed):
        return Detection("no", "class fields that are numbers (files named by index, or a folder of such folders)")
    if not any(n is not None and (n.cls is not None or n.crowd) for n in parsed):
        return Detection("no", "names <image>_<n>.png without class (pass --from masks)")
    if kind == 2 and any(n and n.cls and "_" in n.cls for n in parsed):
        return Detection("no", "sub-folders of <image>_<class>_<n>.png masks: pass the sub-folder")
    where = "one folder per image" if kind == 2 else "<image>_<class>_<n>.png"
    return Detection("strong", f"binary mask PNGs named {where}")


@dataclass(frozen=True, slots=True)
class MaskFiles:
    """Pixels of one image: its mask PNGs, each with its category and crowd flag."""

    paths: tuple[str, ...]
    category_ids: tuple[int, ...]
    crowd: tuple[bool, ...]

    def load(self, image: ImageInfo) -> Annotation:
        """One instance per mask, in object-number order (ids 1..k); empty masks kept."""
        size = (image.width, image.height)
        rles, areas, boxes = [], [], []
        for path in self.paths:
            mask = read_mask(path, size, STRICT, image.id)
            assert mask is not None  # the strict policy raises instead
            runs = masks.Runs(mask.view(np.uint8).astype(np.int32), 1)
            rles.append(runs.rles()[0])
            areas.append(runs.areas()[0])
            boxes.append(runs.bboxes()[0])
        segs = Segments.build(
            id=np.arange(1, len(self.paths) + 1),
            category_id=list(self.category_ids),
            iscrowd=list(self.crowd),
            area=np.asarray(areas, np.float64),
            bbox=np.asarray(boxes, np.float64).reshape(-1, 4),
        )
        return Annotation(image, segs, rles=tuple(rles), origin=self.paths[0] if self.paths else "")


def photos(root: Path) -> dict[str, str]:
    """Photo stem → path in the sibling ``images/`` folder (listed once; none opened)."""
    folder = root.parent / PHOTOS
    if root.name == PHOTOS or not folder.is_dir():
        return {}
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    return {p.stem: str(p) for p in reversed(found)}  # the first name wins


def _records(root: Path, listed: list[Any]) -> dict[str, ImageInfo]:
    """``masks.json``'s image records by the name the writer gave their masks
    (:func:`.common.output_names`: the stem of their ``file_name``, or its folders joined)."""
    if not listed:
        return {}
    records = parse_images(listed, root / META)
    return dict(zip(output_names([image_path(im) for im in records], flat=True, stem=file_stem), records, strict=True))


def _image(entry: Entry, known: dict[str, ImageInfo], shots: dict[str, str]) -> ImageInfo:
    photo = shots.get(entry.stem, "")  # preview finds it there without --images
    if entry.stem in known:
        return dataclasses.replace(known[entry.stem], photo=photo)
    size = png_size(entry.masks[0][0], STRICT, entry.stem)
    assert size is not None
    name = Path(photo).name if photo else f"{entry.stem}.jpg"
    return ImageInfo(entry.stem, name, size[1], size[0], photo=photo)


def read(path: Path, *, categories: Path | None = None, **_: Any) -> Dataset:
    """Read a folder of mask PNGs: names are parsed and each image's first mask header read
    for its size (none when ``masks.json`` records it); pixels decode when a sample loads."""
    if not path.is_dir() or (layout(path) == 0 and not (path / META).is_file()):
        raise FormatError("a masks dataset is a folder of mask PNGs (or of one folder per image)", str(path))
    entries = find(path, STRICT)
    meta_cats, listed = read_meta(path, STRICT)
    table = classes(entries, read_categories(categories) if categories is not None else meta_cats)
    known, shots = _records(path, listed), photos(path)
    samples: list[tuple[str, Sample]] = []
    for entry in entries:
        ids = []
        for p, name in entry.masks:
            cid = class_of(name, table, p, STRICT)
            assert cid is not None
            ids.append(cid)
        source = MaskFiles(tuple(p for p, _ in entry.masks), tuple(ids), tuple(m.crowd for _, m in entry.masks))
        samples.append((entry.stem, Sample(_image(entry, known, shots), source)))
    have = {e.stem for e in entries}
    alone = [(stem, Sample(im, MaskFiles((), (), ()))) for stem, im in known.items() if stem not in have]
    order = {stem: i for i, stem in enumerate(known)}
    ordered = sorted(samples + alone, key=lambda s: (order.get(s[0], len(order)), s[0]))
    return Dataset(table.categories, tuple(s for _, s in ordered), "instance", {}, str(path))


def count_images(path: Path) -> int | None:
    """How many images validate steps through (names parsed, no file opened)."""
    return len(find(path, QUIET)) if path.is_dir() else None


def file_stem(file_name: str) -> str:
    """The image's part of its masks' names: the stem of its ``file_name`` (no folder, so
    nothing is written outside the output folder)."""
    return Path(file_name.replace("\\", "/")).stem


def mask_name(stem: str, field: str, crowd: bool, n: int) -> str:
    """``<stem>_<class>_<n>.png`` (``<stem>_<class>_crowd_<n>.png`` for a crowd region)."""
    return f"{stem}_{field}_{CROWD + '_' if crowd else ''}{n}.png"


@dataclass(frozen=True)
class _Out:
    ctx: WriteContext
    fields: dict[int, str]


def _write_image(job: tuple[Sample, _Out, str]) -> ImageResult:
    sample, out, stem = job
    ann = sample.load()
    h, w = ann.image.height, ann.image.width
    segs = ann.segments
    index = ann.index_map() if ann.rles is None else None
    folder = Path(out.ctx.folder)
    result = noted(ImageResult([], len(segs)), ann)
    for k in range(len(segs)):
        if index is not None:
            mask = index == k + 1
        else:
            assert ann.rles is not None
            mask = cocomask.decode([ann.rles[k]], h, w)[:, :, 0].astype(bool)
        cid = int(segs.category_id[k])
        if cid not in out.fields:
            raise SegtoolError(
                f"image {ann.image.id}: segment {int(segs.id[k])} has unknown category {cid}", ann.origin or None
            )
        name = mask_name(stem, out.fields[cid], bool(segs.iscrowd[k]), k)
        save_png(np.where(mask, np.uint8(255), np.uint8(0)), folder / name)
    if segs.score is not None and len(segs):
        result.dropped["scores (a mask PNG holds none)"] += len(segs)
    return result


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """One 8-bit grey PNG per object (0 background, 255 the object), named
    ``<stem>_<class>_<n>.png`` (n: the object's place in its image, from 0), and
    ``masks.json`` with the image and category records, so ids, names and images without
    objects come back."""
    empty = next((s.image.id for s in ds.samples if not file_stem(s.image.file_name)), None)
    if empty is not None:
        raise SegtoolError(f"image {empty}: its file_name gives no stem to name its masks by", str(dst))
    stems = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, stem=file_stem)
    fields = {c.id: token(c) for c in ds.categories}
    twice = [c for c in ds.categories if list(fields.values()).count(fields[c.id]) > 1]
    if twice:
        raise SegtoolError(
            f"categories {twice[0].name!r} and others would share the name field {fields[twice[0].id]!r}", str(dst)
        )
    tmp[0].mkdir()
    out = _Out(WriteContext.of(ds, str(tmp[0]), opts), fields)
    results = list(run(_write_image, ((s, out, n) for s, n in zip(ds.samples, stems, strict=True))))
    images = [s.image.to_dict() for s in ds.samples]
    dump_json({"images": images, "categories": [c.to_dict() for c in ds.categories]}, tmp[0] / META)
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a masks destination is a folder, not a .json path", str(dst))
    return [dst]
