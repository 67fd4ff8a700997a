"""PQ's panoptic stream through the C scan (segtool/formats/panoptic_scan.py) against the
same stream through the JSON parser: the same numbers on files the scan reads, the same
results or the same one-line errors on files it leaves to the parser, and the scan taken
where it should be (else these comparisons would test the parser against itself)."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segtool import evaluate_panoptic, kernels, limits
from segtool.errors import SegtoolError
from segtool.formats import panoptic_scan, panoptic_stream
from tests.conftest import panoptic_segments, write_panoptic

needs_c = pytest.mark.skipif(kernels.IMPLEMENTATION != "C", reason="the scan runs with the C kernels only")
CATS = [{"id": 1, "name": "thing", "isthing": 1}, {"id": 2, "name": "stuff", "isthing": 0}]


def _maps(seed: int, n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ids = np.zeros((12, 16), np.uint32)
        ids[:, :8] = 7  # stuff
        y, x = rng.integers(0, 6, 2)
        ids[y : y + 6, 8 + x // 2 : 14] = 3  # a thing, shifted between the two sides
        out.append(ids)
    return out


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    cats = {7: 2, 3: 1}
    gt_maps, pred_maps = _maps(1), _maps(2)
    gt = write_panoptic(tmp_path / "gt.json", gt_maps, [panoptic_segments(m, cats) for m in gt_maps], CATS)
    pred = write_panoptic(tmp_path / "pred.json", pred_maps, [panoptic_segments(m, cats) for m in pred_maps], CATS)
    return gt, pred


def _outcome(gt: Path, pred: Path, monkeypatch: pytest.MonkeyPatch, *, scan: bool) -> tuple[str, Any, int]:
    """(ok, PQ) or (error, its line), and how many files the scan read."""
    used: list[bool] = []
    real = panoptic_scan.scan

    def spy(*args: Any) -> Any:
        found = real(*args) if scan else None
        used.append(found is not None)
        return found

    monkeypatch.setattr(panoptic_scan, "scan", spy)
    try:
        return "ok", evaluate_panoptic(gt, pred, jobs=1).to_panopticapi(), sum(used)
    except SegtoolError as exc:
        return "error", str(exc), sum(used)
    finally:
        monkeypatch.setattr(panoptic_scan, "scan", real)


def _same(gt: Path, pred: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any, int]:
    scanned = _outcome(gt, pred, monkeypatch, scan=True)
    parsed = _outcome(gt, pred, monkeypatch, scan=False)
    assert scanned[:2] == parsed[:2]
    return scanned


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


@needs_c
def test_plain_files_are_scanned_and_score_as_parsed(pair, monkeypatch):
    kind, pq, used = _same(*pair, monkeypatch)
    assert kind == "ok" and used == 2
    assert 0 < pq["All"]["pq"] < 1 and pq["All"]["n"] == 2


@needs_c
def test_a_record_larger_than_a_read_is_read_on(pair, monkeypatch):
    monkeypatch.setattr(panoptic_scan, "CHUNK", 7)
    kind, _, used = _same(*pair, monkeypatch)
    assert kind == "ok" and used == 2


@needs_c
def test_passed_over_values_reach_the_worker_as_parsed(pair, monkeypatch):
    gt, pred = pair
    extra = '"note": "a\\nb\\"c\\/", "x": [true, false, null, {"y": -0.0, "z": 1e-400, "w": 2.5E3}], '
    _edit(gt, '{"image_id": 2,', "{" + extra + '"image_id": 2,')
    _edit(pred, '"iscrowd": 0,', '"iscrowd": 0, "score": 0.25, "q": [[[]]],', count=-1)
    kind, _, used = _same(gt, pred, monkeypatch)
    assert kind == "ok" and used == 2


@needs_c
def test_a_bare_list_of_predictions_is_scanned(pair, monkeypatch):
    _, pred = pair
    records = json.loads(pred.read_text())["annotations"]
    pred.write_text("\n  " + json.dumps(records, indent=1) + "\n")
    side = panoptic_stream.stream_predictions(pred)
    assert isinstance(side.ids, np.ndarray) and side.ids.tolist() == [r["image_id"] for r in records]
    got = [(iid, source.png, source.record) for iid, source in side.items()]
    assert all(type(record) is bytes for _, _, record in got)  # the scan's texts
    assert [(iid, Path(png).name, json.loads(record)) for iid, png, record in got] == [
        (r["image_id"], r["file_name"], r) for r in records
    ]


@needs_c
@pytest.mark.parametrize(
    ("side", "old", "new", "kind"),
    [
        ("gt", '"categories"', '"extra": [1 2], "categories"', "error"),  # not JSON outside the list
        ("gt", "]}", '], "extra": {"a": 1 2}}', "error"),  # ... after it
        ("gt", '"images"', '"info": {"v": 1e999}, "images"', "error"),  # yajl: numeric overflow
        ("pred", '"area": ', '"area": 1e999, "a": ', "error"),  # ... inside a record
        ("gt", '"file_name": "img1.png"', '"file_name": "img\\u0031.png"', "ok"),  # an escape: parsed
        ("gt", '"image_id": 1,', '"image_id": 1, "image_id": 1,', "ok"),  # a key twice
        ("gt", '"image_id": 3,', '"image_id": 3.0,', "ok"),  # read past as 3
        ("pred", ', "segments_info"', ', "segments_inf0"', "error"),  # no segments_info
        ("pred", '"segments_info": [', '"segments_info": 5, "s": [', "error"),
        ("gt", '"annotations": [', '"annotations": [7, ', "error"),  # not an object
        ("pred", '"image_id": 2,', '"image_id": 12345678901234567,', "error"),  # 17 digits
    ],
)
def test_what_the_scan_leaves_to_the_parser_ends_as_parsed(pair, monkeypatch, side, old, new, kind):
    gt, pred = pair
    _edit(gt if side == "gt" else pred, old, new)
    got, _, used = _same(gt, pred, monkeypatch)
    assert got == kind
    assert used <= 1  # the edited file was left to the parser


@needs_c
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"image_id": 2,', '"image_id": 99,', "99"),  # an image the GT does not list
        ('"iscrowd": 0,', '"iscrowd": "no",', "iscrowd"),  # a segment of the wrong shape
        ('"category_id": 1,', '"category_id": 5,', "5"),  # a category the GT does not list
    ],
)
def test_plain_but_wrong_predictions_are_refused_as_parsed(pair, monkeypatch, old, new, message):
    gt, pred = pair
    _edit(pred, old, new)
    kind, text, used = _same(gt, pred, monkeypatch)
    assert kind == "error" and message in text and used == 2  # scanned, refused by the same checks


@needs_c
def test_string_image_ids_are_parsed(pair, monkeypatch):
    for path in pair:
        data = json.loads(path.read_text())
        for rec in data.get("images", []) + data["annotations"]:
            key = "id" if "segments_info" not in rec else "image_id"
            rec[key] = f"im{rec[key]}"
        path.write_text(json.dumps(data))
    kind, _, used = _same(*pair, monkeypatch)
    assert kind == "ok" and used == 0


@needs_c
def test_segments_over_the_limit_are_worded_by_the_parser(pair, monkeypatch):
    with limits.raised(segments=1):
        kind, message, used = _same(*pair, monkeypatch)
    assert kind == "error" and "over the limit of 1" in message and used == 0


@needs_c
def test_a_file_changed_between_the_passes_is_refused(pair):
    gt, _ = pair
    side = panoptic_stream.stream(gt)
    assert list(side.ids) == [1, 2, 3]
    text = gt.read_bytes()
    with gt.open("r+b") as f:  # in place: the stream's open file sees it
        f.write(text.replace(b'"image_id": 2,', b'"image_id": 5,'))
    with pytest.raises(SegtoolError, match="changed while it was read"):
        list(side.items())


@needs_c
def test_a_scanned_stream_goes_over_its_records_again(pair):
    gt, _ = pair
    side = panoptic_stream.stream(gt)
    first = [(iid, sample.source.record) for iid, sample in side.items()]
    assert [iid for iid, _ in first] == [1, 2, 3] and all(type(r) is bytes for _, r in first)
    assert [(iid, sample.source.record) for iid, sample in side.items()] == first  # the file opened again


@needs_c
def test_a_file_appended_to_after_its_list_between_the_passes_is_refused(pair):
    gt, _ = pair
    side = panoptic_stream.stream(gt)
    with gt.open("ab") as f:
        f.write(b" x")
    with pytest.raises(SegtoolError, match="changed while it was read"):
        list(side.items())


@needs_c
def test_an_empty_list_padded_past_a_read_is_scanned(pair, monkeypatch):
    _, pred = pair
    data = json.loads(pred.read_text())
    pred.write_text(json.dumps({**data, "annotations": []}).replace('"annotations": []', '"annotations": [     ]'))
    monkeypatch.setattr(panoptic_scan, "CHUNK", 2)
    side = panoptic_stream.stream_predictions(pred)
    assert type(side.ids) is np.ndarray and side.ids.size == 0 and list(side.items()) == []
    assert panoptic_scan.scan(pred, panoptic_stream.layout(pred), 100) is not None


@needs_c
def test_a_read_error_is_one_line_naming_the_file(pair, monkeypatch):
    _, pred = pair
    panoptic_stream.layout(pred)  # read before the disk fails

    class Failing(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            if self.tell() > 0:
                raise OSError(errno.EIO, "Input/output error")
            return super().read(min(size, 40) if size >= 0 else 40)

    monkeypatch.setattr(panoptic_scan, "open_file", lambda path: Failing(path, "rb"))
    with pytest.raises(SegtoolError, match="cannot read: Input/output error") as caught:
        panoptic_stream.stream_predictions(pred)
    assert str(pred) in str(caught.value)
