"""validate's findings beyond a small head wait in an anonymous temporary file
(:mod:`segtool.checks.spill`) and its image records are columns
(:mod:`segtool.formats.coco_record_table`): what it prints must not change by a byte
(issue 15)."""

from __future__ import annotations

import copy
import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from segtool import validation
from segtool.checks import spill
from segtool.checks.findings import Finding, Report, Severity
from segtool.checks.spill import FindingLog, keeping
from segtool.formats.coco_record_table import ImageRecords, Seen
from segtool.model import ImageInfo
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import PANOPTIC_CATS, invoke

N = 300


def many_findings(tmp_path: Path) -> Path:
    """N images, each with void pixels (``unlabeled``); every 7th area wrong
    (``area-mismatch``), every 11th annotation gone (``image-without-annotation``), every
    13th twice (``duplicate-annotation``), and annotations of images never listed."""
    ids = np.array([[10, 10, 0, 20]] * 4)
    segs = panoptic_segments(ids, {10: 100, 20: 1}, set())
    path = write_panoptic(tmp_path / "pan.json", [ids] * N, [segs] * N, PANOPTIC_CATS)
    data = json.loads(path.read_text())
    anns = []
    for k, ann in enumerate(data["annotations"], start=1):
        if k % 7 == 0:
            ann["segments_info"] = [dict(s, area=s["area"] + 1) for s in ann["segments_info"]]
        if k % 11 == 0:
            continue
        anns.append(ann)
        if k % 13 == 0:
            anns.append(ann)
        if k % 17 == 0:
            anns.append(dict(ann, image_id=10_000 + k))
    data["annotations"] = anns
    path.write_text(json.dumps(data))
    return path


def outputs(path: Path, out: Path, *args: str) -> tuple[str, bytes]:
    result = invoke(CliRunner(), "validate", path, "-v", "--json", out, "--overwrite", *args)
    assert result.exit_code == 1, result.output
    return result.stdout, out.read_bytes()


@pytest.mark.parametrize("args", [(), ("--ignore", "unlabeled"), ("--select", "area-mismatch,duplicate-annotation")])
def test_spilled_report_prints_as_the_one_in_memory(tmp_path, monkeypatch, args):
    """The text report (one line per finding with -v) and --json, byte for byte, whether the
    findings stayed in memory (the head as large as the report: as before) or went to disk
    by chunks of 5 after a head of 3."""
    path = many_findings(tmp_path)
    monkeypatch.setattr(spill, "HEAD", 10**9)
    text_before, json_before = outputs(path, tmp_path / "a.json", *args)
    monkeypatch.setattr(spill, "HEAD", 3)
    monkeypatch.setattr(spill, "CHUNK", 5)
    text_after, json_after = outputs(path, tmp_path / "b.json", *args)
    assert text_after == text_before and json_after == json_before
    doc = json.loads(json_after)
    counts = doc["summary"]["by_code"]
    every = {  # by hand from many_findings' construction
        "unlabeled": N - N // 11,
        "area-mismatch": 2 * (N // 7 - N // 77),  # both segments; a repeated annotation is not checked again
        "image-without-annotation": N // 11,
        "duplicate-annotation": N // 13 - N // 143,
        "annotation-unknown-image": N // 17 - N // 187,
    }
    if args and args[0] == "--ignore":
        del every["unlabeled"]
    if args and args[0] == "--select":
        every = {k: every[k] for k in ("area-mismatch", "duplicate-annotation")}
    assert counts == {k: v for k, v in sorted(every.items()) if v}
    assert len(doc["findings"]) == sum(counts.values())


def test_ignored_codes_never_reach_the_log(tmp_path, monkeypatch):
    path = many_findings(tmp_path)
    made: list[FindingLog] = []
    real = FindingLog.__init__

    def init(self, *a, **k):
        real(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(FindingLog, "__init__", init)
    report = validation.validate(path, ignore={"unlabeled"})
    assert made and all(log.by_code["unlabeled"] == 0 for log in made)
    assert report.counts()["image-without-annotation"] == N // 11


def finding(k: int) -> Finding:
    return Finding(("a", "b", "c")[k % 3], Severity(k % 3), f"m{k}", f"p{k % 2}", k, None if k % 4 else k)


def test_a_log_is_a_list_of_findings(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "HEAD", 4)
    monkeypatch.setattr(spill, "CHUNK", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    expected = [finding(k) for k in range(20)]
    log = FindingLog(expected[:10])
    seen = iter(log)
    log.extend(expected[10:])  # iterating while adding: the findings of the start
    assert list(seen) == expected[:10]
    assert list(log) == expected and log == expected and len(log) == 20 and bool(log)
    assert [log[k] for k in range(-20, 20)] == expected + expected and log[3:7] == expected[3:7]
    with pytest.raises(IndexError):
        log[20]
    assert log.worst() == Severity.ERROR and dict(log.by_code) == {"a": 7, "b": 7, "c": 6}
    assert log.firsts == {"a": expected[0], "b": expected[1], "c": expected[2]}
    report = Report(log, {"images": 20})
    listed = Report(expected, {"images": 20})
    assert report.summary() == listed.summary() and report.to_dict() == listed.to_dict()
    assert report.counts() == listed.counts() and report.worst() == listed.worst() and repr(report) == repr(listed)
    assert os.listdir(tmp_path) == []  # no name in the temp dir, not even while the log lives
    with keeping(lambda code: False):  # a copy keeps every finding whatever the context
        back = pickle.loads(pickle.dumps(report))
        assert back.findings == expected and copy.deepcopy(log) == expected


def test_the_spill_file_is_anonymous_and_in_the_system_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "HEAD", 1)
    monkeypatch.setattr(spill, "CHUNK", 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    log = FindingLog([finding(0), finding(1)])
    assert log._file is not None
    target = os.readlink(f"/proc/self/fd/{log._file.fileno()}")
    assert target.startswith(str(tmp_path / "tmp")) and target.endswith("(deleted)")
    with pytest.raises(ZeroDivisionError):  # an exit path: nothing is left behind, the fd goes
        with keeping(None):
            log.append(finding(2))
            raise ZeroDivisionError
    fd = log._file.fileno()
    del log
    with pytest.raises(OSError):
        os.fstat(fd)
    assert os.listdir(tmp_path / "tmp") == []


def test_keep_filters_as_findings_come():
    with keeping(lambda code: code != "b"):
        log = FindingLog(finding(k) for k in range(9))
    assert [f.code for f in log] == ["a", "c"] * 3 and len(log) == 6
    assert [f.code for f in FindingLog(finding(k) for k in range(3))] == ["a", "b", "c"]  # outside: all kept


def infos(ids: list[object]) -> list[ImageInfo]:
    return [ImageInfo(iid, f"f{k % 3}.png", 2 + k, 3 + k, {"x": k} if k % 2 else {}) for k, iid in enumerate(ids)]


@pytest.mark.parametrize("ids", [[5, -3, 2**63 - 1, 0, 7], [5, "a", 2, "5", -(2**63)], []])
def test_image_records_answer_as_the_dict_they_replace(ids):
    images = infos(ids)
    table, old = ImageRecords(images), {im.id: im.to_dict() for im in images}
    assert list(table) == list(old) and len(table) == len(old)
    assert dict(table.items()) == old and [list(r) for r in table.values()] == [list(r) for r in old.values()]
    for key in [*ids, True, False, 1, 5.0, 2.5, "5", "a", None, 2**63, -(2**64), (5,), float("nan")]:
        assert (key in table) == (key in old), key
        assert table.get(key) == old.get(key), key
    assert (["x"] in table) is False  # unhashable: not an id
    names = [str(r["file_name"]) for r in old.values()]
    assert dict(table.repeated_names()) == {n: names.count(n) for n in dict.fromkeys(names) if names.count(n) > 1}


def test_seen_counts_as_the_set_it_replaces():
    table = ImageRecords(infos([4, 8, 15]))
    seen, old = Seen(table), set()
    for key in [8, 8.0, True, None, 99, 4, None, 15, 99]:
        seen.add(key)
        old.add(key)
        assert len(seen) == len(old)
    assert all((k in seen) == (k in old) for k in [4, 8, 15, 16, None, 99, 1])
