"""Issue 12 (CVAT -> coco-instance speed): ``kernels.poly_areas`` counts pycocotools' area,
and the box ``toBbox`` gives, of ``merge(frPyObjects(polygons, h, w))`` without drawing a
mask, and ``kernels.poly_rles`` writes its RLE string too. The expected numbers are pycocotools' own (frPyObjects, merge, area, toBbox) on the same
polygons, for random ones and for the degenerate ones rleFrPoly's arithmetic treats
specially: collinear points, repeated points (an edge of length 0: slope 0/0), points
outside the image, coordinates at .5 after scaling by 5, huge coordinates, 3 points, several
polygons of one instance (a union). The C kernel and its pure-Python twin must agree on
every output byte and every exception; ``cocopoly.polygon_areas`` must give
``rasterize_many``'s areas and first error, and ``cocopoly.polygon_rles`` its RLEs, byte
for byte (``kernels.poly_rles`` writes pycocotools' string).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import _purekernels as twin
from segtool import cocopoly

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension: the twin alone is checked
    native = None  # type: ignore[assignment]

MODULES = [twin] if native is None else [native, twin]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Groups = list[list[list[float]]]


def reference(groups: Groups, h: int, w: int) -> tuple[list[int], list[list[float]], list[str]]:
    """pycocotools' area, toBbox and RLE string of each group's merged polygons."""
    areas, boxes, strings = [], [], []
    for g in groups:
        drawn = mask_utils.frPyObjects([list(p) for p in g], h, w)
        rle = drawn[0] if len(drawn) == 1 else mask_utils.merge(drawn)
        areas.append(int(mask_utils.area(rle)))
        boxes.append([float(v) for v in mask_utils.toBbox(rle)])
        strings.append(rle["counts"].decode("ascii"))
    return areas, boxes, strings


def packed(groups: Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    polys = [p for g in groups for p in g]
    xy = np.array([v for p in polys for v in p], np.float64)
    ends = np.cumsum([len(p) // 2 for p in polys]).astype(np.int64)
    bounds = np.cumsum([len(g) for g in groups]).astype(np.int64)
    return xy, ends, bounds


def call(module: Any, groups: Groups, h: int, w: int) -> tuple[int, list[int], list[list[float]]]:
    """poly_areas, checked against poly_rles' areas, boxes and first doubted group."""
    xy, ends, bounds = packed(groups)
    areas, boxes = np.full(len(groups), 7, np.int64), np.full(4 * len(groups), 7.0)
    first = module.poly_areas(xy, ends, bounds, h, w, areas, boxes)
    areas2, boxes2 = np.full(len(groups), 5, np.int64), np.full(4 * len(groups), 5.0)
    first2, _ = module.poly_rles(xy, ends, bounds, h, w, areas2, boxes2)
    assert (first2, areas2.tolist(), boxes2.tolist()) == (first, areas.tolist(), boxes.tolist())
    return first, areas.tolist(), boxes.reshape(-1, 4).tolist()


def strings(module: Any, groups: Groups, h: int, w: int) -> list[str | None]:
    xy, ends, bounds = packed(groups)
    out: list[str | None] = module.poly_rles(
        xy, ends, bounds, h, w, np.zeros(len(groups), np.int64), np.zeros(4 * len(groups))
    )[1]
    return out


def check(groups: Groups, h: int, w: int) -> None:
    """Every module's areas, boxes and RLE strings are pycocotools'."""
    areas, boxes, rles = reference(groups, h, w)
    for module in MODULES:
        first, got_areas, got_boxes = call(module, groups, h, w)
        assert first == -1, module
        assert (got_areas, got_boxes) == (areas, boxes), (module.__name__, groups, h, w)
        assert strings(module, groups, h, w) == rles, (module.__name__, groups, h, w)


# --- polygons ------------------------------------------------------------------------------

SIZES = st.tuples(st.integers(1, 48), st.integers(1, 48))


def _coordinate(limit: int) -> st.SearchStrategy[float]:
    """Within one image size of the image (polygon_problem's limit), often on the values
    rleFrPoly rounds specially: whole numbers, halves, tenths (x 5: .5 after scaling)."""
    return st.one_of(
        st.integers(-limit, 2 * limit).map(float),
        st.integers(-2 * limit, 4 * limit).map(lambda v: v / 2),
        st.integers(-10 * limit, 20 * limit).map(lambda v: v / 10),
        st.floats(-limit, 2 * limit, allow_nan=False, allow_infinity=False),
    )


@st.composite
def image_groups(draw: st.DrawFn) -> tuple[Groups, int, int]:
    h, w = draw(SIZES)
    groups = []
    for _ in range(draw(st.integers(1, 4))):
        polys = []
        for _ in range(draw(st.integers(1, 3))):
            n = draw(st.integers(3, 9))
            xs = draw(st.lists(_coordinate(w), min_size=n, max_size=n))
            ys = draw(st.lists(_coordinate(h), min_size=n, max_size=n))
            pts = [v for xy in zip(xs, ys, strict=True) for v in xy]
            kind = draw(st.sampled_from(["plain", "repeat", "collinear", "clip"]))
            if kind == "repeat":  # a point repeated: an edge of length 0
                k = draw(st.integers(0, n - 1))
                pts[2 * k : 2 * k] = pts[2 * k : 2 * k + 2]
            elif kind == "collinear":  # every point on one line
                a, b = draw(_coordinate(w)), draw(_coordinate(h))
                pts = [v for t in range(n) for v in (a + t * (xs[0] - a) / 4, b + t * (ys[0] - b) / 4)]
                pts = [min(max(v, -w), 2 * w) if i % 2 == 0 else min(max(v, -h), 2 * h) for i, v in enumerate(pts)]
            polys.append(pts)
        groups.append(polys)
    return groups, h, w


@SETTINGS
@given(image_groups())
@example(([[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]], 5, 5))  # one point three times
@example(([[[0.0, 0.0, 4.0, 4.0, 2.0, 2.0]]], 5, 5))  # collinear: no area
@example(([[[-3.0, -3.0, 9.0, -3.0, 9.0, 9.0, -3.0, 9.0]]], 5, 5))  # covers the image
@example(([[[0.5, 0.5, 3.5, 0.5, 3.5, 3.5]], [[0.1, 0.3, 2.9, 0.7, 1.3, 4.9]]], 5, 5))
@example(([[[0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0], [2.0, 0.0, 4.0, 0.0, 4.0, 2.0, 2.0, 2.0]]], 4, 6))  # touching
@example(([[[0.0, 4.9, 3.0, 4.9, 3.0, 5.0]]], 5, 5))  # along the bottom edge (rows clamped to h)
def test_areas_and_boxes_are_pycocotools(case: tuple[Groups, int, int]) -> None:
    check(*case)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(3, 40), st.integers(1, 3))
def test_large_images_and_long_edges(seed: int, points: int, count: int) -> None:
    """Bigger images, longer edges (edges along y walked by the estimate-and-correct search)
    and the typical annotation: a star of 3 to 40 points, several per instance."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(50, 900)), int(rng.integers(50, 1400))
    groups = []
    for _ in range(count):
        polys = []
        for _ in range(int(rng.integers(1, 3))):
            r = rng.uniform(1, max(h, w))
            cx, cy = rng.uniform(-w / 2, 1.5 * w), rng.uniform(-h / 2, 1.5 * h)
            turn = np.sort(rng.random(points)) * 2 * np.pi
            pts = np.stack([cx + r * np.cos(turn), cy + r * np.sin(turn)], 1).round(int(rng.integers(0, 3)))
            pts[:, 0] = pts[:, 0].clip(-w, 2 * w)
            pts[:, 1] = pts[:, 1].clip(-h, 2 * h)
            polys.append(pts.ravel().tolist())
        groups.append(polys)
    check(groups, h, w)


@pytest.mark.parametrize("x0", [2.0**26, 2.0**27 - 40, 123456789.1])
def test_huge_coordinates(x0: float) -> None:
    """Coordinates near polygon_problem's 2^27 (5x that near int's limit in rleFrPoly), in an
    image wide enough to hold them (h * w < 2^31)."""
    h, w = 15, 2**27
    polys = [[x0, 1.2, x0 + 30.5, 3.5, x0 + 10.25, 14.0], [x0 - 3, -2.0, x0 + 2, 16.0, x0 + 1, 16.0]]
    check([polys[:1], polys], h, w)


def test_limits_doubt_a_group_and_cocopoly_names_the_problem() -> None:
    """A coordinate beyond the limits (not finite, more than one image size outside, edges
    too long): area -1, box zeros, and the first such group is returned; polygon_areas
    raises polygon_problem's reason, as rasterize_many does."""
    ok = [[1.0, 1.0, 4.0, 1.0, 4.0, 4.0]]
    far = [[1.0, 1.0, 40.0, 1.0, 4.0, 4.0]]
    nan = [[1.0, float("nan"), 4.0, 1.0, 4.0, 4.0]]
    for module in MODULES:
        first, areas, boxes = call(module, [ok, far, nan], 10, 10)
        assert first == 1
        assert areas[0] == reference([ok], 10, 10)[0][0] and areas[1:] == [-1, -1]
        assert boxes[1:] == [[0.0] * 4] * 2
        assert strings(module, [ok, far, nan], 10, 10) == [reference([ok], 10, 10)[2][0], None, None]
    for bad in (far, nan):
        with pytest.raises(ValueError) as drawn:
            cocopoly.rasterize_many([ok, bad], 10, 10)
        for counting in (cocopoly.polygon_areas, cocopoly.polygon_rles):
            with pytest.raises(ValueError) as counted:
                counting([ok, bad], 10, 10)
            assert str(counted.value) == str(drawn.value)


def test_long_edges_near_the_limit_are_decided_as_drawn() -> None:
    """Edges just under the longest allowed: the kernel doubts them (within 1e-6), and
    polygon_areas measures them through pycocotools: the same area."""
    h, w = 4, 4  # the longest edges allowed: 64 perimeters = 1024 pixels
    xs = [-4.0 if i % 2 == 0 else 8.0 for i in range(86)]
    xs[-1] = 8 - 4.00001  # 84 edges of 12, two of 12 - 4.00001: 1024 - 2e-5 pixels
    zigzag = [v for i, x in enumerate(xs) for v in (x, float(3 * (i % 2)))]
    assert cocopoly.polygon_problem([zigzag], h, w) is None
    for module in MODULES:
        assert call(module, [[zigzag]], h, w)[0] == 0  # doubted
    areas, boxes = cocopoly.polygon_areas([[zigzag]], h, w)
    rles, areas2 = cocopoly.polygon_rles([[zigzag]], h, w)
    want = reference([[zigzag]], h, w)
    assert (areas.tolist(), boxes.tolist(), [r["counts"] for r in rles]) == want
    assert areas2.tolist() == want[0]
    zigzag[-2] += 0.01  # over the limit
    for counting in (cocopoly.polygon_areas, cocopoly.polygon_rles):
        with pytest.raises(ValueError, match="pixels long"):
            counting([[zigzag]], h, w)


# --- the C kernel and its twin -------------------------------------------------------------


def _outcome(module: Any, name: str, args: list[Any]) -> Any:
    args = [a.copy() if isinstance(a, np.ndarray) and a.flags.writeable else a for a in args]
    try:
        result = getattr(module, name)(*args)
    except Exception as exc:
        return type(exc), str(exc)
    return result, [a.tobytes() for a in args if isinstance(a, np.ndarray)]


@pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")
@pytest.mark.parametrize(
    "change",
    [
        {},
        {"xy": np.zeros(6, np.float32)},
        {"ends": np.array([3], np.int32)},
        {"ends": np.array([2], np.int64)},  # 2 points
        {"groups": np.array([0, 1], np.int64)},  # an empty group
        {"areas": np.zeros(2, np.int64)},
        {"boxes": np.zeros(3)},
        {"h": 0},
        {"w": 2**40},
        {"h": 2**70},
        {"h": 1.5},
        {"areas": np.zeros(1, np.int64)[::-1][:0]},
        {"xy": b"abc"},
        {"xy": "abc"},
        {"areas": np.zeros(1, np.int64).copy(), "readonly": True},
    ],
)
def test_twin_takes_arguments_as_c_does(change: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "xy": np.array([0.0, 0.0, 3.0, 0.0, 3.0, 3.0]),
        "ends": np.array([3], np.int64),
        "groups": np.array([1], np.int64),
        "h": 5,
        "w": 5,
        "areas": np.zeros(1, np.int64),
        "boxes": np.zeros(4),
    }
    args.update({k: v for k, v in change.items() if k != "readonly"})
    if change.get("readonly"):
        args["areas"].flags.writeable = False
    order = ["xy", "ends", "groups", "h", "w", "areas", "boxes"]
    for name in ("poly_areas", "poly_rles"):
        assert _outcome(native, name, [args[k] for k in order]) == _outcome(twin, name, [args[k] for k in order])


# --- cocopoly ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(image_groups())
def test_polygon_areas_are_the_drawn_areas(case: tuple[Groups, int, int]) -> None:
    groups, h, w = case
    drawn = cocopoly.rasterize_many(groups, h, w)
    areas, boxes = cocopoly.polygon_areas(groups, h, w)
    assert areas.tolist() == cocopoly.drawn_areas(drawn).tolist()
    assert boxes.tolist() == np.asarray(mask_utils.toBbox(drawn)).reshape(-1, 4).tolist()
    rles, areas2 = cocopoly.polygon_rles(groups, h, w)
    assert rles == [{"size": [h, w], "counts": r["counts"].decode("ascii")} for r in drawn]
    assert areas2.tolist() == areas.tolist()


@pytest.mark.parametrize(
    "groups",
    [
        [[[1, 2, 3, 4, 5]]],  # odd
        [[[1, 2, 3, 4]]],  # 2 points
        [[(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)]],  # not a list
        [[[1.0, 2.0, True, 4.0, 5.0, 6.0]]],  # a bool
        [[[1.0, 2.0, np.float64(3.0), 4.0, 5.0, 6.0]]],  # a numpy scalar
        [[[10**400, 2.0, 3.0, 4.0, 5.0, 6.0]]],  # beyond floats
        [[]],  # an instance without polygons
    ],
)
def test_polygon_areas_refuses_what_rasterize_many_refuses(groups: Any) -> None:
    with pytest.raises(ValueError) as drawn:
        cocopoly.rasterize_many(groups, 10, 10)
    for counting in (cocopoly.polygon_areas, cocopoly.polygon_rles):
        with pytest.raises(ValueError) as counted:
            counting(groups, 10, 10)
        assert str(counted.value) == str(drawn.value)


def test_polygon_areas_of_nothing_and_a_bad_size() -> None:
    areas, boxes = cocopoly.polygon_areas([], 5, 5)
    assert areas.shape == (0,) and boxes.shape == (0, 4)
    rles, areas = cocopoly.polygon_rles([], 5, 5)
    assert rles == [] and areas.shape == (0,)
    for counting in (cocopoly.polygon_areas, cocopoly.polygon_rles):
        with pytest.raises(ValueError, match="image size"):
            counting([[[0.0, 0.0, 1.0, 0.0, 1.0, 1.0]]], 0, 5)
