"""Checks of a semantic dataset: a folder of label PNGs with ``categories.json``, tolerantly.

The images a folder should label come from ``images.json`` when it exists, else from the
photos of ``--images DIR`` (matched by file stem), else from the label maps themselves (then
nothing can be missing). Each label map is decoded once, in a worker process, and its values
counted with one ``bincount``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import imageio, labelmap
from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_checks, photo_size, unused_categories
from ..checks.registry import Collect, E, finding, register, unlabeled
from ..checks.schema import is_int
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from ..labelmap import LabelMap
from ..naming import output_names, record_path
from ..parallel import imap, jobs_for
from .coco_record_checks import category_checks, image_checks
from .common import load_json
from .label_decoding import Decoding
from .semantic import CATEGORIES, IMAGES
from .semantic_rules import histogram, ignore_rule, label_values, read_labels

register(
    Check("label-missing", E, "an image (in images.json, or a photo in --images DIR) has no label map"),
    Check("label-without-image", E, "a label map has no image (no record in images.json, no photo in --images DIR)"),
    Check("label-mode", E, "a label map is not a single-channel integer PNG (L, P, I;16, I)"),
    Check("unknown-label", E, "label values that are neither a category id nor the ignore value"),
    Check("ignore-is-category", E, "a category id equals the ignore value, so its pixels would be ignored"),
)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class _Job:
    png: str
    image_id: Any
    size: tuple[int, int] | None  # (width, height) the label map must have, when known
    known: tuple[int, ...]
    ignore_value: int
    max_unlabeled: float
    decoding: Decoding | None = None


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    used: Counter[int] = field(default_factory=Counter)
    ignored: int = 0
    pixels: int = 0


def _labels(job: _Job, out: _ImageOut) -> Any:
    """The decoded label map, or None after recording why it cannot be checked."""
    if job.decoding is not None:  # through a label map: colours and void values translated
        try:
            return job.decoding.decode(job.png, job.size or _size(job.png), f"image {job.image_id}", job.ignore_value)
        except SegtoolError as exc:
            code = "unknown-label" if "not in the label map" in exc.message else "png-unreadable"
            out.findings.append(finding(code, exc.message, job.png, job.image_id))
            return None
    return read_labels(job.png, job.size, f"image {job.image_id}", Collect(out.findings), job.image_id)


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    labels = _labels(job, out)
    if labels is None:
        return out
    labels = labels.astype(np.int64, copy=False)
    negative = int(np.count_nonzero(labels < 0)) if labels.dtype.kind == "i" and labels.min(initial=0) < 0 else 0
    present, counts = histogram(np.maximum(labels, 0), negative)
    ignore = job.ignore_value
    out.ignored = int(counts[present == ignore].sum())
    out.pixels = int(labels.size)
    values = present[present != ignore]
    out.used.update(dict.fromkeys(np.intersect1d(values, job.known).tolist(), 1))
    collect = Collect(out.findings)
    label_values(present, job.known, ignore, job.image_id, job.png, collect, counts=counts, negative=negative)
    found = unlabeled(
        out.ignored, out.pixels, job.max_unlabeled, f"have the ignore value {ignore}", job.png, job.image_id
    )
    out.findings += [found] if found else []
    return out


def _size(png: str) -> tuple[int, int]:
    """The size a label map declares (no other size to hold it to)."""
    with imageio.open_image(png) as img:
        return img.size


def _categories(folder: Path, categories: Path | None, labels: LabelMap | None) -> tuple[list[dict[str, Any]], Path]:
    if labels is not None:
        cats = [{"id": c.id, "name": c.name, "isthing": int(c.isthing)} for c in labels.pixel_categories()]
        return cats, Path(labels.path)
    path = categories or folder / CATEGORIES
    if not path.is_file():
        raise FormatError(f"no {CATEGORIES} in the folder; pass --categories FILE", str(folder))
    data = load_json(path)
    records = data.get("categories") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise FormatError("expected a list of categories", str(path))
    return [c for c in records if isinstance(c, dict)], path


def _expected_images(
    folder: Path, images_dir: Path | None, where: str
) -> tuple[list[Finding], dict[str, tuple[Any, tuple[int, int] | None, str]]]:
    """Images the folder should label, by file stem: (image id, size or None, where it is listed)."""
    if (folder / IMAGES).is_file():
        data = load_json(folder / IMAGES)
        records = data.get("images") if isinstance(data, dict) else data
        listed, images = image_checks(records if isinstance(records, list) else [], str(folder / IMAGES))
        if images_dir is not None:
            listed += photo_checks(images, images_dir)
        names = output_names([record_path(im) for im in images.values()], flat=True)  # the writer's names
        return listed, {
            name: (iid, (im["width"], im["height"]), str(folder / IMAGES))
            for name, (iid, im) in zip(names, images.items(), strict=True)
        }
    if images_dir is None:
        return [], {}
    found: list[Finding] = []
    expected: dict[str, tuple[Any, tuple[int, int] | None, str]] = {}
    photos = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    cut = len(name_suffix([p.stem for p in photos]))
    for photo in photos:
        size = photo_size(photo)
        if isinstance(size, str):
            found.append(finding("image-unreadable", f"cannot open the image: {size}", str(photo)))
        expected[photo.stem[: len(photo.stem) - cut]] = (
            photo.name,
            None if isinstance(size, str) else size,
            str(photo),
        )
    return found, expected


def name_suffix(stems: list[str]) -> str:
    """The suffix every stem shares from a separator on: ``_gt`` of ``00000_gt``, ``00001_gt``.

    Photos and label maps are paired by stem without it, so mmsegmentation's ``x_img.jpg`` /
    ``x_gt.png`` and Cityscapes' ``x_leftImg8bit.png`` / ``x_gtFine_labelIds.png`` pair up.
    """
    if not stems:
        return ""
    common = os.path.commonprefix([s[::-1] for s in stems])[::-1]  # noqa: RUF071 (characters, not paths)
    cuts = [i for i, ch in enumerate(common) if ch in "_-."]
    return common[cuts[0] :] if cuts and all(len(s) > len(common) - cuts[0] for s in stems) else ""


def validate_semantic(
    folder: Path,
    *,
    categories: Path | None = None,
    ignore_value: int = 255,
    images_dir: Path | None = None,
    max_unlabeled: float = 0.0,
    labels: Path | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a folder of label PNGs (and its images.json / --images DIR); with
    ``labels`` (a label-map file), values are checked against it instead of categories.json."""
    if not folder.is_dir():
        raise FormatError("a semantic dataset is a folder of label PNGs", str(folder))
    label_map = None if labels is None else labelmap.load(labels)
    decoding = None if label_map is None else Decoding.of(label_map)
    cats, cat_path = _categories(folder, categories, label_map)
    cat_found, cats = category_checks(cats, str(cat_path))
    found = FindingLog(cat_found)  # most of it on disk: one or two findings an image add up
    known = tuple(sorted(c["id"] for c in cats if is_int(c["id"])))
    ignore_rule(known, ignore_value, cat_path, Collect(log=found))
    expected_found, expected = _expected_images(folder, images_dir, str(folder))
    found += expected_found
    label_pngs = sorted(folder.glob("*.png"))
    cut = (
        len(name_suffix([p.stem for p in label_pngs]))
        if images_dir is not None and not (folder / IMAGES).is_file()
        else 0
    )
    pngs = {p.stem[: len(p.stem) - cut]: p for p in label_pngs}
    items = []
    for stem, png in pngs.items():
        if expected and stem not in expected:
            found.append(finding("label-without-image", "no image record or photo for this label map", str(png)))
        iid, size, _ = expected.get(stem, (png.name, None, ""))
        items.append(_Job(str(png), iid, size, known, ignore_value, max_unlabeled, decoding))
    for stem, (iid, _, listed) in expected.items():
        if stem not in pngs:
            found.append(finding("label-missing", f"the image has no label map in {folder}", listed, iid))
    used: Counter[int] = Counter()
    ignored = pixels = unread = 0
    for out in imap(_check_image, items, jobs=jobs_for(len(items), jobs)):
        found += out.findings
        used.update(out.used)
        ignored += out.ignored
        pixels += out.pixels
        unread += out.pixels == 0
        if progress is not None:
            progress(1)
    if not unread:  # a label map that could not be read might use any category
        found += unused_categories([c for c in cats if c.get("id") != ignore_value], used, str(cat_path))
    stats = {
        "images": len(expected) or len(pngs),
        "label_maps": len(pngs),
        "unlabeled_fraction": ignored / pixels if pixels else 0.0,
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_semantic` with the options that concern it."""
    return validate_semantic(
        path,
        categories=options.categories,
        ignore_value=options.ignore_value,
        images_dir=options.images_dir,
        max_unlabeled=options.max_unlabeled,
        labels=options.labels,
        jobs=jobs,
        progress=progress,
    )
