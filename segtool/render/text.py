"""Category labels inside their segments, and legends below the picture.

A label goes at the point of its segment farthest from any boundary (one Euclidean distance
transform of a subsampled grid for the whole image, one sort for all segments), and only when
its box lies wholly inside the segment's interior, checked pixel by pixel: a label is never
drawn over another segment, an outline or outside the image.

Label and legend texts are category names from the dataset: they are drawn as one line
(``errors.one_line``: a newline would make Pillow draw several lines, which the fitting
does not expect and the legend's width measure refuses with an exception).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from ..errors import one_line
from .overlay import boundaries

LEGEND_BG = (24, 24, 24)
LEGEND_FG = (235, 235, 235)
_ROW, _PAD, _SWATCH = 18, 6, 12


@lru_cache(maxsize=4)
def font(size: int = 13) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (FreeType when available), so renders need no system fonts."""
    return ImageFont.load_default(size=size)


SIZES = (13, 10)  # label font sizes in pixels: 10 is the smallest that stays readable
STEP = 4  # anchors are searched on every 4th pixel: 16x fewer, and boxes are checked exactly


def anchors(index: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.int64]:
    """Each segment's most interior pixel ``(y, x)``, searched on a grid of every ``STEP``-th
    pixel (the image border counts as outside). A segment too thin for the grid gets (-1, -1)."""
    if n == 0:
        return np.zeros((0, 2), np.int64)
    off = STEP // 2
    grid = index[off::STEP, off::STEP]
    if min(grid.shape) < 3:  # too small for any label
        return np.full((n, 2), -1, np.int64)
    inner = (grid > 0) & ~boundaries(grid)
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    from scipy import ndimage  # here, not at the top: the CLI's heaviest import, only labels need it

    dist = ndimage.distance_transform_edt(inner).ravel()
    seg = np.where(inner.ravel(), grid.ravel(), 0)
    order = np.lexsort((dist, seg))  # by segment, then distance: each segment's last is its best
    last = np.flatnonzero(np.diff(np.append(seg[order], n + 1)) != 0)
    best = order[last]
    out = np.full((n, 2), -1, np.int64)
    keep = seg[best] > 0
    ys, xs = np.divmod(best[keep], grid.shape[1])
    out[seg[best[keep]] - 1] = np.stack([ys * STEP + off, xs * STEP + off], axis=1)
    return out


def draw_labels(img: Image.Image, index: npt.NDArray[np.int32], texts: list[str]) -> int:
    """Draw ``texts[k-1]`` inside segment k where its box fits wholly inside the segment's
    interior (checked pixel by pixel, off the outline); returns how many were drawn."""
    pos = anchors(index, len(texts))
    inner = (index > 0) & ~boundaries(index)
    h, w = index.shape
    draw = ImageDraw.Draw(img)
    drawn = 0
    for k, ((y, x), raw) in enumerate(zip(pos.tolist(), texts, strict=True), start=1):
        if not raw or y < 0:
            continue
        text = one_line(raw)
        for size in SIZES:  # the regular size, else a smaller one for narrow segments
            f = font(size)
            left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
            bw, bh = right - left + 4, bottom - top + 2  # the box: text plus a 2 px margin
            x0, y0 = x - bw // 2, y - bh // 2
            if x0 < 0 or y0 < 0 or x0 + bw > w or y0 + bh > h:
                continue
            box = (slice(y0, y0 + bh), slice(x0, x0 + bw))
            if not (inner[box].all() and (index[box] == k).all()):
                continue  # it would spill out of its segment
            draw.rectangle((x0, y0, x0 + bw - 1, y0 + bh - 1), fill=(0, 0, 0))
            draw.text((x0 + 2 - left, y0 + 1 - top), text, font=f, fill=(255, 255, 255))
            drawn += 1
            break
    return drawn


def legend(entries: list[tuple[tuple[int, int, int], str]], width: int) -> npt.NDArray[np.uint8]:
    """A strip ``width`` wide: a color swatch and a name per entry, wrapped into rows. A name
    too long for a row of its own goes on over the next rows, word by word (the errors
    panel's "what covers what" under a narrow render), indented past the swatch."""
    f = font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    rows: list[list[tuple[tuple[int, int, int] | None, str, int]]] = [[]]
    x = _PAD
    room = width - 2 * _PAD - _SWATCH - 4
    for color, raw in entries:
        for k, part in enumerate(_wrapped(one_line(raw), room, probe, f)):
            item = _SWATCH + 4 + int(probe.textlength(part, font=f)) + 14
            if rows[-1] and (k > 0 or x + item > width - _PAD):
                rows.append([])
                x = _PAD
            rows[-1].append((color if k == 0 else None, part, x))
            x += item
    height = _PAD * 2 + _ROW * len(rows) if entries else 0
    img = Image.new("RGB", (width, height), LEGEND_BG)
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(rows):
        y = _PAD + r * _ROW
        for swatch, name, x0 in row:
            if swatch is not None:
                draw.rectangle((x0, y + 2, x0 + _SWATCH - 1, y + 2 + _SWATCH - 1), fill=swatch, outline=LEGEND_FG)
            draw.text((x0 + _SWATCH + 4, y), name, font=f, fill=LEGEND_FG)
    return np.asarray(img)


def _wrapped(
    text: str, room: int, probe: ImageDraw.ImageDraw, f: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> list[str]:
    """``text`` in lines at most ``room`` pixels wide, broken between words (a single word
    wider than that keeps its line, and is clipped by the strip's edge)."""
    if probe.textlength(text, font=f) <= room:
        return [text]
    lines: list[str] = []
    for word in text.split(" "):
        if lines and probe.textlength(f"{lines[-1]} {word}", font=f) <= room:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


TITLE_HEIGHT = _ROW + _PAD  # one line of text on a dark strip


def titles(names: list[str], widths: list[int], gap: int) -> npt.NDArray[np.uint8]:
    """A strip of panel titles (``ground truth``, ``prediction``, ``errors``), each centred
    under its panel of ``widths[k]`` pixels, the panels ``gap`` pixels apart: drawn into the
    picture, so a contact sheet or a copied PNG still says which panel is which. A title too
    wide for its panel takes the smaller size, and is clipped to its panel at worst."""
    img = Image.new("RGB", (sum(widths) + gap * (len(widths) - 1), TITLE_HEIGHT), LEGEND_BG)
    probe = ImageDraw.Draw(img)
    x = 0
    for name, w in zip(names, widths, strict=True):
        f = next((font(s) for s in SIZES if probe.textlength(name, font=font(s)) <= w - 4), font(SIZES[-1]))
        cell = Image.new("RGB", (w, TITLE_HEIGHT), LEGEND_BG)
        draw = ImageDraw.Draw(cell)
        tw = int(draw.textlength(name, font=f))
        draw.text((max(2, (w - tw) // 2), _PAD // 2 + 1), name, font=f, fill=LEGEND_FG)
        img.paste(cell, (x, 0))
        x += w + gap
    return np.asarray(img)


def caption(img: Image.Image, text: str, xy: tuple[int, int]) -> None:
    """``text`` (one line) on a dark box with its top left at ``xy``: an image id on a
    contact sheet's thumbnail."""
    draw = ImageDraw.Draw(img)
    f = font()
    line = one_line(text)
    left, top, right, bottom = draw.textbbox((0, 0), line, font=f)
    x, y = xy
    draw.rectangle((x, y, x + right - left + 5, y + bottom - top + 3), fill=LEGEND_BG)
    draw.text((x + 3 - left, y + 2 - top), line, font=f, fill=LEGEND_FG)
