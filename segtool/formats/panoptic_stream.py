"""COCO panoptic read one image at a time, for PQ: neither JSON is held, only ~40 bytes per
image (ids and sizes). :mod:`segtool.pairing` pairs the two sides.

Each side opens its JSON twice: once for its layout (detection, categories, images), once
for its records, a light pass of their image ids and then the records themselves going over
that one open: found by the C scan (:mod:`.panoptic_scan`), else parsed
(:class:`~.jsonstream.Passes`)."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits
from ..errors import FormatError
from ..model import ImageInfo, Sample
from ..pairing import Ids, ImageId, Stream, ids_of
from . import panoptic_scan
from .coco_panoptic import PanopticRecord, _record, masks_dir
from .coco_records import parse_categories, parse_image, repeated_image
from .common import limit
from .jsonfile import Layout
from .jsonstream import Passes, layout


def _records_prefix(path: Path) -> str:
    """Where a prediction file's annotation records are: a bare list, or ``annotations``."""
    head = layout(path).checked().sketch
    if isinstance(head, list):
        return "item"
    if not isinstance(head, dict):
        raise FormatError(f"expected a JSON object at the top level, got a {type(head).__name__}", str(path))
    if not isinstance(head.get("annotations"), list):
        raise FormatError("expected an 'annotations' list", str(path))
    return "annotations.item"


def stream(path: Path, *, masks: Path | None = None) -> Stream:
    """The ground truth: categories, the image table (from the layout) and one Sample per
    annotation record, its ``segments_info`` still raw (parsed in the worker)."""
    found = layout(path).checked()
    category_records = found.section("categories")
    head = found.sketch
    if not isinstance(category_records, list) or not isinstance(head, dict) or not isinstance(head.get("images"), list):
        raise FormatError("not a COCO dataset: expected a JSON object with lists images, categories", str(path))
    categories = parse_categories(category_records, path, default_isthing=True)
    # Everything the first pass keeps is 8-byte numbers: ~40 bytes per image in all, so
    # memory does not grow with the dataset in any way that matters (4,000 images: 160 kB).
    images = _ImageTable.read(path)
    folder, max_segments = masks_dir(path, masks), limit("segments")
    ids, records = _records(path, found, "annotations.item", "an annotation", max_segments)

    def samples() -> Iterator[tuple[ImageId, Sample]]:
        png, where = _png_path(folder), str(path)
        for iid, name, record in records():
            yield iid, Sample(images.info(iid, name), PanopticRecord(png(name), record, where, max_segments))

    return Stream(ids, samples, str(path), categories, images.ids)


def stream_predictions(path: Path, *, masks: Path | None = None) -> Stream:
    """Predicted annotation records (a dataset or a bare list: detectron2 writes no
    ``images``), one source per record; categories are checked where they are parsed."""
    prefix = _records_prefix(path)
    folder, max_segments = masks_dir(path, masks), limit("segments")
    ids, records = _records(path, layout(path).checked(), prefix, "a prediction", max_segments)

    def sources() -> Iterator[tuple[ImageId, Any]]:
        png, where = _png_path(folder), str(path)
        for iid, name, record in records():
            yield iid, PanopticRecord(png(name), record, where, max_segments)

    return Stream(ids, sources, str(path))


Records = Callable[[], Iterator[tuple[ImageId, str, Any]]]  # each record's image id, file name, record


def _records(path: Path, found: Layout, prefix: str, what: str, max_segments: int) -> tuple[Ids, Records]:
    """Every record's image id (a first pass), and the records again in file order (the
    second): by the C scan, each record as its JSON text (:mod:`.panoptic_scan`), else by the
    JSON parser, as a dict, both passes on one open of the file."""
    scanned = panoptic_scan.scan(path, found, max_segments)
    if scanned is not None:
        return scanned.ids, scanned.records
    passes = Passes(path)
    ids = ids_of((_record(a, path, max_segments)[0] for a in passes.items(prefix)), str(path), what)

    def parsed() -> Iterator[tuple[ImageId, str, Any]]:
        for a in passes.items(prefix, last=True):
            iid, name = _record(a, path, max_segments)
            yield iid, name, a

    return ids, parsed


def _png_path(folder: Path) -> Callable[[str], str]:
    """``str(folder / name)``, without pathlib for a plain file name (one per record, in the
    one process that reads both JSONs: pathlib's join was a tenth of its time)."""
    prefix = str(folder / "x")[:-1]  # the folder as pathlib writes it, with its separator ("" for ".")

    def png(name: str) -> str:
        if not name or name in (".", "..") or any(c in name for c in _PATH_CHARS):
            return str(folder / name)
        return prefix + name

    return png


_PATH_CHARS = "/\\:"  # a name holding any of these goes through pathlib (folders, drives)


@dataclass
class _ImageTable:
    """The ground truth's image records as arrays of id, height and width (what PQ needs
    of them), read one record at a time from the layout's ``images`` text. Integer ids are
    looked up in their sorted array; string ids (or a mix) through a dict."""

    ids: Ids
    height: npt.NDArray[np.int64]
    width: npt.NDArray[np.int64]
    where: dict[ImageId, int] | None  # row of each id, when ids are not all integers

    @classmethod
    def read(cls, path: Path) -> _ImageTable:
        """Stream ``images``, checking each record as :func:`parse_images` does."""
        iids: list[ImageId] = []
        sizes = [array("q"), array("q")]
        max_pixels = limits.current().pixels
        for i, rec in enumerate(layout(path).checked().section_items("images")):
            im = parse_image(rec, i, path, max_pixels)
            assert im is not None  # the strict policy raises instead
            iids.append(im.id)
            sizes[0].append(im.height)
            sizes[1].append(im.width)
        ids = ids_of(iids, str(path), "an image")
        del iids
        height, width = (np.frombuffer(c, np.int64) if len(c) else np.zeros(0, np.int64) for c in sizes)
        if ids.dtype == object:
            where: dict[ImageId, int] = {}
            for k, iid in enumerate(ids.tolist()):
                if where.setdefault(iid, k) != k:
                    repeated_image(iid, path)
            return cls(ids, height, width, where)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        twice = ids[1:][ids[1:] == ids[:-1]]
        if twice.size:
            repeated_image(int(twice[0]), path)
        return cls(ids, height[order], width[order], None)

    def info(self, iid: ImageId, file_name: str) -> ImageInfo:
        """The record of image ``iid`` (listed), named by its annotation's file."""
        k = self.where[iid] if self.where is not None else int(np.searchsorted(self.ids, iid))
        return ImageInfo(iid, file_name, int(self.height[k]), int(self.width[k]))
