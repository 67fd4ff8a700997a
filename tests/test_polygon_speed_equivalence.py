"""Issue 12: the fast polygon paths (``cocopoly.rasterize_many``, its one-pass checks, one
``frPyObjects`` call per image, a lone polygon not merged) give what the per-annotation path
gave before them: the same RLE bytes, and for input it refuses the same exception with the
same message. The reference is that path as it was (commit 4310859), copied below verbatim
and run on pycocotools itself; the inputs are random and hostile polygons (hypothesis), and
edge sums placed exactly on the length limit."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import cocopoly, read
from segtool.cocomask import check_size
from segtool.cocopoly import POLYGON_MAX_COORD, POLYGON_MAX_LENGTH, POLYGON_PERIMETERS
from segtool.formats import cvat_rules
from segtool.formats.cvat import instances

# ------------------------------------------------------------------ the reference (4310859)


def old_polygon_problem(polys: list[Any], height: int, width: int) -> str | None:
    try:
        check_size(height, width)
    except ValueError as exc:
        return str(exc)
    n = 0
    for p in polys:
        if type(p) is not list or len(p) < 6 or len(p) % 2:
            size = len(p) if type(p) is list else "no list of"
            return f"a polygon with {size} coordinates (needs an even number, at least 6)"
        n += len(p)
    if not all(type(v) is float or type(v) is int for v in chain.from_iterable(polys)):
        return "polygon coordinates must be numbers"
    try:
        xy = np.fromiter(chain.from_iterable(polys), np.float64, n)
    except OverflowError:
        xy = np.array([np.inf])
    if not np.isfinite(xy).all():
        return "polygon coordinates must be finite numbers (not NaN, infinity or beyond 1e308)"
    x, y = xy[0::2], xy[1::2]
    if (
        x.min() < -width
        or x.max() > 2 * width
        or y.min() < -height
        or y.max() > 2 * height
        or np.abs(xy).max() > POLYGON_MAX_COORD
    ):
        return (
            f"polygon points reach x {x.min():g}..{x.max():g}, y {y.min():g}..{y.max():g}: more than"
            f" one image size beyond the {width}x{height} image"
        )
    points = np.array([len(p) // 2 for p in polys])
    ends = np.cumsum(points)
    nxt = np.arange(1, len(x) + 1)
    nxt[ends - 1] = ends - points
    length = float(np.maximum(np.abs(x[nxt] - x), np.abs(y[nxt] - y)).sum())
    most = min(POLYGON_PERIMETERS * 2 * (height + width), POLYGON_MAX_LENGTH)
    if length > most:
        return f"polygon edges {length:,.0f} pixels long, more than the {most:,} allowed in a {width}x{height} image"
    return None


def old_rasterize(polys: list[list[float]], height: int, width: int) -> dict[str, Any]:
    why = old_polygon_problem(polys, height, width)
    if why is not None:
        raise ValueError(why)
    rles: list[dict[str, Any]] = mask_utils.frPyObjects(polys, height, width)
    if len(rles) <= 8:
        merged: dict[str, Any] = mask_utils.merge(rles)
        return merged
    while len(rles) > 1:
        rles = [mask_utils.merge(rles[i : i + 2]) if i + 1 < len(rles) else rles[i] for i in range(0, len(rles), 2)]
    return rles[0]


# ------------------------------------------------------------------ comparing


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    """("ok", result) or (exception type, message): what a caller can observe."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the comparison is of any exception, not only ValueError
        return type(exc).__name__, str(exc)


def old_many(groups: list[Any], h: int, w: int) -> list[dict[str, Any]]:
    return [old_rasterize(g, h, w) for g in groups]


def same(groups: list[Any], h: int, w: int) -> None:
    new, old = outcome(cocopoly.rasterize_many, groups, h, w), outcome(old_many, groups, h, w)
    assert new == old
    if old[0] == "ok":  # the areas as drawn: pycocotools' own area of the reference's RLEs
        assert cocopoly.drawn_areas(new[1]).tolist() == [int(mask_utils.area(r)) for r in old[1]]
    for g in groups:
        assert outcome(cocopoly.rasterize, g, h, w) == outcome(old_rasterize, g, h, w)
        assert outcome(cocopoly.polygon_problem, g, h, w) == outcome(old_polygon_problem, g, h, w)


HOSTILE = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    10**400,
    -(10**30),
    2**53 + 1,
    True,
    None,
    "3",
    np.float64(1.0),
    np.int64(2),
    [1.0],
    float(POLYGON_MAX_COORD) + 1,
    -0.0,
]


def coords(w: int, h: int, hostile: bool) -> st.SearchStrategy[Any]:
    near = st.floats(-1.5 * max(w, h), 2.5 * max(w, h), allow_nan=False)
    ints = st.integers(-w - 2, 2 * w + 2)
    edges = st.sampled_from([-w, 2 * w, -h, 2 * h, 0, w, h, -w - 0.5, 2 * w + 0.25])
    base = st.one_of(near, ints, edges)
    return st.one_of(base, st.sampled_from(HOSTILE)) if hostile else base


@st.composite
def image_groups(draw: st.DrawFn, hostile: bool) -> tuple[list[Any], int, int]:
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    value = coords(w, h, hostile)
    polygon = st.lists(value, min_size=6, max_size=30).map(lambda p: p[: len(p) // 2 * 2])
    if hostile:
        polygon = st.one_of(polygon, st.lists(value, max_size=7), st.sampled_from([(), "1,2,3", None]))
    groups = draw(st.lists(st.lists(polygon, min_size=0 if hostile else 1, max_size=12), max_size=12))
    return groups, h, w


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_groups(hostile=False))
def test_random_polygons_same_bytes(case: tuple[list[Any], int, int]) -> None:
    same(*case)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_groups(hostile=True))
def test_hostile_polygons_same_outcome(case: tuple[list[Any], int, int]) -> None:
    same(*case)


@pytest.mark.parametrize("size", [(0, 5), (5, True), (3.0, 4), (2**16, 2**16), (-1, 3)])
def test_refused_image_sizes_same_message(size: tuple[Any, Any]) -> None:
    same([[[0.0, 0.0, 2.0, 0.0, 2.0, 2.0]]], *size)


def zigzag(total: float, h: int, w: int) -> list[float]:
    """A closed polygon inside the image whose edges (pycocotools' max(|dx|, |dy|)) add up
    to exactly ``total`` (a multiple of 0.25): full-width teeth, then one to make up the rest."""
    teeth, rest = divmod(total, 2 * w)
    pts = [0.0, 0.0]
    for _ in range(int(teeth)):
        pts += [float(w), 0.0, 0.0, 0.0]
    pts += [rest / 2, 0.0, 0.0, 0.0]  # out and back: rest; the closing edge is (0, 0) -> (0, 0)
    return pts


@pytest.mark.parametrize("delta", [-1.0, -0.25, 0.0, 0.25, 1.0])
@pytest.mark.parametrize("size", [(10, 10), (7, 30), (2000, 1000)])
def test_edge_sums_at_the_limit(delta: float, size: tuple[int, int]) -> None:
    """The length limit is inclusive, and the one-pass bound never accepts beyond it."""
    h, w = size
    most = min(POLYGON_PERIMETERS * 2 * (h + w), POLYGON_MAX_LENGTH)
    poly = zigzag(most + delta, h, w)
    assert (old_polygon_problem([poly], h, w) is None) == (delta <= 0)
    same([[poly], [[*poly[:6], 1.0, 1.0]], [poly, poly]], h, w)
    small = [0.0, 0.0, 3.0, 0.0, 3.0, 2.0]
    same([[small], [poly]], h, w)  # the second group decides


def test_many_polygons_merged_pairwise_same_bytes() -> None:
    """More than eight polygons in one annotation (the pairwise merge), among other groups."""
    rng = np.random.default_rng(7)
    groups = [
        [(rng.uniform(-20, 120, rng.integers(3, 12) * 2)).round(2).tolist() for _ in range(int(rng.integers(1, 20)))]
        for _ in range(15)
    ]
    same(groups, 90, 100)


def test_areas_of_many_groups_in_one_image() -> None:
    """pycocotools' ``area`` takes at most 255 RLEs a call under numpy 2: 600 are counted."""
    groups = [[[float(k % 50), 0.0, k % 50 + 2.0, 0.0, k % 50 + 2.0, 1.0 + k % 7]] for k in range(600)]
    drawn = cocopoly.rasterize_many(groups, 20, 60)
    assert cocopoly.drawn_areas(drawn).tolist() == [int(mask_utils.area(r)) for r in old_many(groups, 20, 60)]


def test_cvat_reader_draws_as_before(tmp_path: Path) -> None:
    """The CVAT reader's RLEs (all of an image's polygon instances drawn at once) equal each
    instance drawn alone by the reference; a refused polygon is still named by its shape."""
    rng = np.random.default_rng(3)
    shapes = []
    for k in range(25):
        pts = rng.uniform(-10, 70, (int(rng.integers(3, 9)), 2)).round(2)
        text = ";".join(f"{x:.2f},{y:.2f}" for x, y in pts)
        group = f' group_id="{k % 4}"' if k % 3 == 0 else ""
        shapes.append(f'<polygon label="a" points="{text}" z_order="0"{group}></polygon>')
    shapes.append('<box label="a" xtl="2" ytl="3" xbr="20.5" ybr="9" rotation="30"></box>')
    shapes.append('<mask label="a" rle="3,4,5" left="1" top="1" width="4" height="3"></mask>')
    xml = _cvat(tmp_path / "a.xml", "".join(shapes))
    ds = read(xml, "cvat")
    ann = ds.samples[0].load()
    src: Any = ds.samples[0].source
    groups = instances(src.parse(ds.samples[0].image).shapes)
    assert ann.rles is not None and len(ann.rles) == len(groups)
    for rle, area, g in zip(ann.rles, ann.segments.area.tolist(), groups, strict=True):
        if g[0].kind == "mask":
            assert area == 4  # its rle "3,4,5" over a 4x3 box: 3 background, 4 pixels, 5 background
            continue
        ref = old_rasterize([list(s.polygon) for s in g], 50, 60)
        assert rle == {"size": [50, 60], "counts": ref["counts"].decode("ascii")}
        assert area == mask_utils.area(ref)
    assert len({len(g) for g in groups}) > 1  # groups of several shapes among them
    bad = _cvat(tmp_path / "b.xml", shapes[0] + '<polygon label="a" points="1,1;9e9,2;3,4"></polygon>')
    with pytest.raises(Exception, match=r"shape 1 \(polygon 'a'\): polygon points reach x 1\.\.9e\+09"):
        read(bad, "cvat").samples[0].load()


def _cvat(path: Path, shapes: str) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><task>'
        "<labels><label><name>a</name></label></labels></task></meta>"
        f'<image id="0" name="x.jpg" width="60" height="50">{shapes}</image></annotations>',
        encoding="utf-8",
    )
    return path


@st.composite
def points_text(draw: st.DrawFn) -> str:
    number = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-(10**30), 10**30).map(str),
        st.text("0123456789.eE+-_ infaINF\u0661\u00a0x", min_size=0, max_size=8),
    )
    pairs = draw(st.lists(st.tuples(number, number), min_size=0, max_size=6))
    text = ";".join(f"{x},{y}" for x, y in pairs)
    return draw(st.sampled_from([text, text + ";", text.replace(";", ",", 1), " " + text]))


@settings(max_examples=400, deadline=None)
@given(points_text())
def test_cvat_points_read_as_numpy_read_them(text: str) -> None:
    """CVAT's ``points`` become floats by ``float`` now, by numpy before (4310859): the same
    numbers, refused for the same text."""
    seen: list[str] = []

    def report(code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None, **_: Any) -> bool:
        seen.append(code)
        return False

    got = cvat_rules._polygon(
        ET.Element("polygon", points=text), "polygon", (0, 0, "polygon", "p"), "p", report, 0, True
    )
    pairs = text.split(";") if text.strip() else []
    try:
        if pairs and cvat_rules.POINTS.fullmatch(text) is None:
            raise ValueError
        ref: Any = tuple(np.asarray(text.replace(";", ",").split(","), dtype=np.float64).tolist()) if pairs else ()
    except ValueError:
        ref = None
    if ref is not None and len(ref) < 6:
        ref = None
    assert (got is None) == (ref is None) and (got is None) == bool(seen)
    if got is not None:
        assert np.array_equal(np.asarray(got), np.asarray(ref), equal_nan=True)
        assert [math.copysign(1, v) for v in got] == [math.copysign(1, v) for v in ref]
