"""Several paths, glob patterns and ``-`` (stdin) where a command takes an input (issue 16).

- ``validate`` and ``info`` take several paths and patterns that segtool expands itself (a
  quoted ``'data/*.json'``); each input is checked on its own, one exit code for all (2 if
  an input is unreadable, else 1 if a finding reaches ``--fail-on``, else 0). One literal
  path keeps today's ``--json`` shape; several (or a pattern) give ``{"inputs", "summary"}``
  (validate) or a list (info). A pattern matching nothing is exit 2 naming it.
- ``-`` reads a JSON from stdin, named ``<stdin>`` in findings and messages; a format that
  is a folder cannot come from stdin, a panoptic JSON needs ``--masks``.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from segtool.cli import main
from tests.conftest import write_json
from tests.helpers import INSTANCE_BASE, INSTANCE_CATS, INSTANCE_IMAGE, assert_bad_input

ROOT = Path(__file__).resolve().parents[1]
PANOPTIC = ROOT / "sample_data" / "panoptic_examples.json"  # clean: info findings only


def run(runner, *argv, stdin: bytes | None = None):
    return runner.invoke(main, [str(a) for a in argv], input=stdin)


def instances(path: Path, *, area: float | None = None) -> Path:
    """The clean one-image COCO instance dataset of the helpers; ``area``: the polygon's
    stored area (16 is right: anything else is one area-mismatch error)."""
    anns = copy.deepcopy(INSTANCE_BASE)
    if area is not None:
        anns[0]["area"] = area
    return write_json(path, {"images": [INSTANCE_IMAGE], "annotations": anns, "categories": INSTANCE_CATS})


@pytest.fixture
def pair(tmp_path):
    """``data/clean.json`` (no error) and ``data/broken.json`` (one area-mismatch)."""
    return instances(tmp_path / "data" / "clean.json"), instances(tmp_path / "data" / "broken.json", area=40.0)


def errors_of(doc: dict) -> list[tuple[str, str]]:
    return sorted((f["code"], Path(f["path"]).name) for f in doc["findings"] if f["severity"] == "error")


# -- several paths -------------------------------------------------------------------------


def test_one_path_keeps_todays_json_shape(runner, pair):
    broken = pair[1]
    r = run(runner, "validate", broken, "--json", "-q")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"findings", "summary"}
    assert errors_of(doc) == [("area-mismatch", "broken.json")]


def test_several_paths_one_report_worst_exit_code(runner, pair):
    clean, broken = pair
    r = run(runner, "validate", clean, broken, "--json", "-q")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert [Path(i["path"]).name for i in doc["inputs"]] == ["clean.json", "broken.json"]
    assert [i["format"] for i in doc["inputs"]] == ["coco-instance", "coco-instance"]
    assert errors_of(doc["inputs"][0]) == []
    assert errors_of(doc["inputs"][1]) == [("area-mismatch", "broken.json")]
    assert doc["summary"]["errors"] == 1 and doc["summary"]["inputs"] == 2 and doc["summary"]["unreadable"] == 0
    assert doc["summary"]["images"] == 2
    # clean inputs only: exit 0
    copy_of_clean = clean.with_name("copy.json")
    shutil.copy(clean, copy_of_clean)
    assert run(runner, "validate", clean, copy_of_clean, "-q").exit_code == 0


def test_several_paths_table_per_input(runner, pair):
    clean, broken = pair
    r = run(runner, "validate", clean, broken)
    assert r.exit_code == 1
    joined = r.stdout.replace("\n", "")  # a long temporary path (pytest-xdist's) wraps the titles
    assert "clean.json" in joined and "broken.json" in joined
    assert "2 inputs: 1 error" in r.stdout


def test_pattern_expanded_by_segtool(runner, pair, tmp_path):
    r = run(runner, "validate", str(tmp_path / "data" / "*.json"), "--json", "-q")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert [Path(i["path"]).name for i in doc["inputs"]] == ["broken.json", "clean.json"]  # sorted
    # a pattern keeps the several-inputs shape even when it matches one file
    r = run(runner, "validate", str(tmp_path / "data" / "cl*.json"), "--json", "-q")
    assert r.exit_code == 0, r.output
    assert [Path(i["path"]).name for i in json.loads(r.stdout)["inputs"]] == ["clean.json"]


def test_recursive_pattern_and_duplicates_once(runner, pair, tmp_path):
    clean, _ = pair
    r = run(runner, "validate", str(tmp_path / "**" / "clean.json"), clean, "--json", "-q")
    assert r.exit_code == 0, r.output
    assert [Path(i["path"]).name for i in json.loads(r.stdout)["inputs"]] == ["clean.json"]


def test_pattern_matching_nothing_is_exit_2_naming_it(runner, pair, tmp_path):
    pattern = str(tmp_path / "nothing" / "*.json")
    for command in ("validate", "info"):
        assert_bad_input(run(runner, command, pair[0], pattern), pattern, "no file or folder matches")


def test_unreadable_input_exit_2_others_still_reported(runner, pair, tmp_path):
    clean, broken = pair
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    r = run(runner, "validate", broken, junk, clean, "--json", "-q")
    assert r.exit_code == 2
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and "junk.json" in errors[0], r.stderr
    doc = json.loads(r.stdout)
    assert [Path(i["path"]).name for i in doc["inputs"]] == ["broken.json", "junk.json", "clean.json"]
    assert "error" in doc["inputs"][1] and "junk.json" in doc["inputs"][1]["error"]
    assert errors_of(doc["inputs"][0]) == [("area-mismatch", "broken.json")]
    assert doc["summary"]["unreadable"] == 1


def test_fix_and_masks_take_one_input(runner, pair, tmp_path):
    r = run(runner, "validate", *pair, "--fix", tmp_path / "fixed.json")
    assert r.exit_code == 2 and "--fix writes one corrected copy" in r.stderr
    assert not (tmp_path / "fixed.json").exists()
    r = run(runner, "validate", *pair, "--masks", tmp_path)
    assert r.exit_code == 2 and "--masks names the PNG folder of one input" in r.stderr


def test_github_format_covers_every_input(runner, pair, tmp_path):
    clean, broken = pair
    junk = write_json(tmp_path / "junk.json", {"nothing": []})
    r = run(runner, "validate", clean, broken, junk, "--format", "github")
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    notices = [ln for ln in lines if ln.startswith("::notice title=segtool validate::")]
    assert len(notices) == 2 and "clean.json" in notices[0] and "broken.json" in notices[1]
    assert any(ln.startswith("::error file=") and "area-mismatch" in ln and "broken.json" in ln for ln in lines)
    assert any(ln.startswith("::error file=") and "junk.json" in ln and "unreadable input" in ln for ln in lines)


def test_junit_one_suite_per_input(runner, pair, tmp_path):
    clean, broken = pair
    junk = write_json(tmp_path / "junk.json", {"nothing": []})
    r = run(runner, "validate", clean, broken, junk, "--format", "junit")
    assert r.exit_code == 2
    root = ET.fromstring(r.stdout)
    suites = root.findall("testsuite")
    assert [Path(s.get("name")).name for s in suites] == ["clean.json", "broken.json", "junk.json"]
    assert [s.get("failures") for s in suites] == ["0", "1", "0"]
    assert suites[2].get("errors") == "1" and suites[2].find("testcase/error") is not None
    assert root.get("failures") == "1" and root.get("errors") == "1"
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)


def test_gitlab_one_list_for_every_input(runner, pair, tmp_path):
    broken = pair[1]
    r = run(runner, "validate", broken, instances(tmp_path / "b2.json", area=41.0), "--format", "gitlab")
    assert r.exit_code == 1
    issues = json.loads(r.stdout)
    assert sorted(Path(i["location"]["path"]).name for i in issues if i["check_name"] == "area-mismatch") == [
        "b2.json",
        "broken.json",
    ]
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_info_several_paths_json_list(runner, pair):
    clean = pair[0]
    r = run(runner, "info", PANOPTIC, clean, "--json", "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [d["format"] for d in doc] == ["coco-panoptic", "coco-instance"]
    assert [d["images"] for d in doc] == [2, 1]
    r = run(runner, "info", PANOPTIC, clean)
    assert r.exit_code == 0 and r.stdout.count("segtool info") == 2
    # one path: today's single object
    assert json.loads(run(runner, "info", clean, "--json", "-q").stdout)["format"] == "coco-instance"


def test_info_several_with_one_unreadable(runner, pair, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("[")
    r = run(runner, "info", pair[0], junk, "--json", "-q")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc[0]["images"] == 1 and Path(doc[1]["path"]).name == "junk.json" and "error" in doc[1]


# -- stdin ---------------------------------------------------------------------------------


def test_validate_stdin_names_it_stdin(runner, pair):
    clean, broken = pair
    r = run(runner, "validate", "-", "--json", "-q", stdin=broken.read_bytes())
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert {f["path"] for f in doc["findings"]} == {"<stdin>"}
    assert [f["code"] for f in doc["findings"] if f["severity"] == "error"] == ["area-mismatch"]
    assert run(runner, "validate", "-", "-q", stdin=clean.read_bytes()).exit_code == 0


def test_stdin_among_several_paths(runner, pair):
    clean, broken = pair
    r = run(runner, "validate", clean, "-", "--json", "-q", stdin=broken.read_bytes())
    assert r.exit_code == 1
    assert [i["path"] for i in json.loads(r.stdout)["inputs"]] == [str(clean), "<stdin>"]


def test_stdin_errors_name_stdin_not_a_temporary(runner):
    r = run(runner, "validate", "-", stdin=b'{"images": [')
    assert_bad_input(r, "<stdin>")
    assert "segtool-stdin" not in r.stderr and "stdin.json" not in r.stderr


def test_stdin_once(runner, pair):
    r = run(runner, "validate", "-", "-", stdin=pair[0].read_bytes())
    assert r.exit_code == 2 and "can be read once" in r.stderr


def test_stdin_folder_format_refused(runner):
    r = run(runner, "validate", "-", "--from", "semantic", stdin=PANOPTIC.read_bytes())
    assert_bad_input(r, "<stdin>", "folder", "cannot be read from stdin")


def test_stdin_panoptic_needs_masks(runner):
    r = run(runner, "validate", "-", stdin=PANOPTIC.read_bytes())
    assert_bad_input(r, "<stdin>", "--masks DIR")
    r = run(runner, "validate", "-", "--masks", PANOPTIC.with_suffix(""), "--json", "-q", stdin=PANOPTIC.read_bytes())
    assert r.exit_code == 0, r.output
    assert not [f for f in json.loads(r.stdout)["findings"] if f["severity"] != "info"]


def test_info_from_stdin(runner):
    r = run(runner, "info", "-", "--json", "-q", stdin=PANOPTIC.read_bytes())
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["path"] == "<stdin>" and doc["format"] == "coco-panoptic" and doc["images"] == 2


def test_stdin_spool_removed(runner, pair, tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    assert run(runner, "validate", "-", "-q", stdin=pair[1].read_bytes()).exit_code == 1
    assert run(runner, "validate", "-", "-q", stdin=b"[").exit_code == 2
    assert list(spool.iterdir()) == []


def test_eval_instance_ground_truth_or_predictions_from_stdin(runner, pair, tmp_path):
    clean, _ = pair
    dets = [dict(a, score=0.9) for a in INSTANCE_BASE]
    pred = write_json(tmp_path / "dets.json", dets)
    expected = json.loads(run(runner, "eval", "instance", clean, pred, "--json", "-q").stdout)
    r = run(runner, "eval", "instance", "-", pred, "--json", "-q", stdin=clean.read_bytes())
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == expected
    r = run(runner, "eval", "instance", clean, "-", "--json", "-q", stdin=pred.read_bytes())
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == expected
    assert run(runner, "eval", "instance", "-", "-", stdin=pred.read_bytes()).exit_code == 2


def test_eval_folder_and_panoptic_stdin_refused(runner, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    r = run(runner, "eval", "semantic", labels, "-", stdin=b"{}")
    assert_bad_input(r, "<stdin>", "folder of label PNGs")
    r = run(runner, "eval", "panoptic", "-", PANOPTIC, stdin=PANOPTIC.read_bytes())
    assert_bad_input(r, "<stdin>", "--gt-masks DIR")
    gt = tmp_path / "gt.json"
    shutil.copy(PANOPTIC, gt)
    r = run(
        runner,
        "eval",
        "panoptic",
        PANOPTIC,
        "-",
        "--pred-masks",
        PANOPTIC.with_suffix(""),
        "--json",
        "-q",
        stdin=gt.read_bytes(),
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["All"]["pq"] == pytest.approx(1.0)
