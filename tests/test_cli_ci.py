"""For people and CI (issue 16): pipes, one scale, CI formats, progress and ``-q``.

- **Pipes**: a stdout closed early ends the run silently with the exit code its results
  give (0, or 1 for findings or a failed gate), never 141, 3 or a traceback.
- **One scale**: every metric a fraction, in tables, ``--json``, ``--csv`` and gates; a gate
  value that can only be a percentage is refused (exit 2, with the fraction it meant).
- **CI formats**: ``--format github`` (errors and warnings, info with ``-v``/``--fail-on
  info``, GitHub's escapes, a summary notice; eval gates as ``::error``), ``junit``,
  ``gitlab``; ``--json -`` keeps stdout to itself.
- **Progress and quiet**: totals, plain lines on a stderr that is no terminal, ``-q``.

Expected numbers are worked out by hand from the fixtures, not read from segtool.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import segtool
from segtool.checks import CHECKS
from segtool.cli import main
from segtool.cli import progress as cli_progress
from tests.conftest import panoptic_segments, write_json, write_panoptic

# 0 is void: every image has unlabeled pixels (an info finding each)
GT = np.array([[1, 1, 0, 2], [1, 1, 0, 2], [3, 3, 3, 3]])
PRED = np.array([[8, 8, 0, 9], [8, 0, 0, 9], [7, 7, 7, 7]])
IMAGES = 10


def run(runner, *argv):
    return runner.invoke(main, [str(a) for a in argv])


def dataset(tmp_path: Path, n: int = IMAGES) -> Path:
    """``n`` images. Image 1: segment 1's area is 5 too large (1 error, area-mismatch);
    image 2: crowd on the road (1 warning, crowd-on-stuff); every image has void pixels (n
    infos, unlabeled) and dog and sky are never used (2 infos, unused-category)."""
    segs = [panoptic_segments(GT, {1: 1, 2: 2, 3: 100}) for _ in range(n)]
    segs[0][0]["area"] += 5
    segs[1][2]["iscrowd"] = 1
    return write_panoptic(tmp_path / "gt.json", [GT] * n, segs)


def pair_of(tmp_path: Path) -> tuple[Path, Path]:
    """person 1 vs 8: IoU .75; car 2 vs 9: IoU 1; road 3 vs 7: IoU 1 → PQ 11/12, RQ 1."""
    gt = write_panoptic(tmp_path / "gt.json", [GT, GT], [panoptic_segments(GT, {1: 1, 2: 2, 3: 100})] * 2)
    pred = write_panoptic(tmp_path / "pred.json", [PRED, PRED], [panoptic_segments(PRED, {8: 1, 9: 2, 7: 100})] * 2)
    return gt, pred


@pytest.fixture
def pair(tmp_path):
    return pair_of(tmp_path / "pair")


def github_parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the Actions runner reads it (``::cmd k=v,k=v::data``), with its
    unescaping of ``%25 %0D %0A`` (and ``%3A %2C`` in properties)."""
    m = re.fullmatch(r"::(\w+)(?: ([^:]*))?::(.*)", line)
    assert m, line
    codes = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}

    def unescape(s: str) -> str:
        return re.sub(r"%(25|0D|0A|3A|2C)", lambda g: codes[g.group(0)], s)

    props = dict(p.split("=", 1) for p in m.group(2).split(",")) if m.group(2) else {}
    return m.group(1), {k: unescape(v) for k, v in props.items()}, unescape(m.group(3))


# -- pipes -----------------------------------------------------------------------------------


def closed_stdout(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader closed before anything was written: the first
    write meets EPIPE, as in ``| head -c 0``, whatever the timing."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(
            [sys.executable, "-m", "segtool", *argv], stdout=w, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(w)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["validate", "{gt}", "--format", "github", "-v"], 1),
        (["validate", "{gt}", "--format", "github", "-v", "--ignore", "area-mismatch"], 0),
        (["validate", "{gt}", "--json"], 1),
        (["validate", "{gt}", "--format", "junit"], 1),
        (["info", "{gt}", "--json"], 0),
        (["info", "{gt}", "--per-class"], 0),
        (["eval", "panoptic", "{gt}", "{pred}", "--json"], 0),
        (["eval", "panoptic", "{gt}", "{pred}", "--format", "github", "--fail-under", "PQ=0.95"], 1),
    ],
)
def test_closed_stdout_keeps_the_exit_code(tmp_path, argv, code):
    """Before: exit 141 (or 3) whatever the result; now the result's own code, silently."""
    gt, pred = pair_of(tmp_path / "pair") if argv[0] == "eval" else (dataset(tmp_path), None)
    r = closed_stdout([a.format(gt=gt, pred=pred) for a in argv] + ["-j", "1"])
    assert (r.returncode, r.stderr) == (code, "")


@pytest.mark.parametrize("how", [["--json"], ["--per-class"]])
def test_a_failed_gate_is_still_said_on_stderr(tmp_path, how):
    gt, pred = pair_of(tmp_path)
    r = closed_stdout(["eval", "panoptic", str(gt), str(pred), *how, "--fail-under", "PQ=0.95", "-j", "1"])
    assert r.returncode == 1 and r.stderr == "quality gate failed: PQ = 0.916667 < 0.95\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_head_reads_one_line_of_a_long_report(tmp_path):
    """``segtool validate X --format github -v | head -1`` on ~2,000 findings (far more than
    a pipe holds): ``head`` leaves after a line while segtool still writes."""
    ids = np.ones((4, 4), np.int64)
    absent = [{"id": 1000 + k, "category_id": 1, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1, 1]} for k in range(2000)]
    path = write_panoptic(tmp_path / "big.json", [ids], [panoptic_segments(ids, {1: 1}) + absent])
    script = 'set -o pipefail; "$0" -m segtool validate "$1" --format github -v -j 1 | head -1'
    proc = subprocess.run(
        ["bash", "-c", script, sys.executable, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr  # the findings' code, as if every line had been read
    assert proc.stderr == "" and proc.stdout.startswith("::error file=") and proc.stdout.count("\n") == 1


# -- one scale -------------------------------------------------------------------------------


def test_tables_json_and_csv_show_one_scale(runner, pair, tmp_path):
    gt, pred = pair
    r = run(
        runner, "eval", "panoptic", gt, pred, "--per-class", "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv"
    )
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert abs(data["All"]["pq"] - 11 / 12) < 1e-12
    assert "0.9167" in r.stdout and "91.67" not in r.stdout  # the table shows what --json holds
    assert "0.7500" in r.stdout  # person's PQ per category
    rows = {row["category_id"]: row for row in csv.DictReader((tmp_path / "r.csv").read_text().splitlines())}
    assert float(rows["1"]["pq"]) == 0.75


@pytest.mark.parametrize(
    ("command", "gate", "hint"),
    [
        ("panoptic", "PQ=50", "PQ=0.5"),
        ("panoptic", "sq_th=91.7", "SQ_th=0.917"),
        ("instance", "AP=35", "AP=0.35"),
        ("semantic", "mIoU=70", "mIoU=0.7"),
    ],
)
def test_gate_refuses_a_percentage(runner, tmp_path, command, gate, hint):
    """Before: PQ=50 compared 0.9167 < 50 and failed every run; now exit 2 before any work."""
    r = run(runner, "eval", command, tmp_path / "gt.json", tmp_path / "pred.json", "--fail-under", gate)
    assert r.exit_code == 2 and "Traceback" not in r.output
    error = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(error) == 1 and "fractions from 0 to 1" in error[0] and hint in error[0], r.stderr


def test_gate_takes_fractions_from_0_to_1(runner, pair):
    gt, pred = pair
    assert run(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=0.9").exit_code == 0
    assert run(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=1").exit_code == 1  # 0.9167 < 1
    assert run(runner, "eval", "panoptic", gt, pred, "--fail-under", "RQ=1").exit_code == 0  # RQ is exactly 1
    assert run(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=-0.1").exit_code == 2
    assert run(runner, "eval", "panoptic", gt, pred, "--fail-under", "PQ=nan").exit_code == 2


# -- GitHub ----------------------------------------------------------------------------------


def test_github_shows_errors_and_warnings_then_a_summary(runner, tmp_path):
    gt = dataset(tmp_path)
    r = run(runner, "validate", gt, "--format", "github")
    assert r.exit_code == 1 and r.stderr == ""
    parsed = [github_parse(ln) for ln in r.stdout.splitlines()]
    assert [(p[0], p[1].get("title")) for p in parsed] == [
        ("error", "area-mismatch"),
        ("warning", "crowd-on-stuff"),
        ("notice", "segtool validate"),
    ]
    assert parsed[0][1]["file"] == str(tmp_path / "gt" / "img1.png")
    assert parsed[-1][2] == f"{gt}: 1 error, 1 warning, 12 info in 10 images (info not annotated: -v shows it)"


@pytest.mark.parametrize("more", [["-v"], ["--fail-on", "info"]])
def test_github_shows_info_when_asked(runner, tmp_path, more):
    r = run(runner, "validate", dataset(tmp_path), "--format", "github", *more)
    parsed = [github_parse(ln) for ln in r.stdout.splitlines()]
    titles = [p[1]["title"] for p in parsed if p[0] == "notice"]
    assert titles.count("unlabeled") == IMAGES and titles.count("unused-category") == 2
    assert titles[-1] == "segtool validate" and "info not annotated" not in parsed[-1][2]


def test_github_escapes_names_and_messages(runner, tmp_path):
    """A PNG named ``a,b:c%d<LF>e.png`` and a category ``x,y:z%<LF>::error::w``: every
    annotation stays one line, and the runner reads the file name and the message back
    exactly (actions/toolkit escapeProperty / escapeData)."""
    name = "a,b:c%d\ne.png"
    cats = [
        {"id": 1, "name": "person", "isthing": 1, "color": [1, 2, 3]},
        {"id": 5, "name": "x,y:z%\n::error::w", "isthing": 1, "color": [4, 5, 6]},
    ]
    path = write_panoptic(tmp_path / "h.json", [GT], [panoptic_segments(GT, {1: 1, 2: 1, 3: 1})], cats)
    data = json.loads(path.read_text())
    (path.with_suffix("") / "img1.png").rename(path.with_suffix("") / name)
    data["annotations"][0]["file_name"] = name
    data["annotations"][0]["segments_info"][0]["area"] = 99
    write_json(path, data)
    r = run(runner, "validate", path, "--format", "github", "-v")
    lines = r.stdout.splitlines()
    assert all(ln.startswith("::") for ln in lines) and len(lines) == 4  # error, 2 infos, summary
    parsed = [github_parse(ln) for ln in lines]
    error = next(p for p in parsed if p[0] == "error")
    assert error[1] == {"file": str(tmp_path / "h" / name), "title": "area-mismatch"}
    assert "%2C" in lines[0] and "%3A" in lines[0] and "%25" in lines[0] and "%0A" in lines[0]
    unused = next(p for p in parsed if p[1].get("title") == "unused-category")
    assert unused[2] == "category 5 (x,y:z%\n::error::w) is never used"


def test_github_eval_gate(runner, pair):
    gt, pred = pair
    r = run(runner, "eval", "panoptic", gt, pred, "--format", "github", "--fail-under", "PQ=0.95")
    assert r.exit_code == 1 and r.stderr == ""
    assert r.stdout.splitlines() == [
        "::error title=segtool eval panoptic quality gate::quality gate failed: PQ = 0.916667 < 0.95",
        "::notice title=segtool eval panoptic::PQ 0.9167 · SQ 0.9167 · RQ 1.0000 on 2 images",
    ]
    r = run(runner, "eval", "panoptic", gt, pred, "--format", "github", "--fail-under", "PQ=0.9")
    assert r.exit_code == 0 and [github_parse(ln)[0] for ln in r.stdout.splitlines()] == ["notice"]


@pytest.mark.parametrize("fmt", ["github", "junit", "gitlab"])
def test_json_on_stdout_sends_the_format_to_stderr(runner, tmp_path, fmt):
    r = run(runner, "validate", dataset(tmp_path), "--json", "-", "--format", fmt)
    assert r.exit_code == 1
    assert json.loads(r.stdout)["summary"]["errors"] == 1
    assert r.stderr.strip().startswith({"github": "::error", "junit": "<?xml", "gitlab": "["}[fmt])


def test_json_on_stdout_with_github_eval(runner, pair):
    gt, pred = pair
    r = run(runner, "eval", "panoptic", gt, pred, "--json", "--format", "github", "--fail-under", "PQ=0.95")
    assert r.exit_code == 1 and json.loads(r.stdout)["images"] == 2
    assert [github_parse(ln)[0] for ln in r.stderr.splitlines()] == ["error", "notice"]


# -- JUnit -----------------------------------------------------------------------------------


def assert_junit_shape(root: ET.Element) -> None:
    """What the JUnit schemas Jenkins and GitLab read ask for: <testsuites> of <testsuite>
    (name, tests, failures, errors, skipped, time, timestamp, hostname) of <testcase>
    (name, classname, time) holding at most a <failure> (message, type) or <system-out>;
    counts that add up; times and counts numbers; a timestamp without a zone."""
    assert root.tag == "testsuites" and set(root.attrib) >= {"tests", "failures", "errors", "time"}
    for suite in root:
        assert suite.tag == "testsuite"
        assert set(suite.attrib) >= {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        float(suite.get("time", "x"))
        cases = list(suite)
        assert int(suite.get("tests", "-1")) == len(cases)
        failed = 0
        for case in cases:
            assert case.tag == "testcase" and set(case.attrib) == {"name", "classname", "time"}
            assert {child.tag for child in case} <= {"failure", "system-out"} and len(case) <= 1
            failure = case.find("failure")
            if failure is not None:
                failed += 1
                assert set(failure.attrib) == {"message", "type"}
        assert int(suite.get("failures", "-1")) == failed
    assert int(root.get("tests", "-1")) == sum(int(s.get("tests", "0")) for s in root)


def test_junit_one_testcase_per_check_code(runner, tmp_path):
    r = run(runner, "validate", dataset(tmp_path), "--format", "junit", "--ignore", "overlap")
    assert r.exit_code == 1
    root = ET.fromstring(r.stdout)
    assert_junit_shape(root)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == set(CHECKS) - {"overlap"}  # stable names, every check the run had
    assert {c.get("classname") for c in cases.values()} == {"validate.coco-panoptic"}
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {"area-mismatch"}
    failure = cases["area-mismatch"].find("failure")
    assert (
        failure is not None and failure.get("type") == "error" and failure.get("message", "").startswith("1 finding:")
    )
    assert (failure.text or "").count("\n") == 0 and "img1.png (image 1, segment 1)" in (failure.text or "")
    assert "crowd-on-stuff" in (cases["crowd-on-stuff"].findtext("system-out") or "")  # a warning: listed, passed
    assert (cases["unlabeled"].findtext("system-out") or "").endswith("10 info finding(s) not listed: -v lists them")


def test_junit_fails_what_fails_the_run(runner, tmp_path):
    r = run(runner, "validate", dataset(tmp_path), "--format", "junit", "--fail-on", "warning")
    root = ET.fromstring(r.stdout)
    assert_junit_shape(root)
    assert {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None} == {
        "area-mismatch",
        "crowd-on-stuff",
    }
    clean = run(runner, "validate", dataset(tmp_path), "--format", "junit", "--ignore", "area-mismatch")
    assert clean.exit_code == 0 and ET.fromstring(clean.stdout).get("failures") == "0"


def test_junit_is_well_formed_with_hostile_text(runner, tmp_path):
    """XML 1.0 cannot hold most control characters at all: they are shown as escapes."""
    cats = [{"id": 1, "name": "p\x00\x1b[31m<&>\"'", "isthing": 1, "color": [1, 2, 3]}]
    path = write_panoptic(tmp_path / "h.json", [GT], [panoptic_segments(GT, {1: 1, 2: 1, 3: 1})], cats)
    data = json.loads(path.read_text())
    data["categories"].append({"id": 2, "name": "q\x00", "isthing": 1, "color": [3, 2, 1]})
    path.write_text(json.dumps(data))
    r = run(runner, "validate", path, "--format", "junit", "--fail-on", "info", "-v")
    root = ET.fromstring(r.stdout.encode())
    failure = next(c for c in root.iter("testcase") if c.get("name") == "unused-category").find("failure")
    assert failure is not None and "q\\x00" in (failure.text or "")


# -- GitLab ----------------------------------------------------------------------------------


def test_gitlab_code_quality(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gt = dataset(tmp_path)
    r = run(runner, "validate", gt, "--format", "gitlab")
    assert r.exit_code == 1 and r.stderr == ""
    issues = json.loads(r.stdout)
    assert isinstance(issues, list) and len(issues) == 2  # the error and the warning; info left out
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert issue["check_name"] in CHECKS
        assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(issue["location"]["path"], str)
        assert isinstance(issue["location"]["lines"]["begin"], int) and issue["location"]["lines"]["begin"] >= 1
    by_check = {i["check_name"]: i for i in issues}
    assert by_check["area-mismatch"]["severity"] == "critical" and by_check["crowd-on-stuff"]["severity"] == "minor"
    assert by_check["area-mismatch"]["location"]["path"] == "gt/img1.png"  # from the repository's root
    everything = json.loads(run(runner, "validate", gt, "--format", "gitlab", "-v").stdout)
    assert len(everything) == 2 + 12 and len({i["fingerprint"] for i in everything}) == 14
    again = json.loads(run(runner, "validate", gt, "--format", "gitlab", "-v").stdout)
    assert [i["fingerprint"] for i in again] == [i["fingerprint"] for i in everything]  # stable across runs


# -- progress --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_every_10_percent_or_10_seconds(capsys):
    clock = Clock()
    lines = cli_progress.Lines("validate", None, clock)
    lines.set_total(100)
    for _ in range(5):  # the first seconds of a run: nothing, however far it gets
        clock.now += 1
        lines(1)
    clock.now = cli_progress.QUIET_START + 1
    lines(10)  # 15%: a line
    lines(1)  # 16%: same ten, a moment later: none
    clock.now += cli_progress.INTERVAL
    lines(1)  # 17%, 10 s later: a line
    lines(83)  # 100%
    out = capsys.readouterr().err.splitlines()
    assert out == [
        "validate: 15/100 images (15%), 11 s, about 1 min 02 s left",
        "validate: 17/100 images (17%), 21 s, about 1 min 43 s left",
        "validate: 100/100 images (100%), 21 s, about 0 s left",
    ]


def test_plain_lines_without_a_total(capsys):
    clock = Clock()
    lines = cli_progress.Lines("preview", None, clock)
    clock.now = cli_progress.QUIET_START + 0.4
    lines(3)
    lines(3)
    assert capsys.readouterr().err == f"preview: 3 images, {round(cli_progress.QUIET_START)} s\n"


@pytest.mark.parametrize(
    ("argv", "label", "total"),
    [
        (["validate", "{gt}"], "validate", IMAGES),
        (["validate", "{gt}", "--fix", "{out}.json"], "fix", IMAGES),
        (["eval", "panoptic", "{gt}", "{pred}", "--allow-missing"], "eval panoptic", IMAGES),
        (["info", "{gt}"], "info", IMAGES),
        (["preview", "{gt}", "{out}", "--sample", "4"], "preview", 4),
        (["convert", "{gt}", "{out}.json", "--to", "coco-instance"], "convert coco-panoptic → coco-instance", IMAGES),
    ],
)
def test_progress_lines_in_a_log_have_totals(runner, tmp_path, monkeypatch, argv, label, total):
    """stderr is no terminal under CliRunner, as in a CI log: plain lines, each with the
    total (before: a count of ``?`` on terminals only, nothing in logs)."""
    monkeypatch.setattr(cli_progress, "QUIET_START", 0.0)
    gt = dataset(tmp_path)
    pred = write_panoptic(tmp_path / "pred.json", [PRED], [panoptic_segments(PRED, {8: 1, 9: 2, 7: 100})])
    r = run(runner, *[a.format(gt=gt, pred=pred, out=tmp_path / "out") for a in argv], "-j", "1")
    assert r.exit_code in (0, 1), r.output
    got = [ln for ln in r.stderr.splitlines() if ln.startswith(label + ":")]
    pattern = rf"{re.escape(label)}: (\d+)/{total} images \((\d+)%\), \d+ s(, about \d+ s left)?"
    assert got and all(re.fullmatch(pattern, ln) for ln in got), r.stderr
    assert got[-1].startswith(f"{label}: {total}/{total} images (100%)")


def test_short_runs_print_no_progress(runner, tmp_path):
    r = run(runner, "validate", dataset(tmp_path), "-j", "1")
    assert r.exit_code == 1 and r.stderr == ""


class Recorder:
    def __init__(self) -> None:
        self.done, self.total = 0, None

    def __call__(self, n: int) -> None:
        self.done += n

    def set_total(self, total: int) -> None:
        assert self.done == 0  # told before the first step
        self.total = total


def test_library_tells_the_total(tmp_path, pair):
    gt, pred = pair
    calls = {
        "validate": lambda p: segtool.validate(gt, progress=p),
        "panoptic": lambda p: segtool.evaluate_panoptic(gt, pred, progress=p),
        "semantic": lambda p: segtool.evaluate_semantic(gt, gt, progress=p),
        "instance": lambda p: segtool.evaluate_instance(gt, gt, progress=p),
    }
    for name, call in calls.items():
        if name == "instance":
            with pytest.raises(segtool.SegtoolError):  # panoptic ground truth as detections: no scores
                call(Recorder())
            continue
        bar = Recorder()
        call(bar)
        assert (bar.done, bar.total) == (2, 2), name
    plain: list[int] = []
    segtool.validate(gt, progress=plain.append)  # a plain function: called as ever
    assert plain == [1, 1]


def test_library_tells_preview_its_total(tmp_path):
    from segtool.preview import preview

    bar = Recorder()
    preview(dataset(tmp_path), tmp_path / "pv", sample=3, progress=bar)
    assert (bar.done, bar.total) == (3, 3)


# -- quiet -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["validate", "{gt}"], 1),
        (["validate", "{gt}", "-v", "--ignore", "area-mismatch"], 2),  # -q and -v: pass one
        (["info", "{gt}", "--per-class"], 0),
        (["convert", "{gt}", "{out}.json", "--to", "coco-instance"], 0),
        (["preview", "{gt}", "{out}"], 0),  # no "note: ... neutral background"
        (["eval", "panoptic", "{gt}", "{gt}", "--per-class"], 0),
        (["eval", "semantic", "{gt}", "{gt}", "--per-class"], 0),
    ],
)
def test_quiet_prints_nothing(runner, tmp_path, monkeypatch, argv, code):
    monkeypatch.setattr(cli_progress, "QUIET_START", 0.0)  # progress would show, but for -q
    gt = dataset(tmp_path)
    r = run(runner, *[a.format(gt=gt, out=tmp_path / "out") for a in argv], "-q", "-j", "1")
    assert r.exit_code == code, r.output
    if code == 2:
        assert "-q and -v ask for less and for more output: pass one" in r.stderr
    else:
        assert (r.stdout, r.stderr) == ("", "")


def test_quiet_still_writes_json_and_gates(runner, tmp_path, pair):
    gt, pred = pair
    r = run(runner, "validate", dataset(tmp_path / "d"), "-q", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["summary"]["errors"] == 1 and r.stderr == ""
    r = run(runner, "eval", "panoptic", gt, pred, "-q", "--fail-under", "PQ=0.95")
    assert r.exit_code == 1 and r.stdout == "" and r.stderr == "quality gate failed: PQ = 0.916667 < 0.95\n"
    r = run(runner, "eval", "panoptic", gt, pred, "-q", "--json", "--per-class")
    assert r.exit_code == 0 and json.loads(r.stdout)["images"] == 2 and r.stderr == ""
