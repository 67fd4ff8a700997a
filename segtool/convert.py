"""Write a dataset in any format, atomically, and summarise what was written, dropped or changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import formats
from .atomic import atomic_outputs, dataset_inputs, plan
from .errors import SegtoolError
from .formats.options import WriteOptions
from .model import Dataset
from .parallel import imap, jobs_for
from .views import OVERLAP_POLICIES

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


def _options(target: str | WriteOptions, options: dict[str, Any]) -> WriteOptions:
    """A format name and WriteOptions fields, or WriteOptions as they are."""
    if isinstance(target, WriteOptions):
        if options:
            raise TypeError(f"write options given twice: WriteOptions and {', '.join(options)}")
        return target
    known = set(WriteOptions.__dataclass_fields__) - {"target"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown write option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return WriteOptions(target, **options)


def write(
    ds: Dataset,
    dst: Path | str,
    format: str | WriteOptions,
    *,
    jobs: int = 1,
    overwrite: bool = False,
    masks: Path | None = None,
    progress: Progress | None = None,
    source_format: str = "",
    **options: Any,
) -> WriteSummary:
    """Write ``ds`` to ``dst`` as ``format``; nothing is left behind if it fails.

    ``options`` are :class:`WriteOptions` fields (``overlap``, ``mask_encoding`` …), or
    ``format`` is a WriteOptions.

    Example:
        >>> ds = segtool.read("panoptic_val.json")
        >>> segtool.write(ds, "instances_val.json", "coco-instance", mask_encoding="polygon")
    """
    opts = _options(format, options)
    if opts.overlap == "order":
        raise SegtoolError("overlap 'order' is decided when reading: read the source with flatten=True")
    if opts.overlap == "auto":  # the reading had its say (see overlap_reading): overlaps left are refused
        opts = replace(opts, overlap="error")
    dst = Path(dst)
    targets = formats.targets(opts.target, dst)
    plan(targets, dataset_inputs(ds.path, masks), overwrite=overwrite)

    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for result in imap(fn, items, jobs=jobs_for(len(ds.samples), jobs)):
            if progress is not None:
                progress(1)
            yield result

    with atomic_outputs(*targets, overwrite=overwrite) as tmp:
        results = formats.get(opts.target).write(ds, dst, tmp, opts, run)
    summary = WriteSummary(source_format, opts.target, len(ds.samples), outputs=[str(t) for t in targets])
    for r in results:
        summary.segments += r.segments
        summary.dropped.update(r.dropped)
        summary.changed.update(r.changed)
    summary.dropped = +summary.dropped
    summary.changed = +summary.changed
    return summary


OVERLAP_CHOICES = ("auto", "order", *OVERLAP_POLICIES)


def overlap_reading(source: str, target: str, overlap: str) -> tuple[bool, str]:
    """``(flatten, policy)`` for ``--overlap``: ``order`` paints a tool's shapes in the
    tool's own order (LabelMe: later on top; CVAT: z_order, then file order), as the tool's
    own exports do; ``auto`` does that when the source has such an order and the target
    cannot hold overlaps, and refuses overlaps otherwise; any other policy resolves them."""
    painted = formats.paint_order(source) is not None
    if overlap == "order" and not painted:
        others = "|".join(OVERLAP_POLICIES[1:])
        raise SegtoolError(f"--overlap order: {source} has no painting order of its own; choose {others}")
    if overlap == "order" or (overlap == "auto" and painted and not formats.holds_overlaps(target)):
        return True, "error"
    return False, "error" if overlap == "auto" else overlap


def convert(
    src: Path | str,
    dst: Path | str,
    format: str | WriteOptions,
    *,
    source_format: str | None = None,
    read_options: dict[str, Any] | None = None,
    jobs: int = 1,
    overwrite: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> WriteSummary:
    """Read ``src`` (format detected unless given) and write it to ``dst`` as ``format``
    (with :class:`WriteOptions` fields as ``options``, as :func:`write`).

    Example:
        >>> segtool.convert("panoptic_val.json", "labels/", "semantic", palette=True)
    """
    name = source_format or formats.detect(Path(src))
    opts = _options(format, options)
    reading = dict(read_options or {})
    flatten, policy = overlap_reading(name, opts.target, opts.overlap)
    if flatten:
        reading["flatten"] = True
    ds = formats.read(src, name, **reading)
    return write(
        ds,
        dst,
        replace(opts, overlap=policy),
        source_format=name,
        masks=reading.get("masks"),
        jobs=jobs,
        overwrite=overwrite,
        progress=progress,
    )
