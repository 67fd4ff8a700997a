"""How outputs are named: one rule for every writer and for preview's renders.

Outputs are named by image stem when the stems are unique; multi-sequence sources (MOTS'
``0002/000001.png``, KITTI-STEP, a CVAT project's subsets) keep their folders instead, as
sub-folders or joined with :data:`FLAT`. Not in ``formats``: preview names its renders by the
same rule and must not import a format's module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .atomic import inside
from .errors import SegtoolError
from .model import ImageInfo

FLAT = "__"  # joins the folders of an output name in a format whose reader reads one folder


def file_stem(file_name: str) -> str:
    """The stem of a ``file_name`` (``dir/000001.jpg`` -> ``000001``)."""
    return Path(file_name).stem


def image_path(image: ImageInfo) -> str:
    """An image's path in its dataset, as :func:`output_names` reads it: its ``file_name``,
    under its subset's folder when the reader kept one (a CVAT project names ``img0.jpg`` in
    each of ``Train``, ``Test`` …; ``extra["subset"]``, a plain folder name)."""
    return record_path({**image.extra, "file_name": image.file_name})


def record_path(record: dict[str, Any]) -> str:
    """:func:`image_path` of an ``images`` record as written (``extra`` keys at its top
    level): what validate pairs a folder's files by, without reading it into the model."""
    subset, file_name = record.get("subset"), str(record.get("file_name"))
    if type(subset) is str and subset not in ("", ".", "..") and not any(c in subset for c in "/\\\0"):
        return f"{subset}/{file_name}"
    return file_name


def _folders(file_name: str, stem: Callable[[str], str]) -> tuple[str, ...]:
    """``file_name``'s path as parts, the last one its stem (``\\`` read as ``/``)."""
    parts = [p for p in file_name.replace("\\", "/").split("/") if p not in ("", ".")]
    return (*parts[:-1], stem(parts[-1])) if parts else (stem(file_name),)


def output_names(
    file_names: Sequence[str],
    where: str | None = None,
    *,
    flat: bool = False,
    stem: Callable[[str], str] = file_stem,
    groups: Sequence[str] | None = None,
    suffix: str = "",
) -> list[str]:
    """Each image's output name (``suffix`` added): the one rule every writer names files by.

    The stem when the stems are unique (within each of ``groups``, a writer's split), so a
    dataset of distinct stems keeps its names. Otherwise (MOTS' ``0002/000001.png``, KITTI-STEP's
    sequence folders) the ``file_name`` without its suffix, less the folders every image shares:
    ``0002/000001``, or ``0002__000001`` (:data:`FLAT`) when ``flat``, for a format whose reader
    reads one folder. A reader finds its files by the same call over its records' ``file_name``
    values. With ``where`` (a writer), names that still collide, or whose folders would leave
    the output (absolute, ``..``, a NUL), are refused in one line naming ``where``.
    """
    keys = list(groups) if groups is not None else [""] * len(file_names)
    names = [stem(f) + suffix for f in file_names]
    if len(set(zip(keys, names, strict=True))) < len(names):
        paths = [_folders(f, stem) for f in file_names]
        shared = 0
        while all(len(p) > shared + 1 and p[shared] == paths[0][shared] for p in paths):
            shared += 1
        unsafe = [f for f in file_names if _unsafe(f)] if where is not None else []
        if unsafe:
            dup = next(n for n, c in Counter(zip(keys, names, strict=True)).items() if c > 1)[1]
            raise SegtoolError(
                f"several images share the output name {dup}, and file name {unsafe[0]!r:.80} cannot name one"
                " (absolute, with '..' or a NUL); refused",
                where,
            )
        names = [(FLAT if flat else "/").join(p[shared:]) + suffix for p in paths]
    if where is not None:
        bad = next((n for n in names if "\0" in n), None)
        if bad is not None:
            raise SegtoolError(f"output name {bad!r:.80} holds a NUL character; refused", where)
        dupes = [n for (_, n), c in Counter(zip(keys, names, strict=True)).items() if c > 1]
        if dupes:
            raise SegtoolError(
                f"several images share the output name {dupes[0]}, even with their folders; refused", where
            )
    return names


def _unsafe(file_name: str) -> bool:
    """A name whose folders would leave the output (:func:`segtool.atomic.inside`'s rule)."""
    try:
        inside(Path("."), file_name.replace("\\", "/"))
    except SegtoolError:
        return True
    return False
