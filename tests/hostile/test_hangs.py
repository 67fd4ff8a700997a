"""Class "hangs": inputs that can keep a command busy or blocked forever.

A FIFO or /dev/zero where a mask, label map, photo or JSON should be (opening a FIFO blocks
until a writer comes; /dev/zero never ends), 10^5 segments in one image, 10^4 instances of
one category, --split-things on 15,000 dots, a small PNG declaring a huge size, a polygon of
10^6 points, 10^5 detections on one image, 5,000 categories (the limit) in eval semantic. Run in child
processes, each killed at its bound. Promise: done within the bound, exit 0, 1 or 2.
``SEGTOOL_HOSTILE_FULL=1`` adds a real 9000x9000 (81 MP, under the pixel limit) label map
that inflates from a ~80 kB PNG.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from . import build
from .batch import FULL, Spec, check_spec, matrix, run_specs, selected
from .build import Built
from .commands import INSTANCE, PANOPTIC, SEMANTIC

CLS = "hangs"
SHORT, LONG = 10.0, 20.0  # seconds: tiny datasets / the big ones


def _special(kind: str, target: Path) -> None:
    """Replace ``target`` by a FIFO or a symlink to /dev/zero."""
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")


def _where(kind: str, fmt: str, what: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        b = {PANOPTIC: build.panoptic, INSTANCE: build.instance, SEMANTIC: build.semantic}[fmt](root)
        if what == "photo":
            b.images = build.write_photos(root / "in" / "photos", ["img1.jpg", "img2.jpg", "s1.jpg", "s2.jpg"])
            _special(kind, b.images / ("s1.jpg" if fmt == SEMANTIC else "img1.jpg"))
        elif what == "mask":
            _special(kind, b.src.with_suffix("") / "img1.png")
        elif what == "label":
            _special(kind, b.src / "s1.png")
        elif what == "categories":
            _special(kind, b.src / "categories.json")
        else:
            _special(kind, b.src)
        return b

    return make


def special_specs() -> list[Spec]:
    specs = []
    places = [
        ("mask", PANOPTIC, None),
        ("label", SEMANTIC, None),
        ("categories", SEMANTIC, None),
        ("json", INSTANCE, None),
        ("photo", INSTANCE, ("validate", "preview")),
        ("photo", PANOPTIC, ("validate", "preview")),
    ]
    for kind in ("fifo", "zero"):
        for n, (what, fmt, names) in enumerate(places):
            short = {PANOPTIC: "pan", INSTANCE: "ins", SEMANTIC: "sem"}[fmt]
            # FIFOs may block until killed: spread them over drivers so their waits overlap;
            # /dev/zero may fill memory: one group, so at most two run at once
            group = 1 + n % 3 if kind == "fifo" else 4
            kw = {"timeout": SHORT, "group": group, "memory": None if kind == "fifo" else 2 << 30}
            specs += matrix(CLS, f"{kind}-{short}-{what}", fmt, _where(kind, fmt, what), names, **kw)
    return specs


# --- big in count ---------------------------------------------------------------------------------


def _segments_1e5(root: Path) -> Built:
    """One 250x400 image whose every pixel is its own segment: 100,000 segments (the limit)."""
    h, w = 250, 400
    ids = np.arange(1, h * w + 1, dtype=np.int64).reshape(h, w)
    segs = [
        {"id": int(i), "category_id": 1 if i % 2 else 100, "iscrowd": 0, "area": 1, "bbox": [int(x), int(y), 1, 1]}
        for i, (y, x) in zip(ids.ravel().tolist(), np.ndindex(h, w), strict=True)
    ]
    data = {
        "images": [{"id": 1, "file_name": "img1.jpg", "height": h, "width": w}],
        "annotations": [{"image_id": 1, "file_name": "img1.png", "segments_info": segs}],
        "categories": build.CATS,
    }
    return build.panoptic(root, data, {"img1.png": ids})


def _instances_1e4(root: Path) -> Built:
    """10,000 one-pixel instances of one category in a 100x100 image (polygons)."""
    anns = []
    for k, (y, x) in enumerate(np.ndindex(100, 100), start=1):
        poly = [x, y, x + 1, y, x + 1, y + 1, x, y + 1]
        anns.append(
            {"id": k, "image_id": 1, "category_id": 1, "segmentation": [poly], "area": 1, "bbox": [x, y, 1, 1]}
            | {"iscrowd": 0}
        )
    data = {"images": [{"id": 1, "file_name": "img1.jpg", "height": 100, "width": 100}], "annotations": anns}
    return build.instance(root, data | {"categories": build.CATS})


def _dots(root: Path) -> Built:
    """A 246x246 label map with 123x123 = 15,129 isolated dots of a thing class."""
    a = np.zeros((246, 246), np.uint8)
    a[::2, ::2] = 2
    images = {"images": [{"id": 1, "file_name": "dots.jpg", "height": 246, "width": 246}]}
    return build.semantic(root, build.SEM_CATS, images, {"dots": a})


def _bomb(fmt: str, side: int) -> Callable[[Path], Built]:
    """A label map (semantic) or mask (panoptic) of ``side``² zeros: a small file, a large image."""

    def make(root: Path) -> Built:
        channels, ct = (1, 0) if fmt == SEMANTIC else (3, 2)
        row = b"\0" + bytes(side * channels)
        comp = zlib.compressobj(9)
        idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
        png = build.raw_png(build.ihdr(side, side, ct), build.chunk(b"IDAT", idat))
        if fmt == SEMANTIC:
            images = {"images": [{"id": 1, "file_name": "big.jpg", "height": side, "width": side}]}
            b = build.semantic(root, build.SEM_CATS, images, {})
            (b.src / "big.png").write_bytes(png)
            return b
        data = {
            "images": [{"id": 1, "file_name": "big.jpg", "height": side, "width": side}],
            "annotations": [{"image_id": 1, "file_name": "big.png", "segments_info": []}],
            "categories": build.CATS,
        }
        b = build.panoptic(root, data, {})
        (b.src.with_suffix("") / "big.png").write_bytes(png)
        return b

    return make


def _polygon_1e6(root: Path) -> Built:
    """One polygon of 10^6 points zig-zagging inside a 6x8 image."""
    n = 500_000
    xs = np.tile([1.0, 6.0], n)
    ys = np.linspace(1.0, 4.0, 2 * n)
    data = build.instance_data()
    data["annotations"][0]["segmentation"] = [np.stack([xs, ys], 1).ravel().round(3).tolist()]
    return build.instance(root, data)


def _detections_1e5(root: Path) -> Built:
    """A results list of 10^5 detections on one image (eval keeps the best 100)."""
    b = build.instance(root)
    base = build.results(build.instance_data())[1]
    rng = np.random.default_rng(3)
    res = [base | {"score": float(s)} for s in rng.random(100_000)]
    build.write_text(b.pred, json.dumps(res))  # type: ignore[arg-type]
    return b


def _categories_5000(root: Path) -> Built:
    """5,000 semantic categories (the limit) in 16-bit label maps that use the last ones."""
    cats = [{"id": i, "name": f"c{i}", "isthing": 0} for i in range(256, 5256)]
    maps = {k: (m.astype(np.uint16) + 5250) for k, m in build.label_maps().items()}
    for m in maps.values():
        m[m == 5250 + 255] = 255
    _, images, _ = build.semantic_data()
    return build.semantic(root, cats, images, maps)


def big_specs() -> list[Spec]:
    specs = matrix(CLS, "segments-1e5", PANOPTIC, _segments_1e5, ("validate", "eval", "info"), timeout=LONG)
    specs += matrix(
        CLS, "instances-1e4", INSTANCE, _instances_1e4, ("convert-panoptic", "validate", "eval"), timeout=LONG
    )
    specs += matrix(
        CLS, "split-things-15k-dots", SEMANTIC, _dots, ("convert-panoptic", "convert-instance"), timeout=LONG
    )
    specs += matrix(CLS, "polygon-1e6-points", INSTANCE, _polygon_1e6, ("validate", "convert-panoptic"), timeout=LONG)
    specs += matrix(CLS, "detections-1e5", INSTANCE, _detections_1e5, ("eval",), timeout=LONG)
    specs += matrix(CLS, "categories-5000-sem", SEMANTIC, _categories_5000, ("eval", "validate"), timeout=LONG)
    for fmt, short in ((SEMANTIC, "sem-label"), (PANOPTIC, "pan-mask")):
        specs += matrix(CLS, f"header-20000-{short}", fmt, _huge_header(fmt), timeout=SHORT)
        if FULL:
            specs += matrix(CLS, f"bomb-9000-{short}", fmt, _bomb(fmt, 9000), ("validate", "info"), timeout=60.0)
    return specs


def _huge_header(fmt: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        if fmt == SEMANTIC:
            b = build.semantic(root)
            (b.src / "s1.png").write_bytes(build.huge_header_png(color_type=0))
        else:
            b = build.panoptic(root)
            (b.src.with_suffix("") / "img1.png").write_bytes(build.huge_header_png())
        return b

    return make


SPECS = {s.id: s for s in [*special_specs(), *big_specs()]}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request)], tmp_path_factory.mktemp(CLS))


@pytest.mark.parametrize("spec_id", list(SPECS))
def test_finishes_in_time(request, outcomes, spec_id):
    check_spec(request, SPECS[spec_id], outcomes[spec_id])


def test_dataset_sizes_are_what_they_claim(tmp_path):
    """The big cases are as big as their names say (else a pass would prove nothing)."""
    data = json.loads(_segments_1e5(tmp_path / "a").src.read_text())
    assert len(data["annotations"][0]["segments_info"]) == 100_000
    data = json.loads(_instances_1e4(tmp_path / "b").src.read_text())
    assert len(data["annotations"]) == 10_000
    from scipy import ndimage

    dots = np.asarray(Image.open(_dots(tmp_path / "c").src / "dots.png"))
    assert ndimage.label(dots == 2, structure=np.ones((3, 3)))[1] == 15_129
