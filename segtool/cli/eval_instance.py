"""``segtool eval instance``: COCO AP and AR of detections (pycocotools' COCOeval numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..evaluate import evaluate_instance
from ..metrics.instance_result import STAT_NAMES, Params
from ..parallel import warm_up
from . import inputs, output
from .eval import _parse_gates, _report, eval_group, report_options
from .options import FORMAT, check_reading, reading_options
from .progress import steps


@eval_group.command()
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@click.option(
    "--iou-type",
    type=click.Choice(["segm", "bbox", "boundary"]),
    default="segm",
    show_default=True,
    help="Masks, boxes, or Boundary AP (IoU = min(mask IoU, Boundary IoU), as faster-coco-eval).",
)
@click.option(
    "--dilation-ratio",
    type=float,
    default=None,
    metavar="R",
    help="Boundary AP: boundary width as a fraction of the image diagonal (default 0.02).",
)
@click.option(
    "--max-dets",
    default="1,10,100",
    show_default=True,
    metavar="A,B,C",
    help="COCOeval's maxDets: three increasing detection limits per image (AR uses each, AP the last).",
)
@click.option(
    "--area-ranges",
    default="0,1024,9216,1e10",
    show_default=True,
    metavar="A,B,C,D",
    help="Bounds of the small / medium / large ranges in pixels (COCO: 0, 32², 96², 1e5²).",
)
@click.option("--from", "from_", type=FORMAT, help="Ground-truth format (detected when omitted).")
@reading_options
@report_options(STAT_NAMES)
def instance(
    gt: Path,
    pred: Path,
    iou_type: str,
    dilation_ratio: float | None,
    max_dets: str,
    area_ranges: str,
    from_: str | None,
    reading: dict[str, Any],
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    fmt: str,
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """COCO AP and AR of the detections PRED against GT: the 12 numbers of pycocotools' COCOeval.

    GT is a COCO instance JSON (or any dataset segtool reads); PRED is a COCO results list
    ({image_id, category_id, segmentation and/or bbox, score}); either may be - (stdin).
    Same semantics as COCOeval:
    crowd, area ranges (from GT "area"), maxDets 1/10/100, 101-point interpolation, score
    ties in file order.

    \b
    Example:
      segtool eval instance instances_val2017.json segm_results.json --per-class
      segtool eval instance gt.json dets.json --iou-type bbox --fail-under AP=0.35 --json
      segtool eval instance gt.json dets.json --iou-type boundary
    """
    gates = _parse_gates(fail_under, STAT_NAMES)
    params = _instance_params(iou_type, max_dets, area_ranges)
    ctx = click.get_current_context()
    gt, pred = inputs.single(ctx, gt).path, inputs.single(ctx, pred).path
    sources = [*dataset_inputs(gt), *dataset_inputs(pred), *dataset_inputs(reading.get("labels"))]
    output.check_outputs(json_out, csv_out, inputs=sources, overwrite=overwrite)
    if reading:
        check_reading(from_ or formats.detect(gt), reading)
    warm_up(jobs)
    with steps("eval instance") as advance:
        result = evaluate_instance(
            gt,
            pred,
            params=params,
            dilation_ratio=dilation_ratio,
            gt_format=from_,
            read_options=reading,
            jobs=jobs,
            progress=advance,
        )
    data = result.to_dict()
    outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
    _report("eval instance", data, {k: data[k] for k in STAT_NAMES}, gates, outputs)


def _instance_params(iou_type: str, max_dets: str, area_ranges: str) -> Params:
    """COCOeval params from the CLI strings (bad values are a usage error, exit 2)."""
    try:
        dets = tuple(int(v) for v in max_dets.split(","))
        bounds = [float(v) for v in area_ranges.split(",")]
    except ValueError:
        raise click.BadParameter("expected comma-separated numbers", param_hint="--max-dets/--area-ranges") from None
    if len(dets) != 3 or list(dets) != sorted(dets) or dets[0] < 1:
        raise click.BadParameter("three increasing positive integers, e.g. 1,10,100", param_hint="--max-dets")
    if len(bounds) != 4 or bounds != sorted(bounds):
        raise click.BadParameter("four increasing bounds, e.g. 0,1024,9216,1e10", param_hint="--area-ranges")
    rng = ((bounds[0], bounds[3]), (bounds[0], bounds[1]), (bounds[1], bounds[2]), (bounds[2], bounds[3]))
    return Params(iou_type=iou_type, max_dets=dets, area_rng=rng)
