"""The command matrix: every segtool command that applies to a dataset of a given format,
each with the outputs it may write (everything else under the case's folder must stay as it
was)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .build import Built

PANOPTIC, INSTANCE, SEMANTIC = "coco-panoptic", "coco-instance", "semantic"
ALL = (
    "info",
    "validate",
    "validate-fix",
    "convert-panoptic",
    "convert-instance",
    "convert-semantic",
    "eval",
    "preview",
    "preview-pred",
)
FIX_FORMATS = (PANOPTIC, INSTANCE)


@dataclass
class Cmd:
    """One segtool invocation: its arguments, and the paths it may create or change."""

    argv: list[str]
    outputs: list[Path] = field(default_factory=list)
    exits: frozenset[int] = frozenset({0, 1, 2})


def json_out(path: Path) -> list[Path]:
    """A .json output and the PNG folder named by its stem (coco-panoptic writes both)."""
    return [path, path.with_suffix("")]


def applies(name: str, fmt: str) -> bool:
    return not (name == "validate-fix" and fmt not in FIX_FORMATS)


def names_for(fmt: str, names: tuple[str, ...] = ALL) -> list[str]:
    return [n for n in names if applies(n, fmt)]


def command(name: str, b: Built, out: Path, jobs: str = "1") -> Cmd:
    """The command ``name`` over ``b``, writing under the (not yet existing) folder ``out``."""
    src = str(b.src)
    j = ["-j", jobs]
    images = ["--images", str(b.images)] if b.images else []
    if name == "info":
        return Cmd(["info", src, *j])
    if name == "validate":
        return Cmd(["validate", src, *images, *j])
    if name == "validate-fix":
        dst = out / "fixed.json"
        return Cmd(["validate", src, "--fix", str(dst), *j], [out])
    if name.startswith("convert-"):
        to = {"panoptic": PANOPTIC, "instance": INSTANCE, "semantic": SEMANTIC}[name.split("-")[1]]
        dst = out / ("sem" if to == SEMANTIC else "c.json")
        extra = []
        if b.fmt == INSTANCE and to != INSTANCE:
            extra = ["--overlap", "first"]
        if b.fmt == SEMANTIC and to != SEMANTIC:
            extra = ["--split-things"]
        return Cmd(["convert", src, str(dst), "--to", to, *extra, *j], [out])
    if name == "eval":
        pred = str(b.pred or b.src)
        kind = {PANOPTIC: "panoptic", INSTANCE: "instance", SEMANTIC: "semantic"}[b.fmt]
        return Cmd(["eval", kind, src, pred, *j])
    if name == "eval-semantic":
        return Cmd(["eval", "semantic", src, str(b.sem_pred or b.src), *j])
    if name.startswith("preview"):
        pred = ["--pred", str(b.pred or b.src)] if name == "preview-pred" else []
        return Cmd(["preview", src, str(out / "pv"), "--html", *images, *pred, *j], [out])
    raise ValueError(name)
