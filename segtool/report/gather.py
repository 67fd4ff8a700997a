"""What a report shows, read off an evaluation's result dict (what ``--json`` writes): the
headline tiles, the per-class values, the worst images and the analyses. Pure data: nothing
here draws, reads a file or prints, so each piece is tested against the JSON it came from.

The report works from the result dict and not the result objects because the dict is the
evaluation's public, documented output: a tile can then be checked against ``--json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Headline tiles per command: (label, key path into the result dict)
TILES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "eval panoptic": [
        ("PQ", ("All", "pq")),
        ("SQ", ("All", "sq")),
        ("RQ", ("All", "rq")),
        ("PQ things", ("Things", "pq")),
        ("PQ stuff", ("Stuff", "pq")),
    ],
    "eval instance": [(k, (k,)) for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")],
    "eval semantic": [(k, (k,)) for k in ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy", "boundary_mIoU")],
}
LVIS_TILES = [(k, (k,)) for k in ("AP", "AP50", "AP75", "APr", "APc", "APf", "AR@300")]
# Per-class values (bars) and the per-image value the worst images are ranked by
CLASS_METRICS = {"eval panoptic": ("pq", "sq", "rq"), "eval instance": ("AP",), "eval semantic": ("iou",)}
IMAGE_METRIC = {"eval panoptic": "pq", "eval instance": "AP", "eval semantic": "mIoU"}
WORST = 12  # worst images shown by default


@dataclass
class Tile:
    """One headline number: ``value`` exactly as in the result dict (None: undefined)."""

    label: str
    key: str
    value: float | None


@dataclass
class ClassRow:
    """One category's bars: its name and each metric of ``CLASS_METRICS``."""

    category_id: str
    name: str
    values: dict[str, float]


@dataclass
class Gathered:
    """Everything a report shows, as plain data."""

    command: str
    images: int
    tiles: list[Tile]
    classes: list[ClassRow]
    worst: list[dict[str, Any]]
    metric: str
    confusion: tuple[list[str], list[list[int]]] | None = None
    errors: dict[str, dict[str, float]] | None = None
    calibration: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


def _lookup(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def tiles(command: str, data: dict[str, Any]) -> list[Tile]:
    """The command's headline numbers that the result has (LVIS has its own 13)."""
    chosen = LVIS_TILES if data.get("lvis") else TILES[command]
    out = []
    for label, path in chosen:
        if path[0] in data:
            out.append(Tile(label, ".".join(path), _lookup(data, path)))
    return out


def classes(command: str, data: dict[str, Any]) -> list[ClassRow]:
    """Categories with a defined value, worst first (the first metric, then id): a class
    the data never shows (panoptic: no TP, FP or FN; instance: no ground truth; semantic:
    in neither map) has nothing to draw."""
    metrics = CLASS_METRICS[command]
    rows = []
    for cid, rec in data.get("per_class", {}).items():
        if command == "eval panoptic" and not (rec.get("tp") or rec.get("fp") or rec.get("fn")):
            continue
        values = {m: rec.get(m) for m in metrics}
        if any(v is None for v in values.values()):
            continue
        rows.append(ClassRow(str(cid), str(rec.get("name", cid)), values))
    rows.sort(key=lambda r: r.values[metrics[0]])
    return rows


def worst(command: str, data: dict[str, Any], n: int = WORST) -> list[dict[str, Any]]:
    """The ``n`` per-image rows of lowest value (PQ / AP / mIoU), ties in the result's image
    order; images where the value is undefined (nothing to score) are left out."""
    key = IMAGE_METRIC[command]
    rows = [r for r in data.get("per_image", []) if r.get(key) is not None]
    return sorted(rows, key=lambda r: r[key])[:n] if n > 0 else []


def confusion(command: str, data: dict[str, Any]) -> tuple[list[str], list[list[int]]] | None:
    """Names and counts (rows: ground truth) of the classes the matrix involves: rows and
    columns that are all zero are left out, so 133 COCO classes fit when few occur."""
    if command == "eval semantic" and "confusion_matrix" in data:
        cm = data["confusion_matrix"]
        names = {str(k): str(v.get("name", k)) for k, v in data.get("per_class", {}).items()}
        row_names = [names.get(str(i), str(i)) for i in cm["rows"]]
        col_names = [*row_names, "unlabelled"][: len(cm["columns"])]
        matrix = cm["counts"]
    elif "confusion" in data and "matrix" in data["confusion"]:
        row_names = col_names = [str(n) for n in data["confusion"]["names"]]
        matrix = data["confusion"]["matrix"]
    else:
        return None
    n_rows = len(matrix)
    keep = [
        i
        for i in range(max(n_rows, len(col_names)))
        if (i < n_rows and any(matrix[i])) or any(i < len(r) and r[i] for r in matrix)
    ]
    labels = [col_names[i] if i < len(col_names) else row_names[i] for i in keep]
    counts = [[matrix[i][j] if i < n_rows and j < len(matrix[i]) else 0 for j in keep] for i in keep]
    return labels, counts


def errors(data: dict[str, Any]) -> dict[str, dict[str, float]] | None:
    """TIDE's dAP (instance, AP points) or the PQ gained by fixing each cause (panoptic,
    PQ points: x100, as TIDE's), by group of bars."""
    if "tide" in data:
        tide = data["tide"]
        return {"main errors (dAP)": dict(tide["main"]), "special (dAP)": dict(tide["special"])}
    if "pq_errors" in data:
        gain = data["pq_errors"]["gain"]["All"]
        return {"PQ gained by fixing (points)": {k: 100 * v for k, v in gain.items() if v is not None}}
    return None


def gather(command: str, data: dict[str, Any], n_worst: int = WORST) -> Gathered:
    """The report's content from one evaluation's result dict."""
    out = Gathered(
        command,
        int(data.get("images", 0)),
        tiles(command, data),
        classes(command, data),
        worst(command, data, n_worst),
        IMAGE_METRIC[command],
        confusion(command, data),
        errors(data),
        data.get("calibration", {}).get("bins") if "calibration" in data else None,
    )
    if command != "eval instance" or data.get("lvis"):  # LVIS refuses the three analyses
        return out
    if "tide" not in data:
        out.notes.append("TIDE error bars: run with --tide (it adds ~40% to the evaluation's CPU time)")
    if "calibration" not in data:
        out.notes.append("calibration diagram: run with --calibration")
    if "confusion" not in data:
        out.notes.append("confusion heatmap: run with --confusion")
    return out
