"""segtool: build, convert, validate, score and preview image-segmentation datasets.

Example:
    >>> import segtool
    >>> ds = segtool.read("sample_data/panoptic_examples.json")
    >>> segtool.write(ds, "out/instances.json", segtool.WriteOptions("coco-instance"))
"""

from __future__ import annotations

from . import interrupts as _interrupts

if _interrupts.launched_as_cli():  # before the heavy imports below: Ctrl-C there is one line too
    _interrupts.quiet_while_starting()

from .convert import WriteSummary, convert, write
from .errors import FormatError, OutputExistsError, OverlapError, SegtoolError
from .evaluate import evaluate_instance, evaluate_panoptic, evaluate_semantic, pq_compute
from .formats import detect, format_names, read
from .formats.options import WriteOptions
from .model import Annotation, Category, Dataset, ImageInfo, Sample, Segments

__version__ = "0.1.0"

__all__ = [
    "Annotation",
    "Category",
    "Dataset",
    "FormatError",
    "ImageInfo",
    "OutputExistsError",
    "OverlapError",
    "Sample",
    "Segments",
    "SegtoolError",
    "WriteOptions",
    "WriteSummary",
    "__version__",
    "convert",
    "detect",
    "evaluate_instance",
    "evaluate_panoptic",
    "evaluate_semantic",
    "format_names",
    "pq_compute",
    "read",
    "write",
]
