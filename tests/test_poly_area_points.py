"""Issue 12 (CVAT speed), the reading side: ``kernels.parse_points`` reads an image's CVAT
``points`` attributes at once, as Python's ``float`` reads each number (the expected values
are ``float``'s), and gives up (-1) on anything that is not plain, so that the shapes are
read one by one and the problem named as before. The C kernel and its twin agree on every
result and output byte; the CVAT reader gives the same shapes, the same findings and the
same conversion with the kernel and without it (every image read one shape at a time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import segtool
from segtool import _purekernels as twin
from segtool import kernels
from segtool.formats import cvat_rules
from segtool.formats.cvat_checks import validate_cvat

try:
    from segtool import _kernels as native
except ImportError:
    native = None  # type: ignore[assignment]

MODULES = [twin] if native is None else [native, twin]


def parse(module: Any, text: bytes, shapes: int) -> tuple[int, list[float], list[int], list[float]]:
    xy, ends, boxes = np.full(len(text) // 2 + 1, 7.0), np.full(shapes, 7, np.int64), np.full(4 * shapes, 7.0)
    n = module.parse_points(text, xy, ends, boxes)
    return n, xy.tolist(), ends.tolist(), boxes.tolist()


NUMBERS = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),  # CVAT's own
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # exponents: not plain
    st.integers(-(10**25), 10**25).map(str),  # beyond 2^53 and 19 digits: strtod
    st.decimals(-(10**6), 10**6, places=30, allow_nan=False).map(str),  # long fractions
    st.sampled_from(["-0", "-0.00", "0.0", "007", "1.", ".5", "+1", " 1", "1_0", "nan", "inf", "١", "1e5", ""]),
    st.text("0123456789.-", min_size=1, max_size=70),
)


@st.composite
def points_texts(draw: st.DrawFn) -> tuple[bytes, int]:
    shapes = []
    for _ in range(draw(st.integers(0, 4))):
        n = draw(st.integers(1, 6))
        shapes.append(";".join(f"{draw(NUMBERS)},{draw(NUMBERS)}" for _ in range(n)))
    text = "|".join(shapes)
    if draw(st.booleans()) and text:  # a separator out of place
        k = draw(st.integers(0, len(text) - 1))
        text = text[:k] + draw(st.sampled_from([",", ";", "|", " ", "x"])) + text[k + 1 :]
    return text.encode(), len(shapes) + draw(st.sampled_from([0, 0, 0, -1, 1]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points_texts())
@example((b"462.29,130.84;301.59,103.33;337.97,84.25", 1))
@example((b"1,2;3,4;5,6|7,8;9,10;11,12", 2))
@example((b"12345678901234567890.123,1;2,3;4,5", 1))
@example((b"-0.00,1;2,3;4,5", 1))
@example((b"1,2;3,4", 1))
@example((b"", 0))
def test_parse_points_reads_as_float(case: tuple[bytes, int]) -> None:
    text, shapes = case
    if shapes < 0:
        return
    results = [parse(m, text, shapes) for m in MODULES]
    assert all(r == results[0] for r in results[1:]), (text, results)
    n, xy, ends, boxes = results[0]
    parts = text.decode().split("|") if text else []
    if n < 0:
        assert xy == [0.0] * len(xy) and ends == [0] * shapes and boxes == [0.0] * (4 * shapes)
        return
    assert len(parts) == shapes
    values = [float(v) for p in parts for v in p.replace(";", ",").split(",")]
    assert xy[:n] == values and n == len(values)
    assert ends == np.cumsum([p.count(";") + 1 for p in parts]).tolist()
    for k, p in enumerate(parts):
        tokens = p.replace(";", ",").split(",")
        own = [float(v) for v in tokens]
        assert boxes[4 * k : 4 * k + 4] == [min(own[0::2]), min(own[1::2]), max(own[0::2]), max(own[1::2])]
        assert 3 <= len(own) // 2 and not any(v == 0 and t.startswith("-") for v, t in zip(own, tokens, strict=True))


def test_parse_points_sizes_are_checked() -> None:
    for m in MODULES:
        with pytest.raises(ValueError, match="xy must hold"):
            m.parse_points(b"1,2;3,4;5,6", np.zeros(3), np.zeros(1, np.int64), np.zeros(4))
        with pytest.raises(ValueError, match="boxes 4 per shape"):
            m.parse_points(b"1,2;3,4;5,6", np.zeros(9), np.zeros(1, np.int64), np.zeros(3))
        with pytest.raises(ValueError, match="expected uint8"):
            m.parse_points(np.zeros(3), np.zeros(9), np.zeros(1, np.int64), np.zeros(4))
        with pytest.raises(TypeError):
            m.parse_points("1,2;3,4;5,6", np.zeros(9), np.zeros(1, np.int64), np.zeros(4))


# --- the reader, with the kernel and without ---------------------------------------------

META = """<meta><task><labels><label><name>cat</name></label><label><name>dog</name></label>
</labels></task></meta>"""
ODD = [
    "1,1;6,1;6,6",
    "-2.5,-1;9.25,3;4,12",  # outside the image
    "1.0,1.0;1.0,1.0;1.0,1.0",  # one point
    "0,0;2,2;4,4",  # collinear
    "1,1;6,1",  # 2 points
    "1,1;6,1;x,6",  # not a number
    "1, 1;6,1;6,6",  # a space: float reads it
    "1,1;6,1;6,6;",  # a trailing separator
    "1e1,1;6,1;6,6",  # an exponent: float reads it
    "-0.00,1;6,1;6,6",  # -0
    "1,1,2;6,6",  # a comma too many
    "1,1;6,1;nan,6",
    "1,1;1e400,1;6,6",
    "1,1;200,1;6,6",  # more than one image size out
    "",
]


def _write(tmp: Path, points: list[str], groups: list[int]) -> Path:
    shapes = "".join(
        f'<polygon label="{"cat" if k % 3 else "dog"}" occluded="0" points="{p}" z_order="{k % 2}"'
        f' group_id="{g}"></polygon>'
        for k, (p, g) in enumerate(zip(points, groups, strict=True))
    )
    body = f'<image id="0" name="a.jpg" width="10" height="12"><box label="cat" xtl="1" ytl="1" xbr="4" ybr="5"/>{shapes}</image>'
    path = tmp / "annotations.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version>{META}{body}</annotations>'
    )
    return path


def _outcome(path: Path) -> Any:
    """Everything reading can show: shapes as validate finds them, and the coco-instance
    conversion (or its error)."""
    report = validate_cvat(path)
    found = [(f.code, f.message) for f in report.findings]
    try:
        out = path.parent / "out.json"
        segtool.convert(path, out, "coco-instance", overwrite=True)
        written = json.loads(out.read_text())["annotations"]
    except segtool.SegtoolError as exc:
        written = str(exc)
    return found, written


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(ODD), st.sampled_from([0, 0, 1, 2])), min_size=1, max_size=5))
def test_the_reader_is_the_same_without_the_kernel(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, shapes: list[tuple[str, int]]
) -> None:
    path = _write(tmp_path_factory.mktemp("cvat"), [p for p, _ in shapes], [g for _, g in shapes])
    fast = _outcome(path)
    with monkeypatch.context() as m:
        m.setattr(kernels, "parse_points", lambda *_: -1)
        slow = _outcome(path)
    assert fast == slow
    if all(p in ODD[:4] for p, _ in shapes):  # plain: the kernel read them, and they converted
        assert cvat_rules._plain_points(_first_image(path))
        assert isinstance(fast[1], list) and len(fast[1]) >= 2


def _first_image(path: Path) -> Any:
    import xml.etree.ElementTree as ET

    image = ET.parse(path).getroot().find("image")
    assert image is not None
    return image
