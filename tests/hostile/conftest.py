"""The failure table: after a run, every failed hostile case is listed by class with its
command, exit code, last stderr line and the promises it broke, so fixes can be assigned.
``SEGTOOL_HOSTILE_TABLE=FILE`` also writes the table to FILE (tab-separated)."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import pytest


def _rows(terminalreporter: Any) -> list[dict[str, Any]]:
    rows = []
    for report in terminalreporter.stats.get("failed", []):
        for key, value in getattr(report, "user_properties", []):
            if key == "hostile" and value["problems"]:
                rows.append(value)
    return rows


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = _rows(terminalreporter)
    dest = os.environ.get("SEGTOOL_HOSTILE_TABLE")
    if not rows:
        if dest:
            with open(dest, "w", encoding="utf-8") as f:
                f.write("class\tcase\tcommand\texit\tproblems\tlast stderr line\n")
        return
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_class[row["class"]].append(row)
    terminalreporter.section("hostile input: broken promises")
    lines = []
    for cls in sorted(by_class):
        terminalreporter.write_line(f"[{cls}] {len(by_class[cls])} failing")
        for r in sorted(by_class[cls], key=lambda r: (r["case"], r["command"])):
            text = f"{r['case']}\t{r['command']}\texit {r['exit']}\t{'; '.join(r['problems'])}\t{r['last']!r}"
            lines.append(f"{cls}\t{text}")
            terminalreporter.write_line("  " + text.replace("\t", " | "))
    if dest:
        with open(dest, "w", encoding="utf-8") as f:
            f.write("class\tcase\tcommand\texit\tproblems\tlast stderr line\n")
            f.write("\n".join(lines) + "\n")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """``SEGTOOL_HOSTILE_VERBOSE=1``: print every run's exit and last stderr line."""
    if report.when == "call" and os.environ.get("SEGTOOL_HOSTILE_VERBOSE"):
        for key, value in report.user_properties:
            if key == "hostile":
                print(
                    f"\n  {value['case']} {value['command']}: exit {value['exit']} {value['seconds']} s {value['last']!r}",
                    end="",
                )
