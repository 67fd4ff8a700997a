"""Thumbnails of the worst images, drawn by preview's renderer (ground truth | prediction |
errors, the same panels and colors as ``segtool preview --pred``) and embedded in the report
as JPEG ``data:`` URIs, so the report stays one file.

The renders go to a temporary folder that is removed afterwards; only the chosen images are
drawn (``preview(ids=...)``), the :data:`DRAWN` worst, at a quarter of the image's size
(:data:`SCALE`: every 4th pixel of the index maps, so each pixel still shows one segment; the
matching and counts are the full-size maps'), so the cost is that of reading the two
datasets once more and ~15-50 ms per thumbnail (was ~60-130 ms for a full-size render shrunk).
"""

from __future__ import annotations

import base64
import io
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import SegtoolError
from ..parallel import imap
from ..preview import Style, preview

DRAWN = 4  # the worst images drawn (the rest of the worst are listed): ~15 ms (panoptic) to
# ~50 ms (instance: preview resolves each image's overlapping detections at full size) a render
WIDTH = 480  # thumbnail width in pixels: the three panels stay legible at 160 px each
QUALITY = 80  # JPEG quality: ~15-30 kB a thumbnail
SCALE = 4  # panels drawn at a quarter of the image's size (every 4th pixel of the index maps):
# 160 px wide for COCO's 640, what a full-size render scaled to WIDTH showed, at ~1/16 of its cost
# no category names: unreadable at thumbnail size, and placing them is most of a render's time
# nor outlines: two pixels wide at a quarter of the size, they would cover small segments
LOOK = Style(outline=False, labels=False, scale=SCALE)


def data_uri(path: Path, width: int = WIDTH) -> str:
    """A render scaled to ``width`` pixels (never enlarged) as a JPEG data URI."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    if rgb.width > width:
        rgb = rgb.resize(
            (width, max(1, round(rgb.height * width / rgb.width))), Image.Resampling.BILINEAR, reducing_gap=2.0
        )
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnails(
    gt: Path,
    pred: Path,
    ids: list[Any],
    *,
    read_options: dict[str, Any] | None = None,
    source_format: str | None = None,
    jobs: int = 1,
) -> tuple[dict[Any, str], str | None]:
    """Each chosen image's thumbnail by image id, and a note when they could not be drawn
    (an input preview cannot read, such as a JSON from stdin): the report then shows the
    numbers without pictures rather than failing after the evaluation succeeded."""
    if not ids:
        return {}, None
    with tempfile.TemporaryDirectory(prefix="segtool-report-") as tmp:
        out = Path(tmp) / "renders"
        try:
            summary = preview(
                gt,
                out,
                read_options=read_options,
                pred=pred,
                ids=ids,
                source_format=source_format,
                jobs=jobs,
                style=LOOK,
            )
        except SegtoolError as exc:
            return {}, f"no thumbnails: {exc}"
        return {r.image_id: data_uri(out / r.render) for r in summary.rendered}, None


def _task(args: tuple[Path, Path, list[Any], dict[str, Any] | None, str | None]) -> tuple[dict[Any, str], str | None]:
    gt, pred, ids, read_options, source_format = args
    return thumbnails(gt, pred, ids, read_options=read_options, source_format=source_format)


def start(
    gt: Path,
    pred: Path,
    ids: list[Any],
    *,
    read_options: dict[str, Any] | None = None,
    source_format: str | None = None,
    jobs: int = 1,
) -> Future[tuple[dict[Any, str], str | None]]:
    """:func:`thumbnails` started in the background. With ``jobs`` > 1 they are made in a
    worker process: compare's two sets (the ground truth against A and against B) at once,
    reading both datasets again being most of their cost. With ``jobs`` 1 (an eval's report,
    whose charts take milliseconds: nothing to overlap) they are made here, at once."""
    args = (gt, pred, ids, read_options, source_format)
    if jobs <= 1:
        done: Future[tuple[dict[Any, str], str | None]] = Future()
        done.set_result(_task(args))
        return done
    runner = ThreadPoolExecutor(1, thread_name_prefix="segtool-report")
    future = runner.submit(lambda: next(imap(_task, [args], jobs=2, chunksize=1)))
    runner.shutdown(wait=False)
    return future
