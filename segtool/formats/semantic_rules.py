"""The rules of a semantic label map, written once for the reader and ``validate``.

A label map is a single-channel integer PNG of its image's size whose values are category
ids or the ignore value, and no category may be the ignore value (its pixels would be
ignored). Each problem goes to the caller's error policy (:mod:`segtool.policy`): the reader
stops at the first, validate collects them all.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, png
from ..errors import SegtoolError
from ..masks import DENSE_VALUES
from ..policy import Policy, place

# the PNG modes of a label map, and the dtype of each
INT_MODES = {"L": np.uint8, "P": np.uint8, "I;16": np.uint16, "I;16L": np.uint16, "I;16B": np.uint16, "I": np.int32}


def ignore_rule(category_ids: Collection[int], ignore_value: int, path: Path | str, report: Policy) -> None:
    """No category may have the ignore value as its id: its pixels would be ignored."""
    if ignore_value in category_ids:
        msg = f"category id {ignore_value} equals the ignore value; pass another --ignore-value"
        report("ignore-is-category", msg, str(path))


def label_values(
    present: npt.NDArray[np.int64],
    known: Collection[int],
    ignore_value: int,
    image_id: Any,
    path: str,
    report: Policy,
    *,
    counts: npt.NDArray[np.int64] | None = None,
    negative: int = 0,
) -> None:
    """Every value with pixels (``present``, sorted; ``counts`` of each when known) must be a
    category or the ignore value, and none negative (``negative`` pixels, clipped to 0)."""
    ids = _as_set(known)
    if not negative and all(v in ids or v == ignore_value for v in present.tolist()):
        return  # the usual case, by set look-ups (np.setdiff1d sorts: 0.1 ms an image for mIoU)
    unknown = np.setdiff1d(present[present != ignore_value], np.asarray(known, dtype=np.int64))
    if not unknown.size and not negative:
        return
    shown = ", ".join(map(str, unknown[:8].tolist())) + (" …" if unknown.size > 8 else "")
    what = f"label values {shown}" if unknown.size else ""
    if negative:
        what += (" and " if what else "") + f"{negative} negative pixels"
    pixels = f" ({int(counts[np.isin(present, unknown)].sum()) + negative} px)" if counts is not None else ""
    msg = f"{place(image_id)}: {what} are not categories, nor the ignore value {ignore_value}{pixels}"
    report("unknown-label", msg, path, image_id)


def _as_set(known: Collection[int]) -> AbstractSet[int]:
    """``known`` as a set: a tuple (what the readers hold) made one once."""
    if isinstance(known, AbstractSet):
        return known
    if isinstance(known, tuple):
        return _tuple_set(known)
    return set(known)


@functools.lru_cache(maxsize=8)
def _tuple_set(known: tuple[int, ...]) -> frozenset[int]:
    return frozenset(known)


def read_labels(
    path: str, size: tuple[int, int] | None, what: str, report: Policy, image_id: Any = None, *, fast_only: bool = False
) -> npt.NDArray[Any] | None:
    """The label map at ``path`` as stored (uint8, uint16 or int32 values), checked to be
    ``size`` (width, height) when given and single-channel; or None after ``report`` was
    told why not (and returned). With ``fast_only``, None (no report) for what segtool's
    decoder does not take (not an 8-bit L or P PNG): mIoU's 8-bit path then falls back.

    The one sequence behind the reader and validate's checks, each with its error policy
    (:mod:`segtool.policy`). 8-bit L and P PNGs go through segtool's decoder (~5x faster
    than Pillow); 16-bit, interlaced and other files through Pillow.
    """
    try:
        data = imageio.read_bytes(path)
    except FileNotFoundError:
        report("png-missing", f"missing PNG for {what}", path, image_id)
        return None
    except OSError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc.strerror or exc})", path, image_id)
        return None
    try:
        width, height, mode = png.header(data)
    except ValueError:
        width = height = 0
        mode = ""
    if mode not in ("L", "P"):
        return None if fast_only else _pillow_labels(data, path, size, what, report, image_id)
    if size is not None and (width, height) != size:
        report("png-size", f"PNG is {width}x{height} but {what} is {size[0]}x{size[1]}", path, image_id)
        return None
    try:
        labels = png.decode(data)
    except ValueError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
    if labels is None:  # interlaced
        return None if fast_only else _pillow_labels(data, path, size, what, report, image_id)
    return labels


def _pillow_labels(
    data: bytes, path: str, size: tuple[int, int] | None, what: str, report: Policy, image_id: Any
) -> npt.NDArray[Any] | None:
    """:func:`read_labels` for what Pillow reads: 16-bit, interlaced, not a PNG at all."""
    try:
        with imageio.open_bytes(data, path) as img:
            found, mode = img.size, img.mode
            fits = (size is None or found == size) and mode in INT_MODES
            pixels = np.asarray(img) if fits else None
    except SegtoolError as exc:  # a limit
        report("png-unreadable", f"unreadable PNG for {what} ({exc.message})", path, image_id)
        return None
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        why = str(exc) or type(exc).__name__
        report("png-unreadable", f"unreadable PNG for {what} ({why})", path, image_id)
        return None
    if size is not None and found != size:
        report("png-size", f"PNG is {found[0]}x{found[1]} but {what} is {size[0]}x{size[1]}", path, image_id)
        return None
    if mode not in INT_MODES:
        kind = "non-integer" if mode == "F" else "multi-channel"
        report("label-mode", f"{what}: {kind} label map (mode {mode}); expected L, P, I;16 or I", path, image_id)
        return None
    return pixels


def histogram(labels: npt.NDArray[np.int64], negative: int = 0) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The values of a non-negative label map with pixels, and how many each (``negative``
    pixels were clipped to 0 and are taken off its count). One ``bincount`` for 8- and
    16-bit maps; a sort for a 32-bit map with large values, whose count per value up to
    2^31 would take 16 GB."""
    if int(labels.max(initial=0)) < DENSE_VALUES:
        dense = np.bincount(labels.ravel())
        present, counts = np.flatnonzero(dense), dense[np.flatnonzero(dense)]
    else:
        present, counts = np.unique(labels, return_counts=True)
    if negative:
        counts = counts.copy()
        counts[0] -= negative  # value 0 is present: the clipped pixels are there
        present, counts = present[counts > 0], counts[counts > 0]
    return present, counts
