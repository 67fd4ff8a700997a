"""The pure-Python twin of ``segtool._kernels`` (segtool/_kernels.c): numpy, and pycocotools
for mask IoU.

Used where the C extension was not built (no compiler at install time) or when
``SEGTOOL_PURE_PYTHON=1`` asks for it; :mod:`segtool.kernels` chooses. Every function takes
the same arguments as its C twin, checks them in the same order with the same exceptions
(element type, layout, writability, sizes: ``ValueError``; a non-buffer: ``TypeError``),
writes the same values into the same output buffers and returns the same result; the tests
(tests/test_kernels_twin.py) compare the two on generated inputs, exactly.

The twin is a package by what each part owns: ``_args`` (the buffer and argument checks all
kernels share), ``png`` (``unfilter``), ``pixels`` (``pack_rgb``, ``pair_counts``,
``joint_hist8``), ``rle`` (``rle_areas``, ``rle_iou``), ``results``, ``annotations`` and ``panoptic``
(``scan_results``, ``scan_annotations``, ``scan_panoptic``), ``poly`` (``poly_areas``, ``poly_rles``, ``parse_points``), ``cvat``
(``cvat_polygons``), ``coco``
(``coco_match``, ``coco_accumulate``) and ``bootstrap`` (``coco_bootstrap``); each module's docstring says how it turns the sequential loops of
the C file into whole-array work.
"""

from __future__ import annotations

from .annotations import scan_annotations
from .bootstrap import coco_bootstrap
from .coco import coco_accumulate, coco_match
from .cvat import cvat_polygons
from .image import coco_image
from .panoptic import scan_panoptic
from .pixels import joint_hist8, pack_rgb, pair_counts
from .png import unfilter
from .poly import parse_points, poly_areas, poly_rles
from .results import scan_results
from .rle import _pair_iou as _pair_iou  # the step-for-step IoU (tests compare it with pycocotools)
from .rle import rle_areas, rle_iou

__all__ = [
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
