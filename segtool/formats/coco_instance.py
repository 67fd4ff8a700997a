"""COCO instance (detection) JSON: polygons, uncompressed or compressed RLE, ``iscrowd``.

Masks are decoded only when a sample is loaded. Instance → instance keeps each annotation's
``area`` and ``bbox`` as the source gives them (COCOeval's area ranges read them, and for
polygons they are the geometric area, not a pixel count); masks that come from pixels
(panoptic, semantic) get their pixel area and extent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import limits, masks
from ..errors import SegtoolError
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from .common import (
    Detection,
    ImageResult,
    compressed_rle,
    int_field,
    limit,
    load_json,
    parse_categories,
    parse_images,
    require_dict,
    stream_coco_json,
)
from .jsonstream import sketch
from .options import Job, WriteContext, WriteOptions, jobs, resolve_for_write

NAME = "coco-instance"
CHECKS = "coco_instance_checks"  # its checks (validate) and fixes (--fix), next to it
FIXES = "coco_instance_fix"
POLYGON_FAILED = "written as RLE: a polygon cannot carry the mask (it has a hole)"


def detect(path: Path) -> Detection:
    """Strong when the JSON's annotations carry ``segmentation`` or ``bbox``."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return Detection("no", "not a .json file")
    try:
        data = sketch(path)
    except SegtoolError as exc:
        return Detection("no", exc.message)
    if isinstance(data, list):
        return Detection("no", "a results list, not a dataset (it has no images or categories)")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        return Detection("no", "no 'annotations' list")
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
    """Pixels of one image: the raw ``segmentation`` objects of its annotations."""

    decodes_pixels: ClassVar[bool] = False  # RLE strings and polygons only: light per-image work

    raw: tuple[Any, ...]
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
        for aid, segm in zip(ids, self.raw, strict=True):
            try:
                rles.append(compressed_rle(segm, image.height, image.width))
            except ValueError as exc:
                raise SegtoolError(f"image {image.id}, annotation {aid}: {exc}", self.path) from None
        bad = masks.check_compressed(rles)
        if bad is not None:
            raise SegtoolError(f"image {image.id}, annotation {ids[bad]}: undecodable compressed RLE", self.path)
        return Annotation(image, self.segments, rles=tuple(rles), raw=self.raw, origin=self.path)


def _bbox(a: dict[str, Any]) -> list[float]:
    box = a.get("bbox")
    return [float(v) for v in box] if isinstance(box, list) and len(box) == 4 else [0.0, 0.0, 0.0, 0.0]


def _group(anns: Any, image_ids: set[int], known: set[int], path: Path) -> dict[int, list[dict[str, Any]]]:
    """Annotations by image id; each names a listed image and a known category by integer."""
    if not isinstance(anns, list):
        raise SegtoolError("'annotations' must be a list", str(path))
    by_image: dict[int, list[dict[str, Any]]] = {}
    for i, a in enumerate(anns):
        # the common case in one expression (this runs once per annotation)
        iid = a.get("image_id") if type(a) is dict else None
        cid = a.get("category_id") if type(a) is dict else None
        if not (type(iid) is int and iid in image_ids and type(cid) is int and cid in known):
            iid = _checked(i, a, image_ids, known, path)
        by_image.setdefault(iid, []).append(a)
    return by_image


def _checked(i: int, a: Any, image_ids: set[int], known: set[int], path: Path) -> int:
    """The image id of an annotation that is not plainly valid, or the one-line error."""
    if not isinstance(a, dict):
        raise SegtoolError(f"annotation #{i} is not an object", str(path))
    aid = a.get("id", i)
    values = []
    for key in ("image_id", "category_id"):
        if key not in a:
            raise SegtoolError(f"annotation {aid!r:.40}: missing {key!r}", str(path))
        values.append(int_field(a, key, f"annotation {aid!r:.40}", path))
    if values[0] not in image_ids:
        raise SegtoolError(f"annotation {aid!r:.40}: unknown image id {values[0]}", str(path))
    if values[1] not in known:
        raise SegtoolError(f"annotation {aid!r:.40}: unknown category id {values[1]}", str(path))
    return values[0]


def read(path: Path, **_: Any) -> Dataset:
    """Read a COCO instance JSON; masks are decoded when a sample is loaded."""
    return read_data(load_json(path), path)


def read_data(data: Any, path: Path) -> Dataset:
    """Build the dataset of parsed COCO instance JSON ``data`` (errors name ``path``)."""
    data = require_dict(data, path, ("images", "annotations", "categories"))
    categories = parse_categories(data["categories"], path, default_isthing=True)
    images = parse_images(data["images"], path)
    by_image = _group(data["annotations"], {im.id for im in images}, {c.id for c in categories}, path)
    max_segments = limit("segments")
    samples = []
    for im in images:
        anns = by_image.get(im.id, [])
        if len(anns) > max_segments:
            limits.check("segments", len(anns), f"image {im.id}: annotations", path)
        samples.append(
            Sample(im, CocoMasks(tuple(a.get("segmentation", []) for a in anns), _table(im, anns, path), str(path)))
        )
    info = {k: data[k] for k in ("info", "licenses") if k in data}
    return Dataset(categories, tuple(samples), "instance", info, str(path))


def _table(im: ImageInfo, anns: list[dict[str, Any]], path: Path) -> Segments:
    """The segment table of one image's annotations: 64-bit integer ids, finite areas, boxes
    and scores (NaN or 1e308 here would reach area ranges, IoUs and written JSON)."""
    ids = [a.get("id", 0) for a in anns]
    if not all(type(v) is int for v in ids):
        ids = [
            int_field(a, "id", f"image {im.id}: annotation #{k}", path) if "id" in a else 0 for k, a in enumerate(anns)
        ]
    has_score = bool(anns) and all("score" in a for a in anns)
    try:
        segs = Segments.build(
            id=ids,
            category_id=[a["category_id"] for a in anns],
            iscrowd=[bool(a.get("iscrowd", 0)) for a in anns],
            area=[float(a.get("area", 0)) for a in anns],
            bbox=[_bbox(a) for a in anns],
            score=[a["score"] for a in anns] if has_score else None,
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise SegtoolError(f"image {im.id}: malformed annotation ({exc})", str(path)) from None
    for name, column in (("area", segs.area), ("bbox", segs.bbox), ("score", segs.score)):
        if column is not None and not np.isfinite(column).all():
            k = int(np.flatnonzero(~np.isfinite(column.reshape(len(anns), -1)).all(axis=1))[0])
            raise SegtoolError(
                f"image {im.id}: annotation {ids[k]}: {name!r} must be finite numbers, got {anns[k].get(name)!r:.60}",
                str(path),
            )
    return segs


def _masks_of(
    ann: Annotation, ctx: WriteContext
) -> tuple[Segments, tuple[Any, ...], tuple[Any, ...] | None, Counter[str]]:
    """Segments, compressed RLEs and raw polygons (if any) to write for one image."""
    if ann.rles is not None:
        return ann.segments, ann.rles, ann.raw, Counter()
    res = resolve_for_write(ann, ctx)
    return res.measured(), tuple(res.runs().rles()), None, res.dropped


def _segmentation(
    k: int, segs: Segments, rles: tuple[Any, ...], raw: tuple[Any, ...] | None, changed: Counter[str], encoding: str
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
    return out


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
