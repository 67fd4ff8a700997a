"""Rules shared by the formats that are folder trees of label PNGs beside photos (KITTI,
MOTS, mask folders, CamVid): walking the tree for its PNGs and sub-folders, and holding a
photo to its label map's size."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from ..checks.records import photo_size
from ..policy import Policy, place


def pngs_under(folder: Path, depth: int) -> list[Path]:
    """The PNGs under ``folder`` (``depth`` folders down at most), in path order."""
    out: list[Path] = []
    base = len(folder.parts)
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(dirs) if len(Path(here).parts) - base < depth else []
        out += [Path(here) / n for n in names if n.lower().endswith(".png")]
    return sorted(out)


def subfolders(folder: Path) -> list[Path]:
    """The folders directly in ``folder`` (links to folders too), in name order, told apart
    by the directory's own entry types: no ``stat`` of each of its thousands of PNGs (every
    format's ``detect`` looks at the folder; a stat a file cost 50 ms at 1,000 label maps)."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if _is_dir(e))


def has_png(folder: Path) -> bool:
    """Whether ``folder`` holds a file (or anything but a folder) named ``*.png``, any case."""
    with os.scandir(folder) as entries:
        return any(os.path.splitext(e.name)[1].lower() == ".png" and not _is_dir(e) for e in entries)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """``Path.is_dir`` of an entry: a link loop or a dangling link is no folder (DirEntry
    raises for the loop), any other error is raised as pathlib raises it."""
    try:
        return entry.is_dir()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return False
        raise


def check_photo(
    photo: str | None, size: tuple[int, int], report: Policy, image_id: Any, what: str = "label PNG"
) -> None:
    """The photo, when there is one, must open and be of the size of its ``what``."""
    if photo is None:
        return
    if not os.path.isfile(photo):
        report("image-file-missing", f"{place(image_id)}: the photo is missing", photo, image_id)
        return
    found = photo_size(Path(photo))
    if isinstance(found, str):
        report("image-unreadable", f"{place(image_id)}: cannot open the photo ({found})", photo, image_id)
    elif found != size:
        msg = f"{place(image_id)}: the photo is {found[0]}x{found[1]} but its {what} is {size[0]}x{size[1]}"
        report("image-size", msg, photo, image_id)
