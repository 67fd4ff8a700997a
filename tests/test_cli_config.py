"""Config files (issue 16): defaults from ``[tool.segtool]`` in a pyproject.toml or from a
segtool.toml, found from the current folder upward to the filesystem root or a ``.git``
folder; ``--config FILE``, ``--no-config``; the command line always wins; an unknown key or
a value of the wrong type is exit 2 naming the file and the key.

Every test runs in a project folder of its own (``proj/`` with a ``.git`` folder, so no file
above it is found).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from segtool.cli import main
from segtool.cli.configure import install
from segtool.config import find_config, read_config
from tests.conftest import write_json
from tests.helpers import INSTANCE_BASE, INSTANCE_CATS, INSTANCE_IMAGE, assert_bad_input

ROOT = Path(__file__).resolve().parents[1]
PANOPTIC = ROOT / "sample_data" / "panoptic_examples.json"  # info findings only (unlabeled, unused-category)
BOX_OFF_BY_ONE = ROOT / "tests" / "data" / "datumaro" / "coco" / "annotations" / "instances_val.json"


def run(runner, *argv):
    return runner.invoke(main, [str(a) for a in argv])


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A repository ``proj/`` (with ``.git``), the current folder being ``proj/a/b``."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(root / "a" / "b")
    return root


def pyproject(folder: Path, body: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text('[project]\nname = "demo"\n\n' + body)
    return path


def codes(result) -> set[str]:
    return {f["code"] for f in json.loads(result.stdout)["findings"]}


# -- finding the file ----------------------------------------------------------------------


def test_pyproject_found_from_a_subdirectory_and_the_command_line_wins(runner, proj):
    pyproject(proj, '[tool.segtool.validate]\nfail-on = "info"\n')
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 1  # info findings fail now
    assert run(runner, "validate", PANOPTIC, "-q", "--fail-on", "error").exit_code == 0  # command line wins
    assert run(runner, "validate", PANOPTIC, "-q", "--no-config").exit_code == 0


def test_segtool_toml_wins_over_pyproject_in_the_same_folder(runner, proj):
    pyproject(proj, '[tool.segtool.validate]\nfail-on = "info"\n')
    (proj / "segtool.toml").write_text('[validate]\nfail-on = "error"\n')
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 0
    assert find_config() == proj / "segtool.toml"
    # the nearest folder wins: a pyproject.toml below it
    pyproject(proj / "a", '[tool.segtool.validate]\nfail-on = "info"\n')
    assert find_config() == proj / "a" / "pyproject.toml"
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 1


def test_pyproject_without_segtool_table_is_passed_over(runner, proj):
    pyproject(proj / "a", "[tool.ruff]\nline-length = 100\n")
    (proj / "segtool.toml").write_text('fail-on = "info"\n')
    assert find_config() == proj / "segtool.toml"
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 1


def test_search_stops_at_the_repository_root(runner, proj):
    (proj.parent / "segtool.toml").write_text('fail-on = "info"\n')  # outside the repository
    assert find_config() is None
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 0


def test_explicit_config_file(runner, proj, tmp_path):
    other = tmp_path / "ci.toml"
    other.write_text('[validate]\nfail-on = "info"\n')
    assert run(runner, "validate", PANOPTIC, "-q", "--config", other).exit_code == 1
    py = pyproject(tmp_path, '[tool.segtool]\nfail-on = "info"\n')
    assert run(runner, "validate", PANOPTIC, "-q", "--config", py).exit_code == 1
    assert read_config(py).data == {"fail-on": "info"}
    r = run(runner, "validate", PANOPTIC, "--config", other, "--no-config")
    assert r.exit_code == 2 and "pass one" in r.stderr
    assert_bad_input(run(runner, "validate", PANOPTIC, "--config", tmp_path / "nope.toml"), "nope.toml", "no such")


# -- what it sets --------------------------------------------------------------------------


def test_top_level_is_shared_tables_are_more_specific(runner, proj):
    (proj / "segtool.toml").write_text('fail_on = "info"\njobs = 1\n')  # underscores work too
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 1
    (proj / "segtool.toml").write_text('fail-on = "info"\n[validate]\nfail-on = "error"\n')
    assert run(runner, "validate", PANOPTIC, "-q").exit_code == 0


def test_select_and_ignore_as_lists_or_text(runner, proj):
    pyproject(proj, '[tool.segtool.validate]\nselect = ["unused-category"]\n')
    r = run(runner, "validate", PANOPTIC, "--json", "-q")
    assert r.exit_code == 0 and codes(r) == {"unused-category"}
    pyproject(proj, '[tool.segtool.validate]\nignore = "unused-category,unlabeled"\n')
    assert codes(run(runner, "validate", PANOPTIC, "--json", "-q")) == set()
    # the command line's --ignore replaces the file's
    assert codes(run(runner, "validate", PANOPTIC, "--json", "-q", "--ignore", "unlabeled")) == {"unused-category"}


def test_tolerance_from_config(runner, proj):
    """An option another change added (--tolerance) is a key too: nothing lists the keys."""
    assert run(runner, "validate", BOX_OFF_BY_ONE, "-q").exit_code == 0  # one pixel off: tolerated
    pyproject(proj, "[tool.segtool.validate]\ntolerance = 0\n")
    assert run(runner, "validate", BOX_OFF_BY_ONE, "-q").exit_code == 1  # strict: bbox-mismatch
    assert run(runner, "validate", BOX_OFF_BY_ONE, "-q", "--tolerance", "0.01,0.001").exit_code == 0


def test_any_option_of_any_command_generically(tmp_path, monkeypatch):
    """A command built later gets --config too, and its options are keys at once."""

    @click.group()
    def root():
        pass

    @root.command()
    @click.option("--tolerance", default="1")
    @click.option("--strict/--lenient", default=False)
    def check(tolerance, strict):
        click.echo(f"{tolerance} {strict}")

    install(root)
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "segtool.toml").write_text("[check]\ntolerance = 0.5\nstrict = true\n")
    assert runner.invoke(root, ["check"]).output == "0.5 True\n"
    assert runner.invoke(root, ["check", "--tolerance", "2", "--lenient"]).output == "2 False\n"


def test_relative_paths_are_relative_to_the_config_file(runner, proj):
    (proj / "photos").mkdir()
    pyproject(proj, '[tool.segtool.validate]\nimages = "photos"\n')
    r = run(runner, "validate", PANOPTIC, "--json", "-q")
    assert r.exit_code == 1
    missing = [f for f in json.loads(r.stdout)["findings"] if f["code"] == "image-file-missing"]
    assert len(missing) == 2 and all(Path(f["path"]).parent == proj / "photos" for f in missing)


def test_eval_tables(runner, proj, tmp_path):
    gt = write_json(
        tmp_path / "gt.json", {"images": [INSTANCE_IMAGE], "annotations": INSTANCE_BASE, "categories": INSTANCE_CATS}
    )
    dets = [dict(copy.deepcopy(a), score=0.9) for a in INSTANCE_BASE]
    dets[1]["category_id"] = 1  # the car is found as a person: AP below 1
    pred = write_json(tmp_path / "dets.json", dets)
    pyproject(proj, '[tool.segtool.eval]\nfail-under = ["AP=0.9"]\n')
    assert run(runner, "eval", "instance", gt, pred, "-q").exit_code == 1
    assert run(runner, "eval", "instance", gt, pred, "-q", "--fail-under", "AP=0").exit_code == 0
    pyproject(proj, '[tool.segtool.eval]\nfail-under = ["AP=0.9"]\n[tool.segtool.eval.instance]\nfail-under = []\n')
    assert run(runner, "eval", "instance", gt, pred, "-q").exit_code == 0


def modes(folder: Path) -> set[str]:
    out = set()
    for png in folder.glob("*.png"):
        with Image.open(png) as im:
            out.add(im.mode)
    return out


def test_label_map_palette_from_config(runner, proj, tmp_path):
    pyproject(proj, "[tool.segtool.convert]\npalette = true\n")
    assert run(runner, "convert", PANOPTIC, tmp_path / "pal", "--to", "semantic", "-q").exit_code == 0
    assert modes(tmp_path / "pal") == {"P"}
    r = run(runner, "convert", PANOPTIC, tmp_path / "gray", "--to", "semantic", "-q", "--no-palette")
    assert r.exit_code == 0
    assert modes(tmp_path / "gray") == {"L"}


# -- saying which file, refusing what it cannot take ---------------------------------------


def test_debug_and_verbose_say_which_file(runner, proj):
    py = pyproject(proj, "[tool.segtool]\njobs = 1\n")
    r = run(runner, "--debug", "info", PANOPTIC, "-q")
    assert r.exit_code == 0 and f"config: {py}" in r.stderr
    r = run(runner, "validate", PANOPTIC, "-v")
    assert r.exit_code == 0 and f"config: {py}" in r.stderr
    assert "config:" not in run(runner, "validate", PANOPTIC, "-v", "--no-config").stderr


def test_the_command_line_s_v_wins_over_a_config_s_quiet(runner, proj):
    """quiet from the file and -v on the command line: the command line wins (it was bad usage)."""
    pyproject(proj, "[tool.segtool.validate]\nquiet = true\n")
    assert run(runner, "validate", PANOPTIC).stdout == ""  # the file's quiet
    r = run(runner, "validate", PANOPTIC, "-v")
    assert r.exit_code == 0 and "unlabeled" in r.stdout  # -v lists the info findings
    pyproject(proj, "[tool.segtool.validate]\nverbose = true\n")
    r = run(runner, "validate", PANOPTIC, "-q")
    assert r.exit_code == 0 and r.stdout == ""
    r = run(runner, "validate", PANOPTIC, "-q", "-v", "--no-config")
    assert r.exit_code == 2 and "pass one" in r.stderr  # both on the command line: still bad usage


def test_help_mentions_the_config(runner):
    r = run(runner, "validate", "--help")
    assert "--config FILE" in r.stdout and "--no-config" in r.stdout and "pyproject.toml" in r.stdout


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[tool.segtool.validate]\nfail-onn = "info"\n', ["[tool.segtool.validate] fail-onn", "unknown option"]),
        ('[tool.segtool]\nfail-on = "fatal"\n', ["[tool.segtool] fail-on", "'fatal'"]),
        ('[tool.segtool]\njobs = "2"\n', ["[tool.segtool] jobs", "expected an integer"]),
        ("[tool.segtool]\njobs = true\n", ["[tool.segtool] jobs", "expected an integer"]),
        ("[tool.segtool]\njobs = 0\n", ["[tool.segtool] jobs", "0"]),
        ('[tool.segtool.validate]\nverbose = "yes"\n', ["verbose", "expected true or false"]),
        ("[tool.segtool.validate]\nselect = [1, true]\n", ["select", "expected a string"]),
        ('[tool.segtool]\nformat = "junit"\n', ["format", "'junit'", "eval panoptic"]),
        ('[tool.segtool.validate]\njson = "report.json"\n', ["json", "command line only"]),
        ("[tool.segtool.validate]\noverwrite = true\n", ["overwrite", "command line only"]),
        ("[tool.segtool.evaluate]\njobs = 1\n", ["[tool.segtool] evaluate", "unknown command table"]),
        ("[tool.segtool.eval.sematic]\njobs = 1\n", ["[tool.segtool.eval] sematic", "unknown command table"]),
        ("[tool.segtool]\nfail-on = 'info'\nfail_on = 'error'\n", ["fail_on", "given twice"]),
        ("[tool.segtool\n", ["not valid TOML", "line 4"]),
        ("[tool]\nsegtool = 3\n", ["tool.segtool must be a table"]),
    ],
)
def test_bad_config_is_exit_2_naming_file_and_key(runner, proj, body, needles):
    py = pyproject(proj, body)
    for argv in (["validate", PANOPTIC], ["info", PANOPTIC]):  # the whole file is checked, whichever command
        r = run(runner, *argv)
        assert_bad_input(r, str(py), *needles)
    assert run(runner, "info", PANOPTIC, "-q", "--no-config").exit_code == 0
