"""Stable colors: a category keeps its color in every image and every run; instances of a
thing category get distinct shades of it, so neighbours separate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..model import Segments

# shade factors for the 1st, 2nd, … instance of a category in one image: >1 lightens, <1 darkens
_SHADES = np.array([1.0, 0.62, 1.38, 0.8, 1.2, 0.5, 1.55, 0.7, 1.1, 0.9], dtype=np.float32)
VOID = np.array([128, 128, 128], dtype=np.uint8)
TP = np.array([46, 204, 113], dtype=np.uint8)  # matched: green
FP = np.array([231, 60, 60], dtype=np.uint8)  # false positive: red
FN = np.array([52, 120, 246], dtype=np.uint8)  # false negative: blue


def shade(color: npt.NDArray[np.float32], factor: float) -> npt.NDArray[np.float32]:
    """Darken (factor < 1) toward black or lighten (> 1) toward white, keeping the hue."""
    if factor <= 1:
        return color * factor
    return color + (255 - color) * (factor - 1)


def segment_colors(
    segs: Segments, category_colors: dict[int, tuple[int, int, int]], things: set[int]
) -> npt.NDArray[np.uint8]:
    """One color per segment: its category's, shaded by its rank among the image's instances
    of that category (stuff and the first instance keep the category color itself)."""
    out = np.zeros((len(segs), 3), dtype=np.float32)
    seen: dict[int, int] = {}
    for k, cid in enumerate(segs.category_id.tolist()):
        base = np.asarray(category_colors.get(cid, (200, 200, 200)), dtype=np.float32)
        rank = seen.get(cid, 0)
        seen[cid] = rank + 1
        out[k] = shade(base, float(_SHADES[rank % len(_SHADES)])) if cid in things else base
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# the errors panel's legend (renders and gallery): each colour, what it marks, and which covers
# which where a prediction and a ground-truth segment overlap (render.errors.error_view's order)
ERROR_LEGEND = (
    (TP, "green: matched prediction"),
    (FN, "blue: missed ground truth, drawn over green"),
    (FP, "red: false positive, drawn over blue and green"),
)
