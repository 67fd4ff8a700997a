"""Semantic label maps: a folder of single-channel PNGs, one per image, plus ``categories.json``.

A pixel's value is its category id; ``ignore_value`` (default 255) marks void. PNGs may be
grayscale (L), palette (P: the index is the label, the colours are ignored) or 16-bit.
``images.json`` (COCO ``images`` records), written beside them by segtool, keeps image ids
and file names; without it ids are 1..n in file-name order and sizes come from the PNGs.
Category records without ``isthing`` are stuff: a label map has no instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, limits, png, views
from ..errors import FormatError, SegtoolError
from ..masks import DENSE_VALUES
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from ..pairing import Predictions
from ..policy import STRICT, Policy
from .coco_records import parse_categories, parse_images
from .common import (
    Detection,
    ImageResult,
    check_unique_names,
    dump_json,
    limit,
    load_json,
    save_png,
    stem_name,
)
from .options import Job, WriteContext, WriteOptions, jobs, resolve_for_write

NAME = "semantic"
CHECKS = "semantic_checks"  # its checks (validate); label maps have no --fix
CATEGORIES = "categories.json"
IMAGES = "images.json"
_INT_MODES = {"L": np.uint8, "P": np.uint8, "I;16": np.uint16, "I;16L": np.uint16, "I;16B": np.uint16, "I": np.int32}


def detect(path: Path) -> Detection:
    """Strong for a folder of PNGs with ``categories.json``; weak for PNGs alone."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    if not any(path.glob("*.png")):
        return Detection("no", "no .png files in the folder")
    if (path / CATEGORIES).is_file():
        return Detection("strong", f"PNG label maps with {CATEGORIES}")
    return Detection("weak", f"PNGs but no {CATEGORIES} (pass --categories)")


def read_labels(
    path: str, size: tuple[int, int] | None, what: str, report: Policy, image_id: Any = None, *, fast_only: bool = False
) -> npt.NDArray[Any] | None:
    """The label map at ``path`` as stored (uint8, uint16 or int32 values), checked to be
    ``size`` (width, height) when given and single-channel; or None after ``report`` was
    told why not (and returned). With ``fast_only``, None (no report) for what segtool's
    decoder does not take (not an 8-bit L or P PNG): mIoU's 8-bit path then falls back.

    The one sequence behind the reader and validate's checks, each with its error policy
    (:mod:`segtool.policy`). 8-bit L and P PNGs go through segtool's decoder (~5x faster
    than Pillow); 16-bit, interlaced and other files through Pillow.
    """
    try:
        data = imageio.read_bytes(path)
    except FileNotFoundError:
        report("png-missing", f"missing PNG for {what}", path, image_id)
        return None
    except OSError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc.strerror or exc})", path, image_id)
        return None
    try:
        width, height, mode = png.header(data)
    except ValueError:
        width = height = 0
        mode = ""
    if mode not in ("L", "P"):
        return None if fast_only else _pillow_labels(data, path, size, what, report, image_id)
    if size is not None and (width, height) != size:
        report("png-size", f"PNG is {width}x{height} but {what} is {size[0]}x{size[1]}", path, image_id)
        return None
    try:
        labels = png.decode(data)
    except ValueError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
    if labels is None:  # interlaced
        return None if fast_only else _pillow_labels(data, path, size, what, report, image_id)
    return labels


def _pillow_labels(
    data: bytes, path: str, size: tuple[int, int] | None, what: str, report: Policy, image_id: Any
) -> npt.NDArray[Any] | None:
    """:func:`read_labels` for what Pillow reads: 16-bit, interlaced, not a PNG at all."""
    try:
        with imageio.open_bytes(data, path) as img:
            if size is not None and img.size != size:
                msg = f"PNG is {img.size[0]}x{img.size[1]} but {what} is {size[0]}x{size[1]}"
                report("png-size", msg, path, image_id)
                return None
            if img.mode not in _INT_MODES:
                kind = "non-integer" if img.mode == "F" else "multi-channel"
                msg = f"{what}: {kind} label map (mode {img.mode}); expected L, P, I;16 or I"
                report("label-mode", msg, path, image_id)
                return None
            return np.asarray(img)
    except SegtoolError as exc:  # a limit
        report("png-unreadable", f"unreadable PNG for {what} ({exc.message})", path, image_id)
        return None
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        why = str(exc) or type(exc).__name__
        report("png-unreadable", f"unreadable PNG for {what} ({why})", path, image_id)
        return None


@dataclass(frozen=True, slots=True)
class LabelPng:
    """Pixels of one image: a label PNG whose values are category ids."""

    png: str
    ignore_value: int
    known: tuple[int, ...]

    def labels(self, image: ImageInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The checked label map and the values present in it (sorted).

        Errors name the file: unreadable, wrong size, not single-channel, negative values,
        values that are neither a category nor the ignore value.
        """
        found = read_labels(self.png, (image.width, image.height), f"image {image.id}", STRICT)
        labels: npt.NDArray[np.int64] = np.asarray(found).astype(np.int64, copy=False)
        if labels.min(initial=0) < 0:
            raise SegtoolError(f"image {image.id}: negative label values", self.png)
        present = _present(labels)
        self.check_present(image, present)
        return labels, present

    def pixels8(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """The raw 8-bit label map, size checked, when segtool's decoder takes the file (L or
        P); None otherwise. Values are not checked: see :meth:`check_values`."""
        return read_labels(self.png, (image.width, image.height), f"image {image.id}", STRICT, fast_only=True)

    def check_values(self, image: ImageInfo, counts: npt.NDArray[np.int64]) -> None:
        """Every value with pixels (``counts[v]`` > 0) must be a category or the ignore value."""
        self.check_present(image, np.flatnonzero(counts))

    def check_present(self, image: ImageInfo, present: npt.NDArray[np.int64]) -> None:
        """Every value of ``present`` must be a category or the ignore value."""
        unknown = np.setdiff1d(present[present != self.ignore_value], np.asarray(self.known, dtype=np.int64))
        if unknown.size:
            listed = ", ".join(map(str, unknown[:8].tolist()))
            raise SegtoolError(
                f"image {image.id}: label values {listed} are not categories (ignore value is {self.ignore_value})",
                str(self.png),
            )

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per category present (ids 1..k in category order); ignore → void."""
        labels, present = self.labels(image)
        present = present[present != self.ignore_value]
        top = int(labels.max(initial=0))
        if top < DENSE_VALUES:
            lut = np.zeros(top + 1, dtype=np.int32)
            lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
            index = lut[labels]
        else:  # a 32-bit map with large values: no table indexed by value
            k = np.minimum(np.searchsorted(present, labels), max(len(present) - 1, 0))
            hit = present[k] == labels if present.size else np.zeros(labels.shape, bool)
            index = np.where(hit, k + 1, 0).astype(np.int32)
        segs = Segments.build(id=np.arange(1, len(present) + 1), category_id=present)
        return Annotation(image, views.measure(index, segs), id_map=index, origin=self.png)


def _present(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The sorted values of a non-negative label map: one ``bincount`` when they are small
    (8- and 16-bit maps), a sort when a 32-bit map holds large ones (a count per value up
    to 2^31 would take 16 GB)."""
    if int(labels.max(initial=0)) < DENSE_VALUES:
        return np.flatnonzero(np.bincount(labels.ravel()))
    return np.unique(labels)


def _categories_path(path: Path, categories: Path | None) -> Path:
    found = categories or path / CATEGORIES
    if not found.is_file():
        raise FormatError(f"no {CATEGORIES} in the folder; pass --categories FILE", str(path))
    return found


def _images(path: Path, pngs: list[Path]) -> list[ImageInfo]:
    if (path / IMAGES).is_file():
        data = load_json(path / IMAGES)
        records = parse_images(data.get("images") if isinstance(data, dict) else data, path / IMAGES)
        by_stem = {Path(im.file_name).stem: im for im in records}
        missing = [p.name for p in pngs if p.stem not in by_stem]
        if missing:
            raise SegtoolError(f"label map {missing[0]} has no record in {IMAGES}", str(path))
        return [by_stem[p.stem] for p in pngs]
    out = []
    for i, p in enumerate(pngs, start=1):
        try:
            with imageio.open_image(p) as img:
                w, h = img.size
        except OSError as exc:
            raise SegtoolError(f"unreadable PNG ({exc})", str(p)) from None
        if h * w > limit("pixels"):
            limits.check("pixels", h * w, f"label map of {w}x{h}", p)
        out.append(ImageInfo(i, p.name, h, w))
    return out


def read(path: Path, *, categories: Path | None = None, ignore_value: int = 255, **_: Any) -> Dataset:
    """Read a folder of label PNGs; pixels are decoded when a sample is loaded."""
    if not path.is_dir():
        raise FormatError("a semantic dataset is a folder of label PNGs", str(path))
    cat_path = _categories_path(path, categories)
    data = load_json(cat_path)
    records = data["categories"] if isinstance(data, dict) and "categories" in data else data
    cats = parse_categories(records, cat_path, default_isthing=False)
    if any(c.id == ignore_value for c in cats):
        raise SegtoolError(
            f"category id {ignore_value} equals the ignore value; pass another --ignore-value", str(cat_path)
        )
    pngs = sorted(path.glob("*.png"))
    images = _images(path, pngs)
    known = tuple(sorted(c.id for c in cats))
    samples = tuple(Sample(im, LabelPng(str(p), ignore_value, known)) for im, p in zip(images, pngs, strict=True))
    return Dataset(cats, samples, "semantic", {}, str(path))


def _palette(ctx: WriteContext) -> list[int]:
    pal = np.zeros((256, 3), dtype=np.uint8)
    for cid, color in ctx.colors.items():
        if 0 <= cid < 256:
            pal[cid] = color
    if 0 <= ctx.opts.ignore_value < 256:
        pal[ctx.opts.ignore_value] = (224, 224, 192)  # the VOC colour of void
    return pal.ravel().tolist()


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    res = resolve_for_write(ann, ctx)
    wide = ctx.opts.ignore_value > 255 or (len(ctx.colors) and max(ctx.colors) > 255)
    labels = views.label_map(res, ctx.opts.ignore_value, np.uint16 if wide else np.uint8)
    name = stem_name(ann.image.file_name)
    path = Path(ctx.folder) / name
    if wide:
        save_png(labels, path)
    elif ctx.opts.palette:
        save_png(labels, path, palette=_palette(ctx))
    else:
        save_png(labels, path)
    return ImageResult([], len(res.segments), res.dropped)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write label PNGs, ``categories.json`` and ``images.json`` into the folder ``tmp[0]``."""
    ids = [c.id for c in ds.categories]
    if opts.ignore_value in ids:
        raise SegtoolError(
            f"category id {opts.ignore_value} equals the ignore value; pass another --ignore-value", str(dst)
        )
    if ids and (min(ids) < 0 or max(ids) > 65535):
        raise SegtoolError("category ids must lie in 0..65535 for label PNGs", str(dst))
    names = [stem_name(s.image.file_name) for s in ds.samples]
    check_unique_names(names, str(dst))
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    results = list(run(_write_image, jobs(ds, ctx)))
    cats = [c.to_dict() | {"color": list(ctx.colors[c.id])} for c in ds.categories]
    dump_json(cats, tmp[0] / CATEGORIES)
    images = [s.image.to_dict() | {"file_name": s.image.file_name} for s in ds.samples]
    dump_json({"images": images}, tmp[0] / IMAGES)
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a semantic destination is a folder, not a .json path", str(dst))
    return [dst]


def read_predictions(path: Path, gt: Dataset, *, ignore_value: int = 255, **_: Any) -> Predictions:
    """Predicted label maps keyed by file stem (the pairing matches them to the ground
    truth's images). The folder may omit ``categories.json``: labels are checked against
    the ground truth's categories."""
    if not path.is_dir():
        raise FormatError("semantic predictions are a folder of label PNGs", str(path))
    known = tuple(sorted(c.id for c in gt.categories))
    sources = {p.stem: LabelPng(str(p), ignore_value, known) for p in sorted(path.glob("*.png"))}
    return Predictions(sources, "stem", str(path))
