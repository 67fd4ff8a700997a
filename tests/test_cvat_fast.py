"""The CVAT reader's path for images of plain polygons (segtool.formats.cvat_fast).

Expected values: pycocotools' RLE strings, areas and the polygons' own extents (min and max
of the points, by hand) for the masks; the general path's Annotation for everything else the
reader gives (it must not be told apart); and the cases the fast path must leave to the
general path (each a documented CVAT construct or a problem the general path names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segtool
from segtool.errors import SegtoolError
from segtool.formats import cvat_fast

META = """<meta><task><mode>annotation</mode><labels><label><name>cat</name></label>
<label><name>dog</name></label></labels></task></meta>"""


def _xml(tmp: Path, images: str, encoding: str = "utf-8") -> Path:
    path = tmp / "annotations.xml"
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n<annotations><version>1.1</version>{META}{images}</annotations>\n'
    path.write_bytes(text.encode(encoding))
    return path


def _general(monkeypatch: pytest.MonkeyPatch, sample: Any) -> Any:
    with monkeypatch.context() as m:
        m.setattr(cvat_fast, "instances", lambda *_: None)
        return sample.load()


def _fast(sample: Any) -> Any:
    src = sample.source
    return cvat_fast.instances(src.path, src.entry, src.encoding, dict(src.categories), sample.image)


def _same(a: Any, b: Any) -> None:
    assert a.rles == b.rles and a.raw == b.raw and a.origin == b.origin
    assert a.dropped == b.dropped and a.changed == b.changed and a.id_map is None and b.id_map is None
    for name in ("id", "category_id", "iscrowd", "area", "bbox"):
        x, y = getattr(a.segments, name), getattr(b.segments, name)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.segments.score is None and b.segments.score is None


def _points(rng: np.random.Generator, h: int, w: int) -> list[float]:
    k = int(rng.integers(3, 12))
    xs, ys = rng.uniform(-0.3 * w, 1.3 * w, k), rng.uniform(-0.3 * h, 1.3 * h, k)
    if rng.random() < 0.3:  # integers, a repeated vertex
        xs, ys = np.round(xs), np.round(ys)
        xs[1], ys[1] = xs[0], ys[0]
    return [float(f"{v:.2f}") or 0.0 for p in zip(xs, ys, strict=True) for v in p]  # (not -0: parse_points leaves it)


def _text(flat: list[float]) -> str:
    return ";".join(f"{flat[i]:.2f},{flat[i + 1]:.2f}" for i in range(0, len(flat), 2))


def test_random_polygons_are_pycocotools_and_the_general_paths(tmp_path, monkeypatch):
    rng = np.random.default_rng(12)
    images, expected = [], []
    for i in range(40):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        polys = [_points(rng, h, w) for _ in range(int(rng.integers(1, 8)))]
        labels = [str(rng.choice(["cat", "dog"])) for _ in polys]
        shapes = "".join(
            f'<polygon label="{lab}" occluded="1" source="auto" points="{_text(p)}" z_order="{k % 3 - 1}"></polygon>'
            for k, (lab, p) in enumerate(zip(labels, polys, strict=True))
        )
        images.append(f'<image id="{i}" name="{i}.jpg" width="{w}" height="{h}">{shapes}</image>')
        expected.append((h, w, polys, labels))
    ds = segtool.read(_xml(tmp_path, "".join(images)), "cvat")
    taken = []
    real = cvat_fast.instances
    monkeypatch.setattr(cvat_fast, "instances", lambda *a: taken.append(real(*a)) or taken[-1])
    for sample, (h, w, polys, labels) in zip(ds.samples, expected, strict=True):
        ann = sample.load()
        assert taken[-1] is ann  # (the fast path read it)
        drawn = mask_utils.frPyObjects(polys, h, w)
        assert [r["counts"] for r in ann.rles] == [d["counts"].decode() for d in drawn]
        assert ann.segments.area.tolist() == mask_utils.area(drawn).tolist()
        for box, p in zip(ann.segments.bbox.tolist(), polys, strict=True):
            x0, y0 = min(p[0::2]), min(p[1::2])
            assert box[:2] == [x0, y0]
            assert box[2:] == pytest.approx([max(p[0::2]) - x0, max(p[1::2]) - y0], abs=1e-9)
        assert ann.segments.category_id.tolist() == [1 if lab == "cat" else 2 for lab in labels]
        assert ann.raw == tuple([p] for p in polys)
        _same(ann, _general(monkeypatch, sample))


SQUARE = 'points="1,1;6,1;6,6;1,6"'
LEFT_TO_THE_GENERAL_PATH = {
    "attribute": f'<polygon label="cat" {SQUARE}><attribute name="color">x</attribute></polygon>',
    "crowd": f'<polygon label="cat" {SQUARE}><attribute name="iscrowd">1</attribute></polygon>',
    "group": f'<polygon label="cat" {SQUARE} group_id="2"/><polygon label="cat" points="2,2;7,2;7,7"  group_id="2"/>',
    "nested": f'<polygon label="cat" {SQUARE}><polygon label="dog" {SQUARE}/></polygon>',
    "box": '<box label="cat" xtl="1" ytl="1" xbr="5" ybr="6"/>',
    "mask": '<mask label="cat" rle="0,4" left="1" top="1" width="2" height="2"/>',
    "polyline": f'<polygon label="cat" {SQUARE}/><polyline label="dog" {SQUARE}/>',
    "namespace": f'<polygon xmlns="urn:x" label="cat" {SQUARE}/>',
    "exponent": '<polygon label="cat" points="1e0,1;6,1;6,6"/>',
    "far outside": '<polygon label="cat" points="1,1;600,1;6,6"/>',
    "z_order 100": f'<polygon label="cat" {SQUARE} z_order="100"/>',
    "no polygon": "",
}


@pytest.mark.parametrize("case", LEFT_TO_THE_GENERAL_PATH)
def test_what_the_fast_path_leaves_to_the_general_path(tmp_path, monkeypatch, case):
    ds = segtool.read(
        _xml(tmp_path, f'<image id="0" name="a.jpg" width="8" height="8">{LEFT_TO_THE_GENERAL_PATH[case]}</image>'),
        "cvat",
    )
    assert _fast(ds.samples[0]) is None
    try:
        general = _general(monkeypatch, ds.samples[0])
    except SegtoolError as exc:
        with pytest.raises(SegtoolError, match=str(exc).split(":")[-1].strip()[:30]):
            ds.samples[0].load()
    else:
        _same(ds.samples[0].load(), general)


@pytest.mark.parametrize(
    "shapes",
    [
        '<polygon label="bird" points="1,1;6,1;6,6"/>',  # undeclared: label-unknown
        '<polygon label="" points="1,1;6,1;6,6"/>',  # no label: dropped
        '<polygon label="cat" points="1,1;6,1"/>',  # two points
        '<polygon label="cat" points="1,1;6,1;6,x"/>',  # not a number
        '<polygon label="cat" points="1,1;6,1;6,6" z_order="x"/>',
    ],
)
def test_problems_are_the_general_paths(tmp_path, monkeypatch, shapes):
    ds = segtool.read(_xml(tmp_path, f'<image id="0" name="a.jpg" width="8" height="8">{shapes}</image>'), "cvat")
    assert _fast(ds.samples[0]) is None
    try:
        general = _general(monkeypatch, ds.samples[0])
    except SegtoolError as exc:
        with pytest.raises(SegtoolError) as got:
            ds.samples[0].load()
        assert str(got.value) == str(exc)
    else:
        _same(ds.samples[0].load(), general)
        assert general.dropped  # (the empty label)


def test_another_encoding_is_read_by_the_general_path(tmp_path, monkeypatch):
    shapes = '<polygon label="cat" points="1,1;6,1;6,6" source="\xe9"/>'
    ds = segtool.read(
        _xml(tmp_path, f'<image id="0" name="\xe9.jpg" width="8" height="8">{shapes}</image>', "latin-1"), "cvat"
    )
    assert _fast(ds.samples[0]) is None
    _same(ds.samples[0].load(), _general(monkeypatch, ds.samples[0]))
    assert (
        ds.samples[0].load().segments.area.tolist()
        == mask_utils.area(mask_utils.frPyObjects([[1, 1, 6, 1, 6, 6]], 8, 8)).tolist()
    )


_SPELLINGS = st.sampled_from(
    [
        "",
        " ",
        "\n  ",
        "<!-- a comment -->",
        "<?pi x?>",
        "text",
        "<![CDATA[<polygon/>]]>",
    ]
)


@st.composite
def _polygon_xml(draw: Any) -> tuple[str, bool]:
    """One polygon element as CVAT or a hand may spell it, and whether it is plain."""
    label = draw(st.sampled_from(["cat", "dog", "c&amp;t", "d\u00f6g"]))
    attrs = [f'label="{label}"', f'points="{draw(st.sampled_from(["1,1;6,1;6,6", "0.5,0;7.25,3;2,7.5", "1,1;6,1"]))}"']
    extra = {
        "occluded": '"1"',
        "source": "'auto'",
        "z_order": draw(st.sampled_from(['"2"', '"-1"'])),
        "group_id": '"0"',
    }
    attrs += [f"{k}={v}" for k, v in extra.items() if draw(st.booleans())]
    order = draw(st.permutations(attrs))
    space = draw(st.sampled_from([" ", "\n\t", "  "]))
    inner = draw(_SPELLINGS)
    close = "/>" if not inner and draw(st.booleans()) else f">{inner}</polygon>"
    plain = label in ("cat", "dog") and '6,1"' not in "".join(attrs) and not inner.strip()
    return f"<polygon{space}{space.join(order)}{close}", plain


@given(polys=st.lists(_polygon_xml(), min_size=1, max_size=5), between=_SPELLINGS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_spellings_give_the_general_paths_annotation(tmp_path, monkeypatch, polys, between):
    meta = META.replace(
        "<label><name>dog</name></label>", "<label><name>dog</name></label><label><name>c&amp;t</name></label>"
    )
    body = between.join(p for p, _ in polys)
    path = tmp_path / "annotations.xml"
    path.write_bytes(
        f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>{meta}'
        f'<image id="0" name="a.jpg" width="8" height="8">{body}</image></annotations>\n'.encode()
    )
    ds = segtool.read(path, "cvat")
    fast = _fast(ds.samples[0])
    try:
        general = _general(monkeypatch, ds.samples[0])
    except SegtoolError:
        assert fast is None
        return
    if all(plain for _, plain in polys) and not between.strip():  # (whitespace and spellings read past;
        # comments, processing instructions, text and CDATA are left to the general path)
        assert fast is not None
    if fast is not None:
        _same(fast, general)


def test_the_polygons_are_made_when_read_and_read_as_the_tuple(tmp_path, monkeypatch):
    """Annotation.raw of the fast path (cvat_fast.Raw) reads as the general path's tuple of
    polygons: indexing, iteration, slicing, ``in``, equality both ways, len, pickling (a plain
    tuple), unhashable as a tuple of lists; coco-instance with polygons writes them as the
    points say (by hand: the XML's numbers)."""
    import json
    import pickle

    shapes = '<polygon label="cat" points="1,1;6,1;6,6"/><polygon label="dog" points="0.5,0;7.25,3;2,7.5"/>'
    path = _xml(tmp_path, f'<image id="0" name="a.jpg" width="8" height="8">{shapes}</image>')
    ds = segtool.read(path, "cvat")
    fast = _fast(ds.samples[0])
    want = ([[1.0, 1.0, 6.0, 1.0, 6.0, 6.0]], [[0.5, 0.0, 7.25, 3.0, 2.0, 7.5]])
    raw = fast.raw
    assert isinstance(raw, cvat_fast.Raw) and len(raw) == 2
    assert raw == want and want == raw and not (raw != want)
    assert raw[1] == want[1] and raw[-1] == want[1] and raw[:1] == want[:1] and list(raw) == list(want)
    assert want[0] in raw and [[9.0]] not in raw
    back = pickle.loads(pickle.dumps(raw))
    assert type(back) is tuple and back == want
    with pytest.raises(TypeError):
        hash(raw)
    # no tuple whose C-level items are missing: C code that reads a sequence either asks it
    # (tuple(), list()) or refuses it (json.dumps), never writes nulls
    assert type(tuple(raw)) is tuple and tuple(raw) == want and json.dumps(list(raw)) == json.dumps(want)
    with pytest.raises(TypeError):
        json.dumps(raw)
    assert not isinstance(raw, tuple)
    assert raw == _general(monkeypatch, ds.samples[0]).raw
    segtool.write(ds, tmp_path / "out.json", "coco-instance", mask_encoding="polygon")
    written = json.loads((tmp_path / "out.json").read_text())
    assert [a["segmentation"] for a in written["annotations"]] == list(want)
