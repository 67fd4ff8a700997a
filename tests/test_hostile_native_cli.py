"""Issue 17, native code through the real CLI: hostile polygons and RLEs that used to reach
pycocotools (segfaults, 11.7 GB), and image paths that are not files (a FIFO hung every
command) or headers that declare 20000x20000 pixels.

Commands run in child processes (a fork per command of one interpreter that imported
segtool, see ``_DRIVER``), so a segmentation fault is a failed case, not a dead pytest, and
a hang is killed at its timeout. Promise per command: exit 0, 1 or 2 (never 3, never a
signal), within seconds; exit 2 prints exactly one line, ``Error: ...``, and no warning.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import rgb_of

H, W = 6, 8
TIMEOUT = 20.0  # per command; each takes well under a second

# Forks one child per job from an interpreter that imported segtool: no import cost per
# command, and a signal death or a hang stays that job's. Prints one JSON result per job.
_DRIVER = r"""
import json, os, signal, sys, time
from segtool.cli import main
import cv2, segtool.checks, segtool.convert, segtool.evaluate, segtool.preview  # loaded before forking
for job in json.loads(sys.stdin.read()):
    out, err = job["stdout"], job["stderr"]
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.environ.update(job["env"])
        for fd, name in ((1, out), (2, err)):
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
        try:
            main.main(args=[*job["argv"], "-j", "1"], prog_name="segtool", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    deadline, code = time.monotonic() + job["timeout"], None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.01)
    if code is None:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print(json.dumps({"id": job["id"], "exit": code}), flush=True)
"""


def run_all(jobs: list[dict[str, Any]], tmp: Path) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` ({id, argv, env?}) through the driver; each result gets its exit code
    (negative: killed by that signal; None: killed at the timeout), stdout and stderr."""
    for j in jobs:
        j.setdefault("env", {})
        j["stdout"], j["stderr"] = str(tmp / f"{j['id']}.out"), str(tmp / f"{j['id']}.err")
        j["timeout"] = TIMEOUT
    budget = TIMEOUT * len(jobs) + 60
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER], input=json.dumps(jobs), capture_output=True, text=True, timeout=budget
    )
    results = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert len(results) == len(jobs), proc.stderr[-2000:]
    for j in jobs:
        results[j["id"]]["out"] = Path(j["stdout"]).read_text(errors="replace")
        results[j["id"]]["err"] = Path(j["stderr"]).read_text(errors="replace")
        results[j["id"]]["argv"] = j["argv"]
    return results


def problems(results: dict[str, dict[str, Any]], expect: dict[str, set[int]] | None = None) -> list[Any]:
    """What breaks the promise: an exit outside {0, 1, 2} (or outside ``expect[id]``), an
    exit 2 without exactly one ``Error:`` line on stderr, a warning or traceback printed."""
    bad = []
    for rid, r in results.items():
        allowed = (expect or {}).get(rid, {0, 1, 2})
        lines = r["err"].strip().splitlines()
        if r["exit"] not in allowed:
            bad.append((rid, r["exit"], lines[-3:]))
        elif r["exit"] == 2 and (len(lines) != 1 or not lines[0].startswith("Error: ")):
            bad.append((rid, "stderr", lines[:4]))
        elif "Warning" in r["err"] or "Traceback" in r["err"]:
            bad.append((rid, "noise", lines[:4]))
    return bad


# --- datasets, written by hand (json, numpy, Pillow), never by segtool ----------------------


def instance_json(path: Path, polygon: str | None = None, rle: Any = None, image: dict[str, Any] | None = None) -> Path:
    """A 6x8 COCO instance file: annotation 1 a polygon (``polygon`` is raw JSON text for its
    coordinates, so NaN and 1e300 can be written), annotation 2 an uncompressed RLE."""
    poly = polygon or "1, 1, 5, 1, 5, 4, 1, 4"
    seg2 = rle if rle is not None else {"size": [H, W], "counts": [20, 3, 3, 3, 19]}
    img = {"id": 1, "file_name": "a.jpg", "height": H, "width": W, **(image or {})}
    cats = [{"id": 1, "name": "person", "supercategory": "p"}]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 12.0, "bbox": [1, 1, 4, 3], "score": 0.9},
        {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 9.0, "bbox": [3, 2, 3, 3], "score": 0.8},
    ]
    text = json.dumps({"images": [img], "categories": cats, "annotations": anns})
    text = text.replace('"score": 0.9}', '"score": 0.9, "segmentation": [[@POLY@]]}', 1)
    text = text.replace('"score": 0.8}', '"score": 0.8, "segmentation": ' + json.dumps(seg2) + "}", 1)
    path.write_text(text.replace("@POLY@", poly))
    return path


def instance_commands(src: Path, out: Path, images: Path | None = None) -> dict[str, list[str]]:
    photos = ["--images", str(images)] if images else []
    return {
        "convert": ["convert", str(src), str(out / "p.json"), "--to", "coco-panoptic", "--overlap", "first"],
        "eval": ["eval", "instance", str(src), str(src)],
        "validate": ["validate", str(src), *photos],
        "preview": ["preview", str(src), str(out / "pv"), "--no-names", *photos],
    }


def _zigzag(n: int) -> str:
    """A polygon inside the margin whose edges are far longer than 64 image perimeters."""
    pts = [(-W, -H), (2 * W, 2 * H)] * n + [(0, 2 * H)]
    return json.dumps([v for p in pts for v in p])[1:-1]


POLYGONS = {  # raw JSON for the x of two points of the polygon
    "1e8": "1e8",
    "1e9": "1e9",
    "-1e9": "-1e9",
    "2^31": "2147483648",
    "2^63": "9223372036854775808",
    "1e300": "1e300",
    "NaN": "NaN",
    "inf": "Infinity",
    "-inf": "-Infinity",
}


def _misread(chars: int) -> str:
    """Counts [2, 40, 2, 4] of a 6x8 image, the last written as a step of -36 (4 - 40) in
    ``chars`` (7 or 8) characters, sign groups included: old segtool read -36 (the counts add
    up to 48, accepted); pycocotools reads -4 (they add up to 80) and writes past its buffer."""
    groups = [(-36 >> (5 * k)) & 0x1F for k in range(chars)]
    step = "".join(chr(48 + (g | (0x20 if k < chars - 1 else 0))) for k, g in enumerate(groups))
    return "2X12" + step  # 2, 40 (8 + 32: "X", "1"), 2, then the step


RLES: dict[str, Any] = {
    "counts-2^33": {"size": [H, W], "counts": [2**33, 5]},
    "counts-2^62": {"size": [H, W], "counts": [2**62]},
    "counts-2^64": {"size": [H, W], "counts": [2**64 - 48, 48]},
    "counts-negative": {"size": [H, W], "counts": [-5, 53]},
    "counts-float": {"size": [H, W], "counts": [1.5, 46.5]},
    "counts-bool": {"size": [H, W], "counts": [True, 47]},
    "string-overlong": {"size": [H, W], "counts": "oooooooooooooo0"},
    "string-misread-7": {"size": [H, W], "counts": _misread(7)},
    "string-misread-8": {"size": [H, W], "counts": _misread(8)},
    "size-2^31": {"size": [2**31, 2**31], "counts": "0"},
}


def test_hostile_polygons_and_rles_through_every_command(tmp_path):
    """Each hostile polygon value and RLE, through convert, eval instance, validate and
    preview: never a crash; convert, eval and preview refuse it in one line naming the
    annotation; validate reports it as a finding (exit 1), or refuses the file (exit 2)
    where the JSON reader refuses its token."""
    jobs, expect = [], {}
    cases = {
        f"poly-{k}": instance_json(tmp_path / f"p{i}.json", f"1, 1, {v}, 1, {v}, 4, 1, 4")
        for i, (k, v) in enumerate(POLYGONS.items())
    }
    cases["poly-long-edges"] = instance_json(tmp_path / "long.json", _zigzag(60))
    cases |= {f"rle-{k}": instance_json(tmp_path / f"r{i}.json", rle=v) for i, (k, v) in enumerate(RLES.items())}
    for case, src in cases.items():
        for name, argv in instance_commands(src, tmp_path / "out" / case).items():
            jobs.append({"id": f"{case}.{name}", "argv": argv})
            expect[f"{case}.{name}"] = {1, 2} if name == "validate" else {2}
    results = run_all(jobs, tmp_path)
    assert problems(results, expect) == []
    for rid, r in results.items():
        if r["exit"] == 2 and "annotation" not in r["err"] and "detection" not in r["err"]:
            # only a token the JSON reader refuses (NaN, Infinity, 2^63 …) may stop it first
            assert any(t in rid for t in ("NaN", "inf", "2^63", "2^64", "2^62", "2^33")), (rid, r["err"])
    validate = {rid: r for rid, r in results.items() if rid.endswith(".validate") and r["exit"] == 1}
    assert "poly-1e9.validate" in validate and "poly-long-edges.validate" in validate
    for rid in ("poly-1e9.validate", "poly-long-edges.validate", "poly-1e8.validate"):
        assert "degenerate-polygon" in results[rid]["out"], results[rid]["out"]
    assert "rle-undecodable" in results["rle-string-misread-8.validate"]["out"]


def test_polygons_near_the_image_still_work(tmp_path):
    """The bounds refuse nothing a real dataset has: points up to one image size outside
    the image, edges up to 64 image perimeters; convert and eval exit 0."""
    outside = f"{-W}, {-H}, {2 * W}, {-H}, {2 * W}, {2 * H}, {-W}, {2 * H}"
    src = instance_json(tmp_path / "ok.json", outside)
    src2 = instance_json(tmp_path / "ok2.json", _zigzag(20))
    jobs = []
    for tag, s in (("outside", src), ("zigzag", src2)):
        for name, argv in instance_commands(s, tmp_path / "out" / tag).items():
            jobs.append({"id": f"{tag}.{name}", "argv": argv})
    results = run_all(jobs, tmp_path)
    assert problems(results, {f"{t}.{n}": {0, 1} for t in ("outside", "zigzag") for n in ("validate",)}) == []
    assert all(r["exit"] == 0 for rid, r in results.items() if not rid.endswith("validate")), results
    assert "mask-outside" in results["outside.validate"]["out"]


def test_an_image_beyond_pycocotools_32_bit_counts_is_refused_even_with_the_limit_raised(tmp_path):
    """65536x65536 is 2^32 pixels: pycocotools' counts wrap. Refused by the pixels limit, and
    with the limit raised, by pycocotools' own bound."""
    big = {"height": 65536, "width": 65536}
    src = instance_json(tmp_path / "big.json", rle={"size": [65536, 65536], "counts": "0"}, image=big)
    jobs = []
    for env_tag, env in (("default", {}), ("raised", {"SEGTOOL_LIMIT_PIXELS": str(2**40)})):
        for name, argv in instance_commands(src, tmp_path / "out" / env_tag).items():
            jobs.append({"id": f"{env_tag}.{name}", "argv": argv, "env": env})
    results = run_all(jobs, tmp_path)
    assert problems(results, {j["id"]: {1, 2} if "validate" in j["id"] else {2} for j in jobs}) == []
    assert "over the limit" in results["default.convert"]["err"]
    assert "32 bits" in results["raised.convert"]["err"]


# --- paths that are not files, and headers that declare 20000x20000 pixels ------------------


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png_bomb(w: int = 20000, h: int = 20000) -> bytes:
    """45 bytes: a PNG header declaring w x h RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def jpeg_bomb(w: int = 20000, h: int = 20000) -> bytes:
    """37 bytes: a baseline JPEG header (SOF0, SOS) declaring w x h pixels."""
    sof = struct.pack(">BHHB", 8, h, w, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    sos = b"\x03" + b"".join(bytes([i, 0]) for i in (1, 2, 3)) + b"\x00\x3f\x00"
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xda" + struct.pack(">H", 8) + sos


def replace_with(path: Path, kind: str) -> None:
    """Put a FIFO, /dev/zero, a folder or a bomb header where ``path`` (a file) was."""
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "bomb-png":
        path.write_bytes(png_bomb())
    else:
        path.write_bytes(jpeg_bomb())


def panoptic(root: Path) -> Path:
    ids = np.zeros((H, W), np.int64)
    ids[1:4, 2:6] = 5
    (root / "pan").mkdir(parents=True)
    Image.fromarray(rgb_of(ids)).save(root / "pan" / "a.png")
    segs = [{"id": 5, "category_id": 1, "iscrowd": 0, "area": 12, "bbox": [2, 1, 4, 3]}]
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
        "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": segs}],
        "categories": [{"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]}],
    }
    (root / "pan.json").write_text(json.dumps(data))
    return root / "pan.json"


def semantic(root: Path) -> Path:
    (root / "sem").mkdir(parents=True)
    Image.fromarray(np.arange(H * W, dtype=np.uint8).reshape(H, W) % 2).save(root / "sem" / "a.png")
    cats = [{"id": 0, "name": "bg", "isthing": 0}, {"id": 1, "name": "road", "isthing": 0}]
    (root / "sem" / "categories.json").write_text(json.dumps(cats))
    return root / "sem"


PATH_KINDS = ("fifo", "zero", "folder", "bomb-png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_map_pngs_that_are_not_files_or_declare_huge_sizes(tmp_path):
    """A FIFO, /dev/zero, a folder or a 45-byte header of 20000x20000 where a panoptic PNG
    or a semantic label map should be: exit 2 in one line (validate: a finding or exit 2),
    within seconds; before, a FIFO hung every command."""
    jobs, expect = [], {}
    for kind in PATH_KINDS:
        root = tmp_path / kind
        pan, sem = panoptic(root), semantic(root)
        replace_with(root / "pan" / "a.png", kind)
        replace_with(sem / "a.png", kind)
        out = root / "out"
        for name, argv in {
            "pan-convert": ["convert", str(pan), str(out / "i.json"), "--to", "coco-instance"],
            "pan-eval": ["eval", "panoptic", str(pan), str(pan)],
            "pan-validate": ["validate", str(pan)],
            "pan-fix": ["validate", str(pan), "--fix", str(out / "fixed.json")],
            "pan-preview": ["preview", str(pan), str(out / "pv")],
            "sem-convert": ["convert", str(sem), str(out / "p.json"), "--to", "coco-panoptic"],
            "sem-eval": ["eval", "semantic", str(sem), str(sem)],
            "sem-validate": ["validate", str(sem)],
            "sem-preview": ["preview", str(sem), str(out / "sv")],
        }.items():
            jid = f"{kind}.{name}"
            jobs.append({"id": jid, "argv": argv})
            expect[jid] = {1, 2} if "validate" in name or "fix" in name else {2}
    results = run_all(jobs, tmp_path)
    assert problems(results, expect) == []
    for rid, r in results.items():
        if r["exit"] == 2 and rid.split(".")[0] in ("fifo", "zero", "folder"):
            assert "not an image file" in r["err"] or "folder" in r["err"], (rid, r["err"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_photos_that_are_not_files_or_declare_huge_sizes(tmp_path):
    """The same as the photo of ``preview --images`` and ``validate --images`` (and a
    37-byte JPEG header of 20000x20000, which Pillow refused with its own error, or warned
    about on stderr below 179 MP): exit 2 in one line, nothing else printed."""
    jobs, expect = [], {}
    for kind in (*PATH_KINDS, "bomb-jpeg"):
        root = tmp_path / kind
        photos = root / "photos"
        photos.mkdir(parents=True)
        src = instance_json(root / "i.json")
        replace_with(photos / "a.jpg", kind)
        for name, argv in instance_commands(src, root / "out", photos).items():
            if name in ("validate", "preview"):
                jobs.append({"id": f"{kind}.{name}", "argv": argv})
                expect[f"{kind}.{name}"] = {1, 2} if name == "validate" else {2}
    results = run_all(jobs, tmp_path)
    assert problems(results, expect) == []
    for kind in ("bomb-png", "bomb-jpeg"):
        assert "20000x20000" in results[f"{kind}.preview"]["err"]
