"""``segtool validate``: every consistency problem of a dataset, for people and for CI."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from .. import formats, validation
from ..atomic import dataset_inputs
from ..checks import CHECKS, CheckOptions
from ..checks.findings import Report
from ..checks.spill import FindingLog
from ..checks.tolerance import Tolerance
from ..errors import EXIT_FINDINGS, FormatError, SegtoolError
from ..parallel import warm_up
from . import configure, inputs, main, output
from .options import (
    format_option,
    images_option,
    jobs_option,
    json_option,
    labels_option,
    overwrite_option,
    quiet_option,
    source_options,
)
from .progress import steps
from .validate_output import SEVERITIES, Outcome, ci_report, print_fix, print_report, report_several


def _tolerance(value: str | float | Tolerance) -> Tolerance:
    """``--tolerance``'s text (or a config file's number) as a Tolerance; a usage error otherwise."""
    try:
        return Tolerance.of(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tolerance") from None


def _codes(value: str | None, option: str) -> set[str]:
    codes = {c.strip() for c in (value or "").split(",") if c.strip()}
    unknown = sorted(codes - CHECKS.keys())
    if unknown:
        raise click.BadParameter(f"unknown check code(s) {', '.join(unknown)}; see docs/validate.md", param_hint=option)
    return codes


@main.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
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
    "--tolerance",
    metavar="PX[,FRACTION]",
    default="0.01,0.001",
    show_default=True,
    callback=lambda _ctx, _param, value: _tolerance(value),
    help="How far a stored area or bbox may be from its mask before it is an error: PX pixels (a polygon's area"
    " also FRACTION of it), one-pixel box conventions, a polygon's pixel count; within it, info. 0: strict"
    " (docs/validate.md#tolerances).",
)
@format_option(
    {
        "table": "a summary for people",
        "github": "GitHub Actions annotations of errors and warnings, and a summary notice",
        "junit": "JUnit XML, a test case per check code",
        "gitlab": "GitLab Code Quality JSON",
    }
)
@click.option(
    "--fix",
    "fix_out",
    type=click.Path(path_type=Path),
    help="Write a corrected copy to OUT (coco-panoptic: OUT.json + its PNG folder); the input is never touched.",
)
@labels_option
@overwrite_option
@click.option(
    "-v", "--verbose", is_flag=True, help="List every finding, not only the summary (and info in CI formats)."
)
@jobs_option
@json_option
@quiet_option
def validate(
    paths: tuple[Path, ...],
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
    tolerance: Tolerance,
    fmt: str,
    fix_out: Path | None,
    labels: Path | None,
    overwrite: bool,
    verbose: bool,
    jobs: int,
    json_out: str | None,
) -> None:
    """Check each dataset PATH for every consistency problem, without stopping at the first.

    PATH may be several paths, glob patterns (expanded by segtool too: 'data/*.json'), or -
    for a JSON on stdin. Exit 0 when nothing reaches --fail-on, 1 when something does, 2
    when a PATH cannot be read as a dataset at all. Defaults may come from segtool.toml or
    pyproject.toml [tool.segtool] (docs/config.md; -v says which file). Every check code and
    output format is described in docs/validate.md.

    \b
    Example:
      segtool validate panoptic_val2017.json
      segtool validate panoptic_val2017.json --fail-on warning --format github
      segtool validate instances_val2017.json --format junit > validate.xml
      segtool validate panoptic_val2017.json --ignore unlabeled,unused-category --json report.json
      segtool validate labels/ --images photos/ --ignore-value 255
      segtool validate 'annotations/*.json' --fail-on warning --format github
      gunzip -c instances_val2017.json.gz | segtool validate -
    """
    ctx = click.get_current_context()
    if verbose and output.is_quiet():
        verbose = _louder_or_quieter(ctx, verbose)
    chosen, skipped = _codes(select, "--select"), _codes(ignore, "--ignore")
    if verbose and configure.used(ctx):
        output.note(str(configure.used(ctx)))
    items, several = inputs.expand(ctx, paths)
    options = CheckOptions(masks, categories, ignore_value, images_dir, max_unlabeled, max_overlap, tolerance, labels)
    threshold, show_info = SEVERITIES[fail_on], verbose or fail_on == "info"
    codes = sorted((chosen or set(CHECKS)) - skipped)
    if several:
        _validate_several(items, from_, options, (chosen, skipped, codes), fmt, verbose, jobs, json_out, overwrite)
        return
    item = items[0]
    path = item.path
    name = _format_of(path, from_, fix_out, images_dir)
    inputs.check_stdin_format(item, name, masks)
    if labels is not None and "labels" not in formats.read_options(name):
        raise click.UsageError(f"--labels describes label PNGs' values; {name} input has none to describe")
    sources = [*dataset_inputs(path, masks), *dataset_inputs(categories), *dataset_inputs(images_dir)]
    sources += dataset_inputs(labels)
    fix_targets = formats.targets(name, fix_out) if fix_out is not None else []
    output.check_outputs(json_out, inputs=sources, outputs=fix_targets, overwrite=overwrite)
    warm_up(jobs)
    started = time.monotonic()
    with steps("validate") as advance:
        report = validation.validate(
            path, format=name, options=options, select=chosen, ignore=skipped, jobs=jobs, progress=advance
        )
    report = _aliased(ctx, report)
    seconds = time.monotonic() - started
    fixed = None
    if fix_out is not None:
        with steps("fix") as advance:
            fixed = validation.fix(
                path, fix_out, format=name, options=options, overwrite=overwrite, jobs=jobs, progress=advance
            )
    if json_out:
        findings = output.Streamed(lambda: (f.to_dict() for f in report.findings), len(report.findings))
        doc = {"findings": findings, "summary": report.summary_dict()} | ({"fix": fixed.to_dict()} if fixed else {})
        output.emit_json(doc, json_out, overwrite=overwrite)
    if fmt != "table":
        text = ci_report(fmt, report, item.shown, name, codes, threshold, show_info, seconds)
        click.echo(text, nl=False, err=json_out == "-")  # --json on stdout keeps stdout to itself
    elif json_out != "-":
        print_report(report, verbose)
        if fixed is not None:
            print_fix(fixed, report)
    worst = report.worst()
    if worst is not None and worst >= threshold:
        raise SystemExit(EXIT_FINDINGS)


def _validate_several(
    items: list[inputs.Input],
    from_: str | None,
    options: CheckOptions,
    codes: tuple[set[str], set[str], list[str]],
    fmt: str,
    verbose: bool,
    jobs: int,
    json_out: str | None,
    overwrite: bool,
) -> None:
    """Several inputs (or a pattern): each validated on its own, an input that cannot be
    read at all reported (one ``Error:`` line) without stopping the others; one output for
    all, one exit code: 2 if an input was unreadable, else 1 if a finding reaches --fail-on."""
    ctx = click.get_current_context()
    params = ctx.params
    if params["fix_out"] is not None:
        raise click.UsageError(f"--fix writes one corrected copy: give one PATH, not {len(items)} (or a pattern)")
    if options.masks is not None:
        raise click.UsageError(
            "--masks names the PNG folder of one input: with several, each uses the folder beside it"
        )
    if options.images_dir is not None and not options.images_dir.is_dir():
        raise FormatError("--images must be an existing folder", str(options.images_dir))
    sources = [p for item in items for p in dataset_inputs(item.path)]
    sources += [*dataset_inputs(options.categories), *dataset_inputs(options.images_dir)]
    output.check_outputs(json_out, inputs=sources, overwrite=overwrite)
    warm_up(jobs)
    chosen, skipped, listed = codes
    outcomes = []
    for item in items:
        outcome = Outcome(item.shown)
        started = time.monotonic()
        try:
            outcome.format = _format_of(item.path, from_, None, None)
            inputs.check_stdin_format(item, outcome.format, None)
            with steps(f"validate {item.shown}") as advance:
                report = validation.validate(
                    item.path,
                    format=outcome.format,
                    options=options,
                    select=chosen,
                    ignore=skipped,
                    jobs=jobs,
                    progress=advance,
                )
            outcome.report = _aliased(ctx, report)
        except (SegtoolError, OSError) as exc:
            outcome.error = inputs.unreadable(ctx, exc)
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
    report_several(outcomes, params["fail_on"], listed, fmt, verbose, json_out, overwrite)


def _aliased(ctx: click.Context, report: Report) -> Report:
    """``report`` with a temporary copy of stdin named ``<stdin>`` in its findings."""
    if not inputs.has_aliases(ctx):
        return report
    findings = FindingLog(
        replace(f, path=inputs.aliased(ctx, f.path), message=inputs.aliased(ctx, f.message)) for f in report.findings
    )
    return Report(findings, report.stats)


def _format_of(path: Path, from_: str | None, fix_out: Path | None, images_dir: Path | None) -> str:
    """PATH's format, refusing before any work what cannot run: a format without checks, a
    --fix for a format without fixes, an --images that is no folder."""
    name = from_ or formats.detect(path)
    formats.validator(name)
    if fix_out is not None:
        try:
            formats.fixer(name)
        except FormatError as exc:
            raise click.BadParameter(exc.message, param_hint="--fix") from None
    if images_dir is not None and not images_dir.is_dir():
        raise FormatError("--images must be an existing folder", str(images_dir))
    return name


def _louder_or_quieter(ctx: click.Context, verbose: bool) -> bool:
    """-q and -v both asked for: the one from the command line wins over the one from a
    config file; both from the command line is bad usage. Returns the verbosity to use."""
    from_config = click.core.ParameterSource.DEFAULT_MAP
    if ctx.get_parameter_source("quiet") is from_config and ctx.get_parameter_source("verbose") is not from_config:
        output.loud()
        return verbose
    if ctx.get_parameter_source("verbose") is from_config and ctx.get_parameter_source("quiet") is not from_config:
        return False
    raise click.UsageError("-q and -v ask for less and for more output: pass one")
