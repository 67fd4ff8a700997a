"""The checks of a COCO file's image and category records, shared by every COCO format's
validate: the readers' own rules (:mod:`.coco_records`) under validate's error policy, then
what only a whole dataset shows (file names and category names used twice, colors shared).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..checks.findings import Finding
from ..checks.records import photo_checks
from ..checks.registry import Collect, finding
from .coco_record_table import ImageRecords
from .coco_records import iter_images, parse_categories
from .jsonstream import coco_lists


def image_checks(records: Iterable[Any], path: str) -> tuple[list[Finding], ImageRecords]:
    """The image records as the readers take them (malformed, over the pixels limit,
    repeated, one id in two spellings: :func:`~segtool.formats.coco_records.iter_images`),
    and file names used twice; returns the findings and the usable records by id, as
    columns (:class:`~segtool.formats.coco_record_table.ImageRecords`)."""
    collect = Collect()
    images = ImageRecords(iter_images(records, path, collect))
    collect.found += [
        finding("duplicate-file-name", f"file name {n} is used by {c} images", path)
        for n, c in images.repeated_names().items()
    ]
    return collect.found, images


def category_checks(records: list[Any], path: str) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The category records as the readers take them (malformed, repeated ids:
    :func:`~segtool.formats.coco_records.parse_categories`), repeated names and colors;
    returns the findings and the usable categories."""
    collect = Collect()
    cats = [c.to_dict() for c in parse_categories(records, path, default_isthing=True, report=collect)]
    found = collect.found
    for value, n in Counter(c["name"] for c in cats).items():
        if n > 1:
            found.append(finding("duplicate-category-name", f"category name {value!r} is used by {n} categories", path))
    colors: dict[tuple[Any, ...], list[Any]] = {}
    for c in cats:
        if "color" in c:
            colors.setdefault(tuple(c["color"]), []).append(c["id"])
    for color, ids in colors.items():
        if len(ids) > 1:
            found.append(finding("color-collision", f"categories {ids} share the color {list(color)}", path))
    return found, cats


def dataset_records(path: Path, images_dir: Path | None) -> tuple[list[Finding], ImageRecords, list[dict[str, Any]]]:
    """A COCO file's image and category records (streamed, without its annotations) and
    their checks, with ``--images DIR`` when given: findings, images by id, categories."""
    image_records, cat_records = coco_lists(path)
    found, images = image_checks(image_records, str(path))
    cat_found, cats = category_checks(list(cat_records), str(path))
    found += cat_found
    if images_dir is not None:
        found += photo_checks(images, images_dir)
    return found, images, cats
