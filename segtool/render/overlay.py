"""Blend segment colors over a photo, hatch void and crowd, outline every boundary.

Everything is whole-array numpy: a color lookup table indexed by the index map, one blend,
boundaries by comparing each pixel with its right and lower neighbours.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .palette import VOID

NEUTRAL = 96  # the gray a render uses when there is no photo


def background(height: int, width: int, photo: npt.NDArray[np.uint8] | None) -> npt.NDArray[np.uint8]:
    """The photo as RGB, or a neutral gray canvas of the image's size."""
    if photo is None:
        return np.full((height, width, 3), NEUTRAL, dtype=np.uint8)
    return photo


def boundaries(index: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Pixels whose right or lower neighbour (or left or upper) belongs elsewhere: the outline
    is two pixels wide, one on each side, so each segment shows its own edge."""
    edge = np.zeros(index.shape, dtype=bool)
    dx = index[:, 1:] != index[:, :-1]
    dy = index[1:, :] != index[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge


def hatch(height: int, width: int, period: int = 8, width_px: int = 2, flip: bool = False) -> npt.NDArray[np.bool_]:
    """Diagonal stripes: ``period`` pixels apart, ``width_px`` wide."""
    y, x = np.ogrid[:height, :width]
    return ((x - y if flip else x + y) % period) < width_px


def overlay(
    photo: npt.NDArray[np.uint8],
    index: npt.NDArray[np.int32],
    colors: npt.NDArray[np.uint8],
    *,
    crowd: npt.NDArray[np.bool_] | None = None,
    alpha: float = 0.5,
    outline: bool = True,
    void_hatch: bool = True,
) -> npt.NDArray[np.uint8]:
    """``photo`` with segment k (``index == k``) filled by ``colors[k-1]`` at ``alpha``.

    Void (index 0) keeps the photo, with gray diagonal hatching; crowd segments get dark
    stripes across their fill; outlines take a darker shade of the segment's color.
    """
    h, w = index.shape
    lut = np.vstack([np.zeros((1, 3), np.float32), colors.astype(np.float32)])
    weight = np.where(index > 0, np.float32(alpha), np.float32(0))[..., None]
    out = photo.astype(np.float32) * (1 - weight) + lut[index] * weight
    if void_hatch:
        stripes = (index == 0) & hatch(h, w)
        out[stripes] = out[stripes] * 0.5 + VOID * 0.5
    if crowd is not None and crowd.any():
        is_crowd = np.concatenate([[False], crowd])[index] & hatch(h, w, flip=True)
        out[is_crowd] *= 0.45
    if outline:
        edge = boundaries(index) & (index > 0)
        out[edge] = lut[index[edge]] * 0.55
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
