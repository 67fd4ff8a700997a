"""Rules shared by the formats that are folder trees of label PNGs beside photos (KITTI,
MOTS): walking the tree for its PNGs, and holding a photo to its label map's size."""

from __future__ import annotations

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
