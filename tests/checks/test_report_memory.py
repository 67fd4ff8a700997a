"""What keeps validate's memory from growing with a dataset's images (issue 15): its findings
are small and share their code and path, its ``--json`` is written finding by finding, and
a COCO file's image records are read one at a time."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from segtool.checks.findings import Finding, Report, Severity
from segtool.cli import output
from segtool.errors import FormatError
from segtool.formats.coco_record_checks import dataset_records
from segtool.formats.jsonstream import coco_lists, coco_sections
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import PANOPTIC_CATS, assert_bad_input, invoke


def fresh(text: str) -> str:
    """An equal string that is a new object (as every unpickled finding's path was)."""
    return "".join(list(text))


def test_a_finding_has_no_dict_and_shares_its_code_and_path():
    path = "/data/" + "x" * 60 + ".json"
    made = [Finding(fresh("stuff-split"), Severity.WARNING, f"m{i}", fresh(path), i) for i in range(3)]
    assert not hasattr(made[0], "__dict__")
    assert made[0].path is made[1].path and made[0].code is made[2].code
    back = pickle.loads(pickle.dumps(made))  # as a worker's findings arrive
    assert back == made
    assert back[0].path is made[0].path and back[1].code is made[0].code
    assert replace(back[0], message="other").message == "other"


def test_a_finding_keeps_a_path_that_is_no_str():
    class Named(str):
        pass

    f = Finding("x", Severity.INFO, "m", Named("p.json"))
    assert f.path == "p.json"


@pytest.mark.parametrize("n", [0, 1, 3])
def test_streamed_json_equals_dumps(tmp_path, capsys, n):
    findings = [Finding("unlabeled", Severity.INFO, f'{i}% "void"\n', "a.json", i) for i in range(n)]
    report = Report(findings, {"images": n})
    expected = json.dumps(report.to_dict(), indent=2) + "\n"
    doc = {
        "findings": output.Streamed(lambda: (f.to_dict() for f in report.findings), len(findings)),
        "summary": report.summary_dict(),
    }
    output.emit_json(doc, str(tmp_path / "out.json"))
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == expected
    output.emit_json(doc, "-")
    assert capsys.readouterr().out == expected


def panoptic(tmp_path: Path, images: int) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ids = np.array([[10, 10, 0, 20]] * 4)  # void pixels: an `unlabeled` finding per image
    segs = panoptic_segments(ids, {10: 100, 20: 1}, set())
    return write_panoptic(tmp_path / "pan.json", [ids] * images, [segs] * images, PANOPTIC_CATS)


def test_validate_json_never_builds_the_whole_report(tmp_path, monkeypatch):
    """``--json`` writes the findings one by one: a dict per finding for all of them at once
    (Report.to_dict) is never made, and the file is what to_dict would have given."""
    path = panoptic(tmp_path, 3)
    from segtool import validation

    expected = validation.validate(path).to_dict()
    assert expected["summary"]["by_code"] == {"unlabeled": 3}

    def whole(self: Report) -> dict[str, object]:
        raise AssertionError("validate --json built the whole report")

    monkeypatch.setattr(Report, "to_dict", whole)
    out = tmp_path / "report.json"
    result = invoke(CliRunner(), "validate", path, "--json", out, "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == expected


def test_image_records_are_streamed(tmp_path):
    path = panoptic(tmp_path, 2)
    images, cats = coco_lists(path)
    assert not isinstance(images, list)  # an iterator: no list of every record at once
    assert [r["id"] for r in images] == [1, 2] and [c["id"] for c in cats] == [1, 100]
    found, by_id, categories = dataset_records(path, None)
    assert found == [] and sorted(by_id) == [r["id"] for r in json.loads(path.read_text())["images"]]
    assert [c["id"] for c in categories] == [c["id"] for c in PANOPTIC_CATS]


@pytest.mark.parametrize("images", [None, {}, "x", 3])
def test_no_images_list_is_refused_as_before(tmp_path, images):
    path = panoptic(tmp_path, 1)
    data = json.loads(path.read_text())
    if images is None:
        del data["images"]
    else:
        data["images"] = images
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError) as old:
        coco_sections(path)
    with pytest.raises(FormatError) as new:
        coco_lists(path)
    assert str(new.value) == str(old.value)
    assert_bad_input(invoke(CliRunner(), "validate", path), "expected a JSON object with lists images, categories")


PEAK_SCRIPT = """\
import sys, tracemalloc
from segtool import validation

path = sys.argv[1]
validation.validate(path)  # imports and caches out of the measure
tracemalloc.start()
report = validation.validate(path)
assert report.counts()["unlabeled"] > 0
del report
print(tracemalloc.get_traced_memory()[1])
"""


def validate_peak(path: Path) -> int:
    """tracemalloc's peak of one validation, in a fresh interpreter: what earlier tests left
    in this process (CI's worker measured 36 kB more at 400 images and 190 kB more at 1,600
    than a fresh one, after ~4,000 other tests) is not validate's."""
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return int(run.stdout)


def test_validate_peak_is_flat_from_n_to_4n_images(tmp_path):
    """tracemalloc's peak of a validation grows by less than 300 bytes an added image from
    400 to 1,600 images (one finding an image): the findings beyond a small head wait on
    disk, the image records are columns, the annotated images a byte each (measured ~200,
    some of it the bounded tables still filling at 400). Before, the findings, a dict per
    image record, the set of annotated ids and the interned PNG paths grew it by ~850."""
    small, large = 400, 1600
    peaks = [validate_peak(panoptic(tmp_path / str(n), n)) for n in (small, large)]
    growth = (peaks[1] - peaks[0]) / (large - small)
    assert growth < 300, f"{growth:.0f} bytes an image ({peaks})"
