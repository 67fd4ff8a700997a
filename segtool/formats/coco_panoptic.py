"""COCO panoptic: ``NAME.json`` plus a sibling folder ``NAME/`` of RGB PNGs (id = R + 256·G + 256²·B).

This is the layout panopticapi and detectron2 expect. ``--masks DIR`` points elsewhere.
Segment ids and colours written are deterministic: the first instance of a category takes
the category colour (as panopticapi's ``IdGenerator`` does), later ones a fixed sequence of
nearby colours, so the same input always gives the same bytes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks, png, views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..pairing import Predictions, Stream
from ..policy import STRICT
from .coco_records import count_images as count_images  # images validate steps through (progress)
from .coco_records import parse_categories, parse_images, unknown_image
from .common import Detection, ImageResult, noted, save_png, stream_coco_json
from .jsonstream import NOT_JSON, coco_sections, items, json_sketch, section, sketch
from .options import WriteContext, WriteOptions, resolve_for_write
from .panoptic_rules import annotation_record, pixel_ids, repeated_annotation, segment_count, segment_records

NAME = "coco-panoptic"
SCORED_BY = ("panoptic", "instance")  # the evaluations that take its predictions
CHECKS = "coco_panoptic_checks"  # its checks (validate) and fixes (--fix), next to it
FIXES = "coco_panoptic_fix"
_OFFSETS = np.random.default_rng(20181231).integers(-30, 31, size=(4096, 3))


def masks_dir(json_path: Path, masks: Path | None = None) -> Path:
    """The PNG folder of a panoptic JSON: ``--masks`` or the sibling folder named by its stem."""
    return masks if masks is not None else json_path.with_suffix("")


def detect(path: Path) -> Detection:
    """Strong when the JSON's annotations carry ``segments_info``."""
    data, why = json_sketch(path)
    if data is NOT_JSON:
        return Detection("no", why)
    if not isinstance(data, dict) or "annotations" not in data:
        return Detection("no", "no 'annotations' list")
    anns = data["annotations"]
    if isinstance(anns, list) and anns and isinstance(anns[0], dict) and "segments_info" in anns[0]:
        return Detection("strong", "annotations carry segments_info")
    if isinstance(anns, list) and not anns and masks_dir(path).is_dir():
        return Detection("weak", f"no annotations, but a PNG folder {masks_dir(path).name}/ is beside it")
    return Detection("no", "annotations carry no segments_info")


@dataclass(frozen=True, slots=True)
class PanopticPng:
    """Pixels of one image: a COCO panoptic PNG and the segments ``segments_info`` lists."""

    png: str | None
    segments: Segments

    def rgb(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """The PNG's ``(H, W, 3)`` RGB pixels, checked for size and mode; ``None`` for an
        image with no annotation record (all void)."""
        if self.png is None:
            return None
        return png.read_rgb(self.png, image.width, image.height, f"image {image.id}", STRICT)

    def load(self, image: ImageInfo) -> Annotation:
        """Decode the PNG to runs of segment indices; its ids and ``segments_info`` must agree."""
        rgb = self.rgb(image)
        if rgb is None:
            return Annotation(image, self.segments, id_map=np.zeros((image.height, image.width), np.int32))
        runs, unknown = masks.Runs.of_ids(png.rgb_to_u32(rgb), self.segments.id)
        self.check_ids(image, unknown, runs.areas())
        # segments keep the JSON's area: PQ uses it for ground truth, as panopticapi does;
        # writers measure areas from the pixels
        return Annotation(image, self.segments, origin=str(self.png), runs=runs)

    def check_ids(self, image: ImageInfo, unknown: npt.NDArray[np.int64], area: npt.NDArray[np.int64]) -> None:
        """The PNG's ids and ``segments_info`` must agree: no unlisted id in the pixels
        (``unknown``), no listed segment without pixels (``area`` per segment)."""
        _check_ids(self.segments, image, unknown, area, str(self.png))


def _check_ids(
    segments: Segments, image: ImageInfo, unknown: npt.NDArray[np.int64], area: npt.NDArray[np.int64], origin: str
) -> None:
    pixel_ids(segments.id, unknown, area, image.id, origin, STRICT)


@dataclass(frozen=True, slots=True)
class PanopticRecord:
    """A panoptic PNG whose ``segments_info`` is still the raw JSON record (a dict, or its
    JSON text as the C scan found it: :mod:`.panoptic_scan`), parsed where the image is
    loaded: in a worker, so the one process reading both JSONs stays light (and a raw record
    pickles in a third of the time of its segment table, its text faster still). Its
    categories are not checked here: PQ checks them against its own category table.
    """

    png: str
    record: dict[str, Any] | bytes
    path: str
    max_segments: int  # limits.segments, read once where the records are streamed

    def resolve(self, categories: frozenset[int] | None = None) -> PanopticPng:
        """The parsed source, its categories checked against ``categories`` when given
        (errors name the JSON)."""
        record = json.loads(self.record) if isinstance(self.record, bytes) else self.record
        return PanopticPng(self.png, _segments(record, categories, Path(self.path), self.max_segments))

    def load(self, image: ImageInfo) -> Annotation:
        """Parse the record, then load as :meth:`PanopticPng.load`."""
        return self.resolve().load(image)


def _segments(
    ann: dict[str, Any], known: AbstractSet[int] | None, path: Path, max_segments: int | None = None
) -> Segments:
    """The record's ``segments_info`` as a segment table, checked (``known``: the category
    ids allowed; None leaves categories to the caller; ``max_segments``: limits.segments)."""
    info = ann.get("segments_info")
    if not isinstance(info, list):
        raise SegtoolError(f"annotation of image {ann.get('image_id')}: 'segments_info' must be a list", str(path))
    segment_count(len(info), ann.get("image_id"), str(path), STRICT, max_segments)
    info = segment_records(info, ann.get("image_id"), str(path), known, STRICT)
    try:
        return Segments.build(
            id=[s["id"] for s in info],
            category_id=[s["category_id"] for s in info],
            iscrowd=[bool(s.get("iscrowd", 0)) for s in info],
            area=[s.get("area", 0) for s in info],
            bbox=[s.get("bbox") or [0, 0, 0, 0] for s in info],
            score=[s["score"] for s in info] if info and all("score" in s for s in info) else None,
        )
    except (TypeError, ValueError, OverflowError) as exc:  # a score that is not a number
        raise SegtoolError(f"image {ann.get('image_id')}: malformed segments_info ({exc!r:.100})", str(path)) from None


def read(path: Path, *, masks: Path | None = None, **_: Any) -> Dataset:
    """Read a COCO panoptic JSON; PNGs are opened only when a sample is loaded.

    The annotations are streamed: each becomes its compact segment table as it is parsed,
    so the JSON is never held whole (it is ~10x its file size as Python objects).
    """
    image_records, category_records = coco_sections(path)
    categories = parse_categories(category_records, path, default_isthing=True)
    images = parse_images(image_records, path)
    folder = masks_dir(path, masks)
    known = {c.id for c in categories}
    ids = {im.id for im in images}
    by_image: dict[int | str, PanopticPng] = {}
    for ann in items(path, "annotations.item"):
        iid, name = _record(ann, path)
        if iid not in ids:
            unknown_image(iid, ids, path)
        if iid in by_image:
            repeated_annotation(iid, str(path), STRICT)
        by_image[iid] = PanopticPng(str(folder / name), _segments(ann, known, path))
    empty = PanopticPng(None, Segments.empty())
    samples = tuple(Sample(im, by_image.get(im.id, empty)) for im in images)
    info = {k: v for k in ("info", "licenses") if (v := section(path, k)) is not None}
    return Dataset(categories, samples, "panoptic", info, str(path))


def assign_ids(category_id: npt.NDArray[np.int64], colors: dict[int, tuple[int, int, int]]) -> npt.NDArray[np.int64]:
    """Deterministic, unique, non-zero panoptic ids that look like their category colour.

    Each segment takes the first free id in its category's fixed sequence (the colour, then
    4,096 nearby colours), or past its end the smallest free id. A category's next segment
    resumes where its last one stopped (what lies before is taken, and stays taken), and the
    smallest free id only grows, so 10,000 instances of one category cost 10,000 steps, not
    40 million: the ids are the ones a search from the start of the sequence would give.
    """
    used: set[int] = {0}
    out = np.zeros(len(category_id), dtype=np.int64)
    resume: dict[int, int] = {}
    free = 1
    for k, cid in enumerate(category_id.tolist()):
        r, g, b = colors[cid]
        j, sid = resume.get(cid, 0), r + 256 * g + 65536 * b
        if j == 0 and sid not in used:
            j = 1
        else:
            seq = _sequence((r, g, b))
            j = max(j, 1)
            while j < len(seq) and seq[j] in used:
                j += 1
            if j < len(seq):
                sid, j = seq[j], j + 1
            else:
                while free in used:
                    free += 1
                sid = free
        resume[cid] = j
        used.add(sid)
        out[k] = sid
    return out


@functools.lru_cache(maxsize=512)
def _sequence(color: tuple[int, int, int]) -> list[int]:
    """The ids a category of ``color`` tries in turn: the colour, then each fixed offset from
    it (clipped to 0..255)."""
    rgb = np.clip(np.asarray(color, np.int64) + _OFFSETS, 0, 255)
    return [sum(color[c] << (8 * c) for c in range(3)), *(rgb[:, 0] + 256 * rgb[:, 1] + 65536 * rgb[:, 2]).tolist()]


def _write_image(job: tuple[Sample, WriteContext, str]) -> ImageResult:
    sample, ctx, name = job
    ann = sample.load()
    res = resolve_for_write(ann, ctx)
    segs = res.measured()
    sids = assign_ids(segs.category_id, ctx.colors)
    lut = np.concatenate([[0], sids])
    colours = masks.id2rgb(lut[:, None])[:, 0]  # one RGB row per segment: runs repeat rows, not ids
    target = Path(ctx.folder) / name  # a folder in the name (0002/000001.png): panopticapi joins it too
    target.parent.mkdir(parents=True, exist_ok=True)
    save_png(np.ascontiguousarray(views.paint(res, colours)), target)
    info = [
        {
            "id": int(sids[k]),
            "category_id": int(segs.category_id[k]),
            "iscrowd": int(segs.iscrowd[k]),
            "area": int(segs.area[k]),
            "bbox": [int(v) for v in segs.bbox[k]],
        }
        for k in range(len(segs))
    ]
    record = {"image_id": ann.image.id, "file_name": name, "segments_info": info}
    return noted(ImageResult([record], len(segs), res.dropped), ann)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write PNGs into ``tmp[1]`` and the JSON to ``tmp[0]`` (renamed into place by the caller)."""
    names = output_names([image_path(s.image) for s in ds.samples], str(dst), suffix=".png")
    tmp[1].mkdir()
    ctx = WriteContext.of(ds, str(tmp[1]), opts)
    head = {**ds.info, "images": [s.image.to_dict() for s in ds.samples]}
    tail = {"categories": [_with_color(c, ctx.colors) for c in ds.categories]}
    work = ((s, ctx, name) for s, name in zip(ds.samples, names, strict=True))
    return stream_coco_json(tmp[0], head, "annotations", run(_write_image, work), tail)


def _with_color(c: Category, colors: dict[int, tuple[int, int, int]]) -> dict[str, Any]:
    rec = c.to_dict()
    rec["color"] = list(colors[c.id])
    return rec


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The paths a write creates: the JSON and its PNG folder."""
    if dst.suffix.lower() != ".json":
        raise SegtoolError("a coco-panoptic destination is a .json path (PNGs go to the sibling folder)", str(dst))
    return [dst, masks_dir(dst, masks)]


def read_predictions(path: Path, gt: Dataset, *, masks: Path | None = None, **_: Any) -> Predictions:
    """Predicted panoptic annotations by image id, their categories checked against the
    ground truth's (pairing checks the images).

    Prediction JSONs often hold only ``annotations`` (detectron2 writes no ``images``):
    images and categories come from the ground truth.
    """
    head = sketch(path)
    if not isinstance(head, dict | list):
        raise FormatError(f"expected a JSON object at the top level, got a {type(head).__name__}", str(path))
    if isinstance(head, dict) and not isinstance(head.get("annotations"), list):
        raise FormatError("expected an 'annotations' list", str(path))
    known = {c.id for c in gt.categories}
    folder = masks_dir(path, masks)
    out: dict[int | str, Any] = {}
    for ann in items(path, "item" if isinstance(head, list) else "annotations.item"):
        iid, name = _record(ann, path)
        if iid in out:
            raise SegtoolError(
                f"image id {iid} has several prediction records; which one counts is ambiguous", str(path)
            )
        out[iid] = PanopticPng(str(folder / name), _segments(ann, known, path))
    return Predictions(out, "id", str(path))


def stream(path: Path, *, masks: Path | None = None, **_: Any) -> Stream:
    """The ground truth one image at a time (see :mod:`.panoptic_stream`)."""
    from .panoptic_stream import stream as stream_gt

    return stream_gt(path, masks=masks)


def stream_predictions(path: Path, *, masks: Path | None = None, **_: Any) -> Stream:
    """Predictions one image at a time (see :mod:`.panoptic_stream`)."""
    from .panoptic_stream import stream_predictions as stream_pred

    return stream_pred(path, masks=masks)


def accepts(predictions: Any) -> bool:
    """In-memory panoptic predictions: a mapping of image id to (id map, segments_info)."""
    return isinstance(predictions, Mapping)


def from_memory(predictions: Mapping[Any, Any], gt: Dataset | tuple[Category, ...], **_: Any) -> Predictions:
    """In-memory predictions as sources (see :mod:`.panoptic_memory`)."""
    from .panoptic_memory import from_memory as of_memory

    return of_memory(predictions, gt)


def _record(ann: Any, path: Path | str, max_segments: int | None = None) -> tuple[int | str, str]:
    """An annotation record's image id and PNG file name (:func:`.panoptic_rules.annotation_record`)."""
    found = annotation_record(ann, str(path), STRICT, max_segments)
    assert found is not None  # the strict policy raises instead
    return found
