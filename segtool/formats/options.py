"""Options every writer understands, and the small picklable context sent with each image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import views
from ..model import Annotation, Dataset, Sample, category_colors


@dataclass(frozen=True)
class WriteOptions:
    """How to write: the target format and the policies for what it cannot carry as is.

    Attributes:
        target: output format name.
        overlap: policy for overlapping instances going to a disjoint format (``auto``: a
            tool's own painting order where the source has one, else refuse; see
            :func:`segtool.convert.overlap_reading`).
        things_only: drop stuff segments (panoptic → instance).
        mask_encoding: ``rle`` or ``polygon`` for coco-instance output.
        ignore_value: label of void pixels in semantic output.
        palette: write semantic PNGs as palette images coloured by category.
        split_things: semantic thing classes → one instance per connected component.
        precision: decimals of yolo-seg's normalised coordinates.
    """

    target: str
    overlap: str = "auto"
    things_only: bool = False
    mask_encoding: str = "rle"
    ignore_value: int = 255
    palette: bool = False
    split_things: bool = False
    precision: int = 6


@dataclass(frozen=True)
class WriteContext:
    """What a worker needs besides the sample: options and category facts."""

    kind: str
    folder: str
    opts: WriteOptions
    colors: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    thing_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    names: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, ds: Dataset, folder: str, opts: WriteOptions) -> WriteContext:
        """The context for writing ``ds`` with per-image files in ``folder``."""
        return cls(
            ds.kind, folder, opts, category_colors(ds.categories), ds.thing_ids(), {c.id: c.name for c in ds.categories}
        )


Job = tuple[Sample, WriteContext]


def jobs(ds: Dataset, ctx: WriteContext) -> Any:
    """One (sample, context) pair per image, lazily."""
    return ((s, ctx) for s in ds.samples)


def resolve_for_write(ann: Annotation, ctx: WriteContext) -> views.Resolved:
    """The disjoint view a panoptic or semantic writer needs, with instances split if asked."""
    res = views.resolve(ann, ctx.opts.overlap)
    if ctx.kind == "semantic" and ctx.opts.target != "semantic":
        if ctx.opts.split_things:
            res = views.split_things(res, ctx.thing_ids)
        else:
            views.refuse_things(res, ctx.thing_ids, ctx.names, ann.origin)
    return res
