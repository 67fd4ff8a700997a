"""``segtool eval instance``: COCO AP and AR of detections (pycocotools' COCOeval numbers)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..errors import EXIT_FINDINGS
from ..evaluate import evaluate_instance
from ..metrics import lvis as lvis_metric
from ..metrics.analyses import Analyses
from ..metrics.confusion import csv_text as confusion_csv_text
from ..metrics.instance_result import STAT_NAMES, Params
from ..parallel import warm_up
from . import ci_formats, eval_report, inputs, output
from .eval import _emit, _failed_gates, _parse_gates, _report, eval_group, report_options, shard_options
from .eval_tables import metric
from .options import FORMAT, check_reading, reading_options
from .progress import steps

GATES = (*STAT_NAMES, *(k for k in lvis_metric.STAT_NAMES if k not in STAT_NAMES))  # COCO's, then LVIS' own


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
@click.option(
    "--lvis/--no-lvis",
    "lvis",
    default=None,
    help="LVIS' federated AP (lvis-api's LVISEval); by default when GT's images list neg_category_ids.",
)
@click.option("--img-ids", metavar="ID,...", help="Score these images only (COCOeval's params.imgIds).")
@click.option("--cat-ids", metavar="ID,...", help="Score these categories only (COCOeval's params.catIds).")
@click.option("--class-agnostic", is_flag=True, help="Any detection may match any ground truth (COCOeval's useCats=0).")
@click.option(
    "--tide", is_flag=True, help="TIDE's error decomposition (tidecv's dAP, in AP points) in the table and --json."
)
@click.option("--confusion", is_flag=True, help="The class confusion matrix at IoU 0.5, with background, in --json.")
@click.option(
    "--confusion-score",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    metavar="S",
    help="Detections scored below S are left out of the confusion matrix.",
)
@click.option(
    "--confusion-csv",
    type=click.Path(path_type=Path),
    help="Write the confusion matrix to this CSV file (implies --confusion).",
)
@click.option("--calibration", is_flag=True, help="ECE, MCE and the score bins of a reliability diagram, in --json.")
@click.option(
    "--calibration-bins",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    metavar="N",
    help="Equal-width score bins.",
)
@click.option(
    "--protocol",
    type=click.Choice(["coco", "cityscapes"]),
    default="coco",
    show_default=True,
    help="cityscapes: Cityscapes' instance-level AP and AP50 (evalInstanceLevelSemanticLabeling) of a Cityscapes tree.",
)
@click.option("--from", "from_", type=FORMAT, help="Ground-truth format (detected when omitted).")
@reading_options
@shard_options
@report_options(GATES)
def instance(
    gt: Path,
    pred: Path,
    iou_type: str,
    dilation_ratio: float | None,
    max_dets: str,
    area_ranges: str,
    from_: str | None,
    protocol: str,
    lvis: bool | None,
    img_ids: str | None,
    cat_ids: str | None,
    class_agnostic: bool,
    tide: bool,
    confusion: bool,
    confusion_score: float,
    confusion_csv: Path | None,
    calibration: bool,
    calibration_bins: int,
    per_image: bool,
    slices: Path | None,
    reading: dict[str, Any],
    sharding: dict[str, Any],
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
    ties in file order. An LVIS GT is scored as lvis-api's LVISEval (300 detections per image,
    unverified categories ignored; APr/APc/APf, AR@300).

    \b
    Example:
      segtool eval instance instances_val2017.json segm_results.json --per-class
      segtool eval instance gt.json dets.json --iou-type bbox --fail-under AP=0.35 --json
      segtool eval instance lvis_v1_val.json segm_results.json --fail-under APr=0.2
      segtool eval instance gt.json dets.json --cat-ids 1,3 --img-ids 139,285
      segtool eval instance gt.json dets.json --iou-type boundary
      segtool eval instance gtFine/val results/ --protocol cityscapes --per-class
    """
    gates = _parse_gates(fail_under, GATES)
    params = _instance_params(iou_type, max_dets, area_ranges)
    ctx = click.get_current_context()
    gt, pred = inputs.single(ctx, gt).path, inputs.single(ctx, pred).path
    sources = [*dataset_inputs(gt), *dataset_inputs(pred), *dataset_inputs(reading.get("labels"))]
    output.check_outputs(json_out, csv_out, confusion_csv, inputs=sources, overwrite=overwrite)
    if reading:
        check_reading(from_ or formats.detect(gt), reading)
    if protocol == "cityscapes":
        outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
        _cityscapes(ctx, (gt, pred, from_, reading, jobs), gates, outputs)
        return
    images, categories = _ids(img_ids, "--img-ids", str), _ids(cat_ids, "--cat-ids", None)
    score = partial(evaluate_instance, lvis=lvis, img_ids=images, cat_ids=categories, class_agnostic=class_agnostic)
    score = partial(score, **sharding)
    confusion_at = confusion_score if confusion or confusion_csv else None
    analyses = Analyses(tide, confusion_at, calibration_bins if calibration else None)
    score = partial(score, analyses=analyses or None)
    score = partial(score, per_image=per_image, slices=slices)
    warm_up(jobs)
    with steps("eval instance") as advance:
        result = score(
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
    eval_report.attach(result)
    data.update(analyses.to_dict() if analyses else {})
    if confusion_csv:
        output.write_text(confusion_csv, confusion_csv_text(data["confusion"]), overwrite=overwrite)
    outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
    names = lvis_metric.STAT_NAMES if data.get("lvis") else STAT_NAMES
    other = [k for k, _ in gates if k not in names]
    if other:
        kind = "an LVIS" if data.get("lvis") else "a COCO"
        raise click.BadParameter(
            f"{other[0]} is not a metric of {kind} evaluation: {', '.join(names)}", param_hint="--fail-under"
        )
    if data.get("lvis") and ctx.get_parameter_source("max_dets") == click.core.ParameterSource.COMMANDLINE:
        output.note(f"--max-dets does not apply to LVIS: {lvis_metric.MAX_DETS} detections per image, as lvis-api")
    _report("eval instance", data, {k: data[k] for k in names}, gates, outputs)


COCO_ONLY = (
    *("iou_type", "dilation_ratio", "max_dets", "area_ranges", "lvis", "img_ids", "cat_ids", "class_agnostic"),
    *("tide", "confusion", "confusion_score", "confusion_csv", "calibration", "calibration_bins"),
    *("per_image", "slices"),
)
CITYSCAPES_GATES = ("AP", "AP50")


def _cityscapes(
    ctx: click.Context, args: tuple[Any, ...], gates: list[tuple[str, float]], outputs: dict[str, Any]
) -> None:
    """--protocol cityscapes: the benchmark's AP and AP50, reported as eval's other results
    (COCOeval's options refused: its overlaps, classes and sizes are its own)."""
    for name in COCO_ONLY:
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            hint = "--" + name.replace("_", "-")
            raise click.BadParameter("does not apply to --protocol cityscapes", param_hint=hint)
    other = [k for k, _ in gates if k not in CITYSCAPES_GATES]
    if other:
        msg = f"{other[0]} is not a metric of the Cityscapes protocol: AP, AP50"
        raise click.BadParameter(msg, param_hint="--fail-under")
    gt, pred, from_, reading, jobs = args
    warm_up(jobs)
    with steps("eval instance") as advance:
        result = evaluate_instance(
            gt, pred, protocol="cityscapes", gt_format=from_, read_options=reading, jobs=jobs, progress=advance
        )
    data = result.to_dict()
    json_out = outputs["json_out"]
    _emit(data, json_out, outputs["csv_out"], outputs["overwrite"])
    failed = _failed_gates(gates, {k: data[k] for k in CITYSCAPES_GATES})
    if outputs["fmt"] == "github":
        headline = f"AP {metric(data['AP'])} · AP50 {metric(data['AP50'])} on {data['images']} images"
        click.echo(ci_formats.github_eval("eval instance", headline, failed), nl=False, err=json_out == "-")
    else:
        if json_out != "-":
            _cityscapes_tables(data, outputs["per_class"])
        for verdict in failed:
            click.echo(verdict, err=True)
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _cityscapes_tables(data: dict[str, Any], per_class: bool) -> None:
    """AP and AP50, then (``per_class``) both for each of the 8 classes (— without ground truth)."""
    table = output.SafeTable(f"Cityscapes instance-level evaluation · {data['images']} images")
    for col in ("metric", "", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    table.add_row("AP", "overlaps 0.50:0.95 | objects >= 100 px", metric(data["AP"]))
    table.add_row("AP50", "overlap 0.50 | objects >= 100 px", metric(data["AP50"]))
    output.out.print(table)
    if per_class:
        table = output.SafeTable("AP per class")
        for col in ("id", "name", "AP", "AP50"):
            table.add_column(col, justify="left" if col == "name" else "right")
        for cid, r in data["per_class"].items():
            table.add_row(str(cid), r["name"], metric(r["AP"]), metric(r["AP50"]))
        output.out.print(table)


def _ids(text: str | None, option: str, other: type | None) -> list[Any] | None:
    """Comma-separated ids (integers; for images, another id is taken as a string, which
    segtool's image ids may be); None when the option is not given."""
    if text is None:
        return None
    ids: list[Any] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            ids.append(int(part))
        except ValueError:
            if other is None or not part:
                raise click.BadParameter(
                    f"{part!r} is not an id: expected comma-separated integers", param_hint=option
                ) from None
            ids.append(other(part))
    return ids


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
