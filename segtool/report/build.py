"""One evaluation's report from its result dict: gather, draw, thumbnail, assemble.

Which sections appear follows what the result holds: per-class bars always; PR curves for
instance results (from COCOeval's arrays, passed as ``curves``); the confusion heatmap when
the result has a confusion matrix (semantic always, panoptic and instance with
``--confusion``); error bars with TIDE (instance ``--tide``) or PQ's causes (panoptic
``--errors``); the reliability diagram with ``--calibration``. The CLI asks the evaluation
for what is cheap (docs/report.md); a section the result cannot fill says how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import charts
from .curves import Curve
from .gather import WORST, Gathered, gather
from .page import Section, render_page
from .thumbs import DRAWN, start


@dataclass
class Source:
    """Where the thumbnails are drawn from: the evaluation's ground truth and prediction,
    read as preview reads them (``read_options``: masks, labels, categories, ...)."""

    gt: Path
    pred: Path
    read_options: dict[str, Any] = field(default_factory=dict)
    source_format: str | None = None
    jobs: int = 1


def _class_section(g: Gathered) -> Section:
    title = "Per-class " + "/".join(m.upper() if m != "iou" else "IoU" for m in charts_metrics(g))
    if not g.classes:
        return Section("classes", title, note="no category has a value")
    rows = [(r.name, r.values) for r in g.classes]
    return Section("classes", title, charts.bars(rows, title + " (worst first)"))


def charts_metrics(g: Gathered) -> list[str]:
    """The per-class metrics drawn as bars."""
    return list(g.classes[0].values) if g.classes else []


def sections(g: Gathered, curves: tuple[list[Curve], list[Curve]] | None) -> list[Section]:
    """Every chart section of the report, in reading order."""
    out = [_class_section(g)]
    if curves is not None:
        every, worst = curves
        note = None if every else "no category has ground truth"
        out.append(Section("pr", "PR curves, overall", charts.pr_curves(every, "overall") if every else None, note))
        out.append(
            Section(
                "pr-classes",
                "PR curves per class",
                charts.pr_curves(worst, "lowest-AP classes, IoU .50:.95") if worst else None,
                None if worst else "no category has ground truth",
            )
        )
    if g.confusion is not None:
        labels, counts = g.confusion
        svg = charts.heatmap(labels, counts, "confusion (rows: ground truth)") if labels else None
        out.append(Section("confusion", "Confusion matrix", svg, None if labels else "the matrix is empty"))
    if g.errors is not None:
        rows = [(f"{kind} · {group}", {"points": v}) for group, kinds in g.errors.items() for kind, v in kinds.items()]
        title = "TIDE errors" if g.command == "eval instance" else "PQ errors"
        out.append(Section("errors", title, charts.bars(rows, title)))
    if g.calibration is not None:
        out.append(Section("calibration", "Calibration", charts.calibration(g.calibration, "reliability diagram")))
    return out


def build(
    command: str,
    data: dict[str, Any],
    *,
    curves: tuple[list[Curve], list[Curve]] | None = None,
    source: Source | None = None,
    worst: int = WORST,
    note: str | None = None,
) -> str:
    """The report's HTML text. ``command``: ``eval panoptic|instance|semantic``; ``data``:
    its result dict (with ``per_image`` rows for the worst images); ``source``: where to
    draw their thumbnails (none without it; ``note`` then says why)."""
    g = gather(command, data, worst)
    pending = None
    if source is not None and g.worst:
        ids = [r["image_id"] for r in g.worst][:DRAWN]  # the others listed, not drawn
        pending = start(  # in this process whatever --jobs: the charts take milliseconds, no
            source.gt,  # worker would have anything to overlap with, only its own start to add
            source.pred,
            ids,
            read_options=source.read_options,
            source_format=source.source_format,
            jobs=1,
        )
    shown = sections(g, curves)
    thumbs: dict[Any, str] = {}
    if pending is not None:
        thumbs, note = pending.result()
    return render_page(g, shown, thumbs, note)
