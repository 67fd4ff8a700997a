"""Category labels inside their segments, and legends below the picture.

A label goes at the point of its segment farthest from any boundary (one Euclidean distance
transform for the whole image, one ``maximum_position`` for all segments), and only when its
box fits inside the disc around that point that lies wholly in the segment: a label is never
drawn over another segment or outside the image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .overlay import boundaries

LEGEND_BG = (24, 24, 24)
LEGEND_FG = (235, 235, 235)
_ROW, _PAD, _SWATCH = 18, 6, 12


@lru_cache(maxsize=4)
def font(size: int = 13) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (FreeType when available), so renders need no system fonts."""
    return ImageFont.load_default(size=size)


def anchors(index: npt.NDArray[np.int32], n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each segment's most interior pixel ``(y, x)`` and its distance to the nearest pixel
    outside the segment's interior (the image border counts as outside)."""
    if n == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    inner = (index > 0) & ~boundaries(index)
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    dist = ndimage.distance_transform_edt(inner)
    labels = np.arange(1, n + 1)
    pos = np.asarray(ndimage.maximum_position(dist, index, labels), dtype=np.int64).reshape(n, 2)
    radius = np.asarray(ndimage.maximum(dist, index, labels), dtype=np.float64).reshape(n)
    return pos, radius


def draw_labels(img: Image.Image, index: npt.NDArray[np.int32], texts: list[str]) -> int:
    """Draw ``texts[k-1]`` inside segment k where it fits; returns how many were drawn."""
    pos, radius = anchors(index, len(texts))
    draw = ImageDraw.Draw(img)
    f = font()
    drawn = 0
    for (y, x), r, text in zip(pos.tolist(), radius.tolist(), texts, strict=True):
        if not text:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
        w, h = right - left + 4, bottom - top + 2  # the box: text plus a 2 px margin
        if (w / 2) ** 2 + (h / 2) ** 2 >= r**2:
            continue  # it would spill out of its segment
        x0, y0 = x - w // 2, y - h // 2
        draw.rectangle((x0, y0, x0 + w - 1, y0 + h - 1), fill=(0, 0, 0))
        draw.text((x0 + 2 - left, y0 + 1 - top), text, font=f, fill=(255, 255, 255))
        drawn += 1
    return drawn


def legend(entries: list[tuple[tuple[int, int, int], str]], width: int) -> npt.NDArray[np.uint8]:
    """A strip ``width`` wide: a color swatch and a name per entry, wrapped into rows."""
    f = font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    rows: list[list[tuple[tuple[int, int, int], str, int]]] = [[]]
    x = _PAD
    for color, name in entries:
        tw = int(probe.textlength(name, font=f))
        item = _SWATCH + 4 + tw + 14
        if rows[-1] and x + item > width - _PAD:
            rows.append([])
            x = _PAD
        rows[-1].append((color, name, x))
        x += item
    height = _PAD * 2 + _ROW * len(rows) if entries else 0
    img = Image.new("RGB", (width, height), LEGEND_BG)
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(rows):
        y = _PAD + r * _ROW
        for color, name, x0 in row:
            draw.rectangle((x0, y + 2, x0 + _SWATCH - 1, y + 2 + _SWATCH - 1), fill=tuple(color), outline=LEGEND_FG)
            draw.text((x0 + _SWATCH + 4, y), name, font=f, fill=LEGEND_FG)
    return np.asarray(img)
