"""``preview``: one overlay render per image (ground truth, or ground truth | prediction |
errors), optional contact sheets and a static HTML gallery.

Images are rendered in worker processes and streamed: the main process only keeps the
current contact sheet's thumbnails and one line per image for the gallery. OUT is written
into a temporary sibling folder and renamed into place, so a failed run leaves nothing.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from . import formats, imageio, pairing, png, views
from . import preview_select as chooser
from .atomic import atomic_outputs, dataset_inputs, plan
from .errors import SegtoolError
from .masks import Runs, to_pyco
from .model import Annotation, Dataset, ImageInfo, Sample, Segments, category_colors
from .naming import image_path, output_names
from .parallel import imap, jobs_for
from .progress import announce
from .render.errors import Outcome, error_view, instance_outcome, panoptic_outcome
from .render.gallery import page as gallery_page
from .render.overlay import background, overlay
from .render.palette import ERROR_LEGEND, VOID, segment_colors
from .render.sheet import sheet
from .render.text import draw_labels, legend, titles

GAP = 6  # pixels between side-by-side panels
THUMB = 320  # thumbnail width for the gallery and contact sheets


@dataclass(frozen=True)
class Style:
    """How a render looks."""

    alpha: float = 0.5
    outline: bool = True
    labels: bool = True
    scale: int = 1  # drawn at 1/scale of the image's size, every scale-th pixel of the index maps (> 1:
    # the errors panel without outlines, which would cover a small segment's color at that size)


@dataclass(frozen=True)
class _Job:
    sample: Sample
    pred: Sample | None
    photo: str | None
    out: str
    colors: dict[int, tuple[int, int, int]]
    names: dict[int, str]
    things: frozenset[int]
    style: Style
    predicted: bool = False  # the run has predictions (--pred): this image is judged, with or without one


@dataclass
class Rendered:
    """What one render produced: a line of the gallery, and a thumbnail for the sheets."""

    image_id: Any
    file_name: str
    render: str
    segments: int
    photo: bool
    pred_segments: int | None = None
    counts: tuple[int, int, int] | None = None  # TP, FP, FN
    pq: float | None = None
    thumb: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    photo_note: str = ""  # why the render has no photo ("" when it has one)
    thumb_height: int = 0  # the thumbnail's height at THUMB wide (the gallery's <img height>)
    metrics: dict[str, Any] | None = None  # the evaluation's per-image row (with --pred, unless --sort file)


def _photo(path: str | None, height: int, width: int) -> tuple[npt.NDArray[np.uint8] | None, str]:
    """The photo as RGB when it exists, is readable and has the annotation's size; else
    None and exactly why not (the file looked for, and any file of the same stem with
    another extension; or its real size; or why it cannot be read)."""
    if path is None:
        return None, "no --images given, and the format pairs no photo with the image"
    try:
        with imageio.open_image(path) as img:
            if img.size != (width, height):
                return None, f"{Path(path).name} is {img.size[0]}x{img.size[1]}, the record says {width}x{height}"
            return np.asarray(img.convert("RGB")), ""
    except FileNotFoundError:
        return None, _missing_photo(Path(path))
    except (OSError, ValueError, SyntaxError) as exc:
        return None, f"{Path(path).name} cannot be read ({exc})"


def _photo_path(image: ImageInfo, images: Path | None) -> str | None:
    """Where an image's photo is: ``--images`` joined with its ``file_name``, or else the
    photo its format's own layout pairs with it (``ImageInfo.photo``), or None."""
    if images is not None:
        return str(images / image.file_name)
    return image.photo or None


def _missing_photo(path: Path) -> str:
    """Why a photo is missing: its name, and the same stem with other extensions if any."""
    try:
        others = sorted(p.name for p in path.parent.glob(glob.escape(path.stem) + ".*") if p != path)
    except OSError:
        others = []
    found = f" ({', '.join(others[:3])} is there)" if others else ""
    return f"{path.name} is missing from {path.parent}{found}"


def _panel(
    photo: npt.NDArray[np.uint8], res: views.Resolved, job: _Job, scores: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.uint8]:
    segs = res.segments
    colors = segment_colors(segs, job.colors, set(job.things))
    out = overlay(photo, res.index, colors, crowd=segs.iscrowd, alpha=job.style.alpha, outline=job.style.outline)
    if job.style.labels and len(segs):
        img = Image.fromarray(out)
        texts = [job.names.get(int(c), str(c)) for c in segs.category_id.tolist()]
        if scores is not None:
            texts = [f"{t} {s:.2f}" for t, s in zip(texts, scores.tolist(), strict=True)]
        draw_labels(img, res.index, texts)
        out = np.asarray(img)
    return out


def _prediction(job: _Job) -> tuple[Annotation, str]:
    """The loaded prediction and how it is matched: ``instance`` for masks that may overlap
    (detections), ``panoptic`` for a partition (panoptic or semantic predictions)."""
    assert job.pred is not None
    pred = job.pred.load()
    return pred, "instance" if pred.rles is not None else "panoptic"


def _legend_entries(job: _Job, *segs: Segments, errors: bool) -> list[tuple[tuple[int, int, int], str]]:
    cats = sorted({int(c) for s in segs for c in s.category_id.tolist()})
    out = [(job.colors.get(c, (200, 200, 200)), job.names.get(c, str(c))) for c in cats]
    out.append((_rgb(VOID), "void (hatched)"))
    if any(s.iscrowd.any() for s in segs):
        out.append(((40, 40, 40), "crowd (dark stripes)"))
    if errors:
        out += [(_rgb(c), text) for c, text in ERROR_LEGEND]
    return out


PANELS = ("ground truth", "prediction", "errors")


def _rgb(color: Any) -> tuple[int, int, int]:
    return int(color[0]), int(color[1]), int(color[2])


def render(job: _Job) -> Rendered:
    """Render one image to ``job.out``; returns its gallery line and thumbnail."""
    gt = job.sample.load()
    h, w = gt.image.height, gt.image.width
    photo_arr, photo_note = _photo(job.photo, h, w)
    photo = _shrunk(background(h, w, photo_arr), job.style.scale)
    res = views.resolve(gt, "smallest", runs=True)
    panels = [_panel(photo, _small(res, job.style.scale), job)]
    line = Rendered(gt.image.id, gt.image.file_name, Path(job.out).name, len(res.segments), photo_arr is not None)
    line.photo_note = photo_note
    entries_of: list[Segments] = [res.segments]
    if job.pred is not None:
        pred, kind = _prediction(job)
        pres = views.resolve(pred, "score" if pred.segments.score is not None else "smallest", runs=True)
        panels.append(_panel(photo, _small(pres, job.style.scale), job, pres.segments.score))
        if kind == "panoptic":  # matched on the full-size maps: the counts of the image, whatever the scale
            outcome = shown = panoptic_outcome(res.index, res.segments, pres.index, pres.segments)
        else:
            outcome, shown = _instance_outcome(gt, res, pred, pres)
        small = _shrunk(res.index, job.style.scale), _shrunk(pres.index, job.style.scale)
        panels.append(error_view(photo, *small, shown, job.style.alpha, outline=job.style.scale <= 1))
        line.pred_segments, line.counts, line.pq = len(pred.segments), outcome.counts(), outcome.pq
        entries_of.append(pres.segments)
    elif job.predicted:
        line.pred_segments, line.counts, line.pq = 0, *_nothing_predicted(gt, res)
    canvas = _side_by_side(panels)
    if len(panels) > 1:  # titled in the picture itself, so contact sheets show them too
        canvas = np.vstack([canvas, titles(list(PANELS), [p.shape[1] for p in panels], GAP)])
    strip = legend(_legend_entries(job, *entries_of, errors=job.pred is not None), canvas.shape[1])
    full = np.vstack([canvas, strip]) if strip.size else canvas
    png.save(full, job.out)
    line.thumb = _thumbnail(full)
    line.thumb_height = line.thumb.shape[0]
    return line


def _shrunk(a: npt.NDArray[Any], scale: int) -> npt.NDArray[Any]:
    """The middle pixel of each ``scale`` x ``scale`` block of ``a`` (a side's last, when it is
    shorter than that: never empty): nearest-neighbour, a pixel keeps its segment."""
    y, x = (min((scale - 1) // 2, max(n - 1, 0)) for n in a.shape[:2])
    return a if scale <= 1 else np.ascontiguousarray(a[y::scale, x::scale])


def _small(res: views.Resolved, scale: int) -> views.Resolved:
    """A resolved map at 1/``scale`` size, its segments unchanged (for drawing only)."""
    return res if scale <= 1 else views.Resolved(_shrunk(res.index, scale), res.segments)


def _nothing_predicted(gt: Annotation, res: views.Resolved) -> tuple[tuple[int, int, int], float | None]:
    """TP/FP/FN and PQ of an image without a prediction: every non-crowd ground truth
    missed (counted on the full masks of instance ground truth, as a matching would);
    PQ 0 for a panoptic image that has any, as panopticapi scores an empty prediction."""
    segs = gt.segments if gt.rles is not None else res.segments
    fn = int((~segs.iscrowd).sum())
    return (0, 0, fn), (0.0 if fn and gt.rles is None else None)


def _instance_outcome(
    gt: Annotation, res: views.Resolved, pred: Annotation, pres: views.Resolved
) -> tuple[Outcome, Outcome]:
    """Match on the full (possibly overlapping) masks; returns that outcome (for the counts)
    and its rows for the segments the resolved views kept (for the picture)."""
    if gt.rles is not None:
        gseg, gt_rles = gt.segments, [to_pyco(r) for r in gt.rles]
    else:
        gseg, gt_rles = res.segments, [to_pyco(r) for r in Runs(res.index, len(res.segments), "F").rles()]
    try:
        full = instance_outcome(gt_rles, gseg, [to_pyco(r) for r in pred.rles or ()], pred.segments)
    except SegtoolError as exc:
        if exc.path:
            raise
        raise SegtoolError(f"image {gt.image.id}: {exc.message}", pred.origin or None) from None
    keep_gt = _rows(gseg.id, res.segments.id)
    keep_pred = _rows(pred.segments.id, pres.segments.id)
    return full, Outcome(full.gt_missed[keep_gt], full.pred_matched[keep_pred], full.pred_false[keep_pred])


def _rows(all_ids: npt.NDArray[np.int64], kept_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Row of each kept segment in the full table (ids are unique within an image)."""
    order = np.argsort(all_ids, kind="stable")
    return order[np.searchsorted(all_ids[order], kept_ids)]


def _side_by_side(panels: list[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    if len(panels) == 1:
        return panels[0]
    h = panels[0].shape[0]
    gap = np.full((h, GAP, 3), 255, dtype=np.uint8)
    parts: list[npt.NDArray[np.uint8]] = []
    for k, p in enumerate(panels):
        parts += ([gap] if k else []) + [p]
    return np.hstack(parts)


def _thumbnail(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    h, w = img.shape[:2]
    size = (THUMB, max(1, round(h * THUMB / w)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))


@dataclass
class PreviewSummary:
    """What a preview run wrote."""

    out: str
    rendered: list[Rendered]
    sheets: list[str]
    gallery: str | None
    sort: dict[str, Any] | None = None  # the metric the renders are ordered by (None: file order)
    note: str = ""  # why the renders are in file order though predictions were given

    @property
    def without_photo(self) -> int:
        """Renders drawn on a neutral background (no photo, or one of another size)."""
        return sum(not r.photo for r in self.rendered)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "out": self.out,
            "images": [
                {
                    "image_id": r.image_id,
                    "file_name": r.file_name,
                    "render": r.render,
                    "segments": r.segments,
                    "photo": r.photo,
                    **({"photo_note": r.photo_note} if r.photo_note else {}),
                    **(
                        {"pred_segments": r.pred_segments, "tp_fp_fn": r.counts, "pq": r.pq}
                        if r.counts is not None
                        else {}
                    ),
                    **({"metrics": _metrics(r.metrics)} if r.metrics is not None else {}),
                }
                for r in self.rendered
            ],
            "sort": self.sort,
            **({"sort_note": self.note} if self.note else {}),
            "sheets": self.sheets,
            "gallery": self.gallery,
            "without_photo": self.without_photo,
        }


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's per-image row without the image's id and name (the line has them)."""
    return {k: v for k, v in row.items() if k not in ("image_id", "file_name")}


def _read_predictions(pred: Path, gt: Dataset, labels: Any = None) -> dict[Any, Sample | None]:
    """Each ground-truth image's prediction (None where it has none), by image id; a
    prediction for an image the ground truth lacks is an error (see :mod:`.pairing`).
    ``labels``: the ground truth's label map, which label-PNG predictions are read through."""
    pairs = pairing.pair(gt.samples, formats.read_predictions(pred, gt, labels=labels), allow_missing=True)
    return {g.image.id: p for g, p in pairs}


def preview(
    path: Path,
    out: Path,
    *,
    read_options: dict[str, Any] | None = None,
    images: Path | None = None,
    pred: Path | None = None,
    ids: list[Any] | None = None,
    sample: int | None = None,
    seed: int = 0,
    style: Style = Style(),
    grid: int | None = None,
    gallery: bool = False,
    overwrite: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    source_format: str | None = None,
    choice: chooser.Choice | None = None,
) -> PreviewSummary:
    """Render the dataset at ``path`` (and ``pred``) into the folder ``out``; ``choice``:
    the class filter, the predictions' score floor and the order (worst first by default
    with ``pred``; :mod:`.preview_select`)."""
    ds = formats.read(path, source_format, **(read_options or {}))
    chosen = chooser.select(ds, ids, sample, seed)
    preds = _read_predictions(pred, ds, (read_options or {}).get("labels")) if pred is not None else {}
    choice = choice or chooser.Choice()
    preds = chooser.above(preds, choice.min_score)
    inputs = [*dataset_inputs(path, (read_options or {}).get("masks")), *dataset_inputs(pred)]
    plan([out], [*inputs, *([images] if images else [])], overwrite=overwrite)  # before any evaluation
    ignore = int((read_options or {}).get("ignore_value", 255))
    arranged = chooser.arrange(ds, chosen, preds if pred is not None else None, choice, jobs, ignore, progress)
    chosen = arranged.samples
    names = output_names([image_path(s.image) for s in chosen], str(out), flat=True, suffix=".png")  # as writers
    colors = category_colors(ds.categories)
    if not arranged.announced:  # else told already: each image scored for the order, then rendered
        announce(progress, len(chosen))
    cat_names = {c.id: c.name for c in ds.categories}
    things = frozenset(int(c) for c in ds.thing_ids().tolist())
    with atomic_outputs(out, overwrite=overwrite) as (tmp,):
        tmp.mkdir()
        work = (
            _Job(
                s,
                preds.get(s.image.id),
                _photo_path(s.image, images),
                str(tmp / name),
                colors,
                cat_names,
                things,
                style,
                pred is not None,
            )
            for s, name in zip(chosen, names, strict=True)
        )
        rendered: list[Rendered] = []
        sheets: list[str] = []
        pending: list[tuple[Any, npt.NDArray[np.uint8]]] = []
        thumbs = tmp / "thumbs" if gallery else None
        if thumbs is not None:
            thumbs.mkdir()
        for line in imap(render, work, jobs=jobs_for(len(chosen), jobs), chunksize=4):  # ~50 ms per image
            if thumbs is not None and line.thumb is not None:
                # the format named: Pillow reads none from "....jpg" (an image named "...")
                Image.fromarray(line.thumb).save(thumbs / (Path(line.render).stem + ".jpg"), "JPEG", quality=85)
            if grid and line.thumb is not None:
                pending.append((line.image_id, line.thumb))
                if len(pending) == grid:
                    sheets.append(sheet(pending, tmp, len(sheets) + 1, THUMB, GAP))
                    pending = []
            line.thumb = None
            line.metrics = arranged.rows.get(line.image_id)
            rendered.append(line)
            if progress is not None:
                progress(1)
        if pending:
            sheets.append(sheet(pending, tmp, len(sheets) + 1, THUMB, GAP))
        page = None
        if gallery:
            page = "index.html"
            (tmp / page).write_text(gallery_page(rendered, path, pred, THUMB, arranged.sort), encoding="utf-8")
    return PreviewSummary(str(out), rendered, sheets, page, arranged.sort, arranged.note)
