"""Class "paths": a dataset's names and the command line's outputs cannot make segtool write
outside OUT or touch an input.

Every hostile ``file_name`` is run through every command of its format (the file it names
exists where a naive ``folder / name`` would find it, so a traversal is followed, not just
refused by accident); then outputs and report files aimed at inputs. Promise: only OUT and
the named report files change, every input hashes the same, a refusal is exit 2 and one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from . import build
from .build import Built
from .commands import INSTANCE, PANOPTIC, SEMANTIC, Cmd, command, names_for
from .harness import broken, case_root, check, run_inprocess

ABS = "{abs}"  # replaced by an absolute path to a real file in the case's folder
NAMES = {
    "dotdot": "../../x.png",
    "abs": ABS,
    "a-dotdot-b": "a/../../b.png",
    "nul": "a\0b.png",
    "newline": "a\nb.png",
    "cr": "a\rb.png",
    "hash": "a#b.png",
    "question": "a?b.png",
    "percent": "a%2e%2e%2fb%.png",
    "javascript": "javascript:alert(1).jpg",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==.png",
}


def named(fmt: str, name: str, root: Path) -> Built:
    """A dataset of ``fmt`` whose first image is called ``name`` (its mask, label map and
    photo placed where that name points), with a photo folder."""
    if name == ABS:
        name = str(root / "elsewhere" / "abs.png")
    return build.first_named(fmt, name, root)


SHORT = {PANOPTIC: "pan", INSTANCE: "ins", SEMANTIC: "sem"}
MATRIX = [
    pytest.param(fmt, key, cmd, id=f"paths-{SHORT[fmt]}-{key}-{cmd}")
    for fmt in (PANOPTIC, INSTANCE, SEMANTIC)
    for key in NAMES
    for cmd in names_for(fmt)
]


@pytest.mark.parametrize(("fmt", "key", "cmd"), MATRIX)
def test_hostile_file_name(request, tmp_path, monkeypatch, fmt, key, cmd):
    root = case_root(tmp_path / "w")
    b = named(fmt, NAMES[key], root)
    c = command(cmd, b, root / "out" / "o")
    out = run_inprocess(c, root, monkeypatch)
    check(request, "paths", f"{SHORT[fmt]}-{key}", cmd, out, broken(out, c, root))


# --- outputs and reports aimed at inputs ------------------------------------------------------

Special = Callable[[Path], tuple[Cmd, tuple[str, ...]]]
OW = ["--overwrite"]


def _pan(root: Path) -> Built:
    return build.panoptic(root)


def _refused(*argv: str) -> Cmd:
    return Cmd(list(argv), [], frozenset({2}))


def _specials() -> dict[str, Special]:
    """name → (root → (command, paths allowed to change)). Paths are relative to ``root``."""

    def pan(fn: Callable[[str, Path], Cmd]) -> Special:
        return lambda root: (fn(str(_pan(root).src), root), ())

    def sem(fn: Callable[[str, Path], Cmd]) -> Special:
        return lambda root: (fn(str(build.semantic(root).src), root), ())

    def ins(fn: Callable[[str, Path], Cmd]) -> Special:
        return lambda root: (fn(str(build.instance(root).src), root), ())

    s: dict[str, Special] = {}
    for ow, suffix in (([], ""), (OW, "-overwrite")):
        s[f"out-is-input{suffix}"] = ins(lambda p, r, ow=ow: _refused("convert", p, p, "--to", INSTANCE, *ow))
        s[f"out-is-input-panoptic{suffix}"] = pan(lambda p, r, ow=ow: _refused("convert", p, p, "--to", PANOPTIC, *ow))
        s[f"out-in-input-folder{suffix}"] = sem(
            lambda p, r, ow=ow: _refused("convert", p, p + "/x.png", "--to", PANOPTIC, "--split-things", *ow)
        )
        s[f"out-json-in-input-folder{suffix}"] = sem(
            lambda p, r, ow=ow: _refused("convert", p, p + "/x.json", "--to", PANOPTIC, "--split-things", *ow)
        )
        s[f"out-in-masks-folder{suffix}"] = pan(
            lambda p, r, ow=ow: _refused("convert", p, str(r / "in/p/o.json"), "--to", INSTANCE, *ow)
        )
        s[f"fix-onto-input{suffix}"] = pan(lambda p, r, ow=ow: _refused("validate", p, "--fix", p, *ow))
        s[f"fix-onto-input-instance{suffix}"] = ins(lambda p, r, ow=ow: _refused("validate", p, "--fix", p, *ow))
        s[f"fix-into-masks{suffix}"] = pan(
            lambda p, r, ow=ow: _refused("validate", p, "--fix", p[:-5] + "/f.json", *ow)
        )
        s[f"preview-onto-masks{suffix}"] = pan(lambda p, r, ow=ow: _refused("preview", p, p[:-5], "--html", *ow))
        s[f"json-onto-gt-info{suffix}"] = pan(lambda p, r, ow=ow: _refused("info", p, "--json", p, *ow))
        s[f"json-onto-gt-validate{suffix}"] = pan(lambda p, r, ow=ow: _refused("validate", p, "--json", p, *ow))
        s[f"json-onto-gt-eval{suffix}"] = pan(lambda p, r, ow=ow: _refused("eval", "panoptic", p, p, "--json", p, *ow))
        s[f"csv-onto-gt-eval{suffix}"] = pan(lambda p, r, ow=ow: _refused("eval", "panoptic", p, p, "--csv", p, *ow))
        s[f"csv-onto-label-png{suffix}"] = sem(
            lambda p, r, ow=ow: _refused("eval", "semantic", p, p, "--csv", p + "/s1.png", *ow)
        )
        s[f"json-onto-categories{suffix}"] = sem(
            lambda p, r, ow=ow: _refused("eval", "semantic", p, p, "--json", p + "/categories.json", *ow)
        )
        s[f"json-onto-mask-png-convert{suffix}"] = pan(
            lambda p, r, ow=ow: _refused(
                "convert", p, str(r / "out/o/c.json"), "--to", INSTANCE, "--json", p[:-5] + "/img1.png", *ow
            )
        )
        s[f"json-onto-gt-preview{suffix}"] = pan(
            lambda p, r, ow=ow: _refused("preview", p, str(r / "out/o"), "--json", p, *ow)
        )
    s["out-holds-inputs-overwrite"] = pan(lambda p, r: _refused("convert", p, str(r / "in"), "--to", SEMANTIC, *OW))
    s["json-onto-own-out"] = pan(
        lambda p, r: _refused(
            "convert", p, str(r / "out/o/c.json"), "--to", INSTANCE, "--json", str(r / "out/o/c.json")
        )
    )
    s["report-exists-json"] = _existing("--json")
    s["report-exists-csv"] = _existing("--csv")
    s["report-exists-json-overwrite"] = _existing("--json", overwrite=True)
    s["out-symlink-to-input-overwrite"] = _symlink_out
    s["out-symlink-to-folder-overwrite"] = _symlink_folder_out
    s["out-under-symlink-to-input-folder"] = _under_symlink
    s["report-symlink-to-input-overwrite"] = _report_symlink
    s["out-inside-images-folder"] = _inside_images
    s["report-onto-categories-file-overwrite"] = _onto_categories
    s["fix-abs-png-needs-fixing"] = _abs_needs_fixing
    s["fix-outside-masks-needs-fixing"] = lambda root: _abs_needs_fixing(root, relative=True)
    return s


def _existing(flag: str, overwrite: bool = False) -> Special:
    """A report file that exists and is no input: kept unless --overwrite."""

    def make(root: Path) -> tuple[Cmd, tuple[str, ...]]:
        p = str(_pan(root).src)
        report = build.write_text(root / "other" / "report.txt", "keep me\n")
        argv = ["eval", "panoptic", p, p, flag, str(report), *(OW if overwrite else [])]
        if overwrite:
            return Cmd(argv, [], frozenset({0})), ("other/report.txt",)
        return _refused(*argv), ()

    return make


def _symlink_out(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """OUT is a link to the input: replacing OUT may replace the link, never write through it."""
    src = build.instance(root).src
    link = root / "out" / "l.json"
    link.symlink_to(src)
    return Cmd(["convert", str(src), str(link), "--to", INSTANCE, *OW], [link], frozenset({0, 2})), ()


def _symlink_folder_out(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """OUT is a link to a folder elsewhere: --overwrite replaces the link, not the folder's files."""
    src = _pan(root).src
    build.write_text(root / "elsewhere" / "keep.txt", "keep me\n")
    link = root / "out" / "l"
    link.symlink_to(root / "elsewhere")
    return Cmd(["convert", str(src), str(link), "--to", SEMANTIC, *OW], [link], frozenset({0, 2})), ()


def _under_symlink(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """OUT's parent is a link to the PNG folder: OUT lies inside an input, whatever its spelling."""
    src = _pan(root).src
    (root / "out" / "masks-link").symlink_to(root / "in" / "p")
    return _refused("convert", str(src), str(root / "out" / "masks-link" / "new.json"), "--to", INSTANCE), ()


def _report_symlink(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """--json names a link to the ground truth: replacing the link is fine, writing through it is not."""
    src = _pan(root).src
    link = root / "out" / "r.json"
    link.symlink_to(src)
    return Cmd(["eval", "panoptic", str(src), str(src), "--json", str(link), *OW], [link], frozenset({0, 2})), ()


def _inside_images(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """preview's OUT inside the --images folder (an input too)."""
    src = _pan(root).src
    photos = build.write_photos(root / "in" / "photos", ["img1.jpg", "img2.jpg"])
    return _refused("preview", str(src), str(photos / "pv"), "--images", str(photos)), ()


def _onto_categories(root: Path) -> tuple[Cmd, tuple[str, ...]]:
    """--json onto the file given as --categories (an input named by an option)."""
    cats, images, maps = build.semantic_data()
    folder = build.write_semantic(root / "in" / "sem", None, images, maps)
    c = build.write_text(root / "in" / "cats.json", build.dump(cats))
    return _refused("info", str(folder), "--categories", str(c), "--json", str(c), *OW), ()


def _abs_needs_fixing(root: Path, relative: bool = False) -> tuple[Cmd, tuple[str, ...]]:
    """A panoptic file_name naming a PNG outside the masks folder (absolute, or ``../``) whose
    pixels --fix would change (an id no segment lists): the fix must not re-encode it there."""
    data, pngs = build.panoptic_data()
    ids = pngs["img1.png"].copy()
    ids[0, 0] = 99  # listed by no segment: --fix makes it void, re-encoding the PNG
    target = root / "elsewhere" / "needs-fix.png"
    name = "../../elsewhere/needs-fix.png" if relative else str(target)
    data["annotations"][0]["file_name"] = name
    b = build.panoptic(root, data, {"img2.png": pngs["img2.png"]})
    build.save_png(target, build.rgb_of(ids))
    out = root / "out" / "o"
    return Cmd(["validate", str(b.src), "--fix", str(out / "f.json"), "-j", "1"], [out]), ()


SPECIALS = _specials()


@pytest.mark.parametrize("name", [pytest.param(n, id=f"paths-{n}") for n in SPECIALS])
def test_outputs_aimed_at_inputs(request, tmp_path, monkeypatch, name):
    root = case_root(tmp_path / "w")
    c, may_change = SPECIALS[name](root)
    out = run_inprocess(c, root, monkeypatch)
    check(request, "paths", name, c.argv[0], out, broken(out, c, root, may_change=may_change))
