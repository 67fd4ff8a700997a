"""The CVAT scan that leaves plain images' shapes out of expat (segtool.formats.cvat_skip).

Expected values: the full pass's (cvat_xml.full_scan, every byte read by expat) result,
reported problems and errors, on generated files: plain images and images the kernel
leaves to expat, ``<image`` and ``</image>`` inside comments, CDATA and attribute-like
text, nested and self-closed images, an end tag spelled ``</image >``, a Latin-1 file,
broken XML after skipped images (the error's line and column are the file's), malformed
image sizes (reported once, in order), files cut anywhere, and chunks as small as 7 bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool.errors import SegtoolError
from segtool.formats import cvat_skip, cvat_xml
from segtool.policy import STRICT

META = "<meta><task><labels><label><name>cat</name></label><label><name>d\u00f6g</name></label></labels></task></meta>"
PLAIN = '<polygon label="cat" points="1,1;6,1;6,6" z_order="0"/>'
CHILDREN = [
    PLAIN,
    '\n    <polygon label="d\u00f6g" occluded="0" points="0.5,0;7.25,3;2,7.5"></polygon>\n  ',
    '<polygon label="cow" points="1,1;6,1;6,6"/>',
    '<box label="cat" xtl="1" ytl="1" xbr="5" ybr="6"/>',
    "<!-- <image id='9'> </image> -->",
    "<![CDATA[</image><image>]]>",
    '<image id="7" width="3" height="3"><polygon label="cat" points="1,1;2,1;2,2"/></image>',
    "text </image",
    PLAIN + "<!-- x -->",
]


@st.composite
def _document(draw: Any) -> str:
    images = []
    for k in range(draw(st.integers(0, 6))):
        size = draw(st.sampled_from(['width="8" height="8"', 'width="8" height="8"', 'width="0" height="8"']))
        head = f'<image id="{k}" name="{k}.jpg" {size}'
        kind = draw(st.integers(0, 5))
        if kind == 0:
            images.append(head + "/>")
            continue
        body = "".join(draw(st.lists(st.sampled_from(CHILDREN[:2] if kind < 3 else CHILDREN), max_size=4)))
        end = draw(st.sampled_from(["</image>", "</image>", "</image >"]))
        images.append(f"{head}>{body}{end}")
    between = draw(st.sampled_from(["\n  ", "", "<!-- <image> -->", "<?pi <image ?>"]))
    text = f'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n<version>1.1</version>{META}'
    text += between + between.join(images) + "\n</annotations>\n"
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["<", "&", "</x>", ""])) + text[at:]
    return text


def _outcome(scan: Any, path: Path) -> tuple[Any, list[Any]]:
    got: list[Any] = []
    try:
        found = scan(path, lambda *a, **k: got.append((a, k)))
    except SegtoolError as exc:
        return ("error", str(exc)), got
    try:
        strict: Any = scan(path, STRICT)
    except SegtoolError as exc:
        strict = ("error", str(exc))
    return (found, strict), got


@given(text=_document(), chunk=st.sampled_from([7, 64, 1 << 16]), encoding=st.sampled_from(["utf-8", "latin-1"]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_scan_is_the_full_passes(tmp_path, monkeypatch, text, chunk, encoding):
    path = tmp_path / "annotations.xml"
    path.write_bytes(text.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding))
    monkeypatch.setattr(cvat_skip, "CHUNK", chunk)
    assert _outcome(cvat_xml.scan, path) == _outcome(cvat_xml.full_scan, path)


def test_plain_images_are_skipped_and_placed_as_expat_places_them(tmp_path, monkeypatch):
    body = "".join(
        f'<image id="{k}" name="{k}.jpg" width="8" height="8">\n    {PLAIN}\n  </image>\n  ' for k in range(50)
    )
    path = tmp_path / "annotations.xml"
    path.write_text(f"<annotations><version>1.1</version>{META}\n  {body}</annotations>", encoding="utf-8")
    calls = []
    real = cvat_skip.kernels.cvat_polygons
    monkeypatch.setattr(cvat_skip.kernels, "cvat_polygons", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(cvat_skip, "CHUNK", 100)
    found = cvat_skip.skipping_scan(path, STRICT)
    assert found is not None and len(calls) == 50
    assert found == cvat_xml.full_scan(path, STRICT)
    data = path.read_bytes()
    for e in found.images:  # each range: from "<image" to its "</image>"
        assert data[e.start : e.start + 6] == b"<image" and data[e.end : e.end + 8] == b"</image>"


@pytest.mark.parametrize(
    "tail",
    ["<image id='x' width='8' height='8'><polygon/></imag></annotations>", "<image", "&bad;</annotations>"],
)
def test_a_problem_after_skipped_images_is_named_where_it_is(tmp_path, tail):
    body = "".join(f'<image id="{k}" width="8" height="8">\n{PLAIN}\n</image>\n' for k in range(20))
    path = tmp_path / "annotations.xml"
    path.write_text(f"<annotations>{META}\n{body}{tail}", encoding="utf-8")
    with pytest.raises(SegtoolError) as full:
        cvat_xml.full_scan(path, STRICT)
    with pytest.raises(SegtoolError) as got:
        cvat_xml.scan(path, STRICT)
    assert str(got.value) == str(full.value)
    if tail.startswith("<image id='x'"):  # (the tail's line: <meta> on line 1, 3 lines an image)
        assert "line 62, column 47: mismatched tag" in str(got.value)
