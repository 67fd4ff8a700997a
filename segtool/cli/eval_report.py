"""``--report FILE.html`` on every ``eval`` command (docs/report.md): the option's glue.

:func:`option` wraps a command: before it runs, the report file is checked as every output
is and the evaluation is asked for what the report needs and is cheap (per-image rows;
panoptic's PQ causes and confusion matrix, +14% CPU); :func:`finish`, called by ``eval``'s
shared ``_report`` with the result dict, writes the report and hands back the dict without
what only the report asked for, so ``--json``, ``--csv`` and the tables are those of the
same command without ``--report``. Instance TIDE, confusion and calibration are computed only
when asked (TIDE adds ~40% CPU on 1,000 images, docs/metrics/tide.md; LVIS refuses them):
the report then says how to get them.
"""

from __future__ import annotations

import contextvars
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..atomic import dataset_inputs
from ..errors import SegtoolError
from . import inputs, output
from .options import F

FORCED = {"panoptic": ("per_image", "errors", "confusion"), "other": ("per_image",)}
DATA_KEYS = {"per_image": "per_image", "errors": "pq_errors", "confusion": "confusion"}


@dataclass
class _Request:
    path: Path
    overwrite: bool
    source: Any  # report.Source | None
    strip: list[str]
    note: str | None = None
    curves: Any = None


_pending: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("segtool_report", default=None)


def _source(kwargs: dict[str, Any]) -> tuple[Any, str | None]:
    """Where thumbnails come from, or why there are none."""
    from ..report import Source

    gt, pred = kwargs.get("gt"), kwargs.get("pred")
    if gt is None or pred is None or inputs.STDIN in (str(gt), str(pred)):
        return None, "no thumbnails: an input was read from stdin"
    if kwargs.get("pred_masks") is not None:
        return None, "no thumbnails: preview reads a prediction's PNGs from its sibling folder, not --pred-masks"
    read = dict(kwargs.get("reading") or {})
    if kwargs.get("gt_masks") is not None:
        read["masks"] = kwargs["gt_masks"]
    for key in ("categories", "ignore_value"):  # eval semantic's ways to read its label PNGs
        if kwargs.get(key) is not None:
            read[key] = kwargs[key]
    return Source(Path(gt), Path(pred), read, kwargs.get("from_"), kwargs.get("jobs") or 1), None


def _prepare(path: Path, kwargs: dict[str, Any]) -> _Request:
    """Check the report file and the options, ask for what the report needs."""
    if kwargs.get("sharding"):
        raise SegtoolError("--report needs the whole evaluation: not with --shard or --partial")
    if kwargs.get("protocol") == "cityscapes":
        raise SegtoolError("--report follows COCO's protocol, not cityscapes'")
    keys = ("gt", "pred", "gt_masks", "pred_masks", "categories")
    given = [kwargs.get(k) for k in keys] + [(kwargs.get("reading") or {}).get("labels")]
    named = [Path(v) for v in given if isinstance(v, (str, Path)) and str(v) != inputs.STDIN]
    sources = [p for n in named for p in dataset_inputs(n)]
    others = (kwargs.get("json_out"), kwargs.get("csv_out"), path)
    output.check_outputs(*others, inputs=sources, overwrite=kwargs.get("overwrite", False))
    forced = FORCED["panoptic" if "errors" in kwargs else "other"]
    asked = {k: bool(kwargs.get(k)) for k in forced}
    asked["confusion"] = asked.get("confusion", False) or kwargs.get("confusion_csv") is not None  # it implies it
    strip = [DATA_KEYS[k] for k in forced if not asked[k]]
    for k in forced:
        kwargs[k] = True
    source, note = _source(kwargs)
    return _Request(path, kwargs.get("overwrite", False), source, strip, note)


def option(fn: F) -> F:
    """The ``--report FILE.html`` option around an eval command."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = kwargs.pop("report_out")
        if path is None:
            return fn(*args, **kwargs)
        request = _prepare(path, kwargs)
        token = _pending.set(request)
        try:
            return fn(*args, **kwargs)
        finally:
            _pending.reset(token)

    decorated: Any = click.option(
        "--report",
        "report_out",
        type=click.Path(path_type=Path),
        metavar="FILE.html",
        help="Also write a self-contained HTML report: tiles, charts, the worst images (docs/report.md).",
    )(wrapper)
    return decorated  # type: ignore[no-any-return]


def attach(result: Any) -> None:
    """Keep an instance result's PR curves for the report being made (if one is)."""
    request = _pending.get()
    if request is not None:
        from ..report.curves import of_result

        request.curves = of_result(result)


def finish(command: str, data: dict[str, Any]) -> dict[str, Any]:
    """Write the report when one was asked for; the data without what only it asked for."""
    request = _pending.get()
    if request is None:
        return data
    from ..report import build, write

    html = build(command, data, curves=request.curves, source=request.source, note=request.note)
    write(request.path, html, overwrite=request.overwrite)
    output.note(f"report written to {request.path}")
    return {k: v for k, v in data.items() if k not in request.strip}


def write_compare(path: Path, data: dict[str, Any], paths: tuple[Path, Path, Path], jobs: int, overwrite: bool) -> None:
    """``segtool compare --report``: the comparison page, thumbnails of the images that
    changed most under A and under B (none when an input is stdin)."""
    from ..report import Source, write
    from ..report.compare import build_compare

    gt, pred_a, pred_b = paths
    named = inputs.STDIN not in {str(p) for p in paths}
    source = Source(Path(gt), Path(pred_a), {}, None, jobs or 1) if named else None
    write(path, build_compare(data, source, Path(pred_b) if named else None), overwrite=overwrite)
    output.note(f"report written to {path}")
