"""Class "log": dataset text that tries to forge output lines.

A file name or category name carrying a newline, a carriage return, CR LF, U+2028, an ANSI
escape or a GitHub annotation, placed where it reaches a message (a missing PNG, label map
or photo) or a table. Promise: no raw CR or ESC anywhere in the output, no line beginning
with the forged ``Error:`` / ``::error``, at most one ``Error:`` line on stderr, and JSON
output that still parses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from . import build
from .build import Built
from .commands import Cmd
from .harness import broken, case_root, check, run_inprocess

CLS = "log"
FORGED = ("Error: forged", "::error file=forged")
TEXTS = {
    "newline": "x\nError: forged.png",
    "cr": "x\rError: forged.png",
    "crlf": "x\r\nError: forged.png",
    "u2028": "x\u2028Error: forged.png",
    "ansi": "x\x1b[2K\x1b[1A\x1b[31mError: forged\x1b[0m.png",
    "github": "x\n::error file=forged::forged.png",
}


def _panoptic_missing_png(text: str, root: Path) -> Built:
    data, pngs = build.panoptic_data()
    data["annotations"][0]["file_name"] = text  # no PNG by that name
    data["categories"][0]["name"] = text
    return build.panoptic(root, data, {"img2.png": pngs["img2.png"]})


def _instance_missing_photo(text: str, root: Path) -> Built:
    data = build.instance_data()
    data["images"][0]["file_name"] = text
    data["categories"][0]["name"] = text
    b = build.instance(root, data)
    b.images = build.write_photos(root / "in" / "photos", ["img2.jpg"])
    return b


def _semantic_missing_label(text: str, root: Path) -> Built:
    cats, images, maps = build.semantic_data()
    images["images"][0]["file_name"] = text
    cats[1]["name"] = text
    return build.semantic(root, cats, images, {"s2": maps["s2"]})


def _panoptic_ok(text: str, root: Path) -> Built:
    """Nothing wrong but the category name: it reaches tables and --per-class."""
    data, pngs = build.panoptic_data()
    data["categories"][0]["name"] = text
    return build.panoptic(root, data, pngs)


DATASETS: dict[str, Callable[[str, Path], Built]] = {
    "pan-missing-png": _panoptic_missing_png,
    "ins-missing-photo": _instance_missing_photo,
    "sem-missing-label": _semantic_missing_label,
    "pan-category-name": _panoptic_ok,
}


def commands(b: Built, out: Path) -> dict[str, list[str]]:
    src, img = str(b.src), (["--images", str(b.images)] if b.images else [])
    kind = {"coco-panoptic": "panoptic", "coco-instance": "instance", "semantic": "semantic"}[b.fmt]
    return {
        "validate-v": ["validate", src, "-v", *img, "-j", "1"],
        "validate-github": ["validate", src, "--format", "github", *img, "-j", "1"],
        "validate-json": ["validate", src, "--json", "-", *img, "-j", "1"],
        "info-per-class": ["info", src, "--per-class", "-j", "1"],
        "convert": ["convert", src, str(out / "c.json"), "--to", "coco-instance", "-j", "1"],
        "eval-per-class": ["eval", kind, src, str(b.pred or b.src), "--per-class", "-j", "1"],
        "preview": ["preview", src, str(out / "pv"), *img, "-j", "1"],
    }


def output_problems(stdout: str, stderr: str, json_out: bool) -> list[str]:
    problems = []
    for stream, content in (("stdout", stdout), ("stderr", stderr)):
        for bad, what in (("\r", "CR"), ("\x1b", "ESC")):
            if bad in content:
                problems.append(f"raw {what} on {stream}")
        for line in content.splitlines():  # splitlines also breaks at U+2028, as some viewers do
            if line.lstrip(" │┃|").startswith(FORGED):
                problems.append(f"forged line on {stream}: {line[:60]!r}")
    if sum(line.startswith("Error:") for line in stderr.split("\n")) > 1:
        problems.append("more than one Error: line")
    if json_out and stdout.strip():
        try:
            json.loads(stdout)
        except ValueError as exc:
            problems.append(f"--json - is not JSON ({exc})")
    return problems


CASES = [
    pytest.param(d, t, c, id=f"log-{d}-{t}-{c}")
    for d in DATASETS
    for t in TEXTS
    for c in (
        "validate-v",
        "validate-github",
        "validate-json",
        "info-per-class",
        "convert",
        "eval-per-class",
        "preview",
    )
]


@pytest.mark.parametrize(("dataset", "text", "name"), CASES)
def test_one_line_per_message(request, tmp_path, monkeypatch, dataset, text, name):
    root = case_root(tmp_path / "w")
    b = DATASETS[dataset](TEXTS[text], root)
    out = root / "out" / "o"
    cmd = Cmd(commands(b, out)[name], [out])
    result = run_inprocess(cmd, root, monkeypatch)
    problems = broken(result, cmd, root) + output_problems(result.stdout, result.stderr, name == "validate-json")
    check(request, CLS, f"{dataset}-{text}", name, result, problems)


def test_the_output_check_catches_what_it_looks_for():
    found = " | ".join(output_problems("a\r\n│ Error: forged x\n{", "Error: a\nError: b\x1b[0m", True))
    for flaw in ("raw CR on stdout", "forged line on stdout", "raw ESC on stderr", "more than one", "not JSON"):
        assert flaw in found, flaw
