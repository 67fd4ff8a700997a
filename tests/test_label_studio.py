"""The label-studio format (Label Studio's JSON export): generated exports with polygons
(percent coordinates) and brushes (its brush RLE, encoded here by the encoder's rules) read
back pixel for pixel; parity with label-studio-converter's own ``decode_rle`` when it is
installed (``pip install --no-deps label-studio-converter``: ``brush.py`` is loaded alone
from its source); validate's checks; bad input is one line and exit 2.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from segtool import formats
from segtool.formats import label_studio
from segtool.formats.label_studio_checks import validate_label_studio
from segtool.formats.label_studio_rules import BrushError, decode_brush, encode_brush, mask_brush
from tests.helpers import assert_bad_input, invoke
from tests.refs import package_folder


def _converter_brush() -> Any:
    """label-studio-converter's brush.py, loaded alone (tests/refs.py says where it is)."""
    folder = package_folder("label_studio_converter")
    if folder is None:
        return None
    source = Path(folder) / "brush.py"
    if not source.is_file():
        return None
    loaded = importlib.util.spec_from_file_location("_ls_brush", source)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


BRUSH = _converter_brush()


def _blob(rng, h, w) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    y0, x0 = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
    mask[y0 : y0 + int(rng.integers(2, h - y0)), x0 : x0 + int(rng.integers(2, w - x0))] = True
    return mask & (rng.random((h, w)) < 0.85)


def _export(path: Path, seed: int = 0) -> dict[Any, Any]:
    """An export of 3 tasks (polygons and brushes, one rectangle left out, one cancelled
    annotation skipped); returns the expected masks by (task id, region #) and labels."""
    rng = np.random.default_rng(seed)
    tasks, truth = [], {}
    for t in range(3):
        h, w = int(rng.integers(20, 70)), int(rng.integers(20, 70))
        results: list[dict[str, Any]] = []
        for k in range(4):
            common = {"id": f"r{k}", "original_width": w, "original_height": h, "image_rotation": 0}
            if k % 2:
                mask = _blob(rng, h, w)
                value = {"format": "rle", "rle": mask_brush(mask), "brushlabels": ["cat" if k == 1 else "dog"]}
                results.append({**common, "type": "brushlabels", "value": value})
            else:
                pts = [[float(rng.uniform(0, 100)), float(rng.uniform(0, 100))] for _ in range(5)]
                flat = [v for x, y in pts for v in (x * w / 100, y * h / 100)]
                rle = mask_utils.merge(mask_utils.frPyObjects([flat], h, w))
                mask = mask_utils.decode(rle).astype(bool)
                results.append({**common, "type": "polygonlabels", "value": {"points": pts, "polygonlabels": ["car"]}})
            truth[100 + t, len(truth_of(truth, 100 + t))] = mask
        results.append({"id": "box", "type": "rectanglelabels", "original_width": w, "original_height": h})
        cancelled = {"id": 1, "was_cancelled": True, "result": []}
        tasks.append(
            {
                "id": 100 + t,
                "data": {"image": f"/data/upload/1/photo%20{t}.jpg"},
                "annotations": [cancelled, {"id": 2, "result": results}],
            }
        )
    path.write_text(json.dumps(tasks))
    return truth


def truth_of(truth, tid):
    return [k for k in truth if k[0] == tid]


def test_brush_roundtrip_and_header():
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 9, 17, 300, 70000):
        values = rng.integers(0, 3, n) * (rng.random(n) < 0.5) if n % 2 else np.full(n, 255)
        assert np.array_equal(decode_brush(encode_brush(values)), values)
    data = encode_brush(np.zeros(8))
    with pytest.raises(BrushError, match="holds 8 values, not 12"):
        decode_brush(data, 12)
    with pytest.raises(BrushError, match="ends early"):
        decode_brush(data[:3])
    with pytest.raises(BrushError, match="bytes"):
        decode_brush([256])


@pytest.mark.skipif(BRUSH is None, reason="label-studio-converter is not installed")
def test_parity_with_label_studio_converter():
    """Our encoder's bytes, decoded by the converter's decode_rle, give our decode; its own
    encoder's output (mask2rle) decodes here as it does there."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        mask = _blob(rng, h, w)
        ours = mask_brush(mask)
        theirs = BRUSH.mask2rle(mask.astype(np.uint8) * 255)
        assert np.array_equal(BRUSH.decode_rle(ours), decode_brush(ours))
        assert np.array_equal(decode_brush(theirs), BRUSH.decode_rle(theirs))
        assert np.array_equal(decode_brush(theirs).reshape(h, w, 4)[:, :, 3] > 0, mask)


def test_read_pixel_for_pixel(tmp_path):
    path = tmp_path / "export.json"
    truth = _export(path)
    assert formats.detect(path) == "label-studio"
    ds = formats.read(path)
    assert [c.name for c in ds.categories] == ["car", "cat", "dog"]
    assert [s.image.file_name for s in ds.samples] == ["photo 0.jpg", "photo 1.jpg", "photo 2.jpg"]
    for s in ds.samples:
        ann = s.load()
        assert len(ann.segments) == 4
        for k, rle in enumerate(ann.rles):
            decoded = mask_utils.decode({**rle, "counts": rle["counts"].encode()}).astype(bool)
            assert np.array_equal(decoded, truth[s.image.id, k]), (s.image.id, k)
            assert ann.segments.area[k] == truth[s.image.id, k].sum()
    assert validate_label_studio(path).findings == []
    out = tmp_path / "coco.json"
    result = invoke(CliRunner(), "convert", path, out, "--to", "coco-instance")
    assert result.exit_code == 0, result.output


def test_detection_reasons(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps([{"id": 1}]))
    assert "not a Label Studio task" in label_studio.detect(p).reason
    p.write_text(json.dumps({"images": []}))
    assert label_studio.detect(p).confidence == "no"


def _one(tmp_path, region) -> Path:
    p = tmp_path / "bad.json"
    task = {"id": 1, "data": {"image": "a.jpg"}, "annotations": [{"result": [region]}]}
    p.write_text(json.dumps([task]))
    return p


POLY = {"id": "p", "type": "polygonlabels", "original_width": 10, "original_height": 10}


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("shape-degenerate", {**POLY, "value": {"points": [[1, 1], [5, 5]], "polygonlabels": ["a"]}}),
        ("shape-outside", {**POLY, "value": {"points": [[1, 1], [150, 5], [5, 50]], "polygonlabels": ["a"]}}),
        ("malformed-record", {**POLY, "value": {"points": [[1, 1], [5, 5], [1, 5]]}}),
        (
            "rle-undecodable",
            {**POLY, "type": "brushlabels", "value": {"rle": [0, 0, 1], "brushlabels": ["a"]}},
        ),
        (
            "empty-mask",
            {
                **POLY,
                "type": "brushlabels",
                "value": {"rle": mask_brush(np.zeros((10, 10), bool)), "brushlabels": ["a"]},
            },
        ),
    ],
)
def test_checks_one_broken_region(tmp_path, code, region):
    path = _one(tmp_path, region)
    assert [f.code for f in validate_label_studio(path).findings] == [code]
    if code in ("shape-degenerate", "malformed-record", "rle-undecodable"):
        assert_bad_input(invoke(CliRunner(), "info", path), "bad.json")
