"""What ``segtool validate`` prints: the table, the CI formats, the fix's summary, and the
one output of several inputs."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ..checks.findings import Report, Severity
from ..checks.spill import FindingLog
from ..errors import EXIT_BAD_INPUT, EXIT_FINDINGS
from ..fix import FixSummary
from . import ci_formats, output

SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


@dataclass
class Outcome:
    """One input of several: its report, or why it could not be read."""

    shown: str
    format: str | None = None
    report: Report | None = None
    error: str | None = None
    seconds: float = 0.0


def report_several(
    outcomes: list[Outcome],
    fail_on: str,
    codes: list[str],
    fmt: str,
    verbose: bool,
    json_out: str | None,
    overwrite: bool,
) -> None:
    """--json, the --format asked for (or a table per input) and the exit code of several inputs."""
    threshold, show_info = SEVERITIES[fail_on], verbose or fail_on == "info"
    read = [(o, o.report) for o in outcomes if o.report is not None]
    merged = Report(
        FindingLog(f for _, r in read for f in r.findings), {"images": sum(r.stats.get("images", 0) for _, r in read)}
    )
    unreadable = [(o.shown, o.error or "") for o in outcomes if o.error is not None]
    if json_out:
        listed = [
            {"path": o.shown, "format": o.format, **o.report.to_dict()}
            if o.report is not None
            else {"path": o.shown, "format": o.format, "error": o.error}
            for o in outcomes
        ]
        summary = merged.to_dict()["summary"] | {"inputs": len(outcomes), "unreadable": len(unreadable)}
        output.emit_json({"inputs": listed, "summary": summary}, json_out, overwrite=overwrite)
    if fmt != "table":
        if fmt == "github":
            text = "".join(ci_formats.github_validate(r, o.shown, show_info=show_info) for o, r in read)
            text += "".join(ci_formats.github_unreadable(path, message) + "\n" for path, message in unreadable)
        elif fmt == "junit":
            suites = [
                ci_formats.junit_suite(
                    o.report,
                    o.shown,
                    fmt=o.format or "",
                    codes=codes,
                    fail_on=threshold,
                    show_info=show_info,
                    seconds=o.seconds,
                )
                if o.report is not None
                else ci_formats.junit_unreadable(o.shown, o.error or "")
                for o in outcomes
            ]
            text = ci_formats.junit_document(suites, sum(o.seconds for o in outcomes))
        else:
            text = ci_formats.gitlab(merged, show_info=show_info, unreadable=unreadable)
        click.echo(text, nl=False, err=json_out == "-")
    elif json_out != "-":
        for o, r in read:
            print_report(r, verbose, f"segtool validate · {o.shown} · {r.stats.get('images', 0)} images")
        tail = f"; {len(unreadable)} unreadable" if unreadable else ""
        output.out.print(output.shown(f"{len(outcomes)} inputs: {ci_formats.severity_counts(merged)}{tail}"))
    if unreadable:
        raise SystemExit(EXIT_BAD_INPUT)
    worst = merged.worst()
    if worst is not None and worst >= threshold:
        raise SystemExit(EXIT_FINDINGS)


def ci_report(
    fmt: str,
    report: Report,
    path: str,
    name: str,
    codes: list[str],
    fail_on: Severity,
    show_info: bool,
    seconds: float,
) -> str:
    """The report in the CI format ``fmt`` (github, junit, gitlab)."""
    if fmt == "github":
        return ci_formats.github_validate(report, path, show_info=show_info)
    if fmt == "junit":
        return ci_formats.junit(
            report, path, fmt=name, codes=codes, fail_on=fail_on, show_info=show_info, seconds=seconds
        )
    return ci_formats.gitlab(report, show_info=show_info)


def print_report(report: Report, verbose: bool, title: str | None = None) -> None:
    """The summary table (one row per check code); with ``verbose``, one line per finding.
    Dataset text goes through ``output.shown``: one line, never markup."""
    table = output.SafeTable(title or f"segtool validate · {report.stats.get('images', 0)} images")
    for col in ("check", "severity", "count", "first example"):
        table.add_column(col, justify="right" if col == "count" else "left", overflow="fold")
    firsts = report.firsts()
    for code, n in sorted(report.counts().items(), key=lambda kv: (-firsts[kv[0]].severity, kv[0])):
        f = firsts[code]
        where = f"image {f.image_id}: " if f.image_id is not None else ""
        table.add_row(code, f.severity, n, where + f.message)
    empty = "no findings" if title is None else output.shown(f"{title}: no findings")
    output.out.print(table if report.findings else empty)
    if verbose:
        for f in report.findings:
            output.line(f.severity, f.code, f.path, "" if f.image_id is None else f.image_id, f.message)


def print_fix(fixed: FixSummary, report: Report) -> None:
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
