"""Label PNGs read through a label map (``--labels``): colour-coded pictures turned into
values by the map's colours, and the map's void values turned into the ignore value.

Shared by every reader of label PNGs that takes a label map, so that "colour-coded masks
through the label map's colours" means the same thing in each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import imageio
from ..errors import SegtoolError
from ..labelmap import LabelMap
from ..policy import STRICT
from .semantic_rules import read_labels

COLOUR_MODES = ("RGB", "RGBA")  # L and P pictures hold values (a palette index is a value)


@dataclass(frozen=True, slots=True)
class Decoding:
    """How to turn one label PNG into values: ``colors`` (r, g, b, value) for RGB pictures,
    and the values that mean void."""

    colors: tuple[tuple[int, int, int, int], ...]
    void: tuple[int, ...]

    @classmethod
    def of(cls, labels: LabelMap) -> Decoding | None:
        """The decoding ``labels`` asks for, or None when pixels are read as they are."""
        colors = tuple((*color, value) for color, value in labels.colors().items())
        void = labels.void_values()
        return cls(colors, void) if colors or void else None

    def decode(self, png: str, size: tuple[int, int], what: str, ignore_value: int) -> npt.NDArray[np.int64]:
        """The label values of ``png`` (``size``: width, height), void values as ``ignore_value``."""
        values = self._colours(png, size, what) if self.colors else None
        if values is None:
            found = read_labels(png, size, what, STRICT)
            values = np.asarray(found).astype(np.int64, copy=True)
        if self.void:
            values[np.isin(values, np.asarray(self.void, dtype=np.int64))] = ignore_value
        return values

    def _colours(self, png: str, size: tuple[int, int], what: str) -> npt.NDArray[np.int64] | None:
        """Values of an RGB(A) picture through the colours; None for an L or P picture."""
        try:
            with imageio.open_image(png) as img:
                if img.mode not in COLOUR_MODES:
                    return None
                if img.size != size:
                    raise SegtoolError(f"PNG is {img.size[0]}x{img.size[1]} but {what} is {size[0]}x{size[1]}", png)
                rgb = np.asarray(img.convert("RGB"), dtype=np.int64)
        except OSError as exc:
            raise SegtoolError(f"unreadable PNG for {what} ({exc})", png) from None
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        table = np.asarray([(r << 16) | (g << 8) | b for r, g, b, _ in self.colors], dtype=np.int64)
        order = np.argsort(table)
        table, values = table[order], np.asarray([c[3] for c in self.colors], dtype=np.int64)[order]
        at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        unknown = table[at] != keys
        if unknown.any():
            y, x = (int(v[0]) for v in np.nonzero(unknown))
            r, g, b = (int(v) for v in rgb[y, x])
            raise SegtoolError(f"{what}: colour ({r}, {g}, {b}) at x={x}, y={y} is not in the label map", png)
        out: npt.NDArray[np.int64] = values[at]
        return out
