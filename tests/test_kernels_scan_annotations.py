"""Issue 15: a COCO instance file's ``annotations`` read by the C scan (``scan_annotations``)
read as the JSON parser reads them. The twin (segtool/_purekernels/annotations.py) equals the
C kernel on random and hostile texts, cut anywhere; what the scan accepts equals
``json.loads``; chunks do not matter; and reading a ground truth with the scan gives the same
tables, or the same refusal, as with the parser alone (:func:`.coco_gt_scan.scanned` False).
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool import formats, kernels
from segtool.errors import SegtoolError
from segtool.formats import coco_gt_scan
from tests.test_kernels_scan import _both as both_scans  # its argument-errors test covers this scan too

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension
    native = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE, END, NEED, BAIL = 0, 1, 2, 3
SCANS = kernels.IMPLEMENTATION == "C"  # readers scan with the C kernels only (SEGTOOL_PURE_PYTHON=1: the parser)
HOSTILE = [
    None, True, "7", "caf\u00e9", [], {}, 1.5, -0.0, 10**15, 10**16, 2**63, 1e308, "NaN", 0.1,
    [1, 2, 3], [1, 2, 3, 4, 5], {"counts": "ab"}, {"size": [4, 6], "counts": [1, 2, 21]},
]  # fmt: skip
RAW = ["NaN", "Infinity", "1e999", "01", "1.", "-", "tru", '"\\x"', "}", "]", ",,", '"\\n"', "\x01", "\u00e9"]


def _record(rng: random.Random, sizes: dict[int, int], hostile: bool = True) -> dict[str, Any]:
    iid = rng.choice(list(sizes))
    rec: dict[str, Any] = {"id": rng.randint(0, 10**6), "image_id": iid, "category_id": rng.choice([1, 2, 5])}
    rec["bbox"] = [rng.choice([0, 1.5, -0.0, 1e3, 2, 0.1]) for _ in range(4)]
    rec["area"] = rng.choice([3, 4.5, 0.1 + 0.2, 0])
    rec["iscrowd"] = rng.choice([0, 0, 1, 2])
    kind = rng.random()
    if kind < 0.6:
        counts = "".join(rng.choice("0123456789:;<=>?@ABCXYZ[\\]^_`abcno") for _ in range(rng.randint(0, 9)))
        rec["segmentation"] = {"size": [sizes[iid], 6], "counts": counts}
    elif kind < 0.8:
        rec["segmentation"] = [[rng.choice([0, 1.5, 2, 3.25]) for _ in range(6)]]
    elif kind < 0.9:
        rec["segmentation"] = {"size": [sizes[iid], 6], "counts": [0, 24]}
    for key in ("id", "area", "iscrowd", "segmentation"):
        if rng.random() < 0.1:
            rec.pop(key, None)
    if rng.random() < 0.1:
        rec["extra"] = [1, {"a": None, "b": "x\\ty"}]
    if hostile and rng.random() < 0.1:  # something hostile somewhere
        rec[rng.choice(["id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation", "score"])] = (
            rng.choice(HOSTILE)
        )
    keys = list(rec)
    rng.shuffle(keys)
    return {k: rec[k] for k in keys}


def _text(rng: random.Random, n: int, sizes: dict[int, int] | None = None) -> bytes:
    recs = [_record(rng, sizes or {1: 4, 2: 4, 3: 5}) for _ in range(n)]
    sep = rng.choice([(",", ":"), (", ", ": "), (" ,\n\t", " :\r\n")])
    text = "[" + rng.choice(["", " ", "\n"]) + sep[0].join(json.dumps(r, separators=sep) for r in recs) + "]"
    if rng.random() < 0.2 and recs:
        k = text.find(rng.choice(["0.5", '"x', "[", "{", ":", ","]), rng.randint(0, len(text) - 1))
        if k >= 0:
            text = text[:k] + rng.choice(RAW) + text[k + 1 :]
    return text.encode("utf-8")


def _both(*args: Any) -> Any:
    return both_scans(*args, kernel="scan_annotations")


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.data())
def test_twin_equals_c_on_random_and_hostile_texts_cut_anywhere(seed: int, n: int, data: st.DataObject) -> None:
    text = _text(random.Random(seed), n)
    cut = data.draw(st.integers(0, len(text)))
    pos = min(data.draw(st.sampled_from([1, 1, 0, data.draw(st.integers(0, len(text)))])), cut)
    _both(text[:cut], pos, data.draw(st.booleans()), data.draw(st.booleans()), data.draw(st.integers(1, 8)))


def _rows(result: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The scanned records as (id, image_id, category_id, iscrowd, h, w, area+box bytes, flag, line)."""
    _, _, n, ints, doubles, flags, lines = result
    i = struct.unpack(f"={7 * n}q", ints)
    return [(*i[7 * k : 7 * k + 6], doubles[40 * k : 40 * k + 40], flags[k], lines[k]) for k in range(n)]


def _expected(rec: dict[str, Any]) -> tuple[Any, ...]:
    """What the scan must give for a record json.loads read (found plain by the scan)."""
    segm: Any = rec.get("segmentation")
    rle = type(segm) is dict and type(segm.get("counts")) is str and "size" in segm
    flag = 1 if rle else 0 if "segmentation" not in rec else 2
    size = segm["size"] if rle else (0, 0)
    values = struct.pack("=5d", float(rec.get("area", 0)), *(float(v) for v in rec["bbox"]))
    crowd = int(bool(rec.get("iscrowd", 0)))
    ids = (rec.get("id", 0), rec["image_id"], rec["category_id"], crowd, *size)
    return (*ids, values, flag, segm["counts"] if rle else None if flag == 0 else segm)


@needs_c
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.data())
def test_what_the_scan_accepts_reads_as_json_loads_and_chunks_do_not_matter(
    seed: int, n: int, data: st.DataObject
) -> None:
    text = _text(random.Random(seed), n)
    whole = native.scan_annotations(text, 1, True, True, 10**6)
    got = _rows(whole)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if whole[0] == END and parsed is not None:
        assert len(got) == len(parsed)
    for row, rec in zip(got, parsed or [], strict=False):
        line = json.loads(row[8]) if row[7] == 2 else row[8]  # another segmentation: its JSON text as written
        assert (*row[:8], line) == _expected(rec)
    pos, first, have, rows = 1, True, 0, []
    most = data.draw(st.integers(1, 5))
    while True:  # the same records fed in random chunks (NEED: more text), `most` at a time
        have = min(len(text), have + data.draw(st.integers(1, 64)))
        status, pos, k, *rest = native.scan_annotations(text[:have], pos, first, have == len(text), most)
        rows += _rows((status, pos, k, *rest))
        first = first and k == 0
        if status in (END, BAIL):
            break
    assert (status, pos) == whole[:2]
    assert rows == got


@needs_c
def test_what_is_not_plain_is_left_to_the_parser() -> None:
    plain = (
        '{"id": 3, "image_id": 1, "category_id": 2, "bbox": [0, 1, 2.5, 3], "area": 4, "iscrowd": 0, '
        '"segmentation": {"size": [4, 6], "counts": "ab"}}'
    )
    assert native.scan_annotations(f"[{plain}]".encode(), 1, True, True, 9)[:3] == (END, len(plain) + 2, 1)
    for old, new in [
        ('"area": 4', '"area": 4, "score": 0.5'),  # a score is the reader's to check
        ('"area": 4', '"area": NaN'),
        ('"area": 4', '"area": true'),
        ('"iscrowd": 0', '"iscrowd": false'),
        ('"iscrowd": 0', '"iscrowd": 0.0'),
        ('"id": 3', '"id": 3.0'),
        ('"id": 3', '"id": 1234567890123456'),  # 16 digits
        ('"image_id": 1', '"image_id": "1"'),
        ('"bbox": [0, 1, 2.5, 3]', '"bbox": [0, 1, 2.5]'),
        ('"bbox": [0, 1, 2.5, 3]', '"box": [0, 1, 2.5, 3]'),  # no bbox
        ('"id": 3', '"id": 3, "id": 3'),
        ('"counts": "ab"', '"counts": "a\u00e9"'),
    ]:
        status = native.scan_annotations(f"[{plain.replace(old, new, 1)}]".encode(), 1, True, True, 9)
        assert status[:3] == (BAIL, 1, 0), new
    others = ["[[1, 2, 3, 4, 5, 6]]", '{"size": [4, 6], "counts": [1, 23]}', '{"size": [4.0, 6], "counts": "ab"}']
    for segm in [*others, '{"size": [4, 6], "counts": "a\\nb"}', "null", '{"counts": "ab"}']:  # given as text
        rle = plain[plain.index('{"size') : -1]
        text = ("[" + plain.replace(rle, segm) + "]").encode()
        assert native.scan_annotations(text, 1, True, True, 9)[5:] == (b"\x02", [segm]), segm


# --- the reader: the scan and the parser give the same tables -----------------------------


def _read(path: Path, scan: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        used: list[bool] = []
        real = coco_gt_scan.scanned

        def spy(*args: Any) -> bool:
            used.append(scan and real(*args))
            return used[-1]

        m.setattr(coco_gt_scan, "scanned", spy)
        try:
            ds = formats.read(path, "coco-instance")
        except SegtoolError as exc:
            return ("error", exc.message), used
        out = []
        for s in ds.samples:
            source: Any = s.source
            segs = source.segments
            cols = [getattr(segs, f).tobytes() for f in ("id", "category_id", "iscrowd", "area", "bbox")]
            score = None if segs.score is None else segs.score.tobytes()
            out.append((s.image.id, source.text, cols, score))
        return out, used


def _dataset(recs: list[dict[str, Any]] | str, sizes: dict[int, int]) -> str:
    images = [{"id": i, "file_name": f"{i}.png", "height": h, "width": 6} for i, h in sizes.items()]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 5)]
    anns = recs if isinstance(recs, str) else json.dumps(recs)
    return f'{{"images": {json.dumps(images)}, "annotations": {anns}, "categories": {json.dumps(cats)}}}'


@needs_c
@pytest.mark.parametrize("seed", range(60))
def test_reader_with_the_scan_equals_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Random annotations (grouped by image or not, some not plain), then now and then a
    problem: the same tables or the same one-line refusal either way."""
    rng = random.Random(seed)
    sizes = {i: 4 + (i == 3) for i in range(1, 7)}
    recs = [_record(rng, sizes, hostile=seed % 2 == 1) for _ in range(rng.choice([0, 1, 5, 40]))]
    if seed % 3 == 0:
        recs.sort(key=lambda r: str(r.get("image_id")))
    if seed % 2 and recs:
        k = rng.randrange(len(recs))
        key, value = rng.choice([
            ("image_id", 99), ("category_id", 3), ("bbox", [1, 2]), ("area", 1e300 * 10),
            ("segmentation", {"size": [9, 9], "counts": "0`0"}), ("iscrowd", None), ("id", 10**20),
        ])  # fmt: skip
        recs[k][key] = value
    path = tmp_path / "gt.json"
    path.write_text(_dataset(recs, sizes))
    with_scan, used = _read(path, True, monkeypatch)
    parser, _ = _read(path, False, monkeypatch)
    assert with_scan == parser
    if seed % 2 == 0:
        assert used == [SCANS]  # nothing hostile: the scan read it (with the C kernels)


@needs_c
@pytest.mark.parametrize("trouble", ["none", "late", "late-category", "polygons", "twice"])
def test_reader_past_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trouble: str) -> None:
    """More annotations than one batch and one chunk (images' runs go on across batches):
    the same tables as the parser's; a problem late in the file leaves the whole list to it."""
    monkeypatch.setattr(coco_gt_scan, "CHUNK", 1 << 12)
    sizes = {i: 4 + (i == 3) for i in range(1, 401)}
    recs: list[dict[str, Any]] = []
    for iid in [*range(1, 401), 7]:  # image 7 again at the end: its rows in two runs
        for k in range(25):
            segm: Any = {"size": [sizes[iid], 6], "counts": "0`0" if k % 4 else "X4"}
            if trouble == "polygons" and k % 5 == 0:
                segm = [[0, 0, 1.5, 0, 1, 1]]
            recs.append({"id": len(recs) + 1, "image_id": iid, "category_id": 1 + k % 2, "bbox": [k, 1, 2, 3],
                         "area": k / 3, "iscrowd": int(k == 3), "segmentation": segm})  # fmt: skip
    if trouble == "late":
        recs[9000]["area"] = "x"
    if trouble == "late-category":
        recs[9000]["category_id"] = 7
    text = _dataset(recs, sizes)
    if trouble == "twice":  # the key twice: the parser reads both lists
        text = text[:-1] + ', "annotations": [' + json.dumps(recs[0]) + "]}"
    path = tmp_path / "gt.json"
    path.write_text(text)
    with_scan, used = _read(path, True, monkeypatch)
    parser, _ = _read(path, False, monkeypatch)
    assert with_scan == parser
    assert used == ([] if trouble == "twice" else [SCANS and trouble in ("none", "polygons")])  # twice: refused before
    if trouble in ("none", "polygons"):
        assert len(with_scan) == 400 and with_scan[6][1].count("\n") == 49
    else:
        assert with_scan[0] == "error", with_scan


@pytest.mark.parametrize("bad", [None, 1, 2])
def test_loading_the_ground_truth_checks_every_rle(tmp_path: Path, bad: int | None) -> None:
    """An image whose annotations are all RLEs of its size is loaded without parsing a line
    (every string still decoded strictly): the RLEs as written, or the refusal naming the
    annotation whose counts do not add up to 4 x 6 pixels."""
    counts = ["0h0", "h0", "03e0"]  # 24 pixels each: pycocotools' encoding of counts [0, 24], [24], [0, 3, 21]
    if bad is not None:
        counts[bad] = "04"  # 4 pixels of 24
    recs = [
        {
            "id": 10 + k,
            "image_id": 1,
            "category_id": 1,
            "bbox": [0, 0, 1, 1],
            "segmentation": {"size": [4, 6], "counts": c},
        }
        for k, c in enumerate(counts)
    ]
    path = tmp_path / "gt.json"
    path.write_text(_dataset(recs, {1: 4}))
    sample = formats.read(path, "coco-instance").samples[0]
    if bad is not None:
        with pytest.raises(SegtoolError, match=f"image 1, annotation {10 + bad}: undecodable compressed RLE"):
            sample.load()
        return
    ann = sample.load()
    assert ann.rles == ann.raw == tuple({"size": [4, 6], "counts": c} for c in counts)
