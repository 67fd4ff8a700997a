"""preview: rendered pixels are checked against hand-computed blends, not just that files exist."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from segtool.preview import GAP, Style, preview
from segtool.render.overlay import NEUTRAL, boundaries, overlay
from segtool.render.palette import FN, FP, TP
from tests.browser import console_errors, needs_chromium, start_chromium
from tests.conftest import PANOPTIC_EXAMPLES, panoptic_segments, write_json, write_panoptic

RED, ROAD = (220, 20, 60), (128, 64, 128)
CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": list(RED)},
    {"id": 100, "name": "road", "isthing": 0, "color": list(ROAD)},
]
H, W = 40, 60


def scene() -> np.ndarray:
    """Road on the left, one person square on the right, a void strip at the bottom."""
    ids = np.full((H, W), 10, np.int64)
    ids[5:25, 35:55] = 20
    ids[35:, :] = 0
    return ids


def dataset(tmp_path: Path, ids=None, name="gt") -> Path:
    ids = scene() if ids is None else ids
    return write_panoptic(tmp_path / f"{name}.json", [ids], [panoptic_segments(ids, {10: 100, 20: 1})], CATS)


def photo_dir(tmp_path: Path, color=(10, 200, 30)) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    Image.new("RGB", (W, H), color).save(folder / "img1.jpg", quality=100, subsampling=0)
    return folder


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_fill_outline_and_untouched_background(tmp_path):
    photos = photo_dir(tmp_path)
    out = tmp_path / "out"
    preview(dataset(tmp_path), out, images=photos, style=Style(alpha=0.5, labels=False))
    img = read(out / "img1.png")
    photo = read(photos / "img1.jpg")
    assert img.shape[1] == W and img.shape[0] > H  # the legend goes below, never over the picture
    # inside the person: photo and category color blended 50/50 (the first instance keeps it)
    expected = np.rint(photo[15, 45] * 0.5 + np.array(RED) * 0.5)
    assert np.abs(img[15, 45] - expected).max() <= 1
    assert np.abs(img[15, 10] - np.rint(photo[15, 10] * 0.5 + np.array(ROAD) * 0.5)).max() <= 1
    # the outline: both sides of the person/road boundary take a darker shade of their color
    assert np.abs(img[15, 35] - np.rint(np.array(RED) * 0.55)).max() <= 1
    assert np.abs(img[15, 34] - np.rint(np.array(ROAD) * 0.55)).max() <= 1
    # void: the photo untouched off the hatch stripes, gray-blended on them
    y, x = 37, 3  # (x + y) % 8 = 0: a stripe
    assert np.abs(img[37, 4] - np.rint(photo[37, 4] * 0.5 + 64)).max() <= 1  # (4 + 37) % 8 = 1: a stripe too
    assert (img[38, 5] == photo[38, 5]).all()  # (5 + 38) % 8 = 3: off the stripes
    assert np.abs(img[y, x] - np.rint(photo[y, x] * 0.5 + 64)).max() <= 1


def test_alpha_zero_keeps_the_photo_inside_segments(tmp_path):
    photos = photo_dir(tmp_path)
    preview(dataset(tmp_path), tmp_path / "out", images=photos, style=Style(alpha=0.0, labels=False, outline=False))
    img, photo = read(tmp_path / "out/img1.png"), read(photos / "img1.jpg")
    assert (img[:35] == photo[:35]).all()


def test_instances_of_one_category_get_distinct_shades(tmp_path):
    ids = scene()
    ids[5:25, 5:25] = 21  # a second person
    path = write_panoptic(tmp_path / "gt.json", [ids], [panoptic_segments(ids, {10: 100, 20: 1, 21: 1})], CATS)
    preview(path, tmp_path / "out", style=Style(alpha=1.0, labels=False, outline=False))
    img = read(tmp_path / "out/img1.png")
    first, second = img[15, 45], img[15, 15]
    assert tuple(first) == RED  # the first instance keeps the category color
    assert tuple(second) != RED and np.argmax(second) == 0  # a shade of it: still mostly red


def test_no_photo_renders_on_neutral_background_and_says_so(runner, tmp_path):
    r = runner.invoke(main, ["preview", str(dataset(tmp_path)), str(tmp_path / "out"), "--no-names"])
    assert r.exit_code == 0, r.output
    assert "1 of 1 images rendered on a neutral background" in r.stderr
    img = read(tmp_path / "out/img1.png")
    assert (img[38, 5] == NEUTRAL).all()


def test_label_drawn_inside_its_segment_only(tmp_path):
    ids = np.full((120, 200), 10, np.int64)
    ids[10:110, 100:190] = 20  # a person box big enough for its label
    ids[:, :3] = 0
    path = write_panoptic(tmp_path / "gt.json", [ids], [panoptic_segments(ids, {10: 100, 20: 1})], CATS)
    preview(path, tmp_path / "a", style=Style(labels=False))
    preview(path, tmp_path / "b", style=Style(labels=True))
    plain, labelled = read(tmp_path / "a/img1.png")[:120], read(tmp_path / "b/img1.png")[:120]
    changed = np.any(plain != labelled, axis=2)
    assert changed.any()
    inner = (ids > 0) & ~boundaries(ids.astype(np.int32))
    assert np.all(inner[changed])  # labels never touch a boundary, void, or another segment
    tiny = scene()
    tiny[20, 20] = 30  # a one-pixel segment: no room for a label
    path = write_panoptic(tmp_path / "t.json", [tiny], [panoptic_segments(tiny, {10: 100, 20: 1, 30: 1})], CATS)
    preview(path, tmp_path / "c", style=Style(labels=True))
    around = read(tmp_path / "c/img1.png")[17:24, 17:24]
    preview(path, tmp_path / "d", style=Style(labels=False))
    assert (around == read(tmp_path / "d/img1.png")[17:24, 17:24]).all()


def test_prediction_side_by_side_and_error_colors(tmp_path):
    gt = dataset(tmp_path)
    pred_ids = scene()
    pred_ids[5:25, 35:55] = 10  # the person is missed (its pixels predicted as road)...
    pred_ids[28:34, 2:12] = 30  # ...and a person is hallucinated on the road
    segs = panoptic_segments(pred_ids, {10: 100, 30: 1})
    pred = write_panoptic(tmp_path / "pred.json", [pred_ids], [segs], CATS)
    out = tmp_path / "out"
    summary = preview(gt, out, pred=pred, style=Style(alpha=1.0, labels=False, outline=False))
    img = read(out / "img1.png")
    assert img.shape[1] == 3 * W + 2 * GAP  # ground truth | prediction | errors
    errors = img[:H, 2 * (W + GAP) :]
    assert tuple(errors[15, 45]) == tuple(FN)  # the missed person
    assert tuple(errors[30, 5]) == tuple(FP)  # the hallucinated one
    # road: IoU = (1400 - 120 - 60) / (1400 + 400 - 60 ... ) > 0.5, a match
    assert tuple(errors[2, 2]) == tuple(TP)
    [line] = summary.rendered
    assert line.counts == (1, 1, 1)
    # PQ by hand: road IoU = 1220 / 1600; person: FN and FP, no TP
    road_iou = (W * 35 - 400 - 60) / (W * 35)
    assert line.pq == pytest.approx((road_iou / 1 + 0) / 2, abs=1e-12)


def test_instance_predictions(tmp_path):
    from segtool import WriteOptions, convert

    gt = dataset(tmp_path)
    inst = tmp_path / "inst.json"
    convert(gt, inst, WriteOptions("coco-instance", things_only=True))
    anns = json.loads(inst.read_text())["annotations"]
    dets = [{**anns[0], "score": 0.9}, {**anns[0], "score": 0.4}]  # a duplicate: one TP, one FP
    results = write_json(tmp_path / "results.json", dets)
    summary = preview(gt, tmp_path / "out", pred=results, style=Style(labels=False))
    assert summary.rendered[0].counts == (1, 1, 1)  # the road (stuff) has no prediction: missed


def test_cli_selection_grid_and_json(runner, tmp_path):
    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), tmp_path / "panoptic_examples")
    src = shutil.copy(PANOPTIC_EXAMPLES, tmp_path)
    ids = [im["id"] for im in json.loads(PANOPTIC_EXAMPLES.read_text())["images"]]
    out = tmp_path / "out"
    r = runner.invoke(main, ["preview", src, str(out), "--ids", str(ids[1]), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert [i["image_id"] for i in report["images"]] == [ids[1]]
    r = runner.invoke(main, ["preview", src, str(out), "--sample", "1", "--seed", "3", "--grid", "2"])
    assert r.exit_code == 2 and "--overwrite" in r.stderr
    r = runner.invoke(main, ["preview", src, str(out), "--grid", "2", "--overwrite"])
    assert r.exit_code == 0
    sheet = read(out / "sheet_001.png")
    assert sheet.shape[1] == 2 * (320 + GAP) + GAP
    r = runner.invoke(main, ["preview", src, str(tmp_path / "panoptic_examples"), "--overwrite"])
    assert r.exit_code == 2 and "input" in r.stderr  # the PNG folder of the input is never replaced
    assert any((tmp_path / "panoptic_examples").glob("*.png"))
    r = runner.invoke(main, ["preview", src, str(out), "--ids", "999", "--overwrite"])
    assert r.exit_code == 2 and "999" in r.stderr
    assert (out / "sheet_001.png").exists()  # a failed run leaves the previous output alone


def test_renders_are_stable(tmp_path):
    for name in ("a", "b"):
        preview(PANOPTIC_EXAMPLES, tmp_path / name, jobs=1 if name == "a" else 2)
    for p in (tmp_path / "a").glob("*.png"):
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes()


def test_overlay_function_blend_by_hand():
    photo = np.full((2, 2, 3), 100, np.uint8)
    index = np.array([[0, 1], [1, 1]], np.int32)
    out = overlay(photo, index, np.array([[200, 0, 50]], np.uint8), alpha=0.25, outline=False, void_hatch=False)
    assert out[0, 0].tolist() == [100, 100, 100]
    assert out[1, 1].tolist() == [125, 75, 88]  # 100 * 0.75 + (200, 0, 50) * 0.25, rounded


@needs_chromium
def test_gallery_opens_in_headless_chromium(tmp_path):
    gt = dataset(tmp_path)
    pred_ids = scene()
    pred = write_panoptic(tmp_path / "pred.json", [pred_ids], [panoptic_segments(pred_ids, {10: 100, 20: 1})], CATS)
    out = tmp_path / "gallery"
    preview(PANOPTIC_EXAMPLES, out, gallery=True)
    preview(gt, tmp_path / "scored", gallery=True, pred=pred)
    driver = start_chromium()
    try:
        for page, n in ((out, 2), (tmp_path / "scored", 1)):
            driver.get((page / "index.html").resolve().as_uri())
            loaded = driver.execute_script(
                "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            assert loaded == [True] * n
            links = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))")
            assert all(not h.startswith(("/", "http")) for h in links) and len(links) == n
            for href in links:
                assert (page / href).is_file()
            errors = console_errors(driver)
            assert errors == []
        text = driver.find_element("tag name", "body").text
        assert "PQ 1.000" in text and "TP 2 FP 0 FN 0" in text
    finally:
        driver.quit()
    subprocess.run(["true"], check=True)


@pytest.mark.parametrize("target", ["coco-instance", "semantic"])
def test_every_format_renders_the_same_fill(tmp_path, target):
    """The same scene read as panoptic, instance or semantic gives the same fill colors."""
    from segtool import WriteOptions, convert

    gt = dataset(tmp_path)
    other = tmp_path / ("inst.json" if target == "coco-instance" else "sem")
    convert(gt, other, WriteOptions(target))
    style = Style(alpha=1.0, labels=False, outline=False)
    preview(gt, tmp_path / "a", style=style)
    preview(other, tmp_path / "b", style=style)
    a, b = read(tmp_path / "a/img1.png")[:H], read(tmp_path / "b/img1.png")[:H]
    assert tuple(b[15, 45]) == RED and tuple(b[15, 10]) == ROAD
    assert (a[:35] == b[:35]).all()


def test_a_render_without_its_photo_says_exactly_why(runner, tmp_path):
    """Missing (naming the file looked for and a same-stem file of another extension), or
    of another size: each render's note in --json, the first in the stderr note."""
    path = dataset(tmp_path)
    record = json.loads(path.read_text())["images"][0]
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (record["width"], record["height"])).save(photos / (Path(record["file_name"]).stem + ".png"))
    r = runner.invoke(main, ["preview", str(path), str(tmp_path / "a"), "--images", str(photos), "--json", "-"])
    assert r.exit_code == 0, r.output
    note = json.loads(r.stdout)["images"][0]["photo_note"]
    assert f"{record['file_name']} is missing" in note and Path(record["file_name"]).stem + ".png is there" in note
    assert note in r.stderr
    Image.new("RGB", (7, 5)).save(photos / record["file_name"])
    r = runner.invoke(main, ["preview", str(path), str(tmp_path / "b"), "--images", str(photos), "--json", "-"])
    assert (
        f"is 7x5, the record says {record['width']}x{record['height']}"
        in json.loads(r.stdout)["images"][0]["photo_note"]
    )
