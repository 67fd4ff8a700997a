"""``segtool eval``'s tables and one-line headlines, every metric a fraction.

One scale everywhere: PQ 0.5888 in the table is PQ 0.5888 in ``--json``, in ``--csv`` and
in ``--fail-under PQ=0.55`` (fractions are what panopticapi and pycocotools return, and
what the JSON always held). Four decimals: the precision of the percentages with two
decimals that the tables showed before.
"""

from __future__ import annotations

from typing import Any

from ..metrics.instance_result import STAT_NAMES
from ..metrics.lvis import STAT_NAMES as LVIS_NAMES
from . import output

INSTANCE_LABELS = (
    "AP @[IoU=0.50:0.95 | area=all | maxDets=100]",
    "AP @[IoU=0.50      | area=all | maxDets=100]",
    "AP @[IoU=0.75      | area=all | maxDets=100]",
    "AP @[IoU=0.50:0.95 | area=small | maxDets=100]",
    "AP @[IoU=0.50:0.95 | area=medium | maxDets=100]",
    "AP @[IoU=0.50:0.95 | area=large | maxDets=100]",
    "AR @[IoU=0.50:0.95 | area=all | maxDets=1]",
    "AR @[IoU=0.50:0.95 | area=all | maxDets=10]",
    "AR @[IoU=0.50:0.95 | area=all | maxDets=100]",
    "AR @[IoU=0.50:0.95 | area=small | maxDets=100]",
    "AR @[IoU=0.50:0.95 | area=medium | maxDets=100]",
    "AR @[IoU=0.50:0.95 | area=large | maxDets=100]",
)


def metric(v: float | None) -> str:
    """A metric as shown: a fraction to 4 decimals, ``—`` where undefined."""
    return "—" if v is None else f"{v:.4f}"


def headline(command: str, data: dict[str, Any]) -> str:
    """The result in one line (GitHub's summary notice): ``PQ 0.5888 · SQ 0.8 · … on N images``."""
    if command == "eval panoptic":
        values = [(m.upper(), data["All"][m]) for m in ("pq", "sq", "rq")]
    elif command == "eval instance":
        names = ("AP", "AP50", "AP75", "APr", "AR@300") if data.get("lvis") else ("AP", "AP50", "AP75", "AR100")
        values = [(k, data[k]) for k in names]
    else:
        names = ("mIoU", "fwIoU", "pixel_accuracy", *(("boundary_mIoU",) if "boundary_mIoU" in data else ()))
        values = [(k, data[k]) for k in names]
    line = " · ".join(f"{k} {metric(v)}" for k, v in values) + f" on {data['images']} images"
    edges = "boundary_dilation_ratio" in data and command != "eval semantic"  # Boundary PQ or AP
    return f"Boundary {line}" if edges or data.get("iou_type") == "boundary" else line


def print_instance(data: dict[str, Any], per_class: bool) -> None:
    """COCOeval's 12 numbers (LVISEval's 13 for LVIS), then AP per category."""
    lvis = bool(data.get("lvis"))
    what = "LVIS" if lvis else "COCO"
    table = output.SafeTable(f"{what} {data['iou_type']} evaluation · {data['images']} images")
    for col in ("metric", "", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    names, labels = (LVIS_NAMES, LVIS_LABELS) if lvis else (STAT_NAMES, INSTANCE_LABELS)
    for name, label, value in zip(names, labels, data["stats"], strict=True):
        table.add_row(name, label, metric(value))
    output.out.print(table)
    print_analyses(data)
    if not per_class:
        return
    table = output.SafeTable("AP per category")
    for col in ("id", "name", *(("frequency",) if lvis else ()), "AP"):
        table.add_column(col, justify="left" if col in ("name", "frequency") else "right")
    for cid, r in data["per_class"].items():
        if r["AP"] is not None:
            table.add_row(str(cid), r["name"], *((r["frequency"] or "",) if lvis else ()), metric(r["AP"]))
    output.out.print(table)


LVIS_LABELS = (
    "AP @[IoU=0.50:0.95 | area=all | maxDets=300]",
    "AP @[IoU=0.50      | area=all | maxDets=300]",
    "AP @[IoU=0.75      | area=all | maxDets=300]",
    "AP @[IoU=0.50:0.95 | area=small | maxDets=300]",
    "AP @[IoU=0.50:0.95 | area=medium | maxDets=300]",
    "AP @[IoU=0.50:0.95 | area=large | maxDets=300]",
    "AP @[IoU=0.50:0.95 | rare categories]",
    "AP @[IoU=0.50:0.95 | common categories]",
    "AP @[IoU=0.50:0.95 | frequent categories]",
    "AR @[IoU=0.50:0.95 | area=all | maxDets=300]",
    "AR @[IoU=0.50:0.95 | area=small | maxDets=300]",
    "AR @[IoU=0.50:0.95 | area=medium | maxDets=300]",
    "AR @[IoU=0.50:0.95 | area=large | maxDets=300]",
)


def print_semantic(data: dict[str, Any], per_class: bool) -> None:
    """mIoU and friends, then IoU and accuracy per category."""
    rows = [
        ("mIoU", f"{metric(data['mIoU'])}  (over {data['classes_averaged']} classes)"),
        ("fwIoU", metric(data["fwIoU"])),
        ("pixel accuracy", metric(data["pixel_accuracy"])),
        ("mean class accuracy", metric(data["mean_accuracy"])),
    ]
    if "boundary_mIoU" in data:
        shown = f"{metric(data['boundary_mIoU'])}  (over {data['boundary_classes_averaged']} classes)"
        rows.append((f"boundary mIoU (ratio {data['boundary_dilation_ratio']:g})", shown))
    output.out.print(output.key_value_table(f"semantic segmentation · {data['images']} images", rows))
    if data["missing_predictions"]:
        output.note(f"{data['missing_predictions']} image(s) had no prediction and count as unlabelled")
    if not per_class:
        return
    table = output.SafeTable("per category")
    edges = "boundary_mIoU" in data
    for col in ("id", "name", "IoU", *(("boundary IoU",) if edges else ()), "accuracy", "GT px", "pred px"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for cid, r in data["per_class"].items():
        if r["iou"] is None:
            continue
        extra = (metric(r["boundary_iou"]),) if edges else ()
        table.add_row(
            str(cid),
            r["name"],
            metric(r["iou"]),
            *extra,
            metric(r["accuracy"]),
            str(r["gt_pixels"]),
            str(r["pred_pixels"]),
        )
    output.out.print(table)


def print_panoptic(data: dict[str, Any], per_class: bool) -> None:
    """PQ, SQ, RQ of all, things and stuff, then per category with TP, FP, FN."""
    ratio = data.get("boundary_dilation_ratio")
    title = "panoptic quality" if ratio is None else f"boundary PQ (ratio {ratio:g})"
    table = output.SafeTable(f"{title} · {data['images']} images")
    for col in ("", "PQ", "SQ", "RQ", "N"):
        table.add_column(col, justify="left" if not col else "right")
    for group in ("All", "Things", "Stuff"):
        r = data[group]
        table.add_row(group, metric(r["pq"]), metric(r["sq"]), metric(r["rq"]), str(r["n"]))
    output.out.print(table)
    print_pq_analyses(data, per_class)
    if data["missing_predictions"]:
        output.note(f"{data['missing_predictions']} image(s) had no prediction and count as all false negatives")
    if not per_class:
        return
    table = output.SafeTable("per category")
    for col in ("id", "name", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for cid, r in data["per_class"].items():
        if r["tp"] + r["fp"] + r["fn"] == 0:
            continue
        kind = "thing" if r["isthing"] else "stuff"
        table.add_row(
            str(cid), r["name"], kind, metric(r["pq"]), metric(r["sq"]), metric(r["rq"]), r["tp"], r["fp"], r["fn"]
        )
    output.out.print(table)


def print_analyses(data: dict[str, Any]) -> None:
    """--tide (tidecv's dAP, AP points as tidecv prints them), --confusion (its totals; the
    matrix itself is in --json and --confusion-csv) and --calibration (ECE, MCE, the bins)."""
    if "tide" in data:
        t = data["tide"]
        table = output.SafeTable(f"TIDE errors · {t['mode']} AP50 {t['ap']:.2f} (dAP, AP points)")
        names = [*t["main"], *t["special"]]
        for name in names:
            table.add_column(name, justify="right")
        table.add_row(*(f"{v:.2f}" for v in [*t["main"].values(), *t["special"].values()]))
        table.add_row(*(str(t["counts"][k]) if k in t["counts"] else "" for k in names))
        output.out.print(table)
    if "confusion" in data:
        c = data["confusion"]
        m, k = c["matrix"], len(c["matrix"]) - 1
        right = sum(m[i][i] for i in range(k))
        confused = sum(m[i][j] for i in range(k) for j in range(k)) - right
        output.out.print(
            f"Confusion (IoU 0.5, score >= {c['score_threshold']}): {right} right, {confused} of another class, "
            f"{sum(m[k])} on background, {sum(row[k] for row in m)} ground truth missed"
        )
    if "calibration" in data:
        c = data["calibration"]
        table = output.SafeTable(
            f"Calibration · {c['detections']} detections · ECE {c['ECE']:.4f} · MCE {c['MCE']:.4f}"
        )
        for col in ("score", "count", "confidence", "accuracy"):
            table.add_column(col, justify="right")
        for b in c["bins"]:
            table.add_row(
                f"{b['lo']:.2f}-{b['hi']:.2f}", str(b["count"]), metric(b["confidence"]), metric(b["accuracy"])
            )
        output.out.print(table)


def print_pq_analyses(data: dict[str, Any], per_class: bool = False) -> None:
    """--errors (each cause's unmatched segments and the PQ of All gained by fixing them, a
    fraction as PQ is shown; with --per-class, each class's gains) and --confusion (its
    totals; the matrix is in --json and --confusion-csv)."""
    if "pq_errors" in data:
        e = data["pq_errors"]
        table = output.SafeTable(f"PQ errors · PQ {metric(data['All']['pq'])} (gain if fixed, as a fraction)")
        for col in ("", *e["causes"], "all"):
            table.add_column(col, justify="left" if not col else "right")
        table.add_row("PQ gain", *(f"{e['gain']['All'][k]:.4f}" for k in (*e["causes"], "all")))
        table.add_row("FN", *(str(e["false_negatives"].get(k, "")) for k in e["causes"]), "")
        table.add_row("FP", *(str(e["false_positives"].get(k, "")) for k in e["causes"]), "")
        output.out.print(table)
        if per_class:
            _pq_error_classes(e)
    if "confusion" in data:
        m = data["confusion"]["matrix"]
        k = len(m) - 1
        right = sum(m[i][i] for i in range(k))
        confused = sum(m[i][j] for i in range(k) for j in range(k)) - right
        output.out.print(
            f"Confusion (segments, IoU 0.5): {right} matched, {confused} of another class, "
            f"{sum(m[k])} on background, {sum(row[k] for row in m)} missed"
        )


def _pq_error_classes(e: dict[str, Any]) -> None:
    """Each class with an error: its PQ gained by fixing each cause (— where the fix leaves
    the class nothing to count)."""
    table = output.SafeTable("PQ errors per category (gain of its PQ if fixed)")
    for col in ("id", "name", *e["causes"], "all"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for cid, r in e["per_class"].items():
        if any(r["false_negatives"].values()) or any(r["false_positives"].values()):
            table.add_row(str(cid), r["name"], *(metric(r["gain"][k]) for k in (*e["causes"], "all")))
    output.out.print(table)
