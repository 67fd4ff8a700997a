"""Checks of COCO image and category records, shared by every COCO format."""

from __future__ import annotations

from collections import Counter
from typing import Any

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
)


def image_checks(records: list[Any], path: str) -> tuple[list[Finding], dict[Any, dict[str, Any]]]:
    """Duplicate image ids and file names; returns the findings and images by id."""
    found: list[Finding] = []
    images: dict[Any, dict[str, Any]] = {}
    names: Counter[str] = Counter()
    for im in records:
        if not isinstance(im, dict):
            continue
        if im.get("id") in images:
            found.append(finding("duplicate-image-id", f"image id {im.get('id')} is listed twice", path, im.get("id")))
        images.setdefault(im.get("id"), im)
        names[str(im.get("file_name"))] += 1
    found += [
        finding("duplicate-file-name", f"file name {n} is used by {c} images", path) for n, c in names.items() if c > 1
    ]
    return found, images


def category_checks(records: list[Any], path: str) -> list[Finding]:
    """Duplicate category ids and names, and categories sharing a color."""
    cats = [c for c in records if isinstance(c, dict)]
    found: list[Finding] = []
    for key, code in (("id", "duplicate-category-id"), ("name", "duplicate-category-name")):
        for value, n in Counter(c.get(key) for c in cats).items():
            if n > 1:
                found.append(finding(code, f"category {key} {value!r} is used by {n} categories", path))
    colors: dict[tuple[Any, ...], list[Any]] = {}
    for c in cats:
        if isinstance(c.get("color"), list):
            colors.setdefault(tuple(c["color"]), []).append(c.get("id"))
    for color, ids in colors.items():
        if len(ids) > 1:
            found.append(finding("color-collision", f"categories {ids} share the color {list(color)}", path))
    return found


def unused_categories(cats: list[dict[str, Any]], used: Counter[Any], path: str) -> list[Finding]:
    """One info finding per category no segment uses."""
    return [
        finding("unused-category", f"category {c.get('id')} ({c.get('name')}) is never used", path)
        for c in cats
        if used[c.get("id")] == 0
    ]
