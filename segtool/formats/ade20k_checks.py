"""Checks of an ADE20K tree: the reader's rules (:mod:`.ade20k_rules`, :mod:`.ade20k_2021`)
with validate's error policy, and the photos: values outside the class table, a photo
without its annotation, an annotation of another size than its photo, an
``objectInfo150.csv`` that cannot be parsed; for a 2021 image its JSON, its instance masks
(values, overlaps) and their agreement with the ``_seg.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..checks.findings import Check, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect, E, W, register
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from ..policy import Policy, place
from .ade20k_2021 import is_2021, read_instances, read_objects
from .ade20k_rules import ANNOTATIONS, SEG, Entry, find_full, find_scene_parsing, read_names, read_seg, scene_labels

register(
    Check("ade20k-unknown-class", E, "a SceneParsing annotation value that is neither 0 (other) nor a class 1..150"),
    Check("ade20k-missing", E, "a photo in images/<split>/ without its annotation PNG in annotations/<split>/"),
    Check("ade20k-size-mismatch", E, "an annotation PNG of another size than its photo"),
    Check("ade20k-objectinfo-invalid", W, "objectInfo150.csv that cannot be parsed: the built-in 150 classes are used"),
    Check(
        "ade20k-json-invalid", E, "a 2021 <stem>.json without annotation.object, or an object whose fields are unusable"
    ),
    Check("ade20k-instance-mask", E, "a 2021 instance mask with values other than 0, 128 (occluded) and 255 (visible)"),
    Check("ade20k-instance-overlap", E, "two whole objects of a 2021 image whose instance masks share visible pixels"),
    Check("ade20k-seg-mismatch", E, "visible pixels of a 2021 whole object whose _seg.png class is not its name_ndx"),
)


def _check_2021(entry: Entry, collect: Policy) -> tuple[int, int] | None:
    """A 2021 image: its JSON and instance masks by the reader's rules, and each whole
    object's visible pixels against the ``_seg.png`` (class = its ``name_ndx``). The
    image's (height, width), or None when the ``_seg.png`` cannot be read."""
    assert entry.labels is not None
    full = read_seg(entry.labels, None, collect, entry.id)
    if full is None:
        return None
    height, width = full.classes.shape
    objs = read_objects(Path(entry.labels[: -len(SEG)] + ".json"), collect, entry.id)
    found = None if objs is None else read_instances(objs, (width, height), collect, entry.id)
    if found is not None and found.ids:
        lut = np.concatenate([[0], np.asarray(found.classes, np.int64)])
        labelled = found.index > 0
        wrong = full.classes[labelled] != lut[found.index[labelled]]
        if wrong.any():
            first = found.ids[int(found.index[labelled][wrong][0]) - 1]
            msg = (
                f"{place(entry.id, first)}: {int(wrong.sum())} visible px of whole objects have another _seg.png class"
            )
            collect("ade20k-seg-mismatch", msg, entry.labels, entry.id, first)
    return height, width


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of an ADE20K tree (either layout), image by image."""
    if not path.is_dir():
        raise FormatError("an ade20k dataset is a folder (ADEChallengeData2016/ or the full dataset)", str(path))
    found = FindingLog()
    collect = Collect(log=found)
    scene = (path / ANNOTATIONS).is_dir()
    if scene:
        names, _ = read_names(path, collect)
        entries = find_scene_parsing(path, collect)
    else:
        names, entries = (), find_full(path)
    for entry in entries:
        assert entry.labels is not None
        try:
            if scene:
                got = scene_labels(entry.labels, None, len(names), collect, entry.id)
                shape = None if got is None else got[0].shape
            elif is_2021(Path(entry.labels[: -len(SEG)] + ".json")):
                shape = _check_2021(entry, collect)
            else:
                full = read_seg(entry.labels, None, collect, entry.id)
                shape = None if full is None else full.classes.shape
        except SegtoolError as exc:  # a limit
            collect("png-unreadable", exc.message, exc.path or "", entry.id)
            shape = None
        photo = entry.photo
        if options.images_dir is not None:
            photo = str(options.images_dir / f"{Path(entry.labels).name.removesuffix('.png').removesuffix('_seg')}.jpg")
        if photo is not None and shape is not None:
            size = photo_size(Path(photo))
            height, width = shape
            if size == "missing":
                collect("image-file-missing", "the image's photo is missing", photo, entry.id)
            elif isinstance(size, str):
                collect("image-unreadable", f"cannot open the image: {size}", photo, entry.id)
            elif size != (width, height):
                msg = f"the photo is {size[0]}x{size[1]} but the annotation is {width}x{height}"
                collect("ade20k-size-mismatch", msg, photo, entry.id)
        if progress is not None:
            progress(1)
    stats: dict[str, Any] = {"images": len(entries), "layout": "scene-parsing" if scene else "full"}
    return Report(found, stats)
