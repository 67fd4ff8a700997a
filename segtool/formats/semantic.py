"""Semantic label maps: a folder of single-channel PNGs, one per image, plus ``categories.json``.

A pixel's value is its category id; ``ignore_value`` (default 255) marks void. PNGs may be
grayscale (L), palette (P: the index is the label, the colours are ignored) or 16-bit.
``images.json`` (COCO ``images`` records), written beside them by segtool, keeps image ids
and file names; without it ids are 1..n in file-name order and sizes come from the PNGs.
Category records without ``isthing`` are stuff: a label map has no instances.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, limits, relabel, views
from ..errors import FormatError, SegtoolError
from ..labelmap import LabelMap
from ..masks import DENSE_VALUES
from ..model import Annotation, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..pairing import Predictions
from ..policy import STRICT
from .coco_records import parse_categories, parse_images
from .common import Detection, ImageResult, dump_json, limit, load_json, noted, save_png
from .label_decoding import Decoding
from .options import WriteContext, WriteOptions, resolve_for_write
from .semantic_rules import histogram, ignore_rule, label_values, read_labels

NAME = "semantic"
CHECKS = "semantic_checks"  # its checks (validate); label maps have no --fix
CATEGORIES = "categories.json"
IMAGES = "images.json"


def detect(path: Path) -> Detection:
    """Strong for a folder of PNGs with ``categories.json``; weak for PNGs alone."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    if not any(path.glob("*.png")):
        return Detection("no", "no .png files in the folder")
    if (path / CATEGORIES).is_file():
        return Detection("strong", f"PNG label maps with {CATEGORIES}")
    return Detection("weak", f"PNGs but no {CATEGORIES} (pass --categories)")


@dataclass(frozen=True, slots=True)
class LabelPng:
    """Pixels of one image: a label PNG whose values are category ids."""

    png: str
    ignore_value: int
    known: tuple[int, ...]
    decoding: Decoding | None = None  # a label map's colours and void values (--labels)

    def labels(self, image: ImageInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The checked label map and the values present in it (sorted).

        Errors name the file: unreadable, wrong size, not single-channel, negative values,
        values that are neither a category nor the ignore value.
        """
        size = (image.width, image.height)
        labels: npt.NDArray[np.int64]
        if self.decoding is not None:
            labels = self.decoding.decode(self.png, size, f"image {image.id}", self.ignore_value)
        else:
            found = read_labels(self.png, size, f"image {image.id}", STRICT)
            labels = np.asarray(found).astype(np.int64, copy=False)
        if labels.min(initial=0) < 0:
            raise SegtoolError(f"image {image.id}: negative label values", self.png)
        present, counts = histogram(labels)
        self.check_present(image, present, counts)
        return labels, present

    def pixels8(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """The raw 8-bit label map, size checked, when segtool's decoder takes the file (L or
        P); None otherwise. Values are not checked: see :meth:`check_values`."""
        if self.decoding is not None:  # colours or void values to translate first
            return None
        return read_labels(self.png, (image.width, image.height), f"image {image.id}", STRICT, fast_only=True)

    def check_values(self, image: ImageInfo, counts: npt.NDArray[np.int64]) -> None:
        """Every value with pixels (``counts[v]`` > 0) must be a category or the ignore value."""
        present = np.flatnonzero(counts)
        self.check_present(image, present, counts[present])

    def check_present(
        self, image: ImageInfo, present: npt.NDArray[np.int64], counts: npt.NDArray[np.int64] | None = None
    ) -> None:
        """Every value of ``present`` (sorted; ``counts``: pixels of each) must be a category
        or the ignore value."""
        label_values(present, self.known, self.ignore_value, image.id, self.png, STRICT, counts=counts)

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


def count_images(path: Path) -> int | None:
    """How many label maps validate will step through (progress totals)."""
    return sum(1 for _ in path.glob("*.png")) if path.is_dir() else None


def _categories_path(path: Path, categories: Path | None) -> Path:
    found = categories or path / CATEGORIES
    if not found.is_file():
        raise FormatError(f"no {CATEGORIES} in the folder; pass --categories FILE", str(path))
    return found


def _images(path: Path, pngs: list[Path]) -> list[ImageInfo]:
    if (path / IMAGES).is_file():
        data = load_json(path / IMAGES)
        records = parse_images(data.get("images") if isinstance(data, dict) else data, path / IMAGES)
        names = output_names([image_path(im) for im in records], flat=True)  # the names the writer gave
        by_stem = dict(zip(names, records, strict=True))
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


def _pngs(folder: Path) -> list[Path]:
    """The folder's PNGs in Path order. Children of one folder: on POSIX their names alone
    decide, so they are sorted by name, not by Path comparisons (34,000 for 2 x 1,000
    files, a tenth of mIoU's time before its workers start); elsewhere Path order itself."""
    found = folder.glob("*.png")
    return sorted(found, key=_name) if os.name == "posix" else sorted(found)


def _name(p: Path) -> str:
    return p.name


def read(
    path: Path,
    *,
    categories: Path | None = None,
    ignore_value: int = 255,
    labels: LabelMap | None = None,
    **_: Any,
) -> Dataset:
    """Read a folder of label PNGs; pixels are decoded when a sample is loaded.

    With ``labels`` (a label map), RGB pictures are decoded through its colours and its void
    values are void; then, without a categories file, the map describes the pixel values
    (``value``/``offset``) and gives the categories, and with one, the map remaps the
    file's categories by id (see :mod:`segtool.labelmap`)."""
    if not path.is_dir():
        raise FormatError("a semantic dataset is a folder of label PNGs", str(path))
    by_value = labels is not None and categories is None and not (path / CATEGORIES).is_file()
    if labels is not None and by_value:
        cats, where = labels.pixel_categories(), labels.path
    else:
        where = str(_categories_path(path, categories))
        data = load_json(Path(where))
        records = data["categories"] if isinstance(data, dict) and "categories" in data else data
        cats = parse_categories(records, Path(where), default_isthing=False)
    ignore_rule([c.id for c in cats], ignore_value, where, STRICT)
    pngs = _pngs(path)
    images = _images(path, pngs)
    known = tuple(sorted(c.id for c in cats))
    decoding = None if labels is None else Decoding.of(labels)
    samples = tuple(
        Sample(im, LabelPng(str(p), ignore_value, known, decoding)) for im, p in zip(images, pngs, strict=True)
    )
    ds = Dataset(cats, samples, "semantic", {}, str(path))
    return ds if labels is None else relabel.apply(ds, labels, by_value=by_value)


def _palette(ctx: WriteContext) -> list[int]:
    pal = np.zeros((256, 3), dtype=np.uint8)
    for cid, color in ctx.colors.items():
        if 0 <= cid < 256:
            pal[cid] = color
    if 0 <= ctx.opts.ignore_value < 256:
        pal[ctx.opts.ignore_value] = (224, 224, 192)  # the VOC colour of void
    return pal.ravel().tolist()


def _write_image(job: tuple[Sample, WriteContext, str]) -> ImageResult:
    sample, ctx, name = job
    ann = sample.load()
    res = resolve_for_write(ann, ctx)
    wide = ctx.opts.ignore_value > 255 or (len(ctx.colors) and max(ctx.colors) > 255)
    labels = views.label_map(res, ctx.opts.ignore_value, np.uint16 if wide else np.uint8)
    path = Path(ctx.folder) / name
    if wide:
        save_png(labels, path)
    elif ctx.opts.palette:
        save_png(labels, path, palette=_palette(ctx))
    else:
        save_png(labels, path)
    return noted(ImageResult([], len(res.segments), res.dropped), ann)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write label PNGs, ``categories.json`` and ``images.json`` into the folder ``tmp[0]``."""
    ids = [c.id for c in ds.categories]
    ignore_rule(ids, opts.ignore_value, dst, STRICT)
    if ids and (min(ids) < 0 or max(ids) > 65535):
        raise SegtoolError("category ids must lie in 0..65535 for label PNGs", str(dst))
    names = output_names([image_path(s.image) for s in ds.samples], str(dst), flat=True, suffix=".png")
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    results = list(run(_write_image, ((s, ctx, n) for s, n in zip(ds.samples, names, strict=True))))
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


def read_predictions(
    path: Path, gt: Dataset, *, ignore_value: int = 255, labels: LabelMap | None = None, **_: Any
) -> Predictions:
    """Predicted label maps keyed by file stem (the pairing matches them to the ground
    truth's images). The folder may omit ``categories.json``: labels are checked against
    the ground truth's categories; with ``labels``, the predictions' values are read
    through the label map as the ground truth's were."""
    if not path.is_dir():
        raise FormatError("semantic predictions are a folder of label PNGs", str(path))
    pngs = _pngs(path)
    if labels is None:
        known = tuple(sorted(c.id for c in gt.categories))
        return Predictions({p.stem: LabelPng(str(p), ignore_value, known) for p in pngs}, "stem", str(path))
    cats = labels.pixel_categories()
    known = tuple(sorted(c.id for c in cats))
    decoding = Decoding.of(labels)
    ds = Dataset(
        cats,
        tuple(Sample(ImageInfo(p.stem, p.name, 0, 0), LabelPng(str(p), ignore_value, known, decoding)) for p in pngs),
        "semantic",
    )
    mapped = relabel.apply(ds, labels, by_value=True)
    return Predictions({s.image.id: s.source for s in mapped.samples}, "stem", str(path))
