"""``--report FILE.html`` of ``segtool eval``: one self-contained HTML file of an evaluation
(docs/report.md). :func:`build` makes the text from a result dict; :func:`write` writes it
atomically. Nothing here prints: the CLI says what it wrote.

* :mod:`.gather`: what the report shows, read off the result dict;
* :mod:`.curves`: precision-recall curves from COCOeval's arrays;
* :mod:`.charts`: the charts as inline SVG, written directly (no plotting library);
* :mod:`.thumbs`: the worst images drawn by preview's renderer, as data URIs;
* :mod:`.page`: the HTML.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_outputs
from .build import Source, build

__all__ = ["Source", "build", "write"]


def write(path: Path, html: str, *, overwrite: bool = False) -> None:
    """Write the report atomically (temporary sibling, then rename)."""
    with atomic_outputs(path, overwrite=overwrite) as (tmp,):
        tmp.write_text(html, encoding="utf-8")
