"""COCO ``images`` and ``categories`` records → the model, under one set of rules.

Every COCO format reads these records here, and ``validate`` checks them here too: the rules
(the shapes in :mod:`segtool.checks.schema`, unique ids, the ``pixels`` limit) are written
once, and each caller passes its error policy (:mod:`segtool.policy`). A reader stops at the
first problem it cannot read past and reads past the others as pycocotools does (an id
written ``2.0``, an image without ``file_name``); validate reports each problem as a finding
and leaves that record out of its other checks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from .. import limits
from ..checks.schema import CATEGORY, IMAGE, is_id, problem
from ..errors import SegtoolError
from ..model import Category, ImageInfo
from ..policy import STRICT, Policy
from .jsonstream import coco_lists

INT64 = (-(2**63), 2**63 - 1)
SIDE = (1, 2**31 - 1)  # an image side: what a PNG header (and pycocotools) can hold


def integral(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as an int within [lo, hi]: an int, or a float with an integral value (what
    pycocotools and panopticapi take for one); None for anything else (a boolean, a string)."""
    if type(value) is float and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if type(value) is int and lo <= value <= hi else None


def usable_name(value: Any) -> str | None:
    """A file name from JSON (any value, as ``str()`` spells it), or None when no file can
    have it: a NUL character, or a lone surrogate (JSON's ``"\\ud800"``)."""
    name = value if type(value) is str else str(value)
    if "\0" in name:
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return name


def _lenient_image(rec: dict[str, Any]) -> ImageInfo | None:
    """An image record as readers have always taken it, or None when even that fails."""
    iid = rec.get("id")
    if type(iid) is not str:
        iid = integral(iid, *INT64)
    h, w = integral(rec.get("height"), *SIDE), integral(rec.get("width"), *SIDE)
    if iid is None or h is None or w is None:
        return None
    name = f"{iid}.jpg" if rec.get("file_name") is None else usable_name(rec["file_name"])
    if name is None:
        return None
    return ImageInfo(iid, name, h, w, _extra(rec))


def _extra(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("id", "file_name", "height", "width")}


def parse_image(
    rec: Any, i: int, path: Path | str, max_pixels: int | None = None, report: Policy = STRICT
) -> ImageInfo | None:
    """The ``i``-th ``images`` record → :class:`ImageInfo`: an integer or string id, a size a
    PNG can have (sides 1..2^31-1) of at most ``max_pixels`` (``limits.pixels``) pixels, a
    usable file name. None when ``report`` has it left out."""
    why = problem(rec, IMAGE)
    if why is None:
        image = ImageInfo(rec["id"], rec["file_name"], rec["height"], rec["width"], _extra(rec))
    else:
        lenient = _lenient_image(rec) if isinstance(rec, dict) else None
        iid = rec.get("id") if isinstance(rec, dict) and is_id(rec.get("id")) else None
        if not report("malformed-record", f"image #{i}: {why}", str(path), iid, usable=lenient is not None):
            return None
        assert lenient is not None  # a policy uses only a usable record
        image = lenient
    most = limits.current().pixels if max_pixels is None else max_pixels
    if image.height * image.width > most:  # no reader or check may allocate that many pixels
        msg = (
            f"image {image.id!r:.40}: {image.width}x{image.height} is {image.height * image.width:,} pixels,"
            f" over the limit of {most:,} (raise it with --limit pixels=N)"
        )
        report("malformed-record", msg, str(path), image.id)
        return None
    return image


def other_form(image_id: Any, listed: Any) -> Any:
    """``image_id`` in its other spelling when that one is ``listed`` (2299 for "2299" and
    back), else None: the likeliest reason an id is not found."""
    if type(image_id) is str and image_id.strip().lstrip("-").isdigit():
        other: Any = int(image_id)
    elif type(image_id) is int:
        other = str(image_id)
    else:
        return None
    return other if other in listed else None


def unknown_image(
    image_id: Any, images: Collection[Any], path: Path | str, report: Policy = STRICT, annotation_id: Any = None
) -> None:
    """An annotation whose image 'images' does not list: ``image-id-form`` when it lists the
    same id in the other spelling (naming both), else ``annotation-unknown-image``."""
    which = "the annotation" if annotation_id is None else f"annotation {annotation_id!r:.40}"
    other = other_form(image_id, images)
    if other is not None:
        msg = f"{which} names image {image_id!r}, which 'images' lists as {other!r}"
        report("image-id-form", msg, str(path), image_id, annotation_id)
    elif annotation_id is None:
        msg = f"annotation for image id {image_id}, which 'images' does not list"
        report("annotation-unknown-image", msg, str(path), image_id)
    else:
        msg = f"{which}: unknown image id {image_id}, which 'images' does not list"
        report("annotation-unknown-image", msg, str(path), image_id, annotation_id)


def references(
    image_id: Any,
    category_id: Any,
    annotation_id: Any,
    images: Collection[Any],
    known: Collection[Any],
    path: Path | str,
    report: Policy,
) -> bool:
    """An instance annotation names an image 'images' lists and a known category; False
    when ``report`` has it left out (an unknown image: nothing to check it against). An
    unknown category is reported and kept, its mask still there to check."""
    if image_id not in images:
        unknown_image(image_id, images, path, report, annotation_id)
        return False
    if category_id not in known:
        msg = f"annotation {annotation_id!r:.40}: unknown category id {category_id}"
        report("unknown-category", msg, str(path), image_id, annotation_id)
    return True


def repeated_image(image_id: Any, path: Path | str, report: Policy = STRICT) -> None:
    """An image id listed twice: the first record is kept (when ``report`` returns)."""
    report("duplicate-image-id", f"image id {image_id} is listed twice", str(path), image_id)


def parse_images(records: Any, path: Path | str, report: Policy = STRICT) -> list[ImageInfo]:
    """``images`` records → :class:`ImageInfo` list, ids unique (a repeated id keeps its
    first record); one id in two spellings (``"2299"`` and ``2299``) is reported, and read
    as two ids, as pycocotools does."""
    return list(iter_images(records, path, report))


def iter_images(records: Any, path: Path | str, report: Policy = STRICT) -> Iterator[ImageInfo]:
    """:func:`parse_images` one record at a time (validate's table of images keeps columns,
    not a list of records; the ids seen so far are the one set it holds while reading)."""
    if not isinstance(records, list | Iterator):  # a list, or its records streamed (validate)
        raise SegtoolError("'images' must be a list", str(path))
    return _iter_images(records, path, report)


def _iter_images(records: Any, path: Path | str, report: Policy) -> Iterator[ImageInfo]:
    seen: set[int | str] = set()
    most = limits.current().pixels
    for i, rec in enumerate(records):
        im = parse_image(rec, i, path, most, report)
        if im is None:
            continue
        if im.id in seen:
            repeated_image(im.id, path, report)
            continue
        other = other_form(im.id, seen)
        if other is not None:
            both = f"{other!r} and {im.id!r}"
            if not report("image-id-form", f"images {both} are one id in two spellings", str(path), im.id, usable=True):
                continue
        seen.add(im.id)
        yield im


def _lenient_category(rec: dict[str, Any], default_isthing: bool) -> Category | None:
    """A category record as readers have always taken it, or None when even that fails."""
    cid = integral(rec.get("id"), *INT64)
    color = rec.get("color")
    if color is not None and not (
        isinstance(color, list) and len(color) == 3 and all(type(c) is int and 0 <= c <= 255 for c in color)
    ):
        return None
    if cid is None:
        return None
    return _category(rec, cid, default_isthing)


def _category(rec: dict[str, Any], cid: int, default_isthing: bool) -> Category:
    color = rec.get("color")
    return Category(
        id=cid,
        name=str(rec.get("name", cid)),
        isthing=bool(rec.get("isthing", default_isthing)),
        color=None if color is None else (color[0], color[1], color[2]),
        supercategory=str(rec.get("supercategory") or ""),
        frequency=rec["frequency"] if type(rec.get("frequency")) is str else None,
    )


def parse_categories(
    records: Any, path: Path | str, *, default_isthing: bool, report: Policy = STRICT
) -> tuple[Category, ...]:
    """``categories`` records → :class:`Category` tuple: integer ids, unique (a repeated id
    keeps its first record); at most ``limits.categories`` of them (per-category tables, a
    confusion matrix above all, grow with their square)."""
    if not isinstance(records, list):
        raise SegtoolError("'categories' must be a list", str(path))
    limits.check("categories", len(records), "categories listed", path)
    out: list[Category] = []
    seen: Counter[int] = Counter()
    for i, rec in enumerate(records):
        why = problem(rec, CATEGORY)
        if why is None:
            category = _category(rec, rec["id"], default_isthing)
        else:
            lenient = _lenient_category(rec, default_isthing) if isinstance(rec, dict) else None
            if not report("malformed-record", f"category #{i}: {why}", str(path), usable=lenient is not None):
                continue
            assert lenient is not None
            category = lenient
        seen[category.id] += 1
        if seen[category.id] == 1:
            out.append(category)
    for cid, n in seen.items():
        if n > 1:  # the first record of the id is kept
            report("duplicate-category-id", f"category id {cid!r} is used by {n} categories", str(path))
    return tuple(out)


def count_images(path: Path) -> int | None:
    """How many images a COCO file lists (from the layout detection has already read and
    remembers: ~1 ms for 1,000 images), so that progress has an end; None when the file
    cannot say (its checks then report what is wrong with it)."""
    try:
        return sum(1 for _ in coco_lists(path, ("images",))[0])  # one record at a time: memory flat
    except (SegtoolError, OSError):
        return None
