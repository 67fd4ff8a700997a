"""Class "exit3": input that is bad in a way a reader must notice, never a bug (exit 3).

Ids and sizes of the wrong kind (NaN, Infinity, 1e308, 10^30, true, -1), broken results
lists, JSON nested 10^4 deep, NUL and lone surrogates in names, PNG headers declaring
20000x20000, a 2^31 image height, a category id of 10^12, 65,535 categories, a PNG with two
IHDR chunks, duplicate top-level keys. Run in child processes (some of these ask for
gigabytes). Promise: exit 0, 1 or 2, a refusal in one ``Error:`` line, no traceback.

The id/size values spread the commands between them (each place meets each command once);
``SEGTOOL_HOSTILE_FULL=1`` runs every value through every command.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import build
from .batch import FULL, Made, Spec, check_spec, matrix, run_specs, selected, spread
from .build import RAW, Built
from .commands import INSTANCE, PANOPTIC, SEMANTIC, Cmd, command, names_for
from .edits import category_refs, image_refs, instance_with, panoptic_with, set_field

CLS = "exit3"
VALUES = {"nan": "NaN", "inf": "Infinity", "1e308": "1e308", "1e30": "1" + "0" * 30, "bool": "true", "neg": "-1"}
PLACES_PANOPTIC = {
    "image-id": set_field("images", 0, "id", also=image_refs),
    "category-id": set_field("categories", 0, "id", also=category_refs),
    "segment-id": set_field("annotations", 0, "segments_info", 1, "id"),
    "height": set_field("images", 0, "height"),
    "width": set_field("images", 0, "width"),
}
PLACES_INSTANCE = {
    "image-id": set_field("images", 0, "id", also=image_refs),
    "category-id": set_field("categories", 0, "id", also=category_refs),
    "annotation-id": set_field("annotations", 0, "id"),
    "height": set_field("images", 0, "height"),
    "width": set_field("images", 0, "width"),
}
PLACES_SEMANTIC = ("category-id", "image-id", "height", "width")


def semantic_with(cats_edit=None, images_edit=None, maps_edit=None, raw: str | None = None):  # type: ignore[no-untyped-def]
    def make(root: Path) -> Built:
        cats, images, maps = build.semantic_data()
        for edit, target in ((cats_edit, cats), (images_edit, images), (maps_edit, maps)):
            if edit:
                edit(target)
        return build.semantic(root, cats, images, maps, raw)

    return make


def _sem_place(where: str) -> Callable[[Any], None]:
    if where == "category-id":
        return lambda cats: cats[1].__setitem__("id", RAW)
    key = {"image-id": "id", "height": "height", "width": "width"}[where]
    return lambda images: images["images"][0].__setitem__(key, RAW)


def value_specs() -> list[Spec]:
    specs = []
    ways = len(VALUES)
    for i, (vkey, token) in enumerate(VALUES.items()):
        for place, edit in PLACES_PANOPTIC.items():
            names = spread(i, ways, PANOPTIC)
            specs += matrix(CLS, f"{vkey}-pan-{place}", PANOPTIC, panoptic_with(edit, token), names)
        for place, edit in PLACES_INSTANCE.items():
            names = spread(i, ways, INSTANCE)
            specs += matrix(CLS, f"{vkey}-ins-{place}", INSTANCE, instance_with(edit, token), names)
        for place in PLACES_SEMANTIC:
            kw = {"cats_edit" if place == "category-id" else "images_edit": _sem_place(place)}
            names = spread(i, ways, SEMANTIC)
            specs += matrix(CLS, f"{vkey}-sem-{place}", SEMANTIC, semantic_with(raw=token, **kw), names)
    return specs


# --- results lists ------------------------------------------------------------------------------

RESULTS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "score-string": lambda r: [d | {"score": "0.9"} for d in r],
    "score-null": lambda r: [d | {"score": None} for d in r],
    "score-missing": lambda r: [{k: v for k, v in d.items() if k != "score"} for d in r],
    "score-nan": lambda r: [d | {"score": RAW} for d in r],
    "score-bool": lambda r: [d | {"score": True} for d in r],
    "bbox-short": lambda r: [d | {"bbox": [1, 2, 3]} for d in r],
    "bbox-string": lambda r: [d | {"bbox": "x"} for d in r],
    "bbox-nan": lambda r: [d | {"bbox": [RAW, 0, 2, 2]} for d in r],
    "bbox-negative": lambda r: [d | {"bbox": [1, 1, -3, 2]} for d in r],
    "bbox-huge": lambda r: [d | {"bbox": [0, 0, 1e308, 1e308]} for d in r],
    "image-id-string": lambda r: [d | {"image_id": str(d["image_id"])} for d in r],
    "image-id-float": lambda r: [d | {"image_id": d["image_id"] + 0.5} for d in r],
    "image-id-null": lambda r: [d | {"image_id": None} for d in r],
    "image-id-bool": lambda r: [d | {"image_id": True} for d in r],
    "category-id-string": lambda r: [d | {"category_id": str(d["category_id"])} for d in r],
    "category-id-list": lambda r: [d | {"category_id": [d["category_id"]]} for d in r],
    "not-a-list": lambda r: {"annotations": 1},
    "list-of-numbers": lambda r: [1, 2],
    "empty": lambda r: [],
}


def _results(key: str, name: str) -> Callable[[Path], Made]:
    def make(root: Path) -> Made:
        b = build.instance(root)
        res = RESULTS[key](build.results(build.instance_data()))
        build.write_text(b.pred, build.dump(res, "NaN"))  # type: ignore[arg-type]
        out = root / "out" / "o"
        if name == "eval-bbox":
            return Cmd(["eval", "instance", str(b.src), str(b.pred), "--iou-type", "bbox", "-j", "1"]), ()
        if name == "combine":
            sem = build.semantic(root).src
            argv = ["convert", str(sem), str(out / "c.json"), "--to", PANOPTIC, "--instances", str(b.pred), "-j", "1"]
            return Cmd(argv, [out]), ()
        return command(name, b, out), ()

    return make


def results_specs() -> list[Spec]:
    return [
        Spec(CLS, f"results-{key}", name, _results(key, name))
        for key in RESULTS
        for name in ("eval", "eval-bbox", "preview-pred", "combine")
    ]


# --- files that are wrong as a whole ------------------------------------------------------------

DEEP = "[" * 10_000 + "]" * 10_000


def _text(fmt: str, text: str, which: str = "") -> Callable[[Path], Built]:
    """A dataset of ``fmt`` whose JSON (``which``: for semantic, categories or images) is ``text``."""

    def make(root: Path) -> Built:
        b = {PANOPTIC: build.panoptic, INSTANCE: build.instance, SEMANTIC: build.semantic}[fmt](root)
        target = b.src / f"{which}.json" if fmt == SEMANTIC else (b.pred if which == "results" else b.src)
        build.write_text(target, text)  # type: ignore[arg-type]
        return b

    return make


def _dup_keys(fmt: str, key: str) -> str:
    """The dataset's JSON text with ``key`` given a second time (empty) after the first."""
    data = build.instance_data() if fmt == INSTANCE else build.panoptic_data()[0]
    text = json.dumps(data)
    return text[:-1] + f', "{key}": []' + "}"


def _huge_png(fmt: str, where: str) -> Callable[[Path], Built]:
    """A 20000x20000 header (60 bytes) as the first image's mask, label map or photo."""

    def make(root: Path) -> Built:
        if fmt == PANOPTIC:
            data, pngs = build.panoptic_data()
            if where == "mask":
                data["images"][0] |= {"height": 20000, "width": 20000}
            b = build.panoptic(root, data, pngs)
            if where.startswith("mask"):
                (b.src.with_suffix("") / "img1.png").write_bytes(build.huge_header_png())
        elif fmt == SEMANTIC:
            cats, images, maps = build.semantic_data()
            images["images"][0] |= {"height": 20000, "width": 20000}
            b = build.semantic(root, cats, images, maps)
            (b.src / "s1.png").write_bytes(build.huge_header_png(color_type=0))
        else:
            b = build.instance(root)
        if where == "photo":
            b.images = build.write_photos(root / "in" / "photos", ["img2.jpg", "s2.jpg"])
            (b.images / ("s1.jpg" if fmt == SEMANTIC else "img1.jpg")).write_bytes(build.huge_header_png())
        return b

    return make


def _two_ihdr(fmt: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        if fmt == PANOPTIC:
            b = build.panoptic(root)
            ids = build.id_maps()[0]
            png = build.two_ihdr_png(build.rgb_of(ids), 2, (20000, 20000))
            (b.src.with_suffix("") / "img1.png").write_bytes(png)
        else:
            b = build.semantic(root)
            png = build.two_ihdr_png(build.label_maps()["s1"], 0, (20000, 20000))
            (b.src / "s1.png").write_bytes(png)
        return b

    return make


def _sem_pred(root: Path) -> Path:
    return build.write_semantic(root / "in" / "pred", None, None, {"img1": np.ones((build.H, build.W), np.uint8)})


def _category_1e12(fmt: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        if fmt == PANOPTIC:
            b = panoptic_with(set_field("categories", 0, "id", value=10**12, also=category_refs), "1000000000000")(root)
            b.sem_pred = _sem_pred(root)
            return b
        cats, images, maps = build.semantic_data()
        cats.append({"id": 10**12, "name": "far", "isthing": 0})
        return build.semantic(root, cats, images, maps)

    return make


def _many_categories(root: Path) -> Built:
    cats = [{"id": i, "name": f"c{i}", "isthing": 0} for i in range(65536) if i != 255]
    _, images, maps = build.semantic_data()
    return build.semantic(root, cats, images, maps)


def whole_specs() -> list[Spec]:
    specs = []
    for fmt, short in ((PANOPTIC, "pan"), (INSTANCE, "ins")):
        specs += matrix(CLS, f"deep-{short}-file", fmt, _text(fmt, DEEP))
        data = build.instance_data() if fmt == INSTANCE else build.panoptic_data()[0]
        specs += matrix(CLS, f"deep-{short}-info", fmt, _text(fmt, build.dump(data | {"info": RAW}, DEEP)))
        specs += matrix(CLS, f"dup-keys-{short}", fmt, _text(fmt, _dup_keys(fmt, "images")))
        specs += matrix(CLS, f"dup-keys-{short}-annotations", fmt, _text(fmt, _dup_keys(fmt, "annotations")))
    specs += matrix(CLS, "deep-results", INSTANCE, _text(INSTANCE, DEEP, "results"), ("eval", "preview-pred"))
    specs += matrix(CLS, "deep-sem-categories", SEMANTIC, _text(SEMANTIC, DEEP, "categories"))
    specs += matrix(CLS, "deep-sem-images", SEMANTIC, _text(SEMANTIC, DEEP, "images"))
    for key, name in (("nul", "a\0b.png"), ("surrogate", "\ud800.png")):
        specs += matrix(CLS, f"name-{key}-pan", PANOPTIC, panoptic_with(_names(name)))
        specs += matrix(
            CLS, f"name-{key}-ins", INSTANCE, instance_with(set_field("images", 0, "file_name", value=name))
        )
        specs += matrix(CLS, f"name-{key}-sem", SEMANTIC, semantic_with(images_edit=_sem_name(name)))
    specs += matrix(CLS, "huge-png-pan-mask", PANOPTIC, _huge_png(PANOPTIC, "mask"))
    specs += matrix(CLS, "huge-png-pan-mask-record-6x8", PANOPTIC, _huge_png(PANOPTIC, "mask-small-record"))
    specs += matrix(CLS, "huge-png-sem-label", SEMANTIC, _huge_png(SEMANTIC, "label"))
    for fmt, short in ((PANOPTIC, "pan"), (INSTANCE, "ins"), (SEMANTIC, "sem")):
        specs += matrix(CLS, f"huge-png-{short}-photo", fmt, _huge_png(fmt, "photo"), ("validate", "preview"))
    specs += matrix(CLS, "height-2p31-ins", INSTANCE, instance_with(set_field("images", 0, "height", value=2**31)))
    specs += matrix(CLS, "height-2p31-pan", PANOPTIC, panoptic_with(set_field("images", 0, "height", value=2**31)))
    specs += matrix(CLS, "category-1e12-pan", PANOPTIC, _category_1e12(PANOPTIC), ("eval-semantic", "convert-semantic"))
    specs += matrix(CLS, "category-1e12-sem", SEMANTIC, _category_1e12(SEMANTIC))
    specs += matrix(CLS, "categories-65535-sem", SEMANTIC, _many_categories)
    specs += matrix(CLS, "two-ihdr-pan", PANOPTIC, _two_ihdr(PANOPTIC))
    specs += matrix(CLS, "two-ihdr-sem", SEMANTIC, _two_ihdr(SEMANTIC))
    return specs


def _names(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["images"][0]["file_name"] = name
        data["annotations"][0]["file_name"] = name

    return edit


def _sem_name(name: str) -> Callable[[Any], None]:
    return lambda images: images["images"][0].__setitem__("file_name", name)


# --- every field, every number that is not a plain one -----------------------------------------

SWEEP = VALUES | {"neginf": "-Infinity", "2p63": str(2**63), "neg2p63": str(-(2**63) - 1), "half": "0.5"}


def key_paths(node: Any, pre: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    out = []
    for k, v in items:
        out += [(*pre, k), *key_paths(v, (*pre, k))]
    return out


def _replace(doc: Any, path: tuple[Any, ...]) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = RAW
    return doc


def _swept(fmt: str, which: str, path: tuple[Any, ...], token: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        if fmt == INSTANCE:
            return build.instance(root, _replace(build.instance_data(), path), token)
        if fmt == PANOPTIC:
            data, pngs = build.panoptic_data()
            return build.panoptic(root, _replace(data, path), pngs, token)
        cats, images, maps = build.semantic_data()
        if which == "categories":
            cats = _replace(cats, path)
        else:
            images = _replace(images, path)
        return build.semantic(root, cats, images, maps, token)

    return make


def sweep_specs() -> list[Spec]:
    """Each field of each format set to a hostile number: one value and one command per field
    by default (rotating, so every value and command comes up), all values with FULL."""
    docs = [
        (INSTANCE, "ins", "", build.instance_data()),
        (PANOPTIC, "pan", "", build.panoptic_data()[0]),
        (SEMANTIC, "sem-cats", "categories", build.semantic_data()[0]),
        (SEMANTIC, "sem-images", "images", build.semantic_data()[1]),
    ]
    specs, n, values = [], 0, list(SWEEP.items())
    for fmt, short, which, doc in docs:
        names = names_for(fmt)
        for path in key_paths(doc):
            chosen = values if FULL else [values[n % len(values)]]
            for vkey, token in chosen:
                name = names[n % len(names)]
                where = ".".join(map(str, path))
                specs += matrix(CLS, f"sweep-{short}-{where}-{vkey}", fmt, _swept(fmt, which, path, token), (name,))
                n += 1
    return specs


SPECS = {s.id: s for s in [*value_specs(), *results_specs(), *whole_specs(), *sweep_specs()]}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request)], tmp_path_factory.mktemp(CLS))


@pytest.mark.parametrize("spec_id", list(SPECS))
def test_no_internal_error(request, outcomes, spec_id):
    check_spec(request, SPECS[spec_id], outcomes[spec_id])
