"""eval --report FILE.html: one self-contained page whose numbers are the evaluation's.

Expected values are worked out by hand on tiny scenes (PQ 5/6, AP 1) or are the ``--json``
result of the same run (the tiles must equal it); the page is checked for what would make
it not self-contained (a fetch of any kind), and opened in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from segtool.cli import main
from segtool.report import gather
from segtool.report.curves import overall, per_class
from tests.browser import needs_chromium, start_chromium
from tests.conftest import panoptic_segments, write_instances, write_json, write_panoptic

H, W = 40, 60


def scene() -> np.ndarray:
    """Road (id 10) everywhere, a person square (id 20), a void strip at the bottom."""
    ids = np.full((H, W), 10, np.int64)
    ids[5:25, 35:55] = 20
    ids[35:, :] = 0
    return ids


def panoptic_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Image 1 predicted exactly; image 2's person missed (void where it was).
    By hand: road TP 2 (IoU 1) -> PQ 1; person TP 1, FN 1 -> SQ 1, RQ 2/3, PQ 2/3;
    PQ = (1 + 2/3) / 2 = 5/6; image 1's PQ 1, image 2's (1 + 0) / 2 = 0.5."""
    gt_ids = scene()
    missed = scene()
    missed[missed == 20] = 0
    segs = panoptic_segments(gt_ids, {10: 100, 20: 1})
    gt = write_panoptic(tmp_path / "gt.json", [gt_ids, gt_ids], [segs, segs])
    pred_segs = [segs, panoptic_segments(missed, {10: 100})]
    pred = write_panoptic(tmp_path / "pred.json", [gt_ids, missed], pred_segs)
    return gt, pred


class Page(HTMLParser):
    """Every tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    page.close()
    return text, page


def fetches(page: Page) -> list[str]:
    """Whatever would make the browser fetch something: a source, a stylesheet, a script,
    a link leaving the page. (xmlns attributes are names, never fetched.)"""
    out = []
    for tag, attrs in page.tags:
        if tag in ("script", "link", "iframe", "object", "embed"):
            out.append(tag)
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "srcset", "data", "poster", "action") and value is not None:
                if not (value.startswith("#") or value.startswith("data:")):
                    out.append(f"{tag} {name}={value[:40]}")
    return out


def sections(text: str) -> dict[str, str]:
    """Each <section>'s id -> its HTML."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', text, flags=re.S))


def tiles(page: Page) -> dict[str, str]:
    return {a["data-key"]: a.get("data-value") or "" for t, a in page.tags if t == "div" and "data-key" in a}


def test_panoptic_report_numbers_charts_and_worst_images(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    res = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), "--report", str(out), "--json", str(js)])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["All"]["pq"] == pytest.approx(5 / 6) and data["Things"]["pq"] == pytest.approx(2 / 3)
    # the report asked for per-image rows and PQ's analyses; --json is what was asked
    assert not {"per_image", "pq_errors", "confusion"} & set(data)
    text, page = parse(out)
    assert fetches(page) == []
    values = tiles(page)
    assert float(values["All.pq"]) == data["All"]["pq"]
    assert float(values["Things.pq"]) == data["Things"]["pq"] and float(values["Stuff.pq"]) == data["Stuff"]["pq"]
    assert float(values["All.sq"]) == data["All"]["sq"] == pytest.approx(1.0)
    assert "0.8333" in text  # the tile as the tables show it
    parts = sections(text)
    assert set(parts) == {"summary", "classes", "confusion", "errors", "worst"}
    for chart in ("classes", "confusion", "errors"):
        assert parts[chart].count("<svg") == 1, chart
    assert parts["summary"].count("<svg") == 0
    # worst first: image 2 (PQ 0.5), then image 1 (PQ 1), each with its thumbnail
    assert re.findall(r'id="image-(\d+)"', parts["worst"]) == ["2", "1"]
    assert parts["worst"].count('src="data:image/jpeg;base64,') == 2
    assert "0.5000" in parts["worst"]
    # every in-page link has its anchor
    anchors = {a["id"] for _, a in page.tags if "id" in a}
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links and all(h.startswith("#") and h[1:] in anchors for h in links)


@pytest.mark.parametrize("asked", [["--errors"], ["--confusion-csv", "CSV"], ["--per-image", "--csv", "CSV"]])
def test_report_json_and_csv_unchanged_by_report(runner, tmp_path, asked):
    """--json and --csv hold what was asked, with or without --report (which asks for
    per-image rows and PQ's analyses itself)."""
    gt, pred = panoptic_pair(tmp_path)
    outputs = {}
    for name, extra in (("plain", []), ("report", ["--report", str(tmp_path / "r.html")])):
        opts = [str(tmp_path / f"{name}.csv") if a == "CSV" else a for a in asked]
        js = tmp_path / f"{name}.json"
        res = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), *opts, "--json", str(js), *extra])
        assert res.exit_code == 0, res.output
        outputs[name] = [json.loads(js.read_text())]
        outputs[name] += [(tmp_path / f"{name}.csv").read_text()] if "CSV" in asked else []
    assert outputs["plain"] == outputs["report"]


def test_instance_report_has_pr_curves(runner, tmp_path):
    a, b = np.zeros((H, W), bool), np.zeros((H, W), bool)
    a[2:12, 2:12], b[20:35, 30:50] = True, True
    gt = write_instances(tmp_path / "gt.json", (H, W), [(1, a), (2, b)])
    dets = json.loads(write_instances(tmp_path / "d.json", (H, W), [(1, a), (2, b)], [0.9, 0.8]).read_text())
    results = write_json(tmp_path / "dets.json", [{**d, "id": None} for d in dets["annotations"]])
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    args = ["eval", "instance", str(gt), str(results), "--report", str(out), "--json", str(js), "--calibration"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["AP"] == pytest.approx(1.0)  # every object found at every IoU, no false positive
    text, page = parse(out)
    assert fetches(page) == []
    assert float(tiles(page)["AP"]) == data["AP"] and float(tiles(page)["AR100"]) == data["AR100"]
    parts = sections(text)
    for chart in ("classes", "pr", "pr-classes", "calibration"):
        assert parts[chart].count("<svg") == 1, chart
    assert "errors" not in parts and "run with --tide" in text  # TIDE only when asked
    assert "per_image" not in data


def test_semantic_report_has_the_confusion_matrix(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    for src, dst in ((gt, "gt_sem"), (pred, "pred_sem")):
        args = ["convert", str(src), str(tmp_path / dst), "--to", "semantic", "-q"]
        assert runner.invoke(main, args).exit_code == 0
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    args = ["eval", "semantic", str(tmp_path / "gt_sem"), str(tmp_path / "pred_sem"), "--report", str(out)]
    res = runner.invoke(main, [*args, "--json", str(js)])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    text, page = parse(out)
    assert float(tiles(page)["mIoU"]) == data["mIoU"]
    parts = sections(text)
    assert parts["confusion"].count("<svg") == 1 and parts["classes"].count("<svg") == 1
    assert parts["worst"].count('src="data:image/jpeg;base64,') == 2  # label PNGs drawn by preview too


def test_refusals_are_one_line(runner, tmp_path, monkeypatch):
    gt, pred = panoptic_pair(tmp_path)
    args = ["eval", "panoptic", str(gt), str(pred), "--report", str(tmp_path / "r.html")]
    res = runner.invoke(main, [*args, "--shard", "1/2"])
    assert res.exit_code == 2 and "--shard" in res.output and len(res.output.strip().splitlines()) == 1
    (tmp_path / "r.html").write_text("x")
    res = runner.invoke(main, args)  # an existing report without --overwrite
    assert res.exit_code == 2 and (tmp_path / "r.html").read_text() == "x"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed: the charts are plain SVG
    res = runner.invoke(main, [*args, "--overwrite"])
    assert res.exit_code == 0 and sections((tmp_path / "r.html").read_text())["classes"].count("<svg") == 1


def test_worst_ranks_by_value_and_leaves_out_undefined():
    rows = [
        {"image_id": 1, "pq": 0.9},
        {"image_id": 2, "pq": None},
        {"image_id": 3, "pq": 0.1},
        {"image_id": 4, "pq": 0.1},
        {"image_id": 5, "pq": 0.5},
    ]
    got = gather.worst("eval panoptic", {"per_image": rows}, 3)
    assert [r["image_id"] for r in got] == [3, 4, 5]  # ties in the result's order
    assert gather.worst("eval panoptic", {"per_image": rows}, 0) == []


def test_confusion_keeps_only_the_classes_involved():
    data = {
        "confusion": {
            "names": ["a", "b", "c", "background"],
            "matrix": [[3, 0, 0, 1], [0, 0, 0, 0], [0, 0, 2, 0], [1, 0, 0, 0]],
        }
    }
    labels, counts = gather.confusion("eval panoptic", data)
    assert labels == ["a", "c", "background"]  # b: nothing in its row or column
    assert counts == [[3, 0, 1], [0, 2, 0], [1, 0, 0]]


def test_pr_curves_by_hand():
    # (T=10, R=101, K=3, A=4, M=3): class 0 precise, class 1 half, class 2 without ground truth
    p = np.zeros((10, 101, 3, 4, 3))
    p[:, :, 0], p[:, :, 1], p[:, :, 2] = 1.0, 0.5, -1.0
    p[5:, 50:, 1, 0, -1] = 0.0  # class 1 reaches only half the recall at IoU >= .75
    curves = dict(overall(p, [0.5 + 0.05 * t for t in range(10)]))
    assert curves["IoU 0.50"].tolist() == [0.75] * 101
    assert curves["IoU 0.75"].tolist() == [0.75] * 50 + [0.5] * 51
    assert curves["IoU .50:.95"][80] == pytest.approx((1 + 0.25) / 2)  # class 1: 0.5 at 5 of 10 thresholds
    worst = per_class(p, ["a", "b", "c"], 1)
    assert [label for label, _ in worst] == ["b (AP 0.374)"]  # (0.5*101*10 - 0.5*51*5) / 1010


@needs_chromium
def test_report_renders_in_headless_chromium(runner, tmp_path):
    gt, pred = panoptic_pair(tmp_path)
    out = tmp_path / "r.html"
    assert runner.invoke(main, ["eval", "panoptic", str(gt), str(pred), "--report", str(out)]).exit_code == 0
    driver = start_chromium()
    try:
        driver.get(out.resolve().as_uri())
        loaded = driver.execute_script("return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert loaded == [True, True]
        charts = driver.execute_script(
            "return Array.from(document.querySelectorAll('section')).map("
            "s => [s.id, s.querySelectorAll(':scope .chart > svg').length,"
            " Array.from(s.querySelectorAll(':scope .chart > svg')).every(g => g.getBoundingClientRect().width > 100)])"
        )
        assert charts == [
            ["summary", 0, True],
            ["classes", 1, True],
            ["confusion", 1, True],
            ["errors", 1, True],
            ["worst", 0, True],
        ]
        hrefs = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))")
        assert len(hrefs) == 5
        for href in hrefs:
            assert driver.execute_script("return document.getElementById(arguments[0]) !== null", href[1:]), href
        assert "0.8333" in driver.find_element("id", "summary").text
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR", "WARNING")]
        assert errors == []
    finally:
        driver.quit()


def test_compare_report(runner, tmp_path):
    """A predicts both images exactly, B misses image 2's person: PQ 1 vs 5/6 (by hand,
    as in panoptic_pair), delta -1/6; image 2 changed most (per-image PQ 1 -> 0.5)."""
    gt, pred_b = panoptic_pair(tmp_path)
    out, js = tmp_path / "c.html", tmp_path / "c.json"
    args = ["compare", str(gt), str(gt), str(pred_b), "--bootstrap", "20", "--report", str(out), "--json", str(js)]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    text, page = parse(out)
    assert fetches(page) == []
    delta = float(tiles(page)["metrics.PQ.delta"])
    assert delta == data["metrics"]["PQ"]["delta"] == pytest.approx(-1 / 6)
    parts = sections(text)
    assert parts["classes"].count("<svg") == 1
    assert re.findall(r'id="image-(\d+)"', parts["images"])[0] == "2"
    assert parts["images"].split('id="image-1"')[0].count('src="data:image/jpeg;base64,') == 2  # A and B
    anchors = {a["id"] for _, a in page.tags if "id" in a}
    assert all(a["href"][1:] in anchors for t, a in page.tags if t == "a")


def test_lvis_report_with_worst_images(runner, tmp_path):
    """An LVIS ground truth (found once read) has per-image rows under LVIS' rules: the
    report shows its worst images, and the AP tile is still the JSON's."""
    a = np.zeros((H, W), bool)
    a[2:12, 2:12] = True
    gt_data = json.loads(write_instances(tmp_path / "g.json", (H, W), [(1, a)]).read_text())
    gt_data["images"][0].update(neg_category_ids=[2], not_exhaustive_category_ids=[])
    for c in gt_data["categories"]:
        c["frequency"] = "f"
    gt = write_json(tmp_path / "gt.json", gt_data)
    dets = write_json(
        tmp_path / "dets.json",
        [{"image_id": 1, "category_id": 1, "segmentation": gt_data["annotations"][0]["segmentation"], "score": 0.9}],
    )
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    res = runner.invoke(main, ["eval", "instance", str(gt), str(dets), "--report", str(out), "--json", str(js)])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["lvis"] and data["AP"] == pytest.approx(1.0)
    text, page = parse(out)
    assert float(tiles(page)["AP"]) == data["AP"]
    assert 'id="image-1"' in text and "no per-image rows" not in text
    assert "run with --tide" not in text  # LVIS refuses TIDE: no advice to ask for it


def test_report_inside_an_input_folder_is_refused(runner, tmp_path):
    """--report is checked against every input, --gt-masks' folder included."""
    gt, pred = panoptic_pair(tmp_path)
    masks = tmp_path / "masks"
    shutil.copytree(tmp_path / "gt", masks)
    inside = masks / "report.html"
    res = runner.invoke(
        main, ["eval", "panoptic", str(gt), str(pred), "--gt-masks", str(masks), "--report", str(inside)]
    )
    assert res.exit_code == 2 and not inside.exists(), res.output
