"""The report's charts as inline SVG, drawn by matplotlib (a well-kept plotting library,
the optional extra ``segtool[report]``). Each function returns one ``<svg>`` element's text.

Figures are made with ``matplotlib.figure.Figure`` and the SVG canvas directly (no pyplot:
no global state, no GUI backend); text stays text (``svg.fonttype: none``), which keeps the
files small and the numbers searchable, and ``svg.hashsalt`` plus no date make the output the
same on every run.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError

INSTALL = "--report draws its charts with matplotlib: pip install 'segtool[report]'"
RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "segtool",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
TITLES = {"pq": "PQ", "sq": "SQ", "rq": "RQ", "iou": "IoU"}  # result keys as the tables name them
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _matplotlib() -> Any:
    """matplotlib, or one line naming the extra that installs it."""
    try:
        import matplotlib
    except ImportError:
        raise SegtoolError(INSTALL) from None
    return matplotlib


def _styled(fn: Callable[..., str]) -> Callable[..., str]:
    """Draw and save inside the report's style (``RC``), leaving the caller's matplotlib
    settings as they were."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        with _matplotlib().rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float, left: float = 0.7, bottom: float = 0.55, top: float = 0.4) -> Any:
    """A new figure on the SVG canvas (no pyplot: no global figure list, no GUI), its axes
    ``left``/``bottom`` inches from the edges: fixed margins, as constrained layout costs
    a second per chart of 100 labelled classes."""
    _matplotlib()
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, bottom=bottom / height, right=1 - 0.2 / width, top=1 - top / height)
    FigureCanvasSVG(fig)
    return fig


def _label_inches(labels: Sequence[str], size: float) -> float:
    """Room for the longest of ``labels`` at ``size`` points (~0.6 em a character)."""
    return 0.15 + 0.6 * size / 72 * max((len(s) for s in labels), default=1)


def _svg(fig: Any) -> str:
    """The figure as one ``<svg>`` element (no XML prolog or doctype: it goes inline)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


@_styled
def bars(rows: Sequence[tuple[str, dict[str, float]]], title: str, scale: float = 1.0) -> str:
    """Horizontal bars: one row per class (or kind of error), one panel per metric side by
    side; values times ``scale``, written at the bars' ends when there are few rows
    (text is most of an SVG's drawing time)."""
    metrics = list(rows[0][1]) if rows else []
    names = [r[0] for r in rows]
    left = _label_inches(names, 8)
    panel = 2.6 if len(metrics) > 1 else 5.0
    height = 1.2 + 0.17 * max(1, len(rows))
    fig = _figure(left + 0.3 + panel * max(1, len(metrics)), height, left=left, top=0.65)
    axes = fig.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    y = np.arange(len(rows))
    from matplotlib.collections import PolyCollection

    for k, (ax, m) in enumerate(zip(axes, metrics, strict=False)):
        values = [r[1][m] * scale for r in rows]
        # one collection, not barh's patch per bar (300 patches ~0.2 s); limits as barh's:
        # the data with margins, the axis starting at 0 (a sticky edge)
        ends = np.asarray(values, np.float64)
        lo, hi = (y - 0.375)[:, None], (y + 0.375)[:, None]
        corners = np.stack([np.zeros_like(ends), ends, ends, np.zeros_like(ends)], axis=1)[:, :, None]
        verts = np.concatenate([corners, np.concatenate([lo, lo, hi, hi], axis=1)[:, :, None]], axis=2)
        bars = PolyCollection(list(verts), facecolors=COLORS[k % len(COLORS)], edgecolors="none", linewidths=0)
        bars.sticky_edges.x.append(0.0)
        ax.add_collection(bars, autolim=True)
        ax.autoscale_view()
        ax.set_title(TITLES.get(m, m), fontsize=9)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_yticks([])
        if len(rows) <= 30:
            for p, v in zip(y, values, strict=True):
                ax.text(v, p, f" {v:.3f}" if scale == 1 else f" {v:.2f}", va="center", fontsize=7)
    # names as plain text, not tick labels: a tick is a dozen artists, 100 of them ~1 s
    for p, name in zip(y, names, strict=True):
        axes[0].text(-0.01, p, name, transform=axes[0].get_yaxis_transform(), ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")  # above the panels' titles
    return _svg(fig)


@_styled
def pr_curves(curves: Sequence[tuple[str, npt.NDArray[np.float64]]], title: str) -> str:
    """Precision against COCO's 101 recall points, one line per (label, precision) pair;
    the first is drawn thick (the overall curve)."""
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    recall = np.linspace(0.0, 1.0, 101)
    for k, (label, precision) in enumerate(curves):
        ax.plot(recall, precision, label=label, color=COLORS[k % len(COLORS)], linewidth=2.2 if k == 0 else 1.1)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
    ax.legend(loc="lower left", fontsize=7)
    return _svg(fig)


@_styled
def heatmap(labels: Sequence[str], counts: Sequence[Sequence[int]], title: str) -> str:
    """The confusion matrix, each ground-truth row normalised to its total (so a rare
    class is as visible as a common one)."""
    m = np.asarray(counts, dtype=np.float64).reshape(len(labels), len(labels))
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    room = _label_inches(labels, 6) + 0.3
    side = min(9.0, 1.5 + 0.11 * len(labels))
    fig = _figure(side + room + 1.2, side + room, left=room, bottom=room)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    # names as plain text, not tick labels: a tick is a dozen artists, 2 x 100 of them ~0.5 s
    ax.set_xticks([])
    ax.set_yticks([])
    for p, name in enumerate(labels):
        ax.text(p, -0.005, name, transform=ax.get_xaxis_transform(), rotation=90, ha="center", va="top", fontsize=6)
        ax.text(-0.005, p, name, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=6)
    names = (room - 0.3) * 72  # the names' room, in points: the axis labels go beyond it
    ax.set(title=title)
    ax.set_xlabel("predicted", labelpad=names)
    ax.set_ylabel("ground truth", labelpad=names)
    fig.colorbar(image, ax=ax, shrink=0.6, label="share of the row")
    return _svg(fig)


@_styled
def calibration(bins: Sequence[dict[str, Any]], title: str) -> str:
    """The reliability diagram: each score bin's accuracy as a bar over its range, the
    diagonal of perfect calibration, and its mean confidence as a point."""
    fig = _figure(5.0, 4.2)
    ax = fig.add_subplot()
    used = [b for b in bins if b["count"]]
    ax.bar(
        [b["lo"] for b in used],
        [b["accuracy"] for b in used],
        width=[b["hi"] - b["lo"] for b in used],
        align="edge",
        color=COLORS[0],
        edgecolor="white",
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="#555555", linewidth=1, label="perfect calibration")
    ax.plot([b["confidence"] for b in used], [b["accuracy"] for b in used], "o", color=COLORS[1], label="confidence")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="score", ylabel="accuracy (TP at IoU 0.5)", title=title)
    ax.legend(loc="upper left", fontsize=7)
    return _svg(fig)
