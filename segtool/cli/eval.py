"""``segtool eval``: score predictions against ground truth (panoptic now; instance and
semantic follow), with a quality gate for CI."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..errors import EXIT_FINDINGS
from ..evaluate import evaluate_panoptic
from ..parallel import warm_up
from . import main, output
from .options import jobs_option, json_option

PANOPTIC_GATES = {
    f"{m}{suffix}": (group, m.lower())
    for m in ("PQ", "SQ", "RQ")
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff"))
}


@main.group(name="eval")
def eval_group() -> None:
    """Score predictions against ground truth.

    \b
    Example:
      segtool eval panoptic panoptic_val2017.json predictions.json --per-class
    """


def _parse_gates(values: tuple[str, ...], known: dict[str, Any]) -> list[tuple[str, float]]:
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
@click.option("--per-class", is_flag=True, help="Also print a table per category.")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path), help="Write per-category results to this CSV file.")
@click.option(
    "--fail-under",
    multiple=True,
    metavar="METRIC=VALUE",
    help=f"Exit 1 when METRIC < VALUE (repeatable); METRIC: {', '.join(PANOPTIC_GATES)}.",
)
@jobs_option
@json_option
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
    warm_up(jobs)
    with output.progress("PQ", 0) as advance:
        result = evaluate_panoptic(
            gt, pred, gt_masks=gt_masks, pred_masks=pred_masks, allow_missing=allow_missing, jobs=jobs, progress=advance
        )
    data = result.to_dict()
    if json_out:
        output.emit_json(data, json_out)
    if csv_out:
        rows = [{"category_id": cid, **rec} for cid, rec in data["per_class"].items()]
        output.write_text(csv_out, _csv_text(rows))
    if json_out != "-":
        _print_panoptic(data, per_class)
    failed = [(k, t, data[PANOPTIC_GATES[k][0]][PANOPTIC_GATES[k][1]]) for k, t in gates]
    failed = [(k, t, v) for k, t, v in failed if v < t]
    for k, t, v in failed:
        output.err.print(f"quality gate failed: {k} = {v:.6f} < {t}")
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _print_panoptic(data: dict[str, Any], per_class: bool) -> None:
    table = Table(title=f"panoptic quality · {data['images']} images", title_justify="left")
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
    table = Table(title="per category", title_justify="left")
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
