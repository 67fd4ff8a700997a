"""Edits of the base datasets shared by the hostile classes: set one field (to a raw JSON
token by default) and keep the references to it consistent, so the dataset is hostile in
exactly one way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import build
from .build import RAW, Built

Edit = Callable[[dict[str, Any]], None]


def instance_with(edit: Edit, raw: str | None = None) -> Callable[[Path], Built]:
    """A builder of the base instance dataset changed by ``edit`` (``RAW`` becomes ``raw``)."""

    def make(root: Path) -> Built:
        data = build.instance_data()
        edit(data)
        return build.instance(root, data, raw)

    return make


def panoptic_with(edit: Edit, raw: str | None = None) -> Callable[[Path], Built]:
    """A builder of the base panoptic dataset changed by ``edit`` (``RAW`` becomes ``raw``)."""

    def make(root: Path) -> Built:
        data, _ = build.panoptic_data()
        edit(data)
        return build.panoptic(root, data, raw=raw)

    return make


def set_field(*path: Any, value: Any = RAW, also: Edit | None = None) -> Edit:
    """An edit setting the field at ``path`` to ``value``, then applying ``also`` (which
    points the references at the new value, so only the value itself is wrong)."""

    def edit(data: dict[str, Any]) -> None:
        node = data
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        if also:
            also(data)

    return edit


def image_refs(data: dict[str, Any]) -> None:
    """Annotations of image 1 refer to ``RAW`` (the image's new id)."""
    for a in data["annotations"]:
        if a["image_id"] == 1:
            a["image_id"] = RAW


def category_refs(data: dict[str, Any]) -> None:
    """Segments of category 1 refer to ``RAW`` (the category's new id)."""
    for a in data["annotations"]:
        for s in a.get("segments_info", [a]):
            if s["category_id"] == 1:
                s["category_id"] = RAW
