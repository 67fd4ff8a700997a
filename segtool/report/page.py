"""The report's one HTML file: a table of contents of in-page links, the headline tiles,
one section per chart (inline SVG) and the worst images with their thumbnails.

Self-contained by construction: charts are inline ``<svg>``, thumbnails ``data:`` URIs, the
style inline; no script. A Content-Security-Policy allows nothing else (no request leaves
the page even if some text slipped through). Text from the datasets (names, file names) is
escaped as preview's gallery escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..render.gallery import text
from .gather import Gathered

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
nav a{margin-right:12px} h2{margin-top:32px;border-bottom:1px solid #ddd}
.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{border:1px solid #ccc;border-radius:6px;padding:10px 16px;min-width:110px}
.tile .v{font-size:26px;font-weight:600}.tile .k{color:#666;font-size:13px}
.chart svg{max-width:100%;height:auto}.note{color:#666;font-style:italic}
.img{display:flex;gap:16px;align-items:flex-start;margin:12px 0}
figure{margin:0}.img img{max-width:480px}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right;font-size:13px}
"""


@dataclass
class Section:
    """One chart section: its anchor, heading, and the chart's SVG (or a note why none)."""

    anchor: str
    title: str
    svg: str | None = None
    note: str | None = None


def number(v: Any) -> str:
    """A metric as eval's tables show it: 4 decimals, ``—`` where undefined."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}"
    return text(v)


def _tiles(g: Gathered) -> str:
    cells = [
        f'<div class="tile" data-key="{text(t.key)}" data-value="{"" if t.value is None else repr(t.value)}">'
        f'<div class="v">{number(t.value)}</div><div class="k">{text(t.label)}</div></div>'
        for t in g.tiles
    ]
    cells.append(
        f'<div class="tile" data-key="images"><div class="v">{g.images}</div><div class="k">images</div></div>'
    )
    return f'<section id="summary"><h2>Summary</h2><div class="tiles">{"".join(cells)}</div></section>'


def _section(s: Section) -> str:
    body = f'<div class="chart">{s.svg}</div>' if s.svg else ""
    note = f'<p class="note">{text(s.note)}</p>' if s.note else ""
    return f'<section id="{s.anchor}"><h2>{text(s.title)}</h2>{body}{note}</section>'


def _worst(g: Gathered, thumbs: dict[Any, str], note: str | None) -> str:
    items = []
    for row in g.worst:
        uri = thumbs.get(row["image_id"])
        img = f'<img src="{uri}" alt="{text(row.get("file_name", ""))}">' if uri else ""
        cells = "".join(
            f"<tr><th>{text(k)}</th><td>{number(v)}</td></tr>" for k, v in row.items() if k not in ("file_name",)
        )
        items.append(
            f'<div class="img" id="image-{text(row["image_id"])}">{img}<div><b>{text(row.get("file_name", ""))}</b>'
            f"<table>{cells}</table></div></div>"
        )
    head = f"Worst images by per-image {g.metric}"
    notes = f'<p class="note">{text(note)}</p>' if note else ""
    if not items:
        notes += '<p class="note">no image has a per-image value</p>'
    return f'<section id="worst"><h2>{text(head)}</h2>{notes}{"".join(items)}</section>'


def render_page(g: Gathered, sections: list[Section], thumbs: dict[Any, str], thumb_note: str | None) -> str:
    """The whole page."""
    anchors = [("summary", "Summary"), *((s.anchor, s.title) for s in sections), ("worst", "Worst images")]
    nav = "".join(f'<a href="#{a}">{text(t)}</a>' for a, t in anchors)
    notes = "".join(f'<p class="note">{text(n)}</p>' for n in g.notes)
    title = f"segtool {g.command} report"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{text(title)}</h1><nav>{nav}</nav>{notes}"
        f"{_tiles(g)}{''.join(_section(s) for s in sections)}{_worst(g, thumbs, thumb_note)}"
        "</body></html>\n"
    )
