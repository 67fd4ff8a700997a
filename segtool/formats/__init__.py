"""The format registry: detect, read and write any known format through the canonical model.

A format is a module with ``NAME``, ``detect(path) -> Detection``, ``read(path, **opts)``,
``targets(dst, masks)`` and ``write(ds, dst, tmp, opts, run)``. The registry is a plain dict.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import FormatError
from ..model import Dataset
from . import coco_instance, coco_panoptic, semantic
from .jsonstream import sketch

FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (coco_panoptic, coco_instance, semantic)}


def format_names() -> list[str]:
    """Format names as the CLI spells them."""
    return list(FORMATS)


def detect(path: Path) -> str:
    """The one format that claims ``path``; otherwise an error listing what was considered."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    if path.is_file() and path.suffix.lower() == ".json":
        sketch(path)  # a broken JSON file is reported as such, not as "unknown format"
    found = {name: mod.detect(path) for name, mod in FORMATS.items()}
    for level in ("strong", "weak"):
        hits = [n for n, d in found.items() if d.confidence == level]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise FormatError(f"ambiguous format: {', '.join(hits)} all match; pass --from", str(path))
    why = "; ".join(f"{n}: {d.reason}" for n, d in found.items())
    raise FormatError(f"unknown format ({why}); pass --from", str(path))


def get(name: str) -> ModuleType:
    """The format module called ``name``."""
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]


def read(path: Path | str, fmt: str | None = None, **opts: Any) -> Dataset:
    """Read a dataset in ``fmt`` (detected when ``None``); options a format lacks are ignored."""
    path = Path(path)
    name = fmt or detect(path)
    return get(name).read(path, **{k: v for k, v in opts.items() if v is not None})
