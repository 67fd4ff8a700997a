"""Mapillary Vistas v1.2 and v2.0: ``config_v<version>.json`` (the label table: label id =
index in ``labels``) beside split folders ``<split>/images/*.jpg`` and
``<split>/<version>/labels|instances|panoptic|polygons/``.

Four readings of one version (v2.0 when a split holds it, else v1.2; a path to a version
folder such as ``training/v1.2`` picks that one), the first the version holds by default
(``reading=``), see docs/formats/mapillary.md:

* ``instances/`` (16-bit, value = label * 256 + instance): ``panoptic``: each value of a
  label with ``instances: true`` one instance, each other label one stuff segment;
* ``panoptic/`` + ``panoptic_20xx.json``: ``panoptic``: COCO panoptic with string image
  ids, under coco-panoptic's rules (its PNG source), an empty ``bbox`` taken as absent;
* ``labels/`` (8-bit label ids, palette or grayscale; RGB through the labels' colours):
  ``semantic``;
* ``polygons/`` (v2.0 JSONs): ``instance``: each object rasterised as a COCO polygon.

Labels with ``evaluate: false`` (``void--unlabeled``) are void, not categories. Image ids
are the file stems; nothing is decoded in :func:`read`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import cocomask, cocopoly, views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Kind, Sample, Segments, category_colors
from ..naming import image_path, output_names
from ..policy import QUIET, STRICT, Policy
from .coco_panoptic import PanopticPng
from .coco_records import parse_categories, parse_images, unknown_image
from .common import Detection, ImageResult, dump_json, noted, save_png
from .jsonstream import coco_sections, items
from .mapillary_rules import (
    INSTANCES,
    LABELS,
    MAX_LABELS,
    PANOPTIC,
    PANOPTIC_JSON,
    READINGS,
    Config,
    Entry,
    Layout,
    check_classes,
    config_name,
    find,
    layout,
    parse_polygons,
    partition,
    read_config,
    read_map,
)
from .options import WriteContext, WriteOptions
from .panoptic_rules import annotation_record, segment_records
from .voc_rules import photo_size, png_size  # sizes from headers, the pixel limit checked

NAME = "mapillary"
CHECKS = "mapillary_checks"  # its checks (validate); findings need a person's decision: no --fix
VERSION = "v2.0"  # what the writer writes
SPLIT = "training"  # the writer's split for images without one
VOID_LABEL = {"name": "void--unlabeled", "readable": "Unlabeled", "color": [0, 0, 0], "instances": False}


def detect(path: Path) -> Detection:
    """Strong for a folder with ``config_v1.2.json`` or ``config_v2.0.json`` and a split
    holding that version's folder (or a split or version folder of such a tree)."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    lay = layout(path)
    if lay is None:
        return Detection("no", "no config_v1.2.json / config_v2.0.json and no v1.2/ or v2.0/ folder")
    if not lay.config.is_file():
        return Detection("weak", f"{lay.version}/ folders but no {lay.config.name} beside them")
    if not any((d / lay.version).is_dir() for _, d in lay.splits):
        return Detection("weak", f"{lay.config.name} but no split folder holding {lay.version}/")
    return Detection("strong", f"Mapillary Vistas layout ({lay.config.name}, {lay.version}/)")


def categories(config: Config) -> tuple[Category, ...]:
    """The labels with ``evaluate: true``: id = index, thing = ``instances``; the name's
    first ``--`` part is the supercategory (as Vistas' panoptic JSON has it)."""
    return tuple(
        Category(i, label.name, label.instances, label.color, label.name.split("--")[0] if "--" in label.name else "")
        for i, label in enumerate(config.labels)
        if label.evaluate
    )


@dataclass(frozen=True, slots=True)
class MapillaryImage:
    """Pixels of one image: its file of the reading (None: an image without annotations)."""

    path: str | None
    reading: str
    photo: str | None
    config: Config

    def load(self, image: ImageInfo) -> Annotation:
        """See the module's doc; the photo, when there is one, must be of the file's size."""
        size = (image.width, image.height)
        if self.photo is not None and self.path is not None and photo_size(self.photo) != size:
            w, h = photo_size(self.photo)
            msg = f"image {image.id}: its {self.reading} file is {size[0]}x{size[1]} but its photo is {w}x{h}"
            raise SegtoolError(msg, self.path)
        if self.path is None:
            return Annotation(image, Segments.empty(), id_map=np.zeros((image.height, image.width), np.int32))
        if self.reading == "polygons":
            return self._polygons(image)
        what = f"image {image.id}"
        values = read_map(self.path, 16 if self.reading == INSTANCES else 8, size, what, STRICT, image.id, self.config)
        instances = self.reading == INSTANCES
        classes = values >> 8 if instances else values
        check_classes(classes, len(self.config.labels), self.path, "label ids", STRICT, image.id)
        parts = partition(values, self.config, instances)
        res = views.Resolved(parts.index, Segments.build(id=parts.ids, category_id=parts.classes))
        # its runs kept: PQ pairs segments through them
        return Annotation(image, res.measured(), id_map=parts.index, runs=res.runs(), origin=self.path)

    def _polygons(self, image: ImageInfo) -> Annotation:
        """Each object rasterised as pycocotools rasterises a COCO polygon; objects of void
        labels and polygons with no pixels (collinear points) are dropped and counted."""
        assert self.path is not None
        found = parse_polygons(self.path, self.config, STRICT, image.id)
        assert found is not None  # the strict policy raises instead
        if (found.width, found.height) != (image.width, image.height):
            msg = f"image {image.id}: the polygons file says {found.width}x{found.height}, the image is "
            raise SegtoolError(msg + f"{image.width}x{image.height}", self.path)
        dropped: Counter[str] = Counter()
        rles, ids, classes = [], [], []
        for k, (label, flat) in enumerate(found.objects):
            if not self.config.labels[label].evaluate:
                dropped["polygon of a label with evaluate: false (void)"] += 1
                continue
            if len(flat) < 6:
                dropped["polygon with fewer than 3 points"] += 1
                continue
            try:
                rle = cocopoly.rasterize([flat], image.height, image.width)
            except ValueError as exc:
                raise SegtoolError(f"image {image.id}, object {k}: {exc}", self.path) from None
            rle = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            if not cocomask.rle_areas([rle])[0]:
                dropped["polygon with no pixels (collinear points)"] += 1
                continue
            rles.append(rle)
            ids.append(k + 1)
            classes.append(label)
        segs = Segments.build(id=ids, category_id=classes)
        if rles:
            segs = segs.replace(area=cocomask.rle_areas(rles).astype(np.float64), bbox=cocomask.rle_boxes(rles))
        return Annotation(image, segs, rles=tuple(rles), origin=self.path, dropped=dropped or None)


def _image(entry: Entry, reading: str, config: Config) -> ImageInfo:
    """The image record: its size from the PNG's header (the photo's, or the polygons
    file's when there is no PNG), its file name the photo's."""
    png = entry.instances if reading == INSTANCES else entry.labels
    if png is None and reading == "polygons":
        png = entry.labels or entry.instances
    if png is not None:
        width, height = png_size(png)
    elif entry.photo is not None:
        width, height = photo_size(entry.photo)
    else:
        assert entry.polygons is not None
        found = parse_polygons(entry.polygons, config, STRICT, entry.stem)
        assert found is not None
        width, height = found.width, found.height
    name = Path(entry.photo).name if entry.photo else f"{entry.stem}.jpg"
    return ImageInfo(entry.stem, name, height, width, photo=entry.photo or "")


def panoptic_json(lay: Layout, folder: Path) -> Path:
    return folder / lay.version / PANOPTIC / PANOPTIC_JSON[lay.version]


def panoptic_segments(ann: dict[str, Any], known: set[int], path: Path, report: Policy = STRICT) -> Segments:
    """A record's ``segments_info`` under coco-panoptic's rules (those ``report`` has left
    out dropped), an empty ``bbox`` (as datumaro writes it) taken as absent: boxes are
    measured from the pixels."""
    info = [
        {k: v for k, v in s.items() if not (k == "bbox" and v == [])} if isinstance(s, dict) else s
        for s in ann["segments_info"]
    ]
    info = segment_records(info, ann["image_id"], str(path), known, report)
    return Segments.build(
        id=[s["id"] for s in info],
        category_id=[s["category_id"] for s in info],
        iscrowd=[bool(s.get("iscrowd", 0)) for s in info],
        area=[s.get("area", 0) for s in info],
        bbox=[s.get("bbox") or [0, 0, 0, 0] for s in info],
    )


def _read_panoptic(lay: Layout, path: Path) -> Dataset:
    """Every split's ``panoptic_20xx.json`` and its PNGs as COCO panoptic (string image
    ids); the splits must list the same categories."""
    cats: tuple[Category, ...] | None = None
    samples: list[Sample] = []
    splits: dict[str, str] = {}
    for split, folder in lay.splits:
        js = panoptic_json(lay, folder)
        if not js.is_file():
            continue
        image_records, category_records = coco_sections(js)
        found = parse_categories(category_records, js, default_isthing=True)
        if cats is not None and found != cats:
            raise SegtoolError(f"split {split} lists other categories than the splits before it", str(js))
        cats, known = found, {c.id for c in found}
        images = {im.id: im for im in parse_images(image_records, js)}
        by_image: dict[Any, PanopticPng] = {}
        for ann in items(js, "annotations.item"):
            record = annotation_record(ann, str(js), STRICT)
            assert record is not None
            iid, name = record
            if iid not in images:
                unknown_image(iid, set(images), js)
            by_image[iid] = PanopticPng(str(js.parent / name), panoptic_segments(ann, known, js))
        for iid, im in images.items():
            if str(iid) in splits:
                raise SegtoolError(f"image {iid} is in split {splits[str(iid)]} and in split {split}", str(js))
            splits[str(iid)] = split
            samples.append(Sample(im, by_image.get(iid, PanopticPng(None, Segments.empty()))))
    if cats is None:
        raise FormatError(f"no {PANOPTIC_JSON[lay.version]} in the splits' {lay.version}/{PANOPTIC}/", str(path))
    info = {"mapillary": {"splits": splits, "version": lay.version, "config": None}}
    return Dataset(cats, tuple(samples), "panoptic", info, str(path))


def reading_of(lay: Layout) -> str:
    """The reading whose folder the path was, else the first the version holds: instances,
    panoptic, labels, polygons."""
    if lay.reading is not None:
        return lay.reading
    for reading in READINGS:
        if any((d / lay.version / reading).is_dir() for _, d in lay.splits):
            return reading
    return LABELS


def count_images(path: Path) -> int | None:
    """How many images validate steps through (a listing of the folders, nothing opened)."""
    lay = layout(path) if path.is_dir() else None
    return None if lay is None else len(find(lay, reading_of(lay), QUIET))


def read(path: Path, *, version: str | None = None, reading: str | None = None, **_: Any) -> Dataset:
    """Read a Vistas tree (or one split, or one version folder of a split); pixels are
    decoded when a sample is loaded. ``version``: ``v1.2`` or ``v2.0``; ``reading``:
    ``instances``, ``labels`` or ``polygons`` (default: the first the version holds)."""
    lay = layout(path, version) if path.is_dir() else None
    if lay is None:
        raise FormatError("a mapillary dataset is a folder with config_v1.2.json or config_v2.0.json", str(path))
    if reading is not None and reading not in READINGS:
        raise FormatError(f"unknown mapillary reading {reading!r}; one of {', '.join(READINGS)}", str(path))
    reading = reading or reading_of(lay)
    if reading == PANOPTIC:
        return _read_panoptic(lay, path)
    config = read_config(lay.config, STRICT)
    assert config is not None  # the strict policy raises instead
    entries = find(lay, reading, STRICT)
    if not entries:
        raise FormatError(f"no images: no photos and no {lay.version}/{reading}/ files in its splits", str(path))
    samples = []
    seen: dict[str, str] = {}
    for e in entries:
        if e.stem in seen:
            raise SegtoolError(f"image {e.stem} is in split {seen[e.stem]} and in split {e.split}", str(path))
        seen[e.stem] = e.split
        source = MapillaryImage(getattr(e, reading), reading, e.photo, config)
        samples.append(Sample(_image(e, reading, config), source))
    kind: Kind = "panoptic" if reading == INSTANCES else "semantic" if reading == LABELS else "instance"
    info = {"mapillary": {"splits": seen, "version": lay.version, "config": config.path}}
    return Dataset(categories(config), tuple(samples), kind, info, str(path))


Job = tuple[Sample, WriteContext, str, int, str]  # the image, the context, its split, the void label, its name


def _instance_values(res: views.Resolved, ctx: WriteContext, void: int, ann: Annotation) -> tuple[Any, Counter[str]]:
    """The instances PNG's values: a thing's instances numbered 0, 1, ... per label in
    segment order (a crowd too, counted as changed: Vistas has no crowd flag), each stuff
    label ``label * 256``, void ``void * 256``."""
    segs = res.segments
    things = set(ctx.thing_ids.tolist())
    changed: Counter[str] = Counter()
    count: Counter[int] = Counter()
    lut = np.full(len(segs) + 1, void * 256, np.uint16)
    for k, (cat, crowd) in enumerate(zip(segs.category_id.tolist(), segs.iscrowd.tolist(), strict=True)):
        n = count[cat] if cat in things else 0
        if cat in things:
            count[cat] += 1
            if crowd:
                changed["crowd region written as an instance (mapillary has no crowd flag)"] += 1
        elif count[cat]:
            changed["stuff segments of one label merged"] += 1
        else:
            count[cat] = 1
        if n > 255:
            raise SegtoolError(
                f"image {ann.image.id}: more than 256 instances of label {cat} (an instance value has 8 bits)",
                ann.origin or None,
            )
        lut[k + 1] = cat * 256 + n
    return views.paint(res, lut), changed


def _write_image(job: Job) -> ImageResult:
    sample, ctx, split, void, name = job
    ann = sample.load()
    res = views.resolve(ann, ctx.opts.overlap)
    if ctx.kind == "semantic" and ctx.opts.split_things:
        res = views.split_things(res, ctx.thing_ids)
    folder = Path(ctx.folder) / split / VERSION
    palette = [v for c in ctx.names for v in ctx.colors[c]]  # names' order: label ids 0..void - 1
    save_png(views.label_map(res, void), folder / LABELS / name, palette=[*palette, 0, 0, 0])
    result = ImageResult([], len(res.segments), res.dropped)
    if ctx.kind != "semantic" or ctx.opts.split_things:
        values, changed = _instance_values(res, ctx, void, ann)
        save_png(values, folder / INSTANCES / name)
        result.changed.update(changed)
    return noted(result, ann)


def _split(ds: Dataset, image_id: Any) -> str:
    """The split an image came from (a plain folder name), else ``training``."""
    info = ds.info.get("mapillary")
    splits = info.get("splits") if isinstance(info, dict) else None
    split = splits.get(str(image_id)) if isinstance(splits, dict) else None
    if type(split) is str and split not in ("", ".", "..") and "/" not in split and "\\" not in split:
        return split
    return SPLIT


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``config_v2.0.json`` (label id = category id; ids without a category and the
    void label appended last have ``evaluate: false``), ``<split>/v2.0/labels/`` palette
    PNGs coloured by the labels and, unless the dataset is semantic, ``instances/`` 16-bit
    PNGs (label * 256 + instance). Splits are those read from Vistas, else ``training``."""
    ids = [c.id for c in ds.categories]
    if ids and (min(ids) < 0 or max(ids) >= MAX_LABELS - 1):
        raise SegtoolError("mapillary label ids must lie in 0..254 (the void label follows); remap them", str(dst))
    files = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, suffix=".png")
    void = max(ids, default=-1) + 1
    by_id = {c.id: c for c in ds.categories}
    given = category_colors(ds.categories)
    colors = {i: given[i] if i in by_id else (0, 0, 0) for i in range(void)}
    names = {i: by_id[i].name if i in by_id else f"_unused_{i}" for i in range(void)}
    labels: list[dict[str, Any]] = [
        {"name": names[i], "readable": names[i], "color": list(colors[i]), "instances": i in by_id and by_id[i].isthing}
        | {"evaluate": i in by_id}
        for i in range(void)
    ]
    labels.append({**VOID_LABEL, "evaluate": False})
    while labels[-1]["name"] in names.values():  # a category took the void label's name
        labels[-1]["name"] += "_"
    repeated = [n for n, k in Counter(names.values()).items() if k > 1]
    if repeated:  # polygons name their label: Vistas' names are unique
        raise SegtoolError(f"two categories are named {repeated[0]!r:.60}; mapillary label names are unique", str(dst))
    ctx = WriteContext(ds.kind, str(tmp[0]), opts, colors, ds.thing_ids(), names)
    splits = [_split(ds, s.image.id) for s in ds.samples]
    for split in sorted(set(splits)):
        for folder in (LABELS,) + (() if ds.kind == "semantic" and not opts.split_things else (INSTANCES,)):
            (tmp[0] / split / VERSION / folder).mkdir(parents=True)
    dump_json({"labels": labels, "version": VERSION[1:]}, tmp[0] / config_name(VERSION))
    work = ((s, ctx, split, void, n) for s, split, n in zip(ds.samples, splits, files, strict=True))
    return list(run(_write_image, work))


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the Vistas root)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a mapillary destination is a folder, not a .json path", str(dst))
    return [dst]
