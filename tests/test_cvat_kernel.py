"""kernels.cvat_polygons: a CVAT ``<image>`` element's bytes straight to polygon columns.

Expected values come from expat (what the reader parsed before, and the general path
parses): whatever the kernel reads (n >= 0) must be exactly what expat reads from the same
bytes (namespaces on, as segtool.formats.cvat_fast parsed them): only ``<polygon>``
children, no nested elements, each label among the names, points that ``float`` reads to
the same doubles, z_order and group_id as the general path's plain values. XML that expat
refuses is never read (-1). The pure-Python twin gives the same result and the same output
buffers on every input (C and twin both called; skipped without the C extension).
"""

from __future__ import annotations

import pyexpat
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segtool import _purekernels as twin

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension
    native = None  # type: ignore[assignment]

pytestmark = pytest.mark.both_kernels  # calls the C kernel and the twin directly: the same under SEGTOOL_PURE_PYTHON=1

NAMES = sorted(n.encode() for n in ("cat", "dog", "d\u00f6g", "c&t", "a b", "\u732b"))
BLOB = b"".join(NAMES)
STARTS = np.cumsum([0, *(len(n) for n in NAMES)], dtype=np.int64)
SMALL = {str(i) for i in range(-8, 64)}

_NUMBERS = ["1", "0", "12.5", "-3.25", "719.99", "0.5", "1e3", "-0", ".5", "1.", "00", " 2", "+1", "1_0", "nan"]
_NUMBERS += ["9" * 30, "1" + "0" * 70, "-0.0", "0.000", "3", "1279.5"]


@st.composite
def _points(draw: Any, tame: bool) -> str:
    plain = tame or draw(st.booleans())
    k = draw(st.integers(1, 6)) if not plain else draw(st.integers(3, 6))
    pick = st.sampled_from(_NUMBERS[:6] if plain else _NUMBERS)
    text = ";".join(f"{draw(pick)},{draw(pick)}" for _ in range(k))
    if not tame and draw(st.integers(0, 9)) == 0:
        text = draw(
            st.sampled_from([text + ";", text.replace(";", " ; "), text.replace(",", ";", 1), "", text + "|1,1"])
        )
    return text


_QUOTE = st.sampled_from(['"', "'"])
_WS = st.sampled_from([" ", "  ", "\n", "\r\n", "\t", " \r\n  "])
_LABELS = ["cat", "dog", "d\u00f6g", "\u732b", "a b", "c&amp;t", "c&#38;t", "unknown", "", "Cat", "ca", "cats"]


@st.composite
def _attr(draw: Any, name: str, value: str) -> str:
    q = draw(_QUOTE)
    eq = draw(st.sampled_from(["=", "=", " = ", "\n=\t"]))
    if q in value:
        q = "'" if q == '"' else '"'
    return f"{name}{eq}{q}{value}{q}"


@st.composite
def _polygon(draw: Any, tame: bool = False) -> str:
    """A polygon element, most often one the kernel reads when ``tame``."""
    attrs = []
    if tame or draw(st.integers(0, 15)):
        attrs.append(draw(_attr("label", draw(st.sampled_from(_LABELS[: 5 if tame else None])))))
    if tame or draw(st.integers(0, 15)):
        attrs.append(draw(_attr("points", draw(_points(tame)))))
    z = ["0", "2", "-1", "-8", "-9", "63", "64", "07", "+1", " 1", "x", "-0"]
    for name, values in (
        ("z_order", z),
        ("group_id", ["0", "0", "1", "00", ""]),
        ("occluded", ["0", "1"]),
        ("source", ["manual", "auto", "semi-auto", "\u00e9t\u00e9", "a>b", 'say "hi"']),
        ("xml:lang", ["en"]),
        ("xmlns", ["urn:x"]),
        ("a:b", ["1"]),
        ("label", ["dog"]),  # (twice: not well-formed)
    ):
        if draw(st.integers(0, 3 if name in ("z_order", "group_id", "occluded", "source") else 20)) == 0:
            if tame and name not in ("z_order", "group_id", "occluded", "source"):
                continue
            attrs.append(draw(_attr(name, draw(st.sampled_from(values[:4] if tame else values)))))
    order = draw(st.permutations(attrs))
    ws = draw(_WS)
    head = "<polygon" + "".join(ws + a for a in order) + draw(st.sampled_from(["", " ", "\r\n"]))
    inner = draw(
        st.sampled_from(
            [
                "",
                "",
                " ",
                "\r\n  ",
                "<!-- c -->",
                "<![CDATA[x]]>",
                "<?pi x?>",
                "text",
                '<attribute name="a">1</attribute>',
            ][: 4 if tame else None]
        )
    )
    if not inner and draw(st.booleans()):
        return head + "/>"
    return head + ">" + inner + "</polygon" + draw(st.sampled_from(["", " ", "\n"])) + ">"


@st.composite
def _image(draw: Any) -> bytes:
    """An ``<image>`` element's bytes up to its end tag (as the file holds them)."""
    tame = draw(st.booleans())  # half the time, only what the kernel may read (some hostile bytes)
    name = draw(st.sampled_from(["a.jpg", "\u00e9t\u00e9.jpg", "a&amp;b.jpg", "x.jpg", "a<b"][: 2 if tame else None]))
    extra = draw(st.sampled_from(["", ' subset="train"', ' xmlns="urn:x"', ' id="1"', "/"][: 2 if tame else None]))
    head = f'<image id="0" name="{name}" width="8" height="8"{extra}>'
    between = st.sampled_from(
        ["", "\n  ", "\r\n", " ", "<!-- c -->", "text", "<![CDATA[<polygon/>]]>", "<?pi?>"][: 4 if tame else None]
    )
    others = st.sampled_from(
        ['<box label="cat" xtl="1" ytl="1" xbr="5" ybr="6"/>', '<polyline label="cat" points="1,1;2,2"/>']
    )
    if tame:
        children = draw(st.lists(_polygon(True), min_size=1, max_size=6))
    else:
        children = draw(st.lists(st.one_of(_polygon(), _polygon(), _polygon(), others), max_size=6))
    text = head + "".join(draw(between) + c for c in children) + draw(between)
    data = text.encode()
    if draw(st.integers(0, 7)) == 0:  # a hostile byte anywhere
        at = draw(st.integers(0, len(data)))
        bad = draw(
            st.sampled_from(
                [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbf\xbe", b"\x01", b"<", b"&", b'"', b"\xc0\xaf"]
            )
        )
        data = data[:at] + bad + data[at:]
    if draw(st.integers(0, 15)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


def _call(module: Any, data: bytes, most: int | None = None) -> tuple[int, list[Any]]:
    most = len(data) // 24 + 1 if most is None else most
    out = [
        np.full(most, 7, np.int64),
        np.full(len(data) // 2 + 1, 7.0),
        np.full(most, 7, np.int64),
        np.full(4 * most, 7.0),
    ]
    n = module.cvat_polygons(np.frombuffer(data, np.uint8), np.frombuffer(BLOB, np.uint8), STARTS, *out)
    return n, out


def _expat(data: bytes) -> list[dict[str, str]] | None:
    """Each child's attributes as expat reads them (namespaces on), or None when the element
    is not only polygons without children, or is not well-formed."""
    rows: list[dict[str, str]] = []
    bad = []
    depth = [0]

    def start(name: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] == 2 and name == "polygon":
            rows.append(attrs)
        elif depth[0] != 1:
            bad.append(name)

    def end(_name: str) -> None:
        depth[0] -= 1

    p = pyexpat.ParserCreate("utf-8", "}")
    p.StartElementHandler, p.EndElementHandler = start, end
    try:
        p.Parse(data + b"</image>", True)
    except pyexpat.ExpatError:
        return None
    return None if bad else rows


def _check_against_expat(data: bytes, n: int, out: list[Any]) -> None:
    rows = _expat(data)
    if n < 0:
        return
    assert rows is not None and len(rows) == n, data
    labels, xy, ends, boxes = out
    start = 0
    for k, attrs in enumerate(rows):
        assert attrs["label"].encode() == NAMES[labels[k]]
        assert attrs.get("z_order", "0") in SMALL and attrs.get("group_id", "0") == "0"
        want = [float(v) for pt in attrs["points"].split(";") for v in pt.split(",")]
        assert xy[2 * start : 2 * ends[k]].tolist() == want
        assert boxes[4 * k : 4 * k + 4].tolist() == [min(want[0::2]), min(want[1::2]), max(want[0::2]), max(want[1::2])]
        start = ends[k]


def _same(a: tuple[int, list[Any]], b: tuple[int, list[Any]]) -> None:
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1], strict=True):
        assert x.tobytes() == y.tobytes()


@given(data=_image())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(data=b'<image id="0"><polygon label="cat" points="1,1;6,1;6,6"/>')
@example(data=b'<image id="0">\r\n<polygon\r\nz_order = \'2\' points="1e3,1;6,1;6,6" label="cat"></polygon >')
def test_what_the_kernel_reads_is_what_expat_reads(data):
    got = _call(twin, data)
    _check_against_expat(data, *got)
    if native is not None:
        _same(_call(native, data), got)


PLAIN = [
    b'<image id="0" name="a.jpg"><polygon label="cat" points="1,1;6,1;6,6"/>',
    b"<image id='0'>\n  <polygon source='manual' occluded='0' points='0.5,0;7.25,3;2,7.5' label='d\xc3\xb6g' z_order='-1'>"
    b'\n  </polygon>\n  <polygon label="\xe7\x8c\xab" group_id="0" points="1,1;6,1;6,6" z_order="63"/>\n  ',
    b'<image\r\n\tid = "0"\r\n>\r\n<polygon label="a b" points="1,1;6,1;6,6" source="a>b"></polygon\r\n>\r\n',
]
NOT_PLAIN = {
    "entity in a label": b'<image><polygon label="c&amp;t" points="1,1;6,1;6,6"/>',
    "character reference": b'<image><polygon label="c&#38;t" points="1,1;6,1;6,6"/>',
    "exponent": b'<image><polygon label="cat" points="1e3,1;6,1;6,6"/>',
    "minus zero": b'<image><polygon label="cat" points="-0,1;6,1;6,6"/>',
    "lone dot": b'<image><polygon label="cat" points=".5,1;6,1;6,6"/>',
    "trailing dot": b'<image><polygon label="cat" points="1.,1;6,1;6,6"/>',
    "two points": b'<image><polygon label="cat" points="1,1;6,1"/>',
    "tab in a value": b'<image><polygon label="cat" points="1,1;6,1;6,6" source="a\tb"/>',
    "newline in points": b'<image><polygon label="cat" points="1,1;\n6,1;6,6"/>',
    "comment": b'<image><polygon label="cat" points="1,1;6,1;6,6"/><!-- x -->',
    "CDATA": b'<image><polygon label="cat" points="1,1;6,1;6,6"><![CDATA[x]]></polygon>',
    "text": b'<image><polygon label="cat" points="1,1;6,1;6,6"/>x',
    "attribute child": b'<image><polygon label="cat" points="1,1;6,1;6,6"><attribute name="a">1</attribute></polygon>',
    "box": b'<image><box label="cat" xtl="1" ytl="1" xbr="5" ybr="6"/>',
    "group": b'<image><polygon label="cat" points="1,1;6,1;6,6" group_id="2"/>',
    "z_order 64": b'<image><polygon label="cat" points="1,1;6,1;6,6" z_order="64"/>',
    "z_order 07": b'<image><polygon label="cat" points="1,1;6,1;6,6" z_order="07"/>',
    "unknown label": b'<image><polygon label="cow" points="1,1;6,1;6,6"/>',
    "no label": b'<image><polygon points="1,1;6,1;6,6"/>',
    "twice": b'<image><polygon label="cat" label="dog" points="1,1;6,1;6,6"/>',
    "namespace": b'<image xmlns="urn:x"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "prefix": b'<image><polygon x:label="cat" label="cat" points="1,1;6,1;6,6"/>',
    "no space": b'<image><polygon label="cat"points="1,1;6,1;6,6"/>',
    "invalid UTF-8": b'<image name="\xff"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "surrogate": b'<image name="\xed\xa0\x80"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "U+FFFE": b'<image name="\xef\xbf\xbe"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "overlong": b'<image name="\xc0\xaf"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "control": b'<image name="\x01"><polygon label="cat" points="1,1;6,1;6,6"/>',
    "truncated": b'<image><polygon label="cat" points="1,1;6,1;6,6"',
    "no polygon": b"<image>\n  ",
    "self-closed image": b'<image/><polygon label="cat" points="1,1;6,1;6,6"/>',
    "17 attributes": b'<image><polygon label="cat" points="1,1;6,1;6,6"'
    + b"".join(b' a%d="1"' % i for i in range(15))
    + b"/>",
}


@pytest.mark.parametrize("data", PLAIN)
def test_plain_images_are_read(data):
    n, out = _call(twin, data)
    assert n == data.count(b"<polygon")
    _check_against_expat(data, n, out)
    if native is not None:
        _same(_call(native, data), (n, out))


@pytest.mark.parametrize("case", NOT_PLAIN)
def test_anything_else_is_left_to_the_general_path(case):
    for module in (twin, native) if native is not None else (twin,):
        n, out = _call(module, NOT_PLAIN[case])
        assert n == -1, (case, module)
        assert all(not x.any() for x in out)  # (zeroed)


def test_more_polygons_than_room_is_left_to_the_general_path():
    data = b"<image>" + b'<polygon label="cat" points="1,1;6,1;6,6"/>' * 3
    for module in (twin, native) if native is not None else (twin,):
        assert _call(module, data, most=2)[0] == -1
        assert _call(module, data, most=3)[0] == 3


def test_names_are_found_as_bisect_finds_them():
    """Unsorted names: the C search and the twin's bisect agree (whatever they find)."""
    names = [b"dog", b"cat", b"zebra", b"ant"]
    blob, starts = b"".join(names), np.cumsum([0, *map(len, names)], dtype=np.int64)
    for label in names:
        data = b'<image><polygon label="%s" points="1,1;6,1;6,6"/>' % label
        results = []
        for module in (twin, native) if native is not None else (twin,):
            out = [np.zeros(2, np.int64), np.zeros(len(data) // 2 + 1), np.zeros(2, np.int64), np.zeros(8)]
            n = module.cvat_polygons(np.frombuffer(data, np.uint8), np.frombuffer(blob, np.uint8), starts, *out)
            results.append((n, out[0].tolist()))
        assert len(set(map(str, results))) == 1


@pytest.mark.parametrize("starts", [[], [1, 2], [0, 2, 1], [0, 99]])
def test_bad_offsets_are_value_errors(starts):
    data = np.frombuffer(b'<image><polygon label="ab" points="1,1;6,1;6,6"/>', np.uint8)
    for module in (twin, native) if native is not None else (twin,):
        out = [np.zeros(2, np.int64), np.zeros(data.size // 2 + 1), np.zeros(2, np.int64), np.zeros(8)]
        with pytest.raises(ValueError, match="starts"):
            module.cvat_polygons(data, np.frombuffer(b"ab", np.uint8), np.array(starts, np.int64), *out)
