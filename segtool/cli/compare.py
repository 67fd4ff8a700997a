"""``segtool compare GT PRED_A PRED_B``: two predictions side by side, every headline metric
with its delta and a paired bootstrap confidence interval, per-class deltas, the images
that changed most, and a regression gate for CI (docs/compare.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..compare import TASKS, Comparison, check_gates, compare
from ..errors import EXIT_FINDINGS, SegtoolError
from . import eval_report, main, output
from .options import jobs_option, json_option, overwrite_option, quiet_option
from .progress import steps


def _gates(values: tuple[str, ...]) -> list[tuple[str, float]]:
    """``METRIC=TOLERANCE`` pairs (a tolerance is a fraction >= 0), refused as a usage error."""
    out = []
    for v in values:
        name, sep, tol = v.partition("=")
        try:
            value = float(tol)
        except ValueError:
            value = float("nan")
        if not sep or not name or not value >= 0:
            raise click.BadParameter(
                f"{v!r}: expected METRIC=TOLERANCE, a tolerance >= 0", param_hint="--fail-if-worse"
            )
        out.append((name, value))
    return out


def _names(value: str) -> tuple[str, str]:
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise click.BadParameter(f"{value!r}: expected two names, A,B", param_hint="--names")
    return parts[0], parts[1]


def _task(gt: Path, pred: Path) -> str:
    """panoptic, instance or semantic, from the inputs: a folder of labels is semantic; a
    COCO panoptic ground truth panoptic unless the prediction is a results list; the rest
    instance. An input no reader takes is named by the evaluation, later."""
    if gt.is_dir():
        return "semantic"
    try:
        panoptic = formats.detect(gt) == "coco-panoptic"
        results = formats.detect_predictions(pred) == "coco-results"
    except SegtoolError:
        return "instance"
    return "panoptic" if panoptic and not results else "instance"


@main.command(name="compare")
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred_a", type=click.Path(path_type=Path))
@click.argument("pred_b", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(TASKS), help="What is scored (default: found from the inputs).")
@click.option(
    "--bootstrap",
    "samples",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Bootstrap samples (0: none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap draws.")
@click.option(
    "--level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level of the percentile interval.",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Images listed, largest change of the per-image metric first.",
)
@click.option("--names", default="A,B", show_default=True, help="Names of the two predictions, A,B.")
@click.option(
    "--fail-if-worse",
    multiple=True,
    metavar="METRIC=TOLERANCE",
    help="Exit 1 when B's METRIC is below A's by more than TOLERANCE (repeatable).",
)
@click.option(
    "--report",
    "report_out",
    type=click.Path(path_type=Path),
    metavar="FILE.html",
    help="Also write a self-contained HTML report: deltas, per-class bars, the changed images (docs/report.md).",
)
@jobs_option
@overwrite_option
@json_option
@quiet_option
def compare_command(
    gt: Path,
    pred_a: Path,
    pred_b: Path,
    task: str | None,
    samples: int,
    seed: int,
    level: float,
    top: int,
    names: str,
    fail_if_worse: tuple[str, ...],
    jobs: int,
    overwrite: bool,
    json_out: str | None,
    report_out: Path | None,
) -> None:
    """Compare predictions A (the baseline) and B against one ground truth: each headline
    metric of A and B, the delta B - A with a paired bootstrap percentile interval over the
    images, per-class deltas and the images whose metric changed most.

    \b
    Example:
      segtool compare gt.json baseline.json candidate.json --names base,new --fail-if-worse PQ=0.005
    """
    gates = _gates(fail_if_worse)
    pair = _names(names)
    sources = [p for path in (gt, pred_a, pred_b) for p in dataset_inputs(path)]  # a JSON's PNG folder too
    output.check_outputs(json_out, report_out, inputs=sources, overwrite=overwrite)
    task = task or _task(gt, pred_a)
    check_gates(task, gates)  # before anything is scored
    with steps(f"comparing ({task})") as progress:
        result = compare(
            task,
            gt,
            pred_a,
            pred_b,
            samples=samples,
            seed=seed,
            level=level,
            top=top,
            names=pair,
            jobs=jobs,
            progress=progress,
        )
    failed = result.regressions(gates)
    data = result.to_dict()
    if json_out:
        output.emit_json(data, json_out, overwrite=overwrite)
    if report_out:
        eval_report.write_compare(report_out, data, (gt, pred_a, pred_b), jobs, overwrite)
    if json_out != "-":
        _print(result, data)
    for verdict in failed:
        click.echo(f"regression: {verdict}", err=True)
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _print(result: Comparison, data: dict[str, Any]) -> None:
    """The metrics table, then the images that changed most (out.quiet drops both with -q)."""
    a, b = result.names
    ci_head = f"{result.level:.0%} CI" if result.samples else "CI"
    t = output.SafeTable(title=f"{result.task}: {b} vs {a}, {result.samples} bootstrap samples")
    for head in ("metric", a, b, "delta", ci_head):
        t.add_column(output.shown(head))
    for name, m in data["metrics"].items():
        t.add_row(name, _f(m["a"]), _f(m["b"]), _f(m["delta"], True), _ci(m["ci"]))
    output.out.print(t)
    if data["images"]:
        t = output.SafeTable(title=f"images that changed most ({data['images'][0]['metric']})")
        for head in ("image", a, b, "delta"):
            t.add_column(output.shown(head))
        for r in data["images"]:
            t.add_row(str(r["image_id"]), _f(r["a"]), _f(r["b"]), _f(r["delta"], True))
        output.out.print(t)


def _f(v: float | None, signed: bool = False) -> str:
    return "-" if v is None else (f"{v:+.4f}" if signed else f"{v:.4f}")


def _ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"
