"""segtool: build, convert, validate, score and preview image-segmentation datasets.

The public API, which the CLI itself uses (docs/api.md):

    >>> import segtool
    >>> ds = segtool.read("sample_data/panoptic_examples.json")
    >>> segtool.write(ds, "out/instances.json", "coco-instance")
    >>> segtool.validate("out/instances.json")
    >>> segtool.evaluate_panoptic("gt.json", "pred.json", jobs=2)
"""

from __future__ import annotations

from pathlib import Path as _Path

from . import interrupts as _interrupts

if _interrupts.launched_as_cli():  # before the heavy imports below: Ctrl-C there is one line too
    _interrupts.quiet_while_starting()

from .checks import CheckOptions, Finding, Report
from .convert import WriteSummary, convert, write
from .errors import FormatError, OutputExistsError, OverlapError, SegtoolError
from .evaluate import evaluate_instance, evaluate_panoptic, evaluate_semantic, pq_compute
from .fix import FixSummary
from .formats import detect, format_names
from .formats.options import WriteOptions
from .metrics.instance_result import InstanceResult
from .metrics.panoptic_result import PanopticResult
from .metrics.semantic import SemanticResult
from .model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from .validation import validate

__version__ = "0.1.0"


def read(path: str | _Path, format: str | None = None, **options: object) -> Dataset:
    """Read the dataset at ``path`` in ``format`` (detected when None). ``options`` are the
    reader's: ``masks`` (a coco-panoptic PNG folder), ``categories`` and ``ignore_value``
    (semantic); options a format does not take are ignored.

    Example:
        >>> ds = segtool.read("sample_data/panoptic_examples.json")
        >>> len(ds.samples), ds.kind
    """
    from .formats import read as _read

    return _read(_Path(path), format, **options)


__all__ = [
    "Annotation",
    "Category",
    "CheckOptions",
    "Dataset",
    "Finding",
    "FixSummary",
    "FormatError",
    "ImageInfo",
    "InstanceResult",
    "OutputExistsError",
    "OverlapError",
    "PanopticResult",
    "Report",
    "Sample",
    "Segments",
    "SegtoolError",
    "SemanticResult",
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
    "validate",
    "write",
]
