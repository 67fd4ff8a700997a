"""Issue 15: a COCO results list read by the C scan (``scan_results``) reads as the JSON
parser reads it. The twin (segtool/_purekernels/results.py) equals the C kernel on random
and hostile texts, cut anywhere; what the scan accepts equals ``json.loads``; the scan gives
the same records whatever the chunks; and ``stream_predictions`` with the scan gives the
same detections, or the same refusal, as with the parser alone (results_scan.usable False).
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool import _purekernels as twin
from segtool.errors import SegtoolError
from segtool.formats import coco_results, results_scan
from segtool.model import Category, Dataset, ImageInfo, Sample

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension
    native = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE, END, NEED, BAIL = 0, 1, 2, 3

# values a field may take: plain ones most of the time, then what the scan must leave to the parser
HOSTILE = [
    None, True, "7", "x\\u00e9", "caf\u00e9", [], {}, 1.5, -0.0, 10**15, 10**16, 2**63, -(2**63) - 1,
    1e308, "NaN", 0.1, 1e-320, [1, 2, 3], [1, 2, 3, 4, 5], {"counts": "ab"}, [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]],
]  # fmt: skip
RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "01", "1.", ".5", "-", "1e", "1e+", "tru", "nul", '"\\x"']


def _record(rng: random.Random) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "image_id": rng.choice([1, 2, 3, 7, -0, 123456789012345]),
        "category_id": rng.choice([1, 2, 5]),
        "score": rng.choice([0.5, 1, 0, 0.123456789, 1e-5, 3, 0.1 + 0.2]),
    }
    if rng.random() < 0.7:
        rec["bbox"] = [rng.choice([0, 1.5, -0.0, 1e3, 2]) for _ in range(4)]
    if rng.random() < 0.8:
        counts = "".join(
            rng.choice("0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmno")
            for _ in range(rng.randint(0, 12))
        )
        rec["segmentation"] = {"size": [rng.choice([4, 5]), 6], "counts": counts}
        if rng.random() < 0.1:
            rec["segmentation"]["extra"] = [1, {"a": None}]
    if rng.random() < 0.2:
        rec["area"] = rng.choice([3, 4.5, "x", None, [1, [2, {"b": False}]]])
    if rng.random() < 0.15:  # something hostile somewhere
        where = rng.choice(["image_id", "category_id", "score", "bbox", "segmentation", "area"])
        rec[where] = rng.choice(HOSTILE)
    if rng.random() < 0.1 and "segmentation" in rec and isinstance(rec["segmentation"], dict):
        rec["segmentation"][rng.choice(["size", "counts"])] = rng.choice(HOSTILE)
    keys = list(rec)
    rng.shuffle(keys)
    return {k: rec[k] for k in keys}


def _text(rng: random.Random, n: int) -> bytes:
    """A results list of ``n`` random records, random blanks, now and then a raw hostile token."""
    recs = [_record(rng) for _ in range(n)]
    sep = rng.choice([(",", ":"), (", ", ": "), (" ,\n\t", " :\r\n")])
    text = "[" + rng.choice(["", " ", "\n"]) + sep[0].join(json.dumps(r, separators=sep) for r in recs) + "]"
    if rng.random() < 0.3 and recs:
        at = rng.choice(["0.5", '"x', "[", "{", ":", ","])
        k = text.find(at, rng.randint(0, len(text) - 1))
        if k >= 0:
            text = text[:k] + rng.choice([*RAW_TOKENS, "", "}", "]", ",,", '"\\n"', "\x01", "\u00e9"]) + text[k + 1 :]
    if rng.random() < 0.1:
        text = text.replace("\\\\", "\\/", 1)  # an escape the counts may have
    return (text + rng.choice(["", " \n", " x", "]"])).encode("utf-8")


def _both(*args: Any, kernel: str = "scan_results") -> Any:
    """``kernel`` (a list scan) of the C extension and of the twin: the same result or error."""
    out = []
    for module in (native, twin):
        try:
            out.append(getattr(module, kernel)(*args))
        except Exception as exc:
            out.append((type(exc), str(exc)))
    assert out[0] == out[1], args
    return out[0]


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.data())
def test_twin_equals_c_on_random_and_hostile_texts_cut_anywhere(seed: int, n: int, data: st.DataObject) -> None:
    text = _text(random.Random(seed), n)
    cut = data.draw(st.integers(0, len(text)))
    pos = data.draw(st.sampled_from([1, 1, 0, data.draw(st.integers(0, len(text)))]))
    pos = min(pos, cut)
    _both(text[:cut], pos, data.draw(st.booleans()), data.draw(st.booleans()), data.draw(st.integers(1, 8)))


@needs_c
@pytest.mark.parametrize("kernel", ["scan_results", "scan_annotations"])
def test_argument_errors_are_the_same(kernel: str) -> None:
    """Both list scans (one walk over the list, _purekernels.results.scan_list, in the twin)."""
    for args in [
        (b"[]", -1, True, True, 5),
        (b"[]", 3, True, True, 5),
        (b"[]", 1, True, True, 0),
        (b"[]", 2**64, True, True, 5),
        ("[]", 1, True, True, 5),
        (np.zeros(3, np.int64), 0, True, True, 5),
        (memoryview(b"[]x")[::2], 0, True, True, 5),
    ]:
        _both(*args, kernel=kernel)
    assert _both(bytearray(b"[ ] "), 1, True, True, 5, kernel=kernel)[:3] == (END, 3, 0)
    assert _both(b"[ ] ", 1, False, True, 5, kernel=kernel)[:3] == (BAIL, 1, 0)  # after a comma, ']' is no record


def _columns(result: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The scanned records as (image_id, category_id, h, w, score, box, flags, counts)."""
    _, _, n, ints, doubles, flags, counts = result
    i = struct.unpack(f"={5 * n}q", ints)
    d = struct.unpack(f"={5 * n}d", doubles)
    return [(*i[5 * k : 5 * k + 4], d[5 * k], d[5 * k + 1 : 5 * k + 5], flags[k], counts[k]) for k in range(n)]


def _expected(rec: dict[str, Any]) -> tuple[Any, ...]:
    segm = rec.get("segmentation")
    box = rec.get("bbox")
    return (
        rec["image_id"],
        rec["category_id"],
        *(segm["size"] if segm else (0, 0)),
        float(rec["score"]),
        tuple(float(v) for v in box) if box else (0.0,) * 4,
        (1 if "bbox" in rec else 0) | (2 if "segmentation" in rec else 0),
        segm["counts"] if segm else None,
    )


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.data())
def test_what_the_scan_accepts_reads_as_json_loads_and_chunks_do_not_matter(
    seed: int, n: int, data: st.DataObject
) -> None:
    text = _text(random.Random(seed), n)
    whole = native.scan_results(text, 1, True, True, 10**6)
    got = _columns(whole)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if whole[0] == END and parsed is not None:
        assert len(got) == len(parsed)
    if parsed is not None:
        for row, rec in zip(got, parsed, strict=False):
            exp = _expected(rec)
            assert row[:4] == exp[:4] and row[6:] == exp[6:]
            assert struct.pack("=5d", row[4], *row[5]) == struct.pack("=5d", exp[4], *exp[5])  # bit for bit
    # the same records, fed in random chunks (NEED: more text), `most` at a time
    pos, first, have, rows = 1, True, 0, []
    most = data.draw(st.integers(1, 5))
    while True:
        have = min(len(text), have + data.draw(st.integers(1, 64)))
        status, pos, k, *rest = native.scan_results(text[:have], pos, first, have == len(text), most)
        rows += _columns((status, pos, k, *rest))
        first = first and k == 0
        if status in (END, BAIL):
            break
    assert (status, pos) == whole[:2]
    assert [(r[:4], struct.pack("=5d", r[4], *r[5]), r[6:]) for r in rows] == [
        (r[:4], struct.pack("=5d", r[4], *r[5]), r[6:]) for r in got
    ]


@needs_c
def test_hostile_values_are_left_to_the_parser() -> None:
    plain = '{"image_id": 1, "category_id": 2, "score": 0.5, "segmentation": {"size": [4, 6], "counts": "ab"}}'
    assert native.scan_results(f"[{plain}]".encode(), 1, True, True, 9)[:3] == (END, len(plain) + 2, 1)
    for old, new in [
        ('"score": 0.5', '"score": NaN'),
        ('"score": 0.5', '"score": 1e999'),  # beyond a double: yajl refuses it, json reads inf
        ('"image_id": 1', '"image_id": 1234567890123456'),  # 16 digits
        ('"image_id": 1', '"image_id": 1.0'),
        ('"image_id": 1', '"image_id": "1"'),
        ('"image_id": 1', '"image_\\u0069d": 1'),
        ('"counts": "ab"', '"counts": "a\\nb"'),
        ('"counts": "ab"', '"counts": "a\\u0062"'),
        ('"counts": "ab"', '"counts": "a\u00e9"'),
        ('"counts": "ab"', '"counts": [1, 2]'),
        ('"size": [4, 6]', '"size": [4.0, 6]'),
        ('"segmentation": {', '"segmentation": [[1, 2, 3, 4, 5, 6]], "x": {'),
        ('"score": 0.5', '"score": 0.5, "score": 0.5'),
        ('"score": 0.5', '"scorе": 0.5'),  # a Cyrillic e: not ASCII
        ('"score": 0.5', '"score": 00.5'),
        ('"score": 0.5', '"score": 0.' + "1" * 70),  # a 72-character token
    ]:
        text = f"[{plain.replace(old, new, 1)}]".encode()
        assert native.scan_results(text, 1, True, True, 9)[:3] == (BAIL, 1, 0), new
    # an escaped backslash or slash in the counts is read (json.dumps escapes the backslash)
    escaped = "a" + "\\" * 2 + "b" + "\\" + "/"  # the JSON text a\\b\/
    text = ("[" + plain.replace("ab", escaped) + "]").encode()
    assert (
        native.scan_results(text, 1, True, True, 9)[6] == ["a\\b/"] == [json.loads(text)[0]["segmentation"]["counts"]]
    )


# --- the reader: the scan and the parser give the same ------------------------------------


def _gt(n_images: int = 6) -> Dataset:
    images = [ImageInfo(i, f"{i}.png", 4 + (i == 3), 6) for i in range(1, n_images + 1)]
    cats = (Category(1, "a"), Category(2, "b"), Category(5, "c"))
    return Dataset(cats, tuple(Sample(im, cast(Any, None)) for im in images), "instance")


def _stream(path: Path, gt: Dataset, scan: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        if not scan:
            m.setattr(results_scan, "usable", lambda path: False)
        try:
            out = []
            for iid, d in coco_results.stream_predictions(path, gt=gt).items():
                boxes = None if d.boxes is None else d.boxes.tobytes()
                given = None if d.given is None else d.given.tolist()
                out.append((iid, d.ids.tolist(), d.category_id.tolist(), d.score.tobytes(), boxes, given, d.masks))
            return out
        except SegtoolError as exc:
            return ("error", exc.message)


def _valid(rng: random.Random, n: int, images: int, sizes: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    iid = 1
    for _ in range(n):
        if rng.random() < 0.2:
            iid = rng.randint(1, images)
        rec: dict[str, Any] = {"image_id": iid, "category_id": rng.choice([1, 2, 5]), "score": rng.random()}
        if rng.random() < 0.5:
            rec["bbox"] = [rng.random() * 5 for _ in range(4)]
        rec["segmentation"] = {"size": [sizes[iid], 6], "counts": rng.choice(["0`0", "1\\2", "X4", ""])}
        out.append(rec)
    return out


@needs_c
@pytest.mark.parametrize("seed", range(40))
def test_reader_with_the_scan_equals_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Valid lists (grouped by image, or not), then one hostile change: the same detections
    or the same one-line refusal either way."""
    rng = random.Random(seed)
    gt = _gt()
    sizes = {i: 4 + (i == 3) for i in range(1, 7)}
    recs = _valid(rng, rng.choice([0, 1, 5, 40]), 6, sizes)
    if seed % 4 == 0:
        recs.sort(key=lambda r: r["image_id"])
    text = json.dumps(recs)
    if seed % 2 and recs:  # something hostile
        k = rng.randrange(len(recs))
        change = rng.choice([
            ("image_id", 99), ("category_id", 3), ("score", "x"), ("bbox", [1, 2]), ("segmentation", None),
            ("segmentation", [[0, 0, 1, 0, 1, 1]]), ("segmentation", {"size": [9, 9], "counts": "0`0"}),
            ("bbox", None), ("score", 1e300 * 10), ("image_id", 10**20),
        ])  # fmt: skip
        recs[k][change[0]] = change[1]
        if change[1] is None:
            del recs[k][change[0]]
        text = json.dumps(recs)
        if rng.random() < 0.3:
            text = text[: rng.randrange(len(text))]  # truncated
    path = tmp_path / "dets.json"
    path.write_text(text)
    assert _stream(path, gt, True, monkeypatch) == _stream(path, gt, False, monkeypatch)


@needs_c
@pytest.mark.parametrize("trouble", ["none", "late", "apart", "garbage", "late-image"])
def test_reader_past_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trouble: str) -> None:
    """More detections than one batch (the scan hands images out a batch at a time, and the
    parser takes over mid-file), grouped by image: the same as the parser's."""
    gt = _gt(400)
    recs = []
    for iid in range(1, 401):
        for k in range(25):
            box = [k, 1, 2, 3] if k % 3 else None
            rec: dict[str, Any] = {"image_id": iid, "category_id": 1 + k % 2, "score": (k * 7 % 11) / 10, "bbox": box}
            rec["segmentation"] = {"size": [4 + (iid == 3), 6], "counts": "0`0"}
            recs.append({key: v for key, v in rec.items() if v is not None})
    if trouble == "late":
        recs[9000]["segmentation"] = [[0, 0, 1, 0, 1, 1]]  # polygons: the parser reads on from its batch
    if trouble == "late-image":
        recs[7000]["image_id"] = 1000  # an image the ground truth lacks: the parser's message
    if trouble == "apart":
        recs.append(dict(recs[0]))  # image 1 again at the end
    text = json.dumps(recs) + ("x" if trouble == "garbage" else "\n")
    path = tmp_path / "dets.json"
    path.write_text(text)
    with monkeypatch.context() as m:
        if trouble == "none":  # the scan reads it all: the parser is not asked
            m.setattr(results_scan, "ijson", None)
        with_scan = _stream(path, gt, True, monkeypatch)
    parser = _stream(path, gt, False, monkeypatch)
    if trouble == "apart":  # both hand image 1 out twice (pairing.ranked then reads the file whole)
        assert [r[0] for r in with_scan] == [r[0] for r in parser]
        assert sorted(map(repr, with_scan)) == sorted(map(repr, parser))
    else:
        assert with_scan == parser
    if trouble in ("none", "late"):
        assert len(with_scan) == 400
