"""``segtool compare --report FILE.html``: two predictions' evaluation as one page, made
from compare's result dict (what its ``--json`` writes).

Tiles: each headline metric's delta B − A with its bootstrap interval and both values;
per-class bars: A's and B's value side by side (worst of B first); then the images that
changed most (compare's ``--top``), each with its thumbnails against the ground truth under A
and under B, drawn by preview's renderer as the eval report's are. Same page rules as
:mod:`.page`: inline SVG, data: URIs, no script, a CSP.
"""

from __future__ import annotations

from typing import Any

from ..render.gallery import text
from . import charts
from .build import Source
from .page import CSP, STYLE, Section, _section, number
from .thumbs import start


def _tiles(data: dict[str, Any]) -> str:
    names = data["names"]
    cells = []
    for metric, m in data["metrics"].items():
        ci = m.get("ci")
        interval = f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "no interval"
        delta = "—" if m["delta"] is None else f"{m['delta']:+.4f}"
        value = "" if m["delta"] is None else repr(m["delta"])
        cells.append(
            f'<div class="tile" data-key="metrics.{text(metric)}.delta" data-value="{value}">'
            f'<div class="v">{delta}</div><div class="k">{text(metric)} {text(names["b"])} − {text(names["a"])}'
            f"<br>{interval}<br>{number(m['a'])} → {number(m['b'])}</div></div>"
        )
    return f'<section id="summary"><h2>Summary</h2><div class="tiles">{"".join(cells)}</div></section>'


def _classes(data: dict[str, Any]) -> Section:
    names = data["names"]
    rows = [
        (str(r.get("name", cid)), {names["a"]: r["a"], names["b"]: r["b"]})
        for cid, r in data.get("per_class", {}).items()
        if r.get("a") is not None and r.get("b") is not None
    ]
    rows.sort(key=lambda r: r[1][names["b"]])
    if not rows or len(set(rows[0][1])) < 2:
        return Section("classes", "Per-class values", note="no category has a value under both")
    return Section("classes", "Per-class values", charts.bars(rows, "per class, worst under B first"))


def _images(data: dict[str, Any], thumbs: tuple[dict[Any, str], dict[Any, str]], note: str | None) -> str:
    names = data["names"]
    items = []
    for row in data.get("images", []):
        pics = "".join(
            f'<figure><img src="{side[row["image_id"]]}" alt="{text(name)}"><figcaption>{text(name)}</figcaption></figure>'
            for side, name in zip(thumbs, (names["a"], names["b"]), strict=True)
            if row["image_id"] in side
        )
        cells = "".join(f"<tr><th>{text(k)}</th><td>{number(v)}</td></tr>" for k, v in row.items() if k != "file_name")
        items.append(
            f'<div class="img" id="image-{text(row["image_id"])}">{pics}<div><b>{text(row.get("file_name", ""))}</b>'
            f"<table>{cells}</table></div></div>"
        )
    notes = f'<p class="note">{text(note)}</p>' if note else ""
    return f'<section id="images"><h2>Images that changed most</h2>{notes}{"".join(items)}</section>'


def build_compare(data: dict[str, Any], gt_source: Source | None = None, pred_b: Any = None) -> str:
    """The comparison page. ``gt_source``: the ground truth and prediction A (with how to
    read them); ``pred_b``: prediction B's path. Without them, no thumbnails."""
    ids = [r["image_id"] for r in data.get("images", [])]
    pending = []
    if gt_source is not None and pred_b is not None and ids:
        for pred in (gt_source.pred, pred_b):
            pending.append(start(gt_source.gt, pred, ids, read_options=gt_source.read_options, jobs=gt_source.jobs))
    shown = [_classes(data)]
    thumbs: tuple[dict[Any, str], dict[Any, str]] = ({}, {})
    note = None if pending else ("no thumbnails" if ids else None)
    if pending:
        (a, note_a), (b, note_b) = pending[0].result(), pending[1].result()
        thumbs, note = (a, b), note_a or note_b
    title = f"segtool compare report: {data['names']['b']} vs {data['names']['a']} ({data['task']})"
    anchors = [("summary", "Summary"), ("classes", "Per-class values"), ("images", "Images that changed most")]
    nav = "".join(f'<a href="#{a}">{text(t)}</a>' for a, t in anchors)
    samples = data.get("bootstrap", {}).get("samples", 0)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{text(title)}</h1><nav>{nav}</nav>"
        f'<p class="note">intervals: paired bootstrap over images, {int(samples)} samples</p>'
        f"{_tiles(data)}{''.join(_section(s) for s in shown)}{_images(data, thumbs, note)}"
        "</body></html>\n"
    )
