"""Issue 10's "done when": a plain script (no ``__main__`` guard) calls the public API with
``jobs=2`` on in-memory detections and in-memory panoptic predictions, and gets the CLI's
numbers for the same data written to files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from tests.conftest import PANOPTIC_EXAMPLES, write_json
from tests.helpers import invoke

COPIES = 20  # of each of the 2 images: 40, past parallel.SMALL (fewer images run in one process)

SCRIPT = """\
import json, multiprocessing, sys
import numpy as np
from PIL import Image
import segtool

print("BODY", flush=True)  # no __main__ guard: a worker that re-ran this would print it again
args = json.loads(sys.argv[1])
pool = set()
seen = lambda n: pool.update(p.pid for p in multiprocessing.active_children())
dets = json.load(open(args["dets"]))
inst = segtool.evaluate_instance(args["inst_gt"], dets, jobs=2, progress=seen)
preds = {}
for a in json.load(open(args["pan_pred"]))["annotations"]:
    rgb = np.asarray(Image.open(args["pan_folder"] + "/" + a["file_name"]).convert("RGB"))
    preds[a["image_id"]] = (rgb.astype(np.int64) @ np.array([1, 256, 65536]), a["segments_info"])
pq = segtool.evaluate_panoptic(args["pan_gt"], preds, jobs=2, progress=seen)
print(json.dumps({"stats": inst.stats.tolist(), "pq": pq.to_dict()["All"], "workers": len(pool)}))
"""


def _panoptic_copies(tmp_path: Path) -> tuple[Path, Path]:
    """The panopticapi examples, each image COPIES times under new ids, as ground truth,
    and a prediction that drops every other segment of each image (a real difference)."""
    data = json.loads(PANOPTIC_EXAMPLES.read_text())
    out = {}
    for name, drop in (("gt", False), ("pred", True)):
        folder = tmp_path / name
        folder.mkdir()
        images, anns = [], []
        for k in range(COPIES):
            for im, ann in zip(data["images"], data["annotations"], strict=True):
                iid = im["id"] * 100 + k
                png = f"{iid}.png"
                rgb = np.asarray(Image.open(PANOPTIC_EXAMPLES.with_suffix("") / ann["file_name"]).convert("RGB"))
                segs = ann["segments_info"]
                if drop:
                    ids = rgb.astype(np.int64) @ np.array([1, 256, 65536])
                    gone = [s["id"] for s in segs[1::2]]
                    ids[np.isin(ids, gone)] = 0
                    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
                    segs = segs[0::2]
                Image.fromarray(rgb).save(folder / png)
                images.append({**im, "id": iid})
                anns.append({"image_id": iid, "file_name": png, "segments_info": segs})
        out[name] = write_json(tmp_path / f"{name}.json", {**data, "images": images, "annotations": anns})
    return out["gt"], out["pred"]


def _detections(tmp_path: Path, gt_pan: Path) -> tuple[Path, Path]:
    """COCO instance ground truth (the panoptic copies converted) and detections: every
    instance shifted by 0 to 2 pixels, with scores."""
    import segtool

    inst = tmp_path / "inst.json"
    segtool.convert(gt_pan, inst, "coco-instance")
    data = json.loads(inst.read_text())
    dets = []
    for k, a in enumerate(a for a in data["annotations"] if not a["iscrowd"]):
        h, w = a["segmentation"]["size"]
        m = mask_utils.decode({**a["segmentation"], "counts": a["segmentation"]["counts"].encode()})
        r = mask_utils.encode(np.asfortranarray(np.roll(m, k % 3, axis=1)))
        seg = {"size": [h, w], "counts": r["counts"].decode()}
        dets.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "segmentation": seg,
                "score": 0.1 + (k % 9) / 10,
            }
        )
    return inst, write_json(tmp_path / "dets.json", dets)


def test_in_memory_predictions_with_jobs_from_a_plain_script(tmp_path, runner):
    pan_gt, pan_pred = _panoptic_copies(tmp_path)
    inst_gt, dets = _detections(tmp_path, pan_gt)
    args = {"dets": str(dets), "inst_gt": str(inst_gt), "pan_gt": str(pan_gt), "pan_pred": str(pan_pred)}
    args["pan_folder"] = str(pan_pred.with_suffix(""))
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(args)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("BODY") == 1, done.stdout
    got = json.loads(lines[-1])
    assert got["workers"] >= 2  # the panoptic pairs ran in worker processes
    r = invoke(runner, "eval", "instance", inst_gt, dets, "--json")
    assert r.exit_code == 0, r.output
    assert got["stats"] == json.loads(r.stdout)["stats"] and 0 < got["stats"][0] < 1
    r = invoke(runner, "eval", "panoptic", pan_gt, pan_pred, "--json")
    assert r.exit_code == 0, r.output
    cli = json.loads(r.stdout)["All"]
    assert {k: got["pq"][k] for k in ("pq", "sq", "rq", "n")} == {k: cli[k] for k in ("pq", "sq", "rq", "n")}
    assert 0 < cli["pq"] < 1
