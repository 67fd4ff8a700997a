"""What ``validate`` (and ``--fix``) may be told, whichever format it checks: each format's
checks take the options that concern it and ignore the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tolerance import Tolerance


@dataclass(frozen=True)
class CheckOptions:
    """``masks``: a coco-panoptic PNG folder other than the JSON's sibling; ``categories``:
    a semantic folder's categories file; ``ignore_value``: a label map's void value;
    ``images_dir``: the photos, checked for existence and size; ``max_unlabeled``: the
    unlabeled fraction above which an image is a warning (0: every image reported as info);
    ``max_overlap``: the IoU above which two instances are reported; ``tolerance``: how far a
    stored area or bbox may be from its mask before it is an error (a :class:`Tolerance`, or
    what :meth:`Tolerance.of` reads: ``0`` is strict)."""

    masks: Path | None = None
    categories: Path | None = None
    ignore_value: int = 255
    images_dir: Path | None = None
    max_unlabeled: float = 0.0
    max_overlap: float = 0.0
    tolerance: Tolerance = field(default_factory=Tolerance)
    labels: Path | None = None  # a label map (segtool.labelmap) describing label PNGs' values

    def __post_init__(self) -> None:
        value: Any = self.tolerance  # a number or "PX,FRACTION" from a library caller
        object.__setattr__(self, "tolerance", Tolerance.of(value))
