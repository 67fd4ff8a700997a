"""Class "html": ``preview --html`` over file names that try to break out of the gallery.

index.html is parsed with html.parser. Promise: every href and src is a relative,
percent-encoded path with no scheme, no host, no leading slash and no ``..``, that names a
file inside OUT (so the encoding is also right, not only safe); no script-capable element or
``on*`` attribute appears; a name with ``<`` or ``"`` never appears raw in the page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from . import build
from .build import Built
from .commands import INSTANCE, PANOPTIC, SEMANTIC, Cmd
from .harness import broken, case_root, check, run_inprocess

CLS = "html"
NAMES = {
    "script": "<script>alert(1)</script>.png",
    "img-onerror": '"><img src=x onerror=alert(1)>.png',
    "quote-attr": "x' onmouseover='alert(1).png",
    "javascript": "javascript:alert(1).jpg",
    "data": "data:text/html,<b>x</b>.png",
    "hash": "a#b.png",
    "question": "a?b.png",
    "percent": "100%.png",
    "percent-encoded": "a%2F..%2Fb.png",
    "space": "a b.png",
    "unicode": "é€😀.png",
    "newline": "a\nb.png",
    "dotdot": "../../x.png",
    "abs": "/abs/x.png",
    "backslash": "a\\b.png",
    "ampersand": "a&amp;b.png",
    "drive": "C:x.png",
    "double-slash": "//evil.example/x.png",
}
SUBSET = ("script", "javascript", "hash", "percent", "newline", "dotdot", "double-slash")
REFUSABLE = ("dotdot", "abs", "double-slash", "newline")  # may be refused (exit 2) instead
SAFE = re.compile(r"(?:[A-Za-z0-9\-._~/]|%[0-9A-Fa-f]{2})*")
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "base", "form", "frame", "frameset", "meta-refresh", "svg"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def link_problems(value: str, out: Path) -> list[str]:
    """What is wrong with one href/src of a gallery in ``out``."""
    parts = urlsplit(value)
    problems = []
    if parts.scheme or parts.netloc or value.startswith(("/", "\\")):
        problems.append(f"not relative: {value!r}")
    if not SAFE.fullmatch(value):
        problems.append(f"not percent-encoded: {value!r}")
    path = unquote(parts.path)
    if ".." in path.split("/"):
        problems.append(f"'..' in {value!r}")
    elif not problems and not (out / path).is_file():
        problems.append(f"names no file in OUT: {value!r}")
    return problems


def page_problems(out: Path, names: list[str]) -> list[str]:
    index = out / "index.html"
    if not index.is_file():
        return ["no index.html"]
    source = index.read_text(encoding="utf-8")
    page = Page()
    page.feed(source)
    problems = []
    for tag, attrs in page.tags:
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}> in the page")
        for key, value in attrs:
            if key.startswith("on"):
                problems.append(f"attribute {key} on <{tag}>")
            if key in ("href", "src") and value is not None:
                problems += link_problems(value, out)
            if key == "style" and value and re.search(r"url\(|javascript:|expression\(", value, re.I):
                problems.append(f"active style {value!r}")
    for name in names:
        if any(c in name for c in '<>"') and name in source:
            problems.append(f"raw name in the page: {name!r}")
    if not page.tags or not any(t == "img" for t, _ in page.tags):
        problems.append("no <img> in the gallery")
    return problems


def dataset(fmt: str, name: str, root: Path) -> Built:
    """``fmt`` with its first image called ``name``, its photo where the name points."""
    return build.first_named(fmt, name, root, png_too=False)


SHORT = {PANOPTIC: "pan", INSTANCE: "ins", SEMANTIC: "sem"}
MATRIX = [
    pytest.param(fmt, key, pred, id=f"html-{SHORT[fmt]}-{key}{'-pred' if pred else ''}")
    for fmt in (PANOPTIC, INSTANCE, SEMANTIC)
    for key in NAMES
    for pred in (False, True)
    if (fmt == PANOPTIC or key in SUBSET) and (not pred or (fmt == PANOPTIC and key in SUBSET))
]


@pytest.mark.parametrize(("fmt", "key", "pred"), MATRIX)
def test_gallery_links_and_text(request, tmp_path, monkeypatch, fmt, key, pred):
    root = case_root(tmp_path / "w")
    b = dataset(fmt, NAMES[key], root)
    out = root / "out" / "o"
    argv = ["preview", str(b.src), str(out), "--html", "--images", str(b.images), "-j", "1"]
    if pred:
        argv += ["--pred", str(b.pred or b.src)]
    cmd = Cmd(argv, [out])
    result = run_inprocess(cmd, root, monkeypatch)
    problems = broken(result, cmd, root)
    if result.exit == 0:
        problems += page_problems(out, [NAMES[key]])
    elif key not in REFUSABLE:
        problems.append(f"no gallery for an ordinary name (exit {result.exit})")
    check(request, CLS, f"{SHORT[fmt]}-{key}", "preview --html" + (" --pred" if pred else ""), result, problems)


def test_the_page_check_catches_what_it_looks_for(tmp_path):
    """The checks above can fail: a page with each flaw is reported for each."""
    (tmp_path / "ok.png").write_bytes(b"x")
    (tmp_path / "index.html").write_text(
        '<a href="javascript:alert(1)"><img src="/etc/x.png"></a><img src="ok.png" onerror="x()">'
        '<a href="a b.png"></a><a href="//host/x"></a><a href="../ok.png"></a><a href="missing.png"></a>'
        '<script>1</script><p>"><b>'
    )
    found = " | ".join(page_problems(tmp_path, ['"><b>']))
    for flaw in (
        "javascript",
        "/etc/x.png",
        "onerror",
        "a b.png",
        "//host",
        "'..'",
        "missing.png",
        "<script>",
        "raw name",
    ):
        assert flaw in found, flaw
    assert page_problems(tmp_path / "none", []) == ["no index.html"]
