"""The kernels segtool runs: the compiled ``segtool._kernels`` (segtool/_kernels.c), or its
pure-Python twin ``segtool._purekernels`` (numpy and pycocotools) where the C extension is
absent, as after an install without a C compiler, or when ``SEGTOOL_PURE_PYTHON=1`` asks
for the twin. Both give the same results and raise the same exceptions (tested).

``IMPLEMENTATION`` says which is in use, ``"C"`` or ``"python"``, and ``REASON`` why the
twin is (``""`` for C); ``segtool --version`` prints both. The choice is made once, at
import, and pool workers inherit the environment, so they choose the same. The kernel
functions are this module's attributes, typed by segtool/_kernels.pyi.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING

ENV = "SEGTOOL_PURE_PYTHON"
_KERNELS = (
    "unfilter",
    "pair_counts",
    "pack_rgb",
    "joint_hist8",
    "rle_areas",
    "rle_iou",
    "coco_match",
    "coco_accumulate",
    "poly_areas",
    "poly_rles",
    "parse_points",
    "scan_results",
    "coco_bootstrap",
    "cvat_polygons",
    "scan_annotations",
    "coco_image",
    "scan_panoptic",
)


def _choose() -> tuple[object, str, str]:
    """(the kernel module, IMPLEMENTATION, REASON)."""
    if _os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        from . import _purekernels

        return _purekernels, "python", f"{ENV}={_os.environ[ENV]}"
    name = f"{__package__}._kernels"
    try:
        native = _importlib.import_module(name)
    except ImportError as exc:
        from . import _purekernels

        if isinstance(exc, ModuleNotFoundError) and exc.name == name:  # no compiler at install time
            return _purekernels, "python", f"the C extension {name} is not built"
        return _purekernels, "python", f"the C extension {name} does not load ({exc})"  # another Python's build
    missing = [k for k in _KERNELS if not callable(getattr(native, k, None))]
    if missing:  # a stale build from before a kernel was added
        from . import _purekernels

        return _purekernels, "python", f"the C extension {name} is out of date (no {', '.join(missing)})"
    return native, "C", ""


_impl, IMPLEMENTATION, REASON = _choose()

if TYPE_CHECKING:
    from ._kernels import (
        coco_accumulate,
        coco_bootstrap,
        coco_image,
        coco_match,
        cvat_polygons,
        joint_hist8,
        pack_rgb,
        pair_counts,
        parse_points,
        poly_areas,
        poly_rles,
        rle_areas,
        rle_iou,
        scan_annotations,
        scan_panoptic,
        scan_results,
        unfilter,
    )
else:
    unfilter = _impl.unfilter
    pair_counts = _impl.pair_counts
    pack_rgb = _impl.pack_rgb
    joint_hist8 = _impl.joint_hist8
    rle_areas = _impl.rle_areas
    rle_iou = _impl.rle_iou
    coco_match = _impl.coco_match
    coco_accumulate = _impl.coco_accumulate
    poly_areas = _impl.poly_areas
    poly_rles = _impl.poly_rles
    parse_points = _impl.parse_points
    scan_results = _impl.scan_results
    coco_bootstrap = _impl.coco_bootstrap
    cvat_polygons = _impl.cvat_polygons
    scan_annotations = _impl.scan_annotations
    coco_image = _impl.coco_image
    scan_panoptic = _impl.scan_panoptic

__all__ = [
    "ENV",
    "IMPLEMENTATION",
    "REASON",
    "coco_accumulate",
    "coco_bootstrap",
    "coco_image",
    "coco_match",
    "cvat_polygons",
    "joint_hist8",
    "pack_rgb",
    "pair_counts",
    "parse_points",
    "poly_areas",
    "poly_rles",
    "rle_areas",
    "rle_iou",
    "scan_annotations",
    "scan_panoptic",
    "scan_results",
    "unfilter",
]
