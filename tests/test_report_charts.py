"""The report's charts, written as SVG without a plotting library (issue 14): every chart is
well-formed XML, its marks sit where the values put them (positions worked out by hand from
the layout constants), names are escaped, and matplotlib is never imported."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from segtool.report import charts

NS = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _rects(root: ET.Element) -> list[dict[str, float]]:
    keys = ("x", "y", "width", "height")
    return [{k: float(r.get(k, "nan")) for k in keys} for r in root.iter(NS + "rect") if r.get("fill") != "none"]


def test_bars_are_proportional_to_their_values_from_zero() -> None:
    rows = [("cat", {"pq": 0.25, "sq": 1.0}), ("dog", {"pq": 0.5, "sq": 0.5})]
    root = _tree(charts.bars(rows, "t"))
    bars = _rects(root)
    assert len(bars) == 4  # two panels of two rows
    pq, sq = bars[:2], bars[2:]
    # each panel spans 0 to its largest value (0.5 for PQ, 1.0 for SQ) over 240 px
    assert [b["width"] for b in pq] == [120.0, 240.0]
    assert [b["width"] for b in sq] == [240.0, 120.0]
    assert pq[0]["x"] == pq[1]["x"] and sq[0]["x"] - pq[0]["x"] == 240 + 56  # panel + gap
    assert pq[1]["y"] - pq[0]["y"] == charts.ROW  # one row apart
    texts = [t.text for t in root.iter(NS + "text")]
    assert {"cat", "dog", "PQ", "SQ", "0.250", "1.000"} <= set(texts)  # few rows: values written


def test_bars_of_negative_values_go_left_of_zero_and_many_rows_carry_no_values() -> None:
    root = _tree(charts.bars([("a", {"x": -1.0}), ("b", {"x": 3.0})], "t", scale=1.0))
    a, b = _rects(root)
    assert a["width"] == 115.0 and b["width"] == 345.0  # 460 px for a span of 4: 115 px a unit
    assert a["x"] + a["width"] == b["x"]  # both start at the zero line
    many = _tree(charts.bars([(f"c{i}", {"ap": i / 40}) for i in range(40)], "t"))
    assert not [t for t in many.iter(NS + "text") if t.text and re.fullmatch(r"\d\.\d{3}", t.text)]


def test_pr_curve_points_are_recall_and_precision_on_the_plot() -> None:
    precision = np.linspace(1.0, 0.0, 101)
    root = _tree(charts.pr_curves([("all", precision), ("half", np.full(101, 0.5))], "t"))
    lines = list(root.iter(NS + "polyline"))
    assert len(lines) == 2 and lines[0].get("stroke-width") == "2.2"  # the first is the thick one
    x0, y0, w, h = charts.PLOT
    first = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    assert len(first) == 101
    assert first[0] == (x0, y0) and first[-1] == (x0 + w, y0 + h)  # (recall 0, precision 1), (1, 0)
    assert first[50] == (x0 + w / 2, y0 + h / 2)
    assert {tuple(map(float, p.split(",")))[1] for p in lines[1].get("points", "").split()} == {y0 + h / 2}


def _pixels(image: ET.Element) -> np.ndarray:
    uri = image.get("href", "")
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_heatmap_cells_are_each_rows_share_in_blues() -> None:
    root = _tree(charts.heatmap(["a", "b"], [[3, 1], [0, 0]], "t"))
    grid = _pixels(next(root.iter(NS + "image")))
    assert grid.shape == (2, 2, 3)
    # row a: shares 3/4 and 1/4 (BLUES' 4th and 2nd stops); row b has no count: 0, the lightest
    assert tuple(grid[0, 0]) == charts.BLUES[3] and tuple(grid[0, 1]) == charts.BLUES[1]
    assert tuple(grid[1, 0]) == tuple(grid[1, 1]) == charts.BLUES[0]
    # halfway between stops 0 and 1: (247 + 198) / 2 = 222.5 rounds half to even, 235, 247
    assert tuple(charts.blues(np.array([0.125]))[0]) == (222, 235, 247)


def test_calibration_bars_span_their_bins_up_to_their_accuracy() -> None:
    bins = [
        {"lo": 0.0, "hi": 0.5, "count": 4, "accuracy": 0.25, "confidence": 0.3},
        {"lo": 0.5, "hi": 1.0, "count": 0, "accuracy": 0.0, "confidence": 0.0},  # empty: not drawn
    ]
    root = _tree(charts.calibration(bins, "t"))
    x0, y0, w, h = charts.PLOT
    bar = next(r for r in _rects(root) if r["x"] == x0 and r["width"] == w / 2)
    assert bar["height"] == h / 4 and bar["y"] == y0 + h * 3 / 4
    dots = [(float(c.get("cx", 0)), float(c.get("cy", 0))) for c in root.iter(NS + "circle")]
    assert (x0 + 0.3 * w, y0 + 0.75 * h) in dots


def test_names_are_escaped_and_matplotlib_is_not_imported() -> None:
    svg = charts.bars([('<script>alert("x")</script>', {"ap": 0.5})], "a & b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    _tree(svg)
    code = (
        "import sys, numpy as np; from segtool.report import charts; "
        "charts.bars([('a', {'ap': 1.0})], 't'); charts.pr_curves([('a', np.zeros(101))], 't'); "
        "charts.heatmap(['a'], [[1]], 't'); print(any(m.startswith('matplotlib') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ticks_are_round_and_cover_the_range() -> None:
    assert charts.ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert charts.ticks(0.0, 14.578) == [0.0, 5.0, 10.0]
    assert charts.ticks(-1.0, 3.0) == [-1.0, 0.0, 1.0, 2.0, 3.0]
    assert charts.ticks(0.0, 0.0) == [0.0]
