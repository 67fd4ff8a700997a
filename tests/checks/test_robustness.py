"""validate never crashes on a broken input: every field of a small dataset, set in turn to
values of the wrong type, gives findings (or a one-line error for an unreadable file), and
--fix either fixes or refuses with one line, never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segtool.errors import SegtoolError
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_instance_fix import fix_instance
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.formats.coco_panoptic_fix import fix_panoptic
from segtool.formats.semantic_checks import validate_semantic
from tests.conftest import write_json
from tests.helpers import small_instances as instances
from tests.helpers import small_panoptic as panoptic
from tests.helpers import variants


def survives(fn, *args) -> None:
    """Either findings or a one-line SegtoolError; anything else is a crash (exit 3)."""
    try:
        fn(*args)
    except SegtoolError as exc:
        assert "\n" not in exc.message


@pytest.mark.parametrize("kind", ["panoptic", "instance"])
def test_wrong_types_anywhere(tmp_path, kind):
    if kind == "panoptic":
        src = panoptic(tmp_path)
        base, validate, fix = json.loads(src.read_text()), validate_panoptic, fix_panoptic
    else:
        src = tmp_path / "i.json"
        base, validate, fix = instances(), validate_instance, fix_instance
    n = 0
    for where, value, data in variants(base):
        write_json(src, data)
        try:
            report = validate(src)
        except SegtoolError as exc:  # only when the file is not a dataset at all
            assert where[0] in ("images", "categories") and len(where) == 1, (where, value, exc)
            continue
        if value in (None, {}) and where[-1] in ("id", "image_id", "width", "height", "segments_info"):
            assert "malformed-record" in report.counts(), (where, value)
        out = tmp_path / f"fixed{n}.json"
        survives(fix, src, out)
        n += 1
    assert n > 100


def test_semantic_categories_of_wrong_types(tmp_path):
    folder = tmp_path / "sem"
    folder.mkdir()
    from PIL import Image

    Image.fromarray(np.array([[0, 1], [1, 255]], np.uint8)).save(folder / "a.png")
    base = [{"id": 0, "name": "bg"}, {"id": 1, "name": "road"}]
    for _, _, cats in variants(base):
        write_json(folder / "categories.json", cats)
        survives(validate_semantic, folder)


def test_malformed_record_is_exactly_that(tmp_path):
    src = panoptic(tmp_path)
    data = json.loads(src.read_text())
    data["annotations"][0]["segments_info"][0]["bbox"] = "0 0 1 4"
    write_json(src, data)
    found = validate_panoptic(src).findings
    assert [(f.code, f.image_id, f.segment_id) for f in found] == [("malformed-record", 1, 10)]
    assert "'bbox' must be [x, y, w, h] numbers" in found[0].message
    try:
        fix_panoptic(src, tmp_path / "out.json")
    except SegtoolError as exc:
        assert "malformed" in exc.message
    else:
        raise AssertionError("--fix should refuse a malformed record")
    assert not (tmp_path / "out.json").exists()
