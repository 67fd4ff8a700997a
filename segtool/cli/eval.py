"""``segtool eval``: score predictions against ground truth (panoptic, instance, semantic),
with a quality gate for CI."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..errors import EXIT_FINDINGS, SegtoolError
from ..evaluate import evaluate_panoptic
from ..metrics.pq_confusion import csv_text as confusion_csv_text
from ..metrics.pq_errors import PQAnalyses
from ..metrics.shard import Shard
from ..parallel import warm_up
from . import ci_formats, eval_report, eval_tables, inputs, main, output
from .options import (
    F,
    check_reading,
    format_option,
    jobs_option,
    json_option,
    overwrite_option,
    quiet_option,
    reading_options,
)
from .progress import steps

PANOPTIC_GATES = {
    f"{m}{suffix}": (group, m.lower())
    for m in ("PQ", "SQ", "RQ")
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff"))
}
SEMANTIC_GATES = ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy", "boundary_mIoU")


@main.group(name="eval")
def eval_group() -> None:
    """Score predictions against ground truth.

    \b
    Example:
      segtool eval panoptic panoptic_val2017.json predictions.json --per-class
    """


def report_options(gates: Any) -> Callable[[F], F]:
    """The output options every ``eval`` command shares: --per-class, --csv, --fail-under
    (with that command's metric names), --format, --jobs, --json, -q, --per-image and
    --slices (docs/metrics/per-image.md), --report (docs/report.md)."""

    def decorate(fn: F) -> F:
        fn = eval_report.option(fn)
        fn = click.option(
            "--slices",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help="A JSON of slice name -> image ids: every metric per slice as well as overall.",
        )(fn)
        fn = click.option(
            "--per-image", is_flag=True, help="Add a row per ground-truth image to --json (per_image) and --csv."
        )(fn)
        fn = quiet_option(fn)
        fn = json_option(fn)
        fn = overwrite_option(fn)
        fn = jobs_option(fn)
        fn = format_option(
            {"table": "tables for people", "github": "GitHub Actions: an error per failed gate, a summary notice"}
        )(fn)
        fn = click.option(
            "--fail-under",
            multiple=True,
            metavar="METRIC=VALUE",
            help=f"Exit 1 when METRIC < VALUE (repeatable); VALUE is a fraction, 0 to 1; METRIC: {', '.join(gates)}.",
        )(fn)
        fn = click.option(
            "--csv", "csv_out", type=click.Path(path_type=Path), help="Write per-category results to this CSV file."
        )(fn)
        return click.option("--per-class", is_flag=True, help="Also print a table per category.")(fn)

    return decorate


def shard_options(fn: F) -> F:
    """``--shard I/N`` and ``--partial FILE`` (docs/metrics/partials.md): the command
    receives them as one ``sharding`` dict for the evaluation (only those given). A bad
    spec is one line, exit 2; FILE is checked as every output is (not an input, not
    another output, ``--overwrite`` to replace it) before any work starts."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {"shard": kwargs.pop("shard"), "partial": kwargs.pop("partial_out")}
        sharding = {k: v for k, v in given.items() if v is not None}
        if sharding.get("shard") is not None:
            Shard.parse(sharding["shard"])
        if sharding and kwargs.get("protocol") not in (None, "coco"):
            raise SegtoolError(f"--shard and --partial score COCO's protocol, not {kwargs['protocol']}'s")
        if "partial" in sharding:
            sources = [*dataset_inputs(_named(kwargs.get("gt"))), *dataset_inputs(_named(kwargs.get("pred")))]
            reports = (kwargs.get("json_out"), kwargs.get("csv_out"), sharding["partial"])
            output.check_outputs(*reports, inputs=sources, overwrite=kwargs.get("overwrite", False))
        kwargs["sharding"] = sharding
        out = fn(*args, **kwargs)
        if "partial" in sharding:
            output.note(f"partial statistics written to {sharding['partial']}: segtool eval merge adds up the shards")
        return out

    decorated: Any = click.option(
        "--partial",
        "partial_out",
        type=click.Path(path_type=Path),
        metavar="FILE",
        help="Write this run's partial statistics to FILE (.npz), for segtool eval merge.",
    )(wrapper)
    return click.option(  # type: ignore[no-any-return]
        "--shard",
        metavar="I/N",
        help="Score shard I of N only: the images whose id hashes to I-1 modulo N (docs/metrics/partials.md).",
    )(decorated)


def _named(value: Any) -> Path | None:
    """A dataset argument as a path (None for stdin, which no output can clash with)."""
    return None if value is None or str(value) == inputs.STDIN else Path(value)


def _parse_gates(values: tuple[str, ...], known: Any) -> list[tuple[str, float]]:
    """``METRIC=VALUE`` pairs. Every metric is a fraction from 0 to 1 (shown so in the
    tables): a VALUE above 1 can only be a percentage, and is refused with the fraction it
    likely meant, since comparing 0.59 against 50 would fail every run."""
    gates = []
    for v in values:
        name, sep, number = v.partition("=")
        key = next((k for k in known if k.lower() == name.strip().lower()), None)
        try:
            threshold = float(number)
        except ValueError:
            threshold = None
        if not sep or key is None or threshold is None or threshold != threshold:
            raise click.BadParameter(
                f"{v!r}: expected METRIC=VALUE with METRIC one of {', '.join(known)}", param_hint="--fail-under"
            )
        if threshold > 1:
            raise click.BadParameter(
                f"{v!r}: metrics are fractions from 0 to 1, as the tables and --json show them; "
                f"for {threshold:g}% write {key}={threshold / 100:g}",
                param_hint="--fail-under",
            )
        if threshold < 0:
            raise click.BadParameter(f"{v!r}: metrics are fractions from 0 to 1", param_hint="--fail-under")
        gates.append((key, threshold))
    return gates


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    names = list(dict.fromkeys(k for r in rows for k in r)) or ["category_id"]  # every row's columns, in order
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
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
@click.option(
    "--boundary", is_flag=True, help="Boundary PQ: matching and SQ on min(mask IoU, Boundary IoU) (Cheng et al. 2021)."
)
@click.option(
    "--dilation-ratio",
    type=float,
    default=None,
    metavar="R",
    help="With --boundary: boundary width as a fraction of the image diagonal (default 0.02).",
)
@click.option(
    "--errors", is_flag=True, help="A cause for every unmatched segment and the PQ gained by fixing each kind."
)
@click.option("--confusion", is_flag=True, help="The segment-level confusion matrix, with background, in --json.")
@click.option(
    "--confusion-csv",
    type=click.Path(path_type=Path),
    help="Write the confusion matrix to this CSV file (implies --confusion).",
)
@reading_options
@shard_options
@report_options(PANOPTIC_GATES)
def panoptic(
    gt: Path,
    pred: Path,
    gt_masks: Path | None,
    pred_masks: Path | None,
    per_image: bool,
    slices: Path | None,
    allow_missing: bool,
    boundary: bool,
    dilation_ratio: float | None,
    errors: bool,
    confusion: bool,
    confusion_csv: Path | None,
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
    """PQ, SQ and RQ of the COCO panoptic predictions PRED against GT, exactly as panopticapi.

    GT and PRED are COCO panoptic JSONs with their PNGs in the sibling folders named by
    their stems. PRED may hold only "annotations" (images and categories come from GT).
    Either may be - (a JSON on stdin), with its PNG folder named by --gt-masks/--pred-masks.

    \b
    Example:
      segtool eval panoptic panoptic_val2017.json predictions.json --per-class
      segtool eval panoptic gt.json pred.json --json results.json --fail-under PQ=0.45
      segtool eval panoptic gt.json pred.json --boundary
      segtool eval panoptic gt.json pred.json --errors --confusion-csv confusion.csv
    """
    gates = _parse_gates(fail_under, PANOPTIC_GATES)
    ctx = click.get_current_context()
    for value, masks, option in ((gt, gt_masks, "--gt-masks"), (pred, pred_masks, "--pred-masks")):
        if str(value) == inputs.STDIN and masks is None:
            inputs.refuse_stdin(
                value, f"a panoptic JSON from stdin has no PNG folder beside it; name it with {option} DIR"
            )
    gt, pred = inputs.single(ctx, gt).path, inputs.single(ctx, pred).path
    sources = [*dataset_inputs(gt, gt_masks), *dataset_inputs(pred, pred_masks), *dataset_inputs(reading.get("labels"))]
    output.check_outputs(json_out, csv_out, confusion_csv, inputs=sources, overwrite=overwrite)
    analyses = PQAnalyses(errors, confusion or confusion_csv is not None)
    if reading:
        check_reading("coco-panoptic" if gt.suffix.lower() == ".json" else formats.detect(gt), reading)
    warm_up(jobs)
    with steps("eval panoptic") as advance:
        result = evaluate_panoptic(
            gt,
            pred,
            gt_masks=gt_masks,
            pred_masks=pred_masks,
            allow_missing=allow_missing,
            read_options=reading,
            **sharding,
            jobs=jobs,
            progress=advance,
            boundary=boundary,
            dilation_ratio=dilation_ratio,
            per_image=per_image,
            slices=slices,
            analyses=analyses or None,
        )
    data = result.to_dict()
    data.update(analyses.to_dict(result) if analyses else {})
    if confusion_csv:
        output.write_text(confusion_csv, confusion_csv_text(data["confusion"]), overwrite=overwrite)
    values = {k: data[g][m] for k, (g, m) in PANOPTIC_GATES.items()}
    outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
    _report("eval panoptic", data, values, gates, outputs)


def _failed_gates(gates: list[tuple[str, float]], values: dict[str, float | None]) -> list[str]:
    """A one-line verdict per gate not met; an undefined metric (no class to average)
    meets none."""
    failed = []
    for k, t in gates:
        v = values[k]
        if v is None or v < t:
            shown = "undefined" if v is None else f"{v:.6f}"
            failed.append(f"quality gate failed: {k} = {shown} < {t}")
    return failed


def _report(
    command: str,
    data: dict[str, Any],
    values: dict[str, float | None],
    gates: list[tuple[str, float]],
    outputs: dict[str, Any],
) -> None:
    """Write the results (``outputs``: json_out, csv_out, overwrite, per_class, fmt) and
    exit 1 when a gate fails: --json and --csv as asked, then a table or GitHub
    annotations (on stderr when --json holds stdout)."""
    json_out, fmt = outputs["json_out"], outputs["fmt"]
    data = eval_report.finish(command, data)
    _emit(data, json_out, outputs["csv_out"], outputs["overwrite"])
    failed = _failed_gates(gates, values)
    if fmt == "github":
        text = ci_formats.github_eval(command, eval_tables.headline(command, data), failed)
        click.echo(text, nl=False, err=json_out == "-")
    else:
        if json_out != "-":
            PRINTERS[command](data, outputs["per_class"])
            for name, part in data.get("slices", {}).items():  # a name from a file: shown, never markup
                output.out.print(output.shown(f"slice {name}: {eval_tables.headline(command, part)}"), soft_wrap=True)
        if "per_image" in data and not json_out and not outputs["csv_out"]:
            output.note("--per-image: the rows are written by --json and --csv")
        for verdict in failed:
            click.echo(verdict, err=True)
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _emit(data: dict[str, Any], json_out: str | None, csv_out: Path | None, overwrite: bool) -> None:
    if json_out:
        output.emit_json(data, json_out, overwrite=overwrite)
    if csv_out:
        output.write_text(csv_out, _csv_text(csv_rows(data)), overwrite=overwrite)


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV's rows: one per category; with --per-image or --slices, each row led by
    ``row`` (``category`` or ``image``) and ``slice`` (the slice of a category row, empty
    overall), then every slice's category rows and the per-image rows."""
    rows = [{"category_id": cid, **rec} for cid, rec in data["per_class"].items()]
    if "per_image" not in data and "slices" not in data:
        return rows
    out = [{"row": "category", "slice": "", **r} for r in rows]
    for name, part in data.get("slices", {}).items():
        out += [{"row": "category", "slice": name, "category_id": cid, **rec} for cid, rec in part["per_class"].items()]
    out += [{"row": "image", "slice": "", **r} for r in data.get("per_image", [])]
    return out


PRINTERS: dict[str, Callable[[dict[str, Any], bool], None]] = {
    "eval panoptic": eval_tables.print_panoptic,
    "eval instance": eval_tables.print_instance,
    "eval semantic": eval_tables.print_semantic,
}
