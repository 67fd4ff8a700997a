"""The report's charts as inline SVG, written directly: each function returns one ``<svg>``
element's text. No plotting library: importing matplotlib took ~0.4 s of CPU, more than half
of what a report added to an evaluation of 1,000 images (issue 14's budget is +50%), for
charts that are rectangles, lines and text. Text stays text (small files, searchable
numbers), names are escaped as the page escapes them, and the output is the same on every
run (no ids, dates or random salts).

Coordinates are pixels; the page scales each chart to its width (``max-width: 100%``).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..render.gallery import text as escaped

TITLES = {"pq": "PQ", "sq": "SQ", "rq": "RQ", "iou": "IoU"}  # result keys as the tables name them
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
FONT = 'font-family="system-ui,sans-serif"'
ROW = 14  # pixels a bar's row
CHAR = 0.6  # a character's width, in font sizes (room for names)
# matplotlib's "Blues" at 0, .25, .5, .75 and 1, linearly between: the heatmap's colors
BLUES = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def _f(x: float) -> str:
    """A coordinate: one decimal, no trailing zeros."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, parts: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" {FONT} font-size="11">{"".join(parts)}</svg>'
    )


def _text(x: float, y: float, value: object, size: float = 11, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" text-anchor="{anchor}" '
        f'dominant-baseline="middle"{extra}>{escaped(value)}</text>'
    )


def _line(x0: float, y0: float, x1: float, y1: float, color: str = "#333", extra: str = "") -> str:
    return f'<line x1="{_f(x0)}" y1="{_f(y0)}" x2="{_f(x1)}" y2="{_f(y1)}" stroke="{color}"{extra}/>'


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" fill="{fill}"{extra}/>'


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values from ``lo`` to ``hi`` (steps of 1, 2 or 5 times a power of ten)."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _finite(v: Any) -> float:
    x = float(v)
    return x if math.isfinite(x) else 0.0


def bars(rows: Sequence[tuple[str, dict[str, float]]], title: str, scale: float = 1.0) -> str:
    """Horizontal bars: one row per class (or kind of error), one panel per metric side by
    side, each from 0 to its largest value; values times ``scale``, written at the bars'
    ends when there are few rows."""
    metrics = list(rows[0][1]) if rows else []
    names = [r[0] for r in rows]
    left = 12 + CHAR * 10 * max((len(n) for n in names), default=1)
    panel = 240.0 if len(metrics) > 1 else 460.0
    top, gap = 44.0, 56.0
    height = top + ROW * max(1, len(rows)) + 30
    width = left + (panel + gap) * max(1, len(metrics))
    out = [_text(width / 2, 14, title, 13, "middle")]
    for i, name in enumerate(names):
        out.append(_text(left - 6, top + ROW * (i + 0.5), name, 10, "end"))
    for k, m in enumerate(metrics):
        values = [_finite(r[1][m]) * scale for r in rows]
        lo, hi = min(0.0, *values), max(0.0, *values)
        hi = hi if hi > lo else lo + 1
        x0 = left + k * (panel + gap)

        def x(v: float, x0: float = x0, lo: float = lo, hi: float = hi) -> float:
            return x0 + (v - lo) / (hi - lo) * panel

        out.append(_text(x0 + panel / 2, 32, TITLES.get(m, m), 11, "middle"))
        color = COLORS[k % len(COLORS)]
        for i, v in enumerate(values):
            a, b = sorted((x(0.0), x(v)))
            out.append(_rect(a, top + ROW * i + 2, b - a, ROW - 4, color))
            if len(rows) <= 30:
                shown = f"{v:.3f}" if scale == 1 else f"{v:.2f}"
                out.append(_text(max(a, b) + 3, top + ROW * (i + 0.5), shown, 9))
        bottom = top + ROW * max(1, len(rows))
        out.append(_line(x(0.0), top, x(0.0), bottom))
        for t in ticks(lo, hi):
            out.append(_line(x(t), bottom, x(t), bottom + 4))
            out.append(_text(x(t), bottom + 14, f"{t:g}", 9, "middle"))
    return _svg(width, height, out)


def _frame(x0: float, y0: float, w: float, h: float, xlabel: str, ylabel: str) -> list[str]:
    """Axes of a unit square plot: box, ticks at 0, .2, ..., 1 and labels."""
    out = [_rect(x0, y0, w, h, "none", ' stroke="#333"')]
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(_line(x0 + t * w, y0 + h, x0 + t * w, y0 + h + 4))
        out.append(_text(x0 + t * w, y0 + h + 14, f"{t:g}", 9, "middle"))
        out.append(_line(x0 - 4, y0 + h - t * h, x0, y0 + h - t * h))
        out.append(_text(x0 - 6, y0 + h - t * h, f"{t:g}", 9, "end"))
    out.append(_text(x0 + w / 2, y0 + h + 30, xlabel, 11, "middle"))
    ty = y0 + h / 2
    out.append(_text(x0 - 34, ty, ylabel, 11, "middle", f' transform="rotate(-90 {_f(x0 - 34)} {_f(ty)})"'))
    return out


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    """Entries (mark, label) stacked down from (x, y), on a white box."""
    width = 30 + CHAR * 9 * max((len(label) for _, label in items), default=1)
    out = [_rect(x, y, width, 6 + 13 * len(items), "white", ' stroke="#ccc" fill-opacity="0.85"')]
    for i, (mark, label) in enumerate(items):
        cy = y + 9.5 + 13 * i
        out.append(mark.format(x=_f(x + 5), cx=_f(x + 12), x2=_f(x + 19), y=_f(cy)))
        out.append(_text(x + 24, cy, label, 9))
    return out


PLOT = (56.0, 34.0, 420.0, 300.0)  # a unit-square plot's left, top, width, height


def pr_curves(curves: Sequence[tuple[str, npt.NDArray[np.float64]]], title: str) -> str:
    """Precision against COCO's 101 recall points, one line per (label, precision) pair;
    the first is drawn thick (the overall curve)."""
    x0, y0, w, h = PLOT
    out = [_text(x0 + w / 2, 16, title, 13, "middle"), *_frame(x0, y0, w, h, "recall", "precision")]
    marks = []
    for k, (label, precision) in enumerate(curves):
        p = np.clip(np.nan_to_num(np.asarray(precision, np.float64)), 0.0, 1.0)
        r = np.linspace(0.0, 1.0, len(p))
        points = " ".join(f"{_f(x0 + a * w)},{_f(y0 + h - b * h)}" for a, b in zip(r.tolist(), p.tolist(), strict=True))
        color, stroke = COLORS[k % len(COLORS)], 2.2 if k == 0 else 1.1
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{stroke}"/>')
        marks.append(
            (f'<line x1="{{x}}" y1="{{y}}" x2="{{x2}}" y2="{{y}}" stroke="{color}" stroke-width="{stroke}"/>', label)
        )
    out += _legend(x0 + 6, y0 + h - 10 - 13 * len(marks), marks)
    return _svg(x0 + w + 20, y0 + h + 44, out)


def blues(share: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """Colors of shares in [0, 1]: linear between :data:`BLUES`' five colors."""
    stops = np.linspace(0.0, 1.0, len(BLUES))
    table = np.asarray(BLUES, np.float64)
    s = np.clip(share, 0.0, 1.0)
    rgb = np.stack([np.interp(s, stops, table[:, c]) for c in range(3)], axis=-1)
    return np.rint(rgb).astype(np.uint8)


def _png(rgb: npt.NDArray[np.uint8]) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image(x: float, y: float, w: float, h: float, rgb: npt.NDArray[np.uint8]) -> str:
    """A pixel grid stretched over (x, y, w, h), its pixels kept square-edged."""
    return (
        f'<image x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="{_png(rgb)}"/>'
    )


def heatmap(labels: Sequence[str], counts: Sequence[Sequence[int]], title: str) -> str:
    """The confusion matrix, each ground-truth row normalised to its total (so a rare
    class is as visible as a common one): one pixel a cell, as a PNG stretched over the grid."""
    n = len(labels)
    m = np.asarray(counts, dtype=np.float64).reshape(n, n)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    cell = max(3.0, min(16.0, 600.0 / max(n, 1)))
    size = max(6.0, min(10.0, cell - 1))
    room = 10 + CHAR * size * max((len(s) for s in labels), default=1)
    x0, y0, side = room + 24, 30.0, cell * n
    out = [_text(x0 + side / 2, 14, title, 13, "middle"), _image(x0, y0, side, side, blues(share))]
    for p, name in enumerate(labels):
        c = x0 + cell * (p + 0.5)
        out.append(_text(x0 - 4, y0 + cell * (p + 0.5), name, size, "end"))
        out.append(_text(c, y0 + side + 4, name, size, "end", f' transform="rotate(-90 {_f(c)} {_f(y0 + side + 4)})"'))
    out.append(_text(x0 + side / 2, y0 + side + room + 14, "predicted", 11, "middle"))
    out.append(
        _text(12, y0 + side / 2, "ground truth", 11, "middle", f' transform="rotate(-90 12 {_f(y0 + side / 2)})"')
    )
    bar_x, bar_h = x0 + side + 24, min(side, 200.0)
    ramp = blues(np.linspace(1.0, 0.0, 64))[:, None, :]
    out.append(_image(bar_x, y0, 12, bar_h, ramp))
    for t in (0.0, 0.5, 1.0):
        out.append(_text(bar_x + 16, y0 + bar_h * (1 - t), f"{t:g}", 9))
    out.append(_text(bar_x + 16, y0 + bar_h + 14, "share of the row", 9))
    return _svg(bar_x + 110, y0 + side + room + 26, out)


def calibration(bins: Sequence[dict[str, Any]], title: str) -> str:
    """The reliability diagram: each score bin's accuracy as a bar over its range, the
    diagonal of perfect calibration, and its mean confidence as a point."""
    x0, y0, w, h = PLOT
    out = [_text(x0 + w / 2, 16, title, 13, "middle")]
    used = [b for b in bins if b["count"]]
    for b in used:
        lo, hi, acc = _finite(b["lo"]), _finite(b["hi"]), _finite(b["accuracy"])
        out.append(_rect(x0 + lo * w, y0 + h - acc * h, (hi - lo) * w, acc * h, COLORS[0], ' stroke="white"'))
    out.append(_line(x0, y0 + h, x0 + w, y0, "#555", ' stroke-dasharray="5 3"'))
    for b in used:
        cx, cy = x0 + _finite(b["confidence"]) * w, y0 + h - _finite(b["accuracy"]) * h
        out.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="3.5" fill="{COLORS[1]}"/>')
    out += _frame(x0, y0, w, h, "score", "accuracy (TP at IoU 0.5)")
    marks = [
        (
            f'<rect x="{{x}}" y="{{y}}" width="14" height="6" fill="{COLORS[0]}" transform="translate(0 -3)"/>',
            "accuracy",
        ),
        ('<line x1="{x}" y1="{y}" x2="{x2}" y2="{y}" stroke="#555" stroke-dasharray="5 3"/>', "perfect calibration"),
        (f'<circle cx="{{cx}}" cy="{{y}}" r="3.5" fill="{COLORS[1]}"/>', "confidence"),
    ]
    out += _legend(x0 + 6, y0 + 6, marks)
    return _svg(x0 + w + 20, y0 + h + 44, out)
