"""The CLI contract: exit codes, one-line errors naming the file, nothing left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from tests.conftest import CATEGORIES, DATA, PANOPTIC_EXAMPLES, panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import assert_bad_input, assert_nothing_written, invoke


@pytest.fixture
def panoptic(tmp_path):
    """A copy of the real panopticapi examples that a test may break."""
    dst = tmp_path / "src"
    dst.mkdir()
    shutil.copy(PANOPTIC_EXAMPLES, dst / "pan.json")
    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), dst / "pan")
    return dst / "pan.json"


def test_truncated_json(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    r = invoke(runner, "convert", bad, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, str(bad), "invalid JSON", "line 1")
    assert_nothing_written(tmp_path, "bad.json")


def test_missing_png_names_file_and_image(runner, panoptic, tmp_path):
    (panoptic.with_suffix("") / "000000439180.png").unlink()
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, "000000439180.png", "missing PNG", "image 439180")
    assert_nothing_written(tmp_path, "src")


def test_png_of_wrong_size_real_datumaro_quirk(runner, tmp_path):
    src = DATA / "datumaro/coco_panoptic/annotations/panoptic_train.json"
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic")
    assert_bad_input(r, "a.png", "PNG is 5x5 but image 5 is 10x5")
    assert_nothing_written(tmp_path)


def test_png_of_wrong_mode(runner, panoptic, tmp_path):
    png = panoptic.with_suffix("") / "000000142238.png"
    Image.open(png).convert("L").save(png)
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, "000000142238.png", "expected an RGB PNG, got mode L")


def test_truncated_png(runner, panoptic, tmp_path):
    png = panoptic.with_suffix("") / "000000142238.png"
    png.write_bytes(png.read_bytes()[:2000])
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, "000000142238.png", "unreadable PNG", "image 142238")
    assert_nothing_written(tmp_path, "src")


def test_unknown_category_in_panoptic_json(runner, panoptic, tmp_path):
    data = json.loads(panoptic.read_text())
    data["annotations"][1]["segments_info"][0]["category_id"] = 999
    panoptic.write_text(json.dumps(data))
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, "pan.json", "image 439180", "unknown category id 999")


def test_png_id_missing_from_segments_info(runner, panoptic, tmp_path):
    data = json.loads(panoptic.read_text())
    dropped = data["annotations"][0]["segments_info"].pop(0)
    panoptic.write_text(json.dumps(data))
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert_bad_input(r, "000000142238.png", f"segment ids {dropped['id']} are in the PNG but not in segments_info")


def one_annotation(path: Path, height: int, width: int, **annotation) -> Path:
    """A COCO instance JSON with one image (id 3) of category 1 and one annotation."""
    ann = {"id": 1, "image_id": 3, "category_id": 1, "area": 1, "bbox": [0, 0, 1, 1], "iscrowd": 0, **annotation}
    image = {"id": 3, "file_name": "a.jpg", "height": height, "width": width}
    return write_json(path, {"images": [image], "annotations": [ann], "categories": [{"id": 1, "name": "a"}]})


def test_unknown_category_in_instance_json(runner, tmp_path):
    src = one_annotation(tmp_path / "inst.json", 4, 4, id=17, category_id=5, segmentation=[[0, 0, 3, 0, 3, 3]])
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic")
    assert_bad_input(r, "inst.json", "annotation 17", "unknown category id 5")


def test_rle_size_disagrees_with_image(runner, tmp_path):
    src = one_annotation(tmp_path / "inst.json", 4, 5, id=8, segmentation=rle(np.ones((5, 4), bool)), iscrowd=1)
    r = invoke(runner, "convert", src, tmp_path / "out.json", "--to", "coco-panoptic")
    assert_bad_input(r, "inst.json", "image 3, annotation 8", "RLE size [5, 4] differs from the image size [4, 5]")
    assert_nothing_written(tmp_path, "inst.json")


def semantic_folder(tmp_path, label: Image.Image) -> Path:
    sem = tmp_path / "sem"
    sem.mkdir()
    label.save(sem / "x.png")
    (sem / "categories.json").write_text(json.dumps(CATEGORIES))
    return sem


def test_unknown_label_value(runner, tmp_path):
    lab = np.full((4, 4), 100, np.uint8)
    lab[0, 0] = 42
    sem = semantic_folder(tmp_path, Image.fromarray(lab))
    r = invoke(runner, "convert", sem, tmp_path / "pan.json", "--to", "coco-panoptic")
    assert_bad_input(r, "x.png", "label values 42 are not categories")


def test_color_label_map_is_refused(runner, tmp_path):
    sem = semantic_folder(tmp_path, Image.new("RGB", (4, 4), (100, 0, 0)))
    r = invoke(runner, "convert", sem, tmp_path / "pan.json", "--to", "coco-panoptic")
    assert_bad_input(r, "x.png", "multi-channel label map (mode RGB)")


def test_semantic_things_without_split_is_refused_naming_classes(runner, tmp_path):
    lab = np.full((4, 4), 100, np.uint8)
    lab[0, 0] = 1
    sem = semantic_folder(tmp_path, Image.fromarray(lab))
    r = invoke(runner, "convert", sem, tmp_path / "pan.json", "--to", "coco-panoptic")
    assert_bad_input(r, "x.png", "person (1)", "--split-things")


def test_overlap_refused_by_default_naming_image_and_annotations(runner, tmp_path):
    src = DATA / "datumaro/coco/annotations/instances_val.json"
    r = invoke(runner, "convert", src, tmp_path / "out.json", "--to", "coco-panoptic")
    assert_bad_input(r, "instances_val.json", "image 40", "1&2 (2 px)", "--overlap first|largest|smallest|score")
    assert_nothing_written(tmp_path)


def test_the_overlap_hint_names_only_options_the_command_has(runner, tmp_path):
    """eval semantic has no --overlap: its message says how to get label maps instead."""
    src = DATA / "datumaro/coco/annotations/instances_val.json"
    r = invoke(runner, "eval", "semantic", src, src)
    assert_bad_input(r, "instances_val.json", "image 40", "1&2 (2 px)", "--to semantic --overlap POLICY")
    assert "pass --overlap" not in r.stderr


def test_existing_output_needs_overwrite_and_is_replaced_atomically(runner, tmp_path):
    out = tmp_path / "out.json"
    out.write_text("old")
    r = invoke(runner, "convert", PANOPTIC_EXAMPLES, out, "--to", "coco-instance")
    assert_bad_input(r, "already exists", "--overwrite")
    assert out.read_text() == "old"
    r = invoke(runner, "convert", PANOPTIC_EXAMPLES, out, "--to", "coco-instance", "--overwrite")
    assert r.exit_code == 0, r.output
    assert len(json.loads(out.read_text())["annotations"]) == 50
    assert_nothing_written(tmp_path, "out.json")


def test_never_writes_over_its_input(runner, panoptic):
    before = panoptic.read_bytes()
    r = invoke(runner, "convert", panoptic, panoptic, "--to", "coco-panoptic", "--overwrite")
    assert_bad_input(r, "would replace an input")
    r = invoke(runner, "convert", panoptic, panoptic.parent, "--to", "semantic", "--overwrite")
    assert_bad_input(r, "would replace an input")
    assert panoptic.read_bytes() == before


def test_input_files_are_untouched(runner, panoptic, tmp_path):
    snapshot = {p: p.read_bytes() for p in panoptic.parent.rglob("*") if p.is_file()}
    r = invoke(runner, "convert", panoptic, tmp_path / "out.json", "--to", "coco-instance")
    assert r.exit_code == 0
    assert {p: p.read_bytes() for p in panoptic.parent.rglob("*") if p.is_file()} == snapshot


def test_ambiguous_or_unknown_format_says_what_was_considered(runner, tmp_path):
    odd = write_json(tmp_path / "odd.json", {"foo": 1})
    r = invoke(runner, "convert", odd, tmp_path / "o.json", "--to", "coco-instance")
    assert_bad_input(r, "unknown format", "coco-panoptic:", "coco-instance:", "semantic:", "--from")


def test_internal_error_is_one_line_exit_3(runner, monkeypatch, tmp_path):
    import segtool.cli.convert as cmd

    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cmd, "write", boom)
    r = invoke(runner, "convert", PANOPTIC_EXAMPLES, tmp_path / "o.json", "--to", "coco-instance")
    assert r.exit_code == 3
    assert "Traceback" not in r.output
    assert "internal error (RuntimeError: kaput)" in r.stderr and "--debug" in r.stderr
    r = invoke(runner, "--debug", "convert", PANOPTIC_EXAMPLES, tmp_path / "o.json", "--to", "coco-instance")
    assert isinstance(r.exception, RuntimeError)


def test_bad_usage_is_exit_2(runner, tmp_path):
    r = invoke(runner, "convert", PANOPTIC_EXAMPLES, tmp_path / "o.json", "--to", "nonsense")
    assert r.exit_code == 2


def test_json_output_is_clean_on_stdout(runner, tmp_path):
    r = invoke(
        runner, "convert", PANOPTIC_EXAMPLES, tmp_path / "o.json", "--to", "coco-instance", "--things-only", "--json"
    )
    assert r.exit_code == 0
    summary = json.loads(r.stdout)
    assert summary["images"] == 2 and summary["to"] == "coco-instance"
    # 50 segments in the examples, 8 of them stuff (hand count from the source JSON)
    src = json.loads(PANOPTIC_EXAMPLES.read_text())
    stuff_ids = {c["id"] for c in src["categories"] if not c["isthing"]}
    n_stuff = sum(s["category_id"] in stuff_ids for a in src["annotations"] for s in a["segments_info"])
    assert summary["dropped"] == {"stuff segment (--things-only)": n_stuff}
    assert summary["segments"] == 50 - n_stuff


def _command_paths():
    for name, cmd in sorted(main.commands.items()):
        yield [name]
        for sub in sorted(getattr(cmd, "commands", {})):
            yield [name, sub]


@pytest.mark.parametrize("command", list(_command_paths()), ids=" ".join)
def test_every_command_has_help_with_an_example(runner, command):
    r = runner.invoke(main, [*command, "--help"])
    assert r.exit_code == 0 and "Example:" in r.output and f"segtool {' '.join(command)}" in r.output


def test_info_json(runner):
    r = invoke(runner, "info", PANOPTIC_EXAMPLES, "--json")
    assert r.exit_code == 0
    info = json.loads(r.stdout)
    assert (info["format"], info["images"], info["segments"], info["crowd"]) == ("coco-panoptic", 2, 50, 3)
    assert (info["things"], info["stuff"]) == (80, 53)


def test_generated_dataset_with_empty_image_converts(runner, tmp_path):
    ids = np.zeros((3, 3), np.int64)
    ids2 = np.array([[5, 5, 0], [0, 9, 9], [0, 0, 0]])
    src = write_panoptic(tmp_path / "p.json", [ids, ids2], [[], panoptic_segments(ids2, {5: 1, 9: 100})])
    r = invoke(runner, "convert", src, tmp_path / "i.json", "--to", "coco-instance", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "i.json").read_text())
    assert [a["image_id"] for a in data["annotations"]] == [2, 2]
    assert [a["area"] for a in data["annotations"]] == [2, 2]


def test_combine_semantic_with_a_results_list(runner, tmp_path):
    """Hand-worked: the person (score .9) takes its pixels; the car (.8) overlaps it by 4 of
    its 6 pixels (> 0.5) and is dropped; the dog (.3) is under --confidence; road keeps what
    is left (12 px >= limit 5); sky has 4 free pixels (< 5) and is dropped."""
    lab = np.full((4, 6), 100, np.uint8)
    lab[3, 2:6] = 200
    sem = semantic_folder(tmp_path, Image.fromarray(lab))
    person = np.zeros((4, 6), bool)
    person[0:2, 0:4] = True
    car = np.zeros((4, 6), bool)
    car[0:2, 2:5] = True
    dog = np.zeros((4, 6), bool)
    dog[2, 0] = True
    results = [
        {"image_id": 1, "category_id": 1, "segmentation": rle(person), "score": 0.9},
        {"image_id": 1, "category_id": 2, "segmentation": rle(car), "score": 0.8},
        {"image_id": 1, "category_id": 7, "segmentation": rle(dog), "score": 0.3},
    ]
    inst = write_json(tmp_path / "results.json", results)
    out = tmp_path / "pan.json"
    r = invoke(runner, "convert", sem, out, "--to", "coco-panoptic", "--instances", inst, "--stuff-area-limit", 5)
    assert r.exit_code == 0, r.output
    (ann,) = json.loads(out.read_text())["annotations"]
    got = sorted((s["category_id"], s["area"]) for s in ann["segments_info"])
    assert got == [(1, 8), (100, 12)]
