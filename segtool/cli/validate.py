"""``segtool validate``: every consistency problem of a dataset, for people and for CI."""

from __future__ import annotations

from pathlib import Path

import click

from .. import formats, validation
from ..atomic import dataset_inputs
from ..checks import CHECKS, CheckOptions
from ..checks.findings import Finding, Report, Severity
from ..errors import EXIT_FINDINGS, FormatError, one_line
from ..fix import FixSummary
from ..parallel import warm_up
from . import main, output
from .options import images_option, jobs_option, json_option, overwrite_option, source_options

SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


def _codes(value: str | None, option: str) -> set[str]:
    codes = {c.strip() for c in (value or "").split(",") if c.strip()}
    unknown = sorted(codes - CHECKS.keys())
    if unknown:
        raise click.BadParameter(f"unknown check code(s) {', '.join(unknown)}; see docs/validate.md", param_hint=option)
    return codes


def _github_data(text: str) -> str:
    """Text escaped for a GitHub workflow command's message: one line (``errors.one_line``),
    then GitHub's own escapes of ``%``, CR and LF (actions/toolkit ``escapeData``), so a name
    cannot end the annotation and start a forged ``::error`` command on a line of its own."""
    return one_line(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    """Text escaped for a workflow command's property (``file=``, ``title=``): the message
    escapes plus ``:`` and ``,``, which end a property (actions/toolkit ``escapeProperty``)."""
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(f: Finding) -> str:
    """One GitHub Actions annotation: ``::error file=F,title=CODE::message (image I, segment S)``."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}[f.severity]
    where = f.where()
    message = f.message + (f" ({where})" if where else "")
    return f"::{level} file={_github_property(f.path)},title={_github_property(f.code)}::{_github_data(message)}"


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@source_options
@images_option("Folder of the photos: check that each image's file exists and has its record's size.")
@click.option("--select", help="Only these check codes (comma-separated).")
@click.option("--ignore", help="Skip these check codes (comma-separated).")
@click.option(
    "--fail-on",
    type=click.Choice(list(SEVERITIES)),
    default="error",
    show_default=True,
    help="Exit 1 on findings at or above this severity.",
)
@click.option(
    "--max-unlabeled",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Flag images whose unlabeled fraction exceeds this as warnings (0: report every image as info).",
)
@click.option(
    "--max-overlap",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="coco-instance: report pairs of instances whose IoU exceeds this (0: any shared pixel).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "github"]),
    default="table",
    show_default=True,
    help="github: one GitHub Actions annotation per finding.",
)
@click.option(
    "--fix",
    "fix_out",
    type=click.Path(path_type=Path),
    help="Write a corrected copy to OUT (coco-panoptic: OUT.json + its PNG folder); the input is never touched.",
)
@overwrite_option
@click.option("-v", "--verbose", is_flag=True, help="List every finding, not only the summary.")
@jobs_option
@json_option
def validate(
    path: Path,
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    images_dir: Path | None,
    select: str | None,
    ignore: str | None,
    fail_on: str,
    max_unlabeled: float,
    max_overlap: float,
    fmt: str,
    fix_out: Path | None,
    overwrite: bool,
    verbose: bool,
    jobs: int,
    json_out: str | None,
) -> None:
    """Check the dataset PATH for every consistency problem, without stopping at the first.

    Exit 0 when nothing reaches --fail-on, 1 when something does, 2 when PATH cannot be read
    as a dataset at all. Every check code is described in docs/validate.md.

    \b
    Example:
      segtool validate panoptic_val2017.json
      segtool validate panoptic_val2017.json --fail-on warning --format github
      segtool validate panoptic_val2017.json --ignore unlabeled,unused-category --json report.json
      segtool validate labels/ --images photos/ --ignore-value 255
      segtool validate instances_val2017.json --fix fixed/instances_val2017.json
    """
    chosen, skipped = _codes(select, "--select"), _codes(ignore, "--ignore")
    name = from_ or formats.detect(path)
    formats.validator(name)  # a format without checks: one line before any work
    if fix_out is not None:
        try:
            formats.fixer(name)
        except FormatError as exc:
            raise click.BadParameter(exc.message, param_hint="--fix") from None
    if images_dir is not None and not images_dir.is_dir():
        raise FormatError("--images must be an existing folder", str(images_dir))
    inputs = [*dataset_inputs(path, masks), *dataset_inputs(categories), *dataset_inputs(images_dir)]
    fix_targets = formats.targets(name, fix_out) if fix_out is not None else []
    output.check_outputs(json_out, inputs=inputs, outputs=fix_targets, overwrite=overwrite)
    warm_up(jobs)
    options = CheckOptions(masks, categories, ignore_value, images_dir, max_unlabeled, max_overlap)
    with output.progress("validating", None) as advance:
        report = validation.validate(
            path, format=name, options=options, select=chosen, ignore=skipped, jobs=jobs, progress=advance
        )
    fixed = None
    if fix_out is not None:
        with output.progress("fixing", None) as advance:
            fixed = validation.fix(
                path, fix_out, format=name, options=options, overwrite=overwrite, jobs=jobs, progress=advance
            )
    if json_out:
        output.emit_json(report.to_dict() | ({"fix": fixed.to_dict()} if fixed else {}), json_out, overwrite=overwrite)
    if fmt == "github":
        for f in report.findings:
            click.echo(_github(f))
    elif json_out != "-":
        _print(report, verbose)
        if fixed is not None:
            _print_fix(fixed, report)
    worst = report.worst()
    if worst is not None and worst >= SEVERITIES[fail_on]:
        raise SystemExit(EXIT_FINDINGS)


def _print(report: Report, verbose: bool) -> None:
    """The summary table (one row per check code); with ``verbose``, one line per finding.
    Dataset text goes through ``output.shown``: one line, never markup."""
    table = output.SafeTable(f"segtool validate · {report.stats.get('images', 0)} images")
    for col in ("check", "severity", "count", "first example"):
        table.add_column(col, justify="right" if col == "count" else "left", overflow="fold")
    firsts: dict[str, Finding] = {}
    for f in report.findings:
        firsts.setdefault(f.code, f)
    for code, n in sorted(report.counts().items(), key=lambda kv: (-firsts[kv[0]].severity, kv[0])):
        f = firsts[code]
        where = f"image {f.image_id}: " if f.image_id is not None else ""
        table.add_row(code, f.severity, n, where + f.message)
    output.out.print(table if report.findings else "no findings")
    if verbose:
        for f in report.findings:
            output.line(f.severity, f.code, f.path, "" if f.image_id is None else f.image_id, f.message)


def _print_fix(fixed: FixSummary, report: Report) -> None:
    """What the fix changed, and which findings it left for a person."""
    outputs = ", ".join(fixed.outputs)
    table = output.SafeTable(f"fixed copy: {outputs}")
    for col in ("check", "change", "count"):
        table.add_column(col, justify="right" if col == "count" else "left", overflow="fold")
    for (code, action), n in fixed.counts().items():
        table.add_row(code, action, n)
    output.out.print(table if fixed.changes else output.shown(f"nothing to change; copied to {outputs}"))
    answered = {c.code for c in fixed.changes}
    left = sorted({f.code for f in report.findings if f.severity > Severity.INFO} - answered)
    if left:
        output.out.print(output.shown(f"left as they are (need a person): {', '.join(left)}"))
