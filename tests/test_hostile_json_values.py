"""Hostile values from JSON: ids and sizes of the wrong kind, sizes and counts past the
limits, file names no file can have, results lists loadRes would stumble on.

Before, each of these was an exit 3 (OverflowError, ValueError, TypeError, MemoryError for
TiB) somewhere past the reader. Now a reader refuses it in one line naming the file, or
``validate`` reports it (``malformed-record``) and goes on. Every command that reads the
dataset runs in a child process. Class "exit3".

``tests/hostile/test_exit3.py`` sweeps every field with hostile *numbers*; this adds the
other kinds (strings, null, false, lists, objects, 0, sides of 2^31, 2^64), the limits,
names and results lists.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import build
from tests.hostile.batch import Spec, matrix, run_specs, selected
from tests.hostile.build import RAW, Built
from tests.hostile.commands import INSTANCE, PANOPTIC, SEMANTIC, command, names_for
from tests.hostile.harness import broken, check

CLS = "exit3"
FULL = bool(os.environ.get("SEGTOOL_HOSTILE_FULL"))
KINDS = {
    "string": '"1"',
    "null": "null",
    "false": "false",
    "list": "[1]",
    "object": '{"a": 1}',
    "zero": "0",
    "2p31": str(2**31),
    "2p64": str(2**64),
    "empty-string": '""',
}
FIELDS: dict[str, list[tuple[Any, ...]]] = {
    PANOPTIC: [
        ("images", 0, "id"),
        ("images", 0, "height"),
        ("images", 0, "width"),
        ("categories", 0, "id"),
        ("categories", 0, "color"),
        ("annotations", 0, "image_id"),
        ("annotations", 0, "segments_info"),
        ("annotations", 0, "segments_info", 0),
        ("annotations", 0, "segments_info", 0, "id"),
        ("annotations", 0, "segments_info", 0, "category_id"),
        ("annotations", 0, "segments_info", 0, "bbox"),
        ("annotations", 0, "segments_info", 0, "area"),
    ],
    INSTANCE: [
        ("images", 0, "id"),
        ("images", 0, "height"),
        ("categories", 0, "id"),
        ("annotations", 0, "id"),
        ("annotations", 0, "image_id"),
        ("annotations", 0, "category_id"),
        ("annotations", 0, "area"),
        ("annotations", 0, "bbox"),
        ("annotations", 1, "bbox", 2),
        ("annotations", 1, "segmentation", "size"),
        ("annotations", 0, "segmentation"),
    ],
    SEMANTIC: [
        ("cats", 1, "id"),
        ("cats", 1, "color"),
        ("images", "images", 0, "id"),
        ("images", "images", 0, "width"),
    ],
}


def _set(node: Any, path: tuple[Any, ...], value: Any = RAW) -> Any:
    root = node
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return root


def dataset(fmt: str, path: tuple[Any, ...], raw: str | None, value: Any = RAW) -> Callable[[Path], Built]:
    """A dataset of ``fmt`` with the value at ``path`` replaced (``RAW`` by the token ``raw``)."""

    def make(root: Path) -> Built:
        if fmt == PANOPTIC:
            return build.panoptic(root, _set(build.panoptic_data()[0], path, value), raw=raw)
        if fmt == INSTANCE:
            return build.instance(root, _set(build.instance_data(), path, value), raw=raw)
        cats, images, maps = build.semantic_data()
        _set(cats if path[0] == "cats" else images, path[1:], value)
        return build.semantic(root, cats, images, maps, raw=raw)

    return make


def kind_specs() -> list[Spec]:
    """Each field with each kind of wrong value, one command per pair (rotating through the
    format's commands; all of them with SEGTOOL_HOSTILE_FULL=1)."""
    specs, n = [], 0
    for fmt, paths in FIELDS.items():
        names = names_for(fmt)
        for path in paths:
            for kind, token in KINDS.items():
                chosen = tuple(names) if FULL else (names[n % len(names)],)
                where = ".".join(map(str, path))
                specs += matrix(CLS, f"kind-{fmt[:8]}-{where}-{kind}", fmt, dataset(fmt, path, token), chosen)
                n += 1
    return specs


# --- sizes, counts and names past what can be -------------------------------------------------


def _lowered(limit: str, value: int) -> dict[str, str]:
    return {f"SEGTOOL_LIMIT_{limit.upper()}": str(value)}


def limit_specs() -> list[Spec]:
    """Every command on: a 2^31-tall image; an image over a lowered pixel limit (6x8 = 48 >
    40); more segments in one image than a lowered segment limit (panoptic segments_info,
    instance annotations, a results list); more categories than the limit (65,535 by
    default); a category id of 10^12 (a confusion matrix indexed by id asked 7 TiB)."""
    specs = []
    for fmt in (PANOPTIC, INSTANCE):
        specs += matrix(CLS, f"limit-tall-{fmt[:8]}", fmt, dataset(fmt, ("images", 0, "height"), None, 2**31))
        specs += matrix(
            CLS, f"limit-pixels-{fmt[:8]}", fmt, dataset(fmt, ("images", 0, "id"), None, 1), env=_lowered("pixels", 40)
        )
        specs += matrix(
            CLS,
            f"limit-segments-{fmt[:8]}",
            fmt,
            dataset(fmt, ("images", 0, "id"), None, 1),
            env=_lowered("segments", 1),
        )
    specs += matrix(
        CLS,
        "limit-pixels-semantic",
        SEMANTIC,
        dataset(SEMANTIC, ("cats", 0, "id"), None, 0),
        env=_lowered("pixels", 40),
    )
    specs += [
        Spec(CLS, "limit-segments-results", name, _made(INSTANCE, name), env=_lowered("segments", 1))
        for name in ("eval", "preview-pred")
    ]

    def many(root: Path) -> Built:
        cats = [{"id": i, "name": f"c{i}", "isthing": 0} for i in range(65536) if i != 255]
        _, images, maps = build.semantic_data()
        return build.semantic(root, cats, images, maps)

    specs += matrix(CLS, "limit-categories-65535", SEMANTIC, many, ("info", "convert-panoptic", "eval", "preview"))
    specs += matrix(
        CLS,
        "limit-categories-lowered",
        PANOPTIC,
        dataset(PANOPTIC, ("images", 0, "id"), None, 1),
        env=_lowered("categories", 2),
    )

    def far(root: Path) -> Built:
        cats, images, maps = build.semantic_data()
        cats.append({"id": 10**12, "name": "far", "isthing": 0})
        return build.semantic(root, cats, images, maps)

    specs += matrix(CLS, "category-1e12-sem", SEMANTIC, far)
    pan_far = dataset(PANOPTIC, ("categories", 2, "id"), None, 10**12)

    def pan_far_with_refs(root: Path) -> Built:
        data, pngs = build.panoptic_data()
        data["categories"][2]["id"] = 10**12
        for a in data["annotations"]:
            for s in a["segments_info"]:
                s["category_id"] = 10**12 if s["category_id"] == 100 else s["category_id"]
        return build.panoptic(root, data, pngs)

    specs += matrix(CLS, "category-1e12-pan", PANOPTIC, pan_far_with_refs)
    specs += matrix(CLS, "category-1e12-pan-unused", PANOPTIC, pan_far, ("eval", "convert-semantic"))
    return specs


def _made(fmt: str, name: str) -> Callable[[Path], tuple[Any, tuple[str, ...]]]:
    return lambda root: (command(name, build.instance(root), root / "out" / "o"), ())


NAMES = {"nul": "a\0b.png", "surrogate": "\ud800.png", "not-a-string": 5}


def name_specs() -> list[Spec]:
    """Image file names (every format) and panoptic PNG names no file can have."""
    specs = []
    for key, name in NAMES.items():
        for fmt in (PANOPTIC, INSTANCE):
            specs += matrix(
                CLS, f"name-{key}-{fmt[:8]}-image", fmt, dataset(fmt, ("images", 0, "file_name"), None, name)
            )
        specs += matrix(
            CLS, f"name-{key}-pan-png", PANOPTIC, dataset(PANOPTIC, ("annotations", 0, "file_name"), None, name)
        )
        specs += matrix(
            CLS, f"name-{key}-sem-image", SEMANTIC, dataset(SEMANTIC, ("images", "images", 0, "file_name"), None, name)
        )
    return specs


# --- results lists --------------------------------------------------------------------------

RESULTS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "score-inf": lambda r: [d | {"score": RAW} for d in r],
    "score-list": lambda r: [d | {"score": [0.5]} for d in r],
    "bbox-bool": lambda r: [d | {"bbox": [True, 0, 2, 2]} for d in r],
    "bbox-dict": lambda r: [d | {"bbox": {"x": 1}} for d in r],
    "bbox-five": lambda r: [d | {"bbox": [0, 0, 2, 2, 2]} for d in r],
    "bbox-later-missing": lambda r: [
        r[0] | {"bbox": [0, 0, 2, 2]},
        *({k: v for k, v in d.items() if k != "bbox"} for d in r[1:]),
    ],
    "bbox-later-empty": lambda r: [r[0] | {"bbox": [0, 0, 2, 2]}, *(d | {"bbox": []} for d in r[1:])],
    "box-only-huge": lambda r: [
        {k: v for k, v in d.items() if k != "segmentation"} | {"bbox": [0, 0, 1e300, 1e300]} for d in r
    ],
    "image-id-1e308": lambda r: [d | {"image_id": 1e308} for d in r],
    "image-id-list": lambda r: [d | {"image_id": [1]} for d in r],
    "category-id-bool": lambda r: [d | {"category_id": True} for d in r],
    "category-id-float": lambda r: [d | {"category_id": 1.5} for d in r],
    "detection-number": lambda r: [*r, 7],
    "detection-null": lambda r: [None, *r],
}


def _results(key: str, name: str) -> Callable[[Path], tuple[Any, tuple[str, ...]]]:
    def make(root: Path) -> tuple[Any, tuple[str, ...]]:
        b = build.instance(root)
        assert b.pred is not None
        build.write_text(b.pred, build.dump(RESULTS[key](build.results(build.instance_data())), "Infinity"))
        return command(name, b, root / "out" / "o"), ()

    return make


def results_specs() -> list[Spec]:
    return [
        Spec(CLS, f"results-{key}", name, _results(key, name)) for key in RESULTS for name in ("eval", "preview-pred")
    ]


SPECS = {s.id: s for s in [*kind_specs(), *limit_specs(), *name_specs(), *results_specs()]}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request) if i in SPECS], tmp_path_factory.mktemp("values"))


def refused(spec: Spec) -> bool:
    """Cases every command must refuse (exit 2); validate reports what it can go on with."""
    if spec.case.startswith("results-"):
        return spec.case != "results-box-only-huge"
    if spec.case == "category-1e12-pan-unused" or spec.case.startswith("limit-categories"):
        return not spec.command.startswith("validate")
    if spec.case.startswith("limit-"):
        return not spec.command.startswith("validate")
    return False


def reported(spec: Spec) -> bool:
    """Cases validate reports as malformed records (its instance annotations are streamed by
    checks/instance.py, which does not count segments per image)."""
    if not spec.case.startswith(("limit-tall", "limit-pixels", "limit-segments-coco-pan")):
        return False
    return spec.command == "validate"  # validate --fix refuses to fix malformed records: exit 2


@pytest.mark.parametrize("spec_id", list(SPECS))
def test_hostile_json_value(request, outcomes, spec_id):
    """Never exit 3; a refusal is one line naming a file; past a limit, exit 2 naming it or
    (validate) a malformed-record finding."""
    spec, ran = SPECS[spec_id], outcomes[spec_id]
    check(request, spec.cls, spec.case, spec.command, ran.out, broken(ran.out, ran.cmd, ran.root))
    if refused(spec):
        assert ran.out.exit == 2, ran.out.stderr[-300:]
        assert any(part in ran.out.stderr for part in (".json: ", ".png: ", "/sem: ")), ran.out.stderr[-300:]
    if reported(spec):
        assert ran.out.exit == 1 and "malformed-record" in ran.out.stdout, ran.out.stdout[-400:]
    if spec.case == "limit-categories-65535":
        assert "--limit categories=N" in ran.out.stderr
