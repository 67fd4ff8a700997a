"""Terminal output: rich on stderr for progress and status, results on stdout.

stdout carries only results (a table, or JSON with ``--json``), so piping stays clean.
rich honours ``NO_COLOR`` and drops colour and animation when not on a terminal. Progress
lives in :mod:`.progress`; ``-q`` (:func:`quieted`) silences tables, notes and progress.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..atomic import atomic_outputs, plan
from ..errors import one_line

err = Console(stderr=True)
out = Console()


class _State:
    """What this run's options say about output (``-q``); reset when the command ends."""

    quiet = False


_state = _State()


def is_quiet() -> bool:
    """Whether ``-q`` was given: no progress, no tables, no notes."""
    return _state.quiet


@contextmanager
def quieted() -> Iterator[None]:
    """``-q`` for the time of one command: rich's stdout console prints nothing, progress
    and notes are left out (``--json`` and the ``--format`` asked for are written as ever,
    errors are still one line on stderr). Restored after, for the next command in this
    process (a test, a script)."""
    before = _state.quiet, out.quiet
    _state.quiet = out.quiet = True
    try:
        yield
    finally:
        _state.quiet, out.quiet = before


def loud() -> None:
    """Undo ``-q`` for the rest of the command (a config file's ``quiet`` that the command
    line's ``-v`` overrides); :func:`quieted` restores the state before it when it ends."""
    _state.quiet = out.quiet = False


def note(text: str) -> None:
    """A note for people on stderr (``note: ...``), one line, left out with ``-q``."""
    if not _state.quiet:
        err.print(shown(text), soft_wrap=True)


def check_outputs(
    *reports: str | Path | None, inputs: list[Path], outputs: list[Path] | None = None, overwrite: bool
) -> None:
    """Refuse, before any work starts, outputs and report files (``--json FILE``, ``--csv
    FILE``) that are an input, hold one or lie inside an input folder, that are another
    output of the same run, or that exist without ``--overwrite``. (The library checks its
    own outputs again; the command knows every input, ``--categories`` and ``--images``
    included.)"""
    files = [Path(r) for r in reports if r is not None and str(r) != "-"]
    plan([*files, *(outputs or [])], inputs, overwrite=overwrite)


def emit_json(data: Any, dest: str = "-", *, overwrite: bool = False) -> None:
    """Write JSON to stdout (``-``) or, atomically, to a file, as ``json.dumps(data,
    indent=2)`` writes it; a :class:`Streamed` list inside is never held whole as dicts, and
    a file is written piece by piece. stdout gets the whole text in one write: what it is
    (segtool.cli.storage_paths' unstaging, a pipe) may rewrite a document, not a piece."""
    if dest == "-":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    with atomic_outputs(Path(dest), overwrite=overwrite) as (tmp,), tmp.open("w", encoding="utf-8") as f:
        f.writelines(json.JSONEncoder(indent=2).iterencode(data))
        f.write("\n")


class Streamed(list[Any]):
    """A JSON list made item by item as :func:`emit_json` writes it: a report of 20,000
    images' findings is not also held as a dict per finding (~400 bytes each). json's
    Python encoder (``iterencode``, and ``dumps`` with an indent) asks a list only for
    ``len`` and ``iter``; only for emit_json (the C encoder of ``json.dumps(..., indent=None)``
    would see an empty list)."""

    def __init__(self, items: Callable[[], Iterator[Any]], n: int) -> None:
        super().__init__()
        self._items, self._n = items, n

    def __iter__(self) -> Iterator[Any]:
        return self._items()

    def __len__(self) -> int:
        return self._n


def write_text(path: Path, text: str, *, overwrite: bool = False) -> None:
    """Write a small output file atomically (temporary sibling, then rename); an existing
    file is replaced only with ``overwrite`` (checked again under the file's lock)."""
    with atomic_outputs(path, overwrite=overwrite) as (tmp,):
        tmp.write_text(text, encoding="utf-8")


def shown(value: object) -> Text:
    """``value`` as rich Text that prints as itself on one line: the one way dataset text
    (file names, category names, ids, messages that quote them) reaches the terminal.

    Dataset strings are untrusted: a newline or carriage return would forge an ``Error:``
    line, an ANSI escape would drive the terminal, and in a plain ``str`` rich would read
    ``[bold]`` or ``[link=...]`` as markup and ``:smile:`` as an emoji code. Control
    characters and lone surrogates become visible escapes (``errors.one_line``), and a Text
    is never parsed for markup or emoji.
    """
    return value if isinstance(value, Text) else Text(one_line(str(value)))


def line(*fields: object) -> None:
    """Print ``fields`` separated by tabs as one physical line on stdout, never wrapped (a
    finding per line, for ``grep``), each field through :func:`shown`."""
    out.print(Text("\t").join(shown(f) for f in fields), soft_wrap=True)


class SafeTable(Table):
    """A rich Table whose title and cells go through :func:`shown`: use it for any table
    that shows dataset text."""

    def __init__(self, title: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("title_justify", "left")
        super().__init__(title=None if title is None else Text(one_line(title), style="table.title"), **kwargs)

    def add_row(self, *cells: object, **kwargs: Any) -> None:
        """Add a row; ``None`` stays a blank cell."""
        super().add_row(*(None if c is None else shown(c) for c in cells), **kwargs)


def key_value_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    """A two-column summary table."""
    table = SafeTable(title, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    return table


def reasons_table(title: str, reasons: dict[str, int]) -> Table:
    """A table of counted reasons (what was dropped or changed and why)."""
    table = SafeTable(title)
    table.add_column("reason", overflow="fold")
    table.add_column("count", justify="right")
    for k, v in reasons.items():
        table.add_row(k, v)
    return table
