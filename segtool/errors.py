"""Exceptions and exit codes shared by the library and the CLI.

The library raises; only ``segtool.cli`` turns exceptions into exit codes. Every error that
comes from bad input is a :class:`SegtoolError` carrying the offending path, so the CLI can
print one line ``Error: <path>: <problem>`` and exit 2.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM exits 143


def one_line(text: str) -> str:
    """``text`` safe to print as one line: control characters (a newline or carriage return
    in a dataset's file name would forge a second ``Error:`` line), lone surrogates and
    other unprintables are shown as escapes, so one message is one line."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii") for c in text
    )


class SegtoolError(Exception):
    """Bad input or bad usage: the user can fix it.

    Both arguments go to ``Exception.__init__`` so the error survives pickling when it is
    raised inside a worker process (a keyword-only argument would break unpickling).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message, path)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return one_line(f"{self.path}: {self.message}" if self.path else self.message)


class FormatError(SegtoolError):
    """The input is not (or not unambiguously) in the expected format."""


class OverlapError(SegtoolError):
    """Instances overlap and the chosen overlap policy is ``error``."""


class OutputExistsError(SegtoolError):
    """The destination exists and ``--overwrite`` was not given."""
