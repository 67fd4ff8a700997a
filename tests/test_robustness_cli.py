"""No input crashes a command: every field of small panoptic and instance datasets, set in
turn to values of the wrong type, gives a result or a one-line error (exit 0, 1 or 2), never
an internal error (exit 3) or a crash in pycocotools' C code."""

from __future__ import annotations

import json

import pytest

from segtool.cli import main
from tests.conftest import write_json
from tests.helpers import small_instances as instances
from tests.helpers import small_panoptic as panoptic
from tests.helpers import variants

WRONG = (None, "x", [], 1.5)


def commands(kind, src, tmp_path):
    if kind == "panoptic":
        return (
            ["convert", str(src), str(tmp_path / "o.json"), "--to", "coco-instance", "--overwrite"],
            ["eval", "panoptic", str(src), str(src)],
            ["preview", str(src), str(tmp_path / "pv"), "--overwrite", "--no-names"],
        )
    return (
        ["convert", str(src), str(tmp_path / "p.json"), "--to", "coco-panoptic", "--overwrite", "--overlap", "first"],
        ["eval", "instance", str(src), str(src)],
    )


@pytest.mark.parametrize("kind", ["panoptic", "instance"])
def test_no_wrong_type_crashes_a_command(runner, tmp_path, kind):
    src = panoptic(tmp_path) if kind == "panoptic" else tmp_path / "i.json"
    base = json.loads(src.read_text()) if kind == "panoptic" else instances()
    failures = []
    for where, value, data in variants(base):
        if value not in WRONG:
            continue
        write_json(src, data)
        for cmd in commands(kind, src, tmp_path):
            r = runner.invoke(main, cmd)
            if r.exit_code not in (0, 1, 2) or "Traceback" in r.output:
                failures.append((cmd[0], where, value, r.stderr.strip().splitlines()[-1:]))
            elif r.exit_code == 2:
                assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert failures == []


def test_semantic_categories_and_images_of_wrong_types(runner, tmp_path):
    """Includes a 2x2 label map (too small for any label in preview) and negative ids."""
    import numpy as np
    from PIL import Image

    sem = tmp_path / "sem"
    sem.mkdir()
    Image.fromarray(np.array([[0, 1], [1, 255]], np.uint8)).save(sem / "a.png")
    cats = [{"id": 0, "name": "bg", "color": [1, 2, 3]}, {"id": 1, "name": "road", "isthing": 0}]
    imgs = {"images": [{"id": 1, "file_name": "a.jpg", "height": 2, "width": 2}]}
    failures = []
    for base, name in ((cats, "categories.json"), (imgs, "images.json")):
        for where, value, data in variants(base):
            if value not in (*WRONG, -1):
                continue
            write_json(sem / "categories.json", cats)
            write_json(sem / "images.json", imgs)
            write_json(sem / name, data)
            for cmd in (
                ["convert", str(sem), str(tmp_path / "o.json"), "--to", "coco-panoptic", "--overwrite"],
                ["eval", "semantic", str(sem), str(sem)],
                ["validate", str(sem)],
                ["preview", str(sem), str(tmp_path / "pv"), "--overwrite"],
            ):
                r = runner.invoke(main, cmd)
                if r.exit_code not in (0, 1, 2):
                    failures.append((name, where, value, cmd[0], r.stderr.strip().splitlines()[-1:]))
    assert failures == []
