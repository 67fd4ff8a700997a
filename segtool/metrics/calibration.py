"""Calibration of instance detection scores: ECE and MCE over equal-width score bins, and
the bins' data a reliability diagram draws (docs/metrics/calibration.md).

The detections are those TIDE takes (per image the top ``max_dets`` by score, ties in file
order), less those a crowd region of their class covers (COCOeval ignores them too). A
detection is *correct* when it is matched at IoU 0.5 to ground truth of its own class
(greedy by score, as TIDE and COCOeval at IoU 0.5). Bin ``b`` of ``B`` holds the scores
``s`` with ``floor(s * B) == b`` (1.0 in the last): ``[b / B, (b + 1) / B)``. Per bin its
confidence (mean score) and accuracy (fraction correct); ECE = sum over bins of
``count / N * |accuracy - confidence|``, MCE = the largest ``|accuracy - confidence|`` of a
non-empty bin (Guo et al., 2017; Naeini et al., 2015). Scores must lie in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError
from .tide import ImageMatch

BINS = 10


def calibration_image(m: ImageMatch) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """One image's scored detections: score and whether correct."""
    keep = ~m.ignored
    return m.score[keep], (m.gt_of >= 0)[keep]


def bins(images: Iterable[tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]], n_bins: int = BINS) -> dict[str, Any]:
    """ECE, MCE and per bin its bounds, count, confidence, accuracy and gap (accuracy -
    confidence; None for an empty bin). A score outside [0, 1] is one line (exit 2)."""
    parts = list(images)
    score = np.concatenate([np.zeros(0), *(s for s, _ in parts)])
    correct = np.concatenate([np.zeros(0, bool), *(c for _, c in parts)])
    bad = ~((score >= 0) & (score <= 1))
    if bad.any():
        raise SegtoolError(f"calibration needs scores in [0, 1]; a detection has score {score[bad][0]!r}")
    which = np.minimum(np.floor(score * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    total = np.bincount(which, weights=score, minlength=n_bins)
    hits = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins)
    rows, ece, mce = [], 0.0, 0.0
    for b in range(n_bins):
        n = int(count[b])
        conf = float(total[b] / n) if n else None
        acc = float(hits[b] / n) if n else None
        gap = None if conf is None or acc is None else acc - conf
        if gap is not None:
            ece += n / len(score) * abs(gap)
            mce = max(mce, abs(gap))
        rows.append(
            {"lo": b / n_bins, "hi": (b + 1) / n_bins, "count": n, "confidence": conf, "accuracy": acc, "gap": gap}
        )
    return {"detections": len(score), "ECE": ece, "MCE": mce, "bins": rows}
