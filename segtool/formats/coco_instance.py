"""COCO instance (detection) JSON: polygons, uncompressed or compressed RLE, ``iscrowd``.

Masks are decoded only when a sample is loaded. Instance → instance keeps each annotation's
``area`` and ``bbox`` as the source gives them (COCOeval's area ranges read them, and for
polygons they are the geometric area, not a pixel count); masks that come from pixels
(panoptic, semantic) get their pixel area and extent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import masks
from ..cocomask import counts_areas
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from . import coco_gt_scan
from .coco_records import count_images as count_images  # images validate steps through (progress)
from .coco_records import parse_categories, parse_images
from .coco_tables import JSON, InstanceRows, decode
from .common import (
    Detection,
    ImageResult,
    compressed_rle,
    load_json,
    noted,
    require_dict,
    stream_coco_json,
)
from .jsonfile import Layout
from .jsonstream import NOT_JSON, items, json_sketch, layout
from .options import Job, WriteContext, WriteOptions, jobs, resolve_for_write

NAME = "coco-instance"
OVERLAPS = True  # instances may overlap: no painting order is needed to write them
CHECKS = "coco_instance_checks"  # its checks (validate) and fixes (--fix), next to it
FIXES = "coco_instance_fix"
POLYGON_FAILED = "written as RLE: a polygon cannot carry the mask (it has a hole)"


def detect(path: Path) -> Detection:
    """Strong when the JSON's annotations carry ``segmentation`` or ``bbox``."""
    data, why = json_sketch(path)
    if data is NOT_JSON:
        return Detection("no", why)
    if isinstance(data, list):
        return Detection("no", "a results list, not a dataset (it has no images or categories)")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        return Detection("no", "no 'annotations' list")
    if "images" not in data:  # an SA-1B file, say, names its one image under 'image'
        return Detection("no", "no 'images' list")
    anns = data["annotations"]
    if (
        anns
        and isinstance(anns[0], dict)
        and "segments_info" not in anns[0]
        and ("segmentation" in anns[0] or "bbox" in anns[0])
    ):
        return Detection("strong", "annotations carry segmentation/bbox")
    if not anns and "images" in data:
        return Detection("weak", "an empty annotations list")
    return Detection("no", "annotations carry no segmentation")


@dataclass(frozen=True, slots=True)
class CocoMasks:
    """Pixels of one image: the ``segmentation`` objects of its annotations, packed as text
    (:func:`.coco_tables.pack`: a compressed RLE is its counts string, anything else its
    JSON), a tenth of their size as parsed objects."""

    decodes_pixels: ClassVar[bool] = False  # RLE strings and polygons only: light per-image work

    text: str
    segments: Segments
    path: str

    def load(self, image: ImageInfo) -> Annotation:
        """Convert each segmentation to a compressed RLE, checking it against the image size."""
        rles = []
        ids = self.segments.id.tolist()
        try:
            masks.check_size(image.height, image.width)
        except ValueError as exc:
            raise SegtoolError(f"image {image.id}: {exc}", self.path) from None
        if ids and JSON not in self.text:  # every line an RLE's counts, of the image's size
            counts = self.text.split("\n")
            size = [image.height, image.width]
            given = tuple({"size": size, "counts": c} for c in counts)
            bad = counts_areas(counts, image.height, image.width)[0]
            if bad is not None:
                raise SegtoolError(f"image {image.id}, annotation {ids[bad]}: undecodable compressed RLE", self.path)
            return Annotation(image, self.segments, rles=given, raw=given, origin=self.path)
        found = decode(self.text, len(ids), image.height, image.width)
        for aid, (segm, ready) in zip(ids, found, strict=True):
            if ready:
                rles.append(segm)
                continue
            try:
                rles.append(compressed_rle(segm, image.height, image.width))
            except ValueError as exc:
                raise SegtoolError(f"image {image.id}, annotation {aid}: {exc}", self.path) from None
        raw = tuple(segm for segm, _ in found)
        bad = masks.check_compressed(rles)
        if bad is not None:
            raise SegtoolError(f"image {image.id}, annotation {ids[bad]}: undecodable compressed RLE", self.path)
        return Annotation(image, self.segments, rles=tuple(rles), raw=raw, origin=self.path)


def read(path: Path, **_: Any) -> Dataset:
    """Read a COCO instance JSON; masks are decoded when a sample is loaded.

    The annotations are streamed into compact per-image tables (:mod:`.coco_tables`), so
    the JSON is never held whole. A file in another encoding than UTF-8 (which the stream
    does not read) is parsed whole, as the json module reads it.
    """
    found = layout(path)
    if found.encoding != "utf-8":
        return read_data(load_json(path), path)
    found.checked()
    if found.kind != "object":
        got = "list" if found.kind == "array" else type(found.sketch).__name__
        raise FormatError(f"expected a JSON object at the top level, got a {got}", str(path))
    missing = [k for k in ("images", "annotations", "categories") if k not in found.keys]
    if missing:
        raise FormatError(f"missing top-level key(s) {', '.join(missing)}", str(path))
    info: dict[str, Any] = {k: found.section(k) for k in ("info", "licenses") if k in found.keys}
    is_list = found.keys["annotations"] == b"["
    return _dataset(
        path, found.section("categories"), found.section("images"), is_list, _stream(path), info, False, found
    )


def _stream(path: Path) -> Callable[[], Iterator[Any]]:
    return lambda: items(path, "annotations.item")


def read_data(data: Any, path: Path) -> Dataset:
    """Build the dataset of parsed COCO instance JSON ``data`` (errors name ``path``)."""
    data = require_dict(data, path, ("images", "annotations", "categories"))
    info = {k: data[k] for k in ("info", "licenses") if k in data}
    anns = data["annotations"]
    return _dataset(path, data["categories"], data["images"], isinstance(anns, list), lambda: iter(anns), info, True)


def _dataset(
    path: Path,
    category_records: Any,
    image_records: Any,
    is_list: bool,
    annotations: Callable[[], Iterator[Any]],
    info: dict[str, Any],
    wide: bool,
    found: Layout | None = None,
) -> Dataset:
    """Categories, images, then the annotations into per-image tables (see :mod:`.coco_tables`;
    ``wide``: parsed by the json module, whose integers may exceed 64 bits). With the file's
    layout (``found``), the C scan reads them when it can (:mod:`.coco_gt_scan`), else the parser."""
    categories = parse_categories(category_records, path, default_isthing=True)
    images = parse_images(image_records, path)
    if not is_list:
        raise SegtoolError("'annotations' must be a list", str(path))
    known = {c.id for c in categories}
    rows = InstanceRows(images, known, path)
    if found is None or not coco_gt_scan.scanned(path, found, rows):
        rows = InstanceRows(images, known, path)  # what the scan added, if anything, dropped
        rows.add_all(annotations(), wide=wide)
    where = str(path)
    samples = tuple(
        Sample(im, CocoMasks(text, segs, where)) for im, (segs, text) in zip(images, rows.tables(), strict=True)
    )
    return Dataset(categories, samples, "instance", info, where)


def _masks_of(
    ann: Annotation, ctx: WriteContext
) -> tuple[Segments, tuple[Any, ...], Sequence[Any] | None, Counter[str]]:
    """Segments, compressed RLEs and raw polygons (if any) to write for one image."""
    if ann.rles is not None:
        return ann.segments, ann.rles, ann.raw, Counter()
    res = resolve_for_write(ann, ctx)
    return res.measured(), tuple(res.runs().rles()), None, res.dropped


def _segmentation(
    k: int, segs: Segments, rles: tuple[Any, ...], raw: Sequence[Any] | None, changed: Counter[str], encoding: str
) -> Any:
    if encoding == "rle" or segs.iscrowd[k]:
        return rles[k]
    if raw is not None and isinstance(raw[k], list) and raw[k]:
        return raw[k]  # already polygons: keep them exactly
    mask = masks.decode([rles[k]], *rles[k]["size"])[:, :, 0]
    poly = masks.polygons(np.ascontiguousarray(mask)) if mask.any() else None
    if poly is None:
        changed[POLYGON_FAILED] += 1
        return rles[k]
    return poly


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    segs, rles, raw, dropped = _masks_of(ann, ctx)
    if ctx.opts.things_only:
        thing = np.isin(segs.category_id, ctx.thing_ids)
        dropped["stuff segment (--things-only)"] += int(np.sum(~thing))
        segs, rles = segs[thing], tuple(r for r, t in zip(rles, thing, strict=True) if t)
        raw = None if raw is None else tuple(r for r, t in zip(raw, thing, strict=True) if t)
    out = ImageResult(dropped=+dropped)
    for k in range(len(segs)):
        rec: dict[str, Any] = {
            "id": int(segs.id[k]),
            "image_id": ann.image.id,
            "category_id": int(segs.category_id[k]),
            "segmentation": _segmentation(k, segs, rles, raw, out.changed, ctx.opts.mask_encoding),
            "area": _number(segs.area[k]),
            "bbox": [_number(v) for v in segs.bbox[k]],
            "iscrowd": int(segs.iscrowd[k]),
        }
        if segs.score is not None:
            rec["score"] = float(segs.score[k])
        out.records.append(rec)
    out.segments = len(segs)
    return noted(out, ann)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write one JSON to ``tmp[0]``; annotation ids are kept from an instance source when
    unique across the dataset, otherwise numbered 1..N in image order."""
    ctx = WriteContext.of(ds, "", opts)
    source_ids = [i for s in ds.samples for i in getattr(s.source, "segments", Segments.empty()).id.tolist()]
    renumber = ds.kind != "instance" or len(set(source_ids)) != len(source_ids)
    head = {**ds.info, "images": [s.image.to_dict() for s in ds.samples]}
    tail = {"categories": [c.to_dict() for c in ds.categories]}
    results = stream_coco_json(tmp[0], head, "annotations", _numbered(run(_write_image, jobs(ds, ctx)), renumber), tail)
    if renumber and ds.kind == "instance" and results:
        results[0].changed["annotation ids renumbered (duplicates in the source)"] += len(source_ids)
    return results


def _numbered(results: Iterable[ImageResult], renumber: bool) -> Iterator[ImageResult]:
    """Annotation ids 1..N in image order when the source's ids cannot be kept."""
    next_id = 1
    for r in results:
        if renumber:
            for rec in r.records:
                rec["id"] = next_id
                next_id += 1
        yield r


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one JSON file a write creates."""
    if dst.suffix.lower() != ".json":
        raise SegtoolError("a coco-instance destination is a .json path", str(dst))
    return [dst]
