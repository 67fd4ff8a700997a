"""Issue 15: a COCO panoptic ``annotations`` list read by the C scan (``scan_panoptic``) reads
as the JSON parsers read it. The twin (segtool/_purekernels/panoptic.py) equals the C kernel
on random and hostile texts, cut anywhere; the records it accepts are the ones the documented
rules call plain (judged here on ``json.loads``' objects), with ``json.loads``' image id,
segment count, file name and record text; a cut text gives a prefix of them (NEED while the
cut record could still be plain); and ijson (yajl, what the reader would use instead) reads
every accepted record as ``json.loads`` reads its text, so a worker may parse the text alone.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import struct
from pathlib import Path
from typing import Any

import ijson
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool import _purekernels as twin
from segtool import kernels
from tests.test_kernels_scan import _both as both_scans

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension
    native = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE, END, NEED, BAIL = 0, 1, 2, 3
DEPTH, DIGITS = 64, 15  # _kernels.c SCAN_DEPTH (nesting of a skipped value), SCAN_INT_DIGITS
SPECIAL = ("image_id", "file_name", "segments_info")
ODD_TEXT = ["", "a.png", "x/y.png", 'q"uote', "back\\slash", "tab\there", "caf\u00e9", "del\x7f", "\x01", "\u2603"]
ODD_VALUES: list[Any] = [None, True, False, 0, -7, 10**15 - 1, 10**15, -(10**15), 1.5, -0.0, 1e300, 1e-300, 1e15, 1e16]
CALM: list[Any] = [None, True, 0, -7, 1.5, -0.0, 1e300, 1e-300, 0.1 + 0.2, "", "x/y", "\b\f\n\r\t", [], {}, [1, {"a": None}]]  # fmt: skip
ODD_VALUES += [0.1 + 0.2, "", "x", "\b\f\n\r\t", "\u00e9", [], {}, [1, [2, {"a": None}]], {"b\\": 1}, {"": ""}]
# (raw token, plain?): inserted as an extra key's value (json.loads reads them all)
RAW = [
    ("1e999", False), ("-1.8e308", False), ("1E400", False), ("1.7976931348623159e308", False),
    ("1.7976931348623157e308", True), ("-0", True), ("-0.0", True), ("1e-400", True), ("2.5E-3", True),
    ("0e0", True), ('"\\b\\f\\n\\r\\t\\/\\\\\\""', True), ('"\\u0041"', False), ("NaN", False), ("-Infinity", False),
    ("1234567890123456", False), ("-123456789012345", True), ('"a\x7fb"', True), ('"\xc3\xa9"', False),
    ("[[[[[]]]]]", True), ('{"k": [{"\\\\": 1}]}', False), ('{"k": {"k": 1, "k": [2]}}', True),
]  # fmt: skip


def _nest(rng: random.Random, levels: int) -> Any:
    v: Any = rng.choice([0, "x", None, 1.25])
    for _ in range(levels):
        v = [v] if rng.random() < 0.5 else {"n": v}
    return v


def _value(rng: random.Random, odd: float) -> Any:
    """A value for an extra key or a segment: plain ones, or with chance ``odd`` one the scan leaves."""
    hostile = rng.random() < odd
    if rng.random() < 0.1:
        return _nest(rng, rng.choice([1, 5, 61, 62, 63, 64, 70] if hostile else [1, 5, 20]))
    return rng.choice(ODD_TEXT + ODD_VALUES if hostile else CALM)


def _segment(rng: random.Random, odd: float) -> Any:
    if rng.random() < 0.1:
        return _value(rng, odd)
    seg: dict[str, Any] = {"id": rng.randint(1, 2**24), "category_id": rng.randint(1, 200), "iscrowd": 0}
    seg["area"] = rng.choice([4, 0, 10**6])
    seg["bbox"] = [rng.choice([0, 1, 2.5, -0.0]) for _ in range(4)]
    if rng.random() < 0.2:
        seg[rng.choice(["x", "bbox", "area", "id"])] = _value(rng, odd)
    return seg


def _record(rng: random.Random, odd: float) -> Any:
    """A panoptic record: plain, or (chance about ``odd``) with something the scan must leave."""
    if rng.random() < odd / 5:
        return rng.choice([7, None, [], "x", {}])
    rec: dict[str, Any] = {
        "image_id": rng.choice([1, 2, 0, 397133, 10**15 - 1, -5]),
        "file_name": rng.choice(["000000397133.png", "a.png", "x y/z.png", ""]),
        "segments_info": [_segment(rng, odd) for _ in range(rng.choice([0, 1, 3, 12]))],
    }
    for _ in range(rng.choice([0, 0, 1, 3])):
        keys = ["x", "y", "image", "segments", "file_name ", "id", *(["I\u00e9", "a\\b"] if rng.random() < odd else [])]
        rec[rng.choice(keys)] = _value(rng, odd)
    if rng.random() < odd:
        key = rng.choice(SPECIAL)
        rec[key] = rng.choice([*ODD_VALUES, *ODD_TEXT, 10**16, 1.0, "1", _nest(rng, 3)])
    if rng.random() < odd / 3:
        del rec[rng.choice(SPECIAL)]
    keys = list(rec)
    rng.shuffle(keys)
    return {k: rec[k] for k in keys}


def _text_ok(s: str, escapes: bool, ascii_only: bool) -> bool:
    """A string as json.dumps writes it, read by the scan: bytes 0x20..0x7f unescaped (0x7f
    raw only without ensure_ascii); a skipped value's may also use \\" \\\\ \\b \\f \\n \\r \\t."""
    for c in s:
        if c in '"\\\b\f\n\r\t':
            if not escapes:
                return False
        elif not (" " <= c <= "~" or (c == "\x7f" and not ascii_only)):
            return False
    return True


def _skippable(v: Any, depth: int, ascii_only: bool) -> bool:
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return len(str(abs(v))) <= DIGITS
    if isinstance(v, float):
        lead = re.match(r"-?(\d*)", repr(v))
        return math.isfinite(v) and lead is not None and len(lead.group(1)) <= DIGITS
    if isinstance(v, str):
        return _text_ok(v, True, ascii_only)
    if depth >= DEPTH:
        return False
    if isinstance(v, dict):
        return all(_text_ok(k, False, ascii_only) and _skippable(x, depth + 1, ascii_only) for k, x in v.items())
    return all(_skippable(x, depth + 1, ascii_only) for x in v)


def _plain(rec: Any, ascii_only: bool) -> bool:
    """The documented rules on the record json.loads read: an object with an integer image_id
    (at most 15 digits), a file_name string without escapes, a segments_info list, every other
    value and every item a JSON value scan_skip passes over (nesting below 64, no \\u)."""
    if not isinstance(rec, dict) or any(k not in rec for k in SPECIAL):
        return False
    iid, name, segs = rec["image_id"], rec["file_name"], rec["segments_info"]
    if type(iid) is not int or len(str(abs(iid))) > DIGITS or type(name) is not str or type(segs) is not list:
        return False
    if not _text_ok(name, False, ascii_only) or not all(_text_ok(k, False, ascii_only) for k in rec):
        return False
    others = [v for k, v in rec.items() if k not in SPECIAL]
    return all(_skippable(s, 2, ascii_only) for s in segs) and all(_skippable(v, 1, ascii_only) for v in others)


def _listing(rng: random.Random, n: int) -> tuple[bytes, list[tuple[int, int, bool, Any]]]:
    """A list of ``n`` records as json.dumps writes them (random indent, separators, ASCII or
    not), now and then a raw token or a key twice in a record. Returns the text and per record
    (start just after the comma before it, end just past its '}', plain?, json.loads' record)."""
    ascii_only, odd = rng.random() < 0.7, rng.choice([0.0, 0.01, 0.05, 0.3])
    indent = rng.choice([None, None, 0, 2, "\t"])
    seps = rng.choice([(",", ":"), (", ", ": "), (" ,\n\t", " :\r\n")])
    text, spans = "[" + rng.choice(["", " ", "\n"]), []
    for k in range(n):
        start = len(text)
        if k:
            sep = rng.choice([",", " , ", ",\n  ", "\r\n,\t"])
            start += sep.index(",") + 1
            text += sep
        rec = _record(rng, odd)
        piece = json.dumps(rec, indent=indent, separators=seps, ensure_ascii=ascii_only)
        plain = _plain(rec, ascii_only)
        if isinstance(rec, dict) and rec and rng.random() < 0.05 + odd:  # a key first: json.loads keeps the last
            if rng.random() < 0.5:  # a key twice: only an extra one is plain
                key, raw = rng.choice([*(k for k in SPECIAL if k in rec), "extra"]), "5"
                ok = key == "extra"
            else:
                (raw, ok), key = rng.choice(RAW), "raw"
                raw = rng.choice(["%s", "[%s]", '{"r": [0, %s]}']) % raw
            piece = "{" + json.dumps(key) + ":" + raw + "," + piece[1:]
            plain = plain and ok
        text += piece
        spans.append((start, len(text), plain, json.loads(piece)))
    return (text + rng.choice(["]", " ]", "\n]"])).encode("utf-8"), spans


def _fields(result: tuple[Any, ...]) -> list[tuple[int, int, int, int, str]]:
    """The scanned records as (image_id, segments, end, start, file name)."""
    _, _, n, ints, names = result
    i = struct.unpack(f"={4 * n}q", ints)
    return [(*i[4 * k : 4 * k + 4], names[k]) for k in range(n)]


def _typed(v: Any) -> Any:
    """A value with its types spelled out (1 != 1.0 != True, -0.0 != 0.0), keys in order."""
    if isinstance(v, dict):
        return ("dict", [(k, _typed(x)) for k, x in v.items()])
    if isinstance(v, list):
        return ("list", [_typed(x) for x in v])
    return (type(v).__name__, repr(v))


def _ijson(text: bytes) -> list[Any]:
    return list(ijson.items(io.BytesIO(text), "item", use_float=True))


def _both(*args: Any) -> Any:
    return both_scans(*args, kernel="scan_panoptic")


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.data())
def test_twin_equals_c_on_random_and_hostile_texts_cut_anywhere(seed: int, n: int, data: st.DataObject) -> None:
    text, _ = _listing(random.Random(seed), n)
    cut = data.draw(st.integers(0, len(text)))
    pos = min(data.draw(st.sampled_from([1, 1, 0, data.draw(st.integers(0, len(text)))])), cut)
    _both(text[:cut], pos, data.draw(st.booleans()), data.draw(st.booleans()), data.draw(st.integers(1, n + 1)))


@needs_c
@pytest.mark.parametrize("seed", range(12))
def test_twin_equals_c_at_every_cut(seed: int) -> None:
    """One list cut at every byte, final or not, first or not, a few records at a time."""
    text, spans = _listing(random.Random(seed), 3)
    for cut in range(len(text) + 1):
        for final in (False, True):
            _both(text[:cut], 1, True, final, 1 + cut % 3)
            for start, *_ in spans[1:2]:
                if start <= cut:
                    _both(text[:cut], start, False, final, 2)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.data())
def test_what_the_scan_accepts_is_what_json_loads_reads(seed: int, n: int, data: st.DataObject) -> None:
    """The whole list, then cut (NEED while the cut record may still be plain, BAIL when final)."""
    text, spans = _listing(random.Random(seed), n)
    want = 0
    while want < n and spans[want][2]:
        want += 1
    whole = kernels.scan_panoptic(text, 1, True, True, 10**6)
    got = _fields(whole)
    assert len(got) == want
    assert whole[:2] == ((END, len(text)) if want == n else (BAIL, spans[want][0]))
    for (iid, count, end, start, name), (s, e, _, rec) in zip(got, spans, strict=False):
        assert (start, end) == (s, e)  # the record's text: json.loads read ``rec`` from it
        assert (iid, count, name) == (rec["image_id"], len(rec["segments_info"]), rec["file_name"])
    if want:  # ijson reads the accepted records (and what lies between them) as json.loads does
        last = got[-1][2]
        assert _typed(_ijson(text[:last] + b"]")) == _typed([json.loads(text[r[3] : r[2]]) for r in got])
    most = data.draw(st.integers(1, 4))
    part = kernels.scan_panoptic(text, 1, True, True, most)
    if n > most and want >= most:
        assert part[:3] == (MORE, spans[most][0], most) and _fields(part) == got[:most]
    cut, final = data.draw(st.integers(1, len(text))), data.draw(st.booleans())
    status, pos, k, *_ = part = kernels.scan_panoptic(text[:cut], 1, True, final, 10**6)
    assert _fields(part) == got[:k]
    closes = [text.index(b"]" if i == n - 1 else b",", spans[i][1]) for i in range(n)]  # the byte after each record
    assert k == sum(1 for i in range(want) if closes[i] < cut)
    if status == END:
        assert (k, pos) == (n, len(text)) and cut == len(text)
        return
    assert pos == (min(spans[k][0], cut) if k < n else cut)  # the cut may lie in the blanks before it
    if k < want or k == n:  # the cut lies in a plain record, or before the ']' of a list of them
        assert status == (BAIL if final else NEED)
    else:
        assert status in ((BAIL,) if final else (NEED, BAIL))


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.data())
def test_chunks_do_not_matter(seed: int, n: int, data: st.DataObject) -> None:
    text, _ = _listing(random.Random(seed), n)
    whole = native.scan_panoptic(text, 1, True, True, 10**6)
    pos, first, have, rows, most = 1, True, 0, [], data.draw(st.integers(1, 5))
    while True:  # the same records fed in random chunks (NEED: more text), `most` at a time
        have = min(len(text), have + data.draw(st.integers(1, 64)))
        status, pos, k, *rest = native.scan_panoptic(text[:have], pos, first, have == len(text), most)
        rows += _fields((status, pos, k, *rest))
        first = first and k == 0
        if status in (END, BAIL):
            break
    assert (status, pos) == whole[:2]
    assert rows == _fields(whole)


def _one(extra: str) -> bytes:
    return ('[{"image_id": 3, "file_name": "a.png", "segments_info": [{"id": 1}, {}]' + extra + "}]").encode()


@pytest.mark.parametrize(("token", "plain"), RAW)
def test_raw_tokens_by_hand(token: str, plain: bool) -> None:
    """A value beyond a double (1e999, -1.8e308) bails, as yajl refuses it (json.loads reads
    inf); -0, -0.0, 1e-400 and the short escapes are read, by ijson as by json.loads."""
    for where in ("%s", "[%s]", '{"r": {"s": [%s]}}'):
        text = _one(', "x": ' + where % token)
        got = kernels.scan_panoptic(text, 1, True, True, 9)
        assert got[:3] == ((END, len(text), 1) if plain else (BAIL, 1, 0)), text
        rec = text[1:-1]
        if plain:
            assert _typed(_ijson(text)) == _typed([json.loads(rec)])
        elif token in ("1e999", "-1.8e308", "1E400", "1.7976931348623159e308"):
            assert "inf" in repr(json.loads(rec))
            with pytest.raises(ijson.JSONError, match="overflow"):
                _ijson(text)


def test_plain_records_by_hand() -> None:
    """Counts and offsets by hand; the key or shape the documented rules refuse bails."""
    text = _one("")
    assert kernels.scan_panoptic(text, 1, True, True, 9) == (END, 73, 1, struct.pack("=4q", 3, 2, 72, 1), ["a.png"])
    deep = "[" * 62 + "]" * 62  # segments_info's items lie at depth 2: 62 levels pass, 63 do not
    for old, new, ok in [
        ('"image_id": 3', '"image_id": -0', True),
        ('"image_id": 3', '"image_id": 123456789012345', True),
        ('"image_id": 3', '"image_id": 1234567890123456', False),
        ('"image_id": 3', '"image_id": 3.0', False),
        ('"image_id": 3', '"image_id": "3"', False),
        ('"image_id": 3', '"image_id": 3, "image_id": 3', False),
        ('"a.png"', '"a\\/b.png"', False),
        ('"a.png"', '"caf\u00e9.png"', False),
        ('"a.png"', "null", False),
        ('"image_id": 3', '"image_id": 01', False),
        ('[{"id": 1}, {}]', "[]", True),
        ('[{"id": 1}, {}]', "{}", False),
        ('[{"id": 1}, {}]', "[" + deep + "]", True),
        ('[{"id": 1}, {}]', "[[" + deep + "]]", False),
        ('"segments_info"', '"segments_info": [], "x": 1, "segments_info"', False),
        ('"file_name"', '"x": 1, "x": [], "file_name"', True),
    ]:
        got = kernels.scan_panoptic(_one("").replace(old.encode(), new.encode(), 1), 1, True, True, 9)
        assert (got[0] == END) == ok, new
    assert kernels.scan_panoptic(b"[]", 1, True, True, 1)[:3] == (END, 2, 0)
    assert kernels.scan_panoptic(b"[{}]", 1, True, True, 1)[:3] == (BAIL, 1, 0)
    assert kernels.scan_panoptic(text[:-2], 1, True, False, 9)[:3] == (NEED, 1, 0)
    assert kernels.scan_panoptic(text[:-2], 1, True, True, 9)[:3] == (BAIL, 1, 0)


DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize(
    ("path", "status", "want"),
    [  # tests/data/README.md and ../shared/data/real/README.md: what each file holds
        (
            "panopticapi/panoptic_examples.json",
            END,
            [(142238, 18, "000000142238.png"), (439180, 32, "000000439180.png")],
        ),
        ("datumaro/coco/annotations/panoptic_val.json", END, None),
        ("datumaro/mapillary_vistas/val/v2.0/panoptic/panoptic_2020.json", BAIL, []),  # image ids are strings
    ],
)
def test_real_panoptic_files(path: str, status: int, want: list[tuple[int, int, str]] | None) -> None:
    text = (DATA / path).read_bytes()
    recs = json.loads(text)["annotations"]
    at = text.index(b"[", text.index(b'"annotations"')) + 1
    got = kernels.scan_panoptic(text, at, True, True, 99)
    assert got[0] == status
    rows = [(r[0], r[1], r[4]) for r in _fields(got)]
    assert rows == (
        want if want is not None else [(r["image_id"], len(r["segments_info"]), r["file_name"]) for r in recs]
    )
    assert [json.loads(text[r[3] : r[2]]) for r in _fields(got)] == recs[: len(rows)]


def test_a_long_list() -> None:
    """20,000 records (the C kernel's tables grow many times): json.loads' values for each."""
    recs = [{"segments_info": [{"id": i}] * (i % 5), "file_name": f"{i:012d}.png", "image_id": i} for i in range(20000)]
    text = json.dumps(recs).encode()
    got = kernels.scan_panoptic(text, 1, True, True, 10**9)
    assert got[:3] == (END, len(text), 20000)
    rows = _fields(got)
    assert [(r[0], r[1], r[4]) for r in rows] == [(i, i % 5, f"{i:012d}.png") for i in range(20000)]
    assert [json.loads(text[r[3] : r[2]]) for r in rows[::997]] == recs[::997]


@needs_c
def test_argument_errors_are_the_same() -> None:
    bad: list[Any] = [(b"[]", -1), (b"[]", 3), (b"[]", 2**64), ("[]", 1), (None, 0), ([91, 93], 0)]
    bad += [(np.zeros(3, np.int64), 0), (memoryview(b"[]x")[::2], 0)]  # not bytes, not contiguous
    for args in [*((*b, True, True, 5) for b in bad), (b"[]", 1, True, True, 0), (b"[]", 1, True, True, -1)]:
        _both(*args)
    for module in (native, twin):
        with pytest.raises(ValueError, match="pos is out of range"):
            module.scan_panoptic(b"[]", 3, True, True, 5)
        with pytest.raises(ValueError, match="most must be >= 1"):
            module.scan_panoptic(b"[]", 1, True, True, 0)
    assert _both(bytearray(b"[ ] "), 1, True, True, 5)[:3] == (END, 3, 0)
    assert _both(b"[ ] ", 1, False, True, 5)[:3] == (BAIL, 1, 0)  # after a comma, ']' is no record


@needs_c
@pytest.mark.parametrize("token", ["1e999", "-1.8e308", "1E400"])
def test_scan_annotations_bails_on_an_exponent_beyond_a_double(token: str) -> None:
    plain = '{"id": 3, "image_id": 1, "category_id": 2, "bbox": [0, 1, 2.5, 3], "area": 4, "iscrowd": 0}'
    assert both_scans(f"[{plain}]".encode(), 1, True, True, 9, kernel="scan_annotations")[:3] == (
        END,
        len(plain) + 2,
        1,
    )
    for old in ('"area": 4', '"bbox": [0, 1, 2.5, 3]', '"iscrowd": 0'):
        new = {"area": f'"area": {token}', "bbox": f'"bbox": [0, 1, {token}, 3]'}.get(old[1:5], f'"x": {token}, {old}')
        text = f"[{plain.replace(old, new, 1)}]".encode()
        assert both_scans(text, 1, True, True, 9, kernel="scan_annotations")[:3] == (BAIL, 1, 0), text
