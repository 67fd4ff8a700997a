"""Findings and quality gates in the formats CI systems read: GitHub Actions workflow
commands, JUnit XML (GitLab and Jenkins test reports), GitLab Code Quality JSON.

Each is a string for the command to write: to stdout, or to stderr when ``--json -``
holds stdout. What they show is what fails a run: errors and warnings, and info findings
only when asked for (``-v`` or ``--fail-on info``): a dataset's hundreds of ``unlabeled``
statistics would bury its three real errors in a CI log.

Dataset text (file names, messages quoting category names) is untrusted here as anywhere:
GitHub's own escapes keep it inside one workflow command, XML and JSON escape it for their
parsers, and the characters none of them escapes (ANSI escapes, NUL, lone surrogates) are
shown as visible escapes (``errors.one_line``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence

from ..checks import CHECKS
from ..checks.findings import Finding, Report, Severity
from ..errors import one_line

GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
GITLAB_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "minor", Severity.INFO: "info"}


# -- GitHub Actions ------------------------------------------------------------------------


def github_data(text: str) -> str:
    """Text escaped for a workflow command's message, as actions/toolkit's ``escapeData``:
    ``%``, CR and LF become ``%25``, ``%0D``, ``%0A`` (the runner turns them back), so a
    newline in a file name can neither end the annotation nor start a forged ``::error``
    line. Other unprintables, which GitHub passes through to the log, are shown as escapes."""
    return one_line(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def github_property(text: str) -> str:
    """Text escaped for a workflow command's property (``file=``, ``title=``), as
    actions/toolkit's ``escapeProperty``: the message escapes, then ``:`` and ``,``, which
    would end the property."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(level: str, message: str, **properties: str) -> str:
    """``::level k=v,k=v::message``, every part escaped."""
    props = ",".join(f"{k}={github_property(v)}" for k, v in properties.items())
    return f"::{level}{' ' + props if props else ''}::{github_data(message)}"


def github_finding(f: Finding) -> str:
    """One annotation: ``::error file=F,title=CODE::message (image I, segment S)``."""
    where = f.where()
    message = f.message + (f" ({where})" if where else "")
    return github_command(GITHUB_LEVEL[f.severity], message, file=f.path, title=f.code)


def shown_findings(report: Report, show_info: bool) -> list[Finding]:
    """The findings a CI format lists: errors and warnings, info too when asked for."""
    return [f for f in report.findings if show_info or f.severity > Severity.INFO]


def severity_counts(report: Report) -> str:
    """``2 errors, 1 warning, 384 info``."""
    n = Counter(f.severity for f in report.findings)
    errors, warnings = n[Severity.ERROR], n[Severity.WARNING]
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}, {n[Severity.INFO]} info"


def github_validate(report: Report, path: str, *, show_info: bool) -> str:
    """An annotation per error and warning (and info when asked for), then one ``::notice``
    with the counts per severity, which GitHub shows on the run's summary page."""
    lines = [github_finding(f) for f in shown_findings(report, show_info)]
    images = report.stats.get("images")
    summary = f"{path}: {severity_counts(report)}"
    if images is not None:
        summary += f" in {images} image{'s' * (images != 1)}"
    hidden = sum(f.severity == Severity.INFO for f in report.findings) if not show_info else 0
    if hidden:
        summary += " (info not annotated: -v shows it)"
    lines.append(github_command("notice", summary, title="segtool validate"))
    return "\n".join(lines) + "\n"


def github_unreadable(path: str, message: str) -> str:
    """The ``::error`` of an input that could not be read as a dataset at all (one of several)."""
    return github_command("error", message, file=path, title="segtool validate: unreadable input")


def github_eval(command: str, headline: str, failed: list[str]) -> str:
    """An ``::error`` per failed quality gate, then one ``::notice`` with the headline
    metrics (``failed``: each gate's one-line verdict)."""
    lines = [github_command("error", verdict, title=f"segtool {command} quality gate") for verdict in failed]
    lines.append(github_command("notice", headline, title=f"segtool {command}"))
    return "\n".join(lines) + "\n"


# -- JUnit XML -----------------------------------------------------------------------------


def finding_line(f: Finding) -> str:
    """One finding on one line, for a report's text: ``error png-missing PATH (image 3): msg``."""
    where = f" ({f.where()})" if f.where() else ""
    return one_line(f"{f.severity} {f.code} {f.path}{where}: {f.message}")


def junit(
    report: Report, path: str, *, fmt: str, codes: Iterable[str], fail_on: Severity, show_info: bool, seconds: float
) -> str:
    """JUnit XML: one test suite for the dataset, one test case per check code.

    Per check code, not per finding: the names stay the same from run to run (``png-missing``,
    not ``png-missing in image 139``), so GitLab and Jenkins track each check across
    pipelines (new failures, fixed ones) and a dataset with 10,000 findings is still a
    report of ~45 tests. A code fails when its findings reach ``fail_on`` (errors by
    default), as the exit code does; its findings are the failure's text, one per line.
    Findings below it leave the test passed and are listed in its ``system-out``.
    """
    suite = junit_suite(report, path, fmt=fmt, codes=codes, fail_on=fail_on, show_info=show_info, seconds=seconds)
    return junit_document([suite], seconds)


def junit_suite(
    report: Report, path: str, *, fmt: str, codes: Iterable[str], fail_on: Severity, show_info: bool, seconds: float
) -> ET.Element:
    """The ``<testsuite>`` of one dataset (see :func:`junit`)."""
    by_code: dict[str, list[Finding]] = {code: [] for code in codes}
    for f in report.findings:
        by_code.setdefault(f.code, []).append(f)
    cases = [_testcase(code, found, f"validate.{fmt}", fail_on, show_info) for code, found in sorted(by_code.items())]
    failures = sum(case.find("failure") is not None for case in cases)
    return _suite(path, cases, seconds, failures=failures)


def junit_unreadable(path: str, message: str) -> ET.Element:
    """The ``<testsuite>`` of an input that could not be read as a dataset at all: one test
    case, ``read``, in error (JUnit's word for a test that could not run)."""
    case = ET.Element("testcase", name="read", classname="validate", time="0")
    ET.SubElement(case, "error", message=one_line(message), type="unreadable")
    return _suite(path, [case], 0.0, errors=1)


def _suite(path: str, cases: list[ET.Element], seconds: float, *, failures: int = 0, errors: int = 0) -> ET.Element:
    totals = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors), "skipped": "0"}
    suite = ET.Element(
        "testsuite",
        {
            "name": one_line(path),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "hostname": one_line(socket.gethostname()) or "localhost",
            "time": f"{seconds:.3f}",
            **totals,
        },
    )
    suite.extend(cases)
    return suite


def junit_document(suites: Sequence[ET.Element], seconds: float) -> str:
    """JUnit XML: ``<testsuites>`` (the totals of its suites) around one suite per dataset."""
    totals = {k: str(sum(int(s.get(k, "0")) for s in suites)) for k in ("tests", "failures", "errors", "skipped")}
    root = ET.Element("testsuites", {"name": "segtool validate", "time": f"{seconds:.3f}", **totals})
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(code: str, found: list[Finding], classname: str, fail_on: Severity, show_info: bool) -> ET.Element:
    """The test case of one check code: failed when a finding reaches ``fail_on``."""
    case = ET.Element("testcase", name=code, classname=classname, time="0")
    if not found:
        return case
    worst = max(f.severity for f in found)
    listed = [f for f in found if show_info or f.severity > Severity.INFO or f.severity >= fail_on]
    text = "\n".join(finding_line(f) for f in listed)
    if len(listed) < len(found):
        text += f"\n{len(found) - len(listed)} info finding(s) not listed: -v lists them"
    if worst >= fail_on:
        what = CHECKS[code].summary if code in CHECKS else found[0].message
        message = one_line(f"{len(found)} finding{'s' * (len(found) != 1)}: {what}")
        ET.SubElement(case, "failure", message=message, type=str(worst)).text = text.strip()
    else:
        ET.SubElement(case, "system-out").text = text.strip()
    return case


# -- GitLab Code Quality -------------------------------------------------------------------


def gitlab(report: Report, *, show_info: bool, unreadable: Sequence[tuple[str, str]] = ()) -> str:
    """GitLab Code Quality JSON: a list of issues, each ``{description, check_name,
    fingerprint, severity, location: {path, lines: {begin}}}`` (the keys GitLab requires;
    ``type`` and ``categories`` make it a Code Climate issue too). ``fingerprint`` is the
    same for the same finding in every run (GitLab tells new issues from old ones by it)
    and different for every finding of one run. ``unreadable``: (path, message) of inputs
    that could not be read at all, each a ``blocker`` issue."""
    issues = []
    seen: Counter[str] = Counter()
    for f in shown_findings(report, show_info):
        key = "\0".join((f.code, f.path, repr(f.image_id), repr(f.segment_id), f.message))
        seen[key] += 1
        fingerprint = hashlib.sha256(f"{key}\0{seen[key]}".encode("utf-8", "surrogatepass")).hexdigest()
        where = f" ({f.where()})" if f.where() else ""
        issues.append(
            {
                "type": "issue",
                "description": one_line(f"{f.code}: {f.message}{where}"),
                "check_name": f.code,
                "fingerprint": fingerprint,
                "severity": GITLAB_SEVERITY[f.severity],
                "categories": ["Bug Risk"],
                "location": {"path": one_line(_repository_path(f.path)), "lines": {"begin": 1}},
            }
        )
    for path, message in unreadable:
        key = "\0".join(("unreadable-input", path, message))
        issues.append(
            {
                "type": "issue",
                "description": one_line(f"unreadable-input: {message}"),
                "check_name": "unreadable-input",
                "fingerprint": hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest(),
                "severity": "blocker",
                "categories": ["Bug Risk"],
                "location": {"path": one_line(_repository_path(path)), "lines": {"begin": 1}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"


def _repository_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it (GitLab links a
    finding to a file of the repository, named from its root), as given otherwise."""
    if not os.path.isabs(path):
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative
