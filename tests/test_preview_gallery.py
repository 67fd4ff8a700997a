"""preview for finding the bad images (issue 14): the order by a per-image metric (values by
hand, not from segtool), the class filter, --min-score, panel titles and the errors legend in
the renders, image ids on contact sheets, and a lazy gallery whose odd file names load in
headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from segtool.preview import GAP, PANELS, THUMB, Rendered, Style, preview
from segtool.preview_select import Choice
from segtool.render import gallery
from segtool.render.gallery import EAGER
from segtool.render.palette import FN, FP, TP
from segtool.render.text import LEGEND_BG, TITLE_HEIGHT, legend, titles
from tests.browser import console_errors, needs_chromium, start_chromium
from tests.conftest import panoptic_segments, rle, write_json, write_panoptic

CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 200, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
]
SEG = {10: 100, 20: 1, 30: 1, 40: 200}
H, W = 40, 60


def scene() -> np.ndarray:
    """Road (id 10) with a 20x20 person (id 20) at rows 5-24, columns 35-54; void rows 35-39."""
    ids = np.full((H, W), 10, np.int64)
    ids[5:25, 35:55] = 20
    ids[35:, :] = 0
    return ids


def perfect() -> np.ndarray:
    return scene()


def bad() -> np.ndarray:
    """The person predicted as road, and a 6x10 person hallucinated on the road."""
    ids = scene()
    ids[5:25, 35:55] = 10
    ids[28:34, 2:12] = 30
    return ids


def narrow() -> np.ndarray:
    """The person's 5 right columns predicted as road."""
    ids = scene()
    ids[5:25, 50:55] = 10
    return ids


# PQ by hand (panopticapi: the mean over the categories with a TP, FP or FN of the image).
# bad: road IoU 1640 / 2100 (ground truth 1700 px, prediction 2040 px, 60 lost to the fake
# person); person FN + FP, no TP: (1640 / 2100 + 0) / 2.
# narrow: person IoU 300 / 400; road IoU 1700 / 1800: (0.75 + 17 / 18) / 2.
PQ = {1: 1.0, 2: (1640 / 2100) / 2, 3: (0.75 + 17 / 18) / 2}


def panoptic_set(tmp_path: Path, gts: list[np.ndarray], preds: list[np.ndarray], names=None) -> tuple[Path, Path]:
    gt = write_panoptic(tmp_path / "gt.json", gts, [panoptic_segments(m, SEG) for m in gts], CATS)
    pred = write_panoptic(tmp_path / "pred.json", preds, [panoptic_segments(m, SEG) for m in preds], CATS)
    if names:
        data = json.loads(gt.read_text())
        for image, name in zip(data["images"], names, strict=True):
            image["file_name"] = name
        gt.write_text(json.dumps(data))
    return gt, pred


@pytest.fixture
def three(tmp_path):
    """Images 1 (perfect), 2 (bad), 3 (narrow person), in that file order."""
    return panoptic_set(tmp_path, [scene()] * 3, [perfect(), bad(), narrow()])


def order(out_json: dict) -> list:
    return [line["image_id"] for line in out_json["images"]]


def test_default_with_pred_is_worst_pq_first(runner, three, tmp_path):
    gt, pred = three
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "out"), "--pred", str(pred), "--json", "-", "-j", "1"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert order(report) == [2, 3, 1]  # PQ 0.39, 0.85, 1.0
    assert report["sort"] == {"metric": "pq", "matching": "panoptic", "descending": False, "order": "worst first"}
    for line in report["images"]:
        assert line["metrics"]["pq"] == pytest.approx(PQ[line["image_id"]], abs=1e-12)
    assert report["images"][0]["metrics"] == {
        "pq": pytest.approx(PQ[2]),
        "sq": pytest.approx(1640 / 2100 / 2),  # SQ: road 0.781, person 0 (no TP)
        "rq": 0.5,  # road 1, person 0 / (0 + 0.5 + 0.5)
        "tp": 1,
        "fp": 1,
        "fn": 1,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sort", "pq", "--descending"], [1, 3, 2]),
        (["--sort", "PQ", "--ascending"], [2, 3, 1]),
        (["--sort", "fn"], [2, 1, 3]),  # worst = most missed; ties keep file order
        (["--sort", "fp", "--ascending"], [1, 3, 2]),
        (["--sort", "tp"], [2, 1, 3]),  # worst = fewest matched
        (["--sort", "file"], [1, 2, 3]),
    ],
)
def test_sort_by_any_panoptic_metric(runner, three, tmp_path, args, expected):
    gt, pred = three
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "o"), "--pred", str(pred), "--json", "-", *args])
    assert r.exit_code == 0, r.output
    assert order(json.loads(r.stdout)) == expected


def test_without_pred_file_order_and_sort_refused(runner, tmp_path):
    gts = [scene(), perfect(), narrow()]
    gt = write_panoptic(tmp_path / "gt.json", gts, [panoptic_segments(m, SEG) for m in gts], CATS)
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "a"), "--json", "-"])
    assert r.exit_code == 0 and order(json.loads(r.stdout)) == [1, 2, 3]
    assert json.loads(r.stdout)["sort"] is None
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "b"), "--sort", "pq"])
    assert r.exit_code == 2 and "--pred" in r.stderr


def test_unknown_metric_names_the_known_ones(runner, three, tmp_path):
    gt, pred = three
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "o"), "--pred", str(pred), "--sort", "ap"])
    assert r.exit_code == 2
    assert "pq, sq, rq, tp, fp, fn" in r.stderr and "Traceback" not in r.output


def test_class_filter_ground_truth_or_prediction(runner, tmp_path):
    """1: person in both; 2: road only in both; 3: person only predicted; 4: sky only."""
    road = np.full((H, W), 10, np.int64)
    sky = np.full((H, W), 40, np.int64)
    fake = road.copy()
    fake[2:8, 2:8] = 30
    gt, pred = panoptic_set(tmp_path, [scene(), road, road, sky], [scene(), road, fake, sky])

    def ids(*extra):
        args = ["--pred", str(pred), "--overwrite", "--sort", "file", "--json", "-", *extra]
        r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "o"), *args])
        assert r.exit_code == 0, r.output
        return order(json.loads(r.stdout))

    assert ids("--class", "person") == [1, 3]
    assert ids("--class", "sky") == [4]
    assert ids("--class", "Sky,person") == [1, 3, 4]  # case-insensitive when no exact name
    assert ids("--class", "road") == [1, 2, 3]
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "g"), "--class", "person", "--json", "-"])
    assert r.exit_code == 0 and order(json.loads(r.stdout)) == [1]  # without --pred: the ground truth's
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "x"), "--class", "cat"])
    assert r.exit_code == 2 and "'cat'" in r.stderr and "person" in r.stderr


def instance_set(tmp_path: Path) -> tuple[Path, list[dict]]:
    """Two 20x20 images, one person each (a 8x8 square), as a COCO instance JSON."""
    m = np.zeros((20, 20), bool)
    m[4:12, 4:12] = True
    images = [{"id": i, "file_name": f"i{i}.jpg", "height": 20, "width": 20} for i in (1, 2)]
    anns = [
        {"id": i, "image_id": i, "category_id": 1, "segmentation": rle(m), "area": 64, "bbox": [4, 4, 8, 8]}
        | {"iscrowd": 0}
        for i in (1, 2)
    ]
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": anns, "categories": CATS})
    elsewhere = np.zeros((20, 20), bool)
    elsewhere[14:18, 14:18] = True
    wider = np.zeros((20, 20), bool)
    wider[4:14, 4:14] = True  # IoU 64 / 100 with the person, which the exact one takes first
    dets = [
        {"image_id": 1, "category_id": 1, "segmentation": rle(m), "score": 0.9},  # exact: TP
        {"image_id": 1, "category_id": 1, "segmentation": rle(wider), "score": 0.2},  # a duplicate: FP
        {"image_id": 2, "category_id": 1, "segmentation": rle(elsewhere), "score": 0.8},  # misses: FP, FN
    ]
    return gt, dets


def test_instance_sort_by_ap_and_min_score(runner, tmp_path):
    """AP of an image whose best detection is exact is 1 (the duplicate scores lower, after
    recall 1); of one whose only detection misses, 0. --min-score 0.5 drops the duplicate
    (FP 1 -> 0), 0.95 every detection (TP 1 -> 0, FN 0 -> 1)."""
    gt, dets = instance_set(tmp_path)
    res = write_json(tmp_path / "res.json", dets)

    def run(*extra):
        out = tmp_path / f"o{len(list(tmp_path.glob('o*')))}"
        r = runner.invoke(main, ["preview", str(gt), str(out), "--pred", str(res), "--json", "-", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    report = run()
    assert order(report) == [2, 1] and report["sort"]["metric"] == "AP"
    by_id = {line["image_id"]: line for line in report["images"]}
    assert by_id[1]["metrics"] == {"tp": 1, "fp": 1, "fn": 0, "AP": pytest.approx(1.0)}
    assert by_id[2]["metrics"] == {"tp": 0, "fp": 1, "fn": 1, "AP": 0.0}
    assert by_id[1]["tp_fp_fn"] == [1, 1, 0] and by_id[1]["pred_segments"] == 2
    kept = {line["image_id"]: line for line in run("--min-score", "0.5")["images"]}
    assert kept[1]["metrics"]["fp"] == 0 and kept[1]["tp_fp_fn"] == [1, 0, 0] and kept[1]["pred_segments"] == 1
    assert kept[2]["metrics"]["fp"] == 1  # its 0.8 detection stays
    none = {line["image_id"]: line for line in run("--min-score", "0.95")["images"]}
    assert none[1]["metrics"]["tp"] == 0 and none[1]["metrics"]["fn"] == 1 and none[1]["tp_fp_fn"] == [0, 0, 1]
    assert order(run("--sort", "fp", "--min-score", "0.5")) == [2, 1]


def test_min_score_drops_the_render_of_a_low_detection(tmp_path):
    """The dropped duplicate is not drawn: the prediction panel equals one of the exact
    detection alone."""
    gt, dets = instance_set(tmp_path)
    both = write_json(tmp_path / "both.json", dets)
    alone = write_json(tmp_path / "alone.json", [dets[0], dets[2]])
    style = Style(labels=False)
    preview(gt, tmp_path / "a", pred=both, style=style, choice=Choice(min_score=0.5))
    preview(gt, tmp_path / "b", pred=alone, style=style)
    preview(gt, tmp_path / "c", pred=both, style=style)
    a, b, c = (np.asarray(Image.open(tmp_path / d / "i1.png")) for d in "abc")
    assert (a == b).all() and not (a == c).all()


def test_min_score_refused_for_panoptic_predictions_and_without_pred(runner, three, tmp_path):
    gt, pred = three
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "o"), "--pred", str(pred), "--min-score", "0.5"])
    assert r.exit_code == 2 and "instance predictions" in r.stderr
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "p"), "--min-score", "0.5"])
    assert r.exit_code == 2 and "--pred" in r.stderr
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "q"), "--pred", str(pred), "--min-score", "nan"])
    assert r.exit_code == 2 and "--min-score" in r.stderr  # NaN would drop every detection


def test_semantic_sort_by_miou_and_accuracy(runner, tmp_path):
    """By hand. a: 7 labelled pixels, 4 right; IoU c0 1/2, c1 2/4, c2 1/3: mIoU 0.444, acc 0.571.
    b: 4 labelled pixels, 2 right; IoU c0 1/3, c2 1/2, c4 0 (predicted only): mIoU 0.278, acc 0.5."""
    cats = [{"id": i, "name": f"c{i}"} for i in range(5)]
    maps = {
        "gt": {"a": [[0, 0, 1, 1], [1, 2, 255, 2]], "b": [[2, 2, 0, 255, 0]]},
        "pred": {"a": [[0, 1, 1, 1], [2, 2, 0, 255]], "b": [[2, 0, 0, 1, 4]]},
    }
    for side, files in maps.items():
        (tmp_path / side).mkdir()
        for name, arr in files.items():
            Image.fromarray(np.array(arr, np.uint8)).save(tmp_path / side / f"{name}.png")
    (tmp_path / "gt" / "categories.json").write_text(json.dumps(cats))
    for metric in ("miou", "accuracy"):
        args = ["--pred", str(tmp_path / "pred"), "--sort", metric, "--json", "-"]
        r = runner.invoke(main, ["preview", str(tmp_path / "gt"), str(tmp_path / metric), *args])
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout)
        assert [line["file_name"] for line in report["images"]] == ["b.png", "a.png"]
        a = report["images"][1]["metrics"]
        assert a["mIoU"] == pytest.approx((1 / 2 + 2 / 4 + 1 / 3) / 3) and a["pixel_accuracy"] == pytest.approx(4 / 7)
        b = report["images"][0]["metrics"]
        assert b["mIoU"] == pytest.approx((1 / 3 + 1 / 2 + 0) / 3) and b["pixel_accuracy"] == pytest.approx(0.5)


def test_instance_ground_truth_with_a_partition_sorts_by_miou(runner, three, tmp_path):
    """eval panoptic refuses an instance ground truth: its label map is scored as eval
    semantic does, per image mIoU = PQ's IoUs here (each class one segment): road 1640/2100
    and person 0 for image 2; person 0.75 and road 17/18 for image 3."""
    from segtool import WriteOptions, convert

    gt, pred = three
    inst = tmp_path / "inst.json"
    convert(gt, inst, WriteOptions("coco-instance"))
    r = runner.invoke(main, ["preview", str(inst), str(tmp_path / "o"), "--pred", str(pred), "--json", "-"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["sort"]["matching"] == "semantic" and order(report) == [2, 3, 1]
    assert [line["metrics"]["mIoU"] for line in report["images"]] == pytest.approx([PQ[2], PQ[3], 1.0])


def test_unscored_detections_keep_file_order_with_a_note(runner, three, tmp_path):
    """An instance dataset as --pred: the error panel matches it, eval instance refuses it
    (no scores). The default order falls back to file order and says why; --sort fails."""
    from segtool import WriteOptions, convert

    gt, pred = three
    inst = tmp_path / "pred_inst.json"
    convert(pred, inst, WriteOptions("coco-instance"))
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "o"), "--pred", str(inst), "--json", "-"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert order(report) == [1, 2, 3] and report["sort"] is None
    assert "score" in report["sort_note"] and "in file order" in r.stderr
    r = runner.invoke(main, ["preview", str(gt), str(tmp_path / "p"), "--pred", str(inst), "--sort", "fp"])
    assert r.exit_code == 2 and "score" in r.stderr


def test_panels_titled_in_the_picture(three, tmp_path):
    gt, pred = three
    preview(gt, tmp_path / "o", pred=pred, ids=[2], style=Style(labels=False))
    img = np.asarray(Image.open(tmp_path / "o" / "img2.png").convert("RGB"))
    assert PANELS == ("ground truth", "prediction", "errors")
    strip = img[H : H + TITLE_HEIGHT]
    assert (strip == titles(list(PANELS), [W, W, W], GAP)).all()  # right under the panels
    for k in range(3):  # text (light pixels) on the dark strip under each panel
        cell = strip[:, k * (W + GAP) : k * (W + GAP) + W]
        assert (cell.min(axis=2) > 150).sum() > 10 and (cell == LEGEND_BG).all(axis=2).mean() > 0.5
    preview(gt, tmp_path / "plain", ids=[2], style=Style(labels=False))
    single = np.asarray(Image.open(tmp_path / "plain" / "img2.png").convert("RGB"))
    assert single.shape[1] == W  # one panel: no title strip needed
    assert not (single[H : H + TITLE_HEIGHT, :W] == strip[:, :W]).all()


def test_errors_panel_covers_as_its_legend_says(tmp_path):
    """A missed person (rows 5-24, columns 35-54) overlapped by a false-positive person at
    columns 45-59 (IoU 200/500 < 0.5): red over blue where they meet, blue over the matched
    road's green where only the miss is, green elsewhere."""
    pred_ids = scene()
    pred_ids[5:25, 35:55] = 10
    pred_ids[5:25, 45:60] = 30
    gt, pred = panoptic_set(tmp_path, [scene()], [pred_ids])
    preview(gt, tmp_path / "o", pred=pred, style=Style(alpha=1.0, labels=False, outline=False), gallery=True)
    img = np.asarray(Image.open(tmp_path / "o" / "img1.png").convert("RGB"))
    errors = img[:H, 2 * (W + GAP) :]
    assert tuple(errors[15, 50]) == tuple(FP)  # false positive over the miss
    assert tuple(errors[15, 40]) == tuple(FN)  # the miss over the matched road
    assert tuple(errors[15, 10]) == tuple(TP)
    # the render's own legend, under the titles: the categories, void, then the three colours
    entries = [((220, 20, 60), "person"), ((128, 64, 128), "road"), ((128, 128, 128), "void (hatched)")]
    texts = [
        "green: matched prediction",
        "blue: missed ground truth, drawn over green",
        "red: false positive, drawn over blue and green",
    ]
    entries += [(tuple(int(v) for v in c), t) for c, t in zip((TP, FN, FP), texts, strict=True)]
    assert (img[H + TITLE_HEIGHT :] == legend(entries, img.shape[1])).all()
    page = (tmp_path / "o" / "index.html").read_text()
    for words in (
        "ground truth | prediction | errors",
        "green: matched prediction",
        "blue: missed ground truth, drawn over green",
        "red: false positive, drawn over blue and green",
    ):
        assert words in page
    swatches = [f"background:#{c[0]:02x}{c[1]:02x}{c[2]:02x}" for c in (TP, FN, FP)]
    assert all(s in page for s in swatches)


def test_contact_sheet_writes_each_image_id(three, tmp_path):
    """Each cell's top left carries a dark box with the id in light text; the rest of the
    cell is the render's thumbnail."""
    gt, pred = three
    summary = preview(gt, tmp_path / "o", pred=pred, grid=4, gallery=True, choice=Choice(sort=None))
    assert [r.image_id for r in summary.rendered] == [2, 3, 1]
    sheet = np.asarray(Image.open(tmp_path / "o" / "sheet_001.png").convert("RGB")).astype(int)
    for k, r in enumerate(summary.rendered):  # 2 columns (ceil(sqrt(3))): sheet order = sort order
        row, col = divmod(k, 2)
        cell_h = max(x.thumb_height for x in summary.rendered)
        y, x = GAP + row * (cell_h + GAP), GAP + col * (THUMB + GAP)
        box = sheet[y : y + 14, x : x + 20]
        assert (box == LEGEND_BG).all(axis=2).mean() > 0.4 and (box.min(axis=2) > 150).any()
        thumb = np.asarray(Image.open(tmp_path / "o" / "thumbs" / f"img{r.image_id}.jpg").convert("RGB")).astype(int)
        far = (slice(y + 30, y + r.thumb_height), slice(x, x + THUMB))
        assert np.abs(sheet[far] - thumb[30:]).mean() < 4  # the thumbnail itself (JPEG vs PNG)
    ids_box = [sheet[GAP : GAP + 14, GAP + c * (THUMB + GAP) : GAP + c * (THUMB + GAP) + 40] for c in (0, 1)]
    assert not (ids_box[0] == ids_box[1]).all()  # "id 2" and "id 3" differ


def test_gallery_sizes_and_sort_caption(three, tmp_path):
    gt, pred = three
    summary = preview(gt, tmp_path / "o", pred=pred, gallery=True, choice=Choice(sort="fn"))
    page = (tmp_path / "o" / "index.html").read_text()
    assert page.count("<img ") == 3 and 'loading="lazy"' not in page  # the first EAGER load with the page
    assert page.count(f'width="{THUMB}" height="{summary.rendered[0].thumb_height}"') == 3
    assert "by fn (panoptic matching), worst first" in page
    assert page.index("img2.png") < page.index("img1.png") < page.index("img3.png")
    assert "fn 1 · " in page and "fn 0 · " in page


def test_gallery_thumbnails_past_the_first_screen_load_lazily():
    lines = [Rendered(i, f"{i}.jpg", f"{i}.png", 1, True, thumb_height=200 + i) for i in range(EAGER + 30)]
    page = gallery.page(lines, Path("gt.json"), None, THUMB)
    tags = re.findall(r"<img [^>]*>", page)
    assert len(tags) == EAGER + 30
    assert ['loading="lazy"' in t for t in tags] == [False] * EAGER + [True] * 30
    assert all(f'height="{200 + i}"' in t for i, t in enumerate(tags))  # laid out before loading
    assert "50 images, in the dataset's order." in page and "errors panel" not in page  # no --pred: no legend


ODD = ["a#1?.jpg", "50%.jpg", "b c é.jpg", "%23x.jpg"]
PLAIN = [f"p{i:02d}.jpg" for i in range(EAGER)]


@needs_chromium
def test_gallery_with_odd_file_names_loads_in_chromium(tmp_path):
    """Worst PQ first: 50% (0.39) loads with the page, then the 20 plain ones (0.85), then
    the three perfect odd names, past EAGER: lazily, once scrolled to."""
    preds = [narrow()] * EAGER + [perfect(), bad(), perfect(), perfect()]
    gt, pred = panoptic_set(tmp_path, [scene()] * len(preds), preds, names=PLAIN + ODD)
    out = tmp_path / "gallery"
    summary = preview(gt, out, pred=pred, gallery=True, grid=2, choice=Choice(sort=None))
    n = len(preds)
    renders = [r.render for r in summary.rendered]
    assert renders == ["50%.png", *[f"p{i:02d}.png" for i in range(EAGER)], "a#1?.png", "b c é.png", "%23x.png"]
    driver = start_chromium()
    try:
        driver.get((out / "index.html").resolve().as_uri())
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        for _ in range(50):  # the lazy ones load once near the window: give them up to 5 s
            loaded = driver.execute_script(
                "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            if loaded == [True] * n:
                break
            driver.execute_script("return new Promise(r => setTimeout(r, 100))")
        assert loaded == [True] * n
        lazy = driver.execute_script("return Array.from(document.images).map(i => i.loading)")
        assert lazy == ["auto"] * EAGER + ["lazy"] * (n - EAGER)
        links = driver.execute_script("return Array.from(document.links).map(a => a.href)")
        for href in links:  # each link, opened, is its render: a PNG as wide as the three panels
            driver.get(href)
            width = driver.execute_script("return document.images.length ? document.images[0].naturalWidth : 0")
            assert width == 3 * W + 2 * GAP, href
        errors = console_errors(driver)
        assert errors == []
    finally:
        driver.quit()


class Recorder:
    """A progress that checks it is told the total before the first step."""

    def __init__(self) -> None:
        self.done, self.total = 0, None

    def __call__(self, n: int) -> None:
        self.done += n

    def set_total(self, total: int) -> None:
        assert self.done == 0
        self.total = total


def test_progress_counts_scoring_then_rendering(three, tmp_path):
    gt, pred = three
    bar = Recorder()
    preview(gt, tmp_path / "a", pred=pred, progress=bar, choice=Choice(sort=None))
    assert (bar.done, bar.total) == (6, 6)  # 3 images scored for the order, 3 rendered
    bar = Recorder()
    preview(gt, tmp_path / "b", pred=pred, progress=bar)  # the library's default: file order, no scoring
    assert (bar.done, bar.total) == (3, 3)


def test_legend_wraps_a_long_entry_within_the_strip():
    """Under a narrow render, "what covers what" goes on over more rows instead of being
    cut at the strip's edge: the right margin stays clear."""
    long = "blue: missed ground truth, drawn over green"
    wide = legend([((52, 120, 246), long)], 600)
    narrow = legend([((52, 120, 246), long)], 150)
    assert wide.shape[0] == 2 * 6 + 18  # one row
    assert narrow.shape[0] >= 2 * 6 + 2 * 18  # two rows or more
    assert (narrow[:, -4:] == LEGEND_BG).all()
    assert (legend([((1, 2, 3), "person")], 150).shape[0]) == 2 * 6 + 18
