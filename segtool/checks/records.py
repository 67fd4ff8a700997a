"""What every format's checks share: the codes of image and category records (reported by
the readers' rules under an error policy), unused categories, and the photos of
``--images DIR``. Nothing here knows a format: the COCO records' own checks are in
:mod:`segtool.formats.coco_record_checks`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError

from .. import imageio
from ..errors import SegtoolError
from .findings import Check, Finding
from .registry import INF, E, W, finding, register

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


def photo_checks(images: Mapping[Any, dict[str, Any]], folder: Path) -> list[Finding]:
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
