"""The folder listings every format's ``detect`` makes (tree_rules.subfolders, has_png) tell
folders apart by the directory's entry types, without a stat of each file, and answer what
``Path.is_dir`` and ``Path.suffix`` answered: links to folders count, a link loop or a
dangling link is no folder, ``.PNG`` is a PNG, a folder named ``x.png`` is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segtool.formats.tree_rules import has_png, subfolders


def _by_pathlib(folder: Path) -> tuple[list[Path], bool]:
    dirs = sorted(p for p in folder.iterdir() if p.is_dir())
    pngs = any(p.suffix.lower() == ".png" and not p.is_dir() for p in folder.iterdir())
    return dirs, pngs


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["a.png"],
        ["a.PNG"],
        ["dir.png/"],
        [".png"],
        ["x.png.txt", "b/", "a/"],
        ["loop.png->loop.png", "gone.png->nowhere", "c/"],
        ["up->..", "self->.", "z.png->up"],
    ],
)
def test_listings_answer_as_pathlib(tmp_path, names):
    root = tmp_path / "root"
    root.mkdir()
    for name in names:
        if "->" in name:
            link, target = name.split("->")
            os.symlink(target, root / link)
        elif name.endswith("/"):
            (root / name).mkdir()
        else:
            (root / name).write_bytes(b"")
    dirs, pngs = _by_pathlib(root)
    assert subfolders(root) == dirs
    assert has_png(root) is pngs


def test_a_png_link_to_a_folder_is_no_png(tmp_path):
    (tmp_path / "d").mkdir()
    os.symlink("d", tmp_path / "l.png")
    assert not has_png(tmp_path)
    assert subfolders(tmp_path) == [tmp_path / "d", tmp_path / "l.png"]


def test_an_unreadable_folder_raises_as_iterdir_does(tmp_path):
    with pytest.raises(FileNotFoundError):
        subfolders(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        has_png(_file(tmp_path / "f.png"))


def _file(path: Path) -> Path:
    path.write_bytes(b"")
    return path
