"""Text that reaches people: dataset strings (file names, category names) carrying newlines,
carriage returns, ANSI escapes, NUL, lone surrogates, rich markup and GitHub workflow
commands are printed as one visible line each, never as a forged ``Error:`` or ``::error``
line, never interpreted by rich; ``--json`` keeps them exactly; the HTML gallery links only
to the files it wrote, and every thumbnail with a hostile name loads in a real browser.

Expected line counts are counted by hand from the table layouts (title, borders, header and
one line per row on a console wide enough not to fold), not taken from segtool's output.
"""

from __future__ import annotations

import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from segtool.cli import main, output
from segtool.cli.ci_formats import github_data, github_property
from segtool.errors import one_line
from segtool.render import gallery
from segtool.render.text import legend
from tests.browser import needs_chromium, start_chromium
from tests.conftest import rgb_of, write_json

# File stems: no "/" (a folder) and no NUL (no file system takes it).
STEMS = [
    "n\nError: forged",
    "r\rError: forged",
    "esc\x1b[31mred",
    "[bold]b[link=https:evil]l",
    "pct%0A::error::x",
    "::error file=a,title=b::forged",
]
CATS = [
    {"id": 1, "name": "person\nError: forged", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "[bold red]road[/bold red] :smile: \x1b[31m\x00", "isthing": 0, "color": [0, 0, 142]},
    {"id": 3, "name": "unused\r::error::%0A", "isthing": 0, "color": [1, 2, 3]},
]
FORGED = re.compile(r"^\s*(Error|::)", re.MULTILINE)


def hostile_panoptic(tmp_path: Path) -> Path:
    """Six 40x60 images named by STEMS, each a road (id 10, category 2) with a person square
    (id 20, category 1). Segment 10 declares area 1 (it has 2000 pixels): one area-mismatch
    per image, at a path carrying the hostile name; category 3 is never used."""
    folder = tmp_path / "gt"
    folder.mkdir()
    ids = np.full((40, 60), 10, np.int64)
    ids[5:25, 35:55] = 20
    images, anns = [], []
    for i, stem in enumerate(STEMS, start=1):
        Image.fromarray(rgb_of(ids)).save(folder / f"{stem}.png", format="PNG")
        images.append({"id": i, "file_name": f"{stem}.jpg", "height": 40, "width": 60})
        segs = [
            {"id": 10, "category_id": 2, "iscrowd": 0, "area": 1, "bbox": [0, 0, 60, 40]},
            {"id": 20, "category_id": 1, "iscrowd": 0, "area": 400, "bbox": [35, 5, 20, 20]},
        ]
        anns.append({"image_id": i, "file_name": f"{stem}.png", "segments_info": segs})
    return write_json(tmp_path / "gt.json", {"images": images, "annotations": anns, "categories": CATS})


@pytest.fixture
def wide(monkeypatch):
    """A console wide enough that no table cell folds, so a row is one line."""
    monkeypatch.setattr(output.out, "width", 1000)
    monkeypatch.setattr(output.err, "width", 1000)


def run(runner, *argv: str):
    return runner.invoke(main, list(argv))


def assert_clean(text: str) -> None:
    """No forged line, no raw control character, no lone surrogate."""
    assert not FORGED.search(text), text
    assert all(c == "\n" or c.isprintable() for c in text), repr(text)


def github_parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the Actions runner reads it: ``::cmd k=v,k=v::data``, with
    its unescaping of ``%25 %0D %0A`` (and ``%3A %2C`` in properties)."""
    m = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert m, line
    codes = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}
    unescape = lambda s: re.sub(r"%(25|0D|0A|3A|2C)", lambda g: codes[g.group(0)], s)  # noqa: E731
    props = dict(p.split("=", 1) for p in m.group(2).split(","))
    return m.group(1), {k: unescape(v) for k, v in props.items()}, unescape(m.group(3))


# -- the helpers, case by case -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("a%b", "a%25b", "a%25b"),
        ("x:y,z", "x:y,z", "x%3Ay%2Cz"),
        ("l\nr\r", "l%0Ar%0D", "l%0Ar%0D"),  # GitHub's own escapes: the runner shows them inside one annotation
        ("esc\x1b[31m\x00", "esc\\x1b[31m\\x00", "esc\\x1b[31m\\x00"),  # what GitHub passes through: escapes
        ("::error::", "::error::", "%3A%3Aerror%3A%3A"),
        ("%0A", "%250A", "%250A"),
        ("s\udc80", "s\\udc80", "s\\udc80"),
    ],
)
def test_github_escapes_by_hand(raw, data, prop):
    assert github_data(raw) == data
    assert github_property(raw) == prop


@pytest.mark.parametrize("raw", ["[bold]x[/]", "[link=https://evil.example]x[/link]", ":smile:", "a\nb", "\x1b[2J"])
def test_shown_prints_itself(raw):
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(output.shown(raw))
    assert console.export_text() == one_line(raw) + "\n"


def test_legend_takes_a_multiline_name():
    """Pillow refuses to measure multi-line text: a category name with a newline crashed."""
    strip = legend([((1, 2, 3), "person\nError: forged")], 400)
    assert strip.shape == (2 * 6 + 18, 400, 3)  # one row: padding above and below, one row height


NAMES = [
    "javascript:alert(document.domain).png",
    "data:text,hi.png",
    "a#b?c=d.png",
    "100%25 %.png",
    "sp ace.png",
    "\u00e9\u20ac\u00fc.png",
    os.fsdecode(b"bad\xff\xfe.png"),
    "q\"'<>&.png",
    "line\nbreak.png",
    "back\\slash.png",
    "%2e%2e.png",
    "[bold]m.png",
]


@pytest.mark.parametrize("name", NAMES)
def test_gallery_url_is_relative_and_exact(name):
    link = gallery.url(name)
    assert re.fullmatch(r"\./[A-Za-z0-9%._~-]+", link), link
    assert unquote_to_bytes(link[2:]) == os.fsencode(name)
    thumb = gallery.url(gallery.thumb_name(name))
    assert thumb.startswith("./thumbs/") and unquote_to_bytes(thumb[9:]) == os.fsencode(Path(name).stem + ".jpg")


@pytest.mark.parametrize("bad", ["../x.png", "/etc/passwd", "a/../../b"])
def test_gallery_url_refuses_leaving_the_folder(bad):
    with pytest.raises(ValueError):
        gallery.url(bad)


# -- the commands ----------------------------------------------------------------------------


def test_validate_table_verbose_github_json(runner, tmp_path, wide):
    src = hostile_panoptic(tmp_path)
    expected_paths = {str(tmp_path / "gt" / f"{s}.png") for s in STEMS}
    table = run(runner, "validate", str(src))
    assert table.exit_code == 1 and table.stderr == ""
    assert_clean(table.stdout)
    # title, top border, header, header rule, 2 rows (area-mismatch, unused-category), bottom
    assert len(table.stdout.splitlines()) == 7
    assert "(unused\\r::error::%0A)" in table.stdout

    verbose = run(runner, "validate", str(src), "-v")
    assert verbose.exit_code == 1
    assert_clean(verbose.stdout)
    assert len(verbose.stdout.splitlines()) == 7 + 7  # the table, then one line per finding
    listed = verbose.stdout.splitlines()[7:]
    for stem in STEMS:  # each name shown once, visibly, markup and all
        assert sum(one_line(stem) in ln for ln in listed) == 1, stem

    github = run(runner, "validate", str(src), "--format", "github")
    assert github.exit_code == 1
    assert_clean(github.stdout.replace("::error file=", "").replace("::notice title=", ""))
    lines = github.stdout.splitlines()
    assert len(lines) == 7  # the 6 errors; the info (unused-category) only counted in the summary notice
    parsed = [github_parse(ln) for ln in lines]
    assert [p[0] for p in parsed] == ["error"] * 6 + ["notice"]
    # the runner reads each file name back exactly (CR and LF too); what GitHub would pass
    # through raw (ANSI escapes) is shown as escapes
    raw_breaks = {"".join(c if c in "\r\n" else one_line(c) for c in p) for p in expected_paths}
    assert {p[1]["file"] for p in parsed[:6]} == raw_breaks
    assert {p[1]["title"] for p in parsed} == {"area-mismatch", "segtool validate"}
    assert parsed[6][2].endswith("6 errors, 0 warnings, 1 info in 6 images (info not annotated: -v shows it)")

    as_json = run(runner, "validate", str(src), "--json", "-")
    findings = json.loads(as_json.stdout)["findings"]
    assert {f["path"] for f in findings if f["code"] == "area-mismatch"} == expected_paths
    assert [f["message"] for f in findings if f["code"] == "unused-category"] == [
        f"category 3 ({CATS[2]['name']}) is never used"
    ]


def test_info_tables_and_json(runner, tmp_path, wide):
    src = hostile_panoptic(tmp_path)
    result = run(runner, "info", str(src), "--per-class")
    assert result.exit_code == 0 and result.stderr == ""
    assert_clean(result.stdout)
    # summary: title, top, 7 rows, bottom; per category: title, top, header, rule, 3 rows, bottom
    assert len(result.stdout.splitlines()) == 10 + 8
    for cat in CATS:
        assert one_line(cat["name"]) in result.stdout  # literally: "[bold red]" is not eaten by rich
    data = json.loads(run(runner, "info", str(src), "--per-class", "--json", "-").stdout)
    assert sorted(rec["name"] for rec in data["per_category"].values()) == sorted(c["name"] for c in CATS)


def test_preview_summary_json_and_one_line_error(runner, tmp_path, wide):
    src = hostile_panoptic(tmp_path)
    result = run(runner, "preview", str(src), str(tmp_path / "pv"), "--html")
    assert result.exit_code == 0, result.output
    assert_clean(result.stdout)
    assert len(result.stdout.splitlines()) == 6  # title, top, from / renders / gallery, bottom
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("note: 6 of 6 images")
    data = json.loads(run(runner, "preview", str(src), str(tmp_path / "pv2"), "--json", "-").stdout)
    assert [im["file_name"] for im in data["images"]] == [f"{s}.jpg" for s in STEMS]
    (tmp_path / "gt" / f"{STEMS[0]}.png").unlink()
    failed = run(runner, "preview", str(src), str(tmp_path / "pv3"))
    assert failed.exit_code == 2
    assert len(failed.stderr.splitlines()) == 1 and failed.stderr.startswith("Error: "), failed.stderr
    assert "\\nError: forged" in failed.stderr


# -- the gallery -----------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action", "srcset")]


def hostile_gallery(tmp_path: Path) -> Path:
    """A semantic folder whose label PNGs carry NAMES (bytes that are not UTF-8 included),
    previewed with --html."""
    labels = tmp_path / "labels"
    labels.mkdir()
    for i, name in enumerate(NAMES):
        a = np.zeros((30, 40), np.uint8)
        a[5:20, 10:30] = 1 + i % 2
        Image.fromarray(a, "L").save(labels / name, format="PNG")
    cats = [{"id": 0, "name": "bg"}, {"id": 1, "name": "cat\n<b>x</b>"}, {"id": 2, "name": "dog\x1b[31m\udc80"}]
    write_json(labels / "categories.json", cats)
    out = tmp_path / "out"
    from segtool.preview import preview

    preview(labels, out, gallery=True)
    return out


def test_gallery_links_only_its_own_files(tmp_path):
    out = hostile_gallery(tmp_path)
    page = (out / "index.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert "script" not in parser.tags and "iframe" not in parser.tags
    assert len(parser.urls) == 2 * len(NAMES)
    for link in parser.urls:
        assert re.fullmatch(r"\./[A-Za-z0-9%._~/-]+", link), link
        assert os.path.isfile(os.path.join(os.fsencode(out), unquote_to_bytes(link[2:])))
    assert "q&quot;&#x27;&lt;&gt;&amp;.png" in page and "line\\nbreak.png" in page


def test_semantic_names_in_info(runner, tmp_path, wide):
    """A semantic dataset's categories.json may hold a lone surrogate (the json module reads
    it): the per-category table shows it as an escape instead of failing to encode it."""
    out = hostile_gallery(tmp_path)
    result = run(runner, "info", str(tmp_path / "labels"), "--per-class")
    assert result.exit_code == 0, result.output
    assert_clean(result.stdout)
    assert len(result.stdout.splitlines()) == 10 + 8  # as in test_info_tables_and_json
    assert "dog\\x1b[31m\\udc80" in result.stdout and "cat\\n<b>x</b>" in result.stdout
    data = json.loads(run(runner, "info", str(tmp_path / "labels"), "--per-class", "--json", "-").stdout)
    assert sorted(rec["name"] for rec in data["per_category"].values()) == ["bg", "cat\n<b>x</b>", "dog\x1b[31m\udc80"]
    assert (out / "index.html").is_file()


@needs_chromium
def test_hostile_gallery_loads_in_headless_chromium(tmp_path):
    out = hostile_gallery(tmp_path)
    page = (out / "index.html").read_text(encoding="utf-8")
    (out / "injected.html").write_text(page.replace("<body>", "<body><script>document.title='ran'</script>"))
    driver = start_chromium()
    try:
        driver.get((out / "index.html").resolve().as_uri())
        widths = driver.execute_script("return Array.from(document.images).map(i => i.complete && i.naturalWidth)")
        assert widths == [320] * len(NAMES)  # every thumbnail, hostile name or not, loaded
        hrefs = driver.execute_script("return Array.from(document.links).map(a => a.href)")
        base = out.resolve().as_uri() + "/"
        assert len(hrefs) == len(NAMES) and all(h.startswith(base) for h in hrefs)  # no javascript:, no data:
        assert driver.execute_script("return document.scripts.length") == 0
        assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []
        driver.get((out / "injected.html").resolve().as_uri())  # the policy blocks a script that slipped in
        assert driver.title.startswith("segtool preview")
    finally:
        driver.quit()
