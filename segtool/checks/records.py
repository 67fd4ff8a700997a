"""Checks of COCO image and category records, shared by every COCO format."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError

from .. import imageio
from ..errors import SegtoolError
from ..formats import coco_records
from ..formats.coco_records import parse_categories, parse_images
from ..formats.jsonstream import coco_sections
from .findings import Check, Finding
from .registry import INF, Collect, E, W, finding, register

register(
    Check("duplicate-image-id", E, "two image records share an id"),
    Check("duplicate-file-name", E, "two image records share a file name"),
    Check("duplicate-category-id", E, "two categories share an id"),
    Check("duplicate-category-name", W, "two categories share a name"),
    Check("color-collision", W, "two categories share a color"),
    Check("unknown-category", E, "a segment's category_id is not a category"),
    Check("annotation-unknown-image", E, "an annotation names an image id that 'images' does not list"),
    Check("unused-category", INF, "a category no segment uses"),
    Check(
        "image-id-form",
        E,
        'one image id written both as a number and as a string ("2299" and 2299): pycocotools and panopticapi'
        " take them for two images",
    ),
)


def unknown_image(image_id: Any, images: Collection[Any], path: str, annotation_id: Any = None) -> Finding:
    """The finding of an annotation whose image 'images' does not list
    (:func:`~segtool.formats.coco_records.unknown_image`)."""
    collect = Collect()
    coco_records.unknown_image(image_id, images, path, collect, annotation_id)
    return collect.found[0]


def image_checks(records: list[Any], path: str) -> tuple[list[Finding], dict[Any, dict[str, Any]]]:
    """The image records as the readers take them (malformed, over the pixels limit,
    repeated, one id in two spellings: :func:`~segtool.formats.coco_records.parse_images`),
    and file names used twice; returns the findings and the usable records by id."""
    collect = Collect()
    images = {im.id: im.to_dict() for im in parse_images(records, path, collect)}
    names = Counter(str(im["file_name"]) for im in images.values())
    collect.found += [
        finding("duplicate-file-name", f"file name {n} is used by {c} images", path) for n, c in names.items() if c > 1
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


def unused_categories(cats: list[dict[str, Any]], used: Counter[Any], path: str) -> list[Finding]:
    """One info finding per category no segment uses."""
    return [
        finding("unused-category", f"category {c.get('id')} ({c.get('name')}) is never used", path)
        for c in cats
        if used[c.get("id")] == 0
    ]


# what the readers' one PNG sequence reports (png.read_rgb, semantic.read_labels)
register(
    Check("png-missing", E, "the PNG of an annotation does not exist"),
    Check("png-unreadable", E, "the PNG cannot be decoded (truncated, not a PNG)"),
    Check("png-size", E, "the PNG's size differs from its image record"),
    Check("png-mode", E, "the PNG is not 8-bit RGB"),
)
register(
    Check("image-file-missing", E, "an image record's file is missing from --images DIR"),
    Check("image-unreadable", E, "an image file in --images DIR cannot be opened as an image"),
    Check("image-size", E, "an image file's real size differs from its record"),
)


def photo_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the file's header (no pixel is decoded), or why it cannot be read."""
    try:
        with imageio.open_image(path) as img:
            return img.size
    except FileNotFoundError:
        return "missing"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, SegtoolError) as exc:  # SegtoolError: a limit
        return str(exc) or type(exc).__name__


def photo_checks(images: dict[Any, dict[str, Any]], folder: Path) -> list[Finding]:
    """Every image record's file exists in ``folder`` (``--images DIR``) with the record's size.

    Only headers are read, so this costs a file open per image, not a decode.
    """
    found: list[Finding] = []
    for iid, im in images.items():
        path = folder / str(im.get("file_name"))
        size = photo_size(path)
        if size == "missing":
            found.append(finding("image-file-missing", "the image file does not exist", str(path), iid))
        elif isinstance(size, str):
            found.append(finding("image-unreadable", f"cannot open the image: {size}", str(path), iid))
        elif size != (im.get("width"), im.get("height")):
            msg = f"the image is {size[0]}x{size[1]} but its record says {im.get('width')}x{im.get('height')}"
            found.append(finding("image-size", msg, str(path), iid))
    return found


def dataset_records(
    path: Path, images_dir: Path | None
) -> tuple[list[Finding], dict[Any, dict[str, Any]], list[dict[str, Any]]]:
    """A COCO file's image and category records (streamed, without its annotations) and
    their checks, with ``--images DIR`` when given: findings, images by id, categories."""
    image_records, cat_records = coco_sections(path)
    found, images = image_checks(image_records, str(path))
    cat_found, cats = category_checks(cat_records, str(path))
    found += cat_found
    if images_dir is not None:
        found += photo_checks(images, images_dir)
    return found, images, cats


def expected_images(path: Path) -> int | None:
    """How many images the checks of ``path`` will step through, when that is cheap to know,
    so that progress has an end: a COCO file's image records (from the layout detection
    has already read and remembers: ~1 ms for 1,000 images), or a folder's label maps. None
    when the file cannot say; the checks then report what is wrong with it."""
    try:
        if path.is_dir():
            return sum(1 for _ in path.glob("*.png"))
        return len(coco_sections(path, ("images",))[0])
    except (SegtoolError, OSError):
        return None
