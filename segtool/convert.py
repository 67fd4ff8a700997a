"""Write a dataset in any format, atomically, and summarise what was written, dropped or changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import formats
from .atomic import atomic_outputs, dataset_inputs, plan
from .formats.options import WriteOptions
from .model import Dataset
from .parallel import imap, jobs_for

Progress = Callable[[int], None]


@dataclass
class WriteSummary:
    """What a conversion wrote, and what it dropped or changed, with the reasons."""

    source_format: str
    target_format: str
    images: int = 0
    segments: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "from": self.source_format,
            "to": self.target_format,
            "images": self.images,
            "segments": self.segments,
            "dropped": dict(sorted(self.dropped.items())),
            "changed": dict(sorted(self.changed.items())),
            "outputs": self.outputs,
        }


def write(
    ds: Dataset,
    dst: Path | str,
    opts: WriteOptions,
    *,
    jobs: int = 1,
    overwrite: bool = False,
    masks: Path | None = None,
    progress: Progress | None = None,
    source_format: str = "",
) -> WriteSummary:
    """Write ``ds`` to ``dst`` as ``opts.target``; nothing is left behind if it fails.

    Example:
        >>> ds = segtool.read("panoptic_val.json")
        >>> segtool.write(ds, "instances_val.json", WriteOptions("coco-instance"))
    """
    dst = Path(dst)
    fmt = formats.get(opts.target)
    targets = fmt.targets(dst)
    plan(targets, dataset_inputs(ds.path, masks), overwrite=overwrite)

    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for result in imap(fn, items, jobs=jobs_for(len(ds.samples), jobs)):
            if progress is not None:
                progress(1)
            yield result

    with atomic_outputs(*targets, overwrite=overwrite) as tmp:
        results = fmt.write(ds, dst, tmp, opts, run)
    summary = WriteSummary(source_format, opts.target, len(ds.samples), outputs=[str(t) for t in targets])
    for r in results:
        summary.segments += r.segments
        summary.dropped.update(r.dropped)
        summary.changed.update(r.changed)
    summary.dropped = +summary.dropped
    summary.changed = +summary.changed
    return summary


def convert(
    src: Path | str,
    dst: Path | str,
    opts: WriteOptions,
    *,
    source_format: str | None = None,
    read_options: dict[str, Any] | None = None,
    **write_kwargs: Any,
) -> WriteSummary:
    """Read ``src`` (format detected unless given) and write it to ``dst`` as ``opts.target``."""
    name = source_format or formats.detect(Path(src))
    ds = formats.read(src, name, **(read_options or {}))
    return write(ds, dst, opts, source_format=name, masks=(read_options or {}).get("masks"), **write_kwargs)
