"""``segtool eval``: score predictions against ground truth (panoptic, instance, semantic),
with a quality gate for CI."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..atomic import dataset_inputs
from ..errors import EXIT_FINDINGS, OverlapError
from ..evaluate import evaluate_instance, evaluate_panoptic, evaluate_semantic
from ..metrics.instance_result import STAT_NAMES, Params
from ..parallel import warm_up
from . import main, output
from .options import FORMAT, F, jobs_option, json_option, overwrite_option

PANOPTIC_GATES = {
    f"{m}{suffix}": (group, m.lower())
    for m in ("PQ", "SQ", "RQ")
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff"))
}
SEMANTIC_GATES = ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy")


@main.group(name="eval")
def eval_group() -> None:
    """Score predictions against ground truth.

    \b
    Example:
      segtool eval panoptic panoptic_val2017.json predictions.json --per-class
    """


def report_options(gates: Any) -> Callable[[F], F]:
    """The output options every ``eval`` command shares: --per-class, --csv, --fail-under
    (with that command's metric names), --jobs, --json."""

    def decorate(fn: F) -> F:
        fn = json_option(fn)
        fn = overwrite_option(fn)
        fn = jobs_option(fn)
        fn = click.option(
            "--fail-under",
            multiple=True,
            metavar="METRIC=VALUE",
            help=f"Exit 1 when METRIC < VALUE (repeatable); METRIC: {', '.join(gates)}.",
        )(fn)
        fn = click.option(
            "--csv", "csv_out", type=click.Path(path_type=Path), help="Write per-category results to this CSV file."
        )(fn)
        return click.option("--per-class", is_flag=True, help="Also print a table per category.")(fn)

    return decorate


def _parse_gates(values: tuple[str, ...], known: Any) -> list[tuple[str, float]]:
    gates = []
    for v in values:
        name, sep, number = v.partition("=")
        key = next((k for k in known if k.lower() == name.strip().lower()), None)
        try:
            threshold = float(number)
        except ValueError:
            threshold = None
        if not sep or key is None or threshold is None:
            raise click.BadParameter(
                f"{v!r}: expected METRIC=VALUE with METRIC one of {', '.join(known)}", param_hint="--fail-under"
            )
        gates.append((key, threshold))
    return gates


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["category_id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@eval_group.command()
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@click.option(
    "--gt-masks", type=click.Path(path_type=Path), help="Ground-truth PNG folder (default: GT's sibling folder)."
)
@click.option(
    "--pred-masks", type=click.Path(path_type=Path), help="Prediction PNG folder (default: PRED's sibling folder)."
)
@click.option(
    "--allow-missing", is_flag=True, help="Count ground-truth images without a prediction as all false negatives."
)
@report_options(PANOPTIC_GATES)
def panoptic(
    gt: Path,
    pred: Path,
    gt_masks: Path | None,
    pred_masks: Path | None,
    allow_missing: bool,
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """PQ, SQ and RQ of the COCO panoptic predictions PRED against GT, exactly as panopticapi.

    GT and PRED are COCO panoptic JSONs with their PNGs in the sibling folders named by
    their stems. PRED may hold only "annotations" (images and categories come from GT).

    \b
    Example:
      segtool eval panoptic panoptic_val2017.json predictions.json --per-class
      segtool eval panoptic gt.json pred.json --json results.json --fail-under PQ=0.45
    """
    gates = _parse_gates(fail_under, PANOPTIC_GATES)
    inputs = [*dataset_inputs(gt, gt_masks), *dataset_inputs(pred, pred_masks)]
    output.check_outputs(json_out, csv_out, inputs=inputs, overwrite=overwrite)
    warm_up(jobs)
    with output.progress("PQ", None) as advance:
        result = evaluate_panoptic(
            gt, pred, gt_masks=gt_masks, pred_masks=pred_masks, allow_missing=allow_missing, jobs=jobs, progress=advance
        )
    data = result.to_dict()
    _emit(data, json_out, csv_out, overwrite)
    if json_out != "-":
        _print_panoptic(data, per_class)
    _check_gates(gates, {k: data[g][m] for k, (g, m) in PANOPTIC_GATES.items()})


def _check_gates(gates: list[tuple[str, float]], values: dict[str, float]) -> None:
    """Exit 1, naming each failed gate on stderr, when a metric is below its threshold."""
    failed = [(k, t, values[k]) for k, t in gates if values[k] < t]
    for k, t, v in failed:
        output.err.print(f"quality gate failed: {k} = {v:.6f} < {t}")
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _emit(data: dict[str, Any], json_out: str | None, csv_out: Path | None, overwrite: bool) -> None:
    if json_out:
        output.emit_json(data, json_out, overwrite=overwrite)
    if csv_out:
        rows = [{"category_id": cid, **rec} for cid, rec in data["per_class"].items()]
        output.write_text(csv_out, _csv_text(rows), overwrite=overwrite)


@eval_group.command()
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@click.option("--from", "from_", type=FORMAT, help="Ground-truth format (detected when omitted).")
@click.option(
    "--categories", type=click.Path(path_type=Path), help="categories.json for a ground-truth folder that has none."
)
@click.option(
    "--ignore-value",
    type=click.IntRange(0, 65535),
    default=255,
    show_default=True,
    help="Label of void pixels: left out of the ground truth, 'unlabelled' in predictions.",
)
@click.option("--allow-missing", is_flag=True, help="Count ground-truth images without a prediction as all unlabelled.")
@report_options(SEMANTIC_GATES)
def semantic(
    gt: Path,
    pred: Path,
    from_: str | None,
    categories: Path | None,
    ignore_value: int,
    allow_missing: bool,
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Pixel accuracy, mean class accuracy, IoU per class, mIoU and fwIoU of PRED against GT.

    GT is a semantic folder (label PNGs + categories.json) or any dataset segtool reads,
    seen as a label map. PRED is a folder of label PNGs named like the ground-truth images
    (categories.json optional). Classes absent from both ground truth and prediction are
    left out of the means.

    \b
    Example:
      segtool eval semantic labels/val predictions/ --per-class
      segtool eval semantic gt/ pred/ --ignore-value 255 --fail-under mIoU=0.7 --json
    """
    gates = _parse_gates(fail_under, SEMANTIC_GATES)
    inputs = [*dataset_inputs(gt), *dataset_inputs(pred), *dataset_inputs(categories)]
    output.check_outputs(json_out, csv_out, inputs=inputs, overwrite=overwrite)
    warm_up(jobs)
    with output.progress("confusion", None) as advance:
        try:
            result = evaluate_semantic(
                gt,
                pred,
                gt_format=from_,
                categories=categories,
                ignore_value=ignore_value,
                allow_missing=allow_missing,
                jobs=jobs,
                progress=advance,
            )
        except OverlapError as exc:  # eval has no --overlap: say how to get label maps
            raise OverlapError(
                f"{exc.message}: convert the ground truth first (segtool convert GT LABELS --to semantic --overlap POLICY)",
                exc.path,
            ) from None
    data = result.to_dict()
    _emit(data, json_out, csv_out, overwrite)
    if json_out != "-":
        _print_semantic(data, per_class)
    _check_gates(gates, {k: data[k] for k in SEMANTIC_GATES})


@eval_group.command()
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@click.option(
    "--iou-type", type=click.Choice(["segm", "bbox"]), default="segm", show_default=True, help="Masks or boxes."
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
@report_options(STAT_NAMES)
def instance(
    gt: Path,
    pred: Path,
    iou_type: str,
    max_dets: str,
    area_ranges: str,
    from_: str | None,
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """COCO AP and AR of the detections PRED against GT: the 12 numbers of pycocotools' COCOeval.

    GT is a COCO instance JSON (or any dataset segtool reads); PRED is a COCO results list
    ({image_id, category_id, segmentation and/or bbox, score}). Same semantics as COCOeval:
    crowd, area ranges (from GT "area"), maxDets 1/10/100, 101-point interpolation, score
    ties in file order.

    \b
    Example:
      segtool eval instance instances_val2017.json segm_results.json --per-class
      segtool eval instance gt.json dets.json --iou-type bbox --fail-under AP=0.35 --json
    """
    gates = _parse_gates(fail_under, STAT_NAMES)
    params = _instance_params(iou_type, max_dets, area_ranges)
    inputs = [*dataset_inputs(gt), *dataset_inputs(pred)]
    output.check_outputs(json_out, csv_out, inputs=inputs, overwrite=overwrite)
    warm_up(jobs)
    with output.progress("AP", None) as advance:
        result = evaluate_instance(gt, pred, params=params, gt_format=from_, jobs=jobs, progress=advance)
    data = result.to_dict()
    _emit(data, json_out, csv_out, overwrite)
    if json_out != "-":
        _print_instance(data, per_class)
    _check_gates(gates, {k: data[k] for k in STAT_NAMES})


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


def _print_instance(data: dict[str, Any], per_class: bool) -> None:
    labels = [
        "AP @[IoU=0.50:0.95 | area=all | maxDets=100]",
        "AP @[IoU=0.50      | area=all | maxDets=100]",
        "AP @[IoU=0.75      | area=all | maxDets=100]",
        "AP @[IoU=0.50:0.95 | area=small | maxDets=100]",
        "AP @[IoU=0.50:0.95 | area=medium | maxDets=100]",
        "AP @[IoU=0.50:0.95 | area=large | maxDets=100]",
        "AR @[IoU=0.50:0.95 | area=all | maxDets=1]",
        "AR @[IoU=0.50:0.95 | area=all | maxDets=10]",
        "AR @[IoU=0.50:0.95 | area=all | maxDets=100]",
        "AR @[IoU=0.50:0.95 | area=small | maxDets=100]",
        "AR @[IoU=0.50:0.95 | area=medium | maxDets=100]",
        "AR @[IoU=0.50:0.95 | area=large | maxDets=100]",
    ]
    table = output.SafeTable(f"COCO {data['iou_type']} evaluation · {data['images']} images")
    for col in ("metric", "", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for name, label, value in zip(STAT_NAMES, labels, data["stats"], strict=True):
        table.add_row(name, label, f"{value:.3f}")
    output.out.print(table)
    if not per_class:
        return
    table = output.SafeTable("AP per category")
    for col in ("id", "name", "AP"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for cid, r in data["per_class"].items():
        if r["AP"] is not None:
            table.add_row(str(cid), r["name"], f"{100 * r['AP']:.2f}")
    output.out.print(table)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f}"


def _print_semantic(data: dict[str, Any], per_class: bool) -> None:
    rows = [
        ("mIoU", f"{_pct(data['mIoU'])}  (over {data['classes_averaged']} classes)"),
        ("fwIoU", _pct(data["fwIoU"])),
        ("pixel accuracy", _pct(data["pixel_accuracy"])),
        ("mean class accuracy", _pct(data["mean_accuracy"])),
    ]
    output.out.print(output.key_value_table(f"semantic segmentation · {data['images']} images", rows))
    if data["missing_predictions"]:
        output.err.print(f"{data['missing_predictions']} image(s) had no prediction and count as unlabelled")
    if not per_class:
        return
    table = output.SafeTable("per category")
    for col in ("id", "name", "IoU", "accuracy", "GT px", "pred px"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for cid, r in data["per_class"].items():
        if r["iou"] is None:
            continue
        table.add_row(
            str(cid), r["name"], _pct(r["iou"]), _pct(r["accuracy"]), str(r["gt_pixels"]), str(r["pred_pixels"])
        )
    output.out.print(table)


def _print_panoptic(data: dict[str, Any], per_class: bool) -> None:
    table = output.SafeTable(f"panoptic quality · {data['images']} images")
    for col in ("", "PQ", "SQ", "RQ", "N"):
        table.add_column(col, justify="left" if not col else "right")
    for group in ("All", "Things", "Stuff"):
        r = data[group]
        table.add_row(group, f"{100 * r['pq']:.2f}", f"{100 * r['sq']:.2f}", f"{100 * r['rq']:.2f}", str(r["n"]))
    output.out.print(table)
    if data["missing_predictions"]:
        output.err.print(f"{data['missing_predictions']} image(s) had no prediction and count as all false negatives")
    if not per_class:
        return
    table = output.SafeTable("per category")
    for col in ("id", "name", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for cid, r in data["per_class"].items():
        if r["tp"] + r["fp"] + r["fn"] == 0:
            continue
        table.add_row(
            str(cid),
            r["name"],
            "thing" if r["isthing"] else "stuff",
            f"{100 * r['pq']:.2f}",
            f"{100 * r['sq']:.2f}",
            f"{100 * r['rq']:.2f}",
            str(r["tp"]),
            str(r["fp"]),
            str(r["fn"]),
        )
    output.out.print(table)
