"""preview's static HTML gallery: a page that opens from disk, with no script and no network.

Everything on the page comes from the dataset (file names, image ids) and is untrusted. Text
is HTML-escaped with its control characters shown as escapes (``errors.one_line``). Links
and image sources are built only from the render's own path relative to OUT, one
percent-encoded segment at a time and prefixed with ``./``: a file named
``javascript:alert(1).jpg`` is then a file, never a scheme, and ``#``, ``?``, ``%``, spaces,
non-ASCII and bytes that are not UTF-8 (kept by the file system as surrogate escapes) all
reach the file they name. A Content-Security-Policy forbids scripts, frames and every
request but the page's own images, in case anything slipped through.

Thumbnails past the first ``EAGER`` load lazily (``loading="lazy"`` with their width and
height given, so the page lays out before any loads and the browser fetches only those near
the window); the first ones, the window's worth that shows at once, load with the page, as
lazy loading would only delay them (and the page's load event, which a test waits for,
would come before them). One page
holds every image, as a page of 5,000 cards is ~1.5 MB of HTML that a browser lays out in
well under a second, and a page with no script cannot search or sort across pages.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import one_line
from .palette import ERROR_LEGEND

if TYPE_CHECKING:
    from ..preview import Rendered

THUMBS = "thumbs"  # folder of the gallery's JPEG thumbnails, inside OUT
EAGER = 20  # thumbnails loaded with the page: ~4 rows of 5 at 320 px, a 1920x1080 window's worth

CSP = "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def thumb_name(render: str) -> str:
    """The thumbnail of a render, relative to OUT (``thumbs/<render stem>.jpg``)."""
    return f"{THUMBS}/{Path(render).stem}.jpg"


def text(value: object) -> str:
    """Dataset text for the page: one line (control characters and lone surrogates shown as
    escapes, so the UTF-8 page can always be written) and HTML-escaped, quotes included,
    so it is safe in an element and in an attribute."""
    return html.escape(one_line(str(value)), quote=True)


def url(relative: str) -> str:
    """A link to a file inside OUT, given by its path relative to OUT.

    Each segment is percent-encoded from its file-system bytes (``os.fsencode``: a name read
    from disk that is not UTF-8 comes back as its raw bytes, which the browser maps back to
    the same file), ``/`` is kept between segments, and ``./`` in front means a segment
    with a colon is never read as a scheme. The result needs no further HTML escaping:
    only ``%``, ``/``, ``.``, ``-``, ``_``, ``~`` and ASCII letters and digits remain.
    """
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("/", "..") for p in parts):
        raise ValueError(f"not a path inside the gallery folder: {relative!r}")
    return "./" + "/".join(quote(os.fsencode(p), safe="") for p in parts)


def _stats(r: Rendered, key: str | None) -> str:
    stats = f"{r.segments} segments"
    if key is not None and r.metrics is not None:
        value = r.metrics.get(key)
        shown = "none" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
        stats = f"{key} {shown} · {stats}"
    if r.counts is not None:
        tp, fp, fn = r.counts
        stats += f" · {r.pred_segments} predicted · TP {tp} FP {fp} FN {fn}"
        if r.pq is not None:
            stats += f" · PQ {r.pq:.3f}"
    if not r.photo:
        stats += " · no photo"
    return stats


def _card(r: Rendered, width: int, key: str | None, lazy: bool) -> str:
    name = text(r.file_name)
    size = f'width="{width}"' + (f' height="{r.thumb_height}"' if r.thumb_height else "")
    size += ' loading="lazy" decoding="async"' if lazy else ""
    return (
        f'<figure><a href="{url(r.render)}"><img src="{url(thumb_name(r.render))}" alt="{name}" {size}></a>'
        f"<figcaption><b>{text(r.image_id)}</b> {name}<br>{text(_stats(r, key))}</figcaption></figure>"
    )


def _legend() -> str:
    items = "".join(
        f'<li><span style="background:#{int(c[0]):02x}{int(c[1]):02x}{int(c[2]):02x}"></span>{html.escape(t)}</li>'
        for c, t in ERROR_LEGEND
    )
    return (
        f'<p>Each render: ground truth | prediction | errors. In the errors panel:</p><ul class="legend">{items}</ul>'
    )


def _order(sort: dict[str, Any] | None, n: int) -> str:
    if sort is None:
        return f"{n} images, in the dataset's order."
    return f"{n} images, by {text(sort['metric'])} ({sort['matching']} matching), {sort['order']}."


def page(
    rendered: Sequence[Rendered], path: Path, pred: Path | None, width: int, sort: dict[str, Any] | None = None
) -> str:
    """The gallery: every render as a linked thumbnail ``width`` pixels wide, with its counts
    (and the metric they are sorted by, ``sort``), in the order given."""
    title = text(path.name + (f" vs {pred.name}" if pred else ""))
    key = None if sort is None else str(sort["metric"])
    cards = "\n".join(_card(r, width, key, k >= EAGER) for k, r in enumerate(rendered))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>segtool preview · {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; background: #f4f4f4; color: #222; }}
main {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; background: #fff; padding: 6px; border-radius: 4px; box-shadow: 0 1px 3px #0002; }}
figcaption {{ font-size: 12px; max-width: {width}px; margin-top: 4px; overflow-wrap: anywhere; }}
img {{ display: block; height: auto; }}
.legend {{ list-style: none; padding: 0; font-size: 13px; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }}
</style>
</head>
<body>
<h1>segtool preview · {title}</h1>
<p>{_order(sort, len(rendered))} Click a thumbnail for the full render.</p>
{_legend() if pred else ""}
<main>
{cards}
</main>
</body>
</html>
"""
