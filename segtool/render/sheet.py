"""Contact sheets: renders' thumbnails on a grid, each with its image id written on it, so a
bad image spotted on a sheet can be found again (``--ids``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .. import png
from .text import caption


def sheet(thumbs: list[tuple[Any, npt.NDArray[np.uint8]]], folder: Path, number: int, width: int, gap: int) -> str:
    """(image id, thumbnail) pairs on one sheet ``folder/sheet_NNN.png``, in rows of
    ceil(sqrt(n)) cells ``width`` wide, each id on a dark box at its thumbnail's top left."""
    cols = math.ceil(math.sqrt(len(thumbs)))
    rows = math.ceil(len(thumbs) / cols)
    cell_h = max(t.shape[0] for _, t in thumbs)
    canvas = np.full((rows * (cell_h + gap) + gap, cols * (width + gap) + gap, 3), 255, dtype=np.uint8)
    places = []
    for k, (_, t) in enumerate(thumbs):
        r, c = divmod(k, cols)
        y, x = gap + r * (cell_h + gap), gap + c * (width + gap)
        canvas[y : y + t.shape[0], x : x + t.shape[1]] = t
        places.append((x, y))
    img = Image.fromarray(canvas)
    for (image_id, _), (x, y) in zip(thumbs, places, strict=True):
        caption(img, f"id {image_id}", (x, y))
    name = f"sheet_{number:03d}.png"
    png.save(np.asarray(img), folder / name)
    return name
